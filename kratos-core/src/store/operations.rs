//! Store traits of operations: whether the store answers at all ([`PingStore`], for a
//! readiness check) and the self-service errors kept for an error page
//! ([`SelfServiceErrorStore`], Kratos's `selfservice_errors`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;

/// A store that can tell whether it answers: the readiness check of an app (Kratos's
/// `/health/ready` pings its database).
#[async_trait]
pub trait PingStore: Send + Sync {
    /// Asks the backend for a trivial answer (one `SELECT 1` on a SQL database). Fails with
    /// [`StoreError::Backend`] when it cannot answer: unreachable, out of connections, closed.
    /// The error's text names what failed, never a connection string or a password.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A self-service error kept so an error page can show it, as Kratos's `flowError`: a browser
/// whose self-service request failed is sent to `selfservice.flows.error.ui_url?id=<id>`, and
/// that page reads the error back (`GET /self-service/errors?id=<id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfServiceError {
    /// The error's id (random: whoever knows it may read the error).
    pub id: Uuid,
    /// The error, in Kratos's `genericError` shape (`id`, `code`, `status`, `reason`,
    /// `message`, `details`).
    pub error: serde_json::Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it was last written (the same as `created_at`: errors are not updated).
    pub updated_at: DateTime<Utc>,
}

/// Storage of [`SelfServiceError`]s, per tenant.
#[async_trait]
pub trait SelfServiceErrorStore: Send + Sync {
    /// Stores an error. Fails with [`StoreError::Conflict`] when its id is taken.
    async fn insert_self_service_error(
        &self,
        nid: Uuid,
        error: &SelfServiceError,
    ) -> Result<(), StoreError>;

    /// Loads an error of the tenant; [`StoreError::NotFound`] when there is none with that id
    /// (in this tenant).
    async fn get_self_service_error(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<SelfServiceError, StoreError>;

    /// Deletes at most `limit` errors of the tenant stored before `created_before`; answers
    /// how many it deleted (as every [`super::CleanupStore`] method does). A `limit` of 0
    /// deletes nothing.
    async fn delete_old_self_service_errors(
        &self,
        nid: Uuid,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;
}
