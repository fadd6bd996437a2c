//! Qdrant collections: the images of a folder tree as points of a Qdrant collection, searched by
//! Qdrant (its HNSW, or exactly), with the same queries, filters and pages as a local collection.
//!
//! Storage and search are Qdrant's ([`vsearch_qdrant::Store`]); this module decides what a point is
//! ([`payload`]: a UUID from the file's content hash and path, the catalog's metadata as payload, one
//! named vector per model), turns filters into Qdrant's ([`filter`]) and answers queries
//! ([`QdrantCollection::search`]). Indexing into Qdrant is [`crate::pipeline::qdrant`].

pub mod facts;
pub mod filter;
pub mod payload;

use crate::search::answer;
use crate::search::browse::{Browse, FacetCount, Facets};
use crate::search::query_vector::{check_search, query_vector, Examples};
use crate::types::error::{EngineError, Result};
use crate::types::filter::{FieldType, Filter, FIELDS};
use crate::types::image_id::ImageId;
use crate::types::metadata::ImageMeta;
pub use crate::types::query::QdrantStatus;
use crate::types::query::{CollectionInfo, Query, QueryOptions, SearchResponse, SearchResult};
use payload::StoredImage;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsearch_embed::{DeviceSpec, Embedder, ModelInfo, ModelSpec};
use vsearch_index::{HnswParams, IndexConfig, IndexKind, Metric};
use vsearch_qdrant::proto::{self, QueryPointsBuilder, SearchParamsBuilder};
use vsearch_qdrant::{point_uuid, StoreConfig};
pub use vsearch_qdrant::{
    CollectionLayout, Distance, Point, Quantization, Retry, Store, StoreError, VectorSpec,
};

/// The index kinds a Qdrant collection answers with: its HNSW, and exact search.
const QDRANT_INDEXES: [IndexKind; 2] = [IndexKind::Hnsw, IndexKind::Flat];

/// The collection name used when none is given.
pub const DEFAULT_COLLECTION: &str = "vsearch";

/// A Qdrant server and collection, and how to create the collection when it does not exist.
#[derive(Debug, Clone)]
pub struct QdrantTarget {
    /// gRPC URL, e.g. `http://127.0.0.1:6334`.
    pub url: String,
    pub collection: String,
    /// Shards, replicas and quantization of a new collection.
    pub layout: CollectionLayout,
    /// Longest wait for one call.
    pub timeout: Duration,
    pub api_key: Option<String>,
    pub retry: Retry,
}

impl QdrantTarget {
    /// `url`, the default collection, Qdrant's default layout, 30 s per call.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            collection: DEFAULT_COLLECTION.into(),
            layout: CollectionLayout::default(),
            timeout: Duration::from_secs(30),
            api_key: None,
            retry: Retry::default(),
        }
    }

    /// Connects to the server.
    pub fn connect(&self) -> Result<Store> {
        let mut config = StoreConfig::new(&self.url, &self.collection);
        config.timeout = self.timeout;
        config.api_key = self.api_key.clone();
        config.retry = self.retry;
        Ok(Store::connect(config)?)
    }

    /// The layout of a new collection, with a payload index on every filter key (keywords with prefix
    /// matching) and on the browsing order.
    pub(crate) fn layout_with_indexes(&self) -> CollectionLayout {
        let mut layout = self.layout.clone();
        layout.payload_indexes = FIELDS
            .iter()
            .filter(|f| !matches!(f.key, "id" | "flag" | "hidden"))
            .map(|f| {
                let kind = match f.kind {
                    FieldType::Keyword => "keyword",
                    FieldType::Integer => "integer",
                    FieldType::Float => "float",
                    FieldType::Datetime => "datetime",
                };
                (f.key.to_string(), kind)
            })
            .chain([
                (payload::TIME_KEY.to_string(), "datetime"),
                (payload::DIRS_KEY.to_string(), "keyword"),
                (payload::BLOCKED_KEY.to_string(), "bool"),
            ])
            .collect();
        layout
    }
}

/// The vector a model writes: named by the model's id, so several models can share a collection
/// (Qdrant refuses some characters in vector names: `clip:my-model` is written `clip_my-model`).
pub(crate) fn vector_spec(model: &ModelInfo) -> VectorSpec {
    let name = model
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    VectorSpec {
        name,
        dim: model.dim,
        distance: Distance::Cosine,
    }
}

/// What opening a Qdrant collection to search it needs.
#[derive(Debug, Clone)]
pub struct QdrantOpen {
    pub target: QdrantTarget,
    /// The model; [`ModelSpec::Auto`] takes the collection's only vector's model.
    pub model: ModelSpec,
    pub device: DeviceSpec,
    /// The indexed folder, to read images from (thumbnails, crops); `None` serves what the payload's
    /// `url` gives.
    pub root: Option<PathBuf>,
    /// The folder of vsearch's own records about this collection (blocks, audit log, reports, search
    /// analytics, hash banks: what a local collection keeps in its collection folder); `None` keeps
    /// none, and what needs them says so. See [`crate::types::layout::qdrant_records_dir`].
    pub records: Option<PathBuf>,
    /// Load the model (queries by image or text); without it, queries by id and vector only.
    pub load_model: bool,
}

/// `filter` and "no block hides the point" (the takedown flag, [`payload::BLOCKED_KEY`]): what every
/// search, browse, facet and count asks Qdrant, so hidden points are left out inside Qdrant (`k`
/// results still come back) and every server sees a block at once.
pub(crate) fn visible(filter: Option<proto::Filter>) -> proto::Filter {
    let mut filter = filter.unwrap_or_default();
    filter
        .must_not
        .push(proto::Condition::matches(payload::BLOCKED_KEY, true));
    filter
}

/// An open Qdrant collection; see the module docs.
pub struct QdrantCollection {
    store: Arc<Store>,
    embedder: Option<Arc<Embedder>>,
    vector: VectorSpec,
    model: ModelInfo,
    root: Option<PathBuf>,
    records: Option<PathBuf>,
    hnsw: Option<HnswParams>,
    status: QdrantStatus,
    /// Points no block hides, when this state was read.
    visible: u64,
}

impl QdrantCollection {
    /// Connects, finds the model's vector in the collection and loads the model (see [`QdrantOpen`]).
    pub fn open(open: &QdrantOpen) -> Result<Self> {
        let store = open.target.connect()?;
        let vectors = store.vectors()?;
        let spec = match &open.model {
            ModelSpec::Auto => match vectors.as_slice() {
                [one] => one.name.parse::<ModelSpec>()?,
                _ => {
                    return Err(EngineError::BadQuery {
                        reason: format!(
                            "Qdrant collection `{}` holds vectors of several models ({}): choose one with --model",
                            store.collection(),
                            vectors.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    })
                }
            },
            spec => spec.clone(),
        };
        let (model, embedder) = if open.load_model {
            let embedder = vsearch_embed::load(&spec, &open.device)?;
            (embedder.info.clone(), Some(Arc::new(embedder)))
        } else {
            let name = match &spec {
                ModelSpec::Preset(name) => name.clone(),
                _ => vectors.first().map(|v| v.name.clone()).unwrap_or_default(),
            };
            let dim = vectors.iter().find(|v| v.name == name).map_or(0, |v| v.dim);
            (
                ModelInfo {
                    id: name,
                    dim,
                    text: false,
                },
                None,
            )
        };
        // The collection's own distance (vsearch writes cosine; a benchmark's collection may be euclid).
        let mut vector = vector_spec(&model);
        if let Some(found) = vectors.iter().find(|v| v.name == vector.name) {
            vector.distance = found.distance;
        }
        store.check(&vector)?;
        Self::with_state(
            Arc::new(store),
            embedder,
            vector,
            model,
            open.root.clone(),
            open.records.clone(),
        )
    }

    /// The collection an index run wrote (`vector` of `model`), opened without loading the model (for
    /// the blocks' check of the images it added).
    pub(crate) fn for_index_run(
        store: Arc<Store>,
        vector: VectorSpec,
        model: ModelInfo,
        root: PathBuf,
        records: Option<PathBuf>,
    ) -> Result<Self> {
        Self::with_state(store, None, vector, model, Some(root), records)
    }

    fn with_state(
        store: Arc<Store>,
        embedder: Option<Arc<Embedder>>,
        vector: VectorSpec,
        model: ModelInfo,
        root: Option<PathBuf>,
        records: Option<PathBuf>,
    ) -> Result<Self> {
        let info = store.info()?;
        let params = info.config.as_ref().and_then(|c| c.params.as_ref());
        let hnsw = info.config.as_ref().and_then(|c| c.hnsw_config.as_ref());
        let status = QdrantStatus {
            url: store.url().to_string(),
            collection: store.collection().to_string(),
            vector: vector.name.clone(),
            status: match proto::CollectionStatus::try_from(info.status) {
                Ok(proto::CollectionStatus::Green) => "green",
                Ok(proto::CollectionStatus::Yellow) => "yellow",
                Ok(proto::CollectionStatus::Grey) => "grey",
                Ok(proto::CollectionStatus::Red) => "red",
                _ => "unknown",
            }
            .to_string(),
            points: info.points_count.unwrap_or(0),
            indexed_vectors: info.indexed_vectors_count.unwrap_or(0),
            segments: info.segments_count,
            shards: params.map_or(1, |p| p.shard_number),
            replicas: params.and_then(|p| p.replication_factor).unwrap_or(1),
        };
        let visible = store.count(Some(visible(None)))?;
        Ok(Self {
            hnsw: hnsw.map(|h| HnswParams {
                m: h.m.unwrap_or(16) as usize,
                ef_construction: h.ef_construct.unwrap_or(100) as usize,
                ef_search: h.ef_construct.unwrap_or(100) as usize,
                quantization: None,
            }),
            store,
            embedder,
            vector,
            model,
            root,
            records,
            status,
            visible,
        })
    }

    /// The folder of vsearch's own records about this collection ([`QdrantOpen::records`]).
    pub fn records_dir(&self) -> Option<&std::path::Path> {
        self.records.as_deref()
    }

    /// The store (for the benchmark and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Qdrant's report of the collection when this state was read.
    pub fn status(&self) -> &QdrantStatus {
        &self.status
    }

    /// The collection as Qdrant reports it now, when that differs from this state.
    pub fn reload(&self) -> Result<Option<Self>> {
        let next = self.refreshed()?;
        Ok((next.status != self.status || next.visible != self.visible).then_some(next))
    }

    /// The collection as Qdrant reports it now.
    pub fn refreshed(&self) -> Result<Self> {
        Self::with_state(
            self.store.clone(),
            self.embedder.clone(),
            self.vector.clone(),
            self.model.clone(),
            self.root.clone(),
            self.records.clone(),
        )
    }

    /// The named vector this collection searches.
    pub fn vector_spec(&self) -> &VectorSpec {
        &self.vector
    }

    /// The indexed folder images are read from, when given.
    pub fn root(&self) -> Option<&std::path::Path> {
        self.root.as_deref()
    }

    /// The model, when loaded (queries by image or text, blocks made from an image file).
    pub(crate) fn embedder(&self, what: &'static str) -> Result<&Embedder> {
        self.embedder
            .as_deref()
            .ok_or(EngineError::NoModel { needed_by: what })
    }

    /// What the collection is.
    pub fn info(&self) -> CollectionInfo {
        CollectionInfo {
            root: self.root.clone().unwrap_or_default(),
            model: self.model.clone(),
            metric: self.metric(),
            count: self.visible as usize,
            indexes: vec![IndexConfig::Flat]
                .into_iter()
                .chain(self.hnsw.map(IndexConfig::Hnsw))
                .collect(),
            text_search: self.embedder.as_ref().is_some_and(|e| e.text.is_some()),
            generation: 0,
            qdrant: Some(self.status.clone()),
        }
    }

    fn uuid(id: ImageId) -> Result<uuid::Uuid> {
        match id {
            ImageId::Uuid(u) => Ok(u),
            ImageId::Number(_) => Err(EngineError::UnknownImage { id }),
        }
    }

    /// The payload of one image no block hides ([`EngineError::Blocked`] for a hidden one).
    fn stored(&self, id: ImageId) -> Result<StoredImage> {
        let (image, blocked) = self.stored_any(Self::uuid(id)?)?;
        if blocked {
            return Err(EngineError::Blocked { id });
        }
        Ok(image)
    }

    /// The payload of one image, hidden or not (for the engine's own work: blocks, duplicates), and
    /// whether a block hides it.
    pub(crate) fn stored_any(&self, uuid: uuid::Uuid) -> Result<(StoredImage, bool)> {
        let point =
            self.store
                .get(&[uuid], None)?
                .into_iter()
                .next()
                .ok_or(EngineError::UnknownImage {
                    id: ImageId::Uuid(uuid),
                })?;
        Ok((
            StoredImage::from_payload(&uuid.to_string(), &point.payload)?,
            payload::is_blocked(&point.payload),
        ))
    }

    /// The stored vector of one image, hidden or not (for the engine's own work).
    pub(crate) fn stored_vector_any(&self, uuid: uuid::Uuid) -> Result<Vec<f32>> {
        let id = ImageId::Uuid(uuid);
        let point = self
            .store
            .get(&[uuid], Some(&self.vector.name))?
            .into_iter()
            .next()
            .ok_or(EngineError::UnknownImage { id })?;
        vsearch_qdrant::dense_vector(&point, &self.vector.name)
            .ok_or(EngineError::UnknownImage { id })
    }

    /// The collection's metric: cosine, or L2 for a collection of euclid vectors (scores are then
    /// squared distances, as in a local L2 collection).
    pub fn metric(&self) -> Metric {
        match self.vector.distance {
            Distance::Cosine => Metric::Cosine,
            Distance::Euclid => Metric::L2,
        }
    }

    /// The stored vector of one image.
    pub fn vector(&self, id: ImageId) -> Result<Vec<f32>> {
        self.stored_vector(id)
    }

    /// The metadata of one image.
    pub fn image_meta(&self, id: ImageId) -> Result<ImageMeta> {
        Ok(self.stored(id)?.meta(Self::uuid(id)?))
    }

    /// Where one image's file is: under the served folder.
    pub fn image_path(&self, id: ImageId) -> Result<PathBuf> {
        let stored = self.stored(id)?;
        match &self.root {
            Some(root) => Ok(root.join(&stored.path)),
            None => Err(EngineError::NotOnQdrant {
                what: "reading an image's file without the indexed folder",
                instead: "give the folder with --root DIR, or index with --base-url URL to serve images from there",
            }),
        }
    }

    /// Where one image is served from when there is no indexed folder to read it from: the payload's
    /// `url` (`vsearch index --base-url`). `None` when the folder is given, or the point has no URL.
    pub fn image_url(&self, id: ImageId) -> Result<Option<String>> {
        if self.root.is_some() {
            return Ok(None);
        }
        Ok(self.stored(id)?.url)
    }

    /// Answers a query through Qdrant's query API: its HNSW (`hnsw_ef` from `ef_search`), or an
    /// exact search (`index: flat`); the filter and `min_score` (`score_threshold`) go with the query.
    pub fn search(&self, query: &Query, options: &QueryOptions) -> Result<SearchResponse> {
        let t0 = Instant::now();
        let vector = query_vector(self, query)?;
        let embed_ms = t0.elapsed().as_secs_f64() * 1e3;
        check_search(&vector, self.vector.dim, options)?;
        let kind = answer::index_kind(options.index, |k| QDRANT_INDEXES.contains(&k));
        if !QDRANT_INDEXES.contains(&kind) {
            return Err(EngineError::NoIndex {
                requested: kind.to_string(),
                available: "hnsw (Qdrant's), flat (exact search in Qdrant)".into(),
            });
        }
        let filter = Some(visible(
            options.filter.as_ref().map(filter::to_qdrant).transpose()?,
        ));
        let t1 = Instant::now();
        // Qdrant skips the `offset` results before the page itself.
        let request = self.request(
            vector,
            answer::hits_wanted(options) - options.offset,
            options.offset,
            kind,
            options,
            filter.clone(),
        );
        let points = self.store.query(request).map_err(filter::explain)?;
        let search_ms = t1.elapsed().as_secs_f64() * 1e3;
        let report = match filter.filter(|_| options.filter.is_some()) {
            Some(f) => answer::filter_report(
                options.filter.as_ref(),
                self.store.count(Some(f)).map_err(filter::explain)? as usize,
                self.status.points as usize,
                false,
            ),
            None => None,
        };
        let ranked = to_results(points, options.offset, self.metric());
        let (results, more) = answer::page(ranked.into_iter(), options);
        Ok(SearchResponse {
            results,
            more,
            index: kind,
            filter: report,
            model: self.model.id.clone(),
            embed_ms,
            search_ms,
            ranking: None,
        })
    }

    /// Answers several vectors in one call (`query_batch`): each one's best `options.k` results (no
    /// filter, no pages). For the benchmark's batched mode.
    pub fn search_batch(
        &self,
        vectors: &[Vec<f32>],
        options: &QueryOptions,
    ) -> Result<Vec<Vec<SearchResult>>> {
        let kind = match options.index {
            Some(IndexKind::Flat) => IndexKind::Flat,
            _ => IndexKind::Hnsw,
        };
        let requests = vectors
            .iter()
            .map(|v| self.request(v.clone(), options.k, 0, kind, options, Some(visible(None))))
            .collect();
        Ok(self
            .store
            .query_batch(requests)?
            .into_iter()
            .map(|points| to_results(points, 0, self.metric()))
            .collect())
    }

    /// The query request of one vector (shared by [`Self::search`] and the benchmark's batches).
    pub fn request(
        &self,
        vector: Vec<f32>,
        limit: usize,
        offset: usize,
        kind: IndexKind,
        options: &QueryOptions,
        filter: Option<proto::Filter>,
    ) -> proto::QueryPoints {
        let mut params = SearchParamsBuilder::default().exact(kind == IndexKind::Flat);
        if let Some(ef) = options.params.ef_search {
            params = params.hnsw_ef(ef as u64);
        }
        let mut builder = QueryPointsBuilder::new(self.store.collection())
            .query(vector)
            .using(self.vector.name.clone())
            .limit(limit as u64)
            .offset(offset as u64)
            .params(params)
            .with_payload(proto::PayloadIncludeSelector {
                fields: vec!["path".into()],
            });
        // `min_score` is a cosine similarity (local collections apply it to cosine scores only).
        if let (Some(min), Metric::Cosine) = (options.min_score, self.metric()) {
            builder = builder.score_threshold(min);
        }
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        builder.build()
    }

    /// A page of the images `filter` keeps, newest first (date taken, else mtime).
    pub fn browse(&self, offset: usize, limit: usize, filter: Option<&Filter>) -> Result<Browse> {
        let filter = Some(visible(filter.map(filter::to_qdrant).transpose()?));
        let total = self.store.count(filter.clone()).map_err(filter::explain)? as usize;
        let order = proto::OrderByBuilder::new(payload::TIME_KEY)
            .direction(proto::Direction::Desc.into())
            .build();
        let wanted = offset.saturating_add(limit).min(u32::MAX as usize) as u32;
        let points = self
            .store
            .scroll_ordered(filter, order, wanted, &[])
            .map_err(filter::explain)?;
        let images = points
            .into_iter()
            .skip(offset)
            .filter_map(|p| {
                let uuid = p.id.as_ref().and_then(point_uuid)?;
                Some(StoredImage::from_payload(&uuid.to_string(), &p.payload).map(|s| s.meta(uuid)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Browse { images, total })
    }

    /// The folders and formats of the images `filter` keeps (Qdrant's facet counts).
    pub fn facets(&self, filter: Option<&Filter>) -> Result<Facets> {
        let filter = Some(visible(filter.map(filter::to_qdrant).transpose()?));
        let facet = |key: &str| -> Result<Vec<FacetCount>> {
            let mut counts: Vec<FacetCount> = self
                .store
                .facet(key, filter.clone(), 10_000)
                .map_err(filter::explain)?
                .into_iter()
                .map(|(value, count)| FacetCount {
                    value,
                    count: count as usize,
                })
                .collect();
            counts.sort_by(|a, b| a.value.cmp(&b.value));
            Ok(counts)
        };
        Ok(Facets {
            folders: facet("folder")?,
            formats: facet("format")?,
        })
    }
}

/// Scored points as results ranked from `offset + 1` (points that are not vsearch's are left out); a
/// euclid distance becomes the squared distance an L2 collection reports.
fn to_results(points: Vec<proto::ScoredPoint>, offset: usize, metric: Metric) -> Vec<SearchResult> {
    points
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| {
            Some(SearchResult::new(
                ImageId::Uuid(p.id.as_ref().and_then(point_uuid)?),
                p.payload.get("path")?.as_str()?.to_string(),
                match metric {
                    Metric::Cosine => p.score,
                    Metric::L2 => p.score * p.score,
                },
                offset + i + 1,
            ))
        })
        .collect()
}

impl Examples for QdrantCollection {
    fn dim(&self) -> usize {
        self.vector.dim
    }
    fn metric(&self) -> Metric {
        self.metric()
    }
    fn stored_vector(&self, id: ImageId) -> Result<Vec<f32>> {
        // A query by a hidden image is refused, as its metadata is.
        self.stored(id)?;
        self.stored_vector_any(Self::uuid(id)?)
    }
    fn stored_image(&self, id: ImageId) -> Result<Vec<u8>> {
        let path = self.image_path(id)?;
        std::fs::read(&path).map_err(EngineError::io(&path))
    }
    fn model(&self, what: &'static str) -> Result<&Embedder> {
        self.embedder
            .as_deref()
            .ok_or(EngineError::NoModel { needed_by: what })
    }
}
