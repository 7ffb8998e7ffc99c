//! The binlog source while streaming: purged positions, schema changes, idle following,
//! non-transactional tables, a dump taken over by the same server id.

use super::*;

#[tokio::test]
async fn purged_or_impossible_positions_ask_for_a_resnapshot() {
    // Exclusive: no other test of this module holds a binlog position meanwhile. Only files
    // older than the one current when this test starts are purged: they were rotated before
    // this test process began, so no test of this run can still need them.
    let _files = BINLOG_FILES.write().await;
    let url = fresh_db("t_binlog_purged").await;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .expect("create");
    let status: mysql_async::Row = c
        .query_first("SHOW MASTER STATUS")
        .await
        .expect("status")
        .expect("binlog on");
    let current: String = status.get(0).expect("file");
    let logs: Vec<mysql_async::Row> = c.query("SHOW BINARY LOGS").await.expect("logs");
    let oldest: String = logs[0].get(0).expect("name");
    c.query_drop("FLUSH BINARY LOGS").await.expect("flush");
    c.query_drop(format!("PURGE BINARY LOGS TO '{current}'"))
        .await
        .expect("purge");
    // A purged file (or, on a fresh server with nothing to purge, one before the first).
    let gone = if oldest != current {
        oldest
    } else {
        let (stem, n) = current.rsplit_once('.').expect("numbered binlog");
        format!(
            "{stem}.{:0width$}",
            n.parse::<u64>().expect("number") - 1,
            width = n.len()
        )
    };
    let err = BinlogSource::start(
        &url,
        &["t".into()],
        StartFrom::Position(Position::new(gone.clone(), 4, 0)),
        41_021,
        Mode::UntilCaughtUp,
    )
    .await
    .expect_err("purged");
    assert!(
        matches!(&err, Error::PositionPurged { file, .. } if *file == gone),
        "{err}"
    );
    assert!(err.to_string().contains("--resnapshot"), "{err}");
    // A position past the end of an existing file: the server refuses the dump (error 1236).
    let mut src = start(
        &url,
        StartFrom::Position(Position::new(current.clone(), 4_000_000_000, 0)),
        41_022,
    )
    .await;
    let err = src
        .next_batch(10, Duration::from_secs(5))
        .await
        .expect_err("impossible position");
    assert!(
        matches!(&err, Error::PositionPurged { file, .. } if *file == current),
        "{err}"
    );
}

#[tokio::test]
async fn add_column_is_followed_and_other_ddl_is_a_schema_change_error() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_ddl").await;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        .await
        .expect("create");
    c.query_drop("CREATE TABLE other (id INT PRIMARY KEY)")
        .await
        .expect("create other");
    let mut src = start(&url, StartFrom::Snapshot, 41_031).await;
    let (_, resume) = drain(&mut src, 100).await;
    let (mut src, _) = BinlogSource::start(
        &url,
        &["t".into()],
        StartFrom::Position(resume),
        41_032,
        Mode::Follow,
    )
    .await
    .expect("follow");
    for sql in [
        "INSERT INTO t VALUES (1, 1)",
        "ALTER TABLE other ADD COLUMN t INT",
        "ALTER TABLE t ADD COLUMN w VARCHAR(8) NOT NULL DEFAULT 'it''s', ADD INDEX iv (v)",
        "INSERT INTO t VALUES (2, 2, 'x')",
    ] {
        c.query_drop(sql).await.expect(sql);
    }
    // The DROP runs once the ADD was read: a source that reads the ADD after the DROP already
    // happened cannot know the shape at the ADD (information_schema is the current one) and
    // stops there instead.
    let mut dropped = false;
    let mut seen = Vec::new();
    let mut changes = Vec::new();
    let started = std::time::Instant::now();
    let err = loop {
        match src.next_batch(100, Duration::from_secs(2)).await {
            Ok(b) => {
                assert!(
                    b.schema_changes.is_empty() || b.events.is_empty(),
                    "a schema change comes in a batch of its own"
                );
                seen.extend(b.events);
                changes.extend(b.schema_changes);
                if seen.len() == 2 && !dropped {
                    c.query_drop("ALTER TABLE t DROP COLUMN v")
                        .await
                        .expect("drop");
                    dropped = true;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the DROP COLUMN was not reported"
                );
            }
            Err(e) => break e,
        }
    };
    assert_eq!(seen.len(), 2, "both inserts are delivered: {err}");
    assert_eq!(seen[0].after.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        seen[1].after.as_ref().expect("after")[2],
        Value::Text("x".into()),
        "decoded with the new shape"
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].schema.columns.len(), 3);
    assert_eq!(
        changes[0].added,
        vec![("w".to_string(), Value::Text("it's".into()))]
    );
    assert!(changes[0].position > seen[0].position && changes[0].position < seen[1].position);
    assert!(
        matches!(&err, Error::SchemaChange { table, statement } if table == "t" && statement.contains("DROP COLUMN v")),
        "{err}"
    );
}

#[tokio::test]
async fn following_survives_idle_time_and_delivers_new_commits() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_follow").await;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
        .await
        .expect("create");
    let (mut src, _) = BinlogSource::start(
        &url,
        &["t".into()],
        StartFrom::Snapshot,
        41_041,
        Mode::Follow,
    )
    .await
    .expect("start");
    // Idle (here: nothing captured) longer than the heartbeat period.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(7) {
        let b = src
            .next_batch(10, Duration::from_secs(2))
            .await
            .expect("idle batch");
        assert!(b.events.is_empty() && b.resume.is_some());
    }
    c.query_drop("INSERT INTO t VALUES (1, 'x')")
        .await
        .expect("insert");
    let mut got = Vec::new();
    let started = std::time::Instant::now();
    while got.is_empty() && started.elapsed() < Duration::from_secs(30) {
        got.extend(
            src.next_batch(10, Duration::from_secs(2))
                .await
                .expect("batch")
                .events,
        );
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].op, Op::Create);
    assert_eq!(
        got[0].after,
        Some(vec![Value::Int(1), Value::Text("x".into())])
    );
    assert!(!src.caught_up());
}

#[tokio::test]
async fn non_transactional_tables_commit_with_a_query_event() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_myisam").await;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM")
        .await
        .expect("create");
    c.query_drop("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        .await
        .expect("seed");
    let mut src = start(&url, StartFrom::Snapshot, 41_051).await;
    let (snap, resume) = drain(&mut src, 100).await;
    assert_eq!(snap.len(), 2);
    c.query_drop("INSERT INTO t VALUES (3, 'c')")
        .await
        .expect("insert");
    c.query_drop("UPDATE t SET id = 10, v = 'z' WHERE id = 1")
        .await
        .expect("key change");
    c.query_drop("DELETE FROM t WHERE id = 2")
        .await
        .expect("delete");
    let mut src = start(&url, StartFrom::Position(resume), 41_052).await;
    let (stream, _) = drain(&mut src, 100).await;
    assert_eq!(stream.len(), 3, "{stream:?}");
    assert!(
        stream.iter().all(|e| e.txid.is_none() && e.commit_ms > 0),
        "no XID for MyISAM"
    );
    let mut all = snap;
    all.extend(stream);
    let (key, rows) = table_rows(&url).await;
    assert_eq!(fold(&all, &key), rows);
}

#[tokio::test]
async fn a_dump_taken_over_by_the_same_server_id_is_a_lost_connection() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_lost").await;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .expect("create");
    let tables = ["t".to_string()];
    let follow = |id| BinlogSource::start(&url, &tables, StartFrom::Snapshot, id, Mode::Follow);
    let (mut a, _) = follow(41_061).await.expect("a");
    a.next_batch(10, Duration::from_secs(1))
        .await
        .expect("a snapshot");
    a.next_batch(10, Duration::from_secs(1))
        .await
        .expect("a streaming");
    let (mut b, _) = follow(41_061).await.expect("b");
    b.next_batch(10, Duration::from_secs(1))
        .await
        .expect("b snapshot");
    b.next_batch(10, Duration::from_secs(1))
        .await
        .expect("b streaming");
    let started = std::time::Instant::now();
    let err = loop {
        match a.next_batch(10, Duration::from_secs(1)).await {
            Ok(_) => assert!(
                started.elapsed() < Duration::from_secs(20),
                "a kept streaming"
            ),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    // Retrying is the caller's job: the same source reconnects from its last commit.
    drop(b);
    c.query_drop("INSERT INTO t VALUES (1)")
        .await
        .expect("insert");
    let mut got = Vec::new();
    while got.is_empty() && started.elapsed() < Duration::from_secs(40) {
        got.extend(
            a.next_batch(10, Duration::from_secs(1))
                .await
                .expect("a again")
                .events,
        );
    }
    assert_eq!(got.len(), 1);
}
