//! Type mapping, value conversion, position encoding.

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{
    DataType, Decimal128Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use super::column;
use crate::ingest::event::{Position, Value};
use crate::ingest::schema::SourceType;
use crate::lake::Error;
use crate::lake::types::{self, arrow_type, column_array};

#[test]
fn maps_every_source_type() {
    let int = |bits, unsigned| SourceType::Int { bits, unsigned };
    let cases = [
        (int(8, false), DataType::Int8),
        (int(16, false), DataType::Int16),
        (int(24, false), DataType::Int32),
        (int(32, false), DataType::Int32),
        (int(64, false), DataType::Int64),
        (int(8, true), DataType::Int16),
        (int(16, true), DataType::Int32),
        (int(24, true), DataType::Int32),
        (int(32, true), DataType::Int64),
        (int(64, true), DataType::Decimal128(20, 0)),
        (
            SourceType::Decimal {
                precision: 12,
                scale: 2,
            },
            DataType::Decimal128(12, 2),
        ),
        (SourceType::Bool, DataType::Boolean),
        (SourceType::Float, DataType::Float32),
        (SourceType::Double, DataType::Float64),
        (SourceType::Text, DataType::Utf8),
        (SourceType::Enum(vec!["a".into()]), DataType::Utf8),
        (SourceType::Set(vec!["a".into()]), DataType::Utf8),
        (SourceType::Json, DataType::Utf8),
        (SourceType::Bytes, DataType::Binary),
        (SourceType::Date, DataType::Date32),
        (
            SourceType::DateTime { fsp: 6 },
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        (
            SourceType::Timestamp { fsp: 0 },
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        (SourceType::Time { fsp: 3 }, DataType::Int64),
        (SourceType::Year, DataType::Int16),
    ];
    for (source, arrow) in cases {
        assert_eq!(arrow_type(&source).unwrap(), arrow, "{source:?}");
    }
    assert!(
        arrow_type(&SourceType::Decimal {
            precision: 65,
            scale: 2
        })
        .is_err()
    );
    let names: Vec<String> = types::metadata_fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "_pos_file",
            "_pos",
            "_pos_row",
            "_op",
            "_commit_ts",
            "_ingested_at"
        ]
    );
}

#[test]
fn values_convert_exactly() {
    let c = column(
        "amount",
        SourceType::Decimal {
            precision: 12,
            scale: 2,
        },
        true,
    );
    let values = [
        Value::Decimal {
            unscaled: -7700,
            scale: 2,
        },
        Value::Null,
        Value::Decimal {
            unscaled: 5,
            scale: 1,
        },
        Value::Int(3),
    ];
    let a = column_array("t", &c, true, values.iter()).unwrap();
    let a = a.as_primitive::<Decimal128Type>();
    assert_eq!(a.value_as_string(0), "-77.00");
    assert!(a.is_null(1));
    assert_eq!(a.value(2), 50);
    assert_eq!(a.value(3), 300);

    let c = column(
        "id",
        SourceType::Int {
            bits: 64,
            unsigned: true,
        },
        false,
    );
    let values = [Value::UInt(u64::MAX), Value::UInt(0)];
    let a = column_array("t", &c, false, values.iter()).unwrap();
    assert_eq!(
        a.as_primitive::<Decimal128Type>().value_as_string(0),
        "18446744073709551615"
    );

    // DATETIME: the wall clock, no zone, microseconds kept.
    let c = column("at", SourceType::DateTime { fsp: 6 }, true);
    let wall = 1_700_000_000_123_456i64;
    let a = column_array("t", &c, true, [Value::DateTime(wall)].iter()).unwrap();
    assert_eq!(
        a.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(a.as_primitive::<TimestampMicrosecondType>().value(0), wall);

    let c = column("name", SourceType::Text, true);
    let values = [
        Value::Text("caf\u{e9} \u{1F4B8}\u{1F600}".into()),
        Value::Null,
    ];
    let a = column_array("t", &c, true, values.iter()).unwrap();
    assert_eq!(a.as_string::<i32>().value(0), "café 💸😀");
    assert!(a.is_null(1));

    let c = column(
        "kind",
        SourceType::Enum(vec!["Debit".into(), "Credit".into()]),
        true,
    );
    let a = column_array(
        "t",
        &c,
        true,
        [Value::Int(2), Value::Text("Debit".into())].iter(),
    )
    .unwrap();
    assert_eq!(a.as_string::<i32>().value(0), "Credit");

    let c = column(
        "flags",
        SourceType::Set(vec!["a".into(), "b".into(), "c".into()]),
        true,
    );
    let a = column_array("t", &c, true, [Value::Int(5)].iter()).unwrap();
    assert_eq!(a.as_string::<i32>().value(0), "a,c");

    let c = column("t", SourceType::Time { fsp: 0 }, true);
    let a = column_array("t", &c, true, [Value::Text("-838:59:59".into())].iter()).unwrap();
    assert_eq!(
        a.as_primitive::<Int64Type>().value(0),
        -(838 * 3600 + 59 * 60 + 59) * 1_000_000
    );

    let c = column(
        "small",
        SourceType::Int {
            bits: 16,
            unsigned: true,
        },
        true,
    );
    let a = column_array("t", &c, true, [Value::UInt(65535)].iter()).unwrap();
    assert_eq!(a.as_primitive::<Int32Type>().value(0), 65535);
}

#[test]
fn misfits_name_table_column_and_value() {
    let c = column(
        "qty",
        SourceType::Int {
            bits: 8,
            unsigned: false,
        },
        false,
    );
    let err = column_array("orders", &c, false, [Value::Int(300)].iter())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("orders") && err.contains("qty") && err.contains("300"),
        "{err}"
    );
    let c = column(
        "amount",
        SourceType::Decimal {
            precision: 4,
            scale: 2,
        },
        true,
    );
    let err = column_array(
        "orders",
        &c,
        true,
        [Value::Decimal {
            unscaled: 12345,
            scale: 3,
        }]
        .iter(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Value { .. }), "{err}");
    let err = column_array(
        "orders",
        &c,
        true,
        [Value::Decimal {
            unscaled: 10_000,
            scale: 2,
        }]
        .iter(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("DECIMAL(4,2)"), "{err}");
    // Unsigned columns reject negatives even though their Arrow type is signed and wider.
    for bits in [8, 16, 24, 32, 64] {
        let c = column(
            "u",
            SourceType::Int {
                bits,
                unsigned: true,
            },
            true,
        );
        assert!(
            column_array("orders", &c, true, [Value::Int(-1)].iter()).is_err(),
            "{bits}"
        );
    }
    let c = column(
        "m",
        SourceType::Int {
            bits: 24,
            unsigned: false,
        },
        true,
    );
    assert!(column_array("orders", &c, true, [Value::Int(8_388_608)].iter()).is_err());
    let c = column("id", SourceType::Text, false);
    assert!(column_array("orders", &c, false, [Value::Null].iter()).is_err());

    // Whole rows: a batch of good rows converts, a bad row is found by check_row.
    let table = crate::ingest::schema::TableSchema {
        name: "orders".into(),
        columns: vec![
            column(
                "id",
                SourceType::Int {
                    bits: 32,
                    unsigned: false,
                },
                false,
            ),
            column(
                "qty",
                SourceType::Int {
                    bits: 8,
                    unsigned: true,
                },
                true,
            ),
        ],
        key: vec![0],
    };
    let good = vec![Value::Int(1), Value::Int(255)];
    let bad = vec![Value::Int(2), Value::Int(256)];
    let batch = types::rows_to_batch(&table, &[good.clone(), good.clone()]).unwrap();
    assert_eq!((batch.num_rows(), batch.num_columns()), (2, 2));
    assert_eq!(batch.schema().field(1).data_type(), &DataType::Int16);
    assert!(types::check_row(&table, &good).is_ok());
    let err = types::check_row(&table, &bad).unwrap_err().to_string();
    assert!(
        err.contains("orders") && err.contains("qty") && err.contains("256"),
        "{err}"
    );
    assert!(types::rows_to_batch(&table, &[good, bad]).is_err());
}

#[test]
fn positions_encode_in_order() {
    let p = |file: &str, pos, row, snap| Position {
        file: file.into(),
        pos,
        row,
        snapshot: snap,
    };
    let ordered = [
        p("mysql-bin.000041", 9_999_999, 3, false),
        p("mysql-bin.000042", 4, 0, false),
        p("mysql-bin.000042", 400, 7, true),
        p("mysql-bin.000042", 400, 0, false),
        p("mysql-bin.000042", 400, 1, false),
    ];
    for w in ordered.windows(2) {
        assert!(w[0] < w[1]);
        assert!(types::encode_version(&w[0]).unwrap() <= types::encode_version(&w[1]).unwrap());
        let key = |q: &Position| {
            (
                q.file.clone(),
                types::pos_offset(q).unwrap(),
                types::pos_row(q).unwrap(),
            )
        };
        assert!(key(&w[0]) < key(&w[1]), "{:?} {:?}", w[0], w[1]);
    }
    assert_eq!(
        types::encode_version(&ordered[1]).unwrap(),
        (42i64 << 32) + 4
    );
    for q in &ordered {
        let back = types::position_from_columns(&q.file, q.pos as i64, types::pos_row(q).unwrap());
        assert_eq!(&back, q);
    }
    assert!(types::encode_version(&p("binlog", 1, 0, false)).is_err());
}
