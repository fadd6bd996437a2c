//! The collection's single commit point, as tantivy's `meta.json` or SQLite's journal commit.
//!
//! An index run writes everything a reader needs into a new, never-modified folder
//! `indexes/gen-<N>/`: one folder per index kind and `files.json` (the indexed ids and their paths).
//! Then one small file, `indexes/state.json`, written beside, fsynced and renamed over the old one (the
//! folder fsynced after), names that generation: that rename is the commit. Older generation folders
//! are removed only after it. A reader reads `state.json`, then loads the folder it names; if a newer
//! commit removed that folder meanwhile, it reads `state.json` again ([`open_committed`]).
//!
//! The catalog (SQLite) and the embedding matrix move ahead of the commit point during a run: the
//! catalog's rows are what the next commit will hold, the committed generation is what readers see.
//! `files.json` names the matrix file and its committed rows ([`MatrixRef`]): rows are only appended
//! to a matrix file, a compaction writes a new one, and files a committed generation names are removed
//! only after a later generation is committed, so every row a committed generation refers to stays
//! valid.

use crate::store::indexes::{self, IndexSet};
use crate::store::matrix::{Matrix, MatrixRef};
use crate::types::error::{EngineError, Result};
use crate::types::fault;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vsearch_core::durable;
use vsearch_index::{IndexConfig, IndexKind, Metric, VectorIndex};

use crate::types::layout::GENERATION_PREFIX;
pub use crate::types::layout::{FILES_FILE, INDEXES_DIR, STATE_FILE};

/// What `indexes/state.json` says: the committed generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPoint {
    /// The catalog generation the committed indexes reflect.
    pub generation: u64,
    /// Number of this commit (grows by one with each); names the folder.
    #[serde(default)]
    pub commit: u64,
    /// The generation's folder inside [`INDEXES_DIR`] (`None` in collections written before commit
    /// points existed: their indexes are rebuilt from the catalog and the next run commits).
    #[serde(default)]
    pub folder: Option<String>,
    /// Indexed images in the generation.
    #[serde(default)]
    pub count: usize,
}

/// The indexed files of a generation (`files.json`): ids ascending, with their paths relative to the
/// indexed folder and the version of their vectors, and the matrix their vectors are in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationFiles {
    /// Indexed ids, ascending.
    pub ids: Vec<u64>,
    /// Their paths relative to the indexed folder.
    pub paths: Vec<String>,
    /// Per id, the catalog generation that wrote its vector ([`crate::store::catalog::Entry::version`]); an id
    /// whose version differs between two generations was re-embedded under the same id, so the index
    /// sync removes and adds it again. Empty in generations from before stable ids (all 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<u64>,
    /// `None` in generations from before the matrix's ids file (the matrix is read row = id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixRef>,
}

impl GenerationFiles {
    /// The version of the `i`-th id (0 when the generation records none).
    pub fn version(&self, i: usize) -> u64 {
        self.versions.get(i).copied().unwrap_or(0)
    }

    /// Whether both hold the same ids, paths, versions and matrix (no recorded versions reading as 0).
    pub fn same_as(&self, other: &GenerationFiles) -> bool {
        self.ids == other.ids
            && self.paths == other.paths
            && self.matrix == other.matrix
            && (0..self.ids.len()).all(|i| self.version(i) == other.version(i))
    }
}

fn state_path(coll: &Path) -> PathBuf {
    coll.join(INDEXES_DIR).join(STATE_FILE)
}

/// Reads the commit point; `Ok(None)` when the collection has none yet.
pub fn read_commit_point(coll: &Path) -> Result<Option<CommitPoint>> {
    let path = state_path(coll);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(EngineError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| EngineError::Generation {
            path,
            reason: format!("not a commit point: {e}"),
        })
}

/// The folder of a committed generation.
pub fn generation_dir(coll: &Path, folder: &str) -> PathBuf {
    coll.join(INDEXES_DIR).join(folder)
}

/// The folder of one index kind inside a generation folder.
pub fn index_dir(generation_dir: &Path, kind: IndexKind) -> PathBuf {
    generation_dir.join(kind.name())
}

/// Reads a generation's `files.json`.
pub fn read_files(generation_dir: &Path) -> Result<GenerationFiles> {
    let path = generation_dir.join(FILES_FILE);
    let bytes = std::fs::read(&path).map_err(EngineError::io(&path))?;
    let files: GenerationFiles =
        serde_json::from_slice(&bytes).map_err(|e| EngineError::Generation {
            path: path.clone(),
            reason: format!("bad file list: {e}"),
        })?;
    if files.ids.len() != files.paths.len()
        || !(files.versions.is_empty() || files.versions.len() == files.ids.len())
        || !files.ids.is_sorted_by(|a, b| a < b)
    {
        return Err(EngineError::Generation {
            path,
            reason: "ids and paths do not agree".into(),
        });
    }
    Ok(files)
}

/// A committed generation as a reader holds it.
pub struct Committed {
    pub point: CommitPoint,
    pub files: GenerationFiles,
    /// The matrix the generation names.
    pub matrix: Matrix,
    /// One index per config; kinds missing from the generation folder were rebuilt in memory.
    pub indexes: IndexSet,
    /// Whether any index was rebuilt in memory.
    pub rebuilt: bool,
}

/// Loads the committed generation of `coll`: its files, its matrix (rows of `dim` values) and one index
/// per config (rebuilt in memory from the matrix when the generation lacks it). Retries when a
/// concurrent commit replaced the generation between reading the commit point and loading its folder.
/// `Ok(None)` when nothing is committed in the current format.
pub fn open_committed(
    coll: &Path,
    configs: &[IndexConfig],
    metric: Metric,
    dim: usize,
) -> Result<Option<Committed>> {
    const ATTEMPTS: usize = 8;
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        let Some(point) = read_commit_point(coll)? else {
            return Ok(None);
        };
        let Some(folder) = point.folder.clone() else {
            return Ok(None);
        };
        match load_generation(coll, &point, &folder, configs, metric, dim) {
            Ok(c) => return Ok(Some(c)),
            Err(e) => {
                // Replaced by a newer commit meanwhile? Then read the commit point again.
                if read_commit_point(coll)?.as_ref() == Some(&point) {
                    return Err(e);
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| EngineError::Generation {
        path: state_path(coll),
        reason: "the collection kept changing while it was being opened".into(),
    }))
}

fn load_generation(
    coll: &Path,
    point: &CommitPoint,
    folder: &str,
    configs: &[IndexConfig],
    metric: Metric,
    dim: usize,
) -> Result<Committed> {
    let dir = generation_dir(coll, folder);
    let files = read_files(&dir)?;
    let matrix = Matrix::open(coll, dim, files.matrix)?;
    if let Some(&id) = files.ids.iter().find(|&&id| !matrix.contains(id)) {
        return Err(matrix.missing_vector(id));
    }
    let mut out = Vec::new();
    let mut rebuilt = false;
    if files.ids.is_empty() {
        return Ok(Committed {
            point: point.clone(),
            files,
            matrix,
            indexes: out,
            rebuilt,
        });
    }
    for config in configs {
        let kind = config.kind();
        let path = index_dir(&dir, kind);
        let index = if path.exists() {
            // A reader only searches: HNSW holds its search layout alone, not hnsw_rs's graph too.
            let index = vsearch_index::load_for_search(&path)?;
            if index.len() != files.ids.len() || index.dim() != matrix.dim() || index.kind() != kind
            {
                return Err(EngineError::Generation {
                    path,
                    reason: format!(
                        "the {kind} index holds {} vectors of dimension {}, the generation {} of {}",
                        index.len(),
                        index.dim(),
                        files.ids.len(),
                        matrix.dim()
                    ),
                });
            }
            index
        } else {
            rebuilt = true;
            tracing::info!(
                "the committed generation has no {kind} index: building it in memory over {} vectors",
                files.ids.len()
            );
            indexes::build_from_matrix(config, metric, &matrix, &files.ids)?
        };
        out.push((kind, index));
    }
    Ok(Committed {
        point: point.clone(),
        files,
        matrix,
        indexes: out,
        rebuilt,
    })
}

/// A generation being written; [`GenerationWriter::commit`] publishes it. Dropped without a commit (a
/// failed write: a full disk), it removes its folder, so the space the failed run took is free again and
/// nothing of it is left for a reader to meet.
pub struct GenerationWriter {
    coll: PathBuf,
    point: CommitPoint,
    dir: PathBuf,
    committed: bool,
}

impl Drop for GenerationWriter {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(
                    "cannot remove the uncommitted generation {}: {e}",
                    self.dir.display()
                );
            }
        }
    }
}

impl GenerationWriter {
    /// Starts the generation after `previous` (a fresh folder; a leftover of a killed run with the same
    /// name, never committed, is removed first).
    pub fn begin(coll: &Path, previous: Option<&CommitPoint>, generation: u64) -> Result<Self> {
        let commit = previous.map_or(1, |p| p.commit + 1);
        let folder = format!("{GENERATION_PREFIX}{commit:012}");
        let root = coll.join(INDEXES_DIR);
        let dir = root.join(&folder);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(EngineError::io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(EngineError::io(&dir))?;
        Ok(Self {
            coll: coll.to_path_buf(),
            point: CommitPoint {
                generation,
                commit,
                folder: Some(folder),
                count: 0,
            },
            dir,
            committed: false,
        })
    }

    /// Saves one index into the generation.
    pub fn save_index(&self, index: &dyn VectorIndex) -> Result<()> {
        fault::fail_at("index-save").map_err(EngineError::io(&self.dir))?;
        index.save(&index_dir(&self.dir, index.kind()))?;
        fault::abort_at("index-save");
        Ok(())
    }

    /// Publishes the generation with its `files`: writes `files.json`, syncs the folder, then replaces
    /// the commit point; older generations (and folders of the layout before commit points) are removed
    /// after. Returns the new commit point.
    pub fn commit(mut self, files: &GenerationFiles) -> Result<CommitPoint> {
        let files_path = self.dir.join(FILES_FILE);
        let json = serde_json::to_vec(files).map_err(|e| EngineError::Generation {
            path: files_path.clone(),
            reason: e.to_string(),
        })?;
        durable::write_synced(&files_path, &json).map_err(EngineError::io(&files_path))?;
        durable::sync_dir(&self.dir).map_err(EngineError::io(&self.dir))?;
        let root = self.coll.join(INDEXES_DIR);
        durable::sync_dir(&root).map_err(EngineError::io(&root))?;
        self.point.count = files.ids.len();
        let state = state_path(&self.coll);
        let json = serde_json::to_vec_pretty(&self.point).map_err(|e| EngineError::Generation {
            path: state.clone(),
            reason: e.to_string(),
        })?;
        fault::abort_at("state-write");
        fault::fail_at("state-write").map_err(EngineError::io(&state))?;
        if let Err(e) = durable::write_atomic(&state, &json) {
            // The rename may have happened before syncing the folder failed: then this generation is the
            // one committed, and its folder must stay.
            self.committed = read_commit_point(&self.coll)
                .ok()
                .flatten()
                .is_some_and(|p| p.folder == self.point.folder);
            return Err(EngineError::io(&state)(e));
        }
        self.committed = true;
        remove_uncommitted(&self.coll, self.point.folder.as_deref());
        Ok(self.point.clone())
    }
}

/// Removes every generation folder but `keep`, and the index folders of the layout before commit points
/// (`indexes/hnsw` ...). Failures are logged, not returned: the commit already happened.
pub fn remove_uncommitted(coll: &Path, keep: Option<&str>) {
    let root = coll.join(INDEXES_DIR);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale_generation = name.starts_with(GENERATION_PREFIX) && Some(&*name) != keep;
        let old_layout =
            IndexKind::ALL.iter().any(|k| k.name() == name) || name.starts_with(".index-tmp-");
        if (stale_generation || old_layout) && entry.path().is_dir() {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!("cannot remove {}: {e}", entry.path().display());
            }
        }
    }
}
