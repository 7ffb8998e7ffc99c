//! `finlake config`: the resolved configuration, secrets hidden.

use crate::cli::args::{LakeConfig, SourceConfig};
use crate::source::redact_url;

/// Runs `finlake config`.
pub fn run(lake: &LakeConfig, source: &SourceConfig) {
    crate::say!("state dir   {}", source.state_dir.display());
    match source.url() {
        Ok(url) => crate::say!("source      {}", redact_url(&url)),
        Err(e) => crate::say!("source      (none: {e})"),
    }
    crate::say!("lake        {}", lake.lake_uri);
    for (k, v) in lake.storage_options() {
        let shown = if k.contains("secret") || k.contains("key_id") {
            "***"
        } else {
            v.as_str()
        };
        crate::say!("  {k} = {shown}");
    }
}
