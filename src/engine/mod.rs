//! The query engine: DataFusion over the lake's Delta tables, behind the [`QueryEngine`] trait
//! that front ends (the Flight SQL server) depend on.
//!
//! - [`delta`]: [`DeltaEngine`], catalog `finlake` with one schema per lake layer (`bronze`,
//!   and `silver` / `gold` when present); every Delta table under `<lake>/<layer>/` is a table,
//!   the `__changes` histories included;
//! - [`tables`]: table discovery and live refresh: before planning, each table a query reads is
//!   brought to its latest commit (`update_incremental`) and a provider bound to that snapshot
//!   is registered in the query's own catalog, so a query sees one consistent snapshot per
//!   table and running queries never wait on a refresh;
//! - [`params`]: `?` placeholders, parameter schemas and binding, and the Arrow IPC encoding
//!   of parameter batches ([`encode_batch`], [`decode_batch`]: part of the engine's API, the
//!   Flight SQL handles carry them);
//! - [`plain`]: view types (`Utf8View`, `BinaryView`) turned into `Utf8` / `Binary`, which every
//!   client reads;
//! - [`cache`]: results keyed by query text, parameters and the versions of the tables read;
//! - [`keys`]: primary keys of the bronze tables (supplied by whoever builds the engine: it
//!   knows no source);
//! - [`metrics`]: counters and the query latency histogram;
//! - [`extension`]: views, functions and rules layered on the lake (the analytics of `sql/`).

pub mod cache;
pub mod delta;
pub mod extension;
pub mod keys;
pub mod limits;
pub mod metrics;
mod now;
pub mod params;
pub mod plain;
pub mod tables;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::stream::BoxStream;

pub use delta::{DeltaEngine, EngineOptions, Follow};
pub use extension::{Extension, ViewName};
pub use limits::{Limits, Usage};
pub use metrics::Metrics;
pub use params::{decode_batch, encode_batch};

/// Engine errors. [`Error::is_client_error`] tells a bad request from a server fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A statement that would change data or the catalog.
    #[error(
        "finlake is read-only: {0} statements are not accepted (the lake changes only through CDC from the source database)"
    )]
    ReadOnly(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("statement timed out after {0:?}")]
    Timeout(Duration),
    /// Every query slot stayed taken for the whole queue wait.
    #[error(
        "server busy: {limit} queries are running and no slot freed within {waited:?}; retry later, or raise --flight-max-queries (FINLAKE_FLIGHT_MAX_QUERIES)"
    )]
    Busy { limit: usize, waited: Duration },
    /// The query needed more memory than the pool the server's queries share.
    #[error(
        "query exceeds the server's query memory limit of {limit} ({detail}); narrow the query, or raise --flight-memory-limit (FINLAKE_FLIGHT_MEMORY_LIMIT) or --flight-spill-bytes (FINLAKE_FLIGHT_SPILL_BYTES)"
    )]
    MemoryLimit { limit: String, detail: String },
    #[error("the server is shutting down; the query was cancelled")]
    ShuttingDown,
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    #[error("delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("object store: {0}")]
    ObjectStore(#[from] deltalake::ObjectStoreError),
}

impl Error {
    /// True when the request is at fault (bad SQL, unknown table, wrong parameters), not the
    /// server.
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::ReadOnly(_) | Error::BadRequest(_) => true,
            Error::DataFusion(e) => matches!(
                e.find_root(),
                DataFusionError::SQL(..)
                    | DataFusionError::Plan(_)
                    | DataFusionError::SchemaError(..)
                    | DataFusionError::NotImplemented(_)
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A statement and its bound parameters: a one-row batch whose column `i` is parameter `$i+1`
/// (columns named `$n` or `$name` are matched by name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Option<RecordBatch>,
    /// Settings for this statement only (`finlake.reflections` = `off`, ...): the server keeps
    /// no sessions, so clients send them with each call (Flight: `finlake-<name>` headers).
    pub settings: BTreeMap<String, String>,
}

/// Prefix of the settings a statement may carry.
pub const SETTING_PREFIX: &str = "finlake.";

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            ..Self::default()
        }
    }

    /// With the setting `key` (`finlake.<name>`) = `value`.
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }
}

/// The versions of the tables a query reads, by `schema.table`.
pub type Versions = BTreeMap<String, u64>;

/// What planning a statement tells a client before it runs.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The result schema (plain types: no view types).
    pub schema: SchemaRef,
    /// Parameters in order (`$1`, `$2`, ...), with their inferred types (Utf8 when unknown).
    pub parameters: SchemaRef,
    /// The snapshot the plan was made against; pass it to [`QueryEngine::execute`] to read
    /// exactly that snapshot.
    pub versions: Versions,
}

/// A running query's results, in bounded batches.
pub struct ResultStream {
    pub schema: SchemaRef,
    /// The versions read.
    pub versions: Versions,
    /// Served from the result cache.
    pub cached: bool,
    pub stream: BoxStream<'static, Result<RecordBatch>>,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream")
            .field("schema", &self.schema)
            .field("versions", &self.versions)
            .field("cached", &self.cached)
            .finish_non_exhaustive()
    }
}

/// The kind of a table, as Flight SQL's GetTables reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableKind {
    Table,
    View,
    System,
}

impl TableKind {
    pub const ALL: [TableKind; 3] = [TableKind::Table, TableKind::View, TableKind::System];

    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Table => "TABLE",
            TableKind::View => "VIEW",
            TableKind::System => "SYSTEM TABLE",
        }
    }
}

/// One table of the catalog.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub catalog: String,
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    /// Plain types, as queries return them.
    pub arrow_schema: SchemaRef,
    /// Delta version (lake tables only).
    pub version: Option<u64>,
    /// Commit time of that version, ms since the epoch.
    pub committed_ms: Option<i64>,
    pub primary_key: Vec<String>,
}

/// SQL functions by JDBC category, for clients' metadata.
#[derive(Debug, Clone, Default)]
pub struct SqlFunctions {
    pub numeric: Vec<String>,
    pub string: Vec<String>,
    pub datetime: Vec<String>,
    pub system: Vec<String>,
}

/// What a front end needs from an engine.
#[async_trait]
pub trait QueryEngine: Send + Sync + std::fmt::Debug + 'static {
    /// The catalog name.
    fn catalog(&self) -> &str;

    /// Plans a statement against the latest committed snapshot, without running it.
    async fn plan(&self, statement: &Statement) -> Result<Planned>;

    /// Runs a statement, at `at` (the versions a [`Planned`] returned) or at the latest
    /// snapshot. Dropping the stream cancels the query.
    async fn execute(&self, statement: &Statement, at: Option<&Versions>) -> Result<ResultStream>;

    /// Every table (lake tables at their latest known version, and information_schema).
    async fn tables(&self) -> Result<Vec<TableInfo>>;

    /// Every schema, those without tables yet included.
    fn schemas(&self) -> Vec<String>;

    /// The SQL functions the engine knows.
    fn functions(&self) -> SqlFunctions;

    /// SQL keywords.
    fn keywords(&self) -> Vec<String>;

    /// Counters for `/metrics`.
    fn metrics(&self) -> &Metrics;
}

#[cfg(test)]
mod tests;
