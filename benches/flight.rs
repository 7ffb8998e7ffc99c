//! Flight SQL benchmark client, against a running `finlake serve` (benches/flight.sh starts
//! one over the benchmark lake): small-query latency, a large scan's throughput, and the
//! dashboard queries with reflection substitution on and off (the `finlake-reflections`
//! header), each checked with EXPLAIN for whether a reflection served it.
//!
//! Environment: FLIGHT_ADDR (`host:port`), FINLAKE_FLIGHT_USER (default `finlake`),
//! FINLAKE_FLIGHT_PASSWORD, BENCH_ITERS (default 200), BENCH_SCANS (default 3),
//! BENCH_MODE (`small`, `scan`, `dashboard` or `all`, the default).
//! Prints one line per measurement:
//! `small <name> p50=<ms> p95=<ms> n=<n>`,
//! `scan <sql> rows=<n> bytes=<n> secs=<s> gbps=<GB/s>` (bytes: Arrow IPC received),
//! `dashboard <name> on_p50=<ms> on_p95=<ms> off_p50=<ms> off_p95=<ms> speedup_p95=<x> reflection=<yes|no>`.

use std::time::{Duration, Instant};

use arrow_flight::FlightData;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::{StreamExt, TryStreamExt};
use tonic::transport::{Channel, Endpoint};

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const QUERIES: &str = include_str!("flight_queries.tsv");

fn queries(kind: &str) -> Vec<(&'static str, &'static str)> {
    QUERIES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (k, name, sql) = (f.next()?, f.next()?, f.next()?);
            (k == kind).then_some((name, sql))
        })
        .collect()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (p50, p95) of `samples`.
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    let at = |p: usize| samples[((n * p).div_ceil(100)).clamp(1, n) - 1];
    (at(50), at(95))
}

struct Bench {
    channel: Channel,
    client: FlightSqlServiceClient<Channel>,
    token: String,
}

impl Bench {
    async fn connect(addr: &str) -> AnyResult<Self> {
        let channel = Endpoint::new(format!("http://{addr}"))?
            .timeout(Duration::from_secs(600))
            .connect()
            .await?;
        let mut client = FlightSqlServiceClient::new(channel.clone());
        let user = env_or("FINLAKE_FLIGHT_USER", "finlake");
        let password = std::env::var("FINLAKE_FLIGHT_PASSWORD")?;
        client.handshake(&user, &password).await?;
        let token = client
            .token()
            .cloned()
            .ok_or("no token from the handshake")?;
        Ok(Self {
            channel,
            client,
            token,
        })
    }

    /// Runs `sql` (GetFlightInfo then DoGet of every endpoint); returns (rows, IPC bytes).
    async fn run(&mut self, sql: &str, reflections: bool) -> AnyResult<(usize, usize)> {
        self.client.set_header(
            "finlake-reflections",
            if reflections { "on" } else { "off" },
        );
        let info = self.client.execute(sql.to_owned(), None).await?;
        let mut raw = FlightServiceClient::new(self.channel.clone());
        let (mut rows, mut bytes) = (0, 0);
        for ep in info.endpoint {
            let ticket = ep.ticket.ok_or("endpoint without a ticket")?;
            let mut req = tonic::Request::new(ticket);
            req.metadata_mut()
                .insert("authorization", format!("Bearer {}", self.token).parse()?);
            req.metadata_mut().insert(
                "finlake-reflections",
                if reflections { "on" } else { "off" }.parse()?,
            );
            let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = std::sync::Arc::clone(&counted);
            let data = raw
                .do_get(req)
                .await?
                .into_inner()
                .map_ok(move |d: FlightData| {
                    c.fetch_add(
                        d.data_body.len() + d.data_header.len(),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    d
                })
                .map_err(|s| arrow_flight::error::FlightError::Tonic(Box::new(s)));
            let mut batches = FlightRecordBatchStream::new_from_flight_data(data);
            while let Some(b) = batches.next().await {
                rows += b?.num_rows();
            }
            bytes += counted.load(std::sync::atomic::Ordering::Relaxed);
        }
        Ok((rows, bytes))
    }

    async fn plan_text(&mut self, sql: &str) -> AnyResult<String> {
        self.client.set_header("finlake-reflections", "on");
        let info = self.client.execute(format!("EXPLAIN {sql}"), None).await?;
        let mut out = String::new();
        let options = FormatOptions::default();
        for ep in info.endpoint {
            let ticket = ep.ticket.ok_or("endpoint without a ticket")?;
            let batches: Vec<_> = self.client.do_get(ticket).await?.try_collect().await?;
            for b in batches {
                for c in b.columns() {
                    let f = ArrayFormatter::try_new(c.as_ref(), &options)?;
                    for i in 0..b.num_rows() {
                        out.push_str(&f.value(i).to_string());
                        out.push('\n');
                    }
                }
            }
        }
        Ok(out)
    }

    async fn timed(
        &mut self,
        sql: &str,
        reflections: bool,
        iters: usize,
    ) -> AnyResult<Vec<Duration>> {
        for _ in 0..iters.min(5) {
            self.run(sql, reflections).await?;
        }
        let mut samples = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            self.run(sql, reflections).await?;
            samples.push(t.elapsed());
        }
        Ok(samples)
    }
}

#[tokio::main]
async fn main() -> AnyResult<()> {
    let addr = std::env::var("FLIGHT_ADDR")?;
    let iters: usize = env_or("BENCH_ITERS", "200").parse()?;
    let scans: usize = env_or("BENCH_SCANS", "3").parse()?;
    let mode = env_or("BENCH_MODE", "all");
    let mut b = Bench::connect(&addr).await?;
    if mode == "all" || mode == "small" {
        for (name, sql) in queries("small") {
            let mut s = b.timed(sql, true, iters).await?;
            let (p50, p95) = percentiles(&mut s);
            println!(
                "small {name} p50={:.2}ms p95={:.2}ms n={iters}",
                ms(p50),
                ms(p95)
            );
        }
    }
    if mode == "all" || mode == "scan" {
        let sql = env_or("BENCH_SCAN_SQL", "SELECT * FROM bronze.transactions");
        let mut runs = Vec::new();
        for _ in 0..scans {
            let t = Instant::now();
            let (rows, bytes) = b.run(&sql, true).await?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "scan {sql:?} rows={rows} bytes={bytes} secs={secs:.2} gbps={:.2}",
                bytes as f64 / secs / 1e9
            );
            runs.push(bytes as f64 / secs / 1e9);
        }
        runs.sort_by(f64::total_cmp);
        println!("scan median gbps={:.2} runs={scans}", runs[runs.len() / 2]);
    }
    if mode == "all" || mode == "dashboard" {
        let off_iters = (iters / 10).max(5);
        for (name, sql) in queries("dashboard") {
            let served = b.plan_text(sql).await?.contains("reflection:");
            let mut on = b.timed(sql, true, iters).await?;
            let mut off = b.timed(sql, false, off_iters).await?;
            let (on50, on95) = percentiles(&mut on);
            let (off50, off95) = percentiles(&mut off);
            println!(
                "dashboard {name} on_p50={:.2}ms on_p95={:.2}ms off_p50={:.2}ms off_p95={:.2}ms speedup_p95={:.1}x reflection={} n_on={iters} n_off={off_iters}",
                ms(on50),
                ms(on95),
                ms(off50),
                ms(off95),
                off95.as_secs_f64() / on95.as_secs_f64(),
                if served { "yes" } else { "no" }
            );
        }
    }
    Ok(())
}
