//! Test support, compiled only for the crate's own tests and with the `test-support` feature
//! (which the integration tests, the sqllogictest runner and the benches turn on): the golden
//! lake fixture, the batch formatter and the analytics session builder they all share, so no
//! test writes them again.

pub mod golden;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::analytics::{
    FinlakeOptions, Reflections, ensure_catalog, reflection_rule, register_lake, register_views,
};
use crate::lake::Lake;

/// Each row's cells as text (`NULL` for nulls), in order.
pub fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, ArrowError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(rows)
}

/// Batches as `a|b|c` lines (`NULL` for nulls), in order, for comparing results.
pub fn lines(batches: &[RecordBatch]) -> Vec<String> {
    cells(batches)
        .expect("format batches")
        .into_iter()
        .map(|row| row.join("|"))
        .collect()
}

/// The sorted `a|b|c` lines of a query's result.
pub async fn sorted_lines(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("plan {sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("run {sql}: {e}"));
    let mut out = lines(&batches);
    out.sort();
    out
}

/// A session as the engine builds it: the lake's latest bronze snapshots, the views, the
/// reflection rule; `SET finlake.reflections = off` when `on` is false.
pub async fn analytics_session(
    lake: &Lake,
    reflections: &Arc<Reflections>,
    on: bool,
) -> SessionContext {
    let config = SessionConfig::new()
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .with_option_extension(FinlakeOptions::default());
    let ctx = SessionContext::new_with_config(config);
    ensure_catalog(&ctx);
    let versions = register_lake(&ctx, lake).await.expect("register bronze");
    register_views(&ctx, &versions)
        .await
        .expect("register views");
    ctx.add_analyzer_rule(reflection_rule(Arc::clone(reflections)));
    if !on {
        ctx.sql("SET finlake.reflections = off")
            .await
            .expect("set")
            .collect()
            .await
            .expect("set");
    }
    ctx
}
