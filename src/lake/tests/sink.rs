//! The sink after a crash between its bronze and its history commit.

use std::sync::Arc;

use super::*;
use crate::ingest::event::{ChangeEvent, Op};
use crate::lake::sink::TableSink;

fn create(id: i64, offset: u64) -> ChangeEvent {
    ChangeEvent {
        table: Arc::from("accounts"),
        op: Op::Create,
        before: None,
        after: Some(row(id, &format!("n{id}"), i128::from(id))),
        position: pos(offset),
        commit_ms: 1_700_000_000_000,
        txid: None,
    }
}

fn history_positions(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let p = b
                .column_by_name("_pos")
                .unwrap()
                .as_primitive::<Int64Type>();
            (0..b.num_rows()).map(|i| p.value(i)).collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_history_behind_bronze_is_resumed_from_and_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir);
    let mut dead = DeadLetterTable::open(&lake).await.unwrap();
    let layout = layout_for("accounts");
    let mut sink = TableSink::open(&lake, accounts(), layout).await.unwrap();
    sink.apply(
        vec![create(1, 1), create(2, 2)],
        &pos(2),
        "src",
        &[],
        &mut dead,
        Vec::new(),
    )
    .await
    .unwrap();
    // The crash: bronze committed the next batch, its history commit never happened.
    sink.bronze
        .apply_events_with(&[create(3, 3), create(4, 4)], &pos(4), "src", &[])
        .await
        .unwrap();
    drop(sink);

    let mut sink = TableSink::open(&lake, accounts(), layout).await.unwrap();
    let resume = sink.resume_from("src").await.unwrap();
    assert_eq!(resume.bronze, Some(pos(4)));
    assert_eq!(resume.from, Some(pos(2)), "resume where history stopped");
    // The loop reads from there again: bronze skips what it has, history catches up.
    let out = sink
        .apply(
            vec![create(3, 3), create(4, 4), create(5, 5)],
            &pos(5),
            "src",
            &[],
            &mut dead,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.bronze.effects, 1, "bronze applies only the new event");
    let history = sink.history.read_all().await.unwrap();
    assert_eq!(history_positions(&history), [1, 2, 3, 4, 5]);
    let bronze = rows_of(&sink.bronze.read_all().await.unwrap());
    assert_eq!(
        bronze.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let resume = sink.resume_from("src").await.unwrap();
    assert_eq!((resume.bronze, resume.from), (Some(pos(5)), Some(pos(5))));
}

#[tokio::test]
async fn undecodable_changes_are_dead_letters_and_the_rest_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir);
    let mut dead = DeadLetterTable::open(&lake).await.unwrap();
    let mut sink = TableSink::open(&lake, accounts(), layout_for("accounts"))
        .await
        .unwrap();
    let mut broken = create(2, 2);
    broken.after = None;
    let bad = crate::ingest::event::Undecodable {
        event: broken,
        reason: "cannot decode accounts.balance: unexpected byte string (3 bytes)".into(),
    };
    let out = sink
        .apply(
            vec![create(1, 1), create(3, 3)],
            &pos(3),
            "src",
            &[],
            &mut dead,
            vec![bad.clone()],
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.dead_letters), (2, 1));
    assert_eq!(dead.count().await.unwrap(), 1);
    // A replay of the same batch (a crash before the loop moved on) adds no second letter.
    let again = sink
        .apply(
            vec![create(3, 3)],
            &pos(3),
            "src",
            &[],
            &mut dead,
            vec![bad],
        )
        .await
        .unwrap();
    assert_eq!(again.dead_letters, 0);
    assert_eq!(dead.count().await.unwrap(), 1);
    let bronze = rows_of(&sink.bronze.read_all().await.unwrap());
    assert_eq!(bronze.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3]);
}
