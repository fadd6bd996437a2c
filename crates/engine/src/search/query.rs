//! Answering a query: turn its examples into one vector (a board's weighted sum, a crop's embedding),
//! apply the filter inside the search (or search exactly when the filter keeps few images), and cut the
//! page out of results ordered by score, then id.

use crate::search::answer;
use crate::search::collection::Collection;
use crate::search::query_vector::{self, check_search, Examples};
use crate::types::error::Result;
use crate::types::filter::Filter;
use crate::types::image_id::ImageId;
use crate::types::query::{Crop, Query, QueryOptions, SearchResponse, SearchResult};
use std::borrow::Cow;
use std::time::Instant;
use vsearch_embed::Embedder;
use vsearch_index::topk::TopK;
use vsearch_index::{distance, Hit, IdFilter, IndexKind, Metric};

/// A filter that keeps this share of the collection or less is answered by exact search over the images
/// it keeps (as Qdrant does below its full-scan threshold): cheaper than a graph walk that must skip
/// nearly every node, and exact.
pub const EXACT_BELOW: f64 = 0.02;

impl Collection {
    /// Answers a query: the page `options.offset .. offset + k` of the results, best first.
    pub fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse> {
        let t0 = Instant::now();
        let vector = self.query_vector(query)?;
        let embed_ms = t0.elapsed().as_secs_f64() * 1e3;
        check_search(&vector, self.manifest().model.dim, options)?;
        let kind = answer::index_kind(options.index, |k| self.has_index(k));
        let t1 = Instant::now();
        let mut want = answer::hits_wanted(options);
        if self.images().has_frames() {
            want = want.saturating_mul(answer::FRAME_FETCH);
        }
        // Blocked images are left out inside the search, as a filter is: `k` results still come back.
        let (hits, answered_by, filter) = match self.allowed(options.filter.as_ref())? {
            None => (
                self.index(kind)?.search(&vector, want, &options.params)?,
                kind,
                None,
            ),
            Some(allowed) => {
                let total = self.len();
                let report = |exact| {
                    answer::filter_report(options.filter.as_ref(), allowed.len(), total, exact)
                };
                if allowed.is_empty() {
                    (Vec::new(), kind, report(false))
                } else if kind == IndexKind::Flat
                    || allowed.len() as f64 <= EXACT_BELOW * total as f64
                {
                    let hits = self.exact_search(&vector, want, &allowed)?;
                    (hits, IndexKind::Flat, report(kind != IndexKind::Flat))
                } else {
                    let index = self.index(kind)?;
                    let hits = index.search_filtered(&vector, want, &options.params, &allowed)?;
                    (hits, kind, report(false))
                }
            }
        };
        let search_ms = t1.elapsed().as_secs_f64() * 1e3;
        let (results, more) = self.page(hits, options);
        Ok(SearchResponse {
            results,
            more,
            index: answered_by,
            filter,
            model: self.manifest().model.id.clone(),
            embed_ms,
            search_ms,
            ranking: None,
        })
    }

    /// The ids a search may return: those `filter` keeps and no block hides; `None` when every id may
    /// be returned (no filter, nothing hidden). Without a filter, the state's visible ids serve as they are.
    fn allowed(&self, filter: Option<&Filter>) -> Result<Option<Cow<'_, IdFilter>>> {
        let blocks = self.block_state();
        Ok(match filter {
            None => blocks.visible.as_ref().map(Cow::Borrowed),
            Some(filter) => Some(Cow::Owned(IdFilter::from_ids(
                self.images()
                    .matching(Some(filter), &blocks.hidden)?
                    .map(|m| m.id),
            ))),
        })
    }

    /// Orders hits by score (best first), then id; drops those below `min_score` and unknown ids; cuts
    /// the page. Whether results follow the page.
    fn page(&self, mut hits: Vec<Hit>, options: &QueryOptions) -> (Vec<SearchResult>, bool) {
        let metric = self.manifest().metric;
        hits.sort_by(|a, b| {
            let by_score = match metric {
                Metric::Cosine => b.score.total_cmp(&a.score),
                Metric::L2 => a.score.total_cmp(&b.score),
            };
            by_score.then(a.id.cmp(&b.id))
        });
        let ranked = hits
            .into_iter()
            .filter(|h| options.min_score.is_none_or(|m| h.score >= m))
            .filter(|h| !self.is_hidden(h.id))
            .filter_map(|h| self.images().get(h.id).map(|m| (h, m)))
            .enumerate()
            .map(|(i, (h, m))| SearchResult {
                video: m.video.clone(),
                ..SearchResult::new(ImageId::Number(h.id), m.path.clone(), h.score, i + 1)
            });
        answer::page(ranked, options)
    }

    /// Exact search among the ids `allowed` keeps: only their vectors are scored.
    fn exact_search(&self, vector: &[f32], k: usize, allowed: &IdFilter) -> Result<Vec<Hit>> {
        let metric = self.manifest().metric;
        let mut query = vector.to_vec();
        if metric == Metric::Cosine {
            vsearch_core::vector::normalize(&mut query);
        }
        let mut top = TopK::new(k, metric);
        for id in allowed.ids().filter(|&id| self.images().contains(id)) {
            let row = self
                .matrix()
                .row(id)
                .ok_or_else(|| self.matrix().missing_vector(id))?;
            let score = match metric {
                Metric::Cosine => distance::dot(&query, &row),
                Metric::L2 => distance::l2_squared(&query, &row),
            };
            top.push(id, score);
        }
        Ok(top.into_sorted())
    }

    /// The vector a query searches with.
    pub fn query_vector(&self, query: &Query) -> Result<Vec<f32>> {
        query_vector::query_vector(self, query)
    }

    /// Embeds an encoded image, or the region `crop` of it.
    pub(crate) fn embed_image(&self, bytes: &[u8], crop: Option<Crop>) -> Result<Vec<f32>> {
        query_vector::embed_image(self.embedder("a query by image")?, bytes, crop)
    }
}

impl Examples for Collection {
    fn dim(&self) -> usize {
        self.manifest().model.dim
    }
    fn metric(&self) -> Metric {
        self.manifest().metric
    }
    fn stored_vector(&self, id: ImageId) -> Result<Vec<f32>> {
        self.vector(self.local_id(id)?)
    }
    fn stored_image(&self, id: ImageId) -> Result<Vec<u8>> {
        self.image_bytes(self.local_id(id)?)
    }
    fn model(&self, what: &'static str) -> Result<&Embedder> {
        self.embedder(what)
    }
}
