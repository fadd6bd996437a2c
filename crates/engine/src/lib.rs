//! Collections: an image folder made searchable.
//!
//! A collection lives in a folder (default `DIR/.vsearch/`) holding a manifest, a SQLite catalog of
//! files, the embedding matrix (memory-mapped, one row per id) and generations of the index files behind
//! one commit point ([`generation`]). [`index_folder`] builds and updates it incrementally; [`Collection`]
//! answers queries from the committed generation. The server uses only this crate, and so does the CLI
//! for collections (it calls `vsearch-embed` directly for `vsearch embed` and `vsearch models`); it ties
//! `vsearch-embed` and `vsearch-index` together.

pub mod blocks;
pub mod browse;
pub mod catalog;
pub mod collection;
pub mod dupes;
pub mod error;
pub mod eval;
pub mod fault;
pub mod filter;
pub mod generation;
pub mod image_id;
pub mod images;
pub mod indexes;
pub mod labels;
pub mod manifest;
pub mod matrix;
pub mod metadata;
pub mod pipeline;
pub mod qdrant;
pub mod query;
pub mod scan;

pub use collection::{resolve_collection_dir, verify, Collection, VerifyReport};
pub use dupes::{copies_of, DupesOptions, DuplicateGroup, DuplicateImage};
pub use labels::{LabelReport, PolicySource};
pub use manifest::CollectionManifest;
pub use pipeline::qdrant::{index_into_qdrant, QdrantIndexOptions};
pub use pipeline::watch::{watch_folder, WatchEvent};
pub use pipeline::{apply_labels, index_folder, Indexer, DEFAULT_COLLECTION_DIR};
pub use qdrant::{QdrantCollection, QdrantOpen, QdrantTarget};

pub use error::{EngineError, Result};
pub use image_id::ImageId;
pub use vsearch_embed::{image_io, DeviceSpec, EmbedError, ModelInfo, ModelSpec, Precision};
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
    /// Arithmetic of the model's linear layers ([`Precision::Int8`]: CLIP and SigLIP on the CPU).
    pub precision: Precision,
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
    /// Label policy to put in force ([`labels`]); `None` keeps the collection's (the default policy for a
    /// new one). Labels are scored for CLIP-family models only.
    pub policy: Option<labels::PolicySource>,
}

impl Default for IndexOptions {
    /// `DIR/.vsearch`, model `auto`, CPU, the collection's indexes (all three for a new one), batch 16,
    /// one decode thread per core, 100 megapixels.
    fn default() -> Self {
        Self {
            collection: None,
            model: ModelSpec::Auto,
            device: DeviceSpec::Cpu,
            precision: Precision::F32,
            indexes: Vec::new(),
            add_indexes: Vec::new(),
            batch: 16,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            max_pixels: image_io::DEFAULT_MAX_PIXELS,
            rebuild: false,
            progress: false,
            policy: None,
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
    /// Indexed images whose metadata (format, EXIF) was read without re-embedding them (catalogs from
    /// before the metadata columns).
    #[serde(default)]
    pub metadata: usize,
    /// Indexed images whose label scores were computed (from their stored vectors; see [`labels`]).
    #[serde(default)]
    pub labelled: usize,
    /// New or re-embedded images a block hides as they arrive (logged to the audit log).
    #[serde(default)]
    pub blocked: usize,
    pub seconds: f64,
}

/// A query: one example (an image, an indexed id, a text or a vector), or a board of several.
#[derive(Debug, Clone)]
pub enum Query {
    /// Encoded image bytes (any supported format).
    ImageBytes(Vec<u8>),
    /// An indexed image, by id.
    Id(ImageId),
    /// Text (CLIP collections only).
    Text(String),
    /// A raw vector of the collection's dimension.
    Vector(Vec<f32>),
    /// Several weighted examples, for and against; also one example with a crop.
    Board(Board),
}

/// Several examples at once: the query vector is the normalised weighted sum of the positive examples'
/// (normalised) vectors minus the negative ones' (rclip's `+`/`-` queries).
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub positive: Vec<Example>,
    pub negative: Vec<Example>,
}

/// One example of a [`Board`].
#[derive(Debug, Clone)]
pub struct Example {
    /// What the example is: an image, an id, a text or a vector (not a board).
    pub query: Query,
    /// Weight in the sum (default 1).
    pub weight: f32,
    /// A region of the image (images and ids only).
    pub crop: Option<Crop>,
}

impl Example {
    /// `query` with weight 1 and no crop.
    pub fn new(query: Query) -> Self {
        Self {
            query,
            weight: 1.0,
            crop: None,
        }
    }
}

/// A region of an image, in fractions of its width and height (0 to 1 from the top-left corner).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Crop {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// Query options.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Results per page.
    pub k: usize,
    /// Results to skip (pages: `offset = page * k`); order is score, then id.
    pub offset: usize,
    /// Index to use; `None` picks the first of hnsw, ivf, flat that the collection has.
    pub index: Option<IndexKind>,
    pub params: SearchParams,
    /// Drop results scoring below this (cosine collections).
    pub min_score: Option<f32>,
    /// Only images matching this filter (Qdrant's filter grammar, see [`filter`]).
    pub filter: Option<filter::Filter>,
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    pub id: ImageId,
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
    /// Whether results follow this page (`offset + k` was not the end).
    pub more: bool,
    /// The index that answered (`flat` when a selective filter sent the query to exact search).
    pub index: IndexKind,
    /// How the filter was applied, when the query had one.
    pub filter: Option<FilterReport>,
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
    /// The committed generation being served (0 when none is committed).
    pub generation: u64,
    /// Qdrant's report, for a collection in Qdrant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdrant: Option<qdrant::QdrantStatus>,
}

/// How a filtered query was answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterReport {
    /// Images the filter keeps.
    pub matched: usize,
    /// Images in the collection.
    pub total: usize,
    /// Whether exact search answered because the filter keeps few images
    /// ([`query::EXACT_BELOW`] of the collection or fewer).
    pub exact: bool,
}
