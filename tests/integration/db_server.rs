//! `finlake db start|stop|status|url`: a private server with CDC-ready settings.

use mysql_async::prelude::Queryable;

use crate::common::{connect, finlake, ok, server_url, text};

#[tokio::test]
async fn private_server_is_configured_for_cdc_and_has_the_schema() {
    let url = server_url();
    let mut conn = connect(url).await;
    for (var, want) in [
        ("log_bin", "ON"),
        ("binlog_format", "ROW"),
        ("binlog_row_image", "FULL"),
        ("binlog_row_metadata", "FULL"),
        ("local_infile", "ON"),
    ] {
        let got: Option<(String, String)> = conn
            .query_first(format!("SHOW GLOBAL VARIABLES LIKE '{var}'"))
            .await
            .expect("show");
        assert_eq!(got.map(|g| g.1).as_deref(), Some(want), "{var}");
    }
    let tables: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'finance' ORDER BY 1")
        .await
        .expect("tables");
    assert_eq!(
        tables,
        [
            "cards",
            "fraud_labels",
            "mcc_codes",
            "transactions",
            "users"
        ]
    );
    // Exact types, as the schema promises.
    let types: Vec<(String, String)> = conn
        .query(
            "SELECT CONCAT(table_name, '.', column_name), column_type FROM information_schema.columns \
             WHERE table_schema = 'finance' AND column_name IN ('amount', 'date', 'expires', \
             'year_pin_last_changed', 'use_chip', 'id') ORDER BY 1",
        )
        .await
        .expect("types");
    let get = |k: &str| {
        types
            .iter()
            .find(|t| t.0 == k)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("transactions.amount"), "decimal(12,2)");
    assert_eq!(get("transactions.date"), "datetime");
    assert_eq!(get("transactions.id"), "bigint(20) unsigned");
    assert_eq!(get("cards.expires"), "date");
    assert_eq!(get("cards.year_pin_last_changed"), "year(4)");
    assert!(get("transactions.use_chip").starts_with("enum('Swipe Transaction'"));
    conn.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn cdc_account_reads_and_replicates_but_cannot_write() {
    let _ = server_url();
    let dir = crate::common::state_dir();
    let cdc_url = ok(finlake(
        &[
            "--state-dir",
            dir.to_str().expect("utf8"),
            "db",
            "url",
            "--cdc",
        ],
        &[],
    ));
    let mut cdc = connect(cdc_url.trim()).await;
    let n: Option<u64> = cdc
        .query_first("SELECT COUNT(*) FROM mcc_codes")
        .await
        .expect("select allowed");
    assert!(n.is_some());
    let status: Vec<mysql_async::Row> = cdc
        .query("SHOW MASTER STATUS")
        .await
        .expect("binlog position");
    assert_eq!(
        status.len(),
        1,
        "binary log position visible to the CDC account"
    );
    let grants: Vec<String> = cdc.query("SHOW GRANTS").await.expect("grants");
    let all = grants.join("\n");
    assert!(all.contains("REPLICATION SLAVE"), "{all}");
    for write in [
        "INSERT INTO mcc_codes VALUES (1, 'x')",
        "UPDATE users SET credit_score = 1",
        "DELETE FROM fraud_labels",
        "CREATE TABLE evil (x INT)",
    ] {
        let err = cdc.query_drop(write).await.expect_err(write);
        assert!(err.to_string().contains("denied"), "{write}: {err}");
    }
    cdc.disconnect().await.expect("disconnect");
}

#[test]
fn lifecycle_is_idempotent_and_keeps_its_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8");
    let status = finlake(&["--state-dir", d, "db", "status"], &[]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("not running"));

    let start = |extra: &[&str]| {
        let mut args = vec!["--state-dir", d, "db", "start", "--db-buffer-pool", "128M"];
        args.extend_from_slice(extra);
        ok(finlake(&args, &[]))
    };
    let first = start(&[]);
    assert!(
        first.contains("FINLAKE_SOURCE_URL=mysql://finlake:"),
        "{first}"
    );
    let again = start(&[]);
    assert_eq!(first, again, "a second start changes nothing");
    let status = ok(finlake(&["--state-dir", d, "db", "status"], &[]));
    assert!(
        status.contains("MariaDB") && status.contains("transactions"),
        "{status}"
    );

    assert_eq!(
        ok(finlake(&["--state-dir", d, "db", "stop"], &[])).trim(),
        "stopped"
    );
    assert_eq!(
        ok(finlake(&["--state-dir", d, "db", "stop"], &[])).trim(),
        "not running"
    );
    let restarted = start(&[]);
    assert_eq!(first, restarted, "restart reuses the port and the data");
    ok(finlake(&["--state-dir", d, "db", "stop"], &[]));
}

#[tokio::test]
async fn schema_columns_match_the_row_encoders() {
    use finlake::data::model::{Card, FraudLabel, MccCode, Transaction, User};
    use finlake::data::tsv::TsvRow;
    async fn columns(conn: &mut mysql_async::Conn, table: &str) -> Vec<String> {
        conn.exec(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'finance' \
             AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        .await
        .expect("columns")
    }
    let mut conn = connect(server_url()).await;
    assert_eq!(columns(&mut conn, User::TABLE).await, User::COLUMNS);
    assert_eq!(columns(&mut conn, Card::TABLE).await, Card::COLUMNS);
    assert_eq!(columns(&mut conn, MccCode::TABLE).await, MccCode::COLUMNS);
    assert_eq!(
        columns(&mut conn, Transaction::TABLE).await,
        Transaction::COLUMNS
    );
    assert_eq!(
        columns(&mut conn, FraudLabel::TABLE).await,
        FraudLabel::COLUMNS
    );
    conn.disconnect().await.expect("disconnect");
}
