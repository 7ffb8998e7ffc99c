//! Tests of the lake: type mapping, value conversion, exactly-once apply, history, layout.

use std::collections::HashMap;

use deltalake::arrow::array::{AsArray, RecordBatch};
use deltalake::arrow::datatypes::{Decimal128Type, Int64Type};

use super::*;
use crate::ingest::event::{Position, Value};
use crate::ingest::reduce::{Effect, Effects};
use crate::ingest::schema::{Column, SourceType};

mod bronze;
mod props;
mod roundtrip;
mod sink;
mod types;

pub(super) fn column(name: &str, t: SourceType, nullable: bool) -> Column {
    Column {
        name: name.into(),
        source_type: t,
        nullable,
    }
}

pub(super) fn accounts() -> TableSchema {
    TableSchema {
        name: "accounts".into(),
        columns: vec![
            column(
                "id",
                SourceType::Int {
                    bits: 64,
                    unsigned: false,
                },
                false,
            ),
            column("name", SourceType::Text, true),
            column(
                "balance",
                SourceType::Decimal {
                    precision: 12,
                    scale: 2,
                },
                true,
            ),
            column("opened", SourceType::DateTime { fsp: 0 }, true),
        ],
        key: vec![0],
    }
}

pub(super) fn row(id: i64, name: &str, cents: i128) -> Vec<Value> {
    vec![
        Value::Int(id),
        Value::Text(name.into()),
        Value::Decimal {
            unscaled: cents,
            scale: 2,
        },
        Value::DateTime(1_600_000_000_000_000 + id),
    ]
}

pub(super) fn pos(offset: u64) -> Position {
    Position::new("mysql-bin.000001", offset, 0)
}

pub(super) fn upsert(effects: &mut Effects, r: Vec<Value>, offset: u64) {
    effects.insert(
        vec![r[0].key_text()],
        Effect::Upsert {
            row: r,
            position: pos(offset),
        },
    );
}

pub(super) fn delete(effects: &mut Effects, id: i64, offset: u64) {
    effects.insert(
        vec![id.to_string()],
        Effect::Delete {
            position: pos(offset),
        },
    );
}

/// (id, name, balance in cents, _op) sorted by id.
pub(super) fn rows_of(batches: &[RecordBatch]) -> Vec<(i64, String, i128, String)> {
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        let names = b.column_by_name("name").unwrap().as_string::<i32>();
        let bal = b
            .column_by_name("balance")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        let ops = b.column_by_name("_op").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((
                ids.value(i),
                names.value(i).to_owned(),
                bal.value(i),
                ops.value(i).to_owned(),
            ));
        }
    }
    out.sort();
    out
}

pub(super) fn lake(dir: &tempfile::TempDir) -> Lake {
    Lake::open(
        dir.path().join("lakehouse").to_str().unwrap(),
        HashMap::new(),
    )
    .unwrap()
}
