//! IVF indexes through FAISS: inverted lists over k-means cells, with flat or product-quantised codes.
//!
//! The FAISS index (`IVF{nlist},Flat` or `IVF{nlist},PQ{m}x{bits}`) holds the coarse quantiser and the codes.
//! For IVF-Flat the codes are the vectors, so [`IvfIndex`] keeps only the ids beside FAISS; for IVF-PQ it
//! also keeps the raw vectors, which re-rank candidates exactly (with the [`crate::distance`] kernels) and
//! are saved with the index. Cosine vectors are L2-normalised on the way in and searched with FAISS's inner
//! product.
//!
//! Batches: [`VectorIndex::search_batch`] hands all its queries to one FAISS `search` call, which computes
//! the query-centroid distances as one matrix product (BLAS) and spreads the queries over its OpenMP
//! threads ([`set_threads`]); IVF-PQ re-ranking then runs over rayon's threads.
//!
//! Filtered search ([`VectorIndex::search_filtered`]): the filter's bitmap goes to FAISS as an
//! `IDSelectorBitmap` in the search parameters, so the inverted-list scan skips refused ids before
//! computing their distance; FAISS stores the caller's ids (`add_with_ids` on the IVF index itself), which
//! is what the bitmap is indexed by. IVF-PQ re-ranking therefore re-scores allowed candidates only. With a
//! filter keeping a share `p` of the index, the lists visited are scaled to `nprobe / p` (at most nlist),
//! so that about as many vectors are scored as an unfiltered search scores. If that still returns fewer
//! than `k` hits while more allowed ids are indexed, the search is retried over all lists.
//!
//! Concurrency: searches go through FAISS's `const` `search` with per-query search parameters (FAISS's
//! `SearchParametersIVF`: nprobe, and the filter's selector), so no index state changes during a search
//! and many threads may search one index at once (FAISS CPU indexes are safe for concurrent `const`
//! searches). Adding and removing take `&mut self`.
//!
//! Files: `build.rs` (parameter and input checks, training, adding and removing), `search.rs`,
//! `storage.rs` (loading and saving), `ffi.rs` (FAISS's C API where the `faiss` crate stops), `blas.rs`
//! and `threads.rs` (the BLAS and OpenMP threads FAISS runs on). The parameters and their measured
//! defaults are [`crate::config`]'s, re-exported here.

mod blas;
mod build;
mod ffi;
mod search;
mod storage;
mod threads;

pub use crate::config::{
    default_flat_params, default_nlist, default_pq_m, default_pq_params, pq_m_at_most,
    DEFAULT_NPROBE, DEFAULT_PQ_BITS, MAX_NLIST, MIN_POINTS_PER_LIST,
};
pub use blas::{blas, BlasInfo, BlasThreading};
pub use threads::{set_threads, threads};

use crate::config::{IndexConfig, IvfCodes, IvfParams, SearchParams};
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::kind::IndexKind;
use crate::vector_index::{Hit, Metric, VectorIndex};
use std::collections::HashMap;
use std::path::Path;

/// IVF-PQ with re-ranking fetches `k * DEFAULT_RERANK_FACTOR` candidates from FAISS and re-scores them exactly.
///
/// Measured at nprobe 16 (crates/index/FAISS.md): factor 4 gives recall@10 0.85 on clustered d = 512, factor 10
/// gives 0.987 (0.998 on Fashion-MNIST, 1.0 on clustered d = 128). Re-scoring 100 raw vectors costs far less
/// than the PQ list scan.
pub const DEFAULT_RERANK_FACTOR: usize = 10;

/// An IVF-Flat or IVF-PQ index (FAISS), with its ids and, for IVF-PQ, its raw vectors.
pub struct IvfIndex {
    /// Build parameters, `nlist` resolved.
    params: IvfParams,
    dim: usize,
    metric: Metric,
    faiss: faiss::index::IndexImpl,
    /// Row `i` belongs to `ids[i]`.
    ids: Vec<u64>,
    /// IVF-PQ: row `i` is the raw (normalised, for cosine) vector of `ids[i]`. IVF-Flat: empty (FAISS's
    /// codes are the vectors).
    raw: Vec<f32>,
    rows: HashMap<u64, usize>,
    /// IVF-PQ re-ranking fetches `k * rerank_factor` candidates.
    rerank_factor: usize,
}

impl std::fmt::Debug for IvfIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvfIndex")
            .field("params", &self.params)
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("len", &self.ids.len())
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> IndexError {
    IndexError::InvalidParams { reason: msg.into() }
}

/// Whether an index of these codes keeps the raw vectors beside FAISS (IVF-PQ, to re-rank).
fn keeps_raw(codes: IvfCodes) -> bool {
    matches!(codes, IvfCodes::Pq { .. })
}

impl IvfIndex {
    /// Number of inverted lists.
    pub fn nlist(&self) -> usize {
        self.params.nlist.unwrap_or(1)
    }

    /// Candidates fetched per result when IVF-PQ re-ranks (`k * factor`); [`DEFAULT_RERANK_FACTOR`] after
    /// build or load (not saved). For experiments and benchmarks.
    pub fn set_rerank_factor(&mut self, factor: usize) -> Result<()> {
        if factor == 0 {
            return Err(invalid("rerank factor must be at least 1"));
        }
        self.rerank_factor = factor;
        Ok(())
    }

    fn faiss_bytes(&self) -> usize {
        let n = self.ids.len();
        let nlist = self.nlist();
        let code = match self.params.codes {
            IvfCodes::Flat => self.dim * 4,
            IvfCodes::Pq { m, bits } => (m * bits).div_ceil(8),
        };
        let pq_tables = match self.params.codes {
            IvfCodes::Flat => 0,
            // Codebooks, plus FAISS's precomputed L2 tables (nlist * m * 2^bits floats) when they are used.
            IvfCodes::Pq { m, bits } => {
                let books = (1usize << bits) * self.dim * 4;
                let precomputed =
                    if self.metric == Metric::L2 && nlist * m * (1 << bits) <= (1 << 31) / 4 {
                        nlist * m * (1 << bits) * 4
                    } else {
                        0
                    };
                books + precomputed
            }
        };
        n * (code + 8) + nlist * self.dim * 4 + nlist * 64 + pq_tables
    }
}

impl VectorIndex for IvfIndex {
    fn kind(&self) -> IndexKind {
        IndexKind::Ivf
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn config(&self) -> IndexConfig {
        IndexConfig::Ivf(self.params)
    }

    fn memory_bytes(&self) -> usize {
        let own = self.raw.capacity() * 4 + self.ids.capacity() * 8 + self.rows.capacity() * 24;
        own + self.faiss_bytes()
    }

    fn add(&mut self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        self.add_vectors(ids, vectors)
    }

    fn remove(&mut self, ids: &[u64]) -> Result<()> {
        self.remove_ids(ids)
    }

    fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Hit>> {
        let (q, nprobe) = self.prepare_one(query, k, params)?;
        Ok(self
            .search_prepared(&q, k, params, nprobe, None)?
            .pop()
            .unwrap_or_default())
    }

    fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<Vec<Hit>> {
        self.search_allowed(query, k, params, filter)
    }

    fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        let q = self.prepare_queries(queries, k)?;
        let nprobe = self.requested_nprobe(params)?;
        if q.is_empty() {
            return Ok(Vec::new());
        }
        self.search_prepared(&q, k, params, nprobe, None)
    }

    fn save(&self, dir: &Path) -> Result<()> {
        self.write_files(dir)
    }
}
