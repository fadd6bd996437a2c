//! Searching an IVF index: queries checked and prepared, FAISS's search with per-call parameters, quantised
//! codes' exact re-ranking, and the lists a filtered search visits.

use super::ffi::{self, faiss_check, IvfSearchParams};
// Up to mod.rs: this file adds methods to the IvfIndex defined there.
use super::{invalid, threads, IvfIndex};
use crate::config::{IvfCodes, SearchParams};
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::topk::TopK;
use crate::vector_index::{Hit, Metric};
use rayon::prelude::*;
use vsearch_core::vector::normalize_rows;

impl IvfIndex {
    /// One query checked (its length) and prepared, with the lists to visit.
    pub(super) fn prepare_one(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<(Vec<f32>, usize)> {
        if query.len() != self.dim {
            return Err(IndexError::Dimension {
                expected: self.dim,
                got: query.len(),
            });
        }
        Ok((
            self.prepare_queries(query, k)?,
            self.requested_nprobe(params)?,
        ))
    }

    /// Checks and (for cosine) normalises queries.
    pub(super) fn prepare_queries(&self, queries: &[f32], k: usize) -> Result<Vec<f32>> {
        if k == 0 {
            return Err(IndexError::ZeroK);
        }
        if !queries.len().is_multiple_of(self.dim) {
            return Err(IndexError::Dimension {
                expected: self.dim,
                got: queries.len(),
            });
        }
        if self.ids.is_empty() {
            return Err(IndexError::Empty);
        }
        if queries.iter().any(|x| !x.is_finite()) {
            return Err(invalid("query has a NaN or infinite component"));
        }
        let mut q = queries.to_vec();
        if self.metric == Metric::Cosine {
            normalize_rows(&mut q, self.dim);
        }
        Ok(q)
    }

    /// Quantised codes: re-scores `hits` of `query` with the raw vectors, orders them best first and keeps `k`.
    fn rerank(&self, query: &[f32], hits: &mut Vec<Hit>, k: usize) {
        let score = self.metric.score_kernel();
        for h in hits.iter_mut() {
            if let Some(&row) = self.rows.get(&h.id) {
                h.score = score(query, &self.raw[row * self.dim..(row + 1) * self.dim]);
            }
        }
        match self.metric {
            Metric::Cosine => {
                hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)))
            }
            Metric::L2 => hits.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.id.cmp(&b.id))),
        }
        hits.truncate(k);
    }

    /// One query's `nprobe` nearest lists, found with this crate's distance kernels over the coarse
    /// quantiser's centroids (FAISS's own array), as the row FAISS's preassigned search reads: the lists
    /// best first, then -1 to the row's end; with their coarse distances (FAISS's sense: L2 squared, or
    /// the inner product for cosine). `None` where the index has no such row (then FAISS's search runs).
    ///
    /// Why: for one query FAISS compares the centroids one by one with `fvec_L2sqr`, which GCC compiles
    /// to a single chain of dependent FMAs (one accumulator), so each 784-d centroid costs ~98 FMA
    /// latencies; the crate's kernels keep four chains in flight. A batch keeps FAISS's search, whose
    /// coarse step is one BLAS product.
    fn coarse_lists(&self, query: &[f32], nprobe: usize) -> Option<(Vec<i64>, Vec<f32>)> {
        let row = ffi::preassigned_row(&self.faiss);
        let centroids = ffi::coarse_centroids(&self.faiss)?;
        if row < nprobe || centroids.len() != self.nlist() * self.dim {
            return None;
        }
        let score = self.metric.score_kernel();
        let mut nearest = TopK::new(nprobe, self.metric);
        for (list, centroid) in centroids.chunks_exact(self.dim).enumerate() {
            nearest.push(list as u64, score(query, centroid));
        }
        let mut lists = vec![-1i64; row];
        let mut coarse = vec![0f32; row];
        for (i, hit) in nearest.into_sorted().into_iter().enumerate() {
            lists[i] = hit.id as i64;
            coarse[i] = hit.score;
        }
        Some((lists, coarse))
    }

    /// FAISS search of `nq` prepared queries with `nprobe`, `fetch` results each (labels -1 when short),
    /// among the ids `filter` allows when one is given. One query without a filter visits the lists
    /// [`IvfIndex::coarse_lists`] finds (every code kind but fast-scan, whose lists FAISS searches its own
    /// way).
    fn faiss_search(
        &self,
        queries: &[f32],
        fetch: usize,
        nprobe: usize,
        filter: Option<&IdFilter>,
    ) -> Result<(Vec<f32>, Vec<i64>)> {
        let nq = queries.len() / self.dim;
        let preassignable = !matches!(self.params.codes, IvfCodes::PqFastScan { .. });
        if nq == 1 && filter.is_none() && preassignable {
            if let Some((lists, coarse)) = self.coarse_lists(queries, nprobe) {
                return ffi::search_preassigned(&self.faiss, queries, fetch, &lists, &coarse);
            }
        }
        let sp = IvfSearchParams::new(nprobe, filter.map(IdFilter::bitmap))?;
        let mut distances = vec![0f32; nq * fetch];
        let mut labels = vec![-1i64; nq * fetch];
        threads::apply();
        // SAFETY: the index pointer is valid for the life of `self`; FAISS's `search` is `const` and safe
        // to call from several threads at once on CPU indexes (no mutation happens without `&mut self`);
        // the buffers hold `nq * fetch` entries as FAISS requires; `sp` outlives the call.
        let code = unsafe {
            faiss_sys::faiss_Index_search_with_params(
                self.faiss.inner_ptr(),
                nq as i64,
                queries.as_ptr(),
                fetch as i64,
                sp.as_ptr(),
                distances.as_mut_ptr(),
                labels.as_mut_ptr(),
            )
        };
        faiss_check(code)?;
        Ok((distances, labels))
    }

    /// The nprobe a query asks for (or the index's default), checked.
    pub(super) fn requested_nprobe(&self, params: &SearchParams) -> Result<usize> {
        let nprobe = params.nprobe.unwrap_or(self.params.nprobe);
        if nprobe == 0 {
            return Err(invalid("nprobe must be at least 1"));
        }
        Ok(nprobe)
    }

    /// Number of indexed ids `filter` allows.
    fn allowed_live(&self, filter: &IdFilter) -> usize {
        if filter.len() <= self.ids.len() {
            filter.ids().filter(|id| self.rows.contains_key(id)).count()
        } else {
            self.ids.iter().filter(|&&id| filter.contains(id)).count()
        }
    }

    /// Searches prepared `queries` visiting `nprobe` lists (at most nlist), among the ids `filter` allows
    /// when one is given.
    pub(super) fn search_prepared(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
        nprobe: usize,
        filter: Option<&IdFilter>,
    ) -> Result<Vec<Vec<Hit>>> {
        let nprobe = nprobe.clamp(1, self.nlist());
        let rerank = self.params.codes.keeps_raw() && params.rerank.unwrap_or(self.params.rerank);
        let k = k.min(self.ids.len());
        let fetch = if rerank {
            (k * self.rerank_factor).min(self.ids.len())
        } else {
            k
        };
        let (distances, labels) = self.faiss_search(queries, fetch, nprobe, filter)?;
        let hits_of = |(query, (labels, distances)): (&[f32], (&[i64], &[f32]))| {
            let mut hits: Vec<Hit> = labels
                .iter()
                .zip(distances)
                .filter(|(&l, _)| l >= 0)
                .map(|(&l, &d)| Hit {
                    id: l as u64,
                    score: d,
                })
                .collect();
            if rerank {
                self.rerank(query, &mut hits, k);
            }
            hits
        };
        let per_query = queries.chunks_exact(self.dim).zip(
            labels
                .chunks_exact(fetch)
                .zip(distances.chunks_exact(fetch)),
        );
        // Re-ranking a batch is worth spreading over threads; FAISS's lists already were.
        Ok(if rerank && queries.len() > self.dim {
            per_query
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(hits_of)
                .collect()
        } else {
            per_query.map(hits_of).collect()
        })
    }

    /// [`crate::VectorIndex::search_filtered`]: FAISS skips the ids the filter refuses while scanning its lists (an
    /// `IDSelectorBitmap`); the lists visited grow to `nprobe / p` for a filter keeping a share `p` of the
    /// index, and all lists are searched again when that returns fewer than `k` hits while more allowed ids
    /// are indexed.
    pub(super) fn search_allowed(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<Vec<Hit>> {
        let (q, nprobe) = self.prepare_one(query, k, params)?;
        if filter.is_empty() {
            return Ok(Vec::new());
        }
        let nlist = self.nlist();
        // `filter.len()` bounds the allowed ids from above: the share kept is at most `kept / n`.
        let (kept, n) = (filter.len().min(self.ids.len()), self.ids.len());
        let scaled = nprobe
            .saturating_mul(n)
            .div_ceil(kept.max(1))
            .clamp(nprobe, nlist.max(nprobe));
        let mut hits = self
            .search_prepared(&q, k, params, scaled, Some(filter))?
            .pop()
            .unwrap_or_default();
        if hits.len() < k && scaled < nlist {
            let want = k.min(self.allowed_live(filter));
            if hits.len() < want {
                tracing::debug!(
                    "filtered IVF search found {} of {want} in {scaled} lists: searching all {nlist}",
                    hits.len()
                );
                hits = self
                    .search_prepared(&q, k, params, nlist, Some(filter))?
                    .pop()
                    .unwrap_or_default();
            }
        }
        Ok(hits)
    }
}
