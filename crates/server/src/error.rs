//! HTTP errors: every failure becomes a status code and a JSON body `{"error": "..."}`.
//!
//! [`ApiError::from`]`(`[`EngineError`]`)` is the one place where engine errors are mapped to statuses.

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

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (503 answers).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with the given status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
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
        }
    }
    /// 500 Internal Server Error (a bug or a broken collection, never a bad request).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
        } else {
            tracing::debug!(status = %self.status, "{}", self.message);
        }
        let mut response = (
            self.status,
            axum::Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The engine's errors, mapped to HTTP statuses (the only such mapping in the server).
impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        use vsearch_engine::EmbedError as E;
        use vsearch_engine::IndexError as I;
        let message = err.to_string();
        let status = match &err {
            EngineError::Embed { source: e } => match e {
                E::Decode { .. } | E::Preprocess { .. } | E::NoTextTower { .. } => {
                    StatusCode::BAD_REQUEST
                }
                E::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            EngineError::Index { source: e } => match e {
                I::Dimension { .. } | I::NonFinite { .. } | I::ZeroK | I::InvalidParams(_) => {
                    StatusCode::BAD_REQUEST
                }
                I::UnknownId(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            EngineError::NoIndex { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, message)
    }
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
            status(IndexError::UnknownId(3).into()),
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
