//! Hand-computed feature tests and the chunking-invariance property.

use proptest::prelude::*;

use super::scoring::{Columns, FeatureEngine, Reason, Scored};
use crate::ingest::event::ChangeEvent;
use crate::testkit::golden::{parse_fixture, source_schemas};

fn columns() -> Columns {
    let s = source_schemas().expect("schemas");
    Columns::new(&s[3], &s[1]).expect("columns")
}

fn events(text: &str) -> Vec<ChangeEvent> {
    parse_fixture(text)
        .expect("fixture")
        .into_iter()
        .flat_map(|c| c.events)
        .collect()
}

const CARD10: &str =
    "r cards 10|1|Visa|Debit|hmac:a:1111|2022-12-01|\\N|1|1|5000.00|2010-01-01|2015|0";

/// One transaction line of the fixture format (a test helper: every field is a knob).
#[allow(clippy::too_many_arguments)]
fn tx(
    id: u32,
    time: &str,
    card: u32,
    client: u32,
    amount: &str,
    chip: &str,
    merchant: u32,
    place: &str,
    errors: &str,
) -> String {
    let (city, state, zip) = match place {
        "ONLINE" => ("ONLINE", "\\N", "\\N"),
        "TX" => ("Austin", "TX", "78701"),
        "ID" => ("Boise", "ID", "83702"),
        other => ("Somewhere", other, "\\N"),
    };
    format!(
        "c transactions {id}|{time}|{client}|{card}|{amount}|{chip} Transaction|{merchant}|{city}|{state}|{zip}|5411|{errors}\n"
    )
}

fn run(text: &str) -> Vec<Scored> {
    FeatureEngine::default().process(&columns(), &events(text))
}

#[test]
fn velocity_outlier_new_merchant_location_and_impossible_travel() {
    let mut text = format!("commit 2019-03-01 00:00:00\n{CARD10}\n");
    for (i, a) in ["10.00", "12.00", "10.00", "12.00", "10.00", "12.00"]
        .iter()
        .enumerate()
    {
        text.push_str(&tx(
            i as u32 + 1,
            &format!("2019-03-01 10:{:02}:00", i * 5),
            10,
            1,
            a,
            "Swipe",
            100,
            "TX",
            "\\N",
        ));
    }
    text.push_str(&tx(
        7,
        "2019-03-01 10:30:00",
        10,
        1,
        "500.00",
        "Swipe",
        200,
        "ID",
        "\\N",
    ));
    let out = run(&text);
    assert_eq!(out.len(), 7);
    let first = &out[0].features;
    assert_eq!(
        (first.card_tx_1h, first.secs_since_prev, first.amount_z),
        (1, None, None)
    );
    assert!(first.first_merchant && first.first_location && !first.impossible_travel);
    assert_eq!(
        out[0].score, 0,
        "a new card's first use is not an alert by itself"
    );
    let second = &out[1].features;
    assert_eq!(
        (
            second.card_tx_1h,
            second.card_amount_1h,
            second.secs_since_prev
        ),
        (2, 2200, Some(300))
    );
    assert!(!second.first_merchant && !second.first_location);
    let last = &out[6];
    let f = &last.features;
    assert_eq!(
        (
            f.card_tx_1h,
            f.card_amount_1h,
            f.card_tx_24h,
            f.card_amount_24h
        ),
        (7, 56_600, 7, 56_600)
    );
    assert_eq!(
        (f.client_tx_1h, f.client_tx_24h, f.client_amount_24h),
        (7, 7, 56_600)
    );
    assert_eq!(f.secs_since_prev, Some(300));
    // mean 1100 cents, sample variance 6 * 100^2 / 5 = 12000 cents^2.
    let z = f.amount_z.expect("z");
    assert!((z - 48_900.0 / 12_000f64.sqrt()).abs() < 1e-9, "z = {z}");
    assert!(f.first_merchant && f.first_location && f.impossible_travel);
    assert_eq!(
        last.reasons,
        vec![
            Reason::Velocity1h,
            Reason::Spend24h,
            Reason::AmountOutlier,
            Reason::NewMerchant,
            Reason::NewLocation,
            Reason::ImpossibleTravel
        ]
    );
    assert_eq!(last.score, 100);
    assert!(last.is_alert());
}

#[test]
fn streaks_dark_web_and_online_cvv() {
    let mut text = format!("commit 2019-03-01 00:00:00\n{CARD10}\n");
    text.push_str(&tx(
        1,
        "2019-03-01 10:00:00",
        10,
        1,
        "5.00",
        "Chip",
        100,
        "TX",
        "Bad PIN",
    ));
    text.push_str(&tx(
        2,
        "2019-03-01 10:01:00",
        10,
        1,
        "5.00",
        "Chip",
        100,
        "TX",
        "Bad PIN,Insufficient Balance",
    ));
    text.push_str(&tx(
        3,
        "2019-03-01 10:02:00",
        10,
        1,
        "5.00",
        "Chip",
        100,
        "TX",
        "\\N",
    ));
    text.push_str("commit 2019-03-01 11:00:00\nu cards 10|1|Visa|Debit|hmac:a:1111|2022-12-01|\\N|1|1|5000.00|2010-01-01|2015|1\n");
    text.push_str(&tx(
        4,
        "2019-03-01 12:00:00",
        10,
        1,
        "9.00",
        "Online",
        300,
        "ONLINE",
        "Bad CVV",
    ));
    let out = run(&text);
    let streaks: Vec<(u32, u32, bool)> = out
        .iter()
        .map(|s| {
            (
                s.features.bad_pin_streak,
                s.features.bad_cvv_streak,
                s.features.dark_web,
            )
        })
        .collect();
    assert_eq!(
        streaks,
        vec![(1, 0, false), (2, 0, false), (0, 0, false), (0, 1, true)]
    );
    assert_eq!(out[1].reasons, vec![Reason::BadPinStreak]);
    assert_eq!(out[1].score, 30);
    assert_eq!(out[3].reasons, vec![Reason::BadCvvStreak, Reason::DarkWeb]);
    assert_eq!(out[3].score, 70);
    // Online: no impossible travel, location unknown.
    assert!(!out[3].features.impossible_travel && !out[3].features.first_location);
}

#[test]
fn windows_are_half_open_and_state_expires() {
    let mut text = format!("commit 2019-03-01 00:00:00\n{CARD10}\n");
    text.push_str(&tx(
        1,
        "2019-03-01 10:00:00",
        10,
        1,
        "1.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    text.push_str("commit 2019-03-02 09:00:00\n");
    text.push_str(&tx(
        2,
        "2019-03-02 09:59:59",
        10,
        1,
        "2.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    text.push_str(&tx(
        3,
        "2019-03-02 10:00:00",
        10,
        1,
        "4.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    text.push_str(&tx(
        4,
        "2019-03-02 10:59:59",
        10,
        1,
        "8.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    // 91 days later: the card's state has expired.
    text.push_str("commit 2019-06-01 11:00:00\n");
    text.push_str(&tx(
        5,
        "2019-06-01 11:00:00",
        10,
        1,
        "8.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    let out = run(&text);
    let w: Vec<(u32, i64, u32, i64)> = out
        .iter()
        .map(|s| {
            (
                s.features.card_tx_24h,
                s.features.card_amount_24h,
                s.features.card_tx_1h,
                s.features.card_amount_1h,
            )
        })
        .collect();
    // 1 h window of tx 4 is (09:59:59, 10:59:59]: tx 2 at 09:59:59 is out, tx 3 in.
    assert_eq!(
        w,
        vec![
            (1, 100, 1, 100),
            (2, 300, 1, 200),
            (2, 600, 2, 600),
            (3, 1400, 2, 1200)
        ]
        .into_iter()
        .chain([(1, 800, 1, 800)])
        .collect::<Vec<_>>()
    );
    assert_eq!(out[4].features.secs_since_prev, None);
    assert!(out[4].features.first_merchant);
}

#[test]
fn one_transaction_dated_far_ahead_of_its_commit_expires_nothing() {
    // Card 10 has history; card 11's transaction claims 2099 in a 2019 commit. Before the
    // bound it moved the watermark to 2099 and every other card's state expired with it.
    let mut text = format!("commit 2019-03-01 10:00:00\n{CARD10}\n");
    text.push_str(&tx(
        1,
        "2019-03-01 10:00:00",
        10,
        1,
        "10.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    text.push_str(&tx(
        2,
        "2099-01-01 00:00:00",
        11,
        2,
        "10.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    text.push_str("commit 2019-03-01 10:10:00\n");
    text.push_str(&tx(
        3,
        "2019-03-01 10:10:00",
        10,
        1,
        "10.00",
        "Swipe",
        100,
        "TX",
        "\\N",
    ));
    let mut engine = FeatureEngine::default();
    let out = engine.process(&columns(), &events(&text));
    engine.expire();
    let ids: Vec<&str> = out.iter().map(|s| s.transaction_id.as_str()).collect();
    assert_eq!(
        ids,
        ["1", "3"],
        "the future-dated transaction is not scored"
    );
    assert_eq!(
        out[1].features.secs_since_prev,
        Some(600),
        "card 10 kept its state"
    );
    assert_eq!(out[1].features.card_tx_1h, 2);
    assert_eq!(
        engine.cards_tracked(),
        1,
        "card 10 survives expiry, card 11 got no state"
    );
    assert_eq!(engine.future_dated(), 1);
    // Within the bound (a wall clock a few hours ahead of UTC) is scored as before.
    let near = format!(
        "commit 2019-03-01 00:00:00\n{CARD10}\n{}",
        tx(
            1,
            "2019-03-01 23:00:00",
            10,
            1,
            "1.00",
            "Swipe",
            100,
            "TX",
            "\\N"
        )
    );
    assert_eq!(run(&near).len(), 1);
}

#[test]
fn snapshot_rows_build_history_without_alerts_and_replays_are_no_ops() {
    let text = format!(
        "commit 2019-03-01 00:00:00\n{CARD10}\n{}{}",
        tx(
            1,
            "2019-03-01 10:00:00",
            10,
            1,
            "1.00",
            "Swipe",
            100,
            "TX",
            "\\N"
        )
        .replacen("c transactions", "r transactions", 1),
        tx(
            2,
            "2019-03-01 10:01:00",
            10,
            1,
            "1.00",
            "Swipe",
            100,
            "TX",
            "\\N"
        )
    );
    let ev = events(&text);
    let mut engine = FeatureEngine::default();
    let out = engine.process(&columns(), &ev);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].features.card_tx_1h, 2);
    assert!(
        engine.process(&columns(), &ev).is_empty(),
        "a replay scores nothing"
    );
}

fn stream() -> impl Strategy<Value = String> {
    prop::collection::vec((1u32..4, 0u32..2000, 0u32..4, 0u32..3, 0i64..20000, any::<bool>()), 1..60).prop_map(|rows| {
        let mut text = String::from("commit 2019-03-01 00:00:00\n");
        for c in [10, 11, 12] {
            text.push_str(&format!("r cards {c}|1|Visa|Debit|hmac:a:1111|2022-12-01|\\N|1|1|5000.00|2010-01-01|2015|0\n"));
        }
        let mut minute = 0u32;
        for (i, (card, step, place, errs, cents, flag)) in rows.into_iter().enumerate() {
            minute += step * if step > 1900 { 200 } else { 1 }; // now and then months apart
            let t = chrono::NaiveDate::from_ymd_opt(2019, 3, 1).expect("d").and_hms_opt(0, 0, 0).expect("t")
                + chrono::Duration::minutes(i64::from(minute));
            let place = ["TX", "ID", "ONLINE", "Italy"][place as usize];
            let chip = if place == "ONLINE" { "Online" } else { "Swipe" };
            let errors = ["\\N", "Bad PIN", "Bad CVV"][errs as usize];
            let card_id = 9 + card;
            // Committed when it happened (a transaction far ahead of its commit is left out).
            text.push_str(&format!("commit {}\n", t.format("%Y-%m-%d %H:%M:%S")));
            text.push_str(&tx(i as u32 + 1, &t.format("%Y-%m-%d %H:%M:%S").to_string(), card_id, card % 2, &format!("{}.{:02}", cents / 100, cents % 100), chip, 100 + (cents % 5) as u32, place, errors));
            if flag && i % 7 == 0 {
                text.push_str(&format!("u cards {card_id}|1|Visa|Debit|hmac:a:1111|2022-12-01|\\N|1|1|5000.00|2010-01-01|2015|{}\n", i % 2));
            }
        }
        text
    })
}

proptest! {
    #[test]
    fn one_batch_or_many_micro_batches_with_restarts_give_identical_output(
        text in stream(),
        cuts in prop::collection::vec(1usize..9, 1..20),
    ) {
        let cols = columns();
        let ev = events(&text);
        let whole = FeatureEngine::default().process(&cols, &ev);
        let mut engine = FeatureEngine::default();
        let mut pieces = Vec::new();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < ev.len() {
            let end = (at + cut.next().copied().unwrap_or(1)).min(ev.len());
            pieces.extend(engine.process(&cols, &ev[at..end]));
            engine.expire();
            // A restart: the state goes through its stored form.
            let stored = serde_json::to_string(&engine).expect("serialise");
            engine = serde_json::from_str(&stored).expect("deserialise");
            at = end;
        }
        prop_assert_eq!(whole, pieces);
    }
}

#[tokio::test]
async fn alerts_and_state_are_stored_exactly_once_across_restarts() {
    use super::store::FraudFeatures;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = crate::lake::Lake::open(dir.path().to_str().expect("path"), Default::default())
        .expect("lake");
    let s = source_schemas().expect("schemas");
    let mut text = format!("commit 2019-03-01 00:00:00\n{CARD10}\n");
    for i in 0..6u32 {
        text.push_str(&tx(
            i + 1,
            &format!("2019-03-01 10:{:02}:00", i * 5),
            10,
            1,
            "10.00",
            "Swipe",
            100,
            "TX",
            "\\N",
        ));
    }
    text.push_str("commit 2019-03-01 10:30:00\n");
    text.push_str(&tx(
        7,
        "2019-03-01 10:30:00",
        10,
        1,
        "500.00",
        "Swipe",
        200,
        "ID",
        "\\N",
    ));
    let commits = parse_fixture(&text).expect("fixture");
    let count = |lake: &crate::lake::Lake| {
        let root = lake.root().clone();
        async move {
            let t = deltalake::DeltaTable::try_from_url(
                root.join("features/fraud_alerts/").expect("url"),
            )
            .await
            .expect("open");
            let ctx = crate::lake::session().expect("session");
            t.update_datafusion_session(&ctx.state()).expect("store");
            ctx.read_table(t.table_provider().await.expect("provider"))
                .expect("read")
                .count()
                .await
                .expect("count")
        }
    };
    let mut f = FraudFeatures::open(&lake, &s[3], &s[1])
        .await
        .expect("open");
    // The alerts table exists, empty, before anything was scored.
    assert_eq!(count(&lake).await, 0);
    let up0 = commits[0].up_to().expect("pos").clone();
    assert!(
        f.on_commit(&commits[0].events, &up0)
            .await
            .expect("commit")
            .iter()
            .all(|x| !x.is_alert())
    );
    drop(f);
    // Restart: the state comes back from the lake and the next transaction sees the history.
    let mut f = FraudFeatures::open(&lake, &s[3], &s[1])
        .await
        .expect("reopen");
    assert_eq!(f.position(), Some(&up0));
    let up1 = commits[1].up_to().expect("pos").clone();
    let out = f.on_commit(&commits[1].events, &up1).await.expect("commit");
    assert_eq!(out.len(), 1);
    assert!(out[0].is_alert() && out[0].features.card_tx_1h == 7);
    assert_eq!(count(&lake).await, 1);
    // A replay of the batch (the loop restarted before its own commit) adds nothing.
    let mut f = FraudFeatures::open(&lake, &s[3], &s[1])
        .await
        .expect("reopen");
    assert!(
        f.on_commit(&commits[1].events, &up1)
            .await
            .expect("replay")
            .is_empty()
    );
    assert_eq!(count(&lake).await, 1);
}
