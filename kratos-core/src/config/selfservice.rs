//! `selfservice.*`: the return URLs and the self-service flows (login, registration, settings,
//! logout, error, verification, recovery).

use serde::{Deserialize, Serialize};

use super::duration::one_hour;
use super::hooks::{login_after, registration_after, settings_after};
use super::{
    AfterHooks, BeforeHooks, FlowAfter, KratosDuration, MethodsConfig, SettingsAfterHooks,
};

/// `selfservice.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SelfServiceConfig {
    /// `selfservice.default_browser_return_url` (default: the public base URL).
    pub default_browser_return_url: Option<String>,
    /// `selfservice.allowed_return_urls`: where `return_to` may point (scheme, host with an
    /// optional `*.` wildcard, path prefix).
    pub allowed_return_urls: Vec<String>,
    /// `selfservice.flows`
    pub flows: FlowsConfig,
    /// `selfservice.methods`
    pub methods: MethodsConfig,
}

/// `selfservice.flows`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FlowsConfig {
    /// `selfservice.flows.login`
    pub login: LoginFlowConfig,
    /// `selfservice.flows.registration`
    pub registration: RegistrationFlowConfig,
    /// `selfservice.flows.logout`
    pub logout: LogoutFlowConfig,
    /// `selfservice.flows.settings`
    pub settings: SettingsFlowConfig,
    /// `selfservice.flows.error`
    pub error: ErrorFlowConfig,
    /// `selfservice.flows.verification`
    pub verification: VerificationFlowConfig,
    /// `selfservice.flows.recovery`
    pub recovery: RecoveryFlowConfig,
}

/// `selfservice.flows.logout`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogoutFlowConfig {
    /// `after`
    pub after: LogoutAfter,
}

/// `selfservice.flows.logout.after`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogoutAfter {
    /// `default_browser_return_url`: where a browser goes after logout without `return_to`.
    pub default_browser_return_url: Option<String>,
}

/// `selfservice.flows.login`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LoginFlowConfig {
    /// `lifespan` (default 1h).
    pub lifespan: KratosDuration,
    /// `ui_url`: the page that renders login flows (`?flow=<id>` is appended).
    pub ui_url: Option<String>,
    /// `before`: hooks run when a flow is created.
    pub before: BeforeHooks,
    /// `after`: hooks run after a successful login, for every method and per login method
    /// ([`AfterHooks::LOGIN_METHODS`]).
    #[serde(deserialize_with = "login_after")]
    pub after: AfterHooks,
}

impl Default for LoginFlowConfig {
    fn default() -> Self {
        Self {
            lifespan: one_hour(),
            ui_url: None,
            before: BeforeHooks::default(),
            after: AfterHooks::default(),
        }
    }
}

/// `selfservice.flows.settings`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SettingsFlowConfig {
    /// `lifespan` (default 1h).
    pub lifespan: KratosDuration,
    /// `privileged_session_max_age`: how recently the session must have been authenticated to
    /// change credentials (default 1h).
    pub privileged_session_max_age: KratosDuration,
    /// `required_aal`: `aal1` or `highest_available` (default).
    pub required_aal: crate::session::RequiredAal,
    /// `ui_url`: the page that renders settings flows.
    pub ui_url: Option<String>,
    /// `before`: hooks run when a flow is created.
    pub before: BeforeHooks,
    /// `after`: hooks run after settings were saved, for every method and per settings method
    /// ([`AfterHooks::SETTINGS_METHODS`]).
    #[serde(deserialize_with = "settings_after")]
    pub after: SettingsAfterHooks,
}

impl Default for SettingsFlowConfig {
    fn default() -> Self {
        Self {
            lifespan: one_hour(),
            privileged_session_max_age: one_hour(),
            required_aal: crate::session::RequiredAal::default(),
            ui_url: None,
            before: BeforeHooks::default(),
            after: SettingsAfterHooks::default(),
        }
    }
}

/// `selfservice.flows.error`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ErrorFlowConfig {
    /// `ui_url`: the page that shows self-service errors (`?id=<error id>`).
    pub ui_url: Option<String>,
}

/// `selfservice.flows.registration`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct RegistrationFlowConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `lifespan` (default 1h).
    pub lifespan: KratosDuration,
    /// `ui_url`: the page that renders registration flows.
    pub ui_url: Option<String>,
    /// `before`: hooks run when a flow is created.
    pub before: BeforeHooks,
    /// `after`: hooks run after a successful registration, for every method and per
    /// registration method ([`AfterHooks::REGISTRATION_METHODS`]).
    #[serde(deserialize_with = "registration_after")]
    pub after: AfterHooks,
}

impl Default for RegistrationFlowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lifespan: one_hour(),
            ui_url: None,
            before: BeforeHooks::default(),
            after: AfterHooks::default(),
        }
    }
}

impl RegistrationFlowConfig {
    /// Whether the `session` hook is configured for `method` (globally or for the method, see
    /// [`AfterHooks::for_method`]).
    pub fn issues_session_for(&self, method: &str) -> bool {
        self.after
            .hooks
            .iter()
            .chain(self.after.for_method(method))
            .any(|h| h.hook == "session")
    }

    /// Whether the `session` hook is configured for the password method.
    pub fn issues_session(&self) -> bool {
        self.issues_session_for("password")
    }
}

/// The method of the verification and recovery flows (`use`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CodeOrLink {
    /// A one-time code (default).
    #[default]
    Code,
    /// A link.
    Link,
}

impl CodeOrLink {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CodeOrLink::Code => "code",
            CodeOrLink::Link => "link",
        }
    }
}

/// `selfservice.flows.verification`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct VerificationFlowConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `lifespan` (default 1h).
    pub lifespan: KratosDuration,
    /// `use`: `code` (default) or `link`.
    #[serde(rename = "use")]
    pub use_method: CodeOrLink,
    /// `ui_url`: the page that renders verification flows.
    pub ui_url: Option<String>,
    /// `notify_unknown_recipients`: send a notice to addresses no account uses (default
    /// false; either way the answer is the same as for a known address).
    pub notify_unknown_recipients: bool,
    /// `after`
    pub after: FlowAfter,
}

impl Default for VerificationFlowConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            lifespan: one_hour(),
            use_method: CodeOrLink::Code,
            ui_url: None,
            notify_unknown_recipients: false,
            after: FlowAfter::default(),
        }
    }
}

/// `selfservice.flows.recovery`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct RecoveryFlowConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `lifespan` (default 1h).
    pub lifespan: KratosDuration,
    /// `use`: `code` (default) or `link`.
    #[serde(rename = "use")]
    pub use_method: CodeOrLink,
    /// `ui_url`: the page that renders recovery flows.
    pub ui_url: Option<String>,
    /// `notify_unknown_recipients` (default false).
    pub notify_unknown_recipients: bool,
    /// `after`: hooks after a successful recovery (`revoke_active_sessions`, `web_hook`).
    pub after: FlowAfter,
}

impl Default for RecoveryFlowConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            lifespan: one_hour(),
            use_method: CodeOrLink::Code,
            ui_url: None,
            notify_unknown_recipients: false,
            after: FlowAfter::default(),
        }
    }
}
