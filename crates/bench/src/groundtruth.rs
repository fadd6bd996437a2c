//! Ground truth by exact (flat) search, cached on disk as `.ivecs`.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::files::{sanitize, write_atomic};
use std::path::{Path, PathBuf};
use vsearch_index::eval;

/// File name of the cache for this dataset, `k` and query count.
pub fn cache_name(ds: &Dataset, k: usize) -> String {
    let fp = ds
        .fingerprint
        .as_deref()
        .map(|f| format!("-{}", sanitize(f)))
        .unwrap_or_default();
    format!(
        "{}{fp}.gt-k{k}-q{}-n{}.ivecs",
        sanitize(&ds.name),
        ds.n_queries(),
        ds.n_base()
    )
}

/// Where the ground-truth cache lives: beside the dataset when that folder is writable, otherwise `fallback`.
pub fn cache_path(ds: &Dataset, k: usize, fallback: &Path) -> PathBuf {
    let name = cache_name(ds, k);
    if let Some(home) = &ds.home {
        if is_writable(home) {
            return home.join(name);
        }
    }
    fallback.join(name)
}

fn is_writable(dir: &Path) -> bool {
    tempfile::NamedTempFile::new_in(dir).is_ok()
}

/// Exact k nearest ids per query with a flat index (no cache).
pub fn exact(ds: &Dataset, k: usize) -> Result<Vec<Vec<u64>>> {
    Ok(eval::exact_neighbours(
        ds.dim,
        ds.metric,
        &ds.ids,
        &ds.base,
        &ds.queries,
        k,
    )?)
}

/// Ground truth for `ds` at `k`: given with the dataset (when deep enough), read from the cache, or computed
/// exactly and cached (in the dataset's folder, else in `fallback_dir`). Returns the rows and where they came from.
pub fn ground_truth(
    ds: &Dataset,
    k: usize,
    fallback_dir: &Path,
) -> Result<(Vec<Vec<u64>>, String)> {
    if let Some(gt) = &ds.ground_truth {
        if gt.len() == ds.n_queries() && gt.iter().all(|r| r.len() >= k) {
            return Ok((
                gt.iter().map(|r| r[..k].to_vec()).collect(),
                "given with the dataset".into(),
            ));
        }
    }
    let path = cache_path(ds, k, fallback_dir);
    if path.exists() {
        match eval::read_ivecs(&path) {
            Ok(rows) if rows.len() == ds.n_queries() && rows.dim == k => {
                tracing::info!(path = %path.display(), "ground truth read from cache");
                let rows = rows
                    .values
                    .chunks(k)
                    .map(|r| r.iter().map(|&v| v as u32 as u64).collect())
                    .collect();
                return Ok((rows, format!("cache {}", path.display())));
            }
            _ => {
                tracing::warn!(path = %path.display(), "ground-truth cache does not match; recomputing")
            }
        }
    }
    let gt = exact(ds, k)?;
    // Ids that do not fit an ivecs i32 are not cached.
    if ds.ids.iter().all(|&id| id <= i32::MAX as u64) {
        if let Err(e) = write_atomic(&path, &eval::encode_ivecs(&gt)) {
            tracing::warn!("could not cache ground truth: {e}");
        }
    }
    Ok((
        gt,
        format!("exact flat search, cached at {}", path.display()),
    ))
}
