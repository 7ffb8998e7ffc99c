//! Analytics: the views of `sql/`, their reflections, the substitution rule and the
//! maintenance that keeps reflections current.
//!
//! - [`options`]: the session settings (`SET finlake.reflections`, the snapshot read);
//! - [`views`]: the SQL views of `sql/` (silver and gold), registered into a DataFusion
//!   session under the `finlake` catalog, plus the UDF they use (`finlake_home_state`);
//! - [`spec`]: reflections declared beside their views (`-- reflection: ...` comments);
//! - [`refresh`]: reflections stored as Delta tables under `<lake>/reflections/<name>`,
//!   maintained incrementally from the bronze `__changes` history, exactly once;
//! - [`rule`]: the analyzer rule that answers aggregations from a reflection when the
//!   reflection is exactly at the query's bronze snapshot;
//! - [`extension`]: all of it as an engine [`Extension`](crate::engine::Extension) (what
//!   `finlake serve` installs), and the task that keeps the reflections current.
//!
//! Inside the module the files depend one way: options, views, spec, refresh, rule,
//! extension. The golden fixture the tests build a lake from is
//! [`testkit::golden`](crate::testkit), compiled for tests only.
//!
//! Outside the engine (tests, sqllogictest): after registering the bronze snapshots in
//! `finlake.bronze`, call [`register_views`] with their versions and install
//! [`reflection_rule`] on the session; [`refresh_reflections`] brings reflections to the
//! bronze tables' applied position.

pub mod extension;
pub mod options;
pub mod refresh;
pub mod rule;
pub mod spec;
pub mod views;

#[cfg(test)]
mod tests;

pub use extension::{Analytics, spawn_maintainer};
pub use options::FinlakeOptions;
pub use refresh::{
    RefreshOutcome, Writer, reflection_url, refresh_reflections, refresh_reflections_for,
};
pub use rule::{Reflections, reflection_rule};
pub use spec::{ReflectionSpec, reflection_specs};
pub use views::{
    BronzeVersions, CATALOG, ViewDef, ensure_catalog, register_lake, register_udfs, register_views,
    view_defs,
};

/// Errors of the analytics layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("view or reflection definition: {0}")]
    Spec(String),
    #[error("datafusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    #[error("lake: {0}")]
    Lake(#[from] crate::lake::Error),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("fixture {line}: {reason}")]
    Fixture { line: usize, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
