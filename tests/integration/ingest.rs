//! `finlake ingest` and `finlake verify` end to end: the real binary, a real MariaDB, a local
//! Delta lake.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::common::{finlake, fresh_db, ok, text};

use crate::common::{MASK_KEY, ingest_env as env};

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
    // No CVV at all, not even hashed: the column is there, NULL on every row.
    let cards = finlake::ingest::binlog::table_schemas(&url, &["cards".to_owned()])
        .await
        .expect("schema");
    let lake_handle = finlake::lake::Lake::open(lake_uri, Default::default()).expect("lake");
    let bronze = lake_handle
        .open_table_with(&cards[0], finlake::lake::layout_for("cards"))
        .await
        .expect("bronze cards");
    let batches = bronze.read_all().await.expect("read");
    assert!(batches.iter().any(|b| b.num_rows() > 0), "cards has rows");
    for b in &batches {
        let cvv = b.column_by_name("cvv").expect("the cvv column stays");
        assert_eq!(cvv.null_count(), b.num_rows(), "a CVV was kept");
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
    // A lake that is never killed: after every trial, everything derived from the stream
    // (histories, dead letters, alerts) must equal it.
    let reference = tempfile::tempdir().expect("tempdir");
    let reference_env = self::env(&url, reference.path().to_str().expect("utf8"), "7104");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "4"],
        &env,
    ));
    // Both lakes start from the same snapshot.
    for e in [&env, &reference_env] {
        ok(finlake(
            &["ingest", "--until-caught-up", "--fraud-features"],
            e,
        ));
    }

    for round in 0..3u64 {
        // A continuous ingest and a live workload at the same time; the ingest is killed with
        // SIGKILL at a different moment each round.
        let mut cmd = crate::common::finlake_command();
        let mut ingest = cmd
            .arg("ingest")
            .args(["--max-wait", "50ms", "--fraud-features"])
            .envs(env.iter().copied())
            .env("FINLAKE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ingest");
        let seed = round.to_string();
        let workload = crate::common::finlake_on_thread(
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
                &seed,
            ],
            &env,
        );
        std::thread::sleep(Duration::from_millis(1200 + 700 * round));
        ingest.kill().expect("SIGKILL");
        ingest.wait().expect("reap");
        workload.join().expect("workload");
        for e in [&env, &reference_env] {
            ok(finlake(
                &["ingest", "--until-caught-up", "--fraud-features"],
                e,
            ));
        }
        verify_equal(&env);
        crate::crash::assert_same(
            &crate::crash::derived(lake.path()).await,
            &crate::crash::derived(reference.path()).await,
        );
    }
}

#[tokio::test]
async fn a_poison_event_goes_to_dead_letters_and_the_loop_goes_on() {
    let url = fresh_db("t_ingest_poison").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env(&url, lake_uri, "7103");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "5"],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);

    // MySQL's zero date in a NOT NULL DATETIME (allowed under a lax sql_mode) has no value in
    // the lake: the row is a dead letter; the good insert in the same transaction lands.
    let mut conn = crate::common::connect(&url).await;
    let (id, client, card): (i64, i64, i64) = conn
        .query_first("SELECT MAX(id), MIN(client_id), MIN(card_id) FROM transactions")
        .await
        .expect("ids")
        .expect("row");
    let card: i64 = conn
        .exec_first(
            "SELECT id FROM cards WHERE client_id = ? LIMIT 1",
            (client,),
        )
        .await
        .expect("card")
        .unwrap_or(card);
    let insert = "INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, merchant_city, mcc) \
                  SELECT ?, ?, ?, ?, 12.34, 'Online Transaction', 77, 'ONLINE', MIN(mcc) FROM mcc_codes";
    conn.query_drop("SET SESSION sql_mode = ''")
        .await
        .expect("sql_mode");
    conn.query_drop("BEGIN").await.expect("begin");
    conn.exec_drop(insert, (id + 1, "0000-00-00 00:00:00", client, card))
        .await
        .expect("poison insert");
    conn.exec_drop(insert, (id + 2, "2019-10-31 10:00:00", client, card))
        .await
        .expect("good insert");
    conn.query_drop("COMMIT").await.expect("commit");

    let out = ok(finlake(&["ingest", "--until-caught-up"], &env));
    assert!(out.contains("1 dead letters"), "{out}");
    let status = ok(finlake(&["status"], &env));
    let line = status
        .lines()
        .find(|l| l.starts_with("transactions "))
        .unwrap_or_else(|| panic!("no transactions line:\n{status}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[cols.len() - 2], "1", "one dead letter: {line}");
    // The lake lacks exactly the poison row, and verify says so.
    let diff = finlake(&["verify"], &env);
    assert!(!diff.status.success(), "{}", text(&diff));
    assert!(text(&diff).contains("transactions"), "{}", text(&diff));

    // Replaying the same binlog adds no second letter; fixing the row at the source heals it.
    let again = ok(finlake(&["ingest", "--until-caught-up"], &env));
    assert!(again.contains("0 dead letters"), "{again}");
    conn.exec_drop(
        "UPDATE transactions SET date = '2019-10-31 09:59:00' WHERE id = ?",
        (id + 1,),
    )
    .await
    .expect("fix");
    conn.disconnect().await.expect("disconnect");
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);
}

#[tokio::test]
async fn add_column_reaches_the_lake_and_other_ddl_stops_until_resnapshot() {
    let url = fresh_db("t_ingest_ddl").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env(&url, lake_uri, "7104");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "6"],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));

    let mut conn = crate::common::connect(&url).await;
    for sql in [
        "ALTER TABLE users ADD COLUMN segment VARCHAR(16) NOT NULL DEFAULT 'retail'",
        "UPDATE users SET segment = 'private' WHERE id = (SELECT MIN(id) FROM (SELECT id FROM users) u)",
        "ALTER TABLE cards ADD COLUMN note TEXT NULL",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    // verify compares every source column, the new ones included (existing rows got the
    // default in the source, and in the lake).
    verify_equal(&env);

    // A restart resumes with the new shape.
    conn.query_drop("UPDATE users SET segment = 'smb' WHERE segment = 'retail' LIMIT 3")
        .await
        .expect("update");
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);

    // DROP COLUMN cannot be followed: a clear error pointing at --resnapshot, nothing applied.
    conn.query_drop("ALTER TABLE users DROP COLUMN segment")
        .await
        .expect("drop column");
    conn.disconnect().await.expect("disconnect");
    let failed = finlake(&["ingest", "--until-caught-up"], &env);
    assert!(!failed.status.success(), "{}", text(&failed));
    let msg = text(&failed);
    assert!(
        msg.contains("DROP COLUMN segment") && msg.contains("--resnapshot"),
        "{msg}"
    );
    ok(finlake(
        &["ingest", "--until-caught-up", "--resnapshot"],
        &env,
    ));
    verify_equal(&env);
}

#[tokio::test]
async fn maintain_compacts_and_keeps_the_lake_equal() {
    let url = fresh_db("t_ingest_maintain").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env(&url, lake_uri, "7105");
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "7"],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    for seed in ["1", "2"] {
        ok(finlake(
            &[
                "simulate",
                "--rate",
                "200",
                "--duration",
                "2s",
                "--label-delay",
                "1s",
                "--seed",
                seed,
            ],
            &env,
        ));
        ok(finlake(&["ingest", "--until-caught-up"], &env));
    }
    let too_short = finlake(&["maintain", "--retention", "10m"], &env);
    assert!(!too_short.status.success(), "{}", text(&too_short));
    assert!(text(&too_short).contains("minimum"), "{}", text(&too_short));

    let report = ok(finlake(&["maintain", "--retention", "1h"], &env));
    let tx = report
        .lines()
        .find(|l| l.starts_with("transactions "))
        .unwrap_or_else(|| panic!("{report}"));
    let nums: Vec<u64> = tx
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(nums[1] <= nums[0], "files do not grow: {tx}");
    assert!(nums[2] > 0, "small files were compacted: {tx}");
    assert!(
        lake.path()
            .join("bronze/transactions/_delta_log")
            .read_dir()
            .expect("log")
            .any(|e| e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .ends_with(".checkpoint.parquet")),
        "a checkpoint was written"
    );
    verify_equal(&env);
    // The loop goes on after maintenance.
    ok(finlake(
        &[
            "simulate",
            "--rate",
            "200",
            "--duration",
            "1s",
            "--label-delay",
            "1s",
        ],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    verify_equal(&env);
}

/// Outside the demo (no `FINLAKE_DEMO=1`) a mask key that looks like a demo or test default is
/// refused with an error naming both variables, before anything is read.
#[test]
fn demo_looking_mask_keys_are_refused_outside_the_demo() {
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = env("mysql://finlake@127.0.0.1:1/finance", lake_uri, "7199");
    let run = |demo: bool| {
        let mut cmd = crate::common::finlake_command();
        if !demo {
            cmd.env_remove("FINLAKE_DEMO");
        }
        let out = cmd
            .arg("verify")
            .envs(env.iter().copied())
            .env("FINLAKE_LOG", "warn")
            .output()
            .expect("run finlake");
        (out.status.success(), text(&out))
    };
    let (success, report) = run(false);
    assert!(!success, "{report}");
    assert!(
        report.contains("looks like a demo") && report.contains("FINLAKE_DEMO=1"),
        "{report}"
    );
    assert!(
        !report.contains(MASK_KEY),
        "the key is not repeated: {report}"
    );
    // With FINLAKE_DEMO=1 the key is accepted (and verify fails on the unreachable source).
    let (_, report) = run(true);
    assert!(!report.contains("looks like a demo"), "{report}");
}
