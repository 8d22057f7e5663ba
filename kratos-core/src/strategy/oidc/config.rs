//! `selfservice.methods.oidc.config`: the providers, with Kratos's keys.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Secret;

/// `selfservice.methods.oidc.config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct OidcConfig {
    /// `base_redirect_uri`: the public URL callbacks are built on, when it is not the public
    /// base URL (Kratos behind a domain of its own).
    pub base_redirect_uri: Option<String>,
    /// `providers`.
    pub providers: Vec<ProviderConfig>,
}

/// When to use PKCE (`pkce`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pkce {
    /// `auto` (default): when the provider's discovery document lists `S256`.
    #[default]
    Auto,
    /// `force`: always; the callback is then `/self-service/methods/oidc/callback` (the
    /// provider is read from the state).
    Force,
    /// `never`.
    Never,
}

/// Where the claims come from (`claims_source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimsSource {
    /// `id_token` (default): the verified ID token.
    #[default]
    IdToken,
    /// `userinfo`: the userinfo endpoint (with the access token).
    Userinfo,
}

/// What happens when a new social sign-in has an identifier an existing identity has
/// (`account_linking_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountLinkingMode {
    /// `confirm_with_existing_credential` (default): the user signs in to the existing account
    /// first; the provider is linked then.
    #[default]
    ConfirmWithExistingCredential,
    /// `automatic`: the provider is linked to the existing identity at once.
    Automatic,
}

/// One provider of `selfservice.methods.oidc.config.providers`, with Kratos's keys.
#[derive(Clone, Deserialize)]
pub struct ProviderConfig {
    /// `id`: the provider's name in forms, callbacks and credentials.
    pub id: String,
    /// `provider`: `generic`, `google`, `microsoft`, `gitlab`, `github`, or a host app's
    /// own type.
    pub provider: String,
    /// `label`: the name shown on buttons (default: the `id`).
    #[serde(default)]
    pub label: Option<String>,
    /// `client_id`
    pub client_id: String,
    /// `client_secret`
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// `issuer_url`: the OpenID Provider, found by discovery (`generic`, `gitlab`).
    #[serde(default)]
    pub issuer_url: Option<String>,
    /// `auth_url`: the authorization endpoint, overriding discovery or the default.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// `token_url`: the token endpoint, overriding discovery or the default.
    #[serde(default)]
    pub token_url: Option<String>,
    /// `microsoft_tenant`: `common` (default), `organizations`, `consumers` or a tenant id.
    #[serde(default)]
    pub microsoft_tenant: Option<String>,
    /// `scope`: the scopes asked for.
    #[serde(default)]
    pub scope: Vec<String>,
    /// `mapper_url`: the Jsonnet claims mapper (`file://`, `base64://`).
    #[serde(default)]
    pub mapper_url: String,
    /// `requested_claims`: the OpenID Connect `claims` request parameter.
    #[serde(default)]
    pub requested_claims: Option<Value>,
    /// `additional_id_token_audiences`: audiences an ID token may have besides the client.
    #[serde(default)]
    pub additional_id_token_audiences: Vec<String>,
    /// `claims_source`
    #[serde(default)]
    pub claims_source: ClaimsSource,
    /// `pkce`
    #[serde(default)]
    pub pkce: Pkce,
    /// `account_linking_mode`
    #[serde(default)]
    pub account_linking_mode: AccountLinkingMode,
    /// `aal2_acr_values`: an upstream `acr` among these makes the sign-in aal2.
    #[serde(default)]
    pub aal2_acr_values: Vec<String>,
    /// `aal2_amr_values`: an upstream `amr` entry among these makes the sign-in aal2.
    #[serde(default)]
    pub aal2_amr_values: Vec<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// The name shown on buttons: `label`, else the provider's `id`.
    pub fn label(&self) -> &str {
        self.label
            .as_deref()
            .filter(|l| !l.is_empty())
            .unwrap_or(&self.id)
    }

    /// The client secret, or an empty one.
    pub fn client_secret(&self) -> &str {
        self.client_secret.as_ref().map_or("", |s| s.expose())
    }

    /// The level a sign-in with these upstream `acr` / `amr` claims reaches: aal2 when the
    /// `acr` is one of `aal2_acr_values` or an `amr` entry one of `aal2_amr_values`.
    pub fn aal_for(&self, acr: Option<&str>, amr: &[String]) -> crate::session::Aal {
        let acr_hit =
            acr.is_some_and(|a| !a.is_empty() && self.aal2_acr_values.iter().any(|v| v == a));
        let amr_hit = self.aal2_amr_values.iter().any(|want| amr.contains(want));
        if acr_hit || amr_hit {
            crate::session::Aal::Aal2
        } else {
            crate::session::Aal::Aal1
        }
    }
}

/// Kratos's provider keys that are not implemented, with the value that means "off".
const UNIMPLEMENTED_PROVIDER_KEYS: [(&str, Option<&str>); 8] = [
    ("apple_team_id", None),
    ("apple_private_key_id", None),
    ("apple_private_key", None),
    ("organization_id", None),
    ("fedcm_config_url", None),
    ("net_id_token_origin_header", None),
    ("update_identity_on_login", Some("never")),
    ("subject_source", Some("userinfo")),
];

impl OidcConfig {
    /// Reads the method's configuration value.
    ///
    /// # Errors
    ///
    /// A message naming what does not fit (the value is never quoted: it holds secrets).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        if value.is_null() {
            return Ok(Self::default());
        }
        // Kratos's provider keys this method does not implement: an error naming the key
        // (the configuration would otherwise be quietly ignored), unless it holds nothing
        // or Kratos's default.
        if let Some(providers) = value.get("providers").and_then(Value::as_array) {
            for (i, p) in providers.iter().enumerate() {
                for (key, default) in UNIMPLEMENTED_PROVIDER_KEYS {
                    let set = p.get(key).is_some_and(|v| match v {
                        Value::Null => false,
                        Value::String(s) => !s.is_empty() && Some(s.as_str()) != default,
                        Value::Array(a) => !a.is_empty(),
                        _ => true,
                    });
                    if set {
                        return Err(format!(
                            "selfservice.methods.oidc.config.providers.{i}.{key}: not implemented"
                        ));
                    }
                }
            }
        }
        let config: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            format!(
                "selfservice.methods.oidc.config.{}: the value does not fit",
                e.path()
            )
        })?;
        let mut seen = std::collections::HashSet::new();
        for p in &config.providers {
            if p.id.is_empty() {
                return Err(
                    "selfservice.methods.oidc.config.providers: a provider has no id".into(),
                );
            }
            if !seen.insert(p.id.as_str()) {
                return Err(format!(
                    "selfservice.methods.oidc.config.providers: the id {:?} is used twice",
                    p.id
                ));
            }
        }
        Ok(config)
    }

    /// The provider configured under `id`.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_kratos_has_but_this_method_does_not_implement_are_named() {
        let base = json!({"id": "a", "provider": "generic", "client_id": "c"});
        for (key, value) in [
            ("apple_private_key", json!("k")),
            ("update_identity_on_login", json!("automatic")),
            ("subject_source", json!("me")),
            ("organization_id", json!("o")),
        ] {
            let mut p = base.clone();
            p[key] = value;
            let e = OidcConfig::from_value(&json!({"providers": [p]})).unwrap_err();
            assert_eq!(
                e,
                format!("selfservice.methods.oidc.config.providers.0.{key}: not implemented")
            );
        }
        // Kratos's defaults are fine.
        let mut p = base.clone();
        p["update_identity_on_login"] = json!("never");
        p["subject_source"] = json!("userinfo");
        assert!(OidcConfig::from_value(&json!({"providers": [p]})).is_ok());
        // Two providers with one id.
        assert!(OidcConfig::from_value(&json!({"providers": [base.clone(), base]})).is_err());
    }

    #[test]
    fn the_level_follows_the_upstream_acr_and_amr() {
        let p: ProviderConfig = serde_json::from_value(json!({
            "id": "a", "provider": "generic", "client_id": "c",
            "aal2_acr_values": ["mfa"], "aal2_amr_values": ["otp", "hwk"]
        }))
        .unwrap();
        use crate::session::Aal;
        assert_eq!(p.aal_for(Some("mfa"), &[]), Aal::Aal2);
        assert_eq!(p.aal_for(Some(""), &[]), Aal::Aal1);
        assert_eq!(p.aal_for(None, &["pwd".into(), "hwk".into()]), Aal::Aal2);
        assert_eq!(p.aal_for(Some("pwd"), &["pwd".into()]), Aal::Aal1);
        assert!(!format!("{p:?}").contains("secret"));
    }
}
