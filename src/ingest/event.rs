//! The change-event model every source produces (binlog now, Debezium over Kafka later),
//! shaped like Debezium's envelope: op, before/after images, source position, commit time,
//! transaction id.

use std::cmp::Ordering;
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Debezium's operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// `r`: a row read by a snapshot.
    Read,
    /// `c`: insert.
    Create,
    /// `u`: update (possibly of the primary key).
    Update,
    /// `d`: delete.
    Delete,
}

impl Op {
    pub const fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "r" => Some(Op::Read),
            "c" => Some(Op::Create),
            "u" => Some(Op::Update),
            "d" => Some(Op::Delete),
            _ => None,
        }
    }
}

/// Where a change sits in the source's history; totally ordered.
///
/// Binlog file names are zero-padded (`mysql-bin.000042`), so they order lexically. A
/// snapshot taken at `(file, pos)` yields rows at that position with `snapshot = true`,
/// which sort before the first streamed event read from the same position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    pub file: String,
    /// Start offset of the event in the binlog file.
    pub pos: u64,
    /// Snapshot rows come before streamed events at the same offset.
    pub snapshot: bool,
    /// Index of the row within its event.
    pub row: u32,
}

impl Position {
    pub fn new(file: impl Into<String>, pos: u64, row: u32) -> Self {
        Self {
            file: file.into(),
            pos,
            snapshot: false,
            row,
        }
    }

    pub fn snapshot(file: impl Into<String>, pos: u64, row: u32) -> Self {
        Self {
            file: file.into(),
            pos,
            snapshot: true,
            row,
        }
    }
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        self.file
            .cmp(&other.file)
            .then(self.pos.cmp(&other.pos))
            // false (streamed) > true (snapshot)
            .then(other.snapshot.cmp(&self.snapshot))
            .then(self.row.cmp(&other.row))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A source value with its exact meaning kept: decimals as unscaled integers, wall-clock
/// date-times without a zone, unsigned 64-bit integers unclipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `unscaled * 10^-scale`, exact.
    Decimal {
        unscaled: i128,
        scale: u8,
    },
    Text(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00:00 of the wall clock (no zone).
    DateTime(i64),
    Year(u16),
}

impl Value {
    /// A stable text form, for keys and checksums.
    pub fn key_text(&self) -> String {
        match self {
            Value::Null => "\\N".into(),
            Value::Int(v) => v.to_string(),
            Value::UInt(v) => v.to_string(),
            Value::Float(v) => v.to_string(),
            Value::Decimal { unscaled, scale } => decimal_text(*unscaled, *scale),
            Value::Text(s) => s.clone(),
            Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(t) => t.to_string(),
            Value::Year(y) => y.to_string(),
        }
    }
}

/// `-7700, 2` is `-77.00`.
pub fn decimal_text(unscaled: i128, scale: u8) -> String {
    let sign = if unscaled < 0 { "-" } else { "" };
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{frac}")
}

/// One row image, values in the table's column order.
pub type Row = Vec<Value>;

/// The primary key of a row, as text values in key-column order.
pub type Key = Vec<String>;

/// One change to one row.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub table: Arc<str>,
    pub op: Op,
    pub before: Option<Row>,
    pub after: Option<Row>,
    pub position: Position,
    /// Source commit time, milliseconds since the epoch.
    pub commit_ms: i64,
    /// Source transaction id (GTID or binlog XID) when known.
    pub txid: Option<String>,
}

/// A source change that could not be decoded: the event without its images (`before` and
/// `after` are `None`), and why. It goes to the dead letters; the reason names the column and
/// the kind of value, never the value (it has not been masked).
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    pub event: ChangeEvent,
    pub reason: String,
}

/// A captured table's new shape after a schema statement (only additive changes are
/// delivered; others stop the source with an error).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChange {
    /// The table's shape from now on.
    pub schema: crate::ingest::schema::TableSchema,
    /// Columns this statement added, with the value existing rows took (the column default).
    pub added: Vec<(String, Value)>,
    pub statement: String,
    /// The position right after the statement.
    pub position: Position,
}

/// A batch read from a source: events in source order, and where to resume after them.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub events: Vec<ChangeEvent>,
    /// The position after the last complete source transaction in `events`.
    pub resume: Option<Position>,
    /// Schema statements at the end of the batch (after its events).
    pub schema_changes: Vec<SchemaChange>,
    /// Changes of the batch's transactions that could not be decoded (for the dead letters).
    pub undecodable: Vec<Undecodable>,
}

/// A change source (the MySQL binlog, Debezium topics). Implementations deliver whole source
/// transactions in order and can restart from any position they returned as `resume`.
pub trait ChangeSource: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Waits up to `max_wait` for events and returns at most about `max_events` of them.
    fn next_batch(
        &mut self,
        max_events: usize,
        max_wait: std::time::Duration,
    ) -> impl Future<Output = Result<Batch, Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_files_offsets_snapshot_then_rows() {
        let snap = Position::snapshot("mysql-bin.000002", 400, 9_999);
        let first_streamed = Position::new("mysql-bin.000002", 400, 0);
        assert!(
            snap < first_streamed,
            "snapshot rows precede the stream at the same offset"
        );
        assert!(
            Position::new("mysql-bin.000001", 9_000, 5) < Position::new("mysql-bin.000002", 4, 0)
        );
        assert!(Position::new("mysql-bin.000002", 4, 7) < Position::new("mysql-bin.000002", 5, 0));
        assert!(Position::new("mysql-bin.000002", 4, 1) < Position::new("mysql-bin.000002", 4, 2));
    }

    #[test]
    fn op_codes_round_trip() {
        for op in [Op::Read, Op::Create, Op::Update, Op::Delete] {
            assert_eq!(Op::from_code(op.code()), Some(op));
        }
        assert_eq!(Op::from_code("t"), None);
    }

    #[test]
    fn decimals_print_exactly() {
        assert_eq!(decimal_text(-7700, 2), "-77.00");
        assert_eq!(decimal_text(5, 2), "0.05");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(123, 0), "123");
        assert_eq!(decimal_text(i128::MAX, 2).len(), 40);
    }
}
