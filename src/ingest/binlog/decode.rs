//! Pure decoding of MySQL values into [`Value`]s, driven by the column's [`SourceType`].
//!
//! Two paths produce `mysql_common` values: binlog row events and the snapshot's SELECT (binary
//! protocol, session time zone UTC). They differ for a few types (ENUM arrives as its 1-based
//! index from the binlog but as text from a SELECT, SET as a bit mask vs text, YEAR as
//! `"1900 + n"` text vs an integer, TIMESTAMP as epoch seconds vs a UTC date-time, BINARY(n)
//! with trailing zero bytes stripped vs padded); everything funnels through the same helpers so
//! both paths give identical [`Value`]s for the same row.

use mysql_async::Value as My;

use crate::ingest::event::Value;
use crate::ingest::schema::SourceType;

/// Where a `mysql_common` value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A binlog row image.
    Binlog,
    /// A SELECT over the binary protocol with `time_zone = '+00:00'`.
    Query,
}

/// Parses exact decimal text (`-12.50`, `0000000005.00`, `.5`) into `unscaled * 10^-scale` with
/// the column's `scale`. Fewer fraction digits are padded; more is an error (never rounded).
pub fn parse_decimal(text: &str, scale: u8) -> Option<(i128, u8)> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > usize::from(scale) {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in whole.bytes().chain(frac.bytes()) {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    for _ in frac.len()..usize::from(scale) {
        unscaled = unscaled.checked_mul(10)?;
    }
    Some((if neg { -unscaled } else { unscaled }, scale))
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` for zero or invalid dates
/// (`0000-00-00`, month or day 0), which MySQL can store.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i32> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Wall-clock microseconds since 1970-01-01 00:00:00; `None` for zero/invalid dates.
pub fn datetime_micros(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, us: u32) -> Option<i64> {
    let days = i64::from(days_from_civil(i32::from(y), u32::from(mo), u32::from(d))?);
    let secs = days * 86_400 + i64::from(h) * 3_600 + i64::from(mi) * 60 + i64::from(s);
    Some(secs * 1_000_000 + i64::from(us))
}

/// The declared name of a 1-based ENUM index; 0 is the empty "error" value `''`.
pub fn enum_name(members: &[String], index: u64) -> Option<String> {
    if index == 0 {
        return Some(String::new());
    }
    members.get(usize::try_from(index - 1).ok()?).cloned()
}

/// The members of a SET bit mask (little-endian bytes), comma-joined in declaration order.
pub fn set_members(members: &[String], mask: &[u8]) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for (byte_index, byte) in mask.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                out.push(members.get(byte_index * 8 + bit)?);
            }
        }
    }
    Some(out.join(","))
}

/// Reinterprets the raw bits of an integer of `bits` width per the column's signedness (the
/// binlog carries raw values; its signedness metadata is not trusted).
pub fn reinterpret_int(raw: u64, bits: u8, unsigned: bool) -> Value {
    let bits = u32::from(bits.clamp(8, 64));
    let shift = 64 - bits;
    if unsigned {
        Value::UInt((raw << shift) >> shift)
    } else {
        Value::Int(((raw << shift) as i64) >> shift)
    }
}

fn raw_bits(v: &My) -> Option<u64> {
    match v {
        My::Int(i) => Some(*i as u64),
        My::UInt(u) => Some(*u),
        My::Bytes(b) => {
            let s = std::str::from_utf8(b).ok()?;
            s.parse::<i64>()
                .map(|i| i as u64)
                .ok()
                .or_else(|| s.parse::<u64>().ok())
        }
        _ => None,
    }
}

fn text(b: Vec<u8>) -> Result<String, String> {
    String::from_utf8(b)
        .map_err(|e| format!("not valid UTF-8 ({e}); only utf8/utf8mb4 text columns are supported"))
}

fn micros_of_time(neg: bool, days: u32, h: u8, m: u8, s: u8, us: u32) -> i64 {
    let secs = (i64::from(days) * 24 + i64::from(h)) * 3_600 + i64::from(m) * 60 + i64::from(s);
    let v = secs * 1_000_000 + i64::from(us);
    if neg { -v } else { v }
}

/// `"1700000000"` or `"1700000000.123"` (epoch seconds) to microseconds.
fn epoch_text_micros(s: &str) -> Option<i64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let us: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(secs * 1_000_000 + us)
}

/// Why a value does not decode, naming its kind but never the value itself (it is not masked
/// yet: error texts reach logs, `/health` and the dead letters).
fn mismatch(ty: &SourceType, v: &My) -> String {
    format!("unexpected {} for a {ty:?} column", kind(v))
}

/// The kind of a driver value, for error texts.
pub(crate) fn kind(v: &My) -> String {
    match v {
        My::NULL => "NULL".into(),
        My::Bytes(b) => format!("byte string ({} bytes)", b.len()),
        My::Int(_) => "signed integer".into(),
        My::UInt(_) => "unsigned integer".into(),
        My::Float(_) => "FLOAT".into(),
        My::Double(_) => "DOUBLE".into(),
        My::Date(..) => "date".into(),
        My::Time(..) => "time".into(),
    }
}

/// Decodes one value. `pad_to` is the byte length of a `BINARY(n)` column (the binlog strips
/// its trailing zero bytes; a SELECT returns them).
///
/// Representation choices: unsigned integers of any width are `UInt`, signed ones `Int`;
/// BOOL/TINYINT(1) is `Int` (the stored value, normally 0 or 1); FLOAT is widened exactly from
/// f32; TIMESTAMP is `DateTime` holding UTC microseconds; TIME is `Int` microseconds (signed);
/// JSON is `Text`; zero/invalid dates (`0000-00-00`) and the zero TIMESTAMP are `Null`.
pub(crate) fn decode(
    v: My,
    ty: &SourceType,
    pad_to: Option<usize>,
    origin: Origin,
) -> Result<Value, String> {
    if v == My::NULL {
        return Ok(Value::Null);
    }
    let err = |v: &My| mismatch(ty, v);
    Ok(match ty {
        SourceType::Int { bits, unsigned } => {
            reinterpret_int(raw_bits(&v).ok_or_else(|| err(&v))?, *bits, *unsigned)
        }
        SourceType::Bool => reinterpret_int(raw_bits(&v).ok_or_else(|| err(&v))?, 8, false),
        SourceType::Decimal { scale, .. } => match &v {
            My::Bytes(b) => {
                let s = std::str::from_utf8(b).map_err(|_| err(&v))?;
                let (unscaled, scale) = parse_decimal(s, *scale).ok_or_else(|| {
                    format!(
                        "decimal of {} characters does not fit scale {scale} / 38 digits",
                        s.len()
                    )
                })?;
                Value::Decimal { unscaled, scale }
            }
            My::Int(i) => Value::Decimal {
                unscaled: i128::from(*i) * 10i128.pow(u32::from(*scale)),
                scale: *scale,
            },
            _ => return Err(err(&v)),
        },
        SourceType::Float => match v {
            My::Float(f) => Value::Float(f64::from(f)),
            My::Double(d) => Value::Float(f64::from(d as f32)),
            _ => return Err(err(&v)),
        },
        SourceType::Double => match v {
            My::Double(d) => Value::Float(d),
            My::Float(f) => Value::Float(f64::from(f)),
            _ => return Err(err(&v)),
        },
        SourceType::Text => match v {
            My::Bytes(b) => Value::Text(text(b)?),
            _ => return Err(err(&v)),
        },
        SourceType::Json => match v {
            // Normalized through serde_json so binlog JSONB and SELECT text agree (MySQL).
            My::Bytes(b) => {
                let s = text(b)?;
                match serde_json::from_str::<serde_json::Value>(&s) {
                    Ok(j) => Value::Text(j.to_string()),
                    Err(_) => Value::Text(s),
                }
            }
            _ => return Err(err(&v)),
        },
        SourceType::Bytes => match v {
            My::Bytes(mut b) => {
                if let Some(n) = pad_to.filter(|n| b.len() < *n) {
                    b.resize(n, 0);
                }
                Value::Bytes(b)
            }
            _ => return Err(err(&v)),
        },
        SourceType::Enum(members) => match v {
            My::Int(_) | My::UInt(_) => {
                let idx = raw_bits(&v).unwrap_or_default();
                Value::Text(
                    enum_name(members, idx).ok_or_else(|| "ENUM index out of range".to_string())?,
                )
            }
            My::Bytes(b) => Value::Text(text(b)?),
            _ => return Err(err(&v)),
        },
        SourceType::Set(members) => match (v, origin) {
            (My::Bytes(b), Origin::Binlog) => Value::Text(
                set_members(members, &b)
                    .ok_or_else(|| "SET mask has unknown members".to_string())?,
            ),
            (My::Bytes(b), Origin::Query) => Value::Text(text(b)?),
            (My::Int(i), _) => {
                let b = i.to_le_bytes();
                Value::Text(
                    set_members(members, &b)
                        .ok_or_else(|| "SET mask has unknown members".to_string())?,
                )
            }
            (v, _) => return Err(err(&v)),
        },
        SourceType::Date => match v {
            My::Date(y, m, d, ..) => days_from_civil(i32::from(y), u32::from(m), u32::from(d))
                .map_or(Value::Null, Value::Date),
            _ => return Err(err(&v)),
        },
        SourceType::DateTime { .. } => match v {
            My::Date(y, mo, d, h, mi, s, us) => {
                datetime_micros(y, mo, d, h, mi, s, us).map_or(Value::Null, Value::DateTime)
            }
            _ => return Err(err(&v)),
        },
        SourceType::Timestamp { .. } => match (&v, origin) {
            // Binlog: epoch seconds (TIMESTAMP2 as text "secs[.frac]", old TIMESTAMP as Int).
            (My::Bytes(b), Origin::Binlog) => {
                let s = std::str::from_utf8(b).map_err(|_| err(&v))?;
                match epoch_text_micros(s).ok_or_else(|| err(&v))? {
                    0 => Value::Null,
                    us => Value::DateTime(us),
                }
            }
            (My::Int(0), Origin::Binlog) => Value::Null,
            (My::Int(s), Origin::Binlog) => Value::DateTime(s * 1_000_000),
            // SELECT with time_zone '+00:00': the UTC wall clock.
            (My::Date(y, mo, d, h, mi, s, us), _) => {
                datetime_micros(*y, *mo, *d, *h, *mi, *s, *us).map_or(Value::Null, Value::DateTime)
            }
            _ => return Err(err(&v)),
        },
        SourceType::Time { .. } => match v {
            My::Time(neg, days, h, m, s, us) => Value::Int(micros_of_time(neg, days, h, m, s, us)),
            _ => return Err(err(&v)),
        },
        SourceType::Year => match (&v, origin) {
            // The binlog gives "1900 + stored byte"; byte 0 is the year 0000.
            (My::Bytes(b), Origin::Binlog) => {
                let y: u16 = std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| err(&v))?;
                Value::Year(if y == 1900 { 0 } else { y })
            }
            (My::Bytes(b), Origin::Query) => Value::Year(
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| err(&v))?,
            ),
            (My::Int(_) | My::UInt(_), _) => {
                Value::Year(u16::try_from(raw_bits(&v).unwrap_or_default()).map_err(|_| err(&v))?)
            }
            _ => return Err(err(&v)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("-1234.56", 2), Some((-123_456, 2)));
        assert_eq!(parse_decimal("0000000005.00", 2), Some((500, 2)));
        assert_eq!(parse_decimal("-0.00", 2), Some((0, 2)));
        assert_eq!(parse_decimal("7", 2), Some((700, 2)));
        assert_eq!(parse_decimal(".5", 2), Some((50, 2)));
        assert_eq!(parse_decimal("1.5000", 2), Some((150, 2)));
        assert_eq!(parse_decimal("1.234", 2), None, "never rounds");
        assert_eq!(
            parse_decimal("99999999999999999999999999999999999999", 0),
            Some((10i128.pow(38) - 1, 0))
        );
        assert_eq!(parse_decimal("1e5", 0), None);
        assert_eq!(parse_decimal("", 0), None);
        assert_eq!(parse_decimal("-", 0), None);
    }

    #[test]
    fn dates_and_datetimes() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(0, 0, 0), None);
        assert_eq!(days_from_civil(1000, 1, 1), Some(-354_285));
        assert_eq!(datetime_micros(1970, 1, 1, 0, 0, 1, 5), Some(1_000_005));
        assert_eq!(
            datetime_micros(2024, 2, 29, 23, 59, 59, 999_999),
            Some((19_782 * 86_400 + 86_399) * 1_000_000 + 999_999)
        );
        assert_eq!(datetime_micros(0, 0, 0, 0, 0, 0, 0), None);
        assert_eq!(
            epoch_text_micros("1700000000.5"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(epoch_text_micros("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(
            micros_of_time(true, 1, 2, 0, 0, 7),
            -(26 * 3_600 * 1_000_000 + 7)
        );
    }

    #[test]
    fn enums_and_sets() {
        let m = names(&["Debit", "Debit (Prepaid)", "Credit"]);
        assert_eq!(enum_name(&m, 2).as_deref(), Some("Debit (Prepaid)"));
        assert_eq!(enum_name(&m, 0).as_deref(), Some(""));
        assert_eq!(enum_name(&m, 4), None);
        assert_eq!(set_members(&m, &[0b101]).as_deref(), Some("Debit,Credit"));
        assert_eq!(set_members(&m, &[0]).as_deref(), Some(""));
        assert_eq!(set_members(&m, &[0b1000]), None);
        let nine = names(&["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
        assert_eq!(set_members(&nine, &[0b1, 0b1]).as_deref(), Some("a,i"));
    }

    #[test]
    fn integers_follow_the_column_signedness() {
        assert_eq!(
            reinterpret_int(-1i64 as u64, 64, true),
            Value::UInt(u64::MAX)
        );
        assert_eq!(reinterpret_int(u64::MAX, 64, false), Value::Int(-1));
        assert_eq!(reinterpret_int(-56i64 as u64, 8, true), Value::UInt(200));
        assert_eq!(reinterpret_int(200, 8, false), Value::Int(-56));
        assert_eq!(
            reinterpret_int(-1i64 as u64, 24, true),
            Value::UInt(16_777_215)
        );
        assert_eq!(reinterpret_int(42, 32, false), Value::Int(42));
    }

    #[test]
    fn both_origins_agree() {
        let enum_ty = SourceType::Enum(names(&["a b", "c (d)"]));
        let b = decode(My::Int(2), &enum_ty, None, Origin::Binlog).unwrap();
        let q = decode(My::Bytes(b"c (d)".to_vec()), &enum_ty, None, Origin::Query).unwrap();
        assert_eq!(b, q);
        let set_ty = SourceType::Set(names(&["x", "y", "z"]));
        let b = decode(My::Bytes(vec![0b110]), &set_ty, None, Origin::Binlog).unwrap();
        let q = decode(My::Bytes(b"y,z".to_vec()), &set_ty, None, Origin::Query).unwrap();
        assert_eq!((b.clone(), q), (Value::Text("y,z".into()), b));
        let y_b = decode(
            My::Bytes(b"2024".to_vec()),
            &SourceType::Year,
            None,
            Origin::Binlog,
        )
        .unwrap();
        assert_eq!(
            y_b,
            decode(My::Int(2024), &SourceType::Year, None, Origin::Query).unwrap()
        );
        let ts = SourceType::Timestamp { fsp: 3 };
        let b = decode(
            My::Bytes(b"86400.250000".to_vec()),
            &ts,
            None,
            Origin::Binlog,
        )
        .unwrap();
        let q = decode(
            My::Date(1970, 1, 2, 0, 0, 0, 250_000),
            &ts,
            None,
            Origin::Query,
        )
        .unwrap();
        assert_eq!(b, q);
        let bin = decode(
            My::Bytes(b"ab".to_vec()),
            &SourceType::Bytes,
            Some(4),
            Origin::Binlog,
        )
        .unwrap();
        assert_eq!(bin, Value::Bytes(b"ab\0\0".to_vec()));
        let big = decode(
            My::Int(-1),
            &SourceType::Int {
                bits: 64,
                unsigned: true,
            },
            None,
            Origin::Binlog,
        )
        .unwrap();
        assert_eq!(big, Value::UInt(u64::MAX));
        let f = decode(My::Float(0.1), &SourceType::Float, None, Origin::Binlog).unwrap();
        assert_eq!(f, Value::Float(f64::from(0.1f32)));
    }

    #[test]
    fn decode_errors_never_quote_the_value() {
        let card = "4111-1111-1111-1111";
        let ty = SourceType::Int {
            bits: 64,
            unsigned: false,
        };
        let e = decode(My::Bytes(card.into()), &ty, None, Origin::Binlog).unwrap_err();
        assert!(!e.contains(card), "{e}");
        assert!(e.contains("byte string (19 bytes)"), "{e}");
        let dec = SourceType::Decimal {
            precision: 4,
            scale: 1,
        };
        let e = decode(My::Bytes(b"4111.11".to_vec()), &dec, None, Origin::Query).unwrap_err();
        assert!(!e.contains("4111"), "{e}");
        let e = decode(My::Date(2024, 1, 2, 3, 4, 5, 0), &ty, None, Origin::Binlog).unwrap_err();
        assert!(!e.contains("2024"), "{e}");
    }
}
