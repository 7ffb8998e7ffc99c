//! Shared harness: the test server, fresh databases, running the binary.

pub(crate) mod server;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

/// Batches as `a|b|c` lines (NULL for nulls), in order: the library's test-support formatter.
pub(crate) use finlake::testkit::lines;
pub(crate) use server::{
    MASK_KEY, PASSWORD, Server, USER, channel, client, fetch, query, scalar, serve_env,
    wait_caught_up, wait_for,
};

/// The environment of `finlake ingest` on `url` into `lake`, reading the binlog as replica
/// `server_id` (unique per concurrently running loop).
pub(crate) fn ingest_env<'a>(
    url: &'a str,
    lake: &'a str,
    server_id: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("FINLAKE_SOURCE_URL", url),
        ("FINLAKE_LAKE_URI", lake),
        ("FINLAKE_MASK_KEY", MASK_KEY),
        ("FINLAKE_SERVER_ID", server_id),
    ]
}

/// State directory of the shared test server.
pub(crate) fn state_dir() -> PathBuf {
    std::env::var_os("FINLAKE_TEST_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("finlake-test-state"))
}

/// The real binary, with no `FINLAKE_*` variable inherited from the test's environment but
/// `FINLAKE_DEMO=1` (the tests' mask keys look like the test keys they are).
pub(crate) fn finlake_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_finlake"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FINLAKE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FINLAKE_DEMO", "1");
    cmd
}

/// Runs `finlake ARGS` with `env` on a thread of its own (a workload beside a running loop);
/// the thread asserts success and returns stdout.
pub(crate) fn finlake_on_thread(
    args: &[&str],
    env: &[(&str, &str)],
) -> std::thread::JoinHandle<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ok(finlake(&args, &env))
    })
}

/// Runs the real binary with a clean `FINLAKE_*` environment plus `env`.
pub(crate) fn finlake(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = finlake_command();
    cmd.env("FINLAKE_NO_PROGRESS", "1")
        .env("FINLAKE_LOG", "warn");
    cmd.args(args).envs(env.iter().copied());
    cmd.output().expect("run finlake")
}

/// Stdout and stderr, for assertions and failure messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `finlake verify` until source and lake are equal, or fails after `within`.
///
/// A running loop applies updates after the row counts already match, so a single `verify`
/// right after a workload can race it; a real difference persists past the deadline.
pub(crate) fn verify_eventually(env: &[(&str, &str)], within: std::time::Duration) -> String {
    let deadline = std::time::Instant::now() + within;
    loop {
        let out = finlake(&["verify"], env);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "source and lake still differ after {within:?}:\n{}",
            text(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// Asserts success and returns stdout.
pub(crate) fn ok(out: Output) -> String {
    assert!(out.status.success(), "finlake failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The application URL of the shared server (started on first use).
pub(crate) fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let dir = state_dir();
        let dir = dir.to_str().expect("utf-8 path");
        ok(finlake(
            &[
                "--state-dir",
                dir,
                "db",
                "start",
                "--db-buffer-pool",
                "512M",
            ],
            &[],
        ));
        ok(finlake(&["--state-dir", dir, "db", "url"], &[]))
            .trim()
            .to_string()
    })
}

/// The shared server's URL with another database name.
pub(crate) fn url_for(database: &str) -> String {
    let base = server_url();
    let cut = base.rfind('/').expect("url has a database");
    format!("{}/{database}", &base[..cut])
}

/// A fresh, empty database on the shared server; returns its URL.
pub(crate) async fn fresh_db(name: &str) -> String {
    let mut conn = Conn::from_url(server_url()).await.expect("connect");
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .expect("drop");
    conn.query_drop(format!("CREATE DATABASE `{name}`"))
        .await
        .expect("create");
    conn.disconnect().await.expect("disconnect");
    url_for(name)
}

pub(crate) async fn connect(url: &str) -> Conn {
    Conn::from_url(url).await.expect("connect")
}

/// Row counts of the five source tables.
pub(crate) async fn counts(url: &str) -> Vec<(String, u64)> {
    let mut conn = connect(url).await;
    let mut out = Vec::new();
    for t in [
        "users",
        "cards",
        "mcc_codes",
        "transactions",
        "fraud_labels",
    ] {
        let n: u64 = conn
            .query_first(format!("SELECT COUNT(*) FROM `{t}`"))
            .await
            .expect("count")
            .unwrap_or(0);
        out.push((t.to_string(), n));
    }
    conn.disconnect().await.expect("disconnect");
    out
}

/// An order-independent fingerprint of every row of a table: count plus sum of row CRCs
/// over all columns (NULL-safe), so two databases can be compared exactly.
pub(crate) async fn fingerprint(url: &str, table: &str) -> (u64, String) {
    let mut conn = connect(url).await;
    let cols: Vec<String> = conn
        .exec(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        .await
        .expect("columns");
    let expr = cols
        .iter()
        .map(|c| format!("COALESCE(CAST(`{c}` AS CHAR), '\\\\N')"))
        .collect::<Vec<_>>()
        .join(", ");
    let row: Option<(u64, Option<String>)> = conn
        .query_first(format!(
            "SELECT COUNT(*), CAST(SUM(CRC32(CONCAT_WS('|', {expr}))) AS CHAR) FROM `{table}`"
        ))
        .await
        .expect("fingerprint");
    conn.disconnect().await.expect("disconnect");
    let (n, sum) = row.expect("one row");
    (n, sum.unwrap_or_default())
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves no
/// process behind.
pub(crate) struct Reaped(pub(crate) std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
