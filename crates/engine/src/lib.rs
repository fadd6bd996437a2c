//! Collections: an image folder made searchable.
//!
//! A collection lives in a folder (default `DIR/.vsearch/`) holding a manifest, a SQLite catalog of
//! files, the embedding matrix (memory-mapped, one row per id) and generations of the index files behind
//! one commit point ([`generation`]). [`index_folder`] builds and updates it incrementally; [`Collection`]
//! answers queries from the committed generation. The server uses only this crate, and so does the CLI
//! for collections (it calls `vsearch-embed` directly for `vsearch embed` and `vsearch models`); it ties
//! `vsearch-embed` and `vsearch-index` together.

pub mod catalog;
pub mod collection;
pub mod error;
pub mod fault;
pub mod generation;
pub mod indexes;
pub mod manifest;
pub mod matrix;
pub mod pipeline;
pub mod scan;

pub use collection::{resolve_collection_dir, verify, Collection, VerifyReport};
pub use manifest::CollectionManifest;
pub use pipeline::{index_folder, DEFAULT_COLLECTION_DIR};

pub use error::{EngineError, Result};
pub use vsearch_embed::{image_io, DeviceSpec, EmbedError, ModelInfo, ModelSpec};
pub use vsearch_index::{
    IndexConfig, IndexError, IndexKind, Metric, SearchParams, UnknownIndexKind,
};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Options of [`index_folder`].
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Collection folder; `None` means `DIR/.vsearch`.
    pub collection: Option<PathBuf>,
    pub model: ModelSpec,
    pub device: DeviceSpec,
    /// Index kinds to maintain, replacing the collection's set (kinds left out are removed); empty keeps
    /// the collection's (every kind for a new one).
    pub indexes: Vec<IndexKind>,
    /// Index kinds to add to the set (the others are kept).
    pub add_indexes: Vec<IndexKind>,
    pub batch: usize,
    /// Decoding threads.
    pub threads: usize,
    /// Images with more pixels are refused before decoding.
    pub max_pixels: u64,
    /// Start the collection over (needed to change model).
    pub rebuild: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for IndexOptions {
    /// `DIR/.vsearch`, model `auto`, CPU, the collection's indexes (all three for a new one), batch 16,
    /// one decode thread per core, 100 megapixels.
    fn default() -> Self {
        Self {
            collection: None,
            model: ModelSpec::Auto,
            device: DeviceSpec::Cpu,
            indexes: Vec::new(),
            add_indexes: Vec::new(),
            batch: 16,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            max_pixels: image_io::DEFAULT_MAX_PIXELS,
            rebuild: false,
            progress: false,
        }
    }
}

/// A file that could not be indexed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub path: PathBuf,
    pub reason: String,
}

/// What one indexing run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexReport {
    /// Model id used.
    pub model: String,
    /// New files embedded.
    pub indexed: usize,
    pub unchanged: usize,
    /// Changed files re-embedded.
    pub updated: usize,
    /// Catalog entries whose file is gone (or is no longer an image).
    pub removed: usize,
    /// Files that are not images and not named like one (ignored).
    pub skipped: usize,
    pub failed: Vec<Failure>,
    /// Images that went through the model in this run.
    pub embedded: usize,
    pub seconds: f64,
}

/// A query.
#[derive(Debug, Clone)]
pub enum Query {
    /// Encoded image bytes (any supported format).
    ImageBytes(Vec<u8>),
    /// An indexed image, by id.
    Id(u64),
    /// Text (CLIP collections only).
    Text(String),
    /// A raw vector of the collection's dimension.
    Vector(Vec<f32>),
}

/// Query options.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    pub k: usize,
    /// Index to use; `None` picks the first of hnsw, ivf, flat that the collection has.
    pub index: Option<IndexKind>,
    pub params: SearchParams,
    /// Drop results scoring below this (cosine collections).
    pub min_score: Option<f32>,
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    pub id: u64,
    /// Path relative to the indexed folder.
    pub path: String,
    pub score: f32,
    /// 1-based rank.
    pub rank: usize,
}

/// The answer to a query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
    pub index: IndexKind,
    pub model: String,
    pub embed_ms: f64,
    pub search_ms: f64,
}

/// What a collection is (for `GET /api/collection`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub root: PathBuf,
    pub model: ModelInfo,
    pub metric: Metric,
    pub count: usize,
    pub indexes: Vec<IndexConfig>,
    pub text_search: bool,
}
