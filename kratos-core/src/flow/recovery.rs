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
//!
//! With `feature_flags.choose_recovery_address`, new flows of a method that supports it
//! (the `code` method) are recovery "v2" flows, as Kratos's: `recovery_awaiting_address` →
//! (`recovery_awaiting_address_choice` → `recovery_confirming_address`) →
//! `recovery_awaiting_code` → `passed_challenge`. The user gives any recovery address, picks
//! among the account's (masked) recovery addresses the one to send the code to (by SMS or
//! email), and enters the code. Whether a flow is v2 is decided when it is created: a v2
//! flow belongs to its method (`active`) whatever the flag says later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use super::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText};
use super::verification::{continue_node, expired_context, with_query};
use super::{
    Admission, AdmittedFlow, ContinueWith, ContinueWithFlow, FlowContext, FlowError, FlowKind,
    FlowState, FlowType, csrf_matches, new_csrf_token,
};
use crate::clock::truncate_micros;
use crate::kratos::Kratos;
use crate::session::{Session, SessionToken};
use crate::strategy::recovery::{AddressFormCx, RecoveryCx, RecoveryOutcome, RecoveryStrategy};
use crate::strategy::{InternalContext, Method};

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
    /// `choose_method`, `sent_email` or `passed_challenge`; in a recovery "v2" flow
    /// `recovery_awaiting_address`, `recovery_awaiting_address_choice`,
    /// `recovery_confirming_address`, `recovery_awaiting_code` or `passed_challenge`.
    pub state: FlowState,
    /// What the client may do next (after a successful recovery).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continue_with: Vec<ContinueWith>,
    /// The methods' internal state, stored with the flow and never shown to clients.
    #[serde(skip)]
    pub(crate) internal: InternalContext,
}

impl super::HasInternal for RecoveryFlow {
    fn internal_mut(&mut self) -> &mut InternalContext {
        &mut self.internal
    }
}

/// The internal key marking a flow the admin API made: no browser holds its CSRF token.
pub(crate) const ADMIN_MADE: &str = "skip_csrf_check";

/// The internal key of the method a flow the admin API made accepts whatever the
/// configuration.
pub(crate) const ADMIN_METHOD: &str = "admin_method";

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

/// Kratos's texts of the recovery flow (`text/message_recovery.go`).
mod msg {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::{UiText, expired_context};

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
    pub(crate) fn kratos(&self) -> &'a Kratos {
        self.kratos
    }

    /// [`FlowError::Disabled`] unless `selfservice.flows.recovery.enabled`.
    pub(crate) fn ensure_enabled(&self) -> Result<(), FlowError> {
        if self.kratos.config().selfservice.flows.recovery.enabled {
            Ok(())
        } else {
            Err(FlowError::Disabled)
        }
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// The strategy of `selfservice.flows.recovery.use`, which new flows offer; a 400 as
    /// Kratos's when that method is not enabled.
    fn primary(&self) -> Result<&'a dyn RecoveryStrategy, FlowError> {
        let method = Method::custom(
            self.kratos
                .config()
                .selfservice
                .flows
                .recovery
                .use_method
                .as_str(),
        );
        self.kratos
            .methods()
            .recovery(&method)
            .filter(|_| crate::strategy::configured_on(self.kratos.config(), &method))
            .map(|s| &**s)
            .ok_or_else(|| {
                FlowError::BadRequest(format!(
                    "You attempted recovery using {method}, which is not enabled or does not \
                     exist. An administrator needs to enable this recovery method."
                ))
            })
    }

    /// Whether new flows are recovery "v2" flows (`feature_flags.choose_recovery_address`)
    /// when their method supports it.
    fn choose_address(&self) -> bool {
        self.kratos.config().feature_flags.choose_recovery_address
    }

    /// A new flow offering `strategy`'s form, and its CSRF token (empty for api flows),
    /// not saved yet. With `v2` and a strategy that supports it, the flow is a recovery "v2"
    /// flow of the strategy's method.
    pub(crate) fn new_flow(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
        strategy: &dyn RecoveryStrategy,
        v2: bool,
    ) -> Result<(RecoveryFlow, String), FlowError> {
        self.ensure_enabled()?;
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        let now = self.now();
        let id = Uuid::now_v7();
        let csrf = match flow_type {
            FlowType::Browser => new_csrf_token(),
            FlowType::Api => String::new(),
        };
        let mut ui = self.blank_form(id, &csrf);
        let v2 = v2 && strategy.supports_v2();
        let mut form = AddressFormCx {
            kratos: self.kratos,
            ui: &mut ui,
        };
        let (state, active) = if v2 {
            strategy.populate_v2(&mut form);
            (
                FlowState::RecoveryAwaitingAddress,
                Some(strategy.method().to_string()),
            )
        } else {
            strategy.populate(&mut form);
            (FlowState::ChooseMethod, None)
        };
        let lifespan = self.kratos.config().selfservice.flows.recovery.lifespan;
        let flow = RecoveryFlow {
            id,
            flow_type,
            expires_at: now + lifespan.as_chrono(),
            issued_at: now,
            request_url: ctx.request_url.clone().unwrap_or_default(),
            return_to,
            active,
            ui,
            state,
            continue_with: Vec::new(),
            internal: InternalContext::default(),
        };
        Ok((flow, csrf))
    }

    /// Starts a recovery flow.
    ///
    /// # Errors
    /// [`FlowError::Disabled`] when recovery is off, [`FlowError::BadRequest`] when the
    /// method `selfservice.flows.recovery.use` names is not enabled, a refused `return_to`,
    /// store errors.
    #[tracing::instrument(
        name = "recovery.create",
        skip_all,
        fields(flow.id = tracing::field::Empty, flow.type = flow_type.as_str())
    )]
    pub async fn create(
        &self,
        flow_type: FlowType,
        ctx: &FlowContext,
    ) -> Result<RecoveryFlow, FlowError> {
        let (flow, csrf) = self.new_flow(flow_type, ctx, self.primary()?, self.choose_address())?;
        tracing::Span::current().record("flow.id", tracing::field::display(flow.id));
        self.save(&flow, &csrf, true).await?;
        Ok(flow)
    }

    /// An empty form of flow `id`: its action and, with a CSRF token, the token's node.
    pub(crate) fn blank_form(&self, id: Uuid, csrf: &str) -> UiContainer {
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

    pub(crate) async fn save(
        &self,
        flow: &RecoveryFlow,
        csrf: &str,
        new: bool,
    ) -> Result<(), FlowError> {
        super::save_flow(
            self.kratos,
            FlowKind::Recovery,
            flow.id,
            flow.expires_at,
            csrf,
            &super::WithInternal::new(flow, &flow.internal),
            new,
        )
        .await
    }

    async fn load(&self, id: Uuid) -> Result<(RecoveryFlow, String), FlowError> {
        super::load_with_internal(self.kratos, FlowKind::Recovery, id).await
    }

    async fn expired(&self, flow: &RecoveryFlow, ctx: &FlowContext) -> FlowError {
        let now = self.now();
        let minutes = (now - flow.expires_at).num_milliseconds() as f64 / 60_000.0;
        match self
            .primary()
            .and_then(|primary| self.new_flow(flow.flow_type, ctx, primary, self.choose_address()))
        {
            Ok((mut new, csrf)) => {
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
            Err(e) => e,
        }
    }

    /// Fetches a flow; expired flows answer with [`FlowError::Expired`].
    pub async fn get(&self, id: Uuid, ctx: &FlowContext) -> Result<RecoveryFlow, FlowError> {
        self.ensure_enabled()?;
        let (flow, _) = self.load(id).await?;
        if flow.expires_at <= self.now() {
            return Err(self.expired(&flow, ctx).await);
        }
        Ok(flow)
    }

    /// Submits a payload to the flow's method: with the `code` method `{"method": "code",
    /// "email": …}` sends a code (again to resend) and `{"method": "code", "code": …}`
    /// checks it; with `link`, `{"method": "link", "email": …}` sends a link and
    /// `{"token": …}` is the followed link (no CSRF token needed). A recovery "v2" flow takes
    /// `recovery_address` (any address of the account), then `recovery_select_address` (the
    /// value of the chosen address's button) with `recovery_address`, then, when the chosen
    /// address is not the one given, `recovery_confirm_address` (it in full), then `code`;
    /// `screen: "previous"` goes back, and `recovery_confirm_address` without a code sends
    /// another. Browser flows add `csrf_token`. `request` is a [`FlowContext`], or the
    /// transport's [`Admission`].
    ///
    /// # Errors
    /// [`FlowError::NotFound`], [`FlowError::Expired`] (with a new flow),
    /// [`FlowError::AlreadyCompleted`], [`FlowError::CsrfViolation`], a malformed payload
    /// ([`FlowError::BadRequest`]), a disabled identity, hook and store errors.
    #[tracing::instrument(
        name = "recovery.submit",
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
    ) -> Result<RecoverySubmission, FlowError> {
        self.ensure_enabled()?;
        let (mut flow, csrf) = self.load(id).await?;
        tracing::Span::current().record("flow.type", flow.flow_type.as_str());
        let admin_made = flow.internal.get(ADMIN_MADE) == Some(&Value::Bool(true));
        // The configured method, or on a flow the admin API made, the method it was made for.
        let primary = self.primary().ok().map(|s| s.method());
        let admin_method = flow
            .internal
            .get(ADMIN_METHOD)
            .and_then(Value::as_str)
            .filter(|_| admin_made)
            .map(|name| Method::custom(name.to_owned()));
        let strategy = if flow.state.is_recovery_v2() {
            // A v2 flow belongs to the method it was created with (Kratos's `active`),
            // whatever the payload names and whatever the flag says now.
            flow.active
                .as_deref()
                .map(|name| Method::custom(name.to_owned()))
                .and_then(|m| self.kratos.methods().recovery(&m))
                .filter(|s| {
                    s.supports_v2()
                        && crate::strategy::configured_on(self.kratos.config(), &s.method())
                })
        } else {
            self.kratos
                .methods()
                .recovery_strategies()
                .iter()
                .find(|s| {
                    let m = s.method();
                    s.claims(payload)
                        && (Some(&m) == primary.as_ref() || Some(&m) == admin_method.as_ref())
                })
        };
        let exempt = admin_made
            || request.follows_link()
            || strategy.is_some_and(|s| s.exempt_from_csrf(payload));
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
            return Ok(RecoverySubmission::Flow(flow));
        };
        flow.active = Some(strategy.method().to_string());
        tracing::Span::current().record("method", strategy.method().as_str());
        let mut internal = std::mem::take(&mut flow.internal);
        let blank_form = self.blank_form(flow.id, &csrf);
        let outcome = strategy
            .submit(&mut RecoveryCx {
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
        let completion = match outcome {
            RecoveryOutcome::NotMine => {
                flow.ui.messages.push(msg::no_strategy());
                None
            }
            RecoveryOutcome::Retry => None,
            RecoveryOutcome::Recovered(done) => {
                let recovered = self
                    .recovered(&mut flow, strategy.method(), *done, ctx)
                    .await?;
                tracing::Span::current().record(
                    "identity.id",
                    tracing::field::display(recovered.0.identity_id),
                );
                tracing::info!(
                    method = strategy.method().as_str(),
                    identity.id = %recovered.0.identity_id,
                    "recovery succeeded"
                );
                Some(recovered)
            }
        };
        self.save(&flow, &csrf, false).await?;
        Ok(match completion {
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

    /// The end of every recovery: a new session for the identity, the *after* hooks, and
    /// the settings flow where the user sets new credentials.
    async fn recovered(
        &self,
        flow: &mut RecoveryFlow,
        method: Method,
        done: crate::strategy::recovery::Recovered,
        ctx: &FlowContext,
    ) -> Result<Completion, FlowError> {
        let config = self.kratos.config();
        let identity = done.identity;
        let issued = self
            .kratos
            .sessions()
            .issue(&identity, vec![done.method], &ctx.client)
            .await?;
        let hook_ctx = crate::hook::HookContext {
            flow_kind: FlowKind::Recovery,
            flow_id: flow.id,
            flow_type: flow.flow_type,
            method: method.to_string(),
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
        let mut ui = self.blank_form(flow.id, "");
        ui.nodes.push(continue_node(
            NodeGroup::custom(method.to_string()),
            &settings_url,
        ));
        ui.messages.push(msg::success(now, privileged_until));
        flow.ui = ui;
        // The stored flow never keeps the session token; the answer carries it.
        flow.continue_with = continue_with
            .iter()
            .filter(|c| !matches!(c, ContinueWith::SetOrySessionToken { .. }))
            .cloned()
            .collect();
        Ok((issued.session, issued.token, settings_flow, continue_with))
    }
}

type Completion = (
    Session,
    SessionToken,
    super::settings::SettingsFlow,
    Vec<ContinueWith>,
);

impl Kratos {
    /// Recovery flows (and the admin API for recovery codes and links).
    pub fn recovery(&self) -> RecoveryFlows<'_> {
        RecoveryFlows { kratos: self }
    }
}
