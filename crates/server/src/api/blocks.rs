//! Takedowns over HTTP: `GET /api/blocks`, `POST /api/blocks`, `DELETE /api/blocks/{block_id}`.
//!
//! All three need the server's admin token (`vsearch serve --admin-token TOKEN` or `VSEARCH_ADMIN_TOKEN`)
//! as `Authorization: Bearer TOKEN`: without the header they answer 401, with a wrong token (or on a
//! server started without one, where they are off) 403. The token is compared in constant time (the
//! blake3 digests of both, whose equality is constant-time). The listing needs the token too: it names
//! the files a takedown hides. A change takes effect at once: the handler serves the state the engine
//! returns, with the new hidden set.

use crate::api::dto::image_id_schema;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use vsearch_engine::blocks::{BlockSource, BlockView, NewBlock, Reach};
use vsearch_engine::ImageId;

/// Who a change is recorded as when the request does not say.
pub const DEFAULT_ACTOR: &str = "api-admin";
/// Longest `reason` or `by`, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// The reach of a new block: `false` (or absent) the example alone, `true` the example and its copies,
/// a number everything within that cosine similarity of the example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NearDto {
    /// `true`: the example and its copies; `false`: the example alone.
    Copies(bool),
    /// Everything whose cosine similarity to the example is at least this (above 0, at most 1).
    Within(f64),
}

/// A block to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// The indexed image to block: a number; a UUID in a Qdrant collection.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// The reach (default `false`: the example alone).
    #[serde(default)]
    pub near: Option<NearDto>,
    /// Why (required).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    /// Who, for the record (default `api-admin`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub by: Option<String>,
}

/// `DELETE /api/blocks/{block_id}` options.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnblockParams {
    /// Who, for the record (default `api-admin`).
    pub by: Option<String>,
    /// Why, for the record.
    pub reason: Option<String>,
}

/// The example of a block.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockExampleDto {
    /// The indexed id, when the example is (or was) an indexed image: a number; a UUID in a Qdrant
    /// collection.
    #[schema(schema_with = image_id_schema)]
    pub id: Option<ImageId>,
    /// Its path relative to the indexed folder, or the file name given.
    pub path: Option<String>,
    /// blake3 of its bytes, hex.
    pub hash: Option<String>,
}

/// The reach of a block.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReachDto {
    /// `example` (the example alone), `copies` (and its copies) or `within` (within `threshold`).
    pub kind: String,
    /// Cosine similarity (`within` only).
    pub threshold: Option<f32>,
}

/// An image a block hides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HiddenImageDto {
    /// Image id: a number; a UUID in a Qdrant collection.
    #[schema(schema_with = image_id_schema)]
    pub id: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
}

/// A block and what it hides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockDto {
    /// The block's id.
    pub id: u64,
    /// Who made it.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
    /// Why.
    pub reason: String,
    pub example: BlockExampleDto,
    pub reach: ReachDto,
    /// The images it hides (for a lifted block: the images it hid, now shown again).
    pub hides: Vec<HiddenImageDto>,
}

impl From<BlockView> for BlockDto {
    fn from(v: BlockView) -> Self {
        let (kind, threshold) = match v.reach {
            Reach::Example => ("example", None),
            Reach::Copies => ("copies", None),
            Reach::Within { threshold } => ("within", Some(threshold)),
        };
        Self {
            id: v.id,
            by: v.by,
            at: v.at,
            reason: v.reason,
            example: BlockExampleDto {
                id: v.example.id,
                path: v.example.path,
                hash: v.example.hash,
            },
            reach: ReachDto {
                kind: kind.into(),
                threshold,
            },
            hides: v
                .hides
                .into_iter()
                .map(|h| HiddenImageDto {
                    id: h.id,
                    path: h.path,
                })
                .collect(),
        }
    }
}

/// The blocks in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlocksDto {
    pub blocks: Vec<BlockDto>,
    /// Images they hide, all blocks together.
    pub hidden: usize,
}

/// Checks the request's `Authorization: Bearer TOKEN` against the server's admin token.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(given) = given else {
        return Err(ApiError::unauthorized(
            "the admin endpoints (blocks, the review queue, analytics) need the server's admin token as `Authorization: Bearer TOKEN` \
             (the server is started with `vsearch serve --admin-token TOKEN` or VSEARCH_ADMIN_TOKEN)",
        ));
    };
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError::forbidden(
            "this server was started without an admin token: the admin endpoints are off \
             (start it with `vsearch serve --admin-token TOKEN`, or use `vsearch block` and `vsearch reports` on the collection)",
        ));
    };
    // blake3::Hash's equality is constant-time; hashing first also hides the token's length.
    if blake3::hash(given.as_bytes()) != blake3::hash(expected.as_bytes()) {
        return Err(ApiError::forbidden("wrong admin token"));
    }
    Ok(())
}

fn check_text(what: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(format!("`{what}` must not be empty")));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(format!(
            "`{what}` is over {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

/// Lists the blocks in force and what each hides (admin token required).
#[utoipa::path(get, path = "/api/blocks", tag = "blocks",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The blocks in force", body = BlocksDto),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one (block endpoints off)", body = ErrorBody),
    ))]
pub async fn list_blocks(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<BlocksDto>, ApiError> {
    authorize(&state, &headers)?;
    let backend = state.served().backend.clone();
    let blocks = tokio::task::spawn_blocking(move || backend.blocks())
        .await
        .map_err(|e| ApiError::internal("listing the blocks failed").with_detail(e))??;
    let hidden: std::collections::HashSet<ImageId> = blocks
        .iter()
        .flat_map(|b| b.hides.iter().map(|h| h.id))
        .collect();
    Ok(Json(BlocksDto {
        hidden: hidden.len(),
        blocks: blocks.into_iter().map(BlockDto::from).collect(),
    }))
}

/// Blocks an indexed image and, with `near`, its copies (`true`) or everything within a cosine
/// similarity (a number); hidden from every search and listing at once (admin token required).
#[utoipa::path(post, path = "/api/blocks", tag = "blocks",
    security(("admin_token" = [])),
    request_body(content = BlockRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The block, with what it hides", body = BlockDto),
        (status = 400, description = "Malformed JSON, empty reason, threshold out of range", body = ErrorBody),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one (block endpoints off)", body = ErrorBody),
        (status = 404, description = "Unknown image id", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 500, description = "The blocks could not be written; the details are in the server's log only", body = ErrorBody),
    ))]
pub async fn create_block(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<BlockDto>), ApiError> {
    authorize(&state, &headers)?;
    let body = body?;
    let request: BlockRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad block request: {e}")))?;
    check_text("reason", &request.reason)?;
    if let Some(by) = &request.by {
        check_text("by", by)?;
    }
    let reach = match request.near {
        None | Some(NearDto::Copies(false)) => Reach::Example,
        Some(NearDto::Copies(true)) => Reach::Copies,
        Some(NearDto::Within(t)) if t.is_finite() && t > 0.0 && t <= 1.0 => Reach::Within {
            threshold: t as f32,
        },
        Some(NearDto::Within(t)) => {
            return Err(ApiError::bad_request(format!(
                "`near` must be true, false or a cosine similarity above 0 and at most 1, not {t}"
            )))
        }
    };
    let new = NewBlock {
        source: BlockSource::Id(request.id),
        reach,
        reason: request.reason,
        by: request.by.unwrap_or_else(|| DEFAULT_ACTOR.into()),
    };
    let _in_order = state.block_changes.lock().await;
    let (view, next) = change(&state, move |backend| backend.add_block(new)).await?;
    state.replace(next);
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Lifts a block: what it hid shows again at once (admin token required).
#[utoipa::path(delete, path = "/api/blocks/{block_id}", tag = "blocks",
    security(("admin_token" = [])),
    params(("block_id" = u64, Path, description = "Block id", minimum = 0), UnblockParams),
    responses(
        (status = 200, description = "The lifted block, with what it hid", body = BlockDto),
        (status = 400, description = "The block id is not a non-negative integer", body = ErrorBody),
        (status = 401, description = "No admin token given (`Authorization: Bearer TOKEN`)", body = ErrorBody),
        (status = 403, description = "Wrong admin token, or the server was started without one (block endpoints off)", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
        (status = 500, description = "The blocks could not be written; the details are in the server's log only", body = ErrorBody),
    ))]
pub async fn delete_block(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    params: Result<UrlQuery<UnblockParams>, QueryRejection>,
) -> Result<Json<BlockDto>, ApiError> {
    authorize(&state, &headers)?;
    let block_id: u64 = raw.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "block id must be a non-negative integer, got '{raw}'"
        ))
    })?;
    let UrlQuery(p) = params
        .map_err(|r| ApiError::bad_request(format!("bad query parameters: {}", r.body_text())))?;
    if let Some(by) = &p.by {
        check_text("by", by)?;
    }
    if let Some(reason) = &p.reason {
        check_text("reason", reason)?;
    }
    let by = p.by.unwrap_or_else(|| DEFAULT_ACTOR.into());
    let _in_order = state.block_changes.lock().await;
    let (view, next) = change(&state, move |backend| {
        backend.remove_block(block_id, &by, p.reason.as_deref())
    })
    .await?;
    state.replace(next);
    Ok(Json(view.into()))
}

/// Runs a change of the blocks on the blocking pool against the state served now.
async fn change(
    state: &AppState,
    f: impl FnOnce(
            &dyn crate::SearchBackend,
        ) -> vsearch_engine::Result<(BlockView, Arc<dyn crate::SearchBackend>)>
        + Send
        + 'static,
) -> Result<(BlockView, Arc<dyn crate::SearchBackend>), ApiError> {
    let backend = state.served().backend.clone();
    let result = tokio::task::spawn_blocking(move || f(backend.as_ref()))
        .await
        .map_err(|e| ApiError::internal("the block change failed").with_detail(e))?;
    Ok(result?)
}
