//! The masker: keyed hashes, the fail-closed column rules, the key checks.

use std::sync::Arc;

use super::*;
use crate::ingest::event::{Op, Position};
use crate::ingest::schema::{Column, SourceType};

fn masker() -> Masker {
    Masker::new("0123456789abcdef-k3y").expect("key")
}

fn col(name: &str, source_type: SourceType) -> Column {
    Column {
        name: name.into(),
        source_type,
        nullable: false,
    }
}

fn event(table: &str, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
    ChangeEvent {
        table: Arc::from(table),
        op: Op::Update,
        before,
        after,
        position: Position::new("f", 1, 0),
        commit_ms: 0,
        txid: None,
    }
}

#[test]
fn short_missing_and_demo_looking_keys_are_refused() {
    assert!(Masker::new("short").is_err());
    assert!(Masker::new("").is_err());
    assert!(format!("{:?}", masker()).contains("***"));
    // What the demo and the test harnesses use, and other published-looking defaults.
    for key in [
        "demo-only-mask-key-myhost-finlake",
        "integration-test-mask-key-0123456789",
        "ops-test-mask-key-0123456789abcdef",
        "props-mask-key-0123456789",
        "dashboard-test-mask-key",
        "changeme-changeme-changeme",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "abababababababababababab",
    ] {
        let err = Masker::checked(key, false).expect_err(key).to_string();
        assert!(err.contains(DEMO_ENV) && err.contains(KEY_ENV), "{err}");
        assert!(
            !err.contains(key),
            "the error does not repeat the key: {err}"
        );
        assert!(
            Masker::checked(key, true).is_ok(),
            "{key} with {DEMO_ENV}=1"
        );
    }
    // A random key (openssl rand -hex 24) passes.
    assert!(Masker::checked("9f2c4e7a1b3d5f6081a2c3e4f5061728394a5b6c7d8e9f00", false).is_ok());
}

#[test]
fn card_numbers_keep_last_four_and_hide_the_rest() {
    let m = masker();
    let a = m.card_number("4344676511950444");
    assert!(a.starts_with("hmac:") && a.ends_with(":0444"), "{a}");
    assert_eq!(a.len(), "hmac:".len() + 32 + ":0444".len(), "{a}");
    assert!(!a.contains("43446765"), "{a}");
    assert_eq!(a, m.card_number("4344676511950444"), "deterministic");
    assert_ne!(a, m.card_number("4344676511950445"));
    let other = Masker::new("another-k3y-0123456789").expect("key");
    assert_ne!(a, other.card_number("4344676511950444"), "keyed");
}

#[test]
fn rules_fail_closed_on_names_and_types_of_any_table() {
    use SourceType as T;
    let int = T::Int {
        bits: 32,
        unsigned: false,
    };
    let cases = [
        // Verification codes and PINs: NULL whatever the type.
        ("cvv", T::Text, Some(Rule::Null)),
        ("CVV2", T::Text, Some(Rule::Null)),
        ("cardCvc", T::Text, Some(Rule::Null)),
        ("card_security_code", int.clone(), Some(Rule::Null)),
        ("card_verification_value", T::Text, Some(Rule::Null)),
        ("pin", T::Text, Some(Rule::Null)),
        ("pin_block", T::Bytes, Some(Rule::Null)),
        ("csc", T::Json, Some(Rule::Null)),
        // Card numbers: hash + last four in text, NULL in other types.
        ("card_number", T::Text, Some(Rule::CardNumber)),
        ("CardNumber", T::Text, Some(Rule::CardNumber)),
        ("creditCardNumber", T::Text, Some(Rule::CardNumber)),
        ("pan", T::Text, Some(Rule::CardNumber)),
        ("cc_num", T::Text, Some(Rule::CardNumber)),
        ("card_no", int.clone(), Some(Rule::Null)),
        // Other identifiers: hash in text, NULL otherwise.
        ("ssn", T::Text, Some(Rule::Hash)),
        ("customer_SSN", T::Text, Some(Rule::Hash)),
        ("account_number", T::Text, Some(Rule::Hash)),
        ("bank_acct_no", int, Some(Rule::Null)),
        ("iban", T::Text, Some(Rule::Hash)),
        // Not secrets: a date/year/boolean/enum says when or whether; names that only share
        // a word.
        ("year_pin_last_changed", T::Year, None),
        ("pin_changed_at", T::DateTime { fsp: 0 }, None),
        ("has_pin", T::Bool, None),
        ("card_brand", T::Enum(vec!["Visa".into()]), None),
        (
            "num_credit_cards",
            T::Int {
                bits: 8,
                unsigned: true,
            },
            None,
        ),
        (
            "card_id",
            T::Int {
                bits: 32,
                unsigned: true,
            },
            None,
        ),
        ("card_type", T::Text, None),
        ("spinner", T::Text, None),
        ("company", T::Text, None),
        ("description", T::Text, None),
    ];
    for (name, t, want) in cases {
        assert_eq!(rule(&col(name, t)), want, "{name}");
    }
}

#[test]
fn a_made_up_table_is_masked_by_the_rules_not_by_its_name() {
    let schema = TableSchema {
        name: "wallet_entries".into(),
        columns: vec![
            col("entry_code", SourceType::Text),
            col("holder_ssn", SourceType::Text),
            col("cardNumber", SourceType::Text),
            col(
                "cvc2",
                SourceType::Int {
                    bits: 16,
                    unsigned: true,
                },
            ),
            col("pin", SourceType::Text),
            col("note", SourceType::Text),
        ],
        key: vec![0],
    };
    let row = || {
        vec![
            Value::Text("E1".into()),
            Value::Text("078-05-1120".into()),
            Value::Text("5412 7534 1234 9876".into()),
            Value::UInt(737),
            Value::Text("4921".into()),
            Value::Text("hello".into()),
        ]
    };
    let m = masker();
    let mut e = event("wallet_entries", Some(row()), Some(row()));
    m.mask(&schema, &mut e);
    let after = e.after.clone().expect("after");
    assert_eq!(after[0], Value::Text("E1".into()));
    assert_eq!(after[1], Value::Text(m.identifier("078-05-1120")));
    assert_eq!(after[2], Value::Text(m.card_number("5412 7534 1234 9876")));
    assert!(matches!(&after[2], Value::Text(t) if t.ends_with(":9876")));
    assert_eq!(after[3], Value::Null);
    assert_eq!(after[4], Value::Null);
    assert_eq!(after[5], Value::Text("hello".into()));
    assert_eq!(e.before, e.after, "both images");
    let text = format!("{e:?}");
    for clear in ["078-05-1120", "7534", "737", "4921"] {
        assert!(!text.contains(clear), "{clear} in {text}");
    }
    assert!(always_null(&schema, 3) && always_null(&schema, 4) && !always_null(&schema, 2));
    // A key column that looks like a verification code is hashed, never NULL.
    let keyed = TableSchema {
        key: vec![1],
        ..schema.clone()
    };
    assert_eq!(column_rule(&keyed, 1), Some(Rule::Hash));
    let keyed = TableSchema {
        key: vec![4],
        ..schema
    };
    assert_eq!(column_rule(&keyed, 4), Some(Rule::Hash));
    assert!(!always_null(&keyed, 4));
}

#[test]
fn cards_keep_no_cvv_and_masking_twice_changes_nothing() {
    let schema = TableSchema {
        name: "cards".into(),
        columns: ["id", "card_number", "cvv"]
            .into_iter()
            .map(|n| col(n, SourceType::Text))
            .collect(),
        key: vec![0],
    };
    let row = |n: &str, c: &str| vec![Value::Int(1), Value::Text(n.into()), Value::Text(c.into())];
    let mut e = event(
        "cards",
        Some(row("4344676511950444", "623")),
        Some(row("4344676511950444", "624")),
    );
    let m = masker();
    m.mask(&schema, &mut e);
    let once = e.clone();
    m.mask(&schema, &mut e);
    assert_eq!(e, once, "idempotent");
    let text = format!("{e:?}");
    assert!(
        !text.contains("4344676511950444") && !text.contains("623") && !text.contains("624"),
        "{text}"
    );
    let after = once.after.expect("after");
    assert_eq!(after[1], Value::Text(m.card_number("4344676511950444")));
    assert_eq!(
        after[2],
        Value::Null,
        "the CVV is not kept, not even hashed"
    );
    assert_eq!(once.before.expect("before")[2], Value::Null);
}
