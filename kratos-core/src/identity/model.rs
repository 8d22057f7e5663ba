//! The identity record and its parts, in Kratos's JSON shape.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// An identity: a person or a machine that can authenticate.
///
/// Serialises exactly as Kratos's `identity` object. `credentials` is only present when asked
/// for (admin API with credentials); its secrets never appear in `Debug` output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The identity's id (UUID v7, chosen by the library).
    pub id: Uuid,
    /// The id of the identity schema its traits follow.
    pub schema_id: String,
    /// Where the schema can be fetched (`<public>/schemas/<base64url(id)>`).
    #[serde(default)]
    pub schema_url: String,
    /// `active` or `inactive`. Inactive identities cannot sign in.
    pub state: IdentityState,
    /// When `state` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<DateTime<Utc>>,
    /// The traits, valid against the identity schema.
    pub traits: Value,
    /// Addresses that can be verified, derived from traits marked with `verification.via`.
    #[serde(default)]
    pub verifiable_addresses: Vec<VerifiableAddress>,
    /// Addresses usable for recovery, derived from traits marked with `recovery.via`.
    #[serde(default)]
    pub recovery_addresses: Vec<RecoveryAddress>,
    /// Metadata the identity itself may see (for example in whoami).
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Metadata only the admin API shows.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// Credentials by type; empty unless requested.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<CredentialType, Credentials>,
    /// An id in another system, unique per tenant when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The organization the identity belongs to.
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    /// When the identity was created.
    pub created_at: DateTime<Utc>,
    /// When the identity was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Identity {
    /// The credential of a type, if the identity has one.
    pub fn credential(&self, t: CredentialType) -> Option<&Credentials> {
        self.credentials.get(&t)
    }

    /// Every credential identifier of the identity, with its type.
    pub fn identifiers(&self) -> impl Iterator<Item = (CredentialType, &str)> {
        self.credentials
            .iter()
            .flat_map(|(t, c)| c.identifiers.iter().map(move |i| (*t, i.as_str())))
    }

    /// Whether the identity is active.
    pub fn is_active(&self) -> bool {
        self.state == IdentityState::Active
    }
}

/// `active` or `inactive`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    /// May sign in.
    #[default]
    Active,
    /// May not sign in; sessions are inactive.
    Inactive,
}

impl IdentityState {
    /// The wire string.
    pub fn as_str(&self) -> &'static str {
        match self {
            IdentityState::Active => "active",
            IdentityState::Inactive => "inactive",
        }
    }

    /// Parses the wire string.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(IdentityState::Active),
            "inactive" => Some(IdentityState::Inactive),
            _ => None,
        }
    }
}

/// The kinds of credential, with Kratos's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialType {
    /// Password.
    Password,
    /// OpenID Connect / social sign-in.
    Oidc,
    /// Time-based one-time passwords.
    Totp,
    /// Lookup secrets (backup codes).
    LookupSecret,
    /// WebAuthn.
    Webauthn,
    /// One-time codes sent by email or SMS.
    Code,
    /// Passkeys.
    Passkey,
    /// SAML.
    Saml,
}

impl CredentialType {
    /// Every credential type.
    pub const ALL: [CredentialType; 8] = [
        CredentialType::Password,
        CredentialType::Oidc,
        CredentialType::Totp,
        CredentialType::LookupSecret,
        CredentialType::Webauthn,
        CredentialType::Code,
        CredentialType::Passkey,
        CredentialType::Saml,
    ];

    /// The wire name (`password`, `lookup_secret`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Oidc => "oidc",
            CredentialType::Totp => "totp",
            CredentialType::LookupSecret => "lookup_secret",
            CredentialType::Webauthn => "webauthn",
            CredentialType::Code => "code",
            CredentialType::Passkey => "passkey",
            CredentialType::Saml => "saml",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        CredentialType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for CredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential of an identity: its identifiers and its method-specific configuration,
/// stored as Kratos stores it (for example `{"hashed_password": "$argon2id$…"}`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    /// The credential type.
    #[serde(rename = "type")]
    pub credential_type: CredentialType,
    /// Identifiers that find this credential (normalised), unique per tenant and type.
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// Method-specific configuration (may hold secrets: never logged).
    #[serde(default = "empty_object")]
    pub config: Value,
    /// The version of the configuration's format.
    #[serde(default)]
    pub version: i32,
    /// When the credential was created.
    pub created_at: DateTime<Utc>,
    /// When the credential was last changed.
    pub updated_at: DateTime<Utc>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("credential_type", &self.credential_type)
            .field("identifiers", &self.identifiers)
            .field("config", &"<redacted>")
            .field("version", &self.version)
            .finish()
    }
}

impl Credentials {
    /// The stored password hash, for password credentials.
    pub fn hashed_password(&self) -> Option<&str> {
        self.config
            .get("hashed_password")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Whether this credential can sign an identity in on its own (a first factor).
    pub fn is_first_factor(&self) -> bool {
        match self.credential_type {
            CredentialType::Password => {
                self.hashed_password().is_some()
                    || self
                        .config
                        .get("use_password_migration_hook")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
            }
            CredentialType::Oidc | CredentialType::Saml => self
                .config
                .get("providers")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty()),
            CredentialType::Passkey => self
                .config
                .get("credentials")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty()),
            CredentialType::Webauthn => self
                .config
                .get("credentials")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.get("is_passwordless")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    })
                }),
            CredentialType::Code => !self.identifiers.is_empty(),
            CredentialType::Totp | CredentialType::LookupSecret => false,
        }
    }
}

/// How an address is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressVia {
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl AddressVia {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AddressVia::Email => "email",
            AddressVia::Sms => "sms",
        }
    }
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(AddressVia::Email),
            "sms" => Some(AddressVia::Sms),
            _ => None,
        }
    }
}

/// Where an address is in its verification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    /// Nothing sent yet.
    #[default]
    Pending,
    /// A verification message was sent.
    Sent,
    /// Verified.
    Completed,
}

impl VerificationStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            VerificationStatus::Pending => "pending",
            VerificationStatus::Sent => "sent",
            VerificationStatus::Completed => "completed",
        }
    }
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(VerificationStatus::Pending),
            "sent" => Some(VerificationStatus::Sent),
            "completed" => Some(VerificationStatus::Completed),
            _ => None,
        }
    }
}

/// An address that can be verified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifiableAddress {
    /// The address id.
    pub id: Uuid,
    /// The address (normalised).
    pub value: String,
    /// Whether it is verified.
    pub verified: bool,
    /// Email or SMS.
    pub via: AddressVia,
    /// Where verification stands.
    pub status: VerificationStatus,
    /// When it was verified.
    #[serde(default)]
    pub verified_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An address usable for account recovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryAddress {
    /// The address id.
    pub id: Uuid,
    /// The address (normalised).
    pub value: String,
    /// Email or SMS.
    pub via: AddressVia,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}
