//! finlake: a real-time finance analytics lakehouse.
//!
//! The bank's MySQL/MariaDB database is the source; a change-data-capture loop keeps Delta Lake
//! tables current; an embedded DataFusion engine serves them over Arrow Flight SQL.
//!
//! Modules follow the pipeline, dependencies flow one way:
//! - [`data`]: the source data model, synthetic data, the public dataset's file formats;
//! - [`source`]: the source database: schema, a private local server, bulk loading, the live
//!   OLTP workload;
//! - [`cli`]: the command line and its configuration blocks.
#![forbid(unsafe_code)]

pub mod cli;
pub mod data;
pub mod source;
