//! The types on the wire: requests and responses, mirrors of the engine's types with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vsearch_engine::browse::Facets;
use vsearch_engine::metadata::ImageMeta;
use vsearch_engine::{CollectionInfo, ImageId, IndexKind, Metric, SearchResponse};

/// An index kind on the wire: its name (`hnsw`, `ivf` or `flat`), exactly as [`IndexKind`] spells and
/// parses it; the schema lists the names in the order queries prefer them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IndexKindDto(pub IndexKind);

impl utoipa::PartialSchema for IndexKindDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(IndexKind::PREFERENCE.map(IndexKind::name)))
            .description(Some(
                "Index kind: hnsw (HNSW graph, approximate, fast), ivf (FAISS inverted lists, approximate) \
                 or flat (exact search).",
            ))
            .into()
    }
}

impl ToSchema for IndexKindDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "IndexKindDto".into()
    }
}

impl From<IndexKind> for IndexKindDto {
    fn from(kind: IndexKind) -> Self {
        Self(kind)
    }
}

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricDto {
    /// Cosine similarity: higher scores are closer, 1 is identical.
    Cosine,
    /// Squared Euclidean distance: lower scores are closer, 0 is identical.
    L2,
}

/// `GET /api/health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// Images in the collection.
    pub count: usize,
    /// Model id.
    pub model: String,
    /// Queries running or queued right now.
    pub busy: usize,
    /// Queries that may run at once.
    pub workers: usize,
}

/// An index of the collection and its build parameters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexDto {
    pub kind: IndexKindDto,
    /// Build parameters (e.g. `m`, `ef_construction`, `ef_search` for HNSW; `nlist`, `nprobe`, `codes` for IVF).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// `GET /api/collection`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionDto {
    /// Model id (e.g. `efficientnet-lite0`, `clip-vit-b32`).
    pub model: String,
    /// Embedding dimension (the length a query `vector` must have).
    pub dimension: usize,
    pub metric: MetricDto,
    /// Images in the collection.
    pub count: usize,
    /// Indexes built in this collection.
    pub indexes: Vec<IndexDto>,
    /// The index used when a query names none.
    pub default_index: Option<IndexKindDto>,
    /// Whether `text` queries work (CLIP models only).
    pub text_search: bool,
    /// The committed generation of the collection being served; it grows when `vsearch index` commits a
    /// new state, which the server then serves without a restart.
    pub generation: u64,
    /// Files indexed but not yet committed: an interrupted or failed `vsearch index` left them in the
    /// catalog, ahead of the generation served; the next run of `vsearch index DIR` commits them. Not
    /// damage. 0 when there are none (always for a collection in Qdrant).
    #[serde(default)]
    pub pending_files: usize,
    /// Whether `GET /api/duplicates` can verify copies on the pixels: a local collection, or a Qdrant
    /// collection served with its indexed folder (`vsearch serve --qdrant URL --root DIR`).
    #[serde(default)]
    pub duplicates: bool,
    /// For a collection in Qdrant: Qdrant's report of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdrant: Option<QdrantStatusDto>,
    /// The learned re-ranker: on with a model (its version), or off and why.
    #[serde(default)]
    pub reranker: RerankerDto,
}

/// Whether the learned re-ranker reorders searches (`vsearch rank train` trains it from the search
/// analytics; until there is enough data it stays off and says why).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RerankerDto {
    pub on: bool,
    /// The model's version, when on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Why it is off, when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<vsearch_engine::rerank::served::RerankStatus> for RerankerDto {
    fn from(s: vsearch_engine::rerank::served::RerankStatus) -> Self {
        Self {
            on: s.on,
            version: s.version,
            reason: s.reason,
        }
    }
}

/// A Qdrant collection's state, as Qdrant reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QdrantStatusDto {
    /// The server's gRPC URL.
    pub url: String,
    pub collection: String,
    /// The named vector searched (the model's id).
    pub vector: String,
    /// `green` (ready), `yellow` (optimising), `grey` (optimisations pending) or `red` (failed).
    pub status: String,
    pub points: u64,
    /// Vectors in HNSW segments (the rest are searched by brute force until Qdrant indexes them).
    pub indexed_vectors: u64,
    pub segments: u64,
    pub shards: u32,
    /// Copies of each shard.
    pub replicas: u32,
}

/// A JSON query: one example (exactly one of `id`, `text` or `vector`), or a board of several
/// (`positive`, optionally `negative`); with options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Search from an indexed image, by id (a number; a UUID in a Qdrant collection).
    #[schema(schema_with = image_id_schema)]
    pub id: Option<ImageId>,
    /// Search by text (CLIP collections only).
    pub text: Option<String>,
    /// Search by a raw vector of the collection's dimension.
    pub vector: Option<Vec<f64>>,
    /// A region of the query image (with `id`, or with a single uploaded image).
    pub crop: Option<CropDto>,
    /// Board query: the examples to search like; the query vector is the normalised weighted sum of
    /// their vectors minus the negative ones'.
    #[schema(max_items = 64)]
    pub positive: Option<Vec<ExampleDto>>,
    /// Board query: the examples to search away from.
    #[schema(max_items = 64)]
    pub negative: Option<Vec<ExampleDto>>,
    /// Number of results, 1 to 1000 (default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub k: Option<u64>,
    /// Results to skip, for pages (default 0): page n is `offset = n * k`. Results are ordered by score,
    /// then id, so pages concatenate to the unpaged list.
    #[schema(minimum = 0, maximum = 100000)]
    pub offset: Option<u64>,
    /// Only images matching this filter, in Qdrant's filter grammar:
    /// `{"must": [...], "should": [...], "must_not": [...]}` of conditions such as
    /// `{"key": "folder", "match": {"value": "trips"}}`, `{"key": "format", "match": {"any": ["jpeg", "png"]}}`,
    /// `{"key": "path", "match": {"prefix": "trips/2024/"}}`, `{"key": "taken_at", "range": {"gte": "2024-01-01T00:00:00Z"}}`.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// Index to search (default: the collection's first of hnsw, ivf, flat).
    #[schema(value_type = Option<IndexKindDto>)]
    pub index: Option<String>,
    /// HNSW: size of the candidate list.
    #[schema(minimum = 1, maximum = 10000)]
    pub ef_search: Option<u64>,
    /// IVF: inverted lists visited.
    #[schema(minimum = 1, maximum = 65536)]
    pub nprobe: Option<u64>,
    /// IVF-PQ: re-rank candidates by exact distance.
    pub rerank: Option<bool>,
    /// Drop results scoring below this.
    pub min_score: Option<f64>,
    /// One result per duplicate group: the group's best-scoring copy leads and lists the others in
    /// `copies` (default: the collection's `ranking.json`, else false; the web page sends true).
    pub collapse: Option<bool>,
    /// Diversity of the results, 0 (off, the default) to 1: maximal marginal relevance over the stored
    /// vectors (the best result stays first).
    #[schema(minimum = 0, maximum = 1)]
    pub diversity: Option<f64>,
}

/// One example of a board query: exactly one of `id`, `text`, `vector` or `image` (the index of an uploaded
/// `image` field of a multipart query, from 0).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleDto {
    /// An indexed image (a number; a UUID in a Qdrant collection).
    #[schema(schema_with = image_id_schema)]
    pub id: Option<ImageId>,
    pub text: Option<String>,
    pub vector: Option<Vec<f64>>,
    /// The n-th uploaded `image` field (multipart queries only).
    #[schema(minimum = 0, maximum = 63)]
    pub image: Option<u64>,
    /// Weight in the sum, 0 to 100 (default 1).
    #[schema(minimum = 0, maximum = 100)]
    pub weight: Option<f64>,
    /// A region of the example's image (`id` or `image` examples).
    pub crop: Option<CropDto>,
}

/// A region of an image, in fractions of its width and height from the top-left corner:
/// `0 <= x`, `0 <= y`, `w > 0`, `h > 0`, `x + w <= 1`, `y + h <= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CropDto {
    #[schema(minimum = 0, maximum = 1)]
    pub x: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub y: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub w: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub h: f64,
}

/// A multipart query (`multipart/form-data`): one or more images in fields `image`, options as text fields.
/// Several images without `positive` are a board of equal weights.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SearchForm {
    /// The query image (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF); repeat the field for several.
    #[schema(value_type = String, format = Binary)]
    pub image: Vec<u8>,
    /// Board query: JSON array of examples (`{"image": n}` is the n-th uploaded image), see `SearchRequest`.
    #[schema(nullable = false)]
    pub positive: Option<String>,
    /// Board query: JSON array of examples to search away from.
    #[schema(nullable = false)]
    pub negative: Option<String>,
    /// JSON crop `{"x", "y", "w", "h"}` of a single uploaded image.
    #[schema(nullable = false)]
    pub crop: Option<String>,
    /// JSON filter, see `SearchRequest`.
    #[schema(nullable = false)]
    pub filter: Option<String>,
    /// Results to skip (pages).
    #[schema(minimum = 0, maximum = 100000, nullable = false)]
    pub offset: Option<u64>,
    /// Number of results, 1 to 1000 (default 10).
    #[schema(minimum = 1, maximum = 1000, nullable = false)]
    pub k: Option<u64>,
    /// Index to search.
    #[schema(nullable = false)]
    pub index: Option<IndexKindDto>,
    /// HNSW: size of the candidate list.
    #[schema(minimum = 1, maximum = 10000, nullable = false)]
    pub ef_search: Option<u64>,
    /// IVF: inverted lists visited.
    #[schema(minimum = 1, maximum = 65536, nullable = false)]
    pub nprobe: Option<u64>,
    /// IVF-PQ: re-rank candidates by exact distance.
    #[schema(nullable = false)]
    pub rerank: Option<bool>,
    /// Drop results scoring below this.
    #[schema(nullable = false)]
    pub min_score: Option<f64>,
    /// One result per duplicate group, `true` or `false` (see `SearchRequest`).
    #[schema(nullable = false)]
    pub collapse: Option<bool>,
    /// Diversity, 0 to 1 (see `SearchRequest`).
    #[schema(minimum = 0, maximum = 1, nullable = false)]
    pub diversity: Option<f64>,
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResultDto {
    /// Image id (see `/api/images/{id}`): a number; a UUID in a Qdrant collection.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Similarity (cosine, higher is closer) or squared distance (l2, lower is closer).
    pub score: f32,
    /// 1-based rank.
    pub rank: usize,
    /// Labels with action `flag` the image reaches the threshold of (see `ImageDto::flags`).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Labels with action `hide` the image reaches the threshold of (see `ImageDto::hidden`).
    #[serde(default)]
    pub hidden: Vec<String>,
    /// For a frame of a video: the video and the frame's time (absent for images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub video: Option<VideoFrameDto>,
    /// The video's other frames among the results, best first: a video is one result, led by its
    /// best frame (absent when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameHitDto>,
    /// Retrieval's 1-based rank, before the ranking stage (present when `ranking.steps` is not empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_rank: Option<usize>,
    /// Retrieval's score, before the ranking stage (as `original_rank`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_score: Option<f32>,
    /// With `collapse`: the other copies of this picture among the candidates, best first ("+N copies").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = image_ids_schema)]
    pub copies: Vec<ImageId>,
    /// What boosts and demotions (the collection's `ranking.json`) added to the score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<AdjustmentDto>,
}

/// A video frame's video and its time in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VideoFrameDto {
    /// The video file's path relative to the indexed folder (`GET /api/images/{id}` of the frame serves
    /// the video, with Range requests: play it from `seconds`).
    pub path: String,
    /// The frame's time from the start of the video, in seconds.
    pub seconds: f64,
}

impl From<vsearch_engine::metadata::VideoFrame> for VideoFrameDto {
    fn from(v: vsearch_engine::metadata::VideoFrame) -> Self {
        Self {
            path: v.path,
            seconds: v.seconds,
        }
    }
}

/// Another frame of a result's video.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FrameHitDto {
    /// The frame's image id.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// Its time in the video, in seconds.
    pub seconds: f64,
    /// Its score (see `score`).
    pub score: f32,
}

/// One amount a boost or demotion added to a result's score.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdjustmentDto {
    /// `recency`, `label:NAME`, `flagged` or `reports`.
    pub what: String,
    pub amount: f32,
}

/// What the ranking stage did to an answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RankingDto {
    /// The steps that ran, in order: `rescore:MODEL`, `boosts`, `collapse`, `diversity`, `min_score`;
    /// empty when the answer is retrieval's order.
    pub steps: Vec<String>,
    /// Candidates retrieval gave the stage.
    pub candidates: usize,
    /// Candidates the stage re-ordered (`k x factor`); those after keep retrieval's order.
    pub pool: usize,
}

/// `POST /api/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponseDto {
    /// Best first.
    pub results: Vec<SearchResultDto>,
    /// Whether more results follow this page (ask with `offset` + `k`).
    pub more: bool,
    /// The index that answered (`flat` when a selective filter sent the query to exact search).
    pub index: IndexKindDto,
    /// How the filter was applied (absent without a filter).
    pub filter: Option<FilterReportDto>,
    /// The generation of the collection that answered.
    pub generation: u64,
    /// Model id.
    pub model: String,
    /// Milliseconds spent embedding the query (0 for `id` and `vector` queries).
    pub embed_ms: f64,
    /// Milliseconds spent searching the index.
    pub search_ms: f64,
    /// This answer's id in the search analytics, to send back with what the page opens from it
    /// (`POST /api/analytics/events`); absent when analytics are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_id: Option<String>,
    /// What the ranking stage did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingDto>,
}

/// How a filtered query was answered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct FilterReportDto {
    /// Images the filter keeps.
    pub matched: usize,
    /// Images in the collection.
    pub total: usize,
    /// Whether exact search answered because the filter keeps few images (2% or fewer).
    pub exact: bool,
}

impl SearchResponseDto {
    /// The wire form of an engine response from the collection at `generation`.
    pub fn new(r: SearchResponse, generation: u64) -> Self {
        Self {
            more: r.more,
            filter: r.filter.map(|f| FilterReportDto {
                matched: f.matched,
                total: f.total,
                exact: f.exact,
            }),
            generation,
            results: r
                .results
                .into_iter()
                .map(|h| SearchResultDto {
                    id: h.id,
                    path: h.path,
                    score: h.score,
                    rank: h.rank,
                    flags: Vec::new(),
                    hidden: Vec::new(),
                    video: h.video.map(VideoFrameDto::from),
                    frames: h
                        .frames
                        .into_iter()
                        .map(|f| FrameHitDto {
                            id: f.id,
                            seconds: f.seconds,
                            score: f.score,
                        })
                        .collect(),
                    original_rank: h.original_rank,
                    original_score: h.original_score,
                    copies: h.copies,
                    adjustments: h
                        .adjustments
                        .into_iter()
                        .map(|a| AdjustmentDto {
                            what: a.what,
                            amount: a.amount,
                        })
                        .collect(),
                })
                .collect(),
            index: r.index.into(),
            model: r.model,
            embed_ms: r.embed_ms,
            search_ms: r.search_ms,
            search_id: None,
            ranking: r.ranking.map(|x| RankingDto {
                steps: x.steps,
                candidates: x.candidates,
                pool: x.pool,
            }),
        }
    }
}

impl CollectionDto {
    /// The public view of a collection.
    pub fn from_info(info: &CollectionInfo) -> Self {
        let indexes = info
            .indexes
            .iter()
            .map(|config| {
                let mut params =
                    serde_json::to_value(config).unwrap_or_else(|_| serde_json::json!({}));
                if let Some(object) = params.as_object_mut() {
                    object.remove("kind");
                } else {
                    params = serde_json::json!({});
                }
                IndexDto {
                    kind: config.kind().into(),
                    params,
                }
            })
            .collect();
        Self {
            model: info.model.id.clone(),
            dimension: info.model.dim,
            metric: match info.metric {
                Metric::Cosine => MetricDto::Cosine,
                Metric::L2 => MetricDto::L2,
            },
            count: info.count,
            indexes,
            default_index: default_index(info).map(Into::into),
            text_search: info.text_search,
            generation: info.generation,
            pending_files: 0,
            duplicates: info.qdrant.is_none() || !info.root.as_os_str().is_empty(),
            qdrant: info.qdrant.as_ref().map(|q| QdrantStatusDto {
                url: q.url.clone(),
                collection: q.collection.clone(),
                vector: q.vector.clone(),
                status: q.status.clone(),
                points: q.points,
                indexed_vectors: q.indexed_vectors,
                segments: q.segments,
                shards: q.shards,
                replicas: q.replicas,
            }),
            reranker: RerankerDto::default(),
        }
    }
}

/// One image of the collection and its metadata.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageDto {
    /// Image id: a number; a UUID in a Qdrant collection.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// Path relative to the indexed folder, `/`-separated.
    pub path: String,
    /// Folder of the path (`""` at the top).
    pub folder: String,
    pub name: String,
    /// Format from the content: jpeg, png, webp, gif, bmp, tiff, heic or avif; a video frame's: mp4, mov,
    /// mkv or webm.
    pub format: String,
    /// File size.
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// File modification time, RFC 3339.
    pub mtime: String,
    /// EXIF date taken, RFC 3339.
    pub taken_at: Option<String>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    /// EXIF GPS latitude, degrees.
    pub gps_lat: Option<f64>,
    /// EXIF GPS longitude, degrees.
    pub gps_lon: Option<f64>,
    /// Zero-shot label scores in [0, 1], by label name (CLIP-family collections; filter key
    /// `label.<name>`).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, f32>,
    /// Labels with action `flag` whose threshold the image's score reaches (filter key `flag`); the page
    /// shows a badge.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Labels with action `hide` whose threshold the image's score reaches (filter key `hidden`); the page
    /// blurs the thumbnail until it is clicked.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// For a frame of a video (`path` is then `VIDEO#t=SECONDS`, `format` the video's container): the
    /// video and the frame's time (filter key `video`); absent for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub video: Option<VideoFrameDto>,
}

impl From<ImageMeta> for ImageDto {
    fn from(m: ImageMeta) -> Self {
        Self {
            id: m.image_id(),
            path: m.path,
            folder: m.folder,
            name: m.name,
            format: m.format,
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            mtime: m.mtime,
            taken_at: m.taken_at,
            camera_make: m.camera_make,
            camera_model: m.camera_model,
            gps_lat: m.gps_lat,
            gps_lon: m.gps_lon,
            labels: m.labels,
            flags: m.flags,
            hidden: m.hidden,
            video: m.video.map(VideoFrameDto::from),
        }
    }
}

/// `GET /api/images`: a page of the collection, newest first (date taken, else file date), then by id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BrowseDto {
    pub images: Vec<ImageDto>,
    /// Images matching the filter, all pages.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// A value and how many images have it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FacetDto {
    pub value: String,
    pub count: usize,
}

/// `GET /api/facets`: what a filter bar offers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FacetsDto {
    /// Folders (`""` is the top folder) with their image counts.
    pub folders: Vec<FacetDto>,
    /// Formats with their image counts.
    pub formats: Vec<FacetDto>,
}

impl From<Facets> for FacetsDto {
    fn from(f: Facets) -> Self {
        let list = |v: Vec<vsearch_engine::browse::FacetCount>| {
            v.into_iter()
                .map(|f| FacetDto {
                    value: f.value,
                    count: f.count,
                })
                .collect()
        };
        Self {
            folders: list(f.folders),
            formats: list(f.formats),
        }
    }
}

/// `GET /api/duplicates`: groups of copies, best copy first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuplicatesDto {
    /// The verification threshold applied.
    pub threshold: f32,
    /// The groups, ordered by their kept image's path.
    pub groups: Vec<DuplicateGroupDto>,
}

/// Copies of one picture.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuplicateGroupDto {
    /// Whether every image has the same content (byte-identical files).
    pub exact: bool,
    /// The images: the one to keep first (most pixels, then the oldest file).
    pub images: Vec<DuplicateImageDto>,
}

/// One image of a duplicate group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuplicateImageDto {
    /// Image id: a number; a UUID in a Qdrant collection.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    pub width: u32,
    pub height: u32,
    /// File size in bytes.
    pub bytes: u64,
    /// Modification time, RFC 3339.
    pub mtime: String,
    /// Whether this is the copy to keep.
    pub keep: bool,
    /// Score against the kept image (absent when grouped through other copies).
    pub score: Option<f32>,
}

impl From<vsearch_engine::DuplicateGroup> for DuplicateGroupDto {
    fn from(g: vsearch_engine::DuplicateGroup) -> Self {
        Self {
            exact: g.exact,
            images: g
                .images
                .into_iter()
                .map(|i| DuplicateImageDto {
                    id: i.id,
                    path: i.path,
                    width: i.width,
                    height: i.height,
                    bytes: i.bytes,
                    mtime: i.mtime,
                    keep: i.keep,
                    score: i.score.filter(|s| s.is_finite()),
                })
                .collect(),
        }
    }
}

/// Parameters of `GET /api/duplicates`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicatesParams {
    /// Verification score a pair needs to be a copy, -1 to 1 (default: the engine's, 0.86).
    #[param(minimum = -1, maximum = 1)]
    pub threshold: Option<f64>,
}

/// The index a query without `index` uses: the first of [`IndexKind::PREFERENCE`] the collection has.
pub fn default_index(info: &CollectionInfo) -> Option<IndexKind> {
    IndexKind::preferred(|kind| info.indexes.iter().any(|c| c.kind() == kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_view_lists_indexes_and_default() {
        let info = crate::api::sample_info(false, vec![vsearch_engine::IndexConfig::Flat]);
        let dto = CollectionDto::from_info(&info);
        assert_eq!(dto.default_index, Some(IndexKindDto(IndexKind::Flat)));
        assert_eq!(dto.indexes.len(), 1);
        assert_eq!(dto.dimension, 4);
        assert!(dto.indexes[0].params.is_object());
    }
}

/// Parameters of `GET /api/images`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseParams {
    /// Images to skip (default 0).
    #[param(minimum = 0, maximum = 100000)]
    pub offset: Option<u64>,
    /// Page size, 1 to 1000 (default 60).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// A JSON filter in Qdrant's grammar (see `SearchRequest.filter`), URL-encoded.
    pub filter: Option<String>,
}

/// Parameters of `GET /api/facets`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FacetParams {
    /// A JSON filter in Qdrant's grammar (see `SearchRequest.filter`), URL-encoded.
    pub filter: Option<String>,
}

/// Parameters of `GET /api/images/{id}/similar`: the options of `SearchRequest`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarParams {
    /// Number of results, 1 to 1000 (default 10).
    #[param(minimum = 1, maximum = 1000)]
    pub k: Option<u64>,
    /// Results to skip, for pages.
    #[param(minimum = 0, maximum = 100000)]
    pub offset: Option<u64>,
    /// A JSON filter in Qdrant's grammar (see `SearchRequest.filter`), URL-encoded.
    pub filter: Option<String>,
    /// Index to search.
    #[param(value_type = Option<IndexKindDto>)]
    pub index: Option<String>,
    /// HNSW: size of the candidate list.
    #[param(minimum = 1, maximum = 10000)]
    pub ef_search: Option<u64>,
    /// IVF: inverted lists visited.
    #[param(minimum = 1, maximum = 65536)]
    pub nprobe: Option<u64>,
    /// Drop results scoring below this.
    pub min_score: Option<f64>,
    /// One result per duplicate group (see `SearchRequest.collapse`).
    pub collapse: Option<bool>,
    /// Diversity, 0 to 1 (see `SearchRequest.diversity`).
    #[param(minimum = 0, maximum = 1)]
    pub diversity: Option<f64>,
}

/// A list of image ids in the OpenAPI description.
pub(crate) fn image_ids_schema() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(image_id_schema()))
        .build()
        .into()
}

/// An image id in the OpenAPI description: a whole number (local collections) or a UUID string
/// (Qdrant collections), as Qdrant writes point ids.
pub(crate) fn image_id_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    use utoipa::openapi::KnownFormat;
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("uuid".into()))),
        )
        .build()
        .into()
}
