//! Writers producing the dataset's exact formats, so that writing then reading gives back
//! equal values.
//!
//! A value the format cannot represent (a zip that is not five digits, a date outside years
//! 0..=9999 or with fractional seconds, an amount too large to read back) is refused with
//! [`Error::Malformed`] naming the line it would have gone to, before anything of that row is
//! written. An empty `Some("")` merchant state or errors field is written empty and so reads
//! back as `None`.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use chrono::{Datelike, NaiveDateTime, Timelike};
use csv::{Terminator, WriterBuilder};

use super::read::{Error, Result, file_name, io_error};
use super::{CARD_COLUMNS, TRANSACTION_COLUMNS, USER_COLUMNS};
use crate::data::model::{Card, Dec2, FraudLabel, MccCode, Transaction, User, YearMonth};

/// Write buffer size.
const BUFFER: usize = 1 << 20;

/// `Dec2::parse` reads at most 16 integer digits: larger magnitudes would not read back.
const DEC2_LIMIT: u64 = 1_000_000_000_000_000_000;

/// One CSV output file: header written on creation, rows field by field without allocating.
#[derive(Debug)]
struct CsvOut {
    file: String,
    columns: &'static [&'static str],
    /// The csv writer buffers `BUFFER` bytes itself before each write to the file.
    csv: csv::Writer<File>,
    /// Lines written so far (the header is line 1).
    lines: u64,
    scratch: String,
}

impl CsvOut {
    fn create(path: &Path, columns: &'static [&'static str]) -> Result<Self> {
        let file = file_name(path);
        let handle = File::create(path).map_err(|e| io_error(&file, e))?;
        let csv = WriterBuilder::new()
            .has_headers(false)
            .terminator(Terminator::Any(b'\n'))
            .buffer_capacity(BUFFER)
            .from_writer(handle);
        let mut out = Self {
            file,
            columns,
            csv,
            lines: 0,
            scratch: String::with_capacity(64),
        };
        let result = out.csv.write_record(columns);
        out.check(result)?;
        out.lines = 1;
        Ok(out)
    }

    fn check(&self, result: csv::Result<()>) -> Result<()> {
        result.map_err(|err| {
            let message = err.to_string();
            match err.into_kind() {
                csv::ErrorKind::Io(source) => io_error(&self.file, source),
                _ => Error::Malformed {
                    file: self.file.clone(),
                    line: self.lines + 1,
                    message,
                },
            }
        })
    }

    /// Refuses a value of the row about to be written.
    fn refuse(&self, column: usize, value: &dyn fmt::Debug, why: &str) -> Error {
        Error::Malformed {
            file: self.file.clone(),
            line: self.lines + 1,
            message: format!("column {}: {value:?} {why}", self.columns[column]),
        }
    }

    fn text(&mut self, text: &str) -> Result<()> {
        let result = self.csv.write_field(text);
        self.check(result)
    }

    fn display(&mut self, value: impl fmt::Display) -> Result<()> {
        self.scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.scratch, "{value}");
        let result = self.csv.write_field(self.scratch.as_bytes());
        self.check(result)
    }

    fn end_row(&mut self) -> Result<()> {
        let result = self.csv.write_record(None::<&[u8]>);
        self.check(result)?;
        self.lines += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        let result = self.csv.flush();
        result.map_err(|e| io_error(&self.file, e))?;
        tracing::debug!(file = %self.file, rows = self.lines - 1, "written");
        Ok(())
    }

    fn check_dec2(&self, column: usize, value: Dec2) -> Result<()> {
        if value.0.unsigned_abs() < DEC2_LIMIT {
            Ok(())
        } else {
            Err(self.refuse(column, &value, "is too large to be read back"))
        }
    }

    fn check_year_month(&self, column: usize, value: YearMonth) -> Result<()> {
        if value.year <= 9999 && (1..=12).contains(&value.month) {
            Ok(())
        } else {
            Err(self.refuse(column, &value, "cannot be written as MM/YYYY"))
        }
    }
}

/// `$` and two decimals: `$-77.00`, `$14.57`.
struct Amount(Dec2);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// `$<int>` when whole (`$29278`, `$-5`), else `$<int>.<2 digits>` (`$-0.05`).
struct WholeMoney(Dec2);

impl fmt::Display for WholeMoney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_whole() {
            write!(f, "${}", self.0.hundredths() / 100)
        } else {
            write!(f, "${}", self.0)
        }
    }
}

/// `MM/YYYY`.
struct MonthYear(YearMonth);

impl fmt::Display for MonthYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:04}", self.0.month, self.0.year)
    }
}

/// `YYYY-MM-DD HH:MM:SS` (checked to be representable beforehand).
struct DateTime(NaiveDateTime);

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// Digits without their leading zeros (`"023"` -> `"23"`, `"000"` -> `"0"`), as the dataset
/// writes zips and cvvs (numbers, not text).
fn without_leading_zeros(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Writes `transactions_data.csv`:
/// `7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,`.
#[derive(Debug)]
pub struct TransactionsWriter {
    out: CsvOut,
}

impl TransactionsWriter {
    /// Creates (truncates) the file and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        CsvOut::create(path, &TRANSACTION_COLUMNS).map(|out| Self { out })
    }

    pub fn write(&mut self, t: &Transaction) -> Result<()> {
        let out = &mut self.out;
        if !(0..=9999).contains(&t.date.year()) || t.date.nanosecond() != 0 {
            return Err(out.refuse(1, &t.date, "cannot be written as YYYY-MM-DD HH:MM:SS"));
        }
        out.check_dec2(4, t.amount)?;
        let zip = match &t.zip {
            Some(zip) if zip.len() == 5 && all_digits(zip) => Some(without_leading_zeros(zip)),
            Some(zip) => return Err(out.refuse(9, zip, "is not a five-digit zip code")),
            None => None,
        };
        out.display(t.id)?;
        out.display(DateTime(t.date))?;
        out.display(t.client_id)?;
        out.display(t.card_id)?;
        out.display(Amount(t.amount))?;
        out.text(t.use_chip.as_str())?;
        out.display(t.merchant_id)?;
        out.text(&t.merchant_city)?;
        out.text(t.merchant_state.as_deref().unwrap_or_default())?;
        match zip {
            // The dataset writes zips as floats: `58523.0`, `1022.0` for 01022.
            Some(zip) => out.display(format_args!("{zip}.0"))?,
            None => out.text("")?,
        }
        out.display(t.mcc)?;
        out.text(t.errors.as_deref().unwrap_or_default())?;
        out.end_row()
    }

    /// Flushes the file. Without it, buffered rows are still flushed on drop, but a failure
    /// there goes unnoticed.
    pub fn finish(self) -> Result<()> {
        self.out.finish()
    }
}

/// Writes `users_data.csv`:
/// `825,53,66,1966,11,Female,462 Rose Lane,34.15,-117.76,$29278,$59696,$127613,787,5`.
#[derive(Debug)]
pub struct UsersWriter {
    out: CsvOut,
}

impl UsersWriter {
    /// Creates (truncates) the file and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        CsvOut::create(path, &USER_COLUMNS).map(|out| Self { out })
    }

    pub fn write(&mut self, u: &User) -> Result<()> {
        let out = &mut self.out;
        out.check_dec2(7, u.latitude)?;
        out.check_dec2(8, u.longitude)?;
        out.check_dec2(9, u.per_capita_income)?;
        out.check_dec2(10, u.yearly_income)?;
        out.check_dec2(11, u.total_debt)?;
        out.display(u.id)?;
        out.display(u.current_age)?;
        out.display(u.retirement_age)?;
        out.display(u.birth_year)?;
        out.display(u.birth_month)?;
        out.text(u.gender.as_str())?;
        out.text(&u.address)?;
        out.display(u.latitude)?;
        out.display(u.longitude)?;
        out.display(WholeMoney(u.per_capita_income))?;
        out.display(WholeMoney(u.yearly_income))?;
        out.display(WholeMoney(u.total_debt))?;
        out.display(u.credit_score)?;
        out.display(u.num_credit_cards)?;
        out.end_row()
    }

    /// Flushes the file.
    pub fn finish(self) -> Result<()> {
        self.out.finish()
    }
}

/// Writes `cards_data.csv`:
/// `4524,825,Visa,Debit,4344676511950444,12/2022,623,YES,2,$24295,09/2002,2008,No`.
#[derive(Debug)]
pub struct CardsWriter {
    out: CsvOut,
}

impl CardsWriter {
    /// Creates (truncates) the file and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        CsvOut::create(path, &CARD_COLUMNS).map(|out| Self { out })
    }

    pub fn write(&mut self, c: &Card) -> Result<()> {
        let out = &mut self.out;
        if !all_digits(&c.card_number) || c.card_number.len() > 19 {
            // The number itself is a secret: never put it in a message.
            return Err(out.refuse(4, &"<hidden>", "is not a card number (1 to 19 digits)"));
        }
        out.check_year_month(5, c.expires)?;
        // Three digits, or four not starting with 0 (the only forms that read back equal).
        let cvv_ok = all_digits(&c.cvv)
            && (c.cvv.len() == 3 || (c.cvv.len() == 4 && !c.cvv.starts_with('0')));
        if !cvv_ok {
            return Err(out.refuse(
                6,
                &"<hidden>",
                "is not a three-digit card verification code",
            ));
        }
        out.check_dec2(9, c.credit_limit)?;
        out.check_year_month(10, c.acct_open_date)?;
        out.display(c.id)?;
        out.display(c.client_id)?;
        out.text(c.card_brand.as_str())?;
        out.text(c.card_type.as_str())?;
        out.text(&c.card_number)?;
        out.display(MonthYear(c.expires))?;
        // The dataset writes cvvs as integers: leading zeros dropped (`023` -> `23`).
        out.text(without_leading_zeros(&c.cvv))?;
        out.text(if c.has_chip { "YES" } else { "NO" })?;
        out.display(c.num_cards_issued)?;
        out.display(WholeMoney(c.credit_limit))?;
        out.display(MonthYear(c.acct_open_date))?;
        out.display(c.year_pin_last_changed)?;
        out.text(if c.card_on_dark_web { "Yes" } else { "No" })?;
        out.end_row()
    }

    /// Flushes the file.
    pub fn finish(self) -> Result<()> {
        self.out.finish()
    }
}

/// Writes `train_fraud_labels.json`: `{"target": {"10649266": "No", "23410063": "Yes"}}`
/// (one line, entries in call order, no trailing newline).
#[derive(Debug)]
pub struct FraudLabelsWriter {
    file: String,
    out: BufWriter<File>,
    rows: u64,
}

impl FraudLabelsWriter {
    /// Creates (truncates) the file and writes the opening `{"target": {`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = file_name(path);
        let handle = File::create(path).map_err(|e| io_error(&file, e))?;
        let mut out = BufWriter::with_capacity(BUFFER, handle);
        out.write_all(br#"{"target": {"#)
            .map_err(|e| io_error(&file, e))?;
        Ok(Self { file, out, rows: 0 })
    }

    pub fn write(&mut self, label: &FraudLabel) -> Result<()> {
        let separator = if self.rows == 0 { "" } else { ", " };
        let value = if label.is_fraud { "Yes" } else { "No" };
        write!(
            self.out,
            r#"{separator}"{}": "{value}""#,
            label.transaction_id
        )
        .map_err(|e| io_error(&self.file, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the closing `}}` and flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.out
            .write_all(b"}}")
            .and_then(|()| self.out.flush())
            .map_err(|e| io_error(&self.file, e))?;
        tracing::debug!(file = %self.file, rows = self.rows, "written");
        Ok(())
    }
}

/// Writes `mcc_codes.json`: `{"5812": "Eating Places and Restaurants", "5541": ...}`, entries
/// in the given order, descriptions JSON-escaped. A code given twice is refused.
pub fn write_mcc_codes(path: &Path, codes: &[MccCode]) -> Result<()> {
    let file = file_name(path);
    let mut seen = HashSet::with_capacity(codes.len());
    if let Some(twice) = codes.iter().find(|c| !seen.insert(c.mcc)) {
        return Err(Error::Malformed {
            file,
            line: 1,
            message: format!("mcc {} appears twice", twice.mcc),
        });
    }
    let handle = File::create(path).map_err(|e| io_error(&file, e))?;
    let mut out = BufWriter::with_capacity(BUFFER, handle);
    let mut write = || -> std::io::Result<()> {
        out.write_all(b"{")?;
        for (index, code) in codes.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            write!(out, r#"{separator}"{}": "#, code.mcc)?;
            serde_json::to_writer(&mut out, &code.description)?;
        }
        out.write_all(b"}")?;
        out.flush()
    };
    write().map_err(|e| io_error(&file, e))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::data::model::{CardBrand, CardType, Gender, UseChip};

    fn transaction() -> Transaction {
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
    }

    fn card() -> Card {
        Card {
            id: 4524,
            client_id: 825,
            card_brand: CardBrand::Visa,
            card_type: CardType::Debit,
            card_number: "4344676511950444".to_owned(),
            expires: YearMonth {
                year: 2022,
                month: 12,
            },
            cvv: "623".to_owned(),
            has_chip: true,
            num_cards_issued: 2,
            credit_limit: Dec2(2_429_500),
            acct_open_date: YearMonth {
                year: 2002,
                month: 9,
            },
            year_pin_last_changed: 2008,
            card_on_dark_web: false,
        }
    }

    fn body(path: &Path) -> String {
        let text = std::fs::read_to_string(path).expect("read");
        text.split_once('\n').expect("header").1.to_owned()
    }

    #[test]
    fn writes_transactions_in_dataset_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("transactions_data.csv");
        let mut w = TransactionsWriter::create(&path).expect("create");
        w.write(&transaction()).expect("write");
        let online = Transaction {
            amount: Dec2(1457),
            use_chip: UseChip::Online,
            merchant_city: "ONLINE".to_owned(),
            merchant_state: None,
            zip: None,
            errors: Some("Bad PIN,Insufficient Balance".to_owned()),
            ..transaction()
        };
        w.write(&online).expect("write");
        let padded = Transaction {
            amount: Dec2(0),
            merchant_city: "Say \"Hi\", Town".to_owned(),
            zip: Some("01022".to_owned()),
            ..transaction()
        };
        w.write(&padded).expect("write");
        w.write(&Transaction {
            zip: Some("00000".to_owned()),
            amount: Dec2(-5),
            ..transaction()
        })
        .expect("write");
        w.finish().expect("finish");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors\n\
             7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,\n\
             7475327,2010-01-01 00:01:00,1556,2972,$14.57,Online Transaction,59935,ONLINE,,,5499,\"Bad PIN,Insufficient Balance\"\n\
             7475327,2010-01-01 00:01:00,1556,2972,$0.00,Swipe Transaction,59935,\"Say \"\"Hi\"\", Town\",ND,1022.0,5499,\n\
             7475327,2010-01-01 00:01:00,1556,2972,$-0.05,Swipe Transaction,59935,Beulah,ND,0.0,5499,\n"
        );
    }

    #[test]
    fn refuses_unrepresentable_transactions_before_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("transactions_data.csv");
        let mut w = TransactionsWriter::create(&path).expect("create");
        w.write(&transaction()).expect("write");
        let bad_zip = Transaction {
            zip: Some("1022".to_owned()),
            ..transaction()
        };
        assert_eq!(
            w.write(&bad_zip).expect_err("zip").to_string(),
            r#"transactions_data.csv:3: column zip: "1022" is not a five-digit zip code"#
        );
        let far = Transaction {
            date: NaiveDate::from_ymd_opt(10_000, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("valid"),
            ..transaction()
        };
        assert!(w.write(&far).is_err());
        let fractional = Transaction {
            date: NaiveDate::from_ymd_opt(2010, 1, 1)
                .and_then(|d| d.and_hms_milli_opt(0, 0, 0, 500))
                .expect("valid"),
            ..transaction()
        };
        assert!(w.write(&fractional).is_err());
        let huge = Transaction {
            amount: Dec2(i64::MIN),
            ..transaction()
        };
        assert!(w.write(&huge).is_err());
        w.finish().expect("finish");
        // Nothing of the refused rows reached the file.
        assert_eq!(body(&path).lines().count(), 1);
    }

    #[test]
    fn writes_users_money_whole_or_with_cents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users_data.csv");
        let user = User {
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
            yearly_income: Dec2(5_969_650),
            total_debt: Dec2(-100),
            credit_score: 787,
            num_credit_cards: 5,
        };
        let mut w = UsersWriter::create(&path).expect("create");
        w.write(&user).expect("write");
        w.write(&User {
            latitude: Dec2(4080),
            longitude: Dec2(-5),
            total_debt: Dec2(0),
            ..user.clone()
        })
        .expect("write");
        w.finish().expect("finish");
        assert_eq!(
            body(&path),
            "825,53,66,1966,11,Female,462 Rose Lane,34.15,-117.76,$29278,$59696.50,$-1,787,5\n\
             825,53,66,1966,11,Female,462 Rose Lane,40.80,-0.05,$29278,$59696.50,$0,787,5\n"
        );
    }

    #[test]
    fn writes_cards_with_integer_cvv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cards_data.csv");
        let mut w = CardsWriter::create(&path).expect("create");
        w.write(&card()).expect("write");
        w.write(&Card {
            card_type: CardType::DebitPrepaid,
            cvv: "023".to_owned(),
            has_chip: false,
            card_on_dark_web: true,
            credit_limit: Dec2(5550),
            ..card()
        })
        .expect("write");
        w.write(&Card {
            cvv: "000".to_owned(),
            ..card()
        })
        .expect("write");
        for bad in [
            Card {
                cvv: "23".to_owned(),
                ..card()
            },
            Card {
                cvv: "0623".to_owned(),
                ..card()
            },
            Card {
                card_number: "4344-6765".to_owned(),
                ..card()
            },
            Card {
                expires: YearMonth {
                    year: 10_000,
                    month: 1,
                },
                ..card()
            },
        ] {
            let err = w.write(&bad).expect_err("refused").to_string();
            assert!(!err.contains("4344"), "secrets stay out of messages: {err}");
        }
        w.finish().expect("finish");
        assert_eq!(
            body(&path),
            "4524,825,Visa,Debit,4344676511950444,12/2022,623,YES,2,$24295,09/2002,2008,No\n\
             4524,825,Visa,Debit (Prepaid),4344676511950444,12/2022,23,NO,2,$55.50,09/2002,2008,Yes\n\
             4524,825,Visa,Debit,4344676511950444,12/2022,0,YES,2,$24295,09/2002,2008,No\n"
        );
    }

    #[test]
    fn writes_labels_and_mcc_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("train_fraud_labels.json");
        let mut w = FraudLabelsWriter::create(&path).expect("create");
        for (transaction_id, is_fraud) in [(10_649_266, false), (23_410_063, true)] {
            w.write(&FraudLabel {
                transaction_id,
                is_fraud,
            })
            .expect("write");
        }
        w.finish().expect("finish");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            r#"{"target": {"10649266": "No", "23410063": "Yes"}}"#
        );

        let path = dir.path().join("mcc_codes.json");
        let codes = [
            MccCode {
                mcc: 5812,
                description: "Eating Places and Restaurants".to_owned(),
            },
            MccCode {
                mcc: 5411,
                description: "Grocery Stores, \"Supermarkets\"".to_owned(),
            },
        ];
        write_mcc_codes(&path, &codes).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            r#"{"5812": "Eating Places and Restaurants", "5411": "Grocery Stores, \"Supermarkets\""}"#
        );
        let twice = [codes[0].clone(), codes[0].clone()];
        assert_eq!(
            write_mcc_codes(&path, &twice)
                .expect_err("twice")
                .to_string(),
            "mcc_codes.json:1: mcc 5812 appears twice"
        );
    }
}
