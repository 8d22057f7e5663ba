//! Errors of session operations.

use crate::error::KratosError;
use crate::store::StoreError;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No session matches, or it is revoked, expired, or its identity is disabled.
    #[error("No active session was found in this request.")]
    Inactive,
    /// The session's assurance level is below what is required.
    #[error(
        "An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the session must use 2FA with a higher AAL."
    )]
    Aal2Required,
    /// No such session (admin operations).
    #[error("Unable to locate the resource")]
    NotFound,
    /// Storage failed.
    #[error("A storage error occurred.")]
    Store(#[source] StoreError),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => SessionError::NotFound,
            other => SessionError::Store(other),
        }
    }
}

impl KratosError for SessionError {
    fn id(&self) -> &'static str {
        match self {
            SessionError::Inactive => "session_inactive",
            SessionError::Aal2Required => "session_aal2_required",
            SessionError::NotFound => "not_found",
            SessionError::Store(_) => "internal_server_error",
        }
    }

    fn status(&self) -> u16 {
        match self {
            SessionError::Inactive => 401,
            SessionError::Aal2Required => 403,
            SessionError::NotFound => 404,
            SessionError::Store(_) => 500,
        }
    }
}
