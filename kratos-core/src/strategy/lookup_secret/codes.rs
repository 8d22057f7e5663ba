//! Recovery codes and their stored form.
//!
//! Kratos makes [`CODE_COUNT`] codes of [`CODE_LENGTH`] characters from `[a-z0-9]`, stores them
//! in plaintext (`{"recovery_codes":[{"code":"…","used_at":"…"}]}`) and compares them with
//! `==`. Here a stored code ([`StoredCode`]) keeps, under the same `recovery_codes` key (so
//! the available-AAL rule, which counts its entries, reads it unchanged):
//!
//! - `code_hmac`: the hex HMAC-SHA256 of the normalised code ([`digest`]) under
//!   `secrets.default` ([`mac_keys`]), by which a submitted code is found ([`LookupSecretConfig::find`],
//!   constant time over every stored code and every key) and, through
//!   [`StoredCode::used_secret_key`], used at most once ([`crate::store::UsedSecretStore`]);
//! - `sealed`: the code encrypted with the project's [`Cipher`] (`secrets.cipher`), so the
//!   settings flow's `lookup_secret_reveal` can show the codes again
//!   ([`LookupSecretConfig::reveal`]). With `ciphers.algorithm: noop` (Kratos's default) the
//!   "sealed" code is only hex-encoded: configure `aes` or `xchacha20-poly1305` to keep codes
//!   unreadable at rest;
//! - `used_at`, as Kratos's.
//!
//! Kratos's plaintext shape, from the admin import (`lookup_secret.config.codes`) or a
//! credential configuration copied from Kratos (`recovery_codes`), is converted with
//! [`LookupSecretConfig::from_plaintext`] or [`LookupSecretConfig::from_kratos_config`].
//!
//! ```
//! use kratos_core::Cipher;
//! use kratos_core::config::{CipherAlgorithm, Secret};
//! use kratos_core::strategy::lookup_secret::codes::{LookupSecretConfig, RecoveryCodes};
//!
//! let cipher = Cipher::new(
//!     CipherAlgorithm::XChaCha20Poly1305,
//!     &[Secret::new("0123456789abcdef0123456789abcdef")],
//! )
//! .unwrap();
//! let key = b"a secret of secrets.default";
//! let codes = RecoveryCodes::generate().unwrap();
//! let mut config = LookupSecretConfig::seal(&codes, key, &cipher).unwrap();
//! let first = codes.iter().next().unwrap();
//! let index = config.find(&[key], &first.to_uppercase()).unwrap();
//! assert!(config.mark_used(index, chrono::Utc::now()));
//! assert_eq!(config.remaining(), 11);
//! assert_eq!(config.reveal(&cipher).unwrap()[0].code(), first);
//! ```

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use rand::rngs::SysRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::Cipher;
use crate::cipher::CipherError;
use crate::config::Config;

/// Codes in a fresh set (Kratos's `numCodes`).
pub const CODE_COUNT: usize = 12;
/// Characters of a generated code.
pub const CODE_LENGTH: usize = 8;
/// The alphabet of generated codes (Kratos's `randx.AlphaLowerNum`).
pub const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// The most codes a configuration may hold when built from plaintext.
pub const MAX_CODES: usize = 1000;
/// The longest code, in bytes once trimmed, accepted from plaintext or looked up.
pub const MAX_CODE_LEN: usize = 256;

/// Why codes could not be made, converted or revealed. Never contains a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupSecretError {
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    RandomSource,
    /// Sealing or opening a code failed (a misconfigured or rotated-out `secrets.cipher`).
    #[error("a lookup secret code could not be sealed or opened: {0}")]
    Cipher(#[from] CipherError),
    /// No MAC key is configured (`secrets.default`).
    #[error("no secret is configured to make lookup secret digests (secrets.default)")]
    NoKey,
    /// The code at this position is empty once trimmed.
    #[error("lookup secret code {0} is empty")]
    EmptyCode(usize),
    /// The code at this position is longer than [`MAX_CODE_LEN`] bytes.
    #[error("lookup secret code {0} is longer than {MAX_CODE_LEN} bytes")]
    CodeTooLong(usize),
    /// The code at this position repeats an earlier one (once normalised).
    #[error("lookup secret code {0} repeats an earlier code")]
    DuplicateCode(usize),
    /// More than [`MAX_CODES`] codes.
    #[error("at most {MAX_CODES} lookup secret codes are allowed")]
    TooManyCodes,
    /// A configuration does not have the expected shape; the text says which part, never a
    /// value.
    #[error("the lookup secret configuration is malformed: {0}")]
    Malformed(&'static str),
}

/// Recovery codes in plaintext, as shown to the user once. Wiped on drop; `Debug` shows only
/// how many there are.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodes(Vec<Zeroizing<String>>);

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes({} codes, <redacted>)", self.0.len())
    }
}

impl RecoveryCodes {
    /// [`CODE_COUNT`] codes of [`CODE_LENGTH`] characters of [`ALPHABET`], every character
    /// uniform, from the operating system's random source. Fails only when that source
    /// fails.
    pub fn generate() -> Result<Self, LookupSecretError> {
        let mut codes = Vec::with_capacity(CODE_COUNT);
        let mut buf = Zeroizing::new([0u8; 64]);
        let mut code = Zeroizing::new(String::with_capacity(CODE_LENGTH));
        while codes.len() < CODE_COUNT {
            SysRng
                .try_fill_bytes(buf.as_mut_slice())
                .map_err(|_| LookupSecretError::RandomSource)?;
            // 252 = 7 × 36: bytes at or above it are dropped so every character is equally
            // likely.
            for b in buf.iter().filter(|b| **b < 252) {
                code.push(char::from(ALPHABET[usize::from(*b % 36)]));
                if code.len() == CODE_LENGTH {
                    codes.push(Zeroizing::new(code.as_str().to_owned()));
                    code.clear();
                    if codes.len() == CODE_COUNT {
                        break;
                    }
                }
            }
        }
        Ok(Self(codes))
    }

    /// The codes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|c| c.as_str())
    }

    /// How many codes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A code as compared: surrounding whitespace trimmed, lower-cased. Wiped on drop.
pub fn normalize(code: &str) -> Zeroizing<String> {
    Zeroizing::new(code.trim().to_lowercase())
}

/// The hex HMAC-SHA256 of the normalised `code` ([`normalize`]) under `key`, as stored in
/// [`StoredCode::code_hmac`]. The MAC covers a `lookup_secret` prefix too, so it never equals
/// another MAC this library makes under the same secret.
pub fn digest(key: &[u8], code: &str) -> String {
    let code = normalize(code);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"lookup_secret\0");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether two digests are equal, compared in constant time (only their lengths may show).
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The MAC keys of lookup-secret digests: `secrets.default` (`secrets.cookie` when it is
/// empty), the first for new digests, every one for lookups, so secrets rotate by prepending
/// a new one as for one-time codes. Empty when neither is configured.
pub fn mac_keys(config: &Config) -> Vec<&[u8]> {
    let s = &config.secrets;
    let secrets = if s.default.is_empty() {
        &s.cookie
    } else {
        &s.default
    };
    secrets.iter().map(|s| s.expose().as_bytes()).collect()
}

/// One stored code (an entry of `recovery_codes`). `Debug` shows only whether and when it
/// was used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCode {
    /// [`digest`] of the code under the first MAC key at the time it was stored.
    pub code_hmac: String,
    /// The code (trimmed, as given) encrypted with the [`Cipher`] (hex).
    pub sealed: String,
    /// When it was used, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for StoredCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCode")
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

impl StoredCode {
    /// The key under which a use of this code is recorded with
    /// [`crate::store::UsedSecretStore::use_once`]: `lookup_secret:<code_hmac>`. It is stable
    /// across rotations of the MAC keys (it is the stored digest, not one made anew).
    pub fn used_secret_key(&self) -> String {
        format!("lookup_secret:{}", self.code_hmac)
    }
}

/// A code opened by [`LookupSecretConfig::reveal`]. Wiped on drop; `Debug` hides the code.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedCode {
    code: Zeroizing<String>,
    /// When it was used, if it was (Kratos shows "used" instead of the code then).
    pub used_at: Option<DateTime<Utc>>,
}

impl RevealedCode {
    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl fmt::Debug for RevealedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealedCode")
            .field("code", &"<redacted>")
            .field("used_at", &self.used_at)
            .finish()
    }
}

/// The `lookup_secret` credential's configuration as stored:
/// `{"recovery_codes":[{"code_hmac":"…","sealed":"…","used_at":"…"?}]}`. `Debug` shows only
/// how many codes there are and how many are used.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupSecretConfig {
    /// The codes, in the order they were made or imported.
    pub recovery_codes: Vec<StoredCode>,
}

impl fmt::Debug for LookupSecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupSecretConfig")
            .field("codes", &self.recovery_codes.len())
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// One plaintext code of Kratos's shapes (`codes` on import, `recovery_codes` when stored).
#[derive(Deserialize)]
struct PlainCode {
    code: Zeroizing<String>,
    #[serde(default)]
    used_at: Option<DateTime<Utc>>,
}

/// Kratos's plaintext configuration, under either key.
#[derive(Deserialize)]
struct PlainConfig {
    #[serde(default)]
    codes: Option<Vec<PlainCode>>,
    #[serde(default)]
    recovery_codes: Option<Vec<PlainCode>>,
}

impl LookupSecretConfig {
    /// Stores fresh codes: each digested under `key` (the first of [`mac_keys`]) and sealed
    /// with `cipher`, none used. Fails only when the cipher fails.
    pub fn seal(
        codes: &RecoveryCodes,
        key: &[u8],
        cipher: &Cipher,
    ) -> Result<Self, LookupSecretError> {
        Self::from_plaintext(codes.iter().map(|c| (c, None)), key, cipher)
    }

    /// Converts plaintext codes with their use (Kratos's import `codes:[{code, used_at}]`)
    /// to the stored form: each trimmed code is sealed with `cipher` and its [`digest`] made
    /// under `key`. A `used_at` of Go's zero time (year 1, which Kratos writes for "unused")
    /// counts as unused.
    ///
    /// Errors: [`LookupSecretError::EmptyCode`], [`LookupSecretError::CodeTooLong`] (past
    /// [`MAX_CODE_LEN`]) and [`LookupSecretError::DuplicateCode`] (equal once normalised)
    /// name the code's position; more than [`MAX_CODES`] codes is
    /// [`LookupSecretError::TooManyCodes`]; a cipher failure is
    /// [`LookupSecretError::Cipher`].
    pub fn from_plaintext<'a>(
        codes: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>,
        key: &[u8],
        cipher: &Cipher,
    ) -> Result<Self, LookupSecretError> {
        let mut recovery_codes: Vec<StoredCode> = Vec::new();
        for (index, (code, used_at)) in codes.into_iter().enumerate() {
            if index >= MAX_CODES {
                return Err(LookupSecretError::TooManyCodes);
            }
            let code = code.trim();
            if code.is_empty() {
                return Err(LookupSecretError::EmptyCode(index));
            }
            if code.len() > MAX_CODE_LEN {
                return Err(LookupSecretError::CodeTooLong(index));
            }
            let code_hmac = digest(key, code);
            if recovery_codes
                .iter()
                .any(|c| digests_match(&c.code_hmac, &code_hmac))
            {
                return Err(LookupSecretError::DuplicateCode(index));
            }
            recovery_codes.push(StoredCode {
                code_hmac,
                sealed: cipher.encrypt(code.as_bytes())?,
                used_at: used_at.filter(|t| t.year() > 1),
            });
        }
        Ok(Self { recovery_codes })
    }

    /// Converts a plaintext configuration in Kratos's shapes, `{"codes":[…]}` (admin import)
    /// or `{"recovery_codes":[…]}` (a Kratos credential), each entry `{"code":"…",
    /// "used_at":"…"?}`, as [`LookupSecretConfig::from_plaintext`] does. Fails with
    /// [`LookupSecretError::Malformed`] (naming the part, not the value) when the JSON has
    /// neither list, both, or entries of another shape, and as `from_plaintext` otherwise.
    pub fn from_kratos_config(
        value: &serde_json::Value,
        key: &[u8],
        cipher: &Cipher,
    ) -> Result<Self, LookupSecretError> {
        // serde's messages may quote the value: only the shape is reported.
        let plain = PlainConfig::deserialize(value).map_err(|_| {
            LookupSecretError::Malformed("expected {\"codes\": [{\"code\", \"used_at\"}]}")
        })?;
        let codes = match (plain.codes, plain.recovery_codes) {
            (Some(codes), None) | (None, Some(codes)) => codes,
            (Some(_), Some(_)) => {
                return Err(LookupSecretError::Malformed(
                    "both `codes` and `recovery_codes`",
                ));
            }
            (None, None) => {
                return Err(LookupSecretError::Malformed(
                    "neither `codes` nor `recovery_codes`",
                ));
            }
        };
        Self::from_plaintext(
            codes.iter().map(|c| (c.code.as_str(), c.used_at)),
            key,
            cipher,
        )
    }

    /// Reads a stored configuration (a credential's `config`). Fails with
    /// [`LookupSecretError::Malformed`] when it is not this shape (for instance Kratos's
    /// plaintext one, which [`LookupSecretConfig::from_kratos_config`] converts).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, LookupSecretError> {
        Self::deserialize(value).map_err(|_| {
            LookupSecretError::Malformed(
                "expected {\"recovery_codes\": [{\"code_hmac\", \"sealed\", \"used_at\"}]}",
            )
        })
    }

    /// The configuration as a credential's `config`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "recovery_codes": self.recovery_codes.iter().map(|c| {
                let mut entry = serde_json::json!({"code_hmac": c.code_hmac, "sealed": c.sealed});
                if let Some(used_at) = c.used_at {
                    entry["used_at"] = serde_json::json!(used_at);
                }
                entry
            }).collect::<Vec<_>>()
        })
    }

    /// Opens every code with `cipher` (for `lookup_secret_reveal`), in order, used ones
    /// included. Fails with [`LookupSecretError::Cipher`] when a code does not open (a
    /// `secrets.cipher` rotated out) and [`LookupSecretError::Malformed`] when one is not
    /// UTF-8.
    pub fn reveal(&self, cipher: &Cipher) -> Result<Vec<RevealedCode>, LookupSecretError> {
        self.recovery_codes
            .iter()
            .map(|c| {
                let bytes = cipher.decrypt(&c.sealed)?;
                let code = std::str::from_utf8(&bytes)
                    .map_err(|_| LookupSecretError::Malformed("a sealed code is not text"))?;
                Ok(RevealedCode {
                    code: Zeroizing::new(code.to_owned()),
                    used_at: c.used_at,
                })
            })
            .collect()
    }

    /// The position of the stored code equal to `code` once normalised, used or not (the
    /// caller answers Kratos's 4000012 for a used one and 4000016 for none). `keys` are the
    /// MAC keys ([`mac_keys`]); the submitted code's digest under each is compared with every
    /// stored digest in constant time, whichever matches. `None` as well for a code that is
    /// empty or longer than [`MAX_CODE_LEN`] once trimmed.
    pub fn find<K: AsRef<[u8]>>(&self, keys: &[K], code: &str) -> Option<usize> {
        let trimmed = code.trim();
        if trimmed.is_empty() || trimmed.len() > MAX_CODE_LEN {
            return None;
        }
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for key in keys {
            let candidate = Zeroizing::new(digest(key.as_ref(), trimmed));
            for (i, stored) in self.recovery_codes.iter().enumerate() {
                let hit = stored.code_hmac.as_bytes().ct_eq(candidate.as_bytes()) & !found;
                index.conditional_assign(&u64::try_from(i).unwrap_or(u64::MAX), hit);
                found |= hit;
            }
        }
        if bool::from(found) {
            usize::try_from(index).ok()
        } else {
            None
        }
    }

    /// Marks the code at `index` used at `at`; false (and nothing changes) when there is no
    /// such code or it is used already. `at` is rounded down to the second, as Kratos stores
    /// it.
    pub fn mark_used(&mut self, index: usize, at: DateTime<Utc>) -> bool {
        match self.recovery_codes.get_mut(index) {
            Some(code) if code.used_at.is_none() => {
                code.used_at =
                    Some(DateTime::<Utc>::from_timestamp(at.timestamp(), 0).unwrap_or(at));
                true
            }
            _ => false,
        }
    }

    /// How many codes are unused.
    pub fn remaining(&self) -> usize {
        self.recovery_codes
            .iter()
            .filter(|c| c.used_at.is_none())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CipherAlgorithm, Secret};
    use serde_json::json;

    const KEY: &[u8] = b"lookup-secret-test-key-0123456789";

    fn cipher() -> Cipher {
        Cipher::new(
            CipherAlgorithm::XChaCha20Poly1305,
            &[Secret::new("0123456789abcdef0123456789abcdef")],
        )
        .unwrap()
    }

    #[test]
    fn generated_codes_have_kratos_shape_and_differ() {
        let a = RecoveryCodes::generate().unwrap();
        let b = RecoveryCodes::generate().unwrap();
        assert_eq!(a.len(), CODE_COUNT);
        assert!(!a.is_empty());
        for code in a.iter() {
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|c| ALPHABET.contains(&c)), "{code}");
        }
        let all: std::collections::HashSet<&str> = a.iter().chain(b.iter()).collect();
        assert_eq!(
            all.len(),
            2 * CODE_COUNT,
            "24 random codes of 41 bits do not collide"
        );
    }

    #[test]
    fn generated_characters_cover_the_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            seen.extend(
                RecoveryCodes::generate()
                    .unwrap()
                    .iter()
                    .flat_map(|c| c.bytes().collect::<Vec<_>>()),
            );
        }
        // 4800 characters: every one of 36 shows up (missing one has odds below 1e-50).
        assert_eq!(seen.len(), 36);
    }

    #[test]
    fn digests_are_keyed_and_normalised() {
        let d = digest(KEY, "abcd1234");
        assert_eq!(d.len(), 64);
        assert!(d.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(digest(KEY, "  ABCD1234\n"), d);
        assert_ne!(digest(b"another key", "abcd1234"), d);
        assert_ne!(digest(KEY, "abcd1235"), d);
        assert!(digests_match(&d, &digest(KEY, "AbCd1234")));
        assert!(!digests_match(&d, &digest(KEY, "abcd1235")));
        assert!(!digests_match(&d, &d[..63]));
        // Not a bare HMAC of the code: the prefix separates it from other MACs.
        let mut bare = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY).unwrap();
        bare.update(b"abcd1234");
        assert_ne!(hex::encode(bare.finalize().into_bytes()), d);
    }

    #[test]
    fn sealed_codes_are_found_marked_and_revealed() {
        let cipher = cipher();
        let codes = RecoveryCodes::generate().unwrap();
        let mut config = LookupSecretConfig::seal(&codes, KEY, &cipher).unwrap();
        assert_eq!(config.recovery_codes.len(), CODE_COUNT);
        assert_eq!(config.remaining(), CODE_COUNT);
        let stored = serde_json::to_string(&config.to_value()).unwrap();
        for code in codes.iter() {
            assert!(!stored.contains(code), "no plaintext code is stored");
        }
        let plain: Vec<&str> = codes.iter().collect();
        for (i, code) in plain.iter().enumerate() {
            assert_eq!(config.find(&[KEY], code), Some(i));
            assert_eq!(
                config.find(&[KEY], &format!(" {} ", code.to_uppercase())),
                Some(i)
            );
        }
        assert_eq!(config.find(&[KEY], "zzzzzzzz"), None);
        assert_eq!(config.find(&[KEY], ""), None);
        assert_eq!(config.find(&[KEY], &"a".repeat(MAX_CODE_LEN + 1)), None);
        assert_eq!(config.find(&[b"other key".as_slice()], plain[0]), None);
        // A rotated key list still finds codes digested under an older key.
        assert_eq!(
            config.find(&[b"new key".as_slice(), KEY], plain[3]),
            Some(3)
        );

        let t = "2026-12-05T10:20:30.999Z".parse::<DateTime<Utc>>().unwrap();
        assert!(config.mark_used(2, t));
        assert!(!config.mark_used(2, t), "used once");
        assert!(!config.mark_used(CODE_COUNT, t));
        assert_eq!(
            config.recovery_codes[2].used_at,
            Some("2026-12-05T10:20:30Z".parse().unwrap())
        );
        assert_eq!(config.remaining(), CODE_COUNT - 1);
        // A used code is still found: the caller tells "already used" from "wrong".
        assert_eq!(config.find(&[KEY], plain[2]), Some(2));

        let revealed = config.reveal(&cipher).unwrap();
        assert_eq!(
            revealed.iter().map(RevealedCode::code).collect::<Vec<_>>(),
            plain
        );
        assert_eq!(revealed[2].used_at, config.recovery_codes[2].used_at);

        let back = LookupSecretConfig::from_value(&config.to_value()).unwrap();
        assert_eq!(back, config);
        assert_eq!(
            config.recovery_codes[0].used_secret_key(),
            format!("lookup_secret:{}", config.recovery_codes[0].code_hmac)
        );
    }

    #[test]
    fn revealing_with_another_cipher_fails() {
        let config =
            LookupSecretConfig::seal(&RecoveryCodes::generate().unwrap(), KEY, &cipher()).unwrap();
        let other = Cipher::new(
            CipherAlgorithm::XChaCha20Poly1305,
            &[Secret::new("fedcba9876543210fedcba9876543210")],
        )
        .unwrap();
        assert_eq!(
            config.reveal(&other).unwrap_err(),
            LookupSecretError::Cipher(CipherError::Undecryptable)
        );
    }

    #[test]
    fn kratos_plaintext_shapes_are_converted() {
        let cipher = cipher();
        let import = json!({"codes": [
            {"code": "Code-One"},
            {"code": "code2", "used_at": "2026-01-02T03:04:05Z"},
            {"code": "code3", "used_at": "0001-01-01T00:00:00Z"},
            {"code": "code4", "used_at": null},
        ]});
        let config = LookupSecretConfig::from_kratos_config(&import, KEY, &cipher).unwrap();
        assert_eq!(config.recovery_codes.len(), 4);
        assert_eq!(config.remaining(), 3, "Go's zero time is unused");
        assert_eq!(config.find(&[KEY], "code-one"), Some(0));
        let revealed = config.reveal(&cipher).unwrap();
        assert_eq!(revealed[0].code(), "Code-One", "revealed as imported");
        assert_eq!(
            revealed[1].used_at,
            Some("2026-01-02T03:04:05Z".parse().unwrap())
        );
        assert!(!config.to_value().to_string().contains("code2"));

        let stored = json!({"recovery_codes": [{"code": "abc"}, {"code": "def", "used_at": "2026-01-02T03:04:05Z"}]});
        let config = LookupSecretConfig::from_kratos_config(&stored, KEY, &cipher).unwrap();
        assert_eq!((config.recovery_codes.len(), config.remaining()), (2, 1));

        for (bad, want) in [
            (
                json!({}),
                LookupSecretError::Malformed("neither `codes` nor `recovery_codes`"),
            ),
            (
                json!({"codes": [], "recovery_codes": []}),
                LookupSecretError::Malformed("both `codes` and `recovery_codes`"),
            ),
            (
                json!({"codes": [{"code": ""}]}),
                LookupSecretError::EmptyCode(0),
            ),
            (
                json!({"codes": [{"code": "a"}, {"code": "  "}]}),
                LookupSecretError::EmptyCode(1),
            ),
            (
                json!({"codes": [{"code": "a"}, {"code": " A "}]}),
                LookupSecretError::DuplicateCode(1),
            ),
            (
                json!({"codes": [{"code": "x".repeat(MAX_CODE_LEN + 1)}]}),
                LookupSecretError::CodeTooLong(0),
            ),
        ] {
            assert_eq!(
                LookupSecretConfig::from_kratos_config(&bad, KEY, &cipher).unwrap_err(),
                want,
                "{bad}"
            );
        }
        let secret_value = json!({"codes": [{"code": 12345678}]});
        let err = LookupSecretConfig::from_kratos_config(&secret_value, KEY, &cipher).unwrap_err();
        assert!(!err.to_string().contains("12345678"), "{err}");
        let many: Vec<String> = (0..=MAX_CODES).map(|i| format!("code{i}")).collect();
        assert_eq!(
            LookupSecretConfig::from_plaintext(
                many.iter().map(|c| (c.as_str(), None)),
                KEY,
                &cipher
            )
            .unwrap_err(),
            LookupSecretError::TooManyCodes
        );
        assert!(
            LookupSecretConfig::from_value(&json!({"recovery_codes": [{"code": "abc"}]})).is_err()
        );
    }

    #[test]
    fn debug_shows_no_code() {
        let cipher = cipher();
        let codes = RecoveryCodes::generate().unwrap();
        let config = LookupSecretConfig::seal(&codes, KEY, &cipher).unwrap();
        let revealed = config.reveal(&cipher).unwrap();
        let text = format!(
            "{codes:?} {config:?} {:?} {revealed:?}",
            config.recovery_codes[0]
        );
        for code in codes.iter() {
            assert!(!text.contains(code), "{text}");
        }
        assert!(!text.contains(&config.recovery_codes[0].code_hmac));
        assert!(!text.contains(&config.recovery_codes[0].sealed));
        assert!(
            text.contains("RecoveryCodes(12 codes, <redacted>)"),
            "{text}"
        );
        assert!(
            text.contains("LookupSecretConfig { codes: 12, remaining: 12 }"),
            "{text}"
        );
    }

    #[test]
    fn mac_keys_follow_the_code_secrets() {
        let config = Config::from_yaml_str(
            "secrets:\n  default: [\"first-default-secret-0123\", \"second-default-secret-0123\"]\n  cookie: [\"cookie-secret-0123456789\"]\n",
        )
        .unwrap();
        assert_eq!(
            mac_keys(&config),
            vec![
                b"first-default-secret-0123".as_slice(),
                b"second-default-secret-0123"
            ]
        );
        let cookie_only =
            Config::from_yaml_str("secrets:\n  cookie: [\"cookie-secret-0123456789\"]\n").unwrap();
        assert_eq!(
            mac_keys(&cookie_only),
            vec![b"cookie-secret-0123456789".as_slice()]
        );
        assert!(mac_keys(&Config::default()).is_empty());
    }
}
