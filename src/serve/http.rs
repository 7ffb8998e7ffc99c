//! A tiny HTTP/1.1 endpoint beside the Flight SQL port: `GET /health` (JSON, 503 when the
//! ingestion loop has failed) and `GET /metrics` (Prometheus text: queries, latency, cache,
//! per-table versions and commit ages, ingest state and lag).

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use crate::engine::{DeltaEngine, QueryEngine};

/// What the ingestion loop is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestState {
    Disabled,
    Running,
    Stopped,
    Failed(String),
}

impl IngestState {
    fn label(&self) -> &'static str {
        match self {
            IngestState::Disabled => "disabled",
            IngestState::Running => "running",
            IngestState::Stopped => "stopped",
            IngestState::Failed(_) => "failed",
        }
    }
}

/// Shared with the handlers.
#[derive(Debug)]
pub struct Ops {
    pub engine: Arc<DeltaEngine>,
    pub flight_addr: SocketAddr,
    pub ingest: Mutex<IngestState>,
}

impl Ops {
    pub fn set_ingest(&self, state: IngestState) {
        match self.ingest.lock() {
            Ok(mut g) => *g = state,
            Err(p) => *p.into_inner() = state,
        }
    }

    fn ingest(&self) -> IngestState {
        match self.ingest.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn health(ops: &Ops) -> (u16, String) {
    let ingest = ops.ingest();
    let tables = ops.engine.tables().await.map(|t| t.len()).unwrap_or(0);
    let (code, status) = match &ingest {
        IngestState::Failed(_) => (503, "degraded"),
        _ => (200, "ok"),
    };
    let error = match &ingest {
        IngestState::Failed(e) => format!(",\"ingest_error\":{}", json_str(e)),
        _ => String::new(),
    };
    let body = format!(
        "{{\"status\":\"{status}\",\"flight\":\"{}\",\"ingest\":\"{}\",\"tables\":{tables}{error}}}\n",
        ops.flight_addr,
        ingest.label()
    );
    (code, body)
}

async fn metrics(ops: &Ops) -> String {
    let mut out = String::new();
    ops.engine.metrics().render(&mut out);
    let u = ops.engine.resource_usage();
    let gauges = [
        (
            "finlake_query_memory_limit_bytes",
            "Memory the running queries share (--flight-memory-limit).",
            u.memory_limit,
        ),
        (
            "finlake_query_memory_reserved_bytes",
            "Memory the running queries hold now.",
            u.memory_reserved,
        ),
        (
            "finlake_query_spill_bytes",
            "Bytes of query spill files on disk now.",
            u.spill_bytes,
        ),
        (
            "finlake_query_spill_files",
            "Query spill files open now.",
            u.spill_files,
        ),
        (
            "finlake_queries_running",
            "Queries holding a slot now.",
            u.running,
        ),
        (
            "finlake_queries_max",
            "Query slots (--flight-max-queries).",
            u.max_queries,
        ),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let (entries, bytes) = ops.engine.cache_usage();
    let _ = writeln!(
        out,
        "# HELP finlake_cache_entries Results held by the cache.\n# TYPE finlake_cache_entries gauge\nfinlake_cache_entries {entries}\n\
         # HELP finlake_cache_bytes Bytes held by the cache.\n# TYPE finlake_cache_bytes gauge\nfinlake_cache_bytes {bytes}"
    );
    let ingest = ops.ingest();
    let _ = writeln!(
        out,
        "# HELP finlake_ingest_running 1 while the ingestion loop runs.\n# TYPE finlake_ingest_running gauge\nfinlake_ingest_running {}",
        u8::from(ingest == IngestState::Running)
    );
    let now = now_ms();
    let tables = ops.engine.tables().await.unwrap_or_default();
    let _ = writeln!(
        out,
        "# HELP finlake_table_version Delta version the server reads.\n# TYPE finlake_table_version gauge"
    );
    for t in tables.iter().filter(|t| t.version.is_some()) {
        let _ = writeln!(
            out,
            "finlake_table_version{{schema=\"{}\",table=\"{}\"}} {}",
            t.schema,
            t.name,
            t.version.unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP finlake_table_commit_age_seconds Time since the table's latest commit.\n# TYPE finlake_table_commit_age_seconds gauge"
    );
    let mut newest_bronze: Option<i64> = None;
    for t in &tables {
        if let Some(ms) = t.committed_ms {
            let _ = writeln!(
                out,
                "finlake_table_commit_age_seconds{{schema=\"{}\",table=\"{}\"}} {:.3}",
                t.schema,
                t.name,
                (now - ms) as f64 / 1e3
            );
            if t.schema == "bronze" {
                newest_bronze = Some(newest_bronze.map_or(ms, |n| n.max(ms)));
            }
        }
    }
    if let Some(ms) = newest_bronze {
        let _ = writeln!(
            out,
            "# HELP finlake_ingest_lag_seconds Time since the ingestion loop last committed to bronze (it commits at least every 10 s while it follows the binlog).\n# TYPE finlake_ingest_lag_seconds gauge\nfinlake_ingest_lag_seconds {:.3}",
            (now - ms) as f64 / 1e3
        );
    }
    out
}

async fn handle(mut conn: TcpStream, ops: Arc<Ops>) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf[n..]))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if read == 0 {
            return Ok(());
        }
        n += read;
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (code, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/health" | "/healthz") => {
            let (code, body) = health(&ops).await;
            (code, "application/json", body)
        }
        ("GET" | "HEAD", "/metrics") => (200, "text/plain; version=0.0.4", metrics(&ops).await),
        ("GET" | "HEAD", _) => (404, "text/plain", "not found\n".to_owned()),
        _ => (405, "text/plain", "method not allowed\n".to_owned()),
    };
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    conn.write_all(response.as_bytes()).await?;
    conn.shutdown().await
}

/// Serves until `shutdown` resolves.
pub async fn serve(listener: TcpListener, ops: Arc<Ops>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((conn, _)) => {
                    let ops = Arc::clone(&ops);
                    tokio::spawn(async move {
                        if let Err(e) = handle(conn, ops).await {
                            debug!(error = %e, "http connection");
                        }
                    });
                }
                Err(e) => {
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
