//! The session manager, reached through [`Kratos::sessions`](crate::Kratos::sessions).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::SessionError;
use super::model::{Aal, AuthenticationMethod, ClientInfo, Device, Session, SessionRecord};
use super::token::{LogoutToken, SessionToken, token_digest};
use crate::clock::truncate_micros;
use crate::identity::{CredentialType, Identity};
use crate::kratos::Kratos;
use crate::store::{SessionWithIdentity, StoreError};

/// Which assurance level a caller requires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequiredAal {
    /// Any authenticated session.
    Aal1,
    /// The highest level the identity has credentials for (Kratos's default).
    #[default]
    HighestAvailable,
}

/// A newly issued session with the tokens to hand to the client (shown once, never stored).
#[derive(Debug)]
pub struct IssuedSession {
    /// The session.
    pub session: Session,
    /// The session token.
    pub token: SessionToken,
    /// The logout token.
    pub logout_token: LogoutToken,
}

/// Session operations of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct SessionManager<'a> {
    kratos: &'a Kratos,
}

#[cfg(feature = "jwt")]
impl<'a> SessionManager<'a> {
    /// The registry this manager works on.
    pub(crate) fn kratos(&self) -> &'a Kratos {
        self.kratos
    }
}

/// The highest level an identity's credentials allow.
pub fn available_aal(identity: &Identity) -> Aal {
    let second_factor = identity
        .credentials
        .values()
        .any(|c| match c.credential_type {
            CredentialType::Totp => true,
            CredentialType::LookupSecret => c
                .config
                .get("recovery_codes")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|codes| !codes.is_empty()),
            CredentialType::Webauthn => c
                .config
                .get("credentials")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|list| {
                    list.iter().any(|k| {
                        !k.get("is_passwordless")
                            .and_then(serde_json::Value::as_bool)
                            .unwrap_or(false)
                    })
                }),
            _ => false,
        });
    if second_factor { Aal::Aal2 } else { Aal::Aal1 }
}

impl<'a> SessionManager<'a> {
    pub(crate) fn new(kratos: &'a Kratos) -> Self {
        Self { kratos }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// Issues a session for an identity after the given authentication steps.
    pub async fn issue(
        &self,
        identity: &Identity,
        methods: Vec<AuthenticationMethod>,
        client: &ClientInfo,
    ) -> Result<IssuedSession, SessionError> {
        let (issued, record) = self.prepare_issue(identity, methods, client)?;
        self.kratos
            .store()
            .insert_session(self.kratos.nid(), &record)
            .await?;
        Ok(issued)
    }

    /// Builds the session [`SessionManager::issue`] would issue, and the record to store, without
    /// storing it.
    pub(crate) fn prepare_issue(
        &self,
        identity: &Identity,
        methods: Vec<AuthenticationMethod>,
        client: &ClientInfo,
    ) -> Result<(IssuedSession, SessionRecord), SessionError> {
        if !identity.is_active() {
            return Err(SessionError::Inactive);
        }
        let now = self.now();
        let lifespan = self.kratos.config().session.lifespan.as_chrono();
        let token = SessionToken::generate();
        let logout_token = LogoutToken::derive(&token);
        let session = Session {
            id: Uuid::now_v7(),
            active: true,
            expires_at: now + lifespan,
            authenticated_at: now,
            authenticator_assurance_level: Session::compute_aal(&methods),
            authentication_methods: methods,
            issued_at: now,
            identity: None,
            devices: vec![Device {
                id: Uuid::now_v7(),
                ip_address: client.ip_address.clone(),
                user_agent: client.user_agent.clone(),
                location: None,
            }],
            identity_id: identity.id,
        };
        let record = SessionRecord {
            session: session.clone(),
            token_digest: token.digest(),
            logout_token_digest: logout_token.digest(),
        };
        let mut session = session;
        session.identity = Some(public_identity(identity.clone(), self.kratos));
        Ok((
            IssuedSession {
                session,
                token,
                logout_token,
            },
            record,
        ))
    }

    /// Adds authentication steps to a session (re-authentication or step-up): refreshes
    /// `authenticated_at`, recomputes the level and extends the session.
    pub async fn add_authentication(
        &self,
        session_id: Uuid,
        methods: Vec<AuthenticationMethod>,
    ) -> Result<Session, SessionError> {
        let session = self.prepare_authentication(session_id, methods).await?;
        self.kratos
            .store()
            .update_session(self.kratos.nid(), &session)
            .await?;
        Ok(session)
    }

    /// Loads a session and adds authentication steps to it as
    /// [`SessionManager::add_authentication`] does, without storing it.
    pub(crate) async fn prepare_authentication(
        &self,
        session_id: Uuid,
        methods: Vec<AuthenticationMethod>,
    ) -> Result<Session, SessionError> {
        let mut record = self
            .kratos
            .store()
            .get_session(self.kratos.nid(), session_id)
            .await?;
        let now = self.now();
        let s = &mut record.session;
        s.authentication_methods.extend(methods);
        s.authenticator_assurance_level = Session::compute_aal(&s.authentication_methods);
        s.authenticated_at = now;
        s.expires_at = now + self.kratos.config().session.lifespan.as_chrono();
        Ok(record.session)
    }

    /// Who is behind a session token, with the configured `session.whoami.required_aal`.
    pub async fn whoami(&self, token: &str) -> Result<Session, SessionError> {
        self.whoami_with(token, self.kratos.config().session.whoami.required_aal)
            .await
    }

    /// Who is behind a session token, requiring the given level.
    pub async fn whoami_with(
        &self,
        token: &str,
        required: RequiredAal,
    ) -> Result<Session, SessionError> {
        // One lookup: the session with its identity (without credentials) and the level the
        // identity's credentials allow; with the whoami cache on, the kept answer to it.
        // Every check runs on either.
        let nid = self.kratos.nid();
        let digest = token_digest(token);
        let cache = self.kratos.whoami_cache();
        if let Some(found) = cache.and_then(|c| c.get(nid, &digest)) {
            return self.activate(found, required).await;
        }
        let ticket = cache.and_then(|c| c.ticket());
        let found = match self
            .kratos
            .store()
            .get_session_by_token_with_identity(nid, &digest)
            .await
        {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Err(SessionError::Inactive),
            Err(e) => return Err(e.into()),
        };
        if let (Some(cache), Some(ticket)) = (cache, ticket) {
            cache.put(nid, digest, &found, ticket);
        }
        self.activate(found, required).await
    }

    /// With `selfservice.methods.code.mfa_enabled`, whether the identity has an address to
    /// send codes to (a trait marked `credentials.code.identifier`): a second factor, as
    /// Kratos counts it. Read from the traits, as a session's identity carries no
    /// credentials.
    fn code_is_second_factor(&self, identity: &Identity) -> bool {
        self.kratos.config().selfservice.methods.code.mfa()
            && self
                .kratos
                .schemas()
                .get(&identity.schema_id)
                .and_then(|s| s.derive(&identity.traits).ok())
                .is_some_and(|d| !d.code_identifiers.is_empty())
    }

    async fn activate(
        &self,
        found: SessionWithIdentity,
        required: RequiredAal,
    ) -> Result<Session, SessionError> {
        let SessionWithIdentity {
            record,
            identity,
            available_aal,
        } = found;
        let mut session = record.session;
        let now = self.now();
        if !session.active || session.expires_at <= now {
            return Err(SessionError::Inactive);
        }
        if !identity.is_active() {
            return Err(SessionError::Inactive);
        }
        // The store keeps the level the credentials allow; when no second-factor method is
        // registered none of them can be used, and no step-up is asked for.
        let available_aal =
            if available_aal > Aal::Aal1 && !self.kratos.methods().has_second_factor() {
                Aal::Aal1
            } else if available_aal == Aal::Aal1 && self.code_is_second_factor(&identity) {
                Aal::Aal2
            } else if available_aal > Aal::Aal1
                && required == RequiredAal::HighestAvailable
                && session.authenticator_assurance_level < available_aal
                && !self.kratos.methods().has_every_second_factor()
            {
                // Some second-factor methods are off: only the identity's credentials tell
                // whether one it has can be used (read once more, only for a session the
                // stored level would refuse).
                match self
                    .kratos
                    .store()
                    .get_identity(self.kratos.nid(), identity.id)
                    .await
                {
                    Ok(full) => self.kratos.available_aal(&full),
                    Err(StoreError::NotFound) => return Err(SessionError::Inactive),
                    Err(e) => return Err(e.into()),
                }
            } else {
                available_aal
            };
        if required == RequiredAal::HighestAvailable
            && session.authenticator_assurance_level < available_aal
        {
            return Err(SessionError::Aal2Required);
        }
        let config = &self.kratos.config().session;
        if config.extend_on_use && self.can_be_extended(&session, now) {
            session.expires_at = now + config.lifespan.as_chrono();
            self.kratos
                .store()
                .update_session(self.kratos.nid(), &session)
                .await?;
        }
        session.identity = Some(public_identity(identity, self.kratos));
        Ok(session)
    }

    fn can_be_extended(&self, session: &Session, now: DateTime<Utc>) -> bool {
        let config = &self.kratos.config().session;
        let window = config
            .earliest_possible_extend
            .unwrap_or(config.lifespan)
            .as_chrono();
        session.expires_at - window < now
    }

    /// A session by id (admin), with its identity.
    pub async fn get(&self, id: Uuid) -> Result<Session, SessionError> {
        let record = self
            .kratos
            .store()
            .get_session(self.kratos.nid(), id)
            .await?;
        let mut session = record.session;
        if let Ok(identity) = self
            .kratos
            .store()
            .get_identity(self.kratos.nid(), session.identity_id)
            .await
        {
            session.identity = Some(public_identity(identity, self.kratos));
        }
        Ok(session)
    }

    /// An identity's sessions, newest first (without the identity embedded).
    pub async fn list_for_identity(
        &self,
        identity_id: Uuid,
        active_only: bool,
    ) -> Result<Vec<Session>, SessionError> {
        let now = self.now();
        let mut list = self
            .kratos
            .store()
            .list_sessions(self.kratos.nid(), identity_id)
            .await?;
        if active_only {
            list.retain(|s| s.active && s.expires_at > now);
        }
        Ok(list)
    }

    /// Revokes one session (admin, or a user revoking one of their own).
    pub async fn revoke(&self, id: Uuid) -> Result<(), SessionError> {
        let mut record = self
            .kratos
            .store()
            .get_session(self.kratos.nid(), id)
            .await?;
        record.session.active = false;
        self.kratos
            .store()
            .update_session(self.kratos.nid(), &record.session)
            .await?;
        Ok(())
    }

    /// Revokes every session of the identity behind `token` except that one; returns how
    /// many were revoked.
    pub async fn revoke_others(&self, token: &str) -> Result<u64, SessionError> {
        let current = self.whoami_with(token, RequiredAal::Aal1).await?;
        Ok(self
            .kratos
            .store()
            .revoke_sessions_of_identity(self.kratos.nid(), current.identity_id, Some(current.id))
            .await?)
    }

    /// Revokes every session of an identity; returns how many were revoked.
    pub async fn revoke_all(&self, identity_id: Uuid) -> Result<u64, SessionError> {
        Ok(self
            .kratos
            .store()
            .revoke_sessions_of_identity(self.kratos.nid(), identity_id, None)
            .await?)
    }

    /// Logs out by session token (api flows).
    pub async fn logout_with_session_token(&self, token: &str) -> Result<(), SessionError> {
        let record = self
            .kratos
            .store()
            .get_session_by_token(self.kratos.nid(), &token_digest(token))
            .await;
        self.revoke_active(record).await
    }

    /// Logs out by logout token (browser flows).
    pub async fn logout_with_logout_token(&self, token: &str) -> Result<(), SessionError> {
        let record = self
            .kratos
            .store()
            .get_session_by_logout_token(self.kratos.nid(), &token_digest(token))
            .await;
        self.revoke_active(record).await
    }

    /// Revokes a looked-up session; a missing or inactive one is [`SessionError::Inactive`].
    async fn revoke_active(
        &self,
        record: Result<SessionRecord, StoreError>,
    ) -> Result<(), SessionError> {
        match record {
            Ok(r) if r.session.active => self.revoke(r.session.id).await,
            Ok(_) | Err(StoreError::NotFound) => Err(SessionError::Inactive),
            Err(e) => Err(e.into()),
        }
    }

    /// Extends a session by one lifespan from now (admin `extend`).
    pub async fn extend(&self, id: Uuid) -> Result<Session, SessionError> {
        let mut record = self
            .kratos
            .store()
            .get_session(self.kratos.nid(), id)
            .await?;
        if !record.session.active {
            return Err(SessionError::Inactive);
        }
        let now = self.now();
        record.session.expires_at = now + self.kratos.config().session.lifespan.as_chrono();
        self.kratos
            .store()
            .update_session(self.kratos.nid(), &record.session)
            .await?;
        Ok(record.session)
    }
}

/// The identity as a session shows it: no credentials, no admin metadata.
pub(crate) fn public_identity(mut identity: Identity, kratos: &Kratos) -> Identity {
    identity.credentials.clear();
    identity.metadata_admin = None;
    identity.schema_url = kratos.schema_url(&identity.schema_id);
    identity
}
