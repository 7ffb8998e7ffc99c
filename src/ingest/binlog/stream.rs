//! Reading the binlog stream: row events of captured tables, buffered per transaction and
//! released at its commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mysql_async::binlog::events::{Event, EventData, RowsEventData};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts};
use tokio::time::Instant;
use tracing::{debug, instrument, warn};

use super::decode::{Origin, decode};
use super::tables::TableInfo;
use super::{Error, Result, ddl};
use crate::ingest::event::{ChangeEvent, Op, Position, Row, SchemaChange, Undecodable};

/// Heartbeat period asked of the server when following; silence for three periods is a lost
/// connection.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// MariaDB's compressed event types (QUERY_COMPRESSED_EVENT .. DELETE_ROWS_COMPRESSED_EVENT).
const MARIADB_COMPRESSED: std::ops::RangeInclusive<u8> = 165..=171;

/// A committed source transaction: its captured row events and the position right after it.
#[derive(Debug)]
pub(super) struct Txn {
    pub(super) events: Vec<ChangeEvent>,
    /// Its row changes that could not be decoded.
    pub(super) undecodable: Vec<Undecodable>,
    pub(super) end: Position,
    /// Set for a schema statement (then `events` is empty).
    pub(super) schema_change: Option<SchemaChange>,
}

/// A schema statement on a captured table, read from the binlog (its own committed unit).
#[derive(Debug)]
pub(super) struct Ddl {
    pub(super) table: String,
    pub(super) statement: String,
    pub(super) end: Position,
}

/// What one read from the stream gave.
#[derive(Debug)]
pub(super) enum Step {
    /// A commit (possibly of a transaction with nothing captured: the position still moves).
    Commit(Txn),
    /// A schema statement on a captured table.
    Ddl(Ddl),
    /// An event inside a transaction or one with nothing to report.
    Continue,
    /// Nothing arrived before the deadline.
    Idle,
    /// The server ended the stream (non-blocking mode: everything written so far was sent).
    End,
}

pub(super) struct Reader {
    stream: BinlogStream,
    /// Where the dump was requested from (for errors).
    requested: Position,
    file: String,
    db: String,
    tables: Arc<HashMap<String, Arc<TableInfo>>>,
    pending: Vec<ChangeEvent>,
    /// Row changes of the open transaction that could not be decoded.
    pending_bad: Vec<Undecodable>,
    in_txn: bool,
    /// Start and end of a MySQL transaction payload event whose inner events are being read.
    payload: Option<(u64, u64)>,
    /// Offset of the last rows event and the next row index at that offset.
    row_at: (u64, u32),
    /// Per table id: for each captured column, its index in the binlog's row images (`None`:
    /// the column did not exist yet when the event was written), checked by name.
    mapped: HashMap<u64, Arc<Vec<Option<usize>>>>,
    last_rx: Instant,
    following: bool,
    server_id: u32,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("requested", &self.requested)
            .field("file", &self.file)
            .field("pending", &self.pending.len())
            .field("in_txn", &self.in_txn)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Requests the dump from `from` (blocking unless `non_blocking`).
    #[instrument(skip(opts, db, tables), fields(file = %from.file, pos = from.pos))]
    pub(super) async fn open(
        opts: &Opts,
        server_id: u32,
        from: &Position,
        non_blocking: bool,
        db: String,
        tables: Arc<HashMap<String, Arc<TableInfo>>>,
    ) -> Result<Self> {
        let mut conn = Conn::new(opts.clone()).await?;
        // The dump waits on its reader; a consumer busy writing must not get it dropped.
        conn.query_drop("SET SESSION net_write_timeout = 86400")
            .await?;
        if !non_blocking {
            conn.query_drop(format!(
                "SET @master_heartbeat_period = {}",
                HEARTBEAT.as_nanos()
            ))
            .await?;
        }
        let mut request = BinlogStreamRequest::new(server_id)
            .with_filename(from.file.as_bytes())
            .with_pos(from.pos);
        if non_blocking {
            request = request.with_non_blocking();
        }
        let stream = conn
            .get_binlog_stream(request)
            .await
            .map_err(|e| dump_error(e, from, server_id))?;
        debug!("binlog dump requested");
        Ok(Self {
            stream,
            requested: from.clone(),
            file: from.file.clone(),
            db,
            tables,
            pending: Vec::new(),
            pending_bad: Vec::new(),
            in_txn: false,
            payload: None,
            row_at: (0, 0),
            mapped: HashMap::new(),
            last_rx: Instant::now(),
            following: !non_blocking,
            server_id,
        })
    }

    /// The captured tables changed shape (after an `ADD COLUMN`): decode with these from now on.
    pub(super) fn set_tables(&mut self, tables: Arc<HashMap<String, Arc<TableInfo>>>) {
        self.tables = tables;
        self.mapped.clear();
    }

    /// Closes the stream's connection (best effort).
    pub(super) async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.close()).await;
    }

    /// Reads and handles one event, waiting until `deadline` at most.
    pub(super) async fn step(&mut self, deadline: Instant) -> Result<Step> {
        let event = match tokio::time::timeout_at(deadline, self.stream.next()).await {
            Err(_) => {
                if self.following && self.last_rx.elapsed() > HEARTBEAT * 3 {
                    return Err(Error::Connection(format!(
                        "no binlog event or heartbeat for {}s",
                        self.last_rx.elapsed().as_secs()
                    )));
                }
                return Ok(Step::Idle);
            }
            Ok(None) => return Ok(Step::End),
            Ok(Some(Err(e))) => return Err(dump_error(e, &self.requested, self.server_id)),
            Ok(Some(Ok(event))) => event,
        };
        self.last_rx = Instant::now();
        self.handle(&event)
    }

    fn handle(&mut self, event: &Event) -> Result<Step> {
        let header = event.header();
        let (log_pos, size) = (u64::from(header.log_pos()), u64::from(header.event_size()));
        let (start, end) = match self.payload {
            Some(outer) => outer,
            None => (log_pos.saturating_sub(size), log_pos),
        };
        if MARIADB_COMPRESSED.contains(&header.event_type_raw()) {
            return Err(Error::CompressedEvent {
                file: self.file.clone(),
                pos: start,
            });
        }
        let data = event
            .read_data()
            .map_err(|e| Error::Protocol(format!("{}:{start}: {e}", self.file)))?;
        let commit_ms = i64::from(header.timestamp()) * 1_000;
        match data {
            // The artificial rotate that opens the dump (log_pos 0) comes before the format
            // description, so the driver cannot strip its checksum from the name: the file is
            // the one requested anyway.
            Some(EventData::RotateEvent(_)) if log_pos == 0 => Ok(Step::Continue),
            Some(EventData::RotateEvent(r)) => {
                self.file = r.name().into_owned();
                if !self.in_txn && self.pending.is_empty() && self.pending_bad.is_empty() {
                    let end = Position::new(self.file.clone(), r.position(), 0);
                    return Ok(Step::Commit(Txn {
                        events: Vec::new(),
                        undecodable: Vec::new(),
                        end,
                        schema_change: None,
                    }));
                }
                Ok(Step::Continue)
            }
            Some(EventData::XidEvent(x)) => {
                Ok(self.commit(Some(x.xid.to_string()), commit_ms, end))
            }
            Some(EventData::QueryEvent(q)) => {
                let sql = q.query();
                let head = sql.trim().trim_end_matches(';').trim();
                if head.eq_ignore_ascii_case("BEGIN") {
                    self.in_txn = true;
                    return Ok(Step::Continue);
                }
                if head.eq_ignore_ascii_case("COMMIT") || head.eq_ignore_ascii_case("ROLLBACK") {
                    // A ROLLBACK ends a group whose non-transactional changes did happen.
                    return Ok(self.commit(None, commit_ms, end));
                }
                let tables = &self.tables;
                if let Some(table) =
                    ddl::touched_table(&sql, &q.schema(), &self.db, |n| tables.contains_key(n))
                {
                    // DDL commits implicitly: nothing of a transaction can be pending.
                    self.in_txn = false;
                    self.payload = None;
                    self.mapped.clear();
                    return Ok(Step::Ddl(Ddl {
                        table,
                        statement: sql.into_owned(),
                        end: Position::new(self.file.clone(), end, 0),
                    }));
                }
                if !self.in_txn && self.pending.is_empty() && ddl::targets(&sql).is_some() {
                    // DDL elsewhere: its own committed unit.
                    return Ok(self.commit(None, commit_ms, end));
                }
                Ok(Step::Continue)
            }
            Some(EventData::TransactionPayloadEvent(_)) => {
                // MySQL compressed transaction: the driver yields its inner events next, which
                // carry no offsets of their own; they are placed at the payload's offsets.
                self.payload = Some((start, end));
                Ok(Step::Continue)
            }
            Some(EventData::RowsEvent(rows)) => {
                self.rows(&rows, start)?;
                Ok(Step::Continue)
            }
            _ => Ok(Step::Continue),
        }
    }

    fn commit(&mut self, txid: Option<String>, commit_ms: i64, end: u64) -> Step {
        let mut events = std::mem::take(&mut self.pending);
        let mut undecodable = std::mem::take(&mut self.pending_bad);
        for e in events
            .iter_mut()
            .chain(undecodable.iter_mut().map(|u| &mut u.event))
        {
            e.txid.clone_from(&txid);
            e.commit_ms = commit_ms;
        }
        self.in_txn = false;
        self.payload = None;
        Step::Commit(Txn {
            events,
            undecodable,
            end: Position::new(self.file.clone(), end, 0),
            schema_change: None,
        })
    }

    fn rows(&mut self, rows: &RowsEventData<'_>, start: u64) -> Result<()> {
        let tme = self.stream.get_tme(rows.table_id()).ok_or_else(|| {
            Error::Protocol(format!(
                "{}:{start}: rows event without a table map",
                self.file
            ))
        })?;
        if tme.database_name() != self.db.as_str() {
            return Ok(());
        }
        let Some(info) = self.tables.get(tme.table_name().as_ref()) else {
            return Ok(());
        };
        let op = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => Op::Create,
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => Op::Delete,
            _ => Op::Update,
        };
        let mut row_index = if self.row_at.0 == start {
            self.row_at.1
        } else {
            0
        };
        for row in rows.rows(tme) {
            let (before, after) =
                row.map_err(|e| Error::Protocol(format!("{}:{start}: {e}", self.file)))?;
            let map = match self.mapped.get(&rows.table_id()) {
                Some(m) => Arc::clone(m),
                None => {
                    let Some(image) = before.as_ref().or(after.as_ref()) else {
                        return Err(Error::Protocol(format!(
                            "{}:{start}: row without images",
                            self.file
                        )));
                    };
                    let m = Arc::new(column_map(image, info, &self.file, start)?);
                    self.mapped.insert(rows.table_id(), Arc::clone(&m));
                    m
                }
            };
            let position = Position::new(self.file.clone(), start, row_index);
            match row_event(info, op, before, after, &map, position) {
                Ok(event) => self.pending.push(event),
                Err(RowError::Fatal(e)) => return Err(e),
                Err(RowError::Undecodable(u)) => {
                    warn!(table = %u.event.table, position = ?u.event.position, reason = %u.reason,
                        "undecodable row change: set aside as a dead letter");
                    self.pending_bad.push(*u);
                }
            }
            row_index += 1;
        }
        self.row_at = (start, row_index);
        Ok(())
    }
}

/// Where each captured column is in the binlog's row images. With `binlog_row_metadata=FULL`
/// the table map names the columns, so images written before an `ADD COLUMN` (fewer columns)
/// map by name and give NULL for the newer columns; a binlog column the captured schema lacks
/// (dropped or renamed since) is a schema change the lake cannot follow by itself. Without
/// names (`@1`, `@2`, ...) the images must match the schema column for column.
fn column_map(
    row: &BinlogRow,
    info: &TableInfo,
    file: &str,
    at: u64,
) -> Result<Vec<Option<usize>>> {
    let names: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let ncols = info.schema.columns.len();
    let change = |statement: String| Error::SchemaChange {
        table: info.name.to_string(),
        statement,
    };
    if names.iter().all(|n| n.starts_with('@')) {
        if names.len() != ncols {
            return Err(change(format!(
                "(binlog table map at {file}:{at} has {} columns, the captured schema {ncols}; \
                 set binlog_row_metadata=FULL to follow ADD COLUMN)",
                names.len()
            )));
        }
        return Ok((0..ncols).map(Some).collect());
    }
    for n in &names {
        if info.schema.column_index(n).is_none() {
            return Err(change(format!(
                "(binlog column {n:?} at {file}:{at} is not in the captured schema)"
            )));
        }
    }
    Ok(info
        .schema
        .columns
        .iter()
        .map(|c| names.iter().position(|n| *n == c.name))
        .collect())
}

/// Why a row change gave no event: the stream cannot go on, or this one change cannot be
/// decoded (a dead letter; the stream goes on).
#[derive(Debug)]
enum RowError {
    Fatal(Error),
    Undecodable(Box<Undecodable>),
}

/// Decodes one row change of a rows event at `position`.
fn row_event(
    info: &TableInfo,
    op: Op,
    before: Option<BinlogRow>,
    after: Option<BinlogRow>,
    map: &[Option<usize>],
    position: Position,
) -> std::result::Result<ChangeEvent, RowError> {
    let mut event = ChangeEvent {
        table: Arc::clone(&info.name),
        op,
        before: None,
        after: None,
        position,
        commit_ms: 0,
        txid: None,
    };
    let images = before
        .map(|r| image(r, info, map))
        .transpose()
        .and_then(|b| Ok((b, after.map(|r| image(r, info, map)).transpose()?)));
    let (before, after) = match images {
        Ok(images) => images,
        Err(e @ Error::Decode { .. }) => {
            return Err(RowError::Undecodable(Box::new(Undecodable {
                event,
                reason: e.to_string(),
            })));
        }
        Err(e) => return Err(RowError::Fatal(e)),
    };
    let ok = match op {
        Op::Create => after.is_some(),
        Op::Delete => before.is_some(),
        _ => before.is_some() && after.is_some(),
    };
    if !ok {
        return Err(RowError::Fatal(Error::Protocol(format!(
            "{}:{}: {op:?} row without its image",
            event.position.file, event.position.pos
        ))));
    }
    event.before = before;
    event.after = after;
    Ok(event)
}

/// Decodes a full row image into the captured schema's column order.
fn image(row: BinlogRow, info: &TableInfo, map: &[Option<usize>]) -> Result<Row> {
    let present = map.iter().filter(|m| m.is_some()).count();
    if row.len() != present {
        return Err(Error::Protocol(format!(
            "{}: row image has {} of {present} columns; the server must run with binlog_row_image=FULL",
            info.name,
            row.len(),
        )));
    }
    let decode_err = |col: &str, message: String| Error::Decode {
        table: info.name.to_string(),
        column: col.to_string(),
        message,
    };
    let mut values: Vec<Option<BinlogValue<'static>>> =
        row.unwrap().into_iter().map(Some).collect();
    info.schema
        .columns
        .iter()
        .zip(&info.pad_to)
        .zip(map)
        .map(|((col, pad), m)| {
            let Some(v) = m.and_then(|i| values.get_mut(i)).and_then(Option::take) else {
                return Ok(crate::ingest::event::Value::Null);
            };
            let v = match v {
                BinlogValue::Value(v) => v,
                BinlogValue::JsonDiff(_) => {
                    return Err(decode_err(
                        &col.name,
                        "partial JSON update (set binlog_row_value_options='')".into(),
                    ));
                }
                // (The conversion error would quote the value: say what failed, not what.)
                jsonb => mysql_async::Value::try_from(jsonb).map_err(|_| {
                    decode_err(
                        &col.name,
                        "binary JSON that does not convert to text".into(),
                    )
                })?,
            };
            decode(v, &col.source_type, *pad, Origin::Binlog).map_err(|m| decode_err(&col.name, m))
        })
        .collect()
}

/// Errors of the dump: 1236 means the position is gone (purged) or invalid; a replica with
/// the same server id taking over, a killed connection or a server shutdown are lost
/// connections.
fn dump_error(e: mysql_async::Error, at: &Position, server_id: u32) -> Error {
    match e {
        mysql_async::Error::Server(s)
            if s.code == 4052 || s.message.contains("same server_uuid/server_id") =>
        {
            Error::Connection(format!(
                "the binlog dump was taken over by another replica with server_id {server_id} \
                 (every source needs its own server_id): {}",
                s.message
            ))
        }
        mysql_async::Error::Server(s) if s.code == 1236 => Error::PositionPurged {
            file: at.file.clone(),
            pos: at.pos,
            message: s.message,
        },
        // Server shutdown, query interrupted, connection killed, network errors.
        mysql_async::Error::Server(s)
            if matches!(s.code, 1053 | 1152 | 1158..=1161 | 1317 | 1927) =>
        {
            Error::Connection(format!("{} (error {})", s.message, s.code))
        }
        e => Error::from(e),
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
