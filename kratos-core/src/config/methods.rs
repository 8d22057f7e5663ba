//! `selfservice.methods`: which authentication methods are on, and their settings.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::duration::one_hour;
use super::secret::serialize_method_config;
use super::{KratosDuration, redact_method_config};

/// `selfservice.methods`
///
/// A key that is not one of [`MethodsConfig::KEYS`] is a configuration error naming it
/// (`selfservice.methods.<key>`): a method this library does not know would otherwise be
/// silently off.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodsConfig {
    /// `selfservice.methods.password`
    pub password: PasswordMethodConfig,
    /// `selfservice.methods.profile`: editing traits in settings.
    pub profile: ToggleMethodConfig,
    /// `selfservice.methods.code`: one-time codes by email.
    pub code: CodeMethodConfig,
    /// `selfservice.methods.link`: links by email (verification and recovery only).
    pub link: LinkMethodConfig,
    /// `selfservice.methods.totp`: time-based one-time passwords from an authenticator app.
    pub totp: TotpMethodConfig,
    /// `selfservice.methods.lookup_secret`: single-use recovery codes.
    pub lookup_secret: LookupSecretMethodConfig,
    /// `selfservice.methods.webauthn`: security keys and platform authenticators.
    pub webauthn: RawMethodConfig,
    /// `selfservice.methods.passkey`: passkeys.
    pub passkey: RawMethodConfig,
    /// `selfservice.methods.oidc`: sign-in with OpenID Connect and OAuth2 providers.
    pub oidc: RawMethodConfig,
    /// `selfservice.methods.saml`: sign-in with SAML providers (not in Kratos's open-source
    /// configuration schema, which has no SAML).
    pub saml: RawMethodConfig,
}

impl MethodsConfig {
    /// Every key under `selfservice.methods`, in the order of the fields.
    pub const KEYS: &'static [&'static str] = &[
        "password",
        "profile",
        "code",
        "link",
        "totp",
        "lookup_secret",
        "webauthn",
        "passkey",
        "oidc",
        "saml",
    ];

    /// Whether the method keyed `name` (`selfservice.methods.<name>.enabled`) is enabled;
    /// `None` when `name` is not one of [`KEYS`](Self::KEYS).
    pub fn is_enabled(&self, name: &str) -> Option<bool> {
        Some(match name {
            "password" => self.password.enabled,
            "profile" => self.profile.enabled,
            "code" => self.code.enabled,
            "link" => self.link.enabled,
            "totp" => self.totp.enabled,
            "lookup_secret" => self.lookup_secret.enabled,
            "webauthn" => self.webauthn.enabled,
            "passkey" => self.passkey.enabled,
            "oidc" => self.oidc.enabled,
            "saml" => self.saml.enabled,
            _ => return None,
        })
    }

    /// Every method key with its `enabled` flag, in the order of [`KEYS`](Self::KEYS).
    pub fn methods(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        Self::KEYS
            .iter()
            .map(|name| (*name, self.is_enabled(name).unwrap_or(false)))
    }

    /// The keys of the enabled methods, in the order of [`KEYS`](Self::KEYS). A builder
    /// refuses one that is not available in its build by naming
    /// `selfservice.methods.<name>.enabled`.
    pub fn enabled_methods(&self) -> Vec<&'static str> {
        self.methods()
            .filter_map(|(name, enabled)| enabled.then_some(name))
            .collect()
    }
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
    /// `mfa_enabled`: a code sent by email as the second factor of a login (default false).
    /// Kratos allows at most one of `passwordless_enabled` and `mfa_enabled`.
    pub mfa_enabled: bool,
    /// `config`
    pub config: CodeSettings,
}

impl CodeMethodConfig {
    /// Whether login and registration offer the `code` method.
    pub fn passwordless(&self) -> bool {
        self.enabled && self.passwordless_enabled
    }

    /// Whether a login may ask for a code as its second factor.
    pub fn mfa(&self) -> bool {
        self.enabled && self.mfa_enabled
    }
}

impl Default for CodeMethodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            passwordless_enabled: false,
            mfa_enabled: false,
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

/// `selfservice.methods.totp`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TotpMethodConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `config`
    pub config: TotpSettings,
}

/// `selfservice.methods.totp.config`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TotpSettings {
    /// `issuer`: the name authenticator apps show beside the code. Unset (or empty), it is the
    /// host of `serve.public.base_url`, as in Kratos; [`Config::totp_issuer`] resolves it.
    ///
    /// [`Config::totp_issuer`]: super::Config::totp_issuer
    pub issuer: Option<String>,
}

/// `selfservice.methods.lookup_secret`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LookupSecretMethodConfig {
    /// `enabled` (default false).
    pub enabled: bool,
}

/// A method whose `enabled` flag is read and whose `config` is kept as JSON until the method
/// itself reads it (`webauthn`, `passkey`, `oidc`, `saml`).
///
/// `Debug` and serialisation show the `config` with its secrets redacted
/// ([`redact_method_config`]: client secrets, private keys, passwords).
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct RawMethodConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `config`, as written (`null` when absent).
    #[serde(
        skip_serializing_if = "serde_json::Value::is_null",
        serialize_with = "serialize_method_config"
    )]
    pub config: serde_json::Value,
}

impl fmt::Debug for RawMethodConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMethodConfig")
            .field("enabled", &self.enabled)
            .field("config", &redact_method_config(&self.config))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::{Config, MethodsConfig};

    #[test]
    fn method_defaults_are_kratos() {
        let methods = MethodsConfig::default();
        let flags: Vec<(&str, bool)> = methods.methods().collect();
        assert_eq!(
            flags,
            [
                ("password", true),
                ("profile", true),
                ("code", true),
                ("link", false),
                ("totp", false),
                ("lookup_secret", false),
                ("webauthn", false),
                ("passkey", false),
                ("oidc", false),
                ("saml", false),
            ]
        );
        assert_eq!(methods.enabled_methods(), ["password", "profile", "code"]);
        assert!(!methods.code.mfa_enabled && !methods.code.mfa());
        assert_eq!(methods.totp.config.issuer, None);
        assert!(methods.oidc.config.is_null());
        assert_eq!(methods.is_enabled("totp"), Some(false));
        assert_eq!(methods.is_enabled("b2b"), None);
        // An empty `selfservice.methods` reads as the defaults.
        let c = Config::from_yaml_str("selfservice:\n  methods: {}\n").unwrap();
        assert_eq!(
            c.selfservice.methods.enabled_methods(),
            ["password", "profile", "code"]
        );
    }

    const EVERY_METHOD: &str = "
selfservice:
  methods:
    password:
      enabled: false
    profile:
      enabled: true
    code:
      enabled: true
      mfa_enabled: true
    link:
      enabled: true
    totp:
      enabled: true
      config:
        issuer: Example Inc.
    lookup_secret:
      enabled: true
    webauthn:
      enabled: true
      config:
        passwordless: false
        rp:
          id: example.com
          display_name: Example
          origins: [\"https://example.com\"]
    passkey:
      enabled: true
      config:
        rp: {id: example.com, display_name: Example}
    oidc:
      enabled: true
      config:
        providers:
          - id: google
            provider: google
            client_id: the-client
            client_secret: oidc-client-secret-1
            mapper_url: base64://bG9jYWwgY2xhaW1zID0ge30=
    saml:
      enabled: true
      config:
        providers: [{id: corp, private_key: saml-private-key-2}]
";

    #[test]
    fn every_method_key_loads_from_yaml_and_json() {
        let yaml = Config::from_yaml_str(EVERY_METHOD).unwrap();
        let value: serde_json::Value = serde_yaml_ng::from_str(EVERY_METHOD).unwrap();
        let json = Config::from_json_str(&value.to_string()).unwrap();
        for c in [yaml, json] {
            let m = &c.selfservice.methods;
            assert!(!m.password.enabled);
            assert!(m.code.mfa_enabled && m.code.mfa() && !m.code.passwordless());
            assert!(m.totp.enabled && m.lookup_secret.enabled);
            assert_eq!(m.totp.config.issuer.as_deref(), Some("Example Inc."));
            assert_eq!(c.totp_issuer(), "Example Inc.");
            assert!(m.webauthn.enabled && m.passkey.enabled && m.oidc.enabled && m.saml.enabled);
            assert_eq!(m.webauthn.config["rp"]["id"], json!("example.com"));
            assert_eq!(m.webauthn.config["passwordless"], json!(false));
            assert_eq!(m.passkey.config["rp"]["display_name"], json!("Example"));
            assert_eq!(
                m.oidc.config["providers"][0]["client_secret"],
                json!("oidc-client-secret-1"),
                "the raw config keeps the values for the method to read"
            );
            assert_eq!(m.saml.config["providers"][0]["id"], json!("corp"));
            assert_eq!(
                m.enabled_methods(),
                [
                    "profile",
                    "code",
                    "link",
                    "totp",
                    "lookup_secret",
                    "webauthn",
                    "passkey",
                    "oidc",
                    "saml"
                ]
            );
        }
    }

    #[test]
    fn raw_method_configs_hide_their_secrets() {
        let c = Config::from_yaml_str(EVERY_METHOD).unwrap();
        let debug = format!("{c:?}");
        let written = serde_json::to_string(&c).unwrap();
        for secret in ["oidc-client-secret-1", "saml-private-key-2"] {
            assert!(!debug.contains(secret), "{debug}");
            assert!(!written.contains(secret), "{written}");
        }
        assert!(debug.contains("the-client") && written.contains("the-client"));
        // What is written loads back, with the secrets as placeholders.
        let back = Config::from_json_str(&written).unwrap();
        assert_eq!(
            back.selfservice.methods.oidc.config["providers"][0]["client_secret"],
            json!(crate::config::REDACTED)
        );
        assert_eq!(back.selfservice.methods.enabled_methods().len(), 9);
    }

    #[test]
    fn an_unknown_method_key_is_an_error_naming_it() {
        for yaml in [
            "selfservice:\n  methods:\n    passwordless:\n      enabled: true\n",
            "selfservice:\n  methods:\n    password:\n      enabled: true\n    passwordless: {}\n",
        ] {
            let err = Config::from_yaml_str(yaml).unwrap_err();
            assert_eq!(err.key(), Some("selfservice.methods.passwordless"), "{err}");
            assert!(err.to_string().contains("passwordless"), "{err}");
            assert!(
                err.to_string().contains("lookup_secret"),
                "lists the keys: {err}"
            );
        }
        let err = Config::from_json_str(r#"{"selfservice":{"methods":{"b2b":{"config":{}}}}}"#)
            .unwrap_err();
        assert_eq!(err.key(), Some("selfservice.methods.b2b"), "{err}");
    }

    #[test]
    fn errors_inside_a_method_name_the_key() {
        let err =
            Config::from_yaml_str("selfservice:\n  methods:\n    totp:\n      enabled: maybe\n")
                .unwrap_err();
        assert_eq!(err.key(), Some("selfservice.methods.totp.enabled"), "{err}");
        let err =
            Config::from_yaml_str("selfservice:\n  methods:\n    code:\n      mfa_enabled: 3\n")
                .unwrap_err();
        assert_eq!(
            err.key(),
            Some("selfservice.methods.code.mfa_enabled"),
            "{err}"
        );
    }

    #[test]
    fn the_totp_issuer_defaults_to_the_public_host() {
        assert_eq!(Config::default().totp_issuer(), "127.0.0.1");
        for (base_url, host) in [
            ("https://auth.example.com:4433/", "auth.example.com"),
            ("https://user:pw@auth.example.com/base/", "auth.example.com"),
            ("http://[::1]:4433/", "::1"),
        ] {
            let c = Config::from_yaml_str(&format!(
                "serve:\n  public:\n    base_url: \"{base_url}\"\n"
            ))
            .unwrap();
            assert_eq!(c.totp_issuer(), host, "{base_url}");
        }
        let c = Config::from_yaml_str(
            "serve:\n  public:\n    base_url: https://auth.example.com/\nselfservice:\n  methods:\n    totp:\n      config:\n        issuer: \"\"\n",
        )
        .unwrap();
        assert_eq!(
            c.totp_issuer(),
            "auth.example.com",
            "an empty issuer is unset"
        );
    }

    #[test]
    fn a_totp_issuer_with_a_colon_is_refused_at_load() {
        let key = "selfservice.methods.totp.config.issuer";
        let with = |yaml: &str| {
            Config::from_yaml_str(&format!(
                "dev: true\nselfservice:\n  methods:\n    totp:\n{yaml}"
            ))
            .unwrap()
            .validate()
        };
        let err = with("      enabled: true\n      config:\n        issuer: \"Example: Inc\"\n")
            .unwrap_err();
        assert_eq!(err.key(), Some(key));
        // Off, the issuer is never used.
        with("      enabled: false\n      config:\n        issuer: \"Example: Inc\"\n").unwrap();
        with("      enabled: true\n      config:\n        issuer: Example Inc\n").unwrap();
        // An IPv6 public host cannot stand in for an unset issuer.
        let err = Config::from_yaml_str(
            "dev: true\nserve:\n  public:\n    base_url: \"http://[::1]:4433/\"\nselfservice:\n  methods:\n    totp:\n      enabled: true\n",
        )
        .unwrap()
        .validate()
        .unwrap_err();
        assert_eq!(err.key(), Some(key));
        assert!(err.to_string().contains("set an issuer"), "{err}");
    }

    #[test]
    fn a_code_is_either_a_first_or_a_second_factor() {
        let c = Config::from_yaml_str(
            "dev: true\nselfservice:\n  methods:\n    code:\n      passwordless_enabled: true\n      mfa_enabled: true\n",
        )
        .unwrap();
        assert_eq!(
            c.validate().unwrap_err().key(),
            Some("selfservice.methods.code.mfa_enabled")
        );
    }
}
