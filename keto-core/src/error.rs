//! Error types: portable store errors and engine errors.

use crate::check::Limitation;
use crate::namespace::SchemaError;
use crate::tuple::TupleError;

/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of a [`TupleStore`](crate::TupleStore), normalised to portable kinds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Something the call refers to does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with the stored state (for example a failed precondition); nothing
    /// was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The page token was not issued by this store for this query.
    #[error("invalid page token")]
    InvalidPageToken,
    /// The backend failed; the source is kept.
    #[error("storage backend error: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        StoreError::Backend(e.into())
    }
}

/// Errors of the permission engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A tuple or subject is malformed.
    #[error(transparent)]
    Tuple(#[from] TupleError),
    /// The namespace is not configured (Keto answers 404 "The requested resource could not be
    /// found").
    #[error("namespace {0:?} was not found")]
    UnknownNamespace(String),
    /// The namespace declares relations, but not this one (Keto: 400).
    #[error("relation {0:?} does not exist")]
    UnknownRelation(String),
    /// The namespace configuration is invalid.
    #[error(transparent)]
    Schema(SchemaError),
    /// The requested depth is negative or absurdly large.
    #[error("invalid max depth {0}: it must be between 0 (server default) and 65535")]
    InvalidDepth(i64),
    /// A batch holds more items than allowed (Keto: 400).
    #[error("batch exceeds max size of {max}")]
    BatchTooLarge {
        /// The configured maximum.
        max: usize,
    },
    /// The page size is out of range.
    #[error("invalid page size {size}: it must be between 1 and {max}")]
    InvalidPageSize {
        /// The requested size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// In strict mode, a check could not be decided within the limits (Keto: 422).
    #[error("the check could not be completed: {0}")]
    LimitReached(Limitation),
    /// The check took too many steps along one path, which usually means that permits
    /// reference each other in a cycle (Keto: 422).
    #[error(
        "the check was aborted after too many resolution steps; this usually indicates a cyclic permit reference in the namespace configuration"
    )]
    CyclicPermit,
    /// The check visited more nodes than the engine allows for one request.
    #[error("the check was aborted after {0} steps")]
    TooManySteps(u64),
    /// The store has not yet reached the snapshot the request asked for.
    #[error("snapshot {requested} is not yet available (store is at {current})")]
    SnapshotUnavailable {
        /// The version asked for.
        requested: u64,
        /// The version the store is at.
        current: u64,
    },
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<SchemaError> for EngineError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::UnknownNamespace(n) => EngineError::UnknownNamespace(n),
            SchemaError::UnknownRelation(r) => EngineError::UnknownRelation(r),
            other => EngineError::Schema(other),
        }
    }
}

impl EngineError {
    /// The HTTP status Keto answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::Store(StoreError::NotFound(_)) | EngineError::UnknownNamespace(_) => 404,
            EngineError::Store(StoreError::Conflict(_)) => 409,
            EngineError::Store(_) | EngineError::Config(_) | EngineError::Schema(_) => 500,
            EngineError::LimitReached(_)
            | EngineError::CyclicPermit
            | EngineError::TooManySteps(_) => 422,
            EngineError::SnapshotUnavailable { .. } => 503,
            _ => 400,
        }
    }
}
