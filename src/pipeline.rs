//! The ingestion loop: source batches -> masked events -> change history and bronze tables,
//! exactly once.
//!
//! Each bronze table records, in the same Delta commit as its data, the source position it has
//! applied (a Delta application transaction). On start the loop resumes from the lowest
//! position any table holds and skips, per table, the events that table already has; a crash
//! between two tables' commits therefore neither loses nor duplicates anything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing::{info, instrument, warn};

use crate::features::FraudFeatures;
use crate::ingest::binlog::{self, BinlogSource, Mode, StartFrom};
use crate::ingest::event::{ChangeEvent, Position, Source};
use crate::ingest::mask::{self, Masker};
use crate::lake::sink::TableSink;
use crate::lake::{self, DeadLetterTable, Lake, Layout, StatusTable, TableStatus};

/// Errors of the loop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] binlog::Error),
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Mask(#[from] mask::Error),
    #[error("fraud features: {0}")]
    Features(Box<crate::features::store::Error>),
}

impl From<crate::features::store::Error> for Error {
    fn from(e: crate::features::store::Error) -> Self {
        Error::Features(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The captured source tables.
pub const TABLES: [&str; 5] = [
    "users",
    "cards",
    "mcc_codes",
    "transactions",
    "fraud_labels",
];

/// Backoff between reconnection attempts to the source.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// Rows per partition for the large tables (by primary key), so a micro-batch rewrites only
/// the partitions it touches.
pub fn layout_for(table: &str) -> Layout {
    match table {
        "transactions" | "fraud_labels" => Layout {
            partition_rows: Some(1_000_000),
        },
        _ => Layout::default(),
    }
}

/// What the loop needs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub source_url: String,
    pub tables: Vec<String>,
    pub server_id: u32,
    /// Names this pipeline in the Delta application transactions.
    pub app_id: String,
    pub max_batch_events: usize,
    pub max_wait: Duration,
    pub until_caught_up: bool,
    /// Start over from a fresh snapshot (after a purged binlog position).
    pub resnapshot: bool,
    /// How often the loop appends its figures to `bronze/_ingest_status`.
    pub status_interval: Duration,
    /// Score transactions for fraud as they arrive (`features/fraud_alerts`), the feature
    /// state's position joining the resume point.
    pub fraud_features: bool,
}

/// How often the fraud features' state is stored (alerts are stored with every batch).
const FEATURE_CHECKPOINT: Duration = Duration::from_secs(5);

/// Source tables the fraud features read.
const FEATURE_TABLES: [&str; 2] = ["transactions", "cards"];

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub events: u64,
    pub batches: u64,
    pub commits: u64,
    pub position: Option<Position>,
    /// Events routed to `bronze/_dead_letters` by this run.
    pub dead_letters: u64,
    pub secs: f64,
}

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
    targets: &HashMap<String, Target>,
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

struct Target {
    sink: TableSink,
    applied: Option<Position>,
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
    let schemas = binlog::table_schemas(&cfg.source_url, &cfg.tables).await?;
    let mut targets: HashMap<String, Target> = HashMap::new();
    for schema in schemas {
        let layout = layout_for(&schema.name);
        let mut sink = TableSink::open(lake, schema, layout).await?;
        let applied = sink.bronze.applied(&cfg.app_id).await?;
        targets.insert(sink.schema.name.clone(), Target { sink, applied });
    }
    let mut features = match (
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
    };
    let mut lowest = targets.values().map(|t| t.applied.clone()).min().flatten();
    // Resume early enough for the stored feature state (its events are replayed to it; the
    // tables skip what they have). A state taken mid-snapshot cannot be resumed from: it
    // continues from the tables' position.
    if let (Some(f), Some(l)) = (features.as_ref().and_then(|f| f.position()), &lowest)
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
        .any(|t| t.applied.as_ref().is_some_and(|p| p.snapshot));
    let from = match (&lowest, cfg.resnapshot || interrupted) {
        (Some(p), false) => StartFrom::Position(p.clone()),
        _ => StartFrom::Snapshot,
    };
    info!(?from, interrupted, "ingest starting");
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
        // A (re)snapshot rebuilds every table: empty the ones holding data, recording a marker
        // just below the snapshot's rows, so a crash before the snapshot completes leads to a
        // new snapshot rather than to streaming into a half-built table.
        let at = source.position().clone();
        let marker = Position {
            file: at.file,
            pos: at.pos.saturating_sub(1),
            snapshot: true,
            row: 0,
        };
        for t in targets.values_mut() {
            if t.applied.is_some() {
                t.sink.bronze.truncate(&marker, &cfg.app_id).await?;
                t.applied = Some(marker.clone());
            }
        }
        if let Some(f) = features.as_mut()
            && f.position().is_some()
        {
            info!("resnapshot: the fraud features' state is rebuilt from the snapshot");
            f.reset();
        }
    }

    let mut dead = DeadLetterTable::open(lake).await?;
    let mut status = StatusTable::open(lake).await?;
    let mut stats: HashMap<String, TableStats> = HashMap::new();
    let mut report = IngestReport::default();
    let mut last_idle_commit = Instant::now();
    let mut last_report = Instant::now();
    tokio::pin!(stop);
    let mut reconnect_delay = RECONNECT_MIN;
    let mut last_checkpoint = Instant::now();
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
        // Snapshot chunks have no resume position until the snapshot completes; they commit
        // at their last row's (snapshot) position.
        let streaming = batch.resume.is_some();
        let Some(up_to) = batch
            .resume
            .clone()
            .or_else(|| batch.events.last().map(|e| e.position.clone()))
        else {
            if cfg.until_caught_up && source.caught_up() {
                break;
            }
            continue;
        };
        report.batches += 1;
        report.events += batch.events.len() as u64;
        let schema_changes = batch.schema_changes;
        let mut per_table: HashMap<String, Vec<ChangeEvent>> = HashMap::new();
        let mut feature_events = Vec::new();
        let features_at = features.as_ref().and_then(|f| f.position().cloned());
        for mut e in batch.events {
            if let Some(t) = targets.get(&*e.table) {
                let have = t.applied.as_ref().is_some_and(|a| e.position <= *a);
                let score = features.is_some()
                    && FEATURE_TABLES.contains(&&*e.table)
                    && features_at.as_ref().is_none_or(|p| e.position > *p);
                if have && !score {
                    continue; // this table already has it
                }
                masker.mask(&t.sink.schema, &mut e);
                if score {
                    feature_events.push(e.clone());
                }
                if !have {
                    per_table.entry(e.table.to_string()).or_default().push(e);
                }
            }
        }
        // Sources deliver a schema change in a batch of its own (no events), at the
        // statement's position: the tables adopt the new shape before anything after it.
        for change in &schema_changes {
            if let Some(t) = targets.get_mut(&change.schema.name) {
                t.sink.evolve(change, &cfg.app_id).await?;
            }
        }
        let idle_due = streaming
            && (last_idle_commit.elapsed() >= Duration::from_secs(10)
                || (cfg.until_caught_up && source.caught_up()));
        for t in targets.values_mut() {
            let events = per_table.remove(&t.sink.schema.name).unwrap_or_default();
            let newer = t.applied.as_ref().is_none_or(|a| up_to > *a);
            // Leave the snapshot state as soon as streaming starts.
            let leaving_snapshot = streaming && t.applied.as_ref().is_some_and(|a| a.snapshot);
            if !newer || (events.is_empty() && !idle_due && !leaving_snapshot) {
                continue;
            }
            let s = stats.entry(t.sink.schema.name.clone()).or_default();
            let last_commit_ms = events.last().map(|e| e.commit_ms);
            let outcome = t
                .sink
                .apply(events, &up_to, &cfg.app_id, &[], &mut dead)
                .await?;
            s.dead_letters += outcome.dead_letters as u64;
            report.commits += u64::from(!outcome.bronze.replayed);
            t.applied = Some(up_to.clone());
            s.events += outcome.applied as u64;
            if last_commit_ms.is_some() {
                s.last_commit_ms = last_commit_ms;
                s.applied_at_ms = Some(chrono::Utc::now().timestamp_millis());
            }
        }
        if let Some(f) = features.as_mut() {
            if !feature_events.is_empty() {
                f.score(&feature_events, &up_to).await?;
            }
            if last_checkpoint.elapsed() >= FEATURE_CHECKPOINT
                || cfg.until_caught_up && source.caught_up()
            {
                f.checkpoint().await?;
                last_checkpoint = Instant::now();
            }
        }
        if idle_due {
            last_idle_commit = Instant::now();
        }
        report.position = Some(up_to);
        if last_report.elapsed() >= cfg.status_interval {
            let at = report.position.as_ref();
            report_status(
                &mut status,
                &cfg.app_id,
                at,
                &targets,
                &mut stats,
                last_report,
            )
            .await;
            last_report = Instant::now();
        }
        if cfg.until_caught_up && source.caught_up() {
            break;
        }
    }
    if let Some(f) = features.as_mut() {
        f.checkpoint().await?;
    }
    let at = report.position.as_ref();
    report_status(
        &mut status,
        &cfg.app_id,
        at,
        &targets,
        &mut stats,
        last_report,
    )
    .await;
    report.dead_letters = stats.values().map(|s| s.dead_letters).sum();
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

/// One table's line of `finlake status`.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub table: String,
    pub applied: Option<Position>,
    /// How far the applied position is behind the source's binlog head.
    pub behind: String,
    pub lag_ms: Option<i64>,
    pub events_per_sec: Option<f64>,
    pub dead_letters: usize,
    pub rows: usize,
}

impl std::fmt::Display for StatusRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let applied = self.applied.as_ref().map_or("none".to_string(), |p| {
            format!(
                "{}:{}{}",
                p.file,
                p.pos,
                if p.snapshot { " (snapshot)" } else { "" }
            )
        });
        write!(
            f,
            "{:<14} {:>24} {:>12} {:>10} {:>10} {:>9} {:>12}",
            self.table,
            applied,
            self.behind,
            self.lag_ms.map_or("-".into(), |l| l.to_string()),
            self.events_per_sec
                .map_or("-".into(), |r| format!("{r:.1}")),
            self.dead_letters,
            self.rows
        )
    }
}

/// Where each table stands: its applied position against the source's binlog head, the last
/// reported lag and rate, its dead letters and rows.
pub async fn status(source_url: &str, lake: &Lake, tables: &[String]) -> Result<Vec<StatusRow>> {
    let head = binlog::head(source_url).await?;
    let schemas = binlog::table_schemas(source_url, tables).await?;
    let mut dead = DeadLetterTable::open(lake).await?.count_by_table().await?;
    let reports = StatusTable::open(lake).await?.latest().await?;
    let app_id = "finlake-binlog";
    let mut out = Vec::with_capacity(schemas.len());
    for schema in schemas {
        let mut bronze = lake
            .open_table_with(&schema, layout_for(&schema.name))
            .await?;
        let report = reports
            .iter()
            .find(|r| r.table == schema.name && r.app_id == app_id);
        let durable = bronze.applied(app_id).await?;
        let reported = report.and_then(|r| {
            Some(Position::new(
                r.applied_file.clone()?,
                u64::try_from(r.applied_pos?).ok()?,
                0,
            ))
        });
        let applied = match (durable, reported) {
            (Some(d), Some(r)) if r > d => Some(r),
            (d, r) => d.or(r),
        };
        let behind = match (&applied, &head) {
            (None, _) => "not started".to_string(),
            (Some(a), Some(h)) if a.file == h.file => {
                format!("{} B", h.pos.saturating_sub(a.pos))
            }
            (Some(a), Some(h)) => format!("{} → {}", a.file, h.file),
            (Some(_), None) => "?".to_string(),
        };
        out.push(StatusRow {
            rows: bronze.row_count().await?,
            dead_letters: dead.remove(&schema.name).unwrap_or(0),
            lag_ms: report.and_then(|r| r.lag_ms),
            events_per_sec: report.map(|r| r.events_per_sec),
            table: schema.name,
            applied,
            behind,
        });
    }
    Ok(out)
}
