//! `selfservice.methods`: which authentication methods are on, and their settings.

use serde::{Deserialize, Serialize};

use super::KratosDuration;
use super::duration::one_hour;

/// `selfservice.methods`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MethodsConfig {
    /// `selfservice.methods.password`
    pub password: PasswordMethodConfig,
    /// `selfservice.methods.profile`: editing traits in settings.
    pub profile: ToggleMethodConfig,
    /// `selfservice.methods.code`: one-time codes by email.
    pub code: CodeMethodConfig,
    /// `selfservice.methods.link`: links by email (verification and recovery only).
    pub link: LinkMethodConfig,
}

/// A method that is only switched on or off.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ToggleMethodConfig {
    /// `enabled` (default true).
    pub enabled: bool,
}

impl Default for ToggleMethodConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `selfservice.methods.password`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct PasswordMethodConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `config`: the password policy.
    pub config: crate::strategy::password::PasswordPolicyConfig,
}

impl Default for PasswordMethodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            config: crate::strategy::password::PasswordPolicyConfig::default(),
        }
    }
}

/// `selfservice.methods.code`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CodeMethodConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `passwordless_enabled`: sign in and sign up with a code sent by email (default false).
    pub passwordless_enabled: bool,
    /// `config`
    pub config: CodeSettings,
}

impl CodeMethodConfig {
    /// Whether login and registration offer the `code` method.
    pub fn passwordless(&self) -> bool {
        self.enabled && self.passwordless_enabled
    }
}

impl Default for CodeMethodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            passwordless_enabled: false,
            config: CodeSettings::default(),
        }
    }
}

/// `selfservice.methods.code.config`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CodeSettings {
    /// `lifespan` of a code (default 1h).
    pub lifespan: KratosDuration,
    /// `max_submissions`: wrong codes a flow accepts before it asks for a new one (default 5).
    pub max_submissions: u32,
    /// `max_sends_per_flow`: code and link emails one flow may send (resends included) per
    /// `send_limit_window` (default 5; 0: no limit). Not a Kratos key: Kratos has no such
    /// limit.
    pub max_sends_per_flow: u32,
    /// `max_sends_per_address`: code and link emails one address may be sent per
    /// `send_limit_window`, over all flows of every kind (default 10; 0: no limit). Not a
    /// Kratos key.
    pub max_sends_per_address: u32,
    /// `send_limit_window`: the window the send limits count in, starting with its first
    /// send (default 1h). Not a Kratos key.
    pub send_limit_window: KratosDuration,
}

impl Default for CodeSettings {
    fn default() -> Self {
        Self {
            lifespan: one_hour(),
            max_submissions: 5,
            max_sends_per_flow: 5,
            max_sends_per_address: 10,
            send_limit_window: one_hour(),
        }
    }
}

/// `selfservice.methods.link`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LinkMethodConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `config`
    pub config: LinkSettings,
}

/// `selfservice.methods.link.config`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LinkSettings {
    /// `lifespan` of a link (default 1h).
    pub lifespan: KratosDuration,
    /// `base_url`: the public URL links point to (default `serve.public.base_url`).
    pub base_url: Option<String>,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            lifespan: one_hour(),
            base_url: None,
        }
    }
}
