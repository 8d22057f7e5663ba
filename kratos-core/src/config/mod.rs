//! Configuration, with Kratos's key names and defaults.
//!
//! The struct mirrors the keys of a Kratos configuration file (`identity.default_schema_id`,
//! `hashers.argon2.memory`, `secrets.cookie`, …), so an existing `kratos.yml` loads as it is.
//! Keys that this library does not use are ignored, with two exceptions where an unknown key
//! is an error naming it, because what it asks for would otherwise silently not happen: a
//! method under `selfservice.methods` ([`MethodsConfig::KEYS`]), and a key under the `after` of
//! login, registration or settings that is neither `hooks`, `default_browser_return_url` nor
//! one of the flow's methods ([`AfterHooks`]). Every value can also be set from code.
//!
//! [`ConfigLoader`] loads a configuration as the Kratos server does and checks all of it:
//! several files merged in order, environment overrides (`SERVE_PUBLIC_PORT`,
//! `SECRETS_DEFAULT`, …), validation against Kratos's configuration schema (vendored in
//! `schemas/kratos_config.schema.json`; every violation is named by its JSON pointer), and a
//! refusal of keys the schema allows but nothing here implements (or, with
//! [`ConfigLoader::allow_unimplemented`], a warning). The implemented keys are derived from
//! these types: those [`Config`] keeps when the document is read into it and written out
//! again. [`document`] holds the building blocks, shared with a host loading Keto's file.
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

use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod document;
mod duration;
mod feature_flags;
mod hashers;
mod hooks;
mod identity;
mod loader;
mod methods;
mod secret;
mod security;
mod selfservice;
mod serve;
mod session;

pub use duration::KratosDuration;
pub use feature_flags::FeatureFlagsConfig;
pub use hashers::{Argon2Config, BcryptConfig, ByteSize, HasherName, HashersConfig};
pub use hooks::{AfterHooks, BeforeHooks, FlowAfter, HookConfig, MethodHooks, SettingsAfterHooks};
pub use identity::{IdentityConfig, SchemaSource};
pub use loader::{ConfigLoader, LOGGING_SCHEMA_ID, Loaded, TRACING_SCHEMA_ID, ory_shared_schemas};
pub use methods::{
    CodeMethodConfig, CodeSettings, LinkMethodConfig, LinkSettings, LookupSecretMethodConfig,
    MethodsConfig, PasswordMethodConfig, RawMethodConfig, ToggleMethodConfig, TotpMethodConfig,
    TotpSettings,
};
#[cfg(feature = "web-hook")]
pub(crate) use secret::redact_quoted;
pub use secret::{
    CipherAlgorithm, CiphersConfig, REDACTED, Secret, SecretsConfig, redact_auth,
    redact_hook_config, redact_method_config, redact_url,
};
pub(crate) use secret::{serialize_auth, serialize_hook_config, serialize_secret_option};
pub use security::{LockoutConfig, SecurityConfig};
pub use selfservice::{
    CodeOrLink, ErrorFlowConfig, FlowsConfig, LoginFlowConfig, LogoutAfter, LogoutFlowConfig,
    RecoveryFlowConfig, RegistrationFlowConfig, SelfServiceConfig, SettingsFlowConfig,
    VerificationFlowConfig,
};
pub use serve::{EndpointConfig, ForwardedHeader, IpCidr, ServeConfig};
#[cfg(feature = "jwt")]
pub(crate) use session::redact_key_source;
pub use session::{
    CookiesConfig, SameSite, SessionConfig, SessionCookieConfig, SubjectSource, TokenizeTemplate,
    TokenizerConfig, WhoamiConfig,
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
    /// The document does not match the service's configuration schema.
    #[error("invalid configuration: {}", show_violations(violations))]
    Schema {
        /// Each violation: the JSON pointer of the key (`/serve/public/port`) and what is
        /// wrong with it.
        violations: Vec<(String, String)>,
    },
    /// An environment variable's value does not fit the key it names.
    #[error("invalid configuration from environment variable {variable} at `{key}`: {message}")]
    Env {
        /// The variable, such as `SERVE_PUBLIC_PORT`.
        variable: String,
        /// The JSON pointer of the key it names.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
    /// Keys that are valid for the service but that this project does not implement: they
    /// would silently not happen. [`ConfigLoader::allow_unimplemented`] turns this into a
    /// warning.
    #[error(
        "configuration keys not implemented by kratos-rs: {} (allow them, with a warning, with allow_unimplemented / --allow-unimplemented)",
        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    )]
    Unimplemented {
        /// Their JSON pointers.
        keys: Vec<String>,
    },
}

fn show_violations(violations: &[(String, String)]) -> String {
    violations
        .iter()
        .map(|(pointer, message)| format!("`{pointer}`: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigError {
    /// The key the error is about, if any: a dotted key for [`ConfigError::Invalid`], a JSON
    /// pointer for the others (the first one when there are several).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } | ConfigError::Env { key, .. } => Some(key),
            ConfigError::Schema { violations } => violations.first().map(|(k, _)| k.as_str()),
            ConfigError::Unimplemented { keys } => keys.first().map(String::as_str),
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
    /// Kratos's feature flags (`feature_flags.*`).
    pub feature_flags: FeatureFlagsConfig,
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

    /// Reads a JSON value (a merged document, see [`ConfigLoader`]).
    ///
    /// Errors, naming the key, when a value has the wrong shape.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
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
        let code = &self.selfservice.methods.code;
        if code.passwordless_enabled && code.mfa_enabled {
            return Err(ConfigError::invalid(
                "selfservice.methods.code.mfa_enabled",
                "cannot be set together with passwordless_enabled: a code is either a first \
                 factor or a second one",
            ));
        }
        // Authenticator apps split a key's label at ':' (issuer, then account): an issuer
        // holding one would show a wrong account, so it is refused here, not altered later.
        if self.selfservice.methods.totp.enabled && self.totp_issuer().contains(':') {
            let configured = self
                .selfservice
                .methods
                .totp
                .config
                .issuer
                .as_deref()
                .is_some_and(|i| !i.trim().is_empty());
            return Err(ConfigError::invalid(
                "selfservice.methods.totp.config.issuer",
                if configured {
                    "must not contain ':' (authenticator apps read it as the end of the issuer)"
                        .to_owned()
                } else {
                    format!(
                        "is unset, so the public host `{}` would be the issuer, but it contains ':'; set an issuer",
                        self.serve.public_host()
                    )
                },
            ));
        }
        self.courier.validate()?;
        self.session.whoami.tokenizer.validate()?;
        let flows = &self.selfservice.flows;
        flows
            .login
            .after
            .check("login", AfterHooks::LOGIN_METHODS)?;
        flows
            .registration
            .after
            .check("registration", AfterHooks::REGISTRATION_METHODS)?;
        flows
            .settings
            .after
            .check("settings", AfterHooks::SETTINGS_METHODS)?;
        Ok(())
    }

    /// The TOTP issuer authenticator apps show: `selfservice.methods.totp.config.issuer`, or
    /// when it is unset or empty the host of the public base URL, as in Kratos (`127.0.0.1`
    /// when `serve.public.base_url` is unset).
    pub fn totp_issuer(&self) -> String {
        match &self.selfservice.methods.totp.config.issuer {
            Some(issuer) if !issuer.trim().is_empty() => issuer.clone(),
            _ => self.serve.public_host(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A `kratos.yml` with every method and per-method hook key of this version, loaded as a
    /// YAML file and as the same document in a JSON file.
    const FULL: &str = "
dev: true
serve:
  public:
    base_url: https://auth.example.com/
session:
  whoami:
    required_aal: aal1
selfservice:
  default_browser_return_url: https://app.example.com/
  methods:
    password: {enabled: true}
    profile: {enabled: true}
    code: {enabled: true, mfa_enabled: true}
    link: {enabled: false}
    totp: {enabled: true}
    lookup_secret: {enabled: true}
    webauthn: {enabled: true, config: {rp: {id: example.com, display_name: Example}}}
    passkey: {enabled: false}
    oidc: {enabled: true, config: {providers: []}}
    saml: {enabled: false}
  flows:
    login:
      after:
        hooks: [{hook: revoke_active_sessions}]
        password: {hooks: [{hook: require_verified_address}]}
        totp: {hooks: [{hook: revoke_active_sessions}]}
        lookup_secret: {hooks: []}
        webauthn: {hooks: []}
        passkey: {hooks: []}
        oidc: {hooks: []}
        saml: {hooks: []}
        code: {hooks: []}
    registration:
      after:
        password: {hooks: [{hook: session}]}
        code: {hooks: [{hook: session}]}
        webauthn: {hooks: [{hook: session}]}
        passkey: {hooks: [{hook: session}]}
        oidc: {hooks: [{hook: session}]}
        saml: {hooks: [{hook: session}]}
        profile: {hooks: [{hook: show_verification_ui}]}
    settings:
      required_aal: highest_available
      after:
        profile: {hooks: [{hook: show_verification_ui}]}
        password: {hooks: [{hook: revoke_active_sessions}]}
        totp: {hooks: [{hook: revoke_active_sessions}]}
        lookup_secret: {hooks: []}
        webauthn: {hooks: []}
        passkey: {hooks: []}
        oidc: {hooks: []}
        saml: {hooks: []}
";

    #[test]
    fn a_full_configuration_loads_from_yaml_and_json_files() {
        let dir = std::env::temp_dir().join(format!("kratos-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("kratos.yml");
        let json = dir.join("kratos.json");
        std::fs::write(&yaml, FULL).unwrap();
        let value: serde_json::Value = serde_yaml_ng::from_str(FULL).unwrap();
        std::fs::write(&json, value.to_string()).unwrap();
        for path in [&yaml, &json] {
            let c = Config::from_file(path).unwrap();
            c.validate().unwrap();
            let methods = &c.selfservice.methods;
            assert_eq!(
                methods.enabled_methods(),
                [
                    "password",
                    "profile",
                    "code",
                    "totp",
                    "lookup_secret",
                    "webauthn",
                    "oidc"
                ]
            );
            assert!(methods.code.mfa());
            assert_eq!(c.totp_issuer(), "auth.example.com");
            let flows = &c.selfservice.flows;
            assert_eq!(flows.login.after.hooks.len(), 1);
            assert_eq!(flows.login.after.for_method("totp").len(), 1);
            assert_eq!(flows.login.after.password.hooks.len(), 1);
            for m in AfterHooks::REGISTRATION_METHODS {
                assert_eq!(flows.registration.after.for_method(m).len(), 1, "{m}");
            }
            assert!(flows.registration.issues_session_for("saml"));
            assert!(!flows.registration.issues_session_for("profile"));
            assert_eq!(flows.settings.after.for_method("totp").len(), 1);
            assert_eq!(
                c.session.whoami.required_aal,
                crate::session::RequiredAal::Aal1
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
