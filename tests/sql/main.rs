//! sqllogictest over the golden lake: every `sql/tests/*.slt` file runs twice, with
//! reflection substitution on and off, against the same expected results; the files in
//! `sql/tests/reflections/` (EXPLAIN checks) run with substitution on. Then a staleness
//! check: a commit the reflections have not seen must stop their use, and a refresh must
//! bring it back, with results equal to the unaccelerated query throughout.
//!
//! Run: `cargo test --test sql` (no database needed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use finlake::analytics::{Reflections, refresh_reflections};
use finlake::lake::Lake;
use finlake::testkit::analytics_session as context;
use finlake::testkit::cells;
use finlake::testkit::golden::{APP_ID, apply_commit, parse_fixture};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

struct Db {
    ctx: SessionContext,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

/// Cells as sqllogictest compares them: `NULL` for nulls, `(empty)` for empty strings.
fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DbError> {
    let mut rows = cells(batches).map_err(|e| DbError(e.to_string()))?;
    for cell in rows.iter_mut().flatten() {
        if cell.is_empty() {
            *cell = "(empty)".to_owned();
        }
    }
    Ok(rows)
}

#[async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let err = |e: datafusion::error::DataFusionError| DbError(e.to_string());
        let df = self.ctx.sql(sql).await.map_err(err)?;
        let width = df.schema().fields().len();
        let batches = df.collect().await.map_err(err)?;
        if width == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows: rows_of(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "finlake-datafusion"
    }
}

/// A session as the engine builds it: the lake's latest bronze snapshots, the views, the
/// reflection rule; `SET finlake.reflections = off` when `on` is false.
fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("sql/tests")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

async fn run_files(
    lake: &Lake,
    reflections: &Arc<Reflections>,
    files: &[PathBuf],
    on: bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let ctx = context(lake, reflections, on).await;
        let mut runner = sqllogictest::Runner::new(move || {
            let ctx = ctx.clone();
            async move { Ok(Db { ctx }) }
        });
        let mode = if on {
            "reflections on"
        } else {
            "reflections off"
        };
        match runner.run_file_async(file).await {
            Ok(()) => println!("ok   {} ({mode})", file.display()),
            Err(e) => {
                println!("FAIL {} ({mode}):\n{e}", file.display());
                failures.push(format!("{} ({mode})", file.display()));
            }
        }
    }
    failures
}

const DASHBOARD: &str = "SELECT channel, sum(tx_count) AS n, sum(amount) AS amount \
     FROM finlake.gold.minute_metrics GROUP BY channel ORDER BY channel";

/// Queries a reflection must answer (roll-ups, filters on dims, every supported aggregate).
const SERVED: [&str; 6] = [
    "SELECT channel, count(*), sum(amount) FROM finlake.silver.transactions_base GROUP BY channel",
    "SELECT location_kind, count(*), sum(is_refund_n), min(amount), max(amount), avg(is_online_n) \
     FROM finlake.silver.transactions_base WHERE minute >= TIMESTAMP '2019-03-02 00:00:00' \
     GROUP BY location_kind",
    "SELECT count(*), sum(amount) FROM finlake.silver.transactions_base WHERE merchant_location = 'XX'",
    "SELECT * FROM finlake.gold.minute_metrics",
    "SELECT date_trunc('hour', minute) AS h, channel, count(*), sum(amount) \
     FROM finlake.silver.transactions_base GROUP BY 1, 2",
    "SELECT CAST(minute AS DATE) AS day, sum(has_error_n), count(*) \
     FROM finlake.silver.transactions_base WHERE location_kind = 'us_state' GROUP BY 1",
];

/// Queries it must not answer: a non-dim grouping, a non-dim filter, a DISTINCT aggregate.
const NOT_SERVED: [&str; 4] = [
    "SELECT client_id, count(*) FROM finlake.silver.transactions_base GROUP BY client_id",
    "SELECT channel, count(*) FROM finlake.silver.transactions_base WHERE amount > 10 GROUP BY channel",
    "SELECT count(DISTINCT mcc) FROM finlake.silver.transactions_base",
    "SELECT random() > 0.5 AS r, count(*) FROM finlake.silver.transactions_base GROUP BY 1",
];

async fn query(ctx: &SessionContext, sql: &str) -> (Vec<Vec<String>>, String) {
    let batches = ctx
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let explain = ctx
        .sql(&format!("EXPLAIN {sql}"))
        .await
        .expect("explain")
        .collect()
        .await
        .expect("explain");
    let plan = rows_of(&explain).expect("format").concat().join("\n");
    let mut rows = rows_of(&batches).expect("format");
    rows.sort();
    (rows, plan)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let lake =
        Lake::open(dir.path().to_str().expect("utf-8 path"), Default::default()).expect("lake");
    let fixture = std::fs::read_to_string(root.join("sql/tests/golden.events")).expect("fixture");
    let commits = parse_fixture(&fixture).expect("fixture parses");
    let (commits, last) = commits.split_at(commits.len() - 1);
    for c in commits {
        apply_commit(&lake, c).await.expect("apply");
        let out = refresh_reflections(&lake, APP_ID).await.expect("refresh");
        println!("refreshed: {out:?}");
    }
    let reflections = Reflections::new().expect("specs");
    reflections.load(&lake).await.expect("load");

    let files = slt_files(&root.join("sql/tests"));
    assert!(!files.is_empty(), "no .slt files");
    let mut failures = run_files(&lake, &reflections, &files, true).await;
    failures.extend(run_files(&lake, &reflections, &files, false).await);

    // Staleness: a new commit not yet reflected must not be served from the reflection.
    let (off_before, off_plan) = query(&context(&lake, &reflections, false).await, DASHBOARD).await;
    let (on_before, on_plan) = query(&context(&lake, &reflections, true).await, DASHBOARD).await;
    let mut check = |ok: bool, what: &str| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            failures.push(what.to_owned());
        }
    };
    check(
        on_plan.contains("reflection:tx_minute"),
        "dashboard query served by tx_minute",
    );
    check(
        !off_plan.contains("reflection:"),
        "substitution off uses no reflection",
    );
    check(
        on_before == off_before,
        "dashboard results equal with and without reflection",
    );
    for sql in SERVED {
        let (on_rows, plan) = query(&context(&lake, &reflections, true).await, sql).await;
        let (off_rows, _) = query(&context(&lake, &reflections, false).await, sql).await;
        check(
            plan.contains("reflection:") && on_rows == off_rows,
            &format!("served by a reflection, same rows: {sql}"),
        );
    }
    // Only tx_month_mcc has both month and mcc; only tx_day has day.
    for (sql, name) in [
        (
            "SELECT month, mcc, count(*), sum(amount) FROM finlake.silver.transactions_base GROUP BY 1, 2",
            "reflection:tx_month_mcc",
        ),
        (
            "SELECT day, sum(is_online_n) FROM finlake.silver.transactions_base GROUP BY day",
            "reflection:tx_day",
        ),
    ] {
        let (on_rows, plan) = query(&context(&lake, &reflections, true).await, sql).await;
        let (off_rows, _) = query(&context(&lake, &reflections, false).await, sql).await;
        check(
            plan.contains(name) && on_rows == off_rows,
            &format!("served by {name}, same rows: {sql}"),
        );
    }
    for sql in NOT_SERVED {
        let (_, plan) = query(&context(&lake, &reflections, true).await, sql).await;
        check(
            !plan.contains("reflection:"),
            &format!("not answerable from a reflection: {sql}"),
        );
    }
    apply_commit(&lake, &last[0]).await.expect("apply");
    let (stale_rows, stale_plan) =
        query(&context(&lake, &reflections, true).await, DASHBOARD).await;
    let (off_rows, _) = query(&context(&lake, &reflections, false).await, DASHBOARD).await;
    check(
        !stale_plan.contains("reflection:"),
        "a reflection behind the snapshot is not used",
    );
    check(
        stale_rows == off_rows,
        "results after an unreflected commit are current",
    );
    check(stale_rows != on_before, "the unreflected commit is visible");
    refresh_reflections(&lake, APP_ID).await.expect("refresh");
    reflections.load(&lake).await.expect("load");
    let (fresh_rows, fresh_plan) =
        query(&context(&lake, &reflections, true).await, DASHBOARD).await;
    check(
        fresh_plan.contains("reflection:tx_minute"),
        "after the refresh the reflection serves again",
    );
    check(
        fresh_rows == off_rows,
        "refreshed reflection equals the view",
    );

    if !failures.is_empty() {
        println!("\n{} failure(s): {failures:#?}", failures.len());
        std::process::exit(1);
    }
    println!("all sqllogictest files passed with reflections on and off");
}
