//! Bounded queries: `finlake serve` runs the CDC loop and the query server in one process, so
//! a hostile query must fail on its own limits (memory, spill, query slots) while the other
//! queries and the ingestion go on; SIGTERM ends running queries promptly.

use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::StreamExt;
use tonic::transport::Channel;

use crate::common::server::{Server, client, query, serve_env, wait_caught_up};
use crate::common::{finlake, finlake_on_thread, fresh_db, ok, verify_eventually};

const CROSS_SORT: &str = "SELECT a.*, b.* FROM bronze.transactions a CROSS JOIN bronze.transactions b \
                          ORDER BY a.amount + b.amount";
const CROSS: &str = "SELECT a.id, b.id FROM bronze.transactions a CROSS JOIN bronze.transactions b";

/// Runs `sql` to the end; the error text when it fails.
async fn run_err(
    c: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Option<(tonic::Code, String)> {
    let info = match c.execute(sql.to_owned(), None).await {
        Ok(i) => i,
        Err(e) => return Some((code_of(&e), e.to_string())),
    };
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut stream = match c.do_get(ticket).await {
        Ok(s) => s,
        Err(e) => return Some((code_of(&e), e.to_string())),
    };
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            return Some((code_of(&e), e.to_string()));
        }
    }
    None
}

fn code_of(e: &impl std::fmt::Display) -> tonic::Code {
    let t = e.to_string();
    for (name, code) in [
        (
            tonic::Code::ResourceExhausted.description(),
            tonic::Code::ResourceExhausted,
        ),
        (
            tonic::Code::Unavailable.description(),
            tonic::Code::Unavailable,
        ),
        (
            tonic::Code::DeadlineExceeded.description(),
            tonic::Code::DeadlineExceeded,
        ),
    ] {
        if t.contains(name) {
            return code;
        }
    }
    tonic::Code::Unknown
}

/// Opens a DoGet of `sql` and reads its first batch, keeping the stream (and its query
/// slot) open.
async fn hold(
    addr: std::net::SocketAddr,
    sql: &str,
) -> arrow_flight::decode::FlightRecordBatchStream {
    let mut c = client(addr).await;
    let info = c.execute(sql.to_owned(), None).await.expect("plan");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut s = c.do_get(ticket).await.expect("do_get");
    s.next().await.expect("a first batch").expect("first batch");
    s
}

fn metric(server: &Server, name: &str) -> f64 {
    let (code, body) = server.get("/metrics");
    assert_eq!(code, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{body}"))
}

#[tokio::test]
async fn a_query_over_its_limits_fails_cleanly_while_ingestion_goes_on() {
    let url = fresh_db("t_bounded").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let spill = tempfile::tempdir().expect("spill dir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "16"],
        &env,
    ));
    let server = Server::start(
        &[
            "--server-id",
            "7216",
            "--max-wait",
            "50ms",
            "--flight-memory-limit",
            "64MiB",
            "--flight-spill-bytes",
            "32MiB",
            "--flight-spill-dir",
            spill.path().to_str().expect("utf8"),
            "--flight-max-queries",
            "2",
            "--flight-queue-wait",
            "1s",
        ],
        &env,
    );
    let mut c = client(server.flight).await;
    wait_caught_up(&mut c, &url).await;
    let before = query(&mut c, "select count(*) from bronze.transactions").await;

    // A live workload while the hostile queries run.
    let workload = finlake_on_thread(
        &[
            "simulate",
            "--rate",
            "200",
            "--duration",
            "8s",
            "--label-delay",
            "1s",
        ],
        &env,
    );

    // The cross join sorted: over the memory pool, spills, then over the spill budget.
    let started = Instant::now();
    let (code, msg) = run_err(&mut c, CROSS_SORT)
        .await
        .expect("the query must fail");
    assert_eq!(code, tonic::Code::ResourceExhausted, "{msg}");
    assert!(msg.contains("query memory limit of 64.0 MiB"), "{msg}");
    assert!(msg.contains("--flight-memory-limit"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "it failed, but late"
    );
    // The process, its other queries and its loop go on.
    let small = query(&mut c, "select count(*) from bronze.mcc_codes").await;
    assert_eq!(small[0].num_rows(), 1);
    assert!(metric(&server, "finlake_queries_memory_refused_total") >= 1.0);
    assert_eq!(
        metric(&server, "finlake_query_memory_limit_bytes"),
        (64u64 << 20) as f64
    );

    // Two held streams take both slots: a third query waits 1 s, then is refused.
    let a = hold(server.flight, CROSS).await;
    let b = hold(server.flight, CROSS).await;
    assert_eq!(metric(&server, "finlake_queries_running"), 2.0);
    let (code, msg) = run_err(&mut c, "select 1").await.expect("refused");
    assert_eq!(code, tonic::Code::ResourceExhausted, "{msg}");
    assert!(msg.contains("--flight-max-queries"), "{msg}");
    assert!(metric(&server, "finlake_queries_refused_total") >= 1.0);
    drop((a, b));
    // Dropped streams give their slots back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while run_err(&mut c, "select 1").await.is_some() {
        assert!(Instant::now() < deadline, "slots were not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    workload.join().expect("workload");
    wait_caught_up(&mut c, &url).await;
    let after = query(&mut c, "select count(*) from bronze.transactions").await;
    assert_ne!(before, after, "the workload's rows reached the lake");
    verify_eventually(&env, Duration::from_secs(60));

    // SIGTERM with a heavy query running: it is cancelled and the server stops promptly.
    let held = hold(server.flight, CROSS).await;
    let t = Instant::now();
    let (status, rest) = server.stop();
    assert!(status.success(), "exit {status}: {rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        t.elapsed()
    );
    drop(held);
    assert!(
        std::fs::read_dir(spill.path()).expect("spill dir").count() <= 1,
        "spill files left behind"
    );
}
