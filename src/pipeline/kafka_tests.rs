//! Unit tests of the Kafka loop's pure parts.

use super::*;

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
