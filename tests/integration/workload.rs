//! `finlake simulate`: the live OLTP workload changes the source the way the bank's
//! applications do.

use mysql_async::prelude::Queryable;

use crate::common::{connect, counts, finlake, fresh_db, ok};

#[tokio::test]
async fn workload_inserts_updates_deletes_and_labels() {
    let url = fresh_db("t_workload").await;
    ok(finlake(
        &["datagen", "--scale", "0.002"],
        &[("FINLAKE_SOURCE_URL", &url)],
    ));
    let before = counts(&url).await;
    let mut conn = connect(&url).await;
    let max_before: u64 = conn
        .query_first("SELECT MAX(id) FROM transactions")
        .await
        .expect("max")
        .unwrap_or(0);
    let cards_before: Vec<(u32, String, u16)> = conn
        .query(
            "SELECT id, CAST(credit_limit AS CHAR), year_pin_last_changed FROM cards ORDER BY id",
        )
        .await
        .expect("cards");

    let report = ok(finlake(
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
            "--seed",
            "5",
        ],
        &[("FINLAKE_SOURCE_URL", &url)],
    ));
    assert!(report.contains("achieved"), "{report}");
    assert!(
        report.contains(" 0 failed"),
        "no operation may fail:\n{report}"
    );
    let kinds = |name: &str| -> u64 {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (new, labels) = (kinds("new transaction"), kinds("fraud label"));
    assert!(new > 0 && labels > 0, "{report}");

    let after = counts(&url).await;
    let new_rows: u64 = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM transactions WHERE id > {max_before}"
        ))
        .await
        .expect("count")
        .unwrap_or(0);
    // Every reported insert (purchases and refunds) is there, minus the ones voided.
    let inserted = new + kinds("refund");
    assert!(
        new_rows <= inserted && new_rows + kinds("void") >= inserted,
        "{new_rows} vs {report}"
    );
    assert!(after[4].1 > before[4].1, "labels arrived: {after:?}");
    // Live transactions are stamped now, not in the dataset's decade.
    let recent: u64 = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM transactions WHERE id > {max_before} AND date > NOW() - INTERVAL 1 HOUR"
        ))
        .await
        .expect("recent")
        .unwrap_or(0);
    assert_eq!(recent, new_rows);
    let refunds: u64 = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM transactions WHERE id > {max_before} AND amount < 0"
        ))
        .await
        .expect("refunds")
        .unwrap_or(0);
    assert!(refunds > 0, "refunds happen");
    let cards_after: Vec<(u32, String, u16)> = conn
        .query(
            "SELECT id, CAST(credit_limit AS CHAR), year_pin_last_changed FROM cards ORDER BY id",
        )
        .await
        .expect("cards");
    let changed = cards_before
        .iter()
        .zip(&cards_after)
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 0, "card changes happen");
    // No label points at a voided transaction.
    let orphans: u64 = conn
        .query_first("SELECT COUNT(*) FROM fraud_labels l LEFT JOIN transactions t ON t.id = l.transaction_id WHERE t.id IS NULL")
        .await
        .expect("orphans")
        .unwrap_or(0);
    assert_eq!(orphans, 0);
    conn.disconnect().await.expect("disconnect");
}
