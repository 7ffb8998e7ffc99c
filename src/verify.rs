//! `finlake verify`: the source and the lake compared table by table over the source columns
//! (secret columns masked on the source side with the same key), by primary key.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::ingest::binlog;
use crate::ingest::event::ChangeEvent;
use crate::ingest::mask::Masker;
use crate::ingest::schema::TableSchema;
use crate::lake::{self, Lake, layout_for};
use crate::pipeline;

/// The comparison of one table.
#[derive(Debug, Clone, Default)]
pub struct TableDiff {
    pub table: String,
    pub source_rows: usize,
    pub lake_rows: usize,
    /// Order-independent checksums over the source columns.
    pub source_checksum: u64,
    pub lake_checksum: u64,
    /// Keys (as text) present only in the source, only in the lake, or with different values.
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub changed: Vec<String>,
}

impl TableDiff {
    pub fn equal(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }
}

impl std::fmt::Display for TableDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<13} source {:>10} rows {:016x}   lake {:>10} rows {:016x}   {}",
            self.table,
            self.source_rows,
            self.source_checksum,
            self.lake_rows,
            self.lake_checksum,
            if self.equal() { "equal" } else { "DIFFERENT" }
        )?;
        for (what, keys) in [
            ("missing in lake", &self.missing),
            ("only in lake", &self.extra),
            ("different", &self.changed),
        ] {
            if !keys.is_empty() {
                let shown: Vec<&str> = keys.iter().take(10).map(String::as_str).collect();
                write!(
                    f,
                    "\n    {} {what}: key {}{}",
                    keys.len(),
                    shown.join(", "),
                    if keys.len() > 10 { ", ..." } else { "" }
                )?;
            }
        }
        Ok(())
    }
}

/// key text -> row text, over the source columns.
fn rows_by_key(
    schema: &TableSchema,
    batches: &[RecordBatch],
) -> Result<BTreeMap<String, String>, pipeline::Error> {
    let options = FormatOptions::default().with_null("\\N");
    let mut out = BTreeMap::new();
    for batch in batches {
        let mut formatters = Vec::new();
        for c in &schema.columns {
            let column = batch.column_by_name(&c.name).ok_or_else(|| {
                lake::Error::Schema(format!(
                    "lake table {} has no column {}",
                    schema.name, c.name
                ))
            })?;
            formatters.push(
                ArrayFormatter::try_new(column.as_ref(), &options).map_err(lake::Error::from)?,
            );
        }
        for row in 0..batch.num_rows() {
            let values: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            let key: Vec<&str> = schema.key.iter().map(|&i| values[i].as_str()).collect();
            out.insert(key.join("|"), values.join("\u{1f}"));
        }
    }
    Ok(out)
}

fn checksum(rows: &BTreeMap<String, String>) -> u64 {
    rows.values().fold(0u64, |acc, r| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.hash(&mut h);
        acc.wrapping_add(h.finish())
    })
}

/// Compares every table.
pub async fn verify(
    url: &str,
    lake: &Lake,
    masker: &Masker,
    tables: &[String],
) -> Result<Vec<TableDiff>, pipeline::Error> {
    let mut out = Vec::new();
    for table in tables {
        let (schema, rows) = binlog::read_table(url, table).await?;
        // Mask the source side exactly as the loop does (a CVV is NULL on both sides).
        let masked: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let mut e = ChangeEvent {
                    table: table.as_str().into(),
                    op: crate::ingest::event::Op::Read,
                    before: None,
                    after: Some(row),
                    position: crate::ingest::event::Position::snapshot("", 0, 0),
                    commit_ms: 0,
                    txid: None,
                };
                masker.mask(&schema, &mut e);
                e.after.unwrap_or_default()
            })
            .collect();
        let source_batch = lake::types::rows_to_batch(&schema, &masked)?;
        let source = rows_by_key(&schema, &[source_batch])?;
        let bronze = lake
            .open_table_with(&schema, layout_for(&schema.name))
            .await?;
        let lake_rows = rows_by_key(&schema, &bronze.read_all().await?)?;
        let mut diff = TableDiff {
            table: table.clone(),
            source_rows: source.len(),
            lake_rows: lake_rows.len(),
            source_checksum: checksum(&source),
            lake_checksum: checksum(&lake_rows),
            ..Default::default()
        };
        let lake_map: HashMap<&String, &String> = lake_rows.iter().collect();
        for (k, v) in &source {
            match lake_map.get(k) {
                None => diff.missing.push(k.clone()),
                Some(l) if *l != v => diff.changed.push(k.clone()),
                _ => {}
            }
        }
        diff.extra = lake_rows
            .keys()
            .filter(|k| !source.contains_key(*k))
            .cloned()
            .collect();
        out.push(diff);
    }
    Ok(out)
}
