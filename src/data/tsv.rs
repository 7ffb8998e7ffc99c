//! Rows encoded for MySQL's `LOAD DATA LOCAL INFILE` in its default text format: fields
//! separated by tabs, lines by `\n`, `\` escapes, `\N` for NULL.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime};

use super::kaggle;
use super::model::{Card, Dec2, FraudLabel, MccCode, Transaction, User};

/// A source-table row that can be bulk loaded.
pub trait TsvRow {
    /// The source table.
    const TABLE: &'static str;
    /// Its columns, in the order [`TsvRow::write_tsv`] writes them.
    const COLUMNS: &'static [&'static str];
    /// Appends the row and its line terminator to `out`.
    fn write_tsv(&self, out: &mut Vec<u8>);
}

/// The `LOAD DATA` statement for a row type (the file name is a placeholder that the
/// connection's infile handler answers).
pub fn load_data_sql<R: TsvRow>() -> String {
    format!(
        "LOAD DATA LOCAL INFILE 'finlake.tsv' INTO TABLE `{}` CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        R::TABLE,
        R::COLUMNS
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

struct Line<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(b'\t');
        }
        self.first = false;
    }

    fn int(&mut self, v: impl itoa_like::Int) -> &mut Self {
        self.sep();
        v.push_to(self.out);
        self
    }

    fn dec(&mut self, v: Dec2) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }

    fn boolean(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.out.push(if v { b'1' } else { b'0' });
        self
    }

    fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        for &b in v.as_bytes() {
            match b {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0 => self.out.extend_from_slice(b"\\0"),
                _ => self.out.push(b),
            }
        }
        self
    }

    fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.out.extend_from_slice(b"\\N");
                self
            }
        }
    }

    fn date(&mut self, v: NaiveDate) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{}", v.format("%Y-%m-%d"));
        self
    }

    fn datetime(&mut self, v: NaiveDateTime) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{}", v.format("%Y-%m-%d %H:%M:%S"));
        self
    }

    fn end(&mut self) {
        self.out.push(b'\n');
    }
}

/// Integer formatting without going through `fmt` machinery on the hot path.
mod itoa_like {
    pub(super) trait Int {
        fn push_to(self, out: &mut Vec<u8>);
    }

    macro_rules! unsigned {
        ($($t:ty),*) => {$(
            impl Int for $t {
                fn push_to(self, out: &mut Vec<u8>) {
                    let mut buf = [0u8; 20];
                    let mut i = buf.len();
                    let mut v = self as u64;
                    loop {
                        i -= 1;
                        buf[i] = b'0' + (v % 10) as u8;
                        v /= 10;
                        if v == 0 {
                            break;
                        }
                    }
                    out.extend_from_slice(&buf[i..]);
                }
            }
        )*};
    }
    unsigned!(u8, u16, u32, u64);
}

impl TsvRow for User {
    const TABLE: &'static str = "users";
    /// The source table has the dataset file's columns, in the same order.
    const COLUMNS: &'static [&'static str] = &kaggle::USER_COLUMNS;

    fn write_tsv(&self, out: &mut Vec<u8>) {
        Line::new(out)
            .int(self.id)
            .int(self.current_age)
            .int(self.retirement_age)
            .int(self.birth_year)
            .int(self.birth_month)
            .text(self.gender.as_str())
            .text(&self.address)
            .dec(self.latitude)
            .dec(self.longitude)
            .dec(self.per_capita_income)
            .dec(self.yearly_income)
            .dec(self.total_debt)
            .int(self.credit_score)
            .int(self.num_credit_cards)
            .end();
    }
}

impl TsvRow for Card {
    const TABLE: &'static str = "cards";
    /// The source table has the dataset file's columns, in the same order.
    const COLUMNS: &'static [&'static str] = &kaggle::CARD_COLUMNS;

    fn write_tsv(&self, out: &mut Vec<u8>) {
        Line::new(out)
            .int(self.id)
            .int(self.client_id)
            .text(self.card_brand.as_str())
            .text(self.card_type.as_str())
            .text(&self.card_number)
            .date(self.expires.first_day())
            .text(&self.cvv)
            .boolean(self.has_chip)
            .int(self.num_cards_issued)
            .dec(self.credit_limit)
            .date(self.acct_open_date.first_day())
            .int(self.year_pin_last_changed)
            .boolean(self.card_on_dark_web)
            .end();
    }
}

impl TsvRow for MccCode {
    const TABLE: &'static str = "mcc_codes";
    const COLUMNS: &'static [&'static str] = &["mcc", "description"];

    fn write_tsv(&self, out: &mut Vec<u8>) {
        Line::new(out).int(self.mcc).text(&self.description).end();
    }
}

impl TsvRow for Transaction {
    const TABLE: &'static str = "transactions";
    /// The source table has the dataset file's columns, in the same order.
    const COLUMNS: &'static [&'static str] = &kaggle::TRANSACTION_COLUMNS;

    fn write_tsv(&self, out: &mut Vec<u8>) {
        Line::new(out)
            .int(self.id)
            .datetime(self.date)
            .int(self.client_id)
            .int(self.card_id)
            .dec(self.amount)
            .text(self.use_chip.as_str())
            .int(self.merchant_id)
            .text(&self.merchant_city)
            .opt_text(self.merchant_state.as_deref())
            .opt_text(self.zip.as_deref())
            .int(self.mcc)
            .opt_text(self.errors.as_deref())
            .end();
    }
}

impl TsvRow for FraudLabel {
    const TABLE: &'static str = "fraud_labels";
    const COLUMNS: &'static [&'static str] = &["transaction_id", "is_fraud"];

    fn write_tsv(&self, out: &mut Vec<u8>) {
        Line::new(out)
            .int(self.transaction_id)
            .boolean(self.is_fraud)
            .end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::model::UseChip;

    fn tsv<R: TsvRow>(row: &R) -> String {
        let mut out = Vec::new();
        row.write_tsv(&mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn transaction_line_escapes_and_nulls() {
        let t = Transaction {
            id: 7_475_327,
            date: NaiveDate::from_ymd_opt(2010, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 1, 0))
                .expect("date"),
            client_id: 1556,
            card_id: 2972,
            amount: Dec2(-7700),
            use_chip: UseChip::Swipe,
            merchant_id: 59935,
            merchant_city: "Be\tu\\lah\n".into(),
            merchant_state: None,
            zip: Some("01022".into()),
            mcc: 5499,
            errors: Some("Bad PIN,Insufficient Balance".into()),
        };
        assert_eq!(
            tsv(&t),
            "7475327\t2010-01-01 00:01:00\t1556\t2972\t-77.00\tSwipe Transaction\t59935\t\
             Be\\tu\\\\lah\\n\t\\N\t01022\t5499\tBad PIN,Insufficient Balance\n"
        );
        assert_eq!(Transaction::COLUMNS.len(), tsv(&t).split('\t').count());
    }

    #[test]
    fn integers_format_at_the_edges() {
        let mut out = Vec::new();
        Line::new(&mut out).int(0u8).int(u64::MAX).int(10u32).end();
        assert_eq!(out, b"0\t18446744073709551615\t10\n");
    }

    #[test]
    fn load_statement_names_columns() {
        let sql = load_data_sql::<FraudLabel>();
        assert!(sql.contains("INTO TABLE `fraud_labels`"), "{sql}");
        assert!(sql.ends_with("(`transaction_id`, `is_fraud`)"), "{sql}");
    }
}
