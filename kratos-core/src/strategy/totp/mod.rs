//! The `totp` second factor (time-based one-time passwords, RFC 6238), as Kratos offers it:
//! an authenticator app holds a 160-bit secret shared through an `otpauth://totp/…` URL (shown
//! as a QR code and as text), and a login at aal2 submits the app's 6-digit code.
//!
//! [`otp`] holds the building blocks: keys, their URL and QR code, and the verification of
//! codes with the step they matched. [`login`] and [`settings`] are the method's strategies.
//!
//! Better than Kratos: the key is stored sealed with the cipher (Kratos keeps the URL in
//! plaintext), a code is accepted once per identity (its step is recorded through
//! [`crate::store::UsedSecretStore`], so a replay within its window is refused), and failed
//! codes count toward the login lockout of the identity.

pub mod login;
pub mod otp;
pub mod settings;

use serde_json::{Value, json};

use crate::flow::FlowError;
use crate::identity::{CredentialType, Credentials, Identity};
use crate::kratos::Kratos;
use otp::TotpKey;

pub use login::TotpLogin;
pub use settings::TotpSettings;

/// The credential configuration key of the sealed `otpauth://` URL.
const SEALED_URL: &str = "totp_url_sealed";

/// The credential configuration of `key`: its URL sealed with the registry's cipher.
pub(crate) fn credential_config(kratos: &Kratos, key: &TotpKey) -> Result<Value, FlowError> {
    let sealed = kratos
        .cipher()
        .encrypt(key.to_url().as_bytes())
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    Ok(json!({ SEALED_URL: sealed }))
}

/// Seals an imported `totp_url` for storage (admin imports): the configuration to store.
pub(crate) fn seal_url(kratos: &Kratos, url: &str) -> Result<Value, String> {
    let key = TotpKey::from_url(url).map_err(|e| e.to_string())?;
    credential_config(kratos, &key).map_err(|e| e.to_string())
}

/// The TOTP key of `identity`, if it has a TOTP credential: read from the sealed URL, or
/// from a plaintext `totp_url` (Kratos's shape, kept by older imports).
pub(crate) fn key_of(kratos: &Kratos, identity: &Identity) -> Result<Option<TotpKey>, FlowError> {
    let Some(credential) = identity.credential(CredentialType::Totp) else {
        return Ok(None);
    };
    key_of_config(kratos, &credential.config).map(Some)
}

fn key_of_config(kratos: &Kratos, config: &Value) -> Result<TotpKey, FlowError> {
    let url = if let Some(sealed) = config.get(SEALED_URL).and_then(Value::as_str) {
        let opened = kratos
            .cipher()
            .decrypt(sealed)
            .map_err(|e| FlowError::Internal(format!("the TOTP credential: {e}")))?;
        zeroize::Zeroizing::new(
            String::from_utf8(opened.to_vec())
                .map_err(|_| FlowError::Internal("the TOTP credential is not UTF-8".into()))?,
        )
    } else if let Some(plain) = config.get("totp_url").and_then(Value::as_str) {
        zeroize::Zeroizing::new(plain.to_owned())
    } else {
        return Err(FlowError::Internal(
            "the TOTP credential holds no URL".into(),
        ));
    };
    TotpKey::from_url(&url).map_err(|e| FlowError::Internal(format!("the TOTP credential: {e}")))
}

/// Until when the use of a code of `step` is remembered: until the step leaves the window
/// ([`otp::step_accepted_until`]), or "forever" past the clock's range.
pub(crate) fn remember_step_until(step: u64) -> chrono::DateTime<chrono::Utc> {
    otp::step_accepted_until(step)
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0))
        .unwrap_or_else(crate::strategy::lookup_secret::remember_forever)
}

/// `identity` with the TOTP credential of `key` (replacing any).
pub(crate) fn with_credential(
    kratos: &Kratos,
    mut identity: Identity,
    key: &TotpKey,
) -> Result<Identity, FlowError> {
    let now = crate::clock::truncate_micros(kratos.clock().now());
    let config = credential_config(kratos, key)?;
    identity.credentials.insert(
        CredentialType::Totp,
        Credentials {
            credential_type: CredentialType::Totp,
            identifiers: vec![identity.id.to_string()],
            config,
            version: 0,
            created_at: now,
            updated_at: now,
        },
    );
    Ok(identity)
}
