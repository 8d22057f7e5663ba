//! Unsalted or simply salted digests found in imported user tables:
//! `{SSHA}`/`{SSHA256}`/`{SSHA512}`, `$sha1$`/`$sha256$`/`$sha512$` with a
//! salting template, `$md5$` and `$hmac-<alg>$`.

use hmac::{KeyInit, Mac};
use sha2::Digest;
use zeroize::Zeroizing;

use crate::encoding::{B64_PADDED_LENIENT, B64_PADDED_STRICT, apply_template, ct_eq, decode};
use crate::{HashError, HashFormat};

/// SHA family used by `{SSHA*}` and `$sha*$` hashes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sha {
    Sha1,
    Sha256,
    Sha512,
}

impl Sha {
    fn len(self) -> usize {
        match self {
            Sha::Sha1 => 20,
            Sha::Sha256 => 32,
            Sha::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Sha::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Sha::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Sha::Sha512 => sha2::Sha512::digest(data).to_vec(),
        })
    }
}

/// A decoded `{SSHA*}` hash: base64 of digest followed by salt, where
/// digest = SHA(password ‖ salt). No `Debug`: it holds the salt and digest.
pub(crate) struct SshaHash {
    sha: Sha,
    digest: Zeroizing<Vec<u8>>,
    salt: Vec<u8>,
}

pub(crate) fn parse_ssha(hash: &str) -> Result<SshaHash, HashError> {
    const FORMAT: HashFormat = HashFormat::Ssha;
    let (sha, body) = if let Some(body) = hash.strip_prefix("{SSHA}") {
        (Sha::Sha1, body)
    } else if let Some(body) = hash.strip_prefix("{SSHA256}") {
        (Sha::Sha256, body)
    } else if let Some(body) = hash.strip_prefix("{SSHA512}") {
        (Sha::Sha512, body)
    } else {
        return Err(HashError::malformed(FORMAT, "unknown {SSHA} variant"));
    };
    let mut decoded = decode(&B64_PADDED_LENIENT, body, FORMAT, "value")?;
    if decoded.len() <= sha.len() {
        return Err(HashError::malformed(
            FORMAT,
            "value is too short for digest and salt",
        ));
    }
    let salt = decoded.split_off(sha.len());
    Ok(SshaHash {
        sha,
        digest: Zeroizing::new(decoded),
        salt,
    })
}

impl SshaHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let mut input = Zeroizing::new(Vec::with_capacity(password.len() + self.salt.len()));
        input.extend_from_slice(password);
        input.extend_from_slice(&self.salt);
        ct_eq(&self.sha.digest(&input), &self.digest)
    }
}

/// Decodes the `pf=<base64 template>` section.
fn parse_template(section: &str, format: HashFormat) -> Result<Vec<u8>, HashError> {
    let b64 = section
        .strip_prefix("pf=")
        .ok_or_else(|| HashError::malformed(format, "expected pf=<base64 template>"))?;
    decode(&B64_PADDED_STRICT, b64, format, "template")
}

/// A decoded `$sha1$`/`$sha256$`/`$sha512$` hash:
/// digest = SHA(template with `{SALT}` and `{PASSWORD}` filled in).
/// No `Debug`: it holds the salt and digest.
pub(crate) struct ShaHash {
    sha: Sha,
    template: Vec<u8>,
    salt: Vec<u8>,
    digest: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse_sha(hash: &str) -> Result<ShaHash, HashError> {
    const FORMAT: HashFormat = HashFormat::Sha;
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, ident, template, salt, digest] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $<sha1|sha256|sha512>$pf=<template>$<salt>$<hash>",
        ));
    };
    let sha = match ident {
        "sha1" => Sha::Sha1,
        "sha256" => Sha::Sha256,
        "sha512" => Sha::Sha512,
        _ => return Err(HashError::malformed(FORMAT, "unknown SHA variant")),
    };
    let template = parse_template(template, FORMAT)?;
    let salt = decode(&B64_PADDED_STRICT, salt, FORMAT, "salt")?;
    let digest = Zeroizing::new(decode(&B64_PADDED_STRICT, digest, FORMAT, "hash")?);
    if digest.len() != sha.len() {
        return Err(HashError::malformed(
            FORMAT,
            "hash length does not match the digest",
        ));
    }
    Ok(ShaHash {
        sha,
        template,
        salt,
        digest,
    })
}

impl ShaHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let input = Zeroizing::new(apply_template(&self.template, &self.salt, password));
        ct_eq(&self.sha.digest(&input), &self.digest)
    }
}

/// A decoded `$md5$` hash, plain (`$md5$<hash>`) or salted
/// (`$md5$pf=<template>$<salt>$<hash>`). No `Debug`: it holds the digest.
pub(crate) struct Md5Hash {
    template: Option<(Vec<u8>, Vec<u8>)>,
    digest: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse_md5(hash: &str) -> Result<Md5Hash, HashError> {
    const FORMAT: HashFormat = HashFormat::Md5;
    let parts: Vec<&str> = hash.split('$').collect();
    let (template, digest) = match parts[..] {
        [_, _, digest] => (None, digest),
        [_, _, template, salt, digest] => {
            let template = parse_template(template, FORMAT)?;
            let salt = decode(&B64_PADDED_STRICT, salt, FORMAT, "salt")?;
            (Some((template, salt)), digest)
        }
        _ => {
            return Err(HashError::malformed(
                FORMAT,
                "expected $md5$<hash> or $md5$pf=<template>$<salt>$<hash>",
            ));
        }
    };
    let digest = Zeroizing::new(decode(&B64_PADDED_STRICT, digest, FORMAT, "hash")?);
    if digest.len() != 16 {
        return Err(HashError::malformed(FORMAT, "hash is not 16 bytes"));
    }
    Ok(Md5Hash { template, digest })
}

impl Md5Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let computed = match &self.template {
            None => md5::Md5::digest(password),
            Some((template, salt)) => {
                md5::Md5::digest(Zeroizing::new(apply_template(template, salt, password)))
            }
        };
        ct_eq(&computed, &self.digest)
    }
}

/// Hash function under an `$hmac-<alg>$` hash. `sha224` and `sha384` are
/// SHA-2 here (unlike in PBKDF2 hashes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum HmacAlg {
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HmacAlg {
    fn output_len(self) -> usize {
        match self {
            HmacAlg::Md4 | HmacAlg::Md5 => 16,
            HmacAlg::Sha1 => 20,
            HmacAlg::Sha224 => 28,
            HmacAlg::Sha256 => 32,
            HmacAlg::Sha384 => 48,
            HmacAlg::Sha512 => 64,
        }
    }
}

/// A decoded `$hmac-<alg>$<base64 of hex MAC>$<base64 key>` hash.
/// No `Debug`: it holds the MAC and the key.
pub(crate) struct HmacHash {
    alg: HmacAlg,
    hex_mac: Zeroizing<Vec<u8>>,
    key: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse_hmac(hash: &str) -> Result<HmacHash, HashError> {
    const FORMAT: HashFormat = HashFormat::Hmac;
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, ident, mac, key] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $hmac-<alg>$<hash>$<key>",
        ));
    };
    let alg = match ident.strip_prefix("hmac-") {
        Some("md4") => HmacAlg::Md4,
        Some("md5") => HmacAlg::Md5,
        Some("sha1") => HmacAlg::Sha1,
        Some("sha224") => HmacAlg::Sha224,
        Some("sha256") => HmacAlg::Sha256,
        Some("sha384") => HmacAlg::Sha384,
        Some("sha512") => HmacAlg::Sha512,
        _ => return Err(HashError::malformed(FORMAT, "unknown HMAC algorithm")),
    };
    let hex_mac = Zeroizing::new(decode(&B64_PADDED_STRICT, mac, FORMAT, "hash")?);
    if hex_mac.len() != 2 * alg.output_len()
        || !hex_mac
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err(HashError::malformed(
            FORMAT,
            "hash must encode the lowercase hex MAC of the right length",
        ));
    }
    let key = Zeroizing::new(decode(&B64_PADDED_STRICT, key, FORMAT, "key")?);
    Ok(HmacHash { alg, hex_mac, key })
}

fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    Zeroizing::new(m.finalize().into_bytes().to_vec())
}

fn to_lower_hex(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 2));
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
    out
}

impl HmacHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let k = &self.key[..];
        let raw = match self.alg {
            HmacAlg::Md4 => mac::<hmac::Hmac<md4::Md4>>(k, password),
            HmacAlg::Md5 => mac::<hmac::Hmac<md5::Md5>>(k, password),
            HmacAlg::Sha1 => mac::<hmac::Hmac<sha1::Sha1>>(k, password),
            HmacAlg::Sha224 => mac::<hmac::Hmac<sha2::Sha224>>(k, password),
            HmacAlg::Sha256 => mac::<hmac::Hmac<sha2::Sha256>>(k, password),
            HmacAlg::Sha384 => mac::<hmac::Hmac<sha2::Sha384>>(k, password),
            HmacAlg::Sha512 => mac::<hmac::Hmac<sha2::Sha512>>(k, password),
        };
        ct_eq(&to_lower_hex(&raw), &self.hex_mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex() {
        assert_eq!(&to_lower_hex(&[0x00, 0x0f, 0xa5, 0xff])[..], b"000fa5ff");
    }

    #[test]
    fn rfc2202_hmac_md5() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?",
        // HMAC-MD5 = 750c783e6ab0b503eaa86e310a5db738.
        let h =
            parse_hmac("$hmac-md5$NzUwYzc4M2U2YWIwYjUwM2VhYTg2ZTMxMGE1ZGI3Mzg=$SmVmZQ==").unwrap();
        assert!(h.verify(b"what do ya want for nothing?"));
        assert!(!h.verify(b"what do ya want for nothing"));
    }

    #[test]
    fn ssha_salt_split() {
        // base64(SHA1("password123" || "ssha-salt") || "ssha-salt")
        let h = parse_ssha("{SSHA}mPgDHKrt243BnDxx+hz4w9yGWStzc2hhLXNhbHQ=").unwrap();
        assert_eq!(h.salt, b"ssha-salt");
        assert_eq!(h.digest.len(), 20);
        assert!(h.verify(b"password123"));
    }

    #[test]
    fn md5_plain_rfc1321() {
        // RFC 1321: MD5("abc") = 900150983cd24fb0d6963f7d28e17f72.
        let h = parse_md5("$md5$kAFQmDzST7DWlj99KOF/cg==").unwrap();
        assert!(h.verify(b"abc"));
        assert!(!h.verify(b"abd"));
    }
}
