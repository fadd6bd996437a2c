//! HTTP errors: every failure becomes a status code and a JSON body `{"error": "..."}`.
//!
//! [`ApiError::from`]`(`[`EngineError`]`)` is the one place where engine errors are mapped to statuses. What
//! a client reads never holds a path on the server: errors of the query and of the collection's state (4xx)
//! carry none, and the server's own failures (5xx) answer a fixed summary while their full text, paths
//! included, goes to the server's log ([`ApiError::detail`]).

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vsearch_engine::EngineError;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and, where possible, what to do about it.
    pub error: String,
}

/// What a search of a collection that holds no images answers (409).
pub const EMPTY_COLLECTION: &str =
    "the collection holds no images yet: add photos to the indexed folder and run \
     `vsearch index DIR`, then restart `vsearch serve`";

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// What the client reads: what went wrong and what to do, never a path on the server.
    pub message: String,
    /// Seconds for a `Retry-After` header (503 answers).
    pub retry_after: Option<u32>,
    /// What only the server's log gets: the full error, paths included (for answers whose `message` is a
    /// summary).
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with the given status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            detail: None,
        }
    }
    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 503 Service Unavailable with `Retry-After`.
    pub fn busy(retry_after: u32) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the server is busy: too many queries are queued, retry shortly".into(),
            retry_after: Some(retry_after),
            detail: None,
        }
    }
    /// 401 Unauthorized, with `WWW-Authenticate: Bearer` (see [`ApiError::into_response`]).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 409 Conflict: the request is sound but the collection's state cannot answer it.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 500 Internal Server Error (a bug or a broken collection, never a bad request).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// This error with `detail` for the server's log only (e.g. the full error, with its paths).
    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let logged = self.detail.as_deref().unwrap_or(&self.message);
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{logged}");
        } else {
            tracing::debug!(status = %self.status, "{logged}");
        }
        let mut response = (
            self.status,
            axum::Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vsearch admin\""),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The engine's errors, mapped to HTTP statuses (the only such mapping in the server).
///
/// - The query's fault (not an image, wrong vector, unbuilt index, text on an image-only model): 400, 404
///   for an unknown id, 413 for an image over the pixel limit; their messages name nothing on the server.
/// - The collection's state: 409 when it holds no images (the request is sound, the collection cannot
///   answer it until images are indexed: 404 would claim the endpoint or the image is missing); 503 with
///   `Retry-After` while `vsearch index` holds the collection's lock (it passes).
/// - The server's own failures (model, index, catalog or file errors, a damaged collection): 500 with a
///   fixed summary; the full error, paths included, is logged ([`ApiError::detail`]).
impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        use vsearch_engine::EmbedError as E;
        use vsearch_engine::IndexError as I;
        let client_status = match &err {
            EngineError::Embed {
                source: E::Decode { .. } | E::Preprocess { .. } | E::NoTextTower { .. },
            }
            | EngineError::Index {
                source:
                    I::Dimension { .. } | I::NonFinite { .. } | I::ZeroK | I::InvalidParams { .. },
            }
            | EngineError::NoIndex { .. }
            | EngineError::NotOnQdrant { .. }
            | EngineError::Filter { .. }
            | EngineError::BadQuery { .. } => Some(StatusCode::BAD_REQUEST),
            EngineError::Embed {
                source: E::TooLarge { .. },
            } => Some(StatusCode::PAYLOAD_TOO_LARGE),
            EngineError::Index {
                source: I::UnknownId { .. },
            }
            | EngineError::UnknownImage { .. }
            | EngineError::NoSuchBlock { .. }
            | EngineError::NoSuchCase { .. } => Some(StatusCode::NOT_FOUND),
            EngineError::CaseClosed { .. } | EngineError::NoRecords { .. } => {
                Some(StatusCode::CONFLICT)
            }
            EngineError::Blocked { .. } => Some(StatusCode::GONE),
            _ => None,
        };
        if let Some(status) = client_status {
            return Self::new(status, err.to_string());
        }
        match &err {
            EngineError::Index { source: I::Empty } => Self::conflict(EMPTY_COLLECTION),
            EngineError::RateLimited { retry_after_secs } => Self {
                retry_after: Some(u32::try_from(*retry_after_secs).unwrap_or(u32::MAX)),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, err.to_string())
            },
            EngineError::Qdrant { source } => Self {
                message: format!("the vector database failed: {source}"),
                ..Self::busy(BUSY_COLLECTION_RETRY_SECS)
            },
            EngineError::Busy { .. } => Self {
                message: "`vsearch index` is updating the collection right now: retry when it has finished"
                    .into(),
                ..Self::busy(BUSY_COLLECTION_RETRY_SECS)
            },
            _ => Self::internal(server_fault_summary(&err)),
        }
        .with_detail(&err)
    }
}

/// Seconds a client waits before it retries a query refused while `vsearch index` updates the collection.
const BUSY_COLLECTION_RETRY_SECS: u32 = 5;

/// What a client reads of a failure of the server's own: what failed, never a path or a library's message.
fn server_fault_summary(err: &EngineError) -> String {
    use vsearch_engine::EmbedError as E;
    let what = match err {
        EngineError::Embed {
            source: E::Encode { format, .. },
        } => {
            return format!(
            "the server could not encode the image as {format}; the server's log has the details"
        )
        }
        EngineError::NoModel { .. } => return err.to_string(),
        EngineError::Embed { .. } => "the model failed on this query",
        EngineError::Index { .. } => "the collection's index failed on this query",
        EngineError::Catalog { .. } => "the collection's catalog could not be read",
        EngineError::Io { .. } => "a file of the collection could not be read",
        EngineError::Blocks { .. } => "the collection's blocks could not be read",
        EngineError::Reports { .. } => "the collection's reports could not be read or written",
        EngineError::Analytics { .. } => "the search analytics could not be read or written",
        EngineError::NotACollection { .. }
        | EngineError::NotAFolder { .. }
        | EngineError::Manifest { .. }
        | EngineError::MissingVector { .. }
        | EngineError::Generation { .. }
        | EngineError::ModelMismatch { .. } => {
            "the collection is damaged or not the one the server opened"
        }
        _ => "the server failed on this query",
    };
    format!("{what}; the server's log has the details")
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::new(
            rejection.status(),
            body_error_message(rejection.status(), rejection.body_text()),
        )
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        Self::new(
            bad_if_unprocessable(rejection.status()),
            rejection.body_text(),
        )
    }
}

impl From<MultipartError> for ApiError {
    fn from(err: MultipartError) -> Self {
        let status = bad_if_unprocessable(err.status());
        Self::new(status, body_error_message(status, err.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

/// axum answers some malformed bodies with 422; this API answers 400 for every malformed request.
fn bad_if_unprocessable(status: StatusCode) -> StatusCode {
    if status == StatusCode::UNPROCESSABLE_ENTITY || status.is_server_error() {
        StatusCode::BAD_REQUEST
    } else {
        status
    }
}

fn body_error_message(status: StatusCode, text: String) -> String {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is over the server's limit (see `vsearch serve --max-body-mb`)".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsearch_engine::{EmbedError, IndexError};

    fn status(err: EngineError) -> StatusCode {
        ApiError::from(err).status
    }

    #[test]
    fn engine_errors_map_to_statuses() {
        assert_eq!(
            status(
                EmbedError::Decode {
                    reason: "bad".into()
                }
                .into()
            ),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(
                EmbedError::NoTextTower {
                    model: "lite0".into()
                }
                .into()
            ),
            StatusCode::BAD_REQUEST
        );
        let too_large = EmbedError::TooLarge {
            width: 1,
            height: 1,
            pixels: 1,
            limit: 0,
        };
        assert_eq!(status(too_large.into()), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            status(IndexError::UnknownId { id: 3 }.into()),
            StatusCode::NOT_FOUND
        );
        assert_eq!(status(IndexError::ZeroK.into()), StatusCode::BAD_REQUEST);
        let dim = IndexError::Dimension {
            expected: 4,
            got: 2,
        };
        assert_eq!(status(dim.into()), StatusCode::BAD_REQUEST);
        let broken = IndexError::Checksum { path: "x".into() };
        assert_eq!(status(broken.into()), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn an_empty_collection_is_409_with_what_to_do() {
        let err = ApiError::from(EngineError::from(IndexError::Empty));
        assert_eq!(err.status, StatusCode::CONFLICT);
        assert_eq!(err.message, EMPTY_COLLECTION);
        assert!(err.message.contains("vsearch index"));
    }

    #[test]
    fn an_update_in_progress_is_503_with_retry_after() {
        let err = ApiError::from(EngineError::Busy {
            collection: "/srv/photos/.vsearch".into(),
        });
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after, Some(BUSY_COLLECTION_RETRY_SECS));
        assert!(!err.message.contains("/srv/photos"), "{}", err.message);
    }

    /// Every engine error that carries a path: the client's message names none, the log's detail does.
    #[test]
    fn answers_hold_no_server_paths() {
        let dir = std::path::PathBuf::from("/srv/secret/photos");
        let io = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let errors: Vec<EngineError> = vec![
            EngineError::Io {
                path: dir.join("a.jpg"),
                source: io(),
            },
            EngineError::NotACollection { path: dir.clone() },
            EngineError::NotAFolder { path: dir.clone() },
            EngineError::Manifest {
                path: dir.join("manifest.json"),
                reason: "bad".into(),
            },
            EngineError::MissingVector {
                path: dir.join("matrix"),
                rows: 1,
                id: 2,
            },
            EngineError::Busy {
                collection: dir.clone(),
            },
            IndexError::Checksum {
                path: dir.join("hnsw"),
            }
            .into(),
            IndexError::Format {
                path: dir.join("ivf"),
                reason: format!("cannot open {}", dir.display()),
            }
            .into(),
            IndexError::Io {
                path: dir.join("flat"),
                source: io(),
            }
            .into(),
            IndexError::Faiss {
                reason: format!("could not open {}/ivf.faiss", dir.display()),
            }
            .into(),
            EmbedError::MissingFiles {
                dir: dir.clone(),
                what: "weights".into(),
            }
            .into(),
            EmbedError::Config {
                path: dir.join("config.json"),
                reason: "bad".into(),
            }
            .into(),
            EmbedError::Weights {
                path: dir.join("model.safetensors"),
                reason: "bad".into(),
            }
            .into(),
            EmbedError::Io {
                path: dir.join("tokenizer.json"),
                source: io(),
            }
            .into(),
            EmbedError::Device {
                reason: format!("{} is not a device", dir.display()),
            }
            .into(),
        ];
        for err in errors {
            let full = err.to_string();
            let answered = ApiError::from(err);
            assert!(
                !answered.message.contains("/srv/secret"),
                "{full} answered as {answered}"
            );
            assert!(!answered.message.is_empty());
            assert_eq!(answered.detail.as_deref(), Some(full.as_str()));
        }
    }

    #[tokio::test]
    async fn errors_are_json_with_retry_after_when_busy() {
        let response = ApiError::busy(2).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert!(body.error.contains("busy"));
    }
}
