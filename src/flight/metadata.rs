//! Catalog metadata answers (GetCatalogs, GetDbSchemas, GetTables, GetTableTypes,
//! GetPrimaryKeys and the foreign-key commands) with the column names and types the Flight
//! SQL specification gives.

use std::sync::{Arc, LazyLock};

use arrow_flight::error::FlightError;
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTableTypes,
    CommandGetTables,
};
use datafusion::arrow::array::{Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use crate::engine::{TableInfo, TableKind};

pub fn catalogs(cmd: CommandGetCatalogs, catalog: &str) -> Result<RecordBatch, FlightError> {
    let mut b = cmd.into_builder();
    b.append(catalog);
    b.build()
}

pub fn db_schemas(
    cmd: CommandGetDbSchemas,
    catalog: &str,
    schemas: &[String],
) -> Result<RecordBatch, FlightError> {
    let mut b = cmd.into_builder();
    for s in schemas {
        b.append(catalog, s);
    }
    b.build()
}

pub fn tables(cmd: CommandGetTables, tables: &[TableInfo]) -> Result<RecordBatch, FlightError> {
    let mut b = cmd.into_builder();
    for t in tables {
        b.append(
            &t.catalog,
            &t.schema,
            &t.name,
            t.kind.as_str(),
            &t.arrow_schema,
        )?;
    }
    b.build()
}

pub fn table_types(cmd: CommandGetTableTypes) -> Result<RecordBatch, FlightError> {
    let mut b = cmd.into_builder();
    for k in TableKind::ALL {
        b.append(k.as_str());
    }
    b.build()
}

/// The schema of GetPrimaryKeys results.
pub static PRIMARY_KEYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
});

/// Primary key columns of the table the command names (catalog and schema are optional
/// filters; the table is required by the specification).
pub fn primary_keys(
    cmd: &CommandGetPrimaryKeys,
    tables: &[TableInfo],
) -> Result<RecordBatch, ArrowError> {
    let mut catalog = StringBuilder::new();
    let mut schema = StringBuilder::new();
    let mut table = StringBuilder::new();
    let mut column = StringBuilder::new();
    let mut key_name = StringBuilder::new();
    let mut seq = Int32Builder::new();
    for t in tables {
        if cmd.catalog.as_ref().is_some_and(|c| c != &t.catalog)
            || cmd.db_schema.as_ref().is_some_and(|s| s != &t.schema)
            || cmd.table != t.name
        {
            continue;
        }
        for (i, c) in t.primary_key.iter().enumerate() {
            catalog.append_value(&t.catalog);
            schema.append_value(&t.schema);
            table.append_value(&t.name);
            column.append_value(c);
            key_name.append_value(format!("{}_pkey", t.name));
            seq.append_value(i32::try_from(i + 1).unwrap_or(i32::MAX));
        }
    }
    RecordBatch::try_new(
        Arc::clone(&PRIMARY_KEYS_SCHEMA),
        vec![
            Arc::new(catalog.finish()),
            Arc::new(schema.finish()),
            Arc::new(table.finish()),
            Arc::new(column.finish()),
            Arc::new(key_name.finish()),
            Arc::new(seq.finish()),
        ],
    )
}

/// The schema of GetExportedKeys / GetImportedKeys / GetCrossReference results.
pub static FOREIGN_KEYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("pk_catalog_name", DataType::Utf8, true),
        Field::new("pk_db_schema_name", DataType::Utf8, true),
        Field::new("pk_table_name", DataType::Utf8, false),
        Field::new("pk_column_name", DataType::Utf8, false),
        Field::new("fk_catalog_name", DataType::Utf8, true),
        Field::new("fk_db_schema_name", DataType::Utf8, true),
        Field::new("fk_table_name", DataType::Utf8, false),
        Field::new("fk_column_name", DataType::Utf8, false),
        Field::new("key_sequence", DataType::Int32, false),
        Field::new("fk_key_name", DataType::Utf8, true),
        Field::new("pk_key_name", DataType::Utf8, true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
});

/// Foreign keys are not declared on lake tables: always empty.
pub fn no_foreign_keys() -> RecordBatch {
    RecordBatch::new_empty(Arc::clone(&FOREIGN_KEYS_SCHEMA))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    fn info(schema: &str, name: &str, key: &[&str]) -> TableInfo {
        TableInfo {
            catalog: "finlake".into(),
            schema: schema.into(),
            name: name.into(),
            kind: TableKind::Table,
            arrow_schema: Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            version: Some(1),
            committed_ms: None,
            primary_key: key.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn primary_keys_follow_the_spec() {
        let t = [
            info("bronze", "users", &["id"]),
            info("bronze", "pair", &["a", "b"]),
            info("bronze", "users__changes", &[]),
        ];
        let cmd = CommandGetPrimaryKeys {
            catalog: None,
            db_schema: Some("bronze".into()),
            table: "pair".into(),
        };
        let b = primary_keys(&cmd, &t).expect("batch");
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema_ref(), &*PRIMARY_KEYS_SCHEMA);
        let cols = b.column(3).as_string::<i32>();
        assert_eq!((cols.value(0), cols.value(1)), ("a", "b"));
        assert_eq!(
            b.column(5)
                .as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                .value(1),
            2
        );
        let none = CommandGetPrimaryKeys {
            catalog: Some("other".into()),
            db_schema: None,
            table: "users".into(),
        };
        assert_eq!(primary_keys(&none, &t).expect("batch").num_rows(), 0);
        assert_eq!(no_foreign_keys().num_columns(), 13);
        assert!(no_foreign_keys().column(0).is_empty());
    }

    #[test]
    fn tables_with_schemas_and_filters() {
        let t = [info("bronze", "users", &["id"]), info("gold", "daily", &[])];
        let cmd = CommandGetTables {
            catalog: Some("finlake".into()),
            db_schema_filter_pattern: Some("bro%".into()),
            table_name_filter_pattern: None,
            table_types: vec![],
            include_schema: true,
        };
        let b = tables(cmd, &t).expect("batch");
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.schema().field(4).name(), "table_schema");
    }
}
