//! Collections: an image folder made searchable.
//!
//! A collection lives in a folder (default `DIR/.vsearch/`) holding a manifest, a SQLite catalog of
//! files, the embedding matrix (memory-mapped, one row per id) and generations of the index files behind
//! one commit point ([`generation`]). [`index_folder`] builds and updates it incrementally; [`Collection`]
//! answers queries from the committed generation; [`QdrantCollection`] answers the same queries from a
//! Qdrant collection, and [`Backend`] is what both are to the server and the CLI ([`open_backend`]).
//! The server uses only this crate, and so does the CLI for collections (it calls `vsearch-embed`
//! directly for `vsearch embed` and `vsearch models`); it ties `vsearch-embed`, `vsearch-index` and
//! `vsearch-qdrant` together.
//!
//! # Layers
//!
//! The modules form layers; each imports only from its own layer and those below it (the architecture
//! test, `tests/it/architecture.rs` at the workspace root, keeps it so):
//!
//! ```text
//! answers             searches and recommendations as users get them: retrieval, then the ranking stage
//! reports             the reports queue
//! backend, pipeline   the one interface of both backends and opening one; index runs (scan, plan,
//!                     ingest, commit, sync, watch, the Qdrant writer)
//! safety              takedowns (blocks), duplicate groups, label scoring, classifier evaluation
//! search, qdrant      a local collection and its queries, browsing and images; a Qdrant collection
//! rerank              the learned re-ranker: labels from opens, the model (a ranking re-scorer),
//!                     training and offline evaluation from the search analytics
//! store, analytics    manifest, catalog, embedding matrix, generations and the commit point, indexes,
//!                     verify; search analytics (analytics.sqlite in the records folder)
//! types, pdq, video,  errors, ids, metadata, filters, label policies, queries and answers, file layout;
//! ranking             the PDQ perceptual hash (computing it, matching it in Hamming space); video files
//!                     (recognised by content, frames sampled by ffmpeg); the ranking stage's options,
//!                     features and steps (plain data and computation)
//! ```

pub mod analytics;
pub mod answers;
pub mod backend;
pub mod pdq;
pub mod pipeline;
pub mod qdrant;
pub mod ranking;
pub mod reports;
pub mod rerank;
pub mod safety;
pub mod search;
pub mod store;
pub mod types;
pub mod video;

// The modules' paths before the layers, kept for the crates that use them.
pub use pipeline::scan;
pub use safety::{blocks, classifier_eval, dupes};
pub use search::{browse, collection, images, query};
pub use store::{catalog, generation, indexes, manifest, matrix, thumbnails};
pub use types::{error, fault, filter, image_id, layout, metadata};

/// Label policies ([`types::label_policy`]) and label scoring ([`safety::labels`]) under one path.
pub mod labels {
    pub use crate::safety::labels::*;
    pub use crate::types::label_policy::*;
}

pub use backend::{open_backend, Backend, BackendOptions};
pub use pipeline::options::{Failure, IndexOptions, IndexReport};
pub use pipeline::qdrant::{index_into_qdrant, QdrantIndexOptions};
pub use pipeline::watch::{watch_folder, WatchEvent};
pub use pipeline::{apply_labels, index_folder, Indexer};
pub use qdrant::{QdrantCollection, QdrantOpen, QdrantTarget};
pub use safety::dupes::{copies_of, DupesOptions, DuplicateGroup, DuplicateImage};
pub use safety::labels::LabelReport;
pub use search::collection::Collection;
pub use store::manifest::CollectionManifest;
pub use store::verify::{pending_work, verify, PendingWork, VerifyReport};
pub use types::error::{EngineError, Result};
pub use types::image_id::ImageId;
pub use types::label_policy::PolicySource;
pub use types::layout::{qdrant_records_dir, resolve_collection_dir, DEFAULT_COLLECTION_DIR};
pub use types::query::{
    Board, CollectionInfo, Crop, Example, FilterReport, QdrantStatus, Query, QueryOptions,
    SearchResponse, SearchResult,
};
pub use vsearch_embed::{image_io, DeviceSpec, EmbedError, ModelInfo, ModelSpec, Precision};
pub use vsearch_index::{
    IndexConfig, IndexError, IndexKind, Metric, Quantization, SearchParams, UnknownIndexKind,
};
