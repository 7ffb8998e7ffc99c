//! Statement parameters: JDBC/ODBC `?` placeholders numbered into DataFusion's `$1, $2, ...`,
//! the parameter schema a prepare returns, binding a one-row batch into a plan, and the Arrow
//! IPC encoding of parameter batches (for stateless handles and cache keys).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::LogicalPlan;

use super::plain::plain_type;
use super::{Error, Result};

/// Replaces each `?` placeholder outside string literals, quoted identifiers and comments by
/// `$1`, `$2`, ... in text order. SQL without `?` is returned as is.
pub fn number_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                // Copy through the closing quote; a doubled quote is an escaped one.
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == c {
                        if chars.peek() == Some(&c) {
                            out.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(c);
                let mut prev = '\0';
                for d in chars.by_ref() {
                    out.push(d);
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Placeholder ids of a plan in binding order: `$1..$n` by number, then named ones by name.
fn placeholder_ids(plan: &LogicalPlan) -> Result<Vec<(String, Option<DataType>)>> {
    let mut ids: Vec<(String, Option<DataType>)> =
        plan.get_parameter_types()?.into_iter().collect();
    ids.sort_by(|(a, _), (b, _)| {
        let num = |s: &str| s.strip_prefix('$').and_then(|n| n.parse::<usize>().ok());
        match (num(a), num(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(b),
        }
    });
    Ok(ids)
}

/// The parameter schema of a plan: one nullable field per placeholder, named by its id
/// (`$1`), typed as inferred (plain types; Utf8 when the type cannot be inferred).
pub fn parameter_schema(plan: &LogicalPlan) -> Result<SchemaRef> {
    let fields: Vec<Field> = placeholder_ids(plan)?
        .into_iter()
        .map(|(id, t)| {
            let t = t.map_or(DataType::Utf8, |t| plain_type(&t));
            Field::new(id, t, true)
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// Binds a one-row parameter batch into a plan. A column named like a placeholder (`$1`,
/// `1`, `$name`, `name`) binds it; otherwise columns bind placeholders by position. Values are
/// cast to the type the placeholder was inferred to have.
pub fn bind(plan: LogicalPlan, params: Option<&RecordBatch>) -> Result<LogicalPlan> {
    let ids = placeholder_ids(&plan)?;
    let Some(batch) = params.filter(|b| b.num_columns() > 0) else {
        if let Some((id, _)) = ids.first() {
            return Err(Error::BadRequest(format!(
                "the statement has {} parameter(s) and none were bound (first: {id})",
                ids.len()
            )));
        }
        return Ok(plan);
    };
    if ids.is_empty() {
        return Err(Error::BadRequest(format!(
            "{} parameter value(s) bound to a statement without parameters",
            batch.num_columns()
        )));
    }
    if batch.num_rows() != 1 {
        return Err(Error::BadRequest(format!(
            "bind exactly one row of parameters, got {}",
            batch.num_rows()
        )));
    }
    let schema = batch.schema();
    let by_name: HashMap<&str, usize> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name().trim_start_matches('$'), i))
        .collect();
    // By name only when every placeholder has a column of its name (clients that name
    // columns "0", "1", ... bind by position).
    let named = ids
        .iter()
        .all(|(id, _)| by_name.contains_key(id.trim_start_matches('$')));
    let mut values: HashMap<String, ScalarValue> = HashMap::new();
    for (pos, (id, t)) in ids.iter().enumerate() {
        let name = id.trim_start_matches('$');
        let column = match by_name.get(name) {
            Some(&i) if named => i,
            _ if pos < batch.num_columns() => pos,
            _ => {
                return Err(Error::BadRequest(format!(
                    "no value bound for parameter {id} ({} bound)",
                    batch.num_columns()
                )));
            }
        };
        let mut v = ScalarValue::try_from_array(batch.column(column), 0)?;
        if let Some(t) = t
            && &v.data_type() != t
        {
            v = v.cast_to(t).map_err(|e| {
                Error::BadRequest(format!("parameter {id}: cannot use {v:?} as {t}: {e}"))
            })?;
        }
        values.insert(name.to_owned(), v);
    }
    let all_numbered = ids
        .iter()
        .all(|(id, _)| id.trim_start_matches('$').parse::<usize>().is_ok());
    let param_values = if all_numbered {
        let n = ids
            .iter()
            .filter_map(|(id, _)| id.trim_start_matches('$').parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        let mut list = Vec::with_capacity(n);
        for i in 1..=n {
            list.push(values.remove(&i.to_string()).unwrap_or(ScalarValue::Null));
        }
        ParamValues::from(list)
    } else {
        ParamValues::from(values.into_iter().collect::<Vec<_>>())
    };
    Ok(plan.with_param_values(param_values)?)
}

/// A batch as Arrow IPC stream bytes.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, batch.schema_ref())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(buf)
}

/// The first batch of Arrow IPC stream bytes (an empty batch of the stream's schema when it
/// holds none).
pub fn decode_batch(bytes: &[u8]) -> Result<RecordBatch> {
    let mut r = StreamReader::try_new(Cursor::new(bytes), None)?;
    let schema = r.schema();
    match r.next() {
        Some(b) => Ok(b?),
        None => Ok(RecordBatch::new_empty(schema)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::prelude::SessionContext;

    #[test]
    fn question_marks_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            number_placeholders("select 1 where a = ? and b = ?"),
            "select 1 where a = $1 and b = $2"
        );
        assert_eq!(
            number_placeholders("select '?', \"?\" -- ?\n, ? /* ? */ , 'it''s ?' , ?"),
            "select '?', \"?\" -- ?\n, $1 /* ? */ , 'it''s ?' , $2"
        );
        assert!(matches!(number_placeholders("select $1"), Cow::Borrowed(_)));
    }

    async fn plan(sql: &str) -> LogicalPlan {
        let ctx = SessionContext::new();
        ctx.sql("create table t as values (1::bigint, 'a'), (2::bigint, 'b')")
            .await
            .expect("create")
            .collect()
            .await
            .expect("run");
        ctx.state().create_logical_plan(sql).await.expect("plan")
    }

    #[tokio::test]
    async fn parameter_types_are_inferred_and_values_cast() {
        let p = plan("select column2 from t where column1 = $1 and column2 <> $2").await;
        let schema = parameter_schema(&p).expect("schema");
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["$1", "$2"]);
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);

        // Bound by position, from strings (as the CLI client sends them): cast to Int64.
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(StringArray::from(vec!["2"])) as _),
            ("b", Arc::new(StringArray::from(vec!["zzz"])) as _),
        ])
        .expect("batch");
        let bound = bind(p.clone(), Some(&batch)).expect("bind");
        assert!(bound.get_parameter_types().expect("types").is_empty());
        assert!(format!("{bound}").contains("Int64(2)"), "{bound}");

        // Bound by name, out of order.
        let batch = RecordBatch::try_from_iter([
            ("$2", Arc::new(StringArray::from(vec!["x"])) as _),
            ("$1", Arc::new(Int64Array::from(vec![1])) as _),
        ])
        .expect("batch");
        let bound = bind(p.clone(), Some(&batch)).expect("bind");
        assert!(format!("{bound}").contains("Int64(1)"), "{bound}");

        // Columns named "0", "1" (ADBC) bind by position, not "1" to $1.
        let batch = RecordBatch::try_from_iter([
            ("0", Arc::new(Int64Array::from(vec![2])) as _),
            ("1", Arc::new(StringArray::from(vec!["zzz"])) as _),
        ])
        .expect("batch");
        let bound = bind(p.clone(), Some(&batch)).expect("bind");
        assert!(format!("{bound}").contains("Int64(2)"), "{bound}");

        // Missing parameters and bad values are the client's errors.
        assert!(matches!(bind(p.clone(), None), Err(Error::BadRequest(_))));
        let bad = RecordBatch::try_from_iter([
            ("$1", Arc::new(StringArray::from(vec!["not a number"])) as _),
            ("$2", Arc::new(StringArray::from(vec!["x"])) as _),
        ])
        .expect("batch");
        assert!(matches!(bind(p, Some(&bad)), Err(Error::BadRequest(_))));
    }

    #[test]
    fn batches_round_trip_through_ipc() {
        let batch =
            RecordBatch::try_from_iter([("$1", Arc::new(StringArray::from(vec![Some("x")])) as _)])
                .expect("batch");
        let bytes = encode_batch(&batch).expect("encode");
        assert_eq!(decode_batch(&bytes).expect("decode"), batch);
        assert!(decode_batch(b"garbage").is_err());
    }
}
