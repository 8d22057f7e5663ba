//! `FlowStore` over sea-orm.

use async_trait::async_trait;
use kratos_core::flow::{FlowKind, StoredFlow};
use kratos_core::store::{FlowStore, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

use crate::SqlStore;
use crate::entity::flow;
use crate::error::{found, map_db_err};

/// Saves a flow's document and expiry on `db` ([`StoreError::NotFound`] when it is missing).
pub(crate) async fn update_flow<C: ConnectionTrait>(
    db: &C,
    nid: Uuid,
    f: &StoredFlow,
) -> Result<(), StoreError> {
    let res = flow::Entity::update_many()
        .col_expr(flow::Column::ExpiresAt, Expr::value(f.expires_at))
        .col_expr(flow::Column::Document, Expr::value(f.document.clone()))
        .filter(flow::Column::Nid.eq(nid))
        .filter(flow::Column::Kind.eq(f.kind.as_str()))
        .filter(flow::Column::Id.eq(f.id))
        .exec(db)
        .await
        .map_err(map_db_err)?;
    found(res.rows_affected)
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, nid: Uuid, f: &StoredFlow) -> Result<(), StoreError> {
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
        update_flow(&self.db, nid, f).await
    }
}
