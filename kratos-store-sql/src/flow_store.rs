//! `FlowStore` over sea-orm.
//!
//! Flow rows are ephemeral. On PostgreSQL, flow creation and flow-only updates commit
//! asynchronously (`synchronous_commit = off` for their own transaction): they do not wait
//! for the WAL flush, and a crash may lose the last few of them, which only makes a user start
//! that flow again. Identities, sessions, codes, messages and the writes that complete a flow
//! (`CompletionStore::complete_flow`) keep synchronous commits; PostgreSQL flushes the WAL
//! in order, so a durable commit also makes every earlier flow write durable.

use async_trait::async_trait;
use kratos_core::flow::{FlowKind, StoredFlow};
use kratos_core::store::{FlowStore, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, QueryFilter,
    Statement, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::entity::flow;
use crate::error::{found, map_db_err};

/// Inserts a flow on PostgreSQL with an asynchronous commit. `set_config(…, true)` is
/// `SET LOCAL` as a function: it holds for the statement's own (implicit) transaction, whose
/// commit then does not wait for the WAL flush. One round trip.
const POSTGRES_INSERT_ASYNC: &str = "WITH async_commit AS \
     (SELECT set_config('synchronous_commit', 'off', true)) \
     INSERT INTO selfservice_flows (id, nid, kind, expires_at, csrf_token, document) \
     SELECT $1, $2, $3, $4, $5, $6 FROM async_commit";

/// Updates a flow on PostgreSQL with an asynchronous commit (see [`POSTGRES_INSERT_ASYNC`]).
const POSTGRES_UPDATE_ASYNC: &str = "UPDATE selfservice_flows SET expires_at = $1, document = $2 \
     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
     WHERE nid = $3 AND kind = $4 AND id = $5";

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, nid: Uuid, f: &StoredFlow) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            self.db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    POSTGRES_INSERT_ASYNC,
                    [
                        Value::from(f.id),
                        Value::from(nid),
                        Value::from(f.kind.as_str()),
                        Value::from(f.expires_at),
                        Value::from(f.csrf_token.clone()),
                        Value::from(f.document.clone()),
                    ],
                ))
                .await
                .map_err(map_db_err)?;
            return Ok(());
        }
        flow::Entity::insert(
            flow::Model {
                id: f.id,
                nid,
                kind: f.kind.as_str().to_owned(),
                expires_at: f.expires_at,
                csrf_token: f.csrf_token.clone(),
                document: f.document.clone(),
            }
            .into_active_model(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(map_db_err)?;
        Ok(())
    }

    async fn get_flow(
        &self,
        nid: Uuid,
        kind: FlowKind,
        id: Uuid,
    ) -> Result<StoredFlow, StoreError> {
        let row = flow::Entity::find()
            .filter(flow::Column::Nid.eq(nid))
            .filter(flow::Column::Kind.eq(kind.as_str()))
            .filter(flow::Column::Id.eq(id))
            .one(&self.db)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(StoredFlow {
            id: row.id,
            kind,
            expires_at: row.expires_at,
            csrf_token: row.csrf_token,
            document: row.document,
        })
    }

    async fn update_flow(&self, nid: Uuid, f: &StoredFlow) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        if backend != DatabaseBackend::Postgres {
            let res = flow::Entity::update_many()
                .col_expr(flow::Column::ExpiresAt, Expr::value(f.expires_at))
                .col_expr(flow::Column::Document, Expr::value(f.document.clone()))
                .filter(flow::Column::Nid.eq(nid))
                .filter(flow::Column::Kind.eq(f.kind.as_str()))
                .filter(flow::Column::Id.eq(f.id))
                .exec(&self.db)
                .await
                .map_err(map_db_err)?;
            return found(res.rows_affected);
        }
        let res = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                POSTGRES_UPDATE_ASYNC,
                [
                    Value::from(f.expires_at),
                    Value::from(f.document.clone()),
                    Value::from(nid),
                    Value::from(f.kind.as_str()),
                    Value::from(f.id),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        found(res.rows_affected())
    }
}
