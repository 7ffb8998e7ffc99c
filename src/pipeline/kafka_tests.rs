//! Unit tests of the Kafka loop's pure parts.

use super::*;

#[test]
fn an_undecodable_message_is_placed_after_the_last_position_and_quotes_nothing() {
    let schema = crate::ingest::schema::TableSchema {
        name: "cards".into(),
        columns: Vec::new(),
        key: Vec::new(),
    };
    let key = ("finance.finance.cards".to_string(), 0);
    let secret = b"4111-1111-1111-1111 not json";
    let e = debezium::decode(&schema, Some(secret)).unwrap_err();
    let mut last = Some(Position::new("mysql-bin.000002", 90, 3));
    let u = undecodable("cards", &mut last, &key, 41, &e);
    assert_eq!(u.event.position, Position::new("mysql-bin.000002", 90, 4));
    assert_eq!(last.as_ref(), Some(&u.event.position));
    assert!(
        u.reason.contains("finance.finance.cards/0 at offset 41"),
        "{}",
        u.reason
    );
    assert!(!u.reason.contains("4111"), "{}", u.reason);
    let second = undecodable("cards", &mut last, &key, 42, &e);
    assert!(second.event.position > u.event.position);
    let mut none = None;
    let first = undecodable("cards", &mut none, &key, 0, &e);
    assert!(first.event.position < Position::new("mysql-bin.000001", 4, 0));
}

#[test]
fn topic_names_and_patterns() {
    assert_eq!(
        topic_name("finance", "finance", "transactions"),
        "finance.finance.transactions"
    );
    assert_eq!(regex_escape("finance.db_1.cards"), "finance\\.db_1\\.cards");
}

#[test]
fn a_retention_gap_stops_with_the_recovery_command() {
    assert!(retention_gap(true, 10, 25), "records 10..24 are gone");
    assert!(!retention_gap(true, 25, 25), "nothing lost");
    assert!(
        !retention_gap(true, 30, 25),
        "offsets without records (markers, compaction)"
    );
    assert!(
        !retention_gap(false, 0, 25),
        "a lake that never read the partition"
    );
    let e = Error::OffsetGap {
        topic: "finance.finance.cards".into(),
        partition: 2,
        next: 10,
        low: 25,
    }
    .to_string();
    assert!(e.contains("finance.finance.cards[2]"), "{e}");
    assert!(e.contains("from 10 to 24 were deleted"), "{e}");
    assert!(e.contains("finlake ingest --resnapshot --lake-uri"), "{e}");
}
