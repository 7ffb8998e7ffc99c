//! The `finlake` binary: parse, set up logging, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use finlake::cli::{Cli, init_logging, run};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    Ok(run(cli).await?)
}
