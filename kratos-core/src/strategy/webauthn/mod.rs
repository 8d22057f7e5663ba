//! The `webauthn` method: security keys as a second factor, as Kratos offers them. Keys are
//! added and removed in settings (with a display name) and answer an aal2 login's challenge
//! in browser flows. They are stored in Kratos's shape
//! ([`crate::strategy::passkey::credential::WebauthnConfig`], `is_passwordless: false`) and
//! verified, counted and marked as passkeys are.
//!
//! With `passwordless: true` (Kratos's option) keys are a first factor instead: a browser
//! login asks for the identifier (a trait marked `webauthn.identifier`), then for the key;
//! registration creates the identity with one; keys added in settings are passwordless.

pub mod login;
pub mod registration;
pub mod settings;

use serde_json::Value;

use crate::kratos::Kratos;

pub use login::WebauthnLogin;
pub use registration::WebauthnRegistration;
pub use settings::WebauthnSettings;

/// `selfservice.methods.webauthn.config`.
pub(crate) fn method_config(kratos: &Kratos) -> &Value {
    &kratos.config().selfservice.methods.webauthn.config
}

/// Whether `selfservice.methods.webauthn.config.passwordless` is on.
pub(crate) fn passwordless(config: &Value) -> bool {
    config
        .get("passwordless")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Kratos's messages of the `webauthn` method.
pub mod text {
    use crate::flow::ui::UiText;

    /// 1010008 "Sign in with a hardware key"
    pub fn login_webauthn() -> UiText {
        UiText::info(1010008, "Sign in with a hardware key")
    }

    /// 1050012 "Add security key"
    pub fn register_webauthn() -> UiText {
        UiText::info(1050012, "Add security key")
    }

    /// 1050013 "Name of the security key"
    pub fn display_name_label() -> UiText {
        UiText::info(1050013, "Name of the security key")
    }

    /// 1050018 `Remove security key "<name>"`, context `{display_name, added_at,
    /// added_at_unix}`.
    pub fn remove_webauthn(name: &str, added_at: chrono::DateTime<chrono::Utc>) -> UiText {
        crate::strategy::passkey::remove_key_label(1050018, "security key", name, added_at)
    }

    /// A settings refusal as Kratos words it (4000001, the text as its `reason`).
    pub fn refusal(reason: &str) -> UiText {
        crate::flow::ui::text::validation_generic(reason)
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::{Factor, Method};

    fn build(webauthn: &str) -> crate::Kratos {
        let config = crate::config::Config::from_yaml_str(&format!(
            "secrets:\n  default: [\"a-long-enough-secret-0123456789\"]\nselfservice:\n  methods:\n    webauthn:\n      enabled: true\n      config:\n{webauthn}"
        ))
        .expect("config");
        crate::Kratos::builder(crate::testsuite::without_hibp(config))
            .schema(crate::testsuite::test_schema())
            .build()
            .expect("builds")
    }

    #[test]
    fn a_relying_party_without_an_id_or_with_a_bad_origin_is_refused_naming_the_key() {
        for (rp, key) in [
            (
                "        rp: {display_name: X}\n",
                "selfservice.methods.webauthn.config.rp.id",
            ),
            (
                "        rp: {id: example.com, origins: [\"not a url\"]}\n",
                "selfservice.methods.webauthn.config.rp.origins",
            ),
        ] {
            let config = crate::config::Config::from_yaml_str(&format!(
                "secrets:\n  default: [\"a-long-enough-secret-0123456789\"]\nselfservice:\n  methods:\n    webauthn:\n      enabled: true\n      config:\n{rp}"
            ))
            .expect("config");
            let err = crate::Kratos::builder(crate::testsuite::without_hibp(config))
                .schema(crate::testsuite::test_schema())
                .build()
                .expect_err("refused");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn security_keys_are_a_second_factor_or_with_passwordless_a_first() {
        let k = build("        rp: {id: example.com}\n");
        let login = k.methods().login(&Method::Webauthn).expect("login");
        assert_eq!(login.factor(), Factor::Second);
        assert!(
            !k.methods()
                .registration_strategies()
                .iter()
                .any(|s| s.method() == Method::Webauthn)
        );
        let k = build("        passwordless: true\n        rp: {id: example.com}\n");
        let login = k.methods().login(&Method::Webauthn).expect("login");
        assert_eq!(login.factor(), Factor::First);
        assert!(
            k.methods()
                .registration_strategies()
                .iter()
                .any(|s| s.method() == Method::Webauthn)
        );
    }
}
