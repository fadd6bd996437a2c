//! The one interface of both backends, a local [`Collection`] and a [`QdrantCollection`], and opening
//! either from one set of options ([`open_backend`]): the server and the CLI take a backend as it is,
//! whatever it is.

use crate::qdrant::{QdrantCollection, QdrantOpen};
use crate::ranking::CandidateFacts;
use crate::safety::blocks::{BlockView, NewBlock};
use crate::safety::dupes::{CopyView, DupesOptions, DuplicateGroup};
use crate::safety::hashbanks::{BlockedMatch, ListedHash};
use crate::search::browse::{Browse, Facets};
use crate::search::collection::Collection;
use crate::store::verify::PendingWork;
use crate::types::error::{EngineError, Result};
use crate::types::filter::Filter;
use crate::types::image_id::ImageId;
use crate::types::metadata::ImageMeta;
use crate::types::query::{CollectionInfo, Query, QueryOptions, SearchResponse};
use std::path::PathBuf;
use std::sync::Arc;
use vsearch_embed::DeviceSpec;

/// Where a collection is and how to open it.
#[derive(Debug, Clone)]
pub enum BackendOptions {
    /// A local collection: a collection folder, or an indexed folder holding `.vsearch`.
    Local {
        path: PathBuf,
        /// Where the model runs.
        device: DeviceSpec,
        /// Load the model (queries by image or text); without it, queries by id and vector only.
        load_model: bool,
    },
    /// A Qdrant collection (boxed: its options are large beside a path).
    Qdrant(Box<QdrantOpen>),
}

impl BackendOptions {
    /// What the options open, for messages: "the collection at DIR", "Qdrant collection `c` at URL".
    pub fn describe(&self) -> String {
        match self {
            BackendOptions::Local { path, .. } => format!("the collection at {}", path.display()),
            BackendOptions::Qdrant(open) => format!(
                "Qdrant collection `{}` at {}",
                open.target.collection, open.target.url
            ),
        }
    }
}

/// Opens the collection `options` names.
pub fn open_backend(options: &BackendOptions) -> Result<Arc<dyn Backend>> {
    Ok(match options {
        BackendOptions::Local {
            path,
            device,
            load_model: true,
        } => Arc::new(Collection::open(path, device)?),
        BackendOptions::Local {
            path,
            load_model: false,
            ..
        } => Arc::new(Collection::open_without_model(path)?),
        BackendOptions::Qdrant(open) => Arc::new(QdrantCollection::open(open)?),
    })
}

/// What the server and the CLI need from a collection, local ([`Collection`]) or in Qdrant
/// ([`QdrantCollection`]); tests may serve another.
pub trait Backend: Send + Sync + 'static {
    /// The collection's description.
    fn info(&self) -> CollectionInfo;
    /// Answers a query by retrieval alone: results in score order, no ranking stage (blocking: model
    /// inference and index search). What users are answered is [`crate::answers::search()`], which runs
    /// the ranking stage over this.
    fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse>;
    /// The vector a query searches with, so that retrieval can be asked again without embedding again
    /// (the ranking stage may need more candidates); `None` (the default) when the backend cannot say.
    fn query_vector(&self, _query: &Query) -> Result<Option<Vec<f32>>> {
        Ok(None)
    }
    /// What the ranking stage reads of each of `ids` (stored vector, content and PDQ hashes, mtime,
    /// labels; not reports, which [`crate::answers`] reads), in the same order; nothing is known by
    /// default. An unknown id gets empty facts.
    fn facts(&self, ids: &[ImageId]) -> Result<Vec<CandidateFacts>> {
        Ok(vec![CandidateFacts::default(); ids.len()])
    }
    /// The id and stored vector of every image no block or label hides (recommendations without a
    /// board cluster them); empty by default.
    fn visible_vectors(&self) -> Result<Vec<(ImageId, Vec<f32>)>> {
        Ok(Vec::new())
    }
    /// Absolute path of an indexed image, by id.
    fn image_path(&self, id: ImageId) -> Result<PathBuf>;
    /// The metadata of an indexed image, by id.
    fn image_meta(&self, id: ImageId) -> Result<ImageMeta>;
    /// For a video frame: its video's file and the content type to serve it with (with Range
    /// requests); `None` for an image, and on a backend without frames (the default: Qdrant collections
    /// do not index videos).
    fn video_file(&self, _id: ImageId) -> Result<Option<(PathBuf, &'static str)>> {
        Ok(None)
    }
    /// Where an image is served from instead of a file this server reads (`GET /api/images/{id}` and its
    /// thumbnail redirect there); `None` (the default) serves the file.
    fn image_url(&self, _id: ImageId) -> Result<Option<String>> {
        Ok(None)
    }
    /// The thumbnail an index run kept for an image ([`crate::store::thumbnails`]; blocking: reads a
    /// file); `None` when there is none, or the image is unknown or hidden.
    fn kept_thumbnail(&self, _id: ImageId) -> Option<Vec<u8>> {
        None
    }
    /// The labels an image is flagged and hidden by (for the page's badges and blur).
    fn marks(&self, id: ImageId) -> (Vec<String>, Vec<String>) {
        self.image_meta(id)
            .map(|m| (m.flags, m.hidden))
            .unwrap_or_default()
    }
    /// A page of the images `filter` keeps, newest first.
    fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse>;
    /// The folders and formats of the images `filter` keeps.
    fn facets(&self, filter: Option<&Filter>) -> Result<Facets>;
    /// Groups of copies (see [`Collection::duplicates`]; blocking: decodes images).
    fn duplicates(&self, options: &DupesOptions) -> Result<Vec<DuplicateGroup>>;
    /// The verified copies of `id` (for the review queue; blocking: decodes images).
    fn copies(&self, _id: ImageId) -> Result<Vec<CopyView>> {
        Err(EngineError::NotOnQdrant {
            what: "finding copies",
            instead: "index the folder locally (vsearch index DIR) and run vsearch dupes DIR",
        })
    }
    /// Work an interrupted or failed index run left for the next one (files indexed but not yet
    /// committed), read now; `None` when there is none (always for Qdrant, where each batch is live).
    fn pending(&self) -> Result<Option<PendingWork>> {
        Ok(None)
    }
    /// The collection as last committed, when that differs from this one (blocking: loads indexes).
    fn reload(&self) -> Result<Option<Arc<dyn Backend>>> {
        Ok(None)
    }
    /// The folder of the collection's own records (blocks, audit log, reports, analytics, hash banks):
    /// a local collection's folder, a Qdrant collection's records folder; `None` when it keeps none.
    fn records_dir(&self) -> Option<PathBuf> {
        None
    }
    /// The blocks in force and what each hides (blocking: a Qdrant collection asks Qdrant).
    fn blocks(&self) -> Result<Vec<BlockView>> {
        Ok(Vec::new())
    }
    /// Records a block; returns it and the state that applies it (blocking: file writes).
    fn add_block(&self, _new: NewBlock) -> Result<(BlockView, Arc<dyn Backend>)> {
        Err(EngineError::BadQuery {
            reason: "this collection does not take blocks".into(),
        })
    }
    /// Lifts a block; returns it and the state without it (blocking: file writes).
    fn remove_block(
        &self,
        block_id: u64,
        _by: &str,
        _reason: Option<&str>,
    ) -> Result<(BlockView, Arc<dyn Backend>)> {
        Err(EngineError::NoSuchBlock { id: block_id })
    }
    /// Matches every image against the hash banks of the records folder and blocks the matches not
    /// hidden already (`vsearch hashes scan`; see [`crate::safety::hashbanks`]); returns them.
    fn scan_hash_banks(&self) -> Result<Vec<BlockedMatch>> {
        Ok(Vec::new())
    }
    /// The PDQ hashes of the images the blocks hide (`vsearch hashes export` without a bank).
    fn takedown_hashes(&self) -> Result<Vec<ListedHash>> {
        Ok(Vec::new())
    }
}

impl Backend for Collection {
    fn info(&self) -> CollectionInfo {
        Collection::info(self)
    }
    fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse> {
        Collection::search(self, query, options)
    }
    fn query_vector(&self, query: &Query) -> Result<Option<Vec<f32>>> {
        Collection::query_vector(self, query).map(Some)
    }
    fn facts(&self, ids: &[ImageId]) -> Result<Vec<CandidateFacts>> {
        crate::search::facts::facts(self, ids)
    }
    fn visible_vectors(&self) -> Result<Vec<(ImageId, Vec<f32>)>> {
        crate::search::facts::visible_vectors(self)
    }
    fn image_path(&self, id: ImageId) -> Result<PathBuf> {
        Collection::image_path(self, self.local_id(id)?)
    }
    fn image_meta(&self, id: ImageId) -> Result<ImageMeta> {
        Ok(self.visible(self.local_id(id)?)?.clone())
    }
    fn video_file(&self, id: ImageId) -> Result<Option<(PathBuf, &'static str)>> {
        let meta = self.visible(self.local_id(id)?)?;
        Ok(meta.video.as_ref().map(|v| {
            let mime = crate::video::VideoFormat::from_name(&meta.format)
                .map_or("application/octet-stream", |f| f.mime());
            (self.root().join(&v.path), mime)
        }))
    }
    fn kept_thumbnail(&self, id: ImageId) -> Option<Vec<u8>> {
        let id = self.local_id(id).ok()?;
        self.visible(id).ok()?;
        crate::store::thumbnails::read(self.dir(), self.content_hash(id)?)
    }
    fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        Collection::browse(self, offset, limit, filter)
    }
    fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        Collection::facets(self, filter)
    }
    fn duplicates(&self, options: &DupesOptions) -> Result<Vec<DuplicateGroup>> {
        Collection::duplicates(self, options)
    }
    fn copies(&self, id: ImageId) -> Result<Vec<CopyView>> {
        crate::safety::dupes::copies_with_cosine(self, self.local_id(id)?)
    }
    fn pending(&self) -> Result<Option<PendingWork>> {
        crate::store::verify::pending_work(self.dir())
    }
    fn records_dir(&self) -> Option<PathBuf> {
        Some(self.dir().to_path_buf())
    }
    fn reload(&self) -> Result<Option<Arc<dyn Backend>>> {
        Ok(Collection::reload(self)?.map(|c| Arc::new(c) as Arc<dyn Backend>))
    }
    fn blocks(&self) -> Result<Vec<BlockView>> {
        Ok(Collection::blocks(self))
    }
    fn add_block(&self, new: NewBlock) -> Result<(BlockView, Arc<dyn Backend>)> {
        let (view, next) = Collection::add_block(self, new)?;
        Ok((view, Arc::new(next)))
    }
    fn remove_block(
        &self,
        block_id: u64,
        by: &str,
        reason: Option<&str>,
    ) -> Result<(BlockView, Arc<dyn Backend>)> {
        let (view, next) = Collection::remove_block(self, block_id, by, reason)?;
        Ok((view, Arc::new(next)))
    }
    fn scan_hash_banks(&self) -> Result<Vec<BlockedMatch>> {
        crate::safety::hashbanks::scan(self.dir())
    }
    fn takedown_hashes(&self) -> Result<Vec<ListedHash>> {
        let pdq = crate::store::catalog::Catalog::open_read_only(self.dir())?.pdq_hashes()?;
        Ok(crate::safety::hashbanks::own_takedowns(self, &pdq))
    }
}

/// A Qdrant collection: searches, lookups, browsing and facets go to Qdrant; duplicates and blocks
/// as [`crate::safety::on_qdrant`] describes (records in [`QdrantCollection::records_dir`]).
impl Backend for QdrantCollection {
    fn info(&self) -> CollectionInfo {
        QdrantCollection::info(self)
    }
    fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse> {
        QdrantCollection::search(self, query, options)
    }
    fn query_vector(&self, query: &Query) -> Result<Option<Vec<f32>>> {
        crate::search::query_vector::query_vector(self, query).map(Some)
    }
    fn facts(&self, ids: &[ImageId]) -> Result<Vec<CandidateFacts>> {
        QdrantCollection::facts(self, ids)
    }
    fn visible_vectors(&self) -> Result<Vec<(ImageId, Vec<f32>)>> {
        QdrantCollection::visible_vectors(self)
    }
    fn image_path(&self, id: ImageId) -> Result<PathBuf> {
        QdrantCollection::image_path(self, id)
    }
    fn image_meta(&self, id: ImageId) -> Result<ImageMeta> {
        QdrantCollection::image_meta(self, id)
    }
    fn image_url(&self, id: ImageId) -> Result<Option<String>> {
        QdrantCollection::image_url(self, id)
    }
    fn records_dir(&self) -> Option<PathBuf> {
        QdrantCollection::records_dir(self).map(PathBuf::from)
    }
    fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        QdrantCollection::browse(self, offset, limit, filter)
    }
    fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        QdrantCollection::facets(self, filter)
    }
    fn duplicates(&self, options: &DupesOptions) -> Result<Vec<DuplicateGroup>> {
        QdrantCollection::duplicates(self, options)
    }
    fn copies(&self, id: ImageId) -> Result<Vec<CopyView>> {
        QdrantCollection::copies(self, id)
    }
    fn reload(&self) -> Result<Option<Arc<dyn Backend>>> {
        Ok(QdrantCollection::reload(self)?.map(|c| Arc::new(c) as Arc<dyn Backend>))
    }
    fn blocks(&self) -> Result<Vec<BlockView>> {
        QdrantCollection::blocks(self)
    }
    fn add_block(&self, new: NewBlock) -> Result<(BlockView, Arc<dyn Backend>)> {
        let view = QdrantCollection::add_block(self, new)?;
        Ok((view, Arc::new(self.refreshed()?)))
    }
    fn remove_block(
        &self,
        block_id: u64,
        by: &str,
        reason: Option<&str>,
    ) -> Result<(BlockView, Arc<dyn Backend>)> {
        let view = QdrantCollection::remove_block(self, block_id, by, reason)?;
        Ok((view, Arc::new(self.refreshed()?)))
    }
    fn scan_hash_banks(&self) -> Result<Vec<BlockedMatch>> {
        self.block_bank_matches(None, "vsearch hashes scan")
    }
    fn takedown_hashes(&self) -> Result<Vec<ListedHash>> {
        QdrantCollection::takedown_hashes(self)
    }
}
