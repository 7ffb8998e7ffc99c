//! `now()` in a filter, fixed once per statement before planning.
//!
//! DataFusion replaces `now()` by the statement's start time when it simplifies expressions,
//! but a filter pushed into the Delta scan is also evaluated by delta-rs (file pruning,
//! Parquet predicates) without that time, where `now()` fails with "invoke should not be
//! called on a simplified now() function". This analyzer rule puts the statement's time into
//! every filter predicate as a literal first, so `WHERE ts > now() - INTERVAL '1 hour'`
//! works and still reads one instant per statement. Projections keep `now()` (DataFusion
//! simplifies them itself, and their column names stay `now()`).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Expr, Filter, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct NowInFilters;

impl AnalyzerRule for NowInFilters {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let tz: Option<Arc<str>> = config
            .execution
            .time_zone
            .as_ref()
            .map(|t| Arc::from(t.as_str()));
        let now = ScalarValue::TimestampNanosecond(chrono::Utc::now().timestamp_nanos_opt(), tz);
        plan.transform_up_with_subqueries(|p| match p {
            LogicalPlan::Filter(f) => {
                let predicate = f.predicate.clone().transform_up(|e| match &e {
                    Expr::ScalarFunction(s) if s.func.name() == "now" && s.args.is_empty() => {
                        Ok(Transformed::yes(Expr::Literal(now.clone(), None)))
                    }
                    _ => Ok(Transformed::no(e)),
                })?;
                if predicate.transformed {
                    Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
                        predicate.data,
                        Arc::clone(&f.input),
                    )?)))
                } else {
                    Ok(Transformed::no(LogicalPlan::Filter(f)))
                }
            }
            other => Ok(Transformed::no(other)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "finlake_now_in_filters"
    }
}
