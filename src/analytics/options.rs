//! The session settings of finlake (`SET finlake.<name> = ...`), read by the views (which set
//! the snapshot) and the reflection rule (which reads it).

use std::collections::BTreeMap;

use datafusion::common::extensions_options;
use datafusion::config::ConfigExtension;

extensions_options! {
    /// Session settings of finlake (`SET finlake.<name> = ...`).
    pub struct FinlakeOptions {
        /// `on` (default) or `off`: substitute reflections into queries.
        pub reflections: String, default = "on".to_owned()
        /// The bronze versions the session reads (`table=version;...`), set by
        /// `register_views`; a reflection is used only at exactly its table's version.
        pub snapshot: String, default = String::new()
    }
}

impl ConfigExtension for FinlakeOptions {
    const PREFIX: &'static str = "finlake";
}

impl FinlakeOptions {
    pub fn enabled(&self) -> bool {
        !matches!(
            self.reflections.trim().to_ascii_lowercase().as_str(),
            "off" | "false" | "0" | "no"
        )
    }

    pub fn versions(&self) -> BTreeMap<String, i64> {
        self.snapshot
            .split(';')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().parse().ok()?))
            })
            .collect()
    }
}
