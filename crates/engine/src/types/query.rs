//! Queries and their answers: what a search asks (one example, a board of several, a crop, the options of
//! a page) and what every backend answers (results, the index that answered, how a filter was applied).

use crate::ranking::boosts::Adjustment;
use crate::ranking::features::Features;
use crate::types::filter;
use crate::types::image_id::ImageId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use vsearch_embed::ModelInfo;
use vsearch_index::{IndexConfig, IndexKind, Metric, SearchParams};

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
    /// One result per duplicate group (`None`: the collection's default, see
    /// [`crate::ranking::RankOptions`]).
    pub collapse: Option<bool>,
    /// Weight of diversity (maximal marginal relevance), 0 to 1 (`None`: the collection's default).
    pub diversity: Option<f32>,
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
    /// For a frame of a video: the video and the frame's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<crate::types::metadata::VideoFrame>,
    /// The video's other frames among the results, best first: they are folded into its best frame
    /// (`search::video_groups`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameHit>,
    /// Retrieval's 1-based rank, when the ranking stage ran (see [`crate::ranking`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_rank: Option<usize>,
    /// Retrieval's score, when the ranking stage ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_score: Option<f32>,
    /// The other copies of the picture among the candidates (collapse), best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<ImageId>,
    /// What boosts and demotions added to the score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
}

/// Another frame of a result's video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameHit {
    pub id: ImageId,
    /// Its time in the video, in seconds.
    pub seconds: f64,
    pub score: f32,
}

impl SearchResult {
    /// A result as retrieval gives it (no ranking-stage account).
    pub fn new(id: ImageId, path: String, score: f32, rank: usize) -> Self {
        Self {
            id,
            path,
            score,
            rank,
            original_rank: None,
            original_score: None,
            copies: Vec::new(),
            adjustments: Vec::new(),
            video: None,
            frames: Vec::new(),
        }
    }
}

/// What the ranking stage did to an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingReport {
    /// The steps that ran, in order: `rescore:NAME`, `boosts`, `collapse`, `diversity`, and
    /// `min_score` (applied by retrieval); empty when the answer is retrieval's order.
    pub steps: Vec<String>,
    /// Candidates retrieval gave the stage.
    pub candidates: usize,
    /// Candidates the stage re-ordered (`k x factor`; those after keep retrieval's order).
    pub pool: usize,
    /// The features of each result of the page, in its order, when the stage ran (what the search
    /// analytics record for the learned re-ranker; not part of the answer's JSON).
    #[serde(skip)]
    pub features: Vec<Features>,
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
    /// What the ranking stage did (absent from a backend's own retrieval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingReport>,
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
    pub qdrant: Option<QdrantStatus>,
}

/// How a filtered query was answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterReport {
    /// Images the filter keeps.
    pub matched: usize,
    /// Images in the collection.
    pub total: usize,
    /// Whether exact search answered because the filter keeps few images
    /// ([`crate::search::query::EXACT_BELOW`] of the collection or fewer).
    pub exact: bool,
}

/// The state of a Qdrant collection, as Qdrant reports it (for `GET /api/collection`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QdrantStatus {
    pub url: String,
    pub collection: String,
    /// The vector searched (the model's id).
    pub vector: String,
    /// `green` (ready), `yellow` (optimising), `grey` (optimisations pending) or `red` (failed).
    pub status: String,
    pub points: u64,
    /// Vectors in HNSW segments (the rest are searched by brute force until indexed).
    pub indexed_vectors: u64,
    pub segments: u64,
    pub shards: u32,
    pub replicas: u32,
}
