//! `session.*` and `cookies.*`: session lifespan, the session cookie and cookie defaults.

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
