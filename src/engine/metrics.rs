//! Query counters and a latency histogram, rendered in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// Counters shared by the engine and its front ends. All monotonic except where noted.
#[derive(Debug, Default)]
pub struct Metrics {
    pub queries: AtomicU64,
    pub query_errors: AtomicU64,
    /// Queries whose client went away before the last batch.
    pub cancelled: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub rows: AtomicU64,
    pub batches: AtomicU64,
    /// Flight RPCs, and those refused for want of credentials.
    pub rpcs: AtomicU64,
    pub unauthenticated: AtomicU64,
    /// Authentication refusals held back by the per-peer backoff.
    pub auth_delayed: AtomicU64,
    /// Queries refused because every query slot stayed taken for the queue wait.
    pub refused: AtomicU64,
    /// Queries that failed on the query memory limit.
    pub memory_refused: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a finished query's latency.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The Prometheus text exposition of these counters.
    pub fn render(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counters = [
            ("finlake_queries_total", "Queries started.", &self.queries),
            (
                "finlake_queries_cancelled_total",
                "Queries whose client closed the stream before the end.",
                &self.cancelled,
            ),
            (
                "finlake_query_errors_total",
                "Queries that failed.",
                &self.query_errors,
            ),
            (
                "finlake_cache_hits_total",
                "Queries answered from the result cache.",
                &self.cache_hits,
            ),
            (
                "finlake_cache_misses_total",
                "Cacheable queries that had to run.",
                &self.cache_misses,
            ),
            ("finlake_rows_returned_total", "Rows streamed.", &self.rows),
            (
                "finlake_batches_returned_total",
                "Record batches streamed.",
                &self.batches,
            ),
            (
                "finlake_flight_rpcs_total",
                "Flight RPCs received.",
                &self.rpcs,
            ),
            (
                "finlake_flight_unauthenticated_total",
                "Flight RPCs refused for missing or bad credentials.",
                &self.unauthenticated,
            ),
            (
                "finlake_flight_auth_delayed_total",
                "Authentication refusals held back by the per-peer backoff.",
                &self.auth_delayed,
            ),
            (
                "finlake_queries_refused_total",
                "Queries refused because every query slot stayed taken (--flight-max-queries).",
                &self.refused,
            ),
            (
                "finlake_queries_memory_refused_total",
                "Queries that failed on the query memory limit (--flight-memory-limit).",
                &self.memory_refused,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                get(c)
            );
        }
        let name = "finlake_query_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Query latency, from planning to the last batch.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += get(c);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {count}",
            get(&self.latency_sum_us) as f64 / 1e6
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        Metrics::inc(&m.queries);
        Metrics::inc(&m.queries);
        m.observe(Duration::from_millis(3));
        m.observe(Duration::from_secs(100));
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("finlake_queries_total 2"), "{s}");
        assert!(s.contains("finlake_query_duration_seconds_bucket{le=\"0.002\"} 0"));
        assert!(s.contains("finlake_query_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(s.contains("finlake_query_duration_seconds_bucket{le=\"30\"} 1"));
        assert!(s.contains("finlake_query_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(s.contains("finlake_query_duration_seconds_count 2"));
    }
}
