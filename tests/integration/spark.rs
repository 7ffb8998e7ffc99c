//! The Spark job (`infra/spark/finlake_spark.py`, installed by `infra/spark/install.sh`) on
//! the native stack: the recorded scenario through Debezium, Kafka and Spark Structured
//! Streaming into Delta on MinIO (`s3a://`), then `finlake verify` equal, bronze source columns
//! identical to the binlog path's, the lake types those of the Rust writer, card numbers masked
//! as the Rust masker does (CVVs NULL), and a second run changing nothing. With the Kafka source on the
//! same topics as a third writer: identical Flight SQL query results from the three lakes. Fails (never skips) when the
//! venv or the jars are missing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use finlake::ingest::binlog;
use finlake::ingest::mask::{self, Masker, Rule};
use finlake::ingest::schema::{Column, SourceType, TableSchema};
use finlake::lake::{Lake, types};

use crate::common::fresh_db;
use crate::conformance::{BRONZE_QUERIES, VIEW_QUERIES, assert_same, served_results};
use crate::scaleout::{
    Env, MASK_KEY, TABLES, apply_sql_file, bronze_source_rows, bronze_source_rows_with, repo_file,
    s3_options,
};
use crate::stack::{delete_connector, kafka_env, register_connector, run_prefix, s3_env, stack};

fn spark_python() -> PathBuf {
    let home = std::env::var_os("FINLAKE_SPARK_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/finlake/spark")
        });
    let python = home.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run infra/spark/install.sh (make test does)",
        python.display()
    );
    python
}

/// Runs the job with `args` and `env`; fails the test on a non-zero exit or after 15 minutes.
fn spark_job(env: &Env, args: &[&str], log: &std::path::Path) -> String {
    let out_file = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(spark_python());
    for (k, _) in std::env::vars() {
        if k.starts_with("FINLAKE_") && k != "FINLAKE_SPARK_HOME" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .arg(repo_file("infra/spark/finlake_spark.py"))
        .args(args)
        .envs(env.view())
        .env("FINLAKE_DEMO", "1")
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().expect("dup"))
        .stderr(out_file)
        .spawn()
        .expect("start the Spark job");
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the Spark job did not finish in 15 minutes; log: {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        status.success(),
        "the Spark job failed ({status}); log {}:\n{}",
        log.display(),
        tail(&text, 6000)
    );
    text
}

fn tail(s: &str, n: usize) -> &str {
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Messages the job reported applying.
fn applied(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.strip_prefix("finlake-spark: applied "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no summary line in the job's output:\n{}", tail(log, 4000)))
}

#[tokio::test]
async fn spark_job_builds_the_binlog_paths_bronze_tables_on_minio_idempotently() {
    let db = "t_spark";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    apply_sql_file(&url, &repo_file("infra/mysql/schema.sql")).await;
    apply_sql_file(&url, &repo_file("tests/data/debezium/snapshot.sql")).await;
    let binlog_lake = tempfile::tempdir().expect("tempdir");
    let binlog_uri = binlog_lake.path().to_str().expect("utf8");
    let binlog_env = Env::new(&url, binlog_uri).with(vec![("FINLAKE_SERVER_ID", "7602".into())]);
    let spark = Env::new(&url, "unused")
        .with(s3_env(&prefix))
        .with(kafka_env(&prefix, "unused"));
    // Kept after the test: the job's output of each run.
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("spark-logs")
        .join(&prefix);
    std::fs::create_dir_all(&logs).expect("log dir");

    // The recorded scenario: its snapshot part, then its streamed part, through both paths.
    register_connector(&url, &prefix, &prefix, 5504);
    binlog_env.run(&["ingest", "--until-caught-up"]);
    apply_sql_file(&url, &repo_file("tests/data/debezium/stream.sql")).await;
    crate::stack::wait_for_debezium(&url, &prefix, db).await;
    binlog_env.run(&["ingest", "--until-caught-up"]);
    binlog_env.verify_equal();

    let first = spark_job(&spark, &["run", "--available-now"], &logs.join("run-1.log"));
    assert!(applied(&first) > 0, "{}", tail(&first, 4000));
    spark.verify_equal();

    // Source columns identical to the binlog path's lake (so the masks are the Rust masker's).
    let lake_uri = format!("s3://{}/{prefix}", stack().bucket);
    let from_binlog = bronze_source_rows(&url, binlog_uri).await;
    let from_spark = bronze_source_rows_with(&url, &lake_uri, s3_options()).await;
    for t in TABLES {
        assert!(!from_binlog[t].is_empty(), "{t} has rows");
        assert_eq!(from_binlog[t], from_spark[t], "bronze {t} differs");
    }
    assert!(from_spark["cards"].iter().all(|r| r.contains("hmac:")));

    // The Kafka source on the same topics into a third lake, then identical Flight SQL
    // results from the three lakes (bronze), and from the two finlake lakes (the views).
    let kafka_lake = tempfile::tempdir().expect("tempdir");
    let kafka_uri = kafka_lake.path().to_str().expect("utf8");
    let kafka =
        Env::new(&url, kafka_uri).with(kafka_env(&prefix, &format!("{prefix}-conformance")));
    kafka.run(&["ingest", "--until-caught-up"]);
    kafka.verify_equal();
    let s3 = s3_env(&prefix);
    let s3: Vec<(&str, &str)> = s3
        .iter()
        .filter(|(k, _)| *k != "FINLAKE_LAKE_URI")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let all: Vec<&str> = BRONZE_QUERIES.iter().chain(VIEW_QUERIES).copied().collect();
    let served_binlog = served_results(&url, binlog_uri, &[], &all).await;
    let served_kafka = served_results(&url, kafka_uri, &[], &all).await;
    let served_spark = served_results(&url, &lake_uri, &s3, BRONZE_QUERIES).await;
    assert_same(
        &all,
        &served_binlog,
        &served_kafka,
        "binlog vs Kafka source",
    );
    assert_same(
        BRONZE_QUERIES,
        &served_binlog[..BRONZE_QUERIES.len()],
        &served_spark,
        "binlog source vs Spark job",
    );

    // The lake types and partitioning are the Rust writer's.
    let names: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let lake = Lake::open(&lake_uri, s3_options()).expect("s3 lake");
    let mut versions = HashMap::new();
    for schema in binlog::table_schemas(&url, &names).await.expect("schemas") {
        let layout = finlake::lake::layout_for(&schema.name);
        let partitioned = layout.partition_rows.is_some();
        let mut table = lake
            .open_table_with(&schema, layout)
            .await
            .expect("open the Spark-written table");
        // The MERGE of micro-batch 0 recorded its Delta txn (app id, batch id).
        let app = format!("finlake-spark/{}", schema.name);
        let txn = table.txn_version(&app).await.expect("txn");
        assert_eq!(txn, Some(0), "txn {app} of {}", schema.name);
        let state = table.delta().snapshot().expect("snapshot");
        let have = state.snapshot().arrow_schema();
        let want = types::bronze_schema(&schema, partitioned).expect("bronze schema");
        let have: Vec<_> = have
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let want: Vec<_> = want
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        assert_eq!(have, want, "lake types of {}", schema.name);
        let parts: Vec<String> = state.metadata().partition_columns().to_vec();
        let expected: Vec<String> = if partitioned {
            vec!["_part".into()]
        } else {
            vec![]
        };
        assert_eq!(parts, expected, "partitioning of {}", schema.name);
        versions.insert(schema.name.clone(), table.delta().version());
    }

    // The job's masks are the Rust masker's; no CVV is kept.
    let masks = spark_job(
        &spark,
        &["mask", "4344676511950444"],
        &logs.join("mask.log"),
    );
    let m = Masker::new(MASK_KEY).expect("key");
    assert_eq!(masks, format!("{}\n", m.card_number("4344676511950444")));
    // cards: id|client_id|card_brand|card_type|card_number|expires|cvv|...: cvv is NULL.
    assert!(
        from_spark["cards"]
            .iter()
            .all(|r| r.split('|').nth(6) == Some("")),
        "{:?}",
        from_spark["cards"].first()
    );

    // A second run finds nothing new and commits nothing.
    let second = spark_job(&spark, &["run", "--available-now"], &logs.join("run-2.log"));
    assert_eq!(applied(&second), 0, "{}", tail(&second, 4000));
    assert_versions(&lake, &url, &names, &versions, "the second run").await;
    spark.verify_equal();

    // The same micro-batch again with the checkpoint lost (batch ids start over): each
    // MERGE's Delta txn (app id, batch id) is already in the log, so nothing is committed.
    let replayer = Env::new(&url, "unused")
        .with(s3_env(&prefix))
        .with(kafka_env(&prefix, "unused"))
        .with(vec![(
            "FINLAKE_SPARK_CHECKPOINT",
            format!("s3a://{}/{prefix}/_spark/checkpoint-replay", stack().bucket),
        )]);
    let replay = spark_job(
        &replayer,
        &["run", "--available-now"],
        &logs.join("run-3-replay.log"),
    );
    assert_eq!(applied(&replay), applied(&first), "{}", tail(&replay, 4000));
    assert_versions(&lake, &url, &names, &versions, "the replay").await;
    spark.verify_equal();
    delete_connector(&prefix);
}

/// Every bronze table is still at the Delta version in `versions`.
async fn assert_versions(
    lake: &Lake,
    url: &str,
    names: &[String],
    versions: &HashMap<String, Option<u64>>,
    what: &str,
) {
    for schema in binlog::table_schemas(url, names).await.expect("schemas") {
        let table = lake
            .open_table_with(&schema, finlake::lake::layout_for(&schema.name))
            .await
            .expect("open");
        assert_eq!(
            Some(&table.delta().version()),
            versions.get(&schema.name),
            "{what} committed to {}",
            schema.name
        );
    }
}

/// The job's column rules are `mask.rs`'s, for made-up columns of any table.
#[test]
fn spark_job_masks_by_the_rust_maskers_rules() {
    let columns = [
        "cvv:varchar(4)",
        "CVV2:char(3)",
        "cardCvc:smallint",
        "card_security_code:int unsigned",
        "pin:varchar(8)",
        "pin:varchar(8):key",
        "pin_block:varbinary(16)",
        "card_number:varchar(19)",
        "card_number:varchar(19):key",
        "creditCardNumber:text",
        "pan:char(19)",
        "card_no:bigint",
        "holder_ssn:varchar(11)",
        "account_number:varchar(34)",
        "acct_no:bigint unsigned",
        "iban:varchar(34)",
        "password:json",
        "year_pin_last_changed:year",
        "card_on_dark_web:tinyint(1)",
        "has_pin:boolean",
        "card_brand:enum('Visa','Amex')",
        "pin_changed_at:datetime(3)",
        "num_credit_cards:tinyint unsigned",
        "card_id:int unsigned",
        "card_type:varchar(16)",
        "company:varchar(64)",
    ];
    let out = Command::new(spark_python())
        .arg(repo_file("infra/spark/finlake_spark.py"))
        .arg("rules")
        .args(columns)
        .output()
        .expect("run the job's rules");
    assert!(out.status.success(), "{out:?}");
    let python: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let rust: Vec<String> = columns
        .iter()
        .map(|spec| {
            let mut parts = spec.split(':');
            let name = parts.next().expect("name");
            let source_type = SourceType::parse(parts.next().expect("type")).expect("type");
            let key = parts.next() == Some("key");
            let schema = TableSchema {
                name: "made_up".into(),
                columns: vec![Column {
                    name: name.into(),
                    source_type,
                    nullable: false,
                }],
                key: if key { vec![0] } else { vec![] },
            };
            match mask::column_rule(&schema, 0) {
                None => "none",
                Some(Rule::Null) => "null",
                Some(Rule::CardNumber) => "card_number",
                Some(Rule::Hash) => "hash",
            }
            .to_owned()
        })
        .collect();
    let pairs: Vec<_> = columns.iter().zip(rust.iter().zip(&python)).collect();
    assert_eq!(rust, python, "Rust vs the Spark job, per column: {pairs:?}");
    assert!(rust.iter().any(|r| r == "none") && rust.iter().any(|r| r == "null"));
}

/// The Spark job masks in UDFs with the key in a broadcast variable: no plan of its masking
/// query holds the key or its HMAC pads (the job used to build the HMAC in SQL from the pads,
/// so every logged plan carried them), and its masks are the Rust masker's.
#[test]
fn spark_job_keeps_the_mask_key_out_of_its_plans() {
    let key = "9f2c4e7a1b3d5f6081a2c3e4f5061728394a5b6c7d8e9f00";
    let env = Env::new("mysql://unused@127.0.0.1:1/unused", "unused")
        .with(vec![("FINLAKE_MASK_KEY", key.to_owned())]);
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("spark-logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let out = spark_job(&env, &["check-masking"], &logs.join("check-masking.log"));
    assert!(out.contains("masking checked"), "{}", tail(&out, 4000));
    let m = Masker::new(key).expect("key");
    for number in ["4344676511950444", "5 4 1 2-0000"] {
        assert!(
            out.contains(&m.card_number(number)),
            "{number}: {}",
            tail(&out, 4000)
        );
        assert!(
            out.contains(&m.identifier(number)),
            "{number}: {}",
            tail(&out, 4000)
        );
    }
    assert!(!out.contains(key));
}
