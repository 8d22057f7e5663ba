//! bcrypt: `$2a$<cost>$<22 salt chars><31 hash chars>` (also `$2$`, `$2b$`,
//! `$2y$` and `$2z$`, which all compute the same function here).

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::encoding::{B64_BCRYPT, ct_eq};
use crate::{HashError, HashFormat};

/// Longest password bcrypt can take, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// Largest cost accepted in a stored or imported hash.
pub const MAX_COST: u32 = 15;
/// Smallest cost the algorithm defines.
pub const MIN_COST: u32 = 4;

const FORMAT: HashFormat = HashFormat::Bcrypt;
const SALT_CHARS: usize = 22;
const HASH_CHARS: usize = 31;

/// A decoded bcrypt hash. No `Debug`: it holds the salt and the digest.
pub(crate) struct BcryptHash<'a> {
    pub(crate) cost: u32,
    salt: [u8; 16],
    digest: &'a str,
}

fn is_bcrypt_b64(s: &str) -> bool {
    s.bytes()
        .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric())
}

pub(crate) fn parse(hash: &str) -> Result<BcryptHash<'_>, HashError> {
    let rest = hash
        .strip_prefix("$2")
        .ok_or_else(|| HashError::malformed(FORMAT, "missing $2 prefix"))?;
    let rest = match rest.as_bytes().first() {
        Some(b'$') => &rest[1..],
        Some(b'a' | b'b' | b'y' | b'z') if rest.as_bytes().get(1) == Some(&b'$') => &rest[2..],
        _ => return Err(HashError::malformed(FORMAT, "unknown bcrypt version")),
    };
    let (cost, body) = rest
        .split_once('$')
        .ok_or_else(|| HashError::malformed(FORMAT, "missing cost section"))?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::malformed(FORMAT, "cost must be two digits"));
    }
    let cost: u32 = cost.parse().expect("two ASCII digits");
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(HashError::OutOfBounds {
            format: FORMAT,
            parameter: "cost",
            value: u64::from(cost),
            max: u64::from(MAX_COST),
        });
    }
    if body.len() != SALT_CHARS + HASH_CHARS || !is_bcrypt_b64(body) {
        return Err(HashError::malformed(
            FORMAT,
            "salt and hash must be 53 characters of bcrypt base64",
        ));
    }
    let (salt_b64, digest) = body.split_at(SALT_CHARS);
    let decoded = B64_BCRYPT
        .decode(salt_b64)
        .map_err(|_| HashError::malformed(FORMAT, "salt is not valid bcrypt base64"))?;
    let salt: [u8; 16] = decoded
        .try_into()
        .map_err(|_| HashError::malformed(FORMAT, "salt is not 16 bytes"))?;
    Ok(BcryptHash { cost, salt, digest })
}

/// Runs bcrypt and returns the 31-character encoded digest.
fn digest(cost: u32, salt: [u8; 16], password: &[u8]) -> Result<Zeroizing<String>, HashError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HashError::PasswordTooLong {
            max_bytes: MAX_PASSWORD_BYTES,
        });
    }
    // The key is the password with its terminating NUL, cut at 72 bytes.
    let mut key = Zeroizing::new(Vec::with_capacity(password.len() + 1));
    key.extend_from_slice(password);
    key.push(0);
    key.truncate(MAX_PASSWORD_BYTES);
    let out = Zeroizing::new(bcrypt::bcrypt(cost, salt, &key));
    Ok(Zeroizing::new(B64_BCRYPT.encode(&out[..23])))
}

impl BcryptHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        let computed = digest(self.cost, self.salt, password)?;
        Ok(ct_eq(computed.as_bytes(), self.digest.as_bytes()))
    }
}

/// Checks a configured cost for [`crate::Hasher`].
pub(crate) fn validate_config(cost: u32) -> Result<(), HashError> {
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(HashError::InvalidParameters(format!(
            "bcrypt: cost must be in {MIN_COST}..={MAX_COST} (hashes above {MAX_COST} are refused on verification)"
        )));
    }
    Ok(())
}

/// Hashes `password` with a fresh random salt as `$2a$<cost>$...`.
pub(crate) fn hash(cost: u32, password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| HashError::Rng)?;
    let digest = digest(cost, salt, password)?;
    Ok(format!(
        "$2a${cost:02}${}{}",
        B64_BCRYPT.encode(salt),
        digest.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers_with_fixed_salt() {
        // python3 -c "import bcrypt; print(bcrypt.hashpw(b'password123', b'\$2b\$04\$abcdefghijklmnopqrstuu'))"
        let h = parse("$2b$04$abcdefghijklmnopqrstuuK7Sjs7rFYArh/ytIZsOeM/z4RV2Fw2i").unwrap();
        assert_eq!(h.cost, 4);
        assert!(h.verify(b"password123").unwrap());
        assert!(!h.verify(b"password12").unwrap());
        // Same salt, a UTF-8 password (key emoji, "unicode", e-acute).
        let h = parse("$2b$04$abcdefghijklmnopqrstuul.5ax7KWr26VKZYOekU4OYrRadStkQ.").unwrap();
        assert!(h.verify("\u{1f511} unicode \u{e9}".as_bytes()).unwrap());
    }

    #[test]
    fn salt_trailing_bits_are_ignored() {
        // The 22nd salt character carries 4 unused bits: 'u' and 'v' differ
        // only there, so both decode to the same salt.
        let a = parse("$2b$04$abcdefghijklmnopqrstuuK7Sjs7rFYArh/ytIZsOeM/z4RV2Fw2i").unwrap();
        let b = parse("$2b$04$abcdefghijklmnopqrstuvK7Sjs7rFYArh/ytIZsOeM/z4RV2Fw2i").unwrap();
        assert_eq!(a.salt, b.salt);
    }

    #[test]
    fn hash_format_and_cost_padding() {
        let h = hash(4, b"pw").unwrap();
        assert_eq!(h.len(), 60);
        assert!(h.starts_with("$2a$04$"));
        assert!(parse(&h).unwrap().verify(b"pw").unwrap());
        assert!(validate_config(3).is_err());
        assert!(validate_config(4).is_ok());
        assert!(validate_config(15).is_ok());
        assert!(validate_config(16).is_err());
    }

    #[test]
    fn password_limit_is_checked_before_hashing() {
        let h = parse("$2b$04$abcdefghijklmnopqrstuuK7Sjs7rFYArh/ytIZsOeM/z4RV2Fw2i").unwrap();
        assert!(matches!(
            h.verify(&[b'a'; 73]),
            Err(HashError::PasswordTooLong { max_bytes: 72 })
        ));
        assert!(h.verify(&[b'a'; 72]).is_ok());
    }
}
