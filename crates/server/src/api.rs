//! The JSON API: request and response types (mirrors of the engine's, with OpenAPI schemas) and handlers.

use crate::error::{ApiError, ErrorBody};
use crate::thumbnails;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vsearch_engine::{
    image_io, CollectionInfo, IndexConfig, IndexKind, Metric, Query, QueryOptions, SearchParams,
    SearchResponse,
};

/// Results per query when the request gives no `k`.
pub const DEFAULT_K: usize = 10;
/// Largest `k` a request may ask for.
pub const MAX_K: usize = 1000;
/// Largest HNSW `ef_search` a request may ask for.
pub const MAX_EF_SEARCH: usize = 10_000;
/// Largest IVF `nprobe` a request may ask for.
pub const MAX_NPROBE: usize = 65_536;
/// Longest time a search request may take to send its body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long the body of a request refused as busy is read (and dropped) before the answer goes out.
const DISCARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Largest magnitude of a query vector's component (scores of larger ones could overflow `f32`).
pub const MAX_VECTOR_COMPONENT: f64 = 1e15;
/// Longest text query, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Types

/// Index families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndexKindDto {
    /// HNSW graph (approximate, fast).
    Hnsw,
    /// FAISS inverted lists (approximate).
    Ivf,
    /// Exact search.
    Flat,
}

impl From<IndexKind> for IndexKindDto {
    fn from(kind: IndexKind) -> Self {
        match kind {
            IndexKind::Hnsw => Self::Hnsw,
            IndexKind::Ivf => Self::Ivf,
            IndexKind::Flat => Self::Flat,
        }
    }
}

impl From<IndexKindDto> for IndexKind {
    fn from(kind: IndexKindDto) -> Self {
        match kind {
            IndexKindDto::Hnsw => Self::Hnsw,
            IndexKindDto::Ivf => Self::Ivf,
            IndexKindDto::Flat => Self::Flat,
        }
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
}

/// A JSON query: exactly one of `id`, `text` or `vector`, and options.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Search from an indexed image, by id.
    #[schema(minimum = 0)]
    pub id: Option<u64>,
    /// Search by text (CLIP collections only).
    pub text: Option<String>,
    /// Search by a raw vector of the collection's dimension.
    pub vector: Option<Vec<f64>>,
    /// Number of results, 1 to 1000 (default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub k: Option<u64>,
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
}

/// A multipart query (`multipart/form-data`): the image in field `image`, options as text fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SearchForm {
    /// The query image (JPEG, PNG, WebP, GIF, BMP or TIFF).
    #[schema(value_type = String, format = Binary)]
    pub image: Vec<u8>,
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
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResultDto {
    /// Image id (see `/api/images/{id}`).
    pub id: u64,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Similarity (cosine, higher is closer) or squared distance (l2, lower is closer).
    pub score: f32,
    /// 1-based rank.
    pub rank: usize,
}

/// `POST /api/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponseDto {
    /// Best first.
    pub results: Vec<SearchResultDto>,
    /// The index that answered.
    pub index: IndexKindDto,
    /// Model id.
    pub model: String,
    /// Milliseconds spent embedding the query (0 for `id` and `vector` queries).
    pub embed_ms: f64,
    /// Milliseconds spent searching the index.
    pub search_ms: f64,
}

impl From<SearchResponse> for SearchResponseDto {
    fn from(r: SearchResponse) -> Self {
        Self {
            results: r
                .results
                .into_iter()
                .map(|h| SearchResultDto {
                    id: h.id,
                    path: h.path,
                    score: h.score,
                    rank: h.rank,
                })
                .collect(),
            index: r.index.into(),
            model: r.model,
            embed_ms: r.embed_ms,
            search_ms: r.search_ms,
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
                    kind: config_kind(config).into(),
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
        }
    }
}

pub(crate) fn config_kind(config: &IndexConfig) -> IndexKind {
    match config {
        IndexConfig::Flat => IndexKind::Flat,
        IndexConfig::Hnsw(_) => IndexKind::Hnsw,
        IndexConfig::Ivf(_) => IndexKind::Ivf,
    }
}

/// The index a query without `index` uses: the first of hnsw, ivf, flat that the collection has.
pub fn default_index(info: &CollectionInfo) -> Option<IndexKind> {
    [IndexKind::Hnsw, IndexKind::Ivf, IndexKind::Flat]
        .into_iter()
        .find(|kind| info.indexes.iter().any(|c| config_kind(c) == *kind))
}

// ---------------------------------------------------------------------------------------------
// Request parsing and validation

/// A search request as parsed from JSON or a form, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSearch {
    pub image: Option<Vec<u8>>,
    pub json: SearchRequest,
}

/// Parses a JSON search body; every malformed body is a 400.
pub(crate) fn parse_json(body: &[u8]) -> Result<RawSearch, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "empty request body: send JSON with one of id, text or vector, or a multipart form with an `image` field",
        ));
    }
    let json: SearchRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    Ok(RawSearch { image: None, json })
}

/// Reads a multipart search form.
async fn parse_multipart(mut form: Multipart) -> Result<RawSearch, ApiError> {
    let mut raw = RawSearch::default();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" => raw.image = Some(field.bytes().await?.to_vec()),
            "k" | "index" | "ef_search" | "nprobe" | "rerank" | "min_score" => {
                let value = field.text().await?;
                set_form_option(&mut raw.json, &name, value.trim())?;
            }
            _ => {
                // Unknown fields are read and ignored.
                let _ = field.bytes().await?;
            }
        }
    }
    Ok(raw)
}

fn set_form_option(request: &mut SearchRequest, name: &str, value: &str) -> Result<(), ApiError> {
    fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
        value.parse::<T>().map_err(|_| {
            ApiError::bad_request(format!(
                "form field `{name}`: expected a number, got '{value}'"
            ))
        })
    }
    match name {
        "k" => request.k = Some(number(name, value)?),
        "index" => request.index = Some(value.to_string()),
        "ef_search" => request.ef_search = Some(number(name, value)?),
        "nprobe" => request.nprobe = Some(number(name, value)?),
        "min_score" => request.min_score = Some(number(name, value)?),
        "rerank" => {
            request.rerank = Some(match value {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "form field `rerank`: expected true or false, got '{value}'"
                    )))
                }
            })
        }
        _ => {}
    }
    Ok(())
}

fn parse_index_kind(name: &str) -> Result<IndexKind, ApiError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "hnsw" => Ok(IndexKind::Hnsw),
        "ivf" => Ok(IndexKind::Ivf),
        "flat" => Ok(IndexKind::Flat),
        _ => Err(ApiError::bad_request(format!(
            "unknown index kind '{name}': use hnsw, ivf or flat"
        ))),
    }
}

pub(crate) fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Hnsw => "hnsw",
        IndexKind::Ivf => "ivf",
        IndexKind::Flat => "flat",
    }
}

fn in_range(name: &str, value: Option<u64>, max: usize) -> Result<Option<usize>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v >= 1 && v <= max as u64 => Ok(Some(v as usize)),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name} must be between 1 and {max}, got {v}"
        ))),
    }
}

/// Checks a parsed request against the collection and turns it into an engine query.
pub(crate) fn validate(
    raw: RawSearch,
    info: &CollectionInfo,
) -> Result<(Query, QueryOptions), ApiError> {
    let r = raw.json;
    let k = match r.k {
        None => DEFAULT_K,
        Some(k) if (1..=MAX_K as u64).contains(&k) => k as usize,
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "k must be between 1 and {MAX_K}, got {k}"
            )))
        }
    };
    let index = match &r.index {
        None => None,
        Some(name) => {
            let kind = parse_index_kind(name)?;
            if !info.indexes.iter().any(|c| config_kind(c) == kind) {
                let built: Vec<&str> = info
                    .indexes
                    .iter()
                    .map(|c| kind_name(config_kind(c)))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "index '{}' is not built in this collection (built: {}); add it with `vsearch index DIR --index {}`",
                    kind_name(kind),
                    if built.is_empty() { "none".to_string() } else { built.join(", ") },
                    kind_name(kind)
                )));
            }
            Some(kind)
        }
    };
    let params = SearchParams {
        ef_search: in_range("ef_search", r.ef_search, MAX_EF_SEARCH)?,
        nprobe: in_range("nprobe", r.nprobe, MAX_NPROBE)?,
        rerank: r.rerank,
    };
    if let Some(score) = r.min_score {
        if !score.is_finite() || score.abs() > f64::from(f32::MAX) {
            return Err(ApiError::bad_request(
                "min_score must be a finite number within the range of f32",
            ));
        }
    }
    let given = [
        raw.image.is_some(),
        r.id.is_some(),
        r.text.is_some(),
        r.vector.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(ApiError::bad_request(if raw.image.is_some() {
            "give the query image only, not id, text or vector as well".to_string()
        } else {
            "give exactly one of id, text or vector (JSON), or an `image` field (multipart form)"
                .to_string()
        }));
    }
    let query = if let Some(bytes) = raw.image {
        if image_io::sniff_format(&bytes).is_none() {
            return Err(ApiError::bad_request(
                "the uploaded file is not a supported image: send JPEG, PNG, WebP, GIF, BMP or TIFF",
            ));
        }
        Query::ImageBytes(bytes)
    } else if let Some(id) = r.id {
        Query::Id(id)
    } else if let Some(text) = r.text {
        if !info.text_search {
            return Err(ApiError::bad_request(format!(
                "model '{}' has no text tower: text search needs a collection indexed with a CLIP model (e.g. --model clip-vit-b32)",
                info.model.id
            )));
        }
        if text.is_empty() {
            return Err(ApiError::bad_request("text is empty"));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::bad_request(format!(
                "text is longer than {MAX_TEXT_CHARS} characters"
            )));
        }
        Query::Text(text)
    } else if let Some(vector) = r.vector {
        if vector.len() != info.model.dim {
            return Err(ApiError::bad_request(format!(
                "vector has {} components, the collection's dimension is {}",
                vector.len(),
                info.model.dim
            )));
        }
        if vector
            .iter()
            .any(|x| !x.is_finite() || x.abs() > MAX_VECTOR_COMPONENT)
        {
            return Err(ApiError::bad_request(format!(
                "vector components must be finite numbers between -{MAX_VECTOR_COMPONENT:e} and {MAX_VECTOR_COMPONENT:e}"
            )));
        }
        // Cosine scores are of unit vectors: normalise here (in f64, where no sum can overflow).
        let scale = match info.metric {
            Metric::Cosine => {
                let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm == 0.0 {
                    return Err(ApiError::bad_request(
                        "vector is all zeros: a cosine collection cannot compare it",
                    ));
                }
                1.0 / norm
            }
            Metric::L2 => 1.0,
        };
        Query::Vector(vector.into_iter().map(|x| (x * scale) as f32).collect())
    } else {
        return Err(ApiError::bad_request("no query given"));
    };
    Ok((
        query,
        QueryOptions {
            k,
            index,
            params,
            min_score: r.min_score.map(|m| m as f32),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Liveness and load.
#[utoipa::path(get, path = "/api/health", tag = "vsearch",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        count: state.info.count,
        model: state.info.model.id.clone(),
        busy: state.pool.admitted(),
        workers: state.pool.workers(),
    })
}

/// What the collection is: model, dimension, count, indexes, text search.
#[utoipa::path(get, path = "/api/collection", tag = "vsearch",
    responses((status = 200, description = "The collection", body = CollectionDto)))]
pub async fn collection(State(state): State<AppState>) -> Json<CollectionDto> {
    Json(CollectionDto::from_info(&state.info))
}

/// Searches the collection by uploaded image (multipart), or by id, text or vector (JSON).
#[utoipa::path(post, path = "/api/search", tag = "vsearch",
    request_body(description = "A multipart form with the image in field `image`, or JSON with one of id, text, vector",
        content((SearchRequest = "application/json"), (SearchForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "Results, best first", body = SearchResponseDto),
        (status = 400, description = "Bad request: not an image, malformed JSON, k out of range, unknown or unbuilt index, text on an image-only model", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 413, description = "Body over the limit, or image over the pixel limit", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a multipart form", body = ErrorBody),
        (status = 503, description = "Too many queries queued; retry after the given seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn search(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<SearchResponseDto>, ApiError> {
    // A place in the queue first: a refused request's body is never buffered, only discarded.
    let ticket = match state.pool.admit() {
        Ok(ticket) => ticket,
        Err(busy) => {
            discard_body(request, state.max_body_bytes).await;
            return Err(busy);
        }
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let read = async {
        match content_type.as_deref() {
            Some(ct) if ct.starts_with("multipart/form-data") => {
                parse_multipart(Multipart::from_request(request, &state).await?).await
            }
            None => parse_json(&Bytes::from_request(request, &state).await?),
            Some(ct) if is_json(ct) => parse_json(&Bytes::from_request(request, &state).await?),
            Some(ct) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type '{ct}' is not accepted: send application/json or multipart/form-data"
                ),
            )),
        }
    };
    // A client that sends its body too slowly gives its place in the queue back.
    let raw = tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body took over {} s to arrive",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })??;
    let (query, options) = validate(raw, &state.info)?;
    let collection = state.collection.clone();
    let response = state
        .pool
        .run(ticket, move || collection.search(&query, &options))
        .await??;
    Ok(Json(response.into()))
}

/// Reads and drops a refused request's body (at most `limit` bytes, for at most [`DISCARD_TIMEOUT`]) so that a
/// client still sending it reads the answer instead of a broken pipe. Nothing is kept in memory.
async fn discard_body(request: Request, limit: usize) {
    use axum::body::HttpBody;
    let mut body = request.into_body();
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, drain).await;
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// An image id from the path; anything but a non-negative integer is a 400.
#[derive(Debug, Clone, Copy)]
pub struct ImageId(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for ImageId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.trim().parse::<u64>().map(ImageId).map_err(|_| {
            ApiError::bad_request(format!(
                "image id must be a non-negative integer, got '{raw}'"
            ))
        })
    }
}

/// The file of an indexed image, by id (the path comes from the catalog, never from the request).
async fn read_image(state: &AppState, id: u64) -> Result<Vec<u8>, ApiError> {
    let collection = state.collection.clone();
    let path = tokio::task::spawn_blocking(move || collection.image_path(id))
        .await
        .map_err(|e| ApiError::internal(format!("catalog lookup failed: {e}")))??;
    tokio::fs::read(&path)
        .await
        .map_err(|e| missing_file(id, e))
}

fn missing_file(id: u64, err: std::io::Error) -> ApiError {
    if err.kind() == std::io::ErrorKind::NotFound {
        ApiError::not_found(format!(
            "image {id} is in the collection but its file is gone: run `vsearch index` again to update the collection"
        ))
    } else {
        ApiError::internal(format!("cannot read image {id}: {err}"))
    }
}

fn binary(content_type: &'static str, bytes: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The original image file, with its content type (recognised by content).
#[utoipa::path(get, path = "/api/images/{id}", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id", minimum = 0)),
    responses(
        (status = 200, description = "The original bytes",
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("image/gif"), ("image/bmp"), ("image/tiff"), ("application/octet-stream"))),
        (status = 400, description = "The id is not a non-negative integer", body = ErrorBody),
        (status = 404, description = "Unknown id, or its file is gone", body = ErrorBody),
    ))]
pub async fn image(
    State(state): State<AppState>,
    ImageId(id): ImageId,
) -> Result<Response, ApiError> {
    let bytes = read_image(&state, id).await?;
    let content_type =
        image_io::sniff_format(&bytes).map_or("application/octet-stream", |f| f.to_mime_type());
    Ok(binary(content_type, Bytes::from(bytes)))
}

/// A JPEG thumbnail of at most 256 px, cached in memory.
#[utoipa::path(get, path = "/api/images/{id}/thumbnail", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id", minimum = 0)),
    responses(
        (status = 200, description = "JPEG thumbnail", content(("image/jpeg"))),
        (status = 400, description = "The id is not a non-negative integer, or the file is no longer a readable image", body = ErrorBody),
        (status = 404, description = "Unknown id, or its file is gone", body = ErrorBody),
        (status = 503, description = "Too many requests queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn thumbnail(
    State(state): State<AppState>,
    ImageId(id): ImageId,
) -> Result<Response, ApiError> {
    if let Some(cached) = state.thumbnails.get(id) {
        return Ok(binary("image/jpeg", cached));
    }
    let bytes = read_image(&state, id).await?;
    let ticket = state.pool.admit()?;
    let jpeg = state
        .pool
        .run(ticket, move || thumbnails::make_thumbnail(&bytes))
        .await??;
    let jpeg = Bytes::from(jpeg);
    state.thumbnails.insert(id, jpeg.clone());
    Ok(binary("image/jpeg", jpeg))
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint: see /api/openapi.json")
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint: see /api/openapi.json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsearch_engine::ModelInfo;

    fn info(text: bool, indexes: Vec<IndexConfig>) -> CollectionInfo {
        CollectionInfo {
            root: "/tmp/x".into(),
            model: ModelInfo {
                id: "efficientnet-lite0".into(),
                dim: 4,
                text,
            },
            metric: Metric::Cosine,
            count: 3,
            indexes,
            text_search: text,
        }
    }

    fn json(body: &str, info: &CollectionInfo) -> Result<(Query, QueryOptions), ApiError> {
        validate(parse_json(body.as_bytes())?, info)
    }

    fn status(r: Result<(Query, QueryOptions), ApiError>) -> StatusCode {
        r.err().map_or(StatusCode::OK, |e| e.status)
    }

    #[test]
    fn json_queries_and_options_parse() {
        let info = info(true, vec![IndexConfig::Flat]);
        let (q, o) = json(
            r#"{"id": 7, "k": 3, "index": "flat", "min_score": 0.5}"#,
            &info,
        )
        .unwrap();
        assert!(matches!(q, Query::Id(7)));
        assert_eq!(
            (o.k, o.index, o.min_score),
            (3, Some(IndexKind::Flat), Some(0.5))
        );
        let (q, o) = json(r#"{"text": "a red car"}"#, &info).unwrap();
        assert!(matches!(q, Query::Text(ref t) if t == "a red car"));
        assert_eq!((o.k, o.index), (DEFAULT_K, None));
        let (q, _) = json(
            r#"{"vector": [3, 0, 0, 4], "ef_search": 64, "nprobe": 8}"#,
            &info,
        )
        .unwrap();
        assert!(matches!(q, Query::Vector(ref v) if v == &[0.6, 0.0, 0.0, 0.8]));
    }

    #[test]
    fn bad_requests_are_400() {
        let image_only = info(false, vec![IndexConfig::Flat]);
        for body in [
            "{not json",
            "",
            "[1,2]",
            r#"{"id": -1}"#,
            r#"{"id": 1, "text": "x"}"#,
            r#"{}"#,
            r#"{"id": 1, "k": 0}"#,
            r#"{"id": 1, "k": 1001}"#,
            r#"{"id": 1, "k": "ten"}"#,
            r#"{"id": 1, "index": "annoy"}"#,
            r#"{"id": 1, "index": "hnsw"}"#,
            r#"{"text": "a cat"}"#,
            r#"{"vector": [1, 2]}"#,
            r#"{"vector": [1, 0, 0, 1e30]}"#,
            r#"{"vector": [0, 0, 0, 0]}"#,
            r#"{"id": 1, "ef_search": 0}"#,
            r#"{"id": 1, "nprobe": 100000000}"#,
            r#"{"id": 1, "colour": "red"}"#,
        ] {
            let got = status(json(body, &image_only));
            assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");
        }
        let err = json(r#"{"text": "a cat"}"#, &image_only).unwrap_err();
        assert!(err.message.contains("no text tower"), "{}", err.message);
        let err = json(r#"{"id": 1, "index": "hnsw"}"#, &image_only).unwrap_err();
        assert!(err.message.contains("not built"), "{}", err.message);
        assert_eq!(
            status(json(r#"{"id": 1, "k": 1000}"#, &image_only)),
            StatusCode::OK
        );
        assert_eq!(
            status(json(r#"{"id": 1, "k": 1}"#, &image_only)),
            StatusCode::OK
        );
    }

    #[test]
    fn uploads_must_be_images() {
        let info = info(false, vec![IndexConfig::Flat]);
        let raw = RawSearch {
            image: Some(b"plain text".to_vec()),
            json: SearchRequest::default(),
        };
        let err = validate(raw, &info).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        let raw = RawSearch {
            image: Some(png.to_vec()),
            json: SearchRequest::default(),
        };
        assert!(matches!(
            validate(raw, &info).unwrap().0,
            Query::ImageBytes(_)
        ));
    }

    #[test]
    fn form_fields_parse() {
        let mut r = SearchRequest::default();
        set_form_option(&mut r, "k", "5").unwrap();
        set_form_option(&mut r, "index", "flat").unwrap();
        set_form_option(&mut r, "min_score", "0.25").unwrap();
        assert_eq!(
            (r.k, r.index.as_deref(), r.min_score, r.nprobe),
            (Some(5), Some("flat"), Some(0.25), None)
        );
        assert_eq!(
            set_form_option(&mut r, "nprobe", "").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            set_form_option(&mut r, "k", "five").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            set_form_option(&mut r, "rerank", "maybe")
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn collection_view_lists_indexes_and_default() {
        let info = info(false, vec![IndexConfig::Flat]);
        let dto = CollectionDto::from_info(&info);
        assert_eq!(dto.default_index, Some(IndexKindDto::Flat));
        assert_eq!(dto.indexes.len(), 1);
        assert_eq!(dto.dimension, 4);
        assert!(dto.indexes[0].params.is_object());
    }
}
