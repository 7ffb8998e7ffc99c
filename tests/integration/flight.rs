//! `finlake serve` end to end: the real binary ingesting from a real MariaDB and serving
//! Flight SQL, driven by arrow-rs' Flight SQL client: statements, prepared statements,
//! metadata, live visibility, snapshot consistency under concurrent ingest, auth refusal,
//! bad requests, TLS and graceful shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use arrow_flight::Ticket;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, SqlInfo};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use futures::TryStreamExt;
use mysql_async::prelude::Queryable;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::common::{
    PASSWORD, Server, USER, channel, client, connect, counts, fetch, finlake, fresh_db, ok, query,
    scalar, serve_env, text, wait_caught_up, wait_for,
};

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
