//! The `finlake serve` fixture and the Flight SQL client helpers the tests share.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow_flight::FlightInfo;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use futures::TryStreamExt;
use tonic::transport::{Channel, Endpoint};

use super::counts;

pub(crate) const MASK_KEY: &str = "integration-test-mask-key-0123456789";
pub(crate) const USER: &str = "analyst";
pub(crate) const PASSWORD: &str = "flight-test-password";

/// A running `finlake serve`; stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) flight: SocketAddr,
    pub(crate) http: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `finlake serve ARGS` with `env` and waits for both listening lines.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = crate::common::finlake_command();
        let mut child = cmd
            .env("FINLAKE_LOG", "warn")
            .env("FINLAKE_NO_PROGRESS", "1")
            .arg("serve")
            .args(["--flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn finlake serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut flight, mut http) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(120);
        while flight.is_none() || http.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    panic!("finlake serve printed no listening lines (exit: {status:?})");
                }
            };
            if let Some(a) = line.strip_prefix("flight sql listening on ") {
                flight = Some(a.trim().parse().expect("flight addr"));
            } else if let Some(a) = line.strip_prefix("http listening on ") {
                http = Some(a.trim().parse().expect("http addr"));
            }
        }
        Server {
            child: Some(child),
            flight: flight.expect("flight"),
            http: http.expect("http"),
            lines: rx,
        }
    }

    /// SIGTERM, then the exit status and the rest of stdout.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("finlake serve did not stop within 40 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let rest: Vec<String> = self.lines.try_iter().collect();
        (status, rest.join("\n"))
    }

    /// The server's resident memory in bytes (Linux `VmRSS`).
    pub(crate) fn rss_bytes(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    /// `GET path` on the HTTP endpoint: (status code, body).
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(self.http).expect("connect http");
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        let code = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
        (code, body.unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn serve_env<'a>(url: &'a str, lake: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("FINLAKE_SOURCE_URL", url),
        ("FINLAKE_LAKE_URI", lake),
        ("FINLAKE_MASK_KEY", MASK_KEY),
        ("FINLAKE_FLIGHT_USER", USER),
        ("FINLAKE_FLIGHT_PASSWORD", PASSWORD),
    ]
}

pub(crate) async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::new(format!("http://{addr}"))
        .expect("endpoint")
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .expect("connect")
}

/// An authenticated arrow-rs Flight SQL client.
pub(crate) async fn client(addr: SocketAddr) -> FlightSqlServiceClient<Channel> {
    let mut c = FlightSqlServiceClient::new(channel(addr).await);
    c.handshake(USER, PASSWORD).await.expect("handshake");
    c
}

pub(crate) async fn fetch(
    c: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for ep in info.endpoint {
        let ticket = ep.ticket.expect("ticket");
        let batches: Vec<RecordBatch> = c
            .do_get(ticket)
            .await
            .expect("do_get")
            .try_collect()
            .await
            .expect("stream");
        out.extend(batches);
    }
    out
}

pub(crate) async fn query(c: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Vec<RecordBatch> {
    let info = c
        .execute(sql.to_owned(), None)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    fetch(c, info).await
}

pub(crate) async fn scalar(c: &mut FlightSqlServiceClient<Channel>, sql: &str) -> i64 {
    let b = query(c, sql).await;
    let col = b[0].column(0);
    assert_eq!(col.data_type(), &DataType::Int64, "{sql}");
    col.as_primitive::<Int64Type>().value(0)
}

/// Polls `sql` until it returns `want` (the lake catches up with the source).
pub(crate) async fn wait_for(
    c: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
    want: i64,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let got = match c.execute(sql.to_owned(), None).await {
            Ok(info) => {
                let b = fetch(c, info).await;
                Some(b[0].column(0).as_primitive::<Int64Type>().value(0))
            }
            // The table may not exist yet while the snapshot runs.
            Err(_) => None,
        };
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: wanted {want}, last got {got:?} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every bronze table holds its source table's row count.
pub(crate) async fn wait_caught_up(c: &mut FlightSqlServiceClient<Channel>, url: &str) {
    for (table, n) in counts(url).await {
        wait_for(
            c,
            &format!("select count(*) from bronze.{table}"),
            n as i64,
            Duration::from_secs(180),
        )
        .await;
    }
}
