//! Captured tables' shapes, read from information_schema.

use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::{Error, Result};
use crate::ingest::schema::{Column, SourceType, TableSchema};

/// A captured table with what decoding needs beyond its [`TableSchema`].
#[derive(Debug)]
pub(crate) struct TableInfo {
    pub(crate) name: Arc<str>,
    pub(crate) schema: TableSchema,
    /// Byte length of `BINARY(n)` columns (the binlog strips their trailing zero bytes).
    pub(crate) pad_to: Vec<Option<usize>>,
}

/// `binary(16)` -> 16.
fn binary_len(column_type: &str) -> Option<usize> {
    let t = column_type.trim().to_ascii_lowercase();
    t.strip_prefix("binary(")?
        .strip_suffix(')')?
        .trim()
        .parse()
        .ok()
}

/// Backquotes an identifier.
pub(crate) fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Reads the schema of each table of `db`: columns in ordinal order (type from COLUMN_TYPE),
/// key from the PRIMARY KEY in key order.
pub(crate) async fn load(conn: &mut Conn, db: &str, tables: &[String]) -> Result<Vec<TableInfo>> {
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let cols: Vec<(String, String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (db, table),
            )
            .await?;
        if cols.is_empty() {
            return Err(Error::TableNotFound {
                database: db.to_string(),
                table: table.clone(),
            });
        }
        let key_names: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
                (db, table),
            )
            .await?;
        let mut columns = Vec::with_capacity(cols.len());
        let mut pad_to = Vec::with_capacity(cols.len());
        for (name, column_type, nullable) in cols {
            let source_type =
                SourceType::parse(&column_type).ok_or_else(|| Error::UnsupportedType {
                    table: table.clone(),
                    column: name.clone(),
                    column_type: column_type.clone(),
                })?;
            pad_to.push(binary_len(&column_type));
            columns.push(Column {
                name,
                source_type,
                nullable: nullable.eq_ignore_ascii_case("YES"),
            });
        }
        let mut schema = TableSchema {
            name: table.clone(),
            columns,
            key: Vec::new(),
        };
        for k in &key_names {
            let i = schema.column_index(k).ok_or_else(|| Error::NoPrimaryKey {
                table: table.clone(),
            })?;
            schema.key.push(i);
        }
        if schema.key.is_empty() {
            return Err(Error::NoPrimaryKey {
                table: table.clone(),
            });
        }
        out.push(TableInfo {
            name: Arc::from(table.as_str()),
            schema,
            pad_to,
        });
    }
    Ok(out)
}

/// The default of each column of `db.table` as literal text (`None`: no default or NULL).
/// MariaDB quotes string defaults (`'retail'`) and spells NULL out; MySQL gives the bare value
/// and SQL NULL. Expression defaults (`current_timestamp()`) are returned as written.
pub(crate) async fn defaults(
    conn: &mut Conn,
    db: &str,
    table: &str,
) -> Result<std::collections::HashMap<String, Option<String>>> {
    let rows: Vec<(String, Option<String>)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db, table),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, d)| (name, d.and_then(|d| default_literal(&d))))
        .collect())
}

/// `'it''s'` -> `it's`; `NULL` -> None; `12.50` -> `12.50`.
fn default_literal(d: &str) -> Option<String> {
    let d = d.trim();
    if d.eq_ignore_ascii_case("NULL") {
        return None;
    }
    match d.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(inner) => Some(inner.replace("''", "'").replace("\\\\", "\\")),
        None => Some(d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_lengths_and_quoting() {
        assert_eq!(binary_len("binary(16)"), Some(16));
        assert_eq!(binary_len("varbinary(16)"), None);
        assert_eq!(binary_len("blob"), None);
        assert_eq!(quote("we`ird"), "`we``ird`");
        assert_eq!(default_literal("'it''s'"), Some("it's".into()));
        assert_eq!(default_literal("NULL"), None);
        assert_eq!(default_literal("12.50"), Some("12.50".into()));
    }
}
