//! The registration flow: `choose_method` → `passed_challenge`, password method.
//!
//! Traits and password are submitted together (Kratos's one-step registration); the identity
//! is created, and with the `session` hook configured a session is issued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::{
    ContinueWith, FlowContext, FlowError, FlowKind, FlowState, FlowType, csrf_matches,
    new_csrf_token,
};
use crate::clock::truncate_micros;
use crate::code::CodeKind;
use crate::identity::{
    CreateIdentityBody, Identity, IdentityError, ImportCredentials, ImportPassword,
    ImportPasswordConfig,
};
use crate::kratos::Kratos;
use crate::session::{AuthenticationMethod, RequiredAal, Session, SessionToken};
use crate::store::{FlowCompletion, SessionWrite, StoreError};
use crate::strategy::code::{self, CodeRequest};

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

#[derive(Deserialize)]
struct PasswordPayload {
    #[serde(default)]
    method: String,
    #[serde(default)]
    traits: Value,
    #[serde(default)]
    password: Zeroizing<String>,
    #[serde(default)]
    csrf_token: Option<String>,
}

/// The code method's payload.
#[derive(Deserialize)]
struct CodePayload {
    #[serde(default)]
    traits: Value,
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    resend: Option<String>,
}

/// Registration flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationFlows<'a> {
    kratos: &'a Kratos,
}

/// Input nodes for the traits of a schema (`traits.email`, …), in `group`.
pub(super) fn trait_nodes(
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
pub(super) fn set_trait_values(ui: &mut UiContainer, traits: &Value, prefix: &str) {
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
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
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
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
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
        if config.selfservice.methods.password.enabled {
            ui.nodes.push(
                UiNode::input(NodeGroup::Password, "password", InputType::Password)
                    .required()
                    .autocomplete("new-password")
                    .label(text::password_label()),
            );
            ui.nodes.push(
                UiNode::input(NodeGroup::Password, "method", InputType::Submit)
                    .value(json!("password"))
                    .label(text::registration()),
            );
        }
        if config.selfservice.methods.code.passwordless() {
            ui.nodes
                .push(code::submit_node(code::text::sign_up_with_code()));
        }
        let flow = RegistrationFlow {
            id,
            flow_type,
            expires_at: now + config.selfservice.flows.registration.lifespan.as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui,
            state: FlowState::ChooseMethod,
            created_at: now,
            updated_at: now,
        };
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    async fn save(&self, flow: &RegistrationFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Registration,
            flow.id,
            flow.expires_at,
            csrf,
            flow,
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(RegistrationFlow, String), FlowError> {
        super::load_flow(self.kratos, FlowKind::Registration, id).await
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

    /// Submits `{"method": "password", "traits": {…}, "password": …, "csrf_token": …}`.
    pub async fn submit(
        &self,
        id: Uuid,
        payload: &Value,
        ctx: &FlowContext,
    ) -> Result<RegistrationSubmission, FlowError> {
        let (mut flow, csrf) = self.load(id).await?;
        if flow.state == FlowState::PassedChallenge {
            return Err(FlowError::AlreadyCompleted);
        }
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        let body = payload;
        let payload: PasswordPayload = serde_json::from_value(body.clone())
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))?;
        if flow.flow_type == FlowType::Browser
            && !csrf_matches(&csrf, payload.csrf_token.as_deref())
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        flow.updated_at = self.now();
        set_trait_values(&mut flow.ui, &payload.traits, "traits");
        let config = self.kratos.config();
        if payload.method == "code" && config.selfservice.methods.code.passwordless() {
            let payload: CodePayload = serde_json::from_value(body.clone())
                .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))?;
            return self.submit_code(flow, csrf, payload, ctx).await;
        }
        if payload.method != "password" || !config.selfservice.methods.password.enabled {
            flow.ui.messages.push(text::registration_no_strategy());
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        let mut invalid = false;
        if payload.password.is_empty() {
            flow.ui
                .add_node_message("password", text::required("password"));
            invalid = true;
        }
        let schema = self
            .kratos
            .schemas()
            .get(self.kratos.schemas().default_id())
            .cloned()
            .ok_or_else(|| FlowError::Internal("the default identity schema is missing".into()))?;
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits.clone()
        };
        if let Err(errors) = schema.validate(&traits) {
            for e in errors {
                add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
            }
            invalid = true;
        } else if !payload.password.is_empty() {
            let identifiers = schema
                .derive(&traits)
                .map(|d| d.password_identifiers)
                .unwrap_or_default();
            if let Err(violation) = self
                .kratos
                .password_policy()
                .check_identifiers(identifiers.iter().map(String::as_str), &payload.password)
                .await
            {
                flow.ui.add_node_message(
                    "password",
                    UiText::error(
                        violation.message_id(),
                        violation.text(),
                        Some(violation.context()).filter(|c| !c.is_null()),
                    ),
                );
                invalid = true;
            }
        }
        if invalid {
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        let password = payload.password.clone();
        let hash = self
            .kratos
            .run_hash(move |hasher| hasher.hash(password.as_bytes()))
            .await
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let hash = match hash {
            Ok(h) => h,
            Err(e) => {
                flow.ui
                    .add_node_message("password", text::validation_generic(&e.to_string()));
                self.save(&flow, &csrf, false).await?;
                return Ok(RegistrationSubmission::Retry(flow));
            }
        };
        let credentials = Some(ImportCredentials {
            password: Some(ImportPassword {
                config: ImportPasswordConfig {
                    hashed_password: Some(hash),
                    ..Default::default()
                },
            }),
            ..Default::default()
        });
        self.complete(
            flow,
            csrf,
            &schema,
            traits,
            credentials,
            None,
            "password",
            ctx,
        )
        .await
    }

    /// The `code` method: `{traits}` validates them and sends a code to their email
    /// address (again with `resend: "code"`); `{traits, code}` creates the identity with that
    /// address verified. The code only works for the address it was sent to.
    async fn submit_code(
        &self,
        mut flow: RegistrationFlow,
        csrf: String,
        payload: CodePayload,
        ctx: &FlowContext,
    ) -> Result<RegistrationSubmission, FlowError> {
        flow.active = Some("code".into());
        let schema = self
            .kratos
            .schemas()
            .get(self.kratos.schemas().default_id())
            .cloned()
            .ok_or_else(|| FlowError::Internal("the default identity schema is missing".into()))?;
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits.clone()
        };
        if let Err(errors) = schema.validate(&traits) {
            for e in errors {
                add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
            }
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        let address = schema.derive(&traits).ok().and_then(|d| {
            d.code_identifiers
                .into_iter()
                .find(|(via, _)| *via == crate::identity::AddressVia::Email)
                .map(|(_, v)| v)
        });
        let Some(address) = address else {
            flow.ui.messages.push(text::validation_generic(
                "The identity schema marks no email address as a code identifier.",
            ));
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        };
        if payload.code.trim().is_empty() || payload.resend.as_deref() == Some("code") {
            if !code::send_allowed(self.kratos, flow.id, &address).await? {
                flow.ui.messages.push(code::too_many_sends());
                self.save(&flow, &csrf, false).await?;
                return Ok(RegistrationSubmission::Retry(flow));
            }
            code::send_code(
                self.kratos,
                CodeRequest {
                    kind: CodeKind::RegistrationCode,
                    flow_id: flow.id,
                    flow_expires_at: flow.expires_at,
                    request_url: &flow.request_url,
                    identity: None,
                    traits: &traits,
                    address: &address,
                },
            )
            .await?;
            flow.state = FlowState::SentEmail;
            flow.ui = code_step_ui(&flow.ui);
            flow.ui.messages.push(code::text::registration_code_sent());
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        let checked = code::check_code_or_say(
            self.kratos,
            CodeKind::RegistrationCode,
            flow.id,
            &payload.code,
            &address,
            code::text::registration_code_invalid(),
            &mut flow.ui.messages,
        )
        .await?;
        if checked.is_none() {
            self.save(&flow, &csrf, false).await?;
            return Ok(RegistrationSubmission::Retry(flow));
        }
        // The code proved the address.
        let verified = vec![crate::identity::AddressImport {
            value: address,
            via: Some(crate::identity::AddressVia::Email),
            verified: true,
            status: Some(crate::identity::VerificationStatus::Completed),
            verified_at: Some(self.now()),
        }];
        self.complete(
            flow,
            csrf,
            &schema,
            traits,
            None,
            Some(verified),
            "code",
            ctx,
        )
        .await
    }

    /// The end of every successful method: hooks, the identity, the session (with the
    /// `session` hook), `continue_with`.
    #[allow(clippy::too_many_arguments)]
    async fn complete(
        &self,
        mut flow: RegistrationFlow,
        csrf: String,
        schema: &crate::identity::IdentitySchema,
        traits: Value,
        credentials: Option<ImportCredentials>,
        verifiable_addresses: Option<Vec<crate::identity::AddressImport>>,
        method: &str,
        ctx: &FlowContext,
    ) -> Result<RegistrationSubmission, FlowError> {
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
            metadata_public: None,
            metadata_admin: None,
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
                vec![AuthenticationMethod::first_factor(method, self.now())],
                &ctx.client,
            )?;
            (Some(issued.session), Some(issued.token), Some(record))
        } else {
            (None, None, None)
        };
        // The identity, its session and the completed flow go in one transaction.
        let mut completed = flow.clone();
        completed.state = FlowState::PassedChallenge;
        completed.ui.set_value("password", json!(""));
        let stored = super::stored_flow(
            FlowKind::Registration,
            completed.id,
            completed.expires_at,
            &csrf,
            &completed,
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
        Ok(RegistrationSubmission::Completed(RegistrationSuccess {
            identity,
            session,
            session_token: token,
            continue_with,
            flow,
        }))
    }
}

/// The second step of the code method: the traits kept as hidden inputs, the code asked for.
fn code_step_ui(first: &UiContainer) -> UiContainer {
    use super::ui::NodeAttributes;
    let mut ui = UiContainer {
        action: first.action.clone(),
        method: "POST".into(),
        nodes: Vec::new(),
        messages: Vec::new(),
    };
    for node in &first.nodes {
        let Some(name) = node.name() else { continue };
        if name == "csrf_token" || name.starts_with("traits.") {
            let mut node = node.clone();
            if name != "csrf_token"
                && let NodeAttributes::Input(a) = &mut node.attributes
            {
                a.input_type = InputType::Hidden;
                node.group = NodeGroup::Code;
            }
            ui.nodes.push(node);
        }
    }
    ui.nodes
        .push(code::code_node(code::text::registration_code_label()));
    ui.nodes
        .push(code::submit_node(UiText::info(1070005, "Submit")));
    ui.nodes.push(code::resend_node());
    ui
}

/// Puts a schema violation on the node of the offending trait (`#/traits/email` →
/// `traits.email`), as 4000002 when a property is missing.
pub(super) fn add_trait_error(ui: &mut UiContainer, pointer: &str, message: &str) {
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
    ui.add_node_message(&path, text::validation_generic(message));
}

impl Kratos {
    /// Registration flows.
    pub fn registration(&self) -> RegistrationFlows<'_> {
        RegistrationFlows::new(self)
    }
}
