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

use async_trait::async_trait;
use kratos_core::store::{CompletionStore, FlowCompletion, SessionWrite, StoreError};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{found, map_db_err};
use crate::identity_store::Rows;
use crate::session_store::{session_row, session_updates};

#[async_trait]
impl CompletionStore for SqlStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            let mut sql = Sql::new(backend, nid);
            sql.push("WITH flow AS (");
            sql.flow_update(completion);
            sql.push(" RETURNING 1)");
            sql.writes(nid, completion)?;
            sql.push(" SELECT count(*) AS flows FROM flow");
            let row = self
                .db
                .query_one_raw(sql.statement())
                .await
                .map_err(map_db_err)?
                .ok_or(StoreError::NotFound)?;
            let flows: i64 = row.try_get("", "flows").map_err(map_db_err)?;
            return found(flows as u64);
        }
        // Dropping the transaction on an error rolls everything back.
        let txn = self.db.begin().await.map_err(map_db_err)?;
        let mut update = Sql::new(backend, nid);
        update.flow_update(completion);
        let updated = txn
            .execute_raw(update.statement())
            .await
            .map_err(map_db_err)?;
        found(updated.rows_affected())?;
        let mut batch = Sql::new(backend, nid);
        batch.writes(nid, completion)?;
        if !batch.text.is_empty() {
            txn.execute_raw(batch.statement())
                .await
                .map_err(map_db_err)?;
        }
        txn.commit().await.map_err(map_db_err)
    }
}

/// SQL text and its values, built in order: `$N` placeholders on PostgreSQL, anonymous `+?`
/// on SQLite (bound in order across the statements of a batch).
struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
    tenant: Value,
    /// PostgreSQL: the placeholder number of the tenant, once placed.
    tenant_placeholder: Option<usize>,
}

impl Sql {
    fn new(backend: DatabaseBackend, nid: Uuid) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
            tenant: Value::from(nid),
            tenant_placeholder: None,
        }
    }

    fn postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    fn param(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        if self.postgres() {
            self.text.push('$');
            self.text.push_str(&self.values.len().to_string());
        } else {
            // Behind a unary plus, as in `tuple_store::sqlite_parameters`: SQLite's STAT4
            // planner would otherwise prepare the statement again on every bind.
            self.text.push_str("+?");
        }
        self
    }

    /// Appends a placeholder for the tenant (one value for all of them on PostgreSQL).
    fn tenant(&mut self) -> &mut Self {
        match self.tenant_placeholder {
            Some(n) => {
                self.text.push('$');
                self.text.push_str(&n.to_string());
            }
            None => {
                self.param(self.tenant.clone());
                if self.postgres() {
                    self.tenant_placeholder = Some(self.values.len());
                }
            }
        }
        self
    }

    /// Separates the writes: a common table expression on PostgreSQL, a statement on SQLite.
    fn next_write(&mut self, name: &str) -> &mut Self {
        if self.postgres() {
            self.push(", ").push(name).push(" AS (")
        } else if self.text.is_empty() {
            self
        } else {
            self.push("; ")
        }
    }

    fn end_write(&mut self) -> &mut Self {
        if self.postgres() {
            self.push(")")
        } else {
            self
        }
    }

    /// The flow update with its guards.
    fn flow_update(&mut self, completion: &FlowCompletion<'_>) {
        let flow = completion.flow;
        self.push("UPDATE selfservice_flows SET expires_at = ")
            .param(flow.expires_at)
            .push(", document = ")
            .param(flow.document.clone())
            .push(" WHERE nid = ")
            .tenant()
            .push(" AND kind = ")
            .param(flow.kind.as_str())
            .push(" AND id = ")
            .param(flow.id);
        match completion.session {
            Some(SessionWrite::Insert(record)) if completion.identity.is_none() => {
                self.push(" AND EXISTS (SELECT 1 FROM identities WHERE nid = ")
                    .tenant()
                    .push(" AND id = ")
                    .param(record.session.identity_id)
                    .push(")");
            }
            Some(SessionWrite::Update(session)) => {
                self.push(" AND EXISTS (SELECT 1 FROM sessions WHERE nid = ")
                    .tenant()
                    .push(" AND id = ")
                    .param(session.id)
                    .push(")");
            }
            _ => {}
        }
    }

    /// Every write after the flow update; on PostgreSQL each selects from `flow`.
    fn writes(&mut self, nid: Uuid, completion: &FlowCompletion<'_>) -> Result<(), StoreError> {
        let from_flow = if self.postgres() { " USING flow" } else { "" };
        if let Some(key) = completion.reset_login_failures {
            self.next_write("reset")
                .push("DELETE FROM login_failures")
                .push(from_flow)
                .push(" WHERE nid = ")
                .tenant()
                .push(" AND key = ")
                .param(key.to_owned())
                .end_write();
        }
        if let Some(identity) = completion.identity {
            let rows = Rows::of(nid, identity);
            self.insert("identity_rows", &rows.identities);
            self.insert("credential_rows", &rows.credentials);
            self.insert("identifier_rows", &rows.identifiers);
            self.insert("verifiable_rows", &rows.verifiable);
            self.insert("recovery_rows", &rows.recovery);
        }
        match completion.session {
            Some(SessionWrite::Insert(record)) => {
                self.insert(
                    "session_row",
                    &[session_row(nid, record)?.into_active_model()],
                );
            }
            Some(SessionWrite::Update(session)) => {
                self.next_write("session_row").push("UPDATE sessions SET ");
                for (n, (column, value)) in session_updates(session)?.into_iter().enumerate() {
                    if n > 0 {
                        self.push(", ");
                    }
                    self.push(column.as_str()).push(" = ").param(value);
                }
                if self.postgres() {
                    self.push(" FROM flow");
                }
                self.push(" WHERE nid = ")
                    .tenant()
                    .push(" AND id = ")
                    .param(session.id)
                    .end_write();
            }
            None => {}
        }
        Ok(())
    }

    /// Inserts `rows` (nothing for none). On PostgreSQL:
    /// `INSERT INTO table (columns) SELECT v.* FROM (VALUES …) AS v, flow`.
    fn insert<A>(&mut self, name: &str, rows: &[A])
    where
        A: ActiveModelTrait,
    {
        if rows.is_empty() {
            return;
        }
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
        self.next_write(name)
            .push("INSERT INTO ")
            .push(A::Entity::default().table_name())
            .push(" (");
        for (n, column) in columns.iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push(column.as_str());
        }
        self.push(if self.postgres() {
            ") SELECT v.* FROM (VALUES "
        } else {
            ") VALUES "
        });
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
        if self.postgres() {
            self.push(") AS v, flow");
        }
        self.end_write();
    }
}
