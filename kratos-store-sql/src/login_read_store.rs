//! `LoginReadStore` over SQL: a password login's reads (its flow, the identity of its
//! identifier) and the counting of its attempt on its lockout keys as one statement, one
//! round trip, on PostgreSQL; SQLite counts the attempt apart (one more hand-over to its
//! worker thread per key), as it has no data-modifying common table expressions.
//!
//! The three reads share nothing, so the statement selects one row from nothing and joins each
//! read to it on its own: the flow row (`LEFT JOIN`, absent when the flow is), one scalar
//! subquery per lockout key answering the lock that refused the attempt (from the attempt's
//! upsert, a common table expression that counts only when the flow is live) and the
//! one-query identity load of [`identity_sql`] (`LEFT JOIN`,
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
    LockoutStore, LoginReadStore, PasswordLoginKeys, PasswordLoginReads, StoreError,
    separate_password_login_reads,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::flow_store::document_from;
use crate::identity_query::{IdentityKey, at, debug_assert_columns, decode_identity, identity_sql};
use crate::lockout_store::{ASYNC_COMMIT_CTE, after_admitted, attempt_upsert};
use crate::sql::{Sql, text_type};

/// The statement of `keys`: the flow, one column per lockout key counted in the statement
/// (PostgreSQL: the attempt's upserts run as common table expressions, guarded by the flow
/// being live; SQLite counts apart, so none) and the identity. Parameters: `$1` tenant, `$2`
/// credential type, `$3` identifier (those of [`identity_sql`]), `$4` flow kind, `$5` flow
/// id, then the attempt's values.
fn login_reads_statement(
    backend: DatabaseBackend,
    nid: Uuid,
    keys: &PasswordLoginKeys<'_>,
) -> (Sql, usize) {
    let mut sql = Sql::new(nid);
    sql.bind(Value::from(CredentialType::Password.as_str()));
    sql.bind(Value::from(keys.identifier.to_owned()));
    sql.bind(Value::from(FlowKind::Login.as_str()));
    sql.bind(Value::from(keys.flow_id));
    let counted = if backend == DatabaseBackend::Postgres {
        keys.lockout_keys.len()
    } else {
        0
    };
    let mut ctes = Vec::with_capacity(counted + 1);
    if counted > 0 {
        let now = sql.bind(Value::from(keys.schedule.now));
        // A flow with a CSRF token counts only a submission carrying it (vouched for).
        let token = sql.bind(Value::from(keys.csrf_token.map(str::to_owned)));
        let api = sql.bind(Value::from(keys.api_flow_admitted));
        let live = format!(
            "EXISTS (SELECT 1 FROM selfservice_flows g WHERE g.nid = $1 AND g.kind = $4 \
             AND g.id = $5 AND g.expires_at > {now} \
             AND ((g.csrf_token = '' AND {api}) OR g.csrf_token = {token}))"
        );
        ctes.push(ASYNC_COMMIT_CTE.to_owned());
        for (n, key) in keys.lockout_keys.iter().enumerate() {
            let guard = after_admitted(n, &live);
            let upsert = attempt_upsert(&mut sql, key, keys.schedule, " FROM async_commit", &guard);
            ctes.push(format!("a{n} AS ({upsert})"));
        }
    }
    let identity = identity_sql(backend, IdentityKey::Identifier);
    let mut text = String::with_capacity(identity.len() + 1024);
    if !ctes.is_empty() {
        text.push_str("WITH ");
        text.push_str(&ctes.join(", "));
        text.push(' ');
    }
    text.push_str(&format!(
        "SELECT f.id AS flow_id, f.expires_at AS flow_expires_at, \
         f.csrf_token AS flow_csrf_token, CAST(f.document AS {}) AS flow_document",
        text_type(backend)
    ));
    for n in 0..counted {
        text.push_str(&format!(
            ", (SELECT CASE WHEN a.admitted THEN NULL ELSE a.locked_until END FROM a{n} a) \
             AS locked_until_{n}"
        ));
    }
    text.push_str(
        ", x.* FROM (SELECT 1 AS one) AS one \
         LEFT JOIN selfservice_flows f ON f.nid = $1 AND f.kind = $4 AND f.id = $5 \
         LEFT JOIN (",
    );
    text.push_str(identity);
    text.push_str(") AS x ON 1 = 1");
    sql.push(&text);
    (sql, counted)
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
        let (sql, counted) = login_reads_statement(backend, nid, &keys);
        let reads = match self.db.query_one_raw(sql.statement(backend)).await {
            Ok(Some(row)) => PasswordLoginReads {
                flow: decode_flow(&row),
                locked_until: decode_locked_until(&row, counted),
                identity: decode_found_identity(&row, counted),
            },
            // The statement always answers one row; none is handled as a failed statement.
            Ok(None) => return separate_password_login_reads(self, nid, keys).await,
            Err(e) if read_again_separately(&e) => {
                return separate_password_login_reads(self, nid, keys).await;
            }
            Err(e) => return all_failed(e),
        };
        if counted == keys.lockout_keys.len() {
            return reads;
        }
        // SQLite and MySQL count the attempt apart, once the flow is known to be live.
        let live = matches!(&reads.flow, Ok(f) if f.expires_at > keys.schedule.now
            && keys.counts_on(&f.csrf_token));
        let locked_until = if live {
            self.record_login_attempt(nid, keys.lockout_keys, keys.schedule)
                .await
        } else {
            Ok(None)
        };
        PasswordLoginReads {
            locked_until,
            ..reads
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
