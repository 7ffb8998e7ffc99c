//! The ingestion loops: a change source -> masked events -> change history and bronze tables,
//! exactly once. One flat module per source, as kafka-delta-ingest keeps its stages:
//!
//! - [`binlog`]: the embedded MySQL/MariaDB binlog loop (`finlake ingest`, `finlake serve`);
//! - [`kafka`]: Debezium's topics in Kafka (`finlake ingest --source kafka`);
//! - [`status`]: where each table stands (`finlake status`).
//!
//! Both loops apply with the same code ([`TableSink`](crate::lake::sink::TableSink): bronze
//! MERGE, change history, dead letters), mask with the same [`Masker`](crate::ingest::mask::Masker)
//! and take the tables' layout from [`lake::layout`](crate::lake::layout). The decoding of each
//! source and the apply semantics live below, in [`ingest`](crate::ingest); the sources
//! implement [`ChangeSource`](crate::ingest::ChangeSource).

pub mod binlog;
pub mod kafka;
pub mod status;

use std::time::Duration;

use crate::ingest::binlog as source;
use crate::ingest::event::Position;
use crate::ingest::mask;
use crate::lake;

pub use binlog::run;
pub use status::{StatusRow, status};

/// Errors of the binlog loop and of `status`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Mask(#[from] mask::Error),
    #[error("fraud features: {0}")]
    Features(Box<crate::features::store::Error>),
}

impl From<crate::features::store::Error> for Error {
    fn from(e: crate::features::store::Error) -> Self {
        Error::Features(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the binlog loop needs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub source_url: String,
    pub tables: Vec<String>,
    pub server_id: u32,
    /// Names this pipeline in the Delta application transactions.
    pub app_id: String,
    pub max_batch_events: usize,
    pub max_wait: Duration,
    pub until_caught_up: bool,
    /// Start over from a fresh snapshot (after a purged binlog position).
    pub resnapshot: bool,
    /// How often the loop appends its figures to `bronze/_ingest_status`.
    pub status_interval: Duration,
    /// Score transactions for fraud as they arrive (`features/fraud_alerts`), the feature
    /// state's position joining the resume point.
    pub fraud_features: bool,
}

/// What a run of the binlog loop did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub events: u64,
    pub batches: u64,
    pub commits: u64,
    pub position: Option<Position>,
    /// Events routed to `bronze/_dead_letters` by this run.
    pub dead_letters: u64,
    pub secs: f64,
}
