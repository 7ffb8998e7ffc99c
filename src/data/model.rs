//! The source data model: one struct per source table, with the exact types the
//! MySQL schema (`infra/mysql/schema.sql`) uses.
//!
//! Money and coordinates are [`Dec2`]: exact fixed point with two decimals, never a float.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

/// Exact decimal with two fractional digits, stored as an integer number of hundredths.
///
/// Used for money (cents) and for latitude/longitude (hundredths of a degree), which the
/// dataset always gives with at most two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dec2(pub i64);

impl Dec2 {
    /// A whole number of units (dollars, degrees).
    pub const fn from_units(units: i64) -> Self {
        Self(units * 100)
    }

    /// The value in hundredths (cents).
    pub const fn hundredths(self) -> i64 {
        self.0
    }

    /// True when the value has no fractional part.
    pub const fn is_whole(self) -> bool {
        self.0 % 100 == 0
    }

    /// Parses a plain decimal such as `-77.00`, `14.5`, `29278` or `-117.76`.
    ///
    /// At most two fractional digits are accepted: anything finer would not be exact.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 || whole.len() > 16 {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        let value = whole.checked_mul(100)?.checked_add(frac)?;
        Some(Self(if negative { -value } else { value }))
    }
}

impl fmt::Display for Dec2 {
    /// Always two decimals: `-77.00`, `14.57`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// A month, as the dataset writes `MM/YYYY` (card expiry, account opening).
/// Stored in MySQL as the `DATE` of the month's first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: u16,
    pub month: u8,
}

impl YearMonth {
    pub fn new(year: u16, month: u8) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), 1)
            .unwrap_or(NaiveDate::MIN)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Female => "Female",
            Self::Male => "Male",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    Amex,
    Discover,
    Mastercard,
    Visa,
}

impl CardBrand {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Amex => "Amex",
            Self::Discover => "Discover",
            Self::Mastercard => "Mastercard",
            Self::Visa => "Visa",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardType {
    Credit,
    Debit,
    DebitPrepaid,
}

impl CardType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "Credit",
            Self::Debit => "Debit",
            Self::DebitPrepaid => "Debit (Prepaid)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseChip {
    Swipe,
    Chip,
    Online,
}

impl UseChip {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Swipe => "Swipe Transaction",
            Self::Chip => "Chip Transaction",
            Self::Online => "Online Transaction",
        }
    }
}

/// The seven error kinds the dataset uses in `transactions.errors` (comma-joined).
pub const ERROR_KINDS: [&str; 7] = [
    "Insufficient Balance",
    "Bad PIN",
    "Technical Glitch",
    "Bad Card Number",
    "Bad Expiration",
    "Bad CVV",
    "Bad Zipcode",
];

/// A row of `users` (`users_data.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: u32,
    pub current_age: u8,
    pub retirement_age: u8,
    pub birth_year: u16,
    pub birth_month: u8,
    pub gender: Gender,
    pub address: String,
    pub latitude: Dec2,
    pub longitude: Dec2,
    pub per_capita_income: Dec2,
    pub yearly_income: Dec2,
    pub total_debt: Dec2,
    pub credit_score: u16,
    pub num_credit_cards: u8,
}

/// A row of `cards` (`cards_data.csv`). `card_number` and `cvv` are secrets: they exist in
/// clear only in the source database and in files a user hands us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: u32,
    pub client_id: u32,
    pub card_brand: CardBrand,
    pub card_type: CardType,
    pub card_number: String,
    pub expires: YearMonth,
    /// Three digits, zero-padded (the CSV loses leading zeros).
    pub cvv: String,
    pub has_chip: bool,
    pub num_cards_issued: u8,
    pub credit_limit: Dec2,
    pub acct_open_date: YearMonth,
    pub year_pin_last_changed: u16,
    pub card_on_dark_web: bool,
}

/// A row of `transactions` (`transactions_data.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: u64,
    /// Wall-clock time, no zone, minute resolution in the dataset.
    pub date: NaiveDateTime,
    pub client_id: u32,
    pub card_id: u32,
    /// Negative for refunds.
    pub amount: Dec2,
    pub use_chip: UseChip,
    pub merchant_id: u32,
    pub merchant_city: String,
    /// US two-letter code, a country name for foreign merchants, `None` for online.
    pub merchant_state: Option<String>,
    /// Five characters, zero-padded; `None` for online and foreign merchants.
    pub zip: Option<String>,
    pub mcc: u16,
    /// Comma-joined error kinds, `None` when the transaction had none.
    pub errors: Option<String>,
}

/// A row of `mcc_codes` (`mcc_codes.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MccCode {
    pub mcc: u16,
    pub description: String,
}

/// A row of `fraud_labels` (`train_fraud_labels.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudLabel {
    pub transaction_id: u64,
    pub is_fraud: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec2_parses_exactly() {
        assert_eq!(Dec2::parse("-77.00"), Some(Dec2(-7700)));
        assert_eq!(Dec2::parse("14.57"), Some(Dec2(1457)));
        assert_eq!(Dec2::parse("14.5"), Some(Dec2(1450)));
        assert_eq!(Dec2::parse("29278"), Some(Dec2(2_927_800)));
        assert_eq!(Dec2::parse("-117.76"), Some(Dec2(-11776)));
        assert_eq!(Dec2::parse("0"), Some(Dec2(0)));
        assert_eq!(Dec2::parse(".5"), Some(Dec2(50)));
        for bad in ["", "-", ".", "1.234", "1e5", "12a", "1.2.3", "--1", " $5"] {
            assert_eq!(Dec2::parse(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn dec2_displays_two_decimals() {
        assert_eq!(Dec2(-7700).to_string(), "-77.00");
        assert_eq!(Dec2(5).to_string(), "0.05");
        assert_eq!(Dec2(-5).to_string(), "-0.05");
        assert_eq!(Dec2(1457).to_string(), "14.57");
    }

    #[test]
    fn year_month_first_day() {
        let ym = YearMonth::new(2022, 12).expect("valid");
        assert_eq!(
            ym.first_day(),
            NaiveDate::from_ymd_opt(2022, 12, 1).expect("date")
        );
        assert!(YearMonth::new(2022, 13).is_none());
        assert!(YearMonth::new(2022, 0).is_none());
    }
}
