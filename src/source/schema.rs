//! The source schema (`infra/mysql/schema.sql`) and the CDC account (`infra/mysql/cdc_user.sql`),
//! compiled in so the binary applies exactly the files the Compose stack mounts.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tracing::info;

use super::Result;

/// The DDL, verbatim.
pub const SCHEMA_SQL: &str = include_str!("../../infra/mysql/schema.sql");
/// The CDC account template, verbatim.
pub const CDC_USER_SQL: &str = include_str!("../../infra/mysql/cdc_user.sql");

/// Source tables in foreign-key order (parents first).
pub const TABLES: [&str; 5] = [
    "users",
    "cards",
    "mcc_codes",
    "transactions",
    "fraud_labels",
];

/// Splits a SQL script into statements: `--` comment lines dropped, split on `;` at line end.
pub fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Creates the source tables in the connection's current database (idempotent).
pub async fn apply_schema(conn: &mut Conn) -> Result<()> {
    for stmt in statements(SCHEMA_SQL) {
        conn.query_drop(stmt).await?;
    }
    info!(tables = TABLES.len(), "source schema applied");
    Ok(())
}

/// True when every source table exists in the current database.
pub async fn schema_present(conn: &mut Conn) -> Result<bool> {
    let n: Option<u64> = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name IN ({})",
            TABLES
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(",")
        ))
        .await?;
    Ok(n == Some(TABLES.len() as u64))
}

/// The CDC account statements with their placeholders filled in.
pub fn cdc_user_statements(user: &str, password: &str, database: &str) -> Vec<String> {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
    statements(
        &CDC_USER_SQL
            .replace("__CDC_USER__", &quote(user))
            .replace("__CDC_PASSWORD__", &quote(password))
            .replace("__DATABASE__", &database.replace('`', "``")),
    )
}

/// Creates or updates the least-privilege CDC account.
pub async fn apply_cdc_user(
    conn: &mut Conn,
    user: &str,
    password: &str,
    database: &str,
) -> Result<()> {
    for stmt in cdc_user_statements(user, password, database) {
        conn.query_drop(stmt).await?;
    }
    info!(user, database, "CDC account ready");
    Ok(())
}

/// Row counts of the source tables, in [`TABLES`] order.
pub async fn row_counts(conn: &mut Conn) -> Result<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    for table in TABLES {
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM `{table}`"))
            .await?;
        out.push((table, n.unwrap_or(0)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_every_table_once() {
        let stmts = statements(SCHEMA_SQL);
        assert_eq!(stmts.len(), TABLES.len());
        for (stmt, table) in stmts.iter().zip(TABLES) {
            assert!(
                stmt.starts_with(&format!("CREATE TABLE IF NOT EXISTS {table} (")),
                "{stmt}"
            );
        }
        let ddl = stmts.join("\n").to_uppercase();
        // Money is exact, never floating point; no cascades (they never reach the binlog).
        assert!(!ddl.contains("FLOAT") && !ddl.contains("DOUBLE"));
        assert!(!ddl.contains("CASCADE"));
        assert!(ddl.contains("AMOUNT          DECIMAL(12,2)"), "{ddl}");
    }

    #[test]
    fn cdc_user_is_filled_and_quoted() {
        let stmts = cdc_user_statements("cdc", "p'w", "finance");
        assert_eq!(stmts.len(), 4);
        assert!(stmts.iter().all(|s| !s.contains("__")), "{stmts:?}");
        assert!(stmts[0].contains("IDENTIFIED BY 'p''w'"), "{}", stmts[0]);
        assert!(
            stmts[3].contains("GRANT SELECT ON `finance`.*"),
            "{}",
            stmts[3]
        );
        // Read-only: no write privilege anywhere.
        for s in &stmts {
            for word in ["INSERT", "UPDATE", "DELETE", "ALL PRIVILEGES", "SUPER"] {
                assert!(!s.contains(word), "{s}");
            }
        }
    }
}
