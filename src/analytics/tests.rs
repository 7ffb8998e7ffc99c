//! Reflection maintenance against recomputation from scratch, on random change streams.

use proptest::prelude::*;

use super::refresh::{Action, agg_sql, keyed_sql, open_reflection, recorded, refresh_reflections};
use super::spec::reflection_specs;
use super::views::{ensure_catalog, open_bronze};
use crate::lake::{Lake, session};
use crate::testkit::golden::{APP_ID, apply_commit, parse_fixture, source_schemas};
use crate::testkit::sorted_lines as rows;

/// The reflection's rows and the same aggregation recomputed from the bronze table.
async fn reflection_vs_scratch(lake: &Lake) -> (Vec<String>, Vec<String>) {
    let spec = reflection_specs().expect("specs").remove(0);
    let ctx = session().expect("session");
    let bronze = open_bronze(lake, &spec.source)
        .await
        .expect("open")
        .expect("exists");
    bronze
        .update_datafusion_session(&ctx.state())
        .expect("store");
    ensure_catalog(&ctx)
        .schema("bronze")
        .expect("bronze")
        .register_table(
            spec.source.clone(),
            bronze.table_provider().await.expect("provider"),
        )
        .expect("register");
    let scratch = rows(&ctx, &agg_sql(&spec, &format!("({}) k", keyed_sql(&spec)))).await;
    let table = open_reflection(lake, &spec.name)
        .await
        .expect("open")
        .expect("built");
    let (version, _) = recorded(&table).await.expect("recorded").expect("position");
    assert_eq!(
        version,
        bronze.version().expect("version") as i64,
        "reflection at bronze's version"
    );
    ctx.register_table("refl", table.table_provider().await.expect("provider"))
        .expect("register");
    let mut cols = spec.dims.clone();
    cols.push("_month".into());
    cols.push("__rows".into());
    cols.extend(super::refresh::measure_columns(&spec));
    let refl = rows(&ctx, &format!("SELECT {} FROM refl", cols.join(", "))).await;
    (refl, scratch)
}

#[test]
fn schema_sql_parses_into_the_source_tables() {
    let schemas = source_schemas().expect("parse");
    let names: Vec<&str> = schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "users",
            "cards",
            "mcc_codes",
            "transactions",
            "fraud_labels"
        ]
    );
    let tx = &schemas[3];
    assert_eq!(tx.columns.len(), 12);
    assert_eq!(tx.key, vec![0]);
    assert!(tx.columns[8].nullable && !tx.columns[4].nullable);
    assert_eq!(schemas[4].key, vec![0]);
}

#[test]
fn reflection_declarations_parse() {
    let specs = reflection_specs().expect("specs");
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["tx_minute", "tx_day", "tx_month_mcc", "tx_month_location"]
    );
    assert_eq!(specs[0].name, "tx_minute");
    assert_eq!(specs[0].view_name, "transactions_base");
    assert_eq!(specs[0].dims[0], "minute");
    let view = super::views::view_defs().expect("views").remove(0);
    assert!(super::spec::parse_line("-- reflection: x kind=raw", &view).is_err());
    assert!(
        super::spec::parse_line(
            "-- reflection: x kind=aggregation source=t key=id dims=a;b measures=m",
            &view
        )
        .is_err()
    );
}

fn tx_line(op: &str, id: u32, minute: u32, channel: u32, state: u32, cents: i64) -> String {
    let channel = [
        "Swipe Transaction",
        "Chip Transaction",
        "Online Transaction",
    ][channel as usize % 3];
    let (city, st, zip) = match (channel, state % 3) {
        ("Online Transaction", _) => ("ONLINE", "\\N", "\\N"),
        (_, 0) => ("Austin", "TX", "78701"),
        (_, 1) => ("Boise", "ID", "83702"),
        _ => ("Paris", "France", "\\N"),
    };
    let day = 1 + minute / 3; // spans two months: 2019-01-30 .. 2019-02-0x
    let date = chrono::NaiveDate::from_ymd_opt(2019, 1, 29).expect("date")
        + chrono::Duration::days(i64::from(day));
    let amount = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    let amount = if cents < 0 && cents > -100 {
        format!("-{amount}")
    } else {
        amount
    };
    if op == "d" {
        return format!("d transactions {id}");
    }
    format!(
        "{op} transactions {id}|{date} 10:{:02}:00|1|10|{amount}|{channel}|{}|{city}|{st}|{zip}|{}|{}",
        minute % 3,
        state,
        5411 + (state % 2),
        if cents % 7 == 0 { "Bad PIN" } else { "\\N" }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    #[test]
    fn random_change_streams_keep_the_reflection_equal_to_its_view(
        commits in prop::collection::vec(
            prop::collection::vec((0u32..3, 1u32..8, 0u32..6, 0u32..3, 0u32..3, -2000i64..9000), 1..6),
            2..5),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let lake = Lake::open(dir.path().to_str().expect("path"), Default::default()).expect("lake");
            let mut live = std::collections::BTreeSet::new();
            let mut text = String::new();
            for (i, commit) in commits.iter().enumerate() {
                text.push_str(&format!("commit 2019-03-0{} 00:00:00\n", i + 1));
                for &(op, id, minute, channel, state, cents) in commit {
                    let op = match (op, live.contains(&id)) {
                        (0, true) => { live.remove(&id); "d" }
                        (_, true) => "u",
                        (_, false) => { live.insert(id); "c" }
                    };
                    text.push_str(&tx_line(op, id, minute, channel, state, cents));
                    text.push('\n');
                }
            }
            let parsed = parse_fixture(&text).expect("fixture");
            for (i, c) in parsed.iter().enumerate() {
                apply_commit(&lake, c).await.expect("apply");
                // Refresh after some commits only: a refresh may cover several commits.
                if i % 2 == 1 || i + 1 == parsed.len() {
                    let out = refresh_reflections(&lake, APP_ID).await.expect("refresh");
                    assert!(matches!(out[0].action, Action::Built | Action::Incremental), "{out:?}");
                }
            }
            let (refl, scratch) = reflection_vs_scratch(&lake).await;
            assert_eq!(refl, scratch);
            // A replayed refresh changes nothing.
            let out = refresh_reflections(&lake, APP_ID).await.expect("refresh");
            assert_eq!(out[0].action, Action::Unchanged);
        });
    }
}

#[tokio::test]
async fn a_crash_between_the_two_commits_is_repaired_by_a_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::open(dir.path().to_str().expect("path"), Default::default()).expect("lake");
    let text = format!(
        "commit 2019-03-01 00:00:00\n{}\n{}\ncommit 2019-03-02 00:00:00\n{}\n",
        tx_line("c", 1, 0, 0, 0, 1234),
        tx_line("c", 2, 1, 1, 1, 500),
        tx_line("u", 1, 4, 2, 2, 999)
    );
    let parsed = parse_fixture(&text).expect("fixture");
    apply_commit(&lake, &parsed[0]).await.expect("apply");
    refresh_reflections(&lake, APP_ID).await.expect("refresh");
    apply_commit(&lake, &parsed[1]).await.expect("apply");
    // Simulate the crash: the keys table committed the new bronze version, the aggregate not.
    let spec = reflection_specs().expect("specs").remove(0);
    let mut keys = open_reflection(&lake, &format!("{}__keys", spec.name))
        .await
        .expect("open")
        .expect("built");
    let bronze = open_bronze(&lake, "transactions")
        .await
        .expect("open")
        .expect("exists");
    let pos = crate::lake::commit::applied_position(&bronze, &mut Default::default(), APP_ID)
        .await
        .expect("pos")
        .expect("pos");
    let props = deltalake::kernel::transaction::CommitProperties::default()
        .with_metadata([
            (
                "finlake.position".to_owned(),
                serde_json::to_value(&pos).expect("json"),
            ),
            (
                "finlake.bronze_version".to_owned(),
                serde_json::Value::from(bronze.version().expect("v") as i64),
            ),
        ])
        .with_application_transaction(deltalake::kernel::Transaction::new(
            super::refresh::APP_ID,
            bronze.version().expect("v") as i64,
        ));
    crate::lake::commit::commit_position_only(&mut keys, props)
        .await
        .expect("commit");
    let out = refresh_reflections(&lake, APP_ID).await.expect("refresh");
    assert_eq!(out[0].action, Action::Built);
    let (refl, scratch) = reflection_vs_scratch(&lake).await;
    assert_eq!(refl, scratch);
}
