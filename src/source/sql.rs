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

/// The primary keys the DDL declares: `CREATE TABLE [IF NOT EXISTS] name (... PRIMARY KEY
/// (a, b) ...)` statements, as (table, key columns).
pub fn primary_keys(ddl: &str) -> Vec<(String, Vec<String>)> {
    let mut keys = Vec::new();
    for stmt in statements(ddl) {
        let upper = stmt.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("CREATE TABLE") else {
            continue;
        };
        let offset = stmt.len() - rest.len();
        let rest_orig = stmt[offset..].trim_start();
        let rest_orig = strip_prefix_ci(rest_orig, "IF NOT EXISTS").unwrap_or(rest_orig);
        let name: String = rest_orig
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '`')
            .filter(|c| *c != '`')
            .collect();
        let Some(at) = upper.find("PRIMARY KEY") else {
            continue;
        };
        let after = &stmt[at + "PRIMARY KEY".len()..];
        let (Some(open), Some(close)) = (after.find('('), after.find(')')) else {
            continue;
        };
        if open > close {
            continue;
        }
        let columns: Vec<String> = after[open + 1..close]
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        if !name.is_empty() && !columns.is_empty() {
            keys.push((name, columns));
        }
    }
    keys
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
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
    fn source_ddl_keys() {
        let keys: std::collections::HashMap<_, _> = primary_keys(SCHEMA_SQL).into_iter().collect();
        assert_eq!(keys.len(), TABLES.len());
        assert_eq!(keys["users"], ["id"]);
        assert_eq!(keys["mcc_codes"], ["mcc"]);
        assert_eq!(keys["fraud_labels"], ["transaction_id"]);
    }

    #[test]
    fn ddl_parsing() {
        let keys = primary_keys(
            "CREATE TABLE IF NOT EXISTS a (x INT, y INT, PRIMARY KEY (x, `y`));\n\
             create table b (z INT NOT NULL, primary key (z));\n\
             CREATE TABLE c (w INT);\n",
        );
        assert_eq!(
            keys,
            [
                ("a".to_owned(), vec!["x".to_owned(), "y".to_owned()]),
                ("b".to_owned(), vec!["z".to_owned()]),
            ]
        );
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
