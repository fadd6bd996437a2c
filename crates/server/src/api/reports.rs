//! User reports and the review queue over HTTP: `POST /api/images/{id}/reports` (open to visitors),
//! `GET /api/reports/policy` (open: the reasons the page offers), `GET /api/reports` and
//! `POST /api/reports/{case_id}/resolve` (admin token, as the block endpoints).
//!
//! A reporter is the opaque id the page keeps plus the client's address (the server is served with
//! connect info; behind no proxy, the socket's peer). The engine stores both as keyed digests only
//! ([`vsearch_engine::reports::store`]), counts one report per image per reporter, and refuses an
//! address over the policy's rate with 429 and `Retry-After`. Notes and reasons are bounded by the
//! policy, the whole body by [`MAX_REPORT_BODY`]. A report that reaches the policy's threshold hides the
//! image pending review at once (the handler serves the state the engine returns, as a block does).

use crate::api::blocks::{authorize, NearDto, DEFAULT_ACTOR, MAX_TEXT_CHARS};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use vsearch_engine::blocks::Reach;
use vsearch_engine::reports::{self, CaseOrder, CaseStatus, CaseView, NewReport, Resolution};
use vsearch_engine::ImageId;

/// Largest report body, in bytes (a note of the longest policy allows, in UTF-8, and room for the rest).
pub const MAX_REPORT_BODY: usize = 48 * 1024;
/// Most cases one listing returns.
pub const MAX_CASES: usize = 1000;

/// A report of an image.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// One of the policy's reasons (`GET /api/reports/policy`).
    #[schema(min_length = 1, max_length = 64)]
    pub reason: String,
    /// An optional note (at most the policy's `max_note_chars`).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// The opaque id the reporter's page keeps (1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub reporter: String,
}

/// What a report did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportReceiptDto {
    /// The image's open case.
    pub case: u64,
    /// `false` when this reporter had reported the image already (counted once).
    pub counted: bool,
    /// Distinct reporters of the case within the policy's window.
    pub reporters: u32,
    /// Whether this report hid the image pending review.
    pub hidden: bool,
}

/// The report policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportPolicyDto {
    /// The reasons a report may give.
    pub reasons: Vec<String>,
    /// Distinct reporters within `window_secs` that hide an image pending review (0: never).
    pub hide_after: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// Reports one address may file per minute.
    pub per_minute: u32,
    /// Longest note, in characters.
    pub max_note_chars: usize,
}

/// `GET /api/reports` options.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasesParams {
    /// `open` (default), `blocked`, `dismissed` or `all`.
    pub status: Option<String>,
    /// `oldest` (default) or `most_reported`.
    pub order: Option<String>,
    /// Most cases returned (default and at most 1000).
    pub limit: Option<usize>,
}

/// A reason and how many reports gave it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonCountDto {
    pub reason: String,
    pub reports: u32,
}

/// One report of a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseReportDto {
    pub id: u64,
    pub reason: String,
    pub note: Option<String>,
    /// RFC 3339.
    pub at: String,
    /// The reporter's short digest (the same reporter, the same digest).
    pub reporter: String,
}

/// A verified copy of a case's image.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CopyDto {
    /// Its id (a number, or a UUID for Qdrant collections).
    #[schema(value_type = String)]
    pub id: ImageId,
    pub path: String,
    /// Embedding cosine to the case's image.
    pub cosine: f32,
}

/// A case of the review queue: one image and its reports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseDto {
    pub id: u64,
    /// The image (a number, or a UUID for Qdrant collections).
    #[schema(value_type = String)]
    pub image: ImageId,
    /// Its path relative to the indexed folder.
    pub path: String,
    /// `open`, `blocked` or `dismissed`.
    pub status: String,
    /// RFC 3339.
    pub opened_at: String,
    /// Distinct reporters.
    pub reporters: u32,
    /// Reports grouped by reason, most given first.
    pub reasons: Vec<ReasonCountDto>,
    pub reports: Vec<CaseReportDto>,
    /// Whether the policy hides the image pending review now.
    pub hidden_pending_review: bool,
    /// The block that hides (or hid) it pending review.
    pub hold_block: Option<u64>,
    /// Its labels (flags and hiding labels).
    pub labels: Vec<String>,
    /// Its verified copies (the same content, or re-encoded, resized, cropped, flipped versions),
    /// closest first; empty for closed cases and where the collection cannot verify copies.
    pub copies: Vec<CopyDto>,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub close_reason: Option<String>,
    /// The block a resolve-block made.
    pub block: Option<u64>,
}

impl From<CaseView> for CaseDto {
    fn from(v: CaseView) -> Self {
        Self {
            id: v.id,
            image: v.image,
            path: v.path,
            status: v.status.as_str().into(),
            opened_at: v.opened_at,
            reporters: v.reporters,
            reasons: v
                .reasons
                .into_iter()
                .map(|r| ReasonCountDto {
                    reason: r.reason,
                    reports: r.reports,
                })
                .collect(),
            reports: v
                .reports
                .into_iter()
                .map(|r| CaseReportDto {
                    id: r.id,
                    reason: r.reason,
                    note: r.note,
                    at: r.at,
                    reporter: r.reporter,
                })
                .collect(),
            hidden_pending_review: v.hidden_pending_review,
            hold_block: v.hold_block,
            labels: v.labels,
            copies: v
                .copies
                .into_iter()
                .map(|n| CopyDto {
                    id: n.id,
                    path: n.path,
                    cosine: n.cosine,
                })
                .collect(),
            closed_at: v.closed_at,
            closed_by: v.closed_by,
            close_reason: v.close_reason,
            block: v.block,
        }
    }
}

/// The review queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CasesDto {
    pub cases: Vec<CaseDto>,
}

/// How to resolve a case.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `block` (block the image; with `near`, its copies or near images too) or `dismiss` (no action:
    /// the image shows again).
    #[schema(pattern = "^(block|dismiss)$")]
    pub action: String,
    /// For `block`: the reach, as `POST /api/blocks` takes it.
    #[serde(default)]
    pub near: Option<NearDto>,
    /// Why (required for `dismiss`; for `block`, default: the case and its reasons).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: Option<String>,
    /// Who, for the record (default `api-admin`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub by: Option<String>,
}

/// The client's address: the socket's peer when the server runs with connect info, else `unknown`.
fn client_address(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

fn parse_image_id(raw: &str) -> Result<ImageId, ApiError> {
    raw.parse::<ImageId>().map_err(ApiError::bad_request)
}

/// Runs `f` on the blocking pool against the state served now.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    what: &'static str,
    f: impl FnOnce(&dyn crate::SearchBackend) -> vsearch_engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let backend = state.served().backend.clone();
    let result = tokio::task::spawn_blocking(move || f(backend.as_ref()))
        .await
        .map_err(|e| ApiError::internal(what).with_detail(e))?;
    Ok(result?)
}

/// Reports an image (open to visitors: no token). One report per image per reporter; enough distinct
/// reporters within the policy's window hide the image pending review.
#[utoipa::path(post, path = "/api/images/{id}/reports", tag = "reports",
    params(("id" = String, Path, description = "Image id")),
    request_body(content = ReportRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The report was counted", body = ReportReceiptDto),
        (status = 200, description = "This reporter had reported the image already: counted once", body = ReportReceiptDto),
        (status = 400, description = "Malformed JSON, a reason not in the policy, a note over its limit, no reporter id", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 410, description = "The image is hidden already", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 429, description = "Too many reports from this address; `Retry-After` says when to retry", body = ErrorBody),
        (status = 409, description = "The collection keeps no records folder (a Qdrant collection served without --root or --state)", body = ErrorBody),
    ))]
pub async fn create_report(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ReportReceiptDto>), ApiError> {
    let image = parse_image_id(&raw)?;
    let body = body?;
    if body.len() > MAX_REPORT_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a report body is at most {MAX_REPORT_BODY} bytes"),
        ));
    }
    let request: ReportRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad report: {e}")))?;
    let report = NewReport {
        image,
        reason: request.reason,
        note: request.note,
        reporter: request.reporter,
        address: client_address(&extensions),
    };
    // In order with the block changes: a report may hide the image.
    let _in_order = state.block_changes.lock().await;
    let (receipt, next) = blocking(&state, "filing the report failed", move |backend| {
        reports::submit(backend, report)
    })
    .await?;
    if let Some(next) = next {
        state.replace(next);
    }
    let status = if receipt.counted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ReportReceiptDto {
            case: receipt.case,
            counted: receipt.counted,
            reporters: receipt.reporters,
            hidden: receipt.hidden,
        }),
    ))
}

/// The report policy: the reasons a report may give, the hiding threshold and the rate limit (open).
#[utoipa::path(get, path = "/api/reports/policy", tag = "reports",
    responses(
        (status = 200, description = "The report policy", body = ReportPolicyDto),
        (status = 409, description = "The collection keeps no records folder (a Qdrant collection served without --root or --state)", body = ErrorBody),
    ))]
pub async fn report_policy(
    State(state): State<AppState>,
) -> Result<Json<ReportPolicyDto>, ApiError> {
    let p = blocking(&state, "reading the report policy failed", |backend| {
        reports::queue::open_store(backend)?.policy()
    })
    .await?;
    Ok(Json(ReportPolicyDto {
        reasons: p.reasons,
        hide_after: p.hide_after,
        window_secs: p.window_secs,
        per_minute: p.per_minute,
        max_note_chars: p.max_note_chars,
    }))
}

/// The review queue: cases (an image, its reports by reason, its distinct reporters, its copies and
/// labels), oldest or most reported first (admin token required).
#[utoipa::path(get, path = "/api/reports", tag = "reports",
    security(("admin_token" = [])),
    params(CasesParams),
    responses(
        (status = 200, description = "The cases", body = CasesDto),
        (status = 400, description = "Bad parameters", body = ErrorBody),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one", body = ErrorBody),
        (status = 409, description = "The collection keeps no records folder", body = ErrorBody),
    ))]
pub async fn list_cases(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<UrlQuery<CasesParams>, QueryRejection>,
) -> Result<Json<CasesDto>, ApiError> {
    authorize(&state, &headers)?;
    let UrlQuery(p) = params
        .map_err(|r| ApiError::bad_request(format!("bad query parameters: {}", r.body_text())))?;
    let status = match p.status.as_deref().unwrap_or("open") {
        "open" => Some(CaseStatus::Open),
        "blocked" => Some(CaseStatus::Blocked),
        "dismissed" => Some(CaseStatus::Dismissed),
        "all" => None,
        other => {
            return Err(ApiError::bad_request(format!(
                "status must be open, blocked, dismissed or all, not `{}`",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    let order = match p.order.as_deref().unwrap_or("oldest") {
        "oldest" => CaseOrder::Oldest,
        "most_reported" => CaseOrder::MostReported,
        other => {
            return Err(ApiError::bad_request(format!(
                "order must be oldest or most_reported, not `{}`",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    let limit = p.limit.unwrap_or(MAX_CASES).clamp(1, MAX_CASES);
    let cases = blocking(&state, "listing the reports failed", move |backend| {
        reports::list(backend, status, order, limit)
    })
    .await?;
    Ok(Json(CasesDto {
        cases: cases.into_iter().map(CaseDto::from).collect(),
    }))
}

/// Resolves a case: `block` (the image, and with `near` its copies or near images, as `POST /api/blocks`
/// does; the hold pending review is replaced) or `dismiss` (the image shows again). Admin token required.
#[utoipa::path(post, path = "/api/reports/{case_id}/resolve", tag = "reports",
    security(("admin_token" = [])),
    params(("case_id" = u64, Path, description = "Case id", minimum = 0)),
    request_body(content = ResolveRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The closed case", body = CaseDto),
        (status = 400, description = "Malformed JSON, unknown action, a dismissal without a reason, bad `near`", body = ErrorBody),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one", body = ErrorBody),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "The case is closed already, or the collection keeps no records folder", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
    ))]
pub async fn resolve_case(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CaseDto>, ApiError> {
    authorize(&state, &headers)?;
    let case_id: u64 = raw.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "case id must be a non-negative integer, got '{}'",
            raw.chars().take(64).collect::<String>()
        ))
    })?;
    let body = body?;
    let request: ResolveRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad resolution: {e}")))?;
    for (what, text) in [("reason", &request.reason), ("by", &request.by)] {
        if let Some(text) = text {
            if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
                return Err(ApiError::bad_request(format!(
                    "`{what}` must hold 1 to {MAX_TEXT_CHARS} characters"
                )));
            }
        }
    }
    let resolution = match request.action.as_str() {
        "block" => Resolution::Block {
            reach: match request.near {
                None | Some(NearDto::Copies(false)) => Reach::Example,
                Some(NearDto::Copies(true)) => Reach::Copies,
                Some(NearDto::Within(t)) if t.is_finite() && t > 0.0 && t <= 1.0 => {
                    Reach::Within {
                        threshold: t as f32,
                    }
                }
                Some(NearDto::Within(t)) => {
                    return Err(ApiError::bad_request(format!(
                        "`near` must be true, false or a cosine similarity above 0 and at most 1, not {t}"
                    )))
                }
            },
            reason: request.reason,
        },
        "dismiss" => Resolution::Dismiss {
            reason: request.reason.ok_or_else(|| {
                ApiError::bad_request("a dismissal needs a `reason` (it goes to the audit log)")
            })?,
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "`action` must be `block` or `dismiss`, not `{}`",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    let by = request.by.unwrap_or_else(|| DEFAULT_ACTOR.into());
    let _in_order = state.block_changes.lock().await;
    let (view, next): (CaseView, Option<Arc<dyn crate::SearchBackend>>) =
        blocking(&state, "resolving the case failed", move |backend| {
            reports::resolve(backend, case_id, resolution, &by)
        })
        .await?;
    if let Some(next) = next {
        state.replace(next);
    }
    Ok(Json(view.into()))
}
