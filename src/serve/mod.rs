//! `finlake serve`: the ingestion loop in the background, the Flight SQL server in front,
//! and a health/metrics endpoint beside it, until SIGINT/SIGTERM.
//!
//! On start it prints `flight sql listening on ADDR` and `http listening on ADDR` on stdout
//! (with `--flight-addr 127.0.0.1:0` the OS picks the port). A failing ingestion loop does
//! not stop the server: `/health` turns 503 and reports the error, queries keep reading the
//! lake as it is. Shutdown stops accepting calls, cancels running queries (clients get
//! `UNAVAILABLE`; calls still open after [`CLIENT_GRACE`] are closed) and stops the loop at
//! a batch boundary (its position is committed with its data, so nothing is lost).
//!
//! The engine serves the views of `sql/` (`silver.*`, `gold.*`) beside the lake tables, with
//! reflections substituted into matching queries; while the embedded loop runs, a task keeps
//! the reflections at its applied position and the loop scores transactions for fraud
//! (`features.fraud_alerts`). The loop reads the binlog, or with `--source kafka` Debezium's
//! topics (same apply semantics; fraud features are scored by the binlog loop only).

pub mod http;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::analytics::{self, Analytics};
use crate::engine::keys::KeyCatalog;
use crate::engine::{self, DeltaEngine, EngineOptions, QueryEngine};
use crate::flight::{self, FlightConfig};
use crate::ingest::binlog;
use crate::ingest::mask::{self, Masker};
use crate::lake::{self, Lake};
use crate::pipeline::kafka::{self, KafkaConfig};
use crate::pipeline::{self, IngestConfig};
use crate::source::sql;
use http::{IngestState, Ops};

/// Longest the server waits for the loop after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(15);
/// Longest the server waits for clients to take the end of their calls after a shutdown
/// signal (running queries are cancelled at once).
pub const CLIENT_GRACE: Duration = Duration::from_secs(3);

/// Errors of `serve`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Flight(#[from] flight::Error),
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Mask(#[from] mask::Error),
    #[error("reflections: {0}")]
    Reflections(Box<analytics::Error>),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<analytics::Error> for Error {
    fn from(e: analytics::Error) -> Self {
        Error::Reflections(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What `serve` needs (the flags are `cli::args::ServeArgs`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Lake root (local path or `s3://bucket/prefix`) and its object-store options.
    pub lake_uri: String,
    pub storage_options: HashMap<String, String>,
    pub flight: FlightConfig,
    /// The embedded binlog loop (`None`: serve the lake only): its configuration, or why the
    /// source database could not be resolved.
    pub ingest: Option<std::result::Result<IngestConfig, String>>,
    /// Run the Kafka loop over Debezium's topics instead of reading the binlog (the source
    /// database of `ingest` still gives the table shapes).
    pub kafka: Option<KafkaConfig>,
    /// Substitute reflections into queries and maintain them.
    pub reflections: bool,
    /// How often the reflections are checked against bronze when they are current.
    pub reflection_interval: Duration,
}

/// Resolves when the watch turns true.
async fn fired(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// The embedded loop's configuration and masker (`None`: serve the lake only); the captured
/// schemas' primary keys join `keys`.
async fn embedded_loop(
    ingest: Option<std::result::Result<IngestConfig, String>>,
    keys: &mut KeyCatalog,
) -> Result<Option<(IngestConfig, Masker)>> {
    let Some(cfg) = ingest else {
        return Ok(None);
    };
    let cfg = cfg.map_err(Error::Config)?;
    let masker = Masker::from_env()?;
    match binlog::table_schemas(&cfg.source_url, &cfg.tables).await {
        Ok(schemas) => *keys = std::mem::take(keys).with_schemas(&schemas),
        Err(e) => warn!(error = %e, "source schemas unavailable; primary keys from the DDL"),
    }
    Ok(Some((cfg, masker)))
}

/// The engine over the lake, with the analytics extension and the Flight SQL settings.
async fn open_engine(
    lake: &Lake,
    flight_cfg: &FlightConfig,
    keys: KeyCatalog,
    analytics: &Arc<Analytics>,
    follow: engine::Follow,
) -> Result<Arc<DeltaEngine>> {
    let opts = EngineOptions {
        refresh_interval: flight_cfg.flight_refresh,
        follow,
        statement_timeout: flight_cfg.statement_timeout(),
        cache_bytes: flight_cfg.flight_cache_bytes,
        cache_entry_bytes: flight_cfg.flight_cache_entry_bytes,
        keys,
        extension: Some(Arc::clone(analytics) as Arc<dyn engine::Extension>),
        limits: engine::Limits {
            memory_bytes: flight_cfg.flight_memory_limit,
            spill_dir: flight_cfg.flight_spill_dir.clone(),
            spill_bytes: flight_cfg.flight_spill_bytes,
            max_queries: flight_cfg.flight_max_queries,
            queue_wait: flight_cfg.flight_queue_wait,
        },
        ..EngineOptions::default()
    };
    Ok(DeltaEngine::open(lake, opts).await?)
}

/// Runs the embedded loop (if any) until `stop`; its end or failure is reported on `/health`
/// and never stops the server.
async fn run_loop(
    ingest: Option<(IngestConfig, Masker)>,
    kafka: Option<KafkaConfig>,
    lake: Lake,
    ops: Arc<Ops>,
    stop: impl Future<Output = ()>,
) {
    let Some((cfg, masker)) = ingest else {
        return;
    };
    let ran = match &kafka {
        Some(k) => kafka::run(k, &lake, &masker, stop)
            .await
            .map(|r| (r.events, r.commits))
            .map_err(|e| e.to_string()),
        None => pipeline::run(&cfg, &lake, &masker, stop)
            .await
            .map(|r| (r.events, r.commits))
            .map_err(|e| e.to_string()),
    };
    match ran {
        Ok((events, commits)) => {
            info!(events, commits, "ingestion stopped");
            ops.set_ingest(IngestState::Stopped);
        }
        Err(e) => {
            error!(error = %e, "ingestion failed; still serving the lake as it is");
            ops.set_ingest(IngestState::Failed(e.to_string()));
        }
    }
}

/// The writer whose applied position the reflections follow.
fn reflections_follow(cfg: &IngestConfig, kafka: Option<&KafkaConfig>) -> analytics::Writer {
    let database = kafka::source_database(&cfg.source_url).unwrap_or_default();
    match kafka {
        Some(k) => analytics::Writer::Kafka {
            app_id: k.settings.kafka_app_id.clone(),
            topics: format!("{}.{database}", k.settings.kafka_topic_prefix),
        },
        None => analytics::Writer::Loop(cfg.app_id.clone()),
    }
}

/// Runs until `stop` resolves.
pub async fn run(cfg: ServeConfig, stop: impl Future<Output = ()>) -> Result<()> {
    let ServeConfig {
        lake_uri,
        storage_options,
        flight: flight_cfg,
        ingest,
        kafka,
        reflections: with_reflections,
        reflection_interval,
    } = cfg;
    // Refuse to start without credentials before touching anything.
    let auth = Arc::new(flight::authenticator(&flight_cfg)?);
    let lake = Lake::open(&lake_uri, storage_options)?;
    // Primary keys for GetPrimaryKeys: the source DDL's, then the captured schemas'.
    let mut keys = KeyCatalog::new(sql::primary_keys(sql::SCHEMA_SQL));
    let ingest = embedded_loop(ingest, &mut keys).await?;
    if kafka.is_some() && ingest.as_ref().is_some_and(|(c, _)| c.fraud_features) {
        warn!(
            "fraud features are scored by the binlog loop only; the Kafka loop does not write features.fraud_alerts"
        );
    }
    let analytics = Analytics::new(lake.clone(), with_reflections).await?;
    // Queries never list a Delta log: the loop's commits are announced, other writers'
    // found every --flight-refresh.
    let follow = engine::Follow::Background(ingest.is_some().then(|| lake.commits()));
    let engine = open_engine(&lake, &flight_cfg, keys, &analytics, follow).await?;
    let refresher = engine.spawn_refresher();

    let flight_listener = TcpListener::bind(flight_cfg.flight_addr).await?;
    let flight_addr = flight_listener.local_addr()?;
    let http_listener = TcpListener::bind(flight_cfg.http_addr).await?;
    let http_addr = http_listener.local_addr()?;
    let ops = Arc::new(Ops {
        engine: Arc::clone(&engine),
        flight_addr,
        ingest: Mutex::new(if ingest.is_some() {
            IngestState::Running
        } else {
            IngestState::Disabled
        }),
    });
    info!(%flight_addr, %http_addr, auth = auth.enabled(), tls = flight_cfg.flight_tls_cert.is_some(), ingest = ingest.is_some(), "serving");
    announce(format_args!("flight sql listening on {flight_addr}"));
    announce(format_args!("http listening on {http_addr}"));

    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let maintainer = match &ingest {
        Some((cfg, _)) if with_reflections => Some(analytics::spawn_maintainer(
            lake.clone(),
            reflections_follow(cfg, kafka.as_ref()),
            Arc::clone(&analytics),
            reflection_interval,
            rx.clone(),
        )),
        _ => None,
    };
    let flight_task = {
        let engine: Arc<dyn QueryEngine> = Arc::<DeltaEngine>::clone(&engine);
        let metrics = ops.engine.metrics_handle();
        let cfg = flight_cfg.clone();
        let rx = rx.clone();
        let tx = Arc::clone(&tx);
        async move {
            let r = flight::serve(flight_listener, engine, auth, metrics, &cfg, fired(rx)).await;
            if let Err(e) = &r {
                error!(error = %e, "flight sql server failed");
                // Stop the rest too.
                let _ = tx.send(true);
            }
            r
        }
    };
    let mut flight_task = tokio::spawn(flight_task);
    let http_task = tokio::spawn(http::serve(
        http_listener,
        Arc::clone(&ops),
        fired(rx.clone()),
    ));
    let ingest_task = tokio::spawn(run_loop(
        ingest,
        kafka,
        lake,
        Arc::clone(&ops),
        fired(rx.clone()),
    ));
    tokio::pin!(stop);
    let flight_result = tokio::select! {
        r = &mut flight_task => r,
        () = &mut stop => {
            info!("shutting down");
            let _ = tx.send(true);
            // Running queries end now (their clients are told why); a client that stopped
            // reading gets CLIENT_GRACE, then its call is closed.
            engine.shut_down();
            match tokio::time::timeout(CLIENT_GRACE, &mut flight_task).await {
                Ok(r) => r,
                Err(_) => {
                    warn!(grace = ?CLIENT_GRACE, "calls still open at shutdown; closing them");
                    flight_task.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    // The loop commits what it holds and stops at a batch boundary.
    if tokio::time::timeout(DRAIN, ingest_task).await.is_err() {
        warn!(drain = ?DRAIN, "the ingestion loop did not stop in time; its uncommitted batch is read again on the next start");
    }
    http_task.abort();
    let flight_result = flight_result
        .map_err(|e| Error::Config(format!("the flight sql server task failed: {e}")))?;
    refresher.abort();
    if let Some(m) = maintainer {
        // It stops between refreshes; a refresh cut short is repaired by the next one.
        let _ = tokio::time::timeout(Duration::from_secs(5), m).await;
    }
    flight_result?;
    announce(format_args!("stopped"));
    Ok(())
}

/// A line for whoever started `serve` (tests read the addresses from it). A closed stdout is
/// no reason to stop serving: the write error is ignored.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
