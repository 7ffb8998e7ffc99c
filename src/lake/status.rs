//! `<root>/bronze/_ingest_status`: what the loop reports about each table, appended every few
//! seconds (and when it stops), so `finlake status`, the Flight SQL server and dashboards can
//! read lag and throughput without talking to the loop.
//!
//! One row per table per report: `reported_at`, `app_id`, `source_table`, the applied position,
//! `events_total` (since the loop started), `events_per_sec` (over the report interval),
//! `lag_ms` (report time minus the source commit time of the newest applied change; null before
//! the first change), `dead_letters_total`. These rows are telemetry, not data: they are
//! appended without the exactly-once machinery, and `finlake maintain` compacts them.

use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::protocol::SaveMode;

use super::commit::{open_or_create, read_table};
use super::{Error, Lake, Result};

/// The table's name under `bronze/`.
pub const NAME: &str = "_ingest_status";

/// One table's figures in one report.
#[derive(Debug, Clone, PartialEq)]
pub struct TableStatus {
    pub reported_at_us: i64,
    pub app_id: String,
    pub table: String,
    pub applied_file: Option<String>,
    pub applied_pos: Option<i64>,
    pub events_total: i64,
    pub events_per_sec: f64,
    pub lag_ms: Option<i64>,
    pub dead_letters_total: i64,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "reported_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("app_id", DataType::Utf8, false),
        Field::new("source_table", DataType::Utf8, false),
        Field::new("applied_file", DataType::Utf8, true),
        Field::new("applied_pos", DataType::Int64, true),
        Field::new("events_total", DataType::Int64, false),
        Field::new("events_per_sec", DataType::Float64, false),
        Field::new("lag_ms", DataType::Int64, true),
        Field::new("dead_letters_total", DataType::Int64, false),
    ]))
}

/// The status table.
#[derive(Debug)]
pub struct StatusTable {
    table: DeltaTable,
    arrow: SchemaRef,
}

impl StatusTable {
    pub async fn open(lake: &Lake) -> Result<Self> {
        let arrow = schema();
        let table = open_or_create(lake, NAME, &arrow, &[]).await?;
        Ok(Self { table, arrow })
    }

    /// Appends one report (one row per table).
    pub async fn report(&mut self, rows: &[TableStatus]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let s = |f: &dyn Fn(&TableStatus) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.reported_at_us))
                    .with_timezone("UTC"),
            ),
            s(&|r| Some(r.app_id.clone())),
            s(&|r| Some(r.table.clone())),
            s(&|r| r.applied_file.clone()),
            Arc::new(rows.iter().map(|r| r.applied_pos).collect::<Int64Array>()),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.events_total),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.events_per_sec),
            )),
            Arc::new(rows.iter().map(|r| r.lag_ms).collect::<Int64Array>()),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.dead_letters_total),
            )),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&self.arrow), columns)?;
        self.table.update_incremental(None).await?;
        self.table = self
            .table
            .clone()
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .await?;
        Ok(())
    }

    /// The newest report of each (app id, table).
    pub async fn latest(&mut self) -> Result<Vec<TableStatus>> {
        self.table.update_incremental(None).await?;
        let batches = read_table(&self.table, &self.arrow).await?;
        let mut newest: std::collections::BTreeMap<(String, String), TableStatus> =
            std::collections::BTreeMap::new();
        for b in &batches {
            let ts = downcast::<TimestampMicrosecondArray>(b.column(0))?;
            let app = downcast::<StringArray>(b.column(1))?;
            let table = downcast::<StringArray>(b.column(2))?;
            let file = downcast::<StringArray>(b.column(3))?;
            let pos = downcast::<Int64Array>(b.column(4))?;
            let total = downcast::<Int64Array>(b.column(5))?;
            let rate = downcast::<Float64Array>(b.column(6))?;
            let lag = downcast::<Int64Array>(b.column(7))?;
            let dead = downcast::<Int64Array>(b.column(8))?;
            for i in 0..b.num_rows() {
                let row = TableStatus {
                    reported_at_us: ts.value(i),
                    app_id: app.value(i).to_string(),
                    table: table.value(i).to_string(),
                    applied_file: (!file.is_null(i)).then(|| file.value(i).to_string()),
                    applied_pos: (!pos.is_null(i)).then(|| pos.value(i)),
                    events_total: total.value(i),
                    events_per_sec: rate.value(i),
                    lag_ms: (!lag.is_null(i)).then(|| lag.value(i)),
                    dead_letters_total: dead.value(i),
                };
                let k = (row.app_id.clone(), row.table.clone());
                if newest
                    .get(&k)
                    .is_none_or(|old| old.reported_at_us <= row.reported_at_us)
                {
                    newest.insert(k, row);
                }
            }
        }
        Ok(newest.into_values().collect())
    }
}

fn downcast<T: 'static>(a: &ArrayRef) -> Result<&T> {
    a.as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| Error::Schema(format!("{NAME}: unexpected column type {}", a.data_type())))
}
