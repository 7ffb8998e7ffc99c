//! `FlightConfig`: the Flight SQL server's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default Flight SQL address. The port is not Dremio's 32010, so both run side by side.
pub const DEFAULT_FLIGHT_ADDR: &str = "127.0.0.1:50051";
/// The default health and metrics address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:50052";

/// Flight SQL server settings (the flags are `cli::args::FlightArgs`).
#[derive(Debug, Clone)]
pub struct FlightConfig {
    /// Address of the Flight SQL server (`127.0.0.1:0`: any free port, printed on start).
    pub flight_addr: SocketAddr,
    /// Address of the HTTP endpoint serving `/health` and `/metrics`.
    pub http_addr: SocketAddr,
    /// User name clients authenticate with.
    pub flight_user: String,
    /// Password clients authenticate with. Required unless --flight-no-auth.
    pub flight_password: Option<String>,
    /// Accept every call without credentials (development on loopback only).
    pub flight_no_auth: bool,
    /// Key that signs bearer tokens; servers sharing it accept each other's tokens.
    /// Random per process when unset.
    pub flight_token_secret: Option<String>,
    /// How long a bearer token stays valid.
    pub flight_token_ttl: Duration,
    /// PEM certificate chain: serve TLS (with --flight-tls-key).
    pub flight_tls_cert: Option<PathBuf>,
    /// PEM private key of --flight-tls-cert.
    pub flight_tls_key: Option<PathBuf>,
    /// Longest a statement may run, planning to last row (0s: no limit).
    pub flight_statement_timeout: Duration,
    /// Result cache size in bytes (0 disables it).
    pub flight_cache_bytes: u64,
    /// Largest single result the cache keeps, in bytes.
    pub flight_cache_entry_bytes: usize,
    /// Largest Arrow message DoGet sends; batches are split below it (gRPC's default limit
    /// is 4 MiB).
    pub flight_message_bytes: usize,
    /// How often new tables are looked for and every table refreshed in the background
    /// (queries refresh the tables they read anyway).
    pub flight_refresh: Duration,
    /// Memory every running query shares, in bytes.
    pub flight_memory_limit: u64,
    /// Directory of the queries' spill files (the OS temporary directory when unset).
    pub flight_spill_dir: Option<PathBuf>,
    /// Most bytes of spill files at once.
    pub flight_spill_bytes: u64,
    /// Queries running at once; more wait up to `flight_queue_wait`, then are refused.
    pub flight_max_queries: usize,
    pub flight_queue_wait: Duration,
}

impl FlightConfig {
    /// The statement timeout, `None` for no limit.
    pub fn statement_timeout(&self) -> Option<Duration> {
        (!self.flight_statement_timeout.is_zero()).then_some(self.flight_statement_timeout)
    }
}
