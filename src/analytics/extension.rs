//! [`Analytics`]: the views of `sql/`, their function and the reflection rule, as the engine
//! [`Extension`] `finlake serve` installs; [`spawn_maintainer`]: the task that keeps the
//! reflections at the bronze tables' applied position while the server runs.
//!
//! Planning the views costs more than a dashboard query, so the planned views are kept for
//! the few latest snapshots (their plans read exactly those bronze versions, so reuse is
//! exact); a query at a new snapshot plans them again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::FunctionRegistry as _;
use datafusion::execution::context::SessionState;
use datafusion::prelude::SessionContext;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::Result;
use super::options::FinlakeOptions;
use super::refresh::{Action, Writer, refresh_reflections_for};
use super::rule::{Reflections, reflection_rule};
use super::views::{BRONZE_TABLES, CATALOG, ViewDef, home_state_udf, view_defs};
use crate::engine::{Extension, Versions, ViewName};
use crate::lake::Lake;

/// Planned views kept, by snapshot.
const KEPT_SNAPSHOTS: usize = 4;

type Planned = Arc<Vec<(ViewName, Arc<dyn TableProvider>)>>;

/// The analytics layer as an engine extension. See the module documentation.
#[derive(Debug)]
pub struct Analytics {
    lake: Lake,
    views: Vec<ViewDef>,
    reflections: Option<Arc<Reflections>>,
    planned: Mutex<VecDeque<(String, Planned)>>,
}

impl Analytics {
    /// The views of `sql/`; with `reflections`, also the substitution rule over the
    /// reflections stored in `lake` (loaded now, reloaded on every engine refresh).
    pub async fn new(lake: Lake, reflections: bool) -> Result<Arc<Self>> {
        let reflections = if reflections {
            let r = Reflections::new()?;
            r.load(&lake).await?;
            Some(r)
        } else {
            None
        };
        Ok(Arc::new(Self {
            lake,
            views: view_defs()?,
            reflections,
            planned: Mutex::new(VecDeque::new()),
        }))
    }

    /// The reflections the rule uses (None: substitution disabled).
    pub fn reflections(&self) -> Option<&Arc<Reflections>> {
        self.reflections.as_ref()
    }

    fn kept(&self, key: &str) -> Option<Planned> {
        let kept = self.planned.lock().ok()?;
        kept.iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| Arc::clone(p))
    }

    fn keep(&self, key: String, planned: Planned) {
        if let Ok(mut kept) = self.planned.lock() {
            kept.retain(|(k, _)| *k != key);
            kept.push_front((key, planned));
            kept.truncate(KEPT_SNAPSHOTS);
        }
    }
}

/// `table=version;...` of the bronze inputs (the form `FinlakeOptions::snapshot` takes).
fn snapshot_key(versions: &Versions) -> String {
    BRONZE_TABLES
        .iter()
        .map(|t| {
            let v = versions
                .get(&format!("bronze.{t}"))
                .map_or(-1, |v| *v as i64);
            format!("{t}={v}")
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn register(
    state: &SessionState,
    view: &ViewName,
    provider: Arc<dyn TableProvider>,
) -> DfResult<()> {
    let catalog = state
        .catalog_list()
        .catalog(CATALOG)
        .ok_or_else(|| DataFusionError::Plan(format!("no catalog {CATALOG}")))?;
    let schema = match catalog.schema(&view.schema) {
        Some(s) => s,
        None => {
            catalog.register_schema(&view.schema, Arc::new(MemorySchemaProvider::new()))?;
            catalog.schema(&view.schema).ok_or_else(|| {
                DataFusionError::Plan(format!("schema {CATALOG}.{} missing", view.schema))
            })?
        }
    };
    schema.deregister_table(&view.name)?;
    schema.register_table(view.name.clone(), provider)?;
    Ok(())
}

#[async_trait]
impl Extension for Analytics {
    fn configure(&self, state: &mut SessionState) -> DfResult<()> {
        state.register_udf(Arc::new(home_state_udf()))?;
        state
            .config_mut()
            .options_mut()
            .extensions
            .insert(FinlakeOptions::default());
        if let Some(r) = &self.reflections {
            state.add_analyzer_rule(reflection_rule(Arc::clone(r)));
        }
        Ok(())
    }

    fn views(&self) -> Vec<ViewName> {
        self.views
            .iter()
            .map(|v| ViewName {
                schema: v.schema.clone(),
                name: v.name.clone(),
            })
            .collect()
    }

    fn inputs(&self) -> Vec<String> {
        BRONZE_TABLES
            .iter()
            .map(|t| format!("bronze.{t}"))
            .collect()
    }

    async fn register_views(&self, state: &SessionState, versions: &Versions) -> DfResult<()> {
        let key = snapshot_key(versions);
        if let Some(planned) = self.kept(&key) {
            for (view, provider) in planned.iter() {
                register(state, view, Arc::clone(provider))?;
            }
            return Ok(());
        }
        let ctx = SessionContext::new_with_state(state.clone());
        let mut planned = Vec::with_capacity(self.views.len());
        for v in &self.views {
            let plan = ctx
                .sql(&v.sql)
                .await
                .map_err(|e| DataFusionError::Plan(format!("view {}: {e}", v.file)))?
                .into_unoptimized_plan();
            let view = ViewName {
                schema: v.schema.clone(),
                name: v.name.clone(),
            };
            let provider: Arc<dyn TableProvider> =
                Arc::new(ViewTable::new(plan, Some(v.sql.clone())));
            register(state, &view, Arc::clone(&provider))?;
            planned.push((view, provider));
        }
        debug!(snapshot = %key, "views planned");
        self.keep(key, Arc::new(planned));
        Ok(())
    }

    fn on_query(&self, state: &mut SessionState, versions: &Versions) -> DfResult<()> {
        let snapshot = snapshot_key(versions);
        let ext = &mut state.config_mut().options_mut().extensions;
        match ext.get_mut::<FinlakeOptions>() {
            Some(o) => o.snapshot = snapshot,
            None => ext.insert(FinlakeOptions {
                snapshot,
                ..Default::default()
            }),
        }
        Ok(())
    }

    async fn refresh(&self) {
        if let Some(r) = &self.reflections
            && let Err(e) = r.load(&self.lake).await
        {
            warn!(error = %e, "reflections not reloaded");
        }
    }
}

/// Keeps every reflection at the bronze tables' applied position (`app_id`: the loop's
/// application id) until `stop` turns true: refreshes, reloads them into `analytics`, waits
/// `interval` when nothing was behind. Errors are logged and retried; queries never wait on
/// it (a reflection behind the query's snapshot is simply not used).
pub fn spawn_maintainer(
    lake: Lake,
    writer: Writer,
    analytics: Arc<Analytics>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let mut commits = lake.commits();
    tokio::spawn(async move {
        loop {
            let busy = match refresh_reflections_for(&lake, &writer).await {
                Ok(outcomes) => {
                    let mut busy = false;
                    for o in &outcomes {
                        if !matches!(o.action, Action::Waiting | Action::Unchanged) {
                            busy = true;
                            info!(reflection = %o.name, action = ?o.action, bronze_version = o.bronze_version, changes = o.changes, groups = o.groups, elapsed_ms = o.elapsed.as_millis() as u64, "reflection refreshed");
                        }
                    }
                    busy
                }
                Err(e) => {
                    warn!(error = %e, "reflection refresh failed; retrying");
                    false
                }
            };
            if busy {
                analytics.refresh().await;
                lake.announce_commit();
            }
            if *stop.borrow() {
                break;
            }
            if !busy {
                // The loop's next commit, or the interval (other writers, a missed wake-up).
                tokio::select! {
                    _ = stop.wait_for(|v| *v) => break,
                    _ = commits.changed() => {}
                    () = tokio::time::sleep(interval) => {}
                }
            }
        }
    })
}
