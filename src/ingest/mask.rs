//! Card numbers, verification codes and other secrets never leave the source in clear.
//! Before any event reaches the lake (binlog, Kafka/Debezium; the Spark job mirrors these
//! rules in `infra/spark/finlake_spark.py`), every column of **every** table is checked
//! against name and type rules that fail closed: a column that looks sensitive is masked
//! even if no list names it.
//!
//! - **Verification data is never kept** (PCI DSS 3.3.1: not after authorisation, hashed or
//!   not): a column named like `cvv`, `cvv2`, `cvc`, `cvc2`, `cvn`, `csc`, `cav2`, `cvd`,
//!   `security_code`, `verification_code`/`_value`, `card_verification…`, `pin`, `pin_code`,
//!   `pin_block`, `pin_number` becomes NULL in the lake (the column stays, nullable).
//! - **Card numbers** (`card_number`, `card_num`, `card_no`, `cc_number`, `cc_num`, `ccn`,
//!   `pan`, `credit_card…`, `debit_card…`, as one word or in camelCase too) become a keyed
//!   hash plus the last four digits: `hmac:<32 hex>:0444` (HMAC-SHA-256 with a secret from
//!   the environment). Equal numbers give equal hashes under one key, so joins and distinct
//!   counts still work; without the key nothing can be recovered or brute-forced.
//! - **Other identifiers** (`ssn`, `social_security…`, `account_number`/`_no`/`_num`,
//!   `acct_number`/`_no`/`_num`, `iban`, `tax_id`, `national_id`, `passport…`, `password`,
//!   `passwd`) become `hmac:<32 hex>`.
//!
//! Names are matched by words (split at `_`, `-`, spaces and camelCase, any case). By type:
//! a date, time, year, boolean, ENUM or SET column is never a secret (it says when or
//! whether, or holds only values the schema lists: `year_pin_last_changed` stays); a
//! sensitive column whose type cannot hold a hash (a number, bytes, JSON) becomes NULL.
//! A key column is never made NULL: a text key that looks like a verification code is
//! hashed instead (a non-text key column is left as it is: keys must stay unique).
//!
//! The key must be at least 16 bytes, and one that looks like a demo or test default
//! (see [`looks_like_demo`]) is refused unless [`DEMO_ENV`]`=1` (the demo and the test
//! harnesses set it).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::event::{ChangeEvent, Row, Value};
use super::schema::{Column, SourceType, TableSchema};

/// Environment variable holding the masking key.
pub const KEY_ENV: &str = "FINLAKE_MASK_KEY";
/// Set to `1` to accept a demo-looking key (a throwaway demo or test lake only).
pub const DEMO_ENV: &str = "FINLAKE_DEMO";

/// Errors of the masker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{KEY_ENV} is not set (or shorter than 16 bytes): card numbers are hashed with this \
         secret before they reach the lake. Set it to a long random value and keep it."
    )]
    MissingKey,
    #[error(
        "{KEY_ENV} looks like a demo or test default (it contains {0:?} or too few distinct \
         characters): such keys are published, and anyone holding one can test card numbers \
         against the lake's hashes. Set it to a long random value (openssl rand -hex 24), or \
         set {DEMO_ENV}=1 for a throwaway demo lake."
    )]
    DemoKey(&'static str),
}

/// What a sensitive column becomes in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `hmac:<hash>:<last four>` (a text column).
    CardNumber,
    /// `hmac:<hash>` (a text column).
    Hash,
    /// NULL: verification codes and PINs, and sensitive columns that cannot hold a hash.
    Null,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Verification,
    CardNumber,
    Identifier,
}

const VERIFICATION: &[&[&str]] = &[
    &["cvv"],
    &["cvv2"],
    &["cvc"],
    &["cvc2"],
    &["cvn"],
    &["cvn2"],
    &["csc"],
    &["cav2"],
    &["cvd"],
    &["security", "code"],
    &["securitycode"],
    &["verification", "code"],
    &["verification", "value"],
    &["verificationcode"],
    &["card", "verification"],
    &["pin"],
    &["pincode"],
    &["pinblock"],
    &["pinnumber"],
];

const CARD_NUMBER: &[&[&str]] = &[
    &["card", "number"],
    &["card", "num"],
    &["card", "no"],
    &["card", "nbr"],
    &["cc", "number"],
    &["cc", "num"],
    &["cc", "no"],
    &["credit", "card"],
    &["debit", "card"],
    &["cardnumber"],
    &["cardnum"],
    &["cardno"],
    &["ccnumber"],
    &["ccnum"],
    &["ccn"],
    &["pan"],
    &["creditcard"],
    &["creditcardnumber"],
    &["debitcard"],
];

const IDENTIFIER: &[&[&str]] = &[
    &["ssn"],
    &["social", "security"],
    &["socialsecurity"],
    &["account", "number"],
    &["account", "no"],
    &["account", "num"],
    &["acct", "number"],
    &["acct", "no"],
    &["acct", "num"],
    &["accountnumber"],
    &["acctnumber"],
    &["acctno"],
    &["iban"],
    &["tax", "id"],
    &["taxid"],
    &["national", "id"],
    &["passport"],
    &["password"],
    &["passwd"],
];

/// The words of a column name, lower case: `cardNumber`, `CARD_NUMBER` and `card-number`
/// all give `card`, `number`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn kind(name: &str) -> Option<Kind> {
    let w = words(name);
    let has = |patterns: &[&[&str]]| {
        patterns.iter().any(|p| {
            w.windows(p.len())
                .any(|win| win.iter().zip(p.iter()).all(|(a, b)| a == b))
        })
    };
    if has(VERIFICATION) {
        Some(Kind::Verification)
    } else if has(CARD_NUMBER) {
        Some(Kind::CardNumber)
    } else if has(IDENTIFIER) {
        Some(Kind::Identifier)
    } else {
        None
    }
}

/// The rule for one column by its name and type (ignoring whether it is a key), if any.
pub fn rule(column: &Column) -> Option<Rule> {
    use SourceType as T;
    match column.source_type {
        T::Date
        | T::DateTime { .. }
        | T::Timestamp { .. }
        | T::Time { .. }
        | T::Year
        | T::Bool
        | T::Enum(_)
        | T::Set(_) => return None,
        _ => {}
    }
    let text = column.source_type == T::Text;
    Some(match kind(&column.name)? {
        Kind::Verification => Rule::Null,
        Kind::CardNumber if text => Rule::CardNumber,
        Kind::Identifier if text => Rule::Hash,
        Kind::CardNumber | Kind::Identifier => Rule::Null,
    })
}

/// The rule for column `i` of a table: [`rule`], except that a key column is never NULL.
pub fn column_rule(schema: &TableSchema, i: usize) -> Option<Rule> {
    let column = schema.columns.get(i)?;
    match rule(column)? {
        Rule::Null if schema.key.contains(&i) => {
            (column.source_type == SourceType::Text).then_some(Rule::Hash)
        }
        r => Some(r),
    }
}

/// True when the lake stores this column as NULL whatever the source holds (so the lake
/// column must be nullable even if the source's is not).
pub fn always_null(schema: &TableSchema, i: usize) -> bool {
    column_rule(schema, i) == Some(Rule::Null)
}

/// Why a key looks like a published demo or test default, if it does: it contains one of a
/// few placeholder words, or has fewer than 6 distinct characters.
pub fn looks_like_demo(key: &str) -> Option<&'static str> {
    const WORDS: [&str; 12] = [
        "demo",
        "test",
        "example",
        "sample",
        "changeme",
        "change-me",
        "change_me",
        "default",
        "placeholder",
        "mask-key",
        "mask_key",
        "password",
    ];
    let lower = key.to_ascii_lowercase();
    if let Some(w) = WORDS.iter().find(|w| lower.contains(*w)) {
        return Some(w);
    }
    let mut distinct: Vec<u8> = key.bytes().collect();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len() < 6).then_some("a repeated character")
}

/// Column rules per table, computed once per table shape.
type RuleCache = HashMap<String, (Vec<String>, Arc<[Option<Rule>]>)>;

/// Masks sensitive columns.
#[derive(Clone)]
pub struct Masker {
    key: Vec<u8>,
    rules: Arc<RwLock<RuleCache>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker { key: *** }")
    }
}

impl Masker {
    /// A masker with this key (at least 16 bytes; no demo check: see [`Masker::checked`]).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let key = key.into();
        if key.len() < 16 {
            return Err(Error::MissingKey);
        }
        Ok(Self {
            key,
            rules: Arc::default(),
        })
    }

    /// [`Masker::new`], refusing a demo-looking key unless `allow_demo`.
    pub fn checked(key: &str, allow_demo: bool) -> Result<Self, Error> {
        let masker = Self::new(key)?;
        match looks_like_demo(key) {
            Some(why) if !allow_demo => Err(Error::DemoKey(why)),
            _ => Ok(masker),
        }
    }

    /// The key from [`KEY_ENV`]; a demo-looking key only with [`DEMO_ENV`]`=1`.
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var(KEY_ENV).map_err(|_| Error::MissingKey)?;
        let demo = std::env::var(DEMO_ENV).is_ok_and(|v| v == "1" || v == "true");
        Self::checked(&key, demo)
    }

    fn digest(&self, domain: &str, parts: &[&str]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain.as_bytes());
        for p in parts {
            mac.update(&[0]);
            mac.update(p.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// `hmac:<hash>:<last four>`.
    pub fn card_number(&self, number: &str) -> String {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let last4 = &digits[digits.len().saturating_sub(4)..];
        format!("hmac:{}:{last4}", self.digest("card_number", &[&digits]))
    }

    /// `hmac:<hash>` of another identifier (SSN, account number, ...).
    pub fn identifier(&self, value: &str) -> String {
        format!("hmac:{}", self.digest("value", &[value]))
    }

    /// True when a value is already masked (idempotence: masking twice changes nothing).
    pub fn is_masked(value: &str) -> bool {
        value.starts_with("hmac:")
    }

    /// The rules of a table's columns (cached per table shape).
    fn rules_for(&self, schema: &TableSchema) -> Arc<[Option<Rule>]> {
        let same = |names: &[String]| {
            names.len() == schema.columns.len()
                && names.iter().zip(&schema.columns).all(|(n, c)| *n == c.name)
        };
        if let Ok(cache) = self.rules.read()
            && let Some((names, rules)) = cache.get(&schema.name)
            && same(names)
        {
            return Arc::clone(rules);
        }
        let rules: Arc<[Option<Rule>]> = (0..schema.columns.len())
            .map(|i| column_rule(schema, i))
            .collect();
        if let Ok(mut cache) = self.rules.write() {
            let names = schema.columns.iter().map(|c| c.name.clone()).collect();
            cache.insert(schema.name.clone(), (names, Arc::clone(&rules)));
        }
        rules
    }

    fn mask_row(&self, rules: &[Option<Rule>], row: &mut Row) {
        for (v, rule) in row.iter_mut().zip(rules) {
            let Some(rule) = rule else { continue };
            *v = match (rule, &*v) {
                (_, Value::Null) | (Rule::Null, _) => Value::Null,
                (_, Value::Text(t)) if Self::is_masked(t) => continue,
                (Rule::CardNumber, Value::Text(t)) => Value::Text(self.card_number(t)),
                (Rule::Hash, Value::Text(t)) => Value::Text(self.identifier(t)),
                // A value of another shape than the column's type: dropped, never passed on.
                _ => Value::Null,
            };
        }
    }

    /// Masks the sensitive columns of an event's images in place.
    pub fn mask(&self, schema: &TableSchema, event: &mut ChangeEvent) {
        let rules = self.rules_for(schema);
        if rules.iter().all(Option::is_none) {
            return;
        }
        for row in [event.before.as_mut(), event.after.as_mut()]
            .into_iter()
            .flatten()
        {
            self.mask_row(&rules, row);
        }
    }
}

#[cfg(test)]
mod tests;
