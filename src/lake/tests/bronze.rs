//! Exactly-once apply, change history, partitioned layout, timing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use deltalake::arrow::array::AsArray;
use deltalake::arrow::compute::concat_batches;
use deltalake::arrow::datatypes::Int64Type;

use super::{accounts, delete, lake, pos, row, rows_of, upsert};
use crate::ingest::event::{ChangeEvent, Op, Position, Value};
use crate::ingest::reduce::{Effect, Effects};
use crate::lake::{BronzeTable, Layout};

#[tokio::test]
async fn apply_is_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir);
    let mut t = lake.open_table(&accounts()).await.unwrap();
    assert_eq!(t.applied("src").await.unwrap(), None);

    let mut e = Effects::new();
    for id in 1..=4 {
        upsert(
            &mut e,
            row(id, &format!("n{id}"), 100 * i128::from(id)),
            10 + id as u64,
        );
    }
    let out = t.apply(e, &pos(20), "src").await.unwrap();
    assert_eq!((out.inserted, out.updated, out.deleted), (4, 0, 0));

    // Update 1, delete 2, move key 3 -> 30 (delete old + upsert new), in one batch.
    let mut e = Effects::new();
    upsert(&mut e, row(1, "n1-updated", 111), 30);
    delete(&mut e, 2, 31);
    delete(&mut e, 3, 32);
    upsert(&mut e, row(30, "n3", 300), 32);
    let out = t.apply(e.clone(), &pos(40), "src").await.unwrap();
    assert_eq!(
        (out.inserted, out.updated, out.deleted),
        (1, 1, 2),
        "{out:?}"
    );
    let v = t.delta().version();
    let expected = vec![
        (1, "n1-updated".to_owned(), 111, "u".to_owned()),
        (4, "n4".to_owned(), 400, "c".to_owned()),
        (30, "n3".to_owned(), 300, "c".to_owned()),
    ];
    assert_eq!(rows_of(&t.read_all().await.unwrap()), expected);
    assert_eq!(t.row_count().await.unwrap(), 3);

    // Replaying the same batch changes nothing and commits nothing.
    let out = t.apply(e, &pos(40), "src").await.unwrap();
    assert!(out.replayed);
    assert_eq!(t.delta().version(), v);

    // Another writer's effect older than the rows' positions is ignored by the merge itself.
    let mut stale = Effects::new();
    upsert(&mut stale, row(1, "stale", 0), 25);
    delete(&mut stale, 4, 12);
    let out = t.apply(stale, &pos(50), "other").await.unwrap();
    assert_eq!(
        (
            out.inserted,
            out.updated,
            out.deleted,
            out.files_added,
            out.files_removed
        ),
        (0, 0, 0, 0, 0),
        "{out:?}"
    );
    assert_eq!(rows_of(&t.read_all().await.unwrap()), expected);

    // An idle batch still records the position.
    let before = t.delta().version();
    let out = t.apply(Effects::new(), &pos(60), "src").await.unwrap();
    assert!(!out.replayed);
    assert!(t.delta().version() > before);
    // The commit carries the txn (file 1 << 32 | offset 60) and the exact position.
    let log = dir.path().join(format!(
        "lakehouse/bronze/accounts/_delta_log/{:020}.json",
        t.delta().version().unwrap()
    ));
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains(&format!(r#""appId":"src","version":{}"#, (1i64 << 32) + 60)),
        "{log}"
    );
    assert!(
        log.contains(r#""finlake.position":{"file":"mysql-bin.000001","pos":60"#),
        "{log}"
    );
    let first = std::fs::read_to_string(
        dir.path()
            .join("lakehouse/bronze/accounts/_delta_log/00000000000000000000.json"),
    )
    .unwrap();
    assert!(
        first.contains("timestamp_ntz") && first.contains("decimal(12,2)"),
        "{first}"
    );

    // After reopening from disk, the applied positions come back.
    drop(t);
    let mut t = lake.open_table(&accounts()).await.unwrap();
    assert_eq!(t.applied("src").await.unwrap(), Some(pos(60)));
    assert_eq!(t.applied("other").await.unwrap(), Some(pos(50)));
    assert_eq!(t.applied("nobody").await.unwrap(), None);
    assert_eq!(rows_of(&t.read_all().await.unwrap()), expected);

    // Snapshot rows rank below streamed rows at the same offset, and are marked `r`.
    let mut e = Effects::new();
    e.insert(
        vec!["4".into()],
        Effect::Upsert {
            row: row(4, "snap", 1),
            position: Position::snapshot("mysql-bin.000001", 14, 9),
        },
    );
    e.insert(
        vec!["5".into()],
        Effect::Upsert {
            row: row(5, "snap", 5),
            position: Position::snapshot("mysql-bin.000001", 70, 0),
        },
    );
    t.apply(e, &Position::snapshot("mysql-bin.000001", 70, 0), "snap")
        .await
        .unwrap();
    let rows = rows_of(&t.read_all().await.unwrap());
    assert_eq!(
        rows.iter().find(|r| r.0 == 4).unwrap().1,
        "n4",
        "a snapshot at offset 14 is older than the insert at 14"
    );
    assert_eq!(rows.iter().find(|r| r.0 == 5).unwrap().3, "r");
}

#[tokio::test]
async fn change_history_appends_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir);
    let mut h = lake.open_history(&accounts()).await.unwrap();
    let ev = |op, before: Option<Vec<Value>>, after: Option<Vec<Value>>, offset| ChangeEvent {
        table: Arc::from("accounts"),
        op,
        before,
        after,
        position: pos(offset),
        commit_ms: 1_700_000_000_000,
        txid: Some("x1".into()),
    };
    let events = vec![
        ev(Op::Create, None, Some(row(1, "a", 1)), 1),
        ev(Op::Update, Some(row(1, "a", 1)), Some(row(1, "b", 2)), 2),
        ev(Op::Delete, Some(row(1, "b", 2)), None, 3),
    ];
    h.append_history(&events, &pos(3), "src").await.unwrap();
    let v = h.delta().version();
    assert!(
        h.append_history(&events, &pos(3), "src")
            .await
            .unwrap()
            .replayed
    );
    assert_eq!(h.delta().version(), v);
    // An overlapping batch appends only the new events.
    let more = vec![
        events[2].clone(),
        ev(Op::Create, None, Some(row(2, "c", 3)), 4),
    ];
    h.append_history(&more, &pos(4), "src").await.unwrap();
    let batches = h.read_all().await.unwrap();
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(all.num_rows(), 4);
    let mut ops: Vec<(i64, String, String)> = (0..all.num_rows())
        .map(|i| {
            (
                all.column_by_name("_pos")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .value(i),
                all.column_by_name("_op")
                    .unwrap()
                    .as_string::<i32>()
                    .value(i)
                    .to_owned(),
                all.column_by_name("_key")
                    .unwrap()
                    .as_string::<i32>()
                    .value(i)
                    .to_owned(),
            )
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        vec![
            (1, "c".into(), r#"["1"]"#.into()),
            (2, "u".into(), r#"["1"]"#.into()),
            (3, "d".into(), r#"["1"]"#.into()),
            (4, "c".into(), r#"["2"]"#.into())
        ]
    );
    assert_eq!(h.applied("src").await.unwrap(), Some(pos(4)));
}

/// Active data files, grouped by `_part` directory.
fn files_by_part(t: &BronzeTable) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for uri in t.delta().get_file_uris().unwrap() {
        let part = uri
            .split('/')
            .find(|s| s.starts_with("_part="))
            .unwrap_or("none")
            .to_owned();
        out.entry(part).or_default().insert(uri);
    }
    out
}

#[tokio::test]
async fn partitioned_batches_touch_only_their_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir);
    let layout = Layout {
        partition_rows: Some(100),
    };
    let mut t = lake.open_table_with(&accounts(), layout).await.unwrap();
    let mut e = Effects::new();
    for id in 0..300 {
        upsert(&mut e, row(id, "x", 1), 1 + id as u64);
    }
    t.apply(e, &pos(1000), "src").await.unwrap();
    let before = files_by_part(&t);
    assert_eq!(
        before.keys().cloned().collect::<Vec<_>>(),
        ["_part=0", "_part=1", "_part=2"]
    );

    let mut e = Effects::new();
    upsert(&mut e, row(150, "y", 2), 1001);
    delete(&mut e, 160, 1002);
    let out = t.apply(e, &pos(1010), "src").await.unwrap();
    assert_eq!(
        (out.updated, out.deleted, out.files_removed),
        (1, 1, 1),
        "{out:?}"
    );
    let after = files_by_part(&t);
    assert_eq!(before["_part=0"], after["_part=0"]);
    assert_eq!(before["_part=2"], after["_part=2"]);
    assert_ne!(before["_part=1"], after["_part=1"]);
    assert_eq!(t.row_count().await.unwrap(), 299);

    // Reopening needs the layout again; it stays partitioned.
    assert!(lake.open_table(&accounts()).await.is_err());
    let mut t = lake.open_table_with(&accounts(), layout).await.unwrap();
    assert_eq!(t.applied("src").await.unwrap(), Some(pos(1010)));
}

#[test]
fn lake_urls() {
    let lake = crate::lake::Lake::open("s3://bucket/prefix", Default::default()).unwrap();
    assert_eq!(
        lake.table_url("accounts").unwrap().as_str(),
        "s3://bucket/prefix/bronze/accounts/"
    );
    assert!(lake.table_url("../x").is_err());
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("lakehouse");
    let lake = crate::lake::Lake::open(local.to_str().unwrap(), Default::default()).unwrap();
    let url = lake.table_url("t").unwrap();
    assert_eq!(url.scheme(), "file");
    assert!(url.path().ends_with("/lakehouse/bronze/t/"), "{url}");
}
