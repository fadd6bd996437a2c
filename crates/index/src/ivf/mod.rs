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

mod blas;
mod threads;

pub use blas::{blas, BlasInfo, BlasThreading};
pub use threads::{set_threads, threads};

use crate::distance;
use crate::error::{IndexError, Result};
use crate::persist::{self, Manifest};
use crate::{
    Hit, IdFilter, IndexConfig, IndexKind, IvfCodes, IvfParams, Metric, SearchParams, VectorIndex,
};
use faiss::selector::IdSelector;
use faiss::{Idx, Index, MetricType};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use vsearch_core::{codec, vector::normalize_rows};

/// Lists visited per query when neither the query nor the build parameters say otherwise.
///
/// Measured (crates/index/FAISS.md): with [`default_nlist`] lists IVF-Flat reaches recall@10 0.915-0.948 at
/// nprobe 4, 0.980-1.000 at 8 and 0.998-1.000 at 16 on the clustered synthetic sets (d = 128, 512;
/// n = 20,000) and on Fashion-MNIST (n = 10,000); 16 keeps a margin for larger collections, whose nlist grows.
pub const DEFAULT_NPROBE: usize = 16;
/// IVF-PQ with re-ranking fetches `k * DEFAULT_RERANK_FACTOR` candidates from FAISS and re-scores them exactly.
///
/// Measured at nprobe 16 (crates/index/FAISS.md): factor 4 gives recall@10 0.85 on clustered d = 512, factor 10
/// gives 0.987 (0.998 on Fashion-MNIST, 1.0 on clustered d = 128). Re-scoring 100 raw vectors costs far less
/// than the PQ list scan.
pub const DEFAULT_RERANK_FACTOR: usize = 10;
/// Default bits per PQ sub-quantiser: 8 bits (256 centroids) is FAISS's fast, well-trained case.
pub const DEFAULT_PQ_BITS: usize = 8;
/// Upper bound of [`default_nlist`].
pub const MAX_NLIST: usize = 65_536;
/// FAISS's k-means wants at least this many training points per centroid (it warns below 39).
pub const MIN_POINTS_PER_LIST: usize = 39;

const FAISS_FILE: &str = "faiss.index";
const IDS_FILE: &str = "ids.bin";
/// IVF-PQ only: the raw vectors for re-ranking. IVF-Flat indexes saved before the vectors lived only in
/// FAISS have one too; loading ignores it.
const VECTORS_FILE: &str = "vectors.bin";

/// Default number of inverted lists for `n` vectors: about `4 * sqrt(n)`, at most [`MAX_NLIST`], and at
/// most `n / 39`, at least 1.
///
/// `4 * sqrt(n)` is FAISS's rule of thumb (between 4 and 16 sqrt(n)): it balances the cost of scanning the
/// centroids (nlist) against the cost of scanning the visited lists (nprobe * n / nlist). The `n / 39` bound
/// keeps at least 39 training points per centroid, the minimum below which FAISS's k-means warns that the
/// centroids are poorly trained; for small collections that wins (n = 20,000 gives 512, not 565).
pub fn default_nlist(n: usize) -> usize {
    let rule = (4.0 * (n as f64).sqrt()).round() as usize;
    rule.min(n / MIN_POINTS_PER_LIST).clamp(1, MAX_NLIST)
}

/// Default PQ sub-quantiser count for `dim`: `dim / 4` (4 dimensions per 8-bit code) when 4 divides `dim`,
/// otherwise the largest divisor of `dim` not above `dim / 4` (at least 1).
pub fn default_pq_m(dim: usize) -> usize {
    pq_m_at_most(dim, dim / 4)
}

/// The largest PQ sub-quantiser count not above `cap` that divides `dim` (PQ needs `dim % m == 0`); at
/// least 1.
pub fn pq_m_at_most(dim: usize, cap: usize) -> usize {
    (1..=cap.min(dim).max(1))
        .rev()
        .find(|m| dim.is_multiple_of(*m))
        .unwrap_or(1)
}

/// Default IVF-Flat parameters: nlist from the collection size, [`DEFAULT_NPROBE`], trained on all vectors.
pub fn default_flat_params() -> IvfParams {
    IvfParams {
        nlist: None,
        nprobe: DEFAULT_NPROBE,
        codes: IvfCodes::Flat,
        rerank: false,
        train_size: None,
    }
}

/// Default IVF-PQ parameters for `dim`: [`default_pq_m`] sub-quantisers of [`DEFAULT_PQ_BITS`] bits,
/// exact re-ranking on.
pub fn default_pq_params(dim: usize) -> IvfParams {
    IvfParams {
        nlist: None,
        nprobe: DEFAULT_NPROBE,
        codes: IvfCodes::Pq {
            m: default_pq_m(dim),
            bits: DEFAULT_PQ_BITS,
        },
        rerank: true,
        train_size: None,
    }
}

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

/// FAISS search parameters for one search (nprobe, and an `IDSelectorBitmap` over a filter's bitmap when
/// filtered); both FAISS objects are freed on drop. FAISS's selector keeps a pointer to the bitmap, hence
/// the borrow.
struct IvfSearchParams<'a> {
    params: *mut faiss_sys::FaissSearchParametersIVF,
    selector: *mut faiss_sys::FaissIDSelectorBitmap,
    _bitmap: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> IvfSearchParams<'a> {
    /// Parameters visiting `nprobe` lists, returning only ids set in `bitmap` when one is given.
    fn new(nprobe: usize, bitmap: Option<&'a [u8]>) -> Result<Self> {
        let mut this = IvfSearchParams {
            params: std::ptr::null_mut(),
            selector: std::ptr::null_mut(),
            _bitmap: std::marker::PhantomData,
        };
        if let Some(bitmap) = bitmap {
            // SAFETY: FAISS reads `bitmap.len()` bytes from the pointer, which the borrow keeps alive for
            // as long as `this`; the selector is freed in `drop`, after the parameters that point to it.
            faiss_check(unsafe {
                faiss_sys::faiss_IDSelectorBitmap_new(
                    &mut this.selector,
                    bitmap.len(),
                    bitmap.as_ptr(),
                )
            })?;
        }
        // SAFETY: the selector is null or a live selector owned by `this`; FAISS's search parameters do
        // not take ownership of it (they never free it), `drop` does. `max_codes` 0 means no limit.
        faiss_check(unsafe {
            faiss_sys::faiss_SearchParametersIVF_new_with(
                &mut this.params,
                this.selector.cast(),
                nprobe,
                0,
            )
        })?;
        Ok(this)
    }

    /// The parameters, as FAISS's search takes them.
    fn as_ptr(&self) -> *const faiss_sys::FaissSearchParameters {
        self.params.cast_const()
    }
}

impl Drop for IvfSearchParams<'_> {
    fn drop(&mut self) {
        // SAFETY: both pointers are null or were created by FAISS for this value alone, and are freed
        // only here, once: the parameters first, then the selector they point to.
        unsafe {
            if !self.params.is_null() {
                faiss_sys::faiss_SearchParametersIVF_free(self.params);
            }
            if !self.selector.is_null() {
                faiss_sys::faiss_IDSelectorBitmap_free(self.selector);
            }
        }
    }
}

/// FAISS's C API status `code` as a result, with FAISS's last error message.
fn faiss_check(code: std::os::raw::c_int) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: FAISS's C API keeps the last error message per thread, NUL-terminated.
    let reason = unsafe {
        let p = faiss_sys::faiss_get_last_error();
        if p.is_null() {
            format!("call failed with code {code}")
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Err(IndexError::Faiss { reason })
}

fn faiss_err(e: impl std::fmt::Display) -> IndexError {
    IndexError::Faiss {
        reason: e.to_string(),
    }
}

fn invalid(msg: impl Into<String>) -> IndexError {
    IndexError::InvalidParams { reason: msg.into() }
}

fn faiss_metric(metric: Metric) -> MetricType {
    match metric {
        Metric::Cosine => MetricType::InnerProduct,
        Metric::L2 => MetricType::L2,
    }
}

/// Checks the parameters that do not depend on the data.
fn check_params(params: &IvfParams, dim: usize) -> Result<()> {
    if dim == 0 {
        return Err(invalid("dimension must be at least 1"));
    }
    if params.nprobe == 0 {
        return Err(invalid("nprobe must be at least 1"));
    }
    if params.nlist == Some(0) {
        return Err(invalid("nlist must be at least 1"));
    }
    if params.train_size == Some(0) {
        return Err(invalid(
            "train_size must be at least 1 (or unset to train on all vectors)",
        ));
    }
    if let IvfCodes::Pq { m, bits } = params.codes {
        if m == 0 || !dim.is_multiple_of(m) {
            return Err(invalid(format!(
                "PQ m = {m} must divide the dimension {dim}; try m = {}",
                default_pq_m(dim)
            )));
        }
        if !(1..=16).contains(&bits) {
            return Err(invalid(format!(
                "PQ bits = {bits} must be between 1 and 16 (8 is the usual choice)"
            )));
        }
    }
    Ok(())
}

/// Validates ids and vectors for an add: lengths, finiteness, id range, duplicates within the batch and
/// against `existing`.
fn check_input(
    dim: usize,
    ids: &[u64],
    vectors: &[f32],
    existing: &HashMap<u64, usize>,
) -> Result<()> {
    if vectors.len() != ids.len() * dim {
        if ids.is_empty() || !vectors.len().is_multiple_of(ids.len()) {
            return Err(invalid(format!(
                "{} ids but {} values: expected ids.len() * {dim} values",
                ids.len(),
                vectors.len()
            )));
        }
        return Err(IndexError::Dimension {
            expected: dim,
            got: vectors.len() / ids.len(),
        });
    }
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        if id >= 1 << 63 {
            return Err(invalid(format!(
                "id {id} is too large: IVF (FAISS) ids must be below 2^63"
            )));
        }
        if existing.contains_key(&id) || !seen.insert(id) {
            return Err(IndexError::DuplicateId { id });
        }
        if vectors[i * dim..(i + 1) * dim]
            .iter()
            .any(|x| !x.is_finite())
        {
            return Err(IndexError::NonFinite { id });
        }
    }
    Ok(())
}

/// A uniform sample of `take` row indices out of `n`, deterministic (SplitMix64, fixed seed), sorted.
fn sample_rows(n: usize, take: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut state: u64 = 0x5EED_1DF0_0D15_EA5E;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in 0..take {
        let j = i + (next() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(take);
    idx.sort_unstable();
    idx
}

/// `vectors` as FAISS stores them: normalised for cosine (a copy), as given for L2 (borrowed).
fn as_stored(metric: Metric, dim: usize, vectors: &[f32]) -> Cow<'_, [f32]> {
    match metric {
        Metric::Cosine => {
            let mut data = vectors.to_vec();
            normalize_rows(&mut data, dim);
            Cow::Owned(data)
        }
        Metric::L2 => Cow::Borrowed(vectors),
    }
}

/// Whether an index of these codes keeps the raw vectors beside FAISS (IVF-PQ, to re-rank).
fn keeps_raw(codes: IvfCodes) -> bool {
    matches!(codes, IvfCodes::Pq { .. })
}

fn to_idx(ids: &[u64]) -> Vec<Idx> {
    // Ids were checked to be below 2^63 when added.
    ids.iter().map(|&id| Idx::from(id as i64)).collect()
}

impl IvfIndex {
    /// Trains an IVF index on `vectors` (or a uniform sample of `params.train_size` of them) and adds them.
    ///
    /// Errors: bad parameters (nprobe or nlist 0, PQ `m` not dividing `dim`, `bits` outside 1..=16), wrong
    /// vector length, NaN/infinite components, duplicate ids, or too few vectors to train (fewer than
    /// nlist, or fewer than `2^bits` for PQ).
    pub fn build(
        params: &IvfParams,
        dim: usize,
        metric: Metric,
        ids: &[u64],
        vectors: &[f32],
    ) -> Result<IvfIndex> {
        check_params(params, dim)?;
        check_input(dim, ids, vectors, &HashMap::new())?;
        let n = ids.len();
        if n == 0 {
            return Err(invalid(
                "cannot train an IVF index on 0 vectors; add vectors or use the flat index",
            ));
        }
        let nlist = params.nlist.unwrap_or_else(|| default_nlist(n));
        let train_n = params.train_size.map_or(n, |t| t.min(n));
        if train_n < nlist {
            return Err(invalid(format!(
                "too few vectors to train IVF: nlist = {nlist} needs at least {nlist} training vectors \
                 ({} recommended), got {train_n}; lower nlist or use the flat index",
                nlist * MIN_POINTS_PER_LIST
            )));
        }
        let description = match params.codes {
            IvfCodes::Flat => format!("IVF{nlist},Flat"),
            IvfCodes::Pq { m, bits } => {
                if train_n < 1 << bits {
                    return Err(invalid(format!(
                        "too few vectors to train PQ with {bits} bits: needs at least {} training vectors, got \
                         {train_n}; lower bits or use IVF-Flat",
                        1usize << bits
                    )));
                }
                // `np`: no polysemous training (simulated annealing for Hamming filtering, which we do not use;
                // it dominates training time).
                format!("IVF{nlist},PQ{m}x{bits}np")
            }
        };
        let data = as_stored(metric, dim, vectors);
        let mut faiss = faiss::index_factory(dim as u32, &description, faiss_metric(metric))
            .map_err(faiss_err)?;
        threads::apply();
        let started = std::time::Instant::now();
        if train_n < n {
            let mut sample = Vec::with_capacity(train_n * dim);
            for r in sample_rows(n, train_n) {
                sample.extend_from_slice(&data[r * dim..(r + 1) * dim]);
            }
            faiss.train(&sample).map_err(faiss_err)?;
        } else if nlist == 1 && params.codes == IvfCodes::Flat && n < MIN_POINTS_PER_LIST {
            // One list: its centroid is the mean whatever k-means does. Repeating the rows keeps the mean and
            // spares small collections FAISS's "please provide at least 39 training points" warning on stderr.
            let copies = MIN_POINTS_PER_LIST.div_ceil(n);
            faiss.train(&data.repeat(copies)).map_err(faiss_err)?;
        } else {
            faiss.train(&data).map_err(faiss_err)?;
        }
        faiss.add_with_ids(&data, &to_idx(ids)).map_err(faiss_err)?;
        tracing::debug!(%description, n, train_n, secs = started.elapsed().as_secs_f64(), "built IVF index");
        let rows = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        Ok(IvfIndex {
            params: IvfParams {
                nlist: Some(nlist),
                ..*params
            },
            dim,
            metric,
            faiss,
            ids: ids.to_vec(),
            raw: if keeps_raw(params.codes) {
                data.into_owned()
            } else {
                Vec::new()
            },
            rows,
            rerank_factor: DEFAULT_RERANK_FACTOR,
        })
    }

    /// Loads an index saved by [`VectorIndex::save`]; `manifest` is the folder's `index.json`
    /// ([`persist::read_manifest`]). Every file is checked against its checksum first.
    pub fn load(dir: &Path, manifest: &Manifest) -> Result<IvfIndex> {
        persist::expect_kind(dir, manifest, IndexKind::Ivf)?;
        let format = |reason: String| IndexError::Format {
            path: dir.join(persist::MANIFEST),
            reason,
        };
        let params = match manifest.config {
            IndexConfig::Ivf(p) => p,
            other => return Err(format(format!("IVF index with a non-IVF config {other:?}"))),
        };
        let dim = manifest.dim;
        check_params(&params, dim).map_err(|e| format(e.to_string()))?;
        let ids: Vec<u64> = persist::read_values(dir, manifest, IDS_FILE)?;
        let raw: Vec<f32> = if keeps_raw(params.codes) {
            persist::read_values(dir, manifest, VECTORS_FILE)?
        } else {
            Vec::new()
        };
        // Checksum verified before FAISS parses the file.
        persist::read_file(dir, manifest, FAISS_FILE)?;
        let expected_values = if keeps_raw(params.codes) {
            ids.len() * dim
        } else {
            0
        };
        if raw.len() != expected_values || ids.len() != manifest.len {
            return Err(format(format!(
                "{} ids, {} values and len {} do not agree for dimension {dim}",
                ids.len(),
                raw.len(),
                manifest.len
            )));
        }
        let faiss_path = dir.join(FAISS_FILE);
        let faiss_path_str = faiss_path
            .to_str()
            .ok_or_else(|| format("index path is not valid UTF-8".into()))?;
        let faiss = faiss::read_index(faiss_path_str).map_err(faiss_err)?;
        if faiss.d() as usize != dim
            || faiss.ntotal() as usize != ids.len()
            || faiss.metric_type() != faiss_metric(manifest.metric)
        {
            return Err(IndexError::Format {
                path: faiss_path,
                reason: format!(
                    "FAISS index (d = {}, {} vectors) does not match the manifest (d = {dim}, {} vectors)",
                    faiss.d(),
                    faiss.ntotal(),
                    ids.len()
                ),
            });
        }
        let mut rows = HashMap::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            if rows.insert(id, i).is_some() {
                return Err(format(format!("id {id} appears twice in ids.bin")));
            }
        }
        Ok(IvfIndex {
            params,
            dim,
            metric: manifest.metric,
            faiss,
            ids,
            raw,
            rows,
            rerank_factor: DEFAULT_RERANK_FACTOR,
        })
    }

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

    /// One query checked (its length) and prepared, with the lists to visit.
    fn prepare_one(
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
    fn prepare_queries(&self, queries: &[f32], k: usize) -> Result<Vec<f32>> {
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

    /// IVF-PQ: re-scores `hits` of `query` with the raw vectors, orders them best first and keeps `k`.
    fn rerank(&self, query: &[f32], hits: &mut Vec<Hit>, k: usize) {
        let kernels = distance::selected();
        let score = match self.metric {
            Metric::Cosine => kernels.dot,
            Metric::L2 => kernels.l2_squared,
        };
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

    /// FAISS search of `nq` prepared queries with `nprobe`, `fetch` results each (labels -1 when short),
    /// among the ids `filter` allows when one is given.
    fn faiss_search(
        &self,
        queries: &[f32],
        fetch: usize,
        nprobe: usize,
        filter: Option<&IdFilter>,
    ) -> Result<(Vec<f32>, Vec<i64>)> {
        let nq = queries.len() / self.dim;
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
    fn requested_nprobe(&self, params: &SearchParams) -> Result<usize> {
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
    fn search_prepared(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
        nprobe: usize,
        filter: Option<&IdFilter>,
    ) -> Result<Vec<Vec<Hit>>> {
        let nprobe = nprobe.clamp(1, self.nlist());
        let rerank = matches!(self.params.codes, IvfCodes::Pq { .. })
            && params.rerank.unwrap_or(self.params.rerank);
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
        check_input(self.dim, ids, vectors, &self.rows)?;
        if ids.is_empty() {
            return Ok(());
        }
        let data = as_stored(self.metric, self.dim, vectors);
        threads::apply();
        self.faiss
            .add_with_ids(&data, &to_idx(ids))
            .map_err(faiss_err)?;
        for &id in ids {
            self.rows.insert(id, self.ids.len());
            self.ids.push(id);
        }
        if keeps_raw(self.params.codes) {
            self.raw.extend_from_slice(&data);
        }
        Ok(())
    }

    fn remove(&mut self, ids: &[u64]) -> Result<()> {
        let mut unique = Vec::with_capacity(ids.len());
        let mut seen = HashSet::with_capacity(ids.len());
        for &id in ids {
            if !self.rows.contains_key(&id) {
                return Err(IndexError::UnknownId { id });
            }
            if seen.insert(id) {
                unique.push(id);
            }
        }
        if unique.is_empty() {
            return Ok(());
        }
        let selector = IdSelector::batch(&to_idx(&unique)).map_err(faiss_err)?;
        threads::apply();
        let removed = self.faiss.remove_ids(&selector).map_err(faiss_err)?;
        if removed != unique.len() {
            return Err(IndexError::Faiss { reason: format!(
                "FAISS removed {removed} vectors, expected {}; the index is inconsistent, rebuild it",
                unique.len()
            ) });
        }
        let dim = self.dim;
        let raw = keeps_raw(self.params.codes);
        for id in unique {
            let Some(row) = self.rows.remove(&id) else {
                continue;
            };
            let last = self.ids.len() - 1;
            if row != last {
                self.ids.swap(row, last);
                if raw {
                    self.raw
                        .copy_within(last * dim..(last + 1) * dim, row * dim);
                }
                self.rows.insert(self.ids[row], row);
            }
            self.ids.pop();
            if raw {
                self.raw.truncate(last * dim);
            }
        }
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Hit>> {
        let (q, nprobe) = self.prepare_one(query, k, params)?;
        Ok(self
            .search_prepared(&q, k, params, nprobe, None)?
            .pop()
            .unwrap_or_default())
    }

    /// FAISS skips the ids the filter refuses while scanning its lists (an `IDSelectorBitmap`); the lists
    /// visited grow to `nprobe / p` for a filter keeping a share `p` of the index, and all lists are
    /// searched again when that returns fewer than `k` hits while more allowed ids are indexed.
    fn search_filtered(
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
        let scratch = tempfile::tempdir().map_err(|source| IndexError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let faiss_path = scratch.path().join(FAISS_FILE);
        let faiss_path_str = faiss_path.to_str().ok_or_else(|| IndexError::Format {
            path: faiss_path.clone(),
            reason: "temporary path is not valid UTF-8".into(),
        })?;
        faiss::write_index(&self.faiss, faiss_path_str).map_err(faiss_err)?;
        let faiss_bytes = std::fs::read(&faiss_path).map_err(|source| IndexError::Io {
            path: faiss_path.clone(),
            source,
        })?;
        let id_bytes = codec::to_le_bytes(&self.ids);
        let raw_bytes = codec::to_le_bytes(&self.raw);
        let manifest = Manifest {
            format_version: persist::FORMAT_VERSION,
            kind: IndexKind::Ivf,
            dim: self.dim,
            metric: self.metric,
            config: self.config(),
            len: self.ids.len(),
            files: Default::default(),
        };
        let mut files: Vec<(&str, &[u8])> = vec![(FAISS_FILE, &faiss_bytes), (IDS_FILE, &id_bytes)];
        if keeps_raw(self.params.codes) {
            files.push((VECTORS_FILE, &raw_bytes));
        }
        persist::save_dir(dir, manifest, &files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nlist_rule() {
        assert_eq!(default_nlist(0), 1);
        assert_eq!(default_nlist(100), 2);
        assert_eq!(default_nlist(10_000), 256);
        assert_eq!(default_nlist(20_000), 512);
        assert_eq!(default_nlist(1_000_000), 4000);
        assert_eq!(default_nlist(u32::MAX as usize * 1000), MAX_NLIST);
    }

    #[test]
    fn pq_m_divides() {
        for dim in [1, 3, 7, 128, 512, 784, 1280, 1000] {
            let m = default_pq_m(dim);
            assert_eq!(dim % m, 0, "dim {dim} m {m}");
        }
        assert_eq!(default_pq_m(128), 32);
        assert_eq!(default_pq_m(784), 196);
    }

    #[test]
    fn sample_is_uniform_subset() {
        let s = sample_rows(1000, 100);
        assert_eq!(s.len(), 100);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(*s.last().unwrap() < 1000);
    }
}
