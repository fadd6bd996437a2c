//! An opened collection: manifest, catalog paths, the mapped matrix, the indexes and the model.

use crate::blocks::{BlockList, BlockState};
use crate::catalog::{Catalog, Status};
use crate::error::{EngineError, Result};
use crate::generation::{self, GenerationFiles};
use crate::images::Images;
use crate::indexes;
use crate::manifest::{CollectionManifest, MANIFEST_FILE};
use crate::matrix::Matrix;
use crate::metadata::ImageMeta;
use crate::pipeline::DEFAULT_COLLECTION_DIR;
use crate::CollectionInfo;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsearch_embed::{DeviceSpec, Embedder};
use vsearch_index::{IndexError, IndexKind, VectorIndex};

/// An opened collection: catalog, embeddings, indexes and (unless opened without it) the model,
/// loaded once. `Send + Sync`: queries may run concurrently through `&self`.
pub struct Collection {
    dir: PathBuf,
    manifest: CollectionManifest,
    /// Shared with the collection's reloads ([`Collection::reload`]).
    embedder: Option<Arc<Embedder>>,
    /// The indexed (status ok) files and their metadata, by id (hidden ones included).
    images: Arc<Images>,
    /// The content hash (blake3, hex) of each served id.
    hashes: Arc<HashMap<u64, String>>,
    /// The label policy in force (`None` when none is stored or it does not parse).
    policy: Option<Arc<crate::labels::Policy>>,
    /// The committed generation served (0 when none is committed).
    generation: u64,
    matrix: Arc<Matrix>,
    indexes: Arc<Vec<(IndexKind, Box<dyn VectorIndex>)>>,
    /// The blocks in force and the ids they hide ([`crate::blocks`]).
    blocks: Arc<BlockState>,
}

/// The collection folder for `path`: `path` itself when it holds a manifest, else `path/.vsearch`.
pub fn resolve_collection_dir(path: &Path) -> Result<PathBuf> {
    if path.join(MANIFEST_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let inner = path.join(DEFAULT_COLLECTION_DIR);
    if inner.join(MANIFEST_FILE).is_file() {
        return Ok(inner);
    }
    Err(EngineError::NotACollection {
        path: path.to_path_buf(),
    })
}

/// The collection folder for `path` (see [`resolve_collection_dir`]) and its manifest.
fn open_collection_dir(path: &Path) -> Result<(PathBuf, CollectionManifest)> {
    let dir = resolve_collection_dir(path)?;
    let manifest = CollectionManifest::read(&dir)?
        .ok_or_else(|| EngineError::NotACollection { path: dir.clone() })?;
    Ok((dir, manifest))
}

/// What [`Collection::verify`] found.
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
    let (dir, manifest) = open_collection_dir(path)?;
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
        if !ok_ids.is_empty() {
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
    if !committed_files.same_as(&catalog_files) {
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

impl Collection {
    /// Opens the collection at `path` (a collection folder, or an indexed folder containing `.vsearch`)
    /// and loads its model on `device`.
    pub fn open(path: &Path, device: &DeviceSpec) -> Result<Self> {
        let mut c = Self::open_without_model(path)?;
        let embedder = vsearch_embed::load(&c.manifest.model_spec(), device)?;
        if embedder.info != c.manifest.model {
            return Err(EngineError::ModelMismatch {
                collection: c.manifest.model.id.clone(),
                requested: embedder.info.id.clone(),
            });
        }
        c.embedder = Some(Arc::new(embedder));
        Ok(c)
    }

    /// Opens the collection without loading the model: queries by id and by vector work, by image or
    /// text do not. It serves the committed generation ([`generation`]), whatever a run in progress is
    /// doing; a collection with no commit point yet (or one written before commit points) is served from
    /// its catalog, with every index built in memory.
    pub fn open_without_model(path: &Path) -> Result<Self> {
        let (dir, manifest) = open_collection_dir(path)?;
        let dim = manifest.model.dim;
        let (generation, files, matrix, indexes) = match generation::open_committed(
            &dir,
            &manifest.indexes,
            manifest.metric,
            dim,
        )? {
            Some(committed) => {
                if committed.rebuilt {
                    tracing::warn!(
                            "the committed generation of {} lacks some configured indexes; they were built in memory: run `vsearch index` to save them",
                            dir.display()
                        );
                }
                (
                    committed.point.generation,
                    committed.files,
                    committed.matrix,
                    committed.indexes,
                )
            }
            None => {
                let catalog = Catalog::open_read_only(&dir)?;
                let matrix = Matrix::open(&dir, dim, catalog.matrix_ref()?)?;
                let mut files = GenerationFiles::default();
                for e in catalog.entries()? {
                    if e.status == Status::Ok {
                        files.ids.push(e.id);
                        files.paths.push(e.path);
                        files.versions.push(e.version);
                    }
                }
                if !files.ids.is_empty() {
                    tracing::warn!(
                            "{} has no committed generation of its indexes: building them in memory; run `vsearch index` to commit them",
                            dir.display()
                        );
                }
                let indexes =
                    indexes::build_all(&manifest.indexes, manifest.metric, &matrix, &files.ids)?;
                (0, files, matrix, indexes)
            }
        };
        if let Some(&id) = files.ids.iter().find(|&&id| !matrix.contains(id)) {
            return Err(matrix.missing_vector(id));
        }
        let (images, hashes, policy) = load_images(&dir, &files)?;
        let mut collection = Self {
            dir,
            manifest,
            embedder: None,
            images: Arc::new(images),
            hashes: Arc::new(hashes),
            policy: policy.map(Arc::new),
            generation,
            matrix: Arc::new(matrix),
            indexes: Arc::new(indexes),
            blocks: Arc::default(),
        };
        let blocks = BlockList::read(&collection.dir)?;
        if !blocks.blocks.is_empty() {
            collection.blocks = Arc::new(BlockState::compute(&collection, blocks)?);
        }
        Ok(collection)
    }

    /// This state of the collection with other blocks (indexes, matrix and model shared, not copied).
    pub(crate) fn with_blocks(&self, blocks: BlockState) -> Collection {
        Collection {
            dir: self.dir.clone(),
            manifest: self.manifest.clone(),
            embedder: self.embedder.clone(),
            images: self.images.clone(),
            hashes: self.hashes.clone(),
            policy: self.policy.clone(),
            generation: self.generation,
            matrix: self.matrix.clone(),
            indexes: self.indexes.clone(),
            blocks: Arc::new(blocks),
        }
    }

    pub(crate) fn block_state(&self) -> &BlockState {
        &self.blocks
    }

    /// The content hash (blake3, hex) of a served id.
    pub(crate) fn content_hash(&self, id: u64) -> Option<&str> {
        self.hashes.get(&id).map(String::as_str)
    }

    /// The blocks' version this state applies ([`crate::blocks::BlockList::version`]).
    pub fn blocks_version(&self) -> u64 {
        self.blocks.list.version
    }

    /// Fails with [`EngineError::Blocked`] when a block hides `id`.
    pub(crate) fn check_visible(&self, id: u64) -> Result<()> {
        if self.blocks.hidden.contains(&id) {
            return Err(EngineError::Blocked { id });
        }
        Ok(())
    }

    /// The collection as `vsearch index` last committed it with the blocks in force, when that is a newer
    /// generation than the one served or the blocks changed (`None` when nothing changed). The model is
    /// shared, not loaded again; when only the blocks changed, so are the indexes.
    pub fn reload(&self) -> Result<Option<Collection>> {
        let committed = generation::read_commit_point(&self.dir)?.map_or(0, |p| p.generation);
        if committed == self.generation {
            let blocks = BlockList::read(&self.dir)?;
            if blocks == self.blocks.list {
                return Ok(None);
            }
            return Ok(Some(self.with_blocks(BlockState::compute(self, blocks)?)));
        }
        let mut fresh = Self::open_without_model(&self.dir)?;
        if fresh.manifest.model != self.manifest.model {
            return Err(EngineError::ModelMismatch {
                collection: fresh.manifest.model.id.clone(),
                requested: self.manifest.model.id.clone(),
            });
        }
        fresh.embedder = self.embedder.clone();
        Ok(Some(fresh))
    }

    /// The collection folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The indexed folder.
    pub fn root(&self) -> &Path {
        &self.manifest.root
    }

    /// The manifest.
    pub fn manifest(&self) -> &CollectionManifest {
        &self.manifest
    }

    /// Number of indexed images blocks do not hide.
    pub fn len(&self) -> usize {
        self.images.len()
            - self
                .images
                .iter()
                .filter(|m| self.blocks.hidden.contains(&m.id))
                .count()
    }

    /// Whether no image is indexed.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The indexed images and their metadata, hidden ones included (see [`Collection::is_hidden`]).
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// The label policy in force, when the collection has one ([`crate::labels`]).
    pub fn label_policy(&self) -> Option<&crate::labels::Policy> {
        self.policy.as_deref()
    }

    /// The committed generation served (0 when none is committed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn matrix(&self) -> &Matrix {
        &self.matrix
    }

    /// Whether the collection has an index of `kind`.
    pub fn has_index(&self, kind: IndexKind) -> bool {
        self.manifest.indexes.iter().any(|c| c.kind() == kind)
    }

    /// The loaded index of `kind`.
    pub(crate) fn index(&self, kind: IndexKind) -> Result<&dyn VectorIndex> {
        match self.indexes.iter().find(|(k, _)| *k == kind) {
            Some((_, index)) => Ok(index.as_ref()),
            None if self.images.is_empty() => Err(IndexError::Empty.into()),
            None => {
                let have: Vec<&str> = self.indexes.iter().map(|(k, _)| k.name()).collect();
                Err(EngineError::NoIndex {
                    requested: kind.to_string(),
                    available: have.join(", "),
                })
            }
        }
    }

    /// What the collection is.
    pub fn info(&self) -> CollectionInfo {
        CollectionInfo {
            root: self.manifest.root.clone(),
            model: self.manifest.model.clone(),
            metric: self.manifest.metric,
            count: self.len(),
            indexes: self.manifest.indexes.clone(),
            text_search: self.manifest.model.text,
            generation: self.generation,
            qdrant: None,
        }
    }

    /// Indexed ids (ascending) and their vectors, row-major.
    pub fn embeddings(&self) -> Result<(Vec<u64>, Vec<f32>)> {
        let ids = self.images.ids();
        let vectors = self.matrix.gather(&ids)?;
        Ok((ids, vectors))
    }

    /// The stored vector of an indexed id (refused for a hidden one).
    pub fn vector(&self, id: u64) -> Result<Vec<f32>> {
        self.check_visible(id)?;
        self.stored_vector(id)
    }

    /// The stored vector of an indexed id, hidden or not (for the engine's own work: blocks, duplicates).
    pub(crate) fn stored_vector(&self, id: u64) -> Result<Vec<f32>> {
        if !self.images.contains(id) {
            return Err(IndexError::UnknownId { id }.into());
        }
        self.matrix
            .row(id)
            .ok_or_else(|| self.matrix.missing_vector(id))
    }

    /// The bytes of an indexed image, hidden or not (for the engine's own work: blocks, duplicates).
    pub(crate) fn stored_bytes(&self, id: u64) -> Result<Vec<u8>> {
        let rel = self
            .images
            .get(id)
            .map(|m| m.path.as_str())
            .ok_or(IndexError::UnknownId { id })?;
        let path = self.manifest.root.join(rel);
        std::fs::read(&path).map_err(|source| EngineError::Io { path, source })
    }

    /// Path of an indexed image relative to the indexed folder (refused for a hidden one).
    pub fn relative_path(&self, id: u64) -> Result<&str> {
        let path = self
            .images
            .get(id)
            .map(|m| m.path.as_str())
            .ok_or(IndexError::UnknownId { id })?;
        self.check_visible(id)?;
        Ok(path)
    }

    /// Absolute path of an indexed image, by id.
    pub fn image_path(&self, id: u64) -> Result<PathBuf> {
        Ok(self.manifest.root.join(self.relative_path(id)?))
    }

    /// The bytes of an indexed image, by id.
    pub fn image_bytes(&self, id: u64) -> Result<Vec<u8>> {
        let path = self.image_path(id)?;
        std::fs::read(&path).map_err(|source| EngineError::Io { path, source })
    }

    /// Checks that catalog, matrix and saved indexes agree (see [`verify`]).
    pub fn verify(&self) -> Result<VerifyReport> {
        verify(&self.dir)
    }

    /// The number of a local image id (a UUID names no image here).
    pub fn local_id(&self, id: crate::ImageId) -> Result<u64> {
        id.number().ok_or(EngineError::UnknownImage { id })
    }

    pub(crate) fn embedder(&self, what: &'static str) -> Result<&Embedder> {
        self.embedder
            .as_deref()
            .ok_or(EngineError::NoModel { needed_by: what })
    }
}

/// The images of `files` with their catalog metadata and label scores, their content hashes (the catalog
/// may be ahead of the committed generation: only the generation's ids are taken), and the label policy
/// in force.
#[allow(clippy::type_complexity)]
fn load_images(
    dir: &Path,
    files: &GenerationFiles,
) -> Result<(Images, HashMap<u64, String>, Option<crate::labels::Policy>)> {
    let wanted: std::collections::HashSet<u64> = files.ids.iter().copied().collect();
    let catalog = Catalog::open_read_only(dir)?;
    let policy = match catalog.label_policy()? {
        None => None,
        Some(text) => match crate::labels::PolicySource::parse(&text, "stored in the catalog") {
            Ok(p) => Some(p.policy),
            Err(e) => {
                tracing::warn!("{}: {e}; no label flags are shown", dir.display());
                None
            }
        },
    };
    let mut scores = catalog.labels()?;
    let entries: Vec<_> = catalog
        .entries()?
        .into_iter()
        .filter(|e| wanted.contains(&e.id))
        .collect();
    let hashes = entries.iter().map(|e| (e.id, e.hash.clone())).collect();
    let mut rows: Vec<ImageMeta> = entries.iter().map(ImageMeta::from_entry).collect();
    // Ids of the generation the catalog no longer has (deleted since): still served, by path alone.
    if rows.len() < wanted.len() {
        let have: std::collections::HashSet<u64> = rows.iter().map(|m| m.id).collect();
        for (&id, path) in files.ids.iter().zip(&files.paths) {
            if !have.contains(&id) {
                rows.push(ImageMeta::from_entry(&crate::catalog::Entry {
                    id,
                    path: path.clone(),
                    size: 0,
                    mtime_ns: 0,
                    hash: String::new(),
                    width: 0,
                    height: 0,
                    status: Status::Ok,
                    error: None,
                    meta: None,
                    version: 0,
                }));
            }
        }
    }
    if let Some(policy) = &policy {
        for row in &mut rows {
            if let Some(s) = scores.remove(&row.id) {
                row.set_labels(s, policy);
            }
        }
    }
    Ok((Images::new(rows), hashes, policy))
}
