//! `CompletionStore` over SQL: the writes that finish a flow, all or none, committed (and on
//! PostgreSQL flushed to the WAL) once, in as few round trips as the backend allows.
//!
//! The flow update goes first and carries the guards: it matches no row when the flow, the
//! session to update or the new session's identity is missing in the tenant, and then nothing
//! else is written.
//!
//! - PostgreSQL runs everything as one statement: the flow update is the first common table
//!   expression and every other write selects from it. One round trip, one implicit
//!   transaction.
//! - SQLite runs the flow update, then every other write as one batch of statements, in a
//!   transaction: four hand-overs to sqlx's worker thread (`BEGIN`, update, batch, `COMMIT`)
//!   whatever the number of rows.
//!
//! Both are written once with `$N` placeholders ([`Sql`]); SQLite gets them rewritten.

use async_trait::async_trait;
use kratos_core::store::{CompletionStore, FlowCompletion, SessionWrite, StoreError};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, TransactionTrait,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{found, map_db_err};
use crate::flow_store::document_value;
use crate::identity_store::Rows;
use crate::session_store::{session_row, session_updates};
use crate::sql::Sql;

#[async_trait]
impl CompletionStore for SqlStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            let mut sql = Sql::new(nid);
            sql.push("WITH flow AS (");
            flow_update(&mut sql, backend, completion);
            sql.push(" RETURNING 1)");
            writes(&mut sql, Shape::CommonTableExpressions, nid, completion)?;
            sql.push(" SELECT count(*) AS flows FROM flow");
            let row = self
                .db
                .query_one_raw(sql.statement(backend))
                .await
                .map_err(map_db_err)?
                .ok_or(StoreError::NotFound)?;
            let flows: i64 = row.try_get("", "flows").map_err(map_db_err)?;
            return found(flows as u64);
        }
        // Dropping the transaction on an error rolls everything back.
        let txn = self.db.begin().await.map_err(map_db_err)?;
        let mut update = Sql::new(nid);
        flow_update(&mut update, backend, completion);
        let updated = txn
            .execute_raw(update.statement(backend))
            .await
            .map_err(map_db_err)?;
        found(updated.rows_affected())?;
        let mut batch = Sql::new(nid);
        writes(&mut batch, Shape::Statements, nid, completion)?;
        if !batch.text.is_empty() {
            txn.execute_raw(batch.statement(backend))
                .await
                .map_err(map_db_err)?;
        }
        txn.commit().await.map_err(map_db_err)
    }
}

/// How the writes after the flow update are put together.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// PostgreSQL: `, name AS (…)` after `WITH flow AS (…)`, each selecting from `flow`.
    CommonTableExpressions,
    /// SQLite: statements separated by `;`, run after the flow update matched.
    Statements,
}

impl Shape {
    /// Opens the write `name`.
    fn open(self, sql: &mut Sql, name: &str) {
        match self {
            Shape::CommonTableExpressions => {
                sql.push(", ").push(name).push(" AS (");
            }
            Shape::Statements if sql.text.is_empty() => {}
            Shape::Statements => {
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
}

/// The flow update with its guards.
fn flow_update(sql: &mut Sql, backend: DatabaseBackend, completion: &FlowCompletion<'_>) {
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
    sql.push(" WHERE nid = ")
        .tenant()
        .push(" AND kind = ")
        .param(flow.kind.as_str())
        .push(" AND id = ")
        .param(flow.id);
    match completion.session {
        Some(SessionWrite::Insert(record)) if completion.identity.is_none() => {
            sql.push(" AND EXISTS (SELECT 1 FROM identities WHERE nid = ")
                .tenant()
                .push(" AND id = ")
                .param(record.session.identity_id)
                .push(")");
        }
        Some(SessionWrite::Update(session)) => {
            sql.push(" AND EXISTS (SELECT 1 FROM sessions WHERE nid = ")
                .tenant()
                .push(" AND id = ")
                .param(session.id)
                .push(")");
        }
        _ => {}
    }
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
            .push(" AND key = ")
            .param(key.to_owned());
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
                .param(session.id);
            shape.close(sql);
        }
        None => {}
    }
    Ok(())
}

/// Inserts `rows` (nothing for none); as a common table expression:
/// `INSERT INTO table (columns) SELECT v.* FROM (VALUES …) AS v, flow`.
fn insert<A>(sql: &mut Sql, shape: Shape, name: &str, rows: &[A])
where
    A: ActiveModelTrait,
{
    if rows.is_empty() {
        return;
    }
    let from_flow = shape == Shape::CommonTableExpressions;
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
    sql.push(if from_flow {
        ") SELECT v.* FROM (VALUES "
    } else {
        ") VALUES "
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
    if from_flow {
        sql.push(") AS v, flow");
    }
    shape.close(sql);
}
