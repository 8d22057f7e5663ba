//! Storage: one small trait per aggregate, and the [`Persister`] a backend implements.
//!
//! Every call is scoped by a network id (`nid`): tenants are isolated by construction. Errors
//! normalise to portable kinds ([`StoreErrorKind`]) with the backend's error kept as source.
//! [`MemoryStore`] is the in-memory implementation; `kratos-store-sql` implements the same
//! traits for SQLite and PostgreSQL, and the `testsuite` feature holds the conformance suite
//! every implementation must pass.

mod changes;
mod instrumented;
mod maintenance;
mod memory;
mod operations;
mod token_exchange;
mod used_secrets;

use async_trait::async_trait;
use uuid::Uuid;

use crate::flow::{FlowKind, StoredFlow};
use crate::identity::{CredentialType, Identity};
use crate::session::{Aal, Session, SessionRecord, available_aal};

pub use changes::{ChangeFeed, ChangeFeedStore, StoreChange};
pub(crate) use instrumented::InstrumentedStore;
pub use maintenance::{CleanupStore, SendLimitStore};
pub use memory::MemoryStore;
pub use operations::{PingStore, SelfServiceError, SelfServiceErrorStore};
pub use token_exchange::{
    ExchangeCodeDigest, NewTokenExchange, TokenExchangeLookup, TokenExchangeStore,
};
pub use used_secrets::{SecretUse, UsedSecretStore};

/// The portable kind of a storage error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The record does not exist (in this tenant).
    NotFound,
    /// A uniqueness rule was broken.
    Conflict,
    /// The backend failed.
    Backend,
    /// A second-factor secret had been used already.
    AlreadyUsed,
}

/// A storage error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist (in this tenant).
    #[error("record not found")]
    NotFound,
    /// A uniqueness rule was broken; the text names which one.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed.
    #[error("storage backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The second-factor secret of [`CompletionStore::complete_flow_using_secret`] had been
    /// used already; nothing was written.
    #[error("the second-factor secret was already used")]
    AlreadyUsed,
}

impl StoreError {
    /// The portable kind.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::NotFound => StoreErrorKind::NotFound,
            StoreError::Conflict(_) => StoreErrorKind::Conflict,
            StoreError::Backend(_) => StoreErrorKind::Backend,
            StoreError::AlreadyUsed => StoreErrorKind::AlreadyUsed,
        }
    }

    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Filters and position for listing identities. Results are ordered by id (ascending), which
/// for UUID v7 ids is creation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityQuery {
    /// Only identities with an id greater than this (keyset pagination).
    pub after: Option<Uuid>,
    /// At most this many.
    pub limit: usize,
    /// Only these ids (empty: no filter).
    pub ids: Vec<Uuid>,
    /// Only identities with this exact (normalised) credential identifier.
    pub credentials_identifier: Option<String>,
    /// Only identities with a credential identifier starting with this (normalised) prefix.
    pub identifier_prefix: Option<String>,
    /// Only identities of this organization.
    pub organization_id: Option<Uuid>,
}

/// Storage of identities with their credentials and addresses.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Inserts identities in one transaction. Each item succeeds or fails on its own: a
    /// conflict on one item is reported in its slot and does not stop the others. The outer
    /// error is for failures of the whole batch.
    async fn insert_identities(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// Loads one identity with its credentials and addresses.
    async fn get_identity(&self, nid: Uuid, id: Uuid) -> Result<Identity, StoreError>;

    /// Loads the identity with this external id.
    async fn get_identity_by_external_id(
        &self,
        nid: Uuid,
        external_id: &str,
    ) -> Result<Identity, StoreError>;

    /// Loads the identity owning a credential identifier of a type.
    async fn find_identity_by_identifier(
        &self,
        nid: Uuid,
        credential_type: CredentialType,
        identifier: &str,
    ) -> Result<Identity, StoreError>;

    /// Replaces an identity (row, credentials, identifiers and addresses) atomically.
    async fn update_identity(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError>;

    /// Deletes an identity and everything it owns.
    async fn delete_identity(&self, nid: Uuid, id: Uuid) -> Result<(), StoreError>;

    /// Lists identities (with credentials and addresses).
    async fn list_identities(
        &self,
        nid: Uuid,
        query: &IdentityQuery,
    ) -> Result<Vec<Identity>, StoreError>;
}

/// A session with the parts of its identity that whoami shows, as
/// [`SessionStore::get_session_by_token_with_identity`] loads them.
#[derive(Clone, Debug)]
pub struct SessionWithIdentity {
    /// The session.
    pub record: SessionRecord,
    /// The session's identity without credentials and without admin metadata.
    pub identity: Identity,
    /// The highest level the identity's credentials allow, as [`available_aal`] computes it
    /// from the credentials left out of `identity`.
    pub available_aal: Aal,
}

/// Storage of sessions. Tokens are looked up by their SHA-256 digest; the plain tokens are
/// never stored. A session store reads identities too: whoami loads a session with its
/// identity.
#[async_trait]
pub trait SessionStore: IdentityStore + Send + Sync {
    /// Stores a new session.
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError>;

    /// Loads a session by id.
    async fn get_session(&self, nid: Uuid, id: Uuid) -> Result<SessionRecord, StoreError>;

    /// Loads a session by the digest of its session token.
    async fn get_session_by_token(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError>;

    /// Loads a session by the digest of its session token together with its identity (without
    /// credentials and admin metadata) and the level the identity's credentials allow: what
    /// whoami needs. [`StoreError::NotFound`] when either the session or its identity is
    /// missing in this tenant.
    ///
    /// The default loads the session, then the whole identity; a backend that can do it in
    /// one round trip should override it.
    async fn get_session_by_token_with_identity(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionWithIdentity, StoreError> {
        let record = self.get_session_by_token(nid, token_digest).await?;
        let mut identity = self.get_identity(nid, record.session.identity_id).await?;
        let available_aal = available_aal(&identity);
        identity.credentials.clear();
        identity.metadata_admin = None;
        Ok(SessionWithIdentity {
            record,
            identity,
            available_aal,
        })
    }

    /// Loads a session by the digest of its logout token.
    async fn get_session_by_logout_token(
        &self,
        nid: Uuid,
        logout_token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError>;

    /// Saves a session's mutable fields (active, expiry, authentication, devices).
    async fn update_session(&self, nid: Uuid, session: &Session) -> Result<(), StoreError>;

    /// An identity's sessions, newest first.
    async fn list_sessions(&self, nid: Uuid, identity_id: Uuid)
    -> Result<Vec<Session>, StoreError>;

    /// Deactivates every active session of an identity except `except`; returns how many.
    async fn revoke_sessions_of_identity(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<u64, StoreError>;
}

/// Storage of self-service flows (as JSON documents with their CSRF token apart).
///
/// Flow rows are ephemeral: a backend may write [`FlowStore::insert_flow`] and
/// [`FlowStore::update_flow`] without waiting for them to be durable (PostgreSQL's
/// asynchronous commit), since a flow lost in a crash only makes the user start again. Writes
/// that finish a flow together with a session or identity go through
/// [`CompletionStore::complete_flow`], which is durable.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new flow.
    async fn insert_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError>;
    /// Loads a flow of a kind.
    async fn get_flow(&self, nid: Uuid, kind: FlowKind, id: Uuid)
    -> Result<StoredFlow, StoreError>;
    /// Saves a flow's document and expiry.
    async fn update_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError>;
}

/// What a [`FlowCompletion`] does with a session.
#[derive(Clone, Copy, Debug)]
pub enum SessionWrite<'a> {
    /// Inserts a new session, as [`SessionStore::insert_session`]. Its identity must exist in
    /// the tenant or be the completion's new identity.
    Insert(&'a SessionRecord),
    /// Saves an existing session's mutable fields, as [`SessionStore::update_session`].
    Update(&'a Session),
}

/// The writes that finish a self-service flow successfully: the flow in its final state and
/// whatever the success stores with it. [`CompletionStore::complete_flow`] applies them in one
/// transaction.
#[derive(Clone, Copy, Debug)]
pub struct FlowCompletion<'a> {
    /// The flow in its final state; saved as [`FlowStore::update_flow`] saves it.
    pub flow: &'a StoredFlow,
    /// A lockout key whose failures and lock are forgotten, as
    /// [`LockoutStore::reset_login_failures`] forgets them.
    pub reset_login_failures: Option<&'a str>,
    /// A lockout key whose count this successful attempt leaves, as if it had not been
    /// counted: the count goes down by one (not below 0), and a lock ends when the count falls
    /// below the key's limit.
    pub forgive_login_attempt: Option<LockoutKey<'a>>,
    /// A new identity, inserted as [`IdentityStore::insert_identities`] inserts one.
    pub identity: Option<&'a Identity>,
    /// A session to insert or update.
    pub session: Option<SessionWrite<'a>>,
}

/// Atomic completion of self-service flows.
#[async_trait]
pub trait CompletionStore: Send + Sync {
    /// Applies every write of `completion` in one transaction: all of them, or none when one
    /// fails. The stored flow must still await a submission: of concurrent completions of one
    /// flow, exactly one succeeds. Fails with [`StoreError::Conflict`] when the new identity
    /// breaks a uniqueness rule, and [`StoreError::NotFound`] when the flow is missing in
    /// this tenant or already completed (its stored state is `passed_challenge` or
    /// `success`), or the session to update or the new session's identity is missing. Whatever is written is durable when this
    /// returns.
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError>;

    /// [`CompletionStore::complete_flow`] that also records the use of a second-factor
    /// secret, as [`UsedSecretStore::use_once`] does, in the same transaction: the login and
    /// the use are written together or not at all. Fails with [`StoreError::AlreadyUsed`],
    /// writing nothing, when `secret`'s key had been used by its identity already (a replayed
    /// TOTP step, a recovery code used by a concurrent login); with [`StoreError::NotFound`]
    /// as `complete_flow` does, and when `secret`'s identity is not in the tenant (it must
    /// exist before the completion: not be its new identity). When the flow is missing or
    /// completed and the key used too, the answer is `NotFound`.
    ///
    /// (A separate method rather than a field of [`FlowCompletion`], so the completions
    /// written as struct literals stay as they are.)
    async fn complete_flow_using_secret(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: &SecretUse<'_>,
    ) -> Result<(), StoreError>;

    /// [`CompletionStore::complete_flow`] that also rewrites the configuration of one
    /// credential of an existing identity, in the same transaction (a WebAuthn key's
    /// signature counter and backup state after a login): the login and the credential are
    /// written together or not at all. The credential is written only when its `updated_at`
    /// is still `update.read_at` (nothing changed it since the login read it); otherwise, or
    /// when it is missing, the answer is [`StoreError::Conflict`] and nothing is written.
    /// [`StoreError::NotFound`] as `complete_flow` answers it, first.
    async fn complete_flow_updating_credential(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        update: &CredentialUpdate<'_>,
    ) -> Result<(), StoreError>;
}

/// A credential configuration a completion rewrites
/// ([`CompletionStore::complete_flow_updating_credential`]).
#[derive(Clone, Copy, Debug)]
pub struct CredentialUpdate<'a> {
    /// The identity, which must exist in the tenant.
    pub identity_id: Uuid,
    /// The credential's type.
    pub credential_type: CredentialType,
    /// Its new configuration.
    pub config: &'a serde_json::Value,
    /// Its `updated_at` as read: the write happens only while it is unchanged.
    pub read_at: chrono::DateTime<chrono::Utc>,
    /// Its new `updated_at`.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One lockout key of a login attempt with its limit, as
/// [`LockoutStore::record_login_attempt`] counts it.
#[derive(Clone, Copy)]
pub struct LockoutKey<'a> {
    /// The key (`identifier:…`, `address:…`).
    pub key: &'a str,
    /// Attempts counted before the key locks (the attempt that reaches it is the last one
    /// admitted); 0 never locks.
    pub max_attempts: u32,
}

impl std::fmt::Debug for LockoutKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key names a person or an address: only its limit shows.
        f.debug_struct("LockoutKey")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// When an attempt is counted and how long the locks it sets last.
#[derive(Clone, Debug, PartialEq)]
pub struct LockSchedule {
    /// The attempt's time.
    pub now: chrono::DateTime<chrono::Utc>,
    /// A count whose last attempt is older than this starts again at 1.
    pub forget_before: chrono::DateTime<chrono::Utc>,
    /// The end of the lock set by the attempt that reaches a key's limit (`locks[0]`), by the
    /// next admitted attempt (`locks[1]`), and so on; the last entry holds for every further
    /// attempt. Never empty.
    pub locks: Vec<chrono::DateTime<chrono::Utc>>,
}

impl LockSchedule {
    /// The lock set by the `count`-th attempt of a key limited to `max` attempts: none below
    /// the limit or without one.
    pub fn lock_for(&self, count: u32, max: u32) -> Option<chrono::DateTime<chrono::Utc>> {
        if max == 0 || count < max {
            return None;
        }
        let over = usize::try_from(count - max).unwrap_or(usize::MAX);
        self.locks
            .get(over.min(self.locks.len().saturating_sub(1)))
            .copied()
    }
}

/// Counters of login attempts, for brute-force protection. Keys are opaque strings
/// (`identifier:<normalised identifier>`, `address:<client address>`). Implementations must
/// be atomic across processes sharing the store: of concurrent attempts on one key, each sees
/// the count and lock the ones before it left.
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// Counts a login attempt on every key of `keys`, before its password is verified, and
    /// answers whether it may go on. Per key, atomically: while the key is locked (its lock
    /// ends after `schedule.now`) the attempt is refused and nothing changes; otherwise the
    /// count goes up by one (back to 1 when the last attempt was before
    /// `schedule.forget_before`) and the key locks until [`LockSchedule::lock_for`] that count.
    /// So the attempt that reaches the limit still runs, and the ones after it are refused
    /// until the lock ends. Returns `None` when no key refused the attempt, or the end of the
    /// lock of the key that did. Keys are counted in order, and once one refuses the attempt the
    /// later ones are not counted: an attempt refused by its client address does not count
    /// against the identifier it names.
    async fn record_login_attempt(
        &self,
        nid: Uuid,
        keys: &[LockoutKey<'_>],
        schedule: &LockSchedule,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>;

    /// The latest lock expiry among `keys`, if any key is locked at all.
    async fn login_locked_until(
        &self,
        nid: Uuid,
        keys: &[String],
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>;

    /// Forgets the attempts and lock of `key`.
    async fn reset_login_failures(&self, nid: Uuid, key: &str) -> Result<(), StoreError>;
}

/// What a password login reads before it verifies the password, as
/// [`LoginReadStore::password_login_reads`] takes it.
#[derive(Clone, Copy)]
pub struct PasswordLoginKeys<'a> {
    /// The login flow to load.
    pub flow_id: Uuid,
    /// The lockout keys on which the attempt is counted, as
    /// [`LockoutStore::record_login_attempt`] counts it, when the login flow exists in the
    /// tenant and has not expired at `schedule.now`; none when lockout is off (nothing is
    /// counted).
    pub lockout_keys: &'a [LockoutKey<'a>],
    /// When the attempt is counted and how long its locks last.
    pub schedule: &'a LockSchedule,
    /// The normalised password identifier whose identity is read.
    pub identifier: &'a str,
    /// The CSRF token the submission carries, when the transport vouches for it (a browser
    /// flow's cookie was issued for it): on a flow with a token (browser flows) the attempt
    /// counts only when it is the flow's own, so a submission refused for CSRF counts
    /// nothing ([`PasswordLoginKeys::counts_on`]). Flows without one (api flows) always
    /// count.
    pub csrf_token: Option<&'a str>,
    /// Whether the transport admits the submission to an api flow (one without a CSRF
    /// token): false for a browser's request, which api flows refuse, so it counts nothing.
    pub api_flow_admitted: bool,
}

impl PasswordLoginKeys<'_> {
    /// Whether the attempt counts on a live flow whose CSRF token is `flow_csrf_token`.
    pub fn counts_on(&self, flow_csrf_token: &str) -> bool {
        if flow_csrf_token.is_empty() {
            self.api_flow_admitted
        } else {
            self.csrf_token == Some(flow_csrf_token)
        }
    }
}

impl std::fmt::Debug for PasswordLoginKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys and the identifier name a person: only their number shows.
        f.debug_struct("PasswordLoginKeys")
            .field("flow_id", &self.flow_id)
            .field("lockout_keys", &self.lockout_keys.len())
            .finish_non_exhaustive()
    }
}

/// The answers of [`LoginReadStore::password_login_reads`], each with its own outcome: a
/// failure of one read does not hide the others.
pub struct PasswordLoginReads {
    /// The login flow, as [`FlowStore::get_flow`] loads it ([`StoreError::NotFound`] when
    /// there is no login flow with that id in the tenant).
    pub flow: Result<StoredFlow, StoreError>,
    /// The attempt counted on the lockout keys: `None` when it was admitted (or not counted:
    /// no keys, no live flow), else the lock that refused it, as
    /// [`LockoutStore::record_login_attempt`] answers.
    pub locked_until: Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>,
    /// The identity of the password identifier, as
    /// [`IdentityStore::find_identity_by_identifier`] loads it (`None` when there is none).
    pub identity: Result<Option<Identity>, StoreError>,
}

/// The reads of a password login submission, answered together, with its attempt counted on
/// the lockout keys. The default method runs the reads of the aggregate traits at once and
/// counts the attempt once the flow is known to be live; a backend that can answer them in one round
/// trip (the SQL store does, with one statement) overrides it. A backend without such a
/// shortcut implements the trait with an empty `impl` block.
#[async_trait]
pub trait LoginReadStore: FlowStore + LockoutStore + IdentityStore {
    /// Reads the login flow and the identity of the identifier, and counts the attempt on the
    /// lockout keys when the flow is live.
    async fn password_login_reads(
        &self,
        nid: Uuid,
        keys: PasswordLoginKeys<'_>,
    ) -> PasswordLoginReads {
        separate_password_login_reads(self, nid, keys).await
    }
}

/// [`LoginReadStore::password_login_reads`] as three reads of the aggregate traits, run at
/// once, each with its own outcome. The trait's default; an override may fall back on it, for
/// instance when its combined read fails as a whole.
pub async fn separate_password_login_reads<S>(
    store: &S,
    nid: Uuid,
    keys: PasswordLoginKeys<'_>,
) -> PasswordLoginReads
where
    S: FlowStore + LockoutStore + IdentityStore + ?Sized,
{
    let flow = store.get_flow(nid, FlowKind::Login, keys.flow_id);
    let identity = async {
        match store
            .find_identity_by_identifier(nid, CredentialType::Password, keys.identifier)
            .await
        {
            Ok(identity) => Ok(Some(identity)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let (flow, identity) = tokio::join!(flow, identity);
    let live =
        matches!(&flow, Ok(f) if f.expires_at > keys.schedule.now && keys.counts_on(&f.csrf_token));
    let locked_until = if live && !keys.lockout_keys.is_empty() {
        store
            .record_login_attempt(nid, keys.lockout_keys, keys.schedule)
            .await
    } else {
        Ok(None)
    };
    PasswordLoginReads {
        flow,
        locked_until,
        identity,
    }
}

/// Everything a storage backend implements. A backend implements the aggregate traits; this
/// super-trait is then implemented for it automatically.
pub trait Persister:
    IdentityStore
    + SessionStore
    + FlowStore
    + CompletionStore
    + LockoutStore
    + LoginReadStore
    + CourierStore
    + CodeStore
    + AddressStore
    + CleanupStore
    + SendLimitStore
    + UsedSecretStore
    + TokenExchangeStore
    + ChangeFeedStore
    + PingStore
    + SelfServiceErrorStore
    + std::fmt::Debug
    + 'static
{
}

impl<
    T: IdentityStore
        + SessionStore
        + FlowStore
        + CompletionStore
        + LockoutStore
        + LoginReadStore
        + CourierStore
        + CodeStore
        + AddressStore
        + CleanupStore
        + SendLimitStore
        + UsedSecretStore
        + TokenExchangeStore
        + ChangeFeedStore
        + PingStore
        + SelfServiceErrorStore
        + std::fmt::Debug
        + 'static,
> Persister for T
{
}

/// Storage of courier messages. Claims must be atomic across processes sharing the store:
/// a message is handed to one worker at a time.
#[async_trait]
pub trait CourierStore: Send + Sync {
    /// Queues a message.
    async fn enqueue_message(
        &self,
        nid: Uuid,
        message: &crate::courier::Message,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` messages of tenant `nid` (of every tenant when `None`) whose type
    /// is one of `types` (none when `types` is empty), oldest first: queued ones due at
    /// `now`, and ones in processing claimed before `stale_before` (their worker died).
    /// Claimed messages are `processing` with `updated_at = now`; messages of other types are
    /// left as they are.
    async fn claim_messages(
        &self,
        nid: Option<Uuid>,
        types: &[crate::courier::MessageType],
        now: chrono::DateTime<chrono::Utc>,
        stale_before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, crate::courier::Message)>, StoreError>;

    /// Records a successful send (`sent`, one more send).
    async fn mark_message_sent(
        &self,
        nid: Uuid,
        id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;

    /// Records a failed send (one more send): queued again for `retry_at`, or abandoned when
    /// `None`.
    async fn mark_message_failed(
        &self,
        nid: Uuid,
        id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), StoreError>;

    /// Loads a message.
    async fn get_message(&self, nid: Uuid, id: Uuid)
    -> Result<crate::courier::Message, StoreError>;

    /// Lists messages, newest first.
    async fn list_messages(
        &self,
        nid: Uuid,
        query: &crate::courier::MessageQuery,
    ) -> Result<Vec<crate::courier::Message>, StoreError>;
}

/// Storage of one-time codes and link tokens (only their MACs).
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// In one transaction: marks the unused codes of the same flow and kind used (a new code
    /// replaces them), stores `code`, and queues `message` (the email carrying it), if any.
    async fn issue_code(
        &self,
        nid: Uuid,
        code: &crate::code::OneTimeCode,
        message: Option<&crate::courier::Message>,
    ) -> Result<(), StoreError>;

    /// Consumes the unused, unexpired code of `flow_id` and `kind` whose MAC is one of
    /// `digests`, in one atomic update; `None` when there is none. Of concurrent calls for the
    /// same code exactly one gets it.
    async fn use_code(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        kind: crate::code::CodeKind,
        digests: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<crate::code::OneTimeCode>, StoreError>;

    /// Counts one code submission to a flow, atomically, and returns the count.
    async fn count_code_submission(&self, nid: Uuid, flow_id: Uuid) -> Result<u32, StoreError>;
}

/// Which addresses of an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// `verifiable_addresses`
    Verifiable,
    /// `recovery_addresses`
    Recovery,
}

/// Lookups and updates of identity addresses for verification and recovery.
#[async_trait]
pub trait AddressStore: Send + Sync {
    /// The identity owning an address (normalised value).
    async fn find_identity_by_address(
        &self,
        nid: Uuid,
        kind: AddressKind,
        via: crate::identity::AddressVia,
        value: &str,
    ) -> Result<Identity, StoreError>;

    /// Marks a verifiable address verified (`completed`) at `at`.
    async fn mark_address_verified(
        &self,
        nid: Uuid,
        address_id: Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;
}
