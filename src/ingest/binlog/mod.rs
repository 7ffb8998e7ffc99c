//! The embedded CDC source: reads the MySQL/MariaDB binlog directly (as a replica would).
//!
//! [`BinlogSource::start`] either takes a consistent snapshot (every row of the captured
//! tables as `Op::Read` at the binlog position the snapshot corresponds to, then the stream from
//! exactly that position: no gap, no double) or resumes the stream from a position a previous
//! run returned as [`Batch::resume`]. Batches hold whole source transactions; `resume` is the
//! position right after the last commit delivered.
//!
//! Values are decoded per the column's [`SourceType`](crate::ingest::schema::SourceType) by
//! one set of helpers ([`decode`]) for both the snapshot's SELECT and the binlog row images, so
//! the same row gives identical [`Value`](crate::ingest::event::Value)s on either path.
//!
//! Snapshot batches carry no `resume` (a snapshot cannot be resumed half-way) except the last,
//! whose `resume` is the snapshot's position. Positions: snapshot rows are
//! `Position::snapshot(file, pos, n)` with `n` counting rows across the whole snapshot; streamed
//! rows are `Position::new(file, event start, row in event)`; `resume` is
//! `Position::new(file, end of the commit event, 0)`. Transactions that touch no captured table
//! (and DDL elsewhere) still move `resume` forward.
//!
//! Tested against MariaDB 10.11. The MySQL paths (snapshot under `FLUSH TABLES WITH READ LOCK`,
//! compressed transaction payloads, JSON) are written from the protocol but untested here.
//! A consistent snapshot needs transactional (InnoDB) tables; non-transactional ones (MyISAM,
//! Aria) are read without isolation from concurrent writes.
//!
//! Requirements: `binlog_format=ROW`, `binlog_row_image=FULL` (`binlog_row_metadata=FULL`
//! recommended), no MariaDB binlog compression (`log_bin_compress=OFF`), captured tables with a
//! primary key and utf8/utf8mb4 text. Each running source needs a `server_id` unique among the
//! server's replicas (the server drops an older dump connection with the same id).

mod ddl;
pub mod decode;
mod snapshot;
mod stream;
mod tables;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::time::Instant;
use tracing::{debug, info, instrument};

use crate::ingest::event::{Batch, ChangeEvent, ChangeSource, Position, Row, SchemaChange, Value};
use crate::ingest::schema::TableSchema;
use crate::source::{opts_from_url, redact_url};
use stream::{Reader, Step, Txn};
use tables::TableInfo;

/// Errors of the binlog source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "binlog position {file}:{pos} is no longer available on the source ({message}); \
         the binlog was purged or the position is invalid: run with --resnapshot to take a new snapshot"
    )]
    PositionPurged {
        file: String,
        pos: u64,
        message: String,
    },
    #[error("lost connection to the source: {0}")]
    Connection(String),
    #[error(
        "schema change on captured table {table}: {statement} \
         (finlake follows ADD COLUMN and index changes; other changes (DROP, RENAME, MODIFY, a new \
         primary key, TRUNCATE) cannot be applied to the lake safely: nothing after this \
         statement was applied; run `finlake ingest --resnapshot` to rebuild the lake from a new snapshot)"
    )]
    SchemaChange { table: String, statement: String },
    #[error(
        "compressed binlog event at {file}:{pos}: MariaDB binlog compression is not supported \
         (set log_bin_compress=OFF on the source, then re-snapshot)"
    )]
    CompressedEvent { file: String, pos: u64 },
    #[error("table {database}.{table} not found on the source")]
    TableNotFound { database: String, table: String },
    #[error("table {table} has no primary key; only tables with a primary key can be captured")]
    NoPrimaryKey { table: String },
    #[error("column {table}.{column} has unsupported type {column_type}")]
    UnsupportedType {
        table: String,
        column: String,
        column_type: String,
    },
    #[error("cannot decode {table}.{column}: {message}")]
    Decode {
        table: String,
        column: String,
        message: String,
    },
    #[error("the source has no binary log position (is log_bin enabled?)")]
    NoBinlog,
    #[error("the snapshot failed earlier; start the source again")]
    SnapshotFailed,
    #[error("unexpected binlog content: {0}")]
    Protocol(String),
    #[error(transparent)]
    Source(#[from] crate::source::Error),
    #[error("source database: {0}")]
    Mysql(#[source] mysql_async::Error),
}

impl From<mysql_async::Error> for Error {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Io(io) => Error::Connection(io.to_string()),
            mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
                Error::Connection("connection closed".into())
            }
            e => Error::Mysql(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a snapshot batch may wait to fill.
const SNAPSHOT_BATCH_WAIT: Duration = Duration::from_secs(2);

/// Where a [`BinlogSource`] starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// A consistent snapshot of the tables, then the binlog from the snapshot's position.
    Snapshot,
    /// The binlog from a position returned earlier as [`Batch::resume`].
    Position(Position),
}

/// How long a [`BinlogSource`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Follows the binlog forever.
    Follow,
    /// Stops at the end of the binlog as of when the stream reached it: after that,
    /// `next_batch` returns empty batches with `resume` set and [`BinlogSource::caught_up`] is true.
    UntilCaughtUp,
}

/// The embedded binlog CDC source.
pub struct BinlogSource {
    opts: Opts,
    db: String,
    server_id: u32,
    mode: Mode,
    tables: Arc<HashMap<String, Arc<TableInfo>>>,
    snapshot: Option<snapshot::Running>,
    /// Snapshot rows received beyond the last batch's `max_events`.
    carry: Vec<ChangeEvent>,
    reader: Option<Reader>,
    /// Committed transactions read but not yet delivered.
    ready: VecDeque<Txn>,
    /// The position after the last commit read (the stream starts here).
    resume: Position,
    ended: bool,
    /// An error met after committed transactions that were delivered first.
    failed: Option<Error>,
    /// A snapshot that failed cannot continue (its rest would be a gap).
    snapshot_failed: bool,
}

impl std::fmt::Debug for BinlogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogSource")
            .field("db", &self.db)
            .field("server_id", &self.server_id)
            .field("mode", &self.mode)
            .field("snapshotting", &self.snapshot.is_some())
            .field("resume", &self.resume)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl BinlogSource {
    /// Connects, reads the tables' schemas from information_schema and, for
    /// [`StartFrom::Snapshot`], opens the consistent snapshot (its rows are delivered by
    /// `next_batch` first). `tables` are names in the URL's database.
    #[instrument(skip_all, fields(url = %redact_url(url), ?tables, ?from, server_id, ?mode))]
    pub async fn start(
        url: &str,
        tables: &[String],
        from: StartFrom,
        server_id: u32,
        mode: Mode,
    ) -> Result<(Self, Vec<TableSchema>)> {
        let opts = opts_from_url(url)?;
        let db = opts.db_name().unwrap_or_default().to_string();
        let mut conn = Conn::new(opts.clone()).await?;
        let (infos, snapshot, resume) = match from {
            StartFrom::Snapshot => {
                let at = snapshot::begin(&mut conn).await?;
                let infos: Vec<Arc<TableInfo>> = tables::load(&mut conn, &db, tables)
                    .await?
                    .into_iter()
                    .map(Arc::new)
                    .collect();
                let running = snapshot::spawn(conn, db.clone(), infos.clone(), at.clone());
                (infos, Some(running), at)
            }
            StartFrom::Position(p) => {
                check_available(&mut conn, &p).await?;
                let infos = tables::load(&mut conn, &db, tables)
                    .await?
                    .into_iter()
                    .map(Arc::new)
                    .collect();
                let _ = conn.disconnect().await;
                (infos, None, Position::new(p.file, p.pos, 0))
            }
        };
        let schemas = infos.iter().map(|i| i.schema.clone()).collect();
        let tables = infos.into_iter().map(|i| (i.name.to_string(), i)).collect();
        info!(file = %resume.file, pos = resume.pos, "binlog source started");
        let source = Self {
            opts,
            db,
            server_id,
            mode,
            tables: Arc::new(tables),
            snapshot,
            carry: Vec::new(),
            reader: None,
            ready: VecDeque::new(),
            resume,
            ended: false,
            failed: None,
            snapshot_failed: false,
        };
        Ok((source, schemas))
    }

    /// True once everything committed up to the end of the binlog (as of when the stream got
    /// there) has been delivered; only in [`Mode::UntilCaughtUp`].
    pub fn caught_up(&self) -> bool {
        self.ended && self.ready.is_empty() && self.snapshot.is_none()
    }

    /// The position after the last commit read.
    pub fn position(&self) -> &Position {
        &self.resume
    }

    async fn next_snapshot_batch(
        &mut self,
        max_events: usize,
        deadline: Instant,
    ) -> Result<Option<Batch>> {
        if self.snapshot_failed {
            return Err(Error::SnapshotFailed);
        }
        let Some(running) = self.snapshot.as_mut() else {
            return Ok(None);
        };
        let mut batch = Batch::default();
        if !self.carry.is_empty() {
            let n = self.carry.len().min(max_events);
            batch.events.extend(self.carry.drain(..n));
            if batch.events.len() >= max_events {
                return Ok(Some(batch));
            }
        }
        loop {
            let received = if batch.events.is_empty() {
                match tokio::time::timeout_at(deadline, running.rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => return Ok(Some(batch)),
                }
            } else {
                // Fill the batch up to max_events while chunks arrive before the deadline:
                // fewer, larger snapshot commits.
                match tokio::time::timeout_at(deadline, running.rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => return Ok(Some(batch)),
                }
            };
            match received {
                Some(chunk) => {
                    let chunk = chunk.inspect_err(|_| self.snapshot_failed = true)?;
                    batch.events.extend(chunk);
                    if batch.events.len() >= max_events {
                        self.carry = batch.events.split_off(max_events);
                        return Ok(Some(batch));
                    }
                }
                None => {
                    // The snapshot is complete: streaming continues from its position.
                    if let Some(running) = self.snapshot.take() {
                        running.task.await.map_err(|e| {
                            self.snapshot_failed = true;
                            Error::Protocol(format!("snapshot task: {e}"))
                        })?;
                    }
                    batch.resume = Some(self.resume.clone());
                    return Ok(Some(batch));
                }
            }
        }
    }

    async fn next_stream_batch(&mut self, max_events: usize, deadline: Instant) -> Result<Batch> {
        let mut batch = Batch {
            resume: Some(self.resume.clone()),
            ..Batch::default()
        };
        // Any transaction taken (the resume position moved), and any event taken.
        let mut delivered = false;
        loop {
            while let Some(txn) = self.ready.pop_front() {
                // A schema change ends a batch: the loop applies it after the events before it.
                if txn.schema_change.is_some() && !batch.events.is_empty() {
                    self.ready.push_front(txn);
                    return Ok(batch);
                }
                batch.events.extend(txn.events);
                batch.undecodable.extend(txn.undecodable);
                self.resume = txn.end;
                batch.resume = Some(self.resume.clone());
                delivered = true;
                if let Some(change) = txn.schema_change {
                    batch.schema_changes.push(change);
                    return Ok(batch);
                }
                if batch.events.len() >= max_events {
                    return Ok(batch);
                }
            }
            if self.ended {
                return Ok(batch);
            }
            if self.reader.is_none() {
                let non_blocking = self.mode == Mode::UntilCaughtUp;
                let reader = Reader::open(
                    &self.opts,
                    self.server_id,
                    &self.resume,
                    non_blocking,
                    self.db.clone(),
                    Arc::clone(&self.tables),
                )
                .await?;
                self.reader = Some(reader);
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            // Once events are in the batch, only take what is already there.
            let until = if batch.events.is_empty() {
                deadline
            } else {
                Instant::now()
            };
            let step = match reader.step(until).await {
                Ok(step) => step,
                // Deliver what committed before the failure first; report it next time.
                Err(e) if delivered => {
                    self.failed = Some(e);
                    return Ok(batch);
                }
                Err(e) => return Err(e),
            };
            match step {
                Step::Commit(txn) => self.ready.push_back(txn),
                Step::Ddl(d) => {
                    let end = d.end.clone();
                    let change = self.on_ddl(d).await?;
                    self.ready.push_back(Txn {
                        events: Vec::new(),
                        undecodable: Vec::new(),
                        end,
                        schema_change: Some(change),
                    });
                }
                Step::Continue => {}
                Step::Idle => return Ok(batch),
                Step::End => {
                    if self.mode == Mode::Follow {
                        let e = Error::Connection("the server ended the binlog stream".into());
                        if delivered {
                            self.failed = Some(e);
                            return Ok(batch);
                        }
                        return Err(e);
                    }
                    if let Some(reader) = self.reader.take() {
                        reader.close().await;
                    }
                    self.ended = true;
                    debug!(file = %self.resume.file, pos = self.resume.pos, "caught up with the binlog");
                }
            }
        }
    }
}

impl BinlogSource {
    /// A schema statement on a captured table: column additions (and index changes) are
    /// followed, decoding goes on with the table's new shape; anything else stops the source
    /// with [`Error::SchemaChange`] (recovery: `--resnapshot`).
    async fn on_ddl(&mut self, d: stream::Ddl) -> Result<SchemaChange> {
        let stop = || Error::SchemaChange {
            table: d.table.clone(),
            statement: d.statement.clone(),
        };
        let added = match ddl::column_change(&d.statement) {
            ddl::ColumnChange::Other => return Err(stop()),
            ddl::ColumnChange::None => Vec::new(),
            ddl::ColumnChange::Add(names) => names,
        };
        let old = self.tables.get(&d.table).map(Arc::clone).ok_or_else(stop)?;
        let mut conn = Conn::new(self.opts.clone()).await?;
        let info = tables::load(&mut conn, &self.db, std::slice::from_ref(&d.table))
            .await?
            .remove(0);
        let defaults = tables::defaults(&mut conn, &self.db, &d.table).await?;
        let _ = conn.disconnect().await;
        // Every column the lake has must still be there, same type, same key.
        let same_key = |s: &TableSchema| -> Vec<String> {
            s.key.iter().map(|&i| s.columns[i].name.clone()).collect()
        };
        for c in &old.schema.columns {
            let kept = info.schema.columns.iter().find(|n| n.name == c.name);
            if kept.is_none_or(|n| n.source_type != c.source_type) {
                return Err(stop());
            }
        }
        if same_key(&old.schema) != same_key(&info.schema) {
            return Err(stop());
        }
        let mut values = Vec::with_capacity(added.len());
        for name in added {
            // Gone again (a later statement): the current shape cannot describe this point.
            let i = info.schema.column_index(&name).ok_or_else(stop)?;
            let column = &info.schema.columns[i];
            let value = match defaults.get(&name).cloned().flatten() {
                None => Value::Null,
                Some(text) => decode::decode(
                    mysql_async::Value::Bytes(text.into_bytes()),
                    &column.source_type,
                    info.pad_to[i],
                    decode::Origin::Query,
                )
                .map_err(|_| stop())?,
            };
            values.push((name, value));
        }
        info!(table = %d.table, statement = %d.statement, added = values.len(), "schema change followed");
        let schema = info.schema.clone();
        let mut tables: HashMap<String, Arc<TableInfo>> = (*self.tables).clone();
        tables.insert(d.table.clone(), Arc::new(info));
        self.tables = Arc::new(tables);
        if let Some(reader) = self.reader.as_mut() {
            reader.set_tables(Arc::clone(&self.tables));
        }
        Ok(SchemaChange {
            schema,
            added: values,
            statement: d.statement.clone(),
            position: d.end.clone(),
        })
    }
}

impl ChangeSource for BinlogSource {
    type Error = Error;

    async fn next_batch(&mut self, max_events: usize, max_wait: Duration) -> Result<Batch> {
        let deadline = Instant::now() + max_wait;
        let max_events = max_events.max(1);
        // Freshness does not matter while the snapshot runs: larger batches commit less often.
        let snapshot_deadline = Instant::now() + max_wait.max(SNAPSHOT_BATCH_WAIT);
        if let Some(batch) = self
            .next_snapshot_batch(max_events, snapshot_deadline)
            .await?
        {
            return Ok(batch);
        }
        let result = match self.failed.take() {
            Some(e) => Err(e),
            None => self.next_stream_batch(max_events, deadline).await,
        };
        if result.is_err() {
            // Restart from the last commit delivered: drop the reader (it may hold half a
            // transaction) and what it read ahead.
            self.reader = None;
            self.ready.clear();
        }
        result
    }
}

/// Fails with [`Error::PositionPurged`] when `at.file` is not among the server's binlogs.
async fn check_available(conn: &mut Conn, at: &Position) -> Result<()> {
    // Without the privilege to list binlogs, the dump's own error (1236) reports it.
    let Ok(logs) = conn.query::<mysql_async::Row, _>("SHOW BINARY LOGS").await else {
        return Ok(());
    };
    let names: Vec<String> = logs.iter().filter_map(|r| r.get::<String, _>(0)).collect();
    if names.contains(&at.file) {
        return Ok(());
    }
    Err(Error::PositionPurged {
        file: at.file.clone(),
        pos: at.pos,
        message: format!(
            "the server's binlogs are {}",
            match (names.first(), names.last()) {
                (Some(a), Some(b)) => format!("{a} .. {b}"),
                _ => "none".into(),
            }
        ),
    })
}

/// Reads every row of `table` (in key order) with the same SELECT and decoding as the snapshot,
/// for verification and tests.
pub async fn read_table(url: &str, table: &str) -> Result<(TableSchema, Vec<Row>)> {
    let opts = opts_from_url(url)?;
    let db = opts.db_name().unwrap_or_default().to_string();
    let mut conn = Conn::new(opts).await?;
    snapshot::prepare_session(&mut conn).await?;
    let info = tables::load(&mut conn, &db, &[table.to_string()])
        .await?
        .remove(0);
    let rows: Vec<mysql_async::Row> = conn.exec(snapshot::select_sql(&db, &info), ()).await?;
    let rows = rows
        .into_iter()
        .map(|r| snapshot::decode_row(r, &info))
        .collect::<Result<Vec<_>>>()?;
    let _ = conn.disconnect().await;
    Ok((info.schema.clone(), rows))
}

/// The source's current binlog head (`SHOW MASTER STATUS`), if binary logging is on.
pub async fn head(url: &str) -> Result<Option<Position>> {
    let mut conn = Conn::new(opts_from_url(url)?).await?;
    let row: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await?;
    let _ = conn.disconnect().await;
    Ok(row.and_then(|r| {
        let file: String = r.get(0)?;
        let pos: u64 = r.get(1)?;
        Some(Position::new(file, pos, 0))
    }))
}

/// The shapes of `tables` as the source declares them now (information_schema), without
/// starting a stream: the loop needs them to open the lake tables, whose commits say where to
/// resume.
pub async fn table_schemas(url: &str, tables: &[String]) -> Result<Vec<TableSchema>> {
    let opts = opts_from_url(url)?;
    let db = opts.db_name().unwrap_or_default().to_string();
    let mut conn = Conn::new(opts).await?;
    let infos = tables::load(&mut conn, &db, tables).await?;
    let _ = conn.disconnect().await;
    Ok(infos.into_iter().map(|i| i.schema).collect())
}
