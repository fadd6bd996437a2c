//! Step 4 of a run: commit a new generation of the indexes that holds exactly the catalog's indexed
//! files (see [`crate::store::generation`]): incrementally from the committed generation (remove what left,
//! add what came) when it has the index, by a build from the matrix otherwise.

use crate::store::catalog::{Catalog, Status};
use crate::store::generation::{self, CommitPoint, GenerationFiles, GenerationWriter};
use crate::store::indexes;
use crate::store::manifest::CollectionManifest;
use crate::store::matrix::Matrix;
use crate::types::error::Result;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use vsearch_index::{IndexKind, VectorIndex};

/// Share of tombstones (deleted but still in the graph) above which an HNSW index is compacted when a
/// run updates it, so deletes give their space back.
pub const HNSW_COMPACT_ABOVE: f64 = 0.1;

/// The catalog at the end of a run, as far as the indexes care: its generation and its indexed files.
pub(super) struct CatalogState {
    pub generation: u64,
    pub files: GenerationFiles,
}

impl CatalogState {
    /// The catalog's state now.
    pub fn read(catalog: &Catalog) -> Result<Self> {
        let generation = catalog.generation()?;
        let mut files = GenerationFiles {
            matrix: catalog.matrix_ref()?,
            ..GenerationFiles::default()
        };
        for e in catalog.entries()? {
            if e.status == Status::Ok {
                files.ids.push(e.id);
                files.paths.push(e.path);
                files.versions.push(e.version);
            }
        }
        Ok(Self { generation, files })
    }
}

/// Commits a generation of `manifest`'s indexes holding `end`'s files, unless the committed one already
/// does (same catalog generation, every configured kind present).
pub(super) fn sync_indexes(
    coll: &Path,
    manifest: &CollectionManifest,
    end: &CatalogState,
) -> Result<()> {
    let committed = generation::read_commit_point(coll)?;
    let committed_dir = committed
        .as_ref()
        .and_then(|p| p.folder.as_deref())
        .map(|f| generation::generation_dir(coll, f));
    let committed_files = match &committed_dir {
        Some(dir) => match generation::read_files(dir) {
            Ok(files) => Some(files),
            Err(e) => {
                tracing::warn!(
                    "the committed generation cannot be read ({e}): rebuilding the indexes"
                );
                None
            }
        },
        None => None,
    };
    let has_kind = |kind: IndexKind| {
        committed_dir
            .as_ref()
            .is_some_and(|d| generation::index_dir(d, kind).is_dir())
    };
    let up_to_date = committed_files
        .as_ref()
        .is_some_and(|f| f.same_as(&end.files))
        && committed
            .as_ref()
            .is_some_and(|p| p.generation == end.generation)
        && (end.files.ids.is_empty() || manifest.indexes.iter().all(|c| has_kind(c.kind())));
    if up_to_date {
        return Ok(());
    }

    let dim = manifest.model.dim;
    let matrix = Matrix::open(coll, dim, end.files.matrix)?;
    let start_ids: &[u64] = committed_files.as_ref().map_or(&[], |f| &f.ids);
    let (removed, added) = match &committed_files {
        Some(start) => diff(start, &end.files),
        None => (Vec::new(), end.files.ids.clone()),
    };

    let writer = GenerationWriter::begin(coll, committed.as_ref(), end.generation)?;
    for config in &manifest.indexes {
        if end.files.ids.is_empty() {
            break;
        }
        let kind = config.kind();
        // IVF lists were trained on the collection as it was; retrain when it has more than doubled.
        let retrain = kind == IndexKind::Ivf && end.files.ids.len() > 2 * start_ids.len();
        let incremental = !start_ids.is_empty() && !retrain;
        let loaded = match (&committed_dir, incremental) {
            (Some(dir), true) if has_kind(kind) => {
                match vsearch_index::load(&generation::index_dir(dir, kind)) {
                    Ok(index)
                        if index.len() == start_ids.len()
                            && index.dim() == dim
                            && index.config() == *config =>
                    {
                        Some(index)
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(
                            "the committed {kind} index cannot be loaded ({e}): rebuilding it"
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let index = match loaded {
            Some(index) => update(index, &removed, &added, &matrix)?,
            None => {
                tracing::info!(
                    "building the {kind} index over {} vectors",
                    end.files.ids.len()
                );
                indexes::build_from_matrix(config, manifest.metric, &matrix, &end.files.ids)?
            }
        };
        writer.save_index(index.as_ref())?;
    }
    let point: CommitPoint = writer.commit(&end.files)?;
    tracing::debug!("committed generation {:?}", point);
    Ok(())
}

/// The ids to remove from and to add to indexes holding `start`'s files so they hold `end`'s, both
/// ascending: ids that left, ids that came, and ids in both whose vector changed (another version:
/// re-embedded under the same id), which are removed and added again.
fn diff(start: &GenerationFiles, end: &GenerationFiles) -> (Vec<u64>, Vec<u64>) {
    let start_versions: HashMap<u64, u64> = start
        .ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, start.version(i)))
        .collect();
    let end_ids: HashSet<u64> = end.ids.iter().copied().collect();
    let mut removed: Vec<u64> = start
        .ids
        .iter()
        .copied()
        .filter(|id| !end_ids.contains(id))
        .collect();
    let mut added = Vec::new();
    for (i, &id) in end.ids.iter().enumerate() {
        match start_versions.get(&id) {
            None => added.push(id),
            Some(&v) if v != end.version(i) => {
                removed.push(id);
                added.push(id);
            }
            Some(_) => {}
        }
    }
    removed.sort_unstable();
    (removed, added)
}

/// Brings a loaded index from the committed files to the run's: removes, adds, and compacts HNSW when
/// its tombstones pass [`HNSW_COMPACT_ABOVE`].
fn update(
    mut index: Box<dyn VectorIndex>,
    removed: &[u64],
    added: &[u64],
    matrix: &Matrix,
) -> Result<Box<dyn VectorIndex>> {
    let kind = index.kind();
    tracing::info!(
        "updating the {kind} index: -{} +{} vectors",
        removed.len(),
        added.len()
    );
    if !removed.is_empty() {
        index.remove(removed)?;
    }
    if !added.is_empty() {
        index.add(added, &matrix.gather(added)?)?;
    }
    let dead = index.tombstones();
    if dead as f64 > HNSW_COMPACT_ABOVE * (index.len() + dead) as f64 {
        tracing::info!("compacting the {kind} index ({dead} deleted vectors)");
        index.compact()?;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(ids: &[u64], versions: &[u64]) -> GenerationFiles {
        GenerationFiles {
            ids: ids.to_vec(),
            paths: ids.iter().map(|id| format!("{id}.jpg")).collect(),
            versions: versions.to_vec(),
            matrix: None,
        }
    }

    #[test]
    fn a_changed_version_is_removed_and_added_again() {
        let start = files(&[1, 2, 3, 4], &[1, 1, 2, 2]);
        let end = files(&[2, 3, 4, 5], &[1, 5, 2, 5]);
        assert_eq!(diff(&start, &end), (vec![1, 3], vec![3, 5]));
        // A generation from before versions reads as version 0 everywhere.
        let old = files(&[1, 2], &[]);
        let end = files(&[1, 2], &[0, 3]);
        assert_eq!(diff(&old, &end), (vec![2], vec![2]));
    }
}
