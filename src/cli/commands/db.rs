//! `finlake db`: the private source database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::args::SourceConfig;
use crate::cli::{Error, Result};
use crate::source::server::{DbSettings, LocalServer};
use crate::source::{self, sql};

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Start the server (idempotent), create the database, accounts and schema.
    Start(DbArgs),
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

/// Settings of the private server.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// TCP port on 127.0.0.1; 0 picks a free one the first time and keeps it.
    #[arg(long = "db-port", env = "FINLAKE_DB_PORT", default_value_t = 0)]
    pub port: u16,
    /// Name of the source database.
    #[arg(long = "db-name", env = "FINLAKE_DB_NAME", default_value = "finance")]
    pub database: String,
    /// Application account (full rights on the private server).
    #[arg(long = "db-user", env = "FINLAKE_DB_USER", default_value = "finlake")]
    pub user: String,
    /// Its password. The default only suits a private server bound to loopback.
    #[arg(
        long = "db-password",
        env = "FINLAKE_DB_PASSWORD",
        default_value = "finlake",
        hide_env_values = true
    )]
    pub password: String,
    /// Least-privilege change-data-capture account.
    #[arg(
        long = "cdc-user",
        env = "FINLAKE_CDC_USER",
        default_value = "finlake_cdc"
    )]
    pub cdc_user: String,
    #[arg(
        long = "cdc-password",
        env = "FINLAKE_CDC_PASSWORD",
        default_value = "finlake_cdc",
        hide_env_values = true
    )]
    pub cdc_password: String,
    /// InnoDB buffer pool size (bulk loads of scale 1.0 want a few GB).
    #[arg(
        long = "db-buffer-pool",
        env = "FINLAKE_DB_BUFFER_POOL",
        default_value = "2G"
    )]
    pub buffer_pool: String,
    /// InnoDB redo log size (bulk loads of scale 1.0 want 2G).
    #[arg(
        long = "db-redo-log",
        env = "FINLAKE_DB_REDO_LOG",
        default_value = "512M"
    )]
    pub redo_log: String,
    /// Directory holding the server binary (`mariadbd` or `mysqld`); searched on PATH and in
    /// /usr/sbin when unset.
    #[arg(long = "db-bin-dir", env = "FINLAKE_DB_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
}

impl DbArgs {
    pub fn settings(&self) -> DbSettings {
        DbSettings {
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            cdc_user: self.cdc_user.clone(),
            cdc_password: self.cdc_password.clone(),
            buffer_pool: self.buffer_pool.clone(),
            redo_log: self.redo_log.clone(),
            bin_dir: self.bin_dir.clone(),
        }
    }
}

/// Runs `finlake db <action>`.
pub async fn run(action: DbAction, source: &SourceConfig) -> Result<ExitCode> {
    let server = LocalServer::new(&source.state_dir)?;
    match action {
        DbAction::Start(settings) => {
            let state = server.start(&settings.settings()).await?;
            crate::say!(
                "source database running on 127.0.0.1:{} ({})",
                state.port,
                server.dir().display()
            );
            crate::say!("FINLAKE_SOURCE_URL={}", state.url());
        }
        DbAction::Stop => {
            let stopped = server.stop().await?;
            crate::say!("{}", if stopped { "stopped" } else { "not running" });
        }
        DbAction::Status => {
            let status = server.status().await?;
            match (&status.state, status.running) {
                (Some(state), true) => {
                    crate::say!(
                        "running: {} on 127.0.0.1:{}, pid {}, data in {}",
                        status.version.as_deref().unwrap_or("?"),
                        state.port,
                        status.pid.unwrap_or(0),
                        server.dir().display()
                    );
                    let mut conn = source::connect(&state.url()).await?;
                    for (table, rows) in sql::row_counts(&mut conn).await? {
                        crate::say!("  {table:<13} {rows:>12} rows");
                    }
                    conn.disconnect().await.map_err(source::Error::from)?;
                }
                _ => {
                    crate::say!("not running ({})", server.dir().display());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        DbAction::Url { cdc } => match server.state()? {
            Some(s) => crate::say!("{}", if cdc { s.cdc_url() } else { s.url() }),
            None => {
                return Err(Error::Usage(
                    "the private database was never started: run `finlake db start`".into(),
                ));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
