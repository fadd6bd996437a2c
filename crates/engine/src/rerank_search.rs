//! A search with the learned re-ranker: the candidates retrieved, their features ([`crate::rerank::features`])
//! computed from what the collection knows of them (score, rank, vectors, labels, dates), the order
//! the re-ranker gives them, and the features of what is shown (for the analytics, so that the next
//! training sees what the page saw).
//!
//! With a model, a first page fetches [`CANDIDATE_FACTOR`] times `k` candidates and shows the `k` the
//! model ranks first; later pages (an `offset`) and searches without a model keep the retrieval order.
//! Blocked and hidden images are never candidates (retrieval leaves them out), so no order shows one.

use crate::analytics::{QueryKind, ShownFeatures};
use crate::backend::Backend;
use crate::rerank::features::{self, Candidate, Row, VERSION};
use crate::rerank::Reranker;
use crate::types::error::Result;
use crate::types::query::{Query, QueryOptions, SearchResponse};

/// Candidates fetched per result shown when the re-ranker is on.
pub const CANDIDATE_FACTOR: usize = 3;
/// Most candidates fetched.
pub const MAX_CANDIDATES: usize = 300;

/// A search's answer with the re-ranker applied.
#[derive(Debug, Clone)]
pub struct Reranked {
    /// The results shown, in the order shown (each `rank` its position in it).
    pub response: SearchResponse,
    /// Each result's 1-based rank in the retrieval (cosine) order.
    pub original_ranks: Vec<usize>,
    /// The features of the results shown, in the order shown.
    pub features: ShownFeatures,
    /// The re-ranker's step, in words ([`Reranker::step`]).
    pub step: String,
}

/// Answers `query` from `backend` and orders the answer with `reranker`.
pub fn search(
    backend: &dyn Backend,
    reranker: &Reranker,
    query: &Query,
    options: &QueryOptions,
) -> Result<Reranked> {
    let k = options.k;
    let rerank = reranker.model().is_some() && options.offset == 0 && k > 0;
    let mut fetch = options.clone();
    if rerank {
        fetch.k = (k * CANDIDATE_FACTOR).clamp(k, MAX_CANDIDATES.max(k));
    }
    let mut response = backend.search(query, &fetch)?;
    let rows = candidate_rows(backend, QueryKind::of(query), &response);
    let mut order = reranker.order(&rows);
    if rerank {
        response.more |= order.len() > k;
        order.truncate(k);
    }
    let mut taken: Vec<Option<_>> = response.results.drain(..).map(Some).collect();
    let mut values = Vec::with_capacity(order.len() * features::WIDTH);
    let mut original_ranks = Vec::with_capacity(order.len());
    for (at, &i) in order.iter().enumerate() {
        if let Some(mut result) = taken[i].take() {
            original_ranks.push(result.rank);
            result.rank = options.offset + at + 1;
            response.results.push(result);
            values.extend_from_slice(&rows[i]);
        }
    }
    Ok(Reranked {
        response,
        original_ranks,
        features: ShownFeatures {
            version: VERSION,
            width: features::WIDTH,
            values,
        },
        step: reranker.step(),
    })
}

/// The feature rows of a response's results, in its order.
pub fn candidate_rows(
    backend: &dyn Backend,
    kind: QueryKind,
    response: &SearchResponse,
) -> Vec<Row> {
    let now = jiff::Timestamp::now();
    let vectors: Option<Vec<Vec<f32>>> = response
        .results
        .iter()
        .map(|r| backend.vector(r.id).ok().flatten())
        .collect();
    let agreement = vectors
        .as_deref()
        .map(features::agreement)
        .unwrap_or_else(|| vec![0.0; response.results.len()]);
    let candidates: Vec<Candidate> = response
        .results
        .iter()
        .zip(agreement)
        .map(|(r, agreement)| {
            let meta = backend.image_meta(r.id).ok();
            let age_days = meta.as_ref().and_then(|m| {
                let date = m.taken_at.as_deref().unwrap_or(&m.mtime);
                let at = date.parse::<jiff::Timestamp>().ok()?;
                Some(now.duration_since(at).as_secs_f64() as f32 / 86_400.0)
            });
            Candidate {
                score: r.score,
                rank: r.rank,
                // The duplicate groups and the reports are the ranking stage's to give (issue #34 item
                // 1); until it does, they count nothing.
                group_size: 0,
                flags: meta.as_ref().map_or(0, |m| m.flags.len() as u32),
                age_days,
                reports: 0,
                agreement,
            }
        })
        .collect();
    features::rows(kind, &candidates)
}
