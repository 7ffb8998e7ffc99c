//! Primary keys of lake tables, for GetPrimaryKeys.
//!
//! In order of precedence: the Delta table's configuration `finlake.primary_key`
//! (comma-separated column names, if a writer recorded it), then the keys whoever builds the
//! engine supplies (`serve`: the captured source schemas, over the source DDL's keys). The
//! engine knows no source: bronze tables mirror source tables, so a bronze table has the key
//! it was given for its name; `__changes` histories and derived tables have none unless
//! recorded.

use std::collections::HashMap;

use crate::ingest::schema::TableSchema;

/// Delta configuration key holding a table's primary key columns, comma-separated.
pub const PRIMARY_KEY_CONFIG: &str = "finlake.primary_key";

/// Primary keys of source tables, by table name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCatalog {
    keys: HashMap<String, Vec<String>>,
}

impl KeyCatalog {
    /// The given keys (table name, key columns), e.g. the source DDL's as whoever builds the
    /// engine knows them.
    pub fn new(keys: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .filter(|(name, cols)| !name.is_empty() && !cols.is_empty())
                .collect(),
        }
    }

    /// Keys from captured source schemas override the ones given before.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_bronze_mirrors_only() {
        let k = KeyCatalog::new([
            ("users".to_owned(), vec!["id".to_owned()]),
            ("mcc_codes".to_owned(), vec!["mcc".to_owned()]),
        ]);
        let cols = ["id", "client_id", "transaction_id", "mcc"];
        assert_eq!(k.key_for("bronze", "users", None, &cols), ["id"]);
        assert_eq!(k.key_for("bronze", "mcc_codes", None, &cols), ["mcc"]);
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
}
