//! The `passkey` method: discoverable WebAuthn credentials as a first factor, as Kratos
//! offers them (resident key required, user verification preferred, attestation none).
//!
//! A registration flow offers `passkey_create_data` (the creation options and the traits a
//! passkey is named after) and a login flow `passkey_challenge` (the request options of a
//! discoverable login); the browser's answer comes back in `passkey_register` or
//! `passkey_login`. The ceremony state (challenge, user handle) stays in the flow's internal
//! context and expires with the flow. The verification itself is webauthn-rs-core's.
//!
//! Credentials are stored exactly as Kratos stores them ([`credential::WebauthnConfig`]:
//! the COSE public key bytes, the signature counter, the backup flags, the user handle), so
//! identities moved from Kratos keep signing in. A login updates the signature counter and
//! the backup state of the key it used; a counter that does not advance marks the key with
//! a clone warning and refuses the login.

pub mod credential;
pub mod login;
pub mod registration;
pub mod settings;

use std::time::Duration;

use serde_json::Value;
use url::Url;
use webauthn_rs_core::WebauthnCore;

use crate::flow::FlowError;
use crate::flow::ui::{NodeGroup, UiNode, UiText};
use crate::kratos::Kratos;

pub use login::PasskeyLogin;
pub use registration::PasskeyRegistration;
pub use settings::PasskeySettings;

/// How many first factors `identity` has, counted as Kratos counts them
/// (`CountActiveFirstFactorCredentials`): each passkey and each passwordless security key
/// on its own, every other first-factor credential once.
pub(crate) fn first_factor_count(identity: &crate::identity::Identity) -> usize {
    use crate::identity::CredentialType;
    identity
        .credentials
        .values()
        .map(|c| match c.credential_type {
            CredentialType::Passkey | CredentialType::Webauthn => c
                .config
                .get("credentials")
                .and_then(Value::as_array)
                .map_or(0, |keys| {
                    keys.iter()
                        .filter(|k| {
                            c.credential_type == CredentialType::Passkey
                                || k.get("is_passwordless").and_then(Value::as_bool) == Some(true)
                        })
                        .count()
                }),
            _ => usize::from(c.is_first_factor()),
        })
        .sum()
}

/// Where the browser script is served, under the public base URL (Kratos's path).
pub const SCRIPT_PATH: &str = "/.well-known/ory/webauthn.js";

/// The browser script behind [`SCRIPT_PATH`]: the functions Ory's UIs call
/// (`window.oryPasskeyLogin`, `oryPasskeyRegistration`, `oryPasskeyLoginAutocompleteInit`,
/// `oryPasskeySettingsRegistration`, `oryWebAuthnLogin`, `oryWebAuthnRegistration`).
pub const SCRIPT: &str = include_str!("webauthn.js");

/// The script node of a browser flow (`webauthn_script`, group `webauthn`), with the
/// `sha512-…` integrity of [`SCRIPT`].
pub(crate) fn script_node(kratos: &Kratos) -> UiNode {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha512::digest(SCRIPT.as_bytes());
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    let base = kratos.config().serve.public_base_url();
    let src = format!("{}{SCRIPT_PATH}", base.trim_end_matches('/'));
    UiNode::script(NodeGroup::Webauthn, "webauthn_script", &src, &integrity)
}

/// How long a browser waits for the authenticator (go-webauthn's default, 5 minutes).
const AUTHENTICATOR_TIMEOUT: Duration = Duration::from_secs(300);

/// The relying party of `selfservice.methods.<method>.config.rp`: `id` (required),
/// `display_name` (default: the id) and `origins` (default: the public URL's scheme and the
/// id, as Kratos). [`check_relying_party`] refuses a configuration without an id or with an
/// origin that is not a URL when the registry is built, so this only fails on a registry
/// built around that check.
pub(crate) fn relying_party(
    kratos: &Kratos,
    method_config: &Value,
) -> Result<WebauthnCore, FlowError> {
    let rp = parse_relying_party(&kratos.config().serve.public_base_url(), method_config)
        .map_err(|(key, reason)| FlowError::Internal(format!("config.{key}: {reason}")))?;
    Ok(WebauthnCore::new_unsafe_experts_only(
        &rp.name,
        &rp.id,
        rp.origins,
        AUTHENTICATOR_TIMEOUT,
        None,
        None,
    ))
}

/// A relying party as configured.
struct RelyingParty {
    id: String,
    name: String,
    origins: Vec<Url>,
}

/// Reads `config.rp`; an error names the key under `config` and why.
fn parse_relying_party(
    public_base_url: &str,
    method_config: &Value,
) -> Result<RelyingParty, (&'static str, String)> {
    let rp = method_config.get("rp").unwrap_or(&Value::Null);
    let id = rp
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(("rp.id", "is required".to_owned()))?;
    let name = rp
        .get("display_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(id);
    let origins: Vec<String> = match rp.get("origins").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|o| {
                o.as_str()
                    .map(str::to_owned)
                    .ok_or(("rp.origins", "must list URLs".to_owned()))
            })
            .collect::<Result<_, _>>()?,
        _ => match rp.get("origin").and_then(Value::as_str) {
            Some(one) => vec![one.to_owned()],
            None => {
                let scheme = Url::parse(public_base_url)
                    .map(|u| u.scheme().to_owned())
                    .unwrap_or_else(|_| "https".into());
                vec![format!("{scheme}://{id}")]
            }
        },
    };
    let origins = origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| ("rp.origins", format!("{o:?} is not a URL: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RelyingParty {
        id: id.to_owned(),
        name: name.to_owned(),
        origins,
    })
}

/// Checks the relying party of an enabled `passkey` or `webauthn` method: a configuration
/// error naming `selfservice.methods.<method>.config.rp…` when it has no id or an origin is
/// not a URL.
pub(crate) fn check_relying_party(
    config: &crate::config::Config,
) -> Result<(), crate::config::ConfigError> {
    let methods = &config.selfservice.methods;
    for (name, method) in [
        ("passkey", &methods.passkey),
        ("webauthn", &methods.webauthn),
    ] {
        if !method.enabled {
            continue;
        }
        if name == "passkey" {
            check_authenticator_selection(method)?;
        }
        if let Err((key, reason)) =
            parse_relying_party(&config.serve.public_base_url(), &method.config)
        {
            return Err(crate::config::ConfigError::invalid(
                format!("selfservice.methods.{name}.config.{key}"),
                reason,
            ));
        }
    }
    Ok(())
}

/// `selfservice.methods.passkey.config.authenticator_selection.user_verification`
/// (`required`, `preferred` (the default) or `discouraged`), as the ceremonies ask for it.
pub(crate) fn user_verification(
    kratos: &Kratos,
) -> webauthn_rs_core::proto::UserVerificationPolicy {
    use webauthn_rs_core::proto::UserVerificationPolicy as Uv;
    match kratos.config().selfservice.methods.passkey.config["authenticator_selection"]
        ["user_verification"]
        .as_str()
    {
        Some("required") => Uv::Required,
        Some("discouraged") => Uv::Discouraged_DO_NOT_USE,
        _ => Uv::Preferred,
    }
}

/// Checks `selfservice.methods.passkey.config.authenticator_selection`: `user_verification`
/// is one of Kratos's values; `resident_key` other than `required` and `attachment` are not
/// implemented here, and are refused naming the key rather than ignored.
fn check_authenticator_selection(
    method: &crate::config::RawMethodConfig,
) -> Result<(), crate::config::ConfigError> {
    let selection = &method.config["authenticator_selection"];
    let key = "selfservice.methods.passkey.config.authenticator_selection";
    let invalid = |k: &str, reason: &str| {
        Err(crate::config::ConfigError::invalid(
            format!("{key}.{k}"),
            reason.to_owned(),
        ))
    };
    match &selection["user_verification"] {
        Value::Null => {}
        Value::String(v) if ["required", "preferred", "discouraged"].contains(&v.as_str()) => {}
        _ => {
            return invalid(
                "user_verification",
                "must be required, preferred or discouraged",
            );
        }
    }
    match &selection["resident_key"] {
        Value::Null => {}
        Value::String(v) if v == "required" => {}
        _ => return invalid("resident_key", "only `required` is implemented"),
    }
    if !selection["attachment"].is_null() {
        return invalid("attachment", "is not implemented");
    }
    Ok(())
}

/// The stored keys of `identity`'s `passkey` or `webauthn` credential (none when it has
/// none, or its config does not read).
pub(crate) fn stored_keys(
    identity: &crate::identity::Identity,
    credential_type: crate::identity::CredentialType,
) -> credential::WebauthnConfig {
    identity
        .credential(credential_type)
        .and_then(|c| serde_json::from_value(c.config.clone()).ok())
        .unwrap_or_default()
}

/// Whether a settings submission is `method`'s: its `method`, or one of the `fields` its
/// buttons and the browser script post without a `method`, set and not empty.
pub(crate) fn claims_settings(payload: &Value, method: &str, fields: &[&str]) -> bool {
    payload.get("method").and_then(Value::as_str) == Some(method)
        || fields.iter().any(|k| {
            payload
                .get(*k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        })
}

/// The label of a key's remove button: message `id`, `Remove <noun> "<name>"`, context
/// `{display_name, added_at, added_at_unix}`, as Kratos words 1050018 and 1050020.
pub(crate) fn remove_key_label(
    id: u32,
    noun: &str,
    name: &str,
    added_at: chrono::DateTime<chrono::Utc>,
) -> UiText {
    UiText::info(id, format!("Remove {noun} \"{name}\"")).with_context(serde_json::json!({
        "display_name": name,
        "added_at": added_at,
        "added_at_unix": added_at.timestamp(),
    }))
}

/// Kratos's messages of the WebAuthn and passkey methods.
pub mod text {
    use super::UiText;

    /// 1010021 "Sign in with passkey"
    pub fn login_passkey() -> UiText {
        UiText::info(1010021, "Sign in with passkey")
    }

    /// 1040007 "Sign up with passkey"
    pub fn register_passkey() -> UiText {
        UiText::info(1040007, "Sign up with passkey")
    }

    /// 4000015 "This account does not exist or has no security key set up."
    pub fn no_such_webauthn_user() -> UiText {
        UiText::error(
            4000015,
            "This account does not exist or has no security key set up.",
            None,
        )
    }

    /// 4000013 "You have no WebAuthn device set up."
    pub fn no_webauthn_device() -> UiText {
        UiText::error(4000013, "You have no WebAuthn device set up.", None)
    }

    /// 4000043 "The provided web authn login is invalid, please try again."
    pub fn webauthn_verifier_wrong() -> UiText {
        UiText::error(
            4000043,
            "The provided web authn login is invalid, please try again.",
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn method(selection: Value) -> crate::config::RawMethodConfig {
        crate::config::RawMethodConfig {
            enabled: true,
            config: json!({"rp": {"id": "example.com", "display_name": "Example"},
                           "authenticator_selection": selection}),
        }
    }

    #[test]
    fn authenticator_selection_is_honoured_or_refused_naming_the_key() {
        for fine in [
            json!(null),
            json!({}),
            json!({"user_verification": "required", "resident_key": "required"}),
            json!({"user_verification": "discouraged"}),
        ] {
            check_authenticator_selection(&method(fine.clone()))
                .unwrap_or_else(|e| panic!("{fine}: {e}"));
        }
        for (bad, key) in [
            (json!({"user_verification": "always"}), "user_verification"),
            (json!({"resident_key": "preferred"}), "resident_key"),
            (json!({"attachment": "platform"}), "attachment"),
        ] {
            let err = check_authenticator_selection(&method(bad)).unwrap_err();
            assert!(
                err.to_string().contains(&format!(
                    "selfservice.methods.passkey.config.authenticator_selection.{key}"
                )),
                "{err}"
            );
        }
    }
}
