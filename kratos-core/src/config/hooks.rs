//! Hooks as flows configure them: `before.hooks`, and the `after` hooks of every flow, global
//! and per method.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{redact_hook_config, serialize_hook_config};

/// `before` of a flow: hooks run when a flow is created (`web_hook` only, as in Kratos).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BeforeHooks {
    /// The hooks.
    pub hooks: Vec<HookConfig>,
}

/// `selfservice.flows.settings.after`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SettingsAfterHooks {
    /// `default_browser_return_url`
    pub default_browser_return_url: Option<String>,
    /// Hooks for every method.
    pub hooks: Vec<HookConfig>,
    /// Hooks after a password change.
    pub password: MethodHooks,
    /// Hooks after a profile (traits) change.
    pub profile: MethodHooks,
}

/// `after` of a flow: global hooks and per-method hooks.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AfterHooks {
    /// `default_browser_return_url`: where a browser goes after this flow without `return_to`.
    pub default_browser_return_url: Option<String>,
    /// Hooks for every method.
    pub hooks: Vec<HookConfig>,
    /// Hooks for the password method.
    pub password: MethodHooks,
    /// Hooks for the one-time code method.
    pub code: MethodHooks,
}

/// Hooks of one method.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MethodHooks {
    /// The hooks.
    pub hooks: Vec<HookConfig>,
}

/// One hook (`{hook: session}`, `{hook: web_hook, config: {...}}`).
///
/// `Debug` and serialisation show the `config` with its credentials redacted
/// ([`redact_hook_config`]: the `auth` values, header values, the URL's password).
#[derive(Clone, Deserialize, Serialize, PartialEq)]
pub struct HookConfig {
    /// The hook's name.
    pub hook: String,
    /// The hook's settings (for `web_hook`: url, method, headers, auth, body, response).
    #[serde(
        default,
        skip_serializing_if = "serde_json::Value::is_null",
        serialize_with = "serialize_hook_config"
    )]
    pub config: serde_json::Value,
}

impl fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookConfig")
            .field("hook", &self.hook)
            .field("config", &redact_hook_config(&self.config))
            .finish()
    }
}

/// `after` of a flow without per-method hooks.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FlowAfter {
    /// `default_browser_return_url`
    pub default_browser_return_url: Option<String>,
    /// `hooks`
    pub hooks: Vec<HookConfig>,
}
