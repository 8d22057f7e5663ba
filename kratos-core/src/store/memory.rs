//! The in-memory store: for tests, examples and single-process apps that keep nothing.

mod cleanup;
mod courier;
mod operations;
mod token_exchange;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    CompletionStore, FlowCompletion, FlowStore, IdentityQuery, IdentityStore, LockSchedule,
    LockoutKey, LockoutStore, LoginReadStore, SecretUse, SessionStore, SessionWrite, StoreError,
    UsedSecretStore,
};
use crate::flow::{FlowKind, StoredFlow};
use crate::identity::{AddressVia, CredentialType, Identity};
use crate::session::{Session, SessionRecord};

/// An in-memory implementation of every store trait. Cheap to create; holds all tenants.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    courier: Mutex<courier::CourierData>,
}

#[derive(Debug, Default)]
struct Data {
    identities: BTreeMap<(Uuid, Uuid), Identity>,
    identifiers: HashMap<(Uuid, CredentialType, String), Uuid>,
    verifiable: HashMap<(Uuid, AddressVia, String), Uuid>,
    recovery: HashMap<(Uuid, AddressVia, String), Uuid>,
    external_ids: HashMap<(Uuid, String), Uuid>,
    sessions: HashMap<(Uuid, Uuid), SessionRecord>,
    session_tokens: HashMap<(Uuid, [u8; 32]), Uuid>,
    logout_tokens: HashMap<(Uuid, [u8; 32]), Uuid>,
    flows: HashMap<(Uuid, FlowKind, Uuid), StoredFlow>,
    login_failures: HashMap<(Uuid, String), LoginFailures>,
    /// Uses of second-factor secrets by (tenant, identity, key), with their expiry.
    used_secrets: HashMap<(Uuid, Uuid, String), chrono::DateTime<chrono::Utc>>,
    /// Self-service errors by (tenant, id).
    self_service_errors: HashMap<(Uuid, Uuid), super::SelfServiceError>,
    /// Session token exchangers by (tenant, flow id).
    token_exchanges: HashMap<(Uuid, Uuid), token_exchange::Exchanger>,
}

#[derive(Debug, Clone)]
struct LoginFailures {
    failures: u32,
    last_failure_at: chrono::DateTime<chrono::Utc>,
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Data {
    /// Checks the uniqueness rules for `identity` against everything but itself.
    fn check_unique(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError> {
        let other = |owner: Option<&Uuid>| owner.is_some_and(|o| *o != identity.id);
        for (t, ident) in identity.identifiers() {
            if other(self.identifiers.get(&(nid, t, ident.to_owned()))) {
                return Err(StoreError::Conflict(format!("{t} identifier")));
            }
        }
        for a in &identity.verifiable_addresses {
            if other(self.verifiable.get(&(nid, a.via, a.value.clone()))) {
                return Err(StoreError::Conflict("verifiable address".into()));
            }
        }
        for a in &identity.recovery_addresses {
            if other(self.recovery.get(&(nid, a.via, a.value.clone()))) {
                return Err(StoreError::Conflict("recovery address".into()));
            }
        }
        if let Some(e) = &identity.external_id
            && other(self.external_ids.get(&(nid, e.clone())))
        {
            return Err(StoreError::Conflict("external id".into()));
        }
        // Duplicates inside one identity are conflicts too, as unique indexes would see them.
        let mut seen = std::collections::HashSet::new();
        for (t, ident) in identity.identifiers() {
            if !seen.insert((t, ident)) {
                return Err(StoreError::Conflict(format!("{t} identifier")));
            }
        }
        Ok(())
    }

    /// Checks that a new session clashes with no stored one and that its identity exists
    /// (or is `new_identity`, about to be inserted with it).
    fn check_new_session(
        &self,
        nid: Uuid,
        record: &SessionRecord,
        new_identity: Option<Uuid>,
    ) -> Result<(), StoreError> {
        if self.sessions.contains_key(&(nid, record.session.id))
            || self
                .session_tokens
                .contains_key(&(nid, record.token_digest))
            || self
                .logout_tokens
                .contains_key(&(nid, record.logout_token_digest))
        {
            return Err(StoreError::Conflict("session".into()));
        }
        let owner = record.session.identity_id;
        if new_identity != Some(owner) && !self.identities.contains_key(&(nid, owner)) {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Stores a session checked by [`Data::check_new_session`].
    fn put_session(&mut self, nid: Uuid, record: &SessionRecord) {
        let id = record.session.id;
        self.session_tokens.insert((nid, record.token_digest), id);
        self.logout_tokens
            .insert((nid, record.logout_token_digest), id);
        let mut record = record.clone();
        record.session.identity = None;
        self.sessions.insert((nid, id), record);
    }

    fn update_session(&mut self, nid: Uuid, session: &Session) -> Result<(), StoreError> {
        let record = self
            .sessions
            .get_mut(&(nid, session.id))
            .ok_or(StoreError::NotFound)?;
        let mut session = session.clone();
        session.identity = None;
        session.identity_id = record.session.identity_id;
        record.session = session;
        Ok(())
    }

    /// Checks a new identity against the stored ones.
    fn check_new_identity(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError> {
        if self.identities.contains_key(&(nid, identity.id)) {
            return Err(StoreError::Conflict("identity id".into()));
        }
        self.check_unique(nid, identity)
    }

    /// Stores an identity checked by [`Data::check_new_identity`].
    fn put_identity(&mut self, nid: Uuid, identity: &Identity) {
        self.index(nid, identity);
        self.identities.insert((nid, identity.id), identity.clone());
    }

    fn index(&mut self, nid: Uuid, identity: &Identity) {
        for (t, ident) in identity.identifiers() {
            self.identifiers
                .insert((nid, t, ident.to_owned()), identity.id);
        }
        for a in &identity.verifiable_addresses {
            self.verifiable
                .insert((nid, a.via, a.value.clone()), identity.id);
        }
        for a in &identity.recovery_addresses {
            self.recovery
                .insert((nid, a.via, a.value.clone()), identity.id);
        }
        if let Some(e) = &identity.external_id {
            self.external_ids.insert((nid, e.clone()), identity.id);
        }
    }

    fn unindex(&mut self, nid: Uuid, identity: &Identity) {
        for (t, ident) in identity.identifiers() {
            self.identifiers.remove(&(nid, t, ident.to_owned()));
        }
        for a in &identity.verifiable_addresses {
            self.verifiable.remove(&(nid, a.via, a.value.clone()));
        }
        for a in &identity.recovery_addresses {
            self.recovery.remove(&(nid, a.via, a.value.clone()));
        }
        if let Some(e) = &identity.external_id {
            self.external_ids.remove(&(nid, e.clone()));
        }
    }
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn insert_identities(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut data = self.lock();
        let mut results = Vec::with_capacity(identities.len());
        for identity in identities {
            results.push(
                data.check_new_identity(nid, identity)
                    .map(|()| data.put_identity(nid, identity)),
            );
        }
        Ok(results)
    }

    async fn get_identity(&self, nid: Uuid, id: Uuid) -> Result<Identity, StoreError> {
        self.lock()
            .identities
            .get(&(nid, id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn get_identity_by_external_id(
        &self,
        nid: Uuid,
        external_id: &str,
    ) -> Result<Identity, StoreError> {
        let data = self.lock();
        let id = data
            .external_ids
            .get(&(nid, external_id.to_owned()))
            .ok_or(StoreError::NotFound)?;
        data.identities
            .get(&(nid, *id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn find_identity_by_identifier(
        &self,
        nid: Uuid,
        credential_type: CredentialType,
        identifier: &str,
    ) -> Result<Identity, StoreError> {
        let data = self.lock();
        let id = data
            .identifiers
            .get(&(nid, credential_type, identifier.to_owned()))
            .ok_or(StoreError::NotFound)?;
        data.identities
            .get(&(nid, *id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_identity(&self, nid: Uuid, identity: &Identity) -> Result<(), StoreError> {
        let mut data = self.lock();
        let old = data
            .identities
            .get(&(nid, identity.id))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        data.unindex(nid, &old);
        if let Err(e) = data.check_unique(nid, identity) {
            data.index(nid, &old);
            return Err(e);
        }
        data.index(nid, identity);
        data.identities.insert((nid, identity.id), identity.clone());
        Ok(())
    }

    async fn delete_identity(&self, nid: Uuid, id: Uuid) -> Result<(), StoreError> {
        let mut data = self.lock();
        let old = data
            .identities
            .remove(&(nid, id))
            .ok_or(StoreError::NotFound)?;
        data.unindex(nid, &old);
        data.used_secrets
            .retain(|(n, identity, _), _| !(*n == nid && *identity == id));
        let sessions: Vec<Uuid> = data
            .sessions
            .iter()
            .filter(|((n, _), r)| *n == nid && r.session.identity_id == id)
            .map(|((_, sid), _)| *sid)
            .collect();
        for sid in sessions {
            if let Some(r) = data.sessions.remove(&(nid, sid)) {
                data.session_tokens.remove(&(nid, r.token_digest));
                data.logout_tokens.remove(&(nid, r.logout_token_digest));
            }
        }
        Ok(())
    }

    async fn list_identities(
        &self,
        nid: Uuid,
        query: &IdentityQuery,
    ) -> Result<Vec<Identity>, StoreError> {
        let data = self.lock();
        let start = (nid, query.after.map(next_uuid).unwrap_or(Uuid::nil()));
        let end = (nid, Uuid::max());
        let out = data
            .identities
            .range(start..=end)
            .map(|(_, i)| i)
            .filter(|i| query.ids.is_empty() || query.ids.contains(&i.id))
            .filter(|i| {
                query.organization_id.is_none() || i.organization_id == query.organization_id
            })
            .filter(|i| {
                query
                    .credentials_identifier
                    .as_deref()
                    .is_none_or(|want| i.identifiers().any(|(_, v)| v == want))
            })
            .filter(|i| {
                query
                    .identifier_prefix
                    .as_deref()
                    .is_none_or(|p| i.identifiers().any(|(_, v)| v.starts_with(p)))
            })
            .take(query.limit)
            .cloned()
            .collect();
        Ok(out)
    }
}

/// The smallest UUID greater than `u` (for an exclusive lower bound).
fn next_uuid(u: Uuid) -> Uuid {
    Uuid::from_u128(u.as_u128().saturating_add(1))
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, nid: Uuid, record: &SessionRecord) -> Result<(), StoreError> {
        let mut data = self.lock();
        data.check_new_session(nid, record, None)?;
        data.put_session(nid, record);
        Ok(())
    }

    async fn get_session(&self, nid: Uuid, id: Uuid) -> Result<SessionRecord, StoreError> {
        self.lock()
            .sessions
            .get(&(nid, id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn get_session_by_token(
        &self,
        nid: Uuid,
        token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        let data = self.lock();
        let id = data
            .session_tokens
            .get(&(nid, *token_digest))
            .ok_or(StoreError::NotFound)?;
        data.sessions
            .get(&(nid, *id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn get_session_by_logout_token(
        &self,
        nid: Uuid,
        logout_token_digest: &[u8; 32],
    ) -> Result<SessionRecord, StoreError> {
        let data = self.lock();
        let id = data
            .logout_tokens
            .get(&(nid, *logout_token_digest))
            .ok_or(StoreError::NotFound)?;
        data.sessions
            .get(&(nid, *id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_session(&self, nid: Uuid, session: &Session) -> Result<(), StoreError> {
        self.lock().update_session(nid, session)
    }

    async fn list_sessions(
        &self,
        nid: Uuid,
        identity_id: Uuid,
    ) -> Result<Vec<Session>, StoreError> {
        let data = self.lock();
        let mut list: Vec<Session> = data
            .sessions
            .iter()
            .filter(|((n, _), r)| *n == nid && r.session.identity_id == identity_id)
            .map(|(_, r)| r.session.clone())
            .collect();
        list.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    async fn revoke_sessions_of_identity(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut data = self.lock();
        let mut n = 0;
        for ((sn, sid), r) in data.sessions.iter_mut() {
            if *sn == nid
                && r.session.identity_id == identity_id
                && r.session.active
                && Some(*sid) != except
            {
                r.session.active = false;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    async fn insert_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.flows.contains_key(&(nid, flow.kind, flow.id)) {
            return Err(StoreError::Conflict("flow id".into()));
        }
        data.flows.insert((nid, flow.kind, flow.id), flow.clone());
        Ok(())
    }

    async fn get_flow(
        &self,
        nid: Uuid,
        kind: FlowKind,
        id: Uuid,
    ) -> Result<StoredFlow, StoreError> {
        self.lock()
            .flows
            .get(&(nid, kind, id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_flow(&self, nid: Uuid, flow: &StoredFlow) -> Result<(), StoreError> {
        let mut data = self.lock();
        let slot = data
            .flows
            .get_mut(&(nid, flow.kind, flow.id))
            .ok_or(StoreError::NotFound)?;
        *slot = flow.clone();
        Ok(())
    }
}

#[async_trait]
impl CompletionStore for MemoryStore {
    async fn complete_flow(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
    ) -> Result<(), StoreError> {
        self.complete_with(nid, completion, None, None)
    }

    async fn complete_flow_using_secret(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: &SecretUse<'_>,
    ) -> Result<(), StoreError> {
        self.complete_with(nid, completion, Some(secret), None)
    }

    async fn complete_flow_updating_credential(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        update: &super::CredentialUpdate<'_>,
    ) -> Result<(), StoreError> {
        self.complete_with(nid, completion, None, Some(update))
    }
}

impl MemoryStore {
    /// Every completion: everything is checked before anything is written, under one lock.
    fn complete_with(
        &self,
        nid: Uuid,
        completion: &FlowCompletion<'_>,
        secret: Option<&SecretUse<'_>>,
        credential: Option<&super::CredentialUpdate<'_>>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        let flow = completion.flow;
        match data.flows.get(&(nid, flow.kind, flow.id)) {
            Some(stored) if awaits_submission(stored) => {}
            _ => return Err(StoreError::NotFound),
        }
        if let Some(update) = credential {
            let unchanged = data
                .identities
                .get(&(nid, update.identity_id))
                .and_then(|i| i.credentials.get(&update.credential_type))
                .is_some_and(|c| c.updated_at == update.read_at);
            if !unchanged {
                return Err(StoreError::Conflict(
                    "the credential changed since it was read".into(),
                ));
            }
        }
        if let Some(identity) = completion.identity {
            data.check_new_identity(nid, identity)?;
        }
        match completion.session {
            Some(SessionWrite::Insert(record)) => {
                data.check_new_session(nid, record, completion.identity.map(|i| i.id))?;
            }
            Some(SessionWrite::Update(session))
                if !data.sessions.contains_key(&(nid, session.id)) =>
            {
                return Err(StoreError::NotFound);
            }
            _ => {}
        }
        if let Some(secret) = secret {
            if !data.identities.contains_key(&(nid, secret.identity_id)) {
                return Err(StoreError::NotFound);
            }
            if data
                .used_secrets
                .contains_key(&(nid, secret.identity_id, secret.key.to_owned()))
            {
                return Err(StoreError::AlreadyUsed);
            }
            data.used_secrets.insert(
                (nid, secret.identity_id, secret.key.to_owned()),
                secret.expires_at,
            );
        }
        if let Some(key) = completion.reset_login_failures {
            data.login_failures.remove(&(nid, key.to_owned()));
        }
        if let Some(key) = completion.forgive_login_attempt
            && let Some(entry) = data.login_failures.get_mut(&(nid, key.key.to_owned()))
        {
            entry.failures = entry.failures.saturating_sub(1);
            if entry.failures < key.max_attempts {
                entry.locked_until = None;
            }
        }
        if let Some(identity) = completion.identity {
            data.put_identity(nid, identity);
        }
        if let Some(update) = credential
            && let Some(identity) = data.identities.get_mut(&(nid, update.identity_id))
            && let Some(stored) = identity.credentials.get_mut(&update.credential_type)
        {
            stored.config = update.config.clone();
            stored.updated_at = update.updated_at;
        }
        match completion.session {
            Some(SessionWrite::Insert(record)) => data.put_session(nid, record),
            Some(SessionWrite::Update(session)) => data.update_session(nid, session)?,
            None => {}
        }
        data.flows.insert((nid, flow.kind, flow.id), flow.clone());
        Ok(())
    }
}

#[async_trait]
impl UsedSecretStore for MemoryStore {
    async fn use_once(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        key: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let mut data = self.lock();
        if !data.identities.contains_key(&(nid, identity_id)) {
            return Err(StoreError::NotFound);
        }
        match data.used_secrets.entry((nid, identity_id, key.to_owned())) {
            std::collections::hash_map::Entry::Occupied(_) => Ok(false),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(expires_at);
                Ok(true)
            }
        }
    }
}

/// Whether a stored flow still awaits a submission: its state is neither `passed_challenge`
/// nor `success`. A document without a state (not one of ours) awaits one.
fn awaits_submission(stored: &StoredFlow) -> bool {
    #[derive(serde::Deserialize)]
    struct State {
        #[serde(default)]
        state: Option<crate::flow::FlowState>,
    }
    !matches!(
        stored.document.decode::<State>(),
        Ok(State {
            state: Some(crate::flow::FlowState::PassedChallenge | crate::flow::FlowState::Success)
        })
    )
}

/// The default reads: each is a map lookup.
impl LoginReadStore for MemoryStore {}

/// No change feed: one process holds the data, and a whoami cache over it is kept by the
/// registries that write through it (and bounded by its time-to-live).
impl super::ChangeFeedStore for MemoryStore {}

#[async_trait]
impl LockoutStore for MemoryStore {
    async fn record_login_attempt(
        &self,
        nid: Uuid,
        keys: &[LockoutKey<'_>],
        schedule: &LockSchedule,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let mut data = self.lock();
        let mut refused = None;
        for key in keys {
            if refused.is_some() {
                // A key before this one refused the attempt: the later keys are not counted.
                break;
            }
            let entry = data
                .login_failures
                .entry((nid, key.key.to_owned()))
                .or_insert(LoginFailures {
                    failures: 0,
                    last_failure_at: schedule.now,
                    locked_until: None,
                });
            if let Some(until) = entry.locked_until.filter(|u| *u > schedule.now) {
                refused = refused.max(Some(until));
                continue;
            }
            if entry.last_failure_at < schedule.forget_before {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure_at = schedule.now;
            entry.locked_until = schedule.lock_for(entry.failures, key.max_attempts);
        }
        Ok(refused)
    }

    async fn login_locked_until(
        &self,
        nid: Uuid,
        keys: &[String],
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let data = self.lock();
        Ok(keys
            .iter()
            .filter_map(|k| data.login_failures.get(&(nid, k.clone())))
            .filter_map(|e| e.locked_until)
            .max())
    }

    async fn reset_login_failures(&self, nid: Uuid, key: &str) -> Result<(), StoreError> {
        self.lock().login_failures.remove(&(nid, key.to_owned()));
        Ok(())
    }
}
