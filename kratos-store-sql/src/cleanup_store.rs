//! `CleanupStore` and `SendLimitStore` over SQL.
//!
//! Every cleanup is one `DELETE … WHERE <key> IN (SELECT <key> … LIMIT n)` (the same text on
//! SQLite and PostgreSQL; `DELETE … LIMIT n` on MySQL), so a batch is bounded however many
//! rows match. A send counter is one upsert of all its keys that increments and returns the
//! counts, atomic per row (on MySQL, which has no `RETURNING`, the counts are read back in the
//! upsert's transaction).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{CleanupStore, SendLimitStore, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::sql::{Sql, statement};

/// `limit` as an SQL integer.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Deletes at most `limit` rows of `table` matching `condition` (`$1` is the tenant) and
    /// returns how many it deleted (`key` a column or a parenthesised list of them):
    /// `DELETE … WHERE condition AND key IN (SELECT key …
    /// WHERE condition LIMIT n)`, or on MySQL, which takes no `LIMIT` in an `IN` subquery (nor
    /// a subquery on the table it deletes from), `DELETE … WHERE condition LIMIT n`. The
    /// limit is the last of `values`.
    pub(crate) async fn delete_batch(
        &self,
        table: &str,
        key: &str,
        condition: &str,
        values: Vec<Value>,
    ) -> Result<u64, StoreError> {
        let backend = self.db.get_database_backend();
        let limit = format!("${}", values.len());
        let sql = match backend {
            DatabaseBackend::MySql => {
                format!("DELETE FROM {table} WHERE {condition} LIMIT {limit}")
            }
            _ => format!(
                "DELETE FROM {table} WHERE {condition} AND {key} IN \
                 (SELECT {columns} FROM {table} WHERE {condition} LIMIT {limit})",
                columns = key.trim_start_matches('(').trim_end_matches(')')
            ),
        };
        let res = self
            .db
            .execute_raw(statement(backend, sql, values))
            .await
            .map_err(map_db_err)?;
        Ok(res.rows_affected())
    }
}

#[async_trait]
impl CleanupStore for SqlStore {
    async fn delete_expired_flows(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "selfservice_flows",
            "id",
            "nid = $1 AND expires_at < $2",
            vec![
                Value::from(nid),
                Value::from(expired_before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_stale_sessions(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        inactive_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "sessions",
            "id",
            "nid = $1 AND (expires_at < $2 OR (active = $3 AND authenticated_at < $4))",
            vec![
                Value::from(nid),
                Value::from(expired_before),
                Value::from(false),
                Value::from(inactive_before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_spent_codes(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "one_time_codes",
            "id",
            "nid = $1 AND (expires_at < $2 OR used_at < $2)",
            vec![
                Value::from(nid),
                Value::from(before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_orphan_code_submissions(
        &self,
        nid: Uuid,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "code_submissions",
            "flow_id",
            "nid = $1 AND NOT EXISTS (SELECT 1 FROM selfservice_flows f \
             WHERE f.nid = code_submissions.nid AND f.id = code_submissions.flow_id)",
            vec![Value::from(nid), Value::from(sql_limit(limit))],
        )
        .await
    }

    async fn delete_stale_login_failures(
        &self,
        nid: Uuid,
        last_failure_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "login_failures",
            "\"key\"",
            "nid = $1 AND last_failure_at < $2 \
             AND (locked_until IS NULL OR locked_until <= $3)",
            vec![
                Value::from(nid),
                Value::from(last_failure_before),
                Value::from(now),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_finished_messages(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "courier_messages",
            "id",
            "nid = $1 AND status IN ('sent', 'abandoned') AND updated_at < $2",
            vec![
                Value::from(nid),
                Value::from(before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_stale_send_counters(
        &self,
        nid: Uuid,
        window_started_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "code_send_counters",
            "\"key\"",
            "nid = $1 AND window_started_at < $2",
            vec![
                Value::from(nid),
                Value::from(window_started_before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_expired_used_secrets(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "used_second_factor_secrets",
            "(identity_id, \"key\")",
            "nid = $1 AND expires_at < $2",
            vec![
                Value::from(nid),
                Value::from(expired_before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }

    async fn delete_expired_token_exchanges(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "session_token_exchanges",
            "id",
            "nid = $1 AND expires_at < $2",
            vec![
                Value::from(nid),
                Value::from(expired_before),
                Value::from(sql_limit(limit)),
            ],
        )
        .await
    }
}

#[async_trait]
impl SendLimitStore for SqlStore {
    async fn count_code_sends(
        &self,
        nid: Uuid,
        keys: &[String],
        now: DateTime<Utc>,
        window_started_before: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(nid);
        let now_p = sql.bind(Value::from(now));
        let before_p = sql.bind(Value::from(window_started_before));
        sql.push("INSERT INTO code_send_counters (nid, \"key\", count, window_started_at) VALUES ");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .tenant()
                .push(", ")
                .param(key.clone())
                .push(&format!(", 1, {now_p})"));
        }
        let backend = self.db.get_database_backend();
        let rows = if backend == DatabaseBackend::MySql {
            // MySQL assigns left to right, each later expression reading the new values:
            // `count` goes first, while `window_started_at` is still the old one. No
            // `RETURNING`: the upsert locks the rows and the read in its transaction sees them.
            sql.push(&format!(
                " ON DUPLICATE KEY UPDATE \
                 count = CASE WHEN window_started_at < {before_p} THEN 1 \
                   WHEN count >= 2147483647 THEN count ELSE count + 1 END, \
                 window_started_at = CASE WHEN window_started_at < {before_p} \
                   THEN {now_p} ELSE window_started_at END"
            ));
            let txn = self.db.begin().await.map_err(map_db_err)?;
            txn.execute_raw(sql.statement(backend))
                .await
                .map_err(map_db_err)?;
            let mut read = Sql::new(nid);
            read.push("SELECT \"key\", count FROM code_send_counters WHERE nid = ")
                .tenant()
                .push(" AND key_digest IN (");
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    read.push(", ");
                }
                read.push("UNHEX(SHA2(").param(key.clone()).push(", 256))");
            }
            read.push(")");
            let rows = txn
                .query_all_raw(read.statement(backend))
                .await
                .map_err(map_db_err)?;
            txn.commit().await.map_err(map_db_err)?;
            rows
        } else {
            sql.push(&format!(
                " ON CONFLICT (nid, \"key\") DO UPDATE SET \
                 count = CASE WHEN code_send_counters.window_started_at < {before_p} THEN 1 \
                   WHEN code_send_counters.count >= 2147483647 THEN code_send_counters.count \
                   ELSE code_send_counters.count + 1 END, \
                 window_started_at = CASE WHEN code_send_counters.window_started_at < {before_p} \
                   THEN {now_p} ELSE code_send_counters.window_started_at END \
                 RETURNING \"key\", count"
            ));
            self.db
                .query_all_raw(sql.statement(backend))
                .await
                .map_err(map_db_err)?
        };
        let mut counts = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let key: String = row.try_get("", "key").map_err(map_db_err)?;
            let count: i32 = row.try_get("", "count").map_err(map_db_err)?;
            counts.insert(key, u32::try_from(count).unwrap_or(0));
        }
        keys.iter()
            .map(|k| {
                counts.get(k).copied().ok_or_else(|| {
                    StoreError::Backend("the send counter returned no row for a key".into())
                })
            })
            .collect()
    }
}
