//! `finlake ingest` and `finlake verify` end to end: the real binary, a real MariaDB, a local
//! Delta lake.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{finlake, fresh_db, ok, text};

const MASK_KEY: &str = "integration-test-mask-key-0123456789";

fn env<'a>(url: &'a str, lake: &'a str, server_id: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("FINLAKE_SOURCE_URL", url),
        ("FINLAKE_LAKE_URI", lake),
        ("FINLAKE_MASK_KEY", MASK_KEY),
        ("FINLAKE_SERVER_ID", server_id),
    ]
}

fn verify_equal(env: &[(&str, &str)]) -> String {
    let out = finlake(&["verify"], env);
    let report = text(&out);
    assert!(out.status.success(), "source and lake differ:\n{report}");
    assert_eq!(report.matches(" equal").count(), 5, "{report}");
    report
}

fn bronze_cards_file_text(lake: &Path) -> String {
    // Every data file of the cards table, as lossy text: clear card numbers must not appear.
    let mut all = String::new();
    let dir = lake.join("bronze/cards");
    for entry in std::fs::read_dir(&dir).expect("cards table") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "parquet") {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).expect("read")));
        }
    }
    all
}

#[tokio::test]
async fn snapshot_then_changes_reach_the_lake_exactly_once_and_masked() {
    let url = fresh_db("t_ingest").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env(&url, lake_uri, "7101");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "3"],
        &env,
    ));

    let first = ok(finlake(&["ingest", "--until-caught-up"], &env));
    assert!(first.contains("applied"), "{first}");
    verify_equal(&env);

    // No clear card number or CVV in the lake: compare against the source's values.
    let mut conn = crate::common::connect(&url).await;
    let numbers: Vec<String> =
        mysql_async::prelude::Queryable::query(&mut conn, "SELECT card_number FROM cards")
            .await
            .expect("numbers");
    conn.disconnect().await.expect("disconnect");
    let files = bronze_cards_file_text(lake.path());
    assert!(files.contains("hmac:"), "masked values are stored");
    for n in &numbers {
        assert!(
            !files.contains(n.as_str()),
            "card number {n} stored in clear"
        );
    }

    // Live changes, then catch up again: still equal.
    ok(finlake(
        &[
            "simulate",
            "--rate",
            "300",
            "--duration",
            "3s",
            "--label-delay",
            "1s",
            "--connections",
            "4",
        ],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);

    // A second catch-up with nothing new changes nothing.
    let again = ok(finlake(&["ingest", "--until-caught-up"], &env));
    assert!(again.contains("applied 0 events"), "{again}");
    verify_equal(&env);
}

#[tokio::test]
async fn kill_9_during_ingest_loses_and_duplicates_nothing() {
    let url = fresh_db("t_ingest_kill").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env(&url, lake_uri, "7102");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "4"],
        &env,
    ));

    for round in 0..3u64 {
        // A continuous ingest and a live workload at the same time; the ingest is killed with
        // SIGKILL at a different moment each round.
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_finlake"));
        for (k, _) in std::env::vars() {
            if k.starts_with("FINLAKE_") {
                cmd.env_remove(k);
            }
        }
        let mut ingest = cmd
            .arg("ingest")
            .args(["--max-wait", "50ms"])
            .envs(env.iter().copied())
            .env("FINLAKE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ingest");
        let workload = {
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            std::thread::spawn(move || {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                ok(finlake(
                    &[
                        "simulate",
                        "--rate",
                        "200",
                        "--duration",
                        "3s",
                        "--label-delay",
                        "1s",
                        "--connections",
                        "4",
                        "--seed",
                        &round.to_string(),
                    ],
                    &env,
                ))
            })
        };
        std::thread::sleep(Duration::from_millis(1200 + 700 * round));
        ingest.kill().expect("SIGKILL");
        ingest.wait().expect("reap");
        workload.join().expect("workload");
    }
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);
}
