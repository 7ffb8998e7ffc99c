//! One captured table's lake writers, and the one way every source (the binlog loop, the Kafka
//! loop) applies a batch of its changes: bronze first (one MERGE commit guarded by position),
//! then the change history, each recording the batch's position and the caller's extra
//! application transactions (e.g. Kafka offsets) in the same commit. A change the table cannot
//! hold goes to the dead-letter table and the rest of the batch is applied; a commit that lost a
//! race with another writer, or met a transient object-store error, is retried.

use std::collections::HashMap;
use std::time::Duration;

use deltalake::kernel::Transaction;
use tracing::warn;

use super::{
    ApplyOutcome, BronzeTable, DeadLetter, DeadLetterTable, Error, HistoryTable, Lake, Layout,
    Result,
};
use crate::ingest::event::{ChangeEvent, Op, Position, SchemaChange, Undecodable};
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
    /// Bronze's applied position per application id, as read by [`Self::resume_from`]: events
    /// at or below it are replayed to a history that is behind (a crash between the commits).
    bronze_at: HashMap<String, Position>,
}

/// Where one table resumes (see [`TableSink::resume_from`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// Bronze's applied position (a snapshot position means a snapshot was under way).
    pub bronze: Option<Position>,
    /// The lower of bronze's and history's positions: the events above it are needed.
    pub from: Option<Position>,
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
            bronze_at: HashMap::new(),
        })
    }

    /// Reads the positions bronze and history have applied for `app_id`. Bronze commits
    /// first, so history can be behind it (a crash between the two commits): the events
    /// between them must be read again, for history only (bronze's position guards its own
    /// commit). A history without a position (a table older than its history) does not hold
    /// the resume back; neither does a history behind a bronze snapshot marker (the snapshot
    /// is redone). A history left at a snapshot position resumes the stream at that snapshot's
    /// binlog position (every streamed event ranks above the snapshot's rows).
    pub async fn resume_from(&mut self, app_id: &str) -> Result<Resume> {
        let bronze = self.bronze.applied(app_id).await?;
        let history = self.history.applied(app_id).await?;
        let from = match (&bronze, history) {
            (Some(b), Some(h)) if !b.snapshot && h < *b => {
                warn!(table = %self.schema.name, bronze = ?b, history = ?h,
                    "history is behind bronze (a crash between the commits): replaying it");
                Some(h)
            }
            _ => bronze.clone(),
        };
        match &bronze {
            Some(b) => self.bronze_at.insert(app_id.to_owned(), b.clone()),
            None => self.bronze_at.remove(app_id),
        };
        Ok(Resume { bronze, from })
    }

    /// Applies one table's (masked) events of a batch and records `up_to` (plus `extra`);
    /// `undecodable` are the table's changes of the batch the source could not decode.
    pub async fn apply(
        &mut self,
        mut events: Vec<ChangeEvent>,
        up_to: &Position,
        app_id: &str,
        extra: &[Transaction],
        dead: &mut DeadLetterTable,
        undecodable: Vec<Undecodable>,
    ) -> Result<SinkOutcome> {
        let mut dead_letters = 0;
        // Replaying to a history behind bronze: bronze will not see these events again, so
        // the misfits it set aside the first time are found (and set aside) here. Changes the
        // source could not decode go to the dead letters in the same commit, before bronze.
        let replaying = self
            .bronze_at
            .get(app_id)
            .is_some_and(|b| events.iter().any(|e| e.position <= *b));
        if replaying || !undecodable.is_empty() {
            let (good, mut letters) = self.split_poison(events);
            letters.extend(
                undecodable
                    .into_iter()
                    .map(|u| DeadLetter::new(&self.schema, u.event, u.reason)),
            );
            let dead_app = format!("{app_id}/{}", self.schema.name);
            dead_letters = retry!(dead.append(&letters, up_to, &dead_app))?;
            events = good;
        }
        let bronze = match retry!(self.bronze.apply_events_with(&events, up_to, app_id, extra)) {
            // A value the table cannot hold: set the misfits aside, apply the rest.
            Err(Error::Value { .. }) => {
                let (good, letters) = self.split_poison(events);
                dead_letters += letters.len();
                let dead_app = format!("{app_id}/{}", self.schema.name);
                retry!(dead.append(&letters, up_to, &dead_app))?;
                events = good;
                retry!(self.bronze.apply_events_with(&events, up_to, app_id, extra))?
            }
            other => other?,
        };
        if !up_to.snapshot && !bronze.replayed && bronze.effects > 0 {
            failpoint("after-bronze-commit");
        }
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

/// Test-only crash injection: with `FINLAKE_FAILPOINT=<name>` the process aborts at the named
/// point (`after-bronze-commit`: right after a streamed bronze commit that changed rows,
/// before its history commit). Compiled only for tests and the `test-support` feature.
#[cfg(any(test, feature = "test-support"))]
fn failpoint(name: &str) {
    if std::env::var("FINLAKE_FAILPOINT").is_ok_and(|v| v == name) {
        tracing::error!(failpoint = name, "failpoint reached: aborting");
        std::process::abort();
    }
}

#[cfg(not(any(test, feature = "test-support")))]
fn failpoint(_name: &str) {}
