//! scrypt (`$scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<key>`, where `ln` holds N
//! itself, not its logarithm) and Firebase's scrypt variant
//! (`$firescrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>$<salt separator>$<signer key>`).
//! All base64 sections are padded, strict standard base64.

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use crate::encoding::{B64_PADDED_STRICT, check_bounds, ct_eq, decode, parse_params};
use crate::{HashError, HashFormat};

/// Largest accepted scrypt N (the `ln` parameter of `$scrypt$`).
pub const MAX_N: u64 = 1 << 17;
/// Largest accepted log2(N) (the `ln` parameter of `$firescrypt$`).
pub const MAX_LOG_N: u64 = 17;
/// Largest accepted block size r.
pub const MAX_R: u64 = 8;
/// Largest accepted parallelisation p.
pub const MAX_P: u64 = 10;

/// Validated scrypt cost parameters.
struct Cost {
    log_n: u8,
    r: u32,
    p: u32,
}

impl Cost {
    fn run(&self, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), HashError> {
        let params = scrypt::Params::new(self.log_n, self.r, self.p)
            .map_err(|_| HashError::InvalidParameters("scrypt: invalid parameters".to_owned()))?;
        scrypt::scrypt(password, salt, &params, out)
            .map_err(|_| HashError::InvalidParameters("scrypt: invalid output length".to_owned()))
    }
}

fn parse_r_p(format: HashFormat, r: u64, p: u64) -> Result<(u32, u32), HashError> {
    check_bounds(format, "r", r, MAX_R)?;
    check_bounds(format, "p", p, MAX_P)?;
    Ok((r as u32, p as u32))
}

/// A decoded `$scrypt$` hash. No `Debug`: it holds the salt and the key.
pub(crate) struct ScryptHash {
    cost: Cost,
    salt: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse(hash: &str) -> Result<ScryptHash, HashError> {
    const FORMAT: HashFormat = HashFormat::Scrypt;
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, params, salt, key] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<key>",
        ));
    };
    let [n, r, p] = parse_params(params, ["ln", "r", "p"], FORMAT)?;
    check_bounds(FORMAT, "ln", n, MAX_N)?;
    let (r, p) = parse_r_p(FORMAT, r, p)?;
    if n < 2 || !n.is_power_of_two() {
        return Err(HashError::malformed(
            FORMAT,
            "ln (N) must be a power of two greater than 1",
        ));
    }
    let salt = decode(&B64_PADDED_STRICT, salt, FORMAT, "salt")?;
    let key = Zeroizing::new(decode(&B64_PADDED_STRICT, key, FORMAT, "key")?);
    if key.is_empty() {
        return Err(HashError::malformed(FORMAT, "key is empty"));
    }
    Ok(ScryptHash {
        cost: Cost {
            log_n: n.trailing_zeros() as u8,
            r,
            p,
        },
        salt,
        key,
    })
}

impl ScryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        let mut out = Zeroizing::new(vec![0u8; self.key.len()]);
        self.cost.run(password, &self.salt, &mut out)?;
        Ok(ct_eq(&out, &self.key))
    }
}

/// A decoded `$firescrypt$` hash. No `Debug`: it holds key material.
pub(crate) struct FirebaseScryptHash {
    cost: Cost,
    /// Salt followed by the salt separator.
    salt: Vec<u8>,
    hash: Zeroizing<Vec<u8>>,
    signer_key: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse_firebase(hash: &str) -> Result<FirebaseScryptHash, HashError> {
    const FORMAT: HashFormat = HashFormat::FirebaseScrypt;
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, params, salt, digest, separator, signer_key] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $firescrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>$<salt separator>$<signer key>",
        ));
    };
    let [log_n, r, p] = parse_params(params, ["ln", "r", "p"], FORMAT)?;
    check_bounds(FORMAT, "ln", log_n, MAX_LOG_N)?;
    let (r, p) = parse_r_p(FORMAT, r, p)?;
    let mut salt = decode(&B64_PADDED_STRICT, salt, FORMAT, "salt")?;
    let hash = Zeroizing::new(decode(&B64_PADDED_STRICT, digest, FORMAT, "hash")?);
    let separator = decode(&B64_PADDED_STRICT, separator, FORMAT, "salt separator")?;
    let signer_key = Zeroizing::new(decode(
        &B64_PADDED_STRICT,
        signer_key,
        FORMAT,
        "signer key",
    )?);
    if hash.is_empty() || hash.len() != signer_key.len() {
        return Err(HashError::malformed(
            FORMAT,
            "hash must be non-empty and as long as the signer key",
        ));
    }
    salt.extend_from_slice(&separator);
    Ok(FirebaseScryptHash {
        cost: Cost {
            log_n: log_n as u8,
            r,
            p,
        },
        salt,
        hash,
        signer_key,
    })
}

impl FirebaseScryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        let mut key = Zeroizing::new([0u8; 32]);
        self.cost.run(password, &self.salt, &mut key[..])?;
        let mut out = Zeroizing::new(self.signer_key.to_vec());
        let mut cipher = Ctr128BE::<Aes256>::new_from_slices(&key[..], &[0u8; 16])
            .map_err(|_| HashError::InvalidParameters("aes: bad key length".to_owned()))?;
        cipher.apply_keystream(&mut out);
        Ok(ct_eq(&out, &self.hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7914_vector() {
        // RFC 7914 section 12, first vector: P="", S="", N=16, r=1, p=1,
        // dkLen=64, DK=77d65762...38d18906 (base64 below; hashlib.scrypt
        // agrees). The salt is empty, which the format allows.
        let key = "d9ZXYjhleyA7GcpCwYoEl/FrSETjB0ro39/6P+3iFEL80Aad7QlI+DJqdToPyB8X6NPg+y4NNijPNeIMONGJBg==";
        let h = parse(&format!("$scrypt$ln=16,r=1,p=1$${key}")).unwrap();
        assert!(h.verify(b"").unwrap());
        assert!(!h.verify(b" ").unwrap());
    }

    #[test]
    fn n_must_be_a_power_of_two() {
        for n in ["3", "6", "1000", "131071"] {
            assert!(matches!(
                parse(&format!("$scrypt$ln={n},r=1,p=1$c2FsdA==$AAAA")),
                Err(HashError::Malformed { .. })
            ));
        }
        for n in ["2", "16", "131072"] {
            let h = parse(&format!("$scrypt$ln={n},r=1,p=1$c2FsdA==$AAAA")).unwrap();
            assert_eq!(1u64 << h.cost.log_n, n.parse::<u64>().unwrap());
        }
    }
}
