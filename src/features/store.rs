//! The fraud features in the lake: `<lake>/features/fraud_alerts` (one row per alert) and
//! `<lake>/features/_state` (the engine's state as JSON with the position it reflects).
//!
//! [`FraudFeatures::on_commit`] is what the ingestion loop calls after each committed batch
//! with the batch's `transactions` and `cards` events. Exactly once: the alerts commit comes
//! first, carrying the Delta application transaction `finlake-features` at the batch's
//! position; then the state is overwritten with the same marker. After a crash between the
//! two, the restarted engine (state at the older position) re-scores the replayed events and
//! the alerts append skips every alert at or below the alerts table's position.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt as _;
use tracing::instrument;

use super::scoring::{Columns, FeatureEngine, Scored};
use crate::ingest::event::{ChangeEvent, Position};
use crate::ingest::schema::TableSchema;
use crate::lake::types::{encode_version, pos_offset, pos_row};
use crate::lake::{Lake, commit::commit_position_only};

/// Application id of the feature commits.
pub const APP_ID: &str = "finlake-features";
const META_POSITION: &str = "finlake.position";

/// Errors of the feature store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("datafusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("lake: {0}")]
    Lake(#[from] crate::lake::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn url(lake: &Lake, name: &str) -> Result<url::Url> {
    let mut base = lake.root().clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let u = base
        .join(&format!("features/{name}/"))
        .map_err(|e| Error::Other(e.to_string()))?;
    if u.scheme() == "file"
        && let Ok(p) = u.to_file_path()
    {
        std::fs::create_dir_all(&p).map_err(|e| Error::Other(format!("{u}: {e}")))?;
    }
    Ok(u)
}

async fn open(lake: &Lake, name: &str) -> Result<DeltaTable> {
    Ok(DeltaTable::try_from_url_with_storage_options(
        url(lake, name)?,
        lake.storage_options().clone(),
    )
    .await?)
}

/// The schema of `fraud_alerts`.
pub fn alerts_schema() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("card_id", DataType::Int64, false),
        Field::new("client_id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("amount", DataType::Decimal128(14, 2), false),
        Field::new("score", DataType::Int32, false),
        Field::new("reasons", DataType::Utf8, false),
        Field::new("features", DataType::Utf8, false),
        Field::new("_pos_file", DataType::Utf8, false),
        Field::new("_pos", DataType::Int64, false),
        Field::new("_pos_row", DataType::Int32, false),
        Field::new("_detected_at", utc(), false),
    ]))
}

fn props(position: &Position) -> Result<CommitProperties> {
    Ok(CommitProperties::default()
        .with_metadata([(META_POSITION.to_owned(), serde_json::to_value(position)?)])
        .with_application_transaction(Transaction::new(APP_ID, encode_version(position)?)))
}

/// The position the table's newest `finlake-features` commit recorded.
async fn recorded(table: &DeltaTable) -> Result<Option<Position>> {
    if table.version().is_none() {
        return Ok(None);
    }
    let infos: Vec<_> = table.history(Some(50)).try_collect().await?;
    for info in infos {
        if let Some(p) = info.info.get(META_POSITION) {
            return Ok(Some(serde_json::from_value(p.clone())?));
        }
    }
    Ok(None)
}

fn alerts_batch(alerts: &[&Scored]) -> Result<RecordBatch> {
    let now = chrono::Utc::now().timestamp_micros();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            alerts.iter().map(|a| a.transaction_id.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            alerts.iter().map(|a| a.card_id),
        )),
        Arc::new(Int64Array::from_iter_values(
            alerts.iter().map(|a| a.client_id),
        )),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            alerts.iter().map(|a| a.ts),
        )),
        Arc::new(
            Decimal128Array::from_iter_values(alerts.iter().map(|a| i128::from(a.amount_cents)))
                .with_precision_and_scale(14, 2)?,
        ),
        Arc::new(Int32Array::from_iter_values(
            alerts.iter().map(|a| a.score as i32),
        )),
        Arc::new(StringArray::from_iter_values(alerts.iter().map(|a| {
            a.reasons
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(",")
        }))),
        Arc::new(StringArray::from(
            alerts
                .iter()
                .map(|a| serde_json::to_string(&a.features))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Arc::new(StringArray::from_iter_values(
            alerts.iter().map(|a| a.position.file.as_str()),
        )),
        Arc::new(Int64Array::from(
            alerts
                .iter()
                .map(|a| pos_offset(&a.position))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Arc::new(Int32Array::from(
            alerts
                .iter()
                .map(|a| pos_row(&a.position))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Arc::new(TimestampMicrosecondArray::from(vec![now; alerts.len()]).with_timezone("UTC")),
    ];
    Ok(RecordBatch::try_new(alerts_schema(), cols)?)
}

/// The feature engine bound to the lake.
#[derive(Debug)]
pub struct FraudFeatures {
    engine: FeatureEngine,
    cols: Columns,
    alerts: DeltaTable,
    state: DeltaTable,
    /// The position of the stored state.
    stored: Option<Position>,
}

impl FraudFeatures {
    /// Opens the tables and restores the engine's state (empty when none is stored).
    pub async fn open(
        lake: &Lake,
        transactions: &TableSchema,
        cards: &TableSchema,
    ) -> Result<Self> {
        let cols = Columns::new(transactions, cards).ok_or_else(|| {
            Error::Other("transactions/cards lack a column the features read".into())
        })?;
        let mut alerts = open(lake, "fraud_alerts").await?;
        if alerts.version().is_none() {
            // An empty table from the start, so that every query over it works on a new lake
            // (no position recorded: the first scored batch records its own).
            alerts = alerts
                .write(vec![alerts_batch(&[])?])
                .with_save_mode(SaveMode::Append)
                .await?;
        }
        let state = open(lake, "_state").await?;
        let mut engine = FeatureEngine::default();
        if state.version().is_some() {
            let ctx = crate::lake::session()?;
            state.update_datafusion_session(&ctx.state())?;
            let batches = ctx
                .read_table(state.table_provider().await?)?
                .collect()
                .await?;
            for b in &batches {
                let c = b
                    .column_by_name("state")
                    .ok_or_else(|| Error::Other("_state has no state column".into()))?;
                let c = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
                let c = c
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| Error::Other("_state's state is not text".into()))?;
                if !c.is_empty() {
                    engine = serde_json::from_str(c.value(0))?;
                }
            }
        }
        Ok(Self {
            stored: engine.position.clone(),
            engine,
            cols,
            alerts,
            state,
        })
    }

    /// The position the engine's state reflects (where the loop's events resume).
    pub fn position(&self) -> Option<&Position> {
        self.engine.position.as_ref()
    }

    /// Forgets the state (a resnapshot rebuilds it from the snapshot's rows, which are the
    /// history). Stored alerts stay; the next checkpoint overwrites the stored state.
    pub fn reset(&mut self) {
        self.engine = FeatureEngine::default();
        self.stored = None;
    }

    /// Scores the batch's `transactions` and `cards` events (source order; other tables'
    /// events are ignored, replays skipped), appends the alerts and stores the state, both
    /// recording `up_to`. Returns every scored transaction of the batch.
    pub async fn on_commit(
        &mut self,
        events: &[ChangeEvent],
        up_to: &Position,
    ) -> Result<Vec<Scored>> {
        let scored = self.score(events, up_to).await?;
        self.checkpoint().await?;
        Ok(scored)
    }

    /// [`on_commit`](Self::on_commit) without storing the state: the alerts record `up_to`,
    /// the stored state stays at its last [`checkpoint`](Self::checkpoint). After a restart
    /// the loop resumes from that state's position and the replayed events rebuild the same
    /// state, giving no alert twice (alerts up to the alerts' position are skipped). The
    /// loop checkpoints every few seconds rather than on every micro-batch.
    #[instrument(skip_all, fields(events = events.len(), position = ?up_to))]
    pub async fn score(&mut self, events: &[ChangeEvent], up_to: &Position) -> Result<Vec<Scored>> {
        let scored = self.engine.process(&self.cols, events);
        self.engine.expire();
        if self.engine.position.as_ref().is_none_or(|p| p < up_to) {
            self.engine.position = Some(up_to.clone());
        }
        let alerts_at = recorded(&self.alerts).await?;
        if alerts_at.as_ref().is_none_or(|a| a < up_to) {
            let new: Vec<&Scored> = scored
                .iter()
                .filter(|s| s.is_alert() && alerts_at.as_ref().is_none_or(|a| &s.position > a))
                .collect();
            let p = props(up_to)?;
            if new.is_empty() && self.alerts.version().is_some() {
                commit_position_only(&mut self.alerts, p).await?;
            } else {
                self.alerts = self
                    .alerts
                    .clone()
                    .write(vec![alerts_batch(&new)?])
                    .with_save_mode(SaveMode::Append)
                    .with_commit_properties(p)
                    .await?;
            }
        }
        Ok(scored)
    }

    /// Stores the engine's state (with its position) in `features/_state`.
    #[instrument(skip_all, fields(position = ?self.engine.position))]
    pub async fn checkpoint(&mut self) -> Result<()> {
        let Some(up_to) = self.engine.position.clone() else {
            return Ok(());
        };
        if self.stored.as_ref() == Some(&up_to) {
            return Ok(());
        }
        let json = serde_json::to_string(&self.engine)?;
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "state",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(StringArray::from(vec![json]))],
        )?;
        self.state = self
            .state
            .clone()
            .write(vec![batch])
            .with_save_mode(SaveMode::Overwrite)
            .with_commit_properties(props(&up_to)?)
            .await?;
        self.stored = Some(up_to);
        Ok(())
    }
}
