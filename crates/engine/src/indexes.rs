//! The collection's indexes: default configs, loading with a staleness check, rebuilding from the
//! matrix, and saving with the catalog generation they reflect (`indexes/state.json`).

use crate::error::{EngineError, Result};
use crate::manifest::write_atomic;
use crate::matrix::Matrix;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vsearch_index::{hnsw, ivf, HnswParams, IndexConfig, IndexKind, Metric, VectorIndex};

/// Folder of the index folders inside a collection.
pub const INDEXES_DIR: &str = "indexes";
const STATE_FILE: &str = "state.json";

/// The index kinds in order of preference for queries that name none.
pub const PREFERENCE: [IndexKind; 3] = [IndexKind::Hnsw, IndexKind::Ivf, IndexKind::Flat];

/// Which catalog generation the saved indexes reflect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexState {
    pub generation: u64,
}

/// Name of an index kind (`hnsw`, `ivf`, `flat`).
pub fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Flat => "flat",
        IndexKind::Hnsw => "hnsw",
        IndexKind::Ivf => "ivf",
    }
}

/// Kind of a config.
pub fn config_kind(config: &IndexConfig) -> IndexKind {
    match config {
        IndexConfig::Flat => IndexKind::Flat,
        IndexConfig::Hnsw(_) => IndexKind::Hnsw,
        IndexConfig::Ivf(_) => IndexKind::Ivf,
    }
}

/// The default config of a kind (the index layer's measured defaults).
pub fn default_config(kind: IndexKind) -> IndexConfig {
    match kind {
        IndexKind::Flat => IndexConfig::Flat,
        IndexKind::Hnsw => IndexConfig::Hnsw(HnswParams {
            m: hnsw::DEFAULT_M,
            ef_construction: hnsw::DEFAULT_EF_CONSTRUCTION,
            ef_search: hnsw::DEFAULT_EF_SEARCH,
        }),
        IndexKind::Ivf => IndexConfig::Ivf(ivf::default_flat_params()),
    }
}

/// Folder of one index kind.
pub fn index_dir(collection: &Path, kind: IndexKind) -> PathBuf {
    collection.join(INDEXES_DIR).join(kind_name(kind))
}

/// Reads `indexes/state.json` (`None` when absent or unreadable).
pub fn read_state(collection: &Path) -> Option<IndexState> {
    let bytes = std::fs::read(collection.join(INDEXES_DIR).join(STATE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `indexes/state.json` atomically.
pub fn write_state(collection: &Path, state: &IndexState) -> Result<()> {
    let dir = collection.join(INDEXES_DIR);
    std::fs::create_dir_all(&dir).map_err(EngineError::io(&dir))?;
    let json = serde_json::to_vec(state).unwrap_or_default();
    write_atomic(&dir.join(STATE_FILE), &json)
}

/// Builds one index from the matrix rows of `ids`.
pub fn build_from_matrix(
    config: &IndexConfig,
    metric: Metric,
    matrix: &Matrix,
    ids: &[u64],
) -> Result<Box<dyn VectorIndex>> {
    let vectors = matrix.gather(ids)?;
    Ok(vsearch_index::build(
        config,
        matrix.dim(),
        metric,
        ids,
        &vectors,
    )?)
}

/// Opened indexes by kind.
pub type IndexSet = Vec<(IndexKind, Box<dyn VectorIndex>)>;

/// Loaded indexes, one per config, each either read from disk (when it reflects `generation` and holds
/// `ids.len()` vectors) or rebuilt from the matrix. The flag says whether any was rebuilt.
/// An empty `ids` gives no index at all.
pub fn load_or_rebuild(
    collection: &Path,
    configs: &[IndexConfig],
    metric: Metric,
    generation: u64,
    ids: &[u64],
    matrix: &Matrix,
) -> Result<(IndexSet, bool)> {
    let mut out = Vec::new();
    let mut rebuilt = false;
    if ids.is_empty() {
        return Ok((out, false));
    }
    let fresh = read_state(collection).is_some_and(|s| s.generation == generation);
    for config in configs {
        let kind = config_kind(config);
        let loaded = if fresh {
            match vsearch_index::load(&index_dir(collection, kind)) {
                Ok(index)
                    if index.len() == ids.len()
                        && index.dim() == matrix.dim()
                        && index.kind() == kind =>
                {
                    Some(index)
                }
                Ok(index) => {
                    tracing::warn!(
                        "{} index holds {} vectors, the catalog {}: rebuilding it",
                        kind_name(kind),
                        index.len(),
                        ids.len()
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!(
                        "{} index could not be loaded ({e}): rebuilding it",
                        kind_name(kind)
                    );
                    None
                }
            }
        } else {
            None
        };
        let index = match loaded {
            Some(index) => index,
            None => {
                rebuilt = true;
                tracing::info!(
                    "building the {} index over {} vectors",
                    kind_name(kind),
                    ids.len()
                );
                build_from_matrix(config, metric, matrix, ids)?
            }
        };
        out.push((kind, index));
    }
    Ok((out, rebuilt))
}
