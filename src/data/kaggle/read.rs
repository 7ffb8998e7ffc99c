//! Streaming readers for the dataset's files, with errors naming file, line, column and value.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::parse::{self, Parsed};
use super::{CARD_COLUMNS, TRANSACTION_COLUMNS, USER_COLUMNS};
use crate::data::model::{Card, FraudLabel, MccCode, Transaction, User};

/// Read buffer size: the transactions file is 1.3 GB.
const BUFFER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Anything wrong inside a file: names the file and the 1-based line (the header is line 1).
    /// Writers use it too, for a value the file's format cannot represent.
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The row callback asked to stop (e.g. the database side failed); carries its message.
    #[error("{0}")]
    Aborted(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The name errors give a file: its last component, or the whole path if it has none.
pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

pub(super) fn io_error(file: &str, source: std::io::Error) -> Error {
    Error::Io {
        file: file.to_owned(),
        source,
    }
}

fn open(path: &Path) -> Result<(String, File)> {
    let file = file_name(path);
    let handle = File::open(path).map_err(|e| io_error(&file, e))?;
    Ok((file, handle))
}

// ---------------------------------------------------------------------------------------------
// CSV

fn csv_error(file: &str, err: csv::Error) -> Error {
    let line = err.position().map_or(0, csv::Position::line);
    let malformed = |line: u64, message: String| Error::Malformed {
        file: file.to_owned(),
        line,
        message,
    };
    match err.into_kind() {
        csv::ErrorKind::Io(source) => io_error(file, source),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => malformed(
            pos.as_ref().map_or(line, csv::Position::line),
            format!("expected {expected_len} fields, found {len}"),
        ),
        // Byte records never fail UTF-8 checks and nothing is deserialized: not expected here.
        other => malformed(line, format!("unreadable CSV: {other:?}")),
    }
}

/// The header must be exactly the dataset's columns, in its order.
fn check_header(file: &str, header: &ByteRecord, columns: &[&str]) -> Result<()> {
    let malformed = |message: String| Error::Malformed {
        file: file.to_owned(),
        line: 1,
        message,
    };
    if let Some(missing) = columns
        .iter()
        .find(|name| !header.iter().any(|h| h == name.as_bytes()))
    {
        return Err(malformed(format!("missing column {missing}")));
    }
    if let Some(extra) = header
        .iter()
        .find(|h| !columns.iter().any(|name| name.as_bytes() == *h))
    {
        return Err(malformed(format!(
            "unexpected column {:?}",
            String::from_utf8_lossy(extra)
        )));
    }
    if header.len() != columns.len() {
        return Err(malformed(format!(
            "header has {} columns, expected {} (a column appears twice)",
            header.len(),
            columns.len()
        )));
    }
    for (index, (got, expected)) in header.iter().zip(columns).enumerate() {
        if got != expected.as_bytes() {
            return Err(malformed(format!(
                "column {} is {:?}, expected {expected} (columns must be in the dataset's order)",
                index + 1,
                String::from_utf8_lossy(got)
            )));
        }
    }
    Ok(())
}

/// One data row, with what error messages need.
struct Row<'r> {
    file: &'r str,
    line: u64,
    columns: &'static [&'static str],
    record: &'r ByteRecord,
}

impl<'r> Row<'r> {
    fn malformed(&self, message: String) -> Error {
        Error::Malformed {
            file: self.file.to_owned(),
            line: self.line,
            message,
        }
    }

    /// The field's text (the field count was checked by the csv reader).
    fn text(&self, index: usize) -> Result<&'r str> {
        let bytes = self.record.get(index).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| {
            self.malformed(format!(
                "column {}: {:?} is not valid UTF-8",
                self.columns[index],
                String::from_utf8_lossy(bytes)
            ))
        })
    }

    fn parse<T>(&self, index: usize, rule: impl FnOnce(&str) -> Parsed<T>) -> Result<T> {
        let text = self.text(index)?;
        rule(text).map_err(|invalid| {
            self.malformed(format!(
                "column {}: {text:?} {invalid}",
                self.columns[index]
            ))
        })
    }

    /// Like [`Row::parse`] for `card_number` and `cvv`: secrets, kept out of error messages.
    fn parse_secret<T>(&self, index: usize, rule: impl FnOnce(&str) -> Parsed<T>) -> Result<T> {
        let withheld = |why: &dyn fmt::Display| {
            self.malformed(format!(
                "column {}: the value (withheld: a secret) {why}",
                self.columns[index]
            ))
        };
        let bytes = self.record.get(index).unwrap_or_default();
        let text = std::str::from_utf8(bytes).map_err(|_| withheld(&"is not valid UTF-8"))?;
        rule(text).map_err(|invalid| withheld(&invalid))
    }

    fn string(&self, index: usize) -> Result<String> {
        self.text(index).map(str::to_owned)
    }
}

fn read_csv<T>(
    path: &Path,
    columns: &'static [&'static str],
    parse_row: fn(&Row<'_>) -> Result<T>,
    mut on_row: impl FnMut(T) -> Result<()>,
) -> Result<u64> {
    let (file, handle) = open(path)?;
    // The csv reader wraps the file in a `BufReader` of this capacity: no second buffer needed.
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(BUFFER)
        .from_reader(handle);
    let header = reader.byte_headers().map_err(|e| csv_error(&file, e))?;
    check_header(&file, header, columns)?;
    let mut record = ByteRecord::new();
    let mut rows = 0u64;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(&file, e))?
    {
        let row = Row {
            file: &file,
            line: record.position().map_or(0, csv::Position::line),
            columns,
            record: &record,
        };
        on_row(parse_row(&row)?)?;
        rows += 1;
    }
    tracing::debug!(file = %file, rows, "read");
    Ok(rows)
}

fn parse_transaction(row: &Row<'_>) -> Result<Transaction> {
    Ok(Transaction {
        id: row.parse(0, parse::unsigned)?,
        date: row.parse(1, parse::datetime)?,
        client_id: row.parse(2, parse::unsigned)?,
        card_id: row.parse(3, parse::unsigned)?,
        amount: row.parse(4, parse::money)?,
        use_chip: row.parse(5, parse::use_chip)?,
        merchant_id: row.parse(6, parse::unsigned)?,
        merchant_city: row.string(7)?,
        merchant_state: row.text(8).map(parse::optional_text)?,
        zip: row.parse(9, parse::zip)?,
        mcc: row.parse(10, parse::unsigned)?,
        errors: row.text(11).map(parse::optional_text)?,
    })
}

fn parse_user(row: &Row<'_>) -> Result<User> {
    Ok(User {
        id: row.parse(0, parse::unsigned)?,
        current_age: row.parse(1, parse::unsigned)?,
        retirement_age: row.parse(2, parse::unsigned)?,
        birth_year: row.parse(3, parse::unsigned)?,
        birth_month: row.parse(4, parse::unsigned)?,
        gender: row.parse(5, parse::gender)?,
        address: row.string(6)?,
        latitude: row.parse(7, parse::decimal)?,
        longitude: row.parse(8, parse::decimal)?,
        per_capita_income: row.parse(9, parse::money)?,
        yearly_income: row.parse(10, parse::money)?,
        total_debt: row.parse(11, parse::money)?,
        credit_score: row.parse(12, parse::unsigned)?,
        num_credit_cards: row.parse(13, parse::unsigned)?,
    })
}

fn parse_card(row: &Row<'_>) -> Result<Card> {
    Ok(Card {
        id: row.parse(0, parse::unsigned)?,
        client_id: row.parse(1, parse::unsigned)?,
        card_brand: row.parse(2, parse::card_brand)?,
        card_type: row.parse(3, parse::card_type)?,
        card_number: row.parse_secret(4, parse::card_number)?,
        expires: row.parse(5, parse::year_month)?,
        cvv: row.parse_secret(6, parse::cvv)?,
        has_chip: row.parse(7, parse::yes_no)?,
        num_cards_issued: row.parse(8, parse::unsigned)?,
        credit_limit: row.parse(9, parse::money)?,
        acct_open_date: row.parse(10, parse::year_month)?,
        year_pin_last_changed: row.parse(11, parse::unsigned)?,
        card_on_dark_web: row.parse(12, parse::yes_no)?,
    })
}

/// Streams `users_data.csv` into `on_row`; returns the number of rows read.
pub fn read_users(path: &Path, on_row: impl FnMut(User) -> Result<()>) -> Result<u64> {
    read_csv(path, &USER_COLUMNS, parse_user, on_row)
}

/// Streams `cards_data.csv` into `on_row`; returns the number of rows read.
pub fn read_cards(path: &Path, on_row: impl FnMut(Card) -> Result<()>) -> Result<u64> {
    read_csv(path, &CARD_COLUMNS, parse_card, on_row)
}

/// Streams `transactions_data.csv` into `on_row`; returns the number of rows read.
pub fn read_transactions(
    path: &Path,
    on_row: impl FnMut(Transaction) -> Result<()>,
) -> Result<u64> {
    read_csv(path, &TRANSACTION_COLUMNS, parse_transaction, on_row)
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A serde_json error as `Malformed` (line from serde_json, column in the message), or `Io`.
fn json_error(file: &str, err: serde_json::Error) -> Error {
    if err.is_io() {
        return io_error(file, err.into());
    }
    let (line, column) = (err.line(), err.column());
    let full = err.to_string();
    let message = if line == 0 {
        full
    } else {
        let suffix = format!(" at line {line} column {column}");
        let text = full.strip_suffix(&suffix).unwrap_or(&full);
        format!("{text} (column {column})")
    };
    Error::Malformed {
        file: file.to_owned(),
        line: line as u64,
        message,
    }
}

fn json_reader(
    path: &Path,
) -> Result<(
    String,
    serde_json::Deserializer<serde_json::de::IoRead<BufReader<File>>>,
)> {
    let (file, handle) = open(path)?;
    let reader = BufReader::with_capacity(BUFFER, handle);
    Ok((file, serde_json::Deserializer::from_reader(reader)))
}

/// A map key parsed by a field rule; the error names what the key should have been.
struct Key<T> {
    rule: fn(&str) -> Parsed<T>,
    what: &'static str,
}

impl<'de, T> DeserializeSeed<'de> for Key<T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<T> Visitor<'_> for Key<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as a string", self.what)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.rule)(text).map_err(|invalid| E::custom(format!("{} {text:?} {invalid}", self.what)))
    }
}

/// The outer object of `train_fraud_labels.json`: `{"target": {...}}`.
struct Labels<'s, F> {
    on_row: &'s mut F,
    /// The callback's error, kept aside while serde_json unwinds with a placeholder.
    aborted: &'s mut Option<Error>,
    rows: &'s mut u64,
}

impl<'de, F: FnMut(FraudLabel) -> Result<()>> DeserializeSeed<'de> for Labels<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(FraudLabel) -> Result<()>> Visitor<'de> for Labels<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"target": {...}}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "target" {
                // Unknown top-level keys are tolerated and skipped.
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if seen {
                return Err(de::Error::duplicate_field("target"));
            }
            seen = true;
            map.next_value_seed(LabelEntries {
                on_row: &mut *self.on_row,
                aborted: &mut *self.aborted,
                rows: &mut *self.rows,
            })?;
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::missing_field("target"))
        }
    }
}

/// The inner object: `{"10649266": "No", ...}`, one `on_row` call per entry.
struct LabelEntries<'s, F> {
    on_row: &'s mut F,
    aborted: &'s mut Option<Error>,
    rows: &'s mut u64,
}

impl<'de, F: FnMut(FraudLabel) -> Result<()>> DeserializeSeed<'de> for LabelEntries<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(FraudLabel) -> Result<()>> Visitor<'de> for LabelEntries<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"<transaction id>": "Yes" | "No", ...}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let id = || Key {
            rule: parse::unsigned::<u64>,
            what: "transaction id",
        };
        while let Some(transaction_id) = map.next_key_seed(id())? {
            let is_fraud = map.next_value_seed(Key {
                rule: parse::yes_no,
                what: "label",
            })?;
            if let Err(err) = (self.on_row)(FraudLabel {
                transaction_id,
                is_fraud,
            }) {
                *self.aborted = Some(err);
                return Err(de::Error::custom("row callback failed"));
            }
            *self.rows += 1;
        }
        Ok(())
    }
}

/// Streams `train_fraud_labels.json` into `on_row`, one call per entry in file order, without
/// building the map; returns the number of labels read.
///
/// Unknown top-level keys besides `target` are skipped; a missing `target`, a key that is not
/// a transaction id or a value other than `Yes`/`No` (any case) is `Malformed`.
pub fn read_fraud_labels(
    path: &Path,
    mut on_row: impl FnMut(FraudLabel) -> Result<()>,
) -> Result<u64> {
    let (file, mut deserializer) = json_reader(path)?;
    let mut aborted = None;
    let mut rows = 0u64;
    let outcome = Labels {
        on_row: &mut on_row,
        aborted: &mut aborted,
        rows: &mut rows,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    if let Some(err) = aborted {
        return Err(err);
    }
    outcome.map_err(|e| json_error(&file, e))?;
    tracing::debug!(file = %file, rows, "read");
    Ok(rows)
}

/// `{"5812": "Eating Places and Restaurants", ...}`, duplicates rejected.
struct MccCodes;

impl<'de> DeserializeSeed<'de> for MccCodes {
    type Value = BTreeMap<u16, String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MccCodes {
    type Value = BTreeMap<u16, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"<mcc>": "<description>", ...}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut codes = BTreeMap::new();
        while let Some(mcc) = map.next_key_seed(Key {
            rule: parse::unsigned::<u16>,
            what: "mcc",
        })? {
            let description: String = map.next_value()?;
            if codes.insert(mcc, description).is_some() {
                return Err(de::Error::custom(format!("mcc {mcc} appears twice")));
            }
        }
        Ok(codes)
    }
}

/// Reads `mcc_codes.json` (109 entries), sorted by code.
pub fn read_mcc_codes(path: &Path) -> Result<Vec<MccCode>> {
    let (file, mut deserializer) = json_reader(path)?;
    let codes = MccCodes
        .deserialize(&mut deserializer)
        .and_then(|codes| deserializer.end().map(|()| codes))
        .map_err(|e| json_error(&file, e))?;
    Ok(codes
        .into_iter()
        .map(|(mcc, description)| MccCode { mcc, description })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::data::model::{CardBrand, CardType, Dec2, Gender, UseChip, YearMonth};

    const TX_HEADER: &str = "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors\n";

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    fn transactions(path: &Path) -> Result<Vec<Transaction>> {
        let mut rows = Vec::new();
        let count = read_transactions(path, |t| {
            rows.push(t);
            Ok(())
        })?;
        assert_eq!(count, rows.len() as u64);
        Ok(rows)
    }

    fn labels(path: &Path) -> Result<Vec<FraudLabel>> {
        let mut rows = Vec::new();
        let count = read_fraud_labels(path, |l| {
            rows.push(l);
            Ok(())
        })?;
        assert_eq!(count, rows.len() as u64);
        Ok(rows)
    }

    fn malformed(result: Result<impl fmt::Debug>) -> (String, u64, String) {
        match result {
            Err(Error::Malformed {
                file,
                line,
                message,
            }) => (file, line, message),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn reads_sample_transactions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "{TX_HEADER}\
             7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n\
             7475328,2010-01-01 00:02:00,561,4575,$14.57,Swipe Transaction,67570,Bettendorf,IA,52722.0,5311,\n\
             7475329,2010-01-01 00:02:00,1129,102,$80.00,Online Transaction,27092,ONLINE,,,4829,\"Bad PIN,Insufficient Balance\"\n\
             7475330,2010-01-01 00:05:00,430,2860,$200.00,Chip Transaction,27092,Ware,MA,1082.0,4829,Technical Glitch\n"
        );
        let rows = transactions(&write(&dir, "transactions_data.csv", &text)).expect("read");
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            Transaction {
                id: 7_475_327,
                date: NaiveDate::from_ymd_opt(2010, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 1, 0))
                    .expect("valid"),
                client_id: 1556,
                card_id: 2972,
                amount: Dec2(-7700),
                use_chip: UseChip::Swipe,
                merchant_id: 59935,
                merchant_city: "Beulah".to_owned(),
                merchant_state: Some("ND".to_owned()),
                zip: Some("58523".to_owned()),
                mcc: 5499,
                errors: None,
            }
        );
        assert_eq!(rows[1].amount, Dec2(1457));
        assert_eq!(rows[2].use_chip, UseChip::Online);
        assert_eq!(rows[2].merchant_city, "ONLINE");
        assert_eq!(rows[2].merchant_state, None);
        assert_eq!(rows[2].zip, None);
        assert_eq!(
            rows[2].errors.as_deref(),
            Some("Bad PIN,Insufficient Balance")
        );
        assert_eq!(rows[3].zip.as_deref(), Some("01082"));
        assert_eq!(rows[3].errors.as_deref(), Some("Technical Glitch"));
    }

    #[test]
    fn reads_crlf_and_bom() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "\u{feff}{}\r\n7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\r\n",
            TX_HEADER.trim_end()
        );
        let rows = transactions(&write(&dir, "t.csv", &text)).expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].errors, None);
    }

    #[test]
    fn reads_sample_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "id,current_age,retirement_age,birth_year,birth_month,gender,address,latitude,longitude,per_capita_income,yearly_income,total_debt,credit_score,num_credit_cards\n\
                    825,53,66,1966,11,Female,462 Rose Lane,34.15,-117.76,$29278,$59696,$127613,787,5\n";
        let mut rows = Vec::new();
        let count = read_users(&write(&dir, "users_data.csv", text), |u| {
            rows.push(u);
            Ok(())
        })
        .expect("read");
        assert_eq!(count, 1);
        assert_eq!(
            rows[0],
            User {
                id: 825,
                current_age: 53,
                retirement_age: 66,
                birth_year: 1966,
                birth_month: 11,
                gender: Gender::Female,
                address: "462 Rose Lane".to_owned(),
                latitude: Dec2(3415),
                longitude: Dec2(-11776),
                per_capita_income: Dec2(2_927_800),
                yearly_income: Dec2(5_969_600),
                total_debt: Dec2(12_761_300),
                credit_score: 787,
                num_credit_cards: 5,
            }
        );
    }

    #[test]
    fn reads_sample_card() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "id,client_id,card_brand,card_type,card_number,expires,cvv,has_chip,num_cards_issued,credit_limit,acct_open_date,year_pin_last_changed,card_on_dark_web\n\
                    4524,825,Visa,Debit,4344676511950444,12/2022,623,YES,2,$24295,09/2002,2008,No\n\
                    4525,825,Amex,Debit (Prepaid),379576133506711,01/2020,23,no,1,$0,1/2010,2011,yes\n";
        let mut rows = Vec::new();
        read_cards(&write(&dir, "cards_data.csv", text), |c| {
            rows.push(c);
            Ok(())
        })
        .expect("read");
        assert_eq!(
            rows[0],
            Card {
                id: 4524,
                client_id: 825,
                card_brand: CardBrand::Visa,
                card_type: CardType::Debit,
                card_number: "4344676511950444".to_owned(),
                expires: YearMonth {
                    year: 2022,
                    month: 12
                },
                cvv: "623".to_owned(),
                has_chip: true,
                num_cards_issued: 2,
                credit_limit: Dec2(2_429_500),
                acct_open_date: YearMonth {
                    year: 2002,
                    month: 9
                },
                year_pin_last_changed: 2008,
                card_on_dark_web: false,
            }
        );
        assert_eq!(rows[1].card_type, CardType::DebitPrepaid);
        assert_eq!(rows[1].cvv, "023");
        assert!(!rows[1].has_chip);
        assert!(rows[1].card_on_dark_web);
    }

    #[test]
    fn missing_column_is_line_1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "id,date,client_id,card_id,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors\n";
        let err = transactions(&write(&dir, "transactions_data.csv", text));
        let (file, line, message) = malformed(err);
        assert_eq!((file.as_str(), line), ("transactions_data.csv", 1));
        assert_eq!(message, "missing column amount");
    }

    #[test]
    fn empty_file_is_missing_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = transactions(&write(&dir, "transactions_data.csv", ""));
        assert_eq!(
            err.expect_err("empty").to_string(),
            "transactions_data.csv:1: missing column id"
        );
    }

    #[test]
    fn extra_duplicate_and_reordered_columns_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let header = TX_HEADER.trim_end();
        let extra = format!("{header},note\n");
        let (_, line, message) = malformed(transactions(&write(&dir, "a.csv", &extra)));
        assert_eq!((line, message.as_str()), (1, "unexpected column \"note\""));
        let twice = format!("{header},mcc\n");
        let (_, line, message) = malformed(transactions(&write(&dir, "b.csv", &twice)));
        assert_eq!(line, 1);
        assert!(message.contains("appears twice"), "{message}");
        let swapped = header.replace("client_id,card_id", "card_id,client_id") + "\n";
        let (_, line, message) = malformed(transactions(&write(&dir, "c.csv", &swapped)));
        assert_eq!(line, 1);
        assert_eq!(
            message,
            "column 3 is \"card_id\", expected client_id (columns must be in the dataset's order)"
        );
    }

    #[test]
    fn bad_amount_names_line_column_and_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = "7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n";
        let bad = "7475328,2010-01-01 00:02:00,561,4575,$12.3.4,Swipe Transaction,67570,Bettendorf,IA,52722.0,5311,\n";
        let text = format!("{TX_HEADER}{good}{bad}{good}");
        let err = transactions(&write(&dir, "transactions_data.csv", &text)).expect_err("bad");
        assert_eq!(
            err.to_string(),
            r#"transactions_data.csv:3: column amount: "$12.3.4" is not an exact dollar amount"#
        );
    }

    #[test]
    fn line_numbers_count_quoted_newlines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let multiline =
            "1,2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,\"Two\nLines\",ND,58523.0,5499,\n";
        let bad = "2,2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,X,ND,58523.5,5499,\n";
        let text = format!("{TX_HEADER}{multiline}{bad}");
        let (_, line, message) = malformed(transactions(&write(&dir, "t.csv", &text)));
        assert_eq!(line, 4);
        assert!(
            message.starts_with("column zip: \"58523.5\" is not a zip code"),
            "{message}"
        );
    }

    #[test]
    fn bad_date_names_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = "7475327,2010-01-01T00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n";
        let err = transactions(&write(
            &dir,
            "transactions_data.csv",
            &format!("{TX_HEADER}{bad}"),
        ))
        .expect_err("bad");
        assert_eq!(
            err.to_string(),
            r#"transactions_data.csv:2: column date: "2010-01-01T00:01:00" is not a date-time YYYY-MM-DD HH:MM:SS"#
        );
    }

    #[test]
    fn other_bad_fields_name_their_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (
                "x",
                "column id: \"x\" is not an integer in 0..=18446744073709551615",
            ),
            ("", "column id: \"\" is not an integer"),
        ];
        for (id, expected) in cases {
            let row = format!("{id},2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,X,,,5499,\n");
            let (_, line, message) = malformed(transactions(&write(
                &dir,
                "t.csv",
                &format!("{TX_HEADER}{row}"),
            )));
            assert_eq!(line, 2);
            assert!(message.starts_with(expected), "{message}");
        }
        let row = "1,2010-01-01 00:01:00,1,1,$1.00,Tap Transaction,1,X,,,70000,\n";
        let (_, _, message) = malformed(transactions(&write(
            &dir,
            "t.csv",
            &format!("{TX_HEADER}{row}"),
        )));
        assert!(
            message.starts_with("column use_chip: \"Tap Transaction\""),
            "{message}"
        );
        let row = "1,2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,X,,,70000,\n";
        let (_, _, message) = malformed(transactions(&write(
            &dir,
            "t.csv",
            &format!("{TX_HEADER}{row}"),
        )));
        assert_eq!(
            message,
            "column mcc: \"70000\" is not an integer in 0..=65535"
        );
        let row = b"1,2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,\xff,,,5499,\n";
        let path = dir.path().join("u.csv");
        std::fs::write(&path, [TX_HEADER.as_bytes(), row.as_slice()].concat()).expect("write");
        let (_, line, message) = malformed(transactions(&path));
        assert_eq!(line, 2);
        assert!(message.starts_with("column merchant_city:"), "{message}");
        assert!(message.ends_with("is not valid UTF-8"), "{message}");
    }

    #[test]
    fn secrets_stay_out_of_error_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let header = "id,client_id,card_brand,card_type,card_number,expires,cvv,has_chip,num_cards_issued,credit_limit,acct_open_date,year_pin_last_changed,card_on_dark_web\n";
        for (row, column) in [
            (
                "1,2,Visa,Debit,4344-6765-1195,12/2022,623,YES,2,$1,09/2002,2008,No\n",
                "card_number",
            ),
            (
                "1,2,Visa,Debit,4344676511950444,12/2022,62x3,YES,2,$1,09/2002,2008,No\n",
                "cvv",
            ),
        ] {
            let path = write(&dir, "cards_data.csv", &format!("{header}{row}"));
            let err = read_cards(&path, |_| Ok(())).expect_err("bad secret");
            let message = err.to_string();
            assert!(
                message.starts_with(&format!(
                    "cards_data.csv:2: column {column}: the value (withheld: a secret) is not"
                )),
                "{message}"
            );
            assert!(
                !message.contains("4344") && !message.contains("62x3"),
                "{message}"
            );
        }
    }

    #[test]
    fn wrong_field_count_names_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = "7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n";
        let short = "7475328,2010-01-01 00:02:00,561,4575,$14.57,Swipe Transaction,67570,Bettendorf,IA,52722.0,5311\n";
        let text = format!("{TX_HEADER}{good}{good}{short}");
        let err = transactions(&write(&dir, "transactions_data.csv", &text)).expect_err("short");
        assert_eq!(
            err.to_string(),
            "transactions_data.csv:4: expected 12 fields, found 11"
        );
    }

    #[test]
    fn unquoted_comma_in_errors_is_a_field_count_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let row = "1,2010-01-01 00:01:00,1,1,$1.00,Swipe Transaction,1,X,ND,58523.0,5499,Bad PIN,Bad CVV\n";
        let (_, line, message) = malformed(transactions(&write(
            &dir,
            "t.csv",
            &format!("{TX_HEADER}{row}"),
        )));
        assert_eq!(
            (line, message.as_str()),
            (2, "expected 12 fields, found 13")
        );
    }

    #[test]
    fn missing_file_is_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = transactions(&dir.path().join("transactions_data.csv")).expect_err("missing");
        match err {
            Error::Io { file, source } => {
                assert_eq!(file, "transactions_data.csv");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn on_row_error_propagates_as_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = "7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n";
        let path = write(&dir, "t.csv", &format!("{TX_HEADER}{good}{good}{good}"));
        let mut seen = 0;
        let err = read_transactions(&path, |_| {
            seen += 1;
            if seen == 2 {
                Err(Error::Aborted("database went away".to_owned()))
            } else {
                Ok(())
            }
        })
        .expect_err("aborted");
        assert_eq!(seen, 2);
        assert!(
            matches!(&err, Error::Aborted(m) if m == "database went away"),
            "{err:?}"
        );

        let path = write(
            &dir,
            "l.json",
            r#"{"target": {"1": "No", "2": "Yes", "3": "No"}}"#,
        );
        let mut seen = 0;
        let err = read_fraud_labels(&path, |_| {
            seen += 1;
            if seen == 2 {
                Err(Error::Io {
                    file: "db".to_owned(),
                    source: std::io::Error::other("broken pipe"),
                })
            } else {
                Ok(())
            }
        })
        .expect_err("aborted");
        assert_eq!(seen, 2);
        match err {
            Error::Io { file, source } => {
                assert_eq!(file, "db");
                assert_eq!(source.to_string(), "broken pipe");
            }
            other => panic!("expected the callback's own error, got {other:?}"),
        }
    }

    #[test]
    fn reads_labels_in_file_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "train_fraud_labels.json",
            "{\"target\": {\"10649266\": \"No\",\n \"23410063\": \"Yes\", \"7\": \"yes\", \"8\": \"NO\"}}\n",
        );
        let rows = labels(&path).expect("read");
        let expected = [
            (10_649_266, false),
            (23_410_063, true),
            (7, true),
            (8, false),
        ];
        assert_eq!(
            rows,
            expected.map(|(transaction_id, is_fraud)| FraudLabel {
                transaction_id,
                is_fraud
            })
        );
        // Other top-level keys are skipped.
        let path = write(
            &dir,
            "x.json",
            r#"{"meta": [1, {"a": 2}], "target": {"1": "Yes"}}"#,
        );
        assert_eq!(labels(&path).expect("read").len(), 1);
    }

    #[test]
    fn truncated_labels_json_is_malformed_with_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "train_fraud_labels.json",
            "{\"target\": {\n\"10649266\": \"No\",\n\"23410063\": \"N",
        );
        let mut seen = 0;
        let err = read_fraud_labels(&path, |_| {
            seen += 1;
            Ok(())
        });
        assert_eq!(seen, 1);
        let (file, line, message) = malformed(err);
        assert_eq!((file.as_str(), line), ("train_fraud_labels.json", 3));
        assert!(message.starts_with("EOF while parsing"), "{message}");
        assert!(message.ends_with("(column 14)"), "{message}");
    }

    #[test]
    fn invalid_labels_json_is_malformed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: [(&str, u64, &str); 8] = [
            (
                r#"{"target": {"1": "Maybe"}}"#,
                1,
                r#"label "Maybe" is not Yes or No"#,
            ),
            (
                r#"{"target": {"1": true}}"#,
                1,
                "invalid type: boolean `true`",
            ),
            (
                r#"{"target": {"x1": "No"}}"#,
                1,
                r#"transaction id "x1" is not an integer"#,
            ),
            (
                r#"{"target": {"-1": "No"}}"#,
                1,
                r#"transaction id "-1" is not an integer"#,
            ),
            (
                "{\"labels\": {\"1\": \"No\"}\n}",
                2,
                "missing field `target`",
            ),
            (
                r#"{"target": {}, "target": {}}"#,
                1,
                "duplicate field `target`",
            ),
            (r#"{"target": {"1": "No"}} x"#, 1, "trailing characters"),
            (r#"["target"]"#, 1, "invalid type: sequence"),
        ];
        for (text, expected_line, expected) in cases {
            let path = write(&dir, "train_fraud_labels.json", text);
            let (file, line, message) = malformed(labels(&path));
            assert_eq!(file, "train_fraud_labels.json");
            assert_eq!(line, expected_line, "{text}: {message}");
            assert!(message.starts_with(expected), "{text}: {message}");
            assert!(message.contains("(column "), "{text}: {message}");
        }
    }

    #[test]
    fn reads_mcc_codes_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "mcc_codes.json",
            r#"{"5812": "Eating Places and Restaurants", "5541": "Service Stations", "5411": "Grocery Stores, Supermarkets"}"#,
        );
        let codes = read_mcc_codes(&path).expect("read");
        let got: Vec<(u16, &str)> = codes
            .iter()
            .map(|c| (c.mcc, c.description.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (5411, "Grocery Stores, Supermarkets"),
                (5541, "Service Stations"),
                (5812, "Eating Places and Restaurants")
            ]
        );
        for (text, expected) in [
            (r#"{"5812": "A", "5812": "B"}"#, "mcc 5812 appears twice"),
            (
                r#"{"70000": "A"}"#,
                r#"mcc "70000" is not an integer in 0..=65535"#,
            ),
            (r#"{"5812": 1}"#, "invalid type: integer `1`"),
            (r#"{"5812": "A""#, "EOF while parsing"),
        ] {
            let path = write(&dir, "mcc_codes.json", text);
            let (file, line, message) = malformed(read_mcc_codes(&path));
            assert_eq!((file.as_str(), line), ("mcc_codes.json", 1));
            assert!(message.starts_with(expected), "{text}: {message}");
        }
    }
}
