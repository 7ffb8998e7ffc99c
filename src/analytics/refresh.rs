//! Reflections as Delta tables, maintained incrementally from the bronze change history.
//!
//! A reflection `<name>` is two Delta tables, both partitioned by `_month` (the month of the
//! first dim):
//! - `<lake>/reflections/<name>__keys`: per source key, the row's dims and measures (what the
//!   aggregation holds for it: the history has only after images, so this is how an update
//!   or delete retracts the row's old contribution);
//! - `<lake>/reflections/<name>`: per dims combination, `__rows` and for each measure
//!   `m__sum`, `m__min`, `m__max`, `m__cnt` (what the rule reads).
//!
//! A refresh reads the `<source>__changes` rows after the reflection's recorded position up
//! to the bronze table's applied position (the latest change per key), computes their new
//! rows with the view's own SQL, merges them into the keys table (deletes delete), and
//! recomputes only the dims groups those rows left or entered, from the keys table (pruned to
//! their months), merging the result (empty groups deleted). MIN and MAX stay exact under
//! deletes because groups are recomputed, not patched. Both commits carry the Delta
//! application transaction `finlake-reflection` with the bronze version they reflect (and
//! the position in the commit metadata): a replay is a no-op, and a crash between the two
//! commits (keys ahead of the aggregate) is detected and repaired by a full rebuild.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Column as DfColumn;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, col};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt as _;
use tracing::{info, instrument, warn};
use url::Url;

use super::spec::{ReflectionSpec, reflection_specs};
use super::views::{ensure_catalog, open_bronze};
use super::{Error, Result};
use crate::ingest::event::Position;
use crate::lake::commit::{applied_position, commit_position_only};
use crate::lake::types::{pos_offset, pos_row};
use crate::lake::{Lake, session};

/// The application id of reflection commits (txn version = the bronze version reflected).
pub const APP_ID: &str = "finlake-reflection";
const META_POSITION: &str = "finlake.position";
const META_BRONZE: &str = "finlake.bronze_version";
const MONTH: &str = "_month";
const ROWS: &str = "__rows";
const DEL: &str = "__del";

/// What a refresh did to one reflection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Built from the bronze snapshot (first refresh, or repair after a crash).
    Built,
    /// Applied the changes since its position.
    Incremental,
    /// Already at the bronze version.
    Unchanged,
    /// The change history is behind bronze (mid-batch): try again after the batch.
    Waiting,
}

/// One reflection's refresh.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    pub name: String,
    pub action: Action,
    pub bronze_version: i64,
    /// Latest-per-key change rows applied.
    pub changes: usize,
    /// Dims groups recomputed.
    pub groups: usize,
    pub elapsed: Duration,
}

/// `<lake>/reflections/<name>/` (the directory is created for local lakes).
pub fn reflection_url(lake: &Lake, name: &str) -> Result<Url> {
    let mut base = lake.root().clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let url = base
        .join(&format!("reflections/{name}/"))
        .map_err(|e| Error::Spec(e.to_string()))?;
    if url.scheme() == "file"
        && let Ok(path) = url.to_file_path()
    {
        std::fs::create_dir_all(&path).map_err(|e| Error::Spec(format!("{url}: {e}")))?;
    }
    Ok(url)
}

async fn open_table(lake: &Lake, name: &str) -> Result<DeltaTable> {
    Ok(DeltaTable::try_from_url_with_storage_options(
        reflection_url(lake, name)?,
        lake.storage_options().clone(),
    )
    .await?)
}

/// The aggregate table of a reflection, when it has been built.
pub(crate) async fn open_reflection(lake: &Lake, name: &str) -> Result<Option<DeltaTable>> {
    let t = open_table(lake, name).await?;
    Ok(t.version().is_some().then_some(t))
}

/// The bronze version and source position a reflection table records.
pub(crate) async fn recorded(table: &DeltaTable) -> Result<Option<(i64, Position)>> {
    let Some(version) = table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), APP_ID)
        .await?
    else {
        return Ok(None);
    };
    let infos: Vec<_> = table.history(Some(200)).try_collect().await?;
    for info in infos {
        let (Some(v), Some(p)) = (info.info.get(META_BRONZE), info.info.get(META_POSITION)) else {
            continue;
        };
        if v.as_i64() == Some(version) {
            return Ok(Some((version, serde_json::from_value(p.clone())?)));
        }
    }
    Err(Error::Spec(format!(
        "reflection txn version {version} has no {META_POSITION} metadata"
    )))
}

/// The measure columns of the aggregate table, in order.
pub fn measure_columns(spec: &ReflectionSpec) -> Vec<String> {
    spec.measures
        .iter()
        .flat_map(|m| ["sum", "min", "max", "cnt"].map(|a| format!("{m}__{a}")))
        .collect()
}

fn props(bronze_version: i64, position: &Position) -> Result<CommitProperties> {
    Ok(CommitProperties::default()
        .with_metadata([
            (META_POSITION.to_owned(), serde_json::to_value(position)?),
            (
                META_BRONZE.to_owned(),
                serde_json::Value::from(bronze_version),
            ),
        ])
        .with_application_transaction(Transaction::new(APP_ID, bronze_version)))
}

/// The view's rows reduced to key, dims, measures and `_month`.
pub(crate) fn keyed_sql(spec: &ReflectionSpec) -> String {
    let cols: Vec<&str> = std::iter::once(spec.key.as_str())
        .chain(spec.dims.iter().map(String::as_str))
        .chain(spec.measures.iter().map(String::as_str))
        .collect();
    format!(
        "SELECT {}, to_char({}, '%Y-%m') AS {MONTH} FROM (\n{}\n) v",
        cols.join(", "),
        spec.time_dim(),
        spec.view_sql
    )
}

/// The aggregate over a keys relation `from`.
pub(crate) fn agg_sql(spec: &ReflectionSpec, from: &str) -> String {
    let dims = spec.dims.join(", ");
    let mut measures = vec![format!("count(*) AS {ROWS}")];
    for m in &spec.measures {
        measures.push(format!(
            "sum({m}) AS {m}__sum, min({m}) AS {m}__min, max({m}) AS {m}__max, count({m}) AS {m}__cnt"
        ));
    }
    format!(
        "SELECT {dims}, {MONTH}, {} FROM {from} GROUP BY {dims}, {MONTH}",
        measures.join(", ")
    )
}

/// SQL: the row's position is after `p`.
fn after(p: &Position) -> Result<String> {
    let (f, o, r) = (p.file.replace('\'', "''"), pos_offset(p)?, pos_row(p)?);
    Ok(format!(
        "(_pos_file > '{f}' OR (_pos_file = '{f}' AND (_pos > {o} OR (_pos = {o} AND _pos_row > {r}))))"
    ))
}

async fn collect(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let df = ctx.sql(sql).await?;
    let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    // The executed batches' schema can differ from the logical one in nullability.
    let schema = batches.first().map_or(planned, RecordBatch::schema);
    Ok((schema, batches))
}

fn mem(ctx: &SessionContext, name: &str, schema: SchemaRef, b: Vec<RecordBatch>) -> Result<()> {
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![b])?))?;
    Ok(())
}

async fn register_delta(ctx: &SessionContext, name: &str, t: &DeltaTable) -> Result<()> {
    t.update_datafusion_session(&ctx.state())?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, t.table_provider().await?)?;
    Ok(())
}

async fn overwrite(
    lake: &Lake,
    name: &str,
    schema: SchemaRef,
    mut batches: Vec<RecordBatch>,
    props: CommitProperties,
) -> Result<DeltaTable> {
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(open_table(lake, name)
        .await?
        .write(batches)
        .with_save_mode(SaveMode::Overwrite)
        .with_partition_columns([MONTH])
        .with_commit_properties(props)
        .await?)
}

/// Whose applied position the reflections follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// One application id for every table (the binlog loop's, `finlake-binlog`).
    Loop(String),
    /// The Kafka loop: one application id per topic partition,
    /// `<app_id>/<topics>.<table>/<partition>` (`topics`: `<prefix>.<database>`). Reflections
    /// follow partition 0 and wait (with a warning) on a topic of more partitions, whose
    /// positions do not order its changes.
    Kafka { app_id: String, topics: String },
}

impl Writer {
    fn app_id(&self, table: &str, partition: u32) -> String {
        match self {
            Writer::Loop(id) => id.clone(),
            Writer::Kafka { app_id, topics } => format!("{app_id}/{topics}.{table}/{partition}"),
        }
    }
}

/// Refreshes every reflection declared in `sql/` to the bronze tables' applied position
/// (`app_id`: the ingestion loop's application id, `finlake-binlog`). Call after each batch
/// the loop commits; safe to call concurrently with queries, and idempotent.
pub async fn refresh_reflections(lake: &Lake, app_id: &str) -> Result<Vec<RefreshOutcome>> {
    refresh_reflections_for(lake, &Writer::Loop(app_id.to_owned())).await
}

/// [`refresh_reflections`] for any [`Writer`].
#[instrument(skip_all)]
pub async fn refresh_reflections_for(lake: &Lake, writer: &Writer) -> Result<Vec<RefreshOutcome>> {
    let mut out = Vec::new();
    for spec in reflection_specs()? {
        out.push(refresh_one(lake, &spec, writer).await?);
    }
    Ok(out)
}

#[instrument(skip_all, fields(reflection = %spec.name))]
async fn refresh_one(
    lake: &Lake,
    spec: &ReflectionSpec,
    writer: &Writer,
) -> Result<RefreshOutcome> {
    let start = Instant::now();
    let name = &spec.name;
    let keys_name = format!("{name}__keys");
    let mut outcome = RefreshOutcome {
        name: name.clone(),
        action: Action::Waiting,
        bronze_version: -1,
        changes: 0,
        groups: 0,
        elapsed: Duration::ZERO,
    };
    let (Some(bronze), Some(history)) = (
        open_bronze(lake, &spec.source).await?,
        open_bronze(lake, &format!("{}__changes", spec.source)).await?,
    ) else {
        return Ok(outcome);
    };
    let vb = bronze.version().map_or(-1, |v| v as i64);
    outcome.bronze_version = vb;
    let mut cache = HashMap::new();
    let app_id = writer.app_id(&spec.source, 0);
    let app_id = app_id.as_str();
    if matches!(writer, Writer::Kafka { .. })
        && applied_position(&bronze, &mut cache, &writer.app_id(&spec.source, 1))
            .await?
            .is_some()
    {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            warn!(table = %spec.source, "the table's topic has more than one partition: its reflections are not maintained (queries read the view)");
        }
        return Ok(outcome);
    }
    let pb = applied_position(&bronze, &mut cache, app_id).await?;
    let ph = applied_position(&history, &mut HashMap::new(), app_id).await?;
    let Some(pb) = pb else {
        return Ok(outcome);
    };
    if ph.as_ref().is_none_or(|h| h < &pb) {
        return Ok(outcome);
    }
    let ctx = session()?;
    super::views::register_udfs(&ctx);
    let agg = open_reflection(lake, name).await?;
    let keys = open_reflection(lake, &keys_name).await?;
    let (agg_at, keys_at) = match (&agg, &keys) {
        (Some(a), Some(k)) => (recorded(a).await?, recorded(k).await?),
        _ => (None, None),
    };
    let incremental = match (&agg_at, &keys_at) {
        (Some((va, pa)), Some((vk, _))) if va == vk => Some((*va, pa.clone())),
        _ => None,
    };
    let Some((va, pa)) = incremental else {
        let (changes, groups) = build(lake, spec, &ctx, &bronze, props(vb, &pb)?).await?;
        outcome.changes = changes;
        outcome.groups = groups;
        outcome.action = Action::Built;
        outcome.elapsed = start.elapsed();
        info!(
            rows = outcome.changes,
            groups = outcome.groups,
            bronze_version = vb,
            "reflection built"
        );
        return Ok(outcome);
    };
    let (Some(mut agg), Some(mut keys)) = (agg, keys) else {
        return Err(Error::Spec("reflection tables vanished".into()));
    };
    if va == vb {
        outcome.action = Action::Unchanged;
        outcome.elapsed = start.elapsed();
        return Ok(outcome);
    }
    let p = props(vb, &pb)?;
    outcome.action = Action::Incremental;
    let Some(staged) = stage_changes(&ctx, spec, &history, &keys, &pa, &pb).await? else {
        commit_position_only(&mut keys, p.clone()).await?;
        commit_position_only(&mut agg, p).await?;
        outcome.elapsed = start.elapsed();
        return Ok(outcome);
    };
    outcome.changes = staged.changes;
    outcome.groups = staged.groups;
    keys = merge_keys(&ctx, spec, keys, p.clone()).await?;
    merge_groups(&ctx, spec, agg, &keys, &staged.months, p).await?;
    outcome.elapsed = start.elapsed();
    info!(
        changes = outcome.changes,
        groups = outcome.groups,
        bronze_version = vb,
        ms = outcome.elapsed.as_millis() as u64,
        "reflection refreshed"
    );
    Ok(outcome)
}

/// Full build from the bronze snapshot: the keys table and the aggregation, both recording
/// the bronze version and position. Returns (rows, groups).
async fn build(
    lake: &Lake,
    spec: &ReflectionSpec,
    ctx: &SessionContext,
    bronze: &DeltaTable,
    props: CommitProperties,
) -> Result<(usize, usize)> {
    bronze.update_datafusion_session(&ctx.state())?;
    ensure_catalog(ctx)
        .schema("bronze")
        .ok_or_else(|| Error::Spec("no bronze schema".into()))?
        .register_table(spec.source.clone(), bronze.table_provider().await?)?;
    let (ks, kb) = collect(ctx, &keyed_sql(spec)).await?;
    let changes = kb.iter().map(RecordBatch::num_rows).sum();
    mem(ctx, "k", Arc::clone(&ks), kb.clone())?;
    let (as_, ab) = collect(ctx, &agg_sql(spec, "k")).await?;
    let groups = ab.iter().map(RecordBatch::num_rows).sum();
    overwrite(lake, &format!("{}__keys", spec.name), ks, kb, props.clone()).await?;
    overwrite(lake, &spec.name, as_, ab, props).await?;
    Ok((changes, groups))
}

/// What changed since the reflection's position, staged in `ctx`: `c` the latest change per
/// key, `n` the view's new rows of the upserted keys, `o` the keys' old rows, `g` the groups
/// they touch.
struct Staged {
    changes: usize,
    groups: usize,
    months: BTreeSet<String>,
}

/// Stages the changes in (pa, pb]; `None` when there are none.
async fn stage_changes(
    ctx: &SessionContext,
    spec: &ReflectionSpec,
    history: &DeltaTable,
    keys: &DeltaTable,
    pa: &Position,
    pb: &Position,
) -> Result<Option<Staged>> {
    // The latest change per key in (pa, pb].
    register_delta(ctx, "h", history).await?;
    let changes_sql = format!(
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY _key ORDER BY _pos_file DESC, \
         _pos DESC, _pos_row DESC) AS __rn FROM h WHERE {} AND NOT {}) WHERE __rn = 1",
        after(pa)?,
        after(pb)?
    );
    let (cs, cb) = collect(ctx, &changes_sql).await?;
    let changes = cb.iter().map(RecordBatch::num_rows).sum();
    if changes == 0 {
        return Ok(None);
    }
    mem(ctx, "c", cs, cb)?;
    // New rows of the upserted keys, by the view's own SQL over their after images.
    let (us, ub) = collect(ctx, "SELECT * FROM c WHERE _op <> 'd'").await?;
    let view_ctx = session()?;
    super::views::register_udfs(&view_ctx);
    ensure_catalog(&view_ctx)
        .schema("bronze")
        .ok_or_else(|| Error::Spec("no bronze schema".into()))?
        .register_table(
            spec.source.clone(),
            Arc::new(MemTable::try_new(us, vec![ub])?),
        )?;
    let (ns, nb) = collect(&view_ctx, &keyed_sql(spec)).await?;
    mem(ctx, "n", ns, nb)?;
    register_delta(ctx, "k", keys).await?;
    let key = &spec.key;
    let (os, ob) = collect(
        ctx,
        &format!(
            "SELECT k.* FROM k JOIN (SELECT DISTINCT btrim(_key, '[]\"') AS __kt FROM c) ck \
             ON CAST(k.{key} AS VARCHAR) = ck.__kt"
        ),
    )
    .await?;
    mem(ctx, "o", os, ob)?;
    let dims = spec.dims.join(", ");
    let (gs, gb) = collect(
        ctx,
        &format!(
            "SELECT DISTINCT {dims}, {MONTH} FROM (SELECT {dims}, {MONTH} FROM n \
             UNION ALL SELECT {dims}, {MONTH} FROM o) u"
        ),
    )
    .await?;
    let groups = gb.iter().map(RecordBatch::num_rows).sum();
    let months = months_of(&gb)?;
    mem(ctx, "g", gs, gb)?;
    Ok(Some(Staged {
        changes,
        groups,
        months,
    }))
}

/// Keys table: upserts replace, deletes delete (one commit recording the position).
async fn merge_keys(
    ctx: &SessionContext,
    spec: &ReflectionSpec,
    keys: DeltaTable,
    p: CommitProperties,
) -> Result<DeltaTable> {
    let key = &spec.key;
    let source = ctx
        .sql(&format!(
            "SELECT *, false AS {DEL} FROM n UNION ALL SELECT o.*, true AS {DEL} FROM o \
             WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.{key} = o.{key})"
        ))
        .await?;
    let key_cols: Vec<String> = keys
        .snapshot()?
        .schema()
        .fields()
        .map(|f| f.name().clone())
        .collect();
    let before = keys.version();
    let mut keys = merge(
        ctx,
        keys,
        source,
        std::slice::from_ref(key),
        &key_cols,
        p.clone(),
    )
    .await?;
    if keys.version() == before {
        commit_position_only(&mut keys, p).await?;
    }
    Ok(keys)
}

/// Recomputes the touched groups from the keys table, pruned to their months, and merges
/// them into the aggregation (groups left without rows are deleted).
async fn merge_groups(
    ctx: &SessionContext,
    spec: &ReflectionSpec,
    agg: DeltaTable,
    keys: &DeltaTable,
    months: &BTreeSet<String>,
    p: CommitProperties,
) -> Result<DeltaTable> {
    register_delta(ctx, "k2", keys).await?;
    let on = |l: &str, r: &str| {
        spec.dims
            .iter()
            .chain(std::iter::once(&MONTH.to_owned()))
            .map(|d| format!("{l}.{d} = {r}.{d}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let month_list = months
        .iter()
        .map(|m| format!("'{}'", m.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let touched = format!(
        "(SELECT k2.* FROM k2 JOIN g ON {} WHERE k2.{MONTH} IN ({month_list}))",
        on("k2", "g")
    );
    let (rs, rb) = collect(ctx, &format!("{} ", agg_sql(spec, &format!("{touched} t")))).await?;
    mem(ctx, "r", rs, rb)?;
    let gcols: Vec<String> = spec
        .dims
        .iter()
        .chain(std::iter::once(&MONTH.to_owned()))
        .map(|d| format!("g.{d}"))
        .collect();
    let mut rcols = vec![format!("r.{ROWS}")];
    rcols.extend(measure_columns(spec).iter().map(|c| format!("r.{c}")));
    let source = ctx
        .sql(&format!(
            "SELECT {}, {}, r.{ROWS} IS NULL AS {DEL} FROM g LEFT JOIN r ON {}",
            gcols.join(", "),
            rcols.join(", "),
            on("g", "r")
        ))
        .await?;
    let agg_cols: Vec<String> = agg
        .snapshot()?
        .schema()
        .fields()
        .map(|f| f.name().clone())
        .collect();
    let mut on_cols = spec.dims.clone();
    on_cols.push(MONTH.to_owned());
    let before = agg.version();
    let mut agg = merge(ctx, agg, source, &on_cols, &agg_cols, p.clone()).await?;
    if agg.version() == before {
        commit_position_only(&mut agg, p).await?;
    }
    Ok(agg)
}

fn months_of(batches: &[RecordBatch]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for b in batches {
        let c = b
            .column_by_name(MONTH)
            .ok_or_else(|| Error::Spec("no _month column".into()))?;
        // A partition column may come back dictionary-encoded.
        let c = datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8)?;
        let c = c
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::Spec("_month is not a string column".into()))?;
        for i in 0..c.len() {
            if c.is_valid(i) {
                out.insert(c.value(i).to_owned());
            }
        }
    }
    Ok(out)
}

/// MERGE `source` (with a `__del` flag) into `table` on `on`: delete, update all `columns`, or
/// insert.
async fn merge(
    ctx: &SessionContext,
    table: DeltaTable,
    source: datafusion::dataframe::DataFrame,
    on: &[String],
    columns: &[String],
    props: CommitProperties,
) -> Result<DeltaTable> {
    let s = |c: &str| col(DfColumn::new(Some("s"), c));
    let t = |c: &str| col(DfColumn::new(Some("t"), c));
    let predicate = on
        .iter()
        .map(|c| t(c).eq(s(c)))
        .reduce(Expr::and)
        .ok_or_else(|| Error::Spec("merge without key".into()))?;
    let del = s(DEL).is_true();
    table.update_datafusion_session(&ctx.state())?;
    let (table, _metrics) = table
        .merge(source, predicate)
        .with_source_alias("s")
        .with_target_alias("t")
        .with_session_state(Arc::new(ctx.state()))
        .with_commit_properties(props)
        .when_matched_delete(|d| d.predicate(del.clone()))?
        .when_matched_update(|mut u| {
            u = u.predicate(del.clone().is_not_true());
            for c in columns {
                u = u.update(DfColumn::new_unqualified(c), s(c));
            }
            u
        })?
        .when_not_matched_insert(|mut i| {
            i = i.predicate(del.clone().is_not_true());
            for c in columns {
                i = i.set(DfColumn::new_unqualified(c), s(c));
            }
            i
        })?
        .await?;
    Ok(table)
}
