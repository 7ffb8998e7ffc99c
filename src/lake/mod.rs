//! The lake: bronze Delta tables that mirror source tables exactly once.
//!
//! - [`types`]: source types to Arrow/Delta types and source values to Arrow arrays;
//! - [`bronze`]: `<root>/bronze/<table>`, kept equal to the source table by one MERGE commit
//!   per batch that also records the source position (Delta application transaction + commit
//!   metadata), so replays after a crash are no-ops;
//! - [`history`]: `<root>/bronze/<table>__changes`, every change event appended once;
//! - [`dead_letter`]: `<root>/bronze/_dead_letters`, events that could not be applied;
//! - [`status`]: `<root>/bronze/_ingest_status`, the loop's lag and throughput reports;
//! - [`layout`]: the captured tables ([`TABLES`]), their partitioning ([`layout_for`]) and the
//!   loops' application ids;
//! - [`maintain`]: compaction, checkpoints, vacuum.
//!
//! Positions in SQL: `(_pos_file, _pos, _pos_row)` compares lexicographically in the same
//! order as [`Position`](crate::ingest::event::Position): the snapshot flag is folded into
//! `_pos_row` (snapshot rows are stored as `row - 2^31`, below every streamed row at the same
//! offset), so there is no separate `_snapshot` column.
//!
//! Deletion vectors are not enabled: delta-rs 1.1 reads them, but its MERGE and DELETE never
//! write them (they rewrite the touched files), so the feature would only narrow the readers.
//! The file layout ([`Layout`]) is what bounds the cost of a batch. Schema evolution (source
//! `ADD COLUMN`) is not handled yet: the table's schema is the one it was created with.

pub mod bronze;
pub mod commit;
pub mod dead_letter;
pub mod history;
pub mod layout;
pub mod maintain;
pub mod position;
pub mod sink;
pub mod status;
pub mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use deltalake::datafusion::prelude::SessionContext;
use deltalake::delta_datafusion::DeltaSessionContext;
use url::Url;

pub use bronze::{ApplyOutcome, BronzeTable};
pub use dead_letter::{DeadLetter, DeadLetterTable};
pub use history::HistoryTable;
pub use layout::{BINLOG_APP_ID, KAFKA_APP_ID, TABLES, layout_for};
pub use status::{StatusTable, TableStatus};

use crate::ingest::schema::TableSchema;

/// Lake errors. [`Error::Value`] is a row that does not fit its table: route it to a
/// dead-letter table; the others are infrastructure or programming errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("table {table}, column {column}: value {value} does not fit: {reason}")]
    Value {
        table: String,
        column: String,
        value: String,
        reason: String,
    },
    #[error("schema: {0}")]
    Schema(String),
    #[error("position: {0}")]
    Position(String),
    #[error("lake location {0}")]
    Location(String),
    #[error("arrow: {0}")]
    Arrow(String),
    #[error("delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    #[error("datafusion: {0}")]
    DataFusion(#[from] deltalake::datafusion::error::DataFusionError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<deltalake::arrow::error::ArrowError> for Error {
    fn from(e: deltalake::arrow::error::ArrowError) -> Self {
        Error::Arrow(e.to_string())
    }
}

impl Error {
    /// A commit that lost a race with another writer (compaction, a second process) or a
    /// transient object-store failure: retrying the same batch is safe, since applies are
    /// idempotent and guarded by the recorded position.
    pub fn is_transient(&self) -> bool {
        use deltalake::DeltaTableError as D;
        use deltalake::kernel::transaction::TransactionError as T;
        matches!(
            self,
            Error::Delta(
                D::Transaction {
                    source: T::CommitConflict(_) | T::MaxCommitAttempts(_) | T::ObjectStore { .. },
                } | D::VersionAlreadyExists(_)
                    | D::ObjectStore { .. }
            )
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// File layout of one bronze table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Partition by `_part = first key column / partition_rows` (large tables), so a batch
    /// reads and rewrites only the partitions it touches. `None`: unpartitioned (small tables).
    pub partition_rows: Option<i64>,
}

/// A lake root (`./lakehouse`, `s3://bucket/prefix`) holding `bronze/<table>` Delta tables.
///
/// Clones share one commit counter: writers in this process [`announce_commit`] after a
/// commit, a reader (`serve`'s query engine) [`subscribes`](Lake::commits) instead of listing
/// Delta logs per query.
///
/// [`announce_commit`]: Lake::announce_commit
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
    storage_options: HashMap<String, String>,
    commits: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Lake {
    /// A local directory (created when missing) or an object-store URI.
    pub fn open(root: &str, storage_options: HashMap<String, String>) -> Result<Self> {
        let root = match Url::parse(root) {
            Ok(url) if url.scheme().len() > 1 => url,
            _ => {
                std::fs::create_dir_all(root)
                    .map_err(|e| Error::Location(format!("{root}: {e}")))?;
                let abs = std::fs::canonicalize(root)
                    .map_err(|e| Error::Location(format!("{root}: {e}")))?;
                Url::from_directory_path(&abs)
                    .map_err(|()| Error::Location(abs.display().to_string()))?
            }
        };
        Ok(Self {
            root,
            storage_options,
            commits: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// Tells this process's readers that some table of the lake has a new commit.
    pub fn announce_commit(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever a writer of this process announces a commit.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of `bronze/<name>` (a directory URL, ending in `/`).
    pub(crate) fn table_url(&self, name: &str) -> Result<Url> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Location(format!("bad table name {name:?}")));
        }
        let mut base = self.root.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base
            .join(&format!("bronze/{name}/"))
            .map_err(|e| Error::Location(e.to_string()))?;
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| Error::Location(url.to_string()))?;
            std::fs::create_dir_all(&path)
                .map_err(|e| Error::Location(format!("{}: {e}", path.display())))?;
        }
        Ok(url)
    }

    pub(crate) fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    /// Opens `bronze/<table>`, creating it (mapped schema, unpartitioned) when missing.
    pub async fn open_table(&self, schema: &TableSchema) -> Result<BronzeTable> {
        BronzeTable::open(self, schema, Layout::default()).await
    }

    /// Opens `bronze/<table>` with a layout (applied only when the table is created; an
    /// existing table keeps its partitioning).
    pub async fn open_table_with(
        &self,
        schema: &TableSchema,
        layout: Layout,
    ) -> Result<BronzeTable> {
        BronzeTable::open(self, schema, layout).await
    }

    /// Opens `bronze/<table>__changes`, creating it when missing.
    pub async fn open_history(&self, schema: &TableSchema) -> Result<HistoryTable> {
        HistoryTable::open(self, schema).await
    }
}

/// A DataFusion session for merges and reads: plain Utf8 strings (no Utf8View), Delta planner.
pub(crate) fn session() -> Result<SessionContext> {
    let overrides = HashMap::from([
        (
            "datafusion.execution.parquet.schema_force_view_types".to_owned(),
            "false".to_owned(),
        ),
        (
            "datafusion.sql_parser.map_string_types_to_utf8view".to_owned(),
            "false".to_owned(),
        ),
    ]);
    Ok(DeltaSessionContext::new_with_session_overrides(&overrides)?.into_inner())
}
