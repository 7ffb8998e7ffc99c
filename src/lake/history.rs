//! `<root>/bronze/<table>__changes`: every change event, appended once.
//!
//! Columns: the after image (source columns, all nullable: deletes have none), `_op`
//! (`r`/`c`/`u`/`d`), `_key` (the primary key as a JSON array of key texts, from the before
//! image for deletes), `_pos_file`/`_pos`/`_pos_row` (as in bronze), `_commit_ts`, `_txid`,
//! `_ingested_at`. Idempotence is the same as bronze: one append commit per batch carrying
//! the application transaction and `finlake.position`; a batch not newer than the applied
//! position is a no-op, events at or below it are dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use deltalake::DeltaTable;
use deltalake::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::Transaction;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use tracing::instrument;

use super::bronze::{ApplyOutcome, add_missing_columns};
use super::commit::{
    Begun, applied_position, begin, commit_position_only, open_or_create, read_table, txn_version,
};
use super::types::{self, COMMIT_TS, INGESTED_AT, OP, POS, POS_FILE, POS_ROW};
use super::{Lake, Result};
use crate::ingest::event::{ChangeEvent, Position, Value};
use crate::ingest::schema::TableSchema;

pub const KEY: &str = "_key";
pub const TXID: &str = "_txid";

/// The append-only change history of one table.
#[derive(Debug)]
pub struct HistoryTable {
    schema: TableSchema,
    table: DeltaTable,
    arrow: SchemaRef,
    applied: HashMap<String, Position>,
}

fn history_schema(table: &TableSchema) -> Result<SchemaRef> {
    let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields: Vec<Field> = types::source_fields(table, true)?
        .into_iter()
        .map(|f| f.with_nullable(true))
        .collect();
    fields.extend([
        Field::new(OP, DataType::Utf8, false),
        Field::new(KEY, DataType::Utf8, false),
        Field::new(POS_FILE, DataType::Utf8, false),
        Field::new(POS, DataType::Int64, false),
        Field::new(POS_ROW, DataType::Int32, false),
        Field::new(COMMIT_TS, utc(), true),
        Field::new(TXID, DataType::Utf8, true),
        Field::new(INGESTED_AT, utc(), false),
    ]);
    Ok(Arc::new(Schema::new(fields)))
}

impl HistoryTable {
    pub(crate) async fn open(lake: &Lake, schema: &TableSchema) -> Result<Self> {
        let arrow = history_schema(schema)?;
        let mut table =
            open_or_create(lake, &format!("{}__changes", schema.name), &arrow, &[]).await?;
        add_missing_columns(&mut table, &arrow).await?;
        Ok(Self {
            schema: schema.clone(),
            table,
            arrow,
            applied: HashMap::new(),
        })
    }

    pub fn delta(&self) -> &DeltaTable {
        &self.table
    }

    /// Adopts a table's new shape after a source `ADD COLUMN` (the columns are added; history
    /// rows before the statement keep NULL there: they record what the changes carried).
    pub async fn evolve(&mut self, schema: &TableSchema) -> Result<()> {
        let arrow = history_schema(schema)?;
        add_missing_columns(&mut self.table, &arrow).await?;
        self.arrow = arrow;
        self.schema = schema.clone();
        Ok(())
    }

    pub async fn applied(&mut self, app_id: &str) -> Result<Option<Position>> {
        self.table.update_incremental(None).await?;
        applied_position(&self.table, &mut self.applied, app_id).await
    }

    /// Appends the events newer than the applied position and records `up_to`, in one commit.
    #[instrument(skip_all, fields(table = %self.schema.name, rows = events.len(), position = ?up_to))]
    pub async fn append_history(
        &mut self,
        events: &[ChangeEvent],
        up_to: &Position,
        app_id: &str,
    ) -> Result<ApplyOutcome> {
        self.append_history_with(events, up_to, app_id, &[]).await
    }

    /// The version of the application transaction `app_id` in the table's log, if any.
    pub async fn txn_version(&mut self, app_id: &str) -> Result<Option<i64>> {
        self.table.update_incremental(None).await?;
        txn_version(&self.table, app_id).await
    }

    /// [`Self::append_history`], also recording `extra` application transactions (e.g. a Kafka
    /// partition's next offset) in the same Delta commit.
    #[instrument(skip_all, fields(table = %self.schema.name, rows = events.len(), position = ?up_to))]
    pub async fn append_history_with(
        &mut self,
        events: &[ChangeEvent],
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
        let events: Vec<&ChangeEvent> = events
            .iter()
            .filter(|e| applied.as_ref().is_none_or(|a| &e.position > a))
            .collect();
        if events.is_empty() {
            commit_position_only(&mut self.table, props).await?;
        } else {
            let batch = self.batch(&events)?;
            self.table = self
                .table
                .clone()
                .write(vec![batch])
                .with_save_mode(SaveMode::Append)
                // A column dropped at the source (then re-snapshotted) stays in the history,
                // NULL from then on.
                .with_schema_mode(SchemaMode::Merge)
                .with_commit_properties(props)
                .await?;
        }
        self.applied.insert(app_id.to_owned(), up_to.clone());
        Ok(ApplyOutcome {
            version: self.table.version(),
            effects: events.len(),
            inserted: events.len(),
            elapsed: start.elapsed(),
            ..Default::default()
        })
    }

    fn batch(&self, events: &[&ChangeEvent]) -> Result<RecordBatch> {
        let t = &self.schema;
        let null_row = vec![Value::Null; t.columns.len()];
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.arrow.fields().len());
        for (i, column) in t.columns.iter().enumerate() {
            let values = events.iter().map(|e| {
                e.after
                    .as_ref()
                    .unwrap_or(&null_row)
                    .get(i)
                    .unwrap_or(&Value::Null)
            });
            arrays.push(types::column_array(&t.name, column, true, values)?);
        }
        let keys = events
            .iter()
            .map(|e| {
                let image = e
                    .after
                    .as_ref()
                    .or(e.before.as_ref())
                    .filter(|_| e.op != crate::ingest::event::Op::Delete);
                let image = image.or(e.before.as_ref()).unwrap_or(&null_row);
                let key: Vec<String> = t
                    .key
                    .iter()
                    .map(|&i| image.get(i).map(Value::key_text).unwrap_or_default())
                    .collect();
                serde_json::to_string(&key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = chrono::Utc::now().timestamp_micros();
        arrays.push(Arc::new(StringArray::from_iter_values(
            events.iter().map(|e| e.op.code()),
        )));
        arrays.push(Arc::new(StringArray::from(keys)));
        arrays.push(Arc::new(StringArray::from_iter_values(
            events.iter().map(|e| e.position.file.as_str()),
        )));
        arrays.push(Arc::new(Int64Array::from(
            events
                .iter()
                .map(|e| types::pos_offset(&e.position))
                .collect::<Result<Vec<_>>>()?,
        )));
        arrays.push(Arc::new(Int32Array::from(
            events
                .iter()
                .map(|e| types::pos_row(&e.position))
                .collect::<Result<Vec<_>>>()?,
        )));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| e.commit_ms * 1000))
                .with_timezone("UTC"),
        ));
        arrays.push(Arc::new(StringArray::from_iter(
            events.iter().map(|e| e.txid.as_deref()),
        )));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(vec![now; events.len()]).with_timezone("UTC"),
        ));
        Ok(RecordBatch::try_new(Arc::clone(&self.arrow), arrays)?)
    }

    pub async fn read_all(&self) -> Result<Vec<RecordBatch>> {
        read_table(&self.table, &self.arrow).await
    }
}
