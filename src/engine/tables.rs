//! Lake tables: discovery under `<lake>/<layer>/` and live refresh.
//!
//! A [`LakeTable`] keeps its `DeltaTable` behind an async mutex (only refreshes take it) and
//! the current [`Snap`] (version + a DataFusion provider bound to that snapshot) behind a
//! short lock. A refresh (`update_incremental`: list the log after the loaded version, read
//! new commits) builds a new provider and swaps it in; queries already planned keep the
//! provider they were planned with, so a refresh never blocks or changes a running query.
//! Older snapshots stay available for a while ([`LakeTable::at`]) so a ticket pinned to the
//! versions of its GetFlightInfo reads exactly that snapshot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::execution::context::SessionState;
use deltalake::logstore::object_store::ObjectStore;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStoreError, Path};
use moka::future::Cache;
use tracing::{debug, instrument};
use url::Url;

use super::Result;
use super::keys::PRIMARY_KEY_CONFIG;

/// `(layer, table)`, e.g. `("bronze", "users")`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub schema: String,
    pub name: String,
}

impl TableId {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// One snapshot of a table, ready to plan against.
#[derive(Debug)]
pub struct Snap {
    pub version: u64,
    pub provider: Arc<dyn TableProvider>,
    pub schema: SchemaRef,
    /// Commit time of `version`, ms since the epoch, when known.
    pub committed_ms: Option<i64>,
    /// `finlake.primary_key` from the table's configuration.
    pub primary_key: Option<String>,
}

impl Snap {
    async fn build(table: &DeltaTable, state: &SessionState) -> Result<Arc<Self>> {
        table.update_datafusion_session(state)?;
        let snapshot = table.snapshot()?;
        let version = snapshot.version();
        let committed_ms = snapshot.version_timestamp(version);
        let primary_key = snapshot
            .metadata()
            .configuration()
            .get(PRIMARY_KEY_CONFIG)
            .cloned();
        let provider = table.table_provider().await?;
        let schema = provider.schema();
        Ok(Arc::new(Self {
            version,
            provider,
            schema,
            committed_ms,
            primary_key,
        }))
    }
}

/// A Delta table of the lake.
#[derive(Debug)]
pub struct LakeTable {
    pub id: TableId,
    url: Url,
    storage_options: HashMap<String, String>,
    table: tokio::sync::Mutex<DeltaTable>,
    current: RwLock<Arc<Snap>>,
    /// Snapshots recently replaced or loaded by version, for pinned reads.
    older: Cache<u64, Arc<Snap>>,
}

impl LakeTable {
    /// Opens the table at its latest version; `None` when it has no commit yet.
    pub async fn open(
        id: TableId,
        url: Url,
        storage_options: HashMap<String, String>,
        state: &SessionState,
    ) -> Result<Option<Self>> {
        let table =
            DeltaTable::try_from_url_with_storage_options(url.clone(), storage_options.clone())
                .await?;
        if table.version().is_none() {
            return Ok(None);
        }
        let snap = Snap::build(&table, state).await?;
        Ok(Some(Self {
            id,
            url,
            storage_options,
            table: tokio::sync::Mutex::new(table),
            current: RwLock::new(snap),
            older: Cache::builder().max_capacity(16).build(),
        }))
    }

    /// The snapshot queries plan against when they do not refresh.
    pub fn current(&self) -> Arc<Snap> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn swap(&self, snap: Arc<Snap>) {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = snap;
    }

    /// Brings the table to its latest commit and returns that snapshot. Concurrent callers
    /// share one refresh (the second waits for the first, then finds nothing new).
    #[instrument(level = "debug", skip_all, fields(table = %self.id))]
    pub async fn latest(&self, state: &SessionState) -> Result<Arc<Snap>> {
        let mut table = self.table.lock().await;
        table.update_incremental(None).await?;
        let version = table.version().unwrap_or(0);
        let current = self.current();
        if current.version == version {
            return Ok(current);
        }
        let snap = Snap::build(&table, state).await?;
        drop(table);
        debug!(from = current.version, to = version, "table refreshed");
        self.older
            .insert(current.version, Arc::clone(&current))
            .await;
        self.swap(Arc::clone(&snap));
        Ok(snap)
    }

    /// The snapshot at `version` (a pinned read). Falls back to the latest when that version
    /// can no longer be loaded.
    #[instrument(level = "debug", skip_all, fields(table = %self.id, version))]
    pub async fn at(&self, version: u64, state: &SessionState) -> Result<Arc<Snap>> {
        let current = self.current();
        if current.version == version {
            return Ok(current);
        }
        if let Some(s) = self.older.get(&version).await {
            return Ok(s);
        }
        if version > current.version {
            let latest = self.latest(state).await?;
            if latest.version >= version {
                if latest.version == version {
                    return Ok(latest);
                }
                if let Some(s) = self.older.get(&version).await {
                    return Ok(s);
                }
            } else {
                // A version this lake does not have (yet): read the latest.
                return Ok(latest);
            }
        }
        let loaded = async {
            let table = DeltaTableBuilder::from_url(self.url.clone())?
                .with_storage_options(self.storage_options.clone())
                .with_version(version)
                .load()
                .await?;
            Snap::build(&table, state).await
        }
        .await;
        match loaded {
            Ok(snap) => {
                self.older.insert(version, Arc::clone(&snap)).await;
                Ok(snap)
            }
            Err(e) => {
                tracing::warn!(table = %self.id, version, error = %e, "pinned version unreadable; reading the latest");
                self.latest(state).await
            }
        }
    }
}

/// Lists the tables under `<root>/<layer>/`: directories holding a `_delta_log` with at
/// least one entry. A missing layer directory is an empty layer.
pub async fn list_layer(store: &dyn ObjectStore, root: &Path, layer: &str) -> Result<Vec<String>> {
    let prefix = root.clone().join(layer);
    let listing = match store.list_with_delimiter(Some(&prefix)).await {
        Ok(l) => l,
        Err(ObjectStoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut names = Vec::new();
    for dir in listing.common_prefixes {
        let Some(name) = dir.filename().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let log = dir.clone().join("_delta_log");
        match store.list_with_delimiter(Some(&log)).await {
            Ok(l) if !l.objects.is_empty() => names.push(name),
            Ok(_) | Err(ObjectStoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    names.sort();
    Ok(names)
}
