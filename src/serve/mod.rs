//! `finlake serve`: the ingestion loop in the background, the Flight SQL server in front,
//! and a health/metrics endpoint beside it, until SIGINT/SIGTERM.
//!
//! On start it prints `flight sql listening on ADDR` and `http listening on ADDR` on stdout
//! (with `--flight-addr 127.0.0.1:0` the OS picks the port). A failing ingestion loop does
//! not stop the server: `/health` turns 503 and reports the error, queries keep reading the
//! lake as it is. Shutdown stops accepting calls, lets running ones finish (up to
//! [`DRAIN`]) and stops the loop at a batch boundary (its position is committed with its
//! data, so nothing is lost).
//!
//! The engine serves the views of `sql/` (`silver.*`, `gold.*`) beside the lake tables, with
//! reflections substituted into matching queries; while the embedded loop runs, a task keeps
//! the reflections at its applied position and the loop scores transactions for fraud
//! (`features.fraud_alerts`).

pub mod http;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::cli::{IngestArgs, IngestSource, SourceConfig};
use crate::engine::keys::KeyCatalog;
use crate::engine::{self, DeltaEngine, EngineOptions, QueryEngine};
use crate::flight::{self, FlightConfig};
use crate::ingest::binlog;
use crate::ingest::mask::{self, Masker};
use crate::lake::{self, Lake};
use crate::pipeline;
use crate::reflections::{self, Analytics};
use http::{IngestState, Ops};

/// Longest the server waits for running calls and the loop after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(15);

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
    Reflections(Box<reflections::Error>),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<reflections::Error> for Error {
    fn from(e: reflections::Error) -> Self {
        Error::Reflections(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub ingest: IngestArgs,
    #[command(flatten)]
    pub flight: FlightConfig,
    /// Serve the lake only; do not run the ingestion loop.
    #[arg(long, env = "FINLAKE_NO_INGEST", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_ingest: bool,
    /// Do not substitute reflections into queries, nor maintain them (the views are still
    /// served, computed from bronze). Per statement: the `finlake-reflections: off` header.
    #[arg(long, env = "FINLAKE_NO_REFLECTIONS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_reflections: bool,
    /// How often the reflections are checked against bronze when they are current.
    #[arg(long, env = "FINLAKE_REFLECTION_INTERVAL", value_parser = crate::source::simulate::parse_duration, default_value = "500ms")]
    pub reflection_interval: Duration,
}

/// Resolves when the watch turns true.
async fn fired(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Runs until `stop` resolves.
pub async fn run(
    args: ServeArgs,
    source: &SourceConfig,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    // Refuse to start without credentials before touching anything.
    let auth = Arc::new(flight::authenticator(&args.flight)?);
    let lake = Lake::open(
        &args.ingest.lake.lake_uri,
        args.ingest.lake.storage_options().into_iter().collect(),
    )?;
    let mut keys = KeyCatalog::from_source_ddl();
    if !args.no_ingest && args.ingest.ingest_source == IngestSource::Kafka {
        return Err(Error::Config(
            "finlake serve runs the embedded binlog loop; for the Kafka source run \
             `finlake ingest --source kafka` beside `finlake serve --no-ingest`"
                .into(),
        ));
    }
    let ingest = if args.no_ingest {
        None
    } else {
        let url = source.cdc_url().map_err(|e| Error::Config(e.to_string()))?;
        let masker = Masker::from_env()?;
        match binlog::table_schemas(&url, &args.ingest.tables).await {
            Ok(schemas) => keys = keys.with_schemas(&schemas),
            Err(e) => warn!(error = %e, "source schemas unavailable; primary keys from the DDL"),
        }
        let mut cfg = args.ingest.ingest_config(url);
        cfg.fraud_features = args.ingest.fraud_features.unwrap_or(true);
        Some((cfg, masker))
    };
    let analytics = Analytics::new(lake.clone(), !args.no_reflections).await?;
    let opts = EngineOptions {
        refresh_interval: args.flight.flight_refresh,
        statement_timeout: args.flight.statement_timeout(),
        cache_bytes: args.flight.flight_cache_bytes,
        cache_entry_bytes: args.flight.flight_cache_entry_bytes,
        keys,
        extension: Some(Arc::clone(&analytics) as Arc<dyn engine::Extension>),
        ..EngineOptions::default()
    };
    let engine = DeltaEngine::open(&lake, opts).await?;
    let refresher = engine.spawn_refresher();

    let flight_listener = TcpListener::bind(args.flight.flight_addr).await?;
    let flight_addr = flight_listener.local_addr()?;
    let http_listener = TcpListener::bind(args.flight.http_addr).await?;
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
    info!(%flight_addr, %http_addr, auth = auth.enabled(), tls = args.flight.flight_tls_cert.is_some(), ingest = ingest.is_some(), "serving");
    println!("flight sql listening on {flight_addr}");
    println!("http listening on {http_addr}");

    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let maintainer = match &ingest {
        Some((cfg, _)) if !args.no_reflections => Some(reflections::spawn_maintainer(
            lake.clone(),
            cfg.app_id.clone(),
            Arc::clone(&analytics),
            args.reflection_interval,
            rx.clone(),
        )),
        _ => None,
    };
    let flight_task = {
        let engine: Arc<dyn QueryEngine> = Arc::<DeltaEngine>::clone(&engine);
        let metrics = ops.engine.metrics_handle();
        let cfg = args.flight.clone();
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
    let http_task = http::serve(http_listener, Arc::clone(&ops), fired(rx.clone()));
    let ingest_task = {
        let ops = Arc::clone(&ops);
        let rx = rx.clone();
        async move {
            let Some((cfg, masker)) = ingest else {
                return;
            };
            match pipeline::run(&cfg, &lake, &masker, fired(rx)).await {
                Ok(report) => {
                    info!(
                        events = report.events,
                        commits = report.commits,
                        "ingestion stopped"
                    );
                    ops.set_ingest(IngestState::Stopped);
                }
                Err(e) => {
                    error!(error = %e, "ingestion failed; still serving the lake as it is");
                    ops.set_ingest(IngestState::Failed(e.to_string()));
                }
            }
        }
    };
    let all = async { tokio::join!(flight_task, http_task, ingest_task) };
    tokio::pin!(all);
    tokio::pin!(stop);
    let flight_result = tokio::select! {
        (f, (), ()) = &mut all => f,
        () = &mut stop => {
            info!("shutting down");
            let _ = tx.send(true);
            match tokio::time::timeout(DRAIN, &mut all).await {
                Ok((f, (), ())) => f,
                Err(_) => {
                    warn!(drain = ?DRAIN, "calls still running at shutdown; closing them");
                    Ok(())
                }
            }
        }
    };
    refresher.abort();
    if let Some(m) = maintainer {
        // It stops between refreshes; a refresh cut short is repaired by the next one.
        let _ = tokio::time::timeout(Duration::from_secs(5), m).await;
    }
    flight_result?;
    println!("stopped");
    Ok(())
}
