//! `finlake verify` and `finlake status`: the lake against the source.

use std::process::ExitCode;

use crate::cli::Result;
use crate::cli::args::{LakeConfig, SourceConfig};
use crate::ingest::mask::Masker;
use crate::{pipeline, verify};

/// Runs `finlake verify`: exits 1 on any difference.
pub async fn verify(
    lake: &LakeConfig,
    tables: &[String],
    source: &SourceConfig,
) -> Result<ExitCode> {
    let url = source.cdc_url()?;
    let lake = lake.open()?;
    let masker = Masker::from_env().map_err(pipeline::Error::from)?;
    let diffs = verify::verify(&url, &lake, &masker, tables).await?;
    let mut equal = true;
    for d in &diffs {
        crate::say!("{d}");
        equal &= d.equal();
    }
    if !equal {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `finlake status`.
pub async fn status(lake: &LakeConfig, tables: &[String], source: &SourceConfig) -> Result<()> {
    let url = source.cdc_url()?;
    let lake = lake.open()?;
    let rows = pipeline::status(&url, &lake, tables).await?;
    crate::say!(
        "{:<14} {:>24} {:>12} {:>10} {:>10} {:>9} {:>12}",
        "table",
        "applied position",
        "behind",
        "lag ms",
        "events/s",
        "dead",
        "rows"
    );
    for r in rows {
        crate::say!("{r}");
    }
    Ok(())
}
