//! Hooks as flows configure them: `before.hooks`, and the `after` hooks of every flow, global
//! and per method.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{ConfigError, redact_hook_config, serialize_hook_config};

/// `before` of a flow: hooks run when a flow is created (`web_hook` only, as in Kratos).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BeforeHooks {
    /// The hooks.
    pub hooks: Vec<HookConfig>,
}

/// `selfservice.flows.settings.after`: the same shape as the `after` of login and
/// registration, with the settings flow's methods (see [`AfterHooks::SETTINGS_METHODS`]).
pub type SettingsAfterHooks = AfterHooks;

/// `after` of the login, registration and settings flows: hooks for every method (`hooks`) and
/// hooks per method (`<method>.hooks`), keyed as Kratos keys them.
///
/// Each flow takes its own methods ([`LOGIN_METHODS`](Self::LOGIN_METHODS),
/// [`REGISTRATION_METHODS`](Self::REGISTRATION_METHODS),
/// [`SETTINGS_METHODS`](Self::SETTINGS_METHODS)). In a configuration file, any other key under a
/// flow's `after` is an error naming it (`selfservice.flows.login.after.profile`), and
/// [`Config::validate`](super::Config::validate) refuses hooks set from code on a method the
/// flow does not have.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AfterHooks {
    /// `default_browser_return_url`: where a browser goes after this flow without `return_to`.
    pub default_browser_return_url: Option<String>,
    /// Hooks for every method.
    pub hooks: Vec<HookConfig>,
    /// `password`: hooks for the password method.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub password: MethodHooks,
    /// `code`: hooks for the one-time code method (login and registration).
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub code: MethodHooks,
    /// `totp`: hooks for TOTP (login and settings).
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub totp: MethodHooks,
    /// `lookup_secret`: hooks for lookup secrets, the recovery codes (login and settings).
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub lookup_secret: MethodHooks,
    /// `webauthn`: hooks for WebAuthn.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub webauthn: MethodHooks,
    /// `passkey`: hooks for passkeys.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub passkey: MethodHooks,
    /// `oidc`: hooks for sign-in with OpenID Connect and OAuth2 providers.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub oidc: MethodHooks,
    /// `saml`: hooks for sign-in with SAML providers.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub saml: MethodHooks,
    /// `profile`: hooks for the profile (traits) step of registration and for a profile
    /// change in settings.
    #[serde(skip_serializing_if = "MethodHooks::is_empty")]
    pub profile: MethodHooks,
}

impl AfterHooks {
    /// The methods `selfservice.flows.login.after` takes hooks for.
    pub const LOGIN_METHODS: &'static [&'static str] = &[
        "password",
        "code",
        "totp",
        "lookup_secret",
        "webauthn",
        "passkey",
        "oidc",
        "saml",
    ];

    /// The methods `selfservice.flows.registration.after` takes hooks for.
    pub const REGISTRATION_METHODS: &'static [&'static str] = &[
        "password", "code", "webauthn", "passkey", "oidc", "saml", "profile",
    ];

    /// The methods `selfservice.flows.settings.after` takes hooks for.
    pub const SETTINGS_METHODS: &'static [&'static str] = &[
        "profile",
        "password",
        "totp",
        "lookup_secret",
        "webauthn",
        "passkey",
        "oidc",
        "saml",
    ];

    /// The hooks configured for the method named `name` as Kratos names it (`password`,
    /// `code`, `totp`, `lookup_secret`, `webauthn`, `passkey`, `oidc`, `saml`, `profile`):
    /// `<name>.hooks`, without the global `hooks`. Empty for any other name.
    pub fn for_method(&self, name: &str) -> &[HookConfig] {
        self.method(name).map_or(&[], |m| m.hooks.as_slice())
    }

    /// The per-method settings of the method named `name`, if it is one.
    fn method(&self, name: &str) -> Option<&MethodHooks> {
        Some(match name {
            "password" => &self.password,
            "code" => &self.code,
            "totp" => &self.totp,
            "lookup_secret" => &self.lookup_secret,
            "webauthn" => &self.webauthn,
            "passkey" => &self.passkey,
            "oidc" => &self.oidc,
            "saml" => &self.saml,
            "profile" => &self.profile,
            _ => return None,
        })
    }

    /// See [`method`](Self::method).
    fn method_mut(&mut self, name: &str) -> Option<&mut MethodHooks> {
        Some(match name {
            "password" => &mut self.password,
            "code" => &mut self.code,
            "totp" => &mut self.totp,
            "lookup_secret" => &mut self.lookup_secret,
            "webauthn" => &mut self.webauthn,
            "passkey" => &mut self.passkey,
            "oidc" => &mut self.oidc,
            "saml" => &mut self.saml,
            "profile" => &mut self.profile,
            _ => return None,
        })
    }

    /// Refuses hooks on a method that `flow` (whose methods are `methods`) does not have, such
    /// as `profile` hooks set from code on the login flow: they would never run.
    pub(super) fn check(&self, flow: &str, methods: &[&str]) -> Result<(), ConfigError> {
        for name in ALL_METHODS {
            if !methods.contains(name) && !self.for_method(name).is_empty() {
                return Err(ConfigError::invalid(
                    format!("selfservice.flows.{flow}.after.{name}.hooks"),
                    format!(
                        "the {flow} flow has no `{name}` method; hooks can be set for {}",
                        methods.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Every method an [`AfterHooks`] has a field for.
const ALL_METHODS: &[&str] = &[
    "password",
    "code",
    "totp",
    "lookup_secret",
    "webauthn",
    "passkey",
    "oidc",
    "saml",
    "profile",
];

impl<'de> Deserialize<'de> for AfterHooks {
    /// Reads an `after` with the methods of every flow. The `after` fields of the login,
    /// registration and settings flows take only that flow's methods.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_after(d, ALL_METHODS)
    }
}

/// Reads `selfservice.flows.login.after` (`deserialize_with`).
pub(super) fn login_after<'de, D: Deserializer<'de>>(d: D) -> Result<AfterHooks, D::Error> {
    deserialize_after(d, AfterHooks::LOGIN_METHODS)
}

/// Reads `selfservice.flows.registration.after` (`deserialize_with`).
pub(super) fn registration_after<'de, D: Deserializer<'de>>(d: D) -> Result<AfterHooks, D::Error> {
    deserialize_after(d, AfterHooks::REGISTRATION_METHODS)
}

/// Reads `selfservice.flows.settings.after` (`deserialize_with`).
pub(super) fn settings_after<'de, D: Deserializer<'de>>(d: D) -> Result<AfterHooks, D::Error> {
    deserialize_after(d, AfterHooks::SETTINGS_METHODS)
}

/// The keys an `after` takes beside its methods.
const AFTER_KEYS: [&str; 2] = ["default_browser_return_url", "hooks"];

/// Reads an `after` whose methods are `methods`. Any other key fails while the key itself is
/// read, so the error's path ends with it (`…after.<key>`).
fn deserialize_after<'de, D: Deserializer<'de>>(
    d: D,
    methods: &'static [&'static str],
) -> Result<AfterHooks, D::Error> {
    struct AfterVisitor {
        methods: &'static [&'static str],
    }

    impl<'de> Visitor<'de> for AfterVisitor {
        type Value = AfterHooks;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of `hooks`, `default_browser_return_url` and per-method hooks")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AfterHooks, A::Error> {
            let mut after = AfterHooks::default();
            let mut seen: Vec<&'static str> = Vec::new();
            while let Some(key) = map.next_key_seed(AfterKey {
                methods: self.methods,
            })? {
                if seen.contains(&key) {
                    return Err(de::Error::duplicate_field(key));
                }
                seen.push(key);
                match key {
                    "default_browser_return_url" => {
                        after.default_browser_return_url = map.next_value()?;
                    }
                    "hooks" => after.hooks = map.next_value()?,
                    method => match after.method_mut(method) {
                        Some(slot) => *slot = map.next_value()?,
                        None => return Err(de::Error::unknown_field(method, self.methods)),
                    },
                }
            }
            Ok(after)
        }
    }

    d.deserialize_map(AfterVisitor { methods })
}

/// A key of an `after`: `hooks`, `default_browser_return_url` or one of `methods`.
struct AfterKey {
    methods: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for AfterKey {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for AfterKey {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`hooks`, `default_browser_return_url` or a method")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        AFTER_KEYS
            .iter()
            .chain(self.methods)
            .find(|k| **k == v)
            .copied()
            .ok_or_else(|| {
                E::custom(format_args!(
                    "unknown key `{v}`: an `after` takes `hooks`, `default_browser_return_url` \
                     and hooks for the methods {}",
                    self.methods.join(", ")
                ))
            })
    }
}

/// Hooks of one method (`<method>.hooks`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MethodHooks {
    /// The hooks.
    pub hooks: Vec<HookConfig>,
}

impl MethodHooks {
    /// Whether no hook is configured.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }
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

#[cfg(test)]
mod tests {
    use super::AfterHooks;
    use crate::config::{Config, HookConfig};

    fn names(hooks: &[HookConfig]) -> Vec<&str> {
        hooks.iter().map(|h| h.hook.as_str()).collect()
    }

    /// `selfservice.flows.<flow>.after` with a `web_hook` for each of `methods` (its `id` is
    /// the method) beside global and password hooks.
    fn after_yaml(flow: &str, methods: &[&str]) -> String {
        let mut yaml = format!(
            "selfservice:\n  flows:\n    {flow}:\n      after:\n        default_browser_return_url: https://app.example.com/{flow}\n        hooks: [{{hook: web_hook, config: {{url: \"https://hooks.example.com/all\"}}}}]\n"
        );
        for m in methods {
            yaml.push_str(&format!(
                "        {m}:\n          hooks:\n            - hook: web_hook\n              config: {{id: {m}, url: \"https://hooks.example.com/{m}\"}}\n"
            ));
        }
        yaml
    }

    #[test]
    fn per_method_hooks_load_for_every_method_of_each_flow() {
        for (flow, methods) in [
            ("login", AfterHooks::LOGIN_METHODS),
            ("registration", AfterHooks::REGISTRATION_METHODS),
            ("settings", AfterHooks::SETTINGS_METHODS),
        ] {
            let yaml = after_yaml(flow, methods);
            let value: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
            for c in [
                Config::from_yaml_str(&yaml).unwrap(),
                Config::from_json_str(&value.to_string()).unwrap(),
            ] {
                let flows = &c.selfservice.flows;
                let after = match flow {
                    "login" => &flows.login.after,
                    "registration" => &flows.registration.after,
                    _ => &flows.settings.after,
                };
                assert_eq!(
                    after.default_browser_return_url.as_deref(),
                    Some(format!("https://app.example.com/{flow}").as_str())
                );
                assert_eq!(names(&after.hooks), ["web_hook"]);
                for m in methods.iter() {
                    let hooks = after.for_method(m);
                    assert_eq!(hooks.len(), 1, "{flow}.{m}");
                    assert_eq!(hooks[0].config["id"], serde_json::json!(m), "{flow}.{m}");
                }
                assert!(after.for_method("unknown").is_empty());
                assert!(after.for_method("hooks").is_empty());
                Config {
                    dev: true,
                    ..c.clone()
                }
                .validate()
                .unwrap();
            }
        }
    }

    #[test]
    fn the_existing_fields_keep_their_hooks() {
        let c = Config::from_yaml_str(
            "selfservice:\n  flows:\n    login:\n      after:\n        password:\n          hooks: [{hook: revoke_active_sessions}]\n        code:\n          hooks: [{hook: require_verified_address}]\n    registration:\n      after:\n        hooks: [{hook: show_verification_ui}]\n        password:\n          hooks: [{hook: session}]\n        webauthn:\n          hooks: [{hook: session}]\n    settings:\n      after:\n        password:\n          hooks: [{hook: revoke_active_sessions}]\n        profile:\n          hooks: [{hook: verify_new_address}]\n",
        )
        .unwrap();
        let flows = &c.selfservice.flows;
        assert_eq!(
            names(&flows.login.after.password.hooks),
            ["revoke_active_sessions"]
        );
        assert_eq!(
            names(&flows.login.after.code.hooks),
            ["require_verified_address"]
        );
        assert_eq!(
            names(flows.login.after.for_method("password")),
            ["revoke_active_sessions"]
        );
        assert_eq!(
            names(&flows.settings.after.profile.hooks),
            ["verify_new_address"]
        );
        assert_eq!(
            names(flows.settings.after.for_method("password")),
            ["revoke_active_sessions"]
        );
        let registration = &flows.registration;
        assert!(registration.issues_session() && registration.issues_session_for("password"));
        assert!(registration.issues_session_for("webauthn"));
        assert!(!registration.issues_session_for("code"));
        assert!(!registration.issues_session_for("oidc"));
    }

    #[test]
    fn an_unknown_key_under_after_is_an_error_naming_it() {
        for (yaml, key) in [
            (
                "selfservice:\n  flows:\n    login:\n      after:\n        pasword:\n          hooks: []\n",
                "selfservice.flows.login.after.pasword",
            ),
            (
                "selfservice:\n  flows:\n    login:\n      after:\n        hooks: []\n        profile:\n          hooks: []\n",
                "selfservice.flows.login.after.profile",
            ),
            (
                "selfservice:\n  flows:\n    registration:\n      after:\n        totp:\n          hooks: []\n",
                "selfservice.flows.registration.after.totp",
            ),
            (
                "selfservice:\n  flows:\n    registration:\n      after:\n        lookup_secret: {}\n",
                "selfservice.flows.registration.after.lookup_secret",
            ),
            (
                "selfservice:\n  flows:\n    settings:\n      after:\n        code:\n          hooks: []\n",
                "selfservice.flows.settings.after.code",
            ),
        ] {
            let err = Config::from_yaml_str(yaml).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.to_string().contains("hooks"), "{err}");
        }
        let err = Config::from_json_str(
            r#"{"selfservice":{"flows":{"settings":{"after":{"hook":[]}}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.key(),
            Some("selfservice.flows.settings.after.hook"),
            "{err}"
        );
        let err = Config::from_json_str(
            r#"{"selfservice":{"flows":{"login":{"after":{"hooks":[],"hooks":[]}}}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }

    #[test]
    fn errors_inside_method_hooks_name_the_key() {
        let err = Config::from_yaml_str(
            "selfservice:\n  flows:\n    login:\n      after:\n        totp:\n          hooks:\n            - config: {}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.key(),
            Some("selfservice.flows.login.after.totp.hooks[0]"),
            "{err}"
        );
        let err = Config::from_yaml_str(
            "selfservice:\n  flows:\n    settings:\n      after:\n        oidc:\n          hooks: nope\n",
        )
        .unwrap_err();
        assert_eq!(
            err.key(),
            Some("selfservice.flows.settings.after.oidc.hooks"),
            "{err}"
        );
    }

    #[test]
    fn hooks_set_from_code_on_a_method_the_flow_lacks_are_refused() {
        let hook = HookConfig {
            hook: "session".into(),
            config: serde_json::Value::Null,
        };
        let mut c = Config {
            dev: true,
            ..Config::default()
        };
        c.selfservice
            .flows
            .login
            .after
            .profile
            .hooks
            .push(hook.clone());
        assert_eq!(
            c.validate().unwrap_err().key(),
            Some("selfservice.flows.login.after.profile.hooks")
        );
        c.selfservice.flows.login.after.profile.hooks.clear();
        c.selfservice
            .flows
            .registration
            .after
            .totp
            .hooks
            .push(hook.clone());
        assert_eq!(
            c.validate().unwrap_err().key(),
            Some("selfservice.flows.registration.after.totp.hooks")
        );
        c.selfservice.flows.registration.after.totp.hooks.clear();
        c.selfservice
            .flows
            .settings
            .after
            .code
            .hooks
            .push(hook.clone());
        assert_eq!(
            c.validate().unwrap_err().key(),
            Some("selfservice.flows.settings.after.code.hooks")
        );
        c.selfservice.flows.settings.after.code.hooks.clear();
        c.selfservice.flows.registration.after.saml.hooks.push(hook);
        c.validate().unwrap();
    }

    #[test]
    fn a_written_configuration_loads_back() {
        let yaml = after_yaml("login", AfterHooks::LOGIN_METHODS)
            + "    settings:\n      after:\n        profile:\n          hooks: [{hook: show_verification_ui}]\n";
        let c = Config::from_yaml_str(&yaml).unwrap();
        let written = serde_json::to_string(&c).unwrap();
        assert!(!written.contains("\"profile\":{\"hooks\":[]}"), "{written}");
        let back = Config::from_json_str(&written).unwrap();
        let after = &back.selfservice.flows.login.after;
        for m in AfterHooks::LOGIN_METHODS {
            assert_eq!(after.for_method(m).len(), 1, "{m}");
        }
        assert_eq!(
            names(back.selfservice.flows.settings.after.for_method("profile")),
            ["show_verification_ui"]
        );
        // A bare `AfterHooks` takes the methods of every flow.
        let bare: AfterHooks =
            serde_json::from_str(r#"{"profile":{"hooks":[]},"totp":{"hooks":[]}}"#).unwrap();
        assert!(bare.for_method("profile").is_empty());
        assert!(serde_json::from_str::<AfterHooks>(r#"{"nope":{}}"#).is_err());
    }
}
