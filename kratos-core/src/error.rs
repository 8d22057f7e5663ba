//! What every error of this crate has in common: a Kratos error id and an HTTP status, and a
//! JSON body in Kratos's `genericError` shape.

use serde::Serialize;

/// An error that maps onto Kratos's error model.
pub trait KratosError: std::error::Error {
    /// The machine-readable error id (`session_inactive`, `security_csrf_violation`, …). Where
    /// Kratos answers with a plain HTTP error and no id, this is the snake_case status name
    /// (`bad_request`, `not_found`, `conflict`, `internal_server_error`).
    fn id(&self) -> &'static str;
    /// The HTTP status code.
    fn status(&self) -> u16;
    /// The offending field or JSON pointer, when there is one.
    fn field(&self) -> Option<String> {
        None
    }
    /// The error as Kratos's JSON body (`{"error": {...}}`).
    fn to_body(&self) -> ErrorBody {
        let code = self.status();
        ErrorBody {
            error: GenericError {
                id: self.id().to_owned(),
                code,
                status: status_text(code).to_owned(),
                reason: self.to_string(),
                message: default_message(code).to_owned(),
                details: self
                    .field()
                    .map(|f| serde_json::json!({ "field": f }))
                    .unwrap_or_else(|| serde_json::json!({})),
            },
        }
    }
}

/// Kratos's error envelope.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ErrorBody {
    /// The error.
    pub error: GenericError,
}

/// Kratos's `genericError`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct GenericError {
    /// The error id.
    pub id: String,
    /// The HTTP status code.
    pub code: u16,
    /// The HTTP status text.
    pub status: String,
    /// What went wrong, for a human.
    pub reason: String,
    /// The generic message for the status.
    pub message: String,
    /// Further details.
    pub details: serde_json::Value,
}

/// The HTTP reason phrase of a status code.
pub fn status_text(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn default_message(code: u16) -> &'static str {
    match code {
        400 => "The request was malformed or contained invalid parameters",
        401 => "The request could not be authorized",
        403 => "The requested action was forbidden",
        404 => "The requested resource could not be found",
        409 => "The resource could not be created due to a conflict",
        410 => "The requested resource is no longer available",
        429 => "Too many requests",
        _ => "An internal server error occurred, please contact the system administrator",
    }
}
