//! Fraud features on generated data: alert precision and recall against the fraud labels.
//!
//! `cargo bench --bench fraud_features` (scale `FINLAKE_FRAUD_SCALE`, default 0.01). The
//! generator's transactions are fed to the feature engine as change events in micro-batches
//! of 1,000, as the ingestion loop would; labelled transactions are compared with the alerts.

use std::sync::Arc;
use std::time::Instant;

use finlake::data::generate::{GenConfig, Generator};
use finlake::features::{Columns, FeatureEngine, Reason};
use finlake::ingest::event::{ChangeEvent, Op, Position, Value};
use finlake::testkit::golden::source_schemas;

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn main() {
    let scale: f64 = std::env::var("FINLAKE_FRAUD_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.01);
    let schemas = source_schemas().expect("schema");
    let (cards_s, tx_s) = (&schemas[1], &schemas[3]);
    let cols = Columns::new(tx_s, cards_s).expect("columns");
    let generator = Generator::new(GenConfig { scale, seed: 42 });
    let mut offset = 0u64;
    let mut next_pos = || {
        offset += 1;
        Position::new("mysql-bin.000001", offset, 0)
    };
    let mut events = Vec::new();
    for c in &generator.world.cards {
        let mut row = vec![Value::Null; cards_s.columns.len()];
        row[0] = Value::UInt(u64::from(c.id));
        row[cards_s.column_index("card_on_dark_web").expect("col")] =
            Value::Int(i64::from(c.card_on_dark_web));
        events.push(ChangeEvent {
            table: Arc::from("cards"),
            op: Op::Read,
            before: None,
            after: Some(row),
            position: next_pos(),
            commit_ms: 0,
            txid: None,
        });
    }
    let mut labels = Vec::new();
    for g in generator.transactions() {
        let t = &g.transaction;
        let row = vec![
            Value::UInt(t.id),
            Value::DateTime(t.date.and_utc().timestamp_micros()),
            Value::UInt(u64::from(t.client_id)),
            Value::UInt(u64::from(t.card_id)),
            Value::Decimal {
                unscaled: i128::from(t.amount.0),
                scale: 2,
            },
            text(t.use_chip.as_str()),
            Value::UInt(u64::from(t.merchant_id)),
            text(&t.merchant_city),
            t.merchant_state.as_deref().map_or(Value::Null, text),
            t.zip.as_deref().map_or(Value::Null, text),
            Value::UInt(u64::from(t.mcc)),
            t.errors.as_deref().map_or(Value::Null, text),
        ];
        labels.push(g.label.as_ref().map(|l| l.is_fraud));
        events.push(ChangeEvent {
            table: Arc::from("transactions"),
            op: Op::Create,
            before: None,
            after: Some(row),
            position: next_pos(),
            commit_ms: 0,
            txid: None,
        });
    }
    let start = Instant::now();
    let mut engine = FeatureEngine::default();
    let mut scored = Vec::new();
    for chunk in events.chunks(1000) {
        scored.extend(engine.process(&cols, chunk));
        engine.expire();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(scored.len(), labels.len());
    let labelled: Vec<(u32, &[Reason], bool)> = scored
        .iter()
        .zip(&labels)
        .filter_map(|(s, l)| l.map(|f| (s.score, s.reasons.as_slice(), f)))
        .collect();
    let frauds = labelled.iter().filter(|x| x.2).count();
    println!(
        "scale {scale}: {} transactions ({} labelled, {frauds} fraud), {:.0} events/s scored",
        scored.len(),
        labelled.len(),
        events.len() as f64 / secs
    );
    println!("\n| alert threshold | alerts (labelled) | precision | recall |\n|---|---|---|---|");
    for threshold in [30u32, 50, 70] {
        let alerts = labelled.iter().filter(|x| x.0 >= threshold).count();
        let tp = labelled.iter().filter(|x| x.0 >= threshold && x.2).count();
        println!(
            "| {threshold}{} | {alerts} | {:.1}% | {:.1}% |",
            if threshold == finlake::features::scoring::ALERT_SCORE {
                " (default)"
            } else {
                ""
            },
            100.0 * tp as f64 / alerts.max(1) as f64,
            100.0 * tp as f64 / frauds.max(1) as f64
        );
    }
    println!(
        "\n| reason | labelled with it | fraud among them | share of frauds |\n|---|---|---|---|"
    );
    let all = [
        Reason::Velocity1h,
        Reason::Spend24h,
        Reason::AmountOutlier,
        Reason::NewMerchant,
        Reason::NewLocation,
        Reason::ImpossibleTravel,
        Reason::BadPinStreak,
        Reason::BadCvvStreak,
        Reason::DarkWeb,
        Reason::OnlineNew,
    ];
    for r in all {
        let with: Vec<_> = labelled.iter().filter(|x| x.1.contains(&r)).collect();
        let tp = with.iter().filter(|x| x.2).count();
        println!(
            "| {} | {} | {:.1}% | {:.1}% |",
            r.code(),
            with.len(),
            100.0 * tp as f64 / with.len().max(1) as f64,
            100.0 * tp as f64 / frauds.max(1) as f64
        );
    }
}
