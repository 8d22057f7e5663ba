//! `CompletionStore` over SQL: the writes that finish a flow, all or none, committed (and on
//! PostgreSQL flushed to the WAL) once.
//!
//! SQLite runs them in one transaction. PostgreSQL runs them as one statement: the flow update
//! is the first common table expression and every other write reads from it, so nothing is
//! written when the flow (or the session to update, or the new session's identity) is
//! missing. One statement is one round trip and one implicit transaction, where
//! `BEGIN … COMMIT` around the same writes took a round trip each.

use async_trait::async_trait;
use kratos_core::flow::StoredFlow;
use kratos_core::store::{CompletionStore, FlowCompletion, SessionWrite, StoreError};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait, IdenStatic,
    Iterable, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::flow_store::update_flow;
use crate::identity_store::{Rows, insert_identity};
use crate::lockout_store::reset_login_failures;
use crate::session_store::{insert_session, session_row, session_updates, update_session};

#[async_trait]
impl CompletionStore for SqlStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            let statement = postgres_completion(nid, completion)?;
            let row = self
                .db
                .query_one_raw(statement)
                .await
                .map_err(map_db_err)?
                .ok_or(StoreError::NotFound)?;
            let flows: i64 = row.try_get("", "flows").map_err(map_db_err)?;
            return if flows == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            };
        }
        // Dropping the transaction on an error rolls everything back.
        let txn = self.db.begin().await.map_err(map_db_err)?;
        if let Some(key) = completion.reset_login_failures {
            reset_login_failures(&txn, nid, key).await?;
        }
        if let Some(identity) = completion.identity {
            insert_identity(&txn, nid, identity).await?;
        }
        match completion.session {
            Some(SessionWrite::Insert(record)) => insert_session(&txn, nid, record).await?,
            Some(SessionWrite::Update(session)) => update_session(&txn, nid, session).await?,
            None => {}
        }
        update_flow(&txn, nid, completion.flow).await?;
        txn.commit().await.map_err(map_db_err)
    }
}

/// PostgreSQL text with `$N` placeholders, numbered as values are added.
#[derive(Default)]
struct PostgresSql {
    text: String,
    values: Vec<Value>,
}

impl PostgresSql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    fn param(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Adds `value` without placing it; returns its placeholder number for [`Self::again`].
    fn bind(&mut self, value: impl Into<Value>) -> usize {
        self.values.push(value.into());
        self.values.len()
    }

    /// Appends the placeholder of a value added before.
    fn again(&mut self, placeholder: usize) -> &mut Self {
        self.text.push('$');
        self.text.push_str(&placeholder.to_string());
        self
    }

    /// Appends `, name AS (INSERT INTO table (columns) SELECT v.* FROM (VALUES …) AS v,
    /// flow)`: every row, inserted only when the flow was updated. Nothing for no rows.
    fn insert_cte<A>(&mut self, name: &str, rows: &[A])
    where
        A: ActiveModelTrait,
    {
        if rows.is_empty() {
            return;
        }
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
        self.push(", ")
            .push(name)
            .push(" AS (INSERT INTO ")
            .push(A::Entity::default().table_name())
            .push(" (");
        for (n, column) in columns.iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push(column.as_str());
        }
        self.push(") SELECT v.* FROM (VALUES ");
        for (r, row) in rows.iter().enumerate() {
            self.push(if r == 0 { "(" } else { ", (" });
            for (n, column) in columns.iter().enumerate() {
                if n > 0 {
                    self.push(", ");
                }
                let value = row
                    .get(*column)
                    .into_value()
                    .expect("rows built from models set every column");
                self.param(value);
            }
            self.push(")");
        }
        self.push(") AS v, flow)");
    }
}

/// The completion as one PostgreSQL statement answering `flows` (1 when everything was
/// written, 0 when nothing was).
fn postgres_completion(
    nid: Uuid,
    completion: &FlowCompletion<'_>,
) -> Result<Statement, StoreError> {
    let flow: &StoredFlow = completion.flow;
    let mut sql = PostgresSql::default();
    let tenant = sql.bind(nid);
    sql.push("WITH flow AS (UPDATE selfservice_flows SET expires_at = ")
        .param(flow.expires_at)
        .push(", document = ")
        .param(flow.document.clone())
        .push(" WHERE nid = ")
        .again(tenant)
        .push(" AND kind = ")
        .param(flow.kind.as_str())
        .push(" AND id = ")
        .param(flow.id);
    // The guards: the writes below hinge on the flow row, so the flow row hinges on what
    // they need.
    match completion.session {
        Some(SessionWrite::Insert(record)) if completion.identity.is_none() => {
            sql.push(" AND EXISTS (SELECT 1 FROM identities WHERE nid = ")
                .again(tenant)
                .push(" AND id = ")
                .param(record.session.identity_id)
                .push(")");
        }
        Some(SessionWrite::Update(session)) => {
            sql.push(" AND EXISTS (SELECT 1 FROM sessions WHERE nid = ")
                .again(tenant)
                .push(" AND id = ")
                .param(session.id)
                .push(")");
        }
        _ => {}
    }
    sql.push(" RETURNING 1)");
    if let Some(key) = completion.reset_login_failures {
        sql.push(", reset AS (DELETE FROM login_failures USING flow WHERE nid = ")
            .again(tenant)
            .push(" AND key = ")
            .param(key.to_owned())
            .push(")");
    }
    if let Some(identity) = completion.identity {
        let rows = Rows::of(nid, identity);
        sql.insert_cte("identity_rows", &rows.identities);
        sql.insert_cte("credential_rows", &rows.credentials);
        sql.insert_cte("identifier_rows", &rows.identifiers);
        sql.insert_cte("verifiable_rows", &rows.verifiable);
        sql.insert_cte("recovery_rows", &rows.recovery);
    }
    match completion.session {
        Some(SessionWrite::Insert(record)) => {
            let row = sea_orm::IntoActiveModel::into_active_model(session_row(nid, record)?);
            sql.insert_cte("session_row", &[row]);
        }
        Some(SessionWrite::Update(session)) => {
            sql.push(", session_row AS (UPDATE sessions SET ");
            for (n, (column, value)) in session_updates(session)?.into_iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.push(column.as_str()).push(" = ").param(value);
            }
            sql.push(" FROM flow WHERE nid = ")
                .again(tenant)
                .push(" AND id = ")
                .param(session.id)
                .push(")");
        }
        None => {}
    }
    sql.push(" SELECT count(*) AS flows FROM flow");
    Ok(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql.text,
        sql.values,
    ))
}
