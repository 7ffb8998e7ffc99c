//! Substitution: an analyzer rule that answers an aggregation from an aggregation
//! reflection.
//!
//! It runs after DataFusion's own analyzer rules, when views are inlined as
//! `SubqueryAlias(finlake.<schema>.<view>, ...)`. An `Aggregate` whose input is that alias
//! (under any filters) matches a reflection of the view when every GROUP BY expression is a
//! dim or a deterministic expression of dims only, every filter references only dims, and every aggregate is COUNT(*), COUNT(m),
//! SUM(m), MIN(m), MAX(m) or AVG(m) of an integer measure m. Of the reflections that match,
//! the one with the fewest rows answers (declaration order breaks ties). The subtree becomes an
//! aggregation over the reflection (`TableScan: reflection:<name>`, shown by EXPLAIN), cast
//! back to the original output schema. Gold views that aggregate the view (such as
//! `gold.minute_metrics`) and ad-hoc roll-ups both match.
//!
//! A reflection is used only when its recorded bronze version equals the version the query
//! reads (set by [`register_views`](super::register_views) in the `finlake.snapshot`
//! option): a reflection behind (or ahead of) the query's snapshot is not used, so results
//! equal the unaccelerated query. `SET finlake.reflections = off` turns substitution off.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::datasource::provider_as_source;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::optimizer::AnalyzerRule;

use super::options::FinlakeOptions;
use super::refresh::{measure_columns, open_reflection, recorded};
use super::spec::{ReflectionSpec, reflection_specs};
use super::views::CATALOG;
use super::{Error, Result};
use crate::lake::Lake;

/// A reflection's current Delta snapshot, as a provider, with the bronze version it is at.
#[derive(Debug, Clone)]
struct Loaded {
    spec: ReflectionSpec,
    provider: Arc<dyn TableProvider>,
    bronze_version: i64,
    /// Rows (from the Delta log's file statistics), to prefer the smallest match.
    rows: usize,
    /// Declaration order, the tie-break.
    order: usize,
}

/// The reflections the rule may use; [`Reflections::load`] reloads them from the lake
/// (after each refresh).
#[derive(Debug)]
pub struct Reflections {
    specs: Vec<ReflectionSpec>,
    loaded: RwLock<HashMap<String, Loaded>>,
}

impl Reflections {
    /// The reflections declared in `sql/`, none loaded yet.
    pub fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            specs: reflection_specs()?,
            loaded: RwLock::new(HashMap::new()),
        }))
    }

    /// Loads the latest snapshot of every reflection that exists in the lake.
    pub async fn load(&self, lake: &Lake) -> Result<()> {
        let mut fresh = HashMap::new();
        for (order, spec) in self.specs.iter().enumerate() {
            let Some(table) = open_reflection(lake, &spec.name).await? else {
                continue;
            };
            let Some((bronze_version, _)) = recorded(&table).await? else {
                continue;
            };
            let rows = table
                .snapshot()?
                .log_data()
                .iter()
                .map(|f| f.num_records().unwrap_or(usize::MAX / 1024))
                .sum();
            let provider = table.table_provider().await?;
            fresh.insert(
                spec.name.clone(),
                Loaded {
                    spec: spec.clone(),
                    provider,
                    bronze_version,
                    rows,
                    order,
                },
            );
        }
        *self
            .loaded
            .write()
            .map_err(|_| Error::Spec("reflection registry poisoned".into()))? = fresh;
        Ok(())
    }

    /// Name -> the bronze version each loaded reflection is at.
    pub fn versions(&self) -> BTreeMap<String, i64> {
        self.loaded
            .read()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.bronze_version))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The loaded reflections, smallest first.
    fn current(&self) -> Vec<Loaded> {
        let mut all: Vec<Loaded> = self
            .loaded
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|r| (r.rows, r.order));
        all
    }
}

/// The analyzer rule; install it with `SessionContext::add_analyzer_rule` (it must run after
/// DataFusion's rules, which is where `add_analyzer_rule` puts it).
pub fn reflection_rule(reflections: Arc<Reflections>) -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(ReflectionRule { reflections })
}

#[derive(Debug)]
struct ReflectionRule {
    reflections: Arc<Reflections>,
}

impl AnalyzerRule for ReflectionRule {
    fn name(&self) -> &str {
        "finlake_reflections"
    }

    fn analyze(
        &self,
        plan: LogicalPlan,
        config: &ConfigOptions,
    ) -> datafusion::error::Result<LogicalPlan> {
        let options = config.extensions.get::<FinlakeOptions>();
        if options.is_some_and(|o| !o.enabled()) {
            return Ok(plan);
        }
        let snapshot = options.map(FinlakeOptions::versions).unwrap_or_default();
        let usable: Vec<Loaded> = self
            .reflections
            .current()
            .into_iter()
            .filter(|r| snapshot.get(&r.spec.source) == Some(&r.bronze_version))
            .collect();
        if usable.is_empty() {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            if let LogicalPlan::Aggregate(agg) = &node {
                for r in &usable {
                    if let Some(new) = rewrite(agg, r)? {
                        tracing::debug!(reflection = %r.spec.name, "reflection substituted");
                        return Ok(Transformed::yes(new));
                    }
                }
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }
}

fn is_view(alias: &TableReference, spec: &ReflectionSpec) -> bool {
    alias.table() == spec.view_name
        && alias.schema() == Some(spec.view_schema.as_str())
        && alias.catalog().is_none_or(|c| c == CATALOG)
}

/// How one original aggregate is answered from the reflection.
enum Answer {
    /// An aggregate over a reflection column, coalesced to 0 when it is a count.
    Agg { expr: Expr, count: bool },
    /// AVG: SUM(m__sum) / SUM(m__cnt) in floating point.
    Avg { sum: Expr, cnt: Expr },
}

fn rewrite(agg: &Aggregate, r: &Loaded) -> datafusion::error::Result<Option<LogicalPlan>> {
    let spec = &r.spec;
    let mut input = agg.input.as_ref();
    let mut filters = Vec::new();
    while let LogicalPlan::Filter(f) = input {
        filters.push(f.predicate.clone());
        input = f.input.as_ref();
    }
    let LogicalPlan::SubqueryAlias(outer) = input else {
        return Ok(None);
    };
    let view_ok = is_view(&outer.alias, spec)
        || matches!(outer.input.as_ref(), LogicalPlan::SubqueryAlias(inner) if is_view(&inner.alias, spec));
    if !view_ok {
        return Ok(None);
    }
    let dims: HashSet<&str> = spec.dims.iter().map(String::as_str).collect();
    let measures: HashSet<&str> = spec.measures.iter().map(String::as_str).collect();
    let q = outer.alias.clone();
    // Group by dims, or by deterministic expressions of dims only (`date_trunc('hour',
    // minute)`): each reflection group falls into exactly one query group.
    if !agg.group_expr.iter().all(|g| {
        let refs = g.column_refs();
        !refs.is_empty()
            && refs.iter().all(|c| dims.contains(c.name.as_str()))
            && !g.is_volatile()
            && !matches!(g, Expr::GroupingSet(_))
    }) {
        return Ok(None);
    }
    if !filters.iter().all(|f| {
        f.column_refs()
            .iter()
            .all(|c| dims.contains(c.name.as_str()))
            && !f.is_volatile()
    }) {
        return Ok(None);
    }
    let refl = |c: &str| Expr::Column(Column::new(Some(q.clone()), c));
    let view_type = |c: &str| -> Option<DataType> {
        outer
            .schema
            .field_with_unqualified_name(c)
            .ok()
            .map(|f| f.data_type().clone())
    };
    let mut answers = Vec::new();
    for e in &agg.aggr_expr {
        let inner = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::AggregateFunction(af) = inner else {
            return Ok(None);
        };
        let p = &af.params;
        if p.distinct || p.filter.is_some() || !p.order_by.is_empty() || p.args.len() != 1 {
            return Ok(None);
        }
        // Type coercion casts AVG's integer argument to Float64: look through it.
        let arg = match &p.args[0] {
            Expr::Cast(c) if af.func.name() == "avg" => c.expr.as_ref(),
            other => other,
        };
        let measure = match arg {
            Expr::Column(c) if measures.contains(c.name.as_str()) => Some(c.name.clone()),
            Expr::Literal(v, _) if !v.is_null() => None,
            _ => return Ok(None),
        };
        let answer = match (af.func.name(), measure) {
            ("count", None) => Answer::Agg {
                expr: sum(refl("__rows")),
                count: true,
            },
            ("count", Some(m)) => Answer::Agg {
                expr: sum(refl(&format!("{m}__cnt"))),
                count: true,
            },
            ("sum", Some(m)) => Answer::Agg {
                expr: sum(refl(&format!("{m}__sum"))),
                count: false,
            },
            ("min", Some(m)) => Answer::Agg {
                expr: min(refl(&format!("{m}__min"))),
                count: false,
            },
            ("max", Some(m)) => Answer::Agg {
                expr: max(refl(&format!("{m}__max"))),
                count: false,
            },
            ("avg", Some(m)) if view_type(&m).is_some_and(|t| t.is_integer()) => Answer::Avg {
                sum: sum(refl(&format!("{m}__sum"))),
                cnt: sum(refl(&format!("{m}__cnt"))),
            },
            _ => return Ok(None),
        };
        answers.push(answer);
    }

    // The reflection, its columns cast to the view's types, under the query's qualifier.
    let mut columns = Vec::new();
    for d in &spec.dims {
        let Some(t) = view_type(d) else {
            return Ok(None);
        };
        columns.push(cast(Expr::Column(Column::new_unqualified(d)), t).alias(d));
    }
    columns.push(Expr::Column(Column::new_unqualified("__rows")));
    for c in measure_columns(spec) {
        columns.push(Expr::Column(Column::new_unqualified(c)));
    }
    let source = provider_as_source(Arc::clone(&r.provider));
    let mut b = LogicalPlanBuilder::scan(
        TableReference::bare(format!("reflection:{}", spec.name)),
        source,
        None,
    )?
    .project(columns)?
    .alias(q.clone())?;
    for f in filters.into_iter().rev() {
        b = b.filter(f)?;
    }
    let mut new_aggs = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        match a {
            Answer::Agg { expr, .. } => new_aggs.push(expr.clone().alias(format!("__r{i}"))),
            Answer::Avg { sum, cnt } => {
                new_aggs.push(sum.clone().alias(format!("__r{i}")));
                new_aggs.push(cnt.clone().alias(format!("__c{i}")));
            }
        }
    }
    b = b.aggregate(agg.group_expr.clone(), new_aggs)?;
    let schema = Arc::clone(&agg.schema);
    let n_groups = agg.group_expr.len();
    let mut out = Vec::new();
    for (j, (qual, field)) in schema.iter().enumerate() {
        if j < n_groups {
            out.push(Expr::Column(Column::new(qual.cloned(), field.name())));
            continue;
        }
        let i = j - n_groups;
        let r = Expr::Column(Column::new_unqualified(format!("__r{i}")));
        let value = match &answers[i] {
            Answer::Agg { count: true, .. } => coalesce(vec![r, lit(0i64)]),
            Answer::Agg { count: false, .. } => r,
            Answer::Avg { .. } => {
                let c = Expr::Column(Column::new_unqualified(format!("__c{i}")));
                cast(r, DataType::Float64) / cast(c, DataType::Float64)
            }
        };
        out.push(
            cast(value, field.data_type().clone()).alias_qualified(qual.cloned(), field.name()),
        );
    }
    Ok(Some(b.project(out)?.build()?))
}
