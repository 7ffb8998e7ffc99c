//! `FlightConfig`: the Flight SQL server's flags (each with its `FINLAKE_*` variable).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::source::simulate::parse_duration;

/// The default Flight SQL address. The port is not Dremio's 32010, so both run side by side.
pub const DEFAULT_FLIGHT_ADDR: &str = "127.0.0.1:50051";
/// The default health and metrics address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:50052";

/// Flight SQL server.
#[derive(Debug, Clone, Args)]
pub struct FlightConfig {
    /// Address of the Flight SQL server (`127.0.0.1:0`: any free port, printed on start).
    #[arg(long, env = "FINLAKE_FLIGHT_ADDR", default_value = DEFAULT_FLIGHT_ADDR)]
    pub flight_addr: SocketAddr,
    /// Address of the HTTP endpoint serving `/health` and `/metrics`.
    #[arg(long, env = "FINLAKE_HTTP_ADDR", default_value = DEFAULT_HTTP_ADDR)]
    pub http_addr: SocketAddr,
    /// User name clients authenticate with.
    #[arg(long, env = "FINLAKE_FLIGHT_USER", default_value = "finlake")]
    pub flight_user: String,
    /// Password clients authenticate with. Required unless --flight-no-auth.
    #[arg(long, env = "FINLAKE_FLIGHT_PASSWORD", hide_env_values = true)]
    pub flight_password: Option<String>,
    /// Accept every call without credentials (development on loopback only).
    #[arg(long, env = "FINLAKE_FLIGHT_NO_AUTH", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub flight_no_auth: bool,
    /// Key that signs bearer tokens; servers sharing it accept each other's tokens.
    /// Random per process when unset.
    #[arg(long, env = "FINLAKE_FLIGHT_TOKEN_SECRET", hide_env_values = true)]
    pub flight_token_secret: Option<String>,
    /// How long a bearer token stays valid.
    #[arg(long, env = "FINLAKE_FLIGHT_TOKEN_TTL", value_parser = parse_duration, default_value = "12h")]
    pub flight_token_ttl: Duration,
    /// PEM certificate chain: serve TLS (with --flight-tls-key).
    #[arg(long, env = "FINLAKE_FLIGHT_TLS_CERT", requires = "flight_tls_key")]
    pub flight_tls_cert: Option<PathBuf>,
    /// PEM private key of --flight-tls-cert.
    #[arg(long, env = "FINLAKE_FLIGHT_TLS_KEY", requires = "flight_tls_cert")]
    pub flight_tls_key: Option<PathBuf>,
    /// Longest a statement may run, planning to last row (0s: no limit).
    #[arg(long, env = "FINLAKE_FLIGHT_STATEMENT_TIMEOUT", value_parser = parse_duration, default_value = "5m")]
    pub flight_statement_timeout: Duration,
    /// Result cache size in bytes (0 disables it).
    #[arg(long, env = "FINLAKE_FLIGHT_CACHE_BYTES", default_value_t = 256 << 20)]
    pub flight_cache_bytes: u64,
    /// Largest single result the cache keeps, in bytes.
    #[arg(long, env = "FINLAKE_FLIGHT_CACHE_ENTRY_BYTES", default_value_t = 16 << 20)]
    pub flight_cache_entry_bytes: usize,
    /// Largest Arrow message DoGet sends; batches are split below it (gRPC's default limit
    /// is 4 MiB).
    #[arg(long, env = "FINLAKE_FLIGHT_MESSAGE_BYTES", default_value_t = 2 << 20)]
    pub flight_message_bytes: usize,
    /// How often new tables are looked for and every table refreshed in the background
    /// (queries refresh the tables they read anyway).
    #[arg(long, env = "FINLAKE_FLIGHT_REFRESH", value_parser = parse_duration, default_value = "2s")]
    pub flight_refresh: Duration,
}

impl FlightConfig {
    /// The statement timeout, `None` for no limit.
    pub fn statement_timeout(&self) -> Option<Duration> {
        (!self.flight_statement_timeout.is_zero()).then_some(self.flight_statement_timeout)
    }
}
