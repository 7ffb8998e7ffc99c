//! `finlake maintain`: compaction, checkpoints, vacuum (and the reflections on demand).

use std::time::Duration;

use clap::Args;

use crate::cli::Result;
use crate::cli::args::LakeConfig;
use crate::lake::{BINLOG_APP_ID, TABLES, dead_letter, maintain, status};
use crate::pipeline;
use crate::util::parse_duration;

#[derive(Debug, Args)]
pub struct MaintainArgs {
    #[command(flatten)]
    pub lake: LakeConfig,
    /// Source tables whose bronze and history tables to maintain (the loop's own tables
    /// `_dead_letters` and `_ingest_status` are always included).
    #[arg(long, env = "FINLAKE_TABLES", value_delimiter = ',', default_values_t = TABLES.map(String::from))]
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

/// Runs `finlake maintain`.
pub async fn run(args: MaintainArgs) -> Result<()> {
    let lake = args.lake.open()?;
    let opts = maintain::MaintainOptions {
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
    names.push(dead_letter::NAME.into());
    names.push(status::NAME.into());
    for name in names {
        match maintain::maintain_table(&lake, &name, &opts)
            .await
            .map_err(pipeline::Error::from)?
        {
            Some(r) => crate::say!("{r}"),
            None => crate::say!("{name:<24} (no table)"),
        }
    }
    if args.reflections {
        for o in crate::analytics::refresh_reflections(&lake, BINLOG_APP_ID).await? {
            crate::say!(
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
    Ok(())
}
