//! Vector indexes behind one interface.
//!
//! Three kinds: [`IndexKind::Flat`] (exact search, the ground truth), [`IndexKind::Hnsw`] (hnsw_rs graph)
//! and [`IndexKind::Ivf`] (FAISS inverted lists, flat or product-quantised codes).
//! Ids are `u64` chosen by the caller. Vectors are row-major `f32` slices of `n * dim`.
//! This crate knows nothing of images, models, HTTP or the command line.

pub mod distance;
pub mod error;
pub mod eval;
pub mod flat;
pub mod hnsw;
pub mod id_filter;
pub mod ivf;
pub mod kind;
pub mod persist;
pub mod topk;

pub use distance::simd_level;
pub use error::{IndexError, Result};
pub use id_filter::IdFilter;
pub use ivf::set_threads;
pub use kind::{IndexKind, UnknownIndexKind};

use serde::{Deserialize, Serialize};
use std::path::Path;

/// How vectors are compared.
///
/// Scores in [`Hit`] follow the metric: for `Cosine` the inner product of normalised vectors (higher is
/// closer, 1.0 is identical); for `L2` the squared Euclidean distance (lower is closer, 0.0 is identical).
/// Results are always ordered best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Cosine,
    L2,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: u64,
    /// Similarity (cosine) or squared distance (L2); see [`Metric`].
    pub score: f32,
}

/// Per-query knobs; each index reads the ones that concern it and falls back to its defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// HNSW: size of the dynamic candidate list.
    pub ef_search: Option<usize>,
    /// IVF: number of inverted lists visited.
    pub nprobe: Option<usize>,
    /// IVF-PQ: re-rank candidates with exact distances.
    pub rerank: Option<bool>,
}

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Neighbours per node (hnsw_rs `max_nb_connection`).
    pub m: usize,
    pub ef_construction: usize,
    /// Default `ef_search` when a query gives none.
    pub ef_search: usize,
}

/// IVF code kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum IvfCodes {
    /// Full vectors in the lists.
    Flat,
    /// Product quantisation: `m` sub-vectors of `bits` bits each.
    Pq { m: usize, bits: usize },
}

/// IVF build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IvfParams {
    /// Number of lists; `None` chooses from the collection size (see [`ivf::default_nlist`]).
    pub nlist: Option<usize>,
    /// Default `nprobe` when a query gives none.
    pub nprobe: usize,
    pub codes: IvfCodes,
    /// IVF-PQ: re-rank by exact distance by default.
    pub rerank: bool,
    /// Train on at most this many vectors (a uniform sample); `None` trains on all.
    pub train_size: Option<usize>,
}

/// Which index to build, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum IndexConfig {
    Flat,
    Hnsw(HnswParams),
    Ivf(IvfParams),
}

impl IndexConfig {
    /// The kind this config builds.
    pub fn kind(&self) -> IndexKind {
        match self {
            IndexConfig::Flat => IndexKind::Flat,
            IndexConfig::Hnsw(_) => IndexKind::Hnsw,
            IndexConfig::Ivf(_) => IndexKind::Ivf,
        }
    }

    /// The measured default config of `kind` (see [`hnsw::DEFAULT_M`] and [`ivf::default_flat_params`]).
    pub fn default_for(kind: IndexKind) -> IndexConfig {
        match kind {
            IndexKind::Flat => IndexConfig::Flat,
            IndexKind::Hnsw => IndexConfig::Hnsw(HnswParams::default()),
            IndexKind::Ivf => IndexConfig::Ivf(ivf::default_flat_params()),
        }
    }
}

/// The common interface of every index kind. Implementations are `Send + Sync`: searches may run
/// concurrently from many threads through `&self`.
pub trait VectorIndex: Send + Sync {
    fn kind(&self) -> IndexKind;
    fn dim(&self) -> usize;
    fn metric(&self) -> Metric;
    /// Live vectors (deleted ones excluded).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The build parameters in force.
    fn config(&self) -> IndexConfig;
    /// Approximate heap memory held by the index, in bytes.
    fn memory_bytes(&self) -> usize;
    /// Adds vectors (`ids.len() * dim` values). An id already present is an error.
    fn add(&mut self, ids: &[u64], vectors: &[f32]) -> Result<()>;
    /// Removes ids; an unknown id is an error and nothing is removed.
    fn remove(&mut self, ids: &[u64]) -> Result<()>;
    /// Removed vectors that still take space (HNSW keeps them in the graph as tombstones until
    /// [`VectorIndex::compact`]); 0 for kinds that free space on removal.
    fn tombstones(&self) -> usize {
        0
    }
    /// Gives the space of removed vectors back (HNSW rebuilds its graph without the tombstones); a no-op
    /// for kinds that free space on removal.
    fn compact(&mut self) -> Result<()> {
        Ok(())
    }
    /// The `k` nearest live vectors to `query`, best first.
    fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Hit>>;
    /// The `k` nearest live vectors to `query` among the ids `filter` allows, best first. The search runs
    /// through the filter (it does not over-fetch and cut), so it returns `min(k, allowed live ids)`
    /// results wherever the index's search reaches them.
    fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<Vec<Hit>>;
    /// Many queries (`n * dim` values) at once; one result list per query.
    fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>>;
    /// Writes the index into `dir` atomically (written beside, then renamed).
    fn save(&self, dir: &Path) -> Result<()>;
}

/// Builds an index of the given config from `(ids, vectors)`; IVF trains on them first.
pub fn build(
    config: &IndexConfig,
    dim: usize,
    metric: Metric,
    ids: &[u64],
    vectors: &[f32],
) -> Result<Box<dyn VectorIndex>> {
    Ok(match config {
        IndexConfig::Flat => Box::new(flat::FlatIndex::build(dim, metric, ids, vectors)?),
        IndexConfig::Hnsw(params) => {
            Box::new(hnsw::HnswIndex::build(params, dim, metric, ids, vectors)?)
        }
        IndexConfig::Ivf(params) => {
            Box::new(ivf::IvfIndex::build(params, dim, metric, ids, vectors)?)
        }
    })
}

/// Loads an index saved by [`VectorIndex::save`], whatever its kind.
pub fn load(dir: &Path) -> Result<Box<dyn VectorIndex>> {
    let manifest = persist::read_manifest(dir)?;
    Ok(match manifest.kind {
        IndexKind::Flat => Box::new(flat::FlatIndex::load(dir, &manifest)?),
        IndexKind::Hnsw => Box::new(hnsw::HnswIndex::load(dir, &manifest)?),
        IndexKind::Ivf => Box::new(ivf::IvfIndex::load(dir, &manifest)?),
    })
}

/// Checks `ids`/`vectors` shapes and values; returns the vectors as stored (normalised for cosine).
pub(crate) fn check_vectors(
    dim: usize,
    metric: Metric,
    ids: &[u64],
    vectors: &[f32],
) -> Result<Vec<f32>> {
    if vectors.len() != ids.len() * dim {
        return Err(IndexError::Dimension {
            expected: dim,
            got: if ids.is_empty() {
                vectors.len()
            } else {
                vectors.len() / ids.len()
            },
        });
    }
    let mut out = vectors.to_vec();
    for (&id, v) in ids.iter().zip(out.chunks_exact_mut(dim)) {
        if v.iter().any(|x| !x.is_finite()) {
            return Err(IndexError::NonFinite { id });
        }
        if metric == Metric::Cosine {
            normalize(v);
        }
    }
    Ok(out)
}

/// Checks a query against the index and returns it as searched (normalised for cosine).
pub(crate) fn check_query(
    dim: usize,
    metric: Metric,
    len: usize,
    query: &[f32],
    k: usize,
) -> Result<Vec<f32>> {
    if query.len() != dim {
        return Err(IndexError::Dimension {
            expected: dim,
            got: query.len(),
        });
    }
    if k == 0 {
        return Err(IndexError::ZeroK);
    }
    if query.iter().any(|x| !x.is_finite()) {
        return Err(IndexError::InvalidParams {
            reason: "query has a NaN or infinite component".into(),
        });
    }
    if len == 0 {
        return Err(IndexError::Empty);
    }
    let mut q = query.to_vec();
    if metric == Metric::Cosine {
        normalize(&mut q);
    }
    Ok(q)
}

pub use vsearch_core::vector::normalize;
