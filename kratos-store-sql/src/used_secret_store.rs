//! `UsedSecretStore` over SQL: a use is one `INSERT … ON CONFLICT DO NOTHING` on the primary
//! key `(nid, identity_id, key)`, so of concurrent uses of one key exactly one inserts its
//! row, on SQLite and PostgreSQL alike, whatever the number of processes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{StoreError, UsedSecretStore};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::sql::statement;

/// Inserts the use `($1 tenant, $2 identity, $3 key, $4 expiry)` when the identity is in the
/// tenant and `guard` (an SQL condition, `TRUE` for none) holds; nothing when the key was
/// used. (SQLite needs the `WHERE` before `ON CONFLICT` to read the upsert.)
pub(crate) fn insert_use(guard: &str) -> String {
    format!(
        "INSERT INTO used_second_factor_secrets (nid, identity_id, key, expires_at) \
         SELECT $1, $2, $3, $4 WHERE {guard} \
         AND EXISTS (SELECT 1 FROM identities WHERE nid = $1 AND id = $2) \
         ON CONFLICT DO NOTHING"
    )
}

#[async_trait]
impl UsedSecretStore for SqlStore {
    async fn use_once(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let backend = self.db.get_database_backend();
        let inserted = self
            .db
            .execute_raw(statement(
                backend,
                insert_use("TRUE"),
                [
                    Value::from(nid),
                    Value::from(identity_id),
                    Value::from(key.to_owned()),
                    Value::from(expires_at),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if inserted.rows_affected() > 0 {
            return Ok(true);
        }
        // Nothing inserted: the key was used, or there is no such identity in the tenant.
        let identity = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT 1 AS found FROM identities WHERE nid = $1 AND id = $2",
                [Value::from(nid), Value::from(identity_id)],
            ))
            .await
            .map_err(map_db_err)?;
        match identity {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound),
        }
    }
}
