//! The binlog loop: source batches -> masked events -> change history and bronze tables,
//! exactly once.
//!
//! Each bronze table and each change history records, in the same Delta commit as its data,
//! the source position it has applied (a Delta application transaction). On start the loop
//! resumes from the lowest position any of them holds (a history is behind its bronze table
//! after a crash between the two commits) and skips, per table, the events that table already
//! has; a crash between two commits therefore neither loses nor duplicates anything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing::{info, instrument, warn};

use super::{IngestConfig, IngestReport, Result};
use crate::features::FraudFeatures;
use crate::ingest::ChangeSource;
use crate::ingest::binlog::{self, BinlogSource, Mode, StartFrom};
use crate::ingest::event::{Batch, ChangeEvent, Position, Undecodable};
use crate::ingest::mask::Masker;
use crate::lake::sink::TableSink;
use crate::lake::{DeadLetterTable, Lake, StatusTable, TableStatus, layout_for};

/// Backoff between reconnection attempts to the source.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// How often the fraud features' state is stored (alerts are stored with every batch).
const FEATURE_CHECKPOINT: Duration = Duration::from_secs(5);

/// Source tables the fraud features read.
const FEATURE_TABLES: [&str; 2] = ["transactions", "cards"];

/// Per-table figures since the loop started.
#[derive(Debug, Default)]
struct TableStats {
    events: u64,
    /// Events counted at the previous report (for the rate).
    reported_events: u64,
    dead_letters: u64,
    /// Source commit time and apply time of the newest applied change.
    last_commit_ms: Option<i64>,
    applied_at_ms: Option<i64>,
}

/// Appends one status row per table (best effort: telemetry never stops the loop). `at` is
/// the loop's position: every table has everything up to it (tables without changes skip
/// their commits, so their durable position may be older).
async fn report_status(
    status: &mut StatusTable,
    app_id: &str,
    at: Option<&Position>,
    targets: &HashMap<String, TableState>,
    stats: &mut HashMap<String, TableStats>,
    since: Instant,
) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let secs = since.elapsed().as_secs_f64().max(1e-3);
    let mut rows = Vec::with_capacity(targets.len());
    for (name, t) in targets {
        let s = stats.entry(name.clone()).or_default();
        rows.push(TableStatus {
            reported_at_us: now_ms * 1000,
            app_id: app_id.to_string(),
            table: name.clone(),
            applied_file: at.or(t.applied.as_ref()).map(|p| p.file.clone()),
            applied_pos: at
                .or(t.applied.as_ref())
                .and_then(|p| i64::try_from(p.pos).ok()),
            events_total: i64::try_from(s.events).unwrap_or(i64::MAX),
            events_per_sec: (s.events - s.reported_events) as f64 / secs,
            lag_ms: s.last_commit_ms.zip(s.applied_at_ms).map(|(c, a)| a - c),
            dead_letters_total: i64::try_from(s.dead_letters).unwrap_or(i64::MAX),
        });
        s.reported_events = s.events;
    }
    if let Err(e) = status.report(&rows).await {
        warn!(error = %e, "could not write the ingest status");
    }
}

/// A table's writers and the position it has applied.
struct TableState {
    sink: TableSink,
    /// Everything up to here is in both bronze and history (events above it are applied;
    /// each table skips what it has).
    applied: Option<Position>,
    /// Bronze's own position (a snapshot position: a snapshot was under way).
    bronze: Option<Position>,
}

/// Opens every captured table's sink and reads the position it has applied.
async fn open_tables(cfg: &IngestConfig, lake: &Lake) -> Result<HashMap<String, TableState>> {
    let schemas = binlog::table_schemas(&cfg.source_url, &cfg.tables).await?;
    let mut targets = HashMap::new();
    for schema in schemas {
        let layout = layout_for(&schema.name);
        let mut sink = TableSink::open(lake, schema, layout).await?;
        let resume = sink.resume_from(&cfg.app_id).await?;
        targets.insert(
            sink.schema.name.clone(),
            TableState {
                sink,
                applied: resume.from,
                bronze: resume.bronze,
            },
        );
    }
    Ok(targets)
}

/// The fraud features' state, when configured and the tables they read are captured.
async fn open_features(
    cfg: &IngestConfig,
    lake: &Lake,
    targets: &HashMap<String, TableState>,
) -> Result<Option<FraudFeatures>> {
    Ok(
        match (
            cfg.fraud_features,
            targets.get("transactions"),
            targets.get("cards"),
        ) {
            (true, Some(t), Some(c)) => {
                Some(FraudFeatures::open(lake, &t.sink.schema, &c.sink.schema).await?)
            }
            (true, _, _) => {
                warn!("fraud features need the transactions and cards tables; not scoring");
                None
            }
            (false, _, _) => None,
        },
    )
}

/// Where to start: the lowest position any table (or the feature state) holds, and whether
/// the source starts from there or from a fresh snapshot.
fn resume_point(
    cfg: &IngestConfig,
    targets: &HashMap<String, TableState>,
    features: Option<&FraudFeatures>,
) -> (Option<Position>, StartFrom) {
    let mut lowest = targets.values().map(|t| t.applied.clone()).min().flatten();
    // Resume early enough for the stored feature state (its events are replayed to it; the
    // tables skip what they have). A state taken mid-snapshot cannot be resumed from: it
    // continues from the tables' position.
    if let (Some(f), Some(l)) = (features.and_then(|f| f.position()), &lowest)
        && !f.snapshot
        && !l.snapshot
        && f < l
    {
        info!(features = ?f, tables = ?l, "resuming from the fraud features' state");
        lowest = Some(f.clone());
    }
    // A snapshot position means a snapshot was under way when the last run stopped.
    let interrupted = targets
        .values()
        .any(|t| t.bronze.as_ref().is_some_and(|p| p.snapshot));
    let from = match (&lowest, cfg.resnapshot || interrupted) {
        (Some(p), false) => StartFrom::Position(p.clone()),
        _ => StartFrom::Snapshot,
    };
    info!(?from, interrupted, "ingest starting");
    (lowest, from)
}

/// A (re)snapshot rebuilds every table: empty the ones holding data, recording a marker just
/// below the snapshot's rows, so a crash before the snapshot completes leads to a new
/// snapshot rather than to streaming into a half-built table.
async fn prepare_snapshot(
    at: &Position,
    app_id: &str,
    targets: &mut HashMap<String, TableState>,
    features: Option<&mut FraudFeatures>,
) -> Result<()> {
    let marker = Position {
        file: at.file.clone(),
        pos: at.pos.saturating_sub(1),
        snapshot: true,
        row: 0,
    };
    for t in targets.values_mut() {
        if t.applied.is_some() {
            t.sink.bronze.truncate(&marker, app_id).await?;
            t.applied = Some(marker.clone());
            t.bronze = Some(marker.clone());
        }
    }
    if let Some(f) = features
        && f.position().is_some()
    {
        info!("resnapshot: the fraud features' state is rebuilt from the snapshot");
        f.reset();
    }
    Ok(())
}

/// The loop's state between batches.
struct BinlogLoop<'a> {
    cfg: &'a IngestConfig,
    masker: &'a Masker,
    targets: HashMap<String, TableState>,
    features: Option<FraudFeatures>,
    dead: DeadLetterTable,
    status: StatusTable,
    stats: HashMap<String, TableStats>,
    report: IngestReport,
    last_idle_commit: Instant,
    last_report: Instant,
    last_checkpoint: Instant,
}

impl BinlogLoop<'_> {
    /// Splits a batch per table, dropping what a table already has (the fraud features may
    /// still need it), masked.
    fn route(
        &self,
        events: Vec<ChangeEvent>,
    ) -> (HashMap<String, Vec<ChangeEvent>>, Vec<ChangeEvent>) {
        let mut per_table: HashMap<String, Vec<ChangeEvent>> = HashMap::new();
        let mut feature_events = Vec::new();
        let features_at = self.features.as_ref().and_then(|f| f.position().cloned());
        for mut e in events {
            if let Some(t) = self.targets.get(&*e.table) {
                let have = t.applied.as_ref().is_some_and(|a| e.position <= *a);
                let score = self.features.is_some()
                    && FEATURE_TABLES.contains(&&*e.table)
                    && features_at.as_ref().is_none_or(|p| e.position > *p);
                if have && !score {
                    continue; // this table already has it
                }
                self.masker.mask(&t.sink.schema, &mut e);
                if score {
                    feature_events.push(e.clone());
                }
                if !have {
                    per_table.entry(e.table.to_string()).or_default().push(e);
                }
            }
        }
        (per_table, feature_events)
    }

    /// Splits the changes the source could not decode per table, dropping what a table has
    /// already seen (its dead letters hold them).
    fn route_undecodable(&self, bad: Vec<Undecodable>) -> HashMap<String, Vec<Undecodable>> {
        let mut per_table: HashMap<String, Vec<Undecodable>> = HashMap::new();
        for u in bad {
            if let Some(t) = self.targets.get(&*u.event.table)
                && t.applied.as_ref().is_none_or(|a| u.event.position > *a)
            {
                per_table
                    .entry(u.event.table.to_string())
                    .or_default()
                    .push(u);
            }
        }
        per_table
    }

    /// Applies one batch to every table and the fraud features (a batch without events nor
    /// resume position has nothing to commit).
    async fn apply(&mut self, batch: Batch, caught_up: bool) -> Result<()> {
        let cfg = self.cfg;
        // Snapshot chunks have no resume position until the snapshot completes; they commit
        // at their last row's (snapshot) position.
        let streaming = batch.resume.is_some();
        let Some(up_to) = batch
            .resume
            .clone()
            .or_else(|| batch.events.last().map(|e| e.position.clone()))
        else {
            return Ok(());
        };
        self.report.batches += 1;
        self.report.events += batch.events.len() as u64;
        let (mut per_table, feature_events) = self.route(batch.events);
        let mut bad = self.route_undecodable(batch.undecodable);
        // Sources deliver a schema change in a batch of its own (no events), at the
        // statement's position: the tables adopt the new shape before anything after it.
        for change in &batch.schema_changes {
            if let Some(t) = self.targets.get_mut(&change.schema.name) {
                t.sink.evolve(change, &cfg.app_id).await?;
            }
        }
        let idle_due = streaming
            && (self.last_idle_commit.elapsed() >= Duration::from_secs(10)
                || (cfg.until_caught_up && caught_up));
        for t in self.targets.values_mut() {
            let events = per_table.remove(&t.sink.schema.name).unwrap_or_default();
            let undecodable = bad.remove(&t.sink.schema.name).unwrap_or_default();
            let newer = t.applied.as_ref().is_none_or(|a| up_to > *a);
            // Leave the snapshot state as soon as streaming starts.
            let leaving_snapshot = streaming && t.applied.as_ref().is_some_and(|a| a.snapshot);
            let quiet = events.is_empty() && undecodable.is_empty();
            if !newer || (quiet && !idle_due && !leaving_snapshot) {
                continue;
            }
            let s = self.stats.entry(t.sink.schema.name.clone()).or_default();
            let last_commit_ms = events.last().map(|e| e.commit_ms);
            let outcome = t
                .sink
                .apply(
                    events,
                    &up_to,
                    &cfg.app_id,
                    &[],
                    &mut self.dead,
                    undecodable,
                )
                .await?;
            s.dead_letters += outcome.dead_letters as u64;
            self.report.commits += u64::from(!outcome.bronze.replayed);
            t.applied = Some(up_to.clone());
            t.bronze = Some(up_to.clone());
            s.events += outcome.applied as u64;
            if last_commit_ms.is_some() {
                s.last_commit_ms = last_commit_ms;
                s.applied_at_ms = Some(chrono::Utc::now().timestamp_millis());
            }
        }
        if let Some(f) = self.features.as_mut() {
            if !feature_events.is_empty() {
                f.score(&feature_events, &up_to).await?;
            }
            if self.last_checkpoint.elapsed() >= FEATURE_CHECKPOINT
                || cfg.until_caught_up && caught_up
            {
                f.checkpoint().await?;
                self.last_checkpoint = Instant::now();
            }
        }
        if idle_due {
            self.last_idle_commit = Instant::now();
        }
        self.report.position = Some(up_to);
        if self.last_report.elapsed() >= cfg.status_interval {
            self.report_status().await;
            self.last_report = Instant::now();
        }
        Ok(())
    }

    async fn report_status(&mut self) {
        report_status(
            &mut self.status,
            &self.cfg.app_id,
            self.report.position.as_ref(),
            &self.targets,
            &mut self.stats,
            self.last_report,
        )
        .await;
    }
}

/// Runs the loop until caught up (if configured) or until `stop` resolves.
#[instrument(skip_all, fields(app_id = %cfg.app_id, until_caught_up = cfg.until_caught_up))]
pub async fn run(
    cfg: &IngestConfig,
    lake: &Lake,
    masker: &Masker,
    stop: impl std::future::Future<Output = ()>,
) -> Result<IngestReport> {
    let started = Instant::now();
    let mut targets = open_tables(cfg, lake).await?;
    let mut features = open_features(cfg, lake, &targets).await?;
    let (lowest, from) = resume_point(cfg, &targets, features.as_ref());
    let mode = if cfg.until_caught_up {
        Mode::UntilCaughtUp
    } else {
        Mode::Follow
    };
    let (mut source, _) = BinlogSource::start(
        &cfg.source_url,
        &cfg.tables,
        from.clone(),
        cfg.server_id,
        mode,
    )
    .await?;
    if from == StartFrom::Snapshot {
        let at = source.position().clone();
        prepare_snapshot(&at, &cfg.app_id, &mut targets, features.as_mut()).await?;
    }

    let mut state = BinlogLoop {
        cfg,
        masker,
        targets,
        features,
        dead: DeadLetterTable::open(lake).await?,
        status: StatusTable::open(lake).await?,
        stats: HashMap::new(),
        report: IngestReport::default(),
        last_idle_commit: Instant::now(),
        last_report: Instant::now(),
        last_checkpoint: Instant::now(),
    };
    tokio::pin!(stop);
    let mut reconnect_delay = RECONNECT_MIN;
    loop {
        let batch = tokio::select! {
            _ = &mut stop => break,
            b = source.next_batch(cfg.max_batch_events, cfg.max_wait) => b,
        };
        let batch = match batch {
            Ok(b) => {
                reconnect_delay = RECONNECT_MIN;
                b
            }
            // A lost connection: the source resumes from its last delivered commit on the
            // next call; wait with backoff (a stop request still ends the loop at once).
            Err(e @ binlog::Error::Connection(_)) => {
                warn!(error = %e, retry_in_ms = reconnect_delay.as_millis() as u64, "source connection lost; reconnecting");
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(reconnect_delay) => {}
                }
                reconnect_delay = (reconnect_delay * 2).min(RECONNECT_MAX);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        state.apply(batch, source.caught_up()).await?;
        if cfg.until_caught_up && source.caught_up() {
            break;
        }
    }
    if let Some(f) = state.features.as_mut() {
        f.checkpoint().await?;
    }
    state.report_status().await;
    let mut report = state.report;
    report.dead_letters = state.stats.values().map(|s| s.dead_letters).sum();
    if report.position.is_none() {
        report.position = lowest;
    }
    report.secs = started.elapsed().as_secs_f64();
    if report.events == 0 {
        warn!("no new changes");
    }
    info!(
        events = report.events,
        commits = report.commits,
        secs = report.secs,
        "ingest finished"
    );
    Ok(report)
}
