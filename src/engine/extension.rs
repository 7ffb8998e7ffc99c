//! Views, functions and rules layered over the lake tables by the binary (the analytics of
//! `sql/` and their reflections, see `analytics::Analytics`), so that the engine does not
//! depend on them.
//!
//! The engine asks the extension for its views' names and inputs; a query that names a view
//! (or reads `information_schema`) gets the inputs at the query's snapshot and the views
//! planned over them, in the query's own catalog. Statement settings (`finlake.*`) are set on
//! the query's configuration before planning.

use async_trait::async_trait;
use datafusion::error::Result as DfResult;
use datafusion::execution::context::SessionState;

use super::Versions;

/// A view an extension serves: `finlake.<schema>.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ViewName {
    pub schema: String,
    pub name: String,
}

impl std::fmt::Display for ViewName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// What the engine needs from an extension.
#[async_trait]
pub trait Extension: Send + Sync + std::fmt::Debug + 'static {
    /// Adds functions, configuration extensions and analyzer rules to the base session.
    fn configure(&self, state: &mut SessionState) -> DfResult<()>;

    /// The views, in dependency order.
    fn views(&self) -> Vec<ViewName>;

    /// The lake tables the views read, as `schema.table`.
    fn inputs(&self) -> Vec<String>;

    /// Plans the views against `state`, whose `finlake` catalog holds every input at
    /// `versions`, and registers them in that catalog.
    async fn register_views(&self, state: &SessionState, versions: &Versions) -> DfResult<()>;

    /// Sets up a query's state before planning (for example, records its snapshot so that a
    /// rule can tell which materializations are current).
    fn on_query(&self, state: &mut SessionState, versions: &Versions) -> DfResult<()>;

    /// Called by the engine's refresher on every tick.
    async fn refresh(&self) {}
}

/// The extension's inputs as table ids (malformed names are ignored).
pub(super) fn input_ids(x: &dyn Extension) -> Vec<super::tables::TableId> {
    x.inputs()
        .iter()
        .filter_map(|i| i.split_once('.'))
        .map(|(s, t)| super::tables::TableId::new(s, t))
        .collect()
}
