//! The optional in-process whoami cache ([`crate::KratosBuilder::whoami_cache`]).
//!
//! What is kept is the store's answer to the whoami lookup (the session row with its
//! identity and the level its credentials allow), keyed by the tenant and the SHA-256
//! digest of the token, never the token. Every check of whoami (expiry, revocation, the
//! identity's state, `session.whoami.required_aal`, the sliding extension) still runs on each
//! call, over the kept row; only the read is saved.
//!
//! A kept row goes when:
//! - this registry writes something it depends on: the store is wrapped ([`EvictingStore`])
//!   so that every write of a session or an identity through it evicts the rows of that
//!   session or identity once the write returns;
//! - the store's change feed reports another process's write ([`StoreChange`]), on
//!   PostgreSQL;
//! - it is older than the time-to-live, on every backend: the staleness bound where no feed
//!   reports other processes' writes (and while a feed is down, nothing is served from
//!   memory at all).
//!
//! A read that started before an eviction does not put its (possibly stale) answer in the
//! cache: every eviction moves an epoch on, and a read keeps its answer only when the epoch
//! is still the one it started under. Each hit also checks its entry against the epochs of
//! the latest evictions of its session and identity (kept for the time-to-live), so an
//! entry the index missed is still never served past an eviction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::flow::{FlowKind, StoredFlow};
use crate::identity::{AddressVia, CredentialType, Identity};
use crate::session::{Session, SessionRecord};
use crate::store::{
    AddressKind, AddressStore, ChangeFeed, ChangeFeedStore, CleanupStore, CodeStore,
    CompletionStore, CourierStore, FlowCompletion, FlowStore, IdentityQuery, IdentityStore,
    LockSchedule, LockoutKey, LockoutStore, LoginReadStore, PasswordLoginKeys, PasswordLoginReads,
    Persister, SecretUse, SendLimitStore, SessionStore, SessionWithIdentity, SessionWrite,
    StoreChange, StoreError, UsedSecretStore,
};
use crate::store::{ExchangeCodeDigest, NewTokenExchange, TokenExchangeLookup, TokenExchangeStore};

/// The in-process whoami cache, turned on with
/// [`KratosBuilder::whoami_cache`](crate::KratosBuilder::whoami_cache). Off by default.
///
/// With it, [`SessionManager::whoami`](crate::session::SessionManager::whoami) and
/// [`whoami_with`](crate::session::SessionManager::whoami_with) answer a token seen within
/// `ttl` from memory instead of reading the store. Every check still runs on each call over
/// the kept session and identity: expiry (`expires_at`), revocation, the identity's state,
/// `session.whoami.required_aal`, and `session.extend_on_use` (a due extension is still
/// written to the store). Entries are keyed by the tenant and the SHA-256 digest of the
/// token; neither the token nor the digest shows in logs or `Debug` output.
///
/// How stale an answer may be (the staleness contract), per backend:
/// - this registry's own writes (revoking, logging out, extending, updating, disabling or
///   deleting an identity, changing its credentials, whatever the caller) evict the entries
///   they touch before the write returns, on every backend;
/// - PostgreSQL (`kratos-store-postgres`): every update or deletion of a session or an
///   identity row sends a notification in its transaction, and every registry with the
///   cache listens on a connection of its own and evicts the entries it names as it arrives
///   (milliseconds after the commit). While the listening connection is down, nothing is
///   served from memory; it reconnects on its own. `ttl` still bounds every entry, in case
///   a connection dies without the client noticing (detected within 15 s by a heartbeat);
/// - MySQL / MariaDB, SQLite and the memory store have no notifications: another process's
///   write is seen at the latest `ttl` after this registry read the entry. Choose `ttl` as
///   the longest a revoked session or a disabled identity may still be accepted by the
///   other instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhoamiCache {
    /// At most this many sessions are kept (the least likely to be used again go first).
    /// At least 1.
    pub max_entries: u64,
    /// How long after it was read from the store an entry may be served: the staleness
    /// bound of writes made by other processes on backends without notifications, and an
    /// upper bound on every backend. More than zero and at most a day.
    pub ttl: Duration,
}

impl WhoamiCache {
    /// The longest `ttl` accepted.
    pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.max_entries == 0 {
            return Err("max_entries must be at least 1".into());
        }
        if self.ttl.is_zero() || self.ttl > Self::MAX_TTL {
            return Err("ttl must be more than zero and at most a day".into());
        }
        Ok(())
    }
}

/// Counters of the whoami cache, from
/// [`Kratos::whoami_cache_stats`](crate::Kratos::whoami_cache_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WhoamiCacheStats {
    /// whoami calls answered from memory.
    pub hits: u64,
    /// whoami calls that read the store (including those made while the cache was not in
    /// use).
    pub misses: u64,
    /// Entries kept (approximately: evictions are applied in the background).
    pub entries: u64,
    /// Whether answers are served from memory now: always on stores without a change feed,
    /// and on PostgreSQL while the change feed is listening.
    pub live: bool,
    /// How many times the store's change feed started listening: 1 once it first did, one
    /// more per reconnection; 0 without a feed.
    pub feed_connections: u64,
}

type Key = (Uuid, [u8; 32]);

/// One kept answer, stamped so that the index can tell it from a later one of the same key,
/// with the epoch its read began in and when it began (its age counts from then).
struct Entry {
    stamp: u64,
    ticket: u64,
    loaded_at: Instant,
    found: SessionWithIdentity,
}

/// One entry as the index knows it: its token digest, its stamp and its session.
type Indexed = ([u8; 32], u64, Uuid);

/// Where the entries of an identity are, by tenant and identity; and the epoch of the latest
/// eviction of each identity and session evicted within the time-to-live, which a kept
/// answer read before it must not outlive (checked on every hit, whatever the entries).
#[derive(Default)]
struct Index {
    by_identity: HashMap<(Uuid, Uuid), Vec<Indexed>>,
    evicted: HashMap<(Uuid, Uuid), (u64, Instant)>,
    /// Answers read before this epoch are not served (the feed (re)connected or dropped).
    valid_from: u64,
}

impl Index {
    /// Records an eviction of `id` (an identity or a session) at `epoch`, forgetting those
    /// older than `ttl` now and then (an answer older than `ttl` is never served).
    fn record(&mut self, nid: Uuid, id: Uuid, epoch: u64, ttl: Duration) {
        let now = Instant::now();
        if self.evicted.len() >= 4096 && self.evicted.len().is_power_of_two() {
            self.evicted
                .retain(|_, (_, at)| now.duration_since(*at) < ttl);
        }
        self.evicted.insert((nid, id), (epoch, now));
    }

    /// Whether an answer read in epoch `ticket` predates an eviction of what it shows.
    fn outdated(&self, nid: Uuid, entry: &Entry) -> bool {
        let session = &entry.found.record.session;
        entry.ticket < self.valid_from
            || [session.identity_id, session.id].iter().any(|id| {
                self.evicted
                    .get(&(nid, *id))
                    .is_some_and(|(epoch, _)| *epoch > entry.ticket)
            })
    }

    fn forget(&mut self, nid: Uuid, identity_id: Uuid, stamp: u64) {
        if let Some(list) = self.by_identity.get_mut(&(nid, identity_id)) {
            list.retain(|(_, s, _)| *s != stamp);
            if list.is_empty() {
                self.by_identity.remove(&(nid, identity_id));
            }
        }
    }
}

/// The cache of one registry (shared by its tenants).
pub(crate) struct CacheState {
    entries: moka::sync::Cache<Key, Arc<Entry>>,
    /// Never held while a method of `entries` runs: `entries` calls the eviction listener,
    /// which takes it, from the thread of whatever operation triggered the eviction.
    index: Arc<Mutex<Index>>,
    /// Moved on by every eviction; a read caches its answer only under the epoch it began in.
    epoch: AtomicU64,
    stamps: AtomicU64,
    live: AtomicBool,
    started: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    feed_connections: AtomicU64,
    ttl: Duration,
}

impl std::fmt::Debug for CacheState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the keys are token digests.
        f.debug_struct("WhoamiCache")
            .field("entries", &self.entries.entry_count())
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock(index: &Mutex<Index>) -> MutexGuard<'_, Index> {
    // The index holds no invariant a panic could break halfway that matters more than
    // serving: a poisoned lock is taken as it is.
    index
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A read of the store that may put its answer in the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(u64, Instant);

impl CacheState {
    pub(crate) fn new(config: WhoamiCache) -> Arc<Self> {
        let index = Arc::new(Mutex::new(Index::default()));
        let listener_index = index.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.ttl)
            .eviction_listener(move |key: Arc<Key>, entry: Arc<Entry>, _cause| {
                let identity_id = entry.found.record.session.identity_id;
                lock(&listener_index).forget(key.0, identity_id, entry.stamp);
            })
            .build();
        Arc::new(Self {
            entries,
            index,
            epoch: AtomicU64::new(0),
            stamps: AtomicU64::new(0),
            live: AtomicBool::new(false),
            started: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            feed_connections: AtomicU64::new(0),
            ttl: config.ttl,
        })
    }

    /// Asks the store for its change feed once: without one the cache is in use at once
    /// (bounded by its time-to-live); with one, once the feed listens. Must run within a
    /// Tokio runtime.
    pub(crate) fn start(self: &Arc<Self>, store: &Arc<dyn Persister>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        match store.change_feed() {
            None => self.live.store(true, Ordering::SeqCst),
            Some(feed) => {
                tokio::spawn(follow(Arc::downgrade(self), feed));
            }
        }
    }

    pub(crate) fn stats(&self) -> WhoamiCacheStats {
        WhoamiCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.entry_count(),
            live: self.live.load(Ordering::SeqCst),
            feed_connections: self.feed_connections.load(Ordering::Acquire),
        }
    }

    /// The kept answer for a token digest, if any (and the cache is in use).
    pub(crate) fn get(&self, nid: Uuid, digest: &[u8; 32]) -> Option<SessionWithIdentity> {
        if self.live.load(Ordering::SeqCst)
            && let Some(entry) = self.entries.get(&(nid, *digest))
            && entry.loaded_at.elapsed() < self.ttl
            && !lock(&self.index).outdated(nid, &entry)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(entry.found.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Taken before reading the store: `None` when the cache is not in use.
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.live
            .load(Ordering::SeqCst)
            .then(|| Ticket(epoch, Instant::now()))
    }

    /// Keeps the answer of a read begun with `ticket`, unless something was evicted since
    /// the read began (its answer may predate that write).
    pub(crate) fn put(
        &self,
        nid: Uuid,
        digest: [u8; 32],
        found: &SessionWithIdentity,
        ticket: Ticket,
    ) {
        let stamp = self.stamps.fetch_add(1, Ordering::Relaxed);
        let session = &found.record.session;
        {
            let mut index = lock(&self.index);
            if self.epoch.load(Ordering::SeqCst) != ticket.0 || !self.live.load(Ordering::SeqCst) {
                return;
            }
            index
                .by_identity
                .entry((nid, session.identity_id))
                .or_default()
                .push((digest, stamp, session.id));
        }
        self.entries.insert(
            (nid, digest),
            Arc::new(Entry {
                stamp,
                ticket: ticket.0,
                loaded_at: ticket.1,
                found: found.clone(),
            }),
        );
        // An eviction between the index and the insert found nothing to evict yet.
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            self.entries.invalidate(&(nid, digest));
        }
    }

    /// Evicts the entries of an identity's sessions, or of one of them.
    fn evict(&self, nid: Uuid, identity_id: Uuid, session_id: Option<Uuid>) {
        let removed: Vec<[u8; 32]> = {
            let mut index = lock(&self.index);
            let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
            index.record(nid, session_id.unwrap_or(identity_id), epoch, self.ttl);
            match session_id {
                None => index
                    .by_identity
                    .remove(&(nid, identity_id))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(digest, _, _)| digest)
                    .collect(),
                Some(session_id) => {
                    let Some(list) = index.by_identity.get_mut(&(nid, identity_id)) else {
                        return;
                    };
                    let mut removed = Vec::new();
                    list.retain(|(digest, _, id)| {
                        let keep = *id != session_id;
                        if !keep {
                            removed.push(*digest);
                        }
                        keep
                    });
                    if list.is_empty() {
                        index.by_identity.remove(&(nid, identity_id));
                    }
                    removed
                }
            }
        };
        for digest in removed {
            self.entries.invalidate(&(nid, digest));
        }
    }

    pub(crate) fn evict_identity(&self, nid: Uuid, identity_id: Uuid) {
        self.evict(nid, identity_id, None);
    }

    pub(crate) fn evict_session(&self, nid: Uuid, identity_id: Uuid, session_id: Uuid) {
        self.evict(nid, identity_id, Some(session_id));
    }

    /// Evicts the entries of the identity that has the verifiable address `address_id`.
    fn evict_address_owner(&self, nid: Uuid, address_id: Uuid) {
        let owner = self.entries.iter().find_map(|(key, entry)| {
            (key.0 == nid
                && entry
                    .found
                    .identity
                    .verifiable_addresses
                    .iter()
                    .any(|a| a.id == address_id))
            .then_some(entry.found.identity.id)
        });
        if let Some(identity_id) = owner {
            self.evict_identity(nid, identity_id);
        } else {
            // Nothing kept depends on it; a read under way still must not keep its answer.
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Drops everything, and serves from memory from now on or not.
    fn reset(&self, live: bool) {
        {
            let mut index = lock(&self.index);
            index.valid_from = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
            self.live.store(live, Ordering::SeqCst);
            index.by_identity.clear();
        }
        self.entries.invalidate_all();
    }

    fn apply(&self, change: StoreChange) {
        match change {
            StoreChange::Listening => {
                self.reset(true);
                self.feed_connections.fetch_add(1, Ordering::AcqRel);
            }
            StoreChange::Interrupted => self.reset(false),
            StoreChange::Session {
                nid,
                identity_id,
                session_id,
            } => self.evict_session(nid, identity_id, session_id),
            StoreChange::Identity { nid, identity_id } => self.evict_identity(nid, identity_id),
        }
    }
}

/// Applies a store's change feed to the cache until either ends.
async fn follow(cache: Weak<CacheState>, mut feed: ChangeFeed) {
    while let Some(change) = feed.next().await {
        let Some(cache) = cache.upgrade() else { return };
        if matches!(change, StoreChange::Interrupted) {
            tracing::warn!(
                "whoami cache: the store's change feed was interrupted; serving from the store until it listens again"
            );
        }
        cache.apply(change);
    }
    if let Some(cache) = cache.upgrade() {
        tracing::warn!("whoami cache: the store's change feed ended; serving from the store");
        cache.reset(false);
    }
}

/// The registry's store with the cache on: every write of a session or an identity evicts
/// what it touches once it returns (whether it succeeded or not: a failed write may still
/// have committed).
#[derive(Debug)]
pub(crate) struct EvictingStore {
    pub(crate) inner: Arc<dyn Persister>,
    pub(crate) cache: Arc<CacheState>,
}

#[async_trait]
impl IdentityStore for EvictingStore {
    async fn insert_identities(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.inner.insert_identities(nid, identities).await
    }

    async fn get_identity(&self, nid: Uuid, id: Uuid) -> Result<Identity, StoreError> {
        self.inner.get_identity(nid, id).await
    }

    async fn get_identity_by_external_id(
        &self,
        nid: Uuid,
        external_id: &str,
    ) -> Result<Identity, StoreError> {
        self.inner
            .get_identity_by_external_id(nid, external_id)
            .await
    }

    async fn find_identity_by_identifier(
        &self,
        nid: Uuid,
        credential_type: CredentialType,
        identifier: &str,
    ) -> Result<Identity, StoreError> {
        self.inner
            .find_identity_by_identifier(nid, credential_type, identifier)
            .await
    }

    async fn update_identity(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError> {
        let result = self.inner.update_identity(nid, identity).await;
        self.cache.evict_identity(nid, identity.id);
        result
    }

    async fn delete_identity(&self, nid: Uuid, id: Uuid) -> Result<(), StoreError> {
        let result = self.inner.delete_identity(nid, id).await;
        self.cache.evict_identity(nid, id);
        result
    }

    async fn list_identities(
        &self,
        nid: Uuid,
        query: &IdentityQuery,
    ) -> Result<Vec<Identity>, StoreError> {
        self.inner.list_identities(nid, query).await
    }
}

#[async_trait]
impl SessionStore for EvictingStore {
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError> {
        self.inner.insert_session(nid, record).await
    }

    async fn get_session(&self, nid: Uuid, id: Uuid) -> Result<SessionRecord, StoreError> {
        self.inner.get_session(nid, id).await
    }

    async fn get_session_by_token(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        self.inner.get_session_by_token(nid, token_digest).await
    }

    async fn get_session_by_token_with_identity(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionWithIdentity, StoreError> {
        self.inner
            .get_session_by_token_with_identity(nid, token_digest)
            .await
    }

    async fn get_session_by_logout_token(
        &self,
        nid: Uuid,
        logout_token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        self.inner
            .get_session_by_logout_token(nid, logout_token_digest)
            .await
    }

    async fn update_session(&self, nid: Uuid, session: &Session) -> Result<(), StoreError> {
        let result = self.inner.update_session(nid, session).await;
        self.cache
            .evict_session(nid, session.identity_id, session.id);
        result
    }

    async fn list_sessions(
        &self,
        nid: Uuid,
        identity_id: Uuid,
    ) -> Result<Vec<Session>, StoreError> {
        self.inner.list_sessions(nid, identity_id).await
    }

    async fn revoke_sessions_of_identity(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let result = self
            .inner
            .revoke_sessions_of_identity(nid, identity_id, except)
            .await;
        self.cache.evict_identity(nid, identity_id);
        result
    }
}

#[async_trait]
impl FlowStore for EvictingStore {
    async fn insert_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        self.inner.insert_flow(nid, flow).await
    }

    async fn get_flow(
        &self,
        nid: Uuid,
        kind: FlowKind,
        id: Uuid,
    ) -> Result<StoredFlow, StoreError> {
        self.inner.get_flow(nid, kind, id).await
    }

    async fn update_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        self.inner.update_flow(nid, flow).await
    }
}

impl EvictingStore {
    fn evict_completed(&self, nid: Uuid, completion: &FlowCompletion<'_>) {
        if let Some(SessionWrite::Update(session)) = completion.session {
            self.cache
                .evict_session(nid, session.identity_id, session.id);
        }
    }
}

#[async_trait]
impl CompletionStore for EvictingStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        let result = self.inner.complete_flow(nid, completion).await;
        self.evict_completed(nid, completion);
        result
    }

    async fn complete_flow_using_secret(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: &SecretUse<'_>,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .complete_flow_using_secret(nid, completion, secret)
            .await;
        self.evict_completed(nid, completion);
        result
    }

    async fn complete_flow_updating_credential(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        update: &crate::store::CredentialUpdate<'_>,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .complete_flow_updating_credential(nid, completion, update)
            .await;
        self.evict_completed(nid, completion);
        result
    }
}

#[async_trait]
impl LockoutStore for EvictingStore {
    async fn record_login_attempt(
        &self,
        nid: Uuid,
        keys: &[LockoutKey<'_>],
        schedule: &LockSchedule,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.record_login_attempt(nid, keys, schedule).await
    }

    async fn login_locked_until(
        &self,
        nid: Uuid,
        keys: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.login_locked_until(nid, keys).await
    }

    async fn reset_login_failures(&self, nid: Uuid, key: &str) -> Result<(), StoreError> {
        self.inner.reset_login_failures(nid, key).await
    }
}

#[async_trait]
impl LoginReadStore for EvictingStore {
    async fn password_login_reads(
        &self,
        nid: Uuid,
        keys: PasswordLoginKeys<'_>,
    ) -> PasswordLoginReads {
        self.inner.password_login_reads(nid, keys).await
    }
}

#[async_trait]
impl CourierStore for EvictingStore {
    async fn enqueue_message(
        &self,
        nid: Uuid,
        message: &crate::courier::Message,
    ) -> Result<(), StoreError> {
        self.inner.enqueue_message(nid, message).await
    }

    async fn claim_messages(
        &self,
        nid: Option<Uuid>,
        types: &[crate::courier::MessageType],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, crate::courier::Message)>, StoreError> {
        self.inner
            .claim_messages(nid, types, now, stale_before, limit)
            .await
    }

    async fn mark_message_sent(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.mark_message_sent(nid, id, now).await
    }

    async fn mark_message_failed(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.inner.mark_message_failed(nid, id, now, retry_at).await
    }

    async fn get_message(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<crate::courier::Message, StoreError> {
        self.inner.get_message(nid, id).await
    }

    async fn list_messages(
        &self,
        nid: Uuid,
        query: &crate::courier::MessageQuery,
    ) -> Result<Vec<crate::courier::Message>, StoreError> {
        self.inner.list_messages(nid, query).await
    }
}

#[async_trait]
impl CodeStore for EvictingStore {
    async fn issue_code(
        &self,
        nid: Uuid,
        code: &crate::code::OneTimeCode,
        message: Option<&crate::courier::Message>,
    ) -> Result<(), StoreError> {
        self.inner.issue_code(nid, code, message).await
    }

    async fn use_code(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        kind: crate::code::CodeKind,
        digests: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<crate::code::OneTimeCode>, StoreError> {
        self.inner.use_code(nid, flow_id, kind, digests, now).await
    }

    async fn count_code_submission(&self, nid: Uuid, flow_id: Uuid) -> Result<u32, StoreError> {
        self.inner.count_code_submission(nid, flow_id).await
    }
}

#[async_trait]
impl AddressStore for EvictingStore {
    async fn find_identity_by_address(
        &self,
        nid: Uuid,
        kind: AddressKind,
        via: AddressVia,
        value: &str,
    ) -> Result<Identity, StoreError> {
        self.inner
            .find_identity_by_address(nid, kind, via, value)
            .await
    }

    async fn mark_address_verified(
        &self,
        nid: Uuid,
        address_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self.inner.mark_address_verified(nid, address_id, at).await;
        self.cache.evict_address_owner(nid, address_id);
        result
    }
}

#[async_trait]
impl CleanupStore for EvictingStore {
    async fn delete_expired_flows(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_expired_flows(nid, expired_before, limit)
            .await
    }

    // Deleted sessions are expired or revoked: whoami refuses a kept one already.
    async fn delete_stale_sessions(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        inactive_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_stale_sessions(nid, expired_before, inactive_before, limit)
            .await
    }

    async fn delete_spent_codes(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner.delete_spent_codes(nid, before, limit).await
    }

    async fn delete_orphan_code_submissions(
        &self,
        nid: Uuid,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner.delete_orphan_code_submissions(nid, limit).await
    }

    async fn delete_stale_login_failures(
        &self,
        nid: Uuid,
        last_failure_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_stale_login_failures(nid, last_failure_before, now, limit)
            .await
    }

    async fn delete_finished_messages(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_finished_messages(nid, before, limit)
            .await
    }

    async fn delete_stale_send_counters(
        &self,
        nid: Uuid,
        window_started_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_stale_send_counters(nid, window_started_before, limit)
            .await
    }

    async fn delete_expired_used_secrets(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_expired_used_secrets(nid, expired_before, limit)
            .await
    }

    async fn delete_expired_token_exchanges(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_expired_token_exchanges(nid, expired_before, limit)
            .await
    }
}

/// Exchangers change no session or identity: passed through.
#[async_trait]
impl TokenExchangeStore for EvictingStore {
    async fn create_token_exchange(
        &self,
        nid: Uuid,
        exchange: &NewTokenExchange<'_>,
    ) -> Result<(), StoreError> {
        self.inner.create_token_exchange(nid, exchange).await
    }

    async fn attach_token_exchange_session(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        session_id: Uuid,
        sealed_session_token: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner
            .attach_token_exchange_session(nid, flow_id, session_id, sealed_session_token, now)
            .await
    }

    async fn move_token_exchange(
        &self,
        nid: Uuid,
        from: Uuid,
        to: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner
            .move_token_exchange(nid, from, to, expires_at)
            .await
    }

    async fn exchange_session_token(
        &self,
        nid: Uuid,
        init_code_digest: &ExchangeCodeDigest,
        return_to_code_digest: &ExchangeCodeDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenExchangeLookup>, StoreError> {
        self.inner
            .exchange_session_token(nid, init_code_digest, return_to_code_digest, now)
            .await
    }
}

#[async_trait]
impl SendLimitStore for EvictingStore {
    async fn count_code_sends(
        &self,
        nid: Uuid,
        keys: &[String],
        now: DateTime<Utc>,
        window_started_before: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError> {
        self.inner
            .count_code_sends(nid, keys, now, window_started_before)
            .await
    }
}

#[async_trait]
impl UsedSecretStore for EvictingStore {
    async fn use_once(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.use_once(nid, identity_id, key, expires_at).await
    }
}

impl ChangeFeedStore for EvictingStore {
    fn change_feed(&self) -> Option<ChangeFeed> {
        self.inner.change_feed()
    }
}

#[async_trait]
impl crate::store::PingStore for EvictingStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl crate::store::SelfServiceErrorStore for EvictingStore {
    async fn insert_self_service_error(
        &self,
        nid: Uuid,
        error: &crate::store::SelfServiceError,
    ) -> Result<(), StoreError> {
        self.inner.insert_self_service_error(nid, error).await
    }

    async fn get_self_service_error(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<crate::store::SelfServiceError, StoreError> {
        self.inner.get_self_service_error(nid, id).await
    }

    async fn delete_old_self_service_errors(
        &self,
        nid: Uuid,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_old_self_service_errors(nid, created_before, limit)
            .await
    }
}
