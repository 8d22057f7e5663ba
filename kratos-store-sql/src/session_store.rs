//! `SessionStore` over sea-orm. whoami is one query: the session by the unique index on its
//! token digest, joined by primary key with its identity row, which keeps both address lists
//! and the level its credentials allow.

use async_trait::async_trait;
use kratos_core::session::{Aal, Session, SessionRecord};
use kratos_core::store::{SessionStore, SessionWithIdentity, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QueryResult, Statement, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::entity::session;
use crate::error::{found, map_db_err};
use crate::identity_query::{
    at, corrupt, debug_assert_columns, decode_identity, identity_columns, json_at,
};
use crate::sql::statement;

fn digest(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| corrupt("token digest"))
}

fn to_session(row: session::Model) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        session: Session {
            id: row.id,
            active: row.active,
            expires_at: row.expires_at,
            authenticated_at: row.authenticated_at,
            authenticator_assurance_level: Aal::parse(&row.aal).ok_or_else(|| corrupt("aal"))?,
            authentication_methods: serde_json::from_value(row.authentication_methods)
                .map_err(|_| corrupt("authentication methods"))?,
            issued_at: row.issued_at,
            identity: None,
            devices: serde_json::from_value(row.devices).map_err(|_| corrupt("devices"))?,
            identity_id: row.identity_id,
        },
        token_digest: digest(row.token_digest)?,
        logout_token_digest: digest(row.logout_token_digest)?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(StoreError::backend)
}

/// The names of the columns of [`session_columns`], in order: the whoami row is read by
/// position (see `identity_query::at`).
const SESSION_COLUMNS: [&str; 11] = [
    "id",
    "identity_id",
    "token_digest",
    "logout_token_digest",
    "active",
    "aal",
    "authentication_methods",
    "devices",
    "issued_at",
    "expires_at",
    "authenticated_at",
];

/// The session columns of the whoami statements (`s` is `sessions`).
macro_rules! session_columns {
    () => {
        "s.id, s.identity_id, s.token_digest, s.logout_token_digest, s.active, s.aal, \
         s.authentication_methods, s.devices, s.issued_at, s.expires_at, s.authenticated_at"
    };
}

/// whoami in one statement on PostgreSQL: the session by token digest (`$2`) in the tenant
/// (`$1`), its identity without credentials and admin metadata, with both address lists and
/// `available_aal` from the identity row (written with the addresses and credentials). The
/// identity is joined by primary key and its tenant checked with `IS NOT DISTINCT FROM`, for
/// the reason `identity_query`'s credential aggregate gives.
const POSTGRES_WHOAMI: &str = concat!(
    "SELECT ",
    session_columns!(),
    ", ",
    identity_columns!(),
    ", i.available_aal \
     FROM sessions s JOIN identities i \
     ON i.id = s.identity_id AND i.nid IS NOT DISTINCT FROM s.nid \
     WHERE s.nid = $1 AND s.token_digest = $2"
);

/// [`POSTGRES_WHOAMI`] for SQLite (`=` on the tenant).
const SQLITE_WHOAMI: &str = concat!(
    "SELECT ",
    session_columns!(),
    ", ",
    identity_columns!(),
    ", i.available_aal \
     FROM sessions s JOIN identities i ON i.nid = s.nid AND i.id = s.identity_id \
     WHERE s.nid = $1 AND s.token_digest = $2"
);

/// whoami on MySQL and MariaDB: the same row as [`SQLITE_WHOAMI`] in two columns, the two
/// rows' `whoami_document`s (decoded by [`crate::whoami_document`]; migration
/// `m20261206_000016_whoami_documents` says why). The token digest is not selected: it is the
/// one looked up. Written with MySQL's `?` (the tenant, then the digest) rather than `$N`, so
/// that no call rewrites it.
const MYSQL_WHOAMI: &str = "SELECT s.whoami_document, i.whoami_document AS identity_document \
     FROM sessions s JOIN identities i ON i.nid = s.nid AND i.id = s.identity_id \
     WHERE s.nid = ? AND s.token_digest = ?";

/// Inserts a session when its identity exists in the tenant (`$1` the network id, `$2` the
/// identity id); written with `$N` for both backends (see [`crate::sql::statement`]).
const INSERT: &str = "INSERT INTO sessions (id, nid, identity_id, token_digest, \
     logout_token_digest, active, aal, authentication_methods, devices, issued_at, expires_at, \
     authenticated_at) SELECT $3, $1, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
     FROM identities WHERE nid = $1 AND id = $2";

/// Decodes a row of the whoami statements: the [`SESSION_COLUMNS`], the identity's columns
/// (`identity_query::IDENTITY_COLUMNS` without the last two), then `available_aal`.
fn session_with_identity(row: &QueryResult) -> Result<SessionWithIdentity, StoreError> {
    const IDENTITY: usize = SESSION_COLUMNS.len();
    const AVAILABLE_AAL: usize = IDENTITY + 12;
    debug_assert_columns(row, 0, &SESSION_COLUMNS);
    debug_assert_columns(row, AVAILABLE_AAL, &["available_aal"]);
    let session = Session {
        id: at(row, 0)?,
        active: at(row, 4)?,
        expires_at: at(row, 9)?,
        authenticated_at: at(row, 10)?,
        authenticator_assurance_level: Aal::parse(&at::<String>(row, 5)?)
            .ok_or_else(|| corrupt("aal"))?,
        authentication_methods: json_at(row, 6, "authentication methods")?,
        issued_at: at(row, 8)?,
        identity: None,
        devices: json_at(row, 7, "devices")?,
        identity_id: at(row, 1)?,
    };
    let identity = decode_identity(row, IDENTITY, false)?;
    let available_aal =
        Aal::parse(&at::<String>(row, AVAILABLE_AAL)?).ok_or_else(|| corrupt("available aal"))?;
    Ok(SessionWithIdentity {
        record: SessionRecord {
            session,
            token_digest: digest(at(row, 2)?)?,
            logout_token_digest: digest(at(row, 3)?)?,
        },
        identity,
        available_aal,
    })
}

/// The row of a new session.
pub(crate) fn session_row(nid: Uuid, record: &SessionRecord) -> Result<session::Model, StoreError> {
    let s = &record.session;
    Ok(session::Model {
        id: s.id,
        nid,
        identity_id: s.identity_id,
        token_digest: record.token_digest.to_vec(),
        logout_token_digest: record.logout_token_digest.to_vec(),
        active: s.active,
        aal: s.authenticator_assurance_level.as_str().to_owned(),
        authentication_methods: json(&s.authentication_methods)?,
        devices: json(&s.devices)?,
        issued_at: s.issued_at,
        expires_at: s.expires_at,
        authenticated_at: s.authenticated_at,
    })
}

/// A session's mutable columns and their new values.
pub(crate) fn session_updates(s: &Session) -> Result<Vec<(session::Column, Value)>, StoreError> {
    use session::Column;
    Ok(vec![
        (Column::Active, Value::from(s.active)),
        (
            Column::Aal,
            Value::from(s.authenticator_assurance_level.as_str()),
        ),
        (
            Column::AuthenticationMethods,
            Value::from(json(&s.authentication_methods)?),
        ),
        (Column::Devices, Value::from(json(&s.devices)?)),
        (Column::ExpiresAt, Value::from(s.expires_at)),
        (Column::AuthenticatedAt, Value::from(s.authenticated_at)),
    ])
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError> {
        let s = &record.session;
        let backend = self.db.get_database_backend();
        let inserted = self
            .db
            .execute_raw(statement(
                backend,
                INSERT,
                [
                    Value::from(nid),
                    Value::from(s.identity_id),
                    Value::from(s.id),
                    Value::from(record.token_digest.to_vec()),
                    Value::from(record.logout_token_digest.to_vec()),
                    Value::from(s.active),
                    Value::from(s.authenticator_assurance_level.as_str()),
                    Value::from(json(&s.authentication_methods)?),
                    Value::from(json(&s.devices)?),
                    Value::from(s.issued_at),
                    Value::from(s.expires_at),
                    Value::from(s.authenticated_at),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_session(&self, nid: Uuid, id: Uuid) -> Result<SessionRecord, StoreError> {
        let row = session::Entity::find()
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::Id.eq(id))
            .one(&self.db)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        to_session(row)
    }

    async fn get_session_by_token(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        let row = session::Entity::find()
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::TokenDigest.eq(token_digest.to_vec()))
            .one(&self.db)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        to_session(row)
    }

    async fn get_session_by_token_with_identity(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionWithIdentity, StoreError> {
        let backend = self.db.get_database_backend();
        let values = [Value::from(nid), Value::from(token_digest.to_vec())];
        let query = match backend {
            DatabaseBackend::Postgres => statement(backend, POSTGRES_WHOAMI, values),
            DatabaseBackend::MySql => Statement::from_sql_and_values(backend, MYSQL_WHOAMI, values),
            _ => statement(backend, SQLITE_WHOAMI, values),
        };
        let row = self
            .db
            .query_one_raw(query)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        match backend {
            DatabaseBackend::MySql => crate::whoami_document::decode(&row, token_digest),
            _ => session_with_identity(&row),
        }
    }

    async fn get_session_by_logout_token(
        &self,
        nid: Uuid,
        logout_token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        let row = session::Entity::find()
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::LogoutTokenDigest.eq(logout_token_digest.to_vec()))
            .one(&self.db)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        to_session(row)
    }

    async fn update_session(&self, nid: Uuid, s: &Session) -> Result<(), StoreError> {
        let mut update = session::Entity::update_many();
        for (column, value) in session_updates(s)? {
            update = update.col_expr(column, Expr::value(value));
        }
        let res = update
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::Id.eq(s.id))
            .exec(&self.db)
            .await
            .map_err(map_db_err)?;
        found(res.rows_affected)
    }

    async fn list_sessions(
        &self,
        nid: Uuid,
        identity_id: Uuid,
    ) -> Result<Vec<Session>, StoreError> {
        session::Entity::find()
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::IdentityId.eq(identity_id))
            .order_by_desc(session::Column::IssuedAt)
            .order_by_desc(session::Column::Id)
            .all(&self.db)
            .await
            .map_err(map_db_err)?
            .into_iter()
            .map(|r| to_session(r).map(|r| r.session))
            .collect()
    }

    async fn revoke_sessions_of_identity(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut q = session::Entity::update_many()
            .col_expr(session::Column::Active, Expr::value(false))
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::IdentityId.eq(identity_id))
            .filter(session::Column::Active.eq(true));
        if let Some(except) = except {
            q = q.filter(session::Column::Id.ne(except));
        }
        Ok(q.exec(&self.db).await.map_err(map_db_err)?.rows_affected)
    }
}
