//! Hooks: what runs around a successful login, registration or settings change.
//!
//! Hooks are configured as in Kratos, per flow and method under
//! `selfservice.flows.<flow>.after.hooks` and `…after.<method>.hooks`:
//!
//! | hook | flows | what it does |
//! |---|---|---|
//! | `session` | registration | signs the new identity in |
//! | `revoke_active_sessions` | login, settings | ends the identity's other sessions |
//! | `require_verified_address` | login | refuses the login (4000010) until an address is verified |
//! | `verification` | login | sends a verification code or link to each unverified address |
//! | `verify_new_address` | settings | the same for addresses the change added |
//! | `show_verification_ui` | login, registration, settings | sends browsers to the verification UI |
//! | `web_hook` | all | calls an HTTP endpoint (feature `web-hook`) |
//!
//! When `selfservice.flows.verification.enabled` is set, `verification` runs on its own after
//! every registration and `verify_new_address` after every settings change, as in Kratos: each
//! unverified email address gets a verification flow, its code or link is sent, and the outcome's
//! `continue_with` carries one `show_verification_ui` action per flow. With
//! `show_verification_ui` configured, a browser's `redirect_browser_to` is the first of those
//! flows instead of the return URL.
//!
//! Beside them, the host app adds in-process hooks with
//! [`KratosBuilder::hook`](crate::KratosBuilder::hook): a [`FlowHook`] sees the flow, the
//! identity and the request, may amend the identity before it is saved, and may stop the flow
//! with messages that the flow then shows.
//!
//! `selfservice.flows.<flow>.before.hooks` run when a flow is created and accept only
//! `web_hook` (as in Kratos), beside [`FlowHook::before_flow`]; a refusal there is
//! [`FlowError::Refused`] and no flow is created.
//!
//! Hooks run in two stages. *Before* runs after the method succeeded but before anything is
//! written (before the identity is created or updated, before a login's session is issued):
//! `require_verified_address`, `web_hook`s with `response.parse`, and [`FlowHook::before`].
//! Any of them can stop the flow, and then nothing is written. *After* runs once the change
//! is stored: `revoke_active_sessions`, other `web_hook`s (awaited, or detached with
//! `response.ignore`), and [`FlowHook::after`].
//!
//! The verification and recovery flows take `web_hook`s after success, and recovery also
//! `revoke_active_sessions` (every other session of the recovered identity ends). The
//! verification hooks need the verification flow: configuring one while
//! `selfservice.flows.verification.enabled` is off is a configuration error rather than a
//! silent no-op.

#[cfg(feature = "web-hook")]
mod web_hook;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::config::{Config, ConfigError, HookConfig};
use crate::flow::ui::{UiContainer, UiText};
use crate::flow::{ContinueWith, FlowContext, FlowError, FlowKind, FlowType};
use crate::identity::Identity;
use crate::kratos::Kratos;
use crate::session::Session;

#[cfg(feature = "web-hook")]
pub(crate) use web_hook::WebHookClient;
#[cfg(feature = "web-hook")]
pub use web_hook::{WebHookAuth, WebHookConfig, WebHookResponse};

/// What a hook sees.
#[derive(Clone, Debug)]
pub struct HookContext<'a> {
    /// The flow's kind.
    pub flow_kind: FlowKind,
    /// The flow's id.
    pub flow_id: Uuid,
    /// `browser` or `api`.
    pub flow_type: FlowType,
    /// The method that succeeded (`password`, `profile`, …).
    pub method: String,
    /// The request.
    pub request: &'a FlowContext,
    /// The session the flow ran in (settings) or created (login and registration, in the
    /// *after* stage when one was issued).
    pub session: Option<&'a Session>,
}

/// A hook's decision to stop the flow, with the messages the flow shows.
#[derive(Clone, Debug, PartialEq)]
pub struct HookAbort {
    /// Messages for the whole form.
    pub messages: Vec<UiText>,
    /// Messages for single nodes (`traits.email`, `password`, …).
    pub node_messages: Vec<(String, UiText)>,
}

impl HookAbort {
    /// Stops the flow with one message for the whole form.
    pub fn message(text: UiText) -> Self {
        Self {
            messages: vec![text],
            node_messages: Vec::new(),
        }
    }

    fn into_messages(self) -> Vec<UiText> {
        let mut all = self.messages;
        all.extend(self.node_messages.into_iter().map(|(_, t)| t));
        all
    }

    fn apply(self, ui: &mut UiContainer) {
        ui.messages.extend(self.messages);
        for (node, text) in self.node_messages {
            ui.add_node_message(&node, text);
        }
    }
}

/// An in-process hook the host app implements (Kratos's `web_hook`, without the HTTP).
///
/// ```
/// use kratos_core::flow::ui::UiText;
/// use kratos_core::hook::{FlowHook, HookAbort, HookContext};
/// use kratos_core::identity::Identity;
///
/// struct OnlyExampleDotCom;
///
/// #[async_trait::async_trait]
/// impl FlowHook for OnlyExampleDotCom {
///     async fn before(&self, _ctx: &HookContext<'_>, identity: &mut Identity) -> Result<(), HookAbort> {
///         let email = identity.traits["email"].as_str().unwrap_or_default();
///         if email.ends_with("@example.com") {
///             Ok(())
///         } else {
///             Err(HookAbort::message(UiText::error(4000001, "Sign-ups are invite-only.", None)))
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait FlowHook: Send + Sync + 'static {
    /// Runs before the change is written. It may amend the identity (registration and
    /// settings; a login ignores changes) or stop the flow. The default does nothing.
    async fn before(
        &self,
        ctx: &HookContext<'_>,
        identity: &mut Identity,
    ) -> Result<(), HookAbort> {
        let _ = (ctx, identity);
        Ok(())
    }

    /// Runs when a flow is about to be created; an error refuses the flow
    /// ([`FlowError::Refused`]). The default does nothing.
    async fn before_flow(
        &self,
        kind: FlowKind,
        flow_type: FlowType,
        request: &FlowContext,
    ) -> Result<(), HookAbort> {
        let _ = (kind, flow_type, request);
        Ok(())
    }

    /// Runs after the change was written; it can no longer stop the flow. The default does
    /// nothing.
    async fn after(&self, ctx: &HookContext<'_>, identity: &Identity) {
        let _ = (ctx, identity);
    }
}

/// A configured hook, parsed.
#[derive(Clone, Debug)]
pub(crate) enum ConfiguredHook {
    Session,
    RevokeActiveSessions,
    RequireVerifiedAddress,
    /// `verification` (login) and `verify_new_address` (settings).
    Verification,
    ShowVerificationUi,
    #[cfg(feature = "web-hook")]
    WebHook(Arc<web_hook::WebHookConfig>),
}

/// The hooks a position allows.
fn allowed(kind: FlowKind) -> &'static [&'static str] {
    match kind {
        FlowKind::Login => &[
            "revoke_active_sessions",
            "require_verified_address",
            "verification",
            "show_verification_ui",
            "web_hook",
        ],
        FlowKind::Registration => &["session", "show_verification_ui", "web_hook"],
        FlowKind::Settings => &[
            "revoke_active_sessions",
            "verify_new_address",
            "show_verification_ui",
            "web_hook",
        ],
        FlowKind::Verification => &["web_hook"],
        FlowKind::Recovery => &["revoke_active_sessions", "web_hook"],
    }
}

fn parse_one(
    config: &Config,
    kind: FlowKind,
    key: &str,
    h: &HookConfig,
) -> Result<ConfiguredHook, ConfigError> {
    if !allowed(kind).contains(&h.hook.as_str()) {
        return Err(ConfigError::invalid(
            key,
            format!(
                "`{}` is not a hook of the {} flow (allowed: {})",
                h.hook,
                kind.as_str(),
                allowed(kind).join(", ")
            ),
        ));
    }
    let needs_verification = matches!(
        h.hook.as_str(),
        "verification" | "verify_new_address" | "show_verification_ui"
    );
    if needs_verification && !config.selfservice.flows.verification.enabled {
        return Err(ConfigError::invalid(
            key,
            format!(
                "the `{}` hook needs the verification flow (selfservice.flows.verification.enabled)",
                h.hook
            ),
        ));
    }
    Ok(match h.hook.as_str() {
        "session" => ConfiguredHook::Session,
        "revoke_active_sessions" => ConfiguredHook::RevokeActiveSessions,
        "require_verified_address" => ConfiguredHook::RequireVerifiedAddress,
        "verification" | "verify_new_address" => ConfiguredHook::Verification,
        "show_verification_ui" => ConfiguredHook::ShowVerificationUi,
        #[cfg(feature = "web-hook")]
        "web_hook" => ConfiguredHook::WebHook(Arc::new(web_hook::WebHookConfig::from_config(
            &h.config, key,
        )?)),
        #[cfg(not(feature = "web-hook"))]
        "web_hook" => {
            return Err(ConfigError::invalid(
                key,
                "the `web_hook` hook needs the `web-hook` feature of kratos-core",
            ));
        }
        _ => unreachable!("checked against the allowed list"),
    })
}

/// The hooks of a flow kind and method: global ones first, then the method's.
pub(crate) fn configured(
    config: &Config,
    kind: FlowKind,
    method: &str,
) -> Result<Vec<ConfiguredHook>, ConfigError> {
    let flows = &config.selfservice.flows;
    let (global, per_method): (&[HookConfig], &[HookConfig]) = match kind {
        FlowKind::Login => (
            &flows.login.after.hooks,
            flows.login.after.for_method(method),
        ),
        FlowKind::Registration => (
            &flows.registration.after.hooks,
            flows.registration.after.for_method(method),
        ),
        FlowKind::Settings => (
            &flows.settings.after.hooks,
            flows.settings.after.for_method(method),
        ),
        FlowKind::Verification => (&flows.verification.after.hooks, &[]),
        FlowKind::Recovery => (&flows.recovery.after.hooks, &[]),
    };
    let base = format!("selfservice.flows.{}.after", kind.as_str());
    let global = global
        .iter()
        .enumerate()
        .map(|(i, h)| parse_one(config, kind, &format!("{base}.hooks[{i}]"), h));
    let per_method = per_method
        .iter()
        .enumerate()
        .map(|(i, h)| parse_one(config, kind, &format!("{base}.{method}.hooks[{i}]"), h));
    global.chain(per_method).collect()
}

/// The `before` hooks of a flow kind (only `web_hook` is allowed there).
pub(crate) fn configured_before(
    config: &Config,
    kind: FlowKind,
) -> Result<Vec<ConfiguredHook>, ConfigError> {
    let flows = &config.selfservice.flows;
    let list = match kind {
        FlowKind::Login => &flows.login.before.hooks,
        FlowKind::Registration => &flows.registration.before.hooks,
        FlowKind::Settings => &flows.settings.before.hooks,
        // Verification and recovery take no `before` hooks in this version.
        FlowKind::Verification | FlowKind::Recovery => return Ok(Vec::new()),
    };
    list.iter()
        .enumerate()
        .map(|(i, h)| {
            let key = format!("selfservice.flows.{}.before.hooks[{i}]", kind.as_str());
            if h.hook != "web_hook" {
                return Err(ConfigError::invalid(
                    key,
                    format!("`{}` cannot run before a flow; only `web_hook` can", h.hook),
                ));
            }
            parse_one(config, kind, &key, h)
        })
        .collect()
}

/// Runs the `before` hooks of a flow about to be created.
#[tracing::instrument(
    name = "hook.before_flow",
    skip_all,
    fields(flow.kind = kind.as_str(), flow.type = flow_type.as_str())
)]
pub(crate) async fn run_before_flow(
    kratos: &Kratos,
    kind: FlowKind,
    flow_type: FlowType,
    request: &FlowContext,
) -> Result<(), FlowError> {
    let hooks =
        configured_before(kratos.config(), kind).map_err(|e| FlowError::Internal(e.to_string()))?;
    for hook in &hooks {
        #[cfg(feature = "web-hook")]
        if let ConfiguredHook::WebHook(w) = hook
            && let Err(abort) = kratos
                .web_hooks()
                .call_before_flow(w, kind, flow_type, request)
                .await?
        {
            return Err(FlowError::Refused(abort.into_messages()));
        }
        #[cfg(not(feature = "web-hook"))]
        let _ = hook;
    }
    for hook in kratos.flow_hooks() {
        if let Err(abort) = hook.before_flow(kind, flow_type, request).await {
            return Err(FlowError::Refused(abort.into_messages()));
        }
    }
    Ok(())
}

/// The Jsonnet body templates of every configured `web_hook`, as `(key of the body, URI)`
/// (loaded once when the registry is built).
#[cfg(feature = "web-hook")]
pub(crate) fn web_hook_bodies(config: &Config) -> Vec<(String, String)> {
    use crate::config::AfterHooks;
    let flows = &config.selfservice.flows;
    let mut positions: Vec<(String, &[HookConfig])> = vec![
        ("login.before".into(), &flows.login.before.hooks),
        (
            "registration.before".into(),
            &flows.registration.before.hooks,
        ),
        ("settings.before".into(), &flows.settings.before.hooks),
        ("login.after".into(), &flows.login.after.hooks),
        ("registration.after".into(), &flows.registration.after.hooks),
        ("settings.after".into(), &flows.settings.after.hooks),
        ("verification.after".into(), &flows.verification.after.hooks),
        ("recovery.after".into(), &flows.recovery.after.hooks),
    ];
    for (flow, after, methods) in [
        ("login", &flows.login.after, AfterHooks::LOGIN_METHODS),
        (
            "registration",
            &flows.registration.after,
            AfterHooks::REGISTRATION_METHODS,
        ),
        (
            "settings",
            &flows.settings.after,
            AfterHooks::SETTINGS_METHODS,
        ),
    ] {
        for m in methods {
            positions.push((format!("{flow}.after.{m}"), after.for_method(m)));
        }
    }
    let mut bodies = Vec::new();
    for (position, hooks) in positions {
        for (i, h) in hooks.iter().enumerate() {
            if h.hook != "web_hook" {
                continue;
            }
            if let Some(body) = h.config.get("body").and_then(serde_json::Value::as_str) {
                bodies.push((
                    format!("selfservice.flows.{position}.hooks[{i}].config.body"),
                    body.to_owned(),
                ));
            }
        }
    }
    bodies
}

/// Checks every hook position of a configuration (called when the registry is built).
pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    for kind in [FlowKind::Login, FlowKind::Registration, FlowKind::Settings] {
        configured_before(config, kind)?;
    }
    for (kind, methods) in [
        (FlowKind::Login, &["password", "code"][..]),
        (FlowKind::Registration, &["password", "code"][..]),
        (FlowKind::Settings, &["password", "profile"][..]),
        (FlowKind::Verification, &["code"][..]),
        (FlowKind::Recovery, &["code"][..]),
    ] {
        for m in methods {
            configured(config, kind, m)?;
        }
    }
    Ok(())
}

/// Runs the *before* stage. `Ok(false)` when a hook stopped the flow (its messages are on
/// `ui`); nothing has been written then.
#[tracing::instrument(
    name = "hook.before",
    skip_all,
    fields(flow.kind = ctx.flow_kind.as_str(), flow.id = %ctx.flow_id, method = ctx.method.as_str())
)]
pub(crate) async fn run_before(
    kratos: &Kratos,
    ctx: &HookContext<'_>,
    identity: &mut Identity,
    ui: &mut UiContainer,
) -> Result<bool, FlowError> {
    let hooks = configured(kratos.config(), ctx.flow_kind, &ctx.method)
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    for hook in &hooks {
        match hook {
            ConfiguredHook::RequireVerifiedAddress
                if !identity.verifiable_addresses.iter().any(|a| a.verified) =>
            {
                ui.messages
                    .push(crate::flow::ui::text::address_not_verified());
                return Ok(false);
            }
            #[cfg(feature = "web-hook")]
            ConfiguredHook::WebHook(w) if w.response.parse => {
                let amend = ctx.flow_kind != FlowKind::Login;
                if let Err(abort) = kratos
                    .web_hooks()
                    .call_parsed(w, ctx, identity, amend)
                    .await?
                {
                    abort.apply(ui);
                    return Ok(false);
                }
            }
            _ => {}
        }
    }
    for hook in kratos.flow_hooks() {
        if ctx.flow_kind == FlowKind::Login {
            // A login does not change the identity: hooks see a copy.
            let mut copy = identity.clone();
            if let Err(abort) = hook.before(ctx, &mut copy).await {
                abort.apply(ui);
                return Ok(false);
            }
        } else if let Err(abort) = hook.before(ctx, identity).await {
            abort.apply(ui);
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs the *after* stage, once the change is stored.
#[tracing::instrument(
    name = "hook.after",
    skip_all,
    fields(
        flow.kind = ctx.flow_kind.as_str(),
        flow.id = %ctx.flow_id,
        method = ctx.method.as_str(),
        identity.id = %identity.id,
    )
)]
pub(crate) async fn run_after(
    kratos: &Kratos,
    ctx: &HookContext<'_>,
    identity: &Identity,
) -> Result<(), FlowError> {
    let hooks = configured(kratos.config(), ctx.flow_kind, &ctx.method)
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    for hook in &hooks {
        match hook {
            ConfiguredHook::RevokeActiveSessions => {
                kratos
                    .store()
                    .revoke_sessions_of_identity(
                        kratos.nid(),
                        identity.id,
                        ctx.session.map(|s| s.id),
                    )
                    .await?;
            }
            #[cfg(feature = "web-hook")]
            ConfiguredHook::WebHook(w) if !w.response.parse => {
                kratos.web_hooks().call(w, ctx, identity).await?;
            }
            _ => {}
        }
    }
    for hook in kratos.flow_hooks() {
        hook.after(ctx, identity).await;
    }
    Ok(())
}

/// Runs Kratos's verification hooks after a successful flow: `verification` (on its own after
/// a registration when verification is enabled; configured for a login), `verify_new_address`
/// (on its own after a settings change that added addresses) and `show_verification_ui`.
/// Sends a code or link to each unverified address (or to those in `only`) and puts one
/// `show_verification_ui` action per verification flow in front of `continue_with`; with
/// `show_verification_ui` configured, a browser's `redirect_browser_to` becomes the first one.
#[tracing::instrument(
    name = "hook.verification",
    skip_all,
    fields(flow.kind = ctx.flow_kind.as_str(), flow.id = %ctx.flow_id, identity.id = %identity.id)
)]
pub(crate) async fn run_verification(
    kratos: &Kratos,
    ctx: &HookContext<'_>,
    identity: &Identity,
    only: Option<&[Uuid]>,
    continue_with: &mut Vec<ContinueWith>,
) -> Result<(), FlowError> {
    let config = kratos.config();
    if !config.selfservice.flows.verification.enabled {
        return Ok(());
    }
    let hooks = configured(config, ctx.flow_kind, &ctx.method)
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    let configured_hook = hooks
        .iter()
        .any(|h| matches!(h, ConfiguredHook::Verification));
    let runs = match ctx.flow_kind {
        FlowKind::Registration => true,
        FlowKind::Settings => only.is_some_and(|ids| !ids.is_empty()),
        _ => configured_hook,
    };
    if !runs {
        return Ok(());
    }
    let actions = kratos
        .verification()
        .start_for_identity(ctx.flow_type, ctx.request, identity, only)
        .await?;
    let show = hooks
        .iter()
        .any(|h| matches!(h, ConfiguredHook::ShowVerificationUi));
    if show
        && let Some(ContinueWith::ShowVerificationUi { flow }) = actions.first()
        && let Some(url) = &flow.url
    {
        for item in continue_with.iter_mut() {
            if let ContinueWith::RedirectBrowserTo {
                redirect_browser_to,
            } = item
            {
                *redirect_browser_to = url.clone();
            }
        }
    }
    continue_with.splice(0..0, actions);
    Ok(())
}

/// The registered in-process hooks, shared by every handle.
#[derive(Clone, Default)]
pub(crate) struct FlowHooks(pub(crate) Vec<Arc<dyn FlowHook>>);

impl std::fmt::Debug for FlowHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlowHooks({})", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_context_debug_hides_the_session_token() {
        let token = "ory_st_hookcontextsecret0123456789abcdef";
        let request = FlowContext {
            session_token: Some(token.into()),
            ..FlowContext::default()
        };
        let ctx = HookContext {
            flow_kind: FlowKind::Settings,
            flow_id: Uuid::nil(),
            flow_type: FlowType::Api,
            method: "password".into(),
            request: &request,
            session: None,
        };
        let debug = format!("{ctx:?}");
        assert!(!debug.contains(&token[7..]), "{debug}");
        assert!(debug.contains("password"), "{debug}");
    }
}
