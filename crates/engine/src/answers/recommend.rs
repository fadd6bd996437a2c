//! Recommendations: a feed of images for a board of pinned examples, or for no board at all.
//!
//! **With a board.** The board's query vector (the weighted sum of its examples, negatives subtracted,
//! as a board search makes it) and, when its positive examples show several things, the centroid of each
//! (examples grouped greedily at a cosine of [`BOARD_GROUP_COSINE`]) are each searched; the candidates are
//! merged (an image keeps its best score) and go through the ranking stage with copies collapsed and
//! diversity on ([`DEFAULT_DIVERSITY`] unless asked otherwise). The board's own images, and their copies,
//! are left out, and so are images a label policy hides; blocked images never reach it (retrieval leaves
//! them out).
//!
//! **Without a board** (cold start): the medoids of the collection's clusters (spherical k-means over the
//! stored vectors, [`crate::ranking::clusters`]), largest cluster first, copies collapsed: one
//! representative image of each kind of picture the collection holds. Computing them reads every visible
//! vector, so callers keep the answer for the state they serve ([`ColdStart`]); the server keeps it per
//! served generation.

use crate::answers::search::{rank_retrieved, Ranking, Retrieved};
use crate::answers::signals;
use crate::backend::Backend;
use crate::ranking::clusters::{clusters, greedy_groups};
use crate::ranking::copies;
use crate::ranking::{Candidate, QueryKind, Rescorer};
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::query::{
    Board, Query, QueryOptions, RankingReport, SearchResponse, SearchResult,
};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Diversity of a feed when the request does not say.
pub const DEFAULT_DIVERSITY: f32 = 0.3;
/// Positive examples whose cosine to a group's first reaches this are one thing on the board.
pub const BOARD_GROUP_COSINE: f32 = 0.7;
/// Most groups of a board searched on their own.
pub const MAX_BOARD_GROUPS: usize = 4;

/// Options of a recommendation feed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendOptions {
    /// Results per page.
    pub k: usize,
    /// Results to skip.
    pub offset: usize,
    /// Diversity, 0 to 1 (`None`: [`DEFAULT_DIVERSITY`]).
    pub diversity: Option<f32>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            k: 20,
            offset: 0,
            diversity: None,
        }
    }
}

/// A feed: the page, and how it was made.
#[derive(Debug, Clone)]
pub struct Recommendations {
    pub response: SearchResponse,
    /// Whether there was no board (the collection's representative images).
    pub cold_start: bool,
    /// Searches made (the board and its groups), or clusters (cold start).
    pub clusters: usize,
}

/// A feed for `board` (see the [module](self)); `cold` is the cold-start list of the state served when
/// there is no board (see [`cold_start`]).
pub fn recommend(
    backend: &dyn Backend,
    board: Option<&Board>,
    options: &RecommendOptions,
    rescorer: Option<&dyn Rescorer>,
    cold: impl FnOnce() -> Result<std::sync::Arc<ColdStart>>,
) -> Result<Recommendations> {
    if options.k == 0 {
        return Err(EngineError::BadQuery {
            reason: "a feed needs k of at least 1".into(),
        });
    }
    match board.filter(|b| !b.positive.is_empty()) {
        Some(board) => for_board(backend, board, options, rescorer),
        None => {
            let cold = cold()?;
            Ok(cold.page(backend, options))
        }
    }
}

/// The indexed images a board pins (its `id` examples, for and against).
fn board_ids(board: &Board) -> HashSet<ImageId> {
    board
        .positive
        .iter()
        .chain(&board.negative)
        .filter_map(|e| match e.query {
            Query::Id(id) => Some(id),
            _ => None,
        })
        .collect()
}

fn for_board(
    backend: &dyn Backend,
    board: &Board,
    options: &RecommendOptions,
    rescorer: Option<&dyn Rescorer>,
) -> Result<Recommendations> {
    let t0 = Instant::now();
    let whole =
        backend
            .query_vector(&Query::Board(board.clone()))?
            .ok_or(EngineError::BadQuery {
                reason: "this collection cannot say what a board searches for".into(),
            })?;
    // The positive examples' own vectors, grouped: several things pinned are searched each.
    let mut positives = Vec::new();
    for example in &board.positive {
        let one = Board {
            positive: vec![example.clone()],
            negative: Vec::new(),
        };
        if let Some(v) = backend.query_vector(&Query::Board(one))? {
            positives.push(v);
        }
    }
    let refs: Vec<&[f32]> = positives.iter().map(Vec::as_slice).collect();
    let groups = greedy_groups(&refs, BOARD_GROUP_COSINE);
    let mut queries = vec![whole];
    if groups.len() > 1 {
        for g in groups.iter().take(MAX_BOARD_GROUPS) {
            let mut c = vec![0.0f32; positives[g[0]].len()];
            for &i in g {
                c.iter_mut().zip(&positives[i]).for_each(|(s, x)| *s += x);
            }
            vsearch_core::vector::normalize(&mut c);
            queries.push(c);
        }
    }
    let embed_ms = t0.elapsed().as_secs_f64() * 1e3;
    let pinned = board_ids(board);
    let query_options = QueryOptions {
        k: options.k,
        offset: options.offset,
        ..QueryOptions::default()
    };
    let retrieve = |fetch: usize| -> Result<Retrieved> {
        let mut best: HashMap<ImageId, SearchResult> = HashMap::new();
        let mut first: Option<Retrieved> = None;
        let mut more = false;
        for q in &queries {
            let r: Retrieved = backend
                .search(
                    &Query::Vector(q.clone()),
                    &QueryOptions {
                        k: fetch + pinned.len(),
                        ..QueryOptions::default()
                    },
                )?
                .into();
            more |= r.more;
            for hit in &r.results {
                match best.get(&hit.id) {
                    Some(b) if b.score >= hit.score => {}
                    _ => {
                        best.insert(hit.id, hit.clone());
                    }
                }
            }
            first.get_or_insert(r);
        }
        let mut results: Vec<SearchResult> = best.into_values().collect();
        results.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        let mut out = first.ok_or(EngineError::BadQuery {
            reason: "the board searches for nothing".into(),
        })?;
        out.results = results;
        out.more = more;
        out.embed_ms = 0.0;
        Ok(out)
    };
    let rank = signals::defaults(backend)?.with_query(
        Some(true),
        Some(options.diversity.unwrap_or(DEFAULT_DIVERSITY)),
    );
    rank.validate()?;
    let ranking = Ranking {
        options: &rank,
        kind: QueryKind::Recommend,
        rescorer,
        keep_features: false,
    };
    let mut response = rank_retrieved(
        backend,
        retrieve,
        &query_options,
        &ranking,
        |c: &Candidate| !c.facts.hidden,
        |r| !pinned.contains(&r.id) && !r.copies.iter().any(|c| pinned.contains(c)),
    )?;
    response.embed_ms = embed_ms;
    Ok(Recommendations {
        response,
        cold_start: false,
        clusters: queries.len(),
    })
}

/// The collection's representative images: one per cluster, largest cluster first, copies collapsed.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// Each representative and its cosine to its cluster's centroid.
    pub images: Vec<SearchResult>,
    /// Clusters made.
    pub clusters: usize,
    /// Milliseconds the clustering took.
    pub ms: f64,
}

/// Clusters a collection of `n` images is cut into for the cold start: `sqrt(n)` within 24..=200, and
/// at most `n`.
pub fn cold_start_clusters(n: usize) -> usize {
    ((n as f64).sqrt() as usize).clamp(24, 200).min(n)
}

/// Computes the cold-start list of `backend` (reads every visible vector; see the [module](self)).
pub fn cold_start(backend: &dyn Backend) -> Result<ColdStart> {
    let t0 = Instant::now();
    let all = backend.visible_vectors()?;
    let ids: Vec<ImageId> = all.iter().map(|(id, _)| *id).collect();
    let facts = backend.facts(&ids)?;
    let kept: Vec<usize> = (0..all.len()).filter(|&i| !facts[i].hidden).collect();
    let vectors: Vec<&[f32]> = kept.iter().map(|&i| all[i].1.as_slice()).collect();
    let made = clusters(&vectors, cold_start_clusters(vectors.len()));
    // Collapse copies among the medoids (as the stage groups copies).
    let medoids: Vec<usize> = made.iter().map(|c| kept[c.medoid]).collect();
    let candidates: Vec<Candidate> = medoids
        .iter()
        .enumerate()
        .filter_map(|(rank, &i)| {
            let path = backend.image_meta(all[i].0).ok()?.path;
            Some(Candidate {
                id: all[i].0,
                path,
                score: 0.0,
                rank: rank + 1,
                facts: facts[i].clone(),
            })
        })
        .collect();
    let stored = signals::stored_copies(backend);
    let roots = copies::group(&candidates, stored.as_ref());
    let mut seen = HashSet::new();
    let mut images = Vec::new();
    for (c, root) in candidates.iter().zip(&roots) {
        if !seen.insert(*root) {
            continue;
        }
        let centroid_cos = made
            .iter()
            .find(|m| all[kept[m.medoid]].0 == c.id)
            .map(|m| {
                let mut centroid = vec![0.0f32; all[kept[m.medoid]].1.len()];
                for &j in &m.members {
                    centroid
                        .iter_mut()
                        .zip(vectors[j])
                        .for_each(|(s, x)| *s += x);
                }
                vsearch_core::vector::normalize(&mut centroid);
                vsearch_core::vector::dot(&centroid, all[kept[m.medoid]].1.as_slice())
            })
            .unwrap_or(0.0);
        let rank = images.len() + 1;
        images.push(SearchResult::new(c.id, c.path.clone(), centroid_cos, rank));
    }
    Ok(ColdStart {
        images,
        clusters: made.len(),
        ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

impl ColdStart {
    /// The page of `options` as a feed.
    fn page(&self, backend: &dyn Backend, options: &RecommendOptions) -> Recommendations {
        let results: Vec<SearchResult> = self
            .images
            .iter()
            .skip(options.offset)
            .take(options.k)
            .cloned()
            .collect();
        let info = backend.info();
        Recommendations {
            response: SearchResponse {
                more: self.images.len() > options.offset.saturating_add(options.k),
                results,
                index: vsearch_index::IndexKind::Flat,
                filter: None,
                model: info.model.id,
                embed_ms: 0.0,
                search_ms: self.ms,
                ranking: Some(RankingReport {
                    steps: vec!["clusters".into(), "collapse".into()],
                    candidates: self.clusters,
                    pool: self.clusters,
                    features: Vec::new(),
                }),
            },
            cold_start: true,
            clusters: self.clusters,
        }
    }
}
