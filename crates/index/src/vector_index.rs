//! The interface every index kind implements ([`VectorIndex`]), what a search returns ([`Hit`], scored by
//! the [`Metric`]), and the input checks every kind applies.

use crate::config::{IndexConfig, SearchParams};
use crate::distance::{self, FloatKernel};
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::kind::IndexKind;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vsearch_core::vector::normalize;

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

impl Metric {
    /// The [`distance::selected`] kernel that gives a [`Hit::score`] under this metric: the inner product
    /// for cosine (its vectors are unit length), the squared Euclidean distance for L2.
    pub fn score_kernel(self) -> FloatKernel {
        let kernels = distance::selected();
        match self {
            Metric::Cosine => kernels.dot,
            Metric::L2 => kernels.l2_squared,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: u64,
    /// Similarity (cosine) or squared distance (L2); see [`Metric`].
    pub score: f32,
}

/// The common interface of every index kind. Implementations are `Send + Sync`: searches may run
/// concurrently from many threads through `&self`.
pub trait VectorIndex: Send + Sync {
    /// The kind of index, as its config says.
    fn kind(&self) -> IndexKind {
        self.config().kind()
    }
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
    /// Bytes the index maps from its files instead of holding them on the heap (a quantized HNSW index
    /// opened for search only maps its full vectors); 0 for the others.
    fn mapped_bytes(&self) -> usize {
        0
    }
    /// The share of [`VectorIndex::memory_bytes`] taken by full-precision vectors kept only to re-rank
    /// quantised candidates exactly (IVF-PQ, IVF-SQ8, IVF-PQ fast-scan); 0 for kinds whose search reads
    /// the vectors themselves. `memory_bytes - rerank_bytes` is what the search structure takes.
    fn rerank_bytes(&self) -> usize {
        0
    }
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
    // Every value is tested (no early exit) so that the test vectorises; queries are rarely invalid.
    if query.iter().fold(false, |bad, x| bad | !x.is_finite()) {
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
