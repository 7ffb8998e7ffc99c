//! `finlake datagen --format kaggle`: the synthetic data written as the public dataset's five
//! files, byte-compatible with what `load-kaggle` reads.

use std::path::Path;

use indicatif::ProgressBar;

use super::generate::Generator;
use super::kaggle::{self, CardsWriter, FraudLabelsWriter, TransactionsWriter, UsersWriter};

/// Rows written per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    pub users: u64,
    pub cards: u64,
    pub mcc_codes: u64,
    pub transactions: u64,
    pub fraud_labels: u64,
}

/// Writes the five files into `dir` (created when missing).
pub fn write_kaggle(
    generator: &Generator,
    dir: &Path,
    progress: &ProgressBar,
) -> kaggle::Result<ExportCounts> {
    std::fs::create_dir_all(dir).map_err(|source| kaggle::Error::Io {
        file: dir.display().to_string(),
        source,
    })?;
    let world = &generator.world;
    let mut counts = ExportCounts::default();

    let mut users = UsersWriter::create(&dir.join(kaggle::USERS_FILE))?;
    for u in &world.users {
        users.write(u)?;
        counts.users += 1;
    }
    users.finish()?;

    let mut cards = CardsWriter::create(&dir.join(kaggle::CARDS_FILE))?;
    for c in &world.cards {
        cards.write(c)?;
        counts.cards += 1;
    }
    cards.finish()?;

    kaggle::write_mcc_codes(&dir.join(kaggle::MCC_CODES_FILE), &world.mcc_codes)?;
    counts.mcc_codes = world.mcc_codes.len() as u64;

    let mut transactions = TransactionsWriter::create(&dir.join(kaggle::TRANSACTIONS_FILE))?;
    let mut labels = FraudLabelsWriter::create(&dir.join(kaggle::FRAUD_LABELS_FILE))?;
    for g in generator.transactions() {
        transactions.write(&g.transaction)?;
        counts.transactions += 1;
        if let Some(label) = &g.label {
            labels.write(label)?;
            counts.fraud_labels += 1;
        }
        if counts.transactions % 65_536 == 0 {
            progress.set_position(counts.transactions);
        }
    }
    transactions.finish()?;
    labels.finish()?;
    progress.set_position(counts.transactions);
    Ok(counts)
}
