//! Stateful fraud features over the change stream of `transactions` and `cards`.
//!
//! [`scoring::FeatureEngine`] is pure: it consumes change events in source order and returns
//! one [`scoring::Scored`] per new transaction (features, risk score, reason codes). Its
//! output depends only on the events, never on how they were cut into batches
//! (chunking-invariant: expiry is decided from event times at lookup, not at batch ends).
//! State is serialisable (`serde`) so that the loop can store it with the position.

pub mod scoring;
pub mod store;

pub use scoring::{Columns, FeatureEngine, Features, Reason, Scored};
pub use store::{FraudFeatures, alerts_schema};

#[cfg(test)]
mod tests;
