//! Search analytics over HTTP: `POST /api/analytics/events` (what the page opens, pins or views; open to
//! page visitors) and `GET /api/analytics` (the report; admin token).
//!
//! Each search answer carries a `search_id`; the page sends it back with the position of what it opens
//! from that answer, which makes the click-through rate and mean reciprocal rank. What is kept, for how
//! long and how to delete it: [`vsearch_engine::analytics`].

use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vsearch_engine::analytics::report as engine;
use vsearch_engine::analytics::{Action, ActionEvent, Event, SearchId};
use vsearch_engine::ImageId;

/// Largest body of `POST /api/analytics/events`, in bytes.
pub const MAX_EVENT_BYTES: usize = 1024;
/// Largest position an event may name (the largest page is 1000 results; pages follow one another).
pub const MAX_POSITION: u32 = 1_000_000;
/// Days of `GET /api/analytics` when none is given.
pub const DEFAULT_DAYS: u32 = 7;
/// Most days `GET /api/analytics` covers.
pub const MAX_DAYS: u32 = 366;

/// What the page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionDto {
    /// Opened a result of a search (give `search_id` and `position`).
    Open,
    /// Pinned an image to the board.
    Pin,
    /// Viewed an image opened some other way (browsing, a link).
    View,
}

/// One action of the page on an image.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsEventRequest {
    pub action: ActionDto,
    /// The image (a number; a UUID in a Qdrant collection).
    #[schema(schema_with = super::dto::image_id_schema)]
    pub id: ImageId,
    /// The `search_id` of the answer that showed it.
    #[serde(default)]
    #[schema(pattern = "^[0-9a-f]{16}$")]
    pub search_id: Option<String>,
    /// Its 1-based position in that answer.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub position: Option<u32>,
}

/// Whether an event was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventRecordedDto {
    /// `false` when this server records no analytics (`--no-analytics`) or its queue was full.
    pub recorded: bool,
}

/// `GET /api/analytics` options.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Whole UTC days to cover, the last being today (default 7, at most 366).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
}

/// Records what the page opened, pinned or viewed (no token: the page's visitors send it).
#[utoipa::path(post, path = "/api/analytics/events", tag = "analytics",
    request_body(content = AnalyticsEventRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Taken (or not, when analytics are off)", body = EventRecordedDto),
        (status = 400, description = "Malformed event", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 410, description = "A block (takedown) hides this image", body = ErrorBody),
        (status = 413, description = "Body over 1 KiB", body = ErrorBody),
        (status = 500, description = "The image could not be looked up; the details are in the server's log only", body = ErrorBody),
        (status = 503, description = "The vector database is unavailable; retry after the given seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
pub async fn record_event(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EventRecordedDto>), ApiError> {
    let body = body?;
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an analytics event is at most {MAX_EVENT_BYTES} bytes"),
        ));
    }
    let request: AnalyticsEventRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad analytics event: {e}")))?;
    let search = request
        .search_id
        .as_deref()
        .map(str::parse::<SearchId>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    if let Some(p) = request.position {
        if p == 0 || p > MAX_POSITION {
            return Err(ApiError::bad_request(format!(
                "`position` is 1-based and at most {MAX_POSITION}, got {p}"
            )));
        }
    }
    let Some(recorder) = &state.analytics else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(EventRecordedDto { recorded: false }),
        ));
    };
    // The image's folder and labels now (for reports per 1,000 views); unknown or blocked ids refused.
    let backend = state.served().backend.clone();
    let id = request.id;
    let meta = tokio::task::spawn_blocking(move || backend.image_meta(id))
        .await
        .map_err(|e| ApiError::internal("looking up the image failed").with_detail(e))??;
    let mut labels = meta.flags;
    labels.extend(meta.hidden);
    labels.sort();
    labels.dedup();
    let event = ActionEvent {
        at_ms: vsearch_engine::analytics::now_ms(),
        action: match request.action {
            ActionDto::Open => Action::Open,
            ActionDto::Pin => Action::Pin,
            ActionDto::View => Action::View,
        },
        image: id,
        search,
        position: request.position,
        folder: meta.folder,
        labels,
    };
    let recorded = recorder.record(Event::Action(event));
    if !recorded {
        state.metrics.analytics_dropped.inc();
    }
    Ok((StatusCode::ACCEPTED, Json(EventRecordedDto { recorded })))
}

/// The search analytics of the last days (admin token required).
#[utoipa::path(get, path = "/api/analytics", tag = "analytics",
    security(("admin_token" = [])),
    params(AnalyticsParams),
    responses(
        (status = 200, description = "The report", body = AnalyticsReportDto),
        (status = 400, description = "`days` out of range", body = ErrorBody),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one (admin endpoints off)", body = ErrorBody),
        (status = 409, description = "This server records no analytics (`--no-analytics`, or a collection without a records folder)", body = ErrorBody),
        (status = 500, description = "The analytics could not be read; the details are in the server's log only", body = ErrorBody),
    ))]
pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<UrlQuery<AnalyticsParams>, QueryRejection>,
) -> Result<Json<AnalyticsReportDto>, ApiError> {
    super::blocks::authorize(&state, &headers)?;
    let UrlQuery(p) = params
        .map_err(|r| ApiError::bad_request(format!("bad query parameters: {}", r.body_text())))?;
    let days = p.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    if state.analytics.is_none() {
        return Err(ApiError::conflict(
            "this server records no search analytics: it was started with --no-analytics, or its collection \
             keeps no records folder; read what an earlier server recorded with `vsearch analytics`",
        ));
    }
    let shared = state.clone();
    let backend = state.served().backend.clone();
    // The reports store's cases join here (reports per 1,000 views, time to resolution).
    let report = tokio::task::spawn_blocking(move || match &shared.analytics {
        Some(recorder) => {
            let reported = match backend.records_dir() {
                Some(dir) => vsearch_engine::reports::queue::reported_images(&dir)?,
                None => Vec::new(),
            };
            recorder.report(days, &reported).map(Some)
        }
        None => Ok(None),
    })
    .await
    .map_err(|e| ApiError::internal("the analytics report failed").with_detail(e))??;
    let report = report.ok_or_else(|| ApiError::internal("analytics stopped"))?;
    Ok(Json(report.into()))
}

/// The analytics report (see `vsearch_engine::analytics::report` for each figure's definition).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AnalyticsReportDto {
    /// Whole UTC days covered, the last being today.
    pub days: u32,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// Searches answered.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero_result_searches: u64,
    /// `zero_result_searches / searches` (0 without searches).
    pub zero_result_rate: f64,
    /// Searches from whose answer at least one result was opened.
    pub searches_with_open: u64,
    /// `searches_with_open / searches`.
    pub click_through_rate: f64,
    /// Mean over searches of 1 / the best position opened (0 for a search with no open).
    pub mrr: f64,
    pub opens: u64,
    pub pins: u64,
    /// Views of images (opens included).
    pub views: u64,
    /// Every day of the window, oldest first.
    pub per_day: Vec<DayFiguresDto>,
    /// Searches by kind of query (`image`, `id`, `text`, `vector`, `board`).
    pub query_kinds: Vec<CountDto>,
    /// Searches by filter key used.
    pub filter_keys: Vec<CountDto>,
    /// Latency (request to answer) per index kind.
    pub latency: Vec<IndexLatencyDto>,
    pub reports_per_1000_views: ReportRatesDto,
    pub resolution: ResolutionDto,
}

/// One day's figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayFiguresDto {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub searches: u64,
    pub zero_results: u64,
    /// Searches with at least one result opened.
    pub with_open: u64,
}

/// A count by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CountDto {
    pub name: String,
    pub count: u64,
}

/// Latency of one index kind, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexLatencyDto {
    pub index: String,
    pub searches: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reports per 1,000 views.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportRatesDto {
    pub by_folder: Vec<GroupRateDto>,
    pub by_label: Vec<GroupRateDto>,
}

/// The reports and views of one folder or label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupRateDto {
    pub name: String,
    pub views: u64,
    pub reports: u64,
    /// `null` without views.
    pub per_1000_views: Option<f64>,
}

/// Time from first report to resolution.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolutionDto {
    /// Images first reported in the window.
    pub reported: u64,
    /// Images resolved in the window.
    pub resolved: u64,
    /// Median hours from first report to resolution; `null` when none was resolved.
    pub median_hours: Option<f64>,
}

fn counts(v: Vec<engine::Count>) -> Vec<CountDto> {
    v.into_iter()
        .map(|c| CountDto {
            name: c.name,
            count: c.count,
        })
        .collect()
}

fn rates(v: Vec<engine::GroupRate>) -> Vec<GroupRateDto> {
    v.into_iter()
        .map(|g| GroupRateDto {
            name: g.name,
            views: g.views,
            reports: g.reports,
            per_1000_views: g.per_1000_views,
        })
        .collect()
}

impl From<engine::AnalyticsReport> for AnalyticsReportDto {
    fn from(r: engine::AnalyticsReport) -> Self {
        Self {
            days: r.days,
            from: r.from,
            to: r.to,
            searches: r.searches,
            zero_result_searches: r.zero_result_searches,
            zero_result_rate: r.zero_result_rate,
            searches_with_open: r.searches_with_open,
            click_through_rate: r.click_through_rate,
            mrr: r.mrr,
            opens: r.opens,
            pins: r.pins,
            views: r.views,
            per_day: r
                .per_day
                .into_iter()
                .map(|d| DayFiguresDto {
                    day: d.day,
                    searches: d.searches,
                    zero_results: d.zero_results,
                    with_open: d.with_open,
                })
                .collect(),
            query_kinds: counts(r.query_kinds),
            filter_keys: counts(r.filter_keys),
            latency: r
                .latency
                .into_iter()
                .map(|l| IndexLatencyDto {
                    index: l.index,
                    searches: l.searches,
                    p50_ms: l.p50_ms,
                    p99_ms: l.p99_ms,
                })
                .collect(),
            reports_per_1000_views: ReportRatesDto {
                by_folder: rates(r.reports_per_1000_views.by_folder),
                by_label: rates(r.reports_per_1000_views.by_label),
            },
            resolution: ResolutionDto {
                reported: r.resolution.reported,
                resolved: r.resolution.resolved,
                median_hours: r.resolution.median_hours,
            },
        }
    }
}
