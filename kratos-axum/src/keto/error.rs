//! Keto's error responses: `{"error": {"code", "status", "message", "reason"?}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keto_core::{EngineError, StoreError, TupleError};
use serde::Serialize;

/// An error answered in Keto's generic error shape.
#[derive(Debug)]
pub(crate) struct KetoError {
    status: StatusCode,
    reason: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: u16,
    status: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The message Keto's error bodies carry for a status; the specifics go into `reason`.
pub(crate) fn status_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request was malformed or contained invalid parameters",
        403 => "The requested action was forbidden",
        404 => "The requested resource could not be found",
        409 => "The resource could not be created due to a conflict",
        413 => "The request body is too large",
        422 => "The request was well-formed but was unable to be followed due to semantic errors",
        503 => "The service is temporarily unavailable",
        _ => "An internal server error occurred, please contact the system administrator",
    }
}

impl KetoError {
    /// An error with a status and a reason.
    pub(crate) fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: Some(reason.into()),
        }
    }

    /// A 400 with a reason.
    pub(crate) fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// A 404 with a reason.
    pub(crate) fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }
}

impl From<TupleError> for KetoError {
    fn from(e: TupleError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<EngineError> for KetoError {
    fn from(e: EngineError) -> Self {
        match &e {
            // A page token this server did not issue is bad input, not a server fault.
            EngineError::Store(StoreError::InvalidPageToken) => Self::bad_request(
                "query parameter \"page_token\" is invalid or does not belong to this query",
            ),
            // Backend errors may carry queries or connection details: keep them out of
            // the response.
            EngineError::InvalidPageSize { size, max } => Self::bad_request(format!(
                "query parameter \"page_size\" must be between 1 and {max}, got {size}"
            )),
            EngineError::Store(StoreError::Backend(_)) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                reason: None,
            },
            _ => Self::new(
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for KetoError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.status.as_u16(),
                status: self.status.canonical_reason().unwrap_or("Error"),
                message: status_message(self.status),
                reason: self.reason.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}
