//! Typed errors of the engine.

use std::path::PathBuf;

/// Everything that can go wrong with a collection.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Embed(#[from] vsearch_embed::EmbedError),
    #[error(transparent)]
    Index(#[from] vsearch_index::IndexError),
    #[error("catalog: {0}")]
    Catalog(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a vsearch collection (no manifest.json): run `vsearch index DIR` first, or pass --collection PATH")]
    NotACollection(PathBuf),
    #[error("{path}: bad manifest: {reason}; run `vsearch index DIR --rebuild` to start the collection over")]
    Manifest { path: PathBuf, reason: String },
    #[error("the collection was built with model '{collection}', not '{requested}': run `vsearch index DIR --rebuild --model {requested}` to start it over with the new model, or leave --model out")]
    ModelMismatch {
        collection: String,
        requested: String,
    },
    #[error("the collection has no {0} index (it has: {1}); index it with `vsearch index DIR --index ...` or pick another")]
    NoIndex(String, String),
    #[error("this collection was opened without its model; {0} needs the model")]
    NoModel(&'static str),
    #[error("{path}: the embedding matrix holds {rows} rows but the catalog needs id {id}; the collection is damaged: re-run `vsearch index DIR` to repair it")]
    Matrix { path: PathBuf, rows: usize, id: u64 },
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("another `vsearch index` is updating the collection {0} (lock held on {0}/{lock}); wait for it to finish, then run again", lock = crate::pipeline::LOCK_FILE)]
    Busy(PathBuf),
}

impl EngineError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
        move |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result with [`EngineError`].
pub type Result<T> = std::result::Result<T, EngineError>;
