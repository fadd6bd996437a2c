//! IVF indexes through FAISS: inverted lists over k-means cells, with flat or quantised codes.
//!
//! Code kinds ([`IvfCodes`]), each a FAISS index-factory description holding the coarse quantiser and the
//! codes:
//! - IVF-Flat, `IVF{nlist},Flat`: the codes are the vectors.
//! - IVF-PQ, `IVF{nlist},PQ{m}x{bits}np`: product quantisation, `m` sub-vectors of `bits` bits.
//! - IVF-SQ8, `IVF{nlist},SQ8`: scalar quantisation, one byte per dimension (a quarter of the f32 vector).
//! - IVF-PQ fast-scan, `IVF{nlist},PQ{m}x4fs`: 4-bit PQ codes in blocks of 32, scanned with SIMD table
//!   look-ups; `m` must divide the dimension.
//!
//! For IVF-Flat [`IvfIndex`] keeps only the ids beside FAISS; for every quantised kind it also keeps the raw
//! vectors, which re-rank candidates exactly (with the [`crate::distance`] kernels; on by default,
//! `SearchParams::rerank` turns it off per query) and are saved with the index. The candidates re-ranked
//! are `k * DEFAULT_RERANK_FACTOR` for PQ, fewer for SQ8's finer codes (`SQ8_RERANK_FACTOR`), more for
//! fast-scan's coarser 4-bit codes (`FAST_SCAN_RERANK_FACTOR`): [`default_rerank_factor`]. Cosine vectors are L2-normalised on the way in and searched with FAISS's
//! inner product.
//!
//! Memory ([`VectorIndex::memory_bytes`]) counts everything the index holds: FAISS's lists and quantisers
//! and, for quantised kinds, the raw vectors kept for re-ranking; [`VectorIndex::rerank_bytes`] is that
//! last share, so `memory_bytes - rerank_bytes` is what the codes take.
//!
//! Batches: [`VectorIndex::search_batch`] hands all its queries to one FAISS `search` call, which computes
//! the query-centroid distances as one matrix product (BLAS) and spreads the queries over its OpenMP
//! threads ([`set_threads`]); re-ranking quantised codes then runs over rayon's threads.
//!
//! Filtered search ([`VectorIndex::search_filtered`]): the filter's bitmap goes to FAISS as an
//! `IDSelectorBitmap` in the search parameters, so the inverted-list scan skips refused ids before
//! computing their distance; FAISS stores the caller's ids (`add_with_ids` on the IVF index itself), which
//! is what the bitmap is indexed by. FAISS 1.12's fast-scan honours the selector too (its result handlers
//! test each candidate's id against it; the integration tests check only allowed ids come back), so
//! re-ranking re-scores allowed candidates only, for every code kind. With a
//! filter keeping a share `p` of the index, the lists visited are scaled to `nprobe / p` (at most nlist),
//! so that about as many vectors are scored as an unfiltered search scores. If that still returns fewer
//! than `k` hits while more allowed ids are indexed, the search is retried over all lists.
//!
//! Concurrency: searches go through FAISS's `const` `search` with per-query search parameters (FAISS's
//! `SearchParametersIVF`: nprobe, and the filter's selector), so no index state changes during a search
//! and many threads may search one index at once (FAISS CPU indexes are safe for concurrent `const`
//! searches). Adding and removing take `&mut self`. Removal is FAISS's `remove_ids` for Flat, PQ and
//! SQ8. For PQ fast-scan it empties FAISS's lists and re-adds the remaining raw vectors (the training is
//! kept), a cost proportional to the collection: FAISS 1.12's `remove_ids` on fast-scan's block lists
//! leaves stale bits in the vacated slots that corrupt the codes of vectors added later (see `build.rs`).
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
    default_flat_params, default_nlist, default_pq4fs_m, default_pq4fs_params, default_pq_m,
    default_pq_params, default_sq8_params, pq_m_at_most, DEFAULT_NPROBE, DEFAULT_PQ_BITS,
    FAST_SCAN_BITS, FAST_SCAN_BLOCK, MAX_NLIST, MIN_POINTS_PER_LIST,
};
pub use blas::{blas, BlasInfo, BlasThreading};
pub use threads::{set_threads, threads};

use crate::config::{IndexConfig, IvfCodes, IvfParams, SearchParams};
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::vector_index::{Hit, Metric, VectorIndex};
use std::collections::HashMap;
use std::path::Path;

/// IVF-PQ with re-ranking fetches `k * DEFAULT_RERANK_FACTOR` candidates from FAISS and re-scores them
/// exactly (SQ8 and fast-scan: [`default_rerank_factor`]).
///
/// Measured at nprobe 16 (crates/index/FAISS.md): factor 4 gives recall@10 0.85 on clustered d = 512, factor 10
/// gives 0.987 (0.998 on Fashion-MNIST, 1.0 on clustered d = 128). Re-scoring 100 raw vectors costs far less
/// than the PQ list scan.
pub const DEFAULT_RERANK_FACTOR: usize = 10;

/// IVF-PQ fast-scan re-ranks `k * FAST_SCAN_RERANK_FACTOR` candidates: its 4-bit codes (16 centroids per
/// sub-quantiser, not encoded by residual) order candidates more coarsely than 8-bit PQ or SQ8.
///
/// Measured with the default m (`dim / 2`) at the default nlist, against IVF-Flat at the same nprobe
/// (crates/index/tests/it/ivf_quantized.rs, recall@10 over 300 queries): factor 10 falls short on the
/// clustered sets (d = 128 L2: 0.916 against 0.944 at nprobe 4, 0.961 against 1.000 at 8; d = 512 cosine:
/// 0.824 against 0.942 at 4), factor 20 matches IVF-Flat within 0.002 on both (0.944 / 1.000 / 1.000 and
/// 0.942 / 0.998 / 0.999 at nprobe 4 / 8 / 16) and factor 10 already matches on Fashion-MNIST (0.915 / 0.980
/// / 0.997).
pub const FAST_SCAN_RERANK_FACTOR: usize = 20;

/// IVF-SQ8 re-ranks `k * SQ8_RERANK_FACTOR` candidates: its 8-bit codes alone order them almost as the
/// vectors do, and re-ranking, which reads each candidate's raw vector from memory, is most of a query's cost.
///
/// Measured at the default nlist against IVF-Flat at the same nprobe (4 / 8 / 16; recall@10, 300 queries):
/// the codes alone (factor 1) give 0.936 / 0.988 / 0.987 on clustered d = 128 L2 (IVF-Flat 0.944 / 1.000 /
/// 1.000), 0.924 / 0.976 / 0.977 on clustered d = 512 cosine (0.942 / 0.999 / 1.000) and 0.912 / 0.977 / 0.994
/// on a 10k Fashion-MNIST subset (0.915 / 0.980 / 0.997); factor 2 equals IVF-Flat on all three, 3 keeps a
/// margin. On all 60k Fashion-MNIST images (1000 queries, one thread, nprobe 8) factor 2 ran 5,493 queries/s
/// against 3,617 at factor 10, with the same recall.
pub const SQ8_RERANK_FACTOR: usize = 3;

/// The re-rank factor an index of `codes` starts with after build or load: [`SQ8_RERANK_FACTOR`] for SQ8,
/// [`FAST_SCAN_RERANK_FACTOR`] for fast-scan, [`DEFAULT_RERANK_FACTOR`] otherwise (unused by IVF-Flat, which
/// does not re-rank).
pub fn default_rerank_factor(codes: IvfCodes) -> usize {
    match codes {
        IvfCodes::Sq8 => SQ8_RERANK_FACTOR,
        IvfCodes::PqFastScan { .. } => FAST_SCAN_RERANK_FACTOR,
        IvfCodes::Flat | IvfCodes::Pq { .. } => DEFAULT_RERANK_FACTOR,
    }
}

/// An IVF index (FAISS) of any [`IvfCodes`] kind, with its ids and, for quantised codes, its raw vectors.
pub struct IvfIndex {
    /// Build parameters, `nlist` resolved.
    params: IvfParams,
    dim: usize,
    metric: Metric,
    faiss: faiss::index::IndexImpl,
    /// Row `i` belongs to `ids[i]`.
    ids: Vec<u64>,
    /// Quantised codes: row `i` is the raw (normalised, for cosine) vector of `ids[i]`. IVF-Flat: empty
    /// (FAISS's codes are the vectors).
    raw: Vec<f32>,
    rows: HashMap<u64, usize>,
    /// Re-ranking fetches `k * rerank_factor` candidates.
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

impl IvfIndex {
    /// Number of inverted lists.
    pub fn nlist(&self) -> usize {
        self.params.nlist.unwrap_or(1)
    }

    /// Candidates fetched per result when quantised codes are re-ranked (`k * factor`);
    /// [`default_rerank_factor`] of the codes after build or load (not saved). For experiments and benchmarks.
    pub fn set_rerank_factor(&mut self, factor: usize) -> Result<()> {
        if factor == 0 {
            return Err(invalid("rerank factor must be at least 1"));
        }
        self.rerank_factor = factor;
        Ok(())
    }

    /// About what FAISS holds: the coarse centroids, each vector's code (fast-scan: with its lists' block
    /// padding) and id, the trained quantiser and, for IVF-PQ on L2, its precomputed tables.
    fn faiss_bytes(&self) -> usize {
        let n = self.ids.len();
        let nlist = self.nlist();
        let codes = self.params.codes;
        // FAISS's precomputed L2 tables (nlist * m * 2^bits floats) when IVF-PQ uses them (by_residual;
        // fast-scan is built without residuals, SQ8 has none).
        let precomputed = match codes {
            IvfCodes::Pq { m, bits }
                if self.metric == Metric::L2 && nlist * m * (1 << bits) <= (1 << 31) / 4 =>
            {
                nlist * m * (1 << bits) * 4
            }
            _ => 0,
        };
        codes.list_code_bytes(self.dim, n, nlist)
            + n * 8
            + nlist * self.dim * 4
            + nlist * 64
            + codes.codebook_bytes(self.dim)
            + precomputed
    }
}

impl VectorIndex for IvfIndex {
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
        let own = self.rerank_bytes() + self.ids.capacity() * 8 + self.rows.capacity() * 24;
        own + self.faiss_bytes()
    }

    /// The raw vectors kept to re-rank quantised codes (0 for IVF-Flat).
    fn rerank_bytes(&self) -> usize {
        self.raw.capacity() * 4
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
