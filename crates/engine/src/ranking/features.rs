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
pub const FEATURE_NAMES: [&str; 15] = [
    "cosine",
    "gap_to_best",
    "log_rank",
    "agreement",
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

/// The layout of [`Features::values`] ([`FEATURE_NAMES`]): the search analytics record it beside each
/// row, and a learned model is trained on, and applied to, rows of one layout.
pub const FEATURES_VERSION: u32 = 1;

/// [`Features`] as numbers ([`Features::values`]).
pub type Row = [f32; FEATURE_NAMES.len()];

/// The candidates at the head of retrieval's list that [`Features::agreement`] compares each with.
pub const AGREEMENT_HEAD: usize = 3;

/// The features of one candidate, what a learned re-scorer reads ([`crate::ranking::Rescorer`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Retrieval's cosine similarity to the query.
    pub cosine: f32,
    /// How far its score is behind the best candidate's (0 for the best).
    pub gap_to_best: f32,
    /// 1-based rank in retrieval's order.
    pub original_rank: usize,
    /// Its mean cosine similarity to the first [`AGREEMENT_HEAD`] candidates other than itself
    /// ([`agreement`]): a candidate like the head of the list is likelier what the query is after than
    /// one near the query alone (pseudo-relevance feedback). 0 when the vectors are not known.
    pub agreement: f32,
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

/// What the features of one candidate are computed in: the whole list's part.
#[derive(Debug, Clone, Copy)]
pub struct ListFacts {
    /// The best score among the candidates (highest cosine, lowest distance).
    pub best: f32,
    /// Whether higher scores are better (cosine); `false` for L2 distances.
    pub higher_is_better: bool,
    pub query: QueryKind,
    pub now: jiff::Timestamp,
}

impl ListFacts {
    /// The list facts of `candidates`.
    pub fn of(
        candidates: &[Candidate],
        higher_is_better: bool,
        query: QueryKind,
        now: jiff::Timestamp,
    ) -> Self {
        let sign = if higher_is_better { 1.0 } else { -1.0 };
        let best = candidates
            .iter()
            .map(|c| sign * c.score)
            .fold(f32::NEG_INFINITY, f32::max);
        Self {
            best: sign * best,
            higher_is_better,
            query,
            now,
        }
    }
}

impl Features {
    /// The features of `candidate`, one of `group_size` copies among the candidates, `agreement` its
    /// [`agreement`] with the head of the list.
    pub fn of(candidate: &Candidate, group_size: usize, agreement: f32, list: &ListFacts) -> Self {
        let facts = &candidate.facts;
        let gap = if list.higher_is_better {
            list.best - candidate.score
        } else {
            candidate.score - list.best
        };
        Self {
            cosine: candidate.score,
            gap_to_best: if gap.is_finite() { gap.max(0.0) } else { 0.0 },
            original_rank: candidate.rank,
            agreement,
            group_size,
            labels: facts.labels.clone(),
            flagged: !facts.flags.is_empty(),
            age_days: facts
                .mtime
                .map(|t| (list.now.as_second() - t.as_second()) as f32 / 86_400.0),
            open_reports: facts.open_reports,
            query: list.query,
        }
    }

    /// The features as numbers, named by [`FEATURE_NAMES`]: booleans 0/1, `log_rank` `ln(rank)`,
    /// `label_max` the highest label score (0 without labels), `log_age_days` `ln(1 + days)` (-1 when
    /// unknown), the query kind one-hot; a number that is not finite is 0.
    pub fn values(&self) -> Row {
        let mut v = [0.0; FEATURE_NAMES.len()];
        v[0] = self.cosine;
        v[1] = self.gap_to_best;
        v[2] = (self.original_rank.max(1) as f32).ln();
        v[3] = self.agreement;
        v[4] = self.group_size as f32;
        v[5] = f32::from(u8::from(self.flagged));
        v[6] = self.labels.values().copied().fold(0.0, f32::max);
        v[7] = self.age_days.map_or(-1.0, |d| d.max(0.0).ln_1p());
        v[8] = self.open_reports as f32;
        let kind = QueryKind::ALL
            .iter()
            .position(|k| *k == self.query)
            .unwrap_or(0);
        v[9 + kind] = 1.0;
        v.map(|x| if x.is_finite() { x } else { 0.0 })
    }
}

/// Each candidate's mean cosine similarity to the first [`AGREEMENT_HEAD`] candidates other than itself
/// (in retrieval's order), from their stored vectors; 0 where a vector is missing.
pub fn agreement(candidates: &[Candidate]) -> Vec<f32> {
    let vectors: Vec<Option<&[f32]>> = candidates
        .iter()
        .map(|c| c.facts.vector.as_deref())
        .collect();
    let norms: Vec<f32> = vectors
        .iter()
        .map(|v| v.map_or(0.0, |v| v.iter().map(|x| x * x).sum::<f32>().sqrt()))
        .collect();
    let cosine = |a: usize, b: usize| match (vectors[a], vectors[b]) {
        (Some(x), Some(y)) if norms[a] * norms[b] > 0.0 => {
            x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>() / (norms[a] * norms[b])
        }
        _ => 0.0,
    };
    (0..candidates.len())
        .map(|i| {
            let head: Vec<usize> = (0..candidates.len())
                .filter(|&j| j != i)
                .take(AGREEMENT_HEAD)
                .collect();
            if head.is_empty() || vectors[i].is_none() {
                return 0.0;
            }
            head.iter().map(|&j| cosine(i, j)).sum::<f32>() / head.len() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(rank: usize, score: f32, vector: Option<[f32; 2]>) -> Candidate {
        Candidate {
            id: ImageId::Number(rank as u64),
            path: format!("{rank}.jpg"),
            score,
            rank,
            facts: CandidateFacts {
                vector: vector.map(|v| v.to_vec()),
                ..CandidateFacts::default()
            },
        }
    }

    #[test]
    fn values_follow_the_names() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let list = [
            candidate(1, 0.9, None),
            Candidate {
                facts: CandidateFacts {
                    flags: vec!["flag".into()],
                    labels: [("nsfw".to_string(), 0.7)].into(),
                    open_reports: 2,
                    mtime: Some(now - jiff::SignedDuration::from_hours(240)),
                    ..CandidateFacts::default()
                },
                ..candidate(4, 0.5, None)
            },
        ];
        let facts = ListFacts::of(&list, true, QueryKind::Id, now);
        let v = Features::of(&list[1], 3, 0.25, &facts).values();
        let at = |name: &str| v[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("cosine"), 0.5);
        assert!((at("gap_to_best") - 0.4).abs() < 1e-6);
        assert!((at("log_rank") - 4f32.ln()).abs() < 1e-6);
        assert_eq!(at("agreement"), 0.25);
        assert_eq!(at("group_size"), 3.0);
        assert_eq!(at("flagged"), 1.0);
        assert_eq!(at("label_max"), 0.7);
        assert!((at("log_age_days") - 11f32.ln()).abs() < 1e-5);
        assert_eq!(at("open_reports"), 2.0);
        assert_eq!(at("query_id"), 1.0);
        assert_eq!(at("query_text"), 0.0);
        // The best candidate: no gap; an L2 list's best is its smallest distance.
        assert_eq!(Features::of(&list[0], 1, 0.0, &facts).gap_to_best, 0.0);
        let l2 = ListFacts::of(&list, false, QueryKind::Id, now);
        assert!((Features::of(&list[0], 1, 0.0, &l2).gap_to_best - 0.4).abs() < 1e-6);
    }

    #[test]
    fn agreement_is_the_mean_similarity_to_the_head() {
        let list = [
            candidate(1, 0.9, Some([1.0, 0.0])),
            candidate(2, 0.8, Some([2.0, 0.0])),
            candidate(3, 0.7, Some([0.0, 1.0])),
            candidate(4, 0.6, Some([1.0, 0.0])),
            candidate(5, 0.5, None),
        ];
        let a = agreement(&list);
        // The fourth: like the first two (whatever their length), unlike the third.
        assert!((a[3] - 2.0 / 3.0).abs() < 1e-6, "{a:?}");
        // The third: unlike the first, second and fourth.
        assert!(a[2].abs() < 1e-6, "{a:?}");
        // Without a vector: 0.
        assert_eq!(a[4], 0.0);
    }
}
