//! The endpoints of the JSON API.

use super::dto::{
    BrowseDto, BrowseParams, CollectionDto, DuplicateGroupDto, DuplicatesDto, DuplicatesParams,
    FacetParams, FacetsDto, Health, ImageDto, SearchForm, SearchRequest, SearchResponseDto,
    SimilarParams,
};
use super::request::{
    check_offset, filter_json, read_search, url_filter, validate, PathId, UncheckedSearch,
};
use crate::error::{ApiError, ErrorBody};
use crate::thumbnails;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as UrlQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use vsearch_engine::analytics::{Event, SearchDraft, ShownFeatures};
use vsearch_engine::answers::Learning;
use vsearch_engine::{image_io, EngineError, ImageId};

/// Longest time a search request may take to send its body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long the body of a request refused as busy is read (and dropped) before the answer goes out.
const DISCARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Liveness and load.
#[utoipa::path(get, path = "/api/health", tag = "vsearch",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let served = state.served();
    Json(Health {
        status: "ok".into(),
        count: served.info.count,
        model: served.info.model.id.clone(),
        busy: state.pool.admitted(),
        workers: state.pool.workers(),
    })
}

/// What the collection is: model, dimension, count, indexes, text search.
#[utoipa::path(get, path = "/api/collection", tag = "vsearch",
    responses((status = 200, description = "The collection", body = CollectionDto)))]
pub async fn collection(State(state): State<AppState>) -> Json<CollectionDto> {
    let served = state.served();
    let mut dto = CollectionDto::from_info(&served.info);
    dto.pending_files = served.pending_files().await.unwrap_or(0);
    dto.reranker = state.reranker().status().into();
    Json(dto)
}

/// Searches the collection by uploaded image (multipart), or by id, text or vector (JSON).
#[utoipa::path(post, path = "/api/search", tag = "vsearch",
    request_body(description = "A multipart form with the image in field `image`, or JSON with one of id, text, vector",
        content((SearchRequest = "application/json"), (SearchForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "Results, best first", body = SearchResponseDto),
        (status = 400, description = "Bad request: not an image, malformed JSON, k out of range, unknown or unbuilt index, text on an image-only model", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
        (status = 408, description = "The body took too long to arrive", body = ErrorBody),
        (status = 409, description = "The collection holds no images yet: index some with `vsearch index DIR`", body = ErrorBody),
        (status = 413, description = "Body over the limit, or image over the pixel limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a multipart form", body = ErrorBody),
        (status = 500, description = "The server failed (model, index, catalog or a damaged collection); the details, with paths, are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued, or `vsearch index` is updating the collection; retry after the given seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn search(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<SearchResponseDto>, ApiError> {
    let started = std::time::Instant::now();
    // A place in the queue first: a refused request's body is never buffered, only discarded.
    let ticket = match state.pool.admit() {
        Ok(ticket) => ticket,
        Err(busy) => {
            discard_body(request, state.max_body_bytes).await;
            return Err(busy);
        }
    };
    // A client that sends its body too slowly gives its place in the queue back.
    let raw = tokio::time::timeout(BODY_TIMEOUT, read_search(request, &state))
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
    let served = state.served();
    let (query, options) = validate(raw, &served.info)?;
    run_search(&state, ticket, served, query, options, started).await
}

/// Runs a validated query on the worker pool against one state of the collection, and records it in the
/// search analytics (handed to their writer: never waited for).
async fn run_search(
    state: &AppState,
    ticket: crate::pool::Ticket,
    served: std::sync::Arc<crate::Served>,
    query: vsearch_engine::Query,
    options: vsearch_engine::QueryOptions,
    started: std::time::Instant,
) -> Result<Json<SearchResponseDto>, ApiError> {
    let draft = state
        .analytics
        .as_ref()
        .map(|a| SearchDraft::new(&query, &options, a.keeps_queries()));
    let generation = served.info.generation;
    let backend = served.backend.clone();
    let rescorer = state.rescorer();
    // The features of what is shown go with the search into the analytics, for the re-ranker to learn from.
    let keep_features = draft.is_some();
    state.metrics.searches_in_flight.inc();
    let answered = state
        .pool
        .run(ticket, move || {
            let learning = Learning {
                rescorer: rescorer.as_deref(),
                keep_features,
            };
            let response = vsearch_engine::answers::search(&*backend, &query, &options, &learning)?;
            // Each result's flagged and hidden labels, for the page's badges and blur.
            let marks: Vec<(Vec<String>, Vec<String>)> = response
                .results
                .iter()
                .map(|h| backend.marks(h.id))
                .collect();
            Ok::<_, vsearch_engine::EngineError>((response, marks))
        })
        .await;
    state.metrics.searches_in_flight.dec();
    let (response, marks) = answered??;
    state
        .metrics
        .record_search(response.index.name(), response.embed_ms, response.search_ms);
    let search_id = match (&state.analytics, draft) {
        (Some(recorder), Some(draft)) => {
            let id = recorder.next_search_id();
            let mut event = draft.finish(
                id,
                &response.results,
                response.index.name(),
                started.elapsed().as_secs_f64() * 1e3,
            );
            event.features = response
                .ranking
                .as_ref()
                .map(|r| ShownFeatures::of(&r.features));
            if !recorder.record(Event::Search(event)) {
                state.metrics.analytics_dropped.inc();
            }
            Some(id.to_string())
        }
        _ => None,
    };
    let mut dto = SearchResponseDto::new(response, generation);
    dto.search_id = search_id;
    for (result, (flags, hidden)) in dto.results.iter_mut().zip(marks) {
        result.flags = flags;
        result.hidden = hidden;
    }
    Ok(Json(dto))
}

/// The images like an indexed one: the same answer as `POST /api/search` with `{"id": ID}` and these
/// options.
#[utoipa::path(get, path = "/api/images/{id}/similar", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id (a UUID in a Qdrant collection)", minimum = 0), SimilarParams),
    responses(
        (status = 200, description = "Results, best first", body = SearchResponseDto),
        (status = 400, description = "Bad parameter: k or offset out of range, malformed filter, unknown or unbuilt index", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
        (status = 409, description = "The collection holds no images yet", body = ErrorBody),
        (status = 500, description = "The server failed; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn similar(
    State(state): State<AppState>,
    PathId(id): PathId,
    params: Result<UrlQuery<SimilarParams>, QueryRejection>,
) -> Result<Json<SearchResponseDto>, ApiError> {
    let started = std::time::Instant::now();
    let UrlQuery(p) = params.map_err(query_rejection)?;
    let fields = SearchRequest {
        id: Some(id),
        k: p.k,
        offset: p.offset,
        filter: p.filter.as_deref().map(filter_json).transpose()?,
        index: p.index,
        ef_search: p.ef_search,
        nprobe: p.nprobe,
        min_score: p.min_score,
        collapse: p.collapse,
        diversity: p.diversity,
        ..SearchRequest::default()
    };
    let served = state.served();
    let (query, options) = validate(
        UncheckedSearch {
            images: Vec::new(),
            fields,
        },
        &served.info,
    )?;
    let ticket = state.pool.admit()?;
    run_search(&state, ticket, served, query, options, started).await
}

pub(crate) fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query parameters: {}", rejection.body_text()))
}

/// Largest page of `GET /api/images`.
pub const MAX_LIMIT: usize = 1000;
/// Page size of `GET /api/images` when none is given.
pub const DEFAULT_LIMIT: usize = 60;

/// Lists the collection, newest first (EXIF date taken, else file date), then by id; a page at a time.
#[utoipa::path(get, path = "/api/images", tag = "vsearch",
    params(BrowseParams),
    responses(
        (status = 200, description = "A page of images and the total matching the filter", body = BrowseDto),
        (status = 400, description = "Bad parameter: offset or limit out of range, malformed filter", body = ErrorBody),
        (status = 500, description = "The server failed; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn browse(
    State(state): State<AppState>,
    params: Result<UrlQuery<BrowseParams>, QueryRejection>,
) -> Result<Json<BrowseDto>, ApiError> {
    let UrlQuery(p) = params.map_err(query_rejection)?;
    let offset = check_offset(p.offset)?;
    let limit = match p.limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as u64).contains(&l) => l as usize,
        Some(l) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {l}"
            )))
        }
    };
    let filter = url_filter(p.filter.as_deref())?;
    let backend = state.served().backend.clone();
    let ticket = state.pool.admit()?;
    let page = state
        .pool
        .run(ticket, move || {
            backend.browse(offset, limit, filter.as_ref())
        })
        .await??;
    Ok(Json(BrowseDto {
        images: page.images.into_iter().map(ImageDto::from).collect(),
        total: page.total,
        offset,
        limit,
    }))
}

/// The folders and formats of the images a filter keeps, with counts (for a filter bar).
#[utoipa::path(get, path = "/api/facets", tag = "vsearch",
    params(FacetParams),
    responses(
        (status = 200, description = "Folders and formats with their counts", body = FacetsDto),
        (status = 400, description = "Malformed filter", body = ErrorBody),
        (status = 500, description = "The server failed; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn facets(
    State(state): State<AppState>,
    params: Result<UrlQuery<FacetParams>, QueryRejection>,
) -> Result<Json<FacetsDto>, ApiError> {
    let UrlQuery(p) = params.map_err(query_rejection)?;
    let filter = url_filter(p.filter.as_deref())?;
    let backend = state.served().backend.clone();
    let ticket = state.pool.admit()?;
    let facets = state
        .pool
        .run(ticket, move || backend.facets(filter.as_ref()))
        .await??;
    Ok(Json(facets.into()))
}

/// Groups of copies in the collection (exact and near copies), each with the copy to keep first.
#[utoipa::path(get, path = "/api/duplicates", tag = "vsearch",
    params(DuplicatesParams),
    responses(
        (status = 200, description = "Groups of copies, best copy first", body = DuplicatesDto),
        (status = 400, description = "Malformed or out-of-range threshold", body = ErrorBody),
        (status = 500, description = "The server failed; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn duplicates(
    State(state): State<AppState>,
    params: Result<UrlQuery<DuplicatesParams>, QueryRejection>,
) -> Result<Json<DuplicatesDto>, ApiError> {
    let UrlQuery(p) = params.map_err(query_rejection)?;
    let mut options = vsearch_engine::DupesOptions::default();
    if let Some(t) = p.threshold {
        options.threshold = t as f32;
    }
    options.validate()?;
    let backend = state.served().backend.clone();
    let ticket = state.pool.admit()?;
    let groups = state
        .pool
        .run(ticket, move || backend.duplicates(&options))
        .await??;
    Ok(Json(DuplicatesDto {
        threshold: options.threshold,
        groups: groups.into_iter().map(DuplicateGroupDto::from).collect(),
    }))
}

/// One image's metadata.
#[utoipa::path(get, path = "/api/images/{id}/meta", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id (a UUID in a Qdrant collection)", minimum = 0)),
    responses(
        (status = 200, description = "The image's metadata", body = ImageDto),
        (status = 400, description = "The id is not a non-negative integer", body = ErrorBody),
        (status = 404, description = "Unknown id", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
    ))]
pub async fn image_meta(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<ImageDto>, ApiError> {
    Ok(Json(state.served().backend.image_meta(id)?.into()))
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

/// The file of an indexed image, by id (the path comes from the catalog, never from the request). Errors
/// name the image by id only: its path is for the server's log.
async fn read_image(state: &AppState, id: ImageId) -> Result<Content, ApiError> {
    let collection = state.served().backend.clone();
    // The file to read, or the URL the image is served from.
    let located = tokio::task::spawn_blocking(move || match collection.image_url(id)? {
        Some(url) => Ok(Err(url)),
        None => collection.image_path(id).map(Ok),
    })
    .await
    .map_err(|e| {
        ApiError::internal("the catalog lookup failed; the server's log has the details")
            .with_detail(format!("catalog lookup of image {id} failed: {e}"))
    })??;
    match located {
        Ok(path) => tokio::fs::read(&path)
            .await
            .map(Content::Bytes)
            .map_err(|e| unreadable_file(id, &path, e)),
        Err(url) => Ok(Content::Elsewhere(url)),
    }
}

/// An image's content, as [`read_image`] finds it.
enum Content {
    Bytes(Vec<u8>),
    /// Served elsewhere (a Qdrant collection indexed with `--base-url`): answered with a redirect.
    Elsewhere(String),
}

impl Content {
    /// The bytes, or the URL to redirect to instead.
    fn bytes(self) -> Result<Vec<u8>, String> {
        match self {
            Content::Bytes(b) => Ok(b),
            Content::Elsewhere(url) => Err(url),
        }
    }
}

fn unreadable_file(id: ImageId, path: &std::path::Path, err: std::io::Error) -> ApiError {
    let detail = format!("image {id}: {}: {err}", path.display());
    if err.kind() == std::io::ErrorKind::NotFound {
        ApiError::not_found(format!(
            "image {id} is in the collection but its file is gone: run `vsearch index DIR` again to update \
             the collection"
        ))
        .with_detail(detail)
    } else {
        ApiError::internal(format!(
            "cannot read the file of image {id} ({}); the server's log has its path",
            err.kind()
        ))
        .with_detail(detail)
    }
}

/// An indexed file that no longer decodes is the collection's state, not the request's fault: 409.
fn undecodable_file(id: ImageId, err: EngineError) -> ApiError {
    use vsearch_engine::EmbedError as E;
    match &err {
        EngineError::Embed {
            source: E::Decode { .. } | E::Preprocess { .. } | E::TooLarge { .. },
        } => {
            ApiError::conflict(format!(
                "the file of image {id} is no longer an image vsearch reads ({err}): run `vsearch index DIR` \
                 again to update the collection"
            ))
        }
        _ => err.into(),
    }
}

/// An image answer: privately cacheable for an hour, its content type not to be second-guessed.
fn image_response(content_type: &'static str, bytes: Bytes) -> Response {
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

/// The original image file, with its content type (recognised by content); for a video frame, its video,
/// with Range requests (206) so that a player seeks in it.
#[utoipa::path(get, path = "/api/images/{id}", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id (a UUID in a Qdrant collection)", minimum = 0)),
    responses(
        (status = 200, description = "The original bytes (a video frame's: its video's)",
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("image/gif"), ("image/bmp"), ("image/tiff"), ("image/heic"), ("image/avif"),
                ("video/mp4"), ("video/quicktime"), ("video/x-matroska"), ("video/webm"), ("application/octet-stream"))),
        (status = 206, description = "The bytes a Range request asked for, of a video frame's video",
            content(("video/mp4"), ("video/quicktime"), ("video/x-matroska"), ("video/webm"))),
        (status = 416, description = "A Range request outside a video frame's video"),
        (status = 400, description = "The id is not a non-negative integer", body = ErrorBody),
        (status = 404, description = "Unknown id, or its file is gone", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
        (status = 500, description = "The file cannot be read; its path is in the server's log only", body = ErrorBody),
    ))]
pub async fn image(
    State(state): State<AppState>,
    PathId(id): PathId,
    request: Request,
) -> Result<Response, ApiError> {
    let collection = state.served().backend.clone();
    let video = tokio::task::spawn_blocking(move || collection.video_file(id))
        .await
        .map_err(|e| {
            ApiError::internal("the catalog lookup failed; the server's log has the details")
                .with_detail(format!("catalog lookup of image {id} failed: {e}"))
        })??;
    if let Some((path, mime)) = video {
        return serve_video(id, &path, mime, request).await;
    }
    let bytes = match read_image(&state, id).await?.bytes() {
        Ok(bytes) => bytes,
        Err(url) => return Ok(axum::response::Redirect::temporary(&url).into_response()),
    };
    let content_type =
        image_io::sniff_format(&bytes).map_or("application/octet-stream", |f| f.mime_type);
    Ok(image_response(content_type, Bytes::from(bytes)))
}

/// A video file, answering Range requests (206, `Content-Range`) and conditional ones, as `mime`.
async fn serve_video(
    id: ImageId,
    path: &std::path::Path,
    mime: &'static str,
    request: Request,
) -> Result<Response, ApiError> {
    let mut service = match mime.parse::<mime::Mime>() {
        Ok(m) => tower_http::services::ServeFile::new_with_mime(path, &m),
        Err(_) => tower_http::services::ServeFile::new(path),
    };
    let response = service
        .try_call(request)
        .await
        .map_err(|e| unreadable_file(id, path, e))?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(unreadable_file(
            id,
            path,
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    let mut response = response.map(axum::body::Body::new);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// A JPEG thumbnail of at most 256 px: the one the index run kept beside the collection, or made from the
/// image (a large JPEG decoded at a reduced scale); cached in memory.
#[utoipa::path(get, path = "/api/images/{id}/thumbnail", tag = "vsearch",
    params(("id" = u64, Path, description = "Image id (a UUID in a Qdrant collection)", minimum = 0)),
    responses(
        (status = 200, description = "JPEG thumbnail", content(("image/jpeg"))),
        (status = 400, description = "The id is not a non-negative integer", body = ErrorBody),
        (status = 404, description = "Unknown id, or its file is gone", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
        (status = 409, description = "The file is no longer an image vsearch reads: update the collection with `vsearch index DIR`", body = ErrorBody),
        (status = 500, description = "The file cannot be read, or the thumbnail cannot be made; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many requests queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn thumbnail(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    if let Some(cached) = state.thumbnails.get(id) {
        return Ok(image_response("image/jpeg", cached));
    }
    let collection = state.served().backend.clone();
    // The kept one (an image a block hides has none to give: it falls through to the refusal below).
    let kept = tokio::task::spawn_blocking(move || collection.kept_thumbnail(id))
        .await
        .ok()
        .flatten();
    if let Some(jpeg) = kept {
        let jpeg = Bytes::from(jpeg);
        state.thumbnails.insert(id, jpeg.clone());
        return Ok(image_response("image/jpeg", jpeg));
    }
    let bytes = match read_image(&state, id).await?.bytes() {
        Ok(bytes) => bytes,
        Err(url) => return Ok(axum::response::Redirect::temporary(&url).into_response()),
    };
    let ticket = state.pool.admit()?;
    let jpeg = state
        .pool
        .run(ticket, move || thumbnails::make_thumbnail(&bytes))
        .await?
        .map_err(|e| undecodable_file(id, e))?;
    let jpeg = Bytes::from(jpeg);
    state.thumbnails.insert(id, jpeg.clone());
    Ok(image_response("image/jpeg", jpeg))
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
