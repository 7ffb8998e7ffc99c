//! finlake: a real-time finance analytics lakehouse.
//!
//! The bank's MySQL/MariaDB database is the source; a change-data-capture loop keeps Delta Lake
//! tables current; an embedded DataFusion engine serves them over Arrow Flight SQL.
//!
//! Modules follow the pipeline, dependencies flow one way:
//! - [`data`]: the source data model, synthetic data, the public dataset's file formats;
//! - [`source`]: the source database: schema, a private local server, bulk loading, the live
//!   OLTP workload;
//! - [`ingest`]: change events and the apply semantics shared by every CDC source;
//! - [`lake`]: bronze Delta tables written exactly once;
//! - [`pipeline`]: the ingestion loop (source -> masking -> lake), [`verify`]: source vs lake;
//! - [`engine`]: DataFusion over the lake's live Delta tables, behind a `QueryEngine` trait;
//! - [`flight`]: the Arrow Flight SQL server over any engine;
//! - [`serve`]: `finlake serve`, ingestion and Flight SQL in one process;
//! - [`reflections`]: the analytics views of `sql/`, reflections and their substitution;
//! - [`cli`]: the command line and its configuration blocks.
#![forbid(unsafe_code)]

pub mod cli;
pub mod data;
pub mod engine;
pub mod features;
pub mod flight;
pub mod ingest;
pub mod lake;
pub mod pipeline;
pub mod reflections;
pub mod serve;
pub mod source;
pub mod verify;
