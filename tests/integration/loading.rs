//! `finlake datagen` and `finlake load-kaggle` against a real server.

use std::path::Path;

use mysql_async::prelude::Queryable;

use crate::common::{connect, counts, fingerprint, finlake, fresh_db, ok, text};

use finlake::lake::TABLES;
const SCALE: &str = "0.002";

fn datagen_db(url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["datagen", "--scale", SCALE, "--seed", "11"];
    args.extend_from_slice(extra);
    finlake(&args, &[("FINLAKE_SOURCE_URL", url)])
}

fn datagen_files(dir: &Path) -> String {
    ok(finlake(
        &[
            "datagen",
            "--scale",
            SCALE,
            "--seed",
            "11",
            "--format",
            "kaggle",
            "--out",
            dir.to_str().expect("utf8"),
        ],
        &[],
    ))
}

fn load_kaggle(url: &str, dir: &Path) -> std::process::Output {
    finlake(
        &["load-kaggle", dir.to_str().expect("utf8")],
        &[("FINLAKE_SOURCE_URL", url)],
    )
}

/// Every source table is absent (the load failed before creating the schema) or empty.
async fn all_empty(url: &str) {
    let mut conn = connect(url).await;
    let present: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        .await
        .expect("tables");
    conn.disconnect().await.expect("disconnect");
    if present.is_empty() {
        return;
    }
    for (table, n) in counts(url).await {
        assert_eq!(n, 0, "{table} must be left empty");
    }
}

#[tokio::test]
async fn kaggle_round_trip_gives_identical_tables() {
    let direct = fresh_db("t_roundtrip_direct").await;
    let via_files = fresh_db("t_roundtrip_files").await;
    let report = ok(datagen_db(&direct, &[]));
    assert!(report.contains("committed in one transaction"), "{report}");

    let dir = tempfile::tempdir().expect("tempdir");
    let written = datagen_files(dir.path());
    assert!(written.contains("26612 transactions"), "{written}");
    let header = std::fs::read_to_string(dir.path().join("transactions_data.csv")).expect("csv");
    assert!(header.starts_with(
        "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors\n7475327,2010-01-01 00:01:00,"
    ));
    ok(load_kaggle(&via_files, dir.path()));

    let sizes = counts(&direct).await;
    assert_eq!(sizes[0], ("users".to_string(), 100));
    assert_eq!(sizes[1], ("cards".to_string(), 300));
    assert_eq!(sizes[2], ("mcc_codes".to_string(), 109));
    assert_eq!(sizes[3], ("transactions".to_string(), 26_612));
    let labels = sizes[4].1 as f64 / 26_612.0;
    assert!((0.64..0.70).contains(&labels), "label coverage {labels}");
    for table in TABLES {
        assert_eq!(
            fingerprint(&direct, table).await,
            fingerprint(&via_files, table).await,
            "{table}"
        );
    }

    // Money stays exact: a sum in SQL equals the sum of the file's text amounts.
    let csv = std::fs::read_to_string(dir.path().join("transactions_data.csv")).expect("csv");
    let cents: i64 = csv
        .lines()
        .skip(1)
        .map(|l| {
            let amount = l.split(',').nth(4).expect("amount").trim_start_matches('$');
            let (d, c) = amount.split_once('.').expect("two decimals");
            let sign = if d.starts_with('-') { -1 } else { 1 };
            d.parse::<i64>().expect("dollars") * 100 + sign * c.parse::<i64>().expect("cents")
        })
        .sum();
    let mut conn = connect(&via_files).await;
    let sum: Option<String> = conn
        .query_first("SELECT CAST(SUM(amount) * 100 AS CHAR) FROM transactions")
        .await
        .expect("sum");
    let sum = sum.expect("sum");
    assert_eq!(
        sum.trim_end_matches(".00")
            .parse::<i64>()
            .expect("integer cents"),
        cents
    );
    conn.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn loading_refuses_non_empty_tables_unless_replacing() {
    let url = fresh_db("t_replace").await;
    ok(datagen_db(&url, &[]));
    let before = fingerprint(&url, "transactions").await;
    let again = datagen_db(&url, &[]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already holds") && text(&again).contains("--replace"),
        "{}",
        text(&again)
    );
    assert_eq!(
        fingerprint(&url, "transactions").await,
        before,
        "nothing changed"
    );
    ok(datagen_db(&url, &["--replace"]));
    assert_eq!(
        fingerprint(&url, "transactions").await,
        before,
        "same seed, same data"
    );
}

/// Copies the generated files, lets `edit` damage one, loads, and checks the error and that
/// no table holds a single row afterwards.
async fn bad_file_case(db: &str, edit: impl FnOnce(&Path), expect: &[&str]) {
    let url = fresh_db(db).await;
    let dir = tempfile::tempdir().expect("tempdir");
    datagen_files(dir.path());
    edit(dir.path());
    let out = load_kaggle(&url, dir.path());
    assert!(!out.status.success(), "must fail:\n{}", text(&out));
    for needle in expect {
        assert!(
            text(&out).contains(needle),
            "expected {needle:?} in:\n{}",
            text(&out)
        );
    }
    all_empty(&url).await;
}

fn rewrite(path: &Path, f: impl FnOnce(String) -> String) {
    let s = std::fs::read_to_string(path).expect("read");
    std::fs::write(path, f(s)).expect("write");
}

#[tokio::test]
async fn malformed_amount_names_file_and_line_and_loads_nothing() {
    bad_file_case(
        "t_bad_amount",
        |d| {
            rewrite(&d.join("transactions_data.csv"), |s| {
                let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                // Line 20001 (1-based, header is line 1): well after earlier tables loaded.
                let mut f: Vec<String> = lines[20_000].split(',').map(str::to_string).collect();
                f[4] = "$12.3.4".into();
                lines[20_000] = f.join(",");
                lines.join("\n") + "\n"
            })
        },
        &["transactions_data.csv:20001", "amount", "$12.3.4"],
    )
    .await;
}

#[tokio::test]
async fn malformed_date_and_missing_column_are_reported() {
    bad_file_case(
        "t_bad_date",
        |d| {
            rewrite(&d.join("transactions_data.csv"), |s| {
                s.replacen("2010-01-01 00:01:00", "2010-13-01 00:01:00", 1)
            })
        },
        &["transactions_data.csv:2", "date"],
    )
    .await;
    bad_file_case(
        "t_missing_column",
        |d| {
            rewrite(&d.join("cards_data.csv"), |s| {
                s.lines()
                    .map(|l| {
                        l.rsplit_once(',')
                            .map_or(l.to_string(), |(head, _)| head.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            })
        },
        &["cards_data.csv:1", "card_on_dark_web"],
    )
    .await;
}

#[tokio::test]
async fn truncated_labels_json_rolls_everything_back() {
    // The labels file is loaded last: users, cards, codes and transactions are already in
    // the transaction when it fails.
    bad_file_case(
        "t_truncated_json",
        |d| {
            let p = d.join("train_fraud_labels.json");
            let s = std::fs::read_to_string(&p).expect("read");
            std::fs::write(&p, &s[..s.len() * 2 / 3]).expect("write");
        },
        &["train_fraud_labels.json"],
    )
    .await;
}

#[tokio::test]
async fn dangling_references_are_refused() {
    bad_file_case(
        "t_orphan_label",
        |d| {
            rewrite(&d.join("train_fraud_labels.json"), |s| {
                s.replacen("{\"target\": {", "{\"target\": {\"999\": \"Yes\", ", 1)
            })
        },
        &["referential integrity", "fraud_labels", "999"],
    )
    .await;
}

#[tokio::test]
async fn missing_file_is_named() {
    bad_file_case(
        "t_missing_file",
        |d| std::fs::remove_file(d.join("mcc_codes.json")).expect("rm"),
        &["mcc_codes.json", "not found"],
    )
    .await;
}

type TxRow = (
    u64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
type CardRow = (u32, String, String, String, bool, String, String, u16, bool);

#[tokio::test]
async fn golden_sample_loads_with_every_rule_applied() {
    let url = fresh_db("t_sample").await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample");
    let out = ok(load_kaggle(&url, &dir));
    assert!(out.contains("loaded 21 rows"), "{out}");
    let mut conn = connect(&url).await;
    let rows: Vec<TxRow> = conn
        .query(
            "SELECT id, CAST(date AS CHAR), CAST(amount AS CHAR), use_chip, merchant_state, zip, errors \
             FROM transactions ORDER BY id",
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].1, "2010-01-01 00:01:00");
    assert_eq!(rows[0].2, "-77.00", "refund, exact");
    assert_eq!(
        (rows[0].4.as_deref(), rows[0].5.as_deref()),
        (Some("ND"), Some("58523"))
    );
    assert_eq!(rows[1].2, "14.57");
    assert_eq!(
        (
            rows[2].3.as_str(),
            rows[2].4.as_deref(),
            rows[2].5.as_deref()
        ),
        ("Online Transaction", None, None)
    );
    assert_eq!(
        (rows[3].4.as_deref(), rows[3].5.as_deref()),
        (Some("Italy"), None),
        "foreign merchant"
    );
    assert_eq!(rows[3].6.as_deref(), Some("Bad PIN,Insufficient Balance"));
    assert_eq!(rows[4].2, "0.00");
    assert_eq!(
        rows[4].5.as_deref(),
        Some("01104"),
        "zip keeps its leading zero"
    );
    assert_eq!(rows[1].6, None, "no error is NULL, not empty");

    let cards: Vec<CardRow> = conn
        .query(
            "SELECT id, card_type, CAST(expires AS CHAR), cvv, has_chip, CAST(credit_limit AS CHAR), \
             CAST(acct_open_date AS CHAR), year_pin_last_changed, card_on_dark_web FROM cards ORDER BY id",
        )
        .await
        .expect("cards");
    assert_eq!(cards[0].1, "Debit (Prepaid)");
    assert_eq!(cards[0].2, "2020-02-01", "MM/YYYY is the month's first day");
    assert_eq!(cards[0].3, "028", "cvv keeps its leading zero");
    assert_eq!(cards[2].3, "009");
    assert!(cards[0].4 && !cards[2].4, "YES/NO");
    assert_eq!(cards[1].5, "24295.00");
    assert_eq!(
        (cards[1].6.as_str(), cards[1].7, cards[1].8),
        ("2002-09-01", 2008, false)
    );

    let users: Vec<(u32, String, String, String, String)> = conn
        .query(
            "SELECT id, CAST(latitude AS CHAR), CAST(longitude AS CHAR), CAST(total_debt AS CHAR), \
             CAST(yearly_income AS CHAR) FROM users ORDER BY id",
        )
        .await
        .expect("users");
    assert_eq!(
        users[1],
        (
            825,
            "34.15".into(),
            "-117.76".into(),
            "127613.00".into(),
            "59696.00".into()
        )
    );
    let labels: Vec<(u64, bool)> = conn
        .query("SELECT transaction_id, is_fraud FROM fraud_labels ORDER BY 1")
        .await
        .expect("labels");
    assert_eq!(
        labels,
        [
            (7_475_327, false),
            (7_475_328, false),
            (7_475_329, true),
            (7_475_332, false)
        ]
    );
    let mcc: Option<String> = conn
        .query_first("SELECT description FROM mcc_codes WHERE mcc = 5411")
        .await
        .expect("mcc");
    assert_eq!(mcc.as_deref(), Some("Grocery Stores, Supermarkets"));
    conn.disconnect().await.expect("disconnect");
}
