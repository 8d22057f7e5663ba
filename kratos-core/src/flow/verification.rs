//! The verification flow: `choose_method` → `sent_email` → `passed_challenge`, with the
//! `code` (6 digits) and `link` methods (`selfservice.flows.verification.use`).
//!
//! The user gives an email address; when a verifiable address of an identity matches, a code
//! or a link (`…/self-service/verification?flow=<id>&token=<token>`) is queued for the
//! courier in the same transaction as the code's MAC. An unknown address gets the same answer,
//! so the flow reveals nothing about which addresses have accounts (with
//! `notify_unknown_recipients` the address receives a notice instead). Submitting the code, or
//! following the link, marks the address verified. A flow accepts
//! `selfservice.methods.code.config.max_submissions` (5) wrong codes, then asks for a new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::{FlowContext, FlowError, FlowKind, FlowState, FlowType, csrf_matches, new_csrf_token};
use crate::clock::truncate_micros;
use crate::code::{CodeKind, CodeSecret, OneTimeCode, digest};
use crate::config::{CodeOrLink, Secret};
use crate::courier::TemplateType;
use crate::identity::{AddressVia, IdentifierKind, Identity, normalize_identifier};
use crate::kratos::Kratos;
use crate::store::{AddressKind, StoreError};
use crate::strategy::code::check_code_or_say;

/// A verification flow, in Kratos's `verificationFlow` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationFlow {
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
    /// `choose_method`, `sent_email` or `passed_challenge`.
    pub state: FlowState,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    method: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    token: Zeroizing<String>,
    #[serde(default)]
    csrf_token: Option<String>,
}

/// Verification flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct VerificationFlows<'a> {
    kratos: &'a Kratos,
}

/// The secrets codes are MACed with: `secrets.default` (falling back to `secrets.cookie`).
pub(crate) fn code_secrets(kratos: &Kratos) -> &[Secret] {
    let s = &kratos.config().secrets;
    if s.default.is_empty() {
        &s.cookie
    } else {
        &s.default
    }
}

/// The `a` node that leads on after a completed flow.
pub(crate) fn continue_node(group: NodeGroup, href: &str) -> UiNode {
    let label = UiText::info(1070009, "Continue");
    UiNode::anchor(group, "continue", href, label.clone()).label(label)
}

/// The node group of a method of verification and recovery.
pub(crate) fn method_group(method: CodeOrLink) -> NodeGroup {
    match method {
        CodeOrLink::Code => NodeGroup::Code,
        CodeOrLink::Link => NodeGroup::Link,
    }
}

/// Kratos's context of the "flow expired" messages: `{expired_at, expired_at_unix}`.
pub(crate) fn expired_context(expired_at: DateTime<Utc>) -> Value {
    json!({
        "expired_at": expired_at,
        "expired_at_unix": expired_at.timestamp(),
    })
}

/// `url` with `key=value` appended to its query.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => {
            let mut out = url.to_owned();
            for (k, v) in pairs {
                let sep = if out.contains('?') { '&' } else { '?' };
                let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                out.push_str(&format!("{sep}{k}={v}"));
            }
            out
        }
    }
}

/// The identity as an email template sees it: no credentials, no admin metadata.
pub(crate) fn template_identity(identity: &Identity) -> Value {
    let mut i = identity.clone();
    i.credentials.clear();
    i.metadata_admin = None;
    serde_json::to_value(i).unwrap_or(Value::Null)
}

/// Kratos's texts of the verification flow (`text/message_verification.go`).
mod msg {
    use chrono::{DateTime, Utc};

    use super::{UiText, expired_context};

    pub(super) fn email_sent() -> UiText {
        UiText::info(
            1080001,
            "An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    }
    pub(super) fn code_sent() -> UiText {
        UiText::info(
            1080003,
            "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    }
    pub(super) fn success() -> UiText {
        UiText::success(1080002, "You successfully verified your email address.")
    }
    pub(super) fn token_invalid() -> UiText {
        UiText::error(
            4070001,
            "The verification token is invalid or has already been used. Please retry the flow.",
            None,
        )
    }
    pub(super) fn code_invalid() -> UiText {
        UiText::error(
            4070006,
            "The verification code is invalid or has already been used. Please try again.",
            None,
        )
    }
    /// 4070005, with the context `{expired_at, expired_at_unix}`.
    pub(super) fn expired(expired_at: DateTime<Utc>, minutes: f64) -> UiText {
        UiText::error(
            4070005,
            format!("The verification flow expired {minutes:.2} minutes ago, please try again."),
            Some(expired_context(expired_at)),
        )
    }
    pub(super) fn no_strategy() -> UiText {
        UiText::error(
            4010006,
            "Could not find a strategy to verify your account with. Did you fill out the form correctly?",
            None,
        )
    }
    pub(super) fn email_label() -> UiText {
        UiText::info(1070007, "Email")
    }
    pub(super) fn code_label() -> UiText {
        UiText::info(1070011, "Verification code")
    }
    pub(super) fn submit() -> UiText {
        UiText::info(1070005, "Submit")
    }
    pub(super) fn resend() -> UiText {
        UiText::info(1070008, "Resend code")
    }

    #[cfg(test)]
    mod tests {
        use chrono::TimeZone;
        use serde_json::json;

        use super::*;

        #[test]
        fn expiry_carries_kratos_context() {
            let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
            assert_eq!(
                serde_json::to_value(expired(at, 61.0)).unwrap(),
                json!({
                    "id": 4070005,
                    "type": "error",
                    "text": "The verification flow expired 61.00 minutes ago, please try again.",
                    "context": {"expired_at": "2024-05-01T10:00:00Z", "expired_at_unix": 1714557600},
                })
            );
        }
    }
}

/// 4000001 with the reason Kratos gives when a flow saw too many wrong codes.
pub(crate) fn too_many_submissions() -> UiText {
    text::validation_generic("The request was submitted too often. Please request another code.")
}

impl<'a> VerificationFlows<'a> {
    /// [`FlowError::Disabled`] unless `selfservice.flows.verification.enabled`.
    fn ensure_enabled(&self) -> Result<(), FlowError> {
        if self.kratos.config().selfservice.flows.verification.enabled {
            Ok(())
        } else {
            Err(FlowError::Disabled)
        }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    fn method(&self) -> CodeOrLink {
        self.kratos
            .config()
            .selfservice
            .flows
            .verification
            .use_method
    }

    fn method_enabled(&self, m: CodeOrLink) -> bool {
        let methods = &self.kratos.config().selfservice.methods;
        match m {
            CodeOrLink::Code => methods.code.enabled,
            CodeOrLink::Link => methods.link.enabled,
        }
    }

    /// Starts a verification flow.
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<VerificationFlow, FlowError> {
        self.ensure_enabled()?;
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        let (flow, csrf) = self.new_flow(flow_type, ctx, return_to);
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    /// A new flow in `choose_method` and its CSRF token (empty for api flows), not saved yet.
    fn new_flow(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        return_to: Option<String>,
    ) -> (VerificationFlow, String) {
        let now = self.now();
        let id = Uuid::now_v7();
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
        };
        let flow = VerificationFlow {
            id,
            flow_type,
            expires_at: now
                + self
                    .kratos
                    .config()
                    .selfservice
                    .flows
                    .verification
                    .lifespan
                    .as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui: self.choose_ui(id, &csrf, ""),
            state: FlowState::ChooseMethod,
        };
        (flow, csrf)
    }

    /// Starts one verification flow per unverified email address of `identity` (all of them,
    /// or those in `only`) and sends each its code or link, as Kratos's `verification` hook
    /// does after a registration or a settings change. Answers one `show_verification_ui`
    /// action per flow; nothing when verification is disabled.
    pub(crate) async fn start_for_identity(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        identity: &Identity,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<super::ContinueWith>, FlowError> {
        let config = self.kratos.config();
        if !config.selfservice.flows.verification.enabled {
            return Ok(Vec::new());
        }
        let method = self.method();
        if !self.method_enabled(method) {
            return Ok(Vec::new());
        }
        let mut actions = Vec::new();
        for address in identity.verifiable_addresses.iter().filter(|a| {
            !a.verified && a.via == AddressVia::Email && only.is_none_or(|ids| ids.contains(&a.id))
        }) {
            let context = FlowContext {
                request_url: None,
                session_token: None,
                client: ctx.client.clone(),
            };
            // The flow is saved once, already in `sent_email`, before its code is issued.
            let (mut flow, csrf) = self.new_flow(flow_type, &context, None);
            flow.state = FlowState::SentEmail;
            flow.active = Some(method.as_str().to_owned());
            match method {
                CodeOrLink::Code => {
                    flow.ui = self.code_ui(flow.id, &csrf, &address.value);
                    flow.ui.messages.push(msg::code_sent());
                }
                CodeOrLink::Link => {
                    flow.ui = self.choose_ui(flow.id, &csrf, &address.value);
                    flow.ui.messages.push(msg::email_sent());
                }
            }
            self.save(&flow, &csrf, true).await?;
            self.send_to(&flow, method, identity, address.id, &address.value)
                .await?;
            actions.push(super::ContinueWith::ShowVerificationUi {
                flow: super::ContinueWithFlow {
                    id: flow.id,
                    verifiable_address: Some(address.value.clone()),
                    url: Some(self.ui_url(flow.id)),
                },
            });
        }
        Ok(actions)
    }

    /// Where the flow's UI is: `ui_url?flow=<id>`, or the flow's JSON without one.
    pub fn ui_url(&self, id: Uuid) -> String {
        let config = self.kratos.config();
        match &config.selfservice.flows.verification.ui_url {
            Some(u) => with_query(u, &[("flow", &id.to_string())]),
            None => format!(
                "{}/self-service/verification/flows?id={id}",
                config.serve.public_base_url()
            ),
        }
    }

    fn action(&self, id: Uuid) -> String {
        format!(
            "{}/self-service/verification?flow={id}",
            self.kratos.config().serve.public_base_url()
        )
    }

    fn base_ui(&self, id: Uuid, csrf: &str) -> UiContainer {
        let mut ui = UiContainer {
            action: self.action(id),
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
        ui
    }

    /// The form asking for an address.
    fn choose_ui(&self, id: Uuid, csrf: &str, email: &str) -> UiContainer {
        let m = self.method();
        let group = method_group(m);
        let mut ui = self.base_ui(id, csrf);
        let mut email_node = UiNode::input(group.clone(), "email", InputType::Email)
            .required()
            .autocomplete("email")
            .label(msg::email_label());
        if !email.is_empty() {
            email_node = email_node.value(json!(email));
        }
        ui.nodes.push(email_node);
        ui.nodes.push(
            UiNode::input(group, "method", InputType::Submit)
                .value(json!(m.as_str()))
                .label(msg::submit()),
        );
        ui
    }

    /// The form asking for the code (code method, after sending).
    fn code_ui(&self, id: Uuid, csrf: &str, email: &str) -> UiContainer {
        let mut ui = self.base_ui(id, csrf);
        ui.nodes.push(
            UiNode::input(NodeGroup::Code, "code", InputType::Text)
                .required()
                .autocomplete("one-time-code")
                .label(msg::code_label()),
        );
        ui.nodes
            .push(UiNode::input(NodeGroup::Code, "method", InputType::Hidden).value(json!("code")));
        ui.nodes.push(
            UiNode::input(NodeGroup::Code, "method", InputType::Submit)
                .value(json!("code"))
                .label(msg::submit()),
        );
        ui.nodes.push(
            UiNode::input(NodeGroup::Code, "email", InputType::Submit)
                .value(json!(email))
                .label(msg::resend()),
        );
        ui
    }

    async fn save(&self, flow: &VerificationFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Verification,
            flow.id,
            flow.expires_at,
            csrf,
            flow,
            new,
        )
        .await
    }

    async fn expired(&self, flow: &VerificationFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        let minutes = (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0;
        let return_to = match self.kratos.resolve_return_to(ctx.request_url.as_deref()) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let (mut new, csrf) = self.new_flow(flow.flow_type, ctx, return_to);
        new.ui.messages.push(msg::expired(flow.expires_at, minutes));
        if let Err(e) = self.save(&new, &csrf, true).await {
            return e;
        }
        FlowError::Expired {
            use_flow_id: new.id,
            expired_at: flow.expires_at,
            minutes,
        }
    }

    /// Fetches a flow; expired flows answer with [`FlowError::Expired`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<VerificationFlow, FlowError> {
        self.ensure_enabled()?;
        let (flow, _): (VerificationFlow, String) =
            super::load_flow(self.kratos, FlowKind::Verification, id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits `{"method": "code", "email": …}` (sends a code; again to resend), `{"method":
    /// "code", "code": …}` (checks it), `{"method": "link", "email": …}` (sends a link), or
    /// `{"token": …}` (the link was followed; no CSRF token needed). Browser flows add
    /// `csrf_token`. Answers the flow: `sent_email` with message 1080003/1080001 after sending,
    /// `passed_challenge` with 1080002 once verified, or the same state with an error message.
    pub async fn submit(
        &self,
        id: Uuid,
        payload: &Value,
        ctx: &FlowContext,
    ) -> Result<VerificationFlow, FlowError> {
        self.ensure_enabled()?;
        let (mut flow, csrf): (VerificationFlow, String) =
            super::load_flow(self.kratos, FlowKind::Verification, id).await?;
        if flow.state == FlowState::PassedChallenge {
            return Err(FlowError::AlreadyCompleted);
        }
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        let payload: Payload = serde_json::from_value(payload.clone())
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))?;
        let following_link = !payload.token.is_empty();
        if flow.flow_type == FlowType::Browser
            && !following_link
            && !csrf_matches(&csrf, payload.csrf_token.as_deref())
        {
            return Err(FlowError::CsrfViolation);
        }
        let method = if following_link {
            CodeOrLink::Link
        } else {
            match payload.method.as_str() {
                "code" => CodeOrLink::Code,
                "link" => CodeOrLink::Link,
                _ => {
                    flow.ui.clear_messages();
                    flow.ui.messages.push(msg::no_strategy());
                    self.save(&flow, &csrf, false).await?;
                    return Ok(flow);
                }
            }
        };
        flow.ui.clear_messages();
        if method != self.method() || !self.method_enabled(method) {
            flow.ui.messages.push(msg::no_strategy());
            self.save(&flow, &csrf, false).await?;
            return Ok(flow);
        }
        flow.active = Some(method.as_str().to_owned());
        match method {
            CodeOrLink::Link if following_link => {
                self.check(&mut flow, CodeKind::VerificationLink, &payload.token, ctx)
                    .await?
            }
            CodeOrLink::Code if !payload.code.is_empty() => {
                self.check(&mut flow, CodeKind::VerificationCode, &payload.code, ctx)
                    .await?
            }
            _ if payload.email.trim().is_empty() => {
                flow.ui.add_node_message("email", text::required("email"));
            }
            _ => {
                let email = payload.email.trim().to_owned();
                if !crate::strategy::code::send_allowed(self.kratos, flow.id, &email).await? {
                    flow.ui
                        .messages
                        .push(crate::strategy::code::too_many_sends());
                    self.save(&flow, &csrf, false).await?;
                    return Ok(flow);
                }
                self.send(&flow, method, &email).await?;
                flow.state = FlowState::SentEmail;
                match method {
                    CodeOrLink::Code => {
                        flow.ui = self.code_ui(flow.id, &csrf, &email);
                        flow.ui.messages.push(msg::code_sent());
                    }
                    CodeOrLink::Link => {
                        flow.ui = self.choose_ui(flow.id, &csrf, &email);
                        flow.ui.messages.push(msg::email_sent());
                    }
                }
            }
        }
        self.save(&flow, &csrf, false).await?;
        Ok(flow)
    }

    /// Queues a code or link for `email` (or, for an unknown address, a notice when
    /// configured). Same outcome for the caller either way.
    pub(crate) async fn send(
        &self,
        flow: &VerificationFlow,
        method: CodeOrLink,
        email: &str,
    ) -> Result<(), FlowError> {
        let config = self.kratos.config();
        let normalized =
            normalize_identifier(IdentifierKind::Email, email).unwrap_or_else(|_| email.to_owned());
        let identity = match self
            .kratos
            .store()
            .find_identity_by_address(
                self.kratos.nid(),
                AddressKind::Verifiable,
                AddressVia::Email,
                &normalized,
            )
            .await
        {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                if config
                    .selfservice
                    .flows
                    .verification
                    .notify_unknown_recipients
                {
                    let template = match method {
                        CodeOrLink::Code => TemplateType::VerificationCodeInvalid,
                        CodeOrLink::Link => TemplateType::VerificationInvalid,
                    };
                    self.kratos
                        .courier()
                        .queue(
                            template,
                            email,
                            json!({"to": email, "request_url": flow.request_url}),
                        )
                        .await
                        .map_err(|e| FlowError::Internal(e.to_string()))?;
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let address = identity
            .verifiable_addresses
            .iter()
            .find(|a| a.value == normalized && a.via == AddressVia::Email)
            .ok_or(FlowError::Internal("the address vanished".into()))?;
        self.send_to(flow, method, &identity, address.id, &address.value)
            .await
    }

    /// Queues a code or link for one verifiable address of an identity.
    pub(crate) async fn send_to(
        &self,
        flow: &VerificationFlow,
        method: CodeOrLink,
        identity: &Identity,
        address_id: Uuid,
        address: &str,
    ) -> Result<(), FlowError> {
        let config = self.kratos.config();
        let now = self.now();
        let (kind, secret, lifespan) = match method {
            CodeOrLink::Code => (
                CodeKind::VerificationCode,
                CodeSecret::generate_code(),
                config.selfservice.methods.code.config.lifespan,
            ),
            CodeOrLink::Link => (
                CodeKind::VerificationLink,
                CodeSecret::generate_token(),
                config.selfservice.methods.link.config.lifespan,
            ),
        };
        let expires_at = (now + lifespan.as_chrono()).min(flow.expires_at);
        let base = config
            .selfservice
            .methods
            .link
            .config
            .base_url
            .clone()
            .unwrap_or_else(|| config.serve.public_base_url());
        let base = format!("{}/self-service/verification", base.trim_end_matches('/'));
        let flow_id = flow.id.to_string();
        let expires_in_minutes = (expires_at - now).num_minutes();
        let (template, data) = match method {
            CodeOrLink::Code => (
                TemplateType::VerificationCodeValid,
                json!({
                    "to": address,
                    "verification_code": secret.expose(),
                    "verification_url": with_query(&base, &[("flow", &flow_id), ("code", secret.expose())]),
                    "identity": template_identity(identity),
                    "traits": identity.traits,
                    "request_url": flow.request_url,
                    "expires_in_minutes": expires_in_minutes,
                }),
            ),
            CodeOrLink::Link => (
                TemplateType::VerificationValid,
                json!({
                    "to": address,
                    "verification_url": with_query(&base, &[("flow", &flow_id), ("token", secret.expose())]),
                    "identity": template_identity(identity),
                    "traits": identity.traits,
                    "request_url": flow.request_url,
                    "expires_in_minutes": expires_in_minutes,
                }),
            ),
        };
        let message = self
            .kratos
            .courier()
            .render(template, address, data)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let code = OneTimeCode {
            id: Uuid::now_v7(),
            kind,
            flow_id: flow.id,
            identity_id: Some(identity.id),
            address_id: Some(address_id),
            address: Some(address.to_owned()),
            admin: false,
            digest: digest(code_secrets(self.kratos), kind, flow.id, secret.expose()),
            issued_at: now,
            expires_at,
            used_at: None,
        };
        self.kratos
            .store()
            .issue_code(self.kratos.nid(), &code, Some(&message))
            .await?;
        Ok(())
    }

    /// Checks a submitted code or followed link; on success marks the address verified.
    async fn check(
        &self,
        flow: &mut VerificationFlow,
        kind: CodeKind,
        submitted: &str,
        ctx: &FlowContext,
    ) -> Result<(), FlowError> {
        let config = self.kratos.config();
        let store = self.kratos.store();
        let nid = self.kratos.nid();
        let invalid = match kind {
            CodeKind::VerificationLink => msg::token_invalid(),
            _ => msg::code_invalid(),
        };
        let (id, messages) = (flow.id, &mut flow.ui.messages);
        let Some(code) =
            check_code_or_say(self.kratos, kind, id, submitted, "", invalid, messages).await?
        else {
            return Ok(());
        };
        if let Some(address_id) = code.address_id {
            match store
                .mark_address_verified(nid, address_id, self.now())
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        flow.state = FlowState::PassedChallenge;
        let href = flow
            .return_to
            .clone()
            .or_else(|| {
                config
                    .selfservice
                    .flows
                    .verification
                    .after
                    .default_browser_return_url
                    .clone()
            })
            .unwrap_or_else(|| self.kratos.default_return_url());
        let mut ui = self.base_ui(flow.id, "");
        ui.nodes
            .push(continue_node(method_group(self.method()), &href));
        ui.messages.push(msg::success());
        flow.ui = ui;
        if let Some(identity_id) = code.identity_id
            && let Ok(identity) = store.get_identity(nid, identity_id).await
        {
            let hook_ctx = crate::hook::HookContext {
                flow_kind: FlowKind::Verification,
                flow_id: flow.id,
                flow_type: flow.flow_type,
                method: kind_method(kind).into(),
                request: ctx,
                session: None,
            };
            crate::hook::run_after(self.kratos, &hook_ctx, &identity).await?;
        }
        Ok(())
    }
}

fn kind_method(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::VerificationLink | CodeKind::RecoveryLink => "link",
        _ => "code",
    }
}

impl Kratos {
    /// Verification flows.
    pub fn verification(&self) -> VerificationFlows<'_> {
        VerificationFlows { kratos: self }
    }
}
