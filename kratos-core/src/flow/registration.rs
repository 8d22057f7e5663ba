//! The registration flow: `choose_method` → `passed_challenge`.
//!
//! The engine shows the schema's trait nodes, asks the registry's methods
//! ([`crate::strategy::RegistrationStrategy`]) for theirs and to handle a submission, then
//! creates the identity (and, with the `session` hook, a session) in one transaction. Traits
//! and credentials are submitted together (Kratos's one-step registration). It names no
//! method.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use super::Seed;
use super::token_exchange::ExchangeCode;
use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::{
    Admission, AdmittedFlow, ContinueWith, FlowContext, FlowError, FlowKind, FlowState, FlowType,
    csrf_matches, new_csrf_token,
};
use crate::clock::truncate_micros;
use crate::identity::{CreateIdentityBody, Identity, IdentityError};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod, RequiredAal, Session, SessionToken};
use crate::store::{FlowCompletion, SessionWrite, StoreError};
use crate::strategy::{
    InternalContext, NewIdentity, PopulateCx, RegistrationCx, RegistrationOutcome,
};

/// A registration flow, in Kratos's `registrationFlow` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrationFlow {
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
    /// Where it stands.
    pub state: FlowState,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// The init code of the flow's session token exchange: only in the answer to the
    /// creation of an api flow asked with `return_session_token_exchange_code` (never stored
    /// with the flow, so never shown again). See [`super::token_exchange`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_exchange_code: Option<ExchangeCode>,
    /// The methods' internal state, stored with the flow and never shown to clients.
    #[serde(skip)]
    pub(crate) internal: InternalContext,
}

/// Options of a new registration flow ([`RegistrationFlows::create_with`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RegistrationOptions {
    /// Open a session token exchange (`return_session_token_exchange_code=true`): honoured
    /// for api flows, ignored for browser flows. See [`super::token_exchange`].
    pub return_session_token_exchange_code: bool,
}

/// A successful registration.
#[derive(Debug)]
pub struct RegistrationSuccess {
    /// The new identity.
    pub identity: Identity,
    /// The session, when the `session` hook is configured.
    pub session: Option<Session>,
    /// Its token.
    pub session_token: Option<SessionToken>,
    /// What the client should do next.
    pub continue_with: Vec<ContinueWith>,
    /// The completed flow.
    pub flow: RegistrationFlow,
    /// For an api flow with a session token exchange that issued a session: where to send
    /// the browser (the flow's `return_to`, or the default return URL, with
    /// `code=<return-to code>`), as
    /// [`super::token_exchange::SessionTokenExchanges::attach`] answers it; the session is
    /// attached to the exchanger already. `None` otherwise.
    pub token_exchange_redirect: Option<String>,
}

/// The answer to a submission.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum RegistrationSubmission {
    /// Registered.
    Completed(RegistrationSuccess),
    /// Not registered; the flow carries the messages.
    Retry(RegistrationFlow),
}

/// Registration flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationFlows<'a> {
    kratos: &'a Kratos,
}

/// Input nodes for the traits of a schema (`traits.email`, …), in `group`.
pub(crate) fn trait_nodes(
    schema: &Value,
    group: &NodeGroup,
    prefix: &str,
    required: &[Value],
    out: &mut Vec<UiNode>,
) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, prop) in props {
        let path = format!("{prefix}.{name}");
        let is_required = required.iter().any(|r| r.as_str() == Some(name));
        match prop.get("type").and_then(Value::as_str) {
            Some("object") => {
                let req = prop
                    .get("required")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                trait_nodes(prop, group, &path, &req, out);
            }
            t => {
                let input_type = match (t, prop.get("format").and_then(Value::as_str)) {
                    (_, Some("email")) => InputType::Email,
                    (_, Some("tel")) => InputType::Tel,
                    (_, Some("date")) => InputType::Date,
                    (_, Some("uri")) => InputType::Url,
                    (Some("number" | "integer"), _) => InputType::Number,
                    (Some("boolean"), _) => InputType::Checkbox,
                    _ => InputType::Text,
                };
                let mut node = UiNode::input(group.clone(), &path, input_type);
                if is_required {
                    node = node.required();
                }
                if input_type == InputType::Email {
                    node = node.autocomplete("email");
                }
                if let Some(title) = prop.get("title").and_then(Value::as_str) {
                    node = node.label(text::generated_label(title, &path));
                }
                out.push(node);
            }
        }
    }
}

/// Fills trait nodes with values.
pub(crate) fn set_trait_values(ui: &mut UiContainer, traits: &Value, prefix: &str) {
    if let Some(obj) = traits.as_object() {
        for (k, v) in obj {
            let path = format!("{prefix}.{k}");
            if v.is_object() {
                set_trait_values(ui, v, &path);
            } else {
                ui.set_value(&path, v.clone());
            }
        }
    }
}

impl<'a> RegistrationFlows<'a> {
    pub(crate) fn new(kratos: &'a Kratos) -> Self {
        Self { kratos }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// Starts a registration flow.
    #[tracing::instrument(
        name = "registration.create",
        skip_all,
        fields(flow.id = tracing::field::Empty, flow.type = flow_type.as_str())
    )]
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<RegistrationFlow, FlowError> {
        self.create_with(flow_type, ctx, RegistrationOptions::default())
            .await
    }

    /// Starts a registration flow with options ([`RegistrationFlows::create`] takes the
    /// defaults).
    pub async fn create_with(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        options: RegistrationOptions,
    ) -> Result<RegistrationFlow, FlowError> {
        self.create_seeded(flow_type, ctx, options, None).await
    }

    async fn create_seeded(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        options: RegistrationOptions,
        seed: Option<Seed>,
    ) -> Result<RegistrationFlow, FlowError> {
        let config = self.kratos.config();
        if !config.selfservice.flows.registration.enabled {
            return Err(FlowError::BadRequest(
                "Registration is not allowed because it was disabled.".into(),
            ));
        }
        if let Some(t) = &ctx.session_token
            && self
                .kratos
                .sessions()
                .whoami_with(t, RequiredAal::Aal1)
                .await
                .is_ok()
        {
            return Err(FlowError::SessionAlreadyAvailable);
        }
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        crate::hook::run_before_flow(self.kratos, FlowKind::Registration, flow_type, ctx).await?;
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
                "{}/self-service/registration?flow={id}",
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
        let schema = self
            .kratos
            .schemas()
            .get(self.kratos.schemas().default_id())
            .ok_or_else(|| FlowError::Internal("the default identity schema is missing".into()))?;
        if let Some(traits) = schema.raw().pointer("/properties/traits") {
            let req = traits
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            trait_nodes(traits, &NodeGroup::Default, "traits", &req, &mut ui.nodes);
        }
        let mut internal = InternalContext::default();
        let mut populate = PopulateCx {
            kratos: self.kratos,
            flow_type,
            ui: &mut ui,
            session: None,
            identity: None,
            refresh: false,
            requested_aal: Aal::Aal1,
            internal: &mut internal,
        };
        for strategy in self.kratos.methods().registration_strategies() {
            strategy.populate(&mut populate)?;
        }
        let expires_at = now + config.selfservice.flows.registration.lifespan.as_chrono();
        let exchange_code =
            if options.return_session_token_exchange_code && flow_type == FlowType::Api {
                Some(
                    self.kratos
                        .session_token_exchanges()
                        .open(id, expires_at, &mut internal)
                        .await?,
                )
            } else {
                None
            };
        let flow = RegistrationFlow {
            id,
            flow_type,
            expires_at,
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui,
            state: FlowState::ChooseMethod,
            created_at: now,
            updated_at: now,
            session_token_exchange_code: None,
            internal,
        };
        let mut flow = match seed {
            Some(seed) => {
                let mut internal = flow.internal;
                internal.absorb(seed.internal);
                RegistrationFlow {
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
        let (mut flow, csrf): (RegistrationFlow, String) = self.load(id).await?;
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
    ) -> Result<RegistrationFlow, FlowError> {
        let seed = Seed {
            csrf: csrf.to_owned(),
            return_to,
            internal,
        };
        self.create_seeded(flow_type, ctx, RegistrationOptions::default(), Some(seed))
            .await
    }

    async fn save(&self, flow: &RegistrationFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Registration,
            flow.id,
            flow.expires_at,
            csrf,
            &super::WithInternal::new(flow, &flow.internal),
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(RegistrationFlow, String), FlowError> {
        super::load_with_internal(self.kratos, FlowKind::Registration, id).await
    }

    async fn expired(&self, flow: &RegistrationFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        match self
            .create(
                flow.flow_type,
                &FlowContext {
                    session_token: None,
                    ..ctx.clone()
                },
            )
            .await
        {
            Ok(new) => FlowError::Expired {
                use_flow_id: new.id,
                expired_at: flow.expires_at,
                minutes: (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0,
            },
            Err(e) => e,
        }
    }

    /// Fetches a flow; expired flows answer with [`FlowError::Expired`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<RegistrationFlow, FlowError> {
        let (flow, _) = self.load(id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits a method's payload (`{"method": "password", "traits": {…}, "password": …,
    /// "csrf_token": …}`): the strategy of the payload's `method` handles it.
    ///
    /// Runs in a `registration.submit` span (flow id and type, method, and the new identity)
    /// and reports the outcome ([`crate::telemetry`]: an event and
    /// `kratos_registration_total`).
    #[tracing::instrument(
        name = "registration.submit",
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
    ) -> Result<RegistrationSubmission, FlowError> {
        use crate::telemetry::{Observed, registration_observed};
        let method = self
            .kratos
            .methods()
            .registration_claiming(payload)
            .map(|s| s.method());
        if let Some(m) = &method {
            tracing::Span::current().record("method", m.as_str());
        }
        let answer = self.submit_observed(id, payload, request).await;
        registration_observed(
            method.as_ref(),
            match &answer {
                Ok(RegistrationSubmission::Completed(done)) => Observed::Success {
                    identity_id: done.identity.id,
                    aal: done
                        .session
                        .as_ref()
                        .map(|s| s.authenticator_assurance_level),
                },
                Ok(RegistrationSubmission::Retry(flow)) => Observed::Retry(&flow.ui),
                Err(e) => Observed::Error(e),
            },
        );
        answer
    }

    /// [`RegistrationFlows::submit`] without its report.
    async fn submit_observed(
        &self,
        id: Uuid,
        payload: &Value,
        request: &dyn Admission,
    ) -> Result<RegistrationSubmission, FlowError> {
        let (mut flow, csrf) = self.load(id).await?;
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
        let token_exempt = self
            .kratos
            .methods()
            .registration_claiming(payload)
            .is_some_and(|s| s.exempt_from_csrf_token(payload));
        if flow.flow_type == FlowType::Browser
            && !token_exempt
            && !csrf_matches(&csrf, payload.get("csrf_token").and_then(Value::as_str))
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        flow.updated_at = self.now();
        set_trait_values(
            &mut flow.ui,
            payload.get("traits").unwrap_or(&Value::Null),
            "traits",
        );
        let Some(strategy) = self
            .kratos
            .methods()
            .registration_claiming(payload)
            .cloned()
        else {
            flow.ui.messages.push(text::registration_no_strategy());
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        };
        let schema = self
            .kratos
            .schemas()
            .get(self.kratos.schemas().default_id())
            .cloned()
            .ok_or_else(|| FlowError::Internal("the default identity schema is missing".into()))?;
        let mut internal = std::mem::take(&mut flow.internal);
        let outcome = strategy
            .submit(&mut RegistrationCx {
                kratos: self.kratos,
                flow: &mut flow,
                payload,
                request: ctx,
                internal: &mut internal,
                schema: &schema,
            })
            .instrument(tracing::debug_span!(
                "strategy.submit",
                method = strategy.method().as_str()
            ))
            .await;
        flow.internal = internal;
        match outcome? {
            RegistrationOutcome::NotMine => {
                flow.ui.messages.push(text::registration_no_strategy());
                self.save(&flow, &csrf, false).await?;
                Ok(RegistrationSubmission::Retry(flow))
            }
            RegistrationOutcome::Retry => {
                self.save(&flow, &csrf, false).await?;
                Ok(RegistrationSubmission::Retry(flow))
            }
            RegistrationOutcome::Redirect(to) => {
                self.save(&flow, &csrf, false).await?;
                Err(FlowError::BrowserLocationChangeRequired {
                    redirect_browser_to: to,
                })
            }
            RegistrationOutcome::Register(new) => {
                let method = strategy.method();
                self.complete(flow, csrf, &schema, *new, method.as_str(), ctx)
                    .await
            }
        }
    }

    /// The end of every successful method: hooks, the identity, the session (with the
    /// `session` hook), `continue_with`.
    async fn complete(
        &self,
        mut flow: RegistrationFlow,
        csrf: String,
        schema: &crate::identity::IdentitySchema,
        new: NewIdentity,
        method: &str,
        ctx: &FlowContext,
    ) -> Result<RegistrationSubmission, FlowError> {
        let NewIdentity {
            traits,
            credentials,
            verifiable_addresses,
            metadata_public,
            metadata_admin,
            authentication,
        } = new;
        flow.active = Some(method.to_owned());
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Registration,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: method.into(),
            request: ctx,
            session: None,
        };
        // Hooks see the identity before it exists (its id is still nil) and may amend it.
        let now = self.now();
        let mut candidate = Identity {
            id: Uuid::nil(),
            schema_id: schema.id().to_owned(),
            schema_url: self.kratos.schema_url(schema.id()),
            state: crate::identity::IdentityState::Active,
            state_changed_at: None,
            traits,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public,
            metadata_admin,
            credentials: Default::default(),
            external_id: None,
            organization_id: None,
            created_at: now,
            updated_at: now,
        };
        if !crate::hook::run_before(self.kratos, &hook_ctx, &mut candidate, &mut flow.ui).await? {
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        let prepared = self
            .kratos
            .identities()
            .prepare_create(CreateIdentityBody {
                schema_id: schema.id().to_owned(),
                traits: candidate.traits,
                metadata_public: candidate.metadata_public,
                metadata_admin: candidate.metadata_admin,
                credentials,
                verifiable_addresses,
                ..Default::default()
            })
            .await;
        let prepared = match prepared {
            Ok(i) => i,
            Err(IdentityError::InvalidTraits(errors)) => {
                for e in errors {
                    add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
                }
                self.save(&flow, &csrf, false).await?;
                return Ok(RegistrationSubmission::Retry(flow));
            }
            Err(e) => return Err(FlowError::Internal(e.to_string())),
        };
        let identity = self.kratos.identities().present(prepared.clone(), &[]);
        let (session, token, record) = if self
            .kratos
            .config()
            .selfservice
            .flows
            .registration
            .issues_session_for(method)
        {
            let (issued, record) = self.kratos.sessions().prepare_issue(
                &identity,
                vec![
                    authentication
                        .unwrap_or_else(|| AuthenticationMethod::first_factor(method, self.now())),
                ],
                &ctx.client,
            )?;
            (Some(issued.session), Some(issued.token), Some(record))
        } else {
            (None, None, None)
        };
        // The identity, its session and the completed flow go in one transaction.
        let mut completed = flow.clone();
        completed.state = FlowState::PassedChallenge;
        let stored = super::stored_flow(
            FlowKind::Registration,
            completed.id,
            completed.expires_at,
            &csrf,
            &super::WithInternal::new(&completed, &completed.internal),
        )?;
        let written = self
            .kratos
            .store()
            .complete_flow(
                self.kratos.nid(),
                &FlowCompletion {
                    flow: &stored,
                    reset_login_failures: None,
                    forgive_login_attempt: None,
                    identity: Some(&prepared),
                    session: record.as_ref().map(SessionWrite::Insert),
                },
            )
            .await;
        match written {
            Ok(()) => {}
            // Completed meanwhile by a concurrent submission (or gone).
            Err(StoreError::NotFound) => {
                let stored = self.load(flow.id).await.ok();
                return Err(super::completion_refused(stored.map(|(s, _)| s.state)));
            }
            Err(StoreError::Conflict(_)) => {
                flow.ui.messages.push(text::duplicate_credentials());
                self.save(&flow, &csrf, false).await?;
                return Ok(RegistrationSubmission::Retry(flow));
            }
            Err(e) => return Err(e.into()),
        }
        let flow = completed;
        crate::hook::run_after(
            self.kratos,
            &crate::hook::HookContext {
                session: session.as_ref(),
                ..hook_ctx.clone()
            },
            &identity,
        )
        .await?;
        let mut continue_with = super::continue_with(
            self.kratos,
            flow.flow_type,
            token.as_ref(),
            flow.return_to.as_deref(),
        );
        crate::hook::run_verification(
            self.kratos,
            &crate::hook::HookContext {
                session: session.as_ref(),
                ..hook_ctx
            },
            &identity,
            None,
            &mut continue_with,
        )
        .await?;
        let token_exchange_redirect = match (&session, &token) {
            (Some(s), Some(t)) => {
                self.kratos
                    .session_token_exchanges()
                    .attach_on_completion(
                        flow.id,
                        flow.flow_type,
                        &flow.internal,
                        s.id,
                        t,
                        flow.return_to.as_deref(),
                    )
                    .await
            }
            _ => None,
        };
        Ok(RegistrationSubmission::Completed(RegistrationSuccess {
            identity,
            session,
            session_token: token,
            continue_with,
            flow,
            token_exchange_redirect,
        }))
    }
}

/// Puts a schema violation on the node of the offending trait (`#/traits/email` →
/// `traits.email`), as 4000002 when a property is missing and, as Kratos words them, 4000040
/// and 4000041 for a value that is not an email address or not a phone number.
pub(crate) fn add_trait_error(ui: &mut UiContainer, pointer: &str, message: &str) {
    let path = pointer.trim_start_matches("#/").replace('/', ".");
    // "\"email\" is a required property"
    if let Some(rest) = message.strip_suffix(" is a required property") {
        let prop = rest.trim_matches('"');
        let node = if path.is_empty() {
            format!("traits.{prop}")
        } else {
            format!("{path}.{prop}")
        };
        ui.add_node_message(&node, text::required(prop));
        return;
    }
    // "\"hello\" is not a \"tel\"": the value is written as a JSON string.
    for (format, say) in [
        ("email", text::invalid_email as fn(&str) -> UiText),
        ("tel", text::invalid_phone),
    ] {
        let value = message
            .strip_suffix(&format!(" is not a \"{format}\""))
            .and_then(|v| serde_json::from_str::<String>(v).ok());
        if let Some(value) = value {
            ui.add_node_message(&path, say(&value));
            return;
        }
    }
    ui.add_node_message(&path, text::validation_generic(message));
}

impl Kratos {
    /// Registration flows.
    pub fn registration(&self) -> RegistrationFlows<'_> {
        RegistrationFlows::new(self)
    }
}

impl super::HasInternal for RegistrationFlow {
    fn internal_mut(&mut self) -> &mut InternalContext {
        &mut self.internal
    }
}

#[cfg(test)]
mod trait_error_tests {
    use super::*;
    use crate::identity::IdentitySchema;

    #[test]
    fn format_violations_say_what_kratos_says() {
        let schema = IdentitySchema::from_json_str(
            "phones",
            r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"traits": {"type": "object", "properties": {
                    "email": {"type": "string", "format": "email"},
                    "phone": {"type": "string", "format": "tel"}}}}}"#,
        )
        .unwrap();
        let errs = schema
            .validate(&json!({"email": "not-an-address", "phone": "+1 \"555\""}))
            .unwrap_err();
        let mut ui = UiContainer {
            action: "https://x/self-service/registration?flow=1".into(),
            method: "POST".into(),
            nodes: Vec::new(),
            messages: Vec::new(),
        };
        ui.nodes.push(UiNode::input(
            NodeGroup::Default,
            "traits.email",
            InputType::Email,
        ));
        ui.nodes.push(UiNode::input(
            NodeGroup::Default,
            "traits.phone",
            InputType::Tel,
        ));
        for e in &errs {
            add_trait_error(&mut ui, &e.instance_ptr, &e.message);
        }
        let said = |name: &str| serde_json::to_value(&ui.node(name).unwrap().messages).unwrap();
        assert_eq!(
            said("traits.email"),
            json!([{"id": 4000040, "text": "Enter a valid email address", "type": "error",
                    "context": {"value": "not-an-address"}}])
        );
        assert_eq!(
            said("traits.phone"),
            json!([{"id": 4000041, "text": "Enter a valid phone number", "type": "error",
                    "context": {"value": "+1 \"555\""}}])
        );
    }
}
