//! Integration tests, consolidated into one binary (one link, one database server).
//!
//! They run the real `finlake` binary against a real MariaDB that the tests start with
//! `finlake db start` (state under cargo's target tmp dir, reused between runs, stopped by
//! `make test`). Every test works in a database of its own.

mod analytics;
mod binlog;
mod bounded;
mod cli;
mod common;
mod compose;
mod conformance;
mod crash;
mod db_server;
mod faults;
mod flight;
mod flight_clients;
mod hostile;
mod ingest;
mod ingest_props;
mod kafka_gap;
mod loading;
mod scaleout;
mod serve_analytics;
mod source_faults;
mod spark;
mod stack;
mod workload;
