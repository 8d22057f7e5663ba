//! Errors as HTTP responses with Kratos's status codes and JSON bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kratos_core::error::{ErrorBody, GenericError, KratosError, status_text};

/// An error response: a status and Kratos's `{"error": {...}}` body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Box<ErrorBody>,
}

impl ApiError {
    /// From any error of the library.
    pub fn from_error<E: KratosError + ?Sized>(e: &E) -> Self {
        Self {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Box::new(e.to_body()),
        }
    }

    /// A 400 about a request field.
    pub fn bad_request(field: &str, reason: impl Into<String>) -> Self {
        Self::new(400, "bad_request", reason.into(), Some(field))
    }

    /// A 404.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(404, "not_found", reason.into(), None)
    }

    fn new(code: u16, id: &str, reason: String, field: Option<&str>) -> Self {
        Self {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Box::new(ErrorBody {
                error: GenericError {
                    id: id.to_owned(),
                    code,
                    status: status_text(code).to_owned(),
                    reason,
                    message: match code {
                        400 => "The request was malformed or contained invalid parameters",
                        404 => "The requested resource could not be found",
                        _ => "An error occurred",
                    }
                    .to_owned(),
                    details: field
                        .map(|f| serde_json::json!({ "field": f }))
                        .unwrap_or_else(|| serde_json::json!({})),
                },
            }),
        }
    }
}

impl<E: KratosError> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::from_error(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(*self.body)).into_response()
    }
}

/// Parses a JSON body, answering a Kratos-style 400 for malformed JSON.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "body",
            format!("The request body is not valid JSON for this endpoint: {e}"),
        )
    })
}
