//! Errors of identity operations.

use super::schema::{SchemaError, TraitError};
use crate::error::KratosError;
use crate::store::StoreError;

/// Why an identity operation failed. Nothing is written when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// No such identity in this tenant.
    #[error("Unable to locate the resource")]
    NotFound,
    /// Another identity already has one of the identifiers, addresses or the external id.
    #[error("This identity conflicts with another identity that already exists ({0}).")]
    Conflict(String),
    /// The traits do not satisfy the identity schema.
    #[error("The traits are invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidTraits(Vec<TraitError>),
    /// The schema id is not configured.
    #[error("The identity schema `{0}` is not known.")]
    UnknownSchema(String),
    /// A request field has a bad value.
    #[error("Invalid value for `{field}`: {reason}")]
    InvalidField {
        /// The field (a name or a JSON pointer).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON Patch touches a path that may not be changed.
    #[error("The JSON Patch path `{0}` may not be changed.")]
    PatchDenied(String),
    /// The credential is the identity's last way to sign in.
    #[error("The credential cannot be removed: it is the identity's last first-factor credential.")]
    LastFirstFactor,
    /// The identity has no such credential.
    #[error("The identity has no `{0}` credential matching the request.")]
    NoSuchCredential(String),
    /// A schema could not be used.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Storage failed.
    #[error("A storage error occurred.")]
    Store(#[source] StoreError),
    /// A background task failed.
    #[error("An internal error occurred: {0}")]
    Internal(String),
}

impl IdentityError {
    pub(crate) fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        IdentityError::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => IdentityError::NotFound,
            StoreError::Conflict(what) => IdentityError::Conflict(what),
            other => IdentityError::Store(other),
        }
    }
}

impl KratosError for IdentityError {
    fn id(&self) -> &'static str {
        match self {
            IdentityError::NotFound => "not_found",
            IdentityError::Conflict(_) => "conflict",
            IdentityError::Store(_) | IdentityError::Internal(_) | IdentityError::Schema(_) => {
                "internal_server_error"
            }
            _ => "bad_request",
        }
    }

    fn status(&self) -> u16 {
        match self {
            IdentityError::NotFound => 404,
            IdentityError::Conflict(_) => 409,
            IdentityError::Store(_) | IdentityError::Internal(_) | IdentityError::Schema(_) => 500,
            _ => 400,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            IdentityError::InvalidTraits(errs) => errs.first().map(|e| e.instance_ptr.clone()),
            IdentityError::UnknownSchema(_) => Some("schema_id".into()),
            IdentityError::InvalidField { field, .. } => Some(field.clone()),
            IdentityError::PatchDenied(p) => Some(p.clone()),
            _ => None,
        }
    }
}
