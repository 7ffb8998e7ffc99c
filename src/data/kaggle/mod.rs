//! The public dataset's five files ("Transactions Fraud Datasets", Kaggle), read and written
//! exactly (see `shared/reference/dataset.md`).
//!
//! - [`read_transactions`], [`read_users`], [`read_cards`], [`read_fraud_labels`] stream their
//!   file row by row into a callback (the transactions file has 13.3M rows, the labels 8.9M
//!   entries: nothing is collected in memory); [`read_mcc_codes`] returns the small code table.
//!   Every problem inside a file is an [`Error::Malformed`] naming the file, the 1-based line
//!   (the CSV header is line 1), the column and the offending value.
//! - [`TransactionsWriter`], [`UsersWriter`], [`CardsWriter`], [`FraudLabelsWriter`] and
//!   [`write_mcc_codes`] produce the same formats, so writing then reading gives back equal
//!   values (synthetic data ends up byte-compatible with the real files).
//! - [`parse`] holds one function per field rule (`$-77.00`, zip `1022.0` -> `01022`, `MM/YYYY`,
//!   `YES`/`NO`, ...).

pub mod parse;
mod read;
mod write;

pub use read::{
    Error, Result, read_cards, read_fraud_labels, read_mcc_codes, read_transactions, read_users,
};
pub use write::{CardsWriter, FraudLabelsWriter, TransactionsWriter, UsersWriter, write_mcc_codes};

/// Transactions, one CSV row each.
pub const TRANSACTIONS_FILE: &str = "transactions_data.csv";
/// The 2,000 clients.
pub const USERS_FILE: &str = "users_data.csv";
/// The 6,146 cards.
pub const CARDS_FILE: &str = "cards_data.csv";
/// Merchant category codes: `{"5812": "Eating Places and Restaurants", ...}`.
pub const MCC_CODES_FILE: &str = "mcc_codes.json";
/// Fraud labels for 67% of the transactions: `{"target": {"10649266": "No", ...}}`.
pub const FRAUD_LABELS_FILE: &str = "train_fraud_labels.json";

/// The header of [`TRANSACTIONS_FILE`], in the dataset's order.
pub const TRANSACTION_COLUMNS: [&str; 12] = [
    "id",
    "date",
    "client_id",
    "card_id",
    "amount",
    "use_chip",
    "merchant_id",
    "merchant_city",
    "merchant_state",
    "zip",
    "mcc",
    "errors",
];

/// The header of [`USERS_FILE`], in the dataset's order.
pub const USER_COLUMNS: [&str; 14] = [
    "id",
    "current_age",
    "retirement_age",
    "birth_year",
    "birth_month",
    "gender",
    "address",
    "latitude",
    "longitude",
    "per_capita_income",
    "yearly_income",
    "total_debt",
    "credit_score",
    "num_credit_cards",
];

/// The header of [`CARDS_FILE`], in the dataset's order.
pub const CARD_COLUMNS: [&str; 13] = [
    "id",
    "client_id",
    "card_brand",
    "card_type",
    "card_number",
    "expires",
    "cvv",
    "has_chip",
    "num_cards_issued",
    "credit_limit",
    "acct_open_date",
    "year_pin_last_changed",
    "card_on_dark_web",
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{NaiveDate, NaiveDateTime};
    use proptest::prelude::*;

    use super::*;
    use crate::data::model::{
        Card, CardBrand, CardType, Dec2, FraudLabel, Gender, MccCode, Transaction, UseChip, User,
        YearMonth,
    };

    fn collect_transactions(path: &Path) -> Vec<Transaction> {
        let mut rows = Vec::new();
        read_transactions(path, |t| {
            rows.push(t);
            Ok(())
        })
        .expect("read transactions");
        rows
    }

    fn collect_users(path: &Path) -> Vec<User> {
        let mut rows = Vec::new();
        read_users(path, |u| {
            rows.push(u);
            Ok(())
        })
        .expect("read users");
        rows
    }

    fn collect_cards(path: &Path) -> Vec<Card> {
        let mut rows = Vec::new();
        read_cards(path, |c| {
            rows.push(c);
            Ok(())
        })
        .expect("read cards");
        rows
    }

    fn collect_labels(path: &Path) -> Vec<FraudLabel> {
        let mut rows = Vec::new();
        read_fraud_labels(path, |l| {
            rows.push(l);
            Ok(())
        })
        .expect("read labels");
        rows
    }

    /// The dataset.md sample files, read, written and compared byte for byte.
    #[test]
    fn sample_files_round_trip_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let samples = [
            (
                TRANSACTIONS_FILE,
                "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors\n\
                 7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n\
                 7475328,2010-01-01 00:02:00,561,4575,$14.57,Swipe Transaction,67570,Bettendorf,IA,52722.0,5311,\n\
                 7475329,2010-01-01 00:02:00,1129,102,$80.00,Online Transaction,27092,ONLINE,,,4829,\"Bad PIN,Insufficient Balance\"\n\
                 7475330,2010-01-01 00:05:00,430,2860,$200.00,Chip Transaction,27092,Ware,MA,1082.0,4829,Technical Glitch\n",
            ),
            (
                USERS_FILE,
                "id,current_age,retirement_age,birth_year,birth_month,gender,address,latitude,longitude,per_capita_income,yearly_income,total_debt,credit_score,num_credit_cards\n\
                 825,53,66,1966,11,Female,462 Rose Lane,34.15,-117.76,$29278,$59696,$127613,787,5\n",
            ),
            (
                CARDS_FILE,
                "id,client_id,card_brand,card_type,card_number,expires,cvv,has_chip,num_cards_issued,credit_limit,acct_open_date,year_pin_last_changed,card_on_dark_web\n\
                 4524,825,Visa,Debit,4344676511950444,12/2022,623,YES,2,$24295,09/2002,2008,No\n\
                 2731,825,Mastercard,Debit (Prepaid),5703355014544312,03/2020,23,NO,1,$55,11/2009,2012,No\n",
            ),
        ];
        for (name, text) in samples {
            std::fs::write(dir.path().join(name), text).expect("write sample");
        }

        let transactions = collect_transactions(&dir.path().join(TRANSACTIONS_FILE));
        assert_eq!(transactions.len(), 4);
        let users = collect_users(&dir.path().join(USERS_FILE));
        let cards = collect_cards(&dir.path().join(CARDS_FILE));
        assert_eq!(cards[1].cvv, "023");

        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let mut w = TransactionsWriter::create(&out.join(TRANSACTIONS_FILE)).expect("create");
        for t in &transactions {
            w.write(t).expect("write");
        }
        w.finish().expect("finish");
        let mut w = UsersWriter::create(&out.join(USERS_FILE)).expect("create");
        for u in &users {
            w.write(u).expect("write");
        }
        w.finish().expect("finish");
        let mut w = CardsWriter::create(&out.join(CARDS_FILE)).expect("create");
        for c in &cards {
            w.write(c).expect("write");
        }
        w.finish().expect("finish");

        for (name, text) in samples {
            let written = std::fs::read_to_string(out.join(name)).expect("read back");
            assert_eq!(written, text, "{name}");
        }
    }

    #[test]
    fn json_files_round_trip_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let labels_text = r#"{"target": {"10649266": "No", "23410063": "Yes", "9316588": "No"}}"#;
        let mcc_text = r#"{"5812": "Eating Places and Restaurants", "5541": "Service Stations", "5411": "Grocery Stores, Supermarkets"}"#;
        std::fs::write(dir.path().join(FRAUD_LABELS_FILE), labels_text).expect("write");
        std::fs::write(dir.path().join(MCC_CODES_FILE), mcc_text).expect("write");

        let labels = collect_labels(&dir.path().join(FRAUD_LABELS_FILE));
        let out = dir.path().join("labels-out.json");
        let mut w = FraudLabelsWriter::create(&out).expect("create");
        for l in &labels {
            w.write(l).expect("write");
        }
        w.finish().expect("finish");
        assert_eq!(std::fs::read_to_string(&out).expect("read"), labels_text);

        // Read sorts by code; written in that order, it reads back equal.
        let codes = read_mcc_codes(&dir.path().join(MCC_CODES_FILE)).expect("mcc");
        let out = dir.path().join("mcc-out.json");
        write_mcc_codes(&out, &codes).expect("write mcc");
        assert_eq!(read_mcc_codes(&out).expect("mcc again"), codes);
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            r#"{"5411": "Grocery Stores, Supermarkets", "5541": "Service Stations", "5812": "Eating Places and Restaurants"}"#
        );
    }

    #[test]
    fn empty_files_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(TRANSACTIONS_FILE);
        TransactionsWriter::create(&path)
            .expect("create")
            .finish()
            .expect("finish");
        assert!(collect_transactions(&path).is_empty());
        let path = dir.path().join(FRAUD_LABELS_FILE);
        FraudLabelsWriter::create(&path)
            .expect("create")
            .finish()
            .expect("finish");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            r#"{"target": {}}"#
        );
        assert!(collect_labels(&path).is_empty());
        let path = dir.path().join(MCC_CODES_FILE);
        write_mcc_codes(&path, &[]).expect("write");
        assert!(read_mcc_codes(&path).expect("read").is_empty());
    }

    // ---- property tests: random values within the formats' limits round-trip ----

    fn money() -> impl Strategy<Value = Dec2> {
        (-1_000_000_000i64..=1_000_000_000).prop_map(Dec2)
    }

    /// Printable ASCII, so commas, quotes and spaces included.
    fn text() -> impl Strategy<Value = String> {
        "[ -~]{0,24}"
    }

    fn non_empty_text() -> impl Strategy<Value = String> {
        "[ -~]{1,24}"
    }

    fn datetime() -> impl Strategy<Value = NaiveDateTime> {
        (0i32..=9999, 1u32..=365, 0u32..24, 0u32..60, 0u32..60).prop_map(|(y, d, h, m, s)| {
            NaiveDate::from_yo_opt(y, d)
                .and_then(|date| date.and_hms_opt(h, m, s))
                .expect("valid date")
        })
    }

    fn year_month() -> impl Strategy<Value = YearMonth> {
        (0u16..=9999, 1u8..=12).prop_map(|(year, month)| YearMonth { year, month })
    }

    fn transaction() -> impl Strategy<Value = Transaction> {
        (
            (
                any::<u64>(),
                datetime(),
                any::<u32>(),
                any::<u32>(),
                money(),
            ),
            prop_oneof![
                Just(UseChip::Swipe),
                Just(UseChip::Chip),
                Just(UseChip::Online)
            ],
            (any::<u32>(), text(), proptest::option::of(non_empty_text())),
            proptest::option::of((0u32..=99_999).prop_map(|z| format!("{z:05}"))),
            any::<u16>(),
            proptest::option::of(non_empty_text()),
        )
            .prop_map(
                |(
                    (id, date, client_id, card_id, amount),
                    use_chip,
                    (merchant_id, merchant_city, merchant_state),
                    zip,
                    mcc,
                    errors,
                )| Transaction {
                    id,
                    date,
                    client_id,
                    card_id,
                    amount,
                    use_chip,
                    merchant_id,
                    merchant_city,
                    merchant_state,
                    zip,
                    mcc,
                    errors,
                },
            )
    }

    fn user() -> impl Strategy<Value = User> {
        (
            (
                any::<u32>(),
                any::<u8>(),
                any::<u8>(),
                any::<u16>(),
                any::<u8>(),
            ),
            prop_oneof![Just(Gender::Female), Just(Gender::Male)],
            text(),
            (money(), money(), money(), money(), money()),
            (any::<u16>(), any::<u8>()),
        )
            .prop_map(
                |(
                    (id, current_age, retirement_age, birth_year, birth_month),
                    gender,
                    address,
                    (latitude, longitude, per_capita_income, yearly_income, total_debt),
                    (credit_score, num_credit_cards),
                )| User {
                    id,
                    current_age,
                    retirement_age,
                    birth_year,
                    birth_month,
                    gender,
                    address,
                    latitude,
                    longitude,
                    per_capita_income,
                    yearly_income,
                    total_debt,
                    credit_score,
                    num_credit_cards,
                },
            )
    }

    fn card() -> impl Strategy<Value = Card> {
        (
            (any::<u32>(), any::<u32>()),
            prop_oneof![
                Just(CardBrand::Amex),
                Just(CardBrand::Discover),
                Just(CardBrand::Mastercard),
                Just(CardBrand::Visa)
            ],
            prop_oneof![
                Just(CardType::Credit),
                Just(CardType::Debit),
                Just(CardType::DebitPrepaid)
            ],
            (
                "[0-9]{1,19}",
                year_month(),
                (0u16..=999).prop_map(|c| format!("{c:03}")),
            ),
            (any::<bool>(), any::<u8>(), money(), year_month()),
            (any::<u16>(), any::<bool>()),
        )
            .prop_map(
                |(
                    (id, client_id),
                    card_brand,
                    card_type,
                    (card_number, expires, cvv),
                    (has_chip, num_cards_issued, credit_limit, acct_open_date),
                    (year_pin_last_changed, card_on_dark_web),
                )| Card {
                    id,
                    client_id,
                    card_brand,
                    card_type,
                    card_number,
                    expires,
                    cvv,
                    has_chip,
                    num_cards_issued,
                    credit_limit,
                    acct_open_date,
                    year_pin_last_changed,
                    card_on_dark_web,
                },
            )
    }

    fn label() -> impl Strategy<Value = FraudLabel> {
        (any::<u64>(), any::<bool>()).prop_map(|(transaction_id, is_fraud)| FraudLabel {
            transaction_id,
            is_fraud,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn transactions_round_trip(rows in proptest::collection::vec(transaction(), 0..20)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(TRANSACTIONS_FILE);
            let mut w = TransactionsWriter::create(&path).expect("create");
            for t in &rows {
                w.write(t).expect("write");
            }
            w.finish().expect("finish");
            prop_assert_eq!(collect_transactions(&path), rows);
        }

        #[test]
        fn users_round_trip(rows in proptest::collection::vec(user(), 0..20)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(USERS_FILE);
            let mut w = UsersWriter::create(&path).expect("create");
            for u in &rows {
                w.write(u).expect("write");
            }
            w.finish().expect("finish");
            prop_assert_eq!(collect_users(&path), rows);
        }

        #[test]
        fn cards_round_trip(rows in proptest::collection::vec(card(), 0..20)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(CARDS_FILE);
            let mut w = CardsWriter::create(&path).expect("create");
            for c in &rows {
                w.write(c).expect("write");
            }
            w.finish().expect("finish");
            prop_assert_eq!(collect_cards(&path), rows);
        }

        #[test]
        fn labels_round_trip(rows in proptest::collection::vec(label(), 0..50)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(FRAUD_LABELS_FILE);
            let mut w = FraudLabelsWriter::create(&path).expect("create");
            for l in &rows {
                w.write(l).expect("write");
            }
            w.finish().expect("finish");
            prop_assert_eq!(collect_labels(&path), rows);
        }

        #[test]
        fn mcc_codes_round_trip(
            map in proptest::collection::btree_map(any::<u16>(), "\\PC{0,30}", 0..20)
        ) {
            let codes: Vec<MccCode> = map
                .into_iter()
                .map(|(mcc, description)| MccCode { mcc, description })
                .collect();
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(MCC_CODES_FILE);
            write_mcc_codes(&path, &codes).expect("write");
            prop_assert_eq!(read_mcc_codes(&path).expect("read"), codes);
        }
    }
}
