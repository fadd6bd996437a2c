//! The `--qdrant` options `index`, `search` and `serve` share: which Qdrant server and collection.

use std::time::Duration;
use vsearch_engine::qdrant::DEFAULT_COLLECTION;
use vsearch_engine::QdrantTarget;

/// Where a Qdrant collection is.
#[derive(clap::Args, Debug, Clone)]
pub struct QdrantArgs {
    /// Use a Qdrant server (its gRPC URL, e.g. http://127.0.0.1:6334) instead of a local collection.
    #[arg(long, value_name = "URL", env = "VSEARCH_QDRANT")]
    pub qdrant: Option<String>,
    /// The Qdrant collection.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_COLLECTION, requires = "qdrant")]
    pub qdrant_collection: String,
    /// Longest wait for one call to Qdrant, in seconds (calls that time out are retried 5 times, with backoff).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30.0,
        requires = "qdrant"
    )]
    pub qdrant_timeout: f64,
    /// Attempts of a call to Qdrant that fails for a reason that may pass (unreachable, overloaded, timed
    /// out), waiting 0.2 s, then twice as long each time (at most 5 s).
    #[arg(long, value_name = "N", default_value_t = 6, requires = "qdrant")]
    pub qdrant_retries: u32,
    /// API key of the Qdrant server, when it needs one.
    #[arg(
        long,
        env = "QDRANT_API_KEY",
        hide_env_values = true,
        requires = "qdrant"
    )]
    pub qdrant_api_key: Option<String>,
}

impl QdrantArgs {
    /// The target, when `--qdrant` is given.
    pub fn target(&self) -> anyhow::Result<Option<QdrantTarget>> {
        let Some(url) = &self.qdrant else {
            return Ok(None);
        };
        anyhow::ensure!(
            self.qdrant_timeout.is_finite() && self.qdrant_timeout > 0.0,
            "--qdrant-timeout must be a positive number of seconds"
        );
        let mut target = QdrantTarget::new(url.clone());
        target.collection = self.qdrant_collection.clone();
        target.timeout = Duration::from_secs_f64(self.qdrant_timeout);
        target.api_key = self.qdrant_api_key.clone();
        target.retry.attempts = self.qdrant_retries.max(1);
        Ok(Some(target))
    }
}

/// What `search` and `serve` add to [`QdrantArgs`] to read a Qdrant collection.
#[derive(clap::Args, Debug, Clone)]
pub struct QdrantReadArgs {
    /// Qdrant: the model whose vectors to search (default: the collection's only one).
    #[arg(long, requires = "qdrant")]
    pub model: Option<String>,
    /// Qdrant: a CLIP model folder instead of --model (the one the collection was indexed with).
    #[arg(
        long,
        value_name = "PATH",
        requires = "qdrant",
        conflicts_with = "model"
    )]
    pub model_dir: Option<std::path::PathBuf>,
    /// Qdrant: the indexed folder, to read images from (thumbnails, originals, crops).
    #[arg(long, value_name = "DIR", requires = "qdrant")]
    pub root: Option<std::path::PathBuf>,
    /// Qdrant: the folder of vsearch's own records about the collection (blocks, audit log, reports,
    /// analytics, hash banks); default ROOT/.vsearch/qdrant/COLLECTION with --root, else none.
    #[arg(long, value_name = "DIR", requires = "qdrant")]
    pub state: Option<std::path::PathBuf>,
}

impl QdrantReadArgs {
    /// The collection a command reads: the Qdrant collection of `qdrant` when `--qdrant` is given, else
    /// the local one at `collection`.
    pub fn backend(
        &self,
        qdrant: &QdrantArgs,
        collection: &std::path::Path,
        device: vsearch_engine::DeviceSpec,
        load_model: bool,
    ) -> anyhow::Result<vsearch_engine::BackendOptions> {
        let Some(target) = qdrant.target()? else {
            return Ok(vsearch_engine::BackendOptions::Local {
                path: collection.to_path_buf(),
                device,
                load_model,
            });
        };
        Ok(vsearch_engine::BackendOptions::Qdrant(Box::new(
            vsearch_engine::QdrantOpen {
                model: match (&self.model_dir, &self.model) {
                    (Some(dir), _) => vsearch_engine::ModelSpec::Dir(dir.clone()),
                    (None, Some(m)) => m.parse()?,
                    (None, None) => vsearch_engine::ModelSpec::Auto,
                },
                device,
                root: self.root.clone(),
                records: self.state.clone().or_else(|| {
                    self.root
                        .as_deref()
                        .map(|root| vsearch_engine::qdrant_records_dir(root, &target.collection))
                }),
                load_model,
                target,
            },
        )))
    }
}
