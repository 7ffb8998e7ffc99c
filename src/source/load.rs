//! Bulk loading into the source database.
//!
//! Rows are encoded as text on a blocking thread and streamed to the server with
//! `LOAD DATA LOCAL INFILE` (no temporary files). All tables of one load go into ONE
//! transaction: a malformed file, a broken connection or an integrity failure rolls back
//! everything, so no half-loaded table is ever left behind (mysql_async ends an infile stream
//! normally even when its producer fails, so the transaction is what makes it atomic).

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tokio::sync::mpsc;
use tracing::{info, instrument, warn};

use crate::data::tsv::{TsvRow, load_data_sql};
use crate::source::sql;

/// Errors of a bulk load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "table `{table}` already holds {rows} rows; load into empty tables, or pass --replace \
         to delete the existing rows first"
    )]
    NotEmpty { table: &'static str, rows: u64 },
    /// A problem with the input, reported by the row producer (names the file and line).
    #[error("{0}")]
    Input(String),
    #[error("loading `{table}`: {source}")]
    Mysql {
        table: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error("referential integrity: {0}")]
    Integrity(String),
}

/// Rows are shipped to the server in chunks of about this size.
const CHUNK_BYTES: usize = 1 << 20;

/// Where a producer writes rows; sends full chunks to the server.
#[derive(Debug)]
pub struct RowSink<R> {
    buf: Vec<u8>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    rows: u64,
    progress: ProgressBar,
    _row: std::marker::PhantomData<fn(&R)>,
}

/// The consumer went away (the server rejected the load); the producer should stop.
#[derive(Debug, Clone, Copy)]
pub struct SinkClosed;

impl<R: TsvRow> RowSink<R> {
    /// Appends one row.
    pub fn push(&mut self, row: &R) -> Result<(), SinkClosed> {
        row.write_tsv(&mut self.buf);
        self.rows += 1;
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkClosed> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES + 4096),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| SinkClosed)?;
        self.progress.set_position(self.rows);
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

fn progress_bar(table: &str, expected: Option<u64>) -> ProgressBar {
    let bar = match expected {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if expected.is_some() {
        "{prefix:>13} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta}"
    } else {
        "{prefix:>13} {spinner} {human_pos} rows {per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(table.to_string());
    bar
}

/// One bulk load: a connection holding an open transaction.
#[derive(Debug)]
pub struct BulkLoad {
    conn: Conn,
    started: Instant,
    rows: u64,
    loaded: Vec<(&'static str, u64)>,
    show_progress: bool,
}

impl BulkLoad {
    /// Connects, creates the schema when missing, checks the tables are empty (or empties them
    /// with `replace`), and opens the transaction.
    #[instrument(skip_all, fields(url = %super::redact_url(url), replace))]
    pub async fn begin(url: &str, replace: bool, show_progress: bool) -> super::Result<Self> {
        let mut conn = Conn::new(super::bulk_opts(url)?).await?;
        sql::apply_schema(&mut conn).await?;
        // Integrity is checked explicitly after loading (see `check_integrity`); per-row
        // checks would cost a lookup per row.
        conn.query_drop("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            .await?;
        if replace {
            for table in sql::TABLES.iter().rev() {
                conn.query_drop(format!("TRUNCATE TABLE `{table}`")).await?;
            }
            info!("existing rows deleted (--replace)");
        } else {
            for table in sql::TABLES {
                let any: Option<u8> = conn
                    .query_first(format!("SELECT 1 FROM `{table}` LIMIT 1"))
                    .await?;
                if any.is_some() {
                    let rows: Option<u64> = conn
                        .query_first(format!("SELECT COUNT(*) FROM `{table}`"))
                        .await?;
                    return Err(LoadError::NotEmpty {
                        table,
                        rows: rows.unwrap_or(0),
                    }
                    .into());
                }
            }
        }
        conn.query_drop("START TRANSACTION").await?;
        Ok(Self {
            conn,
            started: Instant::now(),
            rows: 0,
            loaded: Vec::new(),
            show_progress,
        })
    }

    /// Loads one table from a producer that runs on a blocking thread and pushes rows into
    /// the sink. A producer error aborts the load (and, at `finish`/drop, the transaction).
    #[instrument(skip_all, fields(table = R::TABLE))]
    pub async fn load<R, F>(&mut self, expected: Option<u64>, produce: F) -> super::Result<u64>
    where
        R: TsvRow + 'static,
        F: FnOnce(&mut RowSink<R>) -> Result<(), String> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
        let progress = if self.show_progress {
            progress_bar(R::TABLE, expected)
        } else {
            ProgressBar::hidden()
        };
        let started = Instant::now();
        let mut sink = RowSink::<R> {
            buf: Vec::with_capacity(CHUNK_BYTES + 4096),
            tx,
            rows: 0,
            progress: progress.clone(),
            _row: std::marker::PhantomData,
        };
        let producer = tokio::task::spawn_blocking(move || {
            let outcome = produce(&mut sink).and_then(|()| sink.flush().map_err(|_| String::new()));
            if let Err(message) = &outcome {
                // Abort the server-side stream; the transaction is rolled back by the caller.
                let _ = sink
                    .tx
                    .blocking_send(Err(std::io::Error::other(message.clone())));
            }
            (outcome, sink.rows)
        });
        let stream = tokio_stream_from(rx);
        self.conn
            .set_infile_handler(async move { Ok(stream.boxed()) });
        let loaded = self.conn.query_drop(load_data_sql::<R>()).await;
        let (outcome, rows) = producer.await.map_err(|e| {
            LoadError::Input(format!("row producer for {} panicked: {e}", R::TABLE))
        })?;
        progress.finish_and_clear();
        match (outcome, loaded) {
            (Err(message), _) if !message.is_empty() => {
                return Err(LoadError::Input(message).into());
            }
            (_, Err(source)) => {
                return Err(LoadError::Mysql {
                    table: R::TABLE,
                    source,
                }
                .into());
            }
            _ => {}
        }
        let secs = started.elapsed().as_secs_f64();
        info!(
            table = R::TABLE,
            rows,
            secs,
            rows_per_sec = (rows as f64 / secs.max(1e-9)) as u64,
            "table loaded"
        );
        self.rows += rows;
        self.loaded.push((R::TABLE, rows));
        Ok(rows)
    }

    /// Fails when a row references a missing parent (the checks the foreign keys would have
    /// made row by row).
    pub async fn check_integrity(&mut self) -> super::Result<()> {
        const CHECKS: [(&str, &str, &str, &str); 5] = [
            ("cards", "client_id", "users", "id"),
            ("transactions", "card_id", "cards", "id"),
            ("transactions", "client_id", "users", "id"),
            ("transactions", "mcc", "mcc_codes", "mcc"),
            ("fraud_labels", "transaction_id", "transactions", "id"),
        ];
        for (child, column, parent, key) in CHECKS {
            let orphan: Option<(u64, u64)> = self
                .conn
                .query_first(format!(
                    "SELECT c.`{column}`, COUNT(*) OVER () FROM `{child}` c \
                     LEFT JOIN `{parent}` p ON p.`{key}` = c.`{column}` \
                     WHERE p.`{key}` IS NULL LIMIT 1"
                ))
                .await?;
            if let Some((value, count)) = orphan {
                return Err(LoadError::Integrity(format!(
                    "{count} row(s) of {child} reference a missing {parent}.{key} \
                     (for example {column} = {value})"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Commits the whole load and returns (table, rows) in load order and the total rate.
    pub async fn commit(mut self) -> super::Result<LoadReport> {
        self.conn.query_drop("COMMIT").await?;
        self.conn
            .query_drop("SET SESSION foreign_key_checks = 1, unique_checks = 1")
            .await?;
        let secs = self.started.elapsed().as_secs_f64();
        let report = LoadReport {
            tables: std::mem::take(&mut self.loaded),
            rows: self.rows,
            secs,
        };
        self.conn.disconnect().await?;
        Ok(report)
    }

    /// Rolls the whole load back.
    pub async fn rollback(mut self) -> super::Result<()> {
        warn!(rows = self.rows, "rolling the load back");
        self.conn.query_drop("ROLLBACK").await?;
        self.conn.disconnect().await?;
        Ok(())
    }
}

/// Turns the channel into the stream the infile handler wants.
fn tokio_stream_from(
    mut rx: mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What a committed load wrote.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub tables: Vec<(&'static str, u64)>,
    pub rows: u64,
    pub secs: f64,
}

impl LoadReport {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<13} {rows:>12} rows")?;
        }
        write!(
            f,
            "loaded {} rows in {:.1} s ({:.0} rows/s), committed in one transaction",
            self.rows,
            self.secs,
            self.rows_per_sec()
        )
    }
}
