//! Change-data capture: the change-event model every source produces ([`event`]), the one
//! apply semantics every writer uses ([`reduce`]), secret masking ([`mask`]), table shapes
//! ([`schema`]), the embedded MySQL/MariaDB binlog source ([`binlog`]), Debezium's JSON events
//! ([`debezium`]) and the Kafka source loop over them ([`kafka`]).

pub mod binlog;
pub mod debezium;
pub mod event;
pub mod kafka;
pub mod mask;
pub mod reduce;
pub mod schema;
