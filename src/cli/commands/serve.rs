//! `finlake serve`: [`serve::run`](crate::serve::run) with the configuration of its flags.

use super::shutdown_signal;
use crate::cli::Result;
use crate::cli::args::{ServeArgs, SourceConfig};

/// Runs `finlake serve`.
pub async fn run(args: &ServeArgs, source: &SourceConfig) -> Result<()> {
    crate::serve::run(args.serve_config(source), shutdown_signal()).await?;
    Ok(())
}
