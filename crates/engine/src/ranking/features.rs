//! What the ranking stage knows of each candidate: retrieval's score and rank and the facts a backend
//! gathered ([`Candidate`]), and the per-candidate features a learned re-scorer reads ([`Features`]).

use crate::pdq::Pdq;
use crate::types::image_id::ImageId;
use crate::types::query::Query;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a query asked by (a feature: people open results of a text query differently from a photo's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryKind {
    /// An uploaded image.
    Image,
    /// An indexed image, by id.
    Id,
    /// Text.
    Text,
    /// A raw vector.
    Vector,
    /// A board of several examples (or one example with a crop).
    Board,
    /// A recommendation feed (`GET /api/recommend`).
    Recommend,
}

impl QueryKind {
    /// The kind of `query`.
    pub fn of(query: &Query) -> Self {
        match query {
            Query::ImageBytes(_) => QueryKind::Image,
            Query::Id(_) => QueryKind::Id,
            Query::Text(_) => QueryKind::Text,
            Query::Vector(_) => QueryKind::Vector,
            Query::Board(_) => QueryKind::Board,
        }
    }

    /// Its name in the analytics database and in reports.
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Image => "image",
            QueryKind::Id => "id",
            QueryKind::Text => "text",
            QueryKind::Vector => "vector",
            QueryKind::Board => "board",
            QueryKind::Recommend => "recommend",
        }
    }

    /// Every kind, in the order of the one-hot features of [`Features::values`].
    pub const ALL: [QueryKind; 6] = [
        QueryKind::Image,
        QueryKind::Id,
        QueryKind::Text,
        QueryKind::Vector,
        QueryKind::Board,
        QueryKind::Recommend,
    ];
}

/// One candidate from retrieval.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Retrieval's score: the cosine similarity (a squared L2 distance in an L2 collection).
    pub score: f32,
    /// 1-based rank in retrieval's order (score, then id).
    pub rank: usize,
    /// What the backend knows of the image.
    pub facts: CandidateFacts,
}

/// What a backend knows of a candidate besides its score (gathered once per query for the candidates
/// only: [`crate::backend::Backend::facts`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateFacts {
    /// The stored vector (unit length in a cosine collection); `None` when it cannot be read.
    pub vector: Option<Vec<f32>>,
    /// blake3 of the file's content, hex (exact copies share it).
    pub hash: Option<String>,
    /// The PDQ hash stored at index time.
    pub pdq: Option<Pdq>,
    /// The file's modification time.
    pub mtime: Option<jiff::Timestamp>,
    /// Label scores in 0..1, by label.
    pub labels: BTreeMap<String, f32>,
    /// The labels a `flag` policy action flags the image by.
    pub flags: Vec<String>,
    /// Open report cases on the image.
    pub open_reports: u32,
    /// Whether a label policy's `hide` action hides the image (blurred on the page; recommendations
    /// leave it out).
    pub hidden: bool,
    /// Whether the candidate is a frame of a video: a video is never collapsed as a copy of a photo
    /// (or of another video): its frames are folded into one result by retrieval already, and a search
    /// by a still is how a video is found.
    pub video_frame: bool,
}

/// Names of [`Features::values`], in order.
pub const FEATURE_NAMES: [&str; 13] = [
    "cosine",
    "original_rank",
    "group_size",
    "flagged",
    "label_max",
    "log_age_days",
    "open_reports",
    "query_image",
    "query_id",
    "query_text",
    "query_vector",
    "query_board",
    "query_recommend",
];

/// The features of one candidate, what a learned re-scorer reads ([`crate::ranking::Rescorer`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Retrieval's cosine similarity to the query.
    pub cosine: f32,
    /// 1-based rank in retrieval's order.
    pub original_rank: usize,
    /// Copies of the picture among the candidates, itself included (1 for an image without copies).
    pub group_size: usize,
    /// Label scores in 0..1, by label (empty when the collection has no labels).
    pub labels: BTreeMap<String, f32>,
    /// Whether a label policy's `flag` action flags the image.
    pub flagged: bool,
    /// Days since the file was modified (`None`: unknown).
    pub age_days: Option<f32>,
    /// Open report cases on the image.
    pub open_reports: u32,
    /// What the query asked by.
    pub query: QueryKind,
}

impl Features {
    /// The features of `candidate`, one of `group_size` copies among the candidates, at time `now`.
    pub fn of(
        candidate: &Candidate,
        group_size: usize,
        query: QueryKind,
        now: jiff::Timestamp,
    ) -> Self {
        let facts = &candidate.facts;
        Self {
            cosine: candidate.score,
            original_rank: candidate.rank,
            group_size,
            labels: facts.labels.clone(),
            flagged: !facts.flags.is_empty(),
            age_days: facts
                .mtime
                .map(|t| (now.as_second() - t.as_second()) as f32 / 86_400.0),
            open_reports: facts.open_reports,
            query,
        }
    }

    /// The features as numbers, named by [`FEATURE_NAMES`]: booleans 0/1, `label_max` the highest label
    /// score (0 without labels), `log_age_days` `ln(1 + days)` (-1 when unknown), the query kind one-hot.
    pub fn values(&self) -> [f32; FEATURE_NAMES.len()] {
        let mut v = [0.0; FEATURE_NAMES.len()];
        v[0] = self.cosine;
        v[1] = self.original_rank as f32;
        v[2] = self.group_size as f32;
        v[3] = f32::from(u8::from(self.flagged));
        v[4] = self.labels.values().copied().fold(0.0, f32::max);
        v[5] = self.age_days.map_or(-1.0, |d| d.max(0.0).ln_1p());
        v[6] = self.open_reports as f32;
        let kind = QueryKind::ALL
            .iter()
            .position(|k| *k == self.query)
            .unwrap_or(0);
        v[7 + kind] = 1.0;
        v
    }
}
