//! Debezium's JSON change events (MySQL and MariaDB connectors, Kafka Connect's
//! `JsonConverter`, with or without the schema envelope) decoded into [`ChangeEvent`]s with the
//! same [`Value`]s the binlog source produces for the same row.
//!
//! The connector settings this expects are those of `infra/connect/finance-mysql-connector.json`:
//! `decimal.handling.mode=string` (exact decimal text), `time.precision.mode=
//! adaptive_time_microseconds` (DATETIME(0..3) as epoch milliseconds and DATETIME(4..6) as
//! epoch microseconds of the wall clock read as UTC; DATE as epoch days; TIME as microseconds),
//! `bigint.unsigned.handling.mode=long` (BIGINT UNSIGNED as the signed 64-bit pattern, read back
//! unsigned here, so values above 2^63 stay exact), `binary.handling.mode=hex`. When the schema
//! envelope is present its logical type names (`io.debezium.time.MicroTimestamp`, ...) decide;
//! without it the column's declared precision does.
//!
//! Positions: `source.file` / `source.pos` / `source.row` give [`Position::new`] for streamed
//! events, and snapshot rows (`op = r`, `source.snapshot` not `false`) give
//! [`Position::snapshot`]. Debezium stamps every snapshot row with the same binlog position and
//! splits a primary-key change into a delete and a create at one position; the Kafka source
//! makes positions strictly increasing per partition ([`sequence`]).
//!
//! Tombstones (null values after deletes) decode to `None`. Fields the table does not have
//! (a source `ADD COLUMN` after the schema was read) are [`Error::SchemaChange`], as on the
//! binlog path.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::binlog::decode::{parse_decimal, reinterpret_int};
use super::event::{ChangeEvent, Op, Position, Row, Undecodable, Value};
use super::schema::{SourceType, TableSchema};

/// Errors decoding a Debezium message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a Debezium change event: {0}")]
    Envelope(String),
    #[error("table {table}, column {column}: {message}")]
    Column {
        table: String,
        column: String,
        message: String,
    },
    #[error(
        "schema change on captured table {table}: {detail} \
         (schema evolution is not supported yet: re-snapshot after the change)"
    )]
    SchemaChange { table: String, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Decodes one message of a table topic. `None` for a tombstone (null value).
pub fn decode(schema: &TableSchema, value: Option<&[u8]>) -> Result<Option<ChangeEvent>> {
    let Some(bytes) = value.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let json: Json = serde_json::from_slice(bytes)?;
    decode_json(schema, &json).map(Some)
}

/// Decodes a parsed message (enveloped `{schema, payload}` or the bare payload).
pub fn decode_json(schema: &TableSchema, json: &Json) -> Result<ChangeEvent> {
    let (payload, logical) = match (json.get("schema"), json.get("payload")) {
        (Some(s), Some(p)) => (p, logical_types(s)),
        _ => (json, HashMap::new()),
    };
    let env = |m: &str| Error::Envelope(format!("{}: {m}", schema.name));
    let op_code = payload
        .get("op")
        .and_then(Json::as_str)
        .ok_or_else(|| env("no op"))?;
    let op = Op::from_code(op_code).ok_or_else(|| env(&format!("unknown op {op_code:?}")))?;
    let source = payload.get("source").ok_or_else(|| env("no source"))?;
    let position = position(source, op).ok_or_else(|| env("no source file/pos"))?;
    let image = |field: &str| -> Result<Option<Row>> {
        match payload.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(obj) => row(schema, obj, &logical).map(Some),
        }
    };
    let before = image("before")?;
    let after = image("after")?;
    match op {
        Op::Delete if before.is_none() => return Err(env("delete without before image")),
        Op::Read | Op::Create | Op::Update if after.is_none() => {
            return Err(env("change without after image"));
        }
        _ => {}
    }
    let txid = payload
        .get("transaction")
        .and_then(|t| t.get("id"))
        .and_then(Json::as_str)
        .or_else(|| source.get("gtid").and_then(Json::as_str))
        .map(str::to_owned);
    Ok(ChangeEvent {
        table: Arc::from(schema.name.as_str()),
        op,
        before,
        after,
        position,
        commit_ms: source.get("ts_ms").and_then(Json::as_i64).unwrap_or(0),
        txid,
    })
}

/// The binlog position of a message's `source` block.
fn position(source: &Json, op: Op) -> Option<Position> {
    let file = source.get("file")?.as_str()?;
    let pos = source.get("pos")?.as_u64()?;
    let row = source
        .get("row")
        .and_then(Json::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0);
    let snapshot = match source.get("snapshot") {
        Some(Json::String(s)) => s != "false",
        Some(Json::Bool(b)) => *b,
        _ => false,
    };
    Some(if op == Op::Read || snapshot {
        Position::snapshot(file, pos, row)
    } else {
        Position::new(file, pos, row)
    })
}

/// Column name -> logical type name (`io.debezium.time.Timestamp`, ...) from the envelope's
/// `after` (or `before`) struct schema.
fn logical_types(schema: &Json) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(fields) = schema.get("fields").and_then(Json::as_array) else {
        return out;
    };
    for f in fields {
        let name = f.get("field").and_then(Json::as_str);
        if !matches!(name, Some("after" | "before")) {
            continue;
        }
        for c in f
            .get("fields")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(col), Some(logical)) = (
                c.get("field").and_then(Json::as_str),
                c.get("name").and_then(Json::as_str),
            ) {
                out.insert(col.to_owned(), logical.to_owned());
            }
        }
    }
    out
}

fn row(schema: &TableSchema, obj: &Json, logical: &HashMap<String, String>) -> Result<Row> {
    let map = obj
        .as_object()
        .ok_or_else(|| Error::Envelope(format!("{}: row image is not an object", schema.name)))?;
    if let Some(extra) = map.keys().find(|k| schema.column_index(k).is_none()) {
        return Err(Error::SchemaChange {
            table: schema.name.clone(),
            detail: format!("the event has column {extra}, which the table does not"),
        });
    }
    schema
        .columns
        .iter()
        .map(|c| {
            let v = map.get(&c.name).ok_or_else(|| Error::SchemaChange {
                table: schema.name.clone(),
                detail: format!("the event lacks column {}", c.name),
            })?;
            value(v, &c.source_type, logical.get(&c.name).map(String::as_str)).map_err(|message| {
                Error::Column {
                    table: schema.name.clone(),
                    column: c.name.clone(),
                    message,
                }
            })
        })
        .collect()
}

/// One column value, per its source type (and the envelope's logical type when known).
pub fn value(v: &Json, ty: &SourceType, logical: Option<&str>) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    // Never the value itself: it is not masked yet (error texts reach logs and `/health`).
    let bad = || format!("unexpected {} for {ty:?}", json_kind(v));
    let int = || -> Result<i64, String> {
        match v {
            Json::Number(n) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|u| u as i64))
                .ok_or_else(bad),
            Json::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
            Json::Bool(b) => Ok(i64::from(*b)),
            _ => Err(bad()),
        }
    };
    Ok(match ty {
        SourceType::Int { bits, unsigned } => match v {
            // BIGINT UNSIGNED above i64::MAX, as a number (precise mode) or text.
            Json::Number(n) if n.as_i64().is_none() => Value::UInt(n.as_u64().ok_or_else(bad)?),
            Json::String(s) if *unsigned => Value::UInt(s.trim().parse().map_err(|_| bad())?),
            _ => reinterpret_int(int()? as u64, *bits, *unsigned),
        },
        SourceType::Bool => reinterpret_int(int()? as u64, 8, false),
        SourceType::Decimal { scale, .. } => {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => return Err(bad()),
            };
            let (unscaled, scale) = parse_decimal(&text, *scale).ok_or_else(|| {
                format!(
                    "decimal of {} characters does not fit scale {scale} (set decimal.handling.mode=string)",
                    text.len()
                )
            })?;
            Value::Decimal { unscaled, scale }
        }
        SourceType::Float => Value::Float(f64::from(v.as_f64().ok_or_else(bad)? as f32)),
        SourceType::Double => Value::Float(v.as_f64().ok_or_else(bad)?),
        SourceType::Text | SourceType::Enum(_) | SourceType::Set(_) => {
            Value::Text(v.as_str().ok_or_else(bad)?.to_owned())
        }
        SourceType::Json => {
            let s = v.as_str().ok_or_else(bad)?;
            match serde_json::from_str::<Json>(s) {
                Ok(j) => Value::Text(j.to_string()),
                Err(_) => Value::Text(s.to_owned()),
            }
        }
        SourceType::Bytes => {
            let s = v.as_str().ok_or_else(bad)?;
            Value::Bytes(
                hex::decode(s).map_err(|_| {
                    "bytes that are not hex (set binary.handling.mode=hex)".to_string()
                })?,
            )
        }
        SourceType::Date => Value::Date(i32::try_from(int()?).map_err(|_| bad())?),
        SourceType::DateTime { fsp } => {
            let n = int()?;
            Value::DateTime(match logical {
                Some("io.debezium.time.MicroTimestamp") => n,
                Some("io.debezium.time.NanoTimestamp") => n.div_euclid(1000),
                Some("io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp") => {
                    n.checked_mul(1000).ok_or_else(bad)?
                }
                // No envelope: adaptive_time_microseconds by the declared precision.
                _ if *fsp <= 3 => n.checked_mul(1000).ok_or_else(bad)?,
                _ => n,
            })
        }
        SourceType::Timestamp { .. } => {
            // io.debezium.time.ZonedTimestamp: ISO-8601 with an offset (UTC).
            let s = v.as_str().ok_or_else(bad)?;
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("a timestamp that is not RFC 3339 ({e})"))?;
            Value::DateTime(t.timestamp_micros())
        }
        SourceType::Time { .. } => Value::Int(match logical {
            Some("io.debezium.time.Time" | "org.apache.kafka.connect.data.Time") => {
                int()?.checked_mul(1000).ok_or_else(bad)?
            }
            Some("io.debezium.time.NanoTime") => int()?.div_euclid(1000),
            _ => int()?,
        }),
        SourceType::Year => Value::Year(u16::try_from(int()?).map_err(|_| bad())?),
    })
}

/// The kind of a JSON value, for error texts.
fn json_kind(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => "boolean".into(),
        Json::Number(_) => "number".into(),
        Json::String(s) => format!("string ({} characters)", s.chars().count()),
        Json::Array(_) => "array".into(),
        Json::Object(_) => "object".into(),
    }
}

/// Makes the positions of one partition's events strictly increasing, deterministically from
/// the last position applied: Debezium gives every snapshot row the same position and both
/// halves of a primary-key change (delete old key, create new key) one position. A tie with the
/// previous event takes the next row index; a streamed event older than the previous one (a
/// connector replaying after a restart: Kafka Connect delivers at least once) is dropped, since
/// what it says is already applied.
pub fn sequence(last: &mut Option<Position>, mut event: ChangeEvent) -> Option<ChangeEvent> {
    if let Some(prev) = last.as_ref() {
        let tie = event.position.file == prev.file
            && event.position.pos == prev.pos
            && event.position.snapshot == prev.snapshot;
        if event.position <= *prev {
            if tie {
                event.position.row = prev.row.checked_add(1)?;
            } else if !event.position.snapshot {
                return None;
            } else {
                // A re-snapshot read at an older position: order it after what was applied.
                event.position = Position {
                    row: prev.row.checked_add(1)?,
                    ..prev.clone()
                };
            }
        }
    }
    *last = Some(event.position.clone());
    Some(event)
}

/// A message of `table`'s topic partition `key` at `offset` that could not be decoded, as a
/// dead letter: placed right after the partition's last position (deterministically, so a
/// replay gives it the same place; before any binlog file when the partition has none yet),
/// the reason naming the message, never its content. Its `_op` is `c` (the message's own op
/// may be unreadable).
pub fn undecodable(
    table: &str,
    last: &mut Option<Position>,
    key: &(String, i32),
    offset: i64,
    e: &Error,
) -> Undecodable {
    let at = last
        .clone()
        .unwrap_or_else(|| Position::new("mysql-bin.000000", 0, 0));
    let event = ChangeEvent {
        table: Arc::from(table),
        op: Op::Create,
        before: None,
        after: None,
        position: at,
        commit_ms: 0,
        txid: None,
    };
    // A tie with the last position takes the next row index.
    let event = sequence(last, event.clone()).unwrap_or(event);
    Undecodable {
        event,
        reason: format!("message {}/{} at offset {offset}: {e}", key.0, key.1),
    }
}

#[cfg(test)]
#[path = "debezium_tests.rs"]
mod tests;
