//! The `finlake` command line. Every flag can also be set with a `FINLAKE_*` environment
//! variable; configuration comes in flattened blocks per subsystem ([`args`], and each
//! command's own in [`commands`]), as influxdb3 keeps its clap blocks apart from the server:
//! the library modules take plain config structs. [`run`] dispatches to one function per
//! command.

pub mod args;
pub mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::{
    FlightArgs, IngestArgs, IngestSource, KafkaArgs, LakeConfig, LogConfig, LogFormat, ServeArgs,
    SourceConfig,
};
pub use commands::datagen::{DatagenArgs, LoadKaggleArgs, OutputFormat};
pub use commands::db::{DbAction, DbArgs};
pub use commands::maintain::MaintainArgs;
pub use commands::simulate::SimulateArgs;

use crate::data::kaggle;
use crate::lake::TABLES;
use crate::pipeline::{self, kafka};
use crate::source;

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
    Reflections(Box<crate::analytics::Error>),
    #[error("{0}")]
    Usage(String),
}

impl From<crate::analytics::Error> for Error {
    fn from(e: crate::analytics::Error) -> Self {
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
    Serve(Box<ServeArgs>),
    /// Compare source and lake table by table; exits 1 on any difference.
    Verify {
        #[command(flatten)]
        lake: LakeConfig,
        /// Tables to compare.
        #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = TABLES.map(String::from))]
        tables: Vec<String>,
    },
    /// Per table: applied position, lag, events/s and dead letters (from the lake).
    Status {
        #[command(flatten)]
        lake: LakeConfig,
        /// Tables to report.
        #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = TABLES.map(String::from))]
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

/// Runs a parsed command line: one function per command (`commands::*`).
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let source = &cli.source;
    let no_progress = cli.log.no_progress;
    match cli.command {
        Command::Db { action } => return commands::db::run(action, source).await,
        Command::Datagen(args) => commands::datagen::datagen(args, source, no_progress).await?,
        Command::LoadKaggle(args) => {
            commands::datagen::load_kaggle(args, source, no_progress).await?
        }
        Command::Simulate(args) => commands::simulate::run(args, source).await?,
        Command::Ingest(args) => return commands::ingest::run(args, source).await,
        Command::Serve(args) => commands::serve::run(&args, source).await?,
        Command::Verify { lake, tables } => {
            return commands::verify::verify(&lake, &tables, source).await;
        }
        Command::Status { lake, tables } => {
            commands::verify::status(&lake, &tables, source).await?
        }
        Command::Maintain(args) => commands::maintain::run(args).await?,
        Command::Config { lake } => commands::config::run(&lake, source),
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
