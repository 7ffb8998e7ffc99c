//! Freshness probe: source commit to row readable in Delta, while the live workload runs.
//!
//! Every `FRESHNESS_EVERY` (default 200 ms) a probe updates one row of `users` (its
//! `num_credit_cards`, a value the workload never sets, then restores it), notes when COMMIT
//! returned, and polls `<lake>/bronze/users` (refreshing the Delta log every 5 ms) until the new
//! value is readable. `benches/cdc.sh` runs it beside `finlake ingest` and `finlake simulate`.
//!
//! Environment: FINLAKE_SOURCE_URL (application account), FINLAKE_LAKE_URI, FRESHNESS_PROBES
//! (default 200), FRESHNESS_TIMEOUT_S (default 30: a probe not visible by then fails the run),
//! FRESHNESS_DURATION_S (no new probe after that many seconds; default: no limit). Prints `freshness p50=..ms p90=..ms p99=..ms max=..ms n=..`.

use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::Int64Type;
use deltalake::datafusion::prelude::SessionContext;
use mysql_async::prelude::Queryable;

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn lake_value(table: &mut DeltaTable, user: i64) -> AnyResult<Option<i64>> {
    table.update_incremental(None).await?;
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    ctx.register_table("users", table.table_provider().await?)?;
    let batches = ctx
        .sql(&format!(
            "SELECT CAST(num_credit_cards AS BIGINT) FROM users WHERE id = {user}"
        ))
        .await?
        .collect()
        .await?;
    Ok(batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_primitive::<Int64Type>())
        .filter(|a| !a.is_null(0))
        .map(|a| a.value(0)))
}

#[tokio::main]
async fn main() -> AnyResult<()> {
    let url = std::env::var("FINLAKE_SOURCE_URL")?;
    let lake = std::env::var("FINLAKE_LAKE_URI")?;
    let probes: usize = std::env::var("FRESHNESS_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let every = Duration::from_millis(
        std::env::var("FRESHNESS_EVERY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200),
    );
    let timeout = Duration::from_secs(
        std::env::var("FRESHNESS_TIMEOUT_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    );
    let duration = std::env::var("FRESHNESS_DURATION_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    let path = std::fs::canonicalize(&lake)?.join("bronze/users");
    let table_url = url::Url::from_directory_path(&path).map_err(|()| "lake path")?;
    let mut table = deltalake::open_table(table_url).await?;
    let mut conn = mysql_async::Conn::from_url(url.as_str()).await?;
    let (user, original): (i64, i64) = conn
        .query_first("SELECT id, num_credit_cards FROM users ORDER BY id LIMIT 1")
        .await?
        .ok_or("no users")?;
    let mut samples = Vec::with_capacity(probes);
    let began = Instant::now();
    for n in 0..probes {
        if duration.is_some_and(|d| began.elapsed() >= d) {
            break;
        }
        let value = 100 + (n % 100) as i64; // never a real count (1..9)
        let started = Instant::now();
        conn.exec_drop(
            "UPDATE users SET num_credit_cards = ? WHERE id = ?",
            (value, user),
        )
        .await?;
        let committed = Instant::now();
        let deadline = committed + timeout;
        loop {
            if lake_value(&mut table, user).await? == Some(value) {
                samples.push(committed.elapsed());
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("probe {n} not visible after {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(rest) = every.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    conn.exec_drop(
        "UPDATE users SET num_credit_cards = ? WHERE id = ?",
        (original, user),
    )
    .await?;
    conn.disconnect().await?;
    samples.sort();
    let q = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    println!(
        "freshness p50={:.0}ms p90={:.0}ms p99={:.0}ms max={:.0}ms n={}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0),
        samples.len()
    );
    Ok(())
}
