//! An opened collection: manifest, catalog paths, the mapped matrix, the indexes and the model.

use crate::pdq::Pdq;
use crate::safety::blocks::{BlockList, BlockState};
use crate::search::images::Images;
use crate::store::catalog::{Catalog, Status};
use crate::store::generation::{self, GenerationFiles};
use crate::store::indexes;
use crate::store::manifest::CollectionManifest;
use crate::store::matrix::Matrix;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::metadata::ImageMeta;
use crate::types::query::CollectionInfo;
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
    /// The PDQ hash of each served id that has one: read once here, not from the catalog per search
    /// (the ranking stage reads its candidates'; only an index run writes them, and it commits a new
    /// generation, which the server reloads).
    pdq: Arc<HashMap<u64, Pdq>>,
    /// The label policy in force (`None` when none is stored or it does not parse).
    policy: Option<Arc<crate::types::label_policy::Policy>>,
    /// The committed generation served (0 when none is committed).
    generation: u64,
    matrix: Arc<Matrix>,
    indexes: Arc<Vec<(IndexKind, Box<dyn VectorIndex>)>>,
    /// The blocks in force and the ids they hide ([`crate::safety::blocks`]).
    blocks: Arc<BlockState>,
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
        let (dir, manifest) = CollectionManifest::open_dir(path)?;
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
        let Loaded {
            images,
            hashes,
            pdq,
            policy,
        } = load_images(&dir, &files)?;
        let mut collection = Self {
            dir,
            manifest,
            embedder: None,
            images: Arc::new(images),
            hashes: Arc::new(hashes),
            pdq: Arc::new(pdq),
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
            pdq: self.pdq.clone(),
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

    /// The stored PDQ hash of a served id, if it has one.
    pub(crate) fn pdq(&self, id: u64) -> Option<Pdq> {
        self.pdq.get(&id).copied()
    }

    /// The content hash (blake3, hex) of a served id.
    pub(crate) fn content_hash(&self, id: u64) -> Option<&str> {
        self.hashes.get(&id).map(String::as_str)
    }

    /// The blocks' version this state applies ([`crate::safety::blocks::BlockList::version`]).
    pub fn blocks_version(&self) -> u64 {
        self.blocks.list.version
    }

    /// The metadata of an indexed image no block hides: [`EngineError::UnknownImage`] for an id the
    /// collection does not hold, [`EngineError::Blocked`] for a hidden one. Every lookup made for a user
    /// (a query by id, a vector, a file, metadata) goes through here.
    pub fn visible(&self, id: u64) -> Result<&ImageMeta> {
        let meta = self.known(id)?;
        if self.blocks.hidden.contains(&id) {
            return Err(EngineError::Blocked {
                id: ImageId::Number(id),
            });
        }
        Ok(meta)
    }

    /// The metadata of an indexed image, hidden or not (for the engine's own work: blocks, duplicates);
    /// [`EngineError::UnknownImage`] for an id the collection does not hold.
    pub(crate) fn known(&self, id: u64) -> Result<&ImageMeta> {
        self.images.get(id).ok_or(EngineError::UnknownImage {
            id: ImageId::Number(id),
        })
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
    pub fn label_policy(&self) -> Option<&crate::types::label_policy::Policy> {
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
        self.visible(id)?;
        self.stored_vector(id)
    }

    /// The stored vector of an indexed id, hidden or not (for the engine's own work: blocks, duplicates).
    pub(crate) fn stored_vector(&self, id: u64) -> Result<Vec<f32>> {
        self.known(id)?;
        self.matrix
            .row(id)
            .ok_or_else(|| self.matrix.missing_vector(id))
    }

    /// The bytes of an indexed image, hidden or not (for the engine's own work: blocks, duplicates); a
    /// video frame's are its kept thumbnail.
    pub(crate) fn stored_bytes(&self, id: u64) -> Result<Vec<u8>> {
        let meta = self.known(id)?;
        if meta.video.is_some() {
            return self.frame_bytes(id, meta);
        }
        let path = self.manifest.root.join(&meta.path);
        std::fs::read(&path).map_err(|source| EngineError::Io { path, source })
    }

    /// A video frame as an image: the thumbnail the index run kept of it (the video is not decoded
    /// again).
    fn frame_bytes(&self, id: u64, meta: &ImageMeta) -> Result<Vec<u8>> {
        self.content_hash(id)
            .and_then(|hash| crate::store::thumbnails::read(&self.dir, hash))
            .ok_or_else(|| EngineError::Io {
                path: self.manifest.root.join(&meta.path),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the frame's thumbnail is not kept: run `vsearch index DIR` again",
                ),
            })
    }

    /// Path of an indexed image relative to the indexed folder (refused for a hidden one).
    pub fn relative_path(&self, id: u64) -> Result<&str> {
        Ok(self.visible(id)?.path.as_str())
    }

    /// Absolute path of an indexed image's file, by id (a video frame's is its video).
    pub fn image_path(&self, id: u64) -> Result<PathBuf> {
        let meta = self.visible(id)?;
        let file = meta.video.as_ref().map_or(&meta.path, |v| &v.path);
        Ok(self.manifest.root.join(file))
    }

    /// The bytes of an indexed image, by id (a video frame's kept thumbnail).
    pub fn image_bytes(&self, id: u64) -> Result<Vec<u8>> {
        let meta = self.visible(id)?;
        if meta.video.is_some() {
            return self.frame_bytes(id, meta);
        }
        let path = self.image_path(id)?;
        std::fs::read(&path).map_err(|source| EngineError::Io { path, source })
    }

    /// Checks that catalog, matrix and saved indexes agree (see [`crate::verify`]).
    pub fn verify(&self) -> Result<crate::store::verify::VerifyReport> {
        crate::store::verify::verify(&self.dir)
    }

    /// The number of a local image id (a UUID names no image here).
    pub fn local_id(&self, id: ImageId) -> Result<u64> {
        id.number().ok_or(EngineError::UnknownImage { id })
    }

    pub(crate) fn embedder(&self, what: &'static str) -> Result<&Embedder> {
        self.embedder
            .as_deref()
            .ok_or(EngineError::NoModel { needed_by: what })
    }
}

/// What a collection reads of its catalog when it opens.
struct Loaded {
    images: Images,
    hashes: HashMap<u64, String>,
    pdq: HashMap<u64, Pdq>,
    policy: Option<crate::types::label_policy::Policy>,
}

/// The images of `files` with their catalog metadata and label scores, their content and PDQ hashes (the
/// catalog may be ahead of the committed generation: only the generation's ids are taken), and the label
/// policy in force.
fn load_images(dir: &Path, files: &GenerationFiles) -> Result<Loaded> {
    let wanted: std::collections::HashSet<u64> = files.ids.iter().copied().collect();
    let catalog = Catalog::open_read_only(dir)?;
    let policy = match catalog.label_policy()? {
        None => None,
        Some(text) => {
            match crate::types::label_policy::PolicySource::parse(&text, "stored in the catalog") {
                Ok(p) => Some(p.policy),
                Err(e) => {
                    tracing::warn!("{}: {e}; no label flags are shown", dir.display());
                    None
                }
            }
        }
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
                rows.push(ImageMeta::from_entry(&crate::store::catalog::Entry {
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
                    frame: None,
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
    let mut pdq = catalog.pdq_hashes()?;
    pdq.retain(|id, _| wanted.contains(id));
    Ok(Loaded {
        images: Images::new(rows),
        hashes,
        pdq,
        policy,
    })
}
