//! How a [`Position`] is stored: the `_pos_file` / `_pos` / `_pos_row` columns (whose SQL
//! order equals `Position`'s order) and the Delta application-transaction version.

use super::{Error, Result};
use crate::ingest::event::Position;

/// `_pos_row`: the row index, with snapshot rows shifted below zero so that the SQL order of
/// `(_pos_file, _pos, _pos_row)` equals [`Position`]'s order (snapshot rows rank below the
/// streamed rows at the same offset). Rows must be below 2^31.
pub fn pos_row(p: &Position) -> Result<i32> {
    let row = i64::from(p.row);
    if row > i64::from(i32::MAX) {
        return Err(Error::Position(format!(
            "row index {} of {p:?} exceeds 2^31-1",
            p.row
        )));
    }
    let v = if p.snapshot { row - (1i64 << 31) } else { row };
    Ok(v as i32)
}

/// Inverse of the `_pos*` columns.
pub fn position_from_columns(file: &str, pos: i64, row: i32) -> Position {
    let snapshot = row < 0;
    let r = if snapshot {
        (i64::from(row) + (1i64 << 31)) as u32
    } else {
        row as u32
    };
    Position {
        file: file.to_owned(),
        pos: pos as u64,
        snapshot,
        row: r,
    }
}

/// `_pos`: the offset as Int64.
pub fn pos_offset(p: &Position) -> Result<i64> {
    i64::try_from(p.pos).map_err(|_| Error::Position(format!("offset of {p:?} exceeds i64")))
}

/// The Delta application-transaction version of a position: binlog file sequence number
/// (`mysql-bin.000042` -> 42) * 2^32 + offset. Monotone (non-decreasing) in [`Position`]'s
/// order; positions differing only in snapshot flag or row share a version, which is why the
/// exact position is also stored in the commit metadata.
pub fn encode_version(p: &Position) -> Result<i64> {
    let digits: String = p.file.rsplit('.').next().unwrap_or_default().to_owned();
    let seq: i64 = digits
        .parse()
        .ok()
        .filter(|s| (0..1i64 << 31).contains(s))
        .ok_or_else(|| {
            Error::Position(format!(
                "no binlog sequence number in file name {:?}",
                p.file
            ))
        })?;
    if p.pos >= 1u64 << 32 {
        return Err(Error::Position(format!(
            "offset {} of {:?} exceeds 2^32",
            p.pos, p.file
        )));
    }
    Ok((seq << 32) | p.pos as i64)
}
