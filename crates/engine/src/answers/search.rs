//! A search through the ranking stage: `k x factor` candidates from retrieval, their facts, the stage,
//! then the page.

use crate::answers::signals;
use crate::backend::Backend;
use crate::ranking::stage::{self, Stage};
use crate::ranking::{Candidate, Features, QueryKind, RankOptions, Ranked, RankedResult, Rescorer};
use crate::types::error::Result;
use crate::types::query::{Query, QueryOptions, RankingReport, SearchResponse, SearchResult};
use std::time::Instant;

/// What a search learns from and for: the learned re-scorer served, and whether the answer keeps the
/// features of what it shows (for the search analytics the re-scorer is trained on).
#[derive(Debug, Clone, Copy, Default)]
pub struct Learning<'a> {
    pub rescorer: Option<&'a dyn Rescorer>,
    /// Keep each shown result's features in the answer's `ranking.features` (the stage runs for them
    /// even when no step is on).
    pub keep_features: bool,
}

/// Answers `query` as users get it: retrieval, then the ranking stage with the collection's defaults
/// and the query's `collapse` and `diversity` over them, and `learning`'s re-scorer when one is served.
/// When no step would change anything and no features are asked for, retrieval's page is the answer as
/// it is (its `ranking` lists only `min_score` when given).
pub fn search(
    backend: &dyn Backend,
    query: &Query,
    options: &QueryOptions,
    learning: &Learning<'_>,
) -> Result<SearchResponse> {
    let rank = signals::defaults(backend)?.with_query(options.collapse, options.diversity);
    rank.validate()?;
    let rescorer = learning.rescorer;
    if !rank.any() && rescorer.is_none() && !learning.keep_features {
        let mut response = backend.search(query, options)?;
        response.ranking = Some(RankingReport {
            steps: min_score_step(options),
            candidates: response.results.len(),
            pool: 0,
            features: Vec::new(),
        });
        return Ok(response);
    }
    let t0 = Instant::now();
    let vector = backend.query_vector(query)?;
    let embed_ms = t0.elapsed().as_secs_f64() * 1e3;
    let retrieval = match vector {
        Some(v) => Query::Vector(v),
        None => query.clone(),
    };
    let kind = QueryKind::of(query);
    let mut response = ranked_candidates(backend, &retrieval, options, &rank, kind, learning)?;
    response.embed_ms += embed_ms;
    Ok(response)
}

/// The steps the answer lists for `min_score` (applied by retrieval).
fn min_score_step(options: &QueryOptions) -> Vec<String> {
    options
        .min_score
        .map(|_| "min_score".to_string())
        .into_iter()
        .collect()
}

/// What retrieval gave the stage: candidates in retrieval's order and what the answer reports of it.
pub(crate) struct Retrieved {
    pub results: Vec<SearchResult>,
    /// Whether retrieval had more than it gave.
    pub more: bool,
    pub index: vsearch_index::IndexKind,
    pub filter: Option<crate::types::query::FilterReport>,
    pub model: String,
    pub embed_ms: f64,
}

impl From<SearchResponse> for Retrieved {
    fn from(r: SearchResponse) -> Self {
        Self {
            results: r.results,
            more: r.more,
            index: r.index,
            filter: r.filter,
            model: r.model,
            embed_ms: r.embed_ms,
        }
    }
}

/// Retrieval of `query` (already a vector where the backend could say), the ranking stage over it, and
/// the page.
fn ranked_candidates(
    backend: &dyn Backend,
    query: &Query,
    options: &QueryOptions,
    rank: &RankOptions,
    kind: QueryKind,
    learning: &Learning<'_>,
) -> Result<SearchResponse> {
    let retrieve = |fetch: usize| -> Result<Retrieved> {
        Ok(backend
            .search(
                query,
                &QueryOptions {
                    k: fetch,
                    offset: 0,
                    collapse: None,
                    diversity: None,
                    ..options.clone()
                },
            )?
            .into())
    };
    let ranking = Ranking {
        options: rank,
        kind,
        rescorer: learning.rescorer,
        keep_features: learning.keep_features,
    };
    rank_retrieved(backend, retrieve, options, &ranking, |_| true, |_| true)
}

/// How a list is ranked: the stage's options, the query's kind, the re-scorer, and whether the answer
/// keeps the shown results' features.
pub(crate) struct Ranking<'a> {
    pub options: &'a RankOptions,
    pub kind: QueryKind,
    pub rescorer: Option<&'a dyn Rescorer>,
    pub keep_features: bool,
}

/// The ranking stage over what `retrieve` gives for a number of candidates, then the page of
/// `options`; candidates `keep` refuses are left out before the stage, results `show` refuses after it.
/// Retrieval is asked again, for twice as many, while fewer results than the page needs remain and
/// retrieval has more.
pub(crate) fn rank_retrieved(
    backend: &dyn Backend,
    mut retrieve: impl FnMut(usize) -> Result<Retrieved>,
    options: &QueryOptions,
    ranking: &Ranking<'_>,
    keep: impl Fn(&Candidate) -> bool,
    show: impl Fn(&RankedResult) -> bool,
) -> Result<SearchResponse> {
    let t1 = Instant::now();
    let rank = ranking.options;
    let pool = options.k.saturating_mul(rank.factor);
    let needed = options.offset.saturating_add(options.k).saturating_add(1);
    let mut fetch = pool.max(needed);
    let stored = if rank.collapse {
        signals::stored_copies(backend)
    } else {
        None
    };
    // Open reports are a feature: read whenever features are scored or kept, so that what the analytics
    // record for training is what a served model reads.
    let reports =
        if rank.boosts.per_report != 0.0 || ranking.rescorer.is_some() || ranking.keep_features {
            signals::open_reports(backend)
        } else {
            Default::default()
        };
    let higher_is_better = backend.info().metric == vsearch_index::Metric::Cosine;
    let now = jiff::Timestamp::now();
    loop {
        let retrieved = retrieve(fetch)?;
        let ids: Vec<_> = retrieved.results.iter().map(|r| r.id).collect();
        let facts = backend.facts(&ids)?;
        let candidates: Vec<Candidate> = retrieved
            .results
            .iter()
            .zip(facts)
            .map(|(r, mut facts)| {
                facts.open_reports = reports.get(&r.id).copied().unwrap_or(0);
                Candidate {
                    id: r.id,
                    path: r.path.clone(),
                    score: r.score,
                    rank: 0,
                    facts,
                }
            })
            .filter(|c| keep(c))
            .enumerate()
            .map(|(i, c)| Candidate { rank: i + 1, ..c })
            .collect();
        let n = candidates.len();
        let mut ranked = stage::rank(
            candidates,
            &Stage {
                options: rank,
                query: ranking.kind,
                rescorer: ranking.rescorer,
                stored: stored.as_ref(),
                pool,
                higher_is_better,
                now,
            },
        );
        ranked.results.retain(|r| show(r));
        if ranked.results.len() >= needed || !retrieved.more {
            let mut steps = ranked.steps.clone();
            steps.extend(min_score_step(options));
            let (mut results, features, more) = page(ranked, options);
            // A video frame keeps its video and the video's other frames that retrieval folded into it.
            let mut videos: std::collections::HashMap<_, _> = retrieved
                .results
                .into_iter()
                .filter(|r| r.video.is_some())
                .map(|r| (r.id, (r.video, r.frames)))
                .collect();
            for r in &mut results {
                if let Some((video, frames)) = videos.remove(&r.id) {
                    r.video = video;
                    r.frames = frames;
                }
            }
            return Ok(SearchResponse {
                results,
                more,
                index: retrieved.index,
                filter: retrieved.filter,
                model: retrieved.model,
                embed_ms: retrieved.embed_ms,
                search_ms: t1.elapsed().as_secs_f64() * 1e3,
                ranking: Some(RankingReport {
                    steps,
                    candidates: n,
                    pool: pool.min(n),
                    features,
                }),
            });
        }
        fetch = fetch.saturating_mul(2);
    }
}

/// The page `offset .. offset + k` of the stage's results, ranked from 1 in their final order, their
/// features, and whether results follow it. Without a step (the stage ran only for the features), the
/// results are retrieval's and say nothing of an original rank.
fn page(ranked: Ranked, options: &QueryOptions) -> (Vec<SearchResult>, Vec<Features>, bool) {
    let total = ranked.results.len();
    let staged = !ranked.steps.is_empty();
    let mut features = Vec::new();
    let results = ranked
        .results
        .into_iter()
        .enumerate()
        .skip(options.offset)
        .take(options.k)
        .inspect(|(_, r)| features.push(r.features.clone()))
        .map(|(i, r)| SearchResult {
            id: r.id,
            path: r.path,
            score: r.score,
            rank: i + 1,
            original_rank: staged.then_some(r.original_rank),
            original_score: staged.then_some(r.original_score),
            copies: r.copies,
            adjustments: r.adjustments,
            video: None,
            frames: Vec::new(),
        })
        .collect();
    (
        results,
        features,
        total > options.offset.saturating_add(options.k),
    )
}
