//! The configuration blocks of the command line, flattened into the commands that share them
//! (each flag with its `FINLAKE_*` variable). Library modules take plain config structs;
//! these turn into them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{Error, Result};
use crate::flight::FlightConfig;
use crate::flight::config::{DEFAULT_FLIGHT_ADDR, DEFAULT_HTTP_ADDR};
use crate::lake::{BINLOG_APP_ID, KAFKA_APP_ID, Lake, TABLES};
use crate::pipeline::kafka::{KafkaConfig, KafkaSettings};
use crate::pipeline::{self, IngestConfig};
use crate::serve::ServeConfig;
use crate::source::server::LocalServer;
use crate::util::{MemorySize, parse_duration, parse_memory_size};

/// Logging.
#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `warn,finlake=debug`).
    #[arg(
        long,
        env = "FINLAKE_LOG",
        default_value = "warn,finlake=info",
        global = true
    )]
    pub log_filter: String,
    /// Log format.
    #[arg(long, env = "FINLAKE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Never draw progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long, env = "FINLAKE_NO_PROGRESS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the source database is.
#[derive(Debug, Clone, Args)]
pub struct SourceConfig {
    /// Source database, `mysql://user:password@host:port/database`. Defaults to the private
    /// server that `finlake db start` runs.
    #[arg(
        long,
        env = "FINLAKE_SOURCE_URL",
        global = true,
        hide_env_values = true
    )]
    pub source_url: Option<String>,
    /// Directory for local state: the private database server's files.
    #[arg(
        long,
        env = "FINLAKE_STATE_DIR",
        default_value = ".finlake",
        global = true
    )]
    pub state_dir: PathBuf,
}

impl SourceConfig {
    /// The URL for change-data capture: the flag, else the private server's least-privilege
    /// CDC account.
    pub fn cdc_url(&self) -> Result<String> {
        if let Some(url) = &self.source_url {
            return Ok(url.clone());
        }
        match LocalServer::new(&self.state_dir)?.state()? {
            Some(state) => Ok(state.cdc_url()),
            None => self.url(),
        }
    }

    /// The source URL: the flag, else the private server's.
    pub fn url(&self) -> Result<String> {
        if let Some(url) = &self.source_url {
            return Ok(url.clone());
        }
        match LocalServer::new(&self.state_dir)?.state()? {
            Some(state) => Ok(state.url()),
            None => Err(Error::Usage(format!(
                "no source database: set FINLAKE_SOURCE_URL (or --source-url), or run \
                 `finlake db start` to create a private one under {}",
                self.state_dir.display()
            ))),
        }
    }
}

/// Where the lake is: a local directory or `s3://bucket/prefix`.
#[derive(Debug, Clone, Args)]
pub struct LakeConfig {
    /// Lake root: a local path, or `s3://bucket/prefix`.
    #[arg(long, env = "FINLAKE_LAKE_URI", default_value = "./lakehouse")]
    pub lake_uri: String,
    /// S3 endpoint for MinIO or another S3-compatible store, e.g. `http://127.0.0.1:9000`.
    #[arg(long, env = "FINLAKE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "FINLAKE_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    #[arg(long, env = "FINLAKE_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    #[arg(long, env = "FINLAKE_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the endpoint (local MinIO).
    #[arg(long, env = "FINLAKE_S3_ALLOW_HTTP", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub s3_allow_http: bool,
}

impl LakeConfig {
    /// Opens the lake.
    pub fn open(&self) -> Result<Lake> {
        Ok(
            Lake::open(&self.lake_uri, self.storage_options().into_iter().collect())
                .map_err(pipeline::Error::from)?,
        )
    }

    /// True for object storage.
    pub fn is_s3(&self) -> bool {
        self.lake_uri.starts_with("s3://") || self.lake_uri.starts_with("s3a://")
    }

    /// Options for object_store / delta-rs (`aws_*` keys). Conditional PUT (etag) makes
    /// concurrent commits safe on S3 and MinIO.
    pub fn storage_options(&self) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        if !self.is_s3() {
            return o;
        }
        o.insert("aws_region".into(), self.s3_region.clone());
        o.insert("aws_conditional_put".into(), "etag".into());
        if let Some(e) = &self.s3_endpoint {
            o.insert("aws_endpoint".into(), e.clone());
        }
        if let Some(k) = &self.s3_access_key_id {
            o.insert("aws_access_key_id".into(), k.clone());
        }
        if let Some(s) = &self.s3_secret_access_key {
            o.insert("aws_secret_access_key".into(), s.clone());
        }
        if self.s3_allow_http {
            o.insert("aws_allow_http".into(), "true".into());
        }
        o
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub lake: LakeConfig,
    /// Snapshot if needed, apply everything committed so far, then exit 0.
    #[arg(long, env = "FINLAKE_UNTIL_CAUGHT_UP", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub until_caught_up: bool,
    /// Start over from a fresh snapshot (e.g. after the binlog position was purged).
    #[arg(long, env = "FINLAKE_RESNAPSHOT", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub resnapshot: bool,
    /// Replica server id used to read the binlog; unique per running ingest.
    #[arg(long, env = "FINLAKE_SERVER_ID", default_value_t = 6401)]
    pub server_id: u32,
    /// Tables to capture.
    #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = TABLES.map(String::from))]
    pub tables: Vec<String>,
    /// Most events per micro-batch.
    #[arg(long, env = "FINLAKE_BATCH_EVENTS", default_value_t = 50_000)]
    pub max_batch_events: usize,
    /// Longest wait for a micro-batch to fill.
    #[arg(long, env = "FINLAKE_BATCH_WAIT", value_parser = parse_duration, default_value = "200ms")]
    pub max_wait: Duration,
    /// How often to append lag and throughput to the lake's `_ingest_status` table.
    #[arg(long, env = "FINLAKE_STATUS_INTERVAL", value_parser = parse_duration, default_value = "5s")]
    pub status_interval: Duration,
    /// Where changes come from: the binlog (embedded) or Debezium's topics in Kafka.
    #[arg(long = "source", env = "FINLAKE_INGEST_SOURCE", value_enum, default_value_t = IngestSource::Binlog)]
    pub ingest_source: IngestSource,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Score transactions for fraud as they arrive, into the lake's `features/fraud_alerts`
    /// (`--fraud-features=false` to turn off). Default: on for `serve`, off for `ingest`.
    #[arg(long, env = "FINLAKE_FRAUD_FEATURES", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub fraud_features: Option<bool>,
}

impl IngestArgs {
    /// The binlog loop's configuration (shared by `ingest` and `serve`).
    pub fn ingest_config(&self, source_url: String) -> IngestConfig {
        IngestConfig {
            source_url,
            tables: self.tables.clone(),
            server_id: self.server_id,
            app_id: BINLOG_APP_ID.into(),
            max_batch_events: self.max_batch_events,
            max_wait: self.max_wait,
            until_caught_up: self.until_caught_up,
            resnapshot: self.resnapshot,
            status_interval: self.status_interval,
            fraud_features: self.fraud_features.unwrap_or(false),
        }
    }

    /// The Kafka loop's configuration.
    pub fn kafka_config(&self, source_url: String) -> KafkaConfig {
        KafkaConfig {
            settings: self.kafka.settings(),
            source_url,
            tables: self.tables.clone(),
            max_batch_events: self.max_batch_events,
            max_wait: self.max_wait,
            until_caught_up: self.until_caught_up,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IngestSource {
    Binlog,
    Kafka,
}

/// Settings of the Kafka source (`finlake ingest --source kafka`).
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers (host:port,...).
    #[arg(long, env = "FINLAKE_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Debezium's topic.prefix: tables are read from `<prefix>.<database>.<table>`.
    #[arg(long, env = "FINLAKE_KAFKA_TOPIC_PREFIX", default_value = "finance")]
    pub kafka_topic_prefix: String,
    /// Consumer group; processes with the same group share the topics.
    #[arg(long, env = "FINLAKE_KAFKA_GROUP", default_value = "finlake-ingest")]
    pub kafka_group: String,
    /// Names this writer in the Delta application transactions (keep it when scaling out).
    #[arg(long, env = "FINLAKE_KAFKA_APP_ID", default_value = KAFKA_APP_ID)]
    pub kafka_app_id: String,
}

impl KafkaArgs {
    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings {
            kafka_brokers: self.kafka_brokers.clone(),
            kafka_topic_prefix: self.kafka_topic_prefix.clone(),
            kafka_group: self.kafka_group.clone(),
            kafka_app_id: self.kafka_app_id.clone(),
        }
    }
}

/// Flight SQL server.
#[derive(Debug, Clone, Args)]
pub struct FlightArgs {
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
    /// How often new tables are looked for and every table brought to its latest commit in
    /// the background. Queries never list a Delta log: the embedded loop's commits are seen
    /// at once, other writers' (a Kafka loop elsewhere, the Spark job) within this interval.
    #[arg(long, env = "FINLAKE_FLIGHT_REFRESH", value_parser = parse_duration, default_value = "1s")]
    pub flight_refresh: Duration,
    /// Memory all running queries share (bytes like 2GiB, or a share of this machine's
    /// memory like 25%); sorts, aggregations and joins spill to disk first, a query that
    /// still needs more fails with an error naming this setting. Ingestion is not counted.
    #[arg(long, env = "FINLAKE_FLIGHT_MEMORY_LIMIT", value_parser = parse_memory_size, default_value = "25%")]
    pub flight_memory_limit: MemorySize,
    /// Directory of the queries' spill files (default: the OS temporary directory).
    #[arg(long, env = "FINLAKE_FLIGHT_SPILL_DIR")]
    pub flight_spill_dir: Option<PathBuf>,
    /// Most disk the queries' spill files may take at once (bytes like 4GiB).
    #[arg(long, env = "FINLAKE_FLIGHT_SPILL_BYTES", value_parser = parse_memory_size, default_value = "4GiB")]
    pub flight_spill_bytes: MemorySize,
    /// Queries that run at once; further ones wait up to --flight-queue-wait for a slot,
    /// then are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "FINLAKE_FLIGHT_MAX_QUERIES", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub flight_max_queries: u16,
    /// How long a query waits for a free slot before it is refused.
    #[arg(long, env = "FINLAKE_FLIGHT_QUEUE_WAIT", value_parser = parse_duration, default_value = "10s")]
    pub flight_queue_wait: Duration,
}

impl FlightArgs {
    pub fn config(&self) -> FlightConfig {
        FlightConfig {
            flight_addr: self.flight_addr,
            http_addr: self.http_addr,
            flight_user: self.flight_user.clone(),
            flight_password: self.flight_password.clone(),
            flight_no_auth: self.flight_no_auth,
            flight_token_secret: self.flight_token_secret.clone(),
            flight_token_ttl: self.flight_token_ttl,
            flight_tls_cert: self.flight_tls_cert.clone(),
            flight_tls_key: self.flight_tls_key.clone(),
            flight_statement_timeout: self.flight_statement_timeout,
            flight_cache_bytes: self.flight_cache_bytes,
            flight_cache_entry_bytes: self.flight_cache_entry_bytes,
            flight_message_bytes: self.flight_message_bytes,
            flight_refresh: self.flight_refresh,
            flight_memory_limit: self
                .flight_memory_limit
                .resolve(crate::util::system_memory_bytes()),
            flight_spill_dir: self.flight_spill_dir.clone(),
            flight_spill_bytes: self
                .flight_spill_bytes
                .resolve(crate::util::system_memory_bytes()),
            flight_max_queries: usize::from(self.flight_max_queries),
            flight_queue_wait: self.flight_queue_wait,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub ingest: IngestArgs,
    #[command(flatten)]
    pub flight: FlightArgs,
    /// Serve the lake only; do not run the ingestion loop.
    #[arg(long, env = "FINLAKE_NO_INGEST", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_ingest: bool,
    /// Do not substitute reflections into queries, nor maintain them (the views are still
    /// served, computed from bronze). Per statement: the `finlake-reflections: off` header.
    #[arg(long, env = "FINLAKE_NO_REFLECTIONS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_reflections: bool,
    /// How often the reflections are checked against bronze when they are current.
    #[arg(long, env = "FINLAKE_REFLECTION_INTERVAL", value_parser = parse_duration, default_value = "500ms")]
    pub reflection_interval: Duration,
}

impl ServeArgs {
    /// What `serve` runs: the embedded loop's source URL is resolved now (an error is
    /// reported by `serve` in its turn, after the credentials and the lake are checked).
    pub fn serve_config(&self, source: &SourceConfig) -> ServeConfig {
        let ingest = (!self.no_ingest).then(|| {
            source
                .cdc_url()
                .map(|url| {
                    let mut cfg = self.ingest.ingest_config(url);
                    cfg.fraud_features = self.ingest.fraud_features.unwrap_or(true);
                    cfg
                })
                .map_err(|e| e.to_string())
        });
        let kafka = match (&ingest, self.ingest.ingest_source) {
            (Some(Ok(cfg)), IngestSource::Kafka) => {
                Some(self.ingest.kafka_config(cfg.source_url.clone()))
            }
            _ => None,
        };
        ServeConfig {
            lake_uri: self.ingest.lake.lake_uri.clone(),
            storage_options: self.ingest.lake.storage_options().into_iter().collect(),
            flight: self.flight.config(),
            ingest,
            kafka,
            reflections: !self.no_reflections,
            reflection_interval: self.reflection_interval,
        }
    }
}
