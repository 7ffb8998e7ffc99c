//! Decoding one row change: an undecodable one is set aside with its position and a reason
//! that never quotes the value.

use std::sync::Arc;

use mysql_async::Column;
use mysql_async::Value as My;
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType;

use super::{RowError, row_event};
use crate::ingest::binlog::tables::TableInfo;
use crate::ingest::event::{Op, Position, Value};
use crate::ingest::schema::{Column as SourceColumn, SourceType, TableSchema};

fn cards() -> TableInfo {
    let int = SourceType::Int {
        bits: 64,
        unsigned: false,
    };
    let column = |name: &str, source_type: SourceType| SourceColumn {
        name: name.into(),
        source_type,
        nullable: false,
    };
    TableInfo {
        name: Arc::from("cards"),
        schema: TableSchema {
            name: "cards".into(),
            columns: vec![column("id", int.clone()), column("cvv", int)],
            key: vec![0],
        },
        pad_to: vec![None, None],
    }
}

fn image(values: Vec<My>) -> BinlogRow {
    let columns: Arc<[Column]> = values
        .iter()
        .map(|_| Column::new(ColumnType::MYSQL_TYPE_LONGLONG))
        .collect();
    BinlogRow::new(
        values
            .into_iter()
            .map(|v| Some(BinlogValue::Value(v)))
            .collect(),
        columns,
    )
}

#[test]
fn an_undecodable_row_is_set_aside_with_its_position_and_no_value() {
    let info = cards();
    let map = [Some(0), Some(1)];
    let at = Position::new("mysql-bin.000003", 777, 2);
    let good = row_event(
        &info,
        Op::Create,
        None,
        Some(image(vec![My::Int(1), My::Int(123)])),
        &map,
        at.clone(),
    )
    .unwrap();
    assert_eq!(good.after, Some(vec![Value::Int(1), Value::Int(123)]));

    let secret = "9876-5432";
    let bad = row_event(
        &info,
        Op::Update,
        Some(image(vec![My::Int(1), My::Int(123)])),
        Some(image(vec![My::Int(1), My::Bytes(secret.into())])),
        &map,
        at.clone(),
    );
    let Err(RowError::Undecodable(u)) = bad else {
        panic!("expected an undecodable change, got {bad:?}");
    };
    assert_eq!(u.event.position, at);
    assert_eq!((u.event.op, &*u.event.table), (Op::Update, "cards"));
    assert!(
        u.event.before.is_none() && u.event.after.is_none(),
        "no images kept"
    );
    assert!(u.reason.contains("cards.cvv"), "{}", u.reason);
    assert!(!u.reason.contains(secret), "{}", u.reason);
}
