//! Where a collection's records are (its search analytics, the re-ranker's model): the arguments
//! `vsearch analytics` and `vsearch rank` share.

use anyhow::Context;
use std::path::PathBuf;

/// A collection, or a records folder of its own.
#[derive(clap::Args)]
pub struct Records {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// A records folder instead (a Qdrant collection's: `vsearch serve --state DIR`, by default
    /// ROOT/.vsearch/qdrant/COLLECTION).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

impl Records {
    /// The records folder.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.state {
            Some(dir) => Ok(dir.clone()),
            None => vsearch_engine::resolve_collection_dir(&self.collection).with_context(|| {
                format!(
                    "cannot find the collection at {} (for a Qdrant collection pass --state DIR, its records folder)",
                    self.collection.display()
                )
            }),
        }
    }
}
