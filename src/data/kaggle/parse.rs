//! One function per field rule of the public dataset's files.
//!
//! Every parser takes the field's text exactly as it appears in the file (no trimming) and
//! returns the model's value, or an [`Invalid`] that completes the sentence
//! `"<value>" is not ...` for the error message the readers build around it.
//!
//! Deliberate leniencies, all documented on the function concerned:
//! - money also accepts `-$77.00` and a bare number without `$`;
//! - `YES`/`NO` and `Yes`/`No` are accepted in any letter case (`yes`, `NO`, `yEs`);
//! - `MM/YYYY` also accepts a one-digit month (`9/2002`);
//! - zips also accept plain integers (`58523`) and several trailing zeros (`58523.00`);
//! - cvv also accepts four digits (Amex-style codes), kept as they are.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use crate::data::model::{CardBrand, CardType, Dec2, Gender, UseChip, YearMonth};

/// A field value that does not follow its rule; displays as `is not <expected>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// What the value should have been, e.g. `an exact dollar amount`.
    pub expected: &'static str,
}

impl Invalid {
    const fn new(expected: &'static str) -> Self {
        Self { expected }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "is not {}", self.expected)
    }
}

impl std::error::Error for Invalid {}

/// The result of parsing one field.
pub type Parsed<T> = Result<T, Invalid>;

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A dollar amount: `$-77.00`, `$14.57`, `$29278` (and, leniently, `-$77.00` or `14.57`).
///
/// Exact: at most two fractional digits (`$77.001` is rejected, never rounded).
pub fn money(text: &str) -> Parsed<Dec2> {
    const INVALID: Invalid = Invalid::new("an exact dollar amount");
    let (negate, number) = if let Some(rest) = text.strip_prefix("-$") {
        (true, rest)
    } else {
        (false, text.strip_prefix('$').unwrap_or(text))
    };
    // A sign after `-$` would make a double sign; whitespace is never part of an amount.
    if (negate && number.starts_with(['-', '+'])) || number.bytes().any(|b| b.is_ascii_whitespace())
    {
        return Err(INVALID);
    }
    let value = Dec2::parse(number).ok_or(INVALID)?;
    Ok(if negate { Dec2(-value.0) } else { value })
}

/// A plain decimal with at most two fractional digits (latitude `34.15`, longitude `-117.76`).
pub fn decimal(text: &str) -> Parsed<Dec2> {
    const INVALID: Invalid = Invalid::new("a decimal with at most two fractional digits");
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(INVALID);
    }
    Dec2::parse(text).ok_or(INVALID)
}

/// Parses `N` ASCII digits as a number (the caller has checked the length).
fn digits_value(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// A transaction time `YYYY-MM-DD HH:MM:SS` (wall clock, no zone).
pub fn datetime(text: &str) -> Parsed<NaiveDateTime> {
    const INVALID: Invalid = Invalid::new("a date-time YYYY-MM-DD HH:MM:SS");
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(INVALID);
    }
    let number = |range: std::ops::Range<usize>| digits_value(&b[range]).ok_or(INVALID);
    let year = i32::try_from(number(0..4)?).map_err(|_| INVALID)?;
    let (month, day) = (number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|date| date.and_hms_opt(hour, minute, second))
        .ok_or(INVALID)
}

/// A zip code, written by the dataset as a float (`58523.0`, `1022.0` for 01022).
///
/// Returns the five-character zero-padded code; empty means no zip (online and foreign
/// merchants). Leniently accepts a plain integer (`58523`) and more trailing zeros (`58523.00`);
/// rejects any non-zero fraction (`58523.5`) and more than five digits (`123456.0`).
pub fn zip(text: &str) -> Parsed<Option<String>> {
    const INVALID: Invalid =
        Invalid::new("a zip code (up to five digits, optionally followed by .0)");
    if text.is_empty() {
        return Ok(None);
    }
    let whole = match text.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(INVALID),
        None => text,
    };
    if !all_digits(whole) || whole.len() > 5 {
        return Err(INVALID);
    }
    Ok(Some(format!("{whole:0>5}")))
}

/// Optional text (`merchant_state`, `errors`): empty means `None`, anything else is kept as is.
pub fn optional_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A month `MM/YYYY` (card expiry, account opening). Leniently accepts a one-digit month
/// (`9/2002`); the year must have four digits and the month be 1..=12.
pub fn year_month(text: &str) -> Parsed<YearMonth> {
    const INVALID: Invalid = Invalid::new("a month MM/YYYY");
    let (month, year) = text.split_once('/').ok_or(INVALID)?;
    if !all_digits(month) || month.len() > 2 || !all_digits(year) || year.len() != 4 {
        return Err(INVALID);
    }
    let month =
        u8::try_from(digits_value(month.as_bytes()).ok_or(INVALID)?).map_err(|_| INVALID)?;
    let year = u16::try_from(digits_value(year.as_bytes()).ok_or(INVALID)?).map_err(|_| INVALID)?;
    YearMonth::new(year, month).ok_or(INVALID)
}

/// A yes/no flag: `YES`/`NO` (`has_chip`) or `Yes`/`No` (`card_on_dark_web`, fraud labels).
///
/// Lenient on letter case only: `yes`, `NO`, `yEs` are accepted; `Y`, `true`, ` Yes` are not.
pub fn yes_no(text: &str) -> Parsed<bool> {
    if text.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(Invalid::new("Yes or No"))
    }
}

/// A card verification code, written by the dataset as an integer (leading zeros lost):
/// zero-padded back to three digits (`23` -> `023`). Four digits are kept as they are.
pub fn cvv(text: &str) -> Parsed<String> {
    if !all_digits(text) || text.len() > 4 {
        return Err(Invalid::new(
            "a card verification code (one to four digits)",
        ));
    }
    Ok(format!("{text:0>3}"))
}

/// A card number: 1 to 19 digits, kept as text (it may start with zeros).
pub fn card_number(text: &str) -> Parsed<String> {
    if !all_digits(text) || text.len() > 19 {
        return Err(Invalid::new("a card number (1 to 19 digits)"));
    }
    Ok(text.to_owned())
}

/// `Male` or `Female`.
pub fn gender(text: &str) -> Parsed<Gender> {
    match text {
        "Female" => Ok(Gender::Female),
        "Male" => Ok(Gender::Male),
        _ => Err(Invalid::new("a gender (Male, Female)")),
    }
}

/// `Amex`, `Discover`, `Mastercard` or `Visa`.
pub fn card_brand(text: &str) -> Parsed<CardBrand> {
    match text {
        "Amex" => Ok(CardBrand::Amex),
        "Discover" => Ok(CardBrand::Discover),
        "Mastercard" => Ok(CardBrand::Mastercard),
        "Visa" => Ok(CardBrand::Visa),
        _ => Err(Invalid::new(
            "a card brand (Amex, Discover, Mastercard, Visa)",
        )),
    }
}

/// `Credit`, `Debit` or `Debit (Prepaid)`.
pub fn card_type(text: &str) -> Parsed<CardType> {
    match text {
        "Credit" => Ok(CardType::Credit),
        "Debit" => Ok(CardType::Debit),
        "Debit (Prepaid)" => Ok(CardType::DebitPrepaid),
        _ => Err(Invalid::new("a card type (Credit, Debit, Debit (Prepaid))")),
    }
}

/// `Swipe Transaction`, `Chip Transaction` or `Online Transaction`.
pub fn use_chip(text: &str) -> Parsed<UseChip> {
    match text {
        "Swipe Transaction" => Ok(UseChip::Swipe),
        "Chip Transaction" => Ok(UseChip::Chip),
        "Online Transaction" => Ok(UseChip::Online),
        _ => Err(Invalid::new(
            "a transaction kind (Swipe Transaction, Chip Transaction, Online Transaction)",
        )),
    }
}

/// An unsigned integer type the dataset's integer columns use, with its range for messages.
pub trait Unsigned: Sized {
    /// Completes `is not ...`, naming the accepted range.
    const EXPECTED: &'static str;
    /// The value, when it fits the type.
    fn from_u64(value: u64) -> Option<Self>;
}

macro_rules! unsigned {
    ($($ty:ty => $expected:literal),* $(,)?) => {$(
        impl Unsigned for $ty {
            const EXPECTED: &'static str = $expected;
            fn from_u64(value: u64) -> Option<Self> {
                Self::try_from(value).ok()
            }
        }
    )*};
}

unsigned! {
    u8 => "an integer in 0..=255",
    u16 => "an integer in 0..=65535",
    u32 => "an integer in 0..=4294967295",
    u64 => "an integer in 0..=18446744073709551615",
}

/// A non-negative integer in the range of `T`: ASCII digits only (no sign, no spaces, no `.0`).
pub fn unsigned<T: Unsigned>(text: &str) -> Parsed<T> {
    let invalid = Invalid::new(T::EXPECTED);
    if !all_digits(text) {
        return Err(invalid);
    }
    let value = text.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    });
    value.and_then(T::from_u64).ok_or(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_strips_dollar_and_sign() {
        assert_eq!(money("$-77.00"), Ok(Dec2(-7700)));
        assert_eq!(money("-$77.00"), Ok(Dec2(-7700)));
        assert_eq!(money("$14.57"), Ok(Dec2(1457)));
        assert_eq!(money("$29278"), Ok(Dec2(2_927_800)));
        assert_eq!(money("$0.00"), Ok(Dec2(0)));
        assert_eq!(money("$-0.05"), Ok(Dec2(-5)));
        assert_eq!(money("14.57"), Ok(Dec2(1457)));
    }

    #[test]
    fn money_rejects_inexact_or_garbage() {
        for bad in [
            "77.001", "$77.001", "$", "-$", "$-", "abc", "", "$12.3.4", "-$-5", "$--5", "$ 5",
            " $5", "$5 ", "$1e3", "$$5", "5$",
        ] {
            let err = money(bad).expect_err(bad);
            assert_eq!(err.to_string(), "is not an exact dollar amount");
        }
    }

    #[test]
    fn decimal_parses_coordinates() {
        assert_eq!(decimal("34.15"), Ok(Dec2(3415)));
        assert_eq!(decimal("-117.76"), Ok(Dec2(-11776)));
        assert_eq!(decimal("40.8"), Ok(Dec2(4080)));
        for bad in ["", "34.155", "abc", " 34.15", "$34"] {
            assert!(decimal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn datetime_is_wall_clock() {
        let expected = NaiveDate::from_ymd_opt(2010, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 1, 0))
            .expect("valid");
        assert_eq!(datetime("2010-01-01 00:01:00"), Ok(expected));
        let late = NaiveDate::from_ymd_opt(2019, 10, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .expect("valid");
        assert_eq!(datetime("2019-10-31 23:59:59"), Ok(late));
        for bad in [
            "",
            "2010-01-01",
            "2010-01-01T00:01:00",
            "2010-01-01 00:01",
            "2010-13-01 00:01:00",
            "2010-02-30 00:01:00",
            "2010-01-01 24:00:00",
            "2010-01-01 00:60:00",
            "2010-1-01 00:01:00",
            "2010-01-01 00:01:00Z",
            "+010-01-01 00:01:00",
            "2010-01-01 00:01:0a",
        ] {
            assert!(datetime(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zip_is_zero_padded_text() {
        assert_eq!(zip("58523.0"), Ok(Some("58523".to_owned())));
        assert_eq!(zip("1022.0"), Ok(Some("01022".to_owned())));
        assert_eq!(zip("501.0"), Ok(Some("00501".to_owned())));
        assert_eq!(zip("58523"), Ok(Some("58523".to_owned())));
        assert_eq!(zip("0.0"), Ok(Some("00000".to_owned())));
        assert_eq!(zip("58523.00"), Ok(Some("58523".to_owned())));
        assert_eq!(zip(""), Ok(None));
        for bad in [
            "58523.5", "123456.0", "abc", "58523.", ".0", "-501.0", "5 01.0", "1e3",
        ] {
            assert!(zip(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn optional_text_empty_is_none() {
        assert_eq!(optional_text(""), None);
        assert_eq!(optional_text("ND"), Some("ND".to_owned()));
        assert_eq!(
            optional_text("Bad PIN,Insufficient Balance"),
            Some("Bad PIN,Insufficient Balance".to_owned())
        );
    }

    #[test]
    fn year_month_is_mm_slash_yyyy() {
        assert_eq!(
            year_month("12/2022"),
            Ok(YearMonth {
                year: 2022,
                month: 12
            })
        );
        assert_eq!(
            year_month("09/2002"),
            Ok(YearMonth {
                year: 2002,
                month: 9
            })
        );
        assert_eq!(
            year_month("9/2002"),
            Ok(YearMonth {
                year: 2002,
                month: 9
            })
        );
        for bad in [
            "13/2022",
            "00/2022",
            "2022/12",
            "1/22",
            "12/22",
            "",
            "12-2022",
            "12/2022/1",
            "a/2022",
        ] {
            assert!(year_month(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn yes_no_accepts_both_spellings_any_case() {
        for yes in ["YES", "Yes", "yes", "yEs"] {
            assert_eq!(yes_no(yes), Ok(true), "{yes:?}");
        }
        for no in ["NO", "No", "no", "nO"] {
            assert_eq!(yes_no(no), Ok(false), "{no:?}");
        }
        for bad in ["", "Y", "N", "true", "0", " Yes", "No ", "Yess"] {
            assert!(yes_no(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cvv_is_zero_padded() {
        assert_eq!(cvv("623").as_deref(), Ok("623"));
        assert_eq!(cvv("23").as_deref(), Ok("023"));
        assert_eq!(cvv("0").as_deref(), Ok("000"));
        assert_eq!(cvv("1234").as_deref(), Ok("1234"));
        for bad in ["", "12a", "12345", "-12", "1.0", " 12"] {
            assert!(cvv(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn card_number_is_digits() {
        assert_eq!(
            card_number("4344676511950444").as_deref(),
            Ok("4344676511950444")
        );
        assert_eq!(card_number("0123").as_deref(), Ok("0123"));
        for bad in ["", "4344-6765", "12345678901234567890", "4.3e15"] {
            assert!(card_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn enums_parse_their_dataset_text() {
        for g in [Gender::Female, Gender::Male] {
            assert_eq!(gender(g.as_str()), Ok(g));
        }
        for b in [
            CardBrand::Amex,
            CardBrand::Discover,
            CardBrand::Mastercard,
            CardBrand::Visa,
        ] {
            assert_eq!(card_brand(b.as_str()), Ok(b));
        }
        for t in [CardType::Credit, CardType::Debit, CardType::DebitPrepaid] {
            assert_eq!(card_type(t.as_str()), Ok(t));
        }
        assert_eq!(card_type("Debit (Prepaid)"), Ok(CardType::DebitPrepaid));
        for u in [UseChip::Swipe, UseChip::Chip, UseChip::Online] {
            assert_eq!(use_chip(u.as_str()), Ok(u));
        }
        assert!(gender("male").is_err());
        assert!(gender("").is_err());
        assert!(card_brand("VISA").is_err());
        assert!(card_type("Prepaid").is_err());
        assert!(use_chip("Swipe").is_err());
    }

    #[test]
    fn unsigned_checks_the_type_range() {
        assert_eq!(unsigned::<u8>("255"), Ok(255u8));
        assert_eq!(unsigned::<u8>("0"), Ok(0u8));
        assert_eq!(unsigned::<u8>("007"), Ok(7u8));
        assert_eq!(
            unsigned::<u8>("256").map_err(|e| e.to_string()),
            Err("is not an integer in 0..=255".to_owned())
        );
        assert_eq!(unsigned::<u16>("65535"), Ok(65535u16));
        assert!(unsigned::<u16>("65536").is_err());
        assert_eq!(unsigned::<u32>("4294967295"), Ok(u32::MAX));
        assert!(unsigned::<u32>("4294967296").is_err());
        assert_eq!(unsigned::<u64>("18446744073709551615"), Ok(u64::MAX));
        assert!(unsigned::<u64>("18446744073709551616").is_err());
        assert!(unsigned::<u64>("99999999999999999999999").is_err());
        for bad in ["", "-1", "+1", "1.0", " 1", "1 ", "abc", "0x10"] {
            assert!(unsigned::<u32>(bad).is_err(), "{bad:?}");
        }
    }
}
