//! The lake's layout: which source tables it mirrors, how their files are partitioned, and
//! the application ids the loops record their positions under.

use super::Layout;

/// The captured source tables, in foreign-key order (parents first): the source schema's
/// tables, one bronze table (and one `__changes` history) each.
pub use crate::source::sql::TABLES;

/// The binlog loop's application id in the Delta transactions (`ingest`, `serve`, `maintain
/// --reflections` and `status` read positions under it).
pub const BINLOG_APP_ID: &str = "finlake-binlog";

/// The Kafka loop's default application id.
pub const KAFKA_APP_ID: &str = "finlake-kafka";

/// Rows per partition for the large tables (by primary key), so a micro-batch rewrites only
/// the partitions it touches.
pub fn layout_for(table: &str) -> Layout {
    match table {
        "transactions" | "fraud_labels" => Layout {
            partition_rows: Some(1_000_000),
        },
        _ => Layout::default(),
    }
}
