//! `GET /api/recommend`: a feed of images for a board of pinned examples (the page's "More like your
//! board"), or the collection's representative images without one (see
//! [`vsearch_engine::answers::recommend()`]).
//!
//! The board is the same JSON as a board search's `positive` and `negative` (and as the page's links
//! carry it in their `board` parameter): `board={"positive": [{"id": 3}, {"id": 7}], "negative": []}`,
//! URL-encoded.

use super::dto::{ExampleDto, RankingDto, SearchRequest, SearchResponseDto, SearchResultDto};
use super::handlers::query_rejection;
use super::request::{check_diversity, check_offset, validate, UncheckedSearch, MAX_K};
use crate::error::{ApiError, ErrorBody, EMPTY_COLLECTION};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as UrlQuery, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vsearch_engine::answers::{self, RecommendOptions};
use vsearch_engine::{Board, Query};

/// Results of a feed page when the request gives no `k`.
pub const DEFAULT_FEED_K: usize = 20;

/// Parameters of `GET /api/recommend`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendParams {
    /// The board, URL-encoded JSON: `{"positive": [examples], "negative": [examples]}` with the
    /// examples of a board search (`id`, `text`, `vector`, each with `weight` and, for `id`, `crop`).
    /// Absent: the collection's representative images (one per cluster).
    pub board: Option<String>,
    /// Results per page, 1 to 1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub k: Option<u64>,
    /// Results to skip, for pages.
    #[param(minimum = 0, maximum = 100000)]
    pub offset: Option<u64>,
    /// Diversity, 0 to 1 (default 0.3).
    #[param(minimum = 0, maximum = 1)]
    pub diversity: Option<f64>,
}

/// The board of `board=...`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardParam {
    #[serde(default)]
    positive: Vec<ExampleDto>,
    #[serde(default)]
    negative: Vec<ExampleDto>,
}

/// `GET /api/recommend`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecommendDto {
    /// Best first; none of the board's own images or their copies, no blocked or hidden image.
    pub results: Vec<SearchResultDto>,
    /// Whether more results follow this page.
    pub more: bool,
    /// Whether there was no board: the results are the collection's representative images, the medoid of
    /// each cluster of its vectors, largest cluster first.
    pub cold_start: bool,
    /// Searches made (the board and each group of alike examples), or clusters made (cold start).
    pub clusters: usize,
    /// The generation of the collection that answered.
    pub generation: u64,
    /// What the ranking stage did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingDto>,
}

/// A feed of unseen images like a board of pinned examples, or the collection's representative images.
#[utoipa::path(get, path = "/api/recommend", tag = "vsearch",
    params(RecommendParams),
    responses(
        (status = 200, description = "A page of the feed", body = RecommendDto),
        (status = 400, description = "Bad parameter: malformed board, k, offset or diversity out of range", body = ErrorBody),
        (status = 404, description = "A board example names an unknown image", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides a board example", body = ErrorBody),
        (status = 409, description = "The collection holds no images yet", body = ErrorBody),
        (status = 500, description = "The server failed; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "Too many queries queued", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn recommend(
    State(state): State<AppState>,
    params: Result<UrlQuery<RecommendParams>, QueryRejection>,
) -> Result<Json<RecommendDto>, ApiError> {
    let UrlQuery(p) = params.map_err(query_rejection)?;
    let k = match p.k {
        None => DEFAULT_FEED_K,
        Some(k) if (1..=MAX_K as u64).contains(&k) => k as usize,
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "k must be between 1 and {MAX_K}, got {k}"
            )))
        }
    };
    let offset = check_offset(p.offset)?;
    let diversity = check_diversity(p.diversity)?;
    let served = state.served();
    let board = match p.board.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(raw) => {
            let parsed: BoardParam = serde_json::from_str(raw).map_err(|e| {
                ApiError::bad_request(format!(
                    "board: expected JSON {{\"positive\": [...], \"negative\": [...]}}: {e}"
                ))
            })?;
            let fields = SearchRequest {
                positive: Some(parsed.positive),
                negative: Some(parsed.negative),
                ..SearchRequest::default()
            };
            let (query, _) = validate(
                UncheckedSearch {
                    images: Vec::new(),
                    fields,
                },
                &served.info,
            )?;
            match query {
                Query::Board(b) => Some(b),
                other => Some(Board {
                    positive: vec![vsearch_engine::Example::new(other)],
                    negative: Vec::new(),
                }),
            }
        }
    };
    if served.info.count == 0 {
        return Err(ApiError::conflict(EMPTY_COLLECTION));
    }
    let options = RecommendOptions {
        k,
        offset,
        diversity,
    };
    let ticket = state.pool.admit()?;
    let rescorer = state.rescorer();
    let generation = served.info.generation;
    let answered = state
        .pool
        .run(ticket, move || {
            let backend = served.backend.clone();
            let feed = answers::recommend(
                &*backend,
                board.as_ref(),
                &options,
                rescorer.as_deref(),
                || served.cold_start(),
            )?;
            let marks: Vec<(Vec<String>, Vec<String>)> = feed
                .response
                .results
                .iter()
                .map(|r| backend.marks(r.id))
                .collect();
            Ok::<_, vsearch_engine::EngineError>((feed, marks))
        })
        .await;
    let (feed, marks) = answered??;
    let (cold_start, clusters) = (feed.cold_start, feed.clusters);
    let mut dto = SearchResponseDto::new(feed.response, generation);
    for (result, (flags, hidden)) in dto.results.iter_mut().zip(marks) {
        result.flags = flags;
        result.hidden = hidden;
    }
    Ok(Json(RecommendDto {
        results: dto.results,
        more: dto.more,
        cold_start,
        clusters,
        generation,
        ranking: dto.ranking,
    }))
}
