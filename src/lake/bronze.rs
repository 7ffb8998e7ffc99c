//! `<root>/bronze/<table>`: a Delta table kept equal to its source table, exactly once.
//!
//! Each [`BronzeTable::apply`] is ONE Delta commit: a MERGE of the batch's net effects (target
//! `t`, source `s`, on the key columns and `_part`) whose matched clauses only fire when the
//! incoming `(_pos_file, _pos, _pos_row)` is newer than the row's, plus the application
//! transaction `(app_id, encode(up_to))` and commit metadata `finlake.position` /
//! `finlake.app_id`. A batch whose `up_to` is not newer than [`BronzeTable::applied`] is a
//! no-op; effects at or below the applied position are dropped before the merge (they are
//! already in the table, so a late older event cannot resurrect a deleted key).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::common::{Column as DfColumn, ScalarValue};
use deltalake::datafusion::logical_expr::{Expr, col, lit, when};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::StructType;
use deltalake::kernel::Transaction;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use tracing::instrument;

use super::commit::{
    Begun, applied_position, begin, commit_position_only, commit_properties, open_or_create,
    read_table, txn_version,
};
use super::types::{self, OP, PART, POS, POS_FILE, POS_ROW};
use super::{Error, Lake, Layout, Result, session};
use crate::ingest::event::{ChangeEvent, Key, Position, Row, SchemaChange, Value};
use crate::ingest::reduce::{Effect, Effects, reduce};
use crate::ingest::schema::TableSchema;

/// Adds the fields of `wanted` that `table` lacks (nullable, as Delta requires).
pub(crate) async fn add_missing_columns(table: &mut DeltaTable, wanted: &SchemaRef) -> Result<()> {
    let have = table.snapshot()?.snapshot().arrow_schema();
    let missing: Vec<Field> = wanted
        .fields()
        .iter()
        .filter(|f| have.field_with_name(f.name()).is_err())
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(columns = ?missing.iter().map(|f| f.name()).collect::<Vec<_>>(), "adding columns");
    let kernel: StructType = (&Schema::new(missing)).try_into_kernel()?;
    *table = table
        .clone()
        .add_columns()
        .with_fields(kernel.fields().cloned().collect::<Vec<_>>())
        .await?;
    Ok(())
}

/// `wanted` with the nullability the Delta table has (added columns are nullable there).
pub(crate) fn lake_arrow(table: &DeltaTable, wanted: SchemaRef) -> Result<SchemaRef> {
    let have = table.snapshot()?.snapshot().arrow_schema();
    let fields: Vec<Field> = wanted
        .fields()
        .iter()
        .map(|f| {
            let nullable = have
                .field_with_name(f.name())
                .map_or(f.is_nullable(), |h| h.is_nullable() || f.is_nullable());
            f.as_ref().clone().with_nullable(nullable)
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// Source-only column of a merge source: the effect is a delete.
const DELETE: &str = "__finlake_delete";

/// What one [`BronzeTable::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// `up_to` was not newer than the applied position: nothing was written.
    pub replayed: bool,
    /// The Delta version committed, if any.
    pub version: Option<u64>,
    /// Effects merged (after dropping those already applied).
    pub effects: usize,
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
    pub files_scanned: usize,
    pub files_skipped: usize,
    pub files_added: usize,
    pub files_removed: usize,
    pub elapsed: Duration,
}

impl ApplyOutcome {
    /// `up_to` was not newer than the applied position: nothing written.
    pub(crate) fn replayed(start: Instant) -> Self {
        ApplyOutcome {
            replayed: true,
            elapsed: start.elapsed(),
            ..Default::default()
        }
    }
}

/// One bronze Delta table.
#[derive(Debug)]
pub struct BronzeTable {
    name: String,
    schema: TableSchema,
    table: DeltaTable,
    arrow: SchemaRef,
    partition_rows: Option<i64>,
    /// Last position committed by this process, per app id (checked against the log's txn).
    applied: HashMap<String, Position>,
}

impl BronzeTable {
    pub(crate) async fn open(lake: &Lake, schema: &TableSchema, layout: Layout) -> Result<Self> {
        if schema.key.is_empty() {
            return Err(Error::Schema(format!(
                "table {} has no primary key",
                schema.name
            )));
        }
        let first_key = &schema.columns[schema.key[0]];
        if layout.partition_rows.is_some() && !types::partitionable(&first_key.source_type) {
            return Err(Error::Schema(format!(
                "table {}: cannot partition by key column {} of type {:?}",
                schema.name, first_key.name, first_key.source_type
            )));
        }
        let wanted = types::bronze_schema(schema, layout.partition_rows.is_some())?;
        let part_cols: &[&str] = if layout.partition_rows.is_some() {
            &[PART]
        } else {
            &[]
        };
        let mut table = open_or_create(lake, &schema.name, &wanted, part_cols).await?;
        add_missing_columns(&mut table, &wanted).await?;
        let partitioned = table
            .snapshot()?
            .metadata()
            .partition_columns()
            .iter()
            .any(|c| c == PART);
        // An existing table keeps its layout; `partition_rows` must then be given again.
        let partition_rows = match (partitioned, layout.partition_rows) {
            (true, Some(n)) => Some(n.max(1)),
            (true, None) => {
                return Err(Error::Schema(format!(
                    "table {} is partitioned: open it with its Layout",
                    schema.name
                )));
            }
            (false, _) => None,
        };
        let arrow = lake_arrow(&table, types::bronze_schema(schema, partitioned)?)?;
        Ok(Self {
            name: schema.name.clone(),
            schema: schema.clone(),
            table,
            arrow,
            partition_rows,
            applied: HashMap::new(),
        })
    }

    /// Follows a source `ADD COLUMN`: adds the columns the table lacks, then sets the added
    /// columns of every row last changed before the statement to the value the source gave
    /// existing rows (the column default), recording the statement's position, in one commit.
    /// Idempotent: a replay at or below the applied position only adopts the new shape.
    #[instrument(skip_all, fields(table = %self.name, statement = %change.statement))]
    pub async fn evolve(&mut self, change: &SchemaChange, app_id: &str) -> Result<()> {
        let partitioned = self.partition_rows.is_some();
        let wanted = types::bronze_schema(&change.schema, partitioned)?;
        add_missing_columns(&mut self.table, &wanted).await?;
        self.arrow = lake_arrow(&self.table, wanted)?;
        self.schema = change.schema.clone();
        let applied = self.applied(app_id).await?;
        let at = &change.position;
        if applied.as_ref().is_some_and(|a| a >= at) {
            return Ok(());
        }
        let props = commit_properties(app_id, at, types::encode_version(at)?)?;
        let before = self.table.version();
        let fills: Vec<(String, Expr)> = change
            .added
            .iter()
            .filter(|(_, v)| *v != Value::Null)
            .map(|(name, v)| Ok((name.clone(), lit(self.scalar(name, v)?))))
            .collect::<Result<_>>()?;
        if !fills.is_empty() {
            // Rows whose position is below the statement's existed when it ran.
            let (f, p, r) = (
                lit(at.file.clone()),
                lit(types::pos_offset(at)?),
                lit(types::pos_row(at)?),
            );
            let older = col(POS_FILE).lt(f.clone()).or(col(POS_FILE).eq(f).and(
                col(POS)
                    .lt(p.clone())
                    .or(col(POS).eq(p).and(col(POS_ROW).lt(r))),
            ));
            let ctx = session()?;
            self.table.update_datafusion_session(&ctx.state())?;
            let mut update = self
                .table
                .clone()
                .update()
                .with_predicate(older)
                .with_session_state(Arc::new(ctx.state()))
                .with_commit_properties(props.clone());
            for (name, value) in fills {
                update = update.with_update(name.as_str(), value);
            }
            let (table, _) = update.await?;
            self.table = table;
        }
        if self.table.version() == before {
            commit_position_only(&mut self.table, props).await?;
        }
        self.applied.insert(app_id.to_owned(), at.clone());
        Ok(())
    }

    /// `v` as a literal of column `name`'s lake type.
    fn scalar(&self, name: &str, v: &Value) -> Result<ScalarValue> {
        let i = self
            .schema
            .column_index(name)
            .ok_or_else(|| Error::Schema(format!("no column {name}")))?;
        let column = &self.schema.columns[i];
        let array = types::column_array(&self.name, column, true, std::iter::once(v))?;
        Ok(ScalarValue::try_from_array(&array, 0)?)
    }

    /// Deletes every row in one commit that records `at` (a snapshot position) as applied for
    /// `app_id`: a crash right after it restarts with a new snapshot instead of resuming the
    /// stream into an emptied table.
    #[instrument(skip_all, fields(table = %self.name, position = ?at))]
    pub async fn truncate(&mut self, at: &Position, app_id: &str) -> Result<()> {
        let version = super::position::encode_version(at)?;
        let before = self.table.version();
        let (table, _) = self
            .table
            .clone()
            .delete()
            .with_commit_properties(commit_properties(app_id, at, version)?)
            .await?;
        self.table = table;
        if self.table.version() == before {
            // Nothing to delete made no commit: record the position on its own.
            commit_position_only(&mut self.table, commit_properties(app_id, at, version)?).await?;
        }
        self.applied.insert(app_id.to_string(), at.clone());
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn delta(&self) -> &DeltaTable {
        &self.table
    }

    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow
    }

    /// The position committed for `app_id` (from the txn version and the commit metadata), so a
    /// restart resumes there.
    pub async fn applied(&mut self, app_id: &str) -> Result<Option<Position>> {
        self.table.update_incremental(None).await?;
        applied_position(&self.table, &mut self.applied, app_id).await
    }

    /// Applies a batch's net effects and records `up_to`, in one Delta commit. `_commit_ts` is
    /// null (effects carry no commit time); see [`Self::apply_events`].
    #[instrument(skip_all, fields(table = %self.name, rows = effects.len(), position = ?up_to))]
    pub async fn apply(
        &mut self,
        effects: Effects,
        up_to: &Position,
        app_id: &str,
    ) -> Result<ApplyOutcome> {
        self.apply_with_times(effects, &HashMap::new(), up_to, app_id, &[])
            .await
    }

    /// Reduces events with [`reduce`] and applies them, keeping each winning event's commit time.
    #[instrument(skip_all, fields(table = %self.name, rows = events.len(), position = ?up_to))]
    pub async fn apply_events(
        &mut self,
        events: &[ChangeEvent],
        up_to: &Position,
        app_id: &str,
    ) -> Result<ApplyOutcome> {
        self.apply_events_with(events, up_to, app_id, &[]).await
    }

    /// [`Self::apply_events`], also recording `extra` application transactions (e.g. a Kafka
    /// partition's next offset) in the same Delta commit.
    #[instrument(skip_all, fields(table = %self.name, rows = events.len(), position = ?up_to))]
    pub async fn apply_events_with(
        &mut self,
        events: &[ChangeEvent],
        up_to: &Position,
        app_id: &str,
        extra: &[Transaction],
    ) -> Result<ApplyOutcome> {
        let effects = reduce(events, &self.schema.key);
        let times = events
            .iter()
            .map(|e| (e.position.clone(), e.commit_ms))
            .collect();
        self.apply_with_times(effects, &times, up_to, app_id, extra)
            .await
    }

    /// The version of the application transaction `app_id` in the table's log, if any.
    pub async fn txn_version(&mut self, app_id: &str) -> Result<Option<i64>> {
        self.table.update_incremental(None).await?;
        txn_version(&self.table, app_id).await
    }

    async fn apply_with_times(
        &mut self,
        effects: Effects,
        commit_ms: &HashMap<Position, i64>,
        up_to: &Position,
        app_id: &str,
        extra: &[Transaction],
    ) -> Result<ApplyOutcome> {
        let start = Instant::now();
        let Some(Begun { applied, props }) =
            begin(&mut self.table, &mut self.applied, up_to, app_id, extra).await?
        else {
            return Ok(ApplyOutcome::replayed(start));
        };
        let mut effects: Vec<(Key, Effect)> = effects
            .into_iter()
            .filter(|(_, e)| applied.as_ref().is_none_or(|a| e.position() > a))
            .collect();
        effects.sort_by(|(_, a), (_, b)| a.position().cmp(b.position()));
        let mut outcome = ApplyOutcome {
            effects: effects.len(),
            ..Default::default()
        };
        let before = self.table.version();
        if !effects.is_empty() {
            let batch = self.source_batch(&effects, commit_ms)?;
            let ctx = session()?;
            self.table.update_datafusion_session(&ctx.state())?;
            let (table, metrics) = self.merge(&ctx, batch, props.clone())?.await?;
            self.table = table;
            outcome.inserted = metrics.num_target_rows_inserted;
            outcome.updated = metrics.num_target_rows_updated;
            outcome.deleted = metrics.num_target_rows_deleted;
            outcome.files_scanned = metrics.num_target_files_scanned;
            outcome.files_skipped = metrics.num_target_files_skipped_during_scan;
            outcome.files_added = metrics.num_target_files_added;
            outcome.files_removed = metrics.num_target_files_removed;
        }
        if self.table.version() == before {
            // Nothing changed (idle table, or every effect was stale): record the position alone.
            commit_position_only(&mut self.table, props).await?;
        }
        self.applied.insert(app_id.to_owned(), up_to.clone());
        outcome.version = self.table.version();
        outcome.elapsed = start.elapsed();
        tracing::debug!(?outcome, "applied");
        Ok(outcome)
    }

    fn merge(
        &self,
        ctx: &SessionContext,
        batch: RecordBatch,
        props: CommitProperties,
    ) -> Result<deltalake::operations::merge::MergeBuilder> {
        let s = |c: &str| col(DfColumn::new(Some("s"), c));
        let t = |c: &str| col(DfColumn::new(Some("t"), c));
        let mut on: Vec<Expr> = self
            .schema
            .key
            .iter()
            .map(|&i| &self.schema.columns[i].name)
            .map(|c| t(c).eq(s(c)))
            .collect();
        if self.partition_rows.is_some() {
            on.push(t(PART).eq(s(PART)));
        }
        let on = on
            .into_iter()
            .reduce(Expr::and)
            .ok_or_else(|| Error::Schema("no key".into()))?;
        let newer = s(POS_FILE)
            .gt(t(POS_FILE))
            .or(s(POS_FILE).eq(t(POS_FILE)).and(
                s(POS)
                    .gt(t(POS))
                    .or(s(POS).eq(t(POS)).and(s(POS_ROW).gt(t(POS_ROW)))),
            ));
        let is_delete = s(DELETE).is_true();
        let op =
            |fresh: &str| when(s(POS_ROW).lt(lit(0i32)), lit("r")).otherwise(lit(fresh.to_owned()));
        let (op_update, op_insert) = (op("u")?, op("c")?);
        let columns: Vec<String> = self
            .arrow
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let source = ctx.read_batch(batch)?;
        let builder = self
            .table
            .clone()
            .merge(source, on)
            .with_source_alias("s")
            .with_target_alias("t")
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(props)
            .when_matched_delete(|d| d.predicate(is_delete.clone().and(newer.clone())))?
            .when_matched_update(|mut u| {
                u = u.predicate(is_delete.clone().is_not_true().and(newer.clone()));
                for c in &columns {
                    let value = if c == OP { op_update.clone() } else { s(c) };
                    u = u.update(DfColumn::new_unqualified(c), value);
                }
                u
            })?
            .when_not_matched_insert(|mut i| {
                i = i.predicate(is_delete.clone().is_not_true());
                for c in &columns {
                    let value = if c == OP { op_insert.clone() } else { s(c) };
                    i = i.set(DfColumn::new_unqualified(c), value);
                }
                i
            })?;
        Ok(builder)
    }

    /// The merge source: the table's columns (non-key source columns nullable, for deletes)
    /// plus the delete flag.
    fn source_batch(
        &self,
        effects: &[(Key, Effect)],
        commit_ms: &HashMap<Position, i64>,
    ) -> Result<RecordBatch> {
        let table = &self.schema;
        let width = table.columns.len();
        let mut rows: Vec<Row> = Vec::with_capacity(effects.len());
        let mut deletes = Vec::with_capacity(effects.len());
        for (key, e) in effects {
            match e {
                Effect::Upsert { row, .. } => {
                    if row.len() != width {
                        return Err(Error::Schema(format!(
                            "table {}: row has {} values, table has {width} columns",
                            table.name,
                            row.len()
                        )));
                    }
                    // The merge source is nullable (deletes carry only keys): NOT NULL is
                    // checked here, so a misfit is a Value error the loop can set aside.
                    for (i, (column, v)) in table.columns.iter().zip(row).enumerate() {
                        if *v == Value::Null && !types::lake_nullable(table, i) {
                            return Err(Error::Value {
                                table: table.name.clone(),
                                column: column.name.clone(),
                                value: "NULL".into(),
                                reason: "NULL (or a zero date) in a NOT NULL column".into(),
                            });
                        }
                    }
                    rows.push(row.clone());
                    deletes.push(false);
                }
                Effect::Delete { .. } => {
                    // Deletes carry only the key, as text: parse it back into the column types.
                    let mut row = vec![Value::Null; width];
                    if key.len() != table.key.len() {
                        return Err(Error::Schema(format!(
                            "table {}: key {key:?} has the wrong arity",
                            table.name
                        )));
                    }
                    for (&i, text) in table.key.iter().zip(key) {
                        let column = &table.columns[i];
                        row[i] = types::key_value(column, text).ok_or_else(|| Error::Value {
                            table: table.name.clone(),
                            column: column.name.clone(),
                            value: text.clone(),
                            reason: "key text does not parse as the column type".into(),
                        })?;
                    }
                    rows.push(row);
                    deletes.push(true);
                }
            }
        }
        let mut fields = types::source_fields(table, true)?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(fields.len() + 8);
        for (i, (column, field)) in table.columns.iter().zip(&fields).enumerate() {
            arrays.push(types::column_array(
                &table.name,
                column,
                field.is_nullable(),
                rows.iter().map(|r| &r[i]),
            )?);
        }
        let positions: Vec<&Position> = effects.iter().map(|(_, e)| e.position()).collect();
        let now = chrono::Utc::now().timestamp_micros();
        fields.extend(types::metadata_fields());
        arrays.push(Arc::new(StringArray::from_iter_values(
            positions.iter().map(|p| p.file.as_str()),
        )));
        arrays.push(Arc::new(Int64Array::from(
            positions
                .iter()
                .map(|p| types::pos_offset(p))
                .collect::<Result<Vec<_>>>()?,
        )));
        arrays.push(Arc::new(Int32Array::from(
            positions
                .iter()
                .map(|p| types::pos_row(p))
                .collect::<Result<Vec<_>>>()?,
        )));
        arrays.push(Arc::new(StringArray::from_iter_values(
            positions.iter().map(|p| if p.snapshot { "r" } else { "u" }),
        )));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(
                positions
                    .iter()
                    .map(|p| commit_ms.get(*p).map(|ms| ms * 1000))
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(vec![now; effects.len()]).with_timezone("UTC"),
        ));
        if let Some(n) = self.partition_rows {
            let k = table.key[0];
            let parts = rows
                .iter()
                .map(|r| {
                    types::part_of(&r[k], n).ok_or_else(|| Error::Value {
                        table: table.name.clone(),
                        column: table.columns[k].name.clone(),
                        value: format!("{:?}", r[k]),
                        reason: "cannot compute _part".into(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            fields.push(Field::new(PART, DataType::Int64, false));
            arrays.push(Arc::new(Int64Array::from(parts)));
        }
        fields.push(Field::new(DELETE, DataType::Boolean, false));
        arrays.push(Arc::new(BooleanArray::from(deletes)));
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// Whether a row image fits this table (see [`types::check_row`]): callers route misfits
    /// to a dead-letter table before [`Self::apply`], which fails the batch on the first one.
    pub fn check_row(&self, row: &Row) -> Result<()> {
        types::check_row(&self.schema, row)
    }

    /// Every row of the table (current snapshot), in the table's schema.
    pub async fn read_all(&self) -> Result<Vec<RecordBatch>> {
        read_table(&self.table, &self.arrow).await
    }

    /// Rows in the table (current snapshot).
    pub async fn row_count(&self) -> Result<usize> {
        let ctx = session()?;
        self.table.update_datafusion_session(&ctx.state())?;
        let provider = self.table.table_provider().await?;
        Ok(ctx.read_table(provider)?.count().await?)
    }

    /// Reloads the table's state from the log.
    pub async fn refresh(&mut self) -> Result<()> {
        self.table.update_incremental(None).await?;
        Ok(())
    }
}
