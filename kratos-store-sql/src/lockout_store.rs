//! `LockoutStore` over SQL: one atomic upsert per failure, safe across processes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{LockoutStore, StoreError};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::sql::statement;

#[async_trait]
impl LockoutStore for SqlStore {
    async fn record_login_failure(
        &self,
        nid: Uuid,
        key: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let backend = self.db.get_database_backend();
        let stmt = statement(
            backend,
            "INSERT INTO login_failures (nid, key, failures, last_failure_at) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (nid, key) DO UPDATE SET \
                 failures = CASE WHEN login_failures.last_failure_at < $4 THEN 1 ELSE login_failures.failures + 1 END, \
                 last_failure_at = $5 RETURNING failures",
            [
                Value::from(nid),
                Value::from(key.to_owned()),
                Value::from(now),
                Value::from(forget_before),
                Value::from(now),
            ],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(map_db_err)?
            .ok_or_else(|| StoreError::Backend("the failure counter returned no row".into()))?;
        let failures: i32 = row.try_get("", "failures").map_err(map_db_err)?;
        Ok(failures.max(0) as u32)
    }

    async fn lock_login(
        &self,
        nid: Uuid,
        key: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(statement(
                backend,
                "UPDATE login_failures SET locked_until = $1 WHERE nid = $2 AND key = $3",
                [
                    Value::from(until),
                    Value::from(nid),
                    Value::from(key.to_owned()),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        Ok(())
    }

    async fn login_locked_until(
        &self,
        nid: Uuid,
        keys: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let backend = self.db.get_database_backend();
        let placeholders: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
        let mut values = vec![Value::from(nid)];
        values.extend(keys.iter().map(|k| Value::from(k.clone())));
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                format!(
                    "SELECT locked_until FROM login_failures WHERE nid = $1 AND key IN ({})",
                    placeholders.join(", ")
                ),
                values,
            ))
            .await
            .map_err(map_db_err)?;
        let mut latest: Option<DateTime<Utc>> = None;
        for row in rows {
            let until: Option<DateTime<Utc>> =
                row.try_get("", "locked_until").map_err(map_db_err)?;
            latest = latest.max(until);
        }
        Ok(latest)
    }

    async fn reset_login_failures(&self, nid: Uuid, key: &str) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(statement(
                backend,
                "DELETE FROM login_failures WHERE nid = $1 AND key = $2",
                [Value::from(nid), Value::from(key.to_owned())],
            ))
            .await
            .map_err(map_db_err)?;
        Ok(())
    }
}
