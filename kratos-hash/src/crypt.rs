//! crypt(3) formats under Kratos names:
//! `$md5-crypt$<salt>$<hash>` (crypt's `$1$`),
//! `$sha256-crypt$[rounds=<n>$]<salt>$<hash>` (`$5$`) and
//! `$sha512-crypt$[rounds=<n>$]<salt>$<hash>` (`$6$`).
//!
//! md5-crypt is implemented here from its published description (the
//! FreeBSD algorithm); sha-crypt uses the `sha-crypt` crate for the digest and
//! encodes it here. Comparison is constant-time over the encoded digests.

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::encoding::{crypt_b64_push, ct_eq, is_crypt_b64, parse_decimal};
use crate::{HashError, HashFormat};

/// Largest accepted sha-crypt `rounds`. The crypt(3) specification allows
/// up to 999,999,999 (minutes of CPU per verification); this bound keeps the
/// cost in the range of the other formats' bounds.
pub const MAX_SHA_CRYPT_ROUNDS: u64 = 10_000_000;
/// sha-crypt rounds used when the hash has no `rounds=` section.
pub const DEFAULT_SHA_CRYPT_ROUNDS: u32 = 5_000;
/// Smaller `rounds` values are raised to this, as crypt(3) specifies.
pub const MIN_SHA_CRYPT_ROUNDS: u32 = 1_000;

const MD5_SALT_MAX: usize = 8;
const MD5_HASH_CHARS: usize = 22;

/// A decoded md5-crypt hash. No `Debug`: it holds the salt and digest.
pub(crate) struct Md5CryptHash<'a> {
    salt: &'a [u8],
    digest: &'a str,
}

pub(crate) fn parse_md5(hash: &str) -> Result<Md5CryptHash<'_>, HashError> {
    const FORMAT: HashFormat = HashFormat::Md5Crypt;
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, salt, digest] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $md5-crypt$<salt>$<hash>",
        ));
    };
    if digest.len() != MD5_HASH_CHARS || !is_crypt_b64(digest) {
        return Err(HashError::malformed(
            FORMAT,
            "hash must be 22 characters of crypt base64",
        ));
    }
    let salt = salt.as_bytes();
    Ok(Md5CryptHash {
        salt: &salt[..salt.len().min(MD5_SALT_MAX)],
        digest,
    })
}

/// The md5-crypt digest of `password` with `salt` (at most 8 bytes),
/// encoded as 22 crypt base64 characters.
pub(crate) fn md5_crypt(password: &[u8], salt: &[u8]) -> Zeroizing<Vec<u8>> {
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(b"$1$")
        .chain_update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alternate[..n]);
        left -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut fin = Zeroizing::new([0u8; 16]);
    fin.copy_from_slice(&ctx.finalize());
    for i in 0..1000 {
        let mut round = Md5::new();
        if i & 1 == 1 {
            round.update(password);
        } else {
            round.update(&fin[..]);
        }
        if i % 3 != 0 {
            round.update(salt);
        }
        if i % 7 != 0 {
            round.update(password);
        }
        if i & 1 == 1 {
            round.update(&fin[..]);
        } else {
            round.update(password);
        }
        fin.copy_from_slice(&round.finalize());
    }
    let f = &fin;
    let mut out = Zeroizing::new(Vec::with_capacity(MD5_HASH_CHARS));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        crypt_b64_push(&mut out, f[a], f[b], f[c], 4);
    }
    crypt_b64_push(&mut out, 0, 0, f[11], 2);
    out
}

impl Md5CryptHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        ct_eq(&md5_crypt(password, self.salt), self.digest.as_bytes())
    }
}

/// Which SHA-2 function a sha-crypt hash uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShaVariant {
    Sha256,
    Sha512,
}

/// A decoded sha-crypt hash. No `Debug`: it holds the salt and digest.
pub(crate) struct ShaCryptHash<'a> {
    variant: ShaVariant,
    rounds: u32,
    salt: &'a [u8],
    digest: &'a str,
}

pub(crate) fn parse_sha(hash: &str, format: HashFormat) -> Result<ShaCryptHash<'_>, HashError> {
    let (variant, chars) = match format {
        HashFormat::Sha256Crypt => (ShaVariant::Sha256, 43),
        _ => (ShaVariant::Sha512, 86),
    };
    let parts: Vec<&str> = hash.split('$').collect();
    let (rounds, salt, digest) = match parts[..] {
        [_, _, params, salt, digest] => {
            let rounds = params
                .strip_prefix("rounds=")
                .and_then(parse_decimal)
                .ok_or_else(|| HashError::malformed(format, "expected rounds=<number>"))?;
            if rounds > MAX_SHA_CRYPT_ROUNDS {
                return Err(HashError::OutOfBounds {
                    format,
                    parameter: "rounds",
                    value: rounds,
                    max: MAX_SHA_CRYPT_ROUNDS,
                });
            }
            // Lower values are raised to the minimum, as crypt(3) does.
            ((rounds as u32).max(MIN_SHA_CRYPT_ROUNDS), salt, digest)
        }
        [_, _, salt, digest] => (DEFAULT_SHA_CRYPT_ROUNDS, salt, digest),
        _ => {
            return Err(HashError::malformed(
                format,
                "expected $<variant>$[rounds=<n>$]<salt>$<hash>",
            ));
        }
    };
    if digest.len() != chars || !is_crypt_b64(digest) {
        return Err(HashError::malformed(
            format,
            &format!("hash must be {chars} characters of crypt base64"),
        ));
    }
    Ok(ShaCryptHash {
        variant,
        rounds,
        salt: salt.as_bytes(),
        digest,
    })
}

/// Byte order in which crypt(3) encodes the SHA-256 result, in 3-byte groups.
const SHA256_ORDER: [(usize, usize, usize); 10] = [
    (0, 10, 20),
    (21, 1, 11),
    (12, 22, 2),
    (3, 13, 23),
    (24, 4, 14),
    (15, 25, 5),
    (6, 16, 26),
    (27, 7, 17),
    (18, 28, 8),
    (9, 19, 29),
];

/// Byte order in which crypt(3) encodes the SHA-512 result, in 3-byte groups.
const SHA512_ORDER: [(usize, usize, usize); 21] = [
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
];

impl ShaCryptHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        let params = sha_crypt::Params::new(self.rounds)
            .map_err(|_| HashError::InvalidParameters("sha-crypt: invalid rounds".to_owned()))?;
        let mut out = Zeroizing::new(Vec::with_capacity(86));
        match self.variant {
            ShaVariant::Sha256 => {
                let d = Zeroizing::new(sha_crypt::sha256_crypt(password, self.salt, params));
                for (a, b, c) in SHA256_ORDER {
                    crypt_b64_push(&mut out, d[a], d[b], d[c], 4);
                }
                crypt_b64_push(&mut out, 0, d[31], d[30], 3);
            }
            ShaVariant::Sha512 => {
                let d = Zeroizing::new(sha_crypt::sha512_crypt(password, self.salt, params));
                for (a, b, c) in SHA512_ORDER {
                    crypt_b64_push(&mut out, d[a], d[b], d[c], 4);
                }
                crypt_b64_push(&mut out, 0, 0, d[63], 2);
            }
        }
        Ok(ct_eq(&out, self.digest.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 91 bytes: longer than one MD5 block of alternate sum and than the
    /// SHA-256/SHA-512 output, so every "repeat the password" loop runs.
    const LONG: &[u8] = b"a much longer password than sixteen bytes, and longer than sixty-four bytes too: 0123456789";

    #[test]
    fn md5_crypt_known_answers() {
        // openssl passwd -1 -salt saltsalt password123
        assert_eq!(
            &md5_crypt(b"password123", b"saltsalt")[..],
            b"4WS.Uhxmahm1YZiMsUNcc0"
        );
        // printf '%s' "$LONG" | openssl passwd -1 -salt LongSalt -stdin
        assert_eq!(&md5_crypt(LONG, b"LongSalt")[..], b"Jncn1vycQpwBJMTNWXasx0");
        // openssl cuts the salt 'rounds=1000$LongSaltX' to 8 characters and
        // prints $1$rounds=1$ZpCEb6ENg.0RrpFj1.8qF.:
        // printf '%s' "$LONG" | openssl passwd -1 -salt 'rounds=1000$LongSaltX' -stdin
        // md5-crypt has no rounds parameter; both spellings of the salt verify.
        for salt in ["rounds=1", "rounds=1000"] {
            let hash = format!("$md5-crypt${salt}$ZpCEb6ENg.0RrpFj1.8qF.");
            assert!(parse_md5(&hash).unwrap().verify(LONG), "{hash}");
        }
    }

    #[test]
    fn sha_crypt_long_password() {
        // printf '%s' "$LONG" | openssl passwd -5 -salt 'rounds=1000$LongSaltX' -stdin
        let h = "$sha256-crypt$rounds=1000$LongSaltX$xRJZW1BOlxSvNtXdvdMnvgZrwzWwhfYsqapiw4jLS54";
        let parsed = parse_sha(h, HashFormat::Sha256Crypt).unwrap();
        assert!(parsed.verify(LONG).unwrap());
        assert!(!parsed.verify(&LONG[1..]).unwrap());
        // printf '%s' "$LONG" | openssl passwd -6 -salt 'rounds=1000$LongSaltX' -stdin
        let h = "$sha512-crypt$rounds=1000$LongSaltX$WSa9zgliqp2Uwb8NcP06cFCB3l/wFXDoDL29Jh18XCnnFIiSBH9NhojG8MGVvyoSXM3sc6Xm.xL5ycCz6SjkD.";
        let parsed = parse_sha(h, HashFormat::Sha512Crypt).unwrap();
        assert!(parsed.verify(LONG).unwrap());
        assert!(!parsed.verify(b"").unwrap());
    }

    #[test]
    fn sha_crypt_rounds_handling() {
        let digest = "xRJZW1BOlxSvNtXdvdMnvgZrwzWwhfYsqapiw4jLS54";
        let rounds = |r: &str| {
            parse_sha(
                &format!("$sha256-crypt$rounds={r}$s${digest}"),
                HashFormat::Sha256Crypt,
            )
            .map(|h| h.rounds)
        };
        assert_eq!(rounds("0").unwrap(), MIN_SHA_CRYPT_ROUNDS);
        assert_eq!(rounds("999").unwrap(), MIN_SHA_CRYPT_ROUNDS);
        assert_eq!(rounds("1001").unwrap(), 1001);
        assert_eq!(rounds("10000000").unwrap(), 10_000_000);
        assert!(matches!(
            rounds("10000001"),
            Err(HashError::OutOfBounds {
                value: 10_000_001,
                ..
            })
        ));
        assert!(matches!(rounds(""), Err(HashError::Malformed { .. })));
        assert!(matches!(rounds("-5"), Err(HashError::Malformed { .. })));
        let omitted = format!("$sha256-crypt$s${digest}");
        let parsed = parse_sha(&omitted, HashFormat::Sha256Crypt).unwrap();
        assert_eq!(parsed.rounds, DEFAULT_SHA_CRYPT_ROUNDS);
    }
}
