//! `SessionStore` over sea-orm. whoami is one lookup on a unique index.

use async_trait::async_trait;
use kratos_core::session::{Aal, Session, SessionRecord};
use kratos_core::store::{SessionStore, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::SqlStore;
use crate::entity::{identity, session};
use crate::error::map_db_err;

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} is not valid").into())
}

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

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError> {
        let s = &record.session;
        // The owner must exist in this tenant.
        identity::Entity::find()
            .filter(identity::Column::Nid.eq(nid))
            .filter(identity::Column::Id.eq(s.identity_id))
            .one(&self.db)
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        let row = session::Model {
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
        };
        session::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(map_db_err)?;
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
        let res = session::Entity::update_many()
            .col_expr(session::Column::Active, Expr::value(s.active))
            .col_expr(
                session::Column::Aal,
                Expr::value(s.authenticator_assurance_level.as_str()),
            )
            .col_expr(
                session::Column::AuthenticationMethods,
                Expr::value(json(&s.authentication_methods)?),
            )
            .col_expr(session::Column::Devices, Expr::value(json(&s.devices)?))
            .col_expr(session::Column::ExpiresAt, Expr::value(s.expires_at))
            .col_expr(
                session::Column::AuthenticatedAt,
                Expr::value(s.authenticated_at),
            )
            .filter(session::Column::Nid.eq(nid))
            .filter(session::Column::Id.eq(s.id))
            .exec(&self.db)
            .await
            .map_err(map_db_err)?;
        if res.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
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
