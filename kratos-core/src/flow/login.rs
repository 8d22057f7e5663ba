//! The login flow: `choose_method` → `passed_challenge`, password method.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::{
    ContinueWith, FlowContext, FlowError, FlowKind, FlowState, FlowType, check_return_to,
    csrf_matches, new_csrf_token, return_to_of,
};
use crate::clock::truncate_micros;
use crate::code::CodeKind;
use crate::config::LockoutConfig;
use crate::identity::{CredentialType, IdentifierKind, Identity, normalize_identifier};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod, RequiredAal, Session, SessionToken};
use crate::store::{
    FlowCompletion, LockSchedule, LockoutKey, PasswordLoginKeys, SessionWrite, StoreError,
};
use crate::strategy::code::{self, CodeRequest};

/// A login flow, in Kratos's `loginFlow` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginFlow {
    /// Flow id.
    pub id: Uuid,
    /// `browser` or `api`.
    #[serde(rename = "type")]
    pub flow_type: FlowType,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The URL that started it.
    pub request_url: String,
    /// Where to go afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The method last submitted (`password`, `code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// The form.
    pub ui: UiContainer,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Re-authentication of an existing session.
    pub refresh: bool,
    /// The level asked for.
    pub requested_aal: Aal,
    /// Where it stands.
    pub state: FlowState,
}

/// Options of a new login flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoginOptions {
    /// Re-authenticate although a session exists (`refresh=true`).
    pub refresh: bool,
    /// Ask for a higher level (`aal=aal2`).
    pub aal: Option<Aal>,
}

/// A successful login.
#[derive(Debug)]
pub struct LoginSuccess {
    /// The session (new, or the refreshed existing one).
    pub session: Session,
    /// The session token, for api flows and for the HTTP layer to set as a cookie.
    pub session_token: Option<SessionToken>,
    /// What the client should do next.
    pub continue_with: Vec<ContinueWith>,
    /// The completed flow.
    pub flow: LoginFlow,
}

/// The answer to a submission: done, or the flow again with messages.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum LoginSubmission {
    /// Signed in.
    Completed(LoginSuccess),
    /// Not signed in; the flow carries the messages.
    Retry(LoginFlow),
}

/// The password method's payload.
#[derive(Deserialize)]
struct PasswordPayload {
    #[serde(default)]
    method: String,
    #[serde(default, alias = "password_identifier")]
    identifier: String,
    #[serde(default)]
    password: Zeroizing<String>,
    #[serde(default)]
    csrf_token: Option<String>,
}

/// What a password submission is looked up by: the normalized identifier and the lockout
/// keys of the identifier and of the client address.
struct PasswordKeys {
    identifier: String,
    identifier_key: String,
    address_key: Option<String>,
}

/// The longest identifier a lockout key holds as it is; a longer one is keyed by its SHA-256
/// digest. Keys are a primary key's column: PostgreSQL refuses index entries over about
/// 2.7 kB (an attempt with a longer identifier would fail instead of being counted), and an
/// identifier may be as long as a request body allows (64 KiB), which every stored counter
/// would carry.
pub(crate) const MAX_KEYED_IDENTIFIER_BYTES: usize = 256;

/// The lockout key of a normalized identifier: `identifier:<identifier>`, or
/// `identifier-sha256:<hex digest>` beyond [`MAX_KEYED_IDENTIFIER_BYTES`] (the same
/// identifier always gets the same key, and distinct ones distinct keys).
pub(crate) fn identifier_lockout_key(identifier: &str) -> String {
    if identifier.len() <= MAX_KEYED_IDENTIFIER_BYTES {
        return format!("identifier:{identifier}");
    }
    use sha2::{Digest, Sha256};
    format!(
        "identifier-sha256:{}",
        hex::encode(Sha256::digest(identifier.as_bytes()))
    )
}

/// The lockout key of a client address: `address:<IPv4>`, `address:<IPv6 /64 prefix>/64`
/// (one subscriber commonly holds a whole /64, so keying single IPv6 addresses would give it
/// 2^64 counters), or, for a value that is no IP address, its SHA-256 digest.
pub(crate) fn address_lockout_key(address: &str) -> String {
    use std::net::IpAddr;
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("address:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("address:{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Err(_) => {
            use sha2::{Digest, Sha256};
            format!(
                "address-sha256:{}",
                hex::encode(Sha256::digest(address.as_bytes()))
            )
        }
    }
}

impl PasswordKeys {
    fn of(identifier: &str, ctx: &FlowContext) -> Self {
        let identifier =
            normalize_identifier(IdentifierKind::Username, identifier).unwrap_or_default();
        Self {
            identifier_key: identifier_lockout_key(&identifier),
            address_key: ctx.client.ip_address.as_deref().map(address_lockout_key),
            identifier,
        }
    }

    /// The lockout keys an attempt is counted on, with their limits: none when lockout is off.
    fn lockout_keys(&self, lockout: &LockoutConfig) -> Vec<LockoutKey<'_>> {
        if !lockout.enabled {
            return Vec::new();
        }
        // The client address first: an attempt it refuses does not count against the
        // identifier (a locked-out client cannot go on locking others out).
        self.address_key
            .as_deref()
            .map(|key| LockoutKey {
                key,
                max_attempts: lockout.max_failures_per_address,
            })
            .into_iter()
            .chain(std::iter::once(LockoutKey {
                key: &self.identifier_key,
                max_attempts: lockout.max_failures,
            }))
            .collect()
    }
}

/// The lock schedule of `lockout` at `now`: the first lock lasts `base_duration`, each further
/// one twice the one before, up to `max_duration`.
pub(crate) fn lock_schedule(lockout: &LockoutConfig, now: DateTime<Utc>) -> LockSchedule {
    let base = lockout.base_duration.as_chrono();
    let max = lockout.max_duration.as_chrono();
    let mut locks = Vec::new();
    for doublings in 0..31u32 {
        let length = base
            .checked_mul(1i32 << doublings)
            .unwrap_or(chrono::Duration::MAX)
            .min(max);
        locks.push(
            now.checked_add_signed(length)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        if length >= max {
            break;
        }
    }
    LockSchedule {
        now,
        forget_before: now
            .checked_sub_signed(lockout.forget_after.as_chrono())
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        locks,
    }
}

/// The reads of a password submission, each with its own outcome so that a lock wins over a
/// failed identity read: the lock that refused the attempt, if any, and the identity of its
/// identifier.
struct PasswordReads {
    locked_until: Result<Option<DateTime<Utc>>, StoreError>,
    identity: Result<Option<Identity>, StoreError>,
}

/// The lockout writes of a successful password login: the identifier's key is reset, the
/// attempt counted on the address's key (with its limit) taken back.
struct LockoutWrites {
    reset: String,
    forgive: Option<(String, u32)>,
}

/// The code method's payload.
#[derive(Deserialize)]
struct CodePayload {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    resend: Option<String>,
}

/// Login flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct LoginFlows<'a> {
    kratos: &'a Kratos,
}

impl<'a> LoginFlows<'a> {
    pub(crate) fn new(kratos: &'a Kratos) -> Self {
        Self { kratos }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// Starts a login flow.
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        options: LoginOptions,
    ) -> Result<LoginFlow, FlowError> {
        let requested_aal = options.aal.unwrap_or(Aal::Aal1);
        let existing = match &ctx.session_token {
            Some(t) => self
                .kratos
                .sessions()
                .whoami_with(t, RequiredAal::Aal1)
                .await
                .ok(),
            None => None,
        };
        let refresh = match &existing {
            None if requested_aal > Aal::Aal1 => return Err(FlowError::Aal1Required),
            None => false,
            Some(_) if options.refresh => true,
            Some(s) if requested_aal <= s.authenticator_assurance_level => {
                return Err(FlowError::SessionAlreadyAvailable);
            }
            Some(_) => false,
        };
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        crate::hook::run_before_flow(self.kratos, FlowKind::Login, flow_type, ctx).await?;
        let now = self.now();
        let id = Uuid::now_v7();
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
        };
        let mut ui = UiContainer {
            action: format!(
                "{}/self-service/login?flow={id}",
                self.kratos.config().serve.public_base_url()
            ),
            method: "POST".into(),
            nodes: Vec::new(),
            messages: Vec::new(),
        };
        if flow_type == FlowType::Browser {
            ui.nodes.push(
                UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
                    .required()
                    .value(json!(csrf)),
            );
        }
        if self.kratos.config().selfservice.methods.password.enabled {
            let identifier = existing
                .as_ref()
                .filter(|_| refresh)
                .and_then(|s| s.identity.as_ref())
                .and_then(|i| i.credential(CredentialType::Password))
                .and_then(|c| c.identifiers.first().cloned());
            let mut id_node = UiNode::input(NodeGroup::Default, "identifier", InputType::Text)
                .required()
                .label(text::default_login_identifier_label(self.kratos.schemas()));
            if let Some(v) = identifier {
                id_node = id_node.value(json!(v));
            }
            ui.nodes.push(id_node);
            ui.nodes.push(
                UiNode::input(NodeGroup::Password, "password", InputType::Password)
                    .required()
                    .autocomplete("current-password")
                    .label(text::password_label()),
            );
            ui.nodes.push(
                UiNode::input(NodeGroup::Password, "method", InputType::Submit)
                    .value(json!("password"))
                    .label(text::login_with_password()),
            );
        }
        if self.kratos.config().selfservice.methods.code.passwordless() {
            if ui.node("identifier").is_none() {
                ui.nodes.push(
                    UiNode::input(NodeGroup::Default, "identifier", InputType::Email)
                        .required()
                        .autocomplete("email")
                        .label(text::default_login_identifier_label(self.kratos.schemas())),
                );
            }
            ui.nodes
                .push(code::submit_node(code::text::sign_in_with_code()));
        }
        if refresh {
            ui.messages.push(text::reauthenticate());
        }
        let flow = LoginFlow {
            id,
            flow_type,
            expires_at: now
                + self
                    .kratos
                    .config()
                    .selfservice
                    .flows
                    .login
                    .lifespan
                    .as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui,
            created_at: now,
            updated_at: now,
            refresh,
            requested_aal,
            state: FlowState::ChooseMethod,
        };
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    async fn save(&self, flow: &LoginFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Login,
            flow.id,
            flow.expires_at,
            csrf,
            flow,
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(LoginFlow, String), FlowError> {
        super::load_flow(self.kratos, FlowKind::Login, id).await
    }

    async fn expired(&self, flow: &LoginFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        let replacement = self
            .create(
                flow.flow_type,
                &FlowContext {
                    session_token: None,
                    ..ctx.clone()
                },
                LoginOptions::default(),
            )
            .await;
        match replacement {
            Ok(new) => FlowError::Expired {
                use_flow_id: new.id,
                expired_at: flow.expires_at,
                minutes: (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0,
            },
            Err(e) => e,
        }
    }

    /// The error of a completion the store refused as not found: the flow was completed
    /// meanwhile by a concurrent submission ([`FlowError::AlreadyCompleted`], as a later
    /// submission gets), or it (or the session to refresh) is gone.
    async fn completion_refused(&self, id: Uuid) -> FlowError {
        super::completion_refused(self.load(id).await.ok().map(|(flow, _)| flow.state))
    }

    /// Fetches a flow; expired flows answer with [`FlowError::Expired`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<LoginFlow, FlowError> {
        let (flow, _) = self.load(id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits a method's payload (`{"method": "password", "identifier": …, "password": …,
    /// "csrf_token": …}`).
    pub async fn submit(
        &self,
        id: Uuid,
        payload: &Value,
        ctx: &FlowContext,
    ) -> Result<LoginSubmission, FlowError> {
        let body = payload;
        let parsed = serde_json::from_value::<PasswordPayload>(body.clone());
        // A complete password submission's reads (lockout and identity) need only the
        // payload: the store answers them with the flow load, one round trip for the three
        // on SQL. Their result is used only once the flow and the payload have passed every
        // check below.
        let early_keys = parsed
            .as_ref()
            .ok()
            .filter(|p| {
                p.method == "password"
                    && self.kratos.config().selfservice.methods.password.enabled
                    && !p.identifier.trim().is_empty()
                    && !p.password.is_empty()
            })
            .map(|p| PasswordKeys::of(&p.identifier, ctx));
        let (loaded, early_reads) = match &early_keys {
            Some(keys) => {
                let (loaded, reads) = self.load_with_password_reads(id, keys).await;
                (loaded, Some(reads))
            }
            None => (self.load(id).await, None),
        };
        let (mut flow, csrf) = loaded?;
        if flow.state == FlowState::PassedChallenge {
            return Err(FlowError::AlreadyCompleted);
        }
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        let payload = parsed
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))?;
        if flow.flow_type == FlowType::Browser
            && !csrf_matches(&csrf, payload.csrf_token.as_deref())
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        flow.updated_at = self.now();
        if payload.method == "code" && self.kratos.config().selfservice.methods.code.passwordless()
        {
            let payload: CodePayload = serde_json::from_value(body.clone())
                .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))?;
            return self.submit_code(flow, csrf, payload, ctx).await;
        }
        if payload.method != "password"
            || !self.kratos.config().selfservice.methods.password.enabled
        {
            flow.ui.messages.push(text::login_no_strategy());
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }
        flow.ui.set_value("identifier", json!(payload.identifier));
        let mut missing = false;
        if payload.identifier.trim().is_empty() {
            flow.ui
                .add_node_message("identifier", text::required("identifier"));
            missing = true;
        }
        if payload.password.is_empty() {
            flow.ui
                .add_node_message("password", text::required("password"));
            missing = true;
        }
        if missing {
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }

        let keys = match early_keys {
            Some(keys) => keys,
            None => PasswordKeys::of(&payload.identifier, ctx),
        };
        let reads = match early_reads {
            Some(reads) => reads,
            // Not reached today: every complete password submission read early. Read here
            // all the same should the conditions ever part (the flow read again is unused).
            None => self.load_with_password_reads(id, &keys).await.1,
        };
        if let Some(until) = reads.locked_until?
            && until > self.now()
        {
            return Err(FlowError::LoginLocked { until });
        }
        let found = reads.identity?;
        let PasswordKeys {
            identifier_key,
            address_key,
            ..
        } = keys;
        let lockout = &self.kratos.config().security.login_lockout;
        let stored_hash = found
            .as_ref()
            .and_then(|i| i.credential(CredentialType::Password))
            .and_then(|c| c.hashed_password())
            .map(str::to_owned);
        let password = payload.password.clone();
        // One verification (one turn of the hashing gate); a hash in another format or with
        // other parameters is re-hashed with the configured algorithm in the same turn.
        let (valid, new_hash) = self
            .kratos
            .run_hash(move |hasher| match stored_hash {
                Some(hash) => {
                    crate::identity::verify_and_rehash(hasher, password.as_bytes(), &hash)
                        .unwrap_or((false, None))
                }
                None => {
                    // Spend the time of a real verification: timing reveals nothing.
                    hasher.verify_dummy(password.as_bytes());
                    (false, None)
                }
            })
            .await
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let mut identity = match (valid, found) {
            (true, Some(i)) => i,
            _ => {
                // The attempt was counted before the password was verified.
                flow.ui.messages.push(text::invalid_credentials());
                self.save(&flow, &csrf, false).await?;
                return Ok(LoginSubmission::Retry(flow));
            }
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // Migrate the hash now that the password is known. A failed write does not fail the
        // login: the next one tries again.
        if let Some(new_hash) = new_hash {
            crate::identity::set_password_hash(&mut identity, new_hash, self.now());
            let _ = self
                .kratos
                .store()
                .update_identity(self.kratos.nid(), &identity)
                .await;
        }

        // The success forgets the identifier's attempts and takes back the one counted on the
        // address, in the transaction of the session.
        let lockout_writes = lockout.enabled.then(|| LockoutWrites {
            reset: identifier_key,
            forgive: address_key.map(|key| (key, lockout.max_failures_per_address)),
        });
        self.complete(flow, csrf, identity, "password", lockout_writes, ctx)
            .await
    }

    /// Loads the flow `id` with the reads of a password submission under `keys` (the identity
    /// of the identifier) and counts the attempt on its lockout keys when lockout is on and
    /// the flow is live, in one store call: the attempt is counted before its password is
    /// verified, so of a burst of attempts only those up to the limit are verified at all.
    async fn load_with_password_reads(
        &self,
        id: Uuid,
        keys: &PasswordKeys,
    ) -> (Result<(LoginFlow, String), FlowError>, PasswordReads) {
        let lockout = &self.kratos.config().security.login_lockout;
        let lockout_keys = keys.lockout_keys(lockout);
        let schedule = lock_schedule(lockout, self.now());
        let reads = self
            .kratos
            .store()
            .password_login_reads(
                self.kratos.nid(),
                PasswordLoginKeys {
                    flow_id: id,
                    lockout_keys: &lockout_keys,
                    schedule: &schedule,
                    identifier: &keys.identifier,
                },
            )
            .await;
        let loaded = reads
            .flow
            .map_err(FlowError::from)
            .and_then(super::decode_flow);
        (
            loaded,
            PasswordReads {
                locked_until: reads.locked_until,
                identity: reads.identity,
            },
        )
    }

    /// The `code` method: `{identifier}` sends a code (again with `resend: "code"`),
    /// `{code}` signs in. An unknown or disabled address gets the same answer as a known one
    /// and no email; any code then fails as invalid.
    async fn submit_code(
        &self,
        mut flow: LoginFlow,
        csrf: String,
        payload: CodePayload,
        ctx: &FlowContext,
    ) -> Result<LoginSubmission, FlowError> {
        flow.active = Some("code".into());
        let sending = payload.code.trim().is_empty() || payload.resend.as_deref() == Some("code");
        if sending {
            let address = payload.identifier.trim();
            if address.is_empty() {
                flow.ui
                    .add_node_message("identifier", text::required("identifier"));
                self.save(&flow, &csrf, false).await?;
                return Ok(LoginSubmission::Retry(flow));
            }
            if !code::send_allowed(self.kratos, flow.id, address).await? {
                flow.ui.messages.push(code::too_many_sends());
                self.save(&flow, &csrf, false).await?;
                return Ok(LoginSubmission::Retry(flow));
            }
            let normalized = normalize_identifier(IdentifierKind::Email, address)
                .unwrap_or_else(|_| address.to_lowercase());
            let found = match self
                .kratos
                .store()
                .find_identity_by_identifier(self.kratos.nid(), CredentialType::Code, &normalized)
                .await
            {
                Ok(i) if i.is_active() => Some(i),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(identity) = &found {
                code::send_code(
                    self.kratos,
                    CodeRequest {
                        kind: CodeKind::LoginCode,
                        flow_id: flow.id,
                        flow_expires_at: flow.expires_at,
                        request_url: &flow.request_url,
                        identity: Some(identity),
                        traits: &Value::Null,
                        address: &normalized,
                    },
                )
                .await?;
            }
            flow.state = FlowState::SentEmail;
            flow.ui = self.code_step_ui(&flow, &csrf, address);
            flow.ui.messages.push(code::text::login_code_sent());
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }
        let Some(consumed) = code::check_code_or_say(
            self.kratos,
            CodeKind::LoginCode,
            flow.id,
            &payload.code,
            "",
            code::text::login_code_invalid(),
            &mut flow.ui.messages,
        )
        .await?
        else {
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        };
        let identity_id = consumed
            .identity_id
            .ok_or_else(|| FlowError::Internal("a login code without an identity".into()))?;
        let mut identity = match self
            .kratos
            .store()
            .get_identity(self.kratos.nid(), identity_id)
            .await
        {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                flow.ui.messages.push(code::text::login_code_invalid());
                self.save(&flow, &csrf, false).await?;
                return Ok(LoginSubmission::Retry(flow));
            }
            Err(e) => return Err(e.into()),
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // The code proved the address: mark it verified, as Kratos does.
        if let Some(address_id) = consumed.address_id
            && let Some(a) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| a.id == address_id && !a.verified)
        {
            let now = self.now();
            match self
                .kratos
                .store()
                .mark_address_verified(self.kratos.nid(), address_id, now)
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            a.verified = true;
            a.verified_at = Some(now);
            a.status = crate::identity::VerificationStatus::Completed;
        }
        self.complete(flow, csrf, identity, "code", None, ctx).await
    }

    /// The second step of the code method: the address kept, the code asked for.
    fn code_step_ui(&self, flow: &LoginFlow, csrf: &str, address: &str) -> UiContainer {
        let mut ui = UiContainer {
            action: flow.ui.action.clone(),
            method: "POST".into(),
            nodes: Vec::new(),
            messages: Vec::new(),
        };
        if !csrf.is_empty() {
            ui.nodes.push(
                UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
                    .required()
                    .value(json!(csrf)),
            );
        }
        ui.nodes.push(
            UiNode::input(NodeGroup::Code, "identifier", InputType::Hidden)
                .required()
                .label(text::default_login_identifier_label(self.kratos.schemas()))
                .value(json!(address)),
        );
        ui.nodes
            .push(code::code_node(code::text::login_code_label()));
        ui.nodes
            .push(code::submit_node(UiText::info(1070005, "Submit")));
        ui.nodes.push(code::resend_node());
        ui
    }

    /// The end of every successful method: hooks, the session (new, or the refreshed one),
    /// `continue_with`. The session, the completed flow and the `lockout` writes are written
    /// in one transaction, before the *after* hooks run. A flow completed meanwhile by a
    /// concurrent submission answers [`FlowError::AlreadyCompleted`].
    async fn complete(
        &self,
        mut flow: LoginFlow,
        csrf: String,
        mut identity: crate::identity::Identity,
        method: &str,
        lockout: Option<LockoutWrites>,
        ctx: &FlowContext,
    ) -> Result<LoginSubmission, FlowError> {
        flow.active = Some(method.to_owned());
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Login,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: method.into(),
            request: ctx,
            session: None,
        };
        if !crate::hook::run_before(self.kratos, &hook_ctx, &mut identity, &mut flow.ui).await? {
            // The credentials were right: the key's failures are forgotten all the same.
            if let Some(lockout) = &lockout {
                self.kratos
                    .store()
                    .reset_login_failures(self.kratos.nid(), &lockout.reset)
                    .await?;
            }
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }

        let authentication = AuthenticationMethod::first_factor(method, self.now());
        let existing = match (&ctx.session_token, flow.refresh) {
            (Some(t), true) => self
                .kratos
                .sessions()
                .whoami_with(t, RequiredAal::Aal1)
                .await
                .ok(),
            _ => None,
        };
        // The session to write: the refreshed existing one, or a new one.
        let (session, token, new_record) = match existing {
            Some(s) if s.identity_id == identity.id => {
                let s = self
                    .kratos
                    .sessions()
                    .prepare_authentication(s.id, vec![authentication])
                    .await?;
                (
                    s,
                    ctx.session_token.clone().map(SessionToken::from_string),
                    None,
                )
            }
            _ => {
                let (issued, record) = self.kratos.sessions().prepare_issue(
                    &identity,
                    vec![authentication],
                    &ctx.client,
                )?;
                (issued.session, Some(issued.token), Some(record))
            }
        };
        flow.state = FlowState::PassedChallenge;
        flow.ui.set_value("password", json!(""));
        let stored = super::stored_flow(FlowKind::Login, flow.id, flow.expires_at, &csrf, &flow)?;
        let written = self
            .kratos
            .store()
            .complete_flow(
                self.kratos.nid(),
                &FlowCompletion {
                    flow: &stored,
                    reset_login_failures: lockout.as_ref().map(|l| l.reset.as_str()),
                    forgive_login_attempt: lockout.as_ref().and_then(|l| {
                        l.forgive.as_ref().map(|(key, max)| LockoutKey {
                            key,
                            max_attempts: *max,
                        })
                    }),
                    identity: None,
                    session: Some(match &new_record {
                        Some(record) => SessionWrite::Insert(record),
                        None => SessionWrite::Update(&session),
                    }),
                },
            )
            .await;
        if let Err(StoreError::NotFound) = written {
            return Err(self.completion_refused(flow.id).await);
        }
        written?;
        let hook_ctx = crate::hook::HookContext {
            session: Some(&session),
            ..hook_ctx
        };
        crate::hook::run_after(self.kratos, &hook_ctx, &identity).await?;
        let mut continue_with = super::continue_with(
            self.kratos,
            flow.flow_type,
            token.as_ref(),
            flow.return_to.as_deref(),
        );
        crate::hook::run_verification(self.kratos, &hook_ctx, &identity, None, &mut continue_with)
            .await?;
        Ok(LoginSubmission::Completed(LoginSuccess {
            session,
            session_token: token,
            continue_with,
            flow,
        }))
    }
}

impl Kratos {
    /// Login flows.
    pub fn login(&self) -> LoginFlows<'_> {
        LoginFlows::new(self)
    }

    /// `selfservice.default_browser_return_url`, or the public base URL.
    pub fn default_return_url(&self) -> String {
        self.config()
            .selfservice
            .default_browser_return_url
            .clone()
            .unwrap_or_else(|| format!("{}/", self.config().serve.public_base_url()))
    }

    /// Checks the `return_to` of a request URL against `selfservice.allowed_return_urls`.
    pub(crate) fn resolve_return_to(
        &self,
        request_url: Option<&str>,
    ) -> Result<Option<String>, FlowError> {
        match return_to_of(request_url) {
            None => Ok(None),
            Some(candidate) => check_return_to(
                &candidate,
                &self.default_return_url(),
                &self.config().selfservice.allowed_return_urls,
            )
            .map(Some),
        }
    }
}

#[cfg(test)]
mod lockout_key_tests {
    use super::{MAX_KEYED_IDENTIFIER_BYTES, address_lockout_key, identifier_lockout_key};

    #[test]
    fn identifiers_up_to_the_bound_are_kept_longer_ones_digested() {
        assert_eq!(
            identifier_lockout_key("ada@example.com"),
            "identifier:ada@example.com"
        );
        let at_bound = "a".repeat(MAX_KEYED_IDENTIFIER_BYTES);
        assert_eq!(
            identifier_lockout_key(&at_bound),
            format!("identifier:{at_bound}")
        );
        let long = "a".repeat(MAX_KEYED_IDENTIFIER_BYTES + 1);
        let key = identifier_lockout_key(&long);
        assert!(key.starts_with("identifier-sha256:"), "{key}");
        assert_eq!(key.len(), "identifier-sha256:".len() + 64);
        assert_eq!(
            key,
            identifier_lockout_key(&long),
            "the same key every time"
        );
        assert_ne!(key, identifier_lockout_key(&format!("{long}b")));
        assert!(identifier_lockout_key(&"é".repeat(100_000)).len() < 100);
    }

    #[test]
    fn ipv6_addresses_are_keyed_per_64() {
        assert_eq!(address_lockout_key("192.0.2.7"), "address:192.0.2.7");
        assert_eq!(address_lockout_key("::ffff:192.0.2.7"), "address:192.0.2.7");
        assert_eq!(
            address_lockout_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(
            address_lockout_key("2001:db8:1:2::1"),
            address_lockout_key("2001:db8:1:2:ffff::9"),
            "one /64, one key"
        );
        assert_ne!(
            address_lockout_key("2001:db8:1:2::1"),
            address_lockout_key("2001:db8:1:3::1")
        );
        let odd = address_lockout_key(&"x".repeat(10_000));
        assert!(
            odd.starts_with("address-sha256:") && odd.len() < 100,
            "{odd}"
        );
    }
}
