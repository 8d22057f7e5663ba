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
//! | `web_hook` | all | calls an HTTP endpoint (feature `web-hook`) |
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
//! `revoke_active_sessions` (every other session of the recovered identity ends).
//! `show_verification_ui`, `verification` and `verify_new_address` are not implemented yet;
//! configuring them is a configuration error rather than a silent no-op.

#[cfg(feature = "web-hook")]
mod web_hook;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::config::{Config, ConfigError, HookConfig};
use crate::flow::ui::{UiContainer, UiText};
use crate::flow::{FlowContext, FlowError, FlowKind, FlowType};
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
    #[cfg(feature = "web-hook")]
    WebHook(Arc<web_hook::WebHookConfig>),
}

/// The hooks a position allows.
fn allowed(kind: FlowKind) -> &'static [&'static str] {
    match kind {
        FlowKind::Login => &[
            "revoke_active_sessions",
            "require_verified_address",
            "web_hook",
        ],
        FlowKind::Registration => &["session", "web_hook"],
        FlowKind::Settings => &["revoke_active_sessions", "web_hook"],
        FlowKind::Verification => &["web_hook"],
        FlowKind::Recovery => &["revoke_active_sessions", "web_hook"],
    }
}

fn parse_one(kind: FlowKind, key: &str, h: &HookConfig) -> Result<ConfiguredHook, ConfigError> {
    if !allowed(kind).contains(&h.hook.as_str()) {
        let reason = match h.hook.as_str() {
            "show_verification_ui" | "verification" | "verify_new_address" => {
                format!("the `{}` hook is not implemented yet", h.hook)
            }
            other => format!(
                "`{other}` is not a hook of the {} flow (allowed: {})",
                kind.as_str(),
                allowed(kind).join(", ")
            ),
        };
        return Err(ConfigError::invalid(key, reason));
    }
    Ok(match h.hook.as_str() {
        "session" => ConfiguredHook::Session,
        "revoke_active_sessions" => ConfiguredHook::RevokeActiveSessions,
        "require_verified_address" => ConfiguredHook::RequireVerifiedAddress,
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
            match method {
                "password" => &flows.login.after.password.hooks,
                _ => &[],
            },
        ),
        FlowKind::Registration => (
            &flows.registration.after.hooks,
            match method {
                "password" => &flows.registration.after.password.hooks,
                _ => &[],
            },
        ),
        FlowKind::Settings => (
            &flows.settings.after.hooks,
            match method {
                "password" => &flows.settings.after.password.hooks,
                "profile" => &flows.settings.after.profile.hooks,
                _ => &[],
            },
        ),
        FlowKind::Verification => (&flows.verification.after.hooks, &[]),
        FlowKind::Recovery => (&flows.recovery.after.hooks, &[]),
    };
    let base = format!("selfservice.flows.{}.after", kind.as_str());
    let global = global
        .iter()
        .enumerate()
        .map(|(i, h)| parse_one(kind, &format!("{base}.hooks[{i}]"), h));
    let per_method = per_method
        .iter()
        .enumerate()
        .map(|(i, h)| parse_one(kind, &format!("{base}.{method}.hooks[{i}]"), h));
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
            parse_one(kind, &key, h)
        })
        .collect()
}

/// Runs the `before` hooks of a flow about to be created.
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

/// Checks every hook position of a configuration (called when the registry is built).
pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    for kind in [FlowKind::Login, FlowKind::Registration, FlowKind::Settings] {
        configured_before(config, kind)?;
    }
    for (kind, methods) in [
        (FlowKind::Login, &["password"][..]),
        (FlowKind::Registration, &["password"][..]),
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

/// The registered in-process hooks, shared by every handle.
#[derive(Clone, Default)]
pub(crate) struct FlowHooks(pub(crate) Vec<Arc<dyn FlowHook>>);

impl std::fmt::Debug for FlowHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlowHooks({})", self.0.len())
    }
}
