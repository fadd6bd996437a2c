//! What can go wrong talking to Qdrant, each with the fix a user can apply.

/// Errors of the store's calls.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No Qdrant server answers at the address.
    #[error("cannot reach Qdrant at {url}: {reason}. Is the server running? Start one with `docker run -p 6333:6333 -p 6334:6334 qdrant/qdrant` (vsearch talks gRPC: the port is usually 6334)")]
    Unreachable { url: String, reason: String },
    /// The address is not a URL the client accepts.
    #[error("{url} is not a Qdrant gRPC URL ({reason}); give one like http://127.0.0.1:6334")]
    BadUrl { url: String, reason: String },
    /// The collection exists with vectors of another size or distance than the model's.
    #[error("Qdrant collection `{collection}` holds vector `{vector}` as {found}, but the model makes {expected}. Index into another collection (--qdrant-collection NAME), or delete this one if it is stale")]
    Mismatch {
        collection: String,
        vector: String,
        found: String,
        expected: String,
    },
    /// The collection has no vector of this name (another model's collection).
    #[error("Qdrant collection `{collection}` has no vector `{vector}` (it holds: {found}). Search with the model that indexed it (--model), or index it with this one first")]
    NoSuchVector {
        collection: String,
        vector: String,
        found: String,
    },
    /// The collection does not exist.
    #[error("Qdrant has no collection `{collection}`. Index a folder into it first: vsearch index DIR --qdrant URL --qdrant-collection {collection}")]
    NoSuchCollection { collection: String },
    /// A call did not finish in time, every attempt.
    #[error("Qdrant did not answer {what} within {seconds} s after {attempts} attempts; the server may be overloaded: retry later, or raise --qdrant-timeout")]
    Timeout {
        what: String,
        seconds: f64,
        attempts: u32,
    },
    /// Qdrant refused a call, or kept failing after every retry.
    #[error("Qdrant failed {what} after {attempts} attempt(s): {message}")]
    Failed {
        what: String,
        attempts: u32,
        message: String,
    },
    /// A batch of writes failed after every retry; the points written before it are in Qdrant.
    #[error("Qdrant failed to write a batch of {batch} points after {attempts} attempts ({message}); {written} points of this run were written before it and are kept: run the same command again to resume")]
    Write {
        batch: usize,
        written: usize,
        attempts: u32,
        message: String,
    },
    /// A point or payload could not be converted (a bug or a foreign collection).
    #[error("Qdrant point {what}: {reason}")]
    BadPoint { what: String, reason: String },
}

/// Result of the store's calls.
pub type Result<T> = std::result::Result<T, StoreError>;
