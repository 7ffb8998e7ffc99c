//! `finlake datagen` and `finlake load-kaggle`: data into the source database (or files).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use crate::cli::args::SourceConfig;
use crate::cli::{Error, Result};
use crate::data::export;
use crate::data::generate::{GenConfig, Generator};
use crate::source::{fill, redact_url};

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

/// Runs `finlake datagen`.
pub async fn datagen(args: DatagenArgs, source: &SourceConfig, no_progress: bool) -> Result<()> {
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
            let out = args
                .out
                .ok_or_else(|| Error::Usage("--out is required with --format kaggle".into()))?;
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
            crate::say!(
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
            let report = fill::load_generated(&url, generator, args.replace, !no_progress).await?;
            crate::say!("{report}");
        }
    }
    Ok(())
}

/// Runs `finlake load-kaggle`.
pub async fn load_kaggle(
    args: LoadKaggleArgs,
    source: &SourceConfig,
    no_progress: bool,
) -> Result<()> {
    let url = source.url()?;
    let report = fill::load_kaggle(&url, &args.dir, args.replace, !no_progress).await?;
    crate::say!("{report}");
    Ok(())
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
