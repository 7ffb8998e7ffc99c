//! `finlake simulate`: the live OLTP workload.

use std::time::Duration;

use clap::Args;

use super::shutdown_signal;
use crate::cli::args::SourceConfig;
use crate::cli::{Error, Result};
use crate::source::simulate::{self, SimulateConfig};
use crate::util::parse_duration;

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

/// Runs `finlake simulate`.
pub async fn run(args: SimulateArgs, source: &SourceConfig) -> Result<()> {
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
    crate::say!("{report}");
    Ok(())
}
