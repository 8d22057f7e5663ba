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
    /// Fields beside `error` in the body (`redirect_browser_to`, `use_flow_id`, …).
    extra: serde_json::Map<String, serde_json::Value>,
    /// Whether a browser is sent to the error UI with it (see `public::errors`).
    forward: bool,
}

impl ApiError {
    /// From any error of the library.
    pub fn from_error<E: KratosError + ?Sized>(e: &E) -> Self {
        Self {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Box::new(e.to_body()),
            extra: serde_json::Map::new(),
            forward: false,
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

    /// An error with any status, error id and reason (no details).
    pub fn with_status(status: StatusCode, id: &str, reason: impl Into<String>) -> Self {
        Self::new(status.as_u16(), id, reason.into(), None)
    }

    /// Adds a field beside `error` in the body, as Kratos does for `redirect_browser_to`
    /// (`browser_location_change_required`, `session_aal2_required`) and `use_flow_id`
    /// (`self_service_flow_expired`).
    pub fn with_field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// Adds an entry to `error.details`.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if !self.body.error.details.is_object() {
            self.body.error.details = serde_json::json!({});
        }
        if let Some(d) = self.body.error.details.as_object_mut() {
            d.insert(key.to_owned(), value.into());
        }
        self
    }

    /// Marks the error as one a browser is sent to the error UI for
    /// (`selfservice.flows.error.ui_url`), as Kratos's error manager forwards it; the public
    /// router's middleware stores it and answers the redirect.
    pub(crate) fn forwarded(mut self) -> Self {
        self.forward = true;
        self
    }

    /// The error object of the body (`error`).
    pub(crate) fn generic(&self) -> &GenericError {
        &self.body.error
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error id (`session_inactive`, `security_csrf_violation`, …).
    pub fn id(&self) -> &str {
        &self.body.error.id
    }

    fn new(code: u16, id: &str, reason: String, field: Option<&str>) -> Self {
        Self {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Box::new(ErrorBody {
                error: GenericError {
                    id: id.to_owned(),
                    code,
                    status: match status_text(code) {
                        "Error" => StatusCode::from_u16(code)
                            .ok()
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("Error"),
                        text => text,
                    }
                    .to_owned(),
                    reason,
                    message: match code {
                        400 => "The request was malformed or contained invalid parameters",
                        401 => "The request could not be authorized",
                        403 => "The requested action was forbidden",
                        404 => "The requested resource could not be found",
                        410 => "The requested resource is no longer available",
                        413 => "The request body is too large",
                        415 => "The request body has an unsupported content type",
                        422 => "The request could not be processed",
                        _ => "An error occurred",
                    }
                    .to_owned(),
                    details: field
                        .map(|f| serde_json::json!({ "field": f }))
                        .unwrap_or_else(|| serde_json::json!({})),
                },
            }),
            extra: serde_json::Map::new(),
            forward: false,
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
        let forward = self
            .forward
            .then(|| crate::public::ForwardToErrorUi(self.body.error.clone()));
        let mut response = self.into_body_response();
        if let Some(marker) = forward {
            response.extensions_mut().insert(marker);
        }
        response
    }
}

impl ApiError {
    fn into_body_response(self) -> Response {
        if self.extra.is_empty() {
            return (self.status, Json(*self.body)).into_response();
        }
        let mut body = serde_json::Map::new();
        body.insert(
            "error".to_owned(),
            serde_json::to_value(&self.body.error).unwrap_or_default(),
        );
        body.extend(self.extra);
        (self.status, Json(serde_json::Value::Object(body))).into_response()
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
