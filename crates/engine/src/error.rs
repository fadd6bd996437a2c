//! Typed errors of the engine.

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
    Io { path: std::path::PathBuf, source: std::io::Error },
}

/// Result with [`EngineError`].
pub type Result<T> = std::result::Result<T, EngineError>;
