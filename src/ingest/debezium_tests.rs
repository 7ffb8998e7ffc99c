//! Golden tests: messages recorded from Debezium 3.5 (MariaDB connector, JsonConverter with
//! schemas) running the scenario in `tests/data/debezium/{snapshot,stream}.sql`.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::*;
use crate::ingest::binlog::decode::{datetime_micros, days_from_civil};
use crate::ingest::reduce::{Effect, reduce};
use crate::ingest::schema::{Column, SourceType, TableSchema};

const MESSAGES: &str = include_str!("../../tests/data/debezium/messages.jsonl");
const SCHEMAS: &str = include_str!("../../tests/data/debezium/schemas.json");

struct Message {
    table: String,
    offset: i64,
    value: Option<Json>,
}

fn schemas() -> HashMap<String, TableSchema> {
    let raw: HashMap<String, Json> = serde_json::from_str(SCHEMAS).expect("schemas.json");
    raw.into_iter()
        .map(|(name, t)| {
            let columns: Vec<Column> = t["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| Column {
                    name: c[0].as_str().expect("name").to_owned(),
                    source_type: SourceType::parse(c[1].as_str().expect("type")).expect("type"),
                    nullable: c[2].as_bool().expect("nullable"),
                })
                .collect();
            let key = t["key"]
                .as_array()
                .expect("key")
                .iter()
                .map(|k| {
                    columns
                        .iter()
                        .position(|c| c.name == k.as_str().expect("key name"))
                        .expect("key column")
                })
                .collect();
            (name.clone(), TableSchema { name, columns, key })
        })
        .collect()
}

fn messages() -> Vec<Message> {
    MESSAGES
        .lines()
        .map(|l| {
            let j: Json = serde_json::from_str(l).expect("jsonl");
            Message {
                table: j["topic"]
                    .as_str()
                    .expect("topic")
                    .rsplit('.')
                    .next()
                    .expect("table")
                    .to_owned(),
                offset: j["offset"].as_i64().expect("offset"),
                value: Some(j["value"].clone()).filter(|v| !v.is_null()),
            }
        })
        .collect()
}

fn decode_all() -> HashMap<String, Vec<ChangeEvent>> {
    let schemas = schemas();
    let mut out: HashMap<String, Vec<ChangeEvent>> = HashMap::new();
    let mut last: HashMap<String, Option<Position>> = HashMap::new();
    for m in messages() {
        let schema = &schemas[&m.table];
        let bytes = m
            .value
            .as_ref()
            .map(|v| serde_json::to_vec(v).expect("bytes"));
        let Some(e) = decode(schema, bytes.as_deref()).expect("decodes") else {
            continue;
        };
        if let Some(e) = sequence(last.entry(m.table.clone()).or_default(), e) {
            out.entry(m.table.clone()).or_default().push(e);
        }
    }
    out
}

fn dec(unscaled: i128, scale: u8) -> Value {
    Value::Decimal { unscaled, scale }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[test]
fn every_recorded_message_decodes_and_tombstones_are_skipped() {
    let schemas = schemas();
    let (mut events, mut tombstones) = (0, 0);
    for m in messages() {
        let bytes = m
            .value
            .as_ref()
            .map(|v| serde_json::to_vec(v).expect("bytes"));
        match decode(&schemas[&m.table], bytes.as_deref()).expect("decodes") {
            Some(_) => events += 1,
            None => tombstones += 1,
        }
    }
    assert_eq!((events, tombstones), (24, 4));
}

#[test]
fn snapshot_rows_keep_exact_types() {
    let all = decode_all();
    let tx = &all["transactions"];
    let first = &tx[0];
    assert_eq!(first.op, Op::Read);
    assert!(first.position.snapshot);
    assert_eq!(first.position.file, "mysql-bin.000001");
    let row = first.after.as_ref().expect("after");
    assert_eq!(row[0], Value::UInt(7_475_327));
    assert_eq!(
        row[1],
        Value::DateTime(datetime_micros(2010, 1, 1, 0, 1, 0, 0).expect("date"))
    );
    assert_eq!(row[4], dec(-7700, 2));
    assert_eq!(row[5], text("Swipe Transaction"));
    assert_eq!(row[9], text("58523"));
    assert_eq!(row[11], Value::Null);
    // BIGINT UNSIGNED above 2^63 arrives as its signed pattern and is read back exactly.
    let big = tx[2].after.as_ref().expect("after");
    assert_eq!(big[0], Value::UInt(18_446_744_073_709_551_000));
    assert_eq!(big[4], dec(999_999_999_999, 2));
    assert_eq!(big[7], text("São Paulo"));
    assert_eq!(
        big[1],
        Value::DateTime(datetime_micros(2016, 3, 13, 2, 30, 0, 0).expect("dst gap wall clock"))
    );

    let users = &all["users"];
    let u2 = users[1].after.as_ref().expect("after");
    assert_eq!(u2[3], Value::Year(1984));
    assert_eq!(u2[5], text("Male"));
    assert_eq!(u2[6], text("2 Élysée Straße ☃"));
    assert_eq!(u2[7], dec(-1, 2));
    assert_eq!(u2[10], dec(99_999_999_999_999, 2));

    let cards = &all["cards"];
    let c = cards[0].after.as_ref().expect("after");
    assert_eq!(
        c[5],
        Value::Date(days_from_civil(2022, 12, 1).expect("date"))
    );
    assert_eq!(c[6], text("623"));
    assert_eq!(
        c[7],
        Value::Int(1),
        "BOOLEAN is TINYINT(1), as on the binlog path"
    );
    assert_eq!(c[11], Value::Year(2008));
}

#[test]
fn snapshot_positions_become_strictly_increasing() {
    for (table, events) in decode_all() {
        for w in events.windows(2) {
            assert!(
                w[0].position < w[1].position,
                "{table}: {:?} then {:?}",
                w[0].position,
                w[1].position
            );
        }
    }
}

#[test]
fn streamed_events_carry_position_commit_time_and_transaction() {
    let all = decode_all();
    let tx = &all["transactions"];
    let updates: Vec<&ChangeEvent> = tx.iter().filter(|e| e.op == Op::Update).collect();
    assert_eq!(updates.len(), 2);
    assert!(!updates[0].position.snapshot);
    assert!(updates[0].position.pos < updates[1].position.pos);
    assert_eq!(updates[0].txid, updates[1].txid, "one source transaction");
    assert!(updates[0].txid.is_some());
    assert!(updates[0].commit_ms > 1_700_000_000_000);
    assert_eq!(
        updates[1].after.as_ref().expect("after")[11],
        text("Technical Glitch")
    );
    assert_eq!(updates[1].before.as_ref().expect("before")[4], dec(8000, 2));
}

#[test]
fn the_recorded_stream_reduces_to_the_source_end_state() {
    let schemas = schemas();
    let all = decode_all();
    let state = |table: &str| -> HashMap<Vec<String>, Option<Row>> {
        reduce(&all[table], &schemas[table].key)
            .into_iter()
            .map(|(k, e)| {
                let row = match e {
                    Effect::Upsert { row, .. } => Some(row),
                    Effect::Delete { .. } => None,
                };
                (k, row)
            })
            .collect()
    };
    let key = |s: &str| vec![s.to_owned()];
    let mcc = state("mcc_codes");
    assert_eq!(
        mcc[&key("1711")],
        None,
        "the old key of a primary-key change is gone"
    );
    assert_eq!(
        mcc[&key("1799")].as_ref().expect("new key")[1],
        text("Heating, Plumbing, A/C")
    );
    let tx = state("transactions");
    let re = tx[&key("7475327")]
        .as_ref()
        .expect("re-inserted after delete");
    assert_eq!(re[4], dec(1, 2));
    assert_eq!(re[7], text("Zürich"));
    let labels = state("fraud_labels");
    assert_eq!(labels[&key("7475327")], None);
    assert_eq!(labels[&key("7475328")], None);
    assert_eq!(
        labels[&key("18446744073709551000")]
            .as_ref()
            .expect("moved label")[1],
        Value::Int(1)
    );
    let cards = state("cards");
    let c10 = cards[&key("10")].as_ref().expect("card");
    assert_eq!(c10[9], dec(3_000_050, 2));
    assert_eq!(c10[12], Value::Int(1));
    let users = state("users");
    assert_eq!(
        users[&key("1")].as_ref().expect("user")[11],
        dec(12_761_299, 2)
    );
}

#[test]
fn bare_payloads_decode_like_enveloped_ones() {
    let schemas = schemas();
    for m in messages() {
        let Some(v) = &m.value else { continue };
        let schema = &schemas[&m.table];
        let enveloped = decode_json(schema, v).expect("enveloped");
        let bare = decode_json(schema, &v["payload"]).expect("bare");
        assert_eq!(enveloped, bare, "{} offset {}", m.table, m.offset);
    }
}

#[test]
fn an_unknown_column_is_a_schema_change() {
    let schemas = schemas();
    let m = messages()
        .into_iter()
        .find(|m| m.table == "mcc_codes" && m.value.is_some())
        .expect("message");
    let mut payload = m.value.expect("value")["payload"].clone();
    payload["after"]["category"] = Json::String("new".into());
    let err = decode_json(&schemas["mcc_codes"], &payload).expect_err("schema change");
    assert!(matches!(err, Error::SchemaChange { .. }), "{err}");
    let mut payload = payload.clone();
    payload["op"] = Json::String("t".into());
    assert!(decode_json(&schemas["mcc_codes"], &payload).is_err());
}

#[test]
fn temporal_logical_types_and_precision() {
    let dt0 = SourceType::DateTime { fsp: 0 };
    let dt6 = SourceType::DateTime { fsp: 6 };
    let j = |n: i64| Json::from(n);
    assert_eq!(value(&j(1_500), &dt0, None), Ok(Value::DateTime(1_500_000)));
    assert_eq!(value(&j(1_500), &dt6, None), Ok(Value::DateTime(1_500)));
    assert_eq!(
        value(&j(1_500), &dt6, Some("io.debezium.time.Timestamp")),
        Ok(Value::DateTime(1_500_000))
    );
    assert_eq!(
        value(&j(-1), &dt6, Some("io.debezium.time.MicroTimestamp")),
        Ok(Value::DateTime(-1))
    );
    assert_eq!(
        value(
            &Json::String("2020-01-02T03:04:05.123456Z".into()),
            &SourceType::Timestamp { fsp: 6 },
            Some("io.debezium.time.ZonedTimestamp")
        ),
        Ok(Value::DateTime(
            datetime_micros(2020, 1, 2, 3, 4, 5, 123_456).expect("ts")
        ))
    );
    assert_eq!(
        value(&Json::String("00ff".into()), &SourceType::Bytes, None),
        Ok(Value::Bytes(vec![0, 255]))
    );
    assert!(
        value(
            &Json::String("1.234".into()),
            &SourceType::Decimal {
                precision: 5,
                scale: 2
            },
            None
        )
        .is_err()
    );
}

#[test]
fn replayed_older_events_are_dropped() {
    let all = decode_all();
    let tx = &all["transactions"];
    let mut last = Some(tx.last().expect("event").position.clone());
    let older = tx
        .iter()
        .find(|e| e.op == Op::Update)
        .expect("update")
        .clone();
    assert_eq!(sequence(&mut last, older), None);
}

#[test]
fn value_errors_never_quote_the_value() {
    let int = SourceType::Int {
        bits: 64,
        unsigned: false,
    };
    let secret = "4111-1111-1111-1111";
    let e = value(&Json::String(secret.into()), &int, None).unwrap_err();
    assert!(!e.contains("4111"), "{e}");
    let e = value(&Json::String(secret.into()), &SourceType::Bytes, None).unwrap_err();
    assert!(!e.contains("4111"), "{e}");
    let ts = SourceType::Timestamp { fsp: 0 };
    let e = value(&Json::String(secret.into()), &ts, None).unwrap_err();
    assert!(!e.contains("4111"), "{e}");
}

#[test]
fn an_undecodable_message_is_placed_after_the_last_position_and_quotes_nothing() {
    let schema = TableSchema {
        name: "cards".into(),
        columns: Vec::new(),
        key: Vec::new(),
    };
    let key = ("finance.finance.cards".to_string(), 0);
    let secret = b"4111-1111-1111-1111 not json";
    let e = decode(&schema, Some(secret)).unwrap_err();
    let mut last = Some(Position::new("mysql-bin.000002", 90, 3));
    let u = undecodable("cards", &mut last, &key, 41, &e);
    assert_eq!(u.event.position, Position::new("mysql-bin.000002", 90, 4));
    assert_eq!(last.as_ref(), Some(&u.event.position));
    assert!(
        u.reason.contains("finance.finance.cards/0 at offset 41"),
        "{}",
        u.reason
    );
    assert!(!u.reason.contains("4111"), "{}", u.reason);
    let second = undecodable("cards", &mut last, &key, 42, &e);
    assert!(second.event.position > u.event.position);
    let mut none = None;
    let first = undecodable("cards", &mut none, &key, 0, &e);
    assert!(first.event.position < Position::new("mysql-bin.000001", 4, 0));
}
