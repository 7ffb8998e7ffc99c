//! One captured table's lake writers, and the one way every source (the binlog loop, the Kafka
//! loop) applies a batch of its changes: bronze first (one MERGE commit guarded by position),
//! then the change history, each recording the batch's position and the caller's extra
//! application transactions (e.g. Kafka offsets) in the same commit. A change the table cannot
//! hold goes to the dead-letter table and the rest of the batch is applied; a commit that lost a
//! race with another writer, or met a transient object-store error, is retried.

use std::time::Duration;

use deltalake::kernel::Transaction;
use tracing::warn;

use super::{
    ApplyOutcome, BronzeTable, DeadLetter, DeadLetterTable, Error, HistoryTable, Lake, Layout,
    Result,
};
use crate::ingest::event::{ChangeEvent, Op, Position, SchemaChange};
use crate::ingest::schema::TableSchema;

/// Awaits a lake operation, retrying when it lost a commit race or met a transient
/// object-store error (applies are idempotent: a retry re-reads the recorded position first).
macro_rules! retry {
    ($op:expr) => {{
        let mut delay = Duration::from_millis(50);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match $op.await {
                Err(e) if e.is_transient() && attempt < 10 => {
                    warn!(attempt, error = %e, "lake commit failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => break other,
            }
        }
    }};
}

/// What one [`TableSink::apply`] did.
#[derive(Debug, Clone, Default)]
pub struct SinkOutcome {
    pub bronze: ApplyOutcome,
    /// Events applied (after setting dead letters aside).
    pub applied: usize,
    pub dead_letters: usize,
}

/// The bronze and history tables of one source table.
#[derive(Debug)]
pub struct TableSink {
    pub schema: TableSchema,
    pub bronze: BronzeTable,
    pub history: HistoryTable,
    lake: Lake,
}

impl TableSink {
    pub async fn open(lake: &Lake, schema: TableSchema, layout: Layout) -> Result<Self> {
        let bronze = lake.open_table_with(&schema, layout).await?;
        let history = lake.open_history(&schema).await?;
        Ok(Self {
            schema,
            bronze,
            history,
            lake: lake.clone(),
        })
    }

    /// Applies one table's (masked) events of a batch and records `up_to` (plus `extra`).
    pub async fn apply(
        &mut self,
        mut events: Vec<ChangeEvent>,
        up_to: &Position,
        app_id: &str,
        extra: &[Transaction],
        dead: &mut DeadLetterTable,
    ) -> Result<SinkOutcome> {
        let mut dead_letters = 0;
        let bronze = match retry!(self.bronze.apply_events_with(&events, up_to, app_id, extra)) {
            // A value the table cannot hold: set the misfits aside, apply the rest.
            Err(Error::Value { .. }) => {
                let (good, letters) = self.split_poison(events);
                dead_letters = letters.len();
                let dead_app = format!("{app_id}/{}", self.schema.name);
                retry!(dead.append(&letters, up_to, &dead_app))?;
                events = good;
                retry!(self.bronze.apply_events_with(&events, up_to, app_id, extra))?
            }
            other => other?,
        };
        retry!(
            self.history
                .append_history_with(&events, up_to, app_id, extra)
        )?;
        self.lake.announce_commit();
        Ok(SinkOutcome {
            bronze,
            applied: events.len(),
            dead_letters,
        })
    }

    /// Follows a source `ADD COLUMN` (see [`BronzeTable::evolve`]).
    pub async fn evolve(&mut self, change: &SchemaChange, app_id: &str) -> Result<()> {
        retry!(self.bronze.evolve(change, app_id))?;
        retry!(self.history.evolve(&change.schema))?;
        self.schema = change.schema.clone();
        Ok(())
    }

    /// Splits events into those the bronze table can hold and dead letters.
    fn split_poison(&self, events: Vec<ChangeEvent>) -> (Vec<ChangeEvent>, Vec<DeadLetter>) {
        let mut good = Vec::with_capacity(events.len());
        let mut letters = Vec::new();
        for e in events {
            let check = match (e.op, &e.after) {
                // A delete needs only its key; the before image may hold values the lake rejects.
                (Op::Delete, _) => Ok(()),
                (_, Some(after)) => self.bronze.check_row(after),
                (op, None) => Err(Error::Schema(format!(
                    "{op:?} event without an after image"
                ))),
            };
            match check {
                Ok(()) => good.push(e),
                Err(why) => letters.push(DeadLetter::new(&self.schema, e, why.to_string())),
            }
        }
        (good, letters)
    }
}
