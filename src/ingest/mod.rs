//! Change-data capture: the change-event model every source produces ([`event`]), the one
//! apply semantics every writer uses ([`reduce`]), secret masking ([`mask`]), table shapes
//! ([`schema`]) and the embedded MySQL/MariaDB binlog source ([`binlog`]).

pub mod binlog;
pub mod event;
pub mod mask;
pub mod reduce;
pub mod schema;
