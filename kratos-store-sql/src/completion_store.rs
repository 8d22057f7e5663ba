//! `CompletionStore` over SQL: the writes that finish a flow in one transaction, so a login or
//! registration commits (and on PostgreSQL flushes the WAL) once.

use async_trait::async_trait;
use kratos_core::store::{CompletionStore, FlowCompletion, SessionWrite, StoreError};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::flow_store::update_flow;
use crate::identity_store::insert_identity;
use crate::lockout_store::reset_login_failures;
use crate::session_store::{insert_session, update_session};

#[async_trait]
impl CompletionStore for SqlStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
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
