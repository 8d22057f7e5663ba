//! `CompletionStore` over SQL: the writes that finish a flow, all or none, committed (and on
//! PostgreSQL flushed to the WAL) once, in as few round trips as the backend allows.
//!
//! The flow update carries the guards: it matches no row when the flow is missing in the
//! tenant or no longer awaits a submission (already completed), or the session to update or
//! the new session's identity is missing, and then nothing else is written.
//!
//! - PostgreSQL runs everything as one statement: the flow update is the first common table
//!   expression and every other write selects from it. One round trip, one implicit
//!   transaction.
//! - SQLite runs every other write and then the flow update as one batch of statements, in a
//!   transaction; each statement repeats the guards as a condition, so the batch changes no
//!   row when the update would match none (the update goes last because it ends the guard:
//!   the flow no longer awaits a submission once it is written). Three hand-overs to sqlx's worker thread
//!   (`BEGIN`, batch, `COMMIT`) whatever the number of rows, where the update sent apart took
//!   four.
//!
//! - MySQL / MariaDB (no data-modifying common table expressions, no multi-statement
//!   prepared statements): in a transaction, the guarded flow row is read `FOR UPDATE` (none:
//!   not found), then every write runs as a statement of its own, the flow update last. The
//!   lock makes every later guard hold, so the writes repeat none.
//!
//! All are written once with `$N` placeholders ([`Sql`]); SQLite and MySQL get them rewritten.
//!
//! A completion that uses a second-factor secret (`complete_flow_using_secret`) inserts its
//! use into `used_second_factor_secrets` with `ON CONFLICT DO NOTHING`, and the flow update
//! (so every write) happens only when that insert did:
//!
//! - PostgreSQL, still one statement: `live` selects the guarded flow row `FOR UPDATE` (a
//!   concurrent completion that committed first makes it re-read the row and find it
//!   completed), `used` inserts the use from `live`, and the flow update requires a row of
//!   `used`. A key used before (or by a concurrent transaction that commits) inserts nothing,
//!   and nothing else is written; `live` then tells a used key from a missing flow.
//! - SQLite: the use is inserted under the guard as the transaction's first statement (which
//!   takes the write lock), then the batch runs; when the insert added no row, a read under
//!   the same lock tells a used key from a missing flow, and the transaction is rolled back.

use async_trait::async_trait;
use kratos_core::store::{
    CompletionStore, CredentialUpdate, FlowCompletion, SecretUse, SessionWrite, StoreError,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, TransactionTrait,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{found, is_conflict, is_mysql_retryable, map_db_err};
use crate::flow_store::document_value;
use crate::identity_store::Rows;
use crate::session_store::{session_row, session_updates};
use crate::sql::{Sql, statement};
use crate::used_secret_store::{insert_use, inserted};

#[async_trait]
impl CompletionStore for SqlStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        self.complete(nid, completion, Extra::None).await
    }

    async fn complete_flow_using_secret(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: &SecretUse<'_>,
    ) -> Result<(), StoreError> {
        self.complete(nid, completion, Extra::Secret(secret)).await
    }

    async fn complete_flow_updating_credential(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        update: &CredentialUpdate<'_>,
    ) -> Result<(), StoreError> {
        self.complete(nid, completion, Extra::Credential(update))
            .await
    }
}

/// What a completion writes besides [`FlowCompletion`], first, and what stops it.
#[derive(Clone, Copy)]
enum Extra<'a> {
    None,
    /// A second-factor secret's use (stops it when the key was used).
    Secret(&'a SecretUse<'a>),
    /// A credential rewritten (stops it when the credential changed since it was read).
    Credential(&'a CredentialUpdate<'a>),
}

impl<'a> Extra<'a> {
    fn secret(self) -> Option<&'a SecretUse<'a>> {
        match self {
            Extra::Secret(secret) => Some(secret),
            _ => None,
        }
    }
}

/// The credential update, under `condition`: written only while the credential's
/// `updated_at` is the one read.
fn credential_update(
    sql: &mut Sql,
    backend: DatabaseBackend,
    update: &CredentialUpdate<'_>,
    condition: &str,
) {
    let datetime = |sql: &mut Sql, at| {
        if backend == DatabaseBackend::MySql {
            sql.push("CAST(").param(at).push(" AS DATETIME(6))");
        } else {
            sql.param(at);
        }
    };
    sql.push("UPDATE identity_credentials SET config = ")
        .param(update.config.clone())
        .push(", updated_at = ");
    datetime(sql, update.updated_at);
    sql.push(" WHERE nid = ")
        .tenant()
        .push(" AND identity_id = ")
        .param(update.identity_id)
        .push(" AND credential_type = ")
        .param(update.credential_type.as_str().to_owned())
        .push(" AND updated_at = ");
    datetime(sql, update.read_at);
    sql.push(" AND ").push(condition);
}

impl SqlStore {
    /// Every completion (see the module).
    async fn complete(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        extra: Extra<'_>,
    ) -> Result<(), StoreError> {
        let secret = extra.secret();
        let backend = self.db.get_database_backend();
        if backend == DatabaseBackend::MySql {
            // A deadlock rolled the whole transaction back: run it again.
            let mut tries = 0;
            loop {
                match self.complete_locked(nid, completion, extra).await {
                    Err(Retry::Again) if tries < 3 => tries += 1,
                    Err(Retry::Again) => {
                        return Err(StoreError::Backend(
                            "the completion deadlocked again and again".into(),
                        ));
                    }
                    Err(Retry::Failed(e)) => return Err(e),
                    Ok(()) => return Ok(()),
                }
            }
        }
        let mut sql = Sql::new(nid);
        let guard = Guard::bind(&mut sql, backend, completion);
        if backend == DatabaseBackend::Postgres {
            let mut after_use = "";
            if let Some(secret) = secret {
                let identity = sql.bind(secret.identity_id.into());
                let key = sql.bind(secret.key.to_owned().into());
                let expires = sql.bind(secret.expires_at.into());
                sql.push("WITH live AS (SELECT id FROM selfservice_flows WHERE ")
                    .push(&guard.flow)
                    .push(&guard.others)
                    .push(&format!(
                        " AND EXISTS (SELECT 1 FROM identities WHERE nid = $1 AND id = {identity}) \
                         FOR UPDATE), used AS (INSERT INTO used_second_factor_secrets \
                         (nid, identity_id, key, expires_at) SELECT $1, {identity}, {key}, \
                         {expires} FROM live ON CONFLICT DO NOTHING RETURNING 1), flow AS ("
                    ));
                after_use = " AND EXISTS (SELECT 1 FROM used)";
            } else if let Extra::Credential(update) = extra {
                sql.push("WITH live AS (SELECT id FROM selfservice_flows WHERE ")
                    .push(&guard.flow)
                    .push(&guard.others)
                    .push(" FOR UPDATE), used AS (");
                credential_update(&mut sql, backend, update, "EXISTS (SELECT 1 FROM live)");
                sql.push(" RETURNING 1), flow AS (");
                after_use = " AND EXISTS (SELECT 1 FROM used)";
            } else {
                sql.push("WITH flow AS (");
            }
            flow_update(&mut sql, backend, completion, &guard);
            sql.push(after_use).push(" RETURNING 1)");
            writes(&mut sql, Shape::CommonTableExpressions, nid, completion)?;
            sql.push(if !matches!(extra, Extra::None) {
                " SELECT (SELECT count(*) FROM flow) AS flows, (SELECT count(*) FROM live) AS live"
            } else {
                " SELECT count(*) AS flows, count(*) AS live FROM flow"
            });
            let row = self
                .db
                .query_one_raw(sql.statement(backend))
                .await
                .map_err(map_db_err)?
                .ok_or(StoreError::NotFound)?;
            let flows: i64 = row.try_get("", "flows").map_err(map_db_err)?;
            let live: i64 = row.try_get("", "live").map_err(map_db_err)?;
            return match (flows, live) {
                (0, 0) => Err(StoreError::NotFound),
                // The flow was live but the key had been used (or the credential changed):
                // nothing was written.
                (0, _) => Err(stopped(extra)),
                _ => Ok(()),
            };
        }
        // Dropping the transaction on an error rolls everything back.
        let txn = self.db.begin().await.map_err(map_db_err)?;
        if let Some(secret) = secret {
            // The use first: its insert takes the write lock, so the batch and the check
            // below read the rows it read.
            let mut insert = Sql::new(nid);
            bind_use(&mut insert, secret);
            let insert_guard = Guard::bind(&mut insert, backend, completion);
            insert.push(&insert_use(backend, &insert_guard.exists()));
            let inserted = inserted(txn.execute_raw(insert.statement(backend)).await)?;
            if inserted == 0 {
                let mut check = Sql::new(nid);
                bind_use(&mut check, secret);
                let check_guard = Guard::bind(&mut check, backend, completion);
                check.push(&format!(
                    "SELECT 1 AS live WHERE {} \
                     AND EXISTS (SELECT 1 FROM identities WHERE nid = $1 AND id = $2)",
                    check_guard.exists()
                ));
                let live = txn
                    .query_one_raw(check.statement(backend))
                    .await
                    .map_err(map_db_err)?;
                return Err(match live {
                    Some(_) => StoreError::AlreadyUsed,
                    None => StoreError::NotFound,
                });
            }
        }
        if let Extra::Credential(update) = extra {
            // The credential first: its update takes the write lock, so the batch reads the
            // rows it read.
            let mut first = Sql::new(nid);
            let first_guard = Guard::bind(&mut first, backend, completion);
            credential_update(&mut first, backend, update, &first_guard.exists());
            let changed = txn
                .execute_raw(first.statement(backend))
                .await
                .map_err(map_db_err)?;
            if changed.rows_affected() == 0 {
                let mut check = Sql::new(nid);
                let check_guard = Guard::bind(&mut check, backend, completion);
                check.push(&format!("SELECT 1 AS live WHERE {}", check_guard.exists()));
                let live = txn
                    .query_one_raw(check.statement(backend))
                    .await
                    .map_err(map_db_err)?;
                return Err(match live {
                    Some(_) => stopped(extra),
                    None => StoreError::NotFound,
                });
            }
        }
        let exists = guard.exists();
        writes(
            &mut sql,
            Shape::Statements { guard: &exists },
            nid,
            completion,
        )?;
        // The flow update goes last: it would end the guard of every statement after it.
        sql.push("; ");
        flow_update(&mut sql, backend, completion, &guard);
        let text = sql.text.trim_start_matches("; ").to_owned();
        sql.text = text;
        // Every statement carries the guard, so the batch changes no row at all when the flow
        // update would match none. The first statement takes the write lock as it starts (a
        // writing statement does, whether it changes a row or not), so every guard reads the
        // same rows.
        let changed = txn
            .execute_raw(sql.statement(backend))
            .await
            .map_err(map_db_err)?;
        found(changed.rows_affected())?;
        txn.commit().await.map_err(map_db_err)
    }
}

impl SqlStore {
    /// A completion on MySQL: the guarded flow row locked, then one statement per write.
    async fn complete_locked(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        extra: Extra<'_>,
    ) -> Result<(), Retry> {
        let secret = extra.secret();
        let backend = DatabaseBackend::MySql;
        // Dropping the transaction on an error rolls everything back.
        let txn = self.db.begin().await.map_err(retry)?;
        let mut lock = Sql::new(nid);
        let guard = Guard::bind(&mut lock, backend, completion);
        lock.push("SELECT id FROM selfservice_flows WHERE ")
            .push(&guard.flow)
            .push(&guard.others)
            .push(" FOR UPDATE");
        let live = txn
            .query_one_raw(lock.statement(backend))
            .await
            .map_err(retry)?;
        if live.is_none() {
            return Err(Retry::Failed(StoreError::NotFound));
        }
        if let Some(secret) = secret {
            let mut insert = Sql::new(nid);
            bind_use(&mut insert, secret);
            insert.push(&insert_use(backend, "TRUE"));
            match txn.execute_raw(insert.statement(backend)).await {
                Ok(done) if done.rows_affected() == 0 => {
                    return Err(Retry::Failed(StoreError::NotFound));
                }
                Ok(_) => {}
                Err(e) if is_conflict(&e) => return Err(Retry::Failed(StoreError::AlreadyUsed)),
                Err(e) => return Err(retry(e)),
            }
        }
        if let Extra::Credential(update) = extra {
            let mut first = Sql::new(nid);
            credential_update(&mut first, backend, update, "TRUE");
            let changed = txn
                .execute_raw(first.statement(backend))
                .await
                .map_err(retry)?;
            if changed.rows_affected() == 0 {
                return Err(Retry::Failed(stopped(extra)));
            }
        }
        let mut sql = Sql::new(nid);
        let guard = Guard::bind(&mut sql, backend, completion);
        writes(&mut sql, Shape::Locked, nid, completion).map_err(Retry::Failed)?;
        let mut statements: Vec<String> = sql
            .text
            .split("; ")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        sql.text.clear();
        flow_update(&mut sql, backend, completion, &guard);
        let update = std::mem::take(&mut sql.text);
        for text in statements.drain(..) {
            txn.execute_raw(statement(backend, text, sql.values.clone()))
                .await
                .map_err(retry)?;
        }
        let changed = txn
            .execute_raw(statement(backend, update, sql.values))
            .await
            .map_err(retry)?;
        found(changed.rows_affected()).map_err(Retry::Failed)?;
        txn.commit().await.map_err(retry)
    }
}

/// What a completion whose flow was live answers when its [`Extra`] stopped it.
fn stopped(extra: Extra<'_>) -> StoreError {
    match extra {
        Extra::Credential(_) => {
            StoreError::Conflict("the credential changed since it was read".into())
        }
        _ => StoreError::AlreadyUsed,
    }
}

/// How a MySQL completion failed: on a deadlock or lock timeout (run it again), or for good.
enum Retry {
    Again,
    Failed(StoreError),
}

/// A database error of a MySQL completion.
fn retry(e: sea_orm::DbErr) -> Retry {
    if is_mysql_retryable(&e) {
        Retry::Again
    } else {
        Retry::Failed(map_db_err(e))
    }
}

/// Binds a use's identity (`$2`), key (`$3`) and expiry (`$4`), as [`insert_use`] reads them.
fn bind_use(sql: &mut Sql, secret: &SecretUse<'_>) {
    sql.bind(secret.identity_id.into());
    sql.bind(secret.key.to_owned().into());
    sql.bind(secret.expires_at.into());
}

/// The conditions a completion writes under, with their values bound once: the flow exists
/// in the tenant (and is of its kind) and still awaits a submission (its stored state is
/// neither `passed_challenge` nor `success`: of concurrent completions of one flow, one
/// succeeds), and so do the session it updates or the identity of the
/// session it inserts (unless the same completion inserts that identity).
struct Guard {
    /// `nid = $1 AND kind = $k AND id = $f AND` the state, on `selfservice_flows`.
    flow: String,
    /// ` AND EXISTS (…)` for the session or the identity, or nothing.
    others: String,
}

impl Guard {
    fn bind(sql: &mut Sql, backend: DatabaseBackend, completion: &FlowCompletion<'_>) -> Self {
        let flow = completion.flow;
        let kind = sql.bind(flow.kind.as_str().into());
        let id = sql.bind(flow.id.into());
        let others = match completion.session {
            Some(SessionWrite::Insert(record)) if completion.identity.is_none() => format!(
                " AND EXISTS (SELECT 1 FROM identities WHERE nid = $1 AND id = {})",
                sql.bind(record.session.identity_id.into())
            ),
            Some(SessionWrite::Update(session)) => format!(
                " AND EXISTS (SELECT 1 FROM sessions WHERE nid = $1 AND id = {})",
                sql.bind(session.id.into())
            ),
            _ => String::new(),
        };
        let state = match backend {
            DatabaseBackend::Postgres => "document ->> 'state'",
            DatabaseBackend::MySql => "JSON_UNQUOTE(JSON_EXTRACT(document, '$.state'))",
            _ => "json_extract(document, '$.state')",
        };
        Self {
            flow: format!(
                "nid = $1 AND kind = {kind} AND id = {id} \
                 AND COALESCE({state}, '') NOT IN ('passed_challenge', 'success')"
            ),
            others,
        }
    }

    /// The whole guard as one condition, for the statements after the flow update.
    fn exists(&self) -> String {
        format!(
            "EXISTS (SELECT 1 FROM selfservice_flows WHERE {}){}",
            self.flow, self.others
        )
    }
}

/// How the writes after the flow update are put together.
#[derive(Clone, Copy, PartialEq)]
enum Shape<'g> {
    /// PostgreSQL: `, name AS (…)` after `WITH flow AS (…)`, each selecting from `flow`.
    CommonTableExpressions,
    /// SQLite: statements separated by `;` after the flow update, each under `guard`.
    Statements { guard: &'g str },
    /// MySQL: statements separated by `; `, run one by one under the flow row's lock.
    Locked,
}

impl Shape<'_> {
    /// Opens the write `name`.
    fn open(self, sql: &mut Sql, name: &str) {
        match self {
            Shape::CommonTableExpressions => {
                sql.push(", ").push(name).push(" AS (");
            }
            Shape::Statements { .. } | Shape::Locked => {
                sql.push("; ");
            }
        }
    }

    /// Closes a write opened by [`Shape::open`].
    fn close(self, sql: &mut Sql) {
        if self == Shape::CommonTableExpressions {
            sql.push(")");
        }
    }

    /// ` AND guard` for a statement's `WHERE` on SQLite; nothing in a common table expression,
    /// which selects from the flow update instead.
    fn and_guard(self) -> String {
        match self {
            Shape::CommonTableExpressions | Shape::Locked => String::new(),
            Shape::Statements { guard } => format!(" AND {guard}"),
        }
    }
}

/// The flow update with its guards.
fn flow_update(
    sql: &mut Sql,
    backend: DatabaseBackend,
    completion: &FlowCompletion<'_>,
    guard: &Guard,
) {
    let flow = completion.flow;
    sql.push("UPDATE selfservice_flows SET expires_at = ")
        .param(flow.expires_at)
        .push(", document = ");
    // The document's JSON text: cast to `jsonb` on PostgreSQL, kept as text on SQLite.
    if backend == DatabaseBackend::Postgres {
        sql.push("CAST(")
            .param(document_value(&flow.document))
            .push(" AS jsonb)");
    } else {
        sql.param(document_value(&flow.document));
    }
    sql.push(" WHERE ").push(&guard.flow).push(&guard.others);
}

/// Every write after the flow update.
fn writes(
    sql: &mut Sql,
    shape: Shape,
    nid: Uuid,
    completion: &FlowCompletion<'_>,
) -> Result<(), StoreError> {
    let from_flow = shape == Shape::CommonTableExpressions;
    if let Some(key) = completion.reset_login_failures {
        shape.open(sql, "reset");
        sql.push("DELETE FROM login_failures")
            .push(if from_flow { " USING flow" } else { "" })
            .push(" WHERE nid = ")
            .tenant()
            .push(" AND \"key\" = ")
            .param(key.to_owned())
            .push(&shape.and_guard());
        shape.close(sql);
    }
    if let Some(key) = completion.forgive_login_attempt {
        // The attempt was counted before its password was verified; a success takes it back.
        let max = i64::from(key.max_attempts);
        shape.open(sql, "forgive");
        sql.push(
            "UPDATE login_failures SET \
             failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, \
             locked_until = CASE WHEN failures - 1 < ",
        )
        .param(max)
        .push(" THEN NULL ELSE locked_until END")
        .push(if from_flow { " FROM flow" } else { "" })
        .push(" WHERE nid = ")
        .tenant()
        .push(" AND \"key\" = ")
        .param(key.key.to_owned())
        .push(&shape.and_guard());
        shape.close(sql);
    }
    if let Some(identity) = completion.identity {
        let rows = Rows::of(nid, identity);
        insert(sql, shape, "identity_rows", &rows.identities);
        insert(sql, shape, "credential_rows", &rows.credentials);
        insert(sql, shape, "identifier_rows", &rows.identifiers);
        insert(sql, shape, "verifiable_rows", &rows.verifiable);
        insert(sql, shape, "recovery_rows", &rows.recovery);
    }
    match completion.session {
        Some(SessionWrite::Insert(record)) => {
            let row = session_row(nid, record)?.into_active_model();
            insert(sql, shape, "session_row", &[row]);
        }
        Some(SessionWrite::Update(session)) => {
            shape.open(sql, "session_row");
            sql.push("UPDATE sessions SET ");
            for (n, (column, value)) in session_updates(session)?.into_iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.push(column.as_str()).push(" = ").param(value);
            }
            if from_flow {
                sql.push(" FROM flow");
            }
            sql.push(" WHERE nid = ")
                .tenant()
                .push(" AND id = ")
                .param(session.id)
                .push(&shape.and_guard());
            shape.close(sql);
        }
        None => {}
    }
    Ok(())
}

/// Inserts `rows` (nothing for none): `INSERT INTO table (columns) SELECT v.* FROM (VALUES …)
/// AS v`, joined with `flow` as a common table expression, under the guard as a statement.
fn insert<A>(sql: &mut Sql, shape: Shape, name: &str, rows: &[A])
where
    A: ActiveModelTrait,
{
    if rows.is_empty() {
        return;
    }
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
    shape.open(sql, name);
    sql.push("INSERT INTO ")
        .push(A::Entity::default().table_name())
        .push(" (");
    for (n, column) in columns.iter().enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.push(column.as_str());
    }
    sql.push(match shape {
        Shape::Locked => ") VALUES ",
        _ => ") SELECT v.* FROM (VALUES ",
    });
    for (r, row) in rows.iter().enumerate() {
        sql.push(if r == 0 { "(" } else { ", (" });
        for (n, column) in columns.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            let value = row
                .get(*column)
                .into_value()
                .expect("rows built from models set every column");
            sql.param(value);
        }
        sql.push(")");
    }
    match shape {
        Shape::CommonTableExpressions => sql.push(") AS v, flow"),
        Shape::Statements { guard } => sql.push(") AS v WHERE ").push(guard),
        Shape::Locked => sql,
    };
    shape.close(sql);
}
