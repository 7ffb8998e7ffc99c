//! finlake: a real-time finance analytics lakehouse.
//!
//! The bank's MySQL/MariaDB database is the source; a change-data-capture loop keeps Delta Lake
//! tables current; an embedded DataFusion engine serves them over Arrow Flight SQL.
//!
//! Modules follow the pipeline and depend one way, each only on the ones listed before it
//! (`ARCHITECTURE.md`; `scripts/modgraph.py` checks it, run by `make lint` and by a test):
//! - [`util`]: small shared helpers (`parse_duration`);
//! - [`data`]: the source data model, synthetic data, the public dataset's file formats;
//! - [`source`]: the source database: schema, a private local server, bulk loading, the live
//!   OLTP workload;
//! - [`ingest`]: change events, the [`ChangeSource`](ingest::ChangeSource) trait, the binlog
//!   and Debezium decoders and the apply semantics shared by every CDC source;
//! - [`lake`]: bronze Delta tables written exactly once, and the lake's layout (`TABLES`,
//!   `layout_for`, application ids);
//! - [`features`]: fraud features scored as transactions arrive;
//! - [`pipeline`]: the ingestion loops (binlog, Kafka: source -> masking -> lake);
//! - [`verify`]: source vs lake;
//! - [`engine`]: DataFusion over the lake's live Delta tables, behind a `QueryEngine` trait;
//!   it knows no source;
//! - [`analytics`]: the views of `sql/`, reflections, their substitution and maintenance;
//! - [`flight`]: the Arrow Flight SQL server over any engine;
//! - [`serve`]: `finlake serve`, ingestion and Flight SQL in one process;
//! - [`cli`]: the command line: its configuration blocks and one function per command.
//!
//! `testkit` (tests and the `test-support` feature only): the golden lake fixture, the batch
//! formatter and the analytics session builder the tests share.
#![forbid(unsafe_code)]

pub mod util;

pub mod data;
pub mod source;

pub mod ingest;
pub mod lake;

pub mod features;
pub mod pipeline;
pub mod verify;

pub mod analytics;
pub mod engine;

pub mod flight;
pub mod serve;

pub mod cli;

#[cfg(any(test, feature = "test-support"))]
pub mod testkit;

#[cfg(test)]
mod tests {
    /// Dependencies between the modules above flow one way: `scripts/modgraph.py --check`
    /// (also run by `make lint`) fails on an upward import, a cycle or an unplaced module.
    #[test]
    fn module_graph_flows_one_way() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/modgraph.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg("--check")
            .output()
            .expect("python3 runs scripts/modgraph.py");
        assert!(
            out.status.success(),
            "the module graph no longer flows one way:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
