//! `session.*` and `cookies.*`: session lifespan, the session cookie and cookie defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::KratosDuration;

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
    /// `session.whoami.tokenizer`: how `GET /sessions/whoami?tokenize_as=<name>` turns the
    /// session into a signed JSON Web Token (kratos-core's `jwt` feature).
    pub tokenizer: TokenizerConfig,
}

/// `session.whoami.tokenizer`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// `session.whoami.tokenizer.templates`: the templates by name (the `tokenize_as` value).
    pub templates: BTreeMap<String, TokenizeTemplate>,
}

/// One template of `session.whoami.tokenizer.templates`.
///
/// `Debug` and serialisation leave out the text of a `base64://` JWKS (it holds a private
/// key): they show `base64://` followed by [`REDACTED`](super::REDACTED).
#[derive(Clone, Deserialize, Serialize)]
pub struct TokenizeTemplate {
    /// `ttl`: how long the token is valid (`exp` − `iat`; default `1m`).
    #[serde(default = "one_minute")]
    pub ttl: KratosDuration,
    /// `claims_mapper_url`: a Jsonnet template (`file://`, `base64://`, `http(s)://`) that
    /// sees `std.extVar('session')` and `std.extVar('claims')` and answers `{claims: {…}}`,
    /// merged over the standard claims. Unset or empty: no mapper.
    #[serde(default)]
    pub claims_mapper_url: Option<String>,
    /// `jwks_url` (required): the JSON Web Key Set whose first key signs, `file://` or
    /// `base64://` only (as Kratos: fetching a private key over HTTP makes no sense).
    #[serde(serialize_with = "serialize_key_source")]
    pub jwks_url: String,
    /// `subject_source`: what the `sub` claim holds (default `id`).
    #[serde(default)]
    pub subject_source: SubjectSource,
}

fn one_minute() -> KratosDuration {
    KratosDuration(Duration::from_secs(60))
}

/// What a tokenized session's `sub` claim holds (`subject_source`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SubjectSource {
    /// The identity's id (default).
    #[default]
    Id,
    /// The identity's `external_id`: tokenizing a session whose identity has none fails.
    ExternalId,
}

/// A key set's location without the text of a `base64://` one.
pub(crate) fn redact_key_source(url: &str) -> String {
    if url.trim_start().starts_with("base64://") {
        format!("base64://{}", super::REDACTED)
    } else {
        super::redact_url(url)
    }
}

fn serialize_key_source<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_key_source(url))
}

impl std::fmt::Debug for TokenizeTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizeTemplate")
            .field("ttl", &self.ttl)
            .field(
                "claims_mapper_url",
                &self.claims_mapper_url.as_deref().map(redact_key_source),
            )
            .field("jwks_url", &redact_key_source(&self.jwks_url))
            .field("subject_source", &self.subject_source)
            .finish()
    }
}

impl TokenizeTemplate {
    /// The claims mapper's location, `None` when unset or empty.
    pub fn claims_mapper(&self) -> Option<&str> {
        self.claims_mapper_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

impl TokenizerConfig {
    /// Checks every template: `jwks_url` is a `file://` or `base64://` URL, and
    /// `claims_mapper_url`, when set, a `file://`, `base64://`, `http://` or `https://` one.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`](super::ConfigError::Invalid) naming the template's key.
    pub fn validate(&self) -> Result<(), super::ConfigError> {
        for (name, t) in &self.templates {
            let key = format!("session.whoami.tokenizer.templates.{name}");
            let jwks = t.jwks_url.trim();
            if !(jwks.starts_with("file://") || jwks.starts_with("base64://")) {
                return Err(super::ConfigError::invalid(
                    format!("{key}.jwks_url"),
                    "must be a file:// or base64:// URL (the key set holds the private signing key, which is not fetched over HTTP)",
                ));
            }
            if let Some(mapper) = t.claims_mapper()
                && !["file://", "base64://", "http://", "https://"]
                    .iter()
                    .any(|s| mapper.starts_with(s))
            {
                return Err(super::ConfigError::invalid(
                    format!("{key}.claims_mapper_url"),
                    "must be a file://, base64://, http:// or https:// URL",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::session::RequiredAal;

    #[test]
    fn required_aal_takes_aal1_and_highest_available_only() {
        let c = Config::default();
        assert_eq!(c.session.whoami.required_aal, RequiredAal::HighestAvailable);
        assert_eq!(
            c.selfservice.flows.settings.required_aal,
            RequiredAal::HighestAvailable
        );
        for (text, aal) in [
            ("aal1", RequiredAal::Aal1),
            ("highest_available", RequiredAal::HighestAvailable),
        ] {
            let c = Config::from_yaml_str(&format!(
                "session:\n  whoami:\n    required_aal: {text}\nselfservice:\n  flows:\n    settings:\n      required_aal: {text}\n"
            ))
            .unwrap();
            assert_eq!(c.session.whoami.required_aal, aal);
            assert_eq!(c.selfservice.flows.settings.required_aal, aal);
            let c = Config::from_json_str(&format!(
                r#"{{"session":{{"whoami":{{"required_aal":"{text}"}}}}}}"#
            ))
            .unwrap();
            assert_eq!(c.session.whoami.required_aal, aal);
        }
        for bad in ["aal2", "aal3", "AAL1", "highest", "\"\""] {
            let err =
                Config::from_yaml_str(&format!("session:\n  whoami:\n    required_aal: {bad}\n"))
                    .unwrap_err();
            assert_eq!(
                err.key(),
                Some("session.whoami.required_aal"),
                "{bad}: {err}"
            );
            let err = Config::from_yaml_str(&format!(
                "selfservice:\n  flows:\n    settings:\n      required_aal: {bad}\n"
            ))
            .unwrap_err();
            assert_eq!(
                err.key(),
                Some("selfservice.flows.settings.required_aal"),
                "{bad}: {err}"
            );
        }
    }
}
