//! `finlake serve` with its analytics: the views of `sql/` over Flight SQL, the tx_minute
//! reflection built and kept current by the server and substituted into dashboard queries
//! (the `finlake-reflections` header turns it off, with equal results), and the fraud
//! features scoring new transactions into `features.fraud_alerts`.

use std::time::{Duration, Instant};

use arrow_flight::sql::CommandGetTables;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::AsArray;
use mysql_async::prelude::Queryable;
use tonic::transport::Channel;

use crate::common::{Server, client, fetch, query, scalar, serve_env, wait_caught_up, wait_for};
use crate::common::{connect, counts, finlake, fresh_db, lines, ok};

const DASHBOARD: &str = "SELECT channel, count(*) AS n, sum(amount) AS amount, \
     sum(has_error_n) AS errors FROM silver.transactions_base GROUP BY channel ORDER BY channel";

async fn run(
    c: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
    reflections: bool,
) -> (Vec<String>, bool) {
    c.set_header(
        "finlake-reflections",
        if reflections { "on" } else { "off" },
    );
    let rows = lines(&query(c, sql).await);
    let plan = lines(&query(c, &format!("EXPLAIN {sql}")).await).join("\n");
    c.set_header("finlake-reflections", "on");
    (rows, plan.contains("reflection:"))
}

/// Polls until the dashboard query is served by the reflection, checking on every poll that
/// its rows equal the unaccelerated query's.
pub(crate) async fn wait_served(
    c: &mut FlightSqlServiceClient<Channel>,
    within: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let (on, served) = run(c, DASHBOARD, true).await;
        let (off, off_served) = run(c, DASHBOARD, false).await;
        assert!(
            !off_served,
            "finlake-reflections: off still used a reflection"
        );
        if on == off && served {
            return on;
        }
        // Between a commit and the reflection's refresh the query is answered from bronze:
        // the rows may differ from the previous poll's `off` only by that commit.
        assert!(
            Instant::now() < deadline,
            "dashboard query not served by a reflection within {within:?}: on={on:?} off={off:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn serve_runs_views_reflections_and_fraud_features() {
    let url = fresh_db("t_serve_analytics").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env(&url, lake_uri);
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "13"],
        &env,
    ));
    let server = Server::start(&["--server-id", "7211"], &env);
    let mut c = client(server.flight).await;
    wait_caught_up(&mut c, &url).await;

    // The views, over the bronze snapshot the query reads.
    let tx = counts(&url)
        .await
        .into_iter()
        .find(|(t, _)| t == "transactions")
        .expect("tx")
        .1 as i64;
    assert_eq!(
        scalar(&mut c, "SELECT count(*) FROM silver.transactions_enriched").await,
        tx
    );
    assert!(scalar(&mut c, "SELECT count(*) FROM gold.daily_client_spend").await > 0);
    let info = c
        .get_tables(CommandGetTables {
            catalog: Some("finlake".into()),
            db_schema_filter_pattern: Some("silver".into()),
            table_name_filter_pattern: None,
            table_types: vec!["VIEW".into()],
            include_schema: true,
        })
        .await
        .expect("tables");
    let b = fetch(&mut c, info).await;
    let views: Vec<&str> = b[0].column(2).as_string::<i32>().iter().flatten().collect();
    assert!(views.contains(&"transactions_enriched"), "{views:?}");

    // The server builds the reflection and substitutes it; off gives the same rows.
    let before = wait_served(&mut c, Duration::from_secs(240)).await;

    // A dark-web card's online Bad CVV attempts: new rows for the views and reflection, and
    // a fraud alert.
    let mut conn = connect(&url).await;
    let (card, client_id): (u64, u64) = conn
        .query_first("SELECT id, client_id FROM cards ORDER BY id LIMIT 1")
        .await
        .expect("card")
        .expect("a card");
    let next: u64 = conn
        .query_first("SELECT MAX(id) + 1 FROM transactions")
        .await
        .expect("max")
        .expect("id");
    conn.query_drop(format!(
        "UPDATE cards SET card_on_dark_web = TRUE WHERE id = {card}"
    ))
    .await
    .expect("flag");
    for i in 0..2 {
        conn.query_drop(format!(
            "INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, \
             merchant_city, merchant_state, zip, mcc, errors) VALUES ({}, '2019-10-31 23:5{i}:00', \
             {client_id}, {card}, 912.40, 'Online Transaction', 99999{i}, 'ONLINE', NULL, NULL, \
             (SELECT MIN(mcc) FROM mcc_codes), 'Bad CVV')",
            next + i
        ))
        .await
        .expect("insert");
    }
    conn.disconnect().await.expect("disconnect");
    wait_caught_up(&mut c, &url).await;
    let after = wait_served(&mut c, Duration::from_secs(120)).await;
    assert_ne!(before, after, "the new transactions are in the dashboard");
    wait_for(
        &mut c,
        &format!("SELECT least(count(*), 1) FROM features.fraud_alerts WHERE card_id = {card} AND reasons LIKE '%DARK_WEB%'"),
        1,
        Duration::from_secs(60),
    )
    .await;

    // Settings travel with each statement: SET is refused with a pointer to the header, and
    // an unknown setting is refused.
    let err = c
        .execute("SET finlake.reflections = off".into(), None)
        .await
        .expect_err("SET refused");
    assert!(err.to_string().contains("finlake-<name>"), "{err}");
    let mut bad = client(server.flight).await;
    bad.set_header("finlake-no-such-setting", "1");
    let err = bad
        .execute("SELECT 1".into(), None)
        .await
        .expect_err("unknown setting refused");
    assert!(err.to_string().contains("finlake.no_such_setting"), "{err}");
    assert_eq!(
        scalar(&mut c, "SELECT count(*) FROM silver.transactions_base").await,
        tx + 2
    );

    drop((c, bad));
    let (status, rest) = server.stop();
    assert!(status.success(), "exit {status}: {rest}");
}
