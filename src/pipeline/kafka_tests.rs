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
