//! WebAuthn credentials in Kratos's stored shape (`identity.CredentialsWebAuthnConfig`):
//! byte fields are standard base64 as Go writes `[]byte`, the public key is the COSE key
//! the authenticator gave, and `user_handle` is the handle discoverable logins answer with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use webauthn_rs_core::proto::{
    AttestationFormat, COSEKey, Credential, ParsedAttestation, RegisteredExtensions,
    UserVerificationPolicy,
};

/// `[]byte` as Go's `encoding/json` writes it: standard base64, `null` for nil.
mod go_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Vec::new()),
            Some(text) => STANDARD
                .decode(text.as_bytes())
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The configuration of a `webauthn` or `passkey` credential.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebauthnConfig {
    /// The keys.
    #[serde(default)]
    pub credentials: Vec<StoredCredential>,
    /// The user handle discoverable logins answer with (`null` for keys registered as a
    /// second factor only).
    #[serde(default, with = "go_bytes")]
    pub user_handle: Vec<u8>,
}

/// One key (`identityCredentialsWebAuthn`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// The credential id.
    #[serde(with = "go_bytes")]
    pub id: Vec<u8>,
    /// The COSE public key.
    #[serde(with = "go_bytes")]
    pub public_key: Vec<u8>,
    /// The attestation type (`none`).
    #[serde(default)]
    pub attestation_type: String,
    /// The authenticator's model and counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator: Option<StoredAuthenticator>,
    /// The name the user gave the key.
    #[serde(default)]
    pub display_name: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// Whether it signs in on its own (passkeys, `passwordless: true` keys).
    #[serde(default)]
    pub is_passwordless: bool,
    /// The flags of registration (backup state updated by logins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<StoredFlags>,
    /// Transport hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transport: Vec<String>,
    /// The attestation Kratos keeps (kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<serde_json::Value>,
}

/// `identityCredentialsWebAuthnAuthenticator`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredAuthenticator {
    /// The authenticator model.
    #[serde(default, with = "go_bytes")]
    pub aaguid: Vec<u8>,
    /// The signature counter last seen.
    #[serde(default)]
    pub sign_count: u32,
    /// Set when a login showed a counter that did not advance.
    #[serde(default)]
    pub clone_warning: bool,
}

/// `identityCredentialsWebAuthnFlags`
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredFlags {
    /// User present at registration.
    #[serde(default)]
    pub user_present: bool,
    /// User verified at registration.
    #[serde(default)]
    pub user_verified: bool,
    /// The key may be synchronised.
    #[serde(default)]
    pub backup_eligible: bool,
    /// The key is synchronised.
    #[serde(default)]
    pub backup_state: bool,
}

/// Why a stored key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the stored WebAuthn public key is not a COSE key this library verifies")]
pub struct UnusableKey;

impl StoredCredential {
    /// The key as webauthn-rs-core verifies it: the COSE key decoded, the counter and the
    /// backup flags as stored. Keys stored without flags (older Kratos versions) take the
    /// flags of the assertion (`allow_backup_eligible_upgrade`).
    pub fn to_core(&self) -> Result<Credential, UnusableKey> {
        let value: serde_cbor_2::Value =
            serde_cbor_2::from_slice(&self.public_key).map_err(|_| UnusableKey)?;
        let cred = COSEKey::try_from(&value).map_err(|_| UnusableKey)?;
        let flags = self.flags.unwrap_or_default();
        Ok(Credential {
            cred_id: self.id.clone(),
            cred,
            counter: self.authenticator.as_ref().map_or(0, |a| a.sign_count),
            transports: None,
            user_verified: flags.user_verified,
            backup_eligible: flags.backup_eligible,
            backup_state: flags.backup_state,
            registration_policy: UserVerificationPolicy::Preferred,
            extensions: RegisteredExtensions::none(),
            attestation: ParsedAttestation::default(),
            attestation_format: AttestationFormat::None,
        })
    }
}

/// What the authenticator data of an attestation holds for a new key.
#[derive(Debug)]
pub(crate) struct AttestedKey {
    pub aaguid: Vec<u8>,
    pub credential_id: Vec<u8>,
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    pub flags: StoredFlags,
}

/// Reads the attested credential data of an attestation object (CBOR `{fmt, attStmt,
/// authData}`): the COSE public key bytes as the authenticator wrote them, which Kratos
/// stores. `None` when it is malformed (every length is checked).
pub(crate) fn attested_key(attestation_object: &[u8]) -> Option<AttestedKey> {
    use serde_cbor_2::Value;
    let object: Value = serde_cbor_2::from_slice(attestation_object).ok()?;
    let Value::Map(map) = object else {
        return None;
    };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (Value::Text(k), Value::Bytes(b)) if k == "authData" => Some(b.as_slice()),
        _ => None,
    })?;
    let flags = *auth_data.get(32)?;
    let sign_count = u32::from_be_bytes(auth_data.get(33..37)?.try_into().ok()?);
    if flags & 0x40 == 0 {
        return None;
    }
    let aaguid = auth_data.get(37..53)?.to_vec();
    let id_len = usize::from(u16::from_be_bytes(auth_data.get(53..55)?.try_into().ok()?));
    let id_end = 55usize.checked_add(id_len)?;
    let credential_id = auth_data.get(55..id_end)?.to_vec();
    let rest = auth_data.get(id_end..)?;
    let mut de = serde_cbor_2::Deserializer::from_slice(rest);
    let _key: Value = serde::Deserialize::deserialize(&mut de).ok()?;
    let public_key = rest.get(..de.byte_offset())?.to_vec();
    Some(AttestedKey {
        aaguid,
        credential_id,
        public_key,
        sign_count,
        flags: StoredFlags {
            user_present: flags & 0x01 != 0,
            user_verified: flags & 0x04 != 0,
            backup_eligible: flags & 0x08 != 0,
            backup_state: flags & 0x10 != 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kratos's own fixture (selfservice/strategy/passkey/fixtures/login/success).
    const KRATOS_FIXTURE: &str = r#"{
      "credentials": [{
        "id": "OE7fnoAeqaydiBM4+fQsbYMiO+EObq97WYb/c1HuX8Crbsb2777xs+upv7muXE8hOLkm6lQHC1ahegnzw+aIsQ==",
        "public_key": "pQECAyYgASFYIPW2FsD6d/Lc7SU33hMhJUxafOA3JWpsLka8eKO+OPRkIlggkkPt8ocrupQOuvy+8HbQLSLiu899EdchJlWdMPE1tiw=",
        "attestation_type": "none",
        "authenticator": {"aaguid": "AAAAAAAAAAAAAAAAAAAAAA==", "sign_count": 3, "clone_warning": false},
        "display_name": "some-key",
        "added_at": "2021-08-17T10:18:55Z",
        "is_passwordless": true
      }],
      "user_handle": "c29tZS1yYW5kb20tdXNlci1oYW5kbGU="
    }"#;

    #[test]
    fn kratos_credentials_read_and_write_back_unchanged() {
        let config: WebauthnConfig = serde_json::from_str(KRATOS_FIXTURE).unwrap();
        assert_eq!(config.user_handle, b"some-random-user-handle");
        assert_eq!(config.credentials[0].id.len(), 64);
        let written = serde_json::to_value(&config).unwrap();
        let original: serde_json::Value = serde_json::from_str(KRATOS_FIXTURE).unwrap();
        assert_eq!(written, original);
        let core = config.credentials[0].to_core().unwrap();
        assert_eq!(core.counter, 3);
    }

    #[test]
    fn a_key_that_is_not_cose_is_unusable() {
        let mut config: WebauthnConfig = serde_json::from_str(KRATOS_FIXTURE).unwrap();
        config.credentials[0].public_key = vec![1, 2, 3];
        assert!(config.credentials[0].to_core().is_err());
    }

    #[test]
    fn malformed_attestation_objects_are_refused_without_panicking() {
        for bytes in [&[][..], &[0xa0], &[0xff, 0x00], &[0xa1, 0x68]] {
            assert!(attested_key(bytes).is_none());
        }
    }
}
