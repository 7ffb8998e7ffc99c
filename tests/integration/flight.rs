//! `finlake serve` end to end: the real binary ingesting from a real MariaDB and serving
//! Flight SQL, driven by arrow-rs' Flight SQL client: statements, prepared statements,
//! metadata, live visibility, snapshot consistency under concurrent ingest, auth refusal,
//! bad requests, TLS and graceful shutdown.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, SqlInfo};
use arrow_flight::{FlightInfo, Ticket};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use futures::TryStreamExt;
use mysql_async::prelude::Queryable;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::common::{connect, counts, finlake, fresh_db, ok, text};

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

async fn channel(addr: SocketAddr) -> Channel {
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

/// Whether a client error carries this gRPC status code.
fn has_code(e: &impl std::fmt::Display, code: tonic::Code) -> bool {
    e.to_string().contains(code.description())
}

fn refused(e: &impl std::fmt::Display) -> bool {
    has_code(e, tonic::Code::Unauthenticated)
}

#[tokio::test]
async fn serve_streams_statements_prepared_statements_and_metadata() {
    let url = fresh_db("t_flight_serve").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "11"],
        &env,
    ));
    // Small messages: large results must be split into many bounded batches.
    let server = Server::start(
        &["--server-id", "7201", "--flight-message-bytes", "65536"],
        &env,
    );
    let mut c = client(server.flight).await;
    wait_caught_up(&mut c, &url).await;

    // A large scan arrives whole, in many messages, each under the limit.
    let source = counts(&url).await;
    let tx = source
        .iter()
        .find(|(t, _)| t == "transactions")
        .expect("tx")
        .1;
    let batches = query(&mut c, "select * from bronze.transactions").await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows as u64, tx);
    assert!(batches.len() > 10, "{} batches", batches.len());
    // Strings arrive as plain Utf8 (never Utf8View), money as exact decimals.
    let schema = batches[0].schema();
    assert_eq!(
        schema
            .field_with_name("merchant_city")
            .expect("col")
            .data_type(),
        &DataType::Utf8
    );
    assert!(matches!(
        schema.field_with_name("amount").expect("col").data_type(),
        DataType::Decimal128(12, 2)
    ));

    // A prepared statement with a bound parameter.
    let mut stmt = c
        .prepare(
            "select count(*) from bronze.transactions where amount < $1".into(),
            None,
        )
        .await
        .expect("prepare");
    let params = stmt.parameter_schema().expect("param schema").clone();
    assert_eq!(params.fields().len(), 1);
    assert!(matches!(
        params.field(0).data_type(),
        DataType::Decimal128(..)
    ));
    let refunds: u64 = {
        let mut conn = connect(&url).await;
        let n: Option<u64> = conn
            .query_first("SELECT COUNT(*) FROM transactions WHERE amount < 0")
            .await
            .expect("count");
        conn.disconnect().await.expect("disconnect");
        n.unwrap_or(0)
    };
    let value = datafusion::arrow::array::StringArray::from(vec!["0"]);
    let cast = datafusion::arrow::compute::cast(&value, params.field(0).data_type()).expect("cast");
    let batch = RecordBatch::try_new(std::sync::Arc::new(params), vec![cast]).expect("params");
    stmt.set_parameters(batch).expect("bind");
    let info = stmt.execute().await.expect("execute prepared");
    let b = fetch(&mut c, info).await;
    assert_eq!(
        b[0].column(0).as_primitive::<Int64Type>().value(0) as u64,
        refunds
    );
    stmt.close().await.expect("close");

    // Metadata.
    let info = c.get_catalogs().await.expect("catalogs");
    let b = fetch(&mut c, info).await;
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "finlake");
    let info = c
        .get_db_schemas(CommandGetDbSchemas {
            catalog: Some("finlake".into()),
            db_schema_filter_pattern: None,
        })
        .await
        .expect("schemas");
    let b = fetch(&mut c, info).await;
    let schemas: Vec<&str> = b[0].column(1).as_string::<i32>().iter().flatten().collect();
    assert!(schemas.contains(&"bronze"), "{schemas:?}");
    let info = c
        .get_tables(CommandGetTables {
            catalog: Some("finlake".into()),
            db_schema_filter_pattern: Some("bronze".into()),
            table_name_filter_pattern: Some("users%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .expect("tables");
    let b = fetch(&mut c, info).await;
    let names: Vec<&str> = b[0].column(2).as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, ["users", "users__changes"]);
    assert_eq!(b[0].schema().field(4).name(), "table_schema");
    let info = c
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog: None,
            db_schema: Some("bronze".into()),
            table: "fraud_labels".into(),
        })
        .await
        .expect("pks");
    let b = fetch(&mut c, info).await;
    assert_eq!(b[0].column(3).as_string::<i32>().value(0), "transaction_id");
    let info = c
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerVersion,
            SqlInfo::FlightSqlServerArrowVersion,
            SqlInfo::FlightSqlServerReadOnly,
            SqlInfo::SqlIdentifierQuoteChar,
            SqlInfo::SqlTransactionsSupported,
        ])
        .await
        .expect("sql info");
    let b = fetch(&mut c, info).await;
    assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), 6);
    let info = c
        .get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None })
        .await
        .expect("xdbc");
    assert!(fetch(&mut c, info).await[0].num_rows() >= 10);

    // Health and metrics.
    let (code, body) = server.get("/health");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"ingest\":\"running\""), "{body}");
    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    for m in [
        "finlake_queries_total",
        "finlake_query_duration_seconds_bucket",
        "finlake_cache_hits_total",
        "finlake_ingest_lag_seconds",
        "finlake_table_version{schema=\"bronze\",table=\"users\"}",
    ] {
        assert!(metrics.contains(m), "{m} missing:\n{metrics}");
    }

    // SIGTERM: a clean stop.
    drop(c);
    let (status, rest) = server.stop();
    assert!(status.success(), "exit {status}: {rest}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[tokio::test]
async fn commits_are_visible_to_the_next_query_and_each_query_reads_one_snapshot() {
    let url = fresh_db("t_flight_live").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "12"],
        &env,
    ));
    let server = Server::start(&["--server-id", "7202", "--max-wait", "50ms"], &env);
    let mut c = client(server.flight).await;
    wait_caught_up(&mut c, &url).await;

    // Insert, update, delete in the source: each becomes visible to a later query.
    let mut conn = connect(&url).await;
    let base = scalar(&mut c, "select count(*) from bronze.mcc_codes").await;
    conn.query_drop("INSERT INTO mcc_codes (mcc, description) VALUES (9990, 'Flight test')")
        .await
        .expect("insert");
    wait_for(
        &mut c,
        "select count(*) from bronze.mcc_codes",
        base + 1,
        Duration::from_secs(30),
    )
    .await;
    conn.query_drop("UPDATE mcc_codes SET description = 'Flight test, updated' WHERE mcc = 9990")
        .await
        .expect("update");
    wait_for(
        &mut c,
        "select count(*) from bronze.mcc_codes where description = 'Flight test, updated'",
        1,
        Duration::from_secs(30),
    )
    .await;
    conn.query_drop("DELETE FROM mcc_codes WHERE mcc = 9990")
        .await
        .expect("delete");
    wait_for(
        &mut c,
        "select count(*) from bronze.mcc_codes",
        base,
        Duration::from_secs(30),
    )
    .await;
    conn.disconnect().await.expect("disconnect");

    // Under a concurrent workload: every query sees one snapshot per table (two scans of the
    // same table agree), and a ticket re-read later returns what it returned the first time.
    let workload = {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        std::thread::spawn(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            ok(finlake(
                &[
                    "simulate",
                    "--rate",
                    "300",
                    "--duration",
                    "6s",
                    "--label-delay",
                    "1s",
                    "--connections",
                    "4",
                ],
                &env,
            ))
        })
    };
    let mut versions_seen = std::collections::BTreeSet::new();
    let sql = "select (select count(*) from bronze.transactions) - \
               (select count(*) from bronze.transactions t join bronze.transactions u on t.id = u.id)";
    let started = Instant::now();
    // For the workload's 6 s, and on until a commit of it has reached the server (the loop
    // may lag on a loaded machine; 90 s at most).
    while started.elapsed() < Duration::from_secs(6)
        || (versions_seen.len() < 2 && started.elapsed() < Duration::from_secs(90))
    {
        assert_eq!(
            scalar(&mut c, sql).await,
            0,
            "one snapshot per table per query"
        );
        let info = c
            .execute(
                "select count(*), sum(amount) from bronze.transactions".into(),
                None,
            )
            .await
            .expect("plan");
        let ticket: Ticket = info.endpoint[0].ticket.clone().expect("ticket");
        versions_seen.insert(ticket.ticket.clone());
        let first: Vec<RecordBatch> = c
            .do_get(ticket.clone())
            .await
            .expect("get")
            .try_collect()
            .await
            .expect("rows");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again: Vec<RecordBatch> = c
            .do_get(ticket)
            .await
            .expect("get")
            .try_collect()
            .await
            .expect("rows");
        assert_eq!(
            first, again,
            "a ticket reads the snapshot it was planned against"
        );
    }
    workload.join().expect("workload");
    assert!(
        versions_seen.len() > 1,
        "the workload's commits reached the server ({} distinct tickets)",
        versions_seen.len()
    );
    // And once it stops, the lake equals the source again.
    wait_caught_up(&mut c, &url).await;
}

#[tokio::test]
async fn unauthenticated_and_bad_requests_are_refused_and_the_server_keeps_serving() {
    let url = fresh_db("t_flight_auth").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "13"],
        &env,
    ));
    ok(finlake(
        &["ingest", "--until-caught-up", "--server-id", "7203"],
        &env,
    ));

    // No password configured: refuses to start, and says how to fix it.
    let mut no_pw = env.clone();
    no_pw.retain(|(k, _)| *k != "FINLAKE_FLIGHT_PASSWORD");
    let out = finlake(
        &["serve", "--no-ingest", "--flight-addr", "127.0.0.1:0"],
        &no_pw,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("FINLAKE_FLIGHT_PASSWORD"),
        "{}",
        text(&out)
    );

    let server = Server::start(&["--no-ingest", "--flight-statement-timeout", "3s"], &env);
    let (code, body) = server.get("/health");
    assert_eq!(
        (code, body.contains("\"ingest\":\"disabled\"")),
        (200, true),
        "{body}"
    );

    // No credentials, a wrong password, forged and "None" tokens: all refused.
    let mut anon = FlightSqlServiceClient::new(channel(server.flight).await);
    let e = anon
        .execute("select 1".into(), None)
        .await
        .expect_err("no credentials");
    assert!(refused(&e), "{e}");
    let e = anon
        .handshake(USER, "wrong")
        .await
        .expect_err("bad password");
    assert!(refused(&e), "{e}");
    for token in ["None", "fl1.YW5hbHlzdA.99999999999.00", "garbage"] {
        anon.set_token(token.into());
        let e = anon.get_catalogs().await.expect_err("bad token");
        assert!(refused(&e), "{token}: {e}");
    }
    // Basic credentials on a call work without a handshake.
    let mut basic = FlightSqlServiceClient::new(channel(server.flight).await);
    use base64::Engine as _;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    basic.set_header("authorization", format!("Basic {creds}"));
    basic.get_catalogs().await.expect("basic auth");

    // Bad requests get errors.
    let mut c = client(server.flight).await;
    let e = c
        .do_get(Ticket::new(b"garbage".to_vec()))
        .await
        .expect_err("garbage ticket");
    assert!(has_code(&e, tonic::Code::InvalidArgument), "{e}");
    let forged = arrow_flight::sql::TicketStatementQuery {
        statement_handle: b"FLQ1{not json".to_vec().into(),
    };
    use arrow_flight::sql::ProstMessageExt as _;
    use prost::Message as _;
    let e = c
        .do_get(Ticket::new(forged.as_any().encode_to_vec()))
        .await
        .expect_err("bad handle");
    assert!(e.to_string().contains("invalid statement handle"), "{e}");
    let e = c
        .execute("selec nothing".into(), None)
        .await
        .expect_err("bad sql");
    assert!(has_code(&e, tonic::Code::InvalidArgument), "{e}");
    let e = c
        .execute("select * from bronze.nope".into(), None)
        .await
        .expect_err("no table");
    assert!(e.to_string().contains("not found"), "{e}");
    for sql in ["update bronze.users set id = 0", "drop table bronze.users"] {
        let e = c.execute(sql.into(), None).await.expect_err(sql);
        assert!(e.to_string().contains("read-only"), "{sql}: {e}");
        let e = c.execute_update(sql.into(), None).await.expect_err(sql);
        assert!(e.to_string().contains("read-only"), "{sql}: {e}");
    }
    let e = c
        .prepare("select * from bronze.users where id = $1".into(), None)
        .await
        .expect("prepare")
        .execute()
        .await
        .expect_err("unbound parameter");
    assert!(e.to_string().contains("parameter"), "{e}");

    // A client that drops a running query's stream cancels it; a query that runs too long
    // is stopped by the statement timeout.
    let endless = "select * from generate_series(1, 100000000000)";
    let info = c.execute(endless.into(), None).await.expect("plan");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    {
        let mut stream = c.do_get(ticket.clone()).await.expect("do_get");
        use futures::StreamExt as _;
        assert!(
            stream.next().await.is_some_and(|b| b.is_ok()),
            "first batch"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = server.get("/metrics");
        let n = m
            .lines()
            .find_map(|l| l.strip_prefix("finlake_queries_cancelled_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if n >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dropped query was not cancelled:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let drained: Result<Vec<RecordBatch>, _> =
        c.do_get(ticket).await.expect("do_get").try_collect().await;
    let e = drained.expect_err("statement timeout");
    assert!(has_code(&e, tonic::Code::DeadlineExceeded), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // Still serving, with the right answer.
    let users = counts(&url).await[0].1 as i64;
    assert_eq!(
        scalar(&mut c, "select count(*) from bronze.users").await,
        users
    );
    let (_, metrics) = server.get("/metrics");
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix("finlake_flight_unauthenticated_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(refused >= 4, "{metrics}");
    let (status, rest) = server.stop();
    assert!(status.success(), "{rest}");
}

#[tokio::test]
async fn tls_serves_encrypted_connections_only() {
    let url = fresh_db("t_flight_tls").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "14"],
        &env,
    ));
    ok(finlake(
        &["ingest", "--until-caught-up", "--server-id", "7204"],
        &env,
    ));
    let cert = lake.path().join("server.pem");
    let key = lake.path().join("server.key");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = Server::start(
        &[
            "--no-ingest",
            "--flight-tls-cert",
            cert.to_str().expect("utf8"),
            "--flight-tls-key",
            key.to_str().expect("utf8"),
        ],
        &env,
    );
    let pem = std::fs::read_to_string(&cert).expect("cert");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem))
        .domain_name("localhost");
    let channel = Endpoint::new(format!("https://127.0.0.1:{}", server.flight.port()))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("tls connect");
    let mut c = FlightSqlServiceClient::new(channel);
    c.handshake(USER, PASSWORD)
        .await
        .expect("handshake over TLS");
    let users = counts(&url).await[0].1 as i64;
    assert_eq!(
        scalar(&mut c, "select count(*) from bronze.users").await,
        users
    );
    // Plain text is not served.
    let plain = Endpoint::new(format!("http://{}", server.flight))
        .expect("endpoint")
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        let mut p = FlightSqlServiceClient::new(ch);
        assert!(
            p.handshake(USER, PASSWORD).await.is_err(),
            "plain text accepted"
        );
    }
}
