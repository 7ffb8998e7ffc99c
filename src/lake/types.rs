//! Source types to Arrow/Delta types and source values to Arrow arrays (the position columns
//! and the txn version are in [`super::position`], re-exported here).

use std::sync::Arc;

use deltalake::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, RecordBatch,
    RecordBatchOptions, StringBuilder, TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub use super::position::{encode_version, pos_offset, pos_row, position_from_columns};
use super::{Error, Result};
use crate::ingest::event::{Row, Value};
use crate::ingest::schema::{Column, SourceType, TableSchema};

/// Binlog file name of the change (`mysql-bin.000042`).
pub const POS_FILE: &str = "_pos_file";
/// Start offset of the change's event in the binlog file.
pub const POS: &str = "_pos";
/// Row within the event, with the snapshot flag folded in (see [`pos_row`]).
pub const POS_ROW: &str = "_pos_row";
/// `r` (snapshot read), `c` (inserted into the lake), `u` (updated in the lake).
pub const OP: &str = "_op";
/// Source commit time (null when the caller did not know it).
pub const COMMIT_TS: &str = "_commit_ts";
/// When finlake wrote the row.
pub const INGESTED_AT: &str = "_ingested_at";
/// Partition number: first key column / `partition_rows` (partitioned tables only).
pub const PART: &str = "_part";

/// The Arrow type of a source column in the lake (exact; Delta has no unsigned integers).
pub fn arrow_type(t: &SourceType) -> Result<DataType> {
    Ok(match t {
        SourceType::Int {
            bits,
            unsigned: false,
        } => match bits {
            8 => DataType::Int8,
            16 => DataType::Int16,
            24 | 32 => DataType::Int32,
            _ => DataType::Int64,
        },
        SourceType::Int {
            bits,
            unsigned: true,
        } => match bits {
            8 => DataType::Int16,
            16 | 24 => DataType::Int32,
            32 => DataType::Int64,
            _ => DataType::Decimal128(20, 0),
        },
        SourceType::Decimal { precision, scale } => {
            if *precision == 0 || *precision > 38 || scale > precision {
                return Err(Error::Schema(format!(
                    "DECIMAL({precision},{scale}) does not fit Delta's decimal (precision 1..=38)"
                )));
            }
            DataType::Decimal128(*precision, *scale as i8)
        }
        SourceType::Bool => DataType::Boolean,
        SourceType::Float => DataType::Float32,
        SourceType::Double => DataType::Float64,
        SourceType::Text | SourceType::Enum(_) | SourceType::Set(_) | SourceType::Json => {
            DataType::Utf8
        }
        SourceType::Bytes => DataType::Binary,
        SourceType::Date => DataType::Date32,
        SourceType::DateTime { .. } => DataType::Timestamp(TimeUnit::Microsecond, None),
        SourceType::Timestamp { .. } => utc_micros(),
        SourceType::Time { .. } => DataType::Int64,
        SourceType::Year => DataType::Int16,
    })
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The metadata columns every bronze row carries, after the source columns.
pub fn metadata_fields() -> Vec<Field> {
    vec![
        Field::new(POS_FILE, DataType::Utf8, false),
        Field::new(POS, DataType::Int64, false),
        Field::new(POS_ROW, DataType::Int32, false),
        Field::new(OP, DataType::Utf8, false),
        Field::new(COMMIT_TS, utc_micros(), true),
        Field::new(INGESTED_AT, utc_micros(), false),
    ]
}

/// The bronze schema of a table: source columns (key columns never null), metadata columns,
/// and `_part` when partitioned.
pub fn bronze_schema(table: &TableSchema, partitioned: bool) -> Result<SchemaRef> {
    let mut fields = source_fields(table, false)?;
    fields.extend(metadata_fields());
    if partitioned {
        fields.push(Field::new(PART, DataType::Int64, false));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The source columns as Arrow fields; `all_nullable` relaxes non-key columns (merge sources
/// carry deletes with only the key set).
pub fn source_fields(table: &TableSchema, all_nullable: bool) -> Result<Vec<Field>> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let is_key = table.key.contains(&i);
            let nullable = !is_key && (all_nullable || lake_nullable(table, i));
            Ok(Field::new(&c.name, arrow_type(&c.source_type)?, nullable))
        })
        .collect()
}

/// Whether column `i` may be NULL in the lake: when it may in the source, or when the masker
/// always stores it as NULL (a CVV), whatever the source's NOT NULL says.
pub fn lake_nullable(table: &TableSchema, i: usize) -> bool {
    table.columns.get(i).is_some_and(|c| c.nullable) || crate::ingest::mask::always_null(table, i)
}

/// Converts row images (values in column order) into a batch of the table's source columns
/// (lake types, source nullability). The first value that does not fit fails the whole batch
/// with [`Error::Value`]; use [`check_row`] to sort rows out one by one first.
pub fn rows_to_batch(table: &TableSchema, rows: &[Row]) -> Result<RecordBatch> {
    let fields = source_fields(table, false)?;
    let width = table.columns.len();
    if let Some(bad) = rows.iter().find(|r| r.len() != width) {
        return Err(Error::Schema(format!(
            "table {}: row has {} values, table has {width} columns",
            table.name,
            bad.len()
        )));
    }
    let arrays = table
        .columns
        .iter()
        .zip(&fields)
        .enumerate()
        .map(|(i, (c, f))| {
            column_array(&table.name, c, f.is_nullable(), rows.iter().map(|r| &r[i]))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &options,
    )?)
}

/// Whether one row image fits the table (for routing misfits to a dead-letter table before
/// [`BronzeTable::apply`](super::BronzeTable::apply), which fails a batch on the first misfit).
pub fn check_row(table: &TableSchema, row: &Row) -> Result<()> {
    rows_to_batch(table, std::slice::from_ref(row)).map(|_| ())
}

/// A value that does not fit its column: the caller routes the row to a dead-letter table.
fn misfit(table: &str, column: &Column, value: &Value, why: &str) -> Error {
    Error::Value {
        table: table.to_owned(),
        column: column.name.clone(),
        value: format!("{value:?}"),
        reason: why.to_owned(),
    }
}

/// Converts one column of row images into an Arrow array of the column's lake type.
pub fn column_array<'a>(
    table: &str,
    column: &Column,
    nullable: bool,
    values: impl ExactSizeIterator<Item = &'a Value>,
) -> Result<ArrayRef> {
    let n = values.len();
    let bad = |v: &Value, why: &str| misfit(table, column, v, why);
    macro_rules! build {
        ($builder:expr, $conv:expr) => {{
            let mut b = $builder;
            for v in values {
                if matches!(v, Value::Null) {
                    if !nullable {
                        return Err(bad(v, "NULL in a NOT NULL column"));
                    }
                    b.append_null();
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    b.append_value(($conv)(v)?);
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let int = |v: &Value| -> Result<i128> {
        match v {
            Value::Int(x) => Ok(i128::from(*x)),
            Value::UInt(x) => Ok(i128::from(*x)),
            Value::Year(x) => Ok(i128::from(*x)),
            Value::Decimal { unscaled, scale: 0 } => Ok(*unscaled),
            _ => Err(bad(v, "not an integer")),
        }
    };
    // MySQL's own range of an integer column (the Arrow type may be wider).
    let source_range = match column.source_type {
        SourceType::Int { bits, unsigned } => {
            let bits = if matches!(bits, 8 | 16 | 24 | 32) {
                bits
            } else {
                64
            };
            Some(if unsigned {
                (0, (1i128 << bits) - 1)
            } else {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            })
        }
        _ => None,
    };
    let ranged = |v: &Value, lo: i128, hi: i128| -> Result<i128> {
        let (lo, hi) = source_range.map_or((lo, hi), |(a, b)| (a.max(lo), b.min(hi)));
        let x = int(v)?;
        if x < lo || x > hi {
            Err(bad(v, &format!("out of range {lo}..={hi}")))
        } else {
            Ok(x)
        }
    };
    let data_type = arrow_type(&column.source_type)?;
    Ok(match (&column.source_type, &data_type) {
        (_, DataType::Int8) => build!(Int8Builder::with_capacity(n), |v| ranged(v, -128, 127)
            .map(|x| x as i8)),
        (SourceType::Year, DataType::Int16) => {
            build!(Int16Builder::with_capacity(n), |v| ranged(v, 0, 9999)
                .map(|x| x as i16))
        }
        (_, DataType::Int16) => {
            build!(Int16Builder::with_capacity(n), |v| ranged(
                v,
                i16::MIN.into(),
                i16::MAX.into()
            )
            .map(|x| x as i16))
        }
        (_, DataType::Int32) => {
            build!(Int32Builder::with_capacity(n), |v| ranged(
                v,
                i32::MIN.into(),
                i32::MAX.into()
            )
            .map(|x| x as i32))
        }
        (SourceType::Time { .. }, DataType::Int64) => {
            build!(Int64Builder::with_capacity(n), |v: &Value| match v {
                Value::Int(x) | Value::DateTime(x) => Ok(*x),
                Value::Text(s) => parse_time(s).ok_or_else(|| bad(v, "not a TIME")),
                _ => Err(bad(v, "not a TIME (micros)")),
            })
        }
        (_, DataType::Int64) => {
            build!(Int64Builder::with_capacity(n), |v| ranged(
                v,
                i64::MIN.into(),
                i64::MAX.into()
            )
            .map(|x| x as i64))
        }
        (_, DataType::Decimal128(p, s)) => {
            let (p, s) = (*p, *s);
            let b = Decimal128Builder::with_capacity(n)
                .with_precision_and_scale(p, s)
                .map_err(arrow_err)?;
            build!(b, |v: &Value| match source_range {
                // BIGINT UNSIGNED: the unsigned range, exactly.
                Some((lo, hi)) => ranged(v, lo, hi),
                None => decimal_unscaled(v, p, s as u8)
                    .ok_or_else(|| bad(v, &format!("does not fit DECIMAL({p},{s}) exactly"))),
            })
        }
        (_, DataType::Boolean) => build!(BooleanBuilder::with_capacity(n), |v| match int(v) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(bad(v, "not a boolean (0 or 1)")),
        }),
        (_, DataType::Float32) => build!(Float32Builder::with_capacity(n), |v: &Value| match v {
            Value::Float(x) => Ok(*x as f32),
            _ => int(v).map(|x| x as f32),
        }),
        (_, DataType::Float64) => build!(Float64Builder::with_capacity(n), |v: &Value| match v {
            Value::Float(x) => Ok(*x),
            _ => int(v).map(|x| x as f64),
        }),
        (SourceType::Enum(labels), DataType::Utf8) => {
            build!(StringBuilder::new(), |v: &Value| match v {
                Value::Text(s) => Ok(s.clone()),
                // Binlog rows carry the 1-based index; 0 is MySQL's "invalid value" ''.
                Value::Int(0) | Value::UInt(0) => Ok(String::new()),
                _ => {
                    let i = int(v)?;
                    usize::try_from(i - 1)
                        .ok()
                        .and_then(|i| labels.get(i).cloned())
                        .ok_or_else(|| bad(v, "not an index of the ENUM"))
                }
            })
        }
        (SourceType::Set(members), DataType::Utf8) => {
            build!(StringBuilder::new(), |v: &Value| match v {
                Value::Text(s) => Ok(s.clone()),
                _ => {
                    let mask = int(v)?;
                    if mask < 0 || (members.len() < 64 && mask >> members.len() != 0) {
                        return Err(bad(v, "not a bit mask of the SET"));
                    }
                    let picked: Vec<&str> = members
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask >> i & 1 == 1)
                        .map(|(_, m)| m.as_str())
                        .collect();
                    Ok(picked.join(","))
                }
            })
        }
        (_, DataType::Utf8) => build!(StringBuilder::new(), |v: &Value| match v {
            Value::Text(s) => Ok(s.clone()),
            Value::Bytes(b) => String::from_utf8(b.clone()).map_err(|_| bad(v, "not UTF-8")),
            _ => Err(bad(v, "not text")),
        }),
        (_, DataType::Binary) => build!(BinaryBuilder::new(), |v: &Value| match v {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.clone().into_bytes()),
            _ => Err(bad(v, "not bytes")),
        }),
        (_, DataType::Date32) => build!(Date32Builder::with_capacity(n), |v: &Value| match v {
            Value::Date(d) => Ok(*d),
            _ => Err(bad(v, "not a DATE")),
        }),
        (_, DataType::Timestamp(_, tz)) => {
            let b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone_opt(tz.clone());
            build!(b, |v: &Value| match v {
                Value::DateTime(t) | Value::Int(t) => Ok(*t),
                _ => Err(bad(v, "not a date-time (micros)")),
            })
        }
        (_, other) => return Err(Error::Schema(format!("no conversion to {other}"))),
    })
}

fn arrow_err(e: deltalake::arrow::error::ArrowError) -> Error {
    Error::Arrow(e.to_string())
}

/// `v` as an unscaled integer of DECIMAL(p, s), exactly, or None.
fn decimal_unscaled(v: &Value, precision: u8, scale: u8) -> Option<i128> {
    let (unscaled, from) = match v {
        Value::Decimal { unscaled, scale } => (*unscaled, *scale),
        Value::Int(x) => (i128::from(*x), 0),
        Value::UInt(x) => (i128::from(*x), 0),
        _ => return None,
    };
    let value = if from <= scale {
        unscaled.checked_mul(10i128.checked_pow(u32::from(scale - from))?)?
    } else {
        let div = 10i128.checked_pow(u32::from(from - scale))?;
        if unscaled % div != 0 {
            return None;
        }
        unscaled / div
    };
    let limit = 10i128.checked_pow(u32::from(precision))?;
    (value.abs() < limit).then_some(value)
}

/// `[-]H:MM:SS[.ffffff]` to microseconds.
fn parse_time(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    if frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse::<i64>().ok()?
    };
    let t = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
    Some(if neg { -t } else { t })
}

/// Parses a key's text form ([`Value::key_text`]) back into a value of the column's type, for
/// deletes (which carry only the key).
pub fn key_value(column: &Column, text: &str) -> Option<Value> {
    let int = || text.parse::<i64>().ok().map(Value::Int);
    Some(match &column.source_type {
        SourceType::Int { unsigned: true, .. } => Value::UInt(text.parse().ok()?),
        SourceType::Int { .. } | SourceType::Bool | SourceType::Time { .. } => int()?,
        SourceType::Decimal { .. } => {
            let neg = text.starts_with('-');
            let digits = text.trim_start_matches('-');
            let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
            let unscaled: i128 = format!("{whole}{frac}").parse().ok()?;
            Value::Decimal {
                unscaled: if neg { -unscaled } else { unscaled },
                scale: u8::try_from(frac.len()).ok()?,
            }
        }
        SourceType::Float | SourceType::Double => Value::Float(text.parse().ok()?),
        SourceType::Enum(labels) if !labels.iter().any(|l| l == text) => {
            int().unwrap_or(Value::Text(text.into()))
        }
        SourceType::Text | SourceType::Json | SourceType::Enum(_) | SourceType::Set(_) => {
            Value::Text(text.into())
        }
        SourceType::Bytes => {
            if !text.len().is_multiple_of(2) {
                return None;
            }
            let bytes: Option<Vec<u8>> = (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                .collect();
            Value::Bytes(bytes?)
        }
        SourceType::Date => Value::Date(text.parse().ok()?),
        SourceType::DateTime { .. } | SourceType::Timestamp { .. } => {
            Value::DateTime(text.parse().ok()?)
        }
        SourceType::Year => Value::Year(text.parse().ok()?),
    })
}

/// `_part` of a key value: `floor(key / partition_rows)`.
pub fn part_of(v: &Value, partition_rows: i64) -> Option<i64> {
    let x: i128 = match v {
        Value::Int(x) => (*x).into(),
        Value::UInt(x) => (*x).into(),
        Value::Year(x) => (*x).into(),
        Value::Date(x) => (*x).into(),
        Value::DateTime(x) => (*x).into(),
        Value::Decimal { unscaled, scale } => {
            unscaled.div_euclid(10i128.checked_pow(u32::from(*scale))?)
        }
        _ => return None,
    };
    i64::try_from(x.div_euclid(i128::from(partition_rows.max(1)))).ok()
}

/// Whether a source type can drive `_part`.
pub fn partitionable(t: &SourceType) -> bool {
    matches!(
        t,
        SourceType::Int { .. }
            | SourceType::Decimal { .. }
            | SourceType::Date
            | SourceType::DateTime { .. }
            | SourceType::Timestamp { .. }
            | SourceType::Year
    )
}
