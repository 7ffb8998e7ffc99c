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

use crate::ingest::binlog::{self, BinlogSource, Mode, StartFrom};
use crate::ingest::event::{ChangeEvent, Position, Source};
use crate::ingest::mask::{self, Masker};
use crate::ingest::schema::TableSchema;
use crate::lake::{self, BronzeTable, HistoryTable, Lake, Layout};

/// Errors of the loop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] binlog::Error),
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Mask(#[from] mask::Error),
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
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub events: u64,
    pub batches: u64,
    pub commits: u64,
    pub position: Option<Position>,
    pub secs: f64,
}

struct Target {
    schema: TableSchema,
    bronze: BronzeTable,
    history: HistoryTable,
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
        let bronze = lake
            .open_table_with(&schema, layout_for(&schema.name))
            .await?;
        let history = lake.open_history(&schema).await?;
        let mut t = Target {
            schema,
            bronze,
            history,
            applied: None,
        };
        t.applied = t.bronze.applied(&cfg.app_id).await?;
        targets.insert(t.schema.name.clone(), t);
    }
    let lowest = targets.values().map(|t| t.applied.clone()).min().flatten();
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
                t.bronze.truncate(&marker, &cfg.app_id).await?;
                t.applied = Some(marker.clone());
            }
        }
    }

    let mut report = IngestReport::default();
    let mut last_idle_commit = Instant::now();
    tokio::pin!(stop);
    loop {
        let batch = tokio::select! {
            _ = &mut stop => break,
            b = source.next_batch(cfg.max_batch_events, cfg.max_wait) => b?,
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
        let mut per_table: HashMap<String, Vec<ChangeEvent>> = HashMap::new();
        for mut e in batch.events {
            if let Some(t) = targets.get(&*e.table) {
                if t.applied.as_ref().is_some_and(|a| e.position <= *a) {
                    continue; // this table already has it
                }
                masker.mask(&t.schema, &mut e);
                per_table.entry(e.table.to_string()).or_default().push(e);
            }
        }
        let idle_due = streaming
            && (last_idle_commit.elapsed() >= Duration::from_secs(10)
                || (cfg.until_caught_up && source.caught_up()));
        for t in targets.values_mut() {
            let events = per_table.remove(&t.schema.name).unwrap_or_default();
            let newer = t.applied.as_ref().is_none_or(|a| up_to > *a);
            // Leave the snapshot state as soon as streaming starts.
            let leaving_snapshot = streaming && t.applied.as_ref().is_some_and(|a| a.snapshot);
            if !newer || (events.is_empty() && !idle_due && !leaving_snapshot) {
                continue;
            }
            t.history
                .append_history(&events, &up_to, &cfg.app_id)
                .await?;
            let outcome = t.bronze.apply_events(&events, &up_to, &cfg.app_id).await?;
            report.commits += u64::from(!outcome.replayed);
            t.applied = Some(up_to.clone());
        }
        if idle_due {
            last_idle_commit = Instant::now();
        }
        report.position = Some(up_to);
        if cfg.until_caught_up && source.caught_up() {
            break;
        }
    }
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
