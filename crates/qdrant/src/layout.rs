//! How a collection is laid out: its named vector (one per model), shards, replicas and quantization.

use qdrant_client::qdrant;

/// Similarity of a vector, as Qdrant names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Cosine similarity (Qdrant normalises vectors on insert); higher is closer.
    Cosine,
    /// Euclidean distance (not squared); lower is closer.
    Euclid,
}

impl Distance {
    pub(crate) fn proto(self) -> qdrant::Distance {
        match self {
            Distance::Cosine => qdrant::Distance::Cosine,
            Distance::Euclid => qdrant::Distance::Euclid,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::Euclid => "euclid",
        }
    }
}

/// A named vector: its name (the model's id), size and distance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorSpec {
    pub name: String,
    pub dim: usize,
    pub distance: Distance,
}

impl VectorSpec {
    pub(crate) fn describe(&self) -> String {
        format!("{}-d {}", self.dim, self.distance.name())
    }
}

/// Vector compression Qdrant keeps beside the full vectors (searches use it and re-score): the
/// project's one [`Quantization`]; Qdrant's scalar int8 keeps it in RAM.
pub use vsearch_core::quantization::Quantization;

/// How a new collection is created (an existing one keeps its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionLayout {
    /// Shards (`shard_number`); `None` is Qdrant's default (one per node).
    pub shards: Option<u32>,
    /// Copies of each shard (`replication_factor`); `None` is 1.
    pub replicas: Option<u32>,
    pub quantization: Option<Quantization>,
    /// HNSW graph of a new collection: (m, ef_construct); `None` is Qdrant's (16, 100).
    pub hnsw: Option<(u64, u64)>,
    /// Segments larger than this many kilobytes get an HNSW graph; smaller ones are searched by brute
    /// force. `None` is Qdrant's 10,000 kB (benchmarks lower it to compare graphs with graphs).
    pub indexing_threshold_kb: Option<u64>,
    /// Payload keys to index for filtering, with their type: `keyword` (with prefix matching),
    /// `integer`, `float` or `datetime`.
    pub payload_indexes: Vec<(String, &'static str)>,
}
