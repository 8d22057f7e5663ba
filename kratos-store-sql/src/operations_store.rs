//! `PingStore` and `SelfServiceErrorStore` over SQL: the ping is sea-orm's (one trivial
//! statement on a pooled connection); errors are rows of `selfservice_errors`, the error's
//! JSON beside the tenant and the time it was stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{PingStore, SelfServiceError, SelfServiceErrorStore, StoreError};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::sql::statement;

#[async_trait]
impl PingStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        // The driver's error names the failure (refused, timed out, closed), not the URL the
        // pool was opened with.
        self.db.ping().await.map_err(map_db_err)
    }
}

#[async_trait]
impl SelfServiceErrorStore for SqlStore {
    async fn insert_self_service_error(
        &self,
        nid: Uuid,
        error: &SelfServiceError,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(statement(
                backend,
                "INSERT INTO selfservice_errors (id, nid, errors, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                [
                    Value::from(error.id),
                    Value::from(nid),
                    Value::from(error.error.clone()),
                    Value::from(error.created_at),
                    Value::from(error.updated_at),
                ],
            ))
            .await
            .map_err(|e| match map_db_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict("self-service error id".into()),
                other => other,
            })?;
        Ok(())
    }

    async fn get_self_service_error(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<SelfServiceError, StoreError> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db.get_database_backend(),
                "SELECT id, errors, created_at, updated_at FROM selfservice_errors \
                 WHERE nid = $1 AND id = $2",
                [Value::from(nid), Value::from(id)],
            ))
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(SelfServiceError {
            id: row.try_get("", "id").map_err(map_db_err)?,
            error: row.try_get("", "errors").map_err(map_db_err)?,
            created_at: row.try_get("", "created_at").map_err(map_db_err)?,
            updated_at: row.try_get("", "updated_at").map_err(map_db_err)?,
        })
    }

    async fn delete_old_self_service_errors(
        &self,
        nid: Uuid,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        self.delete_batch(
            "selfservice_errors",
            "id",
            "nid = $1 AND created_at < $2",
            vec![
                Value::from(nid),
                Value::from(created_before),
                Value::from(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
        )
        .await
    }
}
