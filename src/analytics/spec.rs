//! Reflection declarations: `-- reflection:` comment lines in the view files of `sql/`.
//!
//! ```text
//! -- reflection: tx_minute kind=aggregation source=transactions key=id dims=minute,channel measures=amount
//! ```
//! An aggregation reflection over a view that derives one row per row of one bronze table
//! (`source`, primary key `key`): it stores, per combination of `dims`, the row count and for
//! each measure its sum, min, max and non-null count, so that COUNT, SUM, MIN, MAX (and AVG of
//! non-decimal measures) over any coarser grouping, filtered on the dims, roll up from it.
//! Rows are bucketed by the month of the first dim (`_month`), the Delta partition column.

use super::views::{ViewDef, view_defs};
use super::{Error, Result};

/// One declared aggregation reflection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectionSpec {
    pub name: String,
    /// The view it materialises an aggregation of (`silver`, `transactions_base`).
    pub view_schema: String,
    pub view_name: String,
    pub view_sql: String,
    /// The bronze table the view reads (one row of the view per row of it).
    pub source: String,
    /// The source's primary-key column, as named in the view.
    pub key: String,
    pub dims: Vec<String>,
    pub measures: Vec<String>,
}

impl ReflectionSpec {
    /// The first dim, a timestamp, buckets rows into `_month` partitions.
    pub fn time_dim(&self) -> &str {
        &self.dims[0]
    }
}

/// Parses one `-- reflection:` line.
pub fn parse_line(line: &str, view: &ViewDef) -> Result<ReflectionSpec> {
    let rest = line
        .trim()
        .trim_start_matches("--")
        .trim()
        .strip_prefix("reflection:")
        .ok_or_else(|| Error::Spec(format!("not a reflection line: {line}")))?;
    let mut words = rest.split_whitespace();
    let name = words
        .next()
        .ok_or_else(|| Error::Spec(format!("reflection without a name: {line}")))?;
    let (mut kind, mut source, mut key, mut dims, mut measures) = (None, None, None, None, None);
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| Error::Spec(format!("{name}: expected key=value, got {w}")))?;
        let list = || v.split(',').map(str::to_owned).collect::<Vec<_>>();
        match k {
            "kind" => kind = Some(v.to_owned()),
            "source" => source = Some(v.to_owned()),
            "key" => key = Some(v.to_owned()),
            "dims" => dims = Some(list()),
            "measures" => measures = Some(list()),
            _ => return Err(Error::Spec(format!("{name}: unknown setting {k}"))),
        }
    }
    if kind.as_deref() != Some("aggregation") {
        return Err(Error::Spec(format!(
            "{name}: only kind=aggregation is supported"
        )));
    }
    fn need<T>(o: Option<T>, name: &str, what: &str) -> Result<T> {
        o.ok_or_else(|| Error::Spec(format!("{name}: missing {what}=")))
    }
    let spec = ReflectionSpec {
        name: name.to_owned(),
        view_schema: view.schema.clone(),
        view_name: view.name.clone(),
        view_sql: view.sql.clone(),
        source: need(source, name, "source")?,
        key: need(key, name, "key")?,
        dims: need(dims, name, "dims")?,
        measures: need(measures, name, "measures")?,
    };
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let all = std::iter::once(&spec.name)
        .chain([&spec.source, &spec.key])
        .chain(&spec.dims)
        .chain(&spec.measures);
    if let Some(bad) = all.into_iter().find(|s| !ident(s)) {
        return Err(Error::Spec(format!("{name}: bad identifier {bad:?}")));
    }
    if spec.dims.is_empty() {
        return Err(Error::Spec(format!("{name}: no dims")));
    }
    Ok(spec)
}

/// Every reflection declared in `sql/`.
pub fn reflection_specs() -> Result<Vec<ReflectionSpec>> {
    let mut out = Vec::new();
    for view in view_defs()? {
        for line in view.sql.lines() {
            if line.trim_start().starts_with("-- reflection:") {
                out.push(parse_line(line, &view)?);
            }
        }
    }
    Ok(out)
}
