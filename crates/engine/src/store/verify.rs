//! Checking a collection on disk: the catalog, the embedding matrix and the saved indexes agree.

use crate::store::catalog::{Catalog, Status};
use crate::store::generation::{self, GenerationFiles};
use crate::store::manifest::CollectionManifest;
use crate::store::matrix::Matrix;
use crate::types::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vsearch_index::IndexKind;

/// Work an interrupted or failed run left for the next one: the catalog has committed changes the
/// committed generation of the indexes does not hold yet (the catalog ran ahead of the last commit). Not
/// damage: the next `vsearch index` of the folder commits it, and until then the last committed state
/// serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingWork {
    /// Indexed files (new or changed) the committed generation does not serve yet.
    pub files: usize,
    /// The catalog's generation, ahead of the committed one.
    pub catalog_generation: u64,
    /// The committed generation (0 when none is).
    pub committed_generation: u64,
}

impl std::fmt::Display for PendingWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.files > 0 {
            write!(f, "{} files indexed but not yet committed", self.files)
        } else {
            write!(f, "removals not yet committed")
        }
    }
}

/// The pending work of the collection folder `dir` (see [`PendingWork`]), or `None` when the committed
/// generation holds everything the catalog does.
pub fn pending_work(dir: &Path) -> Result<Option<PendingWork>> {
    let catalog = Catalog::open_read_only(dir)?;
    let committed = generation::read_commit_point(dir)?;
    pending_of(&catalog, committed.as_ref().map_or(0, |p| p.generation))
}

fn pending_of(catalog: &Catalog, committed_generation: u64) -> Result<Option<PendingWork>> {
    let catalog_generation = catalog.generation()?;
    if catalog_generation <= committed_generation {
        return Ok(None);
    }
    Ok(Some(PendingWork {
        files: catalog.indexed_since(committed_generation)?,
        catalog_generation,
        committed_generation,
    }))
}

/// What [`crate::Collection::verify`] found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Catalog rows with status ok / failed.
    pub ok: usize,
    pub failed: usize,
    /// Committed rows of the catalog's matrix (dead rows of deleted images included until a compaction).
    pub matrix_rows: usize,
    pub next_id: u64,
    pub generation: u64,
    /// Generation the saved indexes reflect.
    pub index_generation: Option<u64>,
    /// Saved index kind and its vector count.
    pub indexes: Vec<(IndexKind, usize)>,
    /// Inconsistencies; empty when catalog, matrix and indexes agree.
    pub problems: Vec<String>,
    /// Work an interrupted or failed run left for the next one (not a problem).
    #[serde(default)]
    pub pending: Option<PendingWork>,
}

impl VerifyReport {
    /// Whether catalog, matrix and saved indexes agree.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks, from what is on disk, that the catalog, the matrix and the saved indexes of the collection
/// at `path` agree: every indexed id has a finite unit-length row, every saved index reflects the
/// catalog's generation, holds exactly the indexed ids and finds each one's own vector.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let (dir, manifest) = CollectionManifest::open_dir(path)?;
    let catalog = Catalog::open_read_only(&dir)?;
    let entries = catalog.entries()?;
    let matrix_at = catalog.matrix_ref()?;
    let matrix = Matrix::open(&dir, manifest.model.dim, matrix_at)?;
    let mut r = VerifyReport {
        next_id: catalog.next_id()?,
        generation: catalog.generation()?,
        matrix_rows: matrix.rows(),
        ..VerifyReport::default()
    };
    let committed = generation::read_commit_point(&dir)?;
    r.index_generation = committed.as_ref().map(|p| p.generation);
    r.pending = pending_of(&catalog, r.index_generation.unwrap_or(0))?;
    let mut ok_ids = Vec::new();
    for e in &entries {
        if e.id >= r.next_id {
            r.problems.push(format!(
                "id {} ({}) is not below next_id {}",
                e.id, e.path, r.next_id
            ));
        }
        match e.status {
            Status::Failed => r.failed += 1,
            Status::Ok => {
                r.ok += 1;
                ok_ids.push(e.id);
                match matrix.row(e.id) {
                    None => r
                        .problems
                        .push(format!("id {} ({}) has no matrix row", e.id, e.path)),
                    Some(v) => {
                        let norm = vsearch_core::vector::dot(&v, &v).sqrt();
                        if !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
                            r.problems.push(format!(
                                "id {} ({}) has a bad vector (norm {norm})",
                                e.id, e.path
                            ));
                        }
                    }
                }
            }
        }
    }
    let Some(folder) = committed.as_ref().and_then(|p| p.folder.clone()) else {
        // A first run that stopped before its first commit is pending work, not damage.
        if !ok_ids.is_empty() && r.pending.is_none() {
            r.problems
                .push("no generation of the indexes is committed (indexes/state.json)".to_string());
        }
        return Ok(r);
    };
    let gen_dir = generation::generation_dir(&dir, &folder);
    let committed_files = match generation::read_files(&gen_dir) {
        Ok(files) => files,
        Err(e) => {
            r.problems
                .push(format!("committed generation {folder}: {e}"));
            return Ok(r);
        }
    };
    let catalog_files = GenerationFiles {
        matrix: matrix_at,
        ids: ok_ids.clone(),
        paths: entries
            .iter()
            .filter(|e| e.status == Status::Ok)
            .map(|e| e.path.clone())
            .collect(),
        versions: entries
            .iter()
            .filter(|e| e.status == Status::Ok)
            .map(|e| e.version)
            .collect(),
    };
    // The catalog may run ahead of the commit (pending work); at the same generation they must agree.
    if !committed_files.same_as(&catalog_files) && r.pending.is_none() {
        r.problems.push(format!(
            "the committed generation holds {} files, the catalog {} (or other paths, or another matrix)",
            committed_files.ids.len(),
            ok_ids.len()
        ));
    }
    if ok_ids.is_empty() {
        return Ok(r);
    }
    for config in &manifest.indexes {
        let kind = config.kind();
        let index = match vsearch_index::load(&generation::index_dir(&gen_dir, kind)) {
            Ok(i) => i,
            Err(e) => {
                r.problems.push(format!("{kind} index: {e}"));
                continue;
            }
        };
        r.indexes.push((kind, index.len()));
        if index.len() != committed_files.ids.len() {
            r.problems.push(format!(
                "{kind} index holds {} vectors, its generation {}",
                index.len(),
                committed_files.ids.len()
            ));
        }
        // Each indexed vector must find itself (or an identical duplicate) first.
        let params = vsearch_index::SearchParams {
            ef_search: Some(200),
            nprobe: Some(usize::MAX / 2),
            rerank: None,
        };
        // The committed generation's own ids (the catalog may be ahead of it; that is reported above).
        // Exact search and IVF probing every list must find each vector; HNSW is approximate and a graph
        // may leave a rare node unreachable (a recall miss, not damage): it may miss up to 1% of them.
        let step = (committed_files.ids.len() / 2000).max(1);
        let sampled = committed_files.ids.iter().step_by(step).count();
        let allowed_misses = match kind {
            IndexKind::Hnsw => (sampled / 100).max(1),
            _ => 0,
        };
        let mut misses = Vec::new();
        for &id in committed_files.ids.iter().step_by(step) {
            let Some(v) = matrix.row(id) else { continue };
            let params = match kind {
                IndexKind::Ivf => vsearch_index::SearchParams {
                    nprobe: Some(65_536),
                    ..params
                },
                _ => params,
            };
            match index.search(&v, 1, &params) {
                Ok(hits)
                    if hits
                        .first()
                        .is_some_and(|h| h.id == id || h.score >= 0.9999) => {}
                Ok(hits) => misses.push(format!("id {id} (top hit {:?})", hits.first())),
                Err(e) => r
                    .problems
                    .push(format!("{kind} index: search for id {id}: {e}")),
            }
        }
        if misses.len() > allowed_misses {
            r.problems.push(format!(
                "{kind} index does not find {} of {sampled} sampled vectors (at most {allowed_misses} allowed): {}",
                misses.len(),
                misses.join(", ")
            ));
        } else if !misses.is_empty() {
            tracing::info!(
                "{kind} index: {} of {sampled} sampled vectors not found first (within its tolerance): {}",
                misses.len(),
                misses.join(", ")
            );
        }
    }
    Ok(r)
}
