//! `finlake status`: per table, the applied position against the source's binlog head, the
//! last reported lag and rate, dead letters and rows.

use super::Result;
use crate::ingest::binlog;
use crate::ingest::event::Position;
use crate::lake::{BINLOG_APP_ID, DeadLetterTable, Lake, StatusTable, layout_for};

/// One table's line of `finlake status`.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub table: String,
    pub applied: Option<Position>,
    /// How far the applied position is behind the source's binlog head.
    pub behind: String,
    pub lag_ms: Option<i64>,
    pub events_per_sec: Option<f64>,
    pub dead_letters: usize,
    pub rows: usize,
}

impl std::fmt::Display for StatusRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let applied = self.applied.as_ref().map_or("none".to_string(), |p| {
            format!(
                "{}:{}{}",
                p.file,
                p.pos,
                if p.snapshot { " (snapshot)" } else { "" }
            )
        });
        write!(
            f,
            "{:<14} {:>24} {:>12} {:>10} {:>10} {:>9} {:>12}",
            self.table,
            applied,
            self.behind,
            self.lag_ms.map_or("-".into(), |l| l.to_string()),
            self.events_per_sec
                .map_or("-".into(), |r| format!("{r:.1}")),
            self.dead_letters,
            self.rows
        )
    }
}

/// Where each table stands: its applied position against the source's binlog head, the last
/// reported lag and rate, its dead letters and rows.
pub async fn status(source_url: &str, lake: &Lake, tables: &[String]) -> Result<Vec<StatusRow>> {
    let head = binlog::head(source_url).await?;
    let schemas = binlog::table_schemas(source_url, tables).await?;
    let mut dead = DeadLetterTable::open(lake).await?.count_by_table().await?;
    let reports = StatusTable::open(lake).await?.latest().await?;
    let app_id = BINLOG_APP_ID;
    let mut out = Vec::with_capacity(schemas.len());
    for schema in schemas {
        let mut bronze = lake
            .open_table_with(&schema, layout_for(&schema.name))
            .await?;
        let report = reports
            .iter()
            .find(|r| r.table == schema.name && r.app_id == app_id);
        let durable = bronze.applied(app_id).await?;
        let reported = report.and_then(|r| {
            Some(Position::new(
                r.applied_file.clone()?,
                u64::try_from(r.applied_pos?).ok()?,
                0,
            ))
        });
        let applied = match (durable, reported) {
            (Some(d), Some(r)) if r > d => Some(r),
            (d, r) => d.or(r),
        };
        let behind = match (&applied, &head) {
            (None, _) => "not started".to_string(),
            (Some(a), Some(h)) if a.file == h.file => {
                format!("{} B", h.pos.saturating_sub(a.pos))
            }
            (Some(a), Some(h)) => format!("{} → {}", a.file, h.file),
            (Some(_), None) => "?".to_string(),
        };
        out.push(StatusRow {
            rows: bronze.row_count().await?,
            dead_letters: dead.remove(&schema.name).unwrap_or(0),
            lag_ms: report.and_then(|r| r.lag_ms),
            events_per_sec: report.map(|r| r.events_per_sec),
            table: schema.name,
            applied,
            behind,
        });
    }
    Ok(out)
}
