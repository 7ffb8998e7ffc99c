//! The native scale-out stack for the tests: Kafka, Kafka Connect with Debezium, MinIO, started
//! once by `infra/local/stack.sh up` (state under cargo's target tmp dir, stopped by `make
//! test`). A stack that cannot start fails the tests; nothing is skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// The running stack's endpoints, from its state file.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) kafka: String,
    pub(crate) connect: String,
    pub(crate) s3_endpoint: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) bucket: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn stack_dir() -> PathBuf {
    std::env::var_os("FINLAKE_TEST_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("finlake-stack"))
}

/// Starts the shared stack (idempotent) and returns its endpoints.
pub(crate) fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| Stack::start(&stack_dir()))
}

impl Stack {
    /// `infra/local/stack.sh <args>` on the stack in `dir`; fails the test on error.
    pub(crate) fn script(dir: &Path, args: &[&str]) {
        let out = Command::new("bash")
            .arg(repo().join("infra/local/stack.sh"))
            .args(args)
            .env("FINLAKE_STACK_DIR", dir)
            .output()
            .expect("run infra/local/stack.sh");
        assert!(
            out.status.success(),
            "stack.sh {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts (or finds running) the stack in `dir`, removing connectors of earlier runs (the
    /// stack's data persists; they would go on reading the shared test server).
    pub(crate) fn start(dir: &Path) -> Stack {
        Self::script(dir, &["up"]);
        let text = std::fs::read_to_string(dir.join("stack.env")).expect("stack.env");
        let env: HashMap<&str, &str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .collect();
        let get = |k: &str| {
            env.get(k)
                .unwrap_or_else(|| panic!("{k} in stack.env"))
                .to_string()
        };
        let out = Command::new("python3")
            .arg(repo().join("infra/connect/register.py"))
            .arg("--delete-all")
            .env("FINLAKE_CONNECT_URL", get("CONNECT_URL"))
            .output()
            .expect("run register.py --delete-all");
        assert!(out.status.success(), "removing old connectors failed");
        Stack {
            kafka: get("KAFKA_BOOTSTRAP"),
            connect: get("CONNECT_URL"),
            s3_endpoint: get("S3_ENDPOINT"),
            access_key: get("MINIO_ACCESS_KEY"),
            secret_key: get("MINIO_SECRET_KEY"),
            bucket: get("MINIO_BUCKET"),
        }
    }
}

/// Registers the repo's connector config for the database of `url` with topic prefix
/// `prefix` (infra/connect/register.py: signal table DDL, idempotent PUT, waits for RUNNING).
pub(crate) fn register_connector(url: &str, name: &str, prefix: &str, server_id: u32) {
    register_connector_on(stack(), url, name, prefix, server_id);
}

pub(crate) fn register_connector_on(
    s: &Stack,
    url: &str,
    name: &str,
    prefix: &str,
    server_id: u32,
) {
    let run = || {
        Command::new("python3")
            .arg(repo().join("infra/connect/register.py"))
            .args(["--name", name])
            .env("FINLAKE_SOURCE_URL", url)
            .env("FINLAKE_CONNECT_URL", &s.connect)
            .env("FINLAKE_KAFKA_BROKERS", &s.kafka)
            .env("FINLAKE_KAFKA_TOPIC_PREFIX", prefix)
            .env("FINLAKE_DEBEZIUM_SERVER_ID", server_id.to_string())
            .output()
            .expect("run register.py")
    };
    let out = run();
    assert!(
        out.status.success(),
        "connector registration failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Registering twice changes nothing (PUT of the same config).
    let again = run();
    assert!(again.status.success(), "second registration failed");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("configured"),
        "the second PUT updates in place"
    );
}

/// Removes a connector (and so its binlog reader) at the end of a test.
pub(crate) fn delete_connector(name: &str) {
    delete_connector_on(stack(), name);
}

pub(crate) fn delete_connector_on(s: &Stack, name: &str) {
    let _ = Command::new("python3")
        .arg(repo().join("infra/connect/register.py"))
        .args(["--name", name, "--delete"])
        .env("FINLAKE_CONNECT_URL", &s.connect)
        .output();
}

/// Writes a marker into the signal table (a Debezium `log` signal) and waits until its change
/// event is in Kafka: Debezium publishes in binlog order, so every change committed before is
/// then in Kafka too.
pub(crate) async fn wait_for_debezium(url: &str, prefix: &str, database: &str) {
    wait_for_debezium_on(stack(), url, prefix, database).await;
}

pub(crate) async fn wait_for_debezium_on(s: &Stack, url: &str, prefix: &str, database: &str) {
    let marker = format!(
        "marker-{}",
        std::process::id() as u128 * 1_000 + now_ms() % 1_000
    );
    let mut conn = mysql_async::Conn::from_url(url).await.expect("connect");
    conn.exec_drop(
        "INSERT INTO debezium_signal (id, type, data) VALUES (?, 'log', '{\"message\": \"finlake test marker\"}')",
        (&marker,),
    )
    .await
    .expect("signal marker");
    conn.disconnect().await.expect("disconnect");
    let topic = format!("{prefix}.{database}.debezium_signal");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &s.kafka)
        .set("group.id", format!("test-marker-{marker}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut assigned = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "Debezium did not publish the marker {marker} to {topic} within 180 s"
        );
        if !assigned {
            let md = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .expect("metadata");
            if md
                .topics()
                .iter()
                .any(|t| t.name() == topic && !t.partitions().is_empty())
            {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(&topic, 0, Offset::Beginning)
                    .expect("partition");
                consumer.assign(&tpl).expect("assign");
                assigned = true;
            } else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500))
            && m.payload()
                .is_some_and(|p| String::from_utf8_lossy(p).contains(&marker))
        {
            return;
        }
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// A topic prefix (and connector name) unique to this test run: topics of earlier runs hold
/// rows of databases that were dropped since.
pub(crate) fn run_prefix(db: &str) -> String {
    static RUN: OnceLock<u128> = OnceLock::new();
    let run = RUN.get_or_init(|| now_ms() % 100_000_000);
    format!("{db}_{run}")
}

/// The environment for `finlake ingest --source kafka` against the stack.
pub(crate) fn kafka_env(prefix: &str, group: &str) -> Vec<(&'static str, String)> {
    kafka_env_on(stack(), prefix, group)
}

pub(crate) fn kafka_env_on(s: &Stack, prefix: &str, group: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FINLAKE_INGEST_SOURCE", "kafka".into()),
        ("FINLAKE_KAFKA_BROKERS", s.kafka.clone()),
        ("FINLAKE_KAFKA_TOPIC_PREFIX", prefix.into()),
        ("FINLAKE_KAFKA_GROUP", group.into()),
    ]
}

/// The environment for a lake on the stack's MinIO under `prefix`.
pub(crate) fn s3_env(prefix: &str) -> Vec<(&'static str, String)> {
    s3_env_on(stack(), prefix)
}

pub(crate) fn s3_env_on(s: &Stack, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FINLAKE_LAKE_URI", format!("s3://{}/{prefix}", s.bucket)),
        ("FINLAKE_S3_ENDPOINT", s.s3_endpoint.clone()),
        ("FINLAKE_S3_ACCESS_KEY_ID", s.access_key.clone()),
        ("FINLAKE_S3_SECRET_ACCESS_KEY", s.secret_key.clone()),
        ("FINLAKE_S3_ALLOW_HTTP", "true".into()),
    ]
}
