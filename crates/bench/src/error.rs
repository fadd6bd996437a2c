//! Errors of the benchmark library.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, measuring or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The `--dataset` argument could not be understood.
    #[error(
        "bad dataset spec '{spec}': {reason} (use {})",
        crate::dataset_kind::dataset_forms()
    )]
    BadSpec { spec: String, reason: String },
    /// A data file is missing, unreadable or malformed.
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The index layer failed.
    #[error("index error: {source}")]
    Index {
        #[from]
        source: vsearch_index::IndexError,
    },
    /// The model that makes the neural-embedding set failed.
    #[error("embedding error: {source}")]
    Embed {
        #[source]
        source: vsearch_embed::EmbedError,
    },
    /// The engine (collections) failed.
    #[error("collection error: {reason}")]
    Engine { reason: String },
    /// A results file could not be parsed or written as JSON.
    #[error("{path}: invalid results JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Drawing the plot failed.
    #[error("plot: {reason}")]
    Plot { reason: String },
    /// Invalid option combination or value.
    #[error("{reason}")]
    Invalid { reason: String },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, BenchError>;

impl BenchError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BenchError::Io {
            path: path.into(),
            source,
        }
    }
    /// A malformed file.
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        BenchError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
