//! Card numbers and CVVs never leave the source in clear. Before any event reaches the lake,
//! secret columns are replaced, in the same column, by a keyed hash (HMAC-SHA-256 with a
//! secret from the environment), plus the last four digits for card numbers:
//! `hmac:<32 hex>:0444`. Equal numbers give equal hashes under one key, so joins and
//! distinct counts still work; without the key nothing can be recovered or brute-forced.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::event::{ChangeEvent, Row, Value};
use super::schema::TableSchema;

/// Environment variable holding the masking key.
pub const KEY_ENV: &str = "FINLAKE_MASK_KEY";

/// Errors of the masker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{KEY_ENV} is not set (or shorter than 16 bytes): card numbers and CVVs are hashed with \
         this secret before they reach the lake. Set it to a long random value and keep it."
    )]
    MissingKey,
}

/// How a secret column is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Keyed hash plus the last four digits.
    CardNumber,
    /// Keyed hash of the value together with the card number (so equal CVVs on different cards
    /// do not hash alike).
    Cvv,
}

/// The secret columns of the finance schema.
pub const SECRETS: [(&str, &str, Secret); 2] = [
    ("cards", "card_number", Secret::CardNumber),
    ("cards", "cvv", Secret::Cvv),
];

/// Masks secret columns with a keyed hash.
#[derive(Clone)]
pub struct Masker {
    key: Vec<u8>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker { key: *** }")
    }
}

impl Masker {
    /// A masker with this key (at least 16 bytes).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let key = key.into();
        if key.len() < 16 {
            return Err(Error::MissingKey);
        }
        Ok(Self { key })
    }

    /// The key from [`KEY_ENV`].
    pub fn from_env() -> Result<Self, Error> {
        Self::new(std::env::var(KEY_ENV).map_err(|_| Error::MissingKey)?)
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

    /// `hmac:<hash>`, bound to the card number.
    pub fn cvv(&self, cvv: &str, card_number: &str) -> String {
        format!("hmac:{}", self.digest("cvv", &[card_number, cvv]))
    }

    /// True when a value is already masked (idempotence: masking twice changes nothing).
    pub fn is_masked(value: &str) -> bool {
        value.starts_with("hmac:")
    }

    fn mask_row(&self, schema: &TableSchema, row: &mut Row) {
        let index = |c: &str| schema.column_index(c);
        let number = SECRETS
            .iter()
            .find(|(t, _, s)| *t == schema.name && *s == Secret::CardNumber)
            .and_then(|(_, c, _)| index(c))
            .and_then(|i| match row.get(i) {
                Some(Value::Text(n)) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for (table, column, secret) in SECRETS {
            if table != schema.name {
                continue;
            }
            let Some(i) = index(column) else { continue };
            if let Some(Value::Text(v)) = row.get_mut(i) {
                if Self::is_masked(v) {
                    continue;
                }
                *v = match secret {
                    Secret::CardNumber => self.card_number(v),
                    Secret::Cvv => self.cvv(v, &number),
                };
            }
        }
    }

    /// Masks the secret columns of an event's images in place.
    pub fn mask(&self, schema: &TableSchema, event: &mut ChangeEvent) {
        if !SECRETS.iter().any(|(t, _, _)| *t == schema.name) {
            return;
        }
        for row in [event.before.as_mut(), event.after.as_mut()]
            .into_iter()
            .flatten()
        {
            self.mask_row(schema, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ingest::event::{Op, Position};
    use crate::ingest::schema::{Column, SourceType};

    fn masker() -> Masker {
        Masker::new("0123456789abcdef-test-key").expect("key")
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(Masker::new("short").is_err());
        assert!(Masker::new("").is_err());
        assert!(format!("{:?}", masker()).contains("***"));
    }

    #[test]
    fn card_numbers_keep_last_four_and_hide_the_rest() {
        let m = masker();
        let a = m.card_number("4344676511950444");
        assert!(a.starts_with("hmac:") && a.ends_with(":0444"), "{a}");
        assert!(!a.contains("43446765"), "{a}");
        assert_eq!(a, m.card_number("4344676511950444"), "deterministic");
        assert_ne!(a, m.card_number("4344676511950445"));
        let other = Masker::new("another-key-0123456789").expect("key");
        assert_ne!(a, other.card_number("4344676511950444"), "keyed");
        assert_ne!(
            m.cvv("623", "4344676511950444"),
            m.cvv("623", "4344676511950445")
        );
    }

    #[test]
    fn events_are_masked_in_both_images_once() {
        let schema = TableSchema {
            name: "cards".into(),
            columns: ["id", "card_number", "cvv"]
                .into_iter()
                .map(|n| Column {
                    name: n.into(),
                    source_type: SourceType::Text,
                    nullable: false,
                })
                .collect(),
            key: vec![0],
        };
        let row =
            |n: &str, c: &str| vec![Value::Int(1), Value::Text(n.into()), Value::Text(c.into())];
        let mut e = ChangeEvent {
            table: Arc::from("cards"),
            op: Op::Update,
            before: Some(row("4344676511950444", "623")),
            after: Some(row("4344676511950444", "624")),
            position: Position::new("f", 1, 0),
            commit_ms: 0,
            txid: None,
        };
        let m = masker();
        m.mask(&schema, &mut e);
        let once = e.clone();
        m.mask(&schema, &mut e);
        assert_eq!(e, once, "idempotent");
        let text = format!("{e:?}");
        assert!(
            !text.contains("4344676511950444") && !text.contains("\"623\""),
            "{text}"
        );
        assert_eq!(
            once.after.as_ref().map(|r| r[1].clone()),
            Some(Value::Text(m.card_number("4344676511950444")))
        );
    }
}
