//! A credential to add when a login completes: account linking, generic over methods.
//!
//! A method that finds, during a sign-up, that an existing identity has one of the new
//! identifiers (Kratos's "duplicate credentials") may continue in a login flow that keeps a
//! [`CredentialLink`] in its internal context. The login engine applies it when that flow
//! completes, whatever first factor signed in, and only for the identity that owns the
//! duplicate identifier (else the sign-in is refused with 4010009).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::FlowError;
use crate::strategy::InternalContext;

/// A credential a sign-in that found an existing account left to be added to it: kept in
/// a login flow's internal context (under [`CredentialLink::INTERNAL_KEY`], as Kratos's
/// `registration_duplicate_credentials`), it is added by the engine when that flow
/// completes with a first factor of the identity that owns `duplicate_identifier` (any
/// method: the engine names none). A sign-in to an identity that does not own it is refused
/// (4010009) and nothing is linked.
///
/// The method that leaves it builds the credential: its identifiers and the part of its
/// configuration to merge (secrets in it sealed with the cipher before they go in).
#[derive(Clone, Serialize, Deserialize)]
pub struct CredentialLink {
    /// The type of the credential to add to.
    pub credential_type: crate::identity::CredentialType,
    /// Identifiers to add to it.
    pub identifiers: Vec<String>,
    /// Configuration to merge into it: arrays are appended to the stored arrays of the same
    /// key, other values set where the stored configuration has none.
    pub config: Value,
    /// The identifier of the existing account the new sign-in had too.
    pub duplicate_identifier: String,
    /// A step the session records besides the one it signed in with (the linked method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<crate::session::AuthenticationMethod>,
}

impl std::fmt::Debug for CredentialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialLink")
            .field("credential_type", &self.credential_type)
            .finish_non_exhaustive()
    }
}

impl CredentialLink {
    /// Where a login flow keeps the link.
    pub const INTERNAL_KEY: &'static str = "registration_duplicate_credentials";

    /// Keeps the link in a flow's internal context.
    ///
    /// # Errors
    ///
    /// When it does not serialise (it always does).
    pub fn keep(&self, internal: &mut InternalContext) -> Result<(), FlowError> {
        let value = serde_json::to_value(self).map_err(|e| FlowError::Internal(e.to_string()))?;
        internal.set(Self::INTERNAL_KEY, value);
        Ok(())
    }

    /// The link a flow's internal context keeps, if any (one that does not read is none).
    pub fn kept(internal: &InternalContext) -> Option<Self> {
        internal
            .get(Self::INTERNAL_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Whether `identity` owns the duplicate identifier: one of its credentials has it, as
    /// Kratos checks.
    pub fn owned_by(&self, identity: &crate::identity::Identity) -> bool {
        !self.duplicate_identifier.is_empty()
            && identity
                .identifiers()
                .any(|(_, i)| i == self.duplicate_identifier)
    }

    /// Adds the credential to `identity`: its identifiers (those not there yet) and its
    /// configuration merged. Whether anything changed.
    pub fn apply(&self, identity: &mut crate::identity::Identity, now: DateTime<Utc>) -> bool {
        let entry = identity
            .credentials
            .entry(self.credential_type)
            .or_insert_with(|| crate::identity::Credentials {
                credential_type: self.credential_type,
                identifiers: Vec::new(),
                config: json!({}),
                version: 0,
                created_at: now,
                updated_at: now,
            });
        let mut changed = false;
        for i in &self.identifiers {
            if !entry.identifiers.contains(i) {
                entry.identifiers.push(i.clone());
                changed = true;
            }
        }
        if !entry.config.is_object() {
            entry.config = json!({});
        }
        if let (Some(stored), Some(add)) = (entry.config.as_object_mut(), self.config.as_object()) {
            for (key, value) in add {
                match (stored.get_mut(key), value) {
                    (Some(Value::Array(have)), Value::Array(more)) => {
                        for v in more {
                            if !have.contains(v) {
                                have.push(v.clone());
                                changed = true;
                            }
                        }
                    }
                    (Some(have), _) if !have.is_null() => {}
                    _ => {
                        stored.insert(key.clone(), value.clone());
                        changed = true;
                    }
                }
            }
        }
        if changed {
            entry.updated_at = now;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{CredentialType, Credentials, Identity};

    fn identity_with_password(email: &str) -> Identity {
        let now = Utc::now();
        let mut identity: Identity = serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(),
            "schema_id": "default",
            "schema_url": "",
            "state": "active",
            "traits": {"email": email},
            "created_at": now,
            "updated_at": now,
        }))
        .unwrap();
        identity.credentials.insert(
            CredentialType::Password,
            Credentials {
                credential_type: CredentialType::Password,
                identifiers: vec![email.to_owned()],
                config: json!({"hashed_password": "x"}),
                version: 0,
                created_at: now,
                updated_at: now,
            },
        );
        identity
    }

    fn link(entry: &str) -> CredentialLink {
        CredentialLink {
            credential_type: CredentialType::Oidc,
            identifiers: vec![format!("fake:{entry}")],
            config: json!({"providers": [{"provider": "fake", "subject": entry}]}),
            duplicate_identifier: "a@example.org".into(),
            authentication: None,
        }
    }

    #[test]
    fn only_the_owner_of_the_duplicate_identifier_owns_the_link() {
        assert!(link("s1").owned_by(&identity_with_password("a@example.org")));
        assert!(!link("s1").owned_by(&identity_with_password("b@example.org")));
        let mut empty = link("s1");
        empty.duplicate_identifier.clear();
        assert!(!empty.owned_by(&identity_with_password("")));
    }

    #[test]
    fn applying_adds_the_credential_then_merges_into_it() {
        let mut identity = identity_with_password("a@example.org");
        let now = Utc::now();
        assert!(link("s1").apply(&mut identity, now));
        let oidc = identity.credential(CredentialType::Oidc).unwrap();
        assert_eq!(oidc.identifiers, vec!["fake:s1"]);
        assert_eq!(oidc.config["providers"].as_array().unwrap().len(), 1);
        // The same again changes nothing; another subject is appended.
        assert!(!link("s1").apply(&mut identity, now));
        assert!(link("s2").apply(&mut identity, now));
        let oidc = identity.credential(CredentialType::Oidc).unwrap();
        assert_eq!(oidc.identifiers, vec!["fake:s1", "fake:s2"]);
        assert_eq!(oidc.config["providers"][1]["subject"], "s2");
        // The password credential is untouched.
        assert_eq!(
            identity
                .credential(CredentialType::Password)
                .unwrap()
                .config,
            json!({"hashed_password": "x"})
        );
    }

    #[test]
    fn a_link_round_trips_through_the_internal_context() {
        let mut internal = InternalContext::default();
        assert!(CredentialLink::kept(&internal).is_none());
        link("s1").keep(&mut internal).unwrap();
        let kept = CredentialLink::kept(&internal).unwrap();
        assert_eq!(kept.identifiers, vec!["fake:s1"]);
        assert!(
            !format!("{kept:?}").contains("s1"),
            "Debug shows no credential"
        );
    }
}
