//! The login flow: `choose_method` → `passed_challenge`.
//!
//! The engine loads, checks (expiry, CSRF, the session a refresh or step-up needs), asks
//! the strategies of the registry's methods ([`crate::strategy::LoginStrategy`]) for their
//! nodes and to handle a submission, runs the hooks and writes the session and the
//! completed flow in one transaction. It names no method.
//!
//! A flow may hold a credential to link ([`super::link::CredentialLink`], left by a social
//! sign-up that found an existing account): the completing step adds it to the identity
//! that signed in, only when that identity owns the duplicate identifier (else 4010009 and
//! no session), and records the linked method's step on the session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use super::Seed;
use super::link::CredentialLink;
use super::token_exchange::ExchangeCode;
use super::ui::{InputType, NodeGroup, UiContainer, UiNode, text};
use super::{
    Admission, AdmittedFlow, ContinueWith, FlowContext, FlowError, FlowKind, FlowState, FlowType,
    check_return_to, csrf_matches, new_csrf_token, return_to_of,
};
use crate::clock::truncate_micros;
use crate::kratos::Kratos;
use crate::session::{Aal, RequiredAal, Session, SessionToken};
use crate::store::{FlowCompletion, LockoutKey, SessionWrite, StoreError};
use crate::strategy::{Authenticated, InternalContext, LoginCx, LoginOutcome, PopulateCx};

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
    /// The init code of the flow's session token exchange: only in the answer to the
    /// creation of an api flow asked with `return_session_token_exchange_code` (never stored
    /// with the flow, so never shown again). See [`super::token_exchange`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_exchange_code: Option<ExchangeCode>,
    /// The methods' internal state, stored with the flow and never shown to clients.
    #[serde(skip)]
    pub(crate) internal: InternalContext,
}

/// 1010004: the message of a step-up flow.
fn mfa_requested() -> super::ui::UiText {
    super::ui::UiText::info(
        1010004,
        "Please complete the second authentication challenge.",
    )
}

/// Options of a new login flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoginOptions {
    /// Re-authenticate although a session exists (`refresh=true`).
    pub refresh: bool,
    /// Ask for a higher level (`aal=aal2`).
    pub aal: Option<Aal>,
    /// Open a session token exchange (`return_session_token_exchange_code=true`): honoured
    /// for api flows created without a session, as in Kratos, and ignored otherwise. See
    /// [`super::token_exchange`].
    pub return_session_token_exchange_code: bool,
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
    /// Whether the identity has a second factor the session lacks while
    /// `session.whoami.required_aal` is `highest_available`: the session answers
    /// `session_aal2_required` until it steps up (browsers go to the aal2 login next).
    pub aal2_required: bool,
    /// For an api flow with a session token exchange: where to send the browser (the flow's
    /// `return_to`, or the default return URL, with `code=<return-to code>`), as
    /// [`super::token_exchange::SessionTokenExchanges::attach`] answers it; the session is
    /// attached to the exchanger already. `None` otherwise.
    pub token_exchange_redirect: Option<String>,
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
    #[tracing::instrument(
        name = "login.create",
        skip_all,
        fields(flow.id = tracing::field::Empty, flow.type = flow_type.as_str())
    )]
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        options: LoginOptions,
    ) -> Result<LoginFlow, FlowError> {
        self.create_seeded(flow_type, ctx, options, None).await
    }

    async fn create_seeded(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        options: LoginOptions,
        seed: Option<Seed>,
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
        tracing::Span::current().record("flow.id", tracing::field::display(id));
        let csrf = match (flow_type, &seed) {
            (FlowType::Browser, Some(seed)) => seed.csrf.clone(),
            (FlowType::Browser, None) => new_csrf_token(),
            (FlowType::Api, _) => String::new(),
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
        let identity = match &existing {
            Some(s) if refresh || requested_aal > Aal::Aal1 => {
                match self
                    .kratos
                    .store()
                    .get_identity(self.kratos.nid(), s.identity_id)
                    .await
                {
                    Ok(i) => Some(i),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            _ => None,
        };
        let mut internal = InternalContext::default();
        let mut populate = PopulateCx {
            kratos: self.kratos,
            flow_type,
            ui: &mut ui,
            session: existing.as_ref(),
            identity: identity.as_ref(),
            refresh,
            requested_aal,
            internal: &mut internal,
        };
        for strategy in self.kratos.methods().login_strategies() {
            if strategy.factor().serves(requested_aal) {
                strategy.populate(&mut populate)?;
            }
        }
        if requested_aal > Aal::Aal1 {
            ui.messages.push(mfa_requested());
        }
        if refresh {
            ui.messages.push(text::reauthenticate());
        }
        let expires_at = now
            + self
                .kratos
                .config()
                .selfservice
                .flows
                .login
                .lifespan
                .as_chrono();
        // Kratos opens an exchange only for an api flow started without a session.
        let exchange_code = if options.return_session_token_exchange_code
            && flow_type == FlowType::Api
            && existing.is_none()
        {
            Some(
                self.kratos
                    .session_token_exchanges()
                    .open(id, expires_at, &mut internal)
                    .await?,
            )
        } else {
            None
        };
        let flow = LoginFlow {
            id,
            flow_type,
            expires_at,
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
            session_token_exchange_code: None,
            internal,
        };
        let mut flow = match seed {
            Some(seed) => {
                let mut internal = flow.internal;
                internal.absorb(seed.internal);
                LoginFlow {
                    return_to: seed.return_to,
                    internal,
                    ..flow
                }
            }
            None => flow,
        };
        self.save(&flow, &csrf, true).await?;
        // Shown in this answer only: the stored flow does not keep it.
        flow.session_token_exchange_code = exchange_code;
        Ok(flow)
    }

    /// Adds `internal` to the internal context of flow `id` (a method's state for a flow it
    /// made).
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) async fn keep_internal(
        &self,
        id: Uuid,
        internal: crate::strategy::InternalContext,
    ) -> Result<(), FlowError> {
        let (mut flow, csrf): (LoginFlow, String) = self.load(id).await?;
        flow.internal.absorb(internal);
        self.save(&flow, &csrf, false).await
    }

    /// A new flow that continues a sign-in begun in another flow (a provider's sign-in
    /// that found no identity in a login flow, or one in a registration flow): of the same
    /// type, with that flow's CSRF token (the browser's cookie vouches for it already) and
    /// `return_to`, holding `internal` (the method's sealed state) and nothing to show.
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) async fn create_continuing(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        csrf: &str,
        return_to: Option<String>,
        internal: crate::strategy::InternalContext,
    ) -> Result<LoginFlow, FlowError> {
        let seed = Seed {
            csrf: csrf.to_owned(),
            return_to,
            internal,
        };
        self.create_seeded(flow_type, ctx, LoginOptions::default(), Some(seed))
            .await
    }

    /// Stores a flow made by [`LoginFlows::create_continuing`] again after its maker changed
    /// its form (`csrf` is the flow's CSRF token).
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) async fn rewrite(&self, flow: &LoginFlow, csrf: &str) -> Result<(), FlowError> {
        self.save(flow, csrf, false).await
    }

    async fn save(&self, flow: &LoginFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Login,
            flow.id,
            flow.expires_at,
            csrf,
            &super::WithInternal::new(flow, &flow.internal),
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(LoginFlow, String), FlowError> {
        super::load_with_internal(self.kratos, FlowKind::Login, id).await
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
    /// "csrf_token": …}`): the strategy of the payload's `method` handles it.
    ///
    /// Runs in a `login.submit` span (flow id and type, method, and the identity once signed
    /// in) and reports the outcome ([`crate::telemetry`]: an event and `kratos_login_total`).
    #[tracing::instrument(
        name = "login.submit",
        skip_all,
        fields(
            flow.id = %id,
            flow.type = tracing::field::Empty,
            method = tracing::field::Empty,
            identity.id = tracing::field::Empty,
        )
    )]
    pub async fn submit(
        &self,
        id: Uuid,
        payload: &Value,
        request: &dyn Admission,
    ) -> Result<LoginSubmission, FlowError> {
        use crate::telemetry::{Observed, login_observed};
        let mut method = None;
        let answer = self
            .submit_observed(id, payload, request, &mut method)
            .await;
        login_observed(
            method.as_ref(),
            match &answer {
                Ok(LoginSubmission::Completed(done)) => Observed::Success {
                    identity_id: done.session.identity_id,
                    aal: Some(done.session.authenticator_assurance_level),
                },
                Ok(LoginSubmission::Retry(flow)) => Observed::Retry(&flow.ui),
                Err(e) => Observed::Error(e),
            },
        );
        answer
    }

    /// [`LoginFlows::submit`], telling `method` which method took the submission.
    async fn submit_observed(
        &self,
        id: Uuid,
        payload: &Value,
        request: &dyn Admission,
        method: &mut Option<crate::strategy::Method>,
    ) -> Result<LoginSubmission, FlowError> {
        let strategies = self.kratos.methods().login_claiming(payload);
        if let Some(first) = strategies.first() {
            let claimed = first.method();
            tracing::Span::current().record("method", claimed.as_str());
            *method = Some(claimed);
        }
        // The first strategy of the method may read with the flow load (one round trip).
        let mut prefetched = None;
        let loaded = match strategies.first() {
            Some(s) => match s.prefetch(self.kratos, id, payload, request).await {
                Some((loaded, reads)) => {
                    prefetched = Some(reads);
                    loaded
                }
                None => self.load(id).await,
            },
            None => self.load(id).await,
        };
        let (mut flow, csrf) = loaded?;
        tracing::Span::current().record("flow.type", flow.flow_type.as_str());
        let ctx = request.admit(AdmittedFlow::new(flow.flow_type, &csrf, false))?;
        if flow.state == FlowState::PassedChallenge {
            return Err(FlowError::AlreadyCompleted);
        }
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        if !payload.is_object() {
            return Err(FlowError::BadRequest(
                "The request body is invalid: expected a JSON object".into(),
            ));
        }
        let token_exempt = strategies
            .first()
            .is_some_and(|s| s.exempt_from_csrf_token(payload));
        if flow.flow_type == FlowType::Browser
            && !token_exempt
            && !csrf_matches(&csrf, payload.get("csrf_token").and_then(Value::as_str))
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        flow.updated_at = self.now();
        // A refresh or a step-up runs on the session it raises.
        let session = if flow.refresh || flow.requested_aal > Aal::Aal1 {
            match &ctx.session_token {
                Some(t) => self
                    .kratos
                    .sessions()
                    .whoami_with(t, RequiredAal::Aal1)
                    .await
                    .ok(),
                None => None,
            }
        } else {
            None
        };
        if flow.requested_aal > Aal::Aal1 && session.is_none() {
            return Err(FlowError::Aal1Required);
        }
        let mut internal = std::mem::take(&mut flow.internal);
        let mut outcome = LoginOutcome::NotMine;
        for strategy in strategies {
            if !strategy.factor().serves(flow.requested_aal) {
                continue;
            }
            let mut cx = LoginCx {
                kratos: self.kratos,
                flow: &mut flow,
                payload,
                request: ctx,
                session: session.as_ref(),
                internal: &mut internal,
                prefetched: prefetched.take(),
            };
            let name = strategy.method();
            outcome = strategy
                .submit(&mut cx)
                .instrument(tracing::debug_span!(
                    "strategy.submit",
                    method = name.as_str()
                ))
                .await?;
            if !matches!(outcome, LoginOutcome::NotMine) {
                if method.as_ref() != Some(&name) {
                    tracing::Span::current().record("method", name.as_str());
                    *method = Some(name);
                }
                break;
            }
        }
        flow.internal = internal;
        match outcome {
            LoginOutcome::NotMine => {
                flow.ui.messages.push(text::login_no_strategy());
                self.save(&flow, &csrf, false).await?;
                Ok(LoginSubmission::Retry(flow))
            }
            LoginOutcome::Retry => {
                self.save(&flow, &csrf, false).await?;
                Ok(LoginSubmission::Retry(flow))
            }
            LoginOutcome::Redirect(to) => {
                self.save(&flow, &csrf, false).await?;
                Err(FlowError::BrowserLocationChangeRequired {
                    redirect_browser_to: to,
                })
            }
            LoginOutcome::Authenticated(done) => {
                // An api flow completed through a link the browser followed (a provider's
                // callback) is bound to no client: it may sign in, never link.
                let unbound = flow.flow_type == FlowType::Api && request.follows_link();
                self.complete(flow, csrf, *done, session, ctx, unbound)
                    .await
            }
        }
    }

    /// The end of every successful method: hooks, the session (new, or the refreshed or
    /// stepped-up one), `continue_with`. The session, the completed flow and the method's
    /// writes go in one transaction, before the *after* hooks run. A flow completed
    /// meanwhile by a concurrent submission answers [`FlowError::AlreadyCompleted`].
    async fn complete(
        &self,
        mut flow: LoginFlow,
        csrf: String,
        done: Authenticated,
        existing: Option<Session>,
        ctx: &FlowContext,
        unbound: bool,
    ) -> Result<LoginSubmission, FlowError> {
        let Authenticated {
            mut identity,
            method: authentication,
            mut writes,
        } = done;
        let method = authentication.method.clone();
        let mut steps = vec![authentication];
        if let Some(link) = CredentialLink::kept(&flow.internal) {
            if unbound {
                // Whoever follows the link may not be who made the flow: linking here would
                // let a flow's maker attach their account to the follower's identity.
                return Err(FlowError::BadRequest(
                    "Accounts are linked only by a sign-in the app that started the flow \
                     submits: complete this flow with the existing account's credentials."
                        .into(),
                ));
            }
            if identity.credentials.is_empty() {
                identity = self
                    .kratos
                    .store()
                    .get_identity(self.kratos.nid(), identity.id)
                    .await?;
            }
            if !link.owned_by(&identity) {
                // Signed in to another account than the one the link was meant for.
                flow.ui
                    .messages
                    .push(text::oidc::login_linked_credentials_do_not_match());
                self.save(&flow, &csrf, false).await?;
                return Ok(LoginSubmission::Retry(flow));
            }
            // As Kratos, nothing is linked by a sign-in that does not reach the level the
            // session must have.
            let reached = steps[0].aal.max(
                existing
                    .as_ref()
                    .map_or(Aal::Aal1, |s| s.authenticator_assurance_level),
            );
            let level_met = self.kratos.config().session.whoami.required_aal
                != RequiredAal::HighestAvailable
                || reached >= self.kratos.available_aal(&identity);
            if level_met {
                flow.internal.remove(CredentialLink::INTERNAL_KEY);
                steps.extend(link.authentication.clone());
                let now = self.now();
                let prior = writes.edit_identity.take();
                writes.edit_identity = Some(crate::strategy::IdentityEdit::new(
                    identity.id,
                    move |fresh| {
                        let edited = prior.is_some_and(|p| p.apply(fresh));
                        link.apply(fresh, now) || edited
                    },
                ));
            }
        }
        flow.active = Some(method.clone());
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Login,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: method.clone(),
            request: ctx,
            session: None,
        };
        if !crate::hook::run_before(self.kratos, &hook_ctx, &mut identity, &mut flow.ui).await? {
            // The credentials were right: the key's failures are forgotten all the same.
            if let Some(reset) = &writes.reset_login_failures {
                self.kratos
                    .store()
                    .reset_login_failures(self.kratos.nid(), reset)
                    .await?;
            }
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }

        // The session to write: the refreshed or stepped-up existing one, or a new one.
        let (session, token, new_record) = match existing {
            Some(s) if s.identity_id == identity.id => {
                let mut s = self
                    .kratos
                    .sessions()
                    .prepare_authentication(s.id, steps)
                    .await?;
                // The answer shows the session with its identity, as a new one does.
                s.identity = Some(crate::session::public_identity(
                    identity.clone(),
                    self.kratos,
                ));
                (
                    s,
                    ctx.session_token.clone().map(SessionToken::from_string),
                    None,
                )
            }
            _ => {
                let (issued, record) =
                    self.kratos
                        .sessions()
                        .prepare_issue(&identity, steps, &ctx.client)?;
                (issued.session, Some(issued.token), Some(record))
            }
        };
        flow.state = FlowState::PassedChallenge;
        let stored = super::stored_flow(
            FlowKind::Login,
            flow.id,
            flow.expires_at,
            &csrf,
            &super::WithInternal::new(&flow, &flow.internal),
        )?;
        let completion = FlowCompletion {
            flow: &stored,
            reset_login_failures: writes.reset_login_failures.as_deref(),
            forgive_login_attempt: writes.forgive_login_attempt.as_ref().map(|(key, max)| {
                LockoutKey {
                    key,
                    max_attempts: *max,
                }
            }),
            identity: None,
            session: Some(match &new_record {
                Some(record) => SessionWrite::Insert(record),
                None => SessionWrite::Update(&session),
            }),
        };
        let written = match (&writes.use_secret, &writes.update_credential) {
            (None, Some(update)) => {
                self.kratos
                    .store()
                    .complete_flow_updating_credential(
                        self.kratos.nid(),
                        &completion,
                        &crate::store::CredentialUpdate {
                            identity_id: identity.id,
                            credential_type: update.credential_type,
                            config: &update.config,
                            read_at: update.read_at,
                            updated_at: self.now(),
                        },
                    )
                    .await
            }
            (None, None) => {
                self.kratos
                    .store()
                    .complete_flow(self.kratos.nid(), &completion)
                    .await
            }
            (Some(secret), _) => {
                self.kratos
                    .store()
                    .complete_flow_using_secret(
                        self.kratos.nid(),
                        &completion,
                        &crate::store::SecretUse {
                            identity_id: identity.id,
                            key: &secret.key,
                            expires_at: secret.expires_at,
                        },
                    )
                    .await
            }
        };
        if let (Err(StoreError::AlreadyUsed), Some(secret)) = (&written, writes.use_secret) {
            flow.state = FlowState::ChooseMethod;
            flow.ui.messages.push(secret.refused);
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }
        if let (Err(StoreError::Conflict(_)), Some(update)) = (&written, writes.update_credential) {
            flow.state = FlowState::ChooseMethod;
            flow.ui.messages.push(update.refused);
            self.save(&flow, &csrf, false).await?;
            return Ok(LoginSubmission::Retry(flow));
        }
        if let Err(StoreError::NotFound) = written {
            return Err(self.completion_refused(flow.id).await);
        }
        written?;
        if let Some(edit) = writes.edit_identity {
            let store = self.kratos.store();
            let mut fresh = store
                .get_identity(self.kratos.nid(), edit.identity_id)
                .await?;
            if edit.apply(&mut fresh) {
                store.update_identity(self.kratos.nid(), &fresh).await?;
            }
        }
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
        let token_exchange_redirect = match &token {
            Some(t) => {
                self.kratos
                    .session_token_exchanges()
                    .attach_on_completion(
                        flow.id,
                        flow.flow_type,
                        &flow.internal,
                        session.id,
                        t,
                        flow.return_to.as_deref(),
                    )
                    .await
            }
            None => None,
        };
        let aal2_required = self.kratos.config().session.whoami.required_aal
            == RequiredAal::HighestAvailable
            && session.authenticator_assurance_level < self.kratos.available_aal(&identity);
        Ok(LoginSubmission::Completed(LoginSuccess {
            session,
            session_token: token,
            continue_with,
            flow,
            aal2_required,
            token_exchange_redirect,
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

impl super::HasInternal for LoginFlow {
    fn internal_mut(&mut self) -> &mut InternalContext {
        &mut self.internal
    }
}
