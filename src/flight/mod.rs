//! The Arrow Flight SQL front end (arrow-flight + tonic) over any [`QueryEngine`].
//!
//! - [`service`]: the `FlightSqlService` implementation;
//! - [`handle`]: stateless prepared-statement handles and tickets;
//! - [`auth`]: handshake, bearer tokens, the guard layer every call passes;
//! - [`sql_info`], [`metadata`]: GetSqlInfo / GetXdbcTypeInfo and the catalog commands;
//! - [`config`]: `FlightConfig`, the settings.

pub mod auth;
pub mod config;
pub mod handle;
pub mod metadata;
pub mod service;
pub mod sql_info;
mod throttle;

use std::future::Future;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tracing::{info, warn};

pub use auth::{Authenticator, Credentials};
pub use config::FlightConfig;
pub use service::FinlakeFlightSql;

use crate::engine::{Metrics, QueryEngine};

/// Server errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("flight: {0}")]
    Flight(#[from] arrow_flight::error::FlightError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Credentials from the configuration. Without a password the server refuses to start,
/// unless `--flight-no-auth` says to accept everyone.
pub fn authenticator(cfg: &FlightConfig) -> Result<Authenticator> {
    let credentials = match (&cfg.flight_password, cfg.flight_no_auth) {
        (_, true) => {
            if !cfg.flight_addr.ip().is_loopback() {
                warn!(addr = %cfg.flight_addr, "authentication disabled on a non-loopback address");
            }
            None
        }
        (Some(p), false) if !p.is_empty() => Some(Credentials {
            user: cfg.flight_user.clone(),
            password: p.clone(),
        }),
        _ => {
            return Err(Error::Config(
                "no Flight SQL password: set FINLAKE_FLIGHT_PASSWORD (user: FINLAKE_FLIGHT_USER, \
                 default `finlake`), or pass --flight-no-auth to serve without authentication"
                    .into(),
            ));
        }
    };
    Ok(Authenticator::new(
        credentials,
        cfg.flight_token_secret.as_deref(),
        cfg.flight_token_ttl,
    ))
}

/// Serves Flight SQL on `listener` until `shutdown` resolves, then finishes the calls in
/// flight (tonic's graceful shutdown).
pub async fn serve(
    listener: TcpListener,
    engine: Arc<dyn QueryEngine>,
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    cfg: &FlightConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let service = FinlakeFlightSql::new(engine, Arc::clone(&auth), cfg.flight_message_bytes)?;
    let service = FlightServiceServer::new(service)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(usize::MAX);
    let mut builder = Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)));
    if let (Some(cert), Some(key)) = (&cfg.flight_tls_cert, &cfg.flight_tls_key) {
        // rustls has two crypto back ends compiled in here; pick ring explicitly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))
        };
        let identity = Identity::from_pem(read(cert)?, read(key)?);
        builder = builder.tls_config(ServerTlsConfig::new().identity(identity))?;
        info!(cert = %cert.display(), "TLS enabled");
    }
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    builder
        .layer(auth::GuardLayer::new(auth, metrics))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
