//! The `finlake` binary: parse, set up logging, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use finlake::cli::{Cli, init_logging, run};

/// Stack of each runtime thread: planning recurses over a statement's expression tree (its
/// depth is bounded by the engine, see `engine::delta::session::check_complexity`).
const THREAD_STACK: usize = 64 << 20;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()?;
    Ok(runtime.block_on(run(cli))?)
}
