//! The shape of a captured source table, independent of where it came from (information_schema,
//! binlog table maps, Debezium schemas) and of where it goes (Delta/Arrow).

use serde::{Deserialize, Serialize};

/// A source column type, with what exactness needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceType {
    /// TINYINT..BIGINT; `bits` is 8, 16, 24, 32 or 64.
    Int {
        bits: u8,
        unsigned: bool,
    },
    /// TINYINT(1) / BOOLEAN.
    Bool,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Float,
    Double,
    /// CHAR/VARCHAR/TEXT (utf8mb4).
    Text,
    /// BINARY/VARBINARY/BLOB.
    Bytes,
    /// ENUM, with its values in declaration order (binlog rows carry the 1-based index).
    Enum(Vec<String>),
    /// SET, with its members (binlog rows carry a bit mask).
    Set(Vec<String>),
    Date,
    /// DATETIME: wall clock, no zone.
    DateTime {
        fsp: u8,
    },
    /// TIMESTAMP: an instant (UTC).
    Timestamp {
        fsp: u8,
    },
    Time {
        fsp: u8,
    },
    Year,
    Json,
}

impl SourceType {
    /// Parses an information_schema `COLUMN_TYPE` such as `decimal(12,2)`, `int(10) unsigned`,
    /// `enum('a','b')`, `datetime(3)`, `tinyint(1)`.
    pub fn parse(column_type: &str) -> Option<Self> {
        let t = column_type.trim().to_ascii_lowercase();
        let unsigned = t.contains("unsigned");
        let (base, args) = match t.find('(') {
            Some(i) => {
                let close = t.rfind(')')?;
                (&t[..i], &column_type.trim()[i + 1..close])
            }
            None => (t.split_whitespace().next()?, ""),
        };
        let num = |i: usize| -> Option<u8> { args.split(',').nth(i)?.trim().parse().ok() };
        let fsp = || num(0).unwrap_or(0);
        let list = || -> Vec<String> {
            // 'a','b','it''s' -> a, b, it's
            let mut out = Vec::new();
            let mut cur = String::new();
            let mut chars = args.chars().peekable();
            let mut inside = false;
            while let Some(c) = chars.next() {
                match (c, inside) {
                    ('\'', false) => inside = true,
                    ('\'', true) if chars.peek() == Some(&'\'') => {
                        cur.push('\'');
                        chars.next();
                    }
                    ('\'', true) => {
                        inside = false;
                        out.push(std::mem::take(&mut cur));
                    }
                    (c, true) => cur.push(c),
                    _ => {}
                }
            }
            out
        };
        Some(match base {
            "tinyint" if args.trim() == "1" && !unsigned => SourceType::Bool,
            "bool" | "boolean" => SourceType::Bool,
            "tinyint" => SourceType::Int { bits: 8, unsigned },
            "smallint" => SourceType::Int { bits: 16, unsigned },
            "mediumint" => SourceType::Int { bits: 24, unsigned },
            "int" | "integer" => SourceType::Int { bits: 32, unsigned },
            "bigint" => SourceType::Int { bits: 64, unsigned },
            "decimal" | "numeric" => SourceType::Decimal {
                precision: num(0).unwrap_or(10),
                scale: num(1).unwrap_or(0),
            },
            "float" => SourceType::Float,
            "double" | "real" => SourceType::Double,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                SourceType::Text
            }
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                SourceType::Bytes
            }
            "enum" => SourceType::Enum(list()),
            "set" => SourceType::Set(list()),
            "date" => SourceType::Date,
            "datetime" => SourceType::DateTime { fsp: fsp() },
            "timestamp" => SourceType::Timestamp { fsp: fsp() },
            "time" => SourceType::Time { fsp: fsp() },
            "year" => SourceType::Year,
            "json" => SourceType::Json,
            _ => return None,
        })
    }
}

/// One column of a captured table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub source_type: SourceType,
    pub nullable: bool,
}

/// A captured table: columns in ordinal order, primary-key column indexes in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<Column>,
    pub key: Vec<usize>,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_information_schema_types() {
        let p = |s: &str| SourceType::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(
            p("decimal(12,2)"),
            SourceType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        assert_eq!(
            p("bigint(20) unsigned"),
            SourceType::Int {
                bits: 64,
                unsigned: true
            }
        );
        assert_eq!(
            p("bigint unsigned"),
            SourceType::Int {
                bits: 64,
                unsigned: true
            }
        );
        assert_eq!(
            p("int(11)"),
            SourceType::Int {
                bits: 32,
                unsigned: false
            }
        );
        assert_eq!(p("tinyint(1)"), SourceType::Bool);
        assert_eq!(
            p("tinyint(3) unsigned"),
            SourceType::Int {
                bits: 8,
                unsigned: true
            }
        );
        assert_eq!(p("datetime"), SourceType::DateTime { fsp: 0 });
        assert_eq!(p("datetime(6)"), SourceType::DateTime { fsp: 6 });
        assert_eq!(p("year(4)"), SourceType::Year);
        assert_eq!(p("varchar(64)"), SourceType::Text);
        assert_eq!(
            p("enum('Swipe Transaction','Chip Transaction','it''s')"),
            SourceType::Enum(vec![
                "Swipe Transaction".into(),
                "Chip Transaction".into(),
                "it's".into()
            ])
        );
        assert_eq!(
            p("enum('Debit','Debit (Prepaid)')"),
            SourceType::Enum(vec!["Debit".into(), "Debit (Prepaid)".into()])
        );
        assert_eq!(SourceType::parse("geometry"), None);
    }
}
