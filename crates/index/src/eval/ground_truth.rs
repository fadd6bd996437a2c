//! Ground truth: the exact k nearest neighbours of every query, by the flat index.

use crate::config::SearchParams;
use crate::error::Result;
use crate::flat::FlatIndex;
use crate::vector_index::{Metric, VectorIndex};

/// Queries per flat `search_batch` call: bounds the score matrix to this many rows of `n` scores.
const QUERY_BATCH: usize = 256;

/// Ids of the exact `k` nearest base rows for every query (best first), by exact (flat) search over
/// `base` (one row of `dim` values per id in `ids`), in batches of 256 queries.
pub fn exact_neighbours(
    dim: usize,
    metric: Metric,
    ids: &[u64],
    base: &[f32],
    queries: &[f32],
    k: usize,
) -> Result<Vec<Vec<u64>>> {
    let flat = FlatIndex::build(dim, metric, ids, base)?;
    let mut out = Vec::with_capacity(queries.len() / dim);
    for batch in queries.chunks(QUERY_BATCH * dim) {
        for hits in flat.search_batch(batch, k, &SearchParams::default())? {
            out.push(hits.into_iter().map(|h| h.id).collect());
        }
    }
    Ok(out)
}
