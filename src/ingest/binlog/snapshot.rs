//! The consistent snapshot: a position in the binlog and every row of the captured tables as of
//! that position, with no locks on MariaDB.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row as MyRow};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, instrument};

use super::decode::{Origin, decode};
use super::tables::{TableInfo, quote};
use super::{Error, Result};
use crate::ingest::event::{ChangeEvent, Op, Position, Row};

/// Rows per message from the snapshot task.
const CHUNK: usize = 1_024;

/// Session settings shared by the snapshot and [`super::read_table`]: UTC for TIMESTAMPs.
pub(super) async fn prepare_session(conn: &mut Conn) -> Result<()> {
    conn.query_drop("SET NAMES utf8mb4, time_zone = '+00:00'")
        .await?;
    Ok(())
}

/// Opens a consistent-snapshot transaction on `conn` and returns the binlog position it
/// corresponds to (the stream continues from exactly there).
///
/// MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` plus the `binlog_snapshot_file` /
/// `binlog_snapshot_position` status variables, which are consistent with the snapshot without
/// any lock. MySQL (untested here): a brief `FLUSH TABLES WITH READ LOCK` around the start of
/// the transaction and `SHOW MASTER STATUS` (`SHOW BINARY LOG STATUS` on 8.4+); needs RELOAD.
#[instrument(skip_all)]
pub(super) async fn begin(conn: &mut Conn) -> Result<Position> {
    prepare_session(conn).await?;
    let version: String = conn
        .query_first("SELECT VERSION()")
        .await?
        .unwrap_or_default();
    // Rows are streamed as the consumer takes them: a slow consumer must not make the server
    // give up writing the result (default 60 s).
    conn.query_drop("SET SESSION net_write_timeout = 86400")
        .await?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    let (file, pos) = if version.contains("MariaDB") {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await?;
        let file: Option<(String, String)> = conn
            .query_first("SHOW STATUS LIKE 'binlog_snapshot_file'")
            .await?;
        let pos: Option<(String, String)> = conn
            .query_first("SHOW STATUS LIKE 'binlog_snapshot_position'")
            .await?;
        match (file, pos) {
            (Some((_, file)), Some((_, pos))) if !file.is_empty() => {
                (file, pos.parse::<u64>().ok())
            }
            _ => return Err(Error::NoBinlog),
        }
    } else {
        conn.query_drop("FLUSH TABLES WITH READ LOCK").await?;
        let result = async {
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await?;
            let status: Option<MyRow> = match conn.query_first("SHOW MASTER STATUS").await {
                Ok(r) => r,
                Err(_) => conn.query_first("SHOW BINARY LOG STATUS").await?,
            };
            Ok::<_, Error>(status)
        }
        .await;
        conn.query_drop("UNLOCK TABLES").await?;
        let row = result?.ok_or(Error::NoBinlog)?;
        let file: Option<String> = row.get(0);
        let pos: Option<u64> = row.get(1);
        (file.ok_or(Error::NoBinlog)?, pos)
    };
    let pos = pos.ok_or(Error::NoBinlog)?;
    info!(%version, %file, pos, "consistent snapshot opened");
    Ok(Position::new(file, pos, 0))
}

/// `SELECT` of every column in ordinal order, ordered by the primary key.
pub(super) fn select_sql(db: &str, info: &TableInfo) -> String {
    let cols: Vec<String> = info.schema.columns.iter().map(|c| quote(&c.name)).collect();
    let key: Vec<String> = info
        .schema
        .key
        .iter()
        .map(|&i| quote(&info.schema.columns[i].name))
        .collect();
    format!(
        "SELECT {} FROM {}.{} ORDER BY {}",
        cols.join(", "),
        quote(db),
        quote(&info.name),
        key.join(", ")
    )
}

/// Decodes a SELECT row (binary protocol) exactly as the snapshot does.
pub(super) fn decode_row(row: MyRow, info: &TableInfo) -> Result<Row> {
    let values = row.unwrap();
    if values.len() != info.schema.columns.len() {
        return Err(Error::Protocol(format!(
            "{}: SELECT returned {} columns",
            info.name,
            values.len()
        )));
    }
    values
        .into_iter()
        .zip(&info.schema.columns)
        .zip(&info.pad_to)
        .map(|((v, col), pad)| {
            decode(v, &col.source_type, *pad, Origin::Query).map_err(|message| Error::Decode {
                table: info.name.to_string(),
                column: col.name.clone(),
                message,
            })
        })
        .collect()
}

/// The snapshot being read by a background task, in chunks of events.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) rx: mpsc::Receiver<Result<Vec<ChangeEvent>>>,
    pub(super) task: JoinHandle<()>,
}

/// Streams every row of `tables` (in key order) as `Op::Read` events at `at`, then commits the
/// snapshot transaction open on `conn`.
pub(super) fn spawn(conn: Conn, db: String, tables: Vec<Arc<TableInfo>>, at: Position) -> Running {
    let (tx, rx) = mpsc::channel(2);
    let task = tokio::spawn(async move {
        let err_tx = tx.clone();
        if let Err(e) = read_all(conn, &db, &tables, &at, tx).await {
            let _ = err_tx.send(Err(e)).await;
        }
    });
    Running { rx, task }
}

#[instrument(skip_all, fields(file = %at.file, pos = at.pos, tables = tables.len()))]
async fn read_all(
    mut conn: Conn,
    db: &str,
    tables: &[Arc<TableInfo>],
    at: &Position,
    tx: mpsc::Sender<Result<Vec<ChangeEvent>>>,
) -> Result<()> {
    let commit_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut row_index: u32 = 0;
    for info in tables {
        let stmt = conn.prep(select_sql(db, info)).await?;
        let mut result = conn.exec_iter(stmt, ()).await?;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut n: u64 = 0;
        while let Some(row) = result.next().await? {
            chunk.push(ChangeEvent {
                table: Arc::clone(&info.name),
                op: Op::Read,
                before: None,
                after: Some(decode_row(row, info)?),
                position: Position::snapshot(at.file.clone(), at.pos, row_index),
                commit_ms,
                txid: None,
            });
            row_index = row_index
                .checked_add(1)
                .ok_or_else(|| Error::Protocol("more than 2^32 snapshot rows".into()))?;
            n += 1;
            if chunk.len() >= CHUNK
                && tx
                    .send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))))
                    .await
                    .is_err()
            {
                return Ok(()); // the source was dropped
            }
        }
        drop(result);
        if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
            return Ok(());
        }
        debug!(table = %info.name, rows = n, "table snapshot read");
    }
    conn.query_drop("COMMIT").await?;
    let _ = conn.disconnect().await;
    info!(rows = row_index, "snapshot read");
    Ok(())
}
