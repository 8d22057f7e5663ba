//! The recovery flow: `choose_method` → `sent_email` → `passed_challenge`, with the `code`
//! and `link` methods (`selfservice.flows.recovery.use`).
//!
//! The user gives an email address; when a recovery address matches, a code or link is queued
//! in the same transaction as its MAC. Unknown addresses get the same answer (and, with
//! `notify_unknown_recipients`, a notice). The right code, or the link, signs the identity in
//! with a new session (authentication method `code_recovery` or `link_recovery`, aal1) and
//! answers `continue_with` `show_settings_ui` with a fresh settings flow, where the user sets a
//! new password. The `revoke_active_sessions` hook (`selfservice.flows.recovery.after.hooks`)
//! ends every other session of the identity.
//!
//! [`RecoveryFlows::admin_create_code`] and [`RecoveryFlows::admin_create_link`] are the admin
//! API: a code or link for an identity, without an email.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::verification::{
    code_secrets, continue_node, expired_context, method_group, template_identity, with_query,
};
use super::{
    ContinueWith, ContinueWithFlow, FlowContext, FlowError, FlowKind, FlowState, FlowType,
    csrf_matches, new_csrf_token,
};
use crate::clock::truncate_micros;
use crate::code::{CodeKind, CodeSecret, OneTimeCode, digest};
use crate::config::CodeOrLink;
use crate::courier::TemplateType;
use crate::identity::{AddressVia, IdentifierKind, Identity, normalize_identifier};
use crate::kratos::Kratos;
use crate::session::{AuthenticationMethod, Session, SessionToken};
use crate::store::{AddressKind, StoreError};
use crate::strategy::code::check_code_or_say;

/// A recovery flow, in Kratos's `recoveryFlow` shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryFlow {
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
    /// What the client may do next (after a successful recovery).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continue_with: Vec<ContinueWith>,
}

/// The flow as stored, with what the client does not see.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    flow: RecoveryFlow,
    #[serde(default)]
    internal_context: Internal,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Internal {
    /// Made by the admin API: opened from a link, so without the browser's CSRF token.
    #[serde(default)]
    skip_csrf_check: bool,
}

/// A successful recovery.
#[derive(Debug)]
pub struct RecoverySuccess {
    /// The flow, in `passed_challenge`.
    pub flow: RecoveryFlow,
    /// The new session (privileged: just authenticated).
    pub session: Session,
    /// Its token (for api flows, and for the HTTP layer to set as a cookie).
    pub session_token: SessionToken,
    /// The settings flow to set new credentials in.
    pub settings_flow: super::settings::SettingsFlow,
    /// `set_ory_session_token` (api flows) and `show_settings_ui`.
    pub continue_with: Vec<ContinueWith>,
}

/// The answer to a submission.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum RecoverySubmission {
    /// The flow, with what happened in its messages (sent, wrong code, …).
    Flow(RecoveryFlow),
    /// Recovered.
    Completed(RecoverySuccess),
}

/// A recovery code made by the admin API (Kratos's `recoveryCodeForIdentity`).
#[derive(Clone, Serialize, Deserialize)]
pub struct AdminRecoveryCode {
    /// The flow to enter the code in.
    pub recovery_link: String,
    /// The code.
    pub recovery_code: String,
    /// When the code expires.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminRecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRecoveryCode")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A recovery link made by the admin API (Kratos's `recoveryLinkForIdentity`).
#[derive(Clone, Serialize, Deserialize)]
pub struct AdminRecoveryLink {
    /// The link (it carries the token).
    pub recovery_link: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminRecoveryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRecoveryLink")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
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

/// Kratos's texts of the recovery flow (`text/message_recovery.go`).
mod msg {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::{UiText, expired_context};

    pub(super) fn email_sent() -> UiText {
        UiText::info(
            1060002,
            "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    }
    pub(super) fn code_sent() -> UiText {
        UiText::info(
            1060003,
            "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    }
    /// 1060001: the privileged session (in which the password can be changed without signing
    /// in again) ends at `expires_at`; the context carries that time.
    pub(super) fn success(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> UiText {
        let minutes = (expires_at - now).num_milliseconds() as f64 / 60_000.0;
        UiText::success(
            1060001,
            format!(
                "You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next {minutes:.2} minutes."
            ),
        )
        .with_context(json!({
            "privilegedSessionExpiresAt": expires_at,
            "privileged_session_expires_at": expires_at,
            "privileged_session_expires_at_unix": expires_at.timestamp(),
        }))
    }
    pub(super) fn token_invalid() -> UiText {
        UiText::error(
            4060004,
            "The recovery token is invalid or has already been used. Please retry the flow.",
            None,
        )
    }
    pub(super) fn code_invalid() -> UiText {
        UiText::error(
            4060006,
            "The recovery code is invalid or has already been used. Please try again.",
            None,
        )
    }
    /// 4060005, with the context `{expired_at, expired_at_unix}`.
    pub(super) fn expired(expired_at: DateTime<Utc>, minutes: f64) -> UiText {
        UiText::error(
            4060005,
            format!("The recovery flow expired {minutes:.2} minutes ago, please try again."),
            Some(expired_context(expired_at)),
        )
    }
    pub(super) fn no_strategy() -> UiText {
        UiText::error(
            4010005,
            "Could not find a strategy to recover your account with. Did you fill out the form correctly?",
            None,
        )
    }
    pub(super) fn email_label() -> UiText {
        UiText::info(1070007, "Email")
    }
    pub(super) fn code_label() -> UiText {
        UiText::info(1070010, "Recovery code")
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

        use super::*;

        #[test]
        fn success_and_expiry_carry_kratos_contexts() {
            let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
            let until = now + chrono::Duration::minutes(15);
            assert_eq!(
                serde_json::to_value(success(now, until)).unwrap(),
                json!({
                    "id": 1060001,
                    "type": "success",
                    "text": "You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next 15.00 minutes.",
                    "context": {
                        "privilegedSessionExpiresAt": "2024-05-01T10:15:00Z",
                        "privileged_session_expires_at": "2024-05-01T10:15:00Z",
                        "privileged_session_expires_at_unix": 1714558500,
                    },
                })
            );
            assert_eq!(
                serde_json::to_value(expired(now, 2.5)).unwrap(),
                json!({
                    "id": 4060005,
                    "type": "error",
                    "text": "The recovery flow expired 2.50 minutes ago, please try again.",
                    "context": {"expired_at": "2024-05-01T10:00:00Z", "expired_at_unix": 1714557600},
                })
            );
        }
    }
}

/// Recovery flows of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryFlows<'a> {
    kratos: &'a Kratos,
}

impl<'a> RecoveryFlows<'a> {
    /// [`FlowError::Disabled`] unless `selfservice.flows.recovery.enabled`.
    fn ensure_enabled(&self) -> Result<(), FlowError> {
        if self.kratos.config().selfservice.flows.recovery.enabled {
            Ok(())
        } else {
            Err(FlowError::Disabled)
        }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    fn method(&self) -> CodeOrLink {
        self.kratos.config().selfservice.flows.recovery.use_method
    }

    fn method_enabled(&self, m: CodeOrLink) -> bool {
        let methods = &self.kratos.config().selfservice.methods;
        match m {
            CodeOrLink::Code => methods.code.enabled,
            CodeOrLink::Link => methods.link.enabled,
        }
    }

    fn new_flow(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<(RecoveryFlow, String), FlowError> {
        if !self.kratos.config().selfservice.flows.recovery.enabled {
            return Err(FlowError::Disabled);
        }
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        let now = self.now();
        let id = Uuid::now_v7();
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
        };
        let flow = RecoveryFlow {
            id,
            flow_type,
            expires_at: now
                + self
                    .kratos
                    .config()
                    .selfservice
                    .flows
                    .recovery
                    .lifespan
                    .as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui: self.choose_ui(id, &csrf, ""),
            state: FlowState::ChooseMethod,
            continue_with: Vec::new(),
        };
        Ok((flow, csrf))
    }

    /// Starts a recovery flow.
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<RecoveryFlow, FlowError> {
        let (flow, csrf) = self.new_flow(flow_type, ctx)?;
        self.save(&flow, &csrf, Internal::default(), true).await?;
        Ok(flow)
    }

    fn base_ui(&self, id: Uuid, csrf: &str) -> UiContainer {
        let mut ui = UiContainer {
            action: format!(
                "{}/self-service/recovery?flow={id}",
                self.kratos.config().serve.public_base_url()
            ),
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

    fn choose_ui(&self, id: Uuid, csrf: &str, email: &str) -> UiContainer {
        let method = self.method();
        let group = method_group(method);
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
                .value(json!(method.as_str()))
                .label(msg::submit()),
        );
        ui
    }

    fn code_ui(&self, id: Uuid, csrf: &str, email: Option<&str>) -> UiContainer {
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
        if let Some(email) = email {
            ui.nodes.push(
                UiNode::input(NodeGroup::Code, "email", InputType::Submit)
                    .value(json!(email))
                    .label(msg::resend()),
            );
        }
        ui
    }

    async fn save(
        &self,
        flow: &RecoveryFlow,
        csrf: &str,
        internal: Internal,
        new: bool,
    ) -> Result<(), FlowError> {
        let stored = Stored {
            flow: flow.clone(),
            internal_context: internal,
        };
        super::save_flow(
            self.kratos,
            FlowKind::Recovery,
            flow.id,
            flow.expires_at,
            csrf,
            &stored,
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(RecoveryFlow, String, Internal), FlowError> {
        let (stored, csrf): (Stored, String) =
            super::load_flow(self.kratos, FlowKind::Recovery, id).await?;
        Ok((stored.flow, csrf, stored.internal_context))
    }

    async fn expired(&self, flow: &RecoveryFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        let minutes = (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0;
        match self.new_flow(flow.flow_type, ctx) {
            Ok((mut new, csrf)) => {
                new.ui.messages.push(msg::expired(flow.expires_at, minutes));
                if let Err(e) = self.save(&new, &csrf, Internal::default(), true).await {
                    return e;
                }
                FlowError::Expired {
                    use_flow_id: new.id,
                    expired_at: flow.expires_at,
                    minutes,
                }
            }
            Err(e) => e,
        }
    }

    /// Fetches a flow; expired flows answer with [`FlowError::Expired`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<RecoveryFlow, FlowError> {
        self.ensure_enabled()?;
        let (flow, _, _) = self.load(id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits `{"method": "code", "email": …}` (sends a code; again to resend), `{"method":
    /// "code", "code": …}`, `{"method": "link", "email": …}`, or `{"token": …}` (the link was
    /// followed; no CSRF token needed). Browser flows add `csrf_token`.
    pub async fn submit(
        &self,
        id: Uuid,
        payload: &Value,
        ctx: &FlowContext,
    ) -> Result<RecoverySubmission, FlowError> {
        self.ensure_enabled()?;
        let (mut flow, csrf, internal) = self.load(id).await?;
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
            && !internal.skip_csrf_check
            && !csrf_matches(&csrf, payload.csrf_token.as_deref())
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        let method = match (following_link, payload.method.as_str()) {
            (true, _) => Some(CodeOrLink::Link),
            (false, "code") => Some(CodeOrLink::Code),
            (false, "link") => Some(CodeOrLink::Link),
            _ => None,
        };
        // Codes made by the admin API are accepted whatever the configured method.
        let admin_code = internal.skip_csrf_check && method == Some(CodeOrLink::Code);
        let Some(method) =
            method.filter(|m| admin_code || (*m == self.method() && self.method_enabled(*m)))
        else {
            flow.ui.messages.push(msg::no_strategy());
            self.save(&flow, &csrf, internal, false).await?;
            return Ok(RecoverySubmission::Flow(flow));
        };
        flow.active = Some(method.as_str().to_owned());
        let outcome = match method {
            CodeOrLink::Link if following_link => {
                self.check(&mut flow, CodeKind::RecoveryLink, &payload.token, ctx)
                    .await?
            }
            CodeOrLink::Code if !payload.code.is_empty() => {
                self.check(&mut flow, CodeKind::RecoveryCode, &payload.code, ctx)
                    .await?
            }
            _ if payload.email.trim().is_empty() => {
                flow.ui.add_node_message("email", text::required("email"));
                None
            }
            _ if !crate::strategy::code::send_allowed(
                self.kratos,
                flow.id,
                payload.email.trim(),
            )
            .await? =>
            {
                flow.ui
                    .messages
                    .push(crate::strategy::code::too_many_sends());
                None
            }
            _ => {
                let email = payload.email.trim().to_owned();
                self.send(&flow, method, &email).await?;
                flow.state = FlowState::SentEmail;
                match method {
                    CodeOrLink::Code => {
                        flow.ui = self.code_ui(flow.id, &csrf, Some(&email));
                        flow.ui.messages.push(msg::code_sent());
                    }
                    CodeOrLink::Link => {
                        flow.ui = self.choose_ui(flow.id, &csrf, &email);
                        flow.ui.messages.push(msg::email_sent());
                    }
                }
                None
            }
        };
        self.save(&flow, &csrf, internal, false).await?;
        Ok(match outcome {
            Some((session, session_token, settings_flow, continue_with)) => {
                RecoverySubmission::Completed(RecoverySuccess {
                    flow,
                    session,
                    session_token,
                    settings_flow,
                    continue_with,
                })
            }
            None => RecoverySubmission::Flow(flow),
        })
    }

    async fn send(
        &self,
        flow: &RecoveryFlow,
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
                AddressKind::Recovery,
                AddressVia::Email,
                &normalized,
            )
            .await
        {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                if config.selfservice.flows.recovery.notify_unknown_recipients {
                    let template = match method {
                        CodeOrLink::Code => TemplateType::RecoveryCodeInvalid,
                        CodeOrLink::Link => TemplateType::RecoveryInvalid,
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
            .recovery_addresses
            .iter()
            .find(|a| a.value == normalized)
            .map(|a| (a.id, a.value.clone()))
            .ok_or(FlowError::Internal("the address vanished".into()))?;
        let now = self.now();
        let lifespan = match method {
            CodeOrLink::Code => config.selfservice.methods.code.config.lifespan,
            CodeOrLink::Link => config.selfservice.methods.link.config.lifespan,
        };
        let expires_at = (now + lifespan.as_chrono()).min(flow.expires_at);
        let (secret, code) = self.new_code(
            flow.id,
            method,
            &identity,
            Some(address.clone()),
            expires_at,
            false,
        );
        let expires_in_minutes = (expires_at - now).num_minutes();
        let (template, data) = match method {
            CodeOrLink::Code => (
                TemplateType::RecoveryCodeValid,
                json!({
                    "to": address.1,
                    "recovery_code": secret.expose(),
                    "identity": template_identity(&identity),
                    "traits": identity.traits,
                    "request_url": flow.request_url,
                    "expires_in_minutes": expires_in_minutes,
                }),
            ),
            CodeOrLink::Link => (
                TemplateType::RecoveryValid,
                json!({
                    "to": address.1,
                    "recovery_url": self.link(flow.id, &secret),
                    "identity": template_identity(&identity),
                    "traits": identity.traits,
                    "request_url": flow.request_url,
                    "expires_in_minutes": expires_in_minutes,
                }),
            ),
        };
        let message = self
            .kratos
            .courier()
            .render(template, &address.1, data)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        self.kratos
            .store()
            .issue_code(self.kratos.nid(), &code, Some(&message))
            .await?;
        Ok(())
    }

    fn link(&self, flow_id: Uuid, secret: &CodeSecret) -> String {
        let config = self.kratos.config();
        let base = config
            .selfservice
            .methods
            .link
            .config
            .base_url
            .clone()
            .unwrap_or_else(|| config.serve.public_base_url());
        with_query(
            &format!("{}/self-service/recovery", base.trim_end_matches('/')),
            &[("flow", &flow_id.to_string()), ("token", secret.expose())],
        )
    }

    fn new_code(
        &self,
        flow_id: Uuid,
        method: CodeOrLink,
        identity: &Identity,
        address: Option<(Uuid, String)>,
        expires_at: DateTime<Utc>,
        admin: bool,
    ) -> (CodeSecret, OneTimeCode) {
        let (kind, secret) = match method {
            CodeOrLink::Code => (CodeKind::RecoveryCode, CodeSecret::generate_code()),
            CodeOrLink::Link => (CodeKind::RecoveryLink, CodeSecret::generate_token()),
        };
        let code = OneTimeCode {
            id: Uuid::now_v7(),
            kind,
            flow_id,
            identity_id: Some(identity.id),
            address_id: address.as_ref().map(|a| a.0),
            address: address.map(|a| a.1),
            admin,
            digest: digest(code_secrets(self.kratos), kind, flow_id, secret.expose()),
            issued_at: self.now(),
            expires_at,
            used_at: None,
        };
        (secret, code)
    }

    /// Checks a code or token; on success signs the identity in and opens a settings flow.
    async fn check(
        &self,
        flow: &mut RecoveryFlow,
        kind: CodeKind,
        submitted: &str,
        ctx: &FlowContext,
    ) -> Result<Option<Completion>, FlowError> {
        let config = self.kratos.config();
        let store = self.kratos.store();
        let nid = self.kratos.nid();
        let invalid = match kind {
            CodeKind::RecoveryLink => msg::token_invalid(),
            _ => msg::code_invalid(),
        };
        let (id, messages) = (flow.id, &mut flow.ui.messages);
        let Some(code) =
            check_code_or_say(self.kratos, kind, id, submitted, "", invalid, messages).await?
        else {
            return Ok(None);
        };
        let identity_id = code
            .identity_id
            .ok_or_else(|| FlowError::Internal("the recovery code has no identity".into()))?;
        let identity = match store.get_identity(nid, identity_id).await {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                flow.ui.messages.push(msg::code_invalid());
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // The mail arrived: the address is verified too (not for admin codes).
        if !code.admin
            && let Some(address) = &code.address
            && let Some(v) = identity
                .verifiable_addresses
                .iter()
                .find(|a| &a.value == address && !a.verified)
        {
            match store.mark_address_verified(nid, v.id, self.now()).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let method = match kind {
            CodeKind::RecoveryLink => "link_recovery",
            _ => "code_recovery",
        };
        let issued = self
            .kratos
            .sessions()
            .issue(
                &identity,
                vec![AuthenticationMethod::first_factor(method, self.now())],
                &ctx.client,
            )
            .await?;
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Recovery,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: match kind {
                CodeKind::RecoveryLink => "link".into(),
                _ => "code".into(),
            },
            request: ctx,
            session: Some(&issued.session),
        };
        crate::hook::run_after(self.kratos, &hook_ctx, &identity).await?;
        let settings_ctx = FlowContext {
            request_url: Some(flow.request_url.clone()).filter(|u| !u.is_empty()),
            session_token: Some(issued.token.expose().to_owned()),
            client: ctx.client.clone(),
        };
        let settings_flow = self
            .kratos
            .settings()
            .create(flow.flow_type, &settings_ctx)
            .await?;
        let settings_url = match &config.selfservice.flows.settings.ui_url {
            Some(u) => with_query(u, &[("flow", &settings_flow.id.to_string())]),
            None => format!(
                "{}/self-service/settings/flows?id={}",
                config.serve.public_base_url(),
                settings_flow.id
            ),
        };
        let mut continue_with = Vec::new();
        if flow.flow_type == FlowType::Api {
            continue_with.push(ContinueWith::SetOrySessionToken {
                ory_session_token: issued.token.expose().to_owned(),
            });
        }
        continue_with.push(ContinueWith::ShowSettingsUi {
            flow: ContinueWithFlow {
                id: settings_flow.id,
                verifiable_address: None,
                url: Some(settings_url.clone()),
            },
        });
        flow.state = FlowState::PassedChallenge;
        let now = self.now();
        let privileged_until = now
            + config
                .selfservice
                .flows
                .settings
                .privileged_session_max_age
                .as_chrono();
        let mut ui = self.base_ui(flow.id, "");
        ui.nodes
            .push(continue_node(kind_group(kind), &settings_url));
        ui.messages.push(msg::success(now, privileged_until));
        flow.ui = ui;
        // The stored flow never keeps the session token; the answer carries it.
        flow.continue_with = continue_with
            .iter()
            .filter(|c| !matches!(c, ContinueWith::SetOrySessionToken { .. }))
            .cloned()
            .collect();
        Ok(Some((
            issued.session,
            issued.token,
            settings_flow,
            continue_with,
        )))
    }

    /// The admin API: a recovery code for an identity, valid for `expires_in` (default
    /// `selfservice.methods.code.config.lifespan`), and the link to the flow to enter it in.
    /// No email is sent; the address is not marked verified.
    pub async fn admin_create_code(
        &self,
        identity_id: Uuid,
        expires_in: Option<std::time::Duration>,
    ) -> Result<AdminRecoveryCode, FlowError> {
        let (flow, secret, expires_at) = self
            .admin_create(identity_id, CodeOrLink::Code, expires_in)
            .await?;
        let config = self.kratos.config();
        let recovery_link = match &config.selfservice.flows.recovery.ui_url {
            Some(u) => with_query(u, &[("flow", &flow.to_string())]),
            None => format!(
                "{}/self-service/recovery?flow={flow}",
                config.serve.public_base_url()
            ),
        };
        Ok(AdminRecoveryCode {
            recovery_link,
            recovery_code: secret.expose().to_owned(),
            expires_at,
        })
    }

    /// The admin API: a recovery link for an identity, valid for `expires_in` (default
    /// `selfservice.methods.link.config.lifespan`).
    pub async fn admin_create_link(
        &self,
        identity_id: Uuid,
        expires_in: Option<std::time::Duration>,
    ) -> Result<AdminRecoveryLink, FlowError> {
        let (flow, secret, expires_at) = self
            .admin_create(identity_id, CodeOrLink::Link, expires_in)
            .await?;
        Ok(AdminRecoveryLink {
            recovery_link: self.link(flow, &secret),
            expires_at,
        })
    }

    async fn admin_create(
        &self,
        identity_id: Uuid,
        method: CodeOrLink,
        expires_in: Option<std::time::Duration>,
    ) -> Result<(Uuid, CodeSecret, DateTime<Utc>), FlowError> {
        self.ensure_enabled()?;
        let config = self.kratos.config();
        let identity = self
            .kratos
            .store()
            .get_identity(self.kratos.nid(), identity_id)
            .await?;
        let default = match method {
            CodeOrLink::Code => config.selfservice.methods.code.config.lifespan,
            CodeOrLink::Link => config.selfservice.methods.link.config.lifespan,
        };
        let lifespan = expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_else(|| default.as_chrono());
        let (mut flow, csrf) = self.new_flow(FlowType::Browser, &FlowContext::default())?;
        flow.expires_at = flow.issued_at + lifespan;
        let (secret, code) = self.new_code(flow.id, method, &identity, None, flow.expires_at, true);
        if method == CodeOrLink::Code {
            flow.state = FlowState::SentEmail;
            flow.ui = self.code_ui(flow.id, &csrf, None);
        }
        self.save(
            &flow,
            &csrf,
            Internal {
                skip_csrf_check: true,
            },
            true,
        )
        .await?;
        self.kratos
            .store()
            .issue_code(self.kratos.nid(), &code, None)
            .await?;
        Ok((flow.id, secret, flow.expires_at))
    }
}

type Completion = (
    Session,
    SessionToken,
    super::settings::SettingsFlow,
    Vec<ContinueWith>,
);

fn kind_group(kind: CodeKind) -> NodeGroup {
    match kind {
        CodeKind::RecoveryLink | CodeKind::VerificationLink => NodeGroup::Link,
        _ => NodeGroup::Code,
    }
}

impl Kratos {
    /// Recovery flows (and the admin API for recovery codes and links).
    pub fn recovery(&self) -> RecoveryFlows<'_> {
        RecoveryFlows { kratos: self }
    }
}
