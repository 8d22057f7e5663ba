//! The settings flow: `show_form` → `success`.
//!
//! The engine checks the session and the flow's owner, asks the registry's methods
//! ([`crate::strategy::SettingsStrategy`]) for their nodes and to handle a submission, runs
//! the hooks and saves the change. It names no method.
//!
//! A settings flow belongs to the identity of the session that created it; every call needs
//! that session. Changing the password, or traits that are identifiers or addresses, needs a
//! privileged session (authenticated within
//! `selfservice.flows.settings.privileged_session_max_age`, 1h by default); otherwise the call
//! fails with `session_refresh_required` and a login URL that re-authenticates and comes back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use super::registration::add_trait_error;
use super::ui::{InputType, NodeGroup, UiContainer, UiNode, text};
use super::{
    Admission, AdmittedFlow, ContinueWith, FlowContext, FlowError, FlowKind, FlowState, FlowType,
};
use super::{csrf_matches, new_csrf_token};
use crate::clock::truncate_micros;
use crate::identity::{Identity, IdentityError, UpdateIdentityBody};
use crate::kratos::Kratos;
use crate::session::{Session, SessionError};
use crate::strategy::{
    IdentityChange, InternalContext, SettingsCx, SettingsOutcome, SettingsPopulateCx,
};

/// A settings flow, in Kratos's `settingsFlow` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsFlow {
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
    /// The method last submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// The form.
    pub ui: UiContainer,
    /// The identity whose settings these are (as a session shows it).
    pub identity: Identity,
    /// `show_form` or `success`.
    pub state: FlowState,
    /// What the client may do next (after a successful submission).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continue_with: Vec<ContinueWith>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// The methods' internal state, stored with the flow and never shown to clients.
    #[serde(skip)]
    pub(crate) internal: InternalContext,
}

/// A successful settings submission.
#[derive(Debug)]
pub struct SettingsSuccess {
    /// The flow in state `success`, with the updated identity.
    pub flow: SettingsFlow,
    /// What the client should do next.
    pub continue_with: Vec<ContinueWith>,
    /// The method that was saved (`profile` or `password`).
    pub method: String,
}

/// The answer to a submission: saved, or the flow again with messages.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum SettingsSubmission {
    /// Saved.
    Completed(SettingsSuccess),
    /// Not saved; the flow carries the messages.
    Retry(SettingsFlow),
}

/// Settings flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct SettingsFlows<'a> {
    kratos: &'a Kratos,
}

impl<'a> SettingsFlows<'a> {
    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// The session behind the context, at the level settings require.
    async fn session(&self, ctx: &FlowContext) -> Result<Session, FlowError> {
        let token = ctx
            .session_token
            .as_deref()
            .ok_or(FlowError::NoActiveSession)?;
        let required = self.kratos.config().selfservice.flows.settings.required_aal;
        match self.kratos.sessions().whoami_with(token, required).await {
            Ok(s) => Ok(s),
            Err(SessionError::Inactive) => Err(FlowError::NoActiveSession),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a settings flow for the identity of the session in `ctx`.
    #[tracing::instrument(
        name = "settings.create",
        skip_all,
        fields(
            flow.id = tracing::field::Empty,
            flow.type = flow_type.as_str(),
            identity.id = tracing::field::Empty,
        )
    )]
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<SettingsFlow, FlowError> {
        let session = self.session(ctx).await?;
        let identity = session
            .identity
            .clone()
            .ok_or_else(|| FlowError::Internal("the session has no identity".into()))?;
        tracing::Span::current().record("identity.id", tracing::field::display(identity.id));
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        crate::hook::run_before_flow(self.kratos, FlowKind::Settings, flow_type, ctx).await?;
        let config = self.kratos.config();
        let now = self.now();
        let id = Uuid::now_v7();
        tracing::Span::current().record("flow.id", tracing::field::display(id));
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
        };
        let mut internal = InternalContext::default();
        let ui = self
            .build_ui(id, flow_type, &csrf, &identity, &mut internal)
            .await?;
        let flow = SettingsFlow {
            id,
            flow_type,
            expires_at: now + config.selfservice.flows.settings.lifespan.as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui,
            identity,
            state: FlowState::ShowForm,
            continue_with: Vec::new(),
            created_at: now,
            updated_at: now,
            internal,
        };
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    /// The form for `identity` (as a session shows it): the CSRF node and every method's
    /// nodes, which see the identity with its credentials.
    async fn build_ui(
        &self,
        id: Uuid,
        flow_type: FlowType,
        csrf: &str,
        identity: &Identity,
        internal: &mut InternalContext,
    ) -> Result<UiContainer, FlowError> {
        let config = self.kratos.config();
        let mut ui = UiContainer {
            action: format!(
                "{}/self-service/settings?flow={id}",
                config.serve.public_base_url()
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
        let stored;
        let with_credentials = if identity.credentials.is_empty() {
            stored = match self
                .kratos
                .store()
                .get_identity(self.kratos.nid(), identity.id)
                .await
            {
                Ok(i) => Some(i),
                Err(crate::store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            stored.as_ref().unwrap_or(identity)
        } else {
            identity
        };
        let mut cx = SettingsPopulateCx {
            kratos: self.kratos,
            ui: &mut ui,
            identity: with_credentials,
            internal,
        };
        for strategy in self.kratos.methods().settings_strategies() {
            strategy.populate(&mut cx)?;
        }
        Ok(ui)
    }

    async fn save(&self, flow: &SettingsFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Settings,
            flow.id,
            flow.expires_at,
            csrf,
            &super::WithInternal::new(flow, &flow.internal),
            new,
        )
        .await
    }

    /// Loads a flow and checks that the session in `ctx` owns it.
    async fn load_owned(
        &self,
        id: Uuid,
        ctx: &FlowContext,
    ) -> Result<(SettingsFlow, String, Session), FlowError> {
        let session = self.session(ctx).await?;
        let (flow, csrf): (SettingsFlow, String) =
            super::load_with_internal(self.kratos, FlowKind::Settings, id).await?;
        if flow.identity.id != session.identity_id {
            return Err(FlowError::IdentityMismatch);
        }
        Ok((flow, csrf, session))
    }

    async fn expired(&self, flow: &SettingsFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        match self.create(flow.flow_type, ctx).await {
            Ok(new) => FlowError::Expired {
                use_flow_id: new.id,
                expired_at: flow.expires_at,
                minutes: (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0,
            },
            Err(e) => e,
        }
    }

    /// Fetches a flow of the session's identity; expired flows answer with
    /// [`FlowError::Expired`], another identity's flow with [`FlowError::IdentityMismatch`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<SettingsFlow, FlowError> {
        let (flow, _, _) = self.load_owned(id, ctx).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits `{"method": "profile", "traits": {…}}` or `{"method": "password", "password":
    /// …}` (browser flows add `csrf_token`).
    #[tracing::instrument(
        name = "settings.submit",
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
    ) -> Result<SettingsSubmission, FlowError> {
        // The flow first: which session counts depends on its type (api flows see only
        // `X-Session-Token`).
        let (mut flow, csrf): (SettingsFlow, String) =
            super::load_with_internal(self.kratos, FlowKind::Settings, id).await?;
        let span = tracing::Span::current();
        span.record("flow.type", flow.flow_type.as_str());
        span.record("identity.id", tracing::field::display(flow.identity.id));
        let ctx = request.admit(AdmittedFlow::new(flow.flow_type, &csrf, false))?;
        let session = self.session(ctx).await?;
        if flow.identity.id != session.identity_id {
            return Err(FlowError::IdentityMismatch);
        }
        // Form values are typed after the identity's schema.
        let typed;
        let payload = match flow.identity.schema_id.as_str() {
            "" => payload,
            schema_id => {
                let mut p = payload.clone();
                request.type_form_values(schema_id, &mut p);
                typed = p;
                &typed
            }
        };
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        if !payload.is_object() {
            return Err(FlowError::BadRequest(
                "The request body is invalid: expected a JSON object".into(),
            ));
        }
        let token_exempt = self
            .kratos
            .methods()
            .settings_claiming(payload)
            .is_some_and(|s| s.exempt_from_csrf_token(payload));
        if flow.flow_type == FlowType::Browser
            && !token_exempt
            && !csrf_matches(&csrf, payload.get("csrf_token").and_then(Value::as_str))
        {
            return Err(FlowError::CsrfViolation);
        }
        let config = self.kratos.config();
        flow.ui.clear_messages();
        flow.updated_at = self.now();
        flow.continue_with.clear();
        flow.state = FlowState::ShowForm;
        let current = match self
            .kratos
            .store()
            .get_identity(self.kratos.nid(), flow.identity.id)
            .await
        {
            Ok(i) => i,
            Err(crate::store::StoreError::NotFound) => return Err(FlowError::NoActiveSession),
            Err(e) => return Err(e.into()),
        };
        let mut method = payload
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut internal = std::mem::take(&mut flow.internal);
        let mut session_methods = Vec::new();
        let outcome = match self.kratos.methods().settings_claiming(payload).cloned() {
            Some(strategy) => {
                method = strategy.method().as_str().to_owned();
                tracing::Span::current().record("method", method.as_str());
                let mut cx = SettingsCx {
                    kratos: self.kratos,
                    flow: &mut flow,
                    payload,
                    request: ctx,
                    session: &session,
                    identity: &current,
                    internal: &mut internal,
                    session_methods: Vec::new(),
                };
                let outcome = strategy
                    .submit(&mut cx)
                    .instrument(tracing::debug_span!(
                        "strategy.submit",
                        method = method.as_str()
                    ))
                    .await;
                session_methods = cx.session_methods;
                outcome
            }
            None => Ok(SettingsOutcome::NotMine),
        };
        flow.internal = internal;
        let change = match outcome? {
            SettingsOutcome::Save(change) => change,
            SettingsOutcome::NotMine => {
                flow.ui.messages.push(text::settings_no_strategy());
                self.save(&flow, &csrf, false).await?;
                return Ok(SettingsSubmission::Retry(flow));
            }
            SettingsOutcome::Retry => {
                self.save(&flow, &csrf, false).await?;
                return Ok(SettingsSubmission::Retry(flow));
            }
            SettingsOutcome::Redirect(to) => {
                self.save(&flow, &csrf, false).await?;
                return Err(FlowError::BrowserLocationChangeRequired {
                    redirect_browser_to: to,
                });
            }
        };
        // Hooks see the identity as it will be saved and may amend it or stop here.
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Settings,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: method.clone(),
            request: ctx,
            session: Some(&session),
        };
        let mut candidate = match &change {
            IdentityChange::Update(body) => {
                let mut c = current.clone();
                c.traits = body.traits.clone();
                c
            }
            IdentityChange::Credentials(next) => (**next).clone(),
        };
        if !crate::hook::run_before(self.kratos, &hook_ctx, &mut candidate, &mut flow.ui).await? {
            self.save(&flow, &csrf, false).await?;
            return Ok(SettingsSubmission::Retry(flow));
        }
        let saved = match change {
            IdentityChange::Update(mut body) => {
                body.traits = candidate.traits;
                body.metadata_public = candidate.metadata_public;
                body.metadata_admin = candidate.metadata_admin;
                self.save_identity(&mut flow, current.id, *body).await?
            }
            IdentityChange::Credentials(_) => {
                candidate.updated_at = self.now();
                self.kratos
                    .store()
                    .update_identity(self.kratos.nid(), &candidate)
                    .await?;
                Some(public(candidate, self.kratos))
            }
        };
        let Some(identity) = saved else {
            self.save(&flow, &csrf, false).await?;
            return Ok(SettingsSubmission::Retry(flow));
        };
        // A second factor set up here was proved with it: the session holds it now (Kratos's
        // `SessionAddAuthenticationMethods`), so it is not sent to step up to what it just did.
        if !session_methods.is_empty() {
            self.kratos
                .sessions()
                .add_authentication(session.id, session_methods)
                .await?;
        }
        flow.active = Some(method.clone());
        crate::hook::run_after(self.kratos, &hook_ctx, &identity).await?;
        let mut continue_with = Vec::new();
        // Addresses the change added start unverified and get a verification message.
        let added: Vec<Uuid> = identity
            .verifiable_addresses
            .iter()
            .filter(|a| !current.verifiable_addresses.iter().any(|c| c.id == a.id))
            .map(|a| a.id)
            .collect();
        flow.identity = identity.clone();
        let csrf_value = csrf.clone();
        let mut internal = InternalContext::default();
        let mut ui = self
            .build_ui(
                flow.id,
                flow.flow_type,
                &csrf_value,
                &identity,
                &mut internal,
            )
            .await?;
        flow.internal = internal;
        ui.messages.push(text::settings_saved());
        flow.ui = ui;
        flow.state = FlowState::Success;
        if flow.flow_type == FlowType::Browser {
            let to = flow.return_to.clone().unwrap_or_else(|| {
                config
                    .selfservice
                    .flows
                    .settings
                    .after
                    .default_browser_return_url
                    .clone()
                    .unwrap_or_else(|| self.settings_ui_url(flow.id))
            });
            continue_with.push(ContinueWith::RedirectBrowserTo {
                redirect_browser_to: to,
            });
        }
        crate::hook::run_verification(
            self.kratos,
            &hook_ctx,
            &identity,
            Some(&added),
            &mut continue_with,
        )
        .await?;
        flow.continue_with = continue_with.clone();
        self.save(&flow, &csrf, false).await?;
        Ok(SettingsSubmission::Completed(SettingsSuccess {
            flow,
            continue_with,
            method,
        }))
    }

    fn settings_ui_url(&self, id: Uuid) -> String {
        let config = self.kratos.config();
        match &config.selfservice.flows.settings.ui_url {
            Some(u) => with_query(u, "flow", &id.to_string()),
            None => format!(
                "{}/self-service/settings/flows?id={id}",
                config.serve.public_base_url()
            ),
        }
    }

    async fn save_identity(
        &self,
        flow: &mut SettingsFlow,
        id: Uuid,
        body: UpdateIdentityBody,
    ) -> Result<Option<Identity>, FlowError> {
        match self.kratos.identities().update(id, body).await {
            Ok(i) => Ok(Some(public(i, self.kratos))),
            Err(IdentityError::Conflict(_)) => {
                flow.ui.messages.push(text::duplicate_credentials());
                Ok(None)
            }
            Err(IdentityError::InvalidTraits(errors)) => {
                for e in errors {
                    add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
                }
                Ok(None)
            }
            Err(e) => Err(identity_error(e)),
        }
    }
}

/// `Ok` when `session` was authenticated recently enough to change credentials
/// (`privileged_session_max_age`); otherwise [`FlowError::RefreshRequired`] with the login
/// URL that re-authenticates and comes back to the flow `flow_id`.
pub(crate) fn require_privileged(
    kratos: &Kratos,
    flow_id: Uuid,
    session: &Session,
) -> Result<(), FlowError> {
    let max_age = kratos
        .config()
        .selfservice
        .flows
        .settings
        .privileged_session_max_age
        .as_chrono();
    if session.authenticated_at + max_age > truncate_micros(kratos.clock().now()) {
        return Ok(());
    }
    let base = kratos.config().serve.public_base_url();
    let back = format!("{base}/self-service/settings?flow={flow_id}");
    let login = with_query(
        &format!("{base}/self-service/login/browser?refresh=true"),
        "return_to",
        &back,
    );
    Err(FlowError::RefreshRequired {
        redirect_browser_to: login,
    })
}

fn identity_error(e: IdentityError) -> FlowError {
    match e {
        IdentityError::NotFound => FlowError::NoActiveSession,
        IdentityError::Store(s) => FlowError::Store(s),
        other => FlowError::Internal(other.to_string()),
    }
}

/// The identity as a flow shows it: no credentials, no admin metadata.
fn public(mut identity: Identity, kratos: &Kratos) -> Identity {
    identity.credentials.clear();
    identity.metadata_admin = None;
    identity.schema_url = kratos.schema_url(&identity.schema_id);
    identity
}

fn with_query(base: &str, key: &str, value: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair(key, value);
            u.to_string()
        }
        Err(_) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let v: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{base}{sep}{key}={v}")
        }
    }
}

impl Kratos {
    /// Settings flows.
    pub fn settings(&self) -> SettingsFlows<'_> {
        SettingsFlows { kratos: self }
    }
}

impl super::HasInternal for SettingsFlow {
    fn internal_mut(&mut self) -> &mut InternalContext {
        &mut self.internal
    }
}
