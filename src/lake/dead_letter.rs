//! `<root>/bronze/_dead_letters`: change events that could not be applied, with the reason.
//!
//! A poison event (a value that does not fit its lake column, such as MySQL's zero date in a
//! NOT NULL `DATETIME`) must neither stop the loop nor vanish: it is appended here, masked like
//! every other event, and the loop goes on. Columns: `source_table`, `_op`, `_key` (JSON array
//! of key texts), `reason`, `before_json` / `after_json` (the images as JSON, values in the
//! table's column order, keyed by column name), the position columns, `_commit_ts`, `_txid`,
//! `_ingested_at`. Appends are exactly once the same way as the history tables: one commit per
//! batch carrying the application transaction, events at or below the applied position dropped.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::protocol::SaveMode;
use tracing::{instrument, warn};

use super::commit::{
    applied_position, commit_position_only, commit_properties, open_or_create, read_table,
};
use super::types::{self, COMMIT_TS, INGESTED_AT, OP, POS, POS_FILE, POS_ROW};
use super::{Lake, Result};
use crate::ingest::event::{ChangeEvent, Op, Position, Row};
use crate::ingest::schema::TableSchema;

/// The table's name under `bronze/`.
pub const NAME: &str = "_dead_letters";

/// One event that could not be applied, and why.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub event: ChangeEvent,
    /// The event's key texts (from the before image for deletes).
    pub key: Vec<String>,
    /// The images as JSON objects (column name -> value).
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub reason: String,
}

impl DeadLetter {
    /// Describes `event` of `schema` rejected for `reason`.
    pub fn new(schema: &TableSchema, event: ChangeEvent, reason: String) -> Self {
        let image_json = |row: &Option<Row>| {
            row.as_ref().map(|r| {
                let obj: serde_json::Map<String, serde_json::Value> = schema
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| {
                        (
                            c.name.clone(),
                            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect();
                serde_json::Value::Object(obj).to_string()
            })
        };
        let image = match event.op {
            Op::Delete => event.before.as_ref(),
            _ => event.after.as_ref().or(event.before.as_ref()),
        };
        let key = image
            .map(|r| {
                schema
                    .key
                    .iter()
                    .map(|&i| r.get(i).map(|v| v.key_text()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            before_json: image_json(&event.before),
            after_json: image_json(&event.after),
            key,
            event,
            reason,
        }
    }
}

/// The dead-letter table.
#[derive(Debug)]
pub struct DeadLetterTable {
    table: DeltaTable,
    arrow: SchemaRef,
    applied: HashMap<String, Position>,
}

fn schema() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("source_table", DataType::Utf8, false),
        Field::new(OP, DataType::Utf8, false),
        Field::new("_key", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("before_json", DataType::Utf8, true),
        Field::new("after_json", DataType::Utf8, true),
        Field::new(POS_FILE, DataType::Utf8, false),
        Field::new(POS, DataType::Int64, false),
        Field::new(POS_ROW, DataType::Int32, false),
        Field::new(COMMIT_TS, utc(), true),
        Field::new("_txid", DataType::Utf8, true),
        Field::new(INGESTED_AT, utc(), false),
    ]))
}

impl DeadLetterTable {
    /// Opens `bronze/_dead_letters`, creating it when missing.
    pub async fn open(lake: &Lake) -> Result<Self> {
        let arrow = schema();
        let table = open_or_create(lake, NAME, &arrow, &[]).await?;
        Ok(Self {
            table,
            arrow,
            applied: HashMap::new(),
        })
    }

    /// The position recorded for `app_id`.
    pub async fn applied(&mut self, app_id: &str) -> Result<Option<Position>> {
        self.table.update_incremental(None).await?;
        applied_position(&self.table, &mut self.applied, app_id).await
    }

    /// Appends the letters newer than the applied position and records `up_to`, in one commit.
    /// An empty list writes nothing (the position is only needed where letters exist).
    #[instrument(skip_all, fields(letters = letters.len(), position = ?up_to))]
    pub async fn append(
        &mut self,
        letters: &[DeadLetter],
        up_to: &Position,
        app_id: &str,
    ) -> Result<usize> {
        if letters.is_empty() {
            return Ok(0);
        }
        let applied = self.applied(app_id).await?;
        if applied.as_ref().is_some_and(|a| a >= up_to) {
            return Ok(0);
        }
        let fresh: Vec<&DeadLetter> = letters
            .iter()
            .filter(|l| applied.as_ref().is_none_or(|a| &l.event.position > a))
            .collect();
        let props = commit_properties(app_id, up_to, types::encode_version(up_to)?)?;
        if fresh.is_empty() {
            commit_position_only(&mut self.table, props).await?;
        } else {
            for l in &fresh {
                warn!(
                    table = %l.event.table,
                    op = l.event.op.code(),
                    key = ?l.key,
                    position = ?l.event.position,
                    reason = %l.reason,
                    "dead letter"
                );
            }
            let batch = self.batch(&fresh)?;
            self.table = self
                .table
                .clone()
                .write(vec![batch])
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(props)
                .await?;
        }
        self.applied.insert(app_id.to_owned(), up_to.clone());
        Ok(fresh.len())
    }

    fn batch(&self, letters: &[&DeadLetter]) -> Result<RecordBatch> {
        let now = chrono::Utc::now().timestamp_micros();
        let strings = |f: &dyn Fn(&DeadLetter) -> Option<String>| -> ArrayRef {
            Arc::new(letters.iter().map(|l| f(l)).collect::<StringArray>())
        };
        let columns: Vec<ArrayRef> = vec![
            strings(&|l| Some(l.event.table.to_string())),
            strings(&|l| Some(l.event.op.code().to_string())),
            strings(&|l| serde_json::to_string(&l.key).ok()),
            strings(&|l| Some(l.reason.clone())),
            strings(&|l| l.before_json.clone()),
            strings(&|l| l.after_json.clone()),
            strings(&|l| Some(l.event.position.file.clone())),
            Arc::new(Int64Array::from(
                letters
                    .iter()
                    .map(|l| types::pos_offset(&l.event.position))
                    .collect::<Result<Vec<_>>>()?,
            )),
            Arc::new(Int32Array::from(
                letters
                    .iter()
                    .map(|l| types::pos_row(&l.event.position))
                    .collect::<Result<Vec<_>>>()?,
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    letters.iter().map(|l| l.event.commit_ms * 1000),
                )
                .with_timezone("UTC"),
            ),
            strings(&|l| l.event.txid.clone()),
            Arc::new(
                TimestampMicrosecondArray::from(vec![now; letters.len()]).with_timezone("UTC"),
            ),
        ];
        Ok(RecordBatch::try_new(Arc::clone(&self.arrow), columns)?)
    }

    /// Letters stored (current snapshot).
    pub async fn count(&mut self) -> Result<usize> {
        self.table.update_incremental(None).await?;
        let batches = read_table(&self.table, &self.arrow).await?;
        Ok(batches.iter().map(RecordBatch::num_rows).sum())
    }

    /// Letters per source table (current snapshot).
    pub async fn count_by_table(&mut self) -> Result<HashMap<String, usize>> {
        self.table.update_incremental(None).await?;
        let batches = read_table(&self.table, &self.arrow).await?;
        let mut out = HashMap::new();
        for b in &batches {
            let names = b
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| super::Error::Schema("source_table is not Utf8".into()))?;
            for i in 0..names.len() {
                *out.entry(names.value(i).to_string()).or_default() += 1;
            }
        }
        Ok(out)
    }
}
