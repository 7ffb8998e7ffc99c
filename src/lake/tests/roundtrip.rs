//! Every source type through a bronze table and back, exactly.

use deltalake::arrow::array::{Array, AsArray, UInt32Array};
use deltalake::arrow::compute::{concat_batches, take};
use deltalake::arrow::datatypes::Decimal128Type;

use super::{column, lake, pos};
use crate::ingest::event::Value;
use crate::ingest::reduce::{Effect, Effects};
use crate::ingest::schema::{SourceType as S, TableSchema};
use crate::lake::types::column_array;

#[tokio::test]
async fn every_type_round_trips_through_delta() {
    let int = |bits, unsigned| S::Int { bits, unsigned };
    let types = [
        ("id", int(64, true)),
        ("i8", int(8, false)),
        ("u8", int(8, true)),
        ("i16", int(16, false)),
        ("u16", int(16, true)),
        ("i24", int(24, false)),
        ("u24", int(24, true)),
        ("i32", int(32, false)),
        ("u32", int(32, true)),
        ("i64", int(64, false)),
        ("u64", int(64, true)),
        (
            "amount",
            S::Decimal {
                precision: 38,
                scale: 10,
            },
        ),
        ("flag", S::Bool),
        ("f", S::Float),
        ("d", S::Double),
        ("txt", S::Text),
        ("kind", S::Enum(vec!["Debit".into(), "Credit".into()])),
        ("tags", S::Set(vec!["a".into(), "b".into()])),
        ("doc", S::Json),
        ("blob", S::Bytes),
        ("day", S::Date),
        ("wall", S::DateTime { fsp: 6 }),
        ("instant", S::Timestamp { fsp: 6 }),
        ("dur", S::Time { fsp: 6 }),
        ("yr", S::Year),
    ];
    let schema = TableSchema {
        name: "kitchen".into(),
        columns: types
            .iter()
            .map(|(n, t)| column(n, t.clone(), *n != "id"))
            .collect(),
        key: vec![0],
    };
    let extremes = vec![
        Value::UInt(u64::MAX),
        Value::Int(-128),
        Value::UInt(255),
        Value::Int(-32768),
        Value::UInt(65535),
        Value::Int(-8_388_608),
        Value::UInt(16_777_215),
        Value::Int(i64::from(i32::MIN)),
        Value::UInt(u64::from(u32::MAX)),
        Value::Int(i64::MIN),
        Value::UInt(18_446_744_073_709_551_615),
        Value::Decimal {
            unscaled: -(10i128.pow(38) - 1),
            scale: 10,
        },
        Value::Int(1),
        Value::Float(1.5),
        Value::Float(-0.1),
        Value::Text("naïve 💸 \u{1F600} 中文".into()),
        Value::Int(2),
        Value::Int(3),
        Value::Text(r#"{"a": [1, "ü"]}"#.into()),
        Value::Bytes(vec![0, 255, 10]),
        Value::Date(-719_162),
        Value::DateTime(253_402_300_799_999_999),
        Value::DateTime(1_700_000_000_123_456),
        Value::Int(-3_020_399_000_000),
        Value::Year(2155),
    ];
    let mut nulls = vec![Value::Null; types.len()];
    nulls[0] = Value::UInt(0);
    let rows = [extremes, nulls];
    let dir = tempfile::tempdir().unwrap();
    let mut t = lake(&dir).open_table(&schema).await.unwrap();
    let mut e = Effects::new();
    for (i, r) in rows.iter().enumerate() {
        let position = pos(i as u64 + 1);
        e.insert(
            vec![r[0].key_text()],
            Effect::Upsert {
                row: r.clone(),
                position,
            },
        );
    }
    t.apply(e, &pos(10), "src").await.unwrap();
    let batches = t.read_all().await.unwrap();
    let all = concat_batches(t.arrow_schema(), &batches).unwrap();
    assert_eq!(all.num_rows(), 2);
    let ids = all.column(0).as_primitive::<Decimal128Type>();
    let order: Vec<u32> = [i128::from(u64::MAX), 0]
        .iter()
        .map(|id| (0..2).find(|&i| ids.value(i) == *id).unwrap() as u32)
        .collect();
    assert_eq!(
        ids.value_as_string(order[0] as usize),
        "18446744073709551615"
    );
    let order = UInt32Array::from(order);
    for (c, column) in schema.columns.iter().enumerate() {
        let expected = column_array("kitchen", column, c != 0, rows.iter().map(|r| &r[c])).unwrap();
        let got = take(all.column(c), &order, None).unwrap();
        assert_eq!(got.data_type(), expected.data_type(), "{}", column.name);
        assert_eq!(&got, &expected, "{}", column.name);
        if c != 0 {
            assert!(got.is_null(1), "{}", column.name);
        }
    }
}

#[tokio::test]
async fn composite_keys_delete_by_key_text() {
    let schema = TableSchema {
        name: "ledger".into(),
        columns: vec![
            column("acct", S::Text, false),
            column(
                "seq",
                S::Decimal {
                    precision: 10,
                    scale: 2,
                },
                false,
            ),
            column("day", S::Date, false),
            column("memo", S::Text, true),
        ],
        key: vec![0, 1, 2],
    };
    let r = |acct: &str, seq: i128, day: i32| {
        vec![
            Value::Text(acct.into()),
            Value::Decimal {
                unscaled: seq,
                scale: 2,
            },
            Value::Date(day),
            Value::Text(format!("{acct}/{seq}")),
        ]
    };
    let key = |row: &[Value]| -> Vec<String> { row[..3].iter().map(Value::key_text).collect() };
    let dir = tempfile::tempdir().unwrap();
    let mut t = lake(&dir).open_table(&schema).await.unwrap();
    let rows = [r("ü-1", -5, 19_000), r("ü-1", 5, 19_000), r("b", 5, -1)];
    let mut e = Effects::new();
    for (i, row) in rows.iter().enumerate() {
        let position = pos(i as u64 + 1);
        e.insert(
            key(row),
            Effect::Upsert {
                row: row.clone(),
                position,
            },
        );
    }
    t.apply(e, &pos(5), "src").await.unwrap();
    let mut e = Effects::new();
    e.insert(key(&rows[0]), Effect::Delete { position: pos(6) });
    e.insert(key(&rows[2]), Effect::Delete { position: pos(6) });
    let out = t.apply(e, &pos(6), "src").await.unwrap();
    assert_eq!(out.deleted, 2, "{out:?}");
    let batches = t.read_all().await.unwrap();
    let all = concat_batches(t.arrow_schema(), &batches).unwrap();
    assert_eq!(all.num_rows(), 1);
    assert_eq!(all.column(3).as_string::<i32>().value(0), "ü-1/5");
}
