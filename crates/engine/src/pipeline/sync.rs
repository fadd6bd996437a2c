//! Step 4 of a run: bring the saved indexes from the catalog as it was at the start of the run to the
//! catalog as it is at its end.

use crate::catalog::{Catalog, Entry, Status};
use crate::error::{EngineError, Result};
use crate::indexes::{self, config_kind, index_dir, kind_name, IndexState};
use crate::manifest::CollectionManifest;
use crate::matrix::Matrix;
use std::collections::HashSet;
use std::path::Path;
use vsearch_index::IndexKind;

/// The catalog at one moment, as far as the indexes care: its generation and its indexed ids.
pub(super) struct CatalogState {
    pub generation: u64,
    /// Ids of the rows with status ok, ascending.
    pub indexed: Vec<u64>,
}

impl CatalogState {
    /// The state of a catalog at `generation` holding `entries` (ordered by id).
    pub fn new(generation: u64, entries: &[Entry]) -> Self {
        Self {
            generation,
            indexed: entries
                .iter()
                .filter(|e| e.status == Status::Ok)
                .map(|e| e.id)
                .collect(),
        }
    }

    /// The catalog's state now.
    pub fn read(catalog: &Catalog) -> Result<Self> {
        let generation = catalog.generation()?;
        Ok(Self::new(generation, &catalog.entries()?))
    }
}

/// Updates the saved indexes of `manifest` from `start` to `end`: incrementally (remove, add) when the
/// saved indexes reflect `start`, by a rebuild from the matrix otherwise.
pub(super) fn sync_indexes(
    coll: &Path,
    manifest: &CollectionManifest,
    start: &CatalogState,
    end: &CatalogState,
) -> Result<()> {
    let configs = &manifest.indexes;
    let dim = manifest.model.dim;
    let (start_ok, end_ok) = (&start.indexed, &end.indexed);
    let state_fresh = indexes::read_state(coll).is_some_and(|s| s.generation == start.generation);
    let all_present = configs
        .iter()
        .all(|c| index_dir(coll, config_kind(c)).exists())
        || start_ok.is_empty();
    if state_fresh && all_present && start.generation == end.generation {
        return Ok(());
    }
    let matrix = Matrix::open(coll, dim)?;
    let start_set: HashSet<u64> = start_ok.iter().copied().collect();
    let end_set: HashSet<u64> = end_ok.iter().copied().collect();
    let mut removed: Vec<u64> = start_set.difference(&end_set).copied().collect();
    let mut added: Vec<u64> = end_set.difference(&start_set).copied().collect();
    removed.sort_unstable();
    added.sort_unstable();
    for config in configs {
        let kind = config_kind(config);
        let dir = index_dir(coll, kind);
        if end_ok.is_empty() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(EngineError::io(&dir))?;
            }
            continue;
        }
        let incremental = state_fresh && !start_ok.is_empty()
            // IVF lists were trained on the collection as it was; retrain when it has more than doubled.
            && !(kind == IndexKind::Ivf && end_ok.len() > 2 * start_ok.len());
        let loaded = if incremental {
            match vsearch_index::load(&dir) {
                Ok(index) if index.len() == start_ok.len() && index.dim() == dim => Some(index),
                _ => None,
            }
        } else {
            None
        };
        let index = match loaded {
            Some(mut index) => {
                tracing::info!(
                    "updating the {} index: -{} +{} vectors",
                    kind_name(kind),
                    removed.len(),
                    added.len()
                );
                if !removed.is_empty() {
                    index.remove(&removed)?;
                }
                if !added.is_empty() {
                    index.add(&added, &matrix.gather(&added)?)?;
                }
                index
            }
            None => {
                tracing::info!(
                    "building the {} index over {} vectors",
                    kind_name(kind),
                    end_ok.len()
                );
                indexes::build_from_matrix(config, manifest.metric, &matrix, end_ok)?
            }
        };
        std::fs::create_dir_all(coll.join(indexes::INDEXES_DIR)).map_err(EngineError::io(coll))?;
        index.save(&dir)?;
    }
    indexes::write_state(
        coll,
        &IndexState {
            generation: end.generation,
        },
    )
}
