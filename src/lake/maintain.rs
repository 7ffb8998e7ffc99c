//! Table maintenance: compaction, checkpoints and vacuum.
//!
//! - **Compaction** (`OPTIMIZE`) rewrites small files into files of about `target_file_size`,
//!   per partition, so streaming micro-batches do not leave thousands of small files. It
//!   commits like any writer; a concurrent ingest commit that touched the same files makes one
//!   of the two retry (the loop retries its batch, see `pipeline`).
//! - **Checkpoints** fold the JSON log into a Parquet checkpoint so opening a table and
//!   refreshing it stay cheap however many commits it has.
//! - **Vacuum** deletes files that no version newer than `retention` still references. A
//!   reader planning against a snapshot holds it for at most the server's statement timeout, so
//!   a retention longer than that (the default is 7 days, the minimum accepted is 1 hour) never
//!   deletes a file a running query may still read.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use tracing::{info, instrument};

use super::{Error, Lake, Result};

/// Shortest vacuum retention accepted.
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

/// What to do.
#[derive(Debug, Clone)]
pub struct MaintainOptions {
    pub compact: bool,
    pub target_file_size: u64,
    pub checkpoint: bool,
    /// `None`: no vacuum.
    pub vacuum_retention: Option<Duration>,
}

impl Default for MaintainOptions {
    fn default() -> Self {
        Self {
            compact: true,
            target_file_size: 128 * 1024 * 1024,
            checkpoint: true,
            vacuum_retention: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

/// What was done to one table.
#[derive(Debug, Clone, Default)]
pub struct MaintainReport {
    pub table: String,
    pub version_before: Option<u64>,
    pub version_after: Option<u64>,
    pub files_before: usize,
    pub files_after: usize,
    pub files_compacted: u64,
    pub checkpoint: bool,
    pub files_vacuumed: usize,
    pub secs: f64,
}

impl std::fmt::Display for MaintainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<24} files {:>5} -> {:<5} compacted {:>5}  checkpoint {:<3}  vacuumed {:>5}  ({:.1} s)",
            self.table,
            self.files_before,
            self.files_after,
            self.files_compacted,
            if self.checkpoint { "yes" } else { "no" },
            self.files_vacuumed,
            self.secs
        )
    }
}

fn file_count(table: &DeltaTable) -> Result<usize> {
    Ok(table.snapshot()?.log_data().num_files())
}

/// Maintains `bronze/<name>`; a table that does not exist yet is skipped (`Ok(None)`).
#[instrument(skip(lake, opts))]
pub async fn maintain_table(
    lake: &Lake,
    name: &str,
    opts: &MaintainOptions,
) -> Result<Option<MaintainReport>> {
    if let Some(r) = opts.vacuum_retention
        && r < MIN_RETENTION
    {
        return Err(Error::Schema(format!(
            "vacuum retention {}s is shorter than the minimum {}s: a running reader could lose its files",
            r.as_secs(),
            MIN_RETENTION.as_secs()
        )));
    }
    let started = Instant::now();
    let url = lake.table_url(name)?;
    let mut table =
        DeltaTable::try_from_url_with_storage_options(url, lake.storage_options().clone()).await?;
    if table.version().is_none() {
        return Ok(None);
    }
    let mut report = MaintainReport {
        table: name.to_string(),
        version_before: table.version(),
        files_before: file_count(&table)?,
        ..Default::default()
    };
    if opts.compact {
        let size = NonZeroU64::new(opts.target_file_size.max(1024 * 1024))
            .ok_or_else(|| Error::Schema("target file size".into()))?;
        let (t, metrics) = table.optimize().with_target_size(size).await?;
        table = t;
        report.files_compacted = metrics.num_files_removed;
    }
    if opts.checkpoint {
        deltalake::checkpoints::create_checkpoint(&table, None).await?;
        report.checkpoint = true;
    }
    if let Some(retention) = opts.vacuum_retention {
        let retention = chrono::Duration::from_std(retention)
            .map_err(|e| Error::Schema(format!("retention: {e}")))?;
        let (t, metrics) = table
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .await?;
        table = t;
        report.files_vacuumed = metrics.files_deleted.len();
    }
    table.update_incremental(None).await?;
    report.version_after = table.version();
    report.files_after = file_count(&table)?;
    report.secs = started.elapsed().as_secs_f64();
    info!(
        table = name,
        files_before = report.files_before,
        files_after = report.files_after,
        compacted = report.files_compacted,
        vacuumed = report.files_vacuumed,
        "maintained"
    );
    Ok(Some(report))
}
