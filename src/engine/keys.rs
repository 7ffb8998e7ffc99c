//! Primary keys of lake tables, for GetPrimaryKeys.
//!
//! In order of precedence: the Delta table's configuration `finlake.primary_key`
//! (comma-separated column names, if a writer recorded it), the captured source schemas the
//! ingestion loop reads (`serve` passes them when it ingests), and the compiled-in source DDL
//! (`infra/mysql/schema.sql`). Bronze tables mirror source tables, so a bronze table has its
//! source table's key; `__changes` histories and derived tables have none unless recorded.

use std::collections::HashMap;

use crate::ingest::schema::TableSchema;
use crate::source::schema::{SCHEMA_SQL, statements};

/// Delta configuration key holding a table's primary key columns, comma-separated.
pub const PRIMARY_KEY_CONFIG: &str = "finlake.primary_key";

/// Primary keys of source tables, by table name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCatalog {
    keys: HashMap<String, Vec<String>>,
}

impl KeyCatalog {
    /// The keys declared in the compiled-in source DDL.
    pub fn from_source_ddl() -> Self {
        Self::from_ddl(SCHEMA_SQL)
    }

    /// Parses `CREATE TABLE [IF NOT EXISTS] name (... PRIMARY KEY (a, b) ...)` statements.
    pub fn from_ddl(ddl: &str) -> Self {
        let mut keys = HashMap::new();
        for stmt in statements(ddl) {
            let upper = stmt.to_ascii_uppercase();
            let Some(rest) = upper.strip_prefix("CREATE TABLE") else {
                continue;
            };
            let offset = stmt.len() - rest.len();
            let rest_orig = &stmt[offset..];
            let rest_orig = rest_orig
                .trim_start()
                .strip_prefix_ci("IF NOT EXISTS")
                .unwrap_or(rest_orig.trim_start());
            let name: String = rest_orig
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '`')
                .filter(|c| *c != '`')
                .collect();
            let Some(at) = upper.find("PRIMARY KEY") else {
                continue;
            };
            let after = &stmt[at + "PRIMARY KEY".len()..];
            let (Some(open), Some(close)) = (after.find('('), after.find(')')) else {
                continue;
            };
            if open > close {
                continue;
            }
            let columns: Vec<String> = after[open + 1..close]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            if !name.is_empty() && !columns.is_empty() {
                keys.insert(name, columns);
            }
        }
        Self { keys }
    }

    /// Keys from captured source schemas override the DDL's.
    pub fn with_schemas(mut self, schemas: &[TableSchema]) -> Self {
        for s in schemas {
            let cols: Vec<String> = s
                .key
                .iter()
                .filter_map(|&i| s.columns.get(i).map(|c| c.name.clone()))
                .collect();
            if !cols.is_empty() {
                self.keys.insert(s.name.clone(), cols);
            }
        }
        self
    }

    /// The key of a lake table: its recorded configuration, else (bronze mirrors only) its
    /// source table's.
    pub fn key_for(
        &self,
        layer: &str,
        table: &str,
        configuration: Option<&str>,
        columns: &[&str],
    ) -> Vec<String> {
        if let Some(c) = configuration {
            let cols: Vec<String> = c
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if !cols.is_empty() {
                return cols;
            }
        }
        if layer != "bronze" {
            return Vec::new();
        }
        match self.keys.get(table) {
            // Only when the table really has those columns.
            Some(k) if k.iter().all(|c| columns.contains(&c.as_str())) => k.clone(),
            _ => Vec::new(),
        }
    }
}

trait StripPrefixCi {
    fn strip_prefix_ci(&self, prefix: &str) -> Option<&str>;
}

impl StripPrefixCi for str {
    fn strip_prefix_ci(&self, prefix: &str) -> Option<&str> {
        let head = self.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix)
            .then(|| &self[prefix.len()..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ddl_keys() {
        let k = KeyCatalog::from_source_ddl();
        let cols = ["id", "client_id", "transaction_id", "mcc"];
        assert_eq!(k.key_for("bronze", "users", None, &cols), ["id"]);
        assert_eq!(k.key_for("bronze", "mcc_codes", None, &cols), ["mcc"]);
        assert_eq!(
            k.key_for("bronze", "fraud_labels", None, &cols),
            ["transaction_id"]
        );
        // Histories and other layers have no key unless recorded.
        assert!(
            k.key_for("bronze", "users__changes", None, &cols)
                .is_empty()
        );
        assert!(k.key_for("gold", "users", None, &cols).is_empty());
        assert_eq!(k.key_for("gold", "x", Some("a, b"), &cols), ["a", "b"]);
        // A key column missing from the table: no key.
        assert!(k.key_for("bronze", "users", None, &["other"]).is_empty());
    }

    #[test]
    fn ddl_parsing() {
        let k = KeyCatalog::from_ddl(
            "CREATE TABLE IF NOT EXISTS a (x INT, y INT, PRIMARY KEY (x, `y`));\n\
             create table b (z INT NOT NULL, primary key (z));\n\
             CREATE TABLE c (w INT);\n",
        );
        assert_eq!(k.key_for("bronze", "a", None, &["x", "y"]), ["x", "y"]);
        assert_eq!(k.key_for("bronze", "b", None, &["z"]), ["z"]);
        assert!(k.key_for("bronze", "c", None, &["w"]).is_empty());
    }
}
