//! Randomized DML (proptest) on a real MariaDB, then `finlake ingest --until-caught-up`, then
//! `finlake verify`: bronze equals the source whatever the mix of inserts, updates, key changes
//! and deletes, in transactions of any size, split anywhere between snapshot and stream.

use mysql_async::prelude::Queryable;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::{finlake, fresh_db, ok, text};

const DDL: &str = "CREATE TABLE t (
    id INT NOT NULL PRIMARY KEY,
    amount DECIMAL(12,2) NULL,
    big BIGINT UNSIGNED NULL,
    at DATETIME NULL,
    day DATE NULL,
    yr YEAR NULL,
    kind ENUM('Swipe Transaction','Chip Transaction','Online Transaction') NULL,
    note VARCHAR(40) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

#[derive(Debug, Clone)]
enum Dml {
    Upsert { id: i32, v: i64 },
    Update { id: i32, v: i64 },
    MoveKey { from: i32, to: i32 },
    Delete { id: i32 },
}

fn dml() -> impl Strategy<Value = Dml> {
    let id = 0..40i32;
    prop_oneof![
        (id.clone(), any::<i64>()).prop_map(|(id, v)| Dml::Upsert { id, v }),
        (id.clone(), any::<i64>()).prop_map(|(id, v)| Dml::Update { id, v }),
        (id.clone(), id.clone()).prop_map(|(from, to)| Dml::MoveKey { from, to }),
        id.prop_map(|id| Dml::Delete { id }),
    ]
}

/// Values derived from `v`, covering each type's edges (negative money, u64 above i64::MAX,
/// NULLs, unicode).
fn row_values(
    v: i64,
) -> (
    Option<String>,
    Option<u64>,
    String,
    String,
    u16,
    &'static str,
    String,
) {
    let cents = v % 10_000_000_000;
    let amount = (v % 7 != 0).then(|| {
        format!(
            "{}{}.{:02}",
            if cents < 0 { "-" } else { "" },
            (cents / 100).abs(),
            (cents % 100).abs()
        )
    });
    let big = (v % 5 != 0).then(|| (v as u64).wrapping_mul(2_654_435_761));
    let secs = v.rem_euclid(40 * 365 * 86_400);
    let at = chrono::DateTime::from_timestamp(946_684_800 + secs, 0)
        .map(|d| d.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let day = at[..10].to_string();
    let yr = 1901 + (v.rem_euclid(254)) as u16;
    let kind = [
        "Swipe Transaction",
        "Chip Transaction",
        "Online Transaction",
    ][v.rem_euclid(3) as usize];
    let note = format!(
        "Zürich €{} 東京 {}",
        v % 1000,
        "x".repeat(v.rem_euclid(8) as usize)
    );
    (amount, big, at, day, yr, kind, note)
}

async fn run_dml(conn: &mut mysql_async::Conn, txns: &[Vec<Dml>]) {
    for txn in txns {
        conn.query_drop("BEGIN").await.expect("begin");
        for op in txn {
            match op {
                Dml::Upsert { id, v } => {
                    let (amount, big, at, day, yr, kind, note) = row_values(*v);
                    conn.exec_drop(
                        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                         amount = VALUES(amount), big = VALUES(big), at = VALUES(at), \
                         day = VALUES(day), yr = VALUES(yr), kind = VALUES(kind), note = VALUES(note)",
                        (id, amount, big, at, day, yr, kind, note),
                    )
                    .await
                    .expect("upsert");
                }
                Dml::Update { id, v } => {
                    let (amount, _, at, ..) = row_values(*v);
                    conn.exec_drop(
                        "UPDATE t SET amount = ?, at = ?, note = NULL WHERE id = ?",
                        (amount, at, id),
                    )
                    .await
                    .expect("update");
                }
                Dml::MoveKey { from, to } => {
                    conn.exec_drop("UPDATE IGNORE t SET id = ? WHERE id = ?", (to, from))
                        .await
                        .expect("move key");
                }
                Dml::Delete { id } => {
                    conn.exec_drop("DELETE FROM t WHERE id = ?", (id,))
                        .await
                        .expect("delete");
                }
            }
        }
        conn.query_drop("COMMIT").await.expect("commit");
    }
}

#[test]
fn random_dml_then_ingest_leaves_bronze_equal_to_the_source() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: 8,
        failure_persistence: None,
        ..Config::default()
    });
    let txns = || prop::collection::vec(prop::collection::vec(dml(), 1..12), 1..14);
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&(txns(), txns(), 0..3usize), |(before, after, restarts)| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let url = fresh_db(&format!("t_props_{case}")).await;
                let lake = tempfile::tempdir().expect("tempdir");
                let lake_uri = lake.path().to_str().expect("utf8").to_string();
                let env = [
                    ("FINLAKE_SOURCE_URL", url.as_str()),
                    ("FINLAKE_LAKE_URI", lake_uri.as_str()),
                    ("FINLAKE_MASK_KEY", "props-mask-key-0123456789"),
                    ("FINLAKE_SERVER_ID", "7150"),
                    ("FINLAKE_TABLES", "t"),
                ];
                let mut conn = crate::common::connect(&url).await;
                conn.query_drop(DDL).await.expect("create");
                // Changes before the snapshot, then after it, with restarts in between.
                run_dml(&mut conn, &before).await;
                ok(finlake(&["ingest", "--until-caught-up"], &env));
                let chunk = after.len().div_ceil(restarts + 1).max(1);
                for part in after.chunks(chunk) {
                    run_dml(&mut conn, part).await;
                    ok(finlake(&["ingest", "--until-caught-up"], &env));
                }
                conn.disconnect().await.expect("disconnect");
                let out = finlake(&["verify"], &env);
                prop_assert!(out.status.success(), "bronze differs:\n{}", text(&out));
                prop_assert!(text(&out).contains("equal"), "{}", text(&out));
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
