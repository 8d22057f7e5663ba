//! `LockoutStore` over SQL: every login attempt counted by one atomic upsert per key, before
//! its password is verified, safe across processes.
//!
//! The upsert decides on the row as it finds it (an `UPDATE … SET` reads the old row in every
//! expression): a key still locked stays as it is and answers `admitted = false`; otherwise
//! its count goes up (or starts again when forgotten) and the lock for the new count is set
//! from the schedule's precomputed ends. Concurrent attempts on one key queue on its row, so
//! each sees the count the ones before it left.
//!
//! On PostgreSQL the counts commit asynchronously (`synchronous_commit = off` for their own
//! statement, as flow writes do): a crash of the database may forget the last attempts'
//! counts, never a completed login.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{LockSchedule, LockoutKey, LockoutStore, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{is_mysql_retryable, map_db_err};
use crate::identity_query::at;
use crate::sql::{Sql, statement};

/// The common table expression that makes a PostgreSQL statement's transaction commit
/// without waiting for the WAL flush; the attempt upserts select from it.
pub(crate) const ASYNC_COMMIT_CTE: &str =
    "async_commit AS (SELECT set_config('synchronous_commit', 'off', true))";

/// The `from` of [`attempt_upsert`] that asks for MySQL's upsert.
pub(crate) const MYSQL: &str = "mysql";

/// The upsert counting an attempt on `key`, its values bound in `sql`; it returns
/// `admitted, locked_until`. It inserts nothing when `guard` (an SQL condition) is false.
/// `from` is the `FROM` clause of its `SELECT` (empty for none), or [`MYSQL`] for MySQL's
/// `INSERT … ON DUPLICATE KEY UPDATE` without a guard, which returns nothing.
pub(crate) fn attempt_upsert(
    sql: &mut Sql,
    key: &LockoutKey<'_>,
    schedule: &LockSchedule,
    from: &str,
    guard: &str,
) -> String {
    let key_value = sql.bind(Value::from(key.key.to_owned()));
    let now = sql.bind(Value::from(schedule.now));
    let forget = sql.bind(Value::from(schedule.forget_before));
    let first_lock = sql.bind(Value::from(schedule.lock_for(1, key.max_attempts)));
    let count = format!(
        "CASE WHEN login_failures.last_failure_at < {forget} THEN 1 \
         WHEN login_failures.failures >= 2147483647 THEN login_failures.failures \
         ELSE login_failures.failures + 1 END"
    );
    let lock = if key.max_attempts == 0 {
        "NULL".to_owned()
    } else {
        let max = sql.bind(Value::from(i64::from(key.max_attempts)));
        let mut lock = format!("CASE WHEN {count} < {max} THEN NULL");
        let last = schedule.locks.len().saturating_sub(1);
        for (over, end) in schedule.locks.iter().enumerate() {
            let end = sql.bind(Value::from(*end));
            if over == last {
                lock.push_str(&format!(" ELSE {end} END"));
            } else {
                lock.push_str(&format!(" WHEN {count} - {max} = {over} THEN {end}"));
            }
        }
        if schedule.locks.is_empty() {
            lock.push_str(" ELSE NULL END");
        }
        lock
    };
    let locked = format!(
        "(login_failures.locked_until IS NOT NULL AND login_failures.locked_until > {now})"
    );
    if from == MYSQL {
        // MySQL assigns left to right, each later expression reading the new values, and has
        // no `RETURNING`: `admitted` goes first (from the old lock), then the lock and the
        // count (from the old count and time), then the time. The caller reads the row back.
        return format!(
            "INSERT INTO login_failures \
             (nid, \"key\", failures, last_failure_at, locked_until, admitted) \
             VALUES ($1, {key_value}, 1, {now}, {first_lock}, TRUE) \
             ON DUPLICATE KEY UPDATE admitted = NOT {locked}, \
             locked_until = CASE WHEN admitted THEN {lock} ELSE locked_until END, \
             failures = CASE WHEN admitted THEN {count} ELSE failures END, \
             last_failure_at = CASE WHEN admitted THEN {now} ELSE last_failure_at END"
        );
    }
    format!(
        "INSERT INTO login_failures (nid, \"key\", failures, last_failure_at, locked_until, admitted) \
         SELECT $1, {key_value}, 1, {now}, {first_lock}, TRUE{from} WHERE {guard} \
         ON CONFLICT (nid, \"key\") DO UPDATE SET \
         failures = CASE WHEN {locked} THEN login_failures.failures ELSE {count} END, \
         last_failure_at = CASE WHEN {locked} THEN login_failures.last_failure_at ELSE {now} END, \
         locked_until = CASE WHEN {locked} THEN login_failures.locked_until ELSE {lock} END, \
         admitted = NOT {locked} \
         RETURNING admitted, locked_until"
    )
}

/// The guard of the `n`-th key's upsert in a statement that counts keys as common table
/// expressions `a0`, `a1`, …: `guard`, and for every key after the first, that the one before
/// it was counted and admitted the attempt (so once a key refuses, the later ones are not
/// counted).
pub(crate) fn after_admitted(n: usize, guard: &str) -> String {
    match n.checked_sub(1) {
        None => guard.to_owned(),
        Some(before) => {
            format!("({guard}) AND COALESCE((SELECT admitted FROM a{before}), FALSE)")
        }
    }
}

/// The lock that refused an attempt, from an upsert's `admitted, locked_until`.
pub(crate) fn refusing_lock(
    admitted: bool,
    locked_until: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if admitted { None } else { locked_until }
}

impl SqlStore {
    /// One attempt on MySQL: the upsert `sql` and a read of the row it locked, in one
    /// transaction; the row's `admitted, locked_until`.
    async fn mysql_attempt(
        &self,
        nid: Uuid,
        key: &LockoutKey<'_>,
        sql: &Sql,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        let backend = DatabaseBackend::MySql;
        let txn = self.db.begin().await?;
        txn.execute_raw(statement(backend, sql.text.clone(), sql.values.clone()))
            .await?;
        let row = txn
            .query_one_raw(statement(
                backend,
                "SELECT admitted, locked_until FROM login_failures WHERE nid = $1 \
                 AND key_digest = UNHEX(SHA2($2, 256)) AND \"key\" = $2",
                [Value::from(nid), Value::from(key.key.to_owned())],
            ))
            .await?;
        txn.commit().await?;
        Ok(row)
    }
}

#[async_trait]
impl LockoutStore for SqlStore {
    async fn record_login_attempt(
        &self,
        nid: Uuid,
        keys: &[LockoutKey<'_>],
        schedule: &LockSchedule,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let backend = self.db.get_database_backend();
        let mut refused = None;
        if backend == DatabaseBackend::Postgres {
            // Every key in one statement: one upsert per key as a common table expression.
            let mut sql = Sql::new(nid);
            let mut ctes = vec![ASYNC_COMMIT_CTE.to_owned()];
            let mut select = Vec::new();
            for (n, key) in keys.iter().enumerate() {
                let guard = after_admitted(n, "TRUE");
                let upsert = attempt_upsert(&mut sql, key, schedule, " FROM async_commit", &guard);
                ctes.push(format!("a{n} AS ({upsert})"));
                select.push(format!(
                    "(SELECT CASE WHEN a.admitted THEN NULL ELSE a.locked_until END FROM a{n} a)"
                ));
            }
            if select.is_empty() {
                return Ok(None);
            }
            sql.push("WITH ")
                .push(&ctes.join(", "))
                .push(" SELECT ")
                .push(&select.join(", "));
            let row = self
                .db
                .query_one_raw(sql.statement(backend))
                .await
                .map_err(map_db_err)?
                .ok_or_else(|| StoreError::Backend("the attempt counter returned no row".into()))?;
            for n in 0..keys.len() {
                let until: Option<DateTime<Utc>> = at(&row, n)?;
                refused = refused.max(until);
            }
            return Ok(refused);
        }
        // SQLite: one upsert per key (each is one hand-over to its worker thread). MySQL: the
        // upsert and a read of the row it locked, in one transaction per key.
        for key in keys {
            let mut sql = Sql::new(nid);
            let row = if backend == DatabaseBackend::MySql {
                let upsert = attempt_upsert(&mut sql, key, schedule, MYSQL, "TRUE");
                sql.push(&upsert);
                // Concurrent upserts of one new key may deadlock on its unique index (each
                // holds the gap the other inserts into); InnoDB then rolls one back: again.
                let mut tries = 0;
                loop {
                    match self.mysql_attempt(nid, key, &sql).await {
                        Err(e) if tries < 5 && is_mysql_retryable(&e) => tries += 1,
                        other => break other.map_err(map_db_err)?,
                    }
                }
            } else {
                let upsert = attempt_upsert(&mut sql, key, schedule, "", "TRUE");
                sql.push(&upsert);
                self.db
                    .query_one_raw(sql.statement(backend))
                    .await
                    .map_err(map_db_err)?
            }
            .ok_or_else(|| StoreError::Backend("the attempt counter returned no row".into()))?;
            let admitted: bool = at(&row, 0)?;
            let until: Option<DateTime<Utc>> = at(&row, 1)?;
            refused = refused.max(refusing_lock(admitted, until));
            if !admitted {
                // The later keys are not counted (see `LockoutStore::record_login_attempt`).
                break;
            }
        }
        Ok(refused)
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
                    "SELECT locked_until FROM login_failures WHERE nid = $1 AND \"key\" IN ({})",
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
                "DELETE FROM login_failures WHERE nid = $1 AND \"key\" = $2",
                [Value::from(nid), Value::from(key.to_owned())],
            ))
            .await
            .map_err(map_db_err)?;
        Ok(())
    }
}
