//! PBKDF2-HMAC: `$pbkdf2-<alg>$i=<iterations>,l=<length>$<salt>$<key>`.
//!
//! Algorithm names follow Kratos: `sha1`, `sha256` and `sha512` are what they
//! say, but `sha224` and `sha384` select **SHA3**-224 and **SHA3**-384, and any
//! other `sha<digits>` name falls back to SHA-256. The `l` parameter must be a
//! number but the derived key length is taken from the decoded key.

use zeroize::Zeroizing;

use crate::encoding::{B64_RAW_STRICT, check_bounds, ct_eq, decode, parse_params};
use crate::{HashError, HashFormat};

/// Largest accepted iteration count.
pub const MAX_ITERATIONS: u64 = 10_000_000;
/// Largest accepted derived key, in bytes. The work grows with the number of
/// output blocks, so the key length is bounded as well as the iterations.
pub const MAX_KEY_LEN: u64 = 64;

const FORMAT: HashFormat = HashFormat::Pbkdf2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prf {
    Sha1,
    Sha3_224,
    Sha256,
    Sha3_384,
    Sha512,
}

/// A decoded PBKDF2 hash. No `Debug`: it holds the salt and the key.
pub(crate) struct Pbkdf2Hash {
    prf: Prf,
    iterations: u32,
    salt: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
}

pub(crate) fn parse(hash: &str) -> Result<Pbkdf2Hash, HashError> {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, ident, params, salt, key] = parts[..] else {
        return Err(HashError::malformed(
            FORMAT,
            "expected $pbkdf2-<alg>$i=<i>,l=<l>$<salt>$<key>",
        ));
    };
    let alg = ident
        .strip_prefix("pbkdf2-")
        .ok_or_else(|| HashError::malformed(FORMAT, "missing pbkdf2- prefix"))?;
    let prf = match alg {
        "sha1" => Prf::Sha1,
        "sha224" => Prf::Sha3_224,
        "sha384" => Prf::Sha3_384,
        "sha512" => Prf::Sha512,
        _ => Prf::Sha256,
    };
    let [iterations, _declared_len] = parse_params(params, ["i", "l"], FORMAT)?;
    check_bounds(FORMAT, "i", iterations, MAX_ITERATIONS)?;
    let salt = decode(&B64_RAW_STRICT, salt, FORMAT, "salt")?;
    let key = Zeroizing::new(decode(&B64_RAW_STRICT, key, FORMAT, "key")?);
    if key.is_empty() {
        return Err(HashError::malformed(FORMAT, "key is empty"));
    }
    check_bounds(FORMAT, "key length", key.len() as u64, MAX_KEY_LEN)?;
    Ok(Pbkdf2Hash {
        prf,
        iterations: iterations as u32,
        salt,
        key,
    })
}

impl Pbkdf2Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let mut out = Zeroizing::new(vec![0u8; self.key.len()]);
        let (pw, salt, i) = (password, self.salt.as_slice(), self.iterations);
        match self.prf {
            Prf::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, salt, i, &mut out),
            Prf::Sha3_224 => pbkdf2::pbkdf2_hmac::<sha3::Sha3_224>(pw, salt, i, &mut out),
            Prf::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, i, &mut out),
            Prf::Sha3_384 => pbkdf2::pbkdf2_hmac::<sha3::Sha3_384>(pw, salt, i, &mut out),
            Prf::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, salt, i, &mut out),
        }
        ct_eq(&out, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        let prf = |alg: &str| {
            parse(&format!("$pbkdf2-{alg}$i=1,l=4$c2FsdA$AAAAAA"))
                .map(|h| h.prf)
                .ok()
        };
        assert!(prf("sha1") == Some(Prf::Sha1));
        assert!(prf("sha224") == Some(Prf::Sha3_224));
        assert!(prf("sha256") == Some(Prf::Sha256));
        assert!(prf("sha384") == Some(Prf::Sha3_384));
        assert!(prf("sha512") == Some(Prf::Sha512));
        assert!(prf("sha3") == Some(Prf::Sha256));
        assert!(prf("sha999") == Some(Prf::Sha256));
    }

    #[test]
    fn rfc6070_sha1() {
        // RFC 6070 test case 2: P="password", S="salt", c=2, dkLen=20,
        // DK=ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957.
        let h = parse("$pbkdf2-sha1$i=2,l=20$c2FsdA$6mwBTcctb4zNHtkqzh1B8NjeiVc").unwrap();
        assert!(h.verify(b"password"));
        assert!(!h.verify(b"Password"));
    }

    #[test]
    fn declared_length_is_not_binding() {
        // `l` must be a number, but the key's real length decides.
        let h = parse("$pbkdf2-sha1$i=2,l=99$c2FsdA$6mwBTcctb4zNHtkqzh1B8NjeiVc").unwrap();
        assert!(h.verify(b"password"));
    }
}
