//! A software passkey for the WebAuthn tests: an ES256 key (p256) that answers creation and
//! request options as a browser and an authenticator together would, with CBOR written by
//! serde_cbor_2 (the crate webauthn-rs-core reads it with).
//!
//! Written here rather than taken from webauthn-authenticator-rs or passkey-rs: both pull
//! a second WebAuthn stack (and, for the former, OpenSSL) into the test build, while this
//! needs only the curve the verifier already depends on.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::Digest as _;

/// One discoverable credential on a software authenticator.
pub struct SoftPasskey {
    key: SigningKey,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The user handle it was created for.
    pub user_handle: Vec<u8>,
    /// The signature counter the next assertion reports (incremented before each).
    pub counter: u32,
    /// The origin the "browser" reports in its client data.
    pub origin: String,
    /// Whether the key reports itself backed up (BE and BS flags).
    pub backed_up: bool,
}

impl std::fmt::Debug for SoftPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftPasskey")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SoftPasskey {
    /// A new key reporting `origin`.
    pub fn new(origin: &str) -> Self {
        let key = loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                break key;
            }
        };
        let credential_id: [u8; 32] = rand::random();
        Self {
            key,
            credential_id: credential_id.to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.to_owned(),
            backed_up: false,
        }
    }

    /// The COSE (EC2, ES256) public key, as the authenticator writes it.
    pub fn cose_public_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let mut map = BTreeMap::new();
        map.insert(Cbor::Integer(1), Cbor::Integer(2));
        map.insert(Cbor::Integer(3), Cbor::Integer(-7));
        map.insert(Cbor::Integer(-1), Cbor::Integer(1));
        map.insert(Cbor::Integer(-2), Cbor::Bytes(bytes[1..33].to_vec()));
        map.insert(Cbor::Integer(-3), Cbor::Bytes(bytes[33..65].to_vec()));
        serde_cbor_2::to_vec(&Cbor::Map(map)).expect("cbor")
    }

    fn flags(&self, base: u8) -> u8 {
        if self.backed_up { base | 0x18 } else { base }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("json")
    }

    /// Answers `passkey_create_data` (the registration form's JSON text) as the browser
    /// script does: the `passkey_register` value.
    pub fn register(&mut self, create_data: &str) -> String {
        let data: Value = serde_json::from_str(create_data).expect("create data");
        self.create(&data["credentialOptions"]["publicKey"])
    }

    /// Answers creation options (`publicKey`): the credential JSON of `create()`.
    pub fn create(&mut self, public_key: &Value) -> String {
        let rp_id = public_key["rp"]["id"].as_str().expect("rp id");
        let challenge = public_key["challenge"].as_str().expect("challenge");
        self.user_handle = URL_SAFE_NO_PAD
            .decode(public_key["user"]["id"].as_str().expect("user id"))
            .expect("user id");
        let mut auth_data = sha2::Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(0x45));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        let id_len = u16::try_from(self.credential_id.len()).expect("id length");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_public_key());
        let mut object = BTreeMap::new();
        object.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        object.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        object.insert(Cbor::Text("authData".into()), Cbor::Bytes(auth_data));
        let object = serde_cbor_2::to_vec(&Cbor::Map(object)).expect("cbor");
        json!({
            "id": b64url(&self.credential_id),
            "rawId": b64url(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64url(&object),
                "clientDataJSON": b64url(&self.client_data("webauthn.create", challenge)),
            },
        })
        .to_string()
    }

    /// Answers `passkey_challenge` (the login form's JSON text): the `passkey_login` value,
    /// with the counter advanced by one.
    pub fn login(&mut self, challenge: &str) -> String {
        self.counter = self.counter.saturating_add(1);
        let options: Value = serde_json::from_str(challenge).expect("request options");
        self.assert(&options["publicKey"])
    }

    /// Answers request options (`publicKey`) with the current counter.
    pub fn assert(&self, public_key: &Value) -> String {
        let rp_id = public_key["rpId"].as_str().expect("rp id");
        let challenge = public_key["challenge"].as_str().expect("challenge");
        let mut auth_data = sha2::Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(0x05));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha2::Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64url(&self.credential_id),
            "rawId": b64url(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(&auth_data),
                "clientDataJSON": b64url(&client_data),
                "signature": b64url(signature.to_der().as_bytes()),
                "userHandle": b64url(&self.user_handle),
            },
        })
        .to_string()
    }

    /// The key as Kratos stores a passkey credential (`credentials.passkey.config`), for
    /// admin imports: `user_handle` becomes the handle the key answers with.
    pub fn kratos_config(&mut self, user_handle: &str, sign_count: u32) -> Value {
        self.user_handle = user_handle.as_bytes().to_vec();
        json!({
            "credentials": [{
                "id": STANDARD.encode(&self.credential_id),
                "public_key": STANDARD.encode(self.cose_public_key()),
                "attestation_type": "none",
                "authenticator": {
                    "aaguid": STANDARD.encode([0u8; 16]),
                    "sign_count": sign_count,
                    "clone_warning": false,
                },
                "display_name": "imported",
                "added_at": "2021-08-17T10:18:55Z",
                "is_passwordless": true,
            }],
            "user_handle": STANDARD.encode(user_handle),
        })
    }
}
