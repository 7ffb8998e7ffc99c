//! Plain Arrow types at the boundary: `Utf8View` -> `Utf8`, `BinaryView` -> `Binary` (also
//! inside lists, structs, maps and dictionaries). JDBC, ADBC/pyarrow-based dialects and older
//! clients fail on view types; DataFusion and delta-rs may still produce them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

/// The plain counterpart of a type.
pub fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::ListView(f) | DataType::List(f) => DataType::List(plain_field(f)),
        DataType::LargeListView(f) | DataType::LargeList(f) => DataType::LargeList(plain_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(plain_field(f), *n),
        DataType::Struct(fields) => DataType::Struct(plain_fields(fields)),
        DataType::Map(f, sorted) => DataType::Map(plain_field(f), *sorted),
        DataType::Dictionary(k, v) => DataType::Dictionary(k.clone(), Box::new(plain_type(v))),
        other => other.clone(),
    }
}

fn plain_field(f: &FieldRef) -> FieldRef {
    let t = plain_type(f.data_type());
    if &t == f.data_type() {
        Arc::clone(f)
    } else {
        Arc::new(f.as_ref().clone().with_data_type(t))
    }
}

fn plain_fields(fields: &Fields) -> Fields {
    fields.iter().map(plain_field).collect()
}

/// True when the type holds no view type.
pub fn is_plain(t: &DataType) -> bool {
    &plain_type(t) == t
}

/// The schema with plain types (metadata kept).
pub fn plain_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        plain_fields(schema.fields()),
        schema.metadata().clone(),
    ))
}

/// Casts a batch to `target` (a [`plain_schema`] of the batch's schema, or the schema a plan
/// announced): columns whose type differs are cast, the others are shared.
pub fn to_schema(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema_ref() == target {
        return Ok(batch.clone());
    }
    if batch.num_columns() != target.fields().len() {
        return Err(ArrowError::SchemaError(format!(
            "batch has {} columns, schema {}",
            batch.num_columns(),
            target.fields().len()
        )));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(c, f)| -> Result<ArrayRef, ArrowError> {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(target), columns, &options)
}

/// A field of the given name and plain type.
pub fn plain(name: &str, t: &DataType, nullable: bool) -> Field {
    Field::new(name, plain_type(t), nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringViewArray, StructArray};

    #[test]
    fn view_types_become_plain_everywhere() {
        let nested = DataType::Struct(Fields::from(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("item", DataType::BinaryView, true))),
                true,
            ),
        ]));
        let plain = plain_type(&nested);
        assert!(is_plain(&plain));
        assert!(!is_plain(&nested));
        assert_eq!(
            plain,
            DataType::Struct(Fields::from(vec![
                Field::new("s", DataType::Utf8, true),
                Field::new(
                    "l",
                    DataType::List(Arc::new(Field::new("item", DataType::Binary, true))),
                    true,
                ),
            ]))
        );
        assert_eq!(plain_type(&DataType::Int64), DataType::Int64);
    }

    #[test]
    fn batches_are_cast_to_the_plain_schema() {
        let s: ArrayRef = Arc::new(StringViewArray::from(vec![Some("a"), None, Some("ccc")]));
        let st: ArrayRef = Arc::new(StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Utf8View, true)),
            Arc::clone(&s),
        )]));
        let batch = RecordBatch::try_from_iter([("s", s), ("st", st)]).expect("batch");
        let target = plain_schema(batch.schema_ref());
        let out = to_schema(&batch, &target).expect("cast");
        assert_eq!(out.schema_ref(), &target);
        assert_eq!(out.column(0).data_type(), &DataType::Utf8);
        assert_eq!(out.column(0).null_count(), 1);
        assert_eq!(out.num_rows(), 3);
        // Already plain: returned as is.
        let again = to_schema(&out, &target).expect("same");
        assert_eq!(again, out);
    }
}
