//! Typed errors of the index layer.

/// Everything that can go wrong in an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("dimension mismatch: index has {expected}, got {got}")]
    Dimension { expected: usize, got: usize },
    #[error("vector for id {id} has a NaN or infinite component")]
    NonFinite { id: u64 },
    #[error("k must be at least 1")]
    ZeroK,
    #[error("the index is empty")]
    Empty,
    #[error("unknown id {id}")]
    UnknownId { id: u64 },
    #[error("id {id} is already in the index")]
    DuplicateId { id: u64 },
    #[error("{reason}")]
    InvalidParams { reason: String },
    #[error("{path}: {reason}")]
    Format {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("{path}: checksum mismatch, the file is truncated or corrupted; rebuild the index")]
    Checksum { path: std::path::PathBuf },
    /// A change (or hnsw_rs's own search) asked of an index opened for search only.
    #[error(
        "{what} needs the index opened to change it (vsearch_index::load), not for search only"
    )]
    SearchOnly { what: &'static str },
    #[error("faiss: {reason}")]
    Faiss { reason: String },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Result with [`IndexError`].
pub type Result<T> = std::result::Result<T, IndexError>;
