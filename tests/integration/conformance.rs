//! Conformance over Flight SQL: the same queries, served by `finlake serve --no-ingest` from
//! lakes written by different paths, must return identical rows. The Spark job writes the
//! bronze tables only, so the views (which read the change history) are compared between the
//! two finlake sources; bronze queries between all three (see the Spark test).

use crate::common::lines;
use crate::common::{Server, client, fetch, serve_env};

/// Queries over the bronze tables: exact decimal sums, masked card columns, joins.
pub(crate) const BRONZE_QUERIES: &[&str] = &[
    "SELECT count(*) AS n, sum(amount) AS amount, min(id) AS lo, max(id) AS hi \
     FROM bronze.transactions",
    "SELECT use_chip, count(*) AS n, sum(amount) AS amount, count(errors) AS with_errors, \
     count(zip) AS with_zip FROM bronze.transactions GROUP BY use_chip",
    "SELECT date_trunc('day', \"date\") AS day, merchant_state, count(*) AS n, \
     sum(amount) AS amount FROM bronze.transactions GROUP BY 1, 2",
    "SELECT id, client_id, card_brand, card_type, card_number, cvv, expires, credit_limit, \
     has_chip, card_on_dark_web FROM bronze.cards",
    "SELECT u.id, u.gender, u.birth_year, u.latitude, u.yearly_income, u.total_debt, \
     count(t.id) AS n, sum(t.amount) AS spend FROM bronze.users u \
     LEFT JOIN bronze.transactions t ON t.client_id = u.id \
     GROUP BY u.id, u.gender, u.birth_year, u.latitude, u.yearly_income, u.total_debt",
    "SELECT l.is_fraud, count(*) AS n, sum(t.amount) AS amount FROM bronze.fraud_labels l \
     JOIN bronze.transactions t ON t.id = l.transaction_id GROUP BY l.is_fraud",
    "SELECT mcc, description FROM bronze.mcc_codes",
];

/// Queries over the silver and gold views of `sql/`.
pub(crate) const VIEW_QUERIES: &[&str] = &[
    "SELECT * FROM silver.cards_history",
    "SELECT * FROM silver.users_history",
    "SELECT count(*) AS n, sum(amount) AS amount, count(is_fraud) AS labelled \
     FROM silver.transactions_enriched",
    "SELECT * FROM gold.mcc_risk",
    "SELECT * FROM gold.daily_client_spend",
    "SELECT * FROM gold.fraud_label_stats",
];

/// Serves the lake at `lake_uri` (with `extra` settings, e.g. S3 credentials) and returns
/// each query's rows as sorted text lines; every query must return rows.
pub(crate) async fn served_results(
    url: &str,
    lake_uri: &str,
    extra: &[(&str, &str)],
    queries: &[&str],
) -> Vec<Vec<String>> {
    let mut env: Vec<(&str, &str)> = serve_env(url, lake_uri);
    env.extend(extra.iter().copied());
    let server = Server::start(&["--no-ingest", "--no-reflections"], &env);
    let mut c = client(server.flight).await;
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let info = c
            .execute((*q).to_owned(), None)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e} (the lake at {lake_uri})"));
        let mut rows = lines(&fetch(&mut c, info).await);
        assert!(!rows.is_empty(), "{q}: no rows from the lake at {lake_uri}");
        rows.sort();
        out.push(rows);
    }
    drop(c);
    let (status, _) = server.stop();
    assert!(
        status.success(),
        "finlake serve of {lake_uri} exited {status}"
    );
    out
}

/// Asserts `a` and `b` (results of `queries`) are identical, naming the query that differs.
pub(crate) fn assert_same(queries: &[&str], a: &[Vec<String>], b: &[Vec<String>], what: &str) {
    assert_eq!(a.len(), b.len());
    for ((q, x), y) in queries.iter().zip(a).zip(b) {
        assert_eq!(x, y, "{what}: results of `{q}` differ");
    }
}
