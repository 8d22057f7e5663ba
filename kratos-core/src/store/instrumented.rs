//! [`InstrumentedStore`]: every store call in a `store` span, its latency recorded in
//! [`crate::telemetry::STORE_CALL_DURATION`] by operation. The registry wraps whatever store
//! it is given, so every backend is measured without a line of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument;
use uuid::Uuid;

use crate::flow::{FlowKind, StoredFlow};
use crate::identity::{AddressVia, CredentialType, Identity};
use crate::session::{Session, SessionRecord};
use crate::store::{
    AddressKind, AddressStore, ChangeFeed, ChangeFeedStore, CleanupStore, CodeStore,
    CompletionStore, CourierStore, FlowCompletion, FlowStore, IdentityQuery, IdentityStore,
    LockSchedule, LockoutKey, LockoutStore, LoginReadStore, PasswordLoginKeys, PasswordLoginReads,
    Persister, SecretUse, SendLimitStore, SessionStore, SessionWithIdentity, StoreError,
    UsedSecretStore,
};
use crate::store::{ExchangeCodeDigest, NewTokenExchange, TokenExchangeLookup, TokenExchangeStore};

/// A store that runs every call of the store it wraps in a `store` span (field
/// `operation`: the trait method's name; no argument is recorded) and records its latency.
/// Answers are the wrapped store's, unchanged.
#[derive(Debug)]
pub(crate) struct InstrumentedStore {
    pub(crate) inner: Arc<dyn Persister>,
}

/// Runs one store call inside its span and records how long it took.
async fn timed<T>(operation: &'static str, call: impl Future<Output = T>) -> T {
    let span = tracing::debug_span!("store", operation);
    let started = Instant::now();
    let answer = call.instrument(span).await;
    crate::telemetry::store_call(operation, started.elapsed());
    answer
}

#[async_trait]
impl IdentityStore for InstrumentedStore {
    async fn insert_identities(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        timed(
            "insert_identities",
            self.inner.insert_identities(nid, identities),
        )
        .await
    }

    async fn get_identity(&self, nid: Uuid, id: Uuid) -> Result<Identity, StoreError> {
        timed("get_identity", self.inner.get_identity(nid, id)).await
    }

    async fn get_identity_by_external_id(
        &self,
        nid: Uuid,
        external_id: &str,
    ) -> Result<Identity, StoreError> {
        timed(
            "get_identity_by_external_id",
            self.inner.get_identity_by_external_id(nid, external_id),
        )
        .await
    }

    async fn find_identity_by_identifier(
        &self,
        nid: Uuid,
        credential_type: CredentialType,
        identifier: &str,
    ) -> Result<Identity, StoreError> {
        timed(
            "find_identity_by_identifier",
            self.inner
                .find_identity_by_identifier(nid, credential_type, identifier),
        )
        .await
    }

    async fn update_identity(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError> {
        timed("update_identity", self.inner.update_identity(nid, identity)).await
    }

    async fn delete_identity(&self, nid: Uuid, id: Uuid) -> Result<(), StoreError> {
        timed("delete_identity", self.inner.delete_identity(nid, id)).await
    }

    async fn list_identities(
        &self,
        nid: Uuid,
        query: &IdentityQuery,
    ) -> Result<Vec<Identity>, StoreError> {
        timed("list_identities", self.inner.list_identities(nid, query)).await
    }
}

#[async_trait]
impl SessionStore for InstrumentedStore {
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError> {
        timed("insert_session", self.inner.insert_session(nid, record)).await
    }

    async fn get_session(&self, nid: Uuid, id: Uuid) -> Result<SessionRecord, StoreError> {
        timed("get_session", self.inner.get_session(nid, id)).await
    }

    async fn get_session_by_token(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        timed(
            "get_session_by_token",
            self.inner.get_session_by_token(nid, token_digest),
        )
        .await
    }

    async fn get_session_by_token_with_identity(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionWithIdentity, StoreError> {
        timed(
            "get_session_by_token_with_identity",
            self.inner
                .get_session_by_token_with_identity(nid, token_digest),
        )
        .await
    }

    async fn get_session_by_logout_token(
        &self,
        nid: Uuid,
        logout_token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        timed(
            "get_session_by_logout_token",
            self.inner
                .get_session_by_logout_token(nid, logout_token_digest),
        )
        .await
    }

    async fn update_session(&self, nid: Uuid, session: &Session) -> Result<(), StoreError> {
        timed("update_session", self.inner.update_session(nid, session)).await
    }

    async fn list_sessions(
        &self,
        nid: Uuid,
        identity_id: Uuid,
    ) -> Result<Vec<Session>, StoreError> {
        timed("list_sessions", self.inner.list_sessions(nid, identity_id)).await
    }

    async fn revoke_sessions_of_identity(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        timed(
            "revoke_sessions_of_identity",
            self.inner
                .revoke_sessions_of_identity(nid, identity_id, except),
        )
        .await
    }
}

#[async_trait]
impl FlowStore for InstrumentedStore {
    async fn insert_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        timed("insert_flow", self.inner.insert_flow(nid, flow)).await
    }

    async fn get_flow(
        &self,
        nid: Uuid,
        kind: FlowKind,
        id: Uuid,
    ) -> Result<StoredFlow, StoreError> {
        timed("get_flow", self.inner.get_flow(nid, kind, id)).await
    }

    async fn update_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        timed("update_flow", self.inner.update_flow(nid, flow)).await
    }
}

#[async_trait]
impl CompletionStore for InstrumentedStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        timed("complete_flow", self.inner.complete_flow(nid, completion)).await
    }

    async fn complete_flow_using_secret(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: &SecretUse<'_>,
    ) -> Result<(), StoreError> {
        timed(
            "complete_flow_using_secret",
            self.inner
                .complete_flow_using_secret(nid, completion, secret),
        )
        .await
    }

    async fn complete_flow_updating_credential(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        update: &crate::store::CredentialUpdate<'_>,
    ) -> Result<(), StoreError> {
        timed(
            "complete_flow_updating_credential",
            self.inner
                .complete_flow_updating_credential(nid, completion, update),
        )
        .await
    }
}

#[async_trait]
impl LockoutStore for InstrumentedStore {
    async fn record_login_attempt(
        &self,
        nid: Uuid,
        keys: &[LockoutKey<'_>],
        schedule: &LockSchedule,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        timed(
            "record_login_attempt",
            self.inner.record_login_attempt(nid, keys, schedule),
        )
        .await
    }

    async fn login_locked_until(
        &self,
        nid: Uuid,
        keys: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        timed(
            "login_locked_until",
            self.inner.login_locked_until(nid, keys),
        )
        .await
    }

    async fn reset_login_failures(&self, nid: Uuid, key: &str) -> Result<(), StoreError> {
        timed(
            "reset_login_failures",
            self.inner.reset_login_failures(nid, key),
        )
        .await
    }
}

#[async_trait]
impl LoginReadStore for InstrumentedStore {
    async fn password_login_reads(
        &self,
        nid: Uuid,
        keys: PasswordLoginKeys<'_>,
    ) -> PasswordLoginReads {
        timed(
            "password_login_reads",
            self.inner.password_login_reads(nid, keys),
        )
        .await
    }
}

#[async_trait]
impl CourierStore for InstrumentedStore {
    async fn enqueue_message(
        &self,
        nid: Uuid,
        message: &crate::courier::Message,
    ) -> Result<(), StoreError> {
        timed("enqueue_message", self.inner.enqueue_message(nid, message)).await
    }

    async fn claim_messages(
        &self,
        nid: Option<Uuid>,
        types: &[crate::courier::MessageType],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, crate::courier::Message)>, StoreError> {
        timed(
            "claim_messages",
            self.inner
                .claim_messages(nid, types, now, stale_before, limit),
        )
        .await
    }

    async fn mark_message_sent(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        timed(
            "mark_message_sent",
            self.inner.mark_message_sent(nid, id, now),
        )
        .await
    }

    async fn mark_message_failed(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        timed(
            "mark_message_failed",
            self.inner.mark_message_failed(nid, id, now, retry_at),
        )
        .await
    }

    async fn get_message(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<crate::courier::Message, StoreError> {
        timed("get_message", self.inner.get_message(nid, id)).await
    }

    async fn list_messages(
        &self,
        nid: Uuid,
        query: &crate::courier::MessageQuery,
    ) -> Result<Vec<crate::courier::Message>, StoreError> {
        timed("list_messages", self.inner.list_messages(nid, query)).await
    }
}

#[async_trait]
impl CodeStore for InstrumentedStore {
    async fn issue_code(
        &self,
        nid: Uuid,
        code: &crate::code::OneTimeCode,
        message: Option<&crate::courier::Message>,
    ) -> Result<(), StoreError> {
        timed("issue_code", self.inner.issue_code(nid, code, message)).await
    }

    async fn use_code(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        kind: crate::code::CodeKind,
        digests: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<crate::code::OneTimeCode>, StoreError> {
        timed(
            "use_code",
            self.inner.use_code(nid, flow_id, kind, digests, now),
        )
        .await
    }

    async fn count_code_submission(&self, nid: Uuid, flow_id: Uuid) -> Result<u32, StoreError> {
        timed(
            "count_code_submission",
            self.inner.count_code_submission(nid, flow_id),
        )
        .await
    }
}

#[async_trait]
impl AddressStore for InstrumentedStore {
    async fn find_identity_by_address(
        &self,
        nid: Uuid,
        kind: AddressKind,
        via: AddressVia,
        value: &str,
    ) -> Result<Identity, StoreError> {
        timed(
            "find_identity_by_address",
            self.inner.find_identity_by_address(nid, kind, via, value),
        )
        .await
    }

    async fn mark_address_verified(
        &self,
        nid: Uuid,
        address_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        timed(
            "mark_address_verified",
            self.inner.mark_address_verified(nid, address_id, at),
        )
        .await
    }
}

#[async_trait]
impl CleanupStore for InstrumentedStore {
    async fn delete_expired_flows(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_expired_flows",
            self.inner.delete_expired_flows(nid, expired_before, limit),
        )
        .await
    }
    async fn delete_stale_sessions(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        inactive_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_stale_sessions",
            self.inner
                .delete_stale_sessions(nid, expired_before, inactive_before, limit),
        )
        .await
    }

    async fn delete_spent_codes(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_spent_codes",
            self.inner.delete_spent_codes(nid, before, limit),
        )
        .await
    }

    async fn delete_orphan_code_submissions(
        &self,
        nid: Uuid,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_orphan_code_submissions",
            self.inner.delete_orphan_code_submissions(nid, limit),
        )
        .await
    }

    async fn delete_stale_login_failures(
        &self,
        nid: Uuid,
        last_failure_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_stale_login_failures",
            self.inner
                .delete_stale_login_failures(nid, last_failure_before, now, limit),
        )
        .await
    }

    async fn delete_finished_messages(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_finished_messages",
            self.inner.delete_finished_messages(nid, before, limit),
        )
        .await
    }

    async fn delete_stale_send_counters(
        &self,
        nid: Uuid,
        window_started_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_stale_send_counters",
            self.inner
                .delete_stale_send_counters(nid, window_started_before, limit),
        )
        .await
    }

    async fn delete_expired_used_secrets(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_expired_used_secrets",
            self.inner
                .delete_expired_used_secrets(nid, expired_before, limit),
        )
        .await
    }

    async fn delete_expired_token_exchanges(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_expired_token_exchanges",
            self.inner
                .delete_expired_token_exchanges(nid, expired_before, limit),
        )
        .await
    }
}

#[async_trait]
impl TokenExchangeStore for InstrumentedStore {
    async fn create_token_exchange(
        &self,
        nid: Uuid,
        exchange: &NewTokenExchange<'_>,
    ) -> Result<(), StoreError> {
        timed(
            "create_token_exchange",
            self.inner.create_token_exchange(nid, exchange),
        )
        .await
    }

    async fn attach_token_exchange_session(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        session_id: Uuid,
        sealed_session_token: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        timed(
            "attach_token_exchange_session",
            self.inner.attach_token_exchange_session(
                nid,
                flow_id,
                session_id,
                sealed_session_token,
                now,
            ),
        )
        .await
    }

    async fn move_token_exchange(
        &self,
        nid: Uuid,
        from: Uuid,
        to: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        timed(
            "move_token_exchange",
            self.inner.move_token_exchange(nid, from, to, expires_at),
        )
        .await
    }

    async fn exchange_session_token(
        &self,
        nid: Uuid,
        init_code_digest: &ExchangeCodeDigest,
        return_to_code_digest: &ExchangeCodeDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenExchangeLookup>, StoreError> {
        timed(
            "exchange_session_token",
            self.inner
                .exchange_session_token(nid, init_code_digest, return_to_code_digest, now),
        )
        .await
    }
}

#[async_trait]
impl SendLimitStore for InstrumentedStore {
    async fn count_code_sends(
        &self,
        nid: Uuid,
        keys: &[String],
        now: DateTime<Utc>,
        window_started_before: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError> {
        timed(
            "count_code_sends",
            self.inner
                .count_code_sends(nid, keys, now, window_started_before),
        )
        .await
    }
}

#[async_trait]
impl UsedSecretStore for InstrumentedStore {
    async fn use_once(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        timed(
            "use_once",
            self.inner.use_once(nid, identity_id, key, expires_at),
        )
        .await
    }
}

impl ChangeFeedStore for InstrumentedStore {
    fn change_feed(&self) -> Option<ChangeFeed> {
        self.inner.change_feed()
    }
}

#[async_trait]
impl crate::store::PingStore for InstrumentedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        timed("ping", self.inner.ping()).await
    }
}

#[async_trait]
impl crate::store::SelfServiceErrorStore for InstrumentedStore {
    async fn insert_self_service_error(
        &self,
        nid: Uuid,
        error: &crate::store::SelfServiceError,
    ) -> Result<(), StoreError> {
        timed(
            "insert_self_service_error",
            self.inner.insert_self_service_error(nid, error),
        )
        .await
    }

    async fn get_self_service_error(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<crate::store::SelfServiceError, StoreError> {
        timed(
            "get_self_service_error",
            self.inner.get_self_service_error(nid, id),
        )
        .await
    }

    async fn delete_old_self_service_errors(
        &self,
        nid: Uuid,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        timed(
            "delete_old_self_service_errors",
            self.inner
                .delete_old_self_service_errors(nid, created_before, limit),
        )
        .await
    }
}
