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
use tracing::Instrument;
use uuid::Uuid;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use super::{
    Admission, AdmittedFlow, FlowContext, FlowError, FlowKind, FlowState, FlowType, csrf_matches,
    new_csrf_token,
};
use crate::clock::truncate_micros;
use crate::config::Secret;
use crate::identity::Identity;
use crate::kratos::Kratos;
use crate::strategy::recovery::AddressFormCx;
use crate::strategy::verification::{VerificationCx, VerificationOutcome, VerificationStrategy};
use crate::strategy::{InternalContext, Method};

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
    /// The methods' internal state, stored with the flow and never shown to clients.
    #[serde(skip)]
    pub(crate) internal: InternalContext,
}

impl super::HasInternal for VerificationFlow {
    fn internal_mut(&mut self) -> &mut InternalContext {
        &mut self.internal
    }
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

    pub(super) fn success() -> UiText {
        UiText::success(1080002, "You successfully verified your email address.")
    }
    pub(super) fn phone_success() -> UiText {
        UiText::success(1080005, "You successfully verified your phone number.")
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

    /// The strategy of `selfservice.flows.verification.use`, if that method is enabled.
    fn primary(&self) -> Option<&'a dyn VerificationStrategy> {
        let configured = self
            .kratos
            .config()
            .selfservice
            .flows
            .verification
            .use_method;
        let method = Method::custom(configured.as_str());
        self.kratos
            .methods()
            .verification(&method)
            .filter(|_| crate::strategy::configured_on(self.kratos.config(), &method))
            .map(|s| &**s)
    }

    /// The primary strategy, or Kratos's 400 when the configured method is not enabled.
    fn require_primary(&self) -> Result<&'a dyn VerificationStrategy, FlowError> {
        self.primary().ok_or_else(|| {
            let configured = self
                .kratos
                .config()
                .selfservice
                .flows
                .verification
                .use_method;
            FlowError::BadRequest(format!(
                "You attempted verification using {}, which is not enabled or does not exist. \
                 An administrator needs to enable this verification method.",
                configured.as_str()
            ))
        })
    }

    /// Starts a verification flow.
    ///
    /// # Errors
    /// [`FlowError::Disabled`] when verification is off, [`FlowError::BadRequest`] when the
    /// method `selfservice.flows.verification.use` names is not enabled, a refused
    /// `return_to`, store errors.
    #[tracing::instrument(
        name = "verification.create",
        skip_all,
        fields(flow.id = tracing::field::Empty, flow.type = flow_type.as_str())
    )]
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<VerificationFlow, FlowError> {
        self.ensure_enabled()?;
        let primary = self.require_primary()?;
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        let (mut flow, csrf) = self.new_flow(flow_type, ctx, return_to);
        tracing::Span::current().record("flow.id", tracing::field::display(flow.id));
        primary.populate(&mut AddressFormCx {
            kratos: self.kratos,
            ui: &mut flow.ui,
        });
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    /// A new flow in `choose_method` with an empty form, and its CSRF token (empty for api
    /// flows), not saved yet.
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
        let lifespan = self.kratos.config().selfservice.flows.verification.lifespan;
        let flow = VerificationFlow {
            id,
            flow_type,
            expires_at: now + lifespan.as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active: None,
            ui: self.blank_form(id, &csrf),
            state: FlowState::ChooseMethod,
            internal: InternalContext::default(),
        };
        (flow, csrf)
    }

    /// Starts one verification flow per unverified address of `identity` (all of them, or
    /// those in `only`; email addresses by email, phone numbers by text message) and sends
    /// each its code or link, as Kratos's `verification` hook
    /// does after a registration or a settings change. Answers one `show_verification_ui`
    /// action per flow; nothing when verification is disabled.
    pub(crate) async fn start_for_identity(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        identity: &Identity,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<super::ContinueWith>, FlowError> {
        if self.ensure_enabled().is_err() {
            return Ok(Vec::new());
        }
        let Some(strategy) = self.primary() else {
            return Ok(Vec::new());
        };
        let mut actions = Vec::new();
        for address in identity
            .verifiable_addresses
            .iter()
            .filter(|a| !a.verified && only.is_none_or(|ids| ids.contains(&a.id)))
        {
            let context = FlowContext {
                request_url: None,
                session_token: None,
                client: ctx.client.clone(),
            };
            // The flow is saved once, already past sending, before its secret is issued.
            let (mut flow, csrf) = self.new_flow(flow_type, &context, None);
            let blank = self.blank_form(flow.id, &csrf);
            strategy.show_sent(&mut flow, blank, &address.value);
            self.save(&flow, &csrf, true).await?;
            strategy.send(self.kratos, &flow, identity, address).await?;
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

    /// An empty form of flow `id`: its action and, with a CSRF token, the token's node.
    fn blank_form(&self, id: Uuid, csrf: &str) -> UiContainer {
        let mut ui = UiContainer {
            action: format!(
                "{}/self-service/verification?flow={id}",
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

    async fn save(&self, flow: &VerificationFlow, csrf: &str, new: bool) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Verification,
            flow.id,
            flow.expires_at,
            csrf,
            &super::WithInternal::new(flow, &flow.internal),
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
        if let Some(primary) = self.primary() {
            primary.populate(&mut AddressFormCx {
                kratos: self.kratos,
                ui: &mut new.ui,
            });
        }
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
            super::load_with_internal(self.kratos, FlowKind::Verification, id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits a payload to the flow's method: with the `code` method `{"method": "code",
    /// "email": …}` sends a code (again to resend) and `{"method": "code", "code": …}`
    /// checks it; with `link`, `{"method": "link", "email": …}` sends a link and
    /// `{"token": …}` is the followed link (no CSRF token needed). Browser flows add
    /// `csrf_token`. Answers the flow: `sent_email` with message 1080003/1080001 after
    /// sending, `passed_challenge` with 1080002 once verified, or the same state with an
    /// error message. `request` is a [`FlowContext`], or the transport's [`Admission`].
    ///
    /// # Errors
    /// [`FlowError::NotFound`], [`FlowError::Expired`] (with a new flow),
    /// [`FlowError::AlreadyCompleted`], [`FlowError::CsrfViolation`], a malformed payload
    /// ([`FlowError::BadRequest`]), hook and store errors.
    #[tracing::instrument(
        name = "verification.submit",
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
    ) -> Result<VerificationFlow, FlowError> {
        self.ensure_enabled()?;
        let (mut flow, csrf): (VerificationFlow, String) =
            super::load_with_internal(self.kratos, FlowKind::Verification, id).await?;
        tracing::Span::current().record("flow.type", flow.flow_type.as_str());
        let strategy = self.primary().filter(|s| s.claims(payload));
        // Only the strategy that handles the payload may exempt it (a followed link), or
        // the transport for a link it followed.
        let exempt =
            request.follows_link() || strategy.is_some_and(|s| s.exempt_from_csrf(payload));
        let ctx = request.admit(AdmittedFlow::new(flow.flow_type, &csrf, exempt))?;
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
        if flow.flow_type == FlowType::Browser
            && !exempt
            && !csrf_matches(&csrf, payload.get("csrf_token").and_then(Value::as_str))
        {
            return Err(FlowError::CsrfViolation);
        }
        flow.ui.clear_messages();
        let Some(strategy) = strategy else {
            flow.ui.messages.push(msg::no_strategy());
            self.save(&flow, &csrf, false).await?;
            return Ok(flow);
        };
        flow.active = Some(strategy.method().to_string());
        tracing::Span::current().record("method", strategy.method().as_str());
        let mut internal = std::mem::take(&mut flow.internal);
        let blank_form = self.blank_form(flow.id, &csrf);
        let outcome = strategy
            .submit(&mut VerificationCx {
                kratos: self.kratos,
                flow: &mut flow,
                payload,
                request: ctx,
                internal: &mut internal,
                blank_form,
            })
            .instrument(tracing::debug_span!(
                "strategy.submit",
                method = strategy.method().as_str()
            ))
            .await?;
        flow.internal = internal;
        match outcome {
            VerificationOutcome::NotMine => flow.ui.messages.push(msg::no_strategy()),
            VerificationOutcome::Retry => {}
            VerificationOutcome::Verified(verified) => {
                if let Some(identity_id) = verified.identity_id {
                    tracing::Span::current()
                        .record("identity.id", tracing::field::display(identity_id));
                }
                self.verified(&mut flow, strategy.method(), &verified, ctx)
                    .await?;
            }
        }
        self.save(&flow, &csrf, false).await?;
        Ok(flow)
    }

    /// The end of every verification: `passed_challenge`, a link onwards, the *after* hooks.
    async fn verified(
        &self,
        flow: &mut VerificationFlow,
        method: Method,
        verified: &crate::strategy::verification::Verified,
        ctx: &FlowContext,
    ) -> Result<(), FlowError> {
        let identity_id = verified.identity_id;
        let config = self.kratos.config();
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
        let mut ui = self.blank_form(flow.id, "");
        ui.nodes
            .push(continue_node(NodeGroup::custom(method.to_string()), &href));
        ui.messages.push(match verified.via {
            Some(crate::identity::AddressVia::Sms) => msg::phone_success(),
            _ => msg::success(),
        });
        flow.ui = ui;
        if let Some(identity_id) = identity_id
            && let Ok(identity) = self
                .kratos
                .store()
                .get_identity(self.kratos.nid(), identity_id)
                .await
        {
            let hook_ctx = crate::hook::HookContext {
                flow_kind: FlowKind::Verification,
                flow_id: flow.id,
                flow_type: flow.flow_type,
                method: method.to_string(),
                request: ctx,
                session: None,
            };
            crate::hook::run_after(self.kratos, &hook_ctx, &identity).await?;
        }
        Ok(())
    }
}

impl Kratos {
    /// Verification flows.
    pub fn verification(&self) -> VerificationFlows<'_> {
        VerificationFlows { kratos: self }
    }
}
