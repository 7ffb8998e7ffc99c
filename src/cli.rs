//! The `finlake` command line. Every flag can also be set with a `FINLAKE_*` environment
//! variable; configuration comes in flattened blocks per subsystem.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use crate::data::export;
use crate::data::generate::{GenConfig, Generator};
use crate::data::kaggle;
use crate::ingest::kafka::{self, KafkaConfig, KafkaSettings};
use crate::ingest::mask::Masker;
use crate::lake::Lake;
use crate::pipeline::{self, IngestConfig};
use crate::source::server::{DbSettings, LocalServer};
use crate::source::simulate::{self, SimulateConfig, parse_duration};
use crate::source::{self, fill, redact_url, schema};
use crate::verify;

/// Errors of a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error(transparent)]
    Kaggle(#[from] kaggle::Error),
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    #[error(transparent)]
    Kafka(Box<kafka::Error>),
    #[error(transparent)]
    Serve(#[from] crate::serve::Error),
    #[error("reflections: {0}")]
    Reflections(Box<crate::reflections::Error>),
    #[error("{0}")]
    Usage(String),
}

impl From<crate::reflections::Error> for Error {
    fn from(e: crate::reflections::Error) -> Self {
        Error::Reflections(Box::new(e))
    }
}

impl From<kafka::Error> for Error {
    fn from(e: kafka::Error) -> Self {
        Error::Kafka(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// finlake: MySQL change data capture into Delta Lake, served over Arrow Flight SQL.
#[derive(Debug, Parser)]
#[command(name = "finlake", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogConfig,
    #[command(flatten)]
    pub source: SourceConfig,
    #[command(subcommand)]
    pub command: Command,
}

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a private MariaDB/MySQL source database under the state directory.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Generate synthetic data with the public dataset's shape and statistics.
    Datagen(DatagenArgs),
    /// Load the public dataset's five files into the source database.
    LoadKaggle(LoadKaggleArgs),
    /// Run a live OLTP workload against the source database.
    Simulate(SimulateArgs),
    /// Capture source changes into the lake's bronze tables, exactly once.
    Ingest(IngestArgs),
    /// Serve the lake over Arrow Flight SQL, with the ingestion loop in the background.
    Serve(Box<crate::serve::ServeArgs>),
    /// Compare source and lake table by table; exits 1 on any difference.
    Verify {
        #[command(flatten)]
        lake: LakeConfig,
        /// Tables to compare.
        #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = pipeline::TABLES.map(String::from))]
        tables: Vec<String>,
    },
    /// Per table: applied position, lag, events/s and dead letters (from the lake).
    Status {
        #[command(flatten)]
        lake: LakeConfig,
        /// Tables to report.
        #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = pipeline::TABLES.map(String::from))]
        tables: Vec<String>,
    },
    /// Compact, checkpoint and vacuum the lake's tables.
    Maintain(MaintainArgs),
    /// Print the resolved configuration (secrets hidden).
    Config {
        #[command(flatten)]
        lake: LakeConfig,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Start the server (idempotent), create the database, accounts and schema.
    Start(DbSettings),
    /// Stop the server.
    Stop,
    /// Show whether it runs; exits 1 when it does not.
    Status,
    /// Print its application URL (for FINLAKE_SOURCE_URL).
    Url {
        /// Print the least-privilege CDC account's URL instead.
        #[arg(long)]
        cdc: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Into the source database.
    Db,
    /// The public dataset's five files, into --out.
    Kaggle,
}

#[derive(Debug, Args)]
pub struct DatagenArgs {
    /// 1.0 is the public dataset's size (13,305,915 transactions, 2,000 users, 6,146 cards).
    #[arg(long, env = "FINLAKE_SCALE", default_value_t = 0.01)]
    pub scale: f64,
    /// Random seed: the same seed and scale give the same data.
    #[arg(long, env = "FINLAKE_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Where to write.
    #[arg(long, env = "FINLAKE_DATAGEN_FORMAT", value_enum, default_value_t = OutputFormat::Db)]
    pub format: OutputFormat,
    /// Output directory for `--format kaggle`.
    #[arg(long, env = "FINLAKE_DATAGEN_OUT", required_if_eq("format", "kaggle"))]
    pub out: Option<PathBuf>,
    /// Delete rows already in the source tables first (otherwise they must be empty).
    #[arg(long, env = "FINLAKE_REPLACE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct LoadKaggleArgs {
    /// Directory with transactions_data.csv, users_data.csv, cards_data.csv, mcc_codes.json
    /// and train_fraud_labels.json.
    #[arg(env = "FINLAKE_KAGGLE_DIR")]
    pub dir: PathBuf,
    /// Delete rows already in the source tables first (otherwise they must be empty).
    #[arg(long, env = "FINLAKE_REPLACE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub replace: bool,
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
    #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = pipeline::TABLES.map(String::from))]
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
    pub kafka: KafkaSettings,
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
            app_id: "finlake-binlog".into(),
            max_batch_events: self.max_batch_events,
            max_wait: self.max_wait,
            until_caught_up: self.until_caught_up,
            resnapshot: self.resnapshot,
            status_interval: self.status_interval,
            fraud_features: self.fraud_features.unwrap_or(false),
        }
    }
}

#[derive(Debug, Args)]
pub struct MaintainArgs {
    #[command(flatten)]
    pub lake: LakeConfig,
    /// Source tables whose bronze and history tables to maintain (the loop's own tables
    /// `_dead_letters` and `_ingest_status` are always included).
    #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = pipeline::TABLES.map(String::from))]
    pub tables: Vec<String>,
    /// Target size of compacted files, in MiB.
    #[arg(long, env = "FINLAKE_TARGET_FILE_MB", default_value_t = 128)]
    pub target_file_mb: u64,
    /// Keep files removed less than this long ago (at least 1h: longer than any query runs).
    #[arg(long, env = "FINLAKE_VACUUM_RETENTION", value_parser = parse_duration, default_value = "168h")]
    pub retention: Duration,
    /// Skip compaction.
    #[arg(long, env = "FINLAKE_NO_COMPACT", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_compact: bool,
    /// Skip vacuum.
    #[arg(long, env = "FINLAKE_NO_VACUUM", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_vacuum: bool,
    /// Also bring the reflections up to the binlog loop's applied position (what `serve`
    /// does continuously), building them when missing.
    #[arg(long, env = "FINLAKE_MAINTAIN_REFLECTIONS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub reflections: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IngestSource {
    Binlog,
    Kafka,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Target operations per second.
    #[arg(long, env = "FINLAKE_SIM_RATE", default_value_t = 100.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 30s, 5m); runs until Ctrl-C when unset.
    #[arg(long, env = "FINLAKE_SIM_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent connections.
    #[arg(long, env = "FINLAKE_SIM_CONNECTIONS", default_value_t = 8)]
    pub connections: usize,
    /// How long after a transaction its fraud label arrives.
    #[arg(long, env = "FINLAKE_SIM_LABEL_DELAY", value_parser = parse_duration, default_value = "2m")]
    pub label_delay: Duration,
    #[arg(long, env = "FINLAKE_SEED", default_value_t = 42)]
    pub seed: u64,
}

fn open_lake(cfg: &LakeConfig) -> Result<Lake> {
    Ok(
        Lake::open(&cfg.lake_uri, cfg.storage_options().into_iter().collect())
            .map_err(pipeline::Error::from)?,
    )
}

/// Sets up logging to stderr.
pub fn init_logging(cfg: &LogConfig) {
    // delta-rs warns about a missing merge metric on every MERGE, and the Delta kernel logs
    // an error for every table opened before its first commit (which callers handle, e.g.
    // reflections not built yet); keep both quiet unless asked.
    let directives = if cfg.log_filter.contains("deltalake") || cfg.log_filter.contains("kernel") {
        cfg.log_filter.clone()
    } else {
        format!(
            "{},deltalake_core::operations::merge=error,buoyant_kernel::snapshot::builder=off",
            cfg.log_filter
        )
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn bar(total: u64, no_progress: bool) -> ProgressBar {
    if no_progress {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>13} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta}",
    ) {
        b.set_style(style.progress_chars("=> "));
    }
    b
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let source = &cli.source;
    let no_progress = cli.log.no_progress;
    match cli.command {
        Command::Db { action } => {
            let server = LocalServer::new(&source.state_dir)?;
            match action {
                DbAction::Start(settings) => {
                    let state = server.start(&settings).await?;
                    println!(
                        "source database running on 127.0.0.1:{} ({})",
                        state.port,
                        server.dir().display()
                    );
                    println!("FINLAKE_SOURCE_URL={}", state.url());
                }
                DbAction::Stop => {
                    let stopped = server.stop().await?;
                    println!("{}", if stopped { "stopped" } else { "not running" });
                }
                DbAction::Status => {
                    let status = server.status().await?;
                    match (&status.state, status.running) {
                        (Some(state), true) => {
                            println!(
                                "running: {} on 127.0.0.1:{}, pid {}, data in {}",
                                status.version.as_deref().unwrap_or("?"),
                                state.port,
                                status.pid.unwrap_or(0),
                                server.dir().display()
                            );
                            let mut conn = source::connect(&state.url()).await?;
                            for (table, rows) in schema::row_counts(&mut conn).await? {
                                println!("  {table:<13} {rows:>12} rows");
                            }
                            conn.disconnect().await.map_err(source::Error::from)?;
                        }
                        _ => {
                            println!("not running ({})", server.dir().display());
                            return Ok(ExitCode::from(1));
                        }
                    }
                }
                DbAction::Url { cdc } => match server.state()? {
                    Some(s) => println!("{}", if cdc { s.cdc_url() } else { s.url() }),
                    None => {
                        return Err(Error::Usage(
                            "the private database was never started: run `finlake db start`".into(),
                        ));
                    }
                },
            }
        }
        Command::Datagen(args) => {
            if !(args.scale > 0.0 && args.scale <= 10.0) {
                return Err(Error::Usage(format!(
                    "--scale must be in (0, 10], got {}",
                    args.scale
                )));
            }
            let cfg = GenConfig {
                scale: args.scale,
                seed: args.seed,
            };
            let generator = Arc::new(Generator::new(cfg));
            info!(
                scale = cfg.scale,
                seed = cfg.seed,
                users = cfg.users(),
                cards = cfg.cards(),
                transactions = cfg.transactions(),
                "generating"
            );
            match args.format {
                OutputFormat::Kaggle => {
                    let out = args.out.ok_or_else(|| {
                        Error::Usage("--out is required with --format kaggle".into())
                    })?;
                    let progress = bar(cfg.transactions(), no_progress);
                    progress.set_prefix("transactions");
                    let started = std::time::Instant::now();
                    let counts = tokio::task::spawn_blocking({
                        let (g, out, p) = (Arc::clone(&generator), out.clone(), progress.clone());
                        move || export::write_kaggle(&g, &out, &p)
                    })
                    .await
                    .map_err(|e| Error::Usage(format!("generator panicked: {e}")))??;
                    progress.finish_and_clear();
                    println!(
                        "wrote {} users, {} cards, {} MCC codes, {} transactions, {} fraud labels to {} in {:.1} s",
                        counts.users,
                        counts.cards,
                        counts.mcc_codes,
                        counts.transactions,
                        counts.fraud_labels,
                        out.display(),
                        started.elapsed().as_secs_f64()
                    );
                }
                OutputFormat::Db => {
                    let url = source.url()?;
                    info!(source = %redact_url(&url), "loading into the source database");
                    let report =
                        fill::load_generated(&url, generator, args.replace, !no_progress).await?;
                    println!("{report}");
                }
            }
        }
        Command::LoadKaggle(args) => {
            let url = source.url()?;
            let report = fill::load_kaggle(&url, &args.dir, args.replace, !no_progress).await?;
            println!("{report}");
        }
        Command::Simulate(args) => {
            if args.rate.is_nan() || args.rate <= 0.0 {
                return Err(Error::Usage("--rate must be positive".into()));
            }
            let url = source.url()?;
            let cfg = SimulateConfig {
                rate: args.rate,
                duration: args.duration,
                connections: args.connections,
                label_delay: args.label_delay,
                seed: args.seed,
            };
            let report = simulate::run(&url, &cfg, shutdown_signal()).await?;
            println!("{report}");
        }
        Command::Ingest(args) => {
            let url = source.cdc_url()?;
            let lake = Lake::open(
                &args.lake.lake_uri,
                args.lake.storage_options().into_iter().collect(),
            )
            .map_err(pipeline::Error::from)?;
            let masker = Masker::from_env().map_err(pipeline::Error::from)?;
            if args.ingest_source == IngestSource::Kafka {
                let cfg = KafkaConfig {
                    settings: args.kafka,
                    source_url: url,
                    tables: args.tables,
                    max_batch_events: args.max_batch_events,
                    max_wait: args.max_wait,
                    until_caught_up: args.until_caught_up,
                };
                let r = kafka::run(&cfg, &lake, &masker, shutdown_signal()).await?;
                println!(
                    "applied {} events from {} messages on {} partitions ({} table commits, {} dead letters) in {:.1} s",
                    r.events, r.messages, r.partitions, r.commits, r.dead_letters, r.secs
                );
                return Ok(ExitCode::SUCCESS);
            }
            let cfg = args.ingest_config(url);
            let report = pipeline::run(&cfg, &lake, &masker, shutdown_signal()).await?;
            println!(
                "applied {} events in {} batches ({} table commits, {} dead letters) in {:.1} s; position {}",
                report.events,
                report.batches,
                report.commits,
                report.dead_letters,
                report.secs,
                report
                    .position
                    .map_or("none".into(), |p| format!("{}:{}", p.file, p.pos))
            );
        }
        Command::Serve(args) => crate::serve::run(*args, source, shutdown_signal()).await?,
        Command::Verify { lake, tables } => {
            let url = source.cdc_url()?;
            let lake = Lake::open(&lake.lake_uri, lake.storage_options().into_iter().collect())
                .map_err(pipeline::Error::from)?;
            let masker = Masker::from_env().map_err(pipeline::Error::from)?;
            let diffs = verify::verify(&url, &lake, &masker, &tables).await?;
            let mut equal = true;
            for d in &diffs {
                println!("{d}");
                equal &= d.equal();
            }
            if !equal {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Status { lake, tables } => {
            let url = source.cdc_url()?;
            let lake = open_lake(&lake)?;
            let rows = pipeline::status(&url, &lake, &tables).await?;
            println!(
                "{:<14} {:>24} {:>12} {:>10} {:>10} {:>9} {:>12}",
                "table", "applied position", "behind", "lag ms", "events/s", "dead", "rows"
            );
            for r in rows {
                println!("{r}");
            }
        }
        Command::Maintain(args) => {
            let lake = open_lake(&args.lake)?;
            let opts = crate::lake::maintain::MaintainOptions {
                compact: !args.no_compact,
                target_file_size: args.target_file_mb * 1024 * 1024,
                checkpoint: true,
                vacuum_retention: (!args.no_vacuum).then_some(args.retention),
            };
            let mut names: Vec<String> = Vec::new();
            for t in &args.tables {
                names.push(t.clone());
                names.push(format!("{t}__changes"));
            }
            names.push(crate::lake::dead_letter::NAME.into());
            names.push(crate::lake::status::NAME.into());
            for name in names {
                match crate::lake::maintain::maintain_table(&lake, &name, &opts)
                    .await
                    .map_err(pipeline::Error::from)?
                {
                    Some(r) => println!("{r}"),
                    None => println!("{name:<24} (no table)"),
                }
            }
            if args.reflections {
                for o in crate::reflections::refresh_reflections(&lake, "finlake-binlog").await? {
                    println!(
                        "reflection {:<15} {:?} at bronze version {}: {} changes, {} groups in {:.1} s",
                        o.name,
                        o.action,
                        o.bronze_version,
                        o.changes,
                        o.groups,
                        o.elapsed.as_secs_f64()
                    );
                }
            }
        }
        Command::Config { lake } => {
            println!("state dir   {}", source.state_dir.display());
            match source.url() {
                Ok(url) => println!("source      {}", redact_url(&url)),
                Err(e) => println!("source      (none: {e})"),
            }
            println!("lake        {}", lake.lake_uri);
            for (k, v) in lake.storage_options() {
                let shown = if k.contains("secret") || k.contains("key_id") {
                    "***"
                } else {
                    v.as_str()
                };
                println!("  {k} = {shown}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lake_options_for_minio() {
        let cli = Cli::try_parse_from([
            "finlake",
            "config",
            "--lake-uri",
            "s3://lake/finlake",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-allow-http",
        ])
        .expect("parses");
        let Command::Config { lake } = cli.command else {
            panic!("config")
        };
        let o = lake.storage_options();
        assert_eq!(
            o.get("aws_endpoint").map(String::as_str),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            o.get("aws_conditional_put").map(String::as_str),
            Some("etag")
        );
        assert_eq!(o.get("aws_allow_http").map(String::as_str), Some("true"));
        let local = LakeConfig {
            lake_uri: "./lakehouse".into(),
            ..lake
        };
        assert!(local.storage_options().is_empty());
    }

    #[test]
    fn kaggle_format_needs_out() {
        let err = Cli::try_parse_from(["finlake", "datagen", "--format", "kaggle"])
            .expect_err("needs --out");
        assert!(err.to_string().contains("--out"), "{err}");
    }
}
