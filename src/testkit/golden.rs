//! A small, hand-checkable lake built through the real apply code (bronze MERGE + change
//! history) from a text fixture of change events, commit by commit.
//!
//! ```text
//! # comment
//! commit 2019-03-01 10:00:00          <- a source transaction (its commit time, UTC)
//! c users 1|45|67|...                 <- op (r/c/u/d), table, the row's values in column order
//! d cards 7                           <- deletes give the key only
//! ```
//! Values: `\N` is NULL; decimals, dates (`2019-03-01`), date-times (`2019-03-01 10:00:00`)
//! and years as text; booleans `0`/`1`. Column order is `infra/mysql/schema.sql`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use crate::analytics::{Error, Result};
use crate::ingest::event::{ChangeEvent, Op, Position, Row, Value};
use crate::ingest::schema::{Column, SourceType, TableSchema};
use crate::lake::Lake;
use crate::lake::types::key_value;

/// The application id the golden lake is written with (the loop's default).
pub const APP_ID: &str = crate::lake::BINLOG_APP_ID;
const DDL: &str = include_str!("../../infra/mysql/schema.sql");

/// The source tables of `infra/mysql/schema.sql`.
pub fn source_schemas() -> Result<Vec<TableSchema>> {
    let mut out = Vec::new();
    let mut current: Option<(TableSchema, Vec<String>)> = None;
    for line in DDL.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            current = Some((
                TableSchema {
                    name: name.to_owned(),
                    columns: Vec::new(),
                    key: Vec::new(),
                },
                Vec::new(),
            ));
            continue;
        }
        let Some((table, key)) = current.as_mut() else {
            continue;
        };
        if l.starts_with(')') {
            let Some((mut table, key)) = current.take() else {
                continue;
            };
            table.key = key.iter().filter_map(|k| table.column_index(k)).collect();
            out.push(table);
            continue;
        }
        if let Some(k) = l.strip_prefix("PRIMARY KEY (") {
            *key = k
                .trim_end_matches(',')
                .trim_end_matches(')')
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect();
            continue;
        }
        let first = l.split_whitespace().next().unwrap_or_default();
        if l.is_empty() || l.starts_with("--") || ["KEY", "CONSTRAINT", "UNIQUE"].contains(&first) {
            continue;
        }
        let rest = l[first.len()..].trim_start();
        let type_end = match (rest.find('('), rest.find(' ')) {
            (Some(p), s) if s.is_none_or(|s| p < s) => {
                rest[p..].find(')').map_or(rest.len(), |c| p + c + 1)
            }
            (_, Some(s)) => s,
            _ => rest.len(),
        };
        let mut ty = rest[..type_end].to_owned();
        if rest[type_end..].trim_start().starts_with("UNSIGNED") {
            ty.push_str(" unsigned");
        }
        let source_type = SourceType::parse(&ty)
            .ok_or_else(|| Error::Spec(format!("schema.sql: unknown type {ty}")))?;
        table.columns.push(Column {
            name: first.to_owned(),
            source_type,
            nullable: !rest.contains("NOT NULL"),
        });
    }
    Ok(out)
}

fn parse_value(c: &Column, text: &str) -> Option<Value> {
    if text == "\\N" {
        return Some(Value::Null);
    }
    Some(match &c.source_type {
        SourceType::Date => {
            let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Value::Date((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
        }
        SourceType::DateTime { .. } | SourceType::Timestamp { .. } => Value::DateTime(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .ok()?
                .and_utc()
                .timestamp_micros(),
        ),
        SourceType::Bool => Value::Int(text.parse().ok()?),
        _ => key_value(c, text)?,
    })
}

/// One source transaction of the fixture.
#[derive(Debug, Clone)]
pub struct Commit {
    pub events: Vec<ChangeEvent>,
}

impl Commit {
    /// The position after the commit (its last event's).
    pub fn up_to(&self) -> Option<&Position> {
        self.events.last().map(|e| &e.position)
    }
}

/// Parses a fixture into commits; positions are `mysql-bin.000001` offsets 100, 200, ...
pub fn parse_fixture(text: &str) -> Result<Vec<Commit>> {
    let schemas: BTreeMap<String, TableSchema> = source_schemas()?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut commits: Vec<Commit> = Vec::new();
    let mut commit_ms = 0i64;
    let mut offset = 0u64;
    for (n, line) in text.lines().enumerate() {
        let bad = |reason: String| Error::Fixture {
            line: n + 1,
            reason,
        };
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(ts) = l.strip_prefix("commit ") {
            commit_ms = NaiveDateTime::parse_from_str(ts.trim(), "%Y-%m-%d %H:%M:%S")
                .map_err(|e| bad(format!("commit time {ts}: {e}")))?
                .and_utc()
                .timestamp_millis();
            commits.push(Commit { events: Vec::new() });
            continue;
        }
        let mut parts = l.splitn(3, ' ');
        let (op, table, values) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let op = Op::from_code(op).ok_or_else(|| bad(format!("op {op:?}")))?;
        let schema = schemas
            .get(table)
            .ok_or_else(|| bad(format!("table {table:?}")))?;
        let texts: Vec<&str> = values.split('|').collect();
        let row: Row = if op == Op::Delete {
            let mut row = vec![Value::Null; schema.columns.len()];
            for (&k, t) in schema.key.iter().zip(&texts) {
                row[k] = parse_value(&schema.columns[k], t)
                    .ok_or_else(|| bad(format!("key value {t:?}")))?;
            }
            row
        } else {
            if texts.len() != schema.columns.len() {
                return Err(bad(format!(
                    "{} values for {} columns of {table}",
                    texts.len(),
                    schema.columns.len()
                )));
            }
            schema
                .columns
                .iter()
                .zip(&texts)
                .map(|(c, t)| {
                    parse_value(c, t).ok_or_else(|| bad(format!("{}: value {t:?}", c.name)))
                })
                .collect::<Result<_>>()?
        };
        offset += 100;
        let txid = Some(format!("golden-{}", commits.len()));
        let commit = commits
            .last_mut()
            .ok_or_else(|| bad("event before the first `commit` line".into()))?;
        let (before, after) = match op {
            Op::Delete => (Some(row), None),
            _ => (None, Some(row)),
        };
        commit.events.push(ChangeEvent {
            table: Arc::from(table),
            op,
            before,
            after,
            position: Position::new("mysql-bin.000001", offset, 0),
            commit_ms,
            txid,
        });
    }
    Ok(commits)
}

/// Applies one commit to the lake's bronze and history tables, as the loop does.
pub async fn apply_commit(lake: &Lake, commit: &Commit) -> Result<()> {
    let Some(up_to) = commit.up_to() else {
        return Ok(());
    };
    let mut per_table: BTreeMap<String, Vec<ChangeEvent>> = BTreeMap::new();
    for e in &commit.events {
        per_table
            .entry(e.table.to_string())
            .or_default()
            .push(e.clone());
    }
    for schema in source_schemas()? {
        let events = per_table.remove(&schema.name).unwrap_or_default();
        let mut bronze = lake
            .open_table_with(&schema, crate::lake::layout_for(&schema.name))
            .await?;
        let mut history = lake.open_history(&schema).await?;
        if events.is_empty() && bronze.applied(APP_ID).await?.is_some() {
            continue;
        }
        bronze.apply_events(&events, up_to, APP_ID).await?;
        history.append_history(&events, up_to, APP_ID).await?;
    }
    Ok(())
}
