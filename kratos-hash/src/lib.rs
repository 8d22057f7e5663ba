//! Password hashing for kratos-rs: hashes new passwords with Argon2id or
//! bcrypt, and verifies passwords against every hash format Ory Kratos
//! accepts for import (argon2, bcrypt, PBKDF2, scrypt, Firebase scrypt,
//! crypt(3) md5/sha256/sha512, salted and unsalted SHA/MD5 digests, HMAC).
//!
//! ```
//! use kratos_hash::{Argon2Params, HashAlgorithm, HashFormat, Hasher, validate_import, verify};
//!
//! // Small parameters keep this example fast; use `HashAlgorithm::default()` in production.
//! let hasher = Hasher::new(HashAlgorithm::Argon2id(Argon2Params {
//!     memory_kib: 64,
//!     iterations: 1,
//!     ..Argon2Params::default()
//! }))?;
//! let hash = hasher.hash(b"correct horse battery staple")?;
//! assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
//! assert!(verify(b"correct horse battery staple", &hash)?);
//! assert!(!verify(b"wrong password", &hash)?);
//! assert!(!hasher.needs_rehash(&hash));
//!
//! // Imported hashes are checked for format and cost bounds before storing.
//! assert_eq!(validate_import(&hash)?, HashFormat::Argon2id);
//! assert!(validate_import("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").is_err());
//! # Ok::<(), kratos_hash::HashError>(())
//! ```
//!
//! Every digest comparison is constant-time. Errors and `Debug` output never
//! contain passwords or the secret parts of hashes.
//!
//! Hashing and verification are deliberately slow, blocking CPU work (tens
//! to hundreds of milliseconds at the default costs): async callers should
//! run them on a blocking thread (e.g. `tokio::task::spawn_blocking`).
//!
//! # Features
//!
//! This crate has no cargo features.
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) are the manual.
//! [kratos-core](https://docs.rs/kratos-core) uses this crate for every password and re-exports it
//! as `kratos_core::hash`.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::sync::Arc;

mod argon2;
mod bcrypt;
mod crypt;
mod encoding;
mod error;
mod legacy;
mod pbkdf2;
mod scrypt;

pub use error::HashError;

/// Bounds applied to parameters found in stored and imported hashes. A hash
/// outside them is refused with [`HashError::OutOfBounds`] instead of being
/// computed, so an imported hash cannot exhaust memory or CPU at login.
pub mod limits {
    /// Largest Argon2 memory cost in KiB (1 GiB).
    pub const ARGON2_MAX_MEMORY_KIB: u64 = crate::argon2::MAX_MEMORY_KIB;
    /// Largest Argon2 iteration count.
    pub const ARGON2_MAX_ITERATIONS: u64 = crate::argon2::MAX_ITERATIONS;
    /// Largest Argon2 degree of parallelism.
    pub const ARGON2_MAX_PARALLELISM: u64 = crate::argon2::MAX_PARALLELISM;
    /// Largest bcrypt cost.
    pub const BCRYPT_MAX_COST: u32 = crate::bcrypt::MAX_COST;
    /// Longest password bcrypt accepts, in bytes.
    pub const BCRYPT_MAX_PASSWORD_BYTES: usize = crate::bcrypt::MAX_PASSWORD_BYTES;
    /// Largest PBKDF2 iteration count.
    pub const PBKDF2_MAX_ITERATIONS: u64 = crate::pbkdf2::MAX_ITERATIONS;
    /// Largest PBKDF2 derived key, in bytes.
    pub const PBKDF2_MAX_KEY_LEN: u64 = crate::pbkdf2::MAX_KEY_LEN;
    /// Largest scrypt N (the `ln` value of `$scrypt$`, which is N itself).
    pub const SCRYPT_MAX_N: u64 = crate::scrypt::MAX_N;
    /// Largest Firebase scrypt log2(N) (the `ln` value of `$firescrypt$`).
    pub const FIREBASE_SCRYPT_MAX_LOG_N: u64 = crate::scrypt::MAX_LOG_N;
    /// Largest scrypt block size r (both scrypt formats).
    pub const SCRYPT_MAX_R: u64 = crate::scrypt::MAX_R;
    /// Largest scrypt parallelisation p (both scrypt formats).
    pub const SCRYPT_MAX_P: u64 = crate::scrypt::MAX_P;
    /// Largest sha-crypt `rounds`.
    pub const SHA_CRYPT_MAX_ROUNDS: u64 = crate::crypt::MAX_SHA_CRYPT_ROUNDS;
}

/// A password hash format, as detected from a hash string's prefix.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashFormat {
    /// `$argon2id$v=19$m=..,t=..,p=..$salt$key`
    Argon2id,
    /// `$argon2i$v=19$m=..,t=..,p=..$salt$key`
    Argon2i,
    /// `$2a$`, `$2b$`, `$2y$`, `$2z$` or `$2$` bcrypt.
    Bcrypt,
    /// `$pbkdf2-<alg>$i=..,l=..$salt$key`
    Pbkdf2,
    /// `$scrypt$ln=<N>,r=..,p=..$salt$key`
    Scrypt,
    /// `$firescrypt$ln=<log2 N>,r=..,p=..$salt$hash$separator$signer_key`
    FirebaseScrypt,
    /// `{SSHA}`, `{SSHA256}` or `{SSHA512}` followed by base64(digest ‖ salt).
    Ssha,
    /// `$sha1$`, `$sha256$` or `$sha512$` with a `pf=` salting template.
    Sha,
    /// `$md5$hash` or `$md5$pf=..$salt$hash`.
    Md5,
    /// `$md5-crypt$salt$hash` (crypt(3) `$1$`).
    Md5Crypt,
    /// `$sha256-crypt$[rounds=..$]salt$hash` (crypt(3) `$5$`).
    Sha256Crypt,
    /// `$sha512-crypt$[rounds=..$]salt$hash` (crypt(3) `$6$`).
    Sha512Crypt,
    /// `$hmac-<alg>$base64(hex MAC)$base64(key)`.
    Hmac,
}

impl HashFormat {
    /// Detects the format of `hash` from its prefix, trying formats in the
    /// same order as Kratos. Only the prefix is looked at: a detected hash
    /// may still be malformed.
    pub fn detect(hash: &str) -> Option<HashFormat> {
        let b = hash.as_bytes();
        if hash.starts_with("$md5-crypt$") {
            Some(HashFormat::Md5Crypt)
        } else if b.starts_with(b"$2$")
            || (b.len() >= 4
                && b.starts_with(b"$2")
                && matches!(b[2], b'a' | b'b' | b'y' | b'z')
                && b[3] == b'$')
        {
            Some(HashFormat::Bcrypt)
        } else if hash.starts_with("$sha256-crypt$") {
            Some(HashFormat::Sha256Crypt)
        } else if hash.starts_with("$sha512-crypt$") {
            Some(HashFormat::Sha512Crypt)
        } else if hash.starts_with("$argon2id$") {
            Some(HashFormat::Argon2id)
        } else if hash.starts_with("$argon2i$") {
            Some(HashFormat::Argon2i)
        } else if is_pbkdf2_prefix(hash) {
            Some(HashFormat::Pbkdf2)
        } else if hash.starts_with("$scrypt$") {
            Some(HashFormat::Scrypt)
        } else if ["{SSHA}", "{SSHA256}", "{SSHA512}"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            Some(HashFormat::Ssha)
        } else if ["$sha1$", "$sha256$", "$sha512$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            Some(HashFormat::Sha)
        } else if hash.starts_with("$firescrypt$") {
            Some(HashFormat::FirebaseScrypt)
        } else if hash.starts_with("$md5$") {
            Some(HashFormat::Md5)
        } else if [
            "md4$", "md5$", "sha1$", "sha224$", "sha256$", "sha384$", "sha512$",
        ]
        .iter()
        .any(|alg| {
            hash.strip_prefix("$hmac-")
                .is_some_and(|r| r.starts_with(alg))
        }) {
            Some(HashFormat::Hmac)
        } else {
            None
        }
    }

    /// Short lowercase name of the format (`argon2id`, `bcrypt`, `md5crypt`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HashFormat::Argon2id => "argon2id",
            HashFormat::Argon2i => "argon2i",
            HashFormat::Bcrypt => "bcrypt",
            HashFormat::Pbkdf2 => "pbkdf2",
            HashFormat::Scrypt => "scrypt",
            HashFormat::FirebaseScrypt => "firebasescrypt",
            HashFormat::Ssha => "ssha",
            HashFormat::Sha => "sha",
            HashFormat::Md5 => "md5",
            HashFormat::Md5Crypt => "md5crypt",
            HashFormat::Sha256Crypt => "sha256crypt",
            HashFormat::Sha512Crypt => "sha512crypt",
            HashFormat::Hmac => "hmac",
        }
    }
}

impl fmt::Display for HashFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `^\$pbkdf2-sha[0-9]{1,3}\$`
fn is_pbkdf2_prefix(hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$pbkdf2-sha") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&digits) && rest.as_bytes().get(digits) == Some(&b'$')
}

/// A hash decoded and bounds-checked, ready to verify a password.
enum Parsed<'a> {
    Argon2(argon2::Argon2Hash),
    Bcrypt(bcrypt::BcryptHash<'a>),
    Pbkdf2(pbkdf2::Pbkdf2Hash),
    Scrypt(scrypt::ScryptHash),
    FirebaseScrypt(scrypt::FirebaseScryptHash),
    Md5Crypt(crypt::Md5CryptHash<'a>),
    ShaCrypt(crypt::ShaCryptHash<'a>),
    Ssha(legacy::SshaHash),
    Sha(legacy::ShaHash),
    Md5(legacy::Md5Hash),
    Hmac(legacy::HmacHash),
}

fn parse(hash: &str) -> Result<(HashFormat, Parsed<'_>), HashError> {
    let format = HashFormat::detect(hash).ok_or(HashError::UnknownFormat)?;
    let parsed = match format {
        HashFormat::Argon2id | HashFormat::Argon2i => Parsed::Argon2(argon2::parse(hash, format)?),
        HashFormat::Bcrypt => Parsed::Bcrypt(bcrypt::parse(hash)?),
        HashFormat::Pbkdf2 => Parsed::Pbkdf2(pbkdf2::parse(hash)?),
        HashFormat::Scrypt => Parsed::Scrypt(scrypt::parse(hash)?),
        HashFormat::FirebaseScrypt => Parsed::FirebaseScrypt(scrypt::parse_firebase(hash)?),
        HashFormat::Md5Crypt => Parsed::Md5Crypt(crypt::parse_md5(hash)?),
        HashFormat::Sha256Crypt | HashFormat::Sha512Crypt => {
            Parsed::ShaCrypt(crypt::parse_sha(hash, format)?)
        }
        HashFormat::Ssha => Parsed::Ssha(legacy::parse_ssha(hash)?),
        HashFormat::Sha => Parsed::Sha(legacy::parse_sha(hash)?),
        HashFormat::Md5 => Parsed::Md5(legacy::parse_md5(hash)?),
        HashFormat::Hmac => Parsed::Hmac(legacy::parse_hmac(hash)?),
    };
    Ok((format, parsed))
}

impl Parsed<'_> {
    fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        match self {
            Parsed::Argon2(h) => h.verify(password),
            Parsed::Bcrypt(h) => h.verify(password),
            Parsed::Pbkdf2(h) => Ok(h.verify(password)),
            Parsed::Scrypt(h) => h.verify(password),
            Parsed::FirebaseScrypt(h) => h.verify(password),
            Parsed::Md5Crypt(h) => Ok(h.verify(password)),
            Parsed::ShaCrypt(h) => h.verify(password),
            Parsed::Ssha(h) => Ok(h.verify(password)),
            Parsed::Sha(h) => Ok(h.verify(password)),
            Parsed::Md5(h) => Ok(h.verify(password)),
            Parsed::Hmac(h) => Ok(h.verify(password)),
        }
    }
}

/// Verifies `password` against `hash` in any supported format.
///
/// Returns `Ok(true)` on a match and `Ok(false)` on a mismatch. Returns an
/// error, without computing anything, when the format is unknown, the hash is
/// malformed or a cost parameter is out of bounds (see [`limits`]), and
/// [`HashError::PasswordTooLong`] for a bcrypt hash and a password over 72
/// bytes.
pub fn verify(password: &[u8], hash: &str) -> Result<bool, HashError> {
    let (_, parsed) = parse(hash)?;
    parsed.verify(password)
}

/// Checks that an imported hash is well-formed, of a known format and inside
/// the cost bounds (see [`limits`]); returns its format. Only hashes that
/// pass this check can later be given to [`verify`] without an error.
pub fn validate_import(hash: &str) -> Result<HashFormat, HashError> {
    parse(hash).map(|(format, _)| format)
}

/// Argon2id parameters for new hashes.
///
/// The defaults (19 MiB, 2 iterations, parallelism 1, 16-byte salt, 32-byte
/// key) are OWASP's recommended Argon2id configuration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Argon2Params {
    /// Memory cost in KiB; `8 * parallelism ..= 1048576`.
    pub memory_kib: u32,
    /// Number of passes; `1..=10`.
    pub iterations: u32,
    /// Degree of parallelism (lanes); `1..=16`.
    pub parallelism: u32,
    /// Salt length in bytes; `8..=1024`.
    pub salt_length: u32,
    /// Derived key length in bytes; `16..=1024`.
    pub key_length: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }
}

/// Algorithm and parameters for new hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// Argon2id (version 19) in the Kratos string format.
    Argon2id(Argon2Params),
    /// bcrypt, written as `$2a$<cost>$...`.
    Bcrypt {
        /// Cost (log2 of the rounds); `4..=15`. The default is 12.
        cost: u32,
    },
}

impl HashAlgorithm {
    /// bcrypt with the default cost of 12.
    pub const DEFAULT_BCRYPT: HashAlgorithm = HashAlgorithm::Bcrypt { cost: 12 };
}

impl Default for HashAlgorithm {
    fn default() -> Self {
        HashAlgorithm::Argon2id(Argon2Params::default())
    }
}

/// A configured password hasher; cheap to clone (the state is shared).
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<HasherInner>,
}

struct HasherInner {
    algorithm: HashAlgorithm,
    /// Hash of a random password made with the configured algorithm, used
    /// by [`Hasher::verify_dummy`].
    dummy_hash: String,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.inner.algorithm)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// Validates the parameters and builds a hasher.
    ///
    /// bcrypt's cost must be in `4..=15`: the algorithm allows up to 31, but
    /// [`verify`] refuses hashes above 15, so a higher configured cost would
    /// produce hashes that can never be verified. Argon2id parameters must
    /// lie inside the bounds documented on [`Argon2Params`].
    ///
    /// Construction computes one hash (of a random password) for
    /// [`Hasher::verify_dummy`], so it takes as long as one [`Hasher::hash`].
    pub fn new(algorithm: HashAlgorithm) -> Result<Self, HashError> {
        match &algorithm {
            HashAlgorithm::Argon2id(p) => argon2::validate_config(p)?,
            HashAlgorithm::Bcrypt { cost } => bcrypt::validate_config(*cost)?,
        }
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|_| HashError::Rng)?;
        let dummy_hash = hash_with(&algorithm, &random)?;
        Ok(Hasher {
            inner: Arc::new(HasherInner {
                algorithm,
                dummy_hash,
            }),
        })
    }

    /// The configured algorithm and parameters.
    pub fn algorithm(&self) -> &HashAlgorithm {
        &self.inner.algorithm
    }

    /// Hashes `password` with a fresh random salt.
    ///
    /// Output: `$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<salt>$<key>` (unpadded
    /// standard base64) or `$2a$<cost>$<salt><hash>`. bcrypt refuses
    /// passwords over 72 bytes with [`HashError::PasswordTooLong`].
    pub fn hash(&self, password: &[u8]) -> Result<String, HashError> {
        hash_with(&self.inner.algorithm, password)
    }

    /// Whether `stored_hash` should be replaced by a new hash of the same
    /// password: true when it is of another format than the configured one,
    /// uses other parameters (argon2: m, t, p, salt and key lengths; bcrypt:
    /// cost), or cannot be parsed.
    pub fn needs_rehash(&self, stored_hash: &str) -> bool {
        match (&self.inner.algorithm, parse(stored_hash)) {
            (HashAlgorithm::Argon2id(params), Ok((_, Parsed::Argon2(h)))) => !h.matches(params),
            (HashAlgorithm::Bcrypt { cost }, Ok((_, Parsed::Bcrypt(h)))) => h.cost != *cost,
            _ => true,
        }
    }

    /// Spends the time of one real verification with the configured
    /// algorithm, against a hash made once at construction, and discards the
    /// result. Call it when the account does not exist, so that response
    /// time does not reveal whether an account exists.
    pub fn verify_dummy(&self, password: &[u8]) {
        let outcome = verify(password, &self.inner.dummy_hash);
        std::hint::black_box(outcome.is_ok());
    }
}

fn hash_with(algorithm: &HashAlgorithm, password: &[u8]) -> Result<String, HashError> {
    match algorithm {
        HashAlgorithm::Argon2id(p) => argon2::hash(p, password),
        HashAlgorithm::Bcrypt { cost } => bcrypt::hash(*cost, password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_prefixes() {
        let cases: &[(&str, Option<HashFormat>)] = &[
            ("$md5-crypt$", Some(HashFormat::Md5Crypt)),
            ("$2$", Some(HashFormat::Bcrypt)),
            ("$2a$", Some(HashFormat::Bcrypt)),
            ("$2b$", Some(HashFormat::Bcrypt)),
            ("$2y$", Some(HashFormat::Bcrypt)),
            ("$2z$", Some(HashFormat::Bcrypt)),
            ("$2x$", None),
            ("$2ab$", None),
            ("$sha256-crypt$", Some(HashFormat::Sha256Crypt)),
            ("$sha512-crypt$", Some(HashFormat::Sha512Crypt)),
            ("$argon2id$", Some(HashFormat::Argon2id)),
            ("$argon2i$", Some(HashFormat::Argon2i)),
            ("$argon2d$", None),
            ("$pbkdf2-sha1$", Some(HashFormat::Pbkdf2)),
            ("$pbkdf2-sha512$", Some(HashFormat::Pbkdf2)),
            ("$pbkdf2-sha0$", Some(HashFormat::Pbkdf2)),
            ("$pbkdf2-sha$", None),
            ("$pbkdf2-sha1024$", None),
            ("$pbkdf2-sha256", None),
            ("$scrypt$", Some(HashFormat::Scrypt)),
            ("{SSHA}", Some(HashFormat::Ssha)),
            ("{SSHA256}", Some(HashFormat::Ssha)),
            ("{SSHA512}x", Some(HashFormat::Ssha)),
            ("{SSHA384}", None),
            ("$sha1$", Some(HashFormat::Sha)),
            ("$sha256$", Some(HashFormat::Sha)),
            ("$sha512$", Some(HashFormat::Sha)),
            ("$sha384$", None),
            ("$firescrypt$", Some(HashFormat::FirebaseScrypt)),
            ("$md5$", Some(HashFormat::Md5)),
            ("$md5", None),
            ("$hmac-md4$", Some(HashFormat::Hmac)),
            ("$hmac-sha384$", Some(HashFormat::Hmac)),
            ("$hmac-sha3$", None),
            ("$hmac-sha256", None),
            ("", None),
            ("plain", None),
        ];
        for (hash, want) in cases {
            assert_eq!(HashFormat::detect(hash), *want, "{hash:?}");
        }
    }

    #[test]
    fn public_types_are_thread_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Hasher>();
        assert_send_sync::<HashError>();
        assert_send_sync::<HashAlgorithm>();
        assert_send_sync::<HashFormat>();
    }

    #[test]
    fn format_names() {
        assert_eq!(HashFormat::FirebaseScrypt.to_string(), "firebasescrypt");
        assert_eq!(HashFormat::Md5Crypt.as_str(), "md5crypt");
        assert_eq!(HashFormat::Argon2id.to_string(), "argon2id");
    }

    #[test]
    fn error_messages_name_format_and_parameter() {
        let err = validate_import("$scrypt$ln=262144,r=8,p=1$c2FsdA==$AAAA").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scrypt parameter ln=262144 is out of bounds (max 131072)"
        );
        let err = validate_import("$argon2id$v=19$m=64,t=1,p=1$%%%$AAAA").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed argon2id hash: salt is not valid base64"
        );
        assert_eq!(
            validate_import("nope").unwrap_err().to_string(),
            "unknown password hash format"
        );
    }

    #[test]
    fn hasher_debug_shows_only_the_algorithm() {
        let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost: 4 }).unwrap();
        assert_eq!(
            format!("{hasher:?}"),
            "Hasher { algorithm: Bcrypt { cost: 4 }, .. }"
        );
    }

    #[test]
    fn argon2_params_deserialize_with_defaults() {
        // serde(default): a partial configuration keeps the other defaults.
        let p: Argon2Params = serde_json::from_str(r#"{"memory_kib": 65536}"#).unwrap();
        assert_eq!(
            p,
            Argon2Params {
                memory_kib: 65536,
                ..Argon2Params::default()
            }
        );
    }
}
