//! Session token exchange for native apps ([`TokenExchangeStore`]).
//!
//! A native app that signs in with a social provider in the system browser cannot receive
//! the session token in the browser. It creates an api login or registration flow with
//! `return_session_token_exchange_code=true` and receives an *init code*; the flow's
//! completion attaches the new session to the flow's exchanger and sends the browser to the
//! app's `return_to` with a second code, the *return-to code*; the app then trades both codes,
//! once, for the session token (`GET /sessions/token-exchange`).
//!
//! Kratos stores both codes in plaintext. Here a store keeps only their SHA-512 digests, and
//! the session token sealed under a key derived from the return-to code
//! ([`crate::flow::token_exchange`]), so a copy of the table alone yields neither the codes
//! nor the token. An exchanger lives as long as its flow and is gone after its one exchange.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// The SHA-512 digest of an exchange code, as stored.
pub type ExchangeCodeDigest = [u8; 64];

/// A new exchanger, as [`TokenExchangeStore::create_token_exchange`] stores it.
#[derive(Clone, Copy)]
pub struct NewTokenExchange<'a> {
    /// The exchanger's id.
    pub id: Uuid,
    /// The api login or registration flow it belongs to (one exchanger per flow).
    pub flow_id: Uuid,
    /// SHA-512 of the init code.
    pub init_code_digest: &'a ExchangeCodeDigest,
    /// SHA-512 of the return-to code.
    pub return_to_code_digest: &'a ExchangeCodeDigest,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Until when it can be completed and exchanged (its flow's expiry).
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewTokenExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Digests of secrets: left out.
        f.debug_struct("NewTokenExchange")
            .field("id", &self.id)
            .field("flow_id", &self.flow_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What [`TokenExchangeStore::exchange_session_token`] found for a pair of codes.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenExchangeLookup {
    /// A session was attached: this call consumed the exchanger (deleted it), and no later
    /// call finds it.
    Exchanged {
        /// The attached session.
        session_id: Uuid,
        /// The session token as [`TokenExchangeStore::attach_token_exchange_session`] got it
        /// (sealed).
        sealed_session_token: Vec<u8>,
    },
    /// The exchanger is live but its flow has not completed (no session attached): nothing
    /// changed.
    Pending {
        /// The exchanger's flow.
        flow_id: Uuid,
    },
}

impl std::fmt::Debug for TokenExchangeLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenExchangeLookup::Exchanged { session_id, .. } => f
                .debug_struct("Exchanged")
                .field("session_id", session_id)
                .finish_non_exhaustive(),
            TokenExchangeLookup::Pending { flow_id } => {
                f.debug_struct("Pending").field("flow_id", flow_id).finish()
            }
        }
    }
}

/// Storage of session token exchangers: digests of the two codes, the flow, and once the
/// flow completes, the session with its sealed token. Implementations must be atomic across
/// processes sharing the store: of concurrent exchanges of one pair of codes, exactly one
/// gets the session. Expired exchangers are deleted by
/// [`super::CleanupStore::delete_expired_token_exchanges`].
#[async_trait]
pub trait TokenExchangeStore: Send + Sync {
    /// Stores a new exchanger. Fails with [`StoreError::Conflict`] when the flow has one
    /// already in the tenant.
    async fn create_token_exchange(
        &self,
        nid: Uuid,
        exchange: &NewTokenExchange<'_>,
    ) -> Result<(), StoreError>;

    /// Attaches a session (and its sealed token) to the exchanger of flow `flow_id`, when
    /// the exchanger has not expired at `now` and has no session yet or already this one
    /// (attaching the same session again replaces the sealed token). Fails with
    /// [`StoreError::NotFound`] otherwise: no exchanger for the flow in this tenant, expired,
    /// or bound to another session.
    async fn attach_token_exchange_session(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        session_id: Uuid,
        sealed_session_token: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Moves the exchanger of flow `from` to flow `to` with expiry `expires_at` (a login
    /// flow continued as a registration flow, or back). Fails with [`StoreError::NotFound`]
    /// when `from` has no exchanger in the tenant, and [`StoreError::Conflict`] when `to`
    /// has one.
    async fn move_token_exchange(
        &self,
        nid: Uuid,
        from: Uuid,
        to: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Looks the exchanger up by both digests (it must match both, not expired at `now`, in
    /// this tenant). With a session attached, deletes it and answers
    /// [`TokenExchangeLookup::Exchanged`], once: a concurrent or later call with the same
    /// codes answers `None`. Without one, answers [`TokenExchangeLookup::Pending`] and
    /// changes nothing. `None` when there is no such live exchanger.
    async fn exchange_session_token(
        &self,
        nid: Uuid,
        init_code_digest: &ExchangeCodeDigest,
        return_to_code_digest: &ExchangeCodeDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenExchangeLookup>, StoreError>;
}
