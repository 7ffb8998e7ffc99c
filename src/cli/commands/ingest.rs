//! `finlake ingest`: one of the loops of [`pipeline`] until caught up or stopped.

use std::process::ExitCode;

use super::shutdown_signal;
use crate::cli::Result;
use crate::cli::args::{IngestArgs, IngestSource, SourceConfig};
use crate::ingest::mask::Masker;
use crate::pipeline::{self, kafka};

/// Runs `finlake ingest`.
pub async fn run(args: IngestArgs, source: &SourceConfig) -> Result<ExitCode> {
    let url = source.cdc_url()?;
    let lake = args.lake.open()?;
    let masker = Masker::from_env().map_err(pipeline::Error::from)?;
    if args.ingest_source == IngestSource::Kafka {
        let cfg = args.kafka_config(url);
        let r = kafka::run(&cfg, &lake, &masker, shutdown_signal()).await?;
        crate::say!(
            "applied {} events from {} messages on {} partitions ({} table commits, {} dead letters) in {:.1} s",
            r.events,
            r.messages,
            r.partitions,
            r.commits,
            r.dead_letters,
            r.secs
        );
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = args.ingest_config(url);
    let report = pipeline::run(&cfg, &lake, &masker, shutdown_signal()).await?;
    crate::say!(
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
    Ok(ExitCode::SUCCESS)
}
