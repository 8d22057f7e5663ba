//! `LoginReadStore` over SQL: a password login's three reads (its flow, the locks of its
//! lockout keys, the identity of its identifier) as one statement, one round trip.
//!
//! The three reads share nothing, so the statement selects one row from nothing and joins each
//! read to it on its own: the flow row (`LEFT JOIN`, absent when the flow is), one scalar
//! subquery per lockout key and the one-query identity load of [`identity_sql`] (`LEFT JOIN`,
//! absent when no identity owns the identifier). Each part is decoded on its own, so an
//! identity row that does not decode fails the identity read only; when the statement itself
//! fails, the three reads run again one by one ([`separate_password_login_reads`]), so that a
//! lock still wins over a failing identity.
//!
//! Sent as three statements at once (on three pooled connections), the reads did not overlap
//! on a 2-core machine: they started about 0.1 ms apart, each waking its own server process.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::flow::{FlowKind, StoredFlow};
use kratos_core::identity::CredentialType;
use kratos_core::store::{
    LoginReadStore, PasswordLoginKeys, PasswordLoginReads, StoreError,
    separate_password_login_reads,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::flow_store::document_from;
use crate::identity_query::{IdentityKey, at, debug_assert_columns, decode_identity, identity_sql};
use crate::sql::statement;

/// The statement for `keys` lockout keys. Parameters: `$1` tenant, `$2` credential type, `$3`
/// identifier (those of [`identity_sql`]), `$4` flow kind, `$5` flow id, `$6…` the keys.
fn login_reads_sql(backend: DatabaseBackend, keys: usize) -> String {
    let identity = identity_sql(backend, IdentityKey::Identifier);
    let mut sql = String::with_capacity(identity.len() + 512);
    sql.push_str(
        "SELECT f.id AS flow_id, f.expires_at AS flow_expires_at, \
         f.csrf_token AS flow_csrf_token, CAST(f.document AS TEXT) AS flow_document",
    );
    for n in 0..keys {
        sql.push_str(&format!(
            ", (SELECT l.locked_until FROM login_failures l WHERE l.nid = $1 AND l.key = ${}) \
             AS locked_until_{n}",
            n + 6
        ));
    }
    sql.push_str(
        ", x.* FROM (SELECT 1 AS one) AS one \
         LEFT JOIN selfservice_flows f ON f.nid = $1 AND f.kind = $4 AND f.id = $5 \
         LEFT JOIN (",
    );
    sql.push_str(identity);
    sql.push_str(") AS x ON 1 = 1");
    sql
}

/// The names of the flow part's columns, first in the row.
const FLOW_COLUMNS: [&str; 4] = [
    "flow_id",
    "flow_expires_at",
    "flow_csrf_token",
    "flow_document",
];

/// The flow part of the row.
fn decode_flow(row: &QueryResult) -> Result<StoredFlow, StoreError> {
    debug_assert_columns(row, 0, &FLOW_COLUMNS);
    let id: Option<Uuid> = at(row, 0)?;
    let id = id.ok_or(StoreError::NotFound)?;
    Ok(StoredFlow {
        id,
        kind: FlowKind::Login,
        expires_at: at(row, 1)?,
        csrf_token: at(row, 2)?,
        document: document_from(at(row, 3)?)?,
    })
}

/// The latest lock among the `keys` lock columns, which follow the flow's.
fn decode_locked_until(
    row: &QueryResult,
    keys: usize,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut latest = None;
    for n in 0..keys {
        let until: Option<DateTime<Utc>> = at(row, FLOW_COLUMNS.len() + n)?;
        latest = latest.max(until);
    }
    Ok(latest)
}

/// The identity part of the row, whose columns follow the `keys` lock columns: none when no
/// identity joined.
fn decode_found_identity(
    row: &QueryResult,
    keys: usize,
) -> Result<Option<kratos_core::identity::Identity>, StoreError> {
    let from = FLOW_COLUMNS.len() + keys;
    let id: Option<Uuid> = at(row, from)?;
    match id {
        None => Ok(None),
        Some(_) => decode_identity(row, from, true).map(Some),
    }
}

#[async_trait]
impl LoginReadStore for SqlStore {
    async fn password_login_reads(
        &self,
        nid: Uuid,
        keys: PasswordLoginKeys<'_>,
    ) -> PasswordLoginReads {
        let backend = self.db.get_database_backend();
        let mut values = vec![
            Value::from(nid),
            Value::from(CredentialType::Password.as_str()),
            Value::from(keys.identifier.to_owned()),
            Value::from(FlowKind::Login.as_str()),
            Value::from(keys.flow_id),
        ];
        values.extend(keys.lockout_keys.iter().map(|k| Value::from(k.clone())));
        let sql = login_reads_sql(backend, keys.lockout_keys.len());
        match self.db.query_one_raw(statement(backend, sql, values)).await {
            Ok(Some(row)) => PasswordLoginReads {
                flow: decode_flow(&row),
                locked_until: decode_locked_until(&row, keys.lockout_keys.len()),
                identity: decode_found_identity(&row, keys.lockout_keys.len()),
            },
            // The statement always answers one row; none is handled as a failed statement.
            Ok(None) => separate_password_login_reads(self, nid, keys).await,
            Err(e) if read_again_separately(&e) => {
                separate_password_login_reads(self, nid, keys).await
            }
            Err(e) => all_failed(e),
        }
    }
}

/// Whether a failed combined read runs again as three reads: when the statement itself failed
/// (say, SQLite rejecting a stored credential's JSON inside the identity part), so that the
/// flow and the lock keep their own outcomes. Not when no connection could be had: three more
/// attempts would only wait for the pool three times over.
fn read_again_separately(e: &DbErr) -> bool {
    matches!(e, DbErr::Query(_))
}

/// Every read failed with `e`.
fn all_failed(e: DbErr) -> PasswordLoginReads {
    let text = e.to_string();
    PasswordLoginReads {
        flow: Err(map_db_err(e)),
        locked_until: Err(StoreError::Backend(text.clone().into())),
        identity: Err(StoreError::Backend(text.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::read_again_separately;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    #[test]
    fn only_a_failed_statement_is_read_again_separately() {
        assert!(read_again_separately(&DbErr::Query(RuntimeErr::Internal(
            "malformed JSON".into()
        ))));
        assert!(!read_again_separately(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(!read_again_separately(&DbErr::Conn(RuntimeErr::Internal(
            "connection refused".into()
        ))));
    }
}
