//! `finlake simulate`: a live OLTP workload that behaves like the bank's applications.
//!
//! A dispatcher decides every operation (and its values) at the target rate; a pool of
//! workers executes them, each operation in its own database transaction:
//! new card transactions stamped now (with the same fraud model as `datagen`), corrections,
//! refunds, voids (label then transaction deleted together), card changes (credit limit, PIN
//! change, dark-web flag), user changes (credit score, income), fraud labels arriving a
//! configurable delay after their transaction, and now and then new users and cards.
//! The achieved rate is reported; later benchmarks load the system with this command.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDateTime, Timelike};
use mysql_async::prelude::Queryable;
use mysql_async::{Params, Pool, PoolConstraints, PoolOpts, TxOpts, Value};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tracing::{info, instrument, warn};

use crate::data::generate::{World, rng_from};
use crate::data::model::{Card, Dec2, FraudLabel, Gender, Transaction, User, YearMonth};
use crate::data::tsv::TsvRow;

mod db;

#[cfg(test)]
use db::insert_sql;
use db::{execute, load_world};

/// Workload settings.
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    /// Target operations per second.
    pub rate: f64,
    /// Stop after this long (None: until interrupted).
    pub duration: Option<Duration>,
    /// Concurrent database connections.
    pub connections: usize,
    /// Delay before a transaction's fraud label arrives.
    pub label_delay: Duration,
    pub seed: u64,
}

/// The kinds of operation, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NewTransaction,
    Correction,
    Refund,
    Void,
    CardChange,
    UserChange,
    FraudLabel,
    NewUser,
    NewCard,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::NewTransaction,
        Kind::Correction,
        Kind::Refund,
        Kind::Void,
        Kind::CardChange,
        Kind::UserChange,
        Kind::FraudLabel,
        Kind::NewUser,
        Kind::NewCard,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Kind::NewTransaction => "new transaction",
            Kind::Correction => "correction",
            Kind::Refund => "refund",
            Kind::Void => "void",
            Kind::CardChange => "card change",
            Kind::UserChange => "user change",
            Kind::FraudLabel => "fraud label",
            Kind::NewUser => "new user",
            Kind::NewCard => "new card",
        }
    }
}

/// One operation, fully decided.
#[derive(Debug, Clone)]
enum Op {
    Insert(Kind, Box<Transaction>),
    Correct { id: u64, amount: Dec2 },
    Void { id: u64 },
    CardLimit { id: u32, limit: Dec2 },
    CardPin { id: u32, year: u16 },
    CardDarkWeb { id: u32 },
    UserCredit { id: u32, score: u16, income: Dec2 },
    Label(FraudLabel),
    NewUser(Box<User>, Box<Card>),
    NewCard(Box<Card>),
}

impl Op {
    fn kind(&self) -> Kind {
        match self {
            Op::Insert(k, _) => *k,
            Op::Correct { .. } => Kind::Correction,
            Op::Void { .. } => Kind::Void,
            Op::CardLimit { .. } | Op::CardPin { .. } | Op::CardDarkWeb { .. } => Kind::CardChange,
            Op::UserCredit { .. } => Kind::UserChange,
            Op::Label(_) => Kind::FraudLabel,
            Op::NewUser(..) => Kind::NewUser,
            Op::NewCard(_) => Kind::NewCard,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub target_rate: f64,
    pub secs: f64,
    pub ops: u64,
    pub by_kind: Vec<(Kind, u64)>,
    pub failed: u64,
    /// Operations the dispatcher had to skip because the workers were saturated.
    pub dropped: u64,
}

impl SimReport {
    pub fn achieved_rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }
}

impl std::fmt::Display for SimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (kind, n) in &self.by_kind {
            writeln!(f, "  {:<16} {n:>10}", kind.name())?;
        }
        write!(
            f,
            "{} operations in {:.1} s: achieved {:.0} ops/s (target {:.0}); {} failed, {} skipped \
             because the database could not keep up",
            self.ops,
            self.secs,
            self.achieved_rate(),
            self.target_rate,
            self.failed,
            self.dropped
        )
    }
}

/// The dispatcher's memory of what it created.
#[derive(Debug)]
struct State {
    rng: ChaCha8Rng,
    world: World,
    next_tx: u64,
    /// Recent transactions (id, card, created) for corrections, refunds and voids.
    recent: VecDeque<(u64, u32, Instant)>,
    /// Labels waiting for their delay.
    labels: VecDeque<(Instant, FraudLabel)>,
    /// Compromised cards with fraudulent uses still to come.
    compromised: Vec<(u32, u32)>,
    label_delay: Duration,
}

fn now() -> NaiveDateTime {
    let n = chrono::Local::now().naive_local();
    n.with_nanosecond(0).unwrap_or(n)
}

impl State {
    fn next_op(&mut self) -> Op {
        let t0 = Instant::now();
        if self.labels.front().is_some_and(|(due, _)| *due <= t0)
            && let Some((_, label)) = self.labels.pop_front()
        {
            return Op::Label(label);
        }
        let aged =
            |(_, _, at): &(u64, u32, Instant)| t0.duration_since(*at) > Duration::from_secs(1);
        let x: f64 = self.rng.random_range(0.0..1.0);
        let pick_recent = |s: &mut Self| -> Option<(u64, u32)> {
            let n = s.recent.iter().take_while(|r| aged(r)).count();
            (n > 0).then(|| {
                let i = s.rng.random_range(0..n);
                let (id, card, _) = s.recent[i];
                (id, card)
            })
        };
        match x {
            x if x < 0.04 => {
                if let Some((id, _)) = pick_recent(self) {
                    let amount = Dec2(self.rng.random_range(100..20_000));
                    return Op::Correct { id, amount };
                }
            }
            x if x < 0.08 => {
                if let Some((_, card)) = pick_recent(self) {
                    return self.new_transaction(Some(card));
                }
            }
            x if x < 0.09 => {
                if let Some((id, _)) = pick_recent(self) {
                    self.recent.retain(|r| r.0 != id);
                    self.labels.retain(|l| l.1.transaction_id != id);
                    return Op::Void { id };
                }
            }
            x if x < 0.11 => {
                let id = self.world.cards[self.rng.random_range(0..self.world.cards.len())].id;
                return match self.rng.random_range(0..100) {
                    0..=59 => Op::CardLimit {
                        id,
                        limit: Dec2::from_units(self.rng.random_range(500..40_000)),
                    },
                    60..=97 => Op::CardPin {
                        id,
                        year: now().year() as u16,
                    },
                    _ => Op::CardDarkWeb { id },
                };
            }
            x if x < 0.13 => {
                let id = self.world.users[self.rng.random_range(0..self.world.users.len())].id;
                return Op::UserCredit {
                    id,
                    score: self.rng.random_range(480..=850),
                    income: Dec2::from_units(self.rng.random_range(15_000..250_000)),
                };
            }
            x if x < 0.1305 => {
                let user_id = self.world.users.iter().map(|u| u.id).max().unwrap_or(0) + 1;
                let card_id = self.world.cards.iter().map(|c| c.id).max().unwrap_or(0) + 1;
                let (mut user, profile) = self.world.new_user(&mut self.rng, user_id);
                let card = World::new_card(&mut self.rng, card_id, user_id, now().year());
                user.num_credit_cards = 1;
                self.world.users.push(user.clone());
                self.world.profiles.push(profile);
                self.world.cards.push(card.clone());
                return Op::NewUser(Box::new(user), Box::new(card));
            }
            x if x < 0.1315 => {
                let owner = self.world.users[self.rng.random_range(0..self.world.users.len())].id;
                let card_id = self.world.cards.iter().map(|c| c.id).max().unwrap_or(0) + 1;
                let card = World::new_card(&mut self.rng, card_id, owner, now().year());
                self.world.cards.push(card.clone());
                return Op::NewCard(Box::new(card));
            }
            _ => {}
        }
        self.new_transaction(None)
    }

    /// A purchase now; `refund_of` makes it a refund on that card.
    fn new_transaction(&mut self, refund_of: Option<u32>) -> Op {
        let c = self.world.calibration;
        let date = now();
        let id = self.next_tx;
        self.next_tx += 1;
        let (card_id, fraud) = if refund_of.is_none()
            && !self.compromised.is_empty()
            && self
                .rng
                .random_bool((c.fraud_rate * (1.0 - 1.0 / c.episode_mean_len)).min(1.0))
        {
            let i = self.rng.random_range(0..self.compromised.len());
            let card = self.compromised[i].0;
            self.compromised[i].1 -= 1;
            if self.compromised[i].1 == 0 {
                self.compromised.swap_remove(i);
            }
            (card, true)
        } else if refund_of.is_none() && self.rng.random_bool(c.fraud_rate / c.episode_mean_len) {
            let card = self.world.pick_card(&mut self.rng, date.date()).id;
            let uses = rand_distr::Distribution::sample(
                &rand_distr::Geometric::new(1.0 / c.episode_mean_len)
                    .unwrap_or_else(|_| unreachable!()),
                &mut self.rng,
            ) as u32;
            if uses > 0 {
                self.compromised.push((card, uses));
            }
            (card, true)
        } else {
            (
                refund_of.unwrap_or_else(|| self.world.pick_card(&mut self.rng, date.date()).id),
                false,
            )
        };
        let card = self
            .world
            .cards
            .iter()
            .find(|k| k.id == card_id)
            .or_else(|| self.world.cards.first())
            .cloned();
        let Some(card) = card else {
            unreachable!("world has cards")
        };
        let mut t = self
            .world
            .transaction(&mut self.rng, id, date, &card, fraud);
        let kind = if refund_of.is_some() {
            t.amount = Dec2(-t.amount.hundredths().abs());
            Kind::Refund
        } else {
            Kind::NewTransaction
        };
        self.recent.push_back((id, card.id, Instant::now()));
        if self.recent.len() > 5_000 {
            self.recent.pop_front();
        }
        if self.rng.random_bool(c.label_coverage) {
            self.labels.push_back((
                Instant::now() + self.label_delay,
                FraudLabel {
                    transaction_id: id,
                    is_fraud: fraud,
                },
            ));
        }
        Op::Insert(kind, Box::new(t))
    }
}

/// Runs the workload until `duration` elapses or `stop` resolves.
#[instrument(skip_all, fields(rate = cfg.rate, connections = cfg.connections))]
pub async fn run(
    url: &str,
    cfg: &SimulateConfig,
    stop: impl std::future::Future<Output = ()>,
) -> super::Result<SimReport> {
    let constraints = PoolConstraints::new(1, cfg.connections.max(1)).unwrap_or_default();
    let opts = mysql_async::OptsBuilder::from_opts(super::opts_from_url(url)?)
        .pool_opts(PoolOpts::default().with_constraints(constraints));
    let pool = Pool::new(opts);
    let (world, max_tx) = load_world(&pool, cfg.seed).await?;
    let mut state = State {
        rng: rng_from(cfg.seed),
        world,
        next_tx: max_tx.max(crate::data::generate::full_size::LAST_TRANSACTION_ID) + 1,
        recent: VecDeque::new(),
        labels: VecDeque::new(),
        compromised: Vec::new(),
        label_delay: cfg.label_delay,
    };
    info!(next_transaction_id = state.next_tx, "workload starting");

    let workers = cfg.connections.max(1);
    let (tx, rx) = mpsc::channel::<Op>(workers * 64);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Kind, bool)>();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (pool, rx, done) = (pool.clone(), std::sync::Arc::clone(&rx), done_tx.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let op = { rx.lock().await.recv().await };
                let Some(op) = op else { break };
                let ok = match execute(&pool, &op).await {
                    Ok(()) => true,
                    Err(e) => {
                        warn!(error = %e, kind = op.kind().name(), "operation failed");
                        false
                    }
                };
                let _ = done.send((op.kind(), ok));
            }
        }));
    }
    drop(done_tx);

    let started = Instant::now();
    let tick = Duration::from_millis(10);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut report = SimReport {
        target_rate: cfg.rate,
        ..Default::default()
    };
    let mut counts = [0u64; Kind::ALL.len()];
    let mut dispatched = 0u64;
    let mut last_log = Instant::now();
    tokio::pin!(stop);
    'outer: loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = interval.tick() => {}
        }
        let elapsed = started.elapsed();
        if cfg.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
        let due = (elapsed.as_secs_f64() * cfg.rate) as u64;
        while dispatched + report.dropped < due {
            match tx.try_reserve() {
                Ok(permit) => {
                    permit.send(state.next_op());
                    dispatched += 1;
                }
                Err(mpsc::error::TrySendError::Full(())) => {
                    report.dropped += due - dispatched - report.dropped;
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(())) => break 'outer,
            }
        }
        while let Ok((kind, ok)) = done_rx.try_recv() {
            tally(&mut report, &mut counts, kind, ok);
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            last_log = Instant::now();
            info!(
                ops = report.ops,
                ops_per_sec = report.ops as f64 / started.elapsed().as_secs_f64(),
                failed = report.failed,
                skipped = report.dropped,
                "workload progress"
            );
        }
    }
    drop(tx);
    while let Some((kind, ok)) = done_rx.recv().await {
        tally(&mut report, &mut counts, kind, ok);
    }
    for h in handles {
        let _ = h.await;
    }
    report.secs = started.elapsed().as_secs_f64();
    report.by_kind = Kind::ALL.iter().copied().zip(counts).collect();
    pool.disconnect().await?;
    Ok(report)
}

fn tally(report: &mut SimReport, counts: &mut [u64], kind: Kind, ok: bool) {
    if ok {
        report.ops += 1;
        if let Some(i) = Kind::ALL.iter().position(|k| *k == kind) {
            counts[i] += 1;
        }
    } else {
        report.failed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_statements_match_columns() {
        assert_eq!(
            insert_sql::<FraudLabel>(),
            "INSERT INTO `fraud_labels` (`transaction_id`, `is_fraud`) VALUES (?, ?)"
        );
        let t = insert_sql::<Transaction>();
        assert_eq!(t.matches('?').count(), Transaction::COLUMNS.len());
    }
}
