//! Change-data capture, decoding and apply semantics only: the change-event model every source
//! produces ([`event`]) and the [`ChangeSource`] trait sources implement, the one apply
//! semantics every writer uses ([`reduce`]), secret masking ([`mask`]), table shapes
//! ([`schema`]), the embedded MySQL/MariaDB binlog reader ([`binlog`]) and Debezium's JSON
//! events ([`debezium`]). The loops that drive them into the lake are in
//! [`pipeline`](crate::pipeline).

pub mod binlog;
pub mod debezium;
pub mod event;
pub mod mask;
pub mod reduce;
pub mod schema;

pub use event::ChangeSource;
