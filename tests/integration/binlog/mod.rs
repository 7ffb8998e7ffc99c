//! The embedded binlog source against the real test server: snapshot + stream fold to the
//! table, restarts neither lose nor repeat events, a concurrent snapshot has no gap, purged
//! positions and DDL are clear errors.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use finlake::ingest::binlog::{self, BinlogSource, Error, Mode, StartFrom};
use finlake::ingest::event::{ChangeEvent, ChangeSource, Op, Position, Row, Value};
use finlake::ingest::reduce::{apply, reduce};
use mysql_async::prelude::Queryable;
use tokio::sync::RwLock;

use crate::common::{connect, fresh_db};

/// Purging binlogs runs alone among these tests.
static BINLOG_FILES: RwLock<()> = RwLock::const_new(());

mod stream;

const TABLE_DDL: &str = "CREATE TABLE t (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    i INT, ti TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, flag BOOL,
    amount DECIMAL(12,2), f FLOAT, d DOUBLE,
    dt DATETIME, dt6 DATETIME(6), day DATE, yr YEAR, ts TIMESTAMP(3) NULL, tm TIME(6),
    kind ENUM('Swipe Transaction','Debit (Prepaid)','it''s'), tags SET('a','b','c'),
    note VARCHAR(100), body TEXT, raw VARBINARY(16), bin BINARY(4), blb BLOB
) ENGINE=InnoDB";

const FULL_ROW: &str =
    "INSERT INTO t VALUES (18446744073709551615, -2147483648, 255, -32768, 16777215, 1,
    -1234.56, 0.1, 0.1, '2024-02-29 23:59:59', '1999-12-31 23:59:59.123456', '1969-07-20', 2024,
    '2024-01-01 00:00:00.5', '-12:34:56.5', 'Debit (Prepaid)', 'a,c', 'pay 💸 ok', 'naïve ✓',
    X'00FF10', 'ab', X'DEADBEEF')";

/// Reads until caught up; returns the events and the last resume position.
async fn drain(src: &mut BinlogSource, max_events: usize) -> (Vec<ChangeEvent>, Position) {
    let mut events = Vec::new();
    let mut resume = None;
    for _ in 0..100_000 {
        let batch = src
            .next_batch(max_events, Duration::from_secs(5))
            .await
            .expect("next_batch");
        events.extend(batch.events);
        if batch.resume.is_some() {
            resume = batch.resume;
        }
        if src.caught_up() {
            return (events, resume.expect("a resume position"));
        }
    }
    panic!("never caught up");
}

async fn start(url: &str, from: StartFrom, server_id: u32) -> BinlogSource {
    let (src, schemas) = BinlogSource::start(
        url,
        &["t".to_string()],
        from,
        server_id,
        Mode::UntilCaughtUp,
    )
    .await
    .expect("start");
    assert_eq!(schemas.len(), 1);
    src
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

/// Folds events with the shared apply semantics into the rows they describe.
fn fold(events: &[ChangeEvent], key: &[usize]) -> Vec<Row> {
    let mut state = HashMap::new();
    apply(&mut state, reduce(events, key));
    sorted(state.into_values().filter_map(|(r, _)| r).collect())
}

async fn table_rows(url: &str) -> (Vec<usize>, Vec<Row>) {
    let (schema, rows) = binlog::read_table(url, "t").await.expect("read table");
    (schema.key, sorted(rows))
}

fn assert_unique_positions(events: &[ChangeEvent]) {
    let mut seen = HashSet::new();
    for e in events {
        assert!(seen.insert(e.position.clone()), "delivered twice: {e:?}");
    }
}

#[tokio::test]
async fn snapshot_and_stream_fold_to_the_table_and_restarts_are_exact() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_fold").await;
    let mut c = connect(&url).await;
    c.query_drop(TABLE_DDL).await.expect("create");
    c.query_drop(FULL_ROW).await.expect("full row");
    c.query_drop("INSERT INTO t (id) VALUES (1), (2)")
        .await
        .expect("null rows");
    c.query_drop("INSERT INTO t (id, amount, kind, tags, note) VALUES (3, 0.05, 'it''s', '', '')")
        .await
        .expect("row 3");

    // Phase 1: the snapshot.
    let mut src = start(&url, StartFrom::Snapshot, 41_001).await;
    let first = src
        .next_batch(3, Duration::from_secs(5))
        .await
        .expect("first batch");
    assert_eq!(
        (first.events.len(), first.resume),
        (3, None),
        "at most max_events, no resume mid-snapshot"
    );
    let (mut snap, resume1) = drain(&mut src, 2).await;
    snap.splice(0..0, first.events);
    assert_eq!(snap.len(), 4, "{snap:?}");
    assert!(
        snap.iter()
            .all(|e| e.op == Op::Read && e.position.snapshot && e.before.is_none())
    );
    assert!(
        snap.windows(2).all(|w| w[0].position < w[1].position),
        "snapshot rows in order"
    );
    assert!(!resume1.snapshot);
    let (key, rows) = table_rows(&url).await;
    assert_eq!(key, vec![0]);
    assert_eq!(fold(&snap, &key), rows);
    let full = snap
        .iter()
        .filter_map(|e| e.after.as_ref())
        .find(|r| r[0] == Value::UInt(u64::MAX))
        .expect("full row");
    assert_eq!(full[1], Value::Int(-2_147_483_648));
    assert_eq!(full[2], Value::UInt(255));
    assert_eq!(full[4], Value::UInt(16_777_215));
    assert_eq!(full[5], Value::Int(1));
    assert_eq!(
        full[6],
        Value::Decimal {
            unscaled: -123_456,
            scale: 2
        }
    );
    assert_eq!(full[7], Value::Float(f64::from(0.1f32)));
    assert_eq!(full[8], Value::Float(0.1));
    assert_eq!(
        full[9],
        Value::DateTime((19_782 * 86_400 + 86_399) * 1_000_000)
    );
    assert_eq!(full[10], Value::DateTime(946_684_799_123_456));
    assert_eq!(full[11], Value::Date(-165));
    assert_eq!(full[12], Value::Year(2024));
    assert_eq!(full[14], Value::Int(-(45_296 * 1_000_000 + 500_000)));
    assert_eq!(full[15], Value::Text("Debit (Prepaid)".into()));
    assert_eq!(full[16], Value::Text("a,c".into()));
    assert_eq!(full[17], Value::Text("pay 💸 ok".into()));
    assert_eq!(full[19], Value::Bytes(vec![0, 0xff, 0x10]));
    assert_eq!(full[20], Value::Bytes(b"ab\0\0".to_vec()));
    let nulls = snap
        .iter()
        .filter_map(|e| e.after.as_ref())
        .find(|r| r[0] == Value::UInt(1))
        .expect("row 1");
    assert!(nulls[1..].iter().all(|v| *v == Value::Null), "{nulls:?}");

    // Phase 2: changes in several transactions, including a primary-key change.
    for sql in [
        "INSERT INTO t SELECT 100 + id MOD 1000, i, ti, si, mi, flag, amount, f, d, dt, dt6, day, yr, ts, tm, kind, tags, note, body, raw, bin, blb FROM t WHERE id = 18446744073709551615",
        "UPDATE t SET amount = -0.01, note = 'upd 🚀', kind = 'Swipe Transaction', tags = 'b' WHERE id = 3",
        "UPDATE t SET id = 42 WHERE id = 1",
        "DELETE FROM t WHERE id = 2",
    ] {
        c.query_drop(sql).await.expect(sql);
    }
    let mut tx = c
        .start_transaction(Default::default())
        .await
        .expect("begin");
    tx.query_drop(FULL_ROW.replace("18446744073709551615", "7"))
        .await
        .expect("insert 7");
    tx.query_drop("UPDATE t SET yr = 1901, day = '2000-03-01', dt6 = '2038-01-19 03:14:07.000001' WHERE id = 7")
        .await
        .expect("update 7");
    tx.query_drop("INSERT INTO t (id, note) VALUES (8, 'gone')")
        .await
        .expect("insert 8");
    tx.query_drop("DELETE FROM t WHERE id = 8")
        .await
        .expect("delete 8");
    tx.commit().await.expect("commit");
    c.query_drop("UPDATE t SET amount = amount + 1 WHERE amount IS NOT NULL")
        .await
        .expect("bulk update");

    let mut src = start(&url, StartFrom::Position(resume1.clone()), 41_002).await;
    let (all, resume_end) = drain(&mut src, 1_000).await;
    assert_unique_positions(&all);
    assert!(all.iter().all(|e| !e.position.snapshot
        && e.position > resume1
        && e.txid.is_some()
        && e.commit_ms > 0));
    assert!(
        all.iter().any(
            |e| e.op == Op::Update && e.before.as_ref().map(|b| &b[0]) == Some(&Value::UInt(1))
        )
    );
    assert!(all.iter().any(|e| e.op == Op::Delete));
    let mut everything = snap.clone();
    everything.extend(all.iter().cloned());
    let (_, rows) = table_rows(&url).await;
    assert_eq!(
        fold(&everything, &key),
        rows,
        "snapshot + stream fold to the table"
    );

    // Restart from a resume position taken mid-way: the two parts are exactly the whole.
    let mut src = start(&url, StartFrom::Position(resume1.clone()), 41_003).await;
    let mut first = Vec::new();
    let mut mid = None;
    while first.len() < 3 {
        let batch = src
            .next_batch(1, Duration::from_secs(5))
            .await
            .expect("batch");
        first.extend(batch.events);
        mid = batch.resume;
    }
    drop(src);
    let mid = mid.expect("mid-way resume");
    assert!(
        mid > resume1 && mid < resume_end && first.len() < all.len(),
        "{mid:?}"
    );
    let mut src = start(&url, StartFrom::Position(mid), 41_004).await;
    let (rest, end2) = drain(&mut src, 1_000).await;
    assert!(
        end2 >= resume_end,
        "other databases' commits move the position on"
    );
    first.extend(rest);
    assert_eq!(first, all, "restart neither loses nor repeats an event");
}

#[tokio::test]
async fn snapshot_during_concurrent_writes_has_no_gap_and_no_double() {
    let _files = BINLOG_FILES.read().await;
    let url = fresh_db("t_binlog_concurrent").await;
    let mut c = connect(&url).await;
    c.query_drop(
        "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), amount DECIMAL(12,2), at DATETIME(6))",
    )
    .await
    .expect("create");
    for chunk in 0..5 {
        let values: Vec<String> = (0..1_000)
            .map(|i| format!("('v{chunk}-{i}', {}.{:02}, NOW(6))", i * 3 - 1_500, i % 100))
            .collect();
        c.query_drop(format!(
            "INSERT INTO t (v, amount, at) VALUES {}",
            values.join(",")
        ))
        .await
        .expect("seed");
    }
    let writer_url = url.clone();
    let writer = tokio::spawn(async move {
        let mut w = connect(&writer_url).await;
        // Enough writes that they still run when the snapshot opens, however fast the server.
        for n in 0..1_500 {
            w.query_drop(format!(
                "INSERT INTO t (v, amount, at) VALUES ('w{n}', -{n}.25, NOW(6))"
            ))
            .await
            .expect("insert");
            w.query_drop(format!(
                "UPDATE t SET amount = amount + 1, v = 'u{n}' WHERE id = {}",
                1 + (n * 37) % 5_000
            ))
            .await
            .expect("update");
            if n % 3 == 0 {
                w.query_drop(format!("DELETE FROM t WHERE id = {}", 2 + (n * 53) % 5_000))
                    .await
                    .expect("delete");
            }
            if n % 50 == 0 {
                w.query_drop(format!("UPDATE t SET id = -id WHERE id = {}", 3 + n))
                    .await
                    .expect("key change");
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut src = start(&url, StartFrom::Snapshot, 41_011).await;
    assert!(!writer.is_finished(), "the writes overlap the snapshot");
    let mut events = Vec::new();
    let mut resume = None;
    // Read the snapshot slowly so that writes overlap it.
    while resume.is_none() {
        let batch = src
            .next_batch(500, Duration::from_secs(5))
            .await
            .expect("snapshot batch");
        events.extend(batch.events);
        resume = batch.resume;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (more, resume) = drain(&mut src, 500).await;
    events.extend(more);
    writer.await.expect("writer");
    let mut src = start(&url, StartFrom::Position(resume), 41_012).await;
    let (tail, _) = drain(&mut src, 500).await;
    events.extend(tail);
    assert_unique_positions(&events);
    assert!(events.iter().any(|e| e.op == Op::Read) && events.iter().any(|e| e.op != Op::Read));
    let (key, rows) = table_rows(&url).await;
    assert_eq!(rows.len(), fold(&events, &key).len());
    assert_eq!(
        fold(&events, &key),
        rows,
        "snapshot + stream fold to the final table"
    );
}
