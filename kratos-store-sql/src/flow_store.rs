//! `FlowStore` over sea-orm.
//!
//! Flow rows are ephemeral. On PostgreSQL, flow creation and flow-only updates commit
//! asynchronously (`synchronous_commit = off` for their own transaction): they do not wait
//! for the WAL flush, and a crash may lose the last few of them, which only makes a user start
//! that flow again. Identities, sessions, codes, messages and the writes that complete a flow
//! (`CompletionStore::complete_flow`) keep synchronous commits; PostgreSQL flushes the WAL
//! in order, so a durable commit also makes every earlier flow write durable.

use async_trait::async_trait;
use kratos_core::flow::{FlowDocument, FlowKind, StoredFlow};
use kratos_core::store::{FlowStore, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{found, map_db_err};
use crate::identity_query::at;
use crate::sql::statement;

/// Inserts a flow on PostgreSQL with an asynchronous commit. `set_config(…, true)` is
/// `SET LOCAL` as a function: it holds for the statement's own (implicit) transaction, whose
/// commit then does not wait for the WAL flush. One round trip.
const POSTGRES_INSERT_ASYNC: &str = "WITH async_commit AS \
     (SELECT set_config('synchronous_commit', 'off', true)) \
     INSERT INTO selfservice_flows (id, nid, kind, expires_at, csrf_token, document) \
     SELECT $1, $2, $3, $4, $5, CAST($6 AS jsonb) FROM async_commit";

/// Updates a flow on PostgreSQL with an asynchronous commit (see [`POSTGRES_INSERT_ASYNC`]).
const POSTGRES_UPDATE_ASYNC: &str = "UPDATE selfservice_flows \
     SET expires_at = $1, document = CAST($2 AS jsonb) \
     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
     WHERE nid = $3 AND kind = $4 AND id = $5";

/// Inserts a flow on SQLite and MySQL, whose `document` columns hold the JSON text as it is.
const SQLITE_INSERT: &str = "INSERT INTO selfservice_flows \
     (id, nid, kind, expires_at, csrf_token, document) VALUES ($1, $2, $3, $4, $5, $6)";

/// Updates a flow on SQLite and MySQL.
const SQLITE_UPDATE: &str = "UPDATE selfservice_flows SET expires_at = $1, document = $2 \
     WHERE nid = $3 AND kind = $4 AND id = $5";

/// Reads a flow; the document as JSON text on every backend (`jsonb` is cast, SQLite's and
/// MySQL's text columns are text already).
const SELECT: &str = "SELECT expires_at, csrf_token, CAST(document AS TEXT) \
     FROM selfservice_flows WHERE nid = $1 AND kind = $2 AND id = $3";

/// [`SELECT`] on MySQL, which has no `CAST(… AS TEXT)`.
const MYSQL_SELECT: &str = "SELECT expires_at, csrf_token, document \
     FROM selfservice_flows WHERE nid = $1 AND kind = $2 AND id = $3";

/// A flow document as the value bound for its column: its JSON text.
pub(crate) fn document_value(document: &FlowDocument) -> Value {
    Value::from(document.as_str())
}

/// A flow document from the JSON text a statement read.
pub(crate) fn document_from(text: String) -> Result<FlowDocument, StoreError> {
    FlowDocument::from_json(text).map_err(StoreError::backend)
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, nid: Uuid, f: &StoredFlow) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => POSTGRES_INSERT_ASYNC,
            _ => SQLITE_INSERT,
        };
        self.db
            .execute_raw(statement(
                backend,
                sql,
                [
                    Value::from(f.id),
                    Value::from(nid),
                    Value::from(f.kind.as_str()),
                    Value::from(f.expires_at),
                    Value::from(f.csrf_token.as_str()),
                    document_value(&f.document),
                ],
            ))
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
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                match backend {
                    DatabaseBackend::MySql => MYSQL_SELECT,
                    _ => SELECT,
                },
                [
                    Value::from(nid),
                    Value::from(kind.as_str()),
                    Value::from(id),
                ],
            ))
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(StoredFlow {
            id,
            kind,
            expires_at: at(&row, 0)?,
            csrf_token: at(&row, 1)?,
            document: document_from(at(&row, 2)?)?,
        })
    }

    async fn update_flow(&self, nid: Uuid, f: &StoredFlow) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => POSTGRES_UPDATE_ASYNC,
            _ => SQLITE_UPDATE,
        };
        let res = self
            .db
            .execute_raw(statement(
                backend,
                sql,
                [
                    Value::from(f.expires_at),
                    document_value(&f.document),
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
