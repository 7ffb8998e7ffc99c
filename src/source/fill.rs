//! Filling the source database: synthetic data (`finlake datagen`) and the public dataset's
//! files (`finlake load-kaggle`), both through one bulk load in one transaction.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::instrument;

use super::load::{BulkLoad, LoadReport, RowSink};
use crate::data::generate::Generator;
use crate::data::kaggle;
use crate::data::model::FraudLabel;
use crate::data::tsv::TsvRow;

/// Rolls back on error, commits otherwise.
async fn finish(load: BulkLoad, outcome: super::Result<()>) -> super::Result<LoadReport> {
    match outcome {
        Ok(()) => load.commit().await,
        Err(e) => {
            if let Err(rollback) = load.rollback().await {
                tracing::error!(error = %rollback, "rollback failed after: {e}");
            }
            Err(e)
        }
    }
}

fn push_all<'a, R: TsvRow + 'a>(
    sink: &mut RowSink<R>,
    rows: impl IntoIterator<Item = &'a R>,
) -> Result<(), String> {
    for row in rows {
        sink.push(row).map_err(|_| String::new())?;
    }
    Ok(())
}

/// Generates and loads everything.
#[instrument(skip_all, fields(scale = generator.config.scale, seed = generator.config.seed))]
pub async fn load_generated(
    url: &str,
    generator: Arc<Generator>,
    replace: bool,
    show_progress: bool,
) -> super::Result<LoadReport> {
    let mut load = BulkLoad::begin(url, replace, show_progress).await?;
    let outcome = async {
        let g = Arc::clone(&generator);
        load.load(Some(g.world.users.len() as u64), move |s| {
            push_all(s, &g.world.users)
        })
        .await?;
        let g = Arc::clone(&generator);
        load.load(Some(g.world.cards.len() as u64), move |s| {
            push_all(s, &g.world.cards)
        })
        .await?;
        let g = Arc::clone(&generator);
        load.load(Some(g.world.mcc_codes.len() as u64), move |s| {
            push_all(s, &g.world.mcc_codes)
        })
        .await?;
        // Labels are kept (about 16 bytes each) while transactions stream, then loaded.
        let labels = Arc::new(Mutex::new(Vec::<FraudLabel>::new()));
        let (g, l) = (Arc::clone(&generator), Arc::clone(&labels));
        load.load(Some(g.config.transactions()), move |sink| {
            let mut kept = Vec::with_capacity((g.config.transactions() as f64 * 0.7) as usize);
            for x in g.transactions() {
                sink.push(&x.transaction).map_err(|_| String::new())?;
                kept.extend(x.label);
            }
            *l.lock().map_err(|_| "label buffer poisoned".to_string())? = kept;
            Ok(())
        })
        .await?;
        let labels = std::mem::take(
            &mut *labels
                .lock()
                .map_err(|_| super::Error::Server("label buffer poisoned".into()))?,
        );
        load.load(Some(labels.len() as u64), move |s| push_all(s, &labels))
            .await?;
        Ok(())
    }
    .await;
    finish(load, outcome).await
}

/// Loads the five files of the public dataset from `dir`.
#[instrument(skip_all, fields(dir = %dir.display()))]
pub async fn load_kaggle(
    url: &str,
    dir: &Path,
    replace: bool,
    show_progress: bool,
) -> super::Result<LoadReport> {
    let path = |name: &str| -> super::Result<PathBuf> {
        let p = dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(super::load::LoadError::Input(format!("{}: file not found", p.display())).into())
        }
    };
    let files = [
        path(kaggle::USERS_FILE)?,
        path(kaggle::CARDS_FILE)?,
        path(kaggle::MCC_CODES_FILE)?,
        path(kaggle::TRANSACTIONS_FILE)?,
        path(kaggle::FRAUD_LABELS_FILE)?,
    ];
    // Rough row estimates from file sizes, for the progress bars only.
    let estimate =
        |p: &Path, bytes_per_row: u64| std::fs::metadata(p).ok().map(|m| m.len() / bytes_per_row);
    fn relay<R>(sink: &mut RowSink<R>, row: &R) -> kaggle::Result<()>
    where
        R: TsvRow,
    {
        sink.push(row)
            .map_err(|_| kaggle::Error::Aborted("the database stopped the load".into()))
    }
    let text = |e: kaggle::Error| match e {
        kaggle::Error::Aborted(_) => String::new(),
        other => other.to_string(),
    };

    let mut load = BulkLoad::begin(url, replace, show_progress).await?;
    let outcome = async {
        let [users, cards, mcc, transactions, labels] = files;
        let n = estimate(&users, 100);
        load.load(n, move |s| {
            kaggle::read_users(&users, |r| relay(s, &r))
                .map(drop)
                .map_err(text)
        })
        .await?;
        let n = estimate(&cards, 90);
        load.load(n, move |s| {
            kaggle::read_cards(&cards, |r| relay(s, &r))
                .map(drop)
                .map_err(text)
        })
        .await?;
        load.load(None, move |s| {
            let codes = kaggle::read_mcc_codes(&mcc).map_err(text)?;
            push_all(s, &codes)
        })
        .await?;
        let n = estimate(&transactions, 95);
        load.load(n, move |s| {
            kaggle::read_transactions(&transactions, |r| relay(s, &r))
                .map(drop)
                .map_err(text)
        })
        .await?;
        let n = estimate(&labels, 20);
        load.load(n, move |s| {
            kaggle::read_fraud_labels(&labels, |r| relay(s, &r))
                .map(drop)
                .map_err(text)
        })
        .await?;
        load.check_integrity().await
    }
    .await;
    finish(load, outcome).await
}
