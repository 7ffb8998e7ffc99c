//! [`DeltaEngine`]: DataFusion over the lake's Delta tables.
//!
//! Every query gets its own catalog (`finlake`, one schema per layer) holding a provider per
//! table: the tables the query reads are taken at their latest commit (listed per query, or
//! kept current in the background from announced commits: [`Follow`]) or at the versions a
//! ticket pinned, the others at their last known snapshot. The base
//! [`SessionState`] (configuration, functions, optimizer rules, object stores) is shared.
//! Views and their rules come from an [`Extension`] ([`EngineOptions::extension`]): a query
//! naming a view reads the view's inputs at its snapshot, with the views planned over them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::information_schema::{INFORMATION_SCHEMA, InformationSchemaProvider};
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider,
};
use datafusion::common::TableReference;
use datafusion::execution::context::{SQLOptions, SessionState};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::OptimizerRule;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use deltalake::Path;
use deltalake::logstore::object_store::ObjectStore;
use futures::stream::{BoxStream, StreamExt};
use futures::{Stream, future};
use tracing::{Instrument, Span, debug, info, info_span, warn};
use url::Url;

use super::cache::{self, CacheKey, ResultCache};
use super::extension::{Extension, ViewName};
use super::keys::KeyCatalog;
use super::limits::{Admission, Limits, Usage};
use super::metrics::Metrics;
use super::params;
use super::plain::{plain_schema, to_schema};
use super::tables::{LakeTable, Snap, TableId, list_layer};
use super::{
    Error, Planned, QueryEngine, Result, ResultStream, SETTING_PREFIX, SqlFunctions, Statement,
    TableInfo, TableKind, Versions,
};
use crate::lake::Lake;

mod api;
mod session;
mod stream;

pub(crate) use session::directory_url;
use session::{RefersTo, base_state, check_complexity, check_read_only};
use stream::{Finish, short};

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub catalog: String,
    /// Lake layers served as schemas (directories under the lake root). The first is the
    /// default schema and always exists.
    pub layers: Vec<String>,
    /// How often the background task looks for new tables and refreshes every table.
    pub refresh_interval: Duration,
    /// How queries find the tables' latest commits.
    pub follow: Follow,
    /// Longest a statement may run, planning to last batch. `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Result cache capacity in bytes (0 disables it) and the largest result it keeps.
    pub cache_bytes: u64,
    pub cache_entry_bytes: usize,
    /// Primary keys of bronze tables (none by default: whoever builds the engine knows the
    /// source).
    pub keys: KeyCatalog,
    /// Extra logical optimizer rules, run after DataFusion's.
    pub optimizer_rules: Vec<Arc<dyn OptimizerRule + Send + Sync>>,
    /// Extra DataFusion settings (`datafusion.*` keys).
    pub settings: Vec<(String, String)>,
    /// Views, functions and rules over the lake tables (the analytics of `sql/`).
    pub extension: Option<Arc<dyn Extension>>,
    /// Memory, spill and concurrency bounds of the queries.
    pub limits: Limits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            catalog: "finlake".into(),
            layers: vec![
                "bronze".into(),
                "silver".into(),
                "gold".into(),
                "features".into(),
            ],
            refresh_interval: Duration::from_secs(2),
            follow: Follow::PerQuery,
            statement_timeout: Some(Duration::from_secs(300)),
            cache_bytes: 256 << 20,
            cache_entry_bytes: 16 << 20,
            keys: KeyCatalog::default(),
            optimizer_rules: Vec::new(),
            settings: Vec::new(),
            extension: None,
            limits: Limits::default(),
        }
    }
}

/// How queries find the tables' latest commits.
#[derive(Debug, Clone, Default)]
pub enum Follow {
    /// Every query brings the tables it reads to their latest commit (one Delta log listing
    /// per table per query): always current, whoever writes.
    #[default]
    PerQuery,
    /// Queries read the snapshots the background task keeps, never listing a log: it brings
    /// every table up to date on each commit announced by this process's writers (the
    /// receiver, from [`Lake::commits`]) and every `refresh_interval` for other writers.
    Background(Option<tokio::sync::watch::Receiver<u64>>),
}

/// Resolves when a commit is announced; never, without a receiver or once its writers are
/// gone (the interval then does the work).
async fn announced(commits: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    match commits.as_mut() {
        Some(rx) => {
            if rx.changed().await.is_err() {
                *commits = None;
                future::pending::<()>().await;
            }
        }
        None => future::pending::<()>().await,
    }
}

/// A parsed, planned statement with the snapshot it was planned against.
struct Prepared {
    state: SessionState,
    plan: LogicalPlan,
    versions: Versions,
    reads_information_schema: bool,
}

/// DataFusion over the lake's Delta tables. See the module documentation.
pub struct DeltaEngine {
    opts: EngineOptions,
    root: Url,
    storage_options: HashMap<String, String>,
    store: Arc<dyn ObjectStore>,
    root_path: Path,
    base: SessionState,
    tables: RwLock<BTreeMap<TableId, Arc<LakeTable>>>,
    discovered: tokio::sync::Mutex<Option<Instant>>,
    cache: ResultCache,
    metrics: Arc<Metrics>,
    next_query: AtomicU64,
    admission: Arc<Admission>,
}

impl std::fmt::Debug for DeltaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaEngine")
            .field("root", &self.root.as_str())
            .field("catalog", &self.opts.catalog)
            .field("tables", &self.table_ids())
            .finish_non_exhaustive()
    }
}
impl DeltaEngine {
    /// An engine over `lake`; discovers the tables present now.
    pub async fn open(lake: &Lake, opts: EngineOptions) -> Result<Arc<Self>> {
        let root = directory_url(lake.root());
        let storage_options = lake.storage_options().clone();
        let store = deltalake::logstore::store_for(&root, storage_options.clone())?;
        // delta-rs prefixes the store with the URL's path: list from its root.
        let root_path = Path::default();
        let admission = Arc::new(Admission::new(opts.limits.clone())?);
        let base = base_state(&opts, admission.runtime())?;
        let engine = Arc::new(Self {
            cache: ResultCache::new(opts.cache_bytes, opts.cache_entry_bytes),
            opts,
            root,
            storage_options,
            store,
            root_path,
            base,
            tables: RwLock::new(BTreeMap::new()),
            discovered: tokio::sync::Mutex::new(None),
            metrics: Arc::new(Metrics::default()),
            next_query: AtomicU64::new(1),
            admission,
        });
        engine.discover(Duration::ZERO).await?;
        Ok(engine)
    }

    /// The base session state (for extensions: it holds the functions, settings and rules
    /// every query starts from).
    pub fn base_state(&self) -> &SessionState {
        &self.base
    }

    fn table_ids(&self) -> Vec<TableId> {
        self.read_tables().keys().cloned().collect()
    }

    fn read_tables(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<TableId, Arc<LakeTable>>> {
        match self.tables.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn table(&self, id: &TableId) -> Option<Arc<LakeTable>> {
        self.read_tables().get(id).cloned()
    }

    /// What the running queries use of the limits (memory, spill, slots).
    pub fn resource_usage(&self) -> Usage {
        self.admission.usage()
    }

    /// Cancels every running query (their clients get an error saying the server is
    /// shutting down) and refuses new ones.
    pub fn shut_down(&self) {
        self.admission.shut_down();
    }

    /// Result cache use: (entries, bytes).
    pub fn cache_usage(&self) -> (u64, u64) {
        self.cache.usage()
    }

    /// Looks for tables under each layer unless that was done less than `min_age` ago.
    /// Tables whose directory disappeared are dropped from the catalog.
    pub async fn discover(&self, min_age: Duration) -> Result<()> {
        let mut last = self.discovered.lock().await;
        if last.is_some_and(|t| t.elapsed() < min_age) {
            return Ok(());
        }
        let mut found = BTreeSet::new();
        for layer in &self.opts.layers {
            for name in list_layer(self.store.as_ref(), &self.root_path, layer).await? {
                found.insert(TableId::new(layer.clone(), name));
            }
        }
        for id in &found {
            if self.table(id).is_none() {
                self.open_table(id).await?;
            }
        }
        {
            let mut tables = match self.tables.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            tables.retain(|id, _| {
                let keep = found.contains(id);
                if !keep {
                    info!(table = %id, "table gone");
                }
                keep
            });
        }
        *last = Some(Instant::now());
        Ok(())
    }

    /// Registers one table if it exists now (a query named it before discovery saw it).
    async fn register(&self, id: &TableId) -> Result<()> {
        let plain_name = !id.name.is_empty()
            && id
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain_name || !self.opts.layers.contains(&id.schema) {
            return Ok(());
        }
        let log = self
            .root_path
            .clone()
            .join(id.schema.as_str())
            .join(id.name.as_str())
            .join("_delta_log");
        match self.store.list_with_delimiter(Some(&log)).await {
            Ok(l) if !l.objects.is_empty() => {}
            Ok(_) | Err(deltalake::ObjectStoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.open_table(id).await
    }

    async fn open_table(&self, id: &TableId) -> Result<()> {
        let url = self
            .root
            .join(&format!("{}/{}/", id.schema, id.name))
            .map_err(|e| Error::BadRequest(format!("table {id}: {e}")))?;
        match LakeTable::open(id.clone(), url, self.storage_options.clone(), &self.base).await {
            Ok(Some(t)) => {
                let mut tables = match self.tables.write() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                if !tables.contains_key(id) {
                    info!(table = %id, version = t.current().version, "table registered");
                    tables.insert(id.clone(), Arc::new(t));
                }
            }
            Ok(None) => debug!(table = %id, "table has no commit yet"),
            Err(e) => warn!(table = %id, error = %e, "table cannot be opened yet"),
        }
        Ok(())
    }

    /// Discovers new tables and refreshes every table, every `refresh_interval` (and, when
    /// following announced commits, on each of them), until the returned task is aborted.
    /// With [`Follow::PerQuery`] queries refresh the tables they read anyway; this keeps
    /// metadata and metrics current and new tables listed.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = Arc::clone(self);
        let mut commits = match &engine.opts.follow {
            Follow::Background(rx) => rx.clone(),
            Follow::PerQuery => None,
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.opts.refresh_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let on_tick = tokio::select! {
                    _ = tick.tick() => true,
                    () = announced(&mut commits) => false,
                };
                if on_tick && let Err(e) = engine.discover(Duration::ZERO).await {
                    warn!(error = %e, "table discovery failed");
                }
                engine.refresh_all(on_tick).await;
            }
        })
    }

    /// Brings every registered table to its latest commit (concurrently), then, on the
    /// interval's ticks, the extension (its own writer reloads it on its commits).
    async fn refresh_all(&self, extension_too: bool) {
        let tables: Vec<Arc<LakeTable>> = self.read_tables().values().cloned().collect();
        future::join_all(tables.iter().map(|t| async move {
            if let Err(e) = t.latest(&self.base).await {
                warn!(table = %t.id, error = %e, "refresh failed");
            }
        }))
        .await;
        if let Some(x) = self.opts.extension.as_ref().filter(|_| extension_too) {
            x.refresh().await;
        }
    }

    fn target(&self, r: &TableReference) -> RefersTo {
        let default_schema = self.opts.layers.first().map_or("bronze", String::as_str);
        let (catalog, schema, table) = match r {
            TableReference::Bare { table } => (None, default_schema, table.as_ref()),
            TableReference::Partial { schema, table } => (None, schema.as_ref(), table.as_ref()),
            TableReference::Full {
                catalog,
                schema,
                table,
            } => (Some(catalog.as_ref()), schema.as_ref(), table.as_ref()),
        };
        if catalog.is_some_and(|c| c != self.opts.catalog) {
            return RefersTo::Other;
        }
        if schema == INFORMATION_SCHEMA {
            return RefersTo::InformationSchema;
        }
        if self.opts.extension.as_ref().is_some_and(|x| {
            x.views()
                .iter()
                .any(|v| v.schema == schema && v.name == table)
        }) {
            return RefersTo::View;
        }
        RefersTo::Lake(TableId::new(schema, table))
    }

    /// A state whose catalog holds `chosen` snapshots and every other table's current one.
    fn query_state(&self, chosen: &BTreeMap<TableId, Arc<Snap>>) -> Result<SessionState> {
        let catalog = MemoryCatalogProvider::new();
        let mut schemas: BTreeMap<&str, Arc<MemorySchemaProvider>> = BTreeMap::new();
        if let Some(first) = self.opts.layers.first() {
            schemas.insert(first, Arc::new(MemorySchemaProvider::new()));
        }
        let tables = self.read_tables();
        for (id, t) in tables.iter() {
            let snap = chosen.get(id).cloned().unwrap_or_else(|| t.current());
            let schema = schemas
                .entry(id.schema.as_str())
                .or_insert_with(|| Arc::new(MemorySchemaProvider::new()));
            schema.register_table(id.name.clone(), Arc::clone(&snap.provider))?;
        }
        for (name, schema) in schemas {
            catalog.register_schema(name, schema)?;
        }
        drop(tables);
        let list = MemoryCatalogProviderList::new();
        list.register_catalog(self.opts.catalog.clone(), Arc::new(catalog));
        let mut state = self.base.clone();
        state.register_catalog_list(Arc::new(list));
        Ok(state)
    }

    /// Parses, checks, snapshots and plans a statement (parameters not bound yet).
    async fn prepare(&self, statement: &Statement, at: Option<&Versions>) -> Result<Prepared> {
        let settings = &statement.settings;
        check_complexity(&statement.sql)?;
        let sql = params::number_placeholders(&statement.sql);
        let dialect = self.base.config().options().sql_parser.dialect;
        let statement = self
            .base
            .sql_to_statement(&sql, &dialect)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        check_read_only(&statement)?;
        let mut ids = BTreeSet::new();
        let mut reads_information_schema = false;
        let mut reads_views = false;
        for r in self.base.resolve_table_references(&statement)? {
            match self.target(&r) {
                RefersTo::Lake(id) => {
                    ids.insert(id);
                }
                RefersTo::View => reads_views = true,
                RefersTo::InformationSchema => reads_information_schema = true,
                RefersTo::Other => {}
            }
        }
        let extension = self.opts.extension.as_ref();
        let inputs: Vec<TableId> = extension
            .filter(|_| reads_views || reads_information_schema)
            .map(|x| super::extension::input_ids(x.as_ref()))
            .unwrap_or_default();
        ids.extend(inputs.iter().cloned());
        for id in &ids {
            if self.table(id).is_none() {
                // Perhaps created since the last discovery.
                self.register(id).await?;
            }
        }
        let reads: Vec<Arc<LakeTable>> = ids.iter().filter_map(|id| self.table(id)).collect();
        let snaps = future::try_join_all(reads.iter().map(|t| {
            let pinned = at.and_then(|v| v.get(&t.id.to_string())).copied();
            async move {
                let snap = match (pinned, &self.opts.follow) {
                    (Some(v), _) => t.at(v, &self.base).await?,
                    (None, Follow::PerQuery) => t.latest(&self.base).await?,
                    (None, Follow::Background(_)) => t.current(),
                };
                Ok::<_, Error>((t.id.clone(), snap))
            }
        }))
        .await?;
        let chosen: BTreeMap<TableId, Arc<Snap>> = snaps.into_iter().collect();
        let versions: Versions = chosen
            .iter()
            .map(|(id, s)| (id.to_string(), s.version))
            .collect();
        let mut state = self.query_state(&chosen)?;
        for (k, v) in settings {
            if !k.starts_with(SETTING_PREFIX) {
                return Err(Error::BadRequest(format!(
                    "setting {k}: only {SETTING_PREFIX}* settings can be sent with a statement"
                )));
            }
            state
                .config_mut()
                .options_mut()
                .set(k, v)
                .map_err(|e| Error::BadRequest(format!("setting {k}: {e}")))?;
        }
        if let Some(x) = extension {
            x.on_query(&mut state, &versions)?;
            let missing: Vec<String> = inputs
                .iter()
                .filter(|id| !chosen.contains_key(*id))
                .map(ToString::to_string)
                .collect();
            if reads_views && !missing.is_empty() {
                return Err(Error::BadRequest(format!(
                    "the views read {}, which {} no data yet (the ingestion loop creates them)",
                    missing.join(", "),
                    if missing.len() == 1 { "has" } else { "have" }
                )));
            }
            if !inputs.is_empty() && missing.is_empty() {
                x.register_views(&state, &versions).await?;
            }
        }
        let kind = statement.to_string();
        let plan = state.statement_to_plan(statement).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|_| {
                Error::ReadOnly(
                    kind.split_whitespace()
                        .next()
                        .unwrap_or("this")
                        .to_ascii_uppercase(),
                )
            })?;
        Ok(Prepared {
            state,
            plan,
            versions,
            reads_information_schema,
        })
    }

    async fn run(
        &self,
        statement: &Statement,
        at: Option<&Versions>,
        span: Span,
        started: Instant,
    ) -> Result<ResultStream> {
        let p = self.prepare(statement, at).await?;
        let plan = params::bind(p.plan, statement.params.as_ref())?;
        let schema = plain_schema(plan.schema().as_arrow());
        let key = (self.cache.enabled() && cache::cacheable(&plan, p.reads_information_schema))
            .then(|| -> Result<CacheKey> {
                Ok(CacheKey {
                    sql: statement.sql.clone(),
                    params: match &statement.params {
                        Some(b) => params::encode_batch(b)?,
                        None => Vec::new(),
                    },
                    settings: statement.settings.clone(),
                    versions: p.versions.clone(),
                })
            })
            .transpose()?;
        if let Some(k) = &key {
            if let Some(hit) = self.cache.get(k).await {
                Metrics::inc(&self.metrics.cache_hits);
                let batches: Vec<Result<RecordBatch>> =
                    hit.batches.iter().cloned().map(Ok).collect();
                return Ok(self.finish(
                    Arc::clone(&hit.schema),
                    p.versions,
                    true,
                    futures::stream::iter(batches).boxed(),
                    span,
                    started,
                ));
            }
            Metrics::inc(&self.metrics.cache_misses);
        }
        let physical = p.state.create_physical_plan(&plan).await?;
        let target = Arc::clone(&schema);
        let stream = execute_stream(physical, p.state.task_ctx())?
            .map(move |b| Ok(to_schema(&b?, &target)?));
        let stream = match key {
            Some(k) => self
                .cache
                .tee(k, Arc::clone(&schema), stream.boxed())
                .boxed(),
            None => stream.boxed(),
        };
        Ok(self.finish(schema, p.versions, false, stream, span, started))
    }

    fn finish(
        &self,
        schema: SchemaRef,
        versions: Versions,
        cached: bool,
        stream: BoxStream<'static, Result<RecordBatch>>,
        span: Span,
        started: Instant,
    ) -> ResultStream {
        let deadline = self
            .opts
            .statement_timeout
            .map(|t| (t, Box::pin(tokio::time::sleep_until((started + t).into()))));
        ResultStream {
            schema,
            versions: versions.clone(),
            cached,
            stream: Finish {
                inner: stream,
                deadline,
                span,
                started,
                rows: 0,
                batches: 0,
                done: false,
                cached,
                metrics: Arc::clone(&self.metrics),
            }
            .boxed(),
        }
    }
}
