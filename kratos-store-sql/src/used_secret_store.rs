//! `UsedSecretStore` over SQL: a use is one `INSERT … ON CONFLICT DO NOTHING` on the primary
//! key `(nid, identity_id, key)`, so of concurrent uses of one key exactly one inserts its
//! row, on SQLite and PostgreSQL alike, whatever the number of processes. MySQL has no
//! `DO NOTHING`: its insert is plain, and the unique index's duplicate-key error is the used
//! key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{StoreError, UsedSecretStore};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, ExecResult, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{is_conflict, map_db_err};
use crate::sql::statement;

/// Inserts the use `($1 tenant, $2 identity, $3 key, $4 expiry)` when the identity is in the
/// tenant and `guard` (an SQL condition, `TRUE` for none) holds; nothing when the key was
/// used. (SQLite needs the `WHERE` before `ON CONFLICT` to read the upsert.)
/// On MySQL the expiry is cast: sqlx sends a time as a `TIMESTAMP`, whose range ends in 2038
/// when it is selected rather than stored. On MySQL the insert fails with a unique violation when the key was used (see
/// [`inserted`]).
pub(crate) fn insert_use(backend: DatabaseBackend, guard: &str) -> String {
    match backend {
        DatabaseBackend::MySql => format!(
            "INSERT INTO used_second_factor_secrets (nid, identity_id, \"key\", expires_at) \
             SELECT $1, $2, $3, CAST($4 AS DATETIME(6)) FROM identities \
             WHERE nid = $1 AND id = $2 AND {guard}"
        ),
        _ => format!(
            "INSERT INTO used_second_factor_secrets (nid, identity_id, \"key\", expires_at) \
             SELECT $1, $2, $3, $4 WHERE {guard} \
             AND EXISTS (SELECT 1 FROM identities WHERE nid = $1 AND id = $2) \
             ON CONFLICT DO NOTHING"
        ),
    }
}

/// How many rows an [`insert_use`] inserted: none when its key had been used (on MySQL, the
/// duplicate-key error).
pub(crate) fn inserted(result: Result<ExecResult, DbErr>) -> Result<u64, StoreError> {
    match result {
        Ok(done) => Ok(done.rows_affected()),
        Err(e) if is_conflict(&e) => Ok(0),
        Err(e) => Err(map_db_err(e)),
    }
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
        let inserted = inserted(
            self.db
                .execute_raw(statement(
                    backend,
                    insert_use(backend, "TRUE"),
                    [
                        Value::from(nid),
                        Value::from(identity_id),
                        Value::from(key.to_owned()),
                        Value::from(expires_at),
                    ],
                ))
                .await,
        )?;
        if inserted > 0 {
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
