//! A crash between a table's bronze commit and its history commit (the test-only failpoint
//! `FINLAKE_FAILPOINT=after-bronze-commit` aborts the process there): after a restart the
//! lake holds exactly what a run without the crash holds: bronze equals the source, and the
//! change histories, the dead letters and the fraud alerts equal a lake that never crashed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;

use crate::common::{finlake, fresh_db, ok, text};

use crate::common::ingest_env as env;

/// Columns holding the time of a write or of a snapshot, not of a source change.
const WALL_CLOCK: [&str; 3] = ["_ingested_at", "_commit_ts", "_detected_at"];

/// The sorted rows of the Delta table at `dir` (none when it does not exist), without the
/// wall-clock columns.
async fn table_lines(dir: &Path) -> Vec<String> {
    if !dir.join("_delta_log").exists() {
        return Vec::new();
    }
    let url = url::Url::from_directory_path(dir).expect("url");
    let table = DeltaTable::try_from_url_with_storage_options(url, HashMap::new())
        .await
        .expect("open table");
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .expect("session");
    ctx.register_table("t", table.table_provider().await.expect("provider"))
        .expect("register");
    let names: Vec<String> = table
        .snapshot()
        .expect("snapshot")
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect();
    // Wall-clock columns (a snapshot's commit time is when it was taken) differ between
    // lakes, and so does a snapshot's binlog position (other tests write to the shared server
    // between two lakes' snapshots): snapshot rows (`_pos_row` < 0) keep no position.
    let mut excluded: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| WALL_CLOCK.contains(n))
        .collect();
    let mut position = String::new();
    if names.iter().any(|n| n == "_pos_row") {
        excluded.extend(["_pos_file", "_pos", "_pos_row"]);
        position = ", CASE WHEN _pos_row < 0 THEN 'snapshot' ELSE \
                    concat(_pos_file, ':', CAST(_pos AS VARCHAR), ':', CAST(_pos_row AS VARCHAR)) \
                    END AS position"
            .to_string();
    }
    let sql = if excluded.is_empty() {
        "SELECT * FROM t".to_string()
    } else {
        format!(
            "SELECT * EXCLUDE ({}){position} FROM t",
            excluded.join(", ")
        )
    };
    finlake::testkit::sorted_lines(&ctx, &sql).await
}

/// Everything derived from the stream, table by table: the change histories, the dead letters
/// and the fraud alerts (one row per source event: independent of how the events were
/// batched; the bronze tables are compared with the source by `finlake verify`, their `_op`
/// depends on the batching).
pub(crate) async fn derived(lake: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in finlake::lake::TABLES {
        let name = format!("{t}__changes");
        out.insert(
            name.clone(),
            table_lines(&lake.join("bronze").join(&name)).await,
        );
    }
    for name in ["bronze/_dead_letters", "features/fraud_alerts"] {
        out.insert(name.into(), table_lines(&lake.join(name)).await);
    }
    out
}

/// Compares two lakes table by table (a readable message for the first table that differs).
pub(crate) fn assert_same(
    got: &BTreeMap<String, Vec<String>>,
    want: &BTreeMap<String, Vec<String>>,
) {
    for (name, rows) in want {
        let other = &got[name];
        let missing: Vec<&String> = rows.iter().filter(|r| !other.contains(r)).collect();
        let extra: Vec<&String> = other.iter().filter(|r| !rows.contains(r)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} differs from the run without a crash: {} rows missing (first: {:?}), {} extra (first: {:?})",
            missing.len(),
            missing.first(),
            extra.len(),
            extra.first()
        );
    }
}

#[tokio::test]
async fn a_crash_between_the_bronze_and_history_commits_loses_no_history() {
    let url = fresh_db("t_crash_history").await;
    let crashed = tempfile::tempdir().expect("tempdir");
    let reference = tempfile::tempdir().expect("tempdir");
    let a = env(&url, crashed.path().to_str().expect("utf8"), "7131");
    let b = env(&url, reference.path().to_str().expect("utf8"), "7132");
    ok(finlake(&["datagen", "--scale", "0.001", "--seed", "8"], &a));
    // Both lakes snapshot the same source state.
    ok(finlake(
        &["ingest", "--until-caught-up", "--fraud-features"],
        &a,
    ));
    ok(finlake(
        &["ingest", "--until-caught-up", "--fraud-features"],
        &b,
    ));
    ok(finlake(
        &[
            "simulate",
            "--rate",
            "200",
            "--duration",
            "2s",
            "--connections",
            "2",
        ],
        &a,
    ));

    // The first streamed bronze commit that changes rows aborts the process.
    let mut failing = a.clone();
    failing.push(("FINLAKE_FAILPOINT", "after-bronze-commit"));
    let out = finlake(
        &["ingest", "--until-caught-up", "--fraud-features"],
        &failing,
    );
    assert!(
        !out.status.success(),
        "the failpoint was not reached:\n{}",
        text(&out)
    );
    assert!(text(&out).contains("failpoint"), "{}", text(&out));

    ok(finlake(
        &["ingest", "--until-caught-up", "--fraud-features"],
        &a,
    ));
    ok(finlake(
        &["ingest", "--until-caught-up", "--fraud-features"],
        &b,
    ));
    let verify = finlake(&["verify"], &a);
    assert!(verify.status.success(), "{}", text(&verify));
    let got = derived(crashed.path()).await;
    let want = derived(reference.path()).await;
    assert!(
        want["transactions__changes"]
            .iter()
            .any(|r| r.contains("|c|")),
        "the workload streamed changes"
    );
    assert_same(&got, &want);
}
