//! Per-peer backoff for failed authentication: after a few failures from one address, each
//! further refusal is answered late (doubling up to a cap), so guessing passwords is slow.
//! A success or ten quiet minutes forgive the address. Only refusals wait; a client that
//! gets its password right is never slowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before refusals are delayed.
const FREE_FAILURES: u32 = 5;
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A peer with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Peers tracked at most (the oldest are dropped beyond it).
const MAX_PEERS: usize = 10_000;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    peers: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// Records a refusal for `peer`; returns how long to hold the refusal back.
    pub(crate) fn failed(&self, peer: Option<IpAddr>) -> Duration {
        let Some(peer) = peer else {
            return Duration::ZERO;
        };
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if peers.len() >= MAX_PEERS {
            peers.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            if peers.len() >= MAX_PEERS {
                peers.clear();
            }
        }
        let entry = peers.entry(peer).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        delay(entry.0)
    }

    /// Forgives `peer` (it authenticated).
    pub(crate) fn succeeded(&self, peer: Option<IpAddr>) {
        if let Some(peer) = peer {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.remove(&peer);
        }
    }
}

/// The delay of the `n`th consecutive failure.
fn delay(n: u32) -> Duration {
    if n <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (n - FREE_FAILURES - 1).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_slow_down_per_peer_and_a_success_forgives() {
        let t = Throttle::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let waits: Vec<Duration> = (0..12).map(|_| t.failed(Some(a))).collect();
        assert_eq!(&waits[..5], &[Duration::ZERO; 5]);
        assert_eq!(waits[5], Duration::from_millis(100));
        assert_eq!(waits[6], Duration::from_millis(200));
        assert_eq!(waits[11], MAX_DELAY);
        assert_eq!(
            t.failed(Some(b)),
            Duration::ZERO,
            "another peer is not slowed"
        );
        t.succeeded(Some(a));
        assert_eq!(t.failed(Some(a)), Duration::ZERO);
        assert_eq!(t.failed(None), Duration::ZERO);
    }
}
