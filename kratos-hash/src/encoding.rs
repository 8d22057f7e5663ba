//! Shared decoding helpers: base64 flavours, crypt(3) base64, number parsing,
//! salting templates and constant-time comparison.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

use crate::{HashError, HashFormat};

/// Standard alphabet, no padding, non-zero trailing bits rejected.
pub(crate) const B64_RAW_STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Standard alphabet, canonical padding required, non-zero trailing bits rejected.
pub(crate) const B64_PADDED_STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

/// Standard alphabet, canonical padding required, trailing bits ignored
/// (the lenient decoding `{SSHA}` values get).
pub(crate) const B64_PADDED_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// bcrypt's alphabet (`./A-Za-z0-9`), no padding. Trailing bits are ignored on
/// decode, as every bcrypt implementation does for the 22-character salt.
pub(crate) const B64_BCRYPT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::BCRYPT,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Alphabet of crypt(3) (`./0-9A-Za-z`), used by md5-crypt and sha-crypt.
pub(crate) const CRYPT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Decodes `input` with `engine`, mapping failure to a `Malformed` error that
/// names only the field.
pub(crate) fn decode(
    engine: &GeneralPurpose,
    input: &str,
    format: HashFormat,
    field: &str,
) -> Result<Vec<u8>, HashError> {
    engine
        .decode(input)
        .map_err(|_| HashError::malformed(format, &format!("{field} is not valid base64")))
}

/// crypt(3) "b64_from_24bit": appends `n` characters encoding the 24-bit
/// group `b2 b1 b0`, least significant six bits first.
pub(crate) fn crypt_b64_push(out: &mut Vec<u8>, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(CRYPT_ALPHABET[(w & 0x3f) as usize]);
        w >>= 6;
    }
}

/// Whether every byte of `s` is in the crypt(3) alphabet.
pub(crate) fn is_crypt_b64(s: &str) -> bool {
    s.bytes().all(|b| CRYPT_ALPHABET.contains(&b))
}

/// Parses an unsigned decimal number made of ASCII digits only (no sign, no
/// spaces). Values too large for `u64` saturate to `u64::MAX`, so the bounds
/// check that follows reports them as out of bounds.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Parses a comma-separated parameter list with exactly the given keys in the
/// given order, e.g. `m=65536,t=3,p=4` with keys `["m", "t", "p"]`.
pub(crate) fn parse_params<const N: usize>(
    s: &str,
    keys: [&str; N],
    format: HashFormat,
) -> Result<[u64; N], HashError> {
    let mut out = [0u64; N];
    let mut parts = s.split(',');
    for (slot, key) in out.iter_mut().zip(keys) {
        let part = parts
            .next()
            .ok_or_else(|| HashError::malformed(format, &format!("parameter {key} is missing")))?;
        let value = part
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .ok_or_else(|| HashError::malformed(format, &format!("expected parameter {key}")))?;
        *slot = parse_decimal(value).ok_or_else(|| {
            HashError::malformed(format, &format!("parameter {key} is not a number"))
        })?;
    }
    if parts.next().is_some() {
        return Err(HashError::malformed(format, "unexpected extra parameters"));
    }
    Ok(out)
}

/// Checks `1 <= value <= max`.
pub(crate) fn check_bounds(
    format: HashFormat,
    parameter: &'static str,
    value: u64,
    max: u64,
) -> Result<(), HashError> {
    if value == 0 || value > max {
        return Err(HashError::OutOfBounds {
            format,
            parameter,
            value,
            max,
        });
    }
    Ok(())
}

/// Fills a salting template: every `{SALT}` becomes the salt and every
/// `{PASSWORD}` the password, in one left-to-right pass (substituted text is
/// never scanned again).
pub(crate) fn apply_template(template: &[u8], salt: &[u8], password: &[u8]) -> Vec<u8> {
    const SALT: &[u8] = b"{SALT}";
    const PASSWORD: &[u8] = b"{PASSWORD}";
    let mut out = Vec::with_capacity(template.len() + salt.len() + password.len());
    let mut rest = template;
    while let Some(&first) = rest.first() {
        if rest.starts_with(SALT) {
            out.extend_from_slice(salt);
            rest = &rest[SALT.len()..];
        } else if rest.starts_with(PASSWORD) {
            out.extend_from_slice(password);
            rest = &rest[PASSWORD.len()..];
        } else {
            out.push(first);
            rest = &rest[1..];
        }
    }
    out
}

/// Constant-time equality of two byte strings. Lengths are not secret: a
/// length mismatch returns `false` at once.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("0042"), Some(42));
        assert_eq!(parse_decimal("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("+1"), None);
        assert_eq!(parse_decimal("1 "), None);
        assert_eq!(parse_decimal("0x10"), None);
    }

    #[test]
    fn params_parsing() {
        let f = HashFormat::Argon2id;
        assert_eq!(
            parse_params("m=1,t=2,p=3", ["m", "t", "p"], f).unwrap(),
            [1, 2, 3]
        );
        assert!(parse_params("m=1,t=2", ["m", "t", "p"], f).is_err());
        assert!(parse_params("m=1,t=2,p=3,x=4", ["m", "t", "p"], f).is_err());
        assert!(parse_params("t=2,m=1,p=3", ["m", "t", "p"], f).is_err());
        assert!(parse_params("m=1,t=,p=3", ["m", "t", "p"], f).is_err());
        assert!(parse_params("mm=1,t=2,p=3", ["m", "t", "p"], f).is_err());
    }

    #[test]
    fn template_is_single_pass() {
        assert_eq!(apply_template(b"{SALT}{PASSWORD}", b"s", b"p"), b"sp");
        assert_eq!(apply_template(b"x{PASSWORD}-{SALT}y", b"s", b"p"), b"xp-sy");
        // A password that itself looks like a placeholder is not expanded.
        assert_eq!(
            apply_template(b"{PASSWORD}{SALT}", b"NaCl", b"{SALT}"),
            b"{SALT}NaCl"
        );
        assert_eq!(apply_template(b"{SALT", b"s", b"p"), b"{SALT");
    }

    #[test]
    fn strict_base64() {
        // "QQ" encodes 0x41 with zero trailing bits; "QR" has non-zero ones.
        assert_eq!(B64_RAW_STRICT.decode("QQ").unwrap(), b"A");
        assert!(B64_RAW_STRICT.decode("QR").is_err());
        assert!(B64_RAW_STRICT.decode("QQ==").is_err());
        assert_eq!(B64_PADDED_STRICT.decode("QQ==").unwrap(), b"A");
        assert!(B64_PADDED_STRICT.decode("QQ").is_err());
        assert!(B64_PADDED_STRICT.decode("QR==").is_err());
        assert_eq!(B64_PADDED_LENIENT.decode("QR==").unwrap(), b"A");
    }

    #[test]
    fn crypt_b64_group() {
        let mut out = Vec::new();
        crypt_b64_push(&mut out, 0, 0, 0, 4);
        crypt_b64_push(&mut out, 0, 0, 0x3f, 1);
        assert_eq!(out, b"....z");
    }
}
