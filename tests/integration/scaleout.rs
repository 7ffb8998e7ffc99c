//! The scale-out path end to end, on the native stack (`infra/local/stack.sh`): Debezium in
//! Kafka Connect captures the shared test MariaDB into Kafka, `finlake ingest --source kafka`
//! applies it; conformance with the binlog source; kill -9 and rebalances; the lake on MinIO with
//! concurrent writers.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deltalake::arrow::util::display::array_value_to_string;
use finlake::ingest::binlog;
use finlake::lake::Lake;
use mysql_async::prelude::Queryable;

use crate::common::server::{Server, client, wait_caught_up};
use crate::common::{Reaped, finlake, fresh_db, ok, text, verify_eventually};
use crate::serve_analytics::wait_served;
use crate::stack::{
    delete_connector, kafka_env, register_connector, run_prefix, s3_env, stack, wait_for_debezium,
};

pub(crate) use crate::common::MASK_KEY;
pub(crate) use finlake::lake::TABLES;

/// `FINLAKE_*` settings as owned pairs, plus a borrowed view for [`finlake`].
pub(crate) struct Env(Vec<(&'static str, String)>);

impl Env {
    pub(crate) fn new(url: &str, lake: &str) -> Self {
        Self(vec![
            ("FINLAKE_SOURCE_URL", url.to_owned()),
            ("FINLAKE_LAKE_URI", lake.to_owned()),
            ("FINLAKE_MASK_KEY", MASK_KEY.to_owned()),
        ])
    }

    pub(crate) fn with(mut self, more: Vec<(&'static str, String)>) -> Self {
        for (k, v) in more {
            self.0.retain(|(key, _)| *key != k);
            self.0.push((k, v));
        }
        self
    }

    pub(crate) fn view(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    pub(crate) fn run(&self, args: &[&str]) -> String {
        ok(finlake(args, &self.view()))
    }

    fn spawn(&self, args: &[&str]) -> Child {
        let mut cmd = crate::common::finlake_command();
        cmd.args(args)
            .envs(self.view())
            .env("FINLAKE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn finlake")
    }

    pub(crate) fn verify(&self) -> std::process::Output {
        finlake(&["verify"], &self.view())
    }

    pub(crate) fn verify_equal(&self) {
        let out = self.verify();
        let report = text(&out);
        assert!(out.status.success(), "source and lake differ:\n{report}");
        assert_eq!(report.matches(" equal").count(), 5, "{report}");
    }
}

pub(crate) async fn apply_sql_file(url: &str, path: &Path) {
    let sql = std::fs::read_to_string(path).expect("sql file");
    let mut conn = mysql_async::Conn::from_url(url).await.expect("connect");
    conn.query_drop(sql).await.expect("apply sql");
    conn.disconnect().await.expect("disconnect");
}

pub(crate) fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn delta_commits(table_dir: &Path) -> usize {
    std::fs::read_dir(table_dir.join("_delta_log"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Waits for a process; kills it and fails the test at the deadline.
fn wait_deadline(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("reap");
            panic!("process did not finish in time ({status})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    child.wait().expect("wait")
}

/// Every bronze table's source columns, as sorted text rows per table.
pub(crate) async fn bronze_source_rows(url: &str, lake_uri: &str) -> HashMap<String, Vec<String>> {
    bronze_source_rows_with(url, lake_uri, HashMap::new()).await
}

/// [`bronze_source_rows`] of a lake opened with these storage options (S3).
pub(crate) async fn bronze_source_rows_with(
    url: &str,
    lake_uri: &str,
    options: HashMap<String, String>,
) -> HashMap<String, Vec<String>> {
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let schemas = binlog::table_schemas(url, &tables).await.expect("schemas");
    let lake = Lake::open(lake_uri, options).expect("lake");
    let mut out = HashMap::new();
    for schema in schemas {
        let table = lake
            .open_table_with(&schema, finlake::lake::layout_for(&schema.name))
            .await
            .expect("open bronze");
        let mut rows = Vec::new();
        for batch in table.read_all().await.expect("read bronze") {
            for r in 0..batch.num_rows() {
                let row: Vec<String> = schema
                    .columns
                    .iter()
                    .map(|c| {
                        let col = batch.column_by_name(&c.name).expect("source column");
                        array_value_to_string(col, r).expect("display")
                    })
                    .collect();
                rows.push(row.join("|"));
            }
        }
        rows.sort();
        out.insert(schema.name.clone(), rows);
    }
    out
}

fn masked_everywhere(lake: &Path, card_numbers: &[String]) {
    let mut all = String::new();
    for entry in std::fs::read_dir(lake.join("bronze/cards")).expect("cards table") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "parquet") {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).expect("read")));
        }
    }
    assert!(all.contains("hmac:"), "masked values are stored");
    for n in card_numbers {
        assert!(!all.contains(n.as_str()), "card number {n} stored in clear");
    }
}

#[tokio::test]
async fn kafka_source_survives_kill_9_and_rebalance_and_equals_the_source() {
    let db = "t_kafka";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = Env::new(&url, lake_uri).with(kafka_env(&prefix, "g_t_kafka"));
    env.run(&["datagen", "--scale", "0.001", "--seed", "5"]);
    register_connector(&url, &prefix, &prefix, 5501);
    env.run(&[
        "simulate",
        "--rate",
        "300",
        "--duration",
        "3s",
        "--label-delay",
        "1s",
        "--connections",
        "4",
    ]);
    wait_for_debezium(&url, &prefix, db).await;

    // Two processes share the topics in one consumer group, in small batches; one is killed
    // with SIGKILL after several commits, and the other takes its partitions over, resuming
    // from the offsets in the lake.
    let small = Env::new(&url, lake_uri)
        .with(kafka_env(&prefix, "g_t_kafka"))
        .with(vec![("FINLAKE_BATCH_EVENTS", "2000".into())]);
    let mut a = Reaped(small.spawn(&["ingest"]));
    let mut b = Reaped(small.spawn(&["ingest"]));
    let tx_dir = lake.path().join("bronze/transactions");
    let labels_dir = lake.path().join("bronze/fraud_labels");
    wait_until(
        "commits by the Kafka loop",
        Duration::from_secs(120),
        || delta_commits(&tx_dir) + delta_commits(&labels_dir) >= 5,
    );
    a.0.kill().expect("SIGKILL");
    a.0.wait().expect("reap");
    wait_until(
        "the surviving consumer to make the lake equal",
        Duration::from_secs(240),
        || env.verify().status.success(),
    );
    let status = sigterm(&mut b.0);
    assert!(status.success(), "clean stop on SIGTERM: {status}");
    env.verify_equal();

    // More changes, then a fresh process catches up exactly.
    env.run(&[
        "simulate",
        "--rate",
        "300",
        "--duration",
        "2s",
        "--label-delay",
        "1s",
        "--connections",
        "4",
        "--seed",
        "77",
    ]);
    wait_for_debezium(&url, &prefix, db).await;
    let out = env.run(&["ingest", "--until-caught-up"]);
    assert!(out.contains("applied"), "{out}");
    env.verify_equal();
    let again = env.run(&["ingest", "--until-caught-up"]);
    assert!(again.contains("applied 0 events"), "{again}");
    env.verify_equal();

    let mut conn = mysql_async::Conn::from_url(&url).await.expect("connect");
    let numbers: Vec<String> = conn
        .query("SELECT card_number FROM cards")
        .await
        .expect("numbers");
    conn.disconnect().await.expect("disconnect");
    masked_everywhere(lake.path(), &numbers);
    delete_connector(&prefix);
}

#[tokio::test]
async fn binlog_and_kafka_sources_build_identical_bronze_tables() {
    let db = "t_conform";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    apply_sql_file(&url, &repo_file("infra/mysql/schema.sql")).await;
    apply_sql_file(&url, &repo_file("tests/data/debezium/snapshot.sql")).await;
    let binlog_lake = tempfile::tempdir().expect("tempdir");
    let kafka_lake = tempfile::tempdir().expect("tempdir");
    let binlog_uri = binlog_lake.path().to_str().expect("utf8");
    let kafka_uri = kafka_lake.path().to_str().expect("utf8");
    let binlog_env = Env::new(&url, binlog_uri).with(vec![("FINLAKE_SERVER_ID", "7601".into())]);
    let kafka = Env::new(&url, kafka_uri).with(kafka_env(&prefix, "g_t_conform"));

    // Both sources see the snapshot part, then the streamed part of the recorded scenario.
    register_connector(&url, &prefix, &prefix, 5502);
    binlog_env.run(&["ingest", "--until-caught-up"]);
    apply_sql_file(&url, &repo_file("tests/data/debezium/stream.sql")).await;
    wait_for_debezium(&url, &prefix, db).await;
    binlog_env.run(&["ingest", "--until-caught-up"]);
    kafka.run(&["ingest", "--until-caught-up"]);
    binlog_env.verify_equal();
    kafka.verify_equal();

    let from_binlog = bronze_source_rows(&url, binlog_uri).await;
    let from_kafka = bronze_source_rows(&url, kafka_uri).await;
    for t in TABLES {
        assert!(!from_binlog[t].is_empty(), "{t} has rows");
        assert_eq!(from_binlog[t], from_kafka[t], "bronze {t} differs");
    }
    delete_connector(&prefix);
}

/// `finlake serve --source kafka`: the Kafka loop inside the server (it refused before),
/// its commits followed by the queries, its reflections kept current: bronze equal to the
/// source after the snapshot and the stream, and the dashboard query served by a reflection
/// with the rows the unaccelerated query gives.
#[tokio::test]
async fn serve_runs_the_kafka_loop_and_keeps_its_reflections() {
    let db = "t_serve_kafka";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    apply_sql_file(&url, &repo_file("infra/mysql/schema.sql")).await;
    apply_sql_file(&url, &repo_file("tests/data/debezium/snapshot.sql")).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let uri = lake.path().to_str().expect("utf8");
    let env = Env::new(&url, uri).with(kafka_env(&prefix, "g_t_serve_kafka"));
    let mut serve_env = crate::common::serve_env(&url, uri);
    serve_env.extend(
        env.view()
            .into_iter()
            .filter(|(k, _)| k.contains("KAFKA") || k.contains("SOURCE")),
    );
    register_connector(&url, &prefix, &prefix, 5503);
    let server = Server::start(&[], &serve_env);
    let mut c = client(server.flight).await;
    wait_caught_up(&mut c, &url).await;
    let before = wait_served(&mut c, Duration::from_secs(240)).await;

    apply_sql_file(&url, &repo_file("tests/data/debezium/stream.sql")).await;
    wait_for_debezium(&url, &prefix, db).await;
    verify_eventually(&env.view(), Duration::from_secs(120));
    let after = wait_served(&mut c, Duration::from_secs(120)).await;
    assert_ne!(before, after, "the streamed changes reached the reflection");
    let (status, rest) = server.stop();
    assert!(status.success(), "exit {status}: {rest}");
    delete_connector(&prefix);
}

#[tokio::test]
async fn lake_on_minio_with_two_concurrent_writers() {
    let db = "t_minio";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    let env = Env::new(&url, "unused")
        .with(s3_env(&prefix))
        .with(kafka_env(&prefix, "g_t_minio_1"));
    env.run(&["datagen", "--scale", "0.001", "--seed", "9"]);
    register_connector(&url, &prefix, &prefix, 5503);
    env.run(&[
        "simulate",
        "--rate",
        "300",
        "--duration",
        "2s",
        "--label-delay",
        "1s",
        "--connections",
        "4",
    ]);
    wait_for_debezium(&url, &prefix, db).await;

    // Two independent writers (own groups, own app ids) apply the same changes to the same
    // tables at once: Delta commits race through S3 conditional PUT and retries.
    let w1 = env.with(vec![("FINLAKE_KAFKA_APP_ID", "writer-1".into())]);
    let w2 = Env::new(&url, "unused")
        .with(s3_env(&prefix))
        .with(kafka_env(&prefix, "g_t_minio_2"))
        .with(vec![("FINLAKE_KAFKA_APP_ID", "writer-2".into())]);
    let mut p1 = Reaped(w1.spawn(&["ingest", "--until-caught-up"]));
    let mut p2 = Reaped(w2.spawn(&["ingest", "--until-caught-up"]));
    let deadline = Instant::now() + Duration::from_secs(240);
    for (name, p) in [("writer-1", &mut p1.0), ("writer-2", &mut p2.0)] {
        let status = wait_deadline(p, deadline);
        assert!(status.success(), "{name} failed: {status}");
    }
    w1.verify_equal();
    // Both writers committed to the same tables on MinIO: each one's offsets are in the log.
    let lake =
        Lake::open(&format!("s3://{}/{prefix}", stack().bucket), s3_options()).expect("s3 lake");

    let tables: Vec<String> = vec!["transactions".into()];
    let schema = binlog::table_schemas(&url, &tables)
        .await
        .expect("schema")
        .remove(0);
    let mut tx = lake
        .open_table_with(&schema, finlake::lake::layout_for("transactions"))
        .await
        .expect("open on s3");
    for w in ["writer-1", "writer-2"] {
        let app = format!("{w}/{prefix}.{db}.transactions/0/offset");
        let offset = tx.txn_version(&app).await.expect("txn");
        assert!(offset.is_some_and(|o| o > 0), "{app}: {offset:?}");
    }
    delete_connector(&prefix);
}

/// Storage options of the stack's MinIO for [`Lake::open`].
pub(crate) fn s3_options() -> HashMap<String, String> {
    let s = stack();
    [
        ("aws_endpoint", s.s3_endpoint.clone()),
        ("aws_access_key_id", s.access_key.clone()),
        ("aws_secret_access_key", s.secret_key.clone()),
        ("aws_allow_http", "true".to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_conditional_put", "etag".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
