//! The session record, in Kratos's JSON shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::Identity;

/// Authenticator assurance level.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    /// No authentication.
    #[default]
    Aal0,
    /// One factor.
    Aal1,
    /// Two factors.
    Aal2,
    /// Hardware-backed (not used yet).
    Aal3,
}

impl Aal {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Aal::Aal0 => "aal0",
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
            Aal::Aal3 => "aal3",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "aal0" => Some(Aal::Aal0),
            "aal1" => Some(Aal::Aal1),
            "aal2" => Some(Aal::Aal2),
            "aal3" => Some(Aal::Aal3),
            _ => None,
        }
    }
}

/// One completed authentication step of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationMethod {
    /// The method (`password`, `code`, `totp`, `oidc`, `code_recovery`, …).
    pub method: String,
    /// The level this step reaches.
    pub aal: Aal,
    /// When it was completed.
    pub completed_at: DateTime<Utc>,
    /// The OIDC/SAML provider, for those methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl AuthenticationMethod {
    /// A first-factor step (aal1) of `method`, completed at `completed_at`.
    pub fn first_factor(method: &str, completed_at: DateTime<Utc>) -> Self {
        Self {
            method: method.to_owned(),
            aal: Aal::Aal1,
            completed_at,
            provider: None,
        }
    }
}

/// A device a session was used from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device id.
    pub id: Uuid,
    /// The client's IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// The client's user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// A location, when known.
    #[serde(default)]
    pub location: Option<String>,
}

/// Who is asking for a session: recorded as a device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// A session, as Kratos's `session` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: Uuid,
    /// Whether it is active (not revoked).
    pub active: bool,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When the identity last authenticated.
    pub authenticated_at: DateTime<Utc>,
    /// The assurance level reached.
    pub authenticator_assurance_level: Aal,
    /// The authentication steps completed.
    pub authentication_methods: Vec<AuthenticationMethod>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The identity (without credentials and admin metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The devices it was used from.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// The identity's id.
    #[serde(skip)]
    pub identity_id: Uuid,
}

impl Session {
    /// The level the authentication methods reach, as Kratos computes it: none → aal0; an
    /// aal2 step together with an aal1 step (or an aal2 step from a federated provider) →
    /// aal2; otherwise aal1.
    pub fn compute_aal(methods: &[AuthenticationMethod]) -> Aal {
        if methods.is_empty() {
            return Aal::Aal0;
        }
        let has_aal1 = methods.iter().any(|m| m.aal == Aal::Aal1);
        let has_aal2 = methods
            .iter()
            .any(|m| m.aal == Aal::Aal2 && (has_aal1 || m.method == "oidc" || m.method == "saml"));
        if has_aal2 { Aal::Aal2 } else { Aal::Aal1 }
    }

    /// Active, not expired, and (when loaded) of an active identity.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.active && self.expires_at > now && self.identity.as_ref().is_none_or(|i| i.is_active())
    }
}

/// What a store keeps of a session: the session and the digests of its tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// The session (its `identity` is not stored).
    pub session: Session,
    /// SHA-256 of the session token.
    pub token_digest: [u8; 32],
    /// SHA-256 of the logout token.
    pub logout_token_digest: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(method: &str, aal: Aal) -> AuthenticationMethod {
        AuthenticationMethod {
            method: method.into(),
            aal,
            completed_at: Utc::now(),
            provider: None,
        }
    }

    #[test]
    fn aal_is_computed_as_kratos_does() {
        assert_eq!(Session::compute_aal(&[]), Aal::Aal0);
        assert_eq!(Session::compute_aal(&[m("password", Aal::Aal1)]), Aal::Aal1);
        assert_eq!(Session::compute_aal(&[m("totp", Aal::Aal2)]), Aal::Aal1);
        assert_eq!(
            Session::compute_aal(&[m("password", Aal::Aal1), m("totp", Aal::Aal2)]),
            Aal::Aal2
        );
        assert_eq!(Session::compute_aal(&[m("oidc", Aal::Aal2)]), Aal::Aal2);
    }
}
