//! Vector indexes behind one interface.
//!
//! Three kinds: [`IndexKind::Flat`] (exact search, the ground truth), [`IndexKind::Hnsw`] (hnsw_rs graph)
//! and [`IndexKind::Ivf`] (FAISS inverted lists, flat or product-quantised codes).
//! Ids are `u64` chosen by the caller. Vectors are row-major `f32` slices of `n * dim`.
//! This crate knows nothing of images, models, HTTP or the command line.

//!
//! Modules, bottom-up (each imports only the ones before it):
//! - [`error`], [`kind`], [`distance`] (the SIMD kernels), [`id_filter`]: what everything shares;
//! - [`config`]: build parameters per kind with their measured defaults, and per-query parameters;
//!   `int8_codes` (the int8 scalar quantizer a quantized HNSW walks its graph with) beside it;
//! - [`vector_index`]: the [`VectorIndex`] interface, [`Hit`] and [`Metric`];
//! - [`persist`] (the on-disk layout) and [`topk`] (best-k selection);
//! - the kinds: [`flat`], then [`hnsw`] and [`ivf`]; [`eval`] (evaluation data and measures) beside them.

pub mod config;
pub mod distance;
pub mod error;
pub mod eval;
pub mod flat;
pub mod hnsw;
pub mod id_filter;
mod int8_codes;
pub mod ivf;
pub mod kind;
pub mod persist;
pub mod topk;
pub mod vector_index;

pub use config::{HnswParams, IndexConfig, IvfCodes, IvfParams, SearchParams};
pub use distance::simd_level;
pub use error::{IndexError, Result};
pub use id_filter::IdFilter;
pub use ivf::set_threads;
pub use kind::{IndexKind, UnknownIndexKind};
pub use vector_index::{Hit, Metric, VectorIndex};

use std::path::Path;

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

/// Loads an index saved by [`VectorIndex::save`] to answer searches only: an HNSW index holds its
/// compact search layout alone (read straight from its files) instead of hnsw_rs's graph beside it;
/// changing it answers [`IndexError::SearchOnly`]. Flat and IVF indexes load as [`load`] loads them.
pub fn load_for_search(dir: &Path) -> Result<Box<dyn VectorIndex>> {
    let manifest = persist::read_manifest(dir)?;
    Ok(match manifest.kind {
        IndexKind::Hnsw => Box::new(hnsw::HnswIndex::load_for_search(dir, &manifest)?),
        _ => load(dir)?,
    })
}

pub use vsearch_core::quantization::Quantization;
pub use vsearch_core::vector::normalize;
