//! One-time codes and link tokens of the verification and recovery flows.
//!
//! A code is 6 random digits, a link token 32 random letters and digits, both from the
//! operating system's random source. The store keeps only their HMAC-SHA256 under
//! `secrets.default` (the first secret signs; every configured secret is tried when a code is
//! checked, so secrets rotate by prepending a new one). The MAC covers the kind and the flow
//! too, so a code is only good in the flow it was sent for. A code is consumed by one atomic
//! update that only succeeds while it is unused and unexpired: of several concurrent
//! submissions of the same code exactly one wins.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use rand::rngs::SysRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::config::Secret;

/// What a code is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// A verification code (`code` method).
    VerificationCode,
    /// A verification link token (`link` method).
    VerificationLink,
    /// A recovery code (`code` method).
    RecoveryCode,
    /// A recovery link token (`link` method).
    RecoveryLink,
    /// A login code (passwordless `code` method).
    LoginCode,
    /// A registration code (passwordless `code` method).
    RegistrationCode,
}

impl CodeKind {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CodeKind::VerificationCode => "verification_code",
            CodeKind::VerificationLink => "verification_link",
            CodeKind::RecoveryCode => "recovery_code",
            CodeKind::RecoveryLink => "recovery_link",
            CodeKind::LoginCode => "login_code",
            CodeKind::RegistrationCode => "registration_code",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            CodeKind::VerificationCode,
            CodeKind::VerificationLink,
            CodeKind::RecoveryCode,
            CodeKind::RecoveryLink,
            CodeKind::LoginCode,
            CodeKind::RegistrationCode,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A stored one-time code: its MAC and what it is for. `Debug` leaves the MAC out.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// Code id.
    pub id: Uuid,
    /// What it is for.
    pub kind: CodeKind,
    /// The flow it was sent in.
    pub flow_id: Uuid,
    /// The identity it belongs to.
    pub identity_id: Option<Uuid>,
    /// The verifiable address it verifies (verification) or the recovery address it was sent
    /// to (recovery); none for codes made through the admin API.
    pub address_id: Option<Uuid>,
    /// The address it was sent to.
    pub address: Option<String>,
    /// Whether the admin API made it.
    pub admin: bool,
    /// Hex HMAC-SHA256 of the code under the first `secrets.default`.
    pub digest: String,
    /// Issued.
    pub issued_at: DateTime<Utc>,
    /// Not valid from this time on.
    pub expires_at: DateTime<Utc>,
    /// When it was used.
    pub used_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeCode")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("flow_id", &self.flow_id)
            .field("identity_id", &self.identity_id)
            .field("address_id", &self.address_id)
            .field("admin", &self.admin)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// A plain code or token, as sent to the user. Wiped on drop; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeSecret(Zeroizing<String>);

impl CodeSecret {
    /// Wraps a value the user submitted.
    pub fn new(value: impl Into<String>) -> Self {
        CodeSecret(Zeroizing::new(value.into()))
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// 6 random digits.
    pub fn generate_code() -> Self {
        let mut out = String::with_capacity(6);
        let mut buf = [0u8; 16];
        while out.len() < 6 {
            SysRng
                .try_fill_bytes(&mut buf)
                .expect("the operating system's random source failed");
            // 250 = 25 * 10: bytes at or above it are dropped so every digit is equally likely.
            for b in buf.iter().filter(|b| **b < 250) {
                out.push(char::from(b'0' + b % 10));
                if out.len() == 6 {
                    break;
                }
            }
        }
        CodeSecret::new(out)
    }

    /// 32 random letters and digits.
    pub fn generate_token() -> Self {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(32);
        let mut buf = [0u8; 64];
        while out.len() < 32 {
            SysRng
                .try_fill_bytes(&mut buf)
                .expect("the operating system's random source failed");
            for b in buf.iter().filter(|b| **b < 248) {
                out.push(ALPHABET[(*b % 62) as usize] as char);
                if out.len() == 32 {
                    break;
                }
            }
        }
        CodeSecret::new(out)
    }
}

impl fmt::Debug for CodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeSecret(<redacted>)")
    }
}

/// The MAC of a code under one secret.
fn digest_with(secret: &Secret, kind: CodeKind, flow_id: Uuid, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(kind.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(flow_id.as_bytes());
    mac.update(b"\0");
    mac.update(code.trim().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The MAC a new code is stored under (first secret).
pub(crate) fn digest(secrets: &[Secret], kind: CodeKind, flow_id: Uuid, code: &str) -> String {
    digest_with(&secrets[0], kind, flow_id, code)
}

/// The MACs of a submitted code under every secret, for lookup.
pub(crate) fn candidate_digests(
    secrets: &[Secret],
    kind: CodeKind,
    flow_id: Uuid,
    code: &str,
) -> Vec<String> {
    secrets
        .iter()
        .map(|s| digest_with(s, kind, flow_id, code))
        .collect()
}

/// The send-limit key of an address: `address:` and the hex HMAC-SHA256 of the (normalised)
/// address under the first secret, so the counters name no address in plain text.
pub(crate) fn address_send_key(secrets: &[Secret], address: &str) -> String {
    let Some(secret) = secrets.first() else {
        return format!("address:{address}");
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"code_send_address\0");
    mac.update(address.as_bytes());
    format!("address:{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_tokens_alphanumeric() {
        for _ in 0..100 {
            let c = CodeSecret::generate_code();
            assert_eq!(c.expose().len(), 6);
            assert!(c.expose().chars().all(|c| c.is_ascii_digit()));
        }
        let t = CodeSecret::generate_token();
        assert_eq!(t.expose().len(), 32);
        assert!(t.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn address_send_keys_hide_the_address() {
        let secret = Secret::new("a-secret-0123456789");
        let key = address_send_key(std::slice::from_ref(&secret), "someone@example.com");
        assert!(key.starts_with("address:"));
        assert!(!key.contains("someone"));
        assert_eq!(
            key,
            address_send_key(std::slice::from_ref(&secret), "someone@example.com")
        );
        assert_ne!(key, address_send_key(&[secret], "other@example.com"));
    }

    #[test]
    fn digests_rotate_and_bind_kind_and_flow() {
        let old = Secret::new("old-secret-0123456789");
        let new = Secret::new("new-secret-0123456789");
        let flow = Uuid::new_v4();
        let stored = digest(
            std::slice::from_ref(&old),
            CodeKind::RecoveryCode,
            flow,
            "123456",
        );
        let candidates =
            candidate_digests(&[new, old.clone()], CodeKind::RecoveryCode, flow, "123456");
        assert!(candidates.contains(&stored));
        assert_ne!(
            stored,
            digest(
                std::slice::from_ref(&old),
                CodeKind::VerificationCode,
                flow,
                "123456"
            )
        );
        assert_ne!(
            stored,
            digest(&[old], CodeKind::RecoveryCode, Uuid::new_v4(), "123456")
        );
    }
}
