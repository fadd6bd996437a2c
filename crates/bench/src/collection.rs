//! Embeddings of an indexed folder (a `vsearch index` collection), for a dataset: a deterministic sample of
//! rows is held out of the base as queries, the metric is the collection's (`dataset::load` builds the
//! dataset from these).

use crate::error::{BenchError, Result};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::path::{Path, PathBuf};
use vsearch_index::Metric;

/// Seed of the hold-out sample: the same collection always gives the same split.
pub const HOLDOUT_SEED: u64 = 42;

/// Ids, row-major embedding matrix, dimension and metric of the collection at `path` (the collection folder,
/// or an indexed folder holding `.vsearch`). The model is not loaded.
pub fn embeddings(path: &Path) -> Result<(Vec<u64>, Vec<f32>, usize, Metric)> {
    let c =
        vsearch_engine::Collection::open_without_model(path).map_err(|e| BenchError::Engine {
            reason: e.to_string(),
        })?;
    let (ids, matrix) = c.embeddings().map_err(|e| BenchError::Engine {
        reason: e.to_string(),
    })?;
    let dim = c.manifest().model.dim;
    if matrix.len() != ids.len() * dim {
        return Err(BenchError::Engine { reason: format!(
            "{}: {} ids but {} matrix values of dimension {dim}; run `vsearch index` on the folder to repair it",
            c.dir().display(),
            ids.len(),
            matrix.len()
        ) });
    }
    Ok((ids, matrix, dim, c.manifest().metric))
}

/// Base and held-out queries of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Ids left in the base, ascending.
    pub base_ids: Vec<u64>,
    /// Their vectors, row-major.
    pub base: Vec<f32>,
    /// Ids of the held-out rows, ascending (the query order).
    pub query_ids: Vec<u64>,
    /// Their vectors, row-major.
    pub queries: Vec<f32>,
}

/// Removes `q` rows (at least 1, at most half of the rows) from the base as queries: a sample drawn with
/// [`HOLDOUT_SEED`], so the split depends only on the ids, not on the run. `matrix` holds one row of `dim`
/// values per id.
pub fn holdout(ids: &[u64], matrix: &[f32], dim: usize, q: usize) -> Split {
    let n = ids.len();
    let q = q.clamp(1, (n / 2).max(1)).min(n);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(HOLDOUT_SEED));
    let mut held = vec![false; n];
    for &r in &rows[..q] {
        held[r] = true;
    }
    let mut s = Split {
        base_ids: Vec::with_capacity(n - q),
        base: Vec::with_capacity((n - q) * dim),
        query_ids: Vec::with_capacity(q),
        queries: Vec::with_capacity(q * dim),
    };
    for (row, id) in ids.iter().enumerate() {
        let v = &matrix[row * dim..(row + 1) * dim];
        if held[row] {
            s.query_ids.push(*id);
            s.queries.extend_from_slice(v);
        } else {
            s.base_ids.push(*id);
            s.base.extend_from_slice(v);
        }
    }
    s
}

/// blake3 over the ids and vector bits (first 16 hex digits): identifies the collection's content in
/// ground-truth cache names, so a re-indexed collection never reuses stale ground truth.
pub fn fingerprint(ids: &[u64], matrix: &[f32]) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut bytes = Vec::with_capacity(4096 * 8);
    for chunk in ids.chunks(4096) {
        bytes.clear();
        bytes.extend(chunk.iter().flat_map(|id| id.to_le_bytes()));
        hasher.update(&bytes);
    }
    for chunk in matrix.chunks(4096) {
        bytes.clear();
        bytes.extend(chunk.iter().flat_map(|v| v.to_bits().to_le_bytes()));
        hasher.update(&bytes);
    }
    hasher.finalize().to_hex()[..16].to_string()
}

/// The collection folder of `path` (the collection folder, or an indexed folder holding `.vsearch`) and the
/// name of the indexed folder it belongs to (`collection` when it has none).
pub fn location(path: &Path) -> (PathBuf, String) {
    let dir = vsearch_engine::resolve_collection_dir(path).unwrap_or_else(|_| path.to_path_buf());
    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            let d = if d.file_name().is_some_and(|f| f == ".vsearch") {
                d.parent()?.to_path_buf()
            } else {
                d
            };
            d.file_name().map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "collection".into());
    (dir, folder)
}
