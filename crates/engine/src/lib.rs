//! Collections: an image folder made searchable.
//!
//! A collection lives in a folder (default `DIR/.vsearch/`) holding a manifest, a SQLite catalog of
//! files, the embedding matrix (memory-mapped, one row per id) and the index files. [`index_folder`]
//! builds and updates it incrementally; [`Collection`] answers queries.
//! The CLI and the server use only this crate; it ties `vsearch-embed` and `vsearch-index` together.

pub mod error;

pub use error::{EngineError, Result};
pub use vsearch_embed::{image_io, DeviceSpec, EmbedError, ModelInfo, ModelSpec};
pub use vsearch_index::{IndexConfig, IndexError, IndexKind, Metric, SearchParams};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Options of [`index_folder`].
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Collection folder; `None` means `DIR/.vsearch`.
    pub collection: Option<PathBuf>,
    pub model: ModelSpec,
    pub device: DeviceSpec,
    /// Index kinds to maintain (default: hnsw, ivf, flat).
    pub indexes: Vec<IndexKind>,
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

/// A file that could not be indexed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub path: PathBuf,
    pub reason: String,
}

/// What one indexing run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexReport {
    pub indexed: usize,
    pub unchanged: usize,
    pub updated: usize,
    pub removed: usize,
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
#[derive(Debug, Clone)]
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

/// Indexes (or updates) the images under `dir`.
pub fn index_folder(dir: &Path, options: &IndexOptions) -> Result<IndexReport> {
    let _ = (dir, options);
    todo!()
}

/// An opened collection: catalog, embeddings, indexes and the model, loaded once.
pub struct Collection {}

impl Collection {
    /// Opens the collection at `path` (a collection folder, or an indexed folder containing `.vsearch`)
    /// and loads its model on `device`.
    pub fn open(path: &Path, device: &DeviceSpec) -> Result<Self> {
        let _ = (path, device);
        todo!()
    }
    pub fn info(&self) -> CollectionInfo {
        todo!()
    }
    pub fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse> {
        let _ = (query, options);
        todo!()
    }
    /// Absolute path of an indexed image, by id.
    pub fn image_path(&self, id: u64) -> Result<PathBuf> {
        let _ = id;
        todo!()
    }
}
