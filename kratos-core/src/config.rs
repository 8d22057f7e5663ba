//! Configuration, with Kratos's key names and defaults.
//!
//! The struct mirrors the keys of a Kratos configuration file (`identity.default_schema_id`,
//! `hashers.argon2.memory`, `secrets.cookie`, …), so an existing `kratos.yml` loads as it is.
//! Keys that this library does not use are ignored. Every value can also be set from code.
//!
//! ```
//! use kratos_core::Config;
//!
//! let config = Config::from_yaml_str(
//!     "secrets:\n  default: [\"a-very-long-secret-of-32-chars!!\"]\nhashers:\n  bcrypt:\n    cost: 12\n",
//! )
//! .unwrap();
//! assert_eq!(config.identity.default_schema_id, "default");
//! assert_eq!(config.hashers.bcrypt.cost, 12);
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod secret;

#[cfg(feature = "web-hook")]
pub(crate) use secret::redact_quoted;
pub use secret::{REDACTED, Secret, redact_auth, redact_hook_config, redact_url};
pub(crate) use secret::{
    serialize_auth, serialize_hook_config, serialize_secret_list, serialize_secret_option,
};

/// Why a configuration could not be loaded. The message names the offending key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key has a value of the wrong shape.
    #[error("invalid configuration at `{key}`: {message}")]
    Invalid {
        /// The dotted key, such as `hashers.argon2.memory`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Io { .. } => None,
        }
    }

    /// A parse error at `key`; values it quotes are left out when the key may hold a secret.
    fn parse(key: String, message: String) -> Self {
        let message = if secret::key_may_hold_secret(&key) {
            secret::redact_quoted(&message, true)
        } else {
            message
        };
        ConfigError::invalid(key, message)
    }

    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Development mode: relaxes secret requirements (a random secret is generated, with a
    /// warning) and cookie security. Never enable it in production.
    pub dev: bool,
    /// Public and admin endpoints (`serve.public.base_url`, `serve.admin.base_url`).
    pub serve: ServeConfig,
    /// Identity schemas (`identity.*`).
    pub identity: IdentityConfig,
    /// Password hashing (`hashers.*`).
    pub hashers: HashersConfig,
    /// Secrets (`secrets.*`).
    pub secrets: SecretsConfig,
    /// Encryption of data at rest (`ciphers.*`).
    pub ciphers: CiphersConfig,
    /// Sessions (`session.*`).
    pub session: SessionConfig,
    /// Self-service flows and methods (`selfservice.*`).
    pub selfservice: SelfServiceConfig,
    /// Cookie defaults (`cookies.*`).
    pub cookies: CookiesConfig,
    /// Security settings beyond Kratos's (`security.*`).
    pub security: SecurityConfig,
    /// The courier (`courier.*`).
    pub courier: crate::courier::CourierConfig,
    /// Database housekeeping (`database.*`).
    pub database: crate::cleanup::DatabaseConfig,
}

/// `security.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SecurityConfig {
    /// `security.login_lockout`: brute-force protection of password logins.
    pub login_lockout: LockoutConfig,
}

/// `security.login_lockout`. Failed logins are counted per identifier and per client address
/// in the store (so every app instance sharing a database sees them). From the
/// `max_failures`-th failure on, the key is locked for `base_duration`, doubling with each
/// further failure up to `max_duration`. A successful login resets the identifier's count;
/// failures older than `forget_after` are forgotten.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LockoutConfig {
    /// On by default.
    pub enabled: bool,
    /// Failures per identifier before it is locked (default 5).
    pub max_failures: u32,
    /// Failures per client address before it is locked (default 50).
    pub max_failures_per_address: u32,
    /// The first lock's length (default 1m).
    pub base_duration: KratosDuration,
    /// The longest lock (default 1h).
    pub max_duration: KratosDuration,
    /// Failures older than this are forgotten (default 24h).
    pub forget_after: KratosDuration,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            max_failures_per_address: 50,
            base_duration: KratosDuration(Duration::from_secs(60)),
            max_duration: KratosDuration(Duration::from_secs(3600)),
            forget_after: KratosDuration(Duration::from_secs(24 * 3600)),
        }
    }
}

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

fn one_hour() -> KratosDuration {
    KratosDuration(Duration::from_secs(3600))
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
    /// `after`: hooks run after a successful login.
    pub after: AfterHooks,
}

/// `before` of a flow: hooks run when a flow is created (`web_hook` only, as in Kratos).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BeforeHooks {
    /// The hooks.
    pub hooks: Vec<HookConfig>,
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
    /// `after`: hooks run after settings were saved (globally, `profile`, `password`).
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
    /// `after`: hooks run after a successful registration.
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
    /// Whether the `session` hook is configured for `method` (globally or for the method).
    pub fn issues_session_for(&self, method: &str) -> bool {
        let per_method: &[HookConfig] = match method {
            "password" => &self.after.password.hooks,
            "code" => &self.after.code.hooks,
            _ => &[],
        };
        self.after
            .hooks
            .iter()
            .chain(per_method)
            .any(|h| h.hook == "session")
    }

    /// Whether the `session` hook is configured for the password method.
    pub fn issues_session(&self) -> bool {
        self.issues_session_for("password")
    }
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

/// `after` of a flow without per-method hooks.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FlowAfter {
    /// `default_browser_return_url`
    pub default_browser_return_url: Option<String>,
    /// `hooks`
    pub hooks: Vec<HookConfig>,
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

impl Config {
    /// Parses a YAML document.
    pub fn from_yaml_str(yaml: &str) -> Result<Self, ConfigError> {
        let de = serde_yaml_ng::Deserializer::from_str(yaml);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::parse(key, e.into_inner().to_string())
        })
    }

    /// Parses a JSON document.
    pub fn from_json_str(json: &str) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::parse(key, e.into_inner().to_string())
        })
    }

    /// Loads a file; `.json` files are read as JSON, anything else as YAML.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json_str(&text)
        } else {
            Self::from_yaml_str(&text)
        }
    }

    /// Checks values that serde cannot: secret lengths, bounds, required secrets.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.secrets.default.is_empty() && self.secrets.cookie.is_empty() && !self.dev {
            return Err(ConfigError::invalid(
                "secrets.default",
                "at least one secret is required (generate one with e.g. `openssl rand -hex 32`); \
                 only dev mode may run without, with a random secret that changes on every start",
            ));
        }
        for (i, s) in self.secrets.default.iter().enumerate() {
            if s.expose().len() < 16 {
                return Err(ConfigError::invalid(
                    format!("secrets.default[{i}]"),
                    "must be at least 16 characters long",
                ));
            }
        }
        for (i, s) in self.secrets.cookie.iter().enumerate() {
            if s.expose().len() < 16 {
                return Err(ConfigError::invalid(
                    format!("secrets.cookie[{i}]"),
                    "must be at least 16 characters long",
                ));
            }
        }
        for (i, s) in self.secrets.cipher.iter().enumerate() {
            if s.expose().len() != 32 {
                return Err(ConfigError::invalid(
                    format!("secrets.cipher[{i}]"),
                    "must be exactly 32 characters long",
                ));
            }
        }
        if self.ciphers.algorithm != CipherAlgorithm::Noop && self.secrets.cipher.is_empty() {
            return Err(ConfigError::invalid(
                "secrets.cipher",
                "a 32-character secret is required when ciphers.algorithm is not noop",
            ));
        }
        if !self
            .identity
            .schemas
            .iter()
            .any(|s| s.id == self.identity.default_schema_id)
            && !self.identity.schemas.is_empty()
        {
            return Err(ConfigError::invalid(
                "identity.default_schema_id",
                format!(
                    "no schema with id `{}` in identity.schemas",
                    self.identity.default_schema_id
                ),
            ));
        }
        self.hashers
            .algorithm()
            .map_err(|e| ConfigError::invalid("hashers", e.to_string()))?;
        if self.hashers.max_concurrent == Some(0) {
            return Err(ConfigError::invalid(
                "hashers.max_concurrent",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `session.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SessionConfig {
    /// `session.lifespan` (default 24h).
    pub lifespan: KratosDuration,
    /// `session.earliest_possible_extend`: a session may be extended once it expires within
    /// this window (default: the lifespan, so any time).
    pub earliest_possible_extend: Option<KratosDuration>,
    /// Extend sessions when they are used inside the extend window (sliding expiry; Kratos
    /// only extends through the admin API). Default off.
    pub extend_on_use: bool,
    /// `session.whoami`
    pub whoami: WhoamiConfig,
    /// `session.cookie`
    pub cookie: SessionCookieConfig,
}

/// `session.cookie`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SessionCookieConfig {
    /// `name` (default `ory_kratos_session`).
    pub name: String,
    /// `domain` (default: the cookie applies to the host only).
    pub domain: Option<String>,
    /// `path` (default `/`).
    pub path: String,
    /// `same_site`: `Lax` (default), `Strict` or `None`.
    pub same_site: SameSite,
    /// `persistent`: the cookie lives as long as the session (default true); otherwise it is
    /// a browser-session cookie.
    pub persistent: bool,
}

impl Default for SessionCookieConfig {
    fn default() -> Self {
        Self {
            name: "ory_kratos_session".into(),
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            persistent: true,
        }
    }
}

/// A cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum SameSite {
    /// `Lax` (default).
    #[default]
    Lax,
    /// `Strict`.
    Strict,
    /// `None` (requires `Secure`).
    None,
}

/// `cookies.*`: defaults for every cookie Kratos sets (the CSRF cookie among them).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CookiesConfig {
    /// `domain`
    pub domain: Option<String>,
    /// `path` (default `/`).
    pub path: String,
    /// `same_site` (default `Lax`).
    pub same_site: SameSite,
    /// `secure`: default true outside dev mode.
    pub secure: Option<bool>,
}

impl Default for CookiesConfig {
    fn default() -> Self {
        Self {
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: None,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: KratosDuration(Duration::from_secs(24 * 3600)),
            earliest_possible_extend: None,
            extend_on_use: false,
            whoami: WhoamiConfig::default(),
            cookie: SessionCookieConfig::default(),
        }
    }
}

/// `session.whoami`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct WhoamiConfig {
    /// `session.whoami.required_aal`: `aal1` or `highest_available` (default).
    pub required_aal: crate::session::RequiredAal,
}

/// `serve.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServeConfig {
    /// `serve.public`
    pub public: EndpointConfig,
    /// `serve.admin`
    pub admin: EndpointConfig,
}

/// `serve.public` / `serve.admin` (`trusted_proxies` is read under `serve.public` only)
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointConfig {
    /// The URL under which the endpoint is reachable, e.g. `http://127.0.0.1:4433/`.
    pub base_url: Option<String>,
    /// `serve.public.trusted_proxies` (not a Kratos key; Kratos has none): the reverse proxies
    /// whose forwarding headers are believed, as CIDRs (`10.0.0.0/8`, `2001:db8::/32`; a bare
    /// address is one host). When the peer of a request is one of them, the client address
    /// (for the lockout and session devices) is, walking `forwarded_header` from the right,
    /// the first address that is not itself a trusted proxy; otherwise, and when the header is
    /// missing or a trusted proxy's hop names no address, the peer address. Empty by default:
    /// forwarding headers are ignored.
    pub trusted_proxies: Vec<IpCidr>,
    /// `serve.public.forwarded_header` (not a Kratos key): the one header the trusted proxies
    /// write, `x-forwarded-for` (the default) or `forwarded` (RFC 7239). Only that header is
    /// read: a proxy passes the other one through from the client unchanged, so believing it
    /// would let a client name its own address.
    pub forwarded_header: ForwardedHeader,
}

/// The forwarding header trusted proxies write (`serve.public.forwarded_header`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`); a bare address is a
/// network of that one address. IPv4-mapped IPv6 addresses are compared as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpCidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl IpCidr {
    /// Whether `address` lies in this network.
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.network, unmap(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `address`, or the IPv4 address it maps.
fn unmap(address: std::net::IpAddr) -> std::net::IpAddr {
    match address {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, std::net::IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for IpCidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network = unmap(
            address
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("`{s}` is not an IP address or CIDR"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has no prefix length from 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl std::fmt::Display for IpCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for IpCidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpCidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ServeConfig {
    /// The public base URL without a trailing slash (`http://127.0.0.1:4433` when unset).
    pub fn public_base_url(&self) -> String {
        self.public
            .base_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:4433")
            .trim_end_matches('/')
            .to_owned()
    }
}

/// `identity.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct IdentityConfig {
    /// `identity.default_schema_id` (default `default`).
    pub default_schema_id: String,
    /// `identity.schemas`: `[{id, url}]` where `url` is `file://…`, `base64://…` or a plain path.
    pub schemas: Vec<SchemaSource>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            default_schema_id: "default".into(),
            schemas: Vec::new(),
        }
    }
}

/// One entry of `identity.schemas`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SchemaSource {
    /// The schema id.
    pub id: String,
    /// Where the schema is: `file:///path`, `base64://…` or a path.
    pub url: String,
}

/// `hashers.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct HashersConfig {
    /// `hashers.algorithm`: `argon2` (default here) or `bcrypt`.
    pub algorithm: HasherName,
    /// `hashers.argon2`
    pub argon2: Argon2Config,
    /// `hashers.bcrypt`
    pub bcrypt: BcryptConfig,
    /// `hashers.max_concurrent` (not a Kratos key): how many password hashes and
    /// verifications run at once; the others wait for a turn. Each argon2id run holds its
    /// whole `memory` while it runs, so this bounds the memory hashing takes (a burst of 256
    /// logins does not allocate 256 buffers at once). Default: the number of cores
    /// (`std::thread::available_parallelism`). 0 is invalid.
    pub max_concurrent: Option<usize>,
}

impl Default for HashersConfig {
    fn default() -> Self {
        Self {
            algorithm: HasherName::Argon2,
            argon2: Argon2Config::default(),
            bcrypt: BcryptConfig::default(),
            max_concurrent: None,
        }
    }
}

impl HashersConfig {
    /// The hashing algorithm and parameters this configuration selects.
    pub fn algorithm(&self) -> Result<kratos_hash::HashAlgorithm, ConfigError> {
        Ok(match self.algorithm {
            HasherName::Bcrypt => kratos_hash::HashAlgorithm::Bcrypt {
                cost: self.bcrypt.cost,
            },
            HasherName::Argon2 => {
                let kib = self.argon2.memory.0 / 1024;
                let memory_kib = u32::try_from(kib).map_err(|_| {
                    ConfigError::invalid("hashers.argon2.memory", "is larger than 4 TiB")
                })?;
                kratos_hash::HashAlgorithm::Argon2id(kratos_hash::Argon2Params {
                    memory_kib,
                    iterations: self.argon2.iterations,
                    parallelism: self.argon2.parallelism,
                    salt_length: self.argon2.salt_length,
                    key_length: self.argon2.key_length,
                })
            }
        })
    }
}

/// The configurable hashers.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HasherName {
    /// Argon2id.
    Argon2,
    /// bcrypt.
    Bcrypt,
}

/// `hashers.argon2`. Defaults follow OWASP's recommendation for argon2id (19 MiB, t=2, p=1),
/// lighter than Kratos's 128 MB that makes logins slow on small machines.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Argon2Config {
    /// Memory, as bytes or a size such as `19MB` / `64MiB` (MB counts 1024², as Kratos does).
    pub memory: ByteSize,
    /// Iterations (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
    /// Salt length in bytes.
    pub salt_length: u32,
    /// Key length in bytes.
    pub key_length: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory: ByteSize(19 * 1024 * 1024),
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }
}

/// `hashers.bcrypt`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct BcryptConfig {
    /// The cost (default 12).
    pub cost: u32,
}

impl Default for BcryptConfig {
    fn default() -> Self {
        Self { cost: 12 }
    }
}

/// `secrets.*`. The first entry of each list signs or encrypts; all entries verify or decrypt,
/// so secrets rotate by prepending a new one. `Debug` and serialisation show every entry as
/// [`REDACTED`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// `secrets.default` (at least 16 characters each).
    #[serde(serialize_with = "serialize_secret_list")]
    pub default: Vec<Secret>,
    /// `secrets.cookie` (falls back to `secrets.default`).
    #[serde(serialize_with = "serialize_secret_list")]
    pub cookie: Vec<Secret>,
    /// `secrets.cipher` (exactly 32 characters each).
    #[serde(serialize_with = "serialize_secret_list")]
    pub cipher: Vec<Secret>,
    /// `secrets.pagination`.
    #[serde(serialize_with = "serialize_secret_list")]
    pub pagination: Vec<Secret>,
}

impl SecretsConfig {
    /// The cookie secrets, falling back to the default ones.
    pub fn cookie_or_default(&self) -> &[Secret] {
        if self.cookie.is_empty() {
            &self.default
        } else {
            &self.cookie
        }
    }
}

/// `ciphers.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CiphersConfig {
    /// `ciphers.algorithm`: `noop` (default), `aes` or `xchacha20-poly1305`.
    pub algorithm: CipherAlgorithm,
}

/// The ciphers for data at rest.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum CipherAlgorithm {
    /// No encryption: values are only hex-encoded (Kratos's default).
    #[default]
    #[serde(rename = "noop")]
    Noop,
    /// AES-256-GCM.
    #[serde(rename = "aes")]
    Aes,
    /// XChaCha20-Poly1305.
    #[serde(rename = "xchacha20-poly1305")]
    XChaCha20Poly1305,
}

/// A byte size: an integer (bytes) or a string such as `128MB`, `19MiB`, `1GB`, `512KB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `128MB`, `19MiB`, `4096`, … (KB/MB/GB count powers of 1024).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a byte size such as 128MB"))?;
        let mul: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            other => return Err(format!("unknown byte unit `{other}`")),
        };
        n.checked_mul(mul)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// A non-negative duration written as Kratos writes them: `1h`, `30m`, `1h30m`, `10s`, `500ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KratosDuration(pub Duration);

impl KratosDuration {
    /// Parses a non-negative duration in Kratos's (Go's) grammar: `1h30m`, `15m`, `10.5s`,
    /// `250ms`, `10us`; see [`crate::duration`].
    ///
    /// # Errors
    /// A message saying what is wrong (the grammar, the unit, a value past about 292 years,
    /// or a negative value); never panics.
    pub fn parse(s: &str) -> Result<Self, String> {
        crate::duration::parse_std(s)
            .map(KratosDuration)
            .map_err(|e| format!("the duration is {e}"))
    }

    /// As a chrono duration.
    pub fn as_chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl Serialize for KratosDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", self.0.as_secs_f64()))
    }
}

impl<'de> Deserialize<'de> for KratosDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KratosDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_cidrs() {
        let config = Config::from_yaml_str(
            "serve:\n  public:\n    trusted_proxies: [\"10.0.0.0/8\", \"192.0.2.1\", \"2001:db8::/32\"]\n",
        )
        .expect("config");
        let nets = &config.serve.public.trusted_proxies;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(nets[0].contains(ip("10.255.0.1")));
        assert!(!nets[0].contains(ip("11.0.0.1")));
        assert!(nets[0].contains(ip("::ffff:10.1.1.1")), "mapped IPv4");
        assert!(nets[1].contains(ip("192.0.2.1")) && !nets[1].contains(ip("192.0.2.2")));
        assert!(nets[2].contains(ip("2001:db8:abcd::1")) && !nets[2].contains(ip("2001:db9::1")));
        assert!(!nets[2].contains(ip("10.0.0.1")), "no family crosses");
        assert_eq!(nets[1].to_string(), "192.0.2.1/32");
        assert!(
            "0.0.0.0/0"
                .parse::<IpCidr>()
                .unwrap()
                .contains(ip("203.0.113.1"))
        );
        assert!(
            "::/0"
                .parse::<IpCidr>()
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "x",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
        assert!(
            Config::from_yaml_str("serve:\n  public:\n    trusted_proxies: [\"10.0.0.0/40\"]\n")
                .is_err(),
            "an invalid CIDR fails the configuration"
        );
    }

    #[test]
    fn durations_parse_like_kratos() {
        assert_eq!(
            KratosDuration::parse("1h").unwrap().0,
            Duration::from_secs(3600)
        );
        assert_eq!(
            KratosDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(
            KratosDuration::parse("500ms").unwrap().0,
            Duration::from_millis(500)
        );
        assert!(KratosDuration::parse("5").is_err());
        assert!(KratosDuration::parse("5y").is_err());
    }

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(ByteSize::parse("128MB").unwrap().0, 128 << 20);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert!(ByteSize::parse("12XB").is_err());
    }

    #[test]
    fn errors_name_the_key() {
        let err = Config::from_yaml_str("hashers:\n  argon2:\n    memory: lots\n").unwrap_err();
        assert_eq!(err.key(), Some("hashers.argon2.memory"));
        assert!(err.to_string().contains("hashers.argon2.memory"));
        let err = Config::from_json_str(r#"{"hashers":{"bcrypt":{"cost":"x"}}}"#).unwrap_err();
        assert_eq!(err.key(), Some("hashers.bcrypt.cost"));
    }

    #[test]
    fn secrets_are_required_outside_dev_mode() {
        let err = Config::default().validate().unwrap_err();
        assert_eq!(err.key(), Some("secrets.default"));
        let dev = Config {
            dev: true,
            ..Config::default()
        };
        dev.validate().unwrap();
    }

    #[test]
    fn short_secrets_and_bad_cipher_secrets_are_rejected() {
        let c = Config::from_yaml_str("secrets:\n  default: [short]\n").unwrap();
        assert_eq!(c.validate().unwrap_err().key(), Some("secrets.default[0]"));
        let c = Config::from_yaml_str(
            "secrets:\n  default: [\"0123456789abcdef\"]\n  cipher: [\"tooshort\"]\n",
        )
        .unwrap();
        assert_eq!(c.validate().unwrap_err().key(), Some("secrets.cipher[0]"));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c =
            Config::from_yaml_str("secrets:\n  default: [\"super-secret-value-123\"]\n").unwrap();
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}
