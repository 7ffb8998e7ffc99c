//! The analytics views and the tx_minute reflection over a real lake: generated data in a
//! real MariaDB, `finlake ingest`, then source updates and deletes, ingested again.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use finlake::analytics::refresh::Action;
use finlake::analytics::{Reflections, refresh_reflections, view_defs};
use finlake::lake::Lake;
use finlake::testkit::{analytics_session as context, sorted_lines as rows};
use mysql_async::prelude::Queryable;

use crate::common::{finlake, fresh_db, ok};

use crate::common::MASK_KEY;

async fn explain(ctx: &SessionContext, sql: &str) -> String {
    rows(ctx, &format!("EXPLAIN {sql}")).await.join("\n")
}

const DASHBOARD: [&str; 2] = [
    "SELECT * FROM finlake.gold.minute_metrics",
    "SELECT channel, location_kind, count(*), sum(amount), min(amount), max(amount) \
     FROM finlake.silver.transactions_base WHERE minute >= TIMESTAMP '2015-01-01 00:00:00' \
     GROUP BY channel, location_kind",
];

async fn check_equal(lake: &Lake, reflections: &Arc<Reflections>) {
    let on = context(lake, reflections, true).await;
    let off = context(lake, reflections, false).await;
    for sql in DASHBOARD {
        assert!(
            explain(&on, sql).await.contains("reflection:tx_minute"),
            "{sql}"
        );
        assert!(!explain(&off, sql).await.contains("reflection:"), "{sql}");
        assert_eq!(rows(&on, sql).await, rows(&off, sql).await, "{sql}");
    }
}

#[tokio::test]
async fn views_and_reflections_over_an_ingested_lake() {
    let url = fresh_db("t_analytics").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake_uri = dir.path().to_str().expect("utf8");
    let env = vec![
        ("FINLAKE_SOURCE_URL", url.as_str()),
        ("FINLAKE_LAKE_URI", lake_uri),
        ("FINLAKE_MASK_KEY", MASK_KEY),
        ("FINLAKE_SERVER_ID", "7301"),
    ];
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "5"],
        &env,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    let lake = Lake::open(lake_uri, Default::default()).expect("lake");
    let out = refresh_reflections(&lake, "finlake-binlog")
        .await
        .expect("refresh");
    assert_eq!(out[0].action, Action::Built, "{out:?}");
    let reflections = Reflections::new().expect("specs");
    reflections.load(&lake).await.expect("load");

    // Every view runs; the as-of joins neither drop nor duplicate transactions; every user
    // has a home state.
    let ctx = context(&lake, &reflections, false).await;
    for v in view_defs().expect("views") {
        rows(
            &ctx,
            &format!("SELECT count(*) FROM finlake.{}.{}", v.schema, v.name),
        )
        .await;
    }
    let n = rows(&ctx, "SELECT count(*) FROM finlake.bronze.transactions").await;
    assert_eq!(
        rows(
            &ctx,
            "SELECT count(*) FROM finlake.silver.transactions_enriched"
        )
        .await,
        n
    );
    assert_eq!(
        rows(&ctx, "SELECT count(*) FROM finlake.silver.transactions_enriched WHERE home_state IS NULL OR card_brand IS NULL").await,
        vec!["0".to_owned()]
    );
    check_equal(&lake, &reflections).await;

    // Corrections, a void, a card change, new transactions: ingested, then refreshed.
    let mut conn = crate::common::connect(&url).await;
    let max_id: u64 = conn
        .query_first("SELECT max(id) FROM transactions")
        .await
        .expect("max")
        .expect("rows");
    for sql in [
        "UPDATE transactions SET amount = amount + 1.25 ORDER BY id LIMIT 7".to_owned(),
        format!("DELETE FROM fraud_labels WHERE transaction_id = {max_id}"),
        format!("DELETE FROM transactions WHERE id = {max_id}"),
        "UPDATE cards SET credit_limit = credit_limit + 100 ORDER BY id LIMIT 3".to_owned(),
        format!(
            "INSERT INTO transactions SELECT id + {max_id}, date + INTERVAL 1 DAY, client_id, card_id, amount, use_chip, merchant_id, merchant_city, merchant_state, zip, mcc, errors FROM transactions ORDER BY id LIMIT 20"
        ),
    ] {
        conn.query_drop(&sql).await.expect(&sql);
    }
    drop(conn);
    ok(finlake(&["ingest", "--until-caught-up"], &env));
    let out = refresh_reflections(&lake, "finlake-binlog")
        .await
        .expect("refresh");
    assert_eq!(out[0].action, Action::Incremental, "{out:?}");
    assert!(out[0].changes >= 28, "{out:?}");
    reflections.load(&lake).await.expect("load");
    check_equal(&lake, &reflections).await;
}
