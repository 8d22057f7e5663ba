//! TOTP keys as Kratos makes them (pquerna/otp): a 160-bit secret from the operating system's
//! random source, HMAC-SHA-1, 6 digits, a 30-second period, and codes of the step before and
//! after accepted (skew 1).
//!
//! - [`TotpKey::generate`] makes a key, [`TotpKey::to_url`] writes its `otpauth://totp/…` URL
//!   (the credential's `totp_url`) as pquerna/otp writes it, [`TotpKey::secret_base32`] gives
//!   the `totp_secret_key` text and [`TotpKey::qr_png_data_url`] the `totp_qr` image.
//! - [`TotpKey::from_url`] reads a stored or imported URL back; it never panics, whatever the
//!   input.
//! - [`TotpKey::verify`] checks a submitted code in constant time and answers the time step it
//!   matched. RFC 6238 asks that a code be accepted once: the caller refuses a second use of
//!   that step with [`crate::store::UsedSecretStore::use_once`] under
//!   [`used_secret_key`], remembered until [`step_accepted_until`]. Kratos has no such check.
//!
//! Codes are computed by `totp-rs` (without its `otpauth`, `gen_secret` and `qr` features):
//! [`TotpKey::verify`] truncates its HMAC of each step to the code's value (RFC 4226) and
//! compares numbers, without formatting a code per step; the URL is written and parsed here, and the QR code is drawn with `qrcodegen` and encoded
//! with `png`. That pair adds 11 crates to `cargo tree -e normal` of kratos-core, against 19
//! for totp-rs's `qr` feature (which brings the `image` crate and its colour management), and
//! lets the image be Kratos's 256×256.
//!
//! ```
//! use kratos_core::strategy::totp::otp::TotpKey;
//!
//! let key = TotpKey::generate("example.org", "alice@example.org").unwrap();
//! let url = key.to_url();
//! assert!(url.starts_with("otpauth://totp/example.org:alice@example.org?algorithm=SHA1&digits=6&issuer=example.org&period=30&secret="));
//! let again = TotpKey::from_url(&url).unwrap();
//! let now = 1_700_000_000;
//! let step = again.verify(&key.code_at(now), now).unwrap();
//! assert_eq!(step, now / 30);
//! ```

use std::fmt;

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rand::TryRng;
use rand::rngs::SysRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

/// Bytes of a generated secret (160 bits, as Kratos and RFC 4226 recommend).
pub const SECRET_LEN: usize = 20;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds of a time step.
pub const PERIOD: u64 = 30;
/// Steps accepted before and after the current one.
pub const SKEW: u64 = 1;
/// The longest URL [`TotpKey::from_url`] reads and [`TotpKey::generate`] makes, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// The shortest secret an imported URL may hold, in bytes (80 bits: older issuers use them).
pub const MIN_IMPORTED_SECRET_LEN: usize = 10;
/// The longest secret an imported URL may hold, in bytes.
pub const MAX_IMPORTED_SECRET_LEN: usize = 128;
/// Width and height of the QR code image, in pixels (Kratos's `totp_qr`).
pub const QR_IMAGE_SIZE: u32 = 256;

/// Why a key could not be made, read or drawn. Never contains the URL or the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpError {
    /// [`TotpKey::generate`] was given an empty issuer.
    #[error("the TOTP issuer is empty")]
    EmptyIssuer,
    /// The issuer holds a `:`, which would end it early in the URL's label.
    #[error("the TOTP issuer must not contain ':'")]
    IssuerColon,
    /// [`TotpKey::generate`] was given an empty account name.
    #[error("the TOTP account name is empty")]
    EmptyAccountName,
    /// The URL is (or would be) longer than [`MAX_URL_LEN`].
    #[error("the TOTP URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    /// Not an `otpauth://totp/` URL.
    #[error("not an otpauth://totp/ URL")]
    NotTotpUrl,
    /// The URL's label (issuer and account name) is not UTF-8 once percent-decoded.
    #[error("the TOTP URL's label is not valid UTF-8")]
    BadLabel,
    /// The URL has no `secret` parameter.
    #[error("the TOTP URL has no secret")]
    MissingSecret,
    /// The secret is not base32 (RFC 4648, either case, padding optional).
    #[error("the TOTP secret is not base32")]
    SecretNotBase32,
    /// The secret is shorter than [`MIN_IMPORTED_SECRET_LEN`] or longer than
    /// [`MAX_IMPORTED_SECRET_LEN`] bytes.
    #[error("the TOTP secret must hold 80 to 1024 bits")]
    SecretLength,
    /// `algorithm` is not `SHA1` (Kratos verifies every code with SHA-1).
    #[error("only the SHA1 TOTP algorithm is supported")]
    UnsupportedAlgorithm,
    /// `digits` is not 6 (Kratos verifies 6-digit codes only).
    #[error("only 6-digit TOTP codes are supported")]
    UnsupportedDigits,
    /// `period` is not 30 (Kratos verifies with 30-second steps only).
    #[error("only a 30-second TOTP period is supported")]
    UnsupportedPeriod,
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    RandomSource,
    /// The URL does not fit in a QR code image of [`QR_IMAGE_SIZE`] pixels.
    #[error("the TOTP URL does not fit in a QR code")]
    QrTooLong,
    /// The PNG encoder failed.
    #[error("the QR code image could not be encoded")]
    Image,
}

/// Bytes escaped in the URL's label: everything but what Go's `url.URL` leaves in a path
/// (letters, digits, `-_.~` and `$&+,:;=@`), so the label reads as pquerna/otp writes it;
/// and `/`, which Go leaves but which would make a label holding `/../` lose a part when
/// read back.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// Bytes escaped in a query value: what Go's `url.PathEscape` escapes, and also `&`, `=` and
/// `+`, which pquerna/otp leaves as they are although they end or change the value when the
/// query is read back.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b':')
    .remove(b'@');

/// A TOTP key: the secret with its issuer and account name. `Debug` shows only the issuer; the
/// secret is wiped when the key is dropped.
#[derive(Clone)]
pub struct TotpKey {
    totp: Totp,
    issuer: String,
    account_name: String,
}

impl fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is the credential and the account name names a person.
        f.debug_struct("TotpKey")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TotpKey {
    /// A key over `secret` (SHA-1, 6 digits, 30-second steps, skew 1).
    fn with_secret(secret: Box<[u8]>, issuer: String, account_name: String) -> Self {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(PERIOD)
            .with_secret(Secret::new(secret))
            // The checks of `build` (a secret of at least 128 bits) would refuse the 80-bit
            // secrets [`TotpKey::from_url`] admits; every parameter here is fixed and valid.
            .build_noncompliant();
        Self {
            totp,
            issuer,
            account_name,
        }
    }

    /// A new key with a secret of [`SECRET_LEN`] bytes from the operating system's random
    /// source, as Kratos makes one in the settings flow (`issuer` defaults to the public URL's
    /// host there, `account_name` to the trait marked `credentials.totp.account_name`).
    ///
    /// Fails when `issuer` or `account_name` is empty ([`OtpError::EmptyIssuer`],
    /// [`OtpError::EmptyAccountName`]), when `issuer` holds a `:`, when the URL would exceed
    /// [`MAX_URL_LEN`] ([`OtpError::TooLong`]), or when the random source fails.
    pub fn generate(issuer: &str, account_name: &str) -> Result<Self, OtpError> {
        if issuer.is_empty() {
            return Err(OtpError::EmptyIssuer);
        }
        if issuer.contains(':') {
            return Err(OtpError::IssuerColon);
        }
        if account_name.is_empty() {
            return Err(OtpError::EmptyAccountName);
        }
        let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
        SysRng
            .try_fill_bytes(&mut secret)
            .map_err(|_| OtpError::RandomSource)?;
        let secret = std::mem::take(&mut *secret).into_boxed_slice();
        let key = Self::with_secret(secret, issuer.to_owned(), account_name.to_owned());
        if key.to_url().len() > MAX_URL_LEN {
            return Err(OtpError::TooLong);
        }
        Ok(key)
    }

    /// Reads a key from an `otpauth://totp/<issuer>:<account>?secret=…` URL (a stored
    /// `totp_url`, or one imported through the admin API), as pquerna/otp reads it: the issuer
    /// is the `issuer` parameter, else the label's part before its first `:`; the account name
    /// the label's part after it (the whole label without one); surrounding whitespace is
    /// ignored; the secret is base32 in either case with or without padding.
    ///
    /// Unlike Kratos, which verifies every code with SHA-1, 6 digits and 30-second steps
    /// whatever the URL says, a URL asking for anything else is refused rather than imported
    /// as a key that would never verify: `algorithm` must be `SHA1`, `digits` 6 and `period`
    /// 30 when present. Other parameters (`image`, …) are ignored.
    ///
    /// Errors: [`OtpError::TooLong`] past [`MAX_URL_LEN`] bytes (checked first),
    /// [`OtpError::NotTotpUrl`], [`OtpError::BadLabel`], [`OtpError::MissingSecret`],
    /// [`OtpError::SecretNotBase32`], [`OtpError::SecretLength`] (outside
    /// [`MIN_IMPORTED_SECRET_LEN`]..=[`MAX_IMPORTED_SECRET_LEN`] bytes) and the `Unsupported…`
    /// kinds. Never panics; no error quotes the input.
    pub fn from_url(url: &str) -> Result<Self, OtpError> {
        if url.len() > MAX_URL_LEN {
            return Err(OtpError::TooLong);
        }
        let parsed = url::Url::parse(url.trim()).map_err(|_| OtpError::NotTotpUrl)?;
        if parsed.scheme() != "otpauth"
            || !parsed
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case("totp"))
        {
            return Err(OtpError::NotTotpUrl);
        }
        let label = percent_decode_str(parsed.path().strip_prefix('/').unwrap_or(parsed.path()))
            .decode_utf8()
            .map_err(|_| OtpError::BadLabel)?;
        let mut secret: Option<Zeroizing<String>> = None;
        let mut issuer: Option<String> = None;
        let (mut algorithm, mut digits, mut period) = (None, None, None);
        for (name, value) in parsed.query_pairs() {
            // The first of repeated parameters counts, as Go's `url.Values.Get` reads them.
            match name.as_ref() {
                "secret" if secret.is_none() => secret = Some(Zeroizing::new(value.into_owned())),
                "issuer" if issuer.is_none() => issuer = Some(value.into_owned()),
                "algorithm" if algorithm.is_none() => algorithm = Some(value.into_owned()),
                "digits" if digits.is_none() => digits = Some(value.into_owned()),
                "period" if period.is_none() => period = Some(value.into_owned()),
                _ => {}
            }
        }
        if algorithm.is_some_and(|a| !a.trim().eq_ignore_ascii_case("SHA1")) {
            return Err(OtpError::UnsupportedAlgorithm);
        }
        if digits.is_some_and(|d| d.trim() != "6") {
            return Err(OtpError::UnsupportedDigits);
        }
        if period.is_some_and(|p| p.trim() != "30") {
            return Err(OtpError::UnsupportedPeriod);
        }
        let secret = secret.ok_or(OtpError::MissingSecret)?;
        let mut bytes = decode_base32(secret.trim()).ok_or(OtpError::SecretNotBase32)?;
        if !(MIN_IMPORTED_SECRET_LEN..=MAX_IMPORTED_SECRET_LEN).contains(&bytes.len()) {
            return Err(OtpError::SecretLength);
        }
        // The label is `issuer:account`; an issuer parameter holding a `:` of its own is
        // recognised as the label's prefix, so every URL `to_url` writes reads back the same.
        let (issuer, account_name) = match issuer.filter(|i| !i.is_empty()) {
            Some(issuer) => {
                let account = label
                    .strip_prefix(issuer.as_str())
                    .and_then(|rest| rest.strip_prefix(':'))
                    .or_else(|| label.split_once(':').map(|(_, account)| account))
                    .unwrap_or(&label)
                    .to_owned();
                (issuer, account)
            }
            None => match label.split_once(':') {
                Some((issuer, account)) => (issuer.to_owned(), account.to_owned()),
                None => (String::new(), label.clone().into_owned()),
            },
        };
        let secret = std::mem::take(&mut *bytes).into_boxed_slice();
        Ok(Self::with_secret(secret, issuer, account_name))
    }

    /// The issuer (may be empty for an imported key whose URL names none).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The account name shown by authenticator apps.
    pub fn account_name(&self) -> &str {
        &self.account_name
    }

    /// The `otpauth://totp/<issuer>:<account>?algorithm=SHA1&digits=6&issuer=<issuer>&period=30&secret=<base32>`
    /// URL, byte for byte as pquerna/otp writes it for Kratos (parameters in that order, the
    /// secret in base32 without padding, the label escaped as Go escapes a path, `%20` for a
    /// space), except that a `/` in the label and `&`, `=` and `+` in the `issuer` value are
    /// escaped (pquerna/otp leaves them, which breaks the URL). A key without an issuer gets
    /// neither the label prefix nor the parameter. Holds the secret: it is wiped when
    /// dropped.
    pub fn to_url(&self) -> Zeroizing<String> {
        let secret = self.secret_base32();
        let mut url = Zeroizing::new(String::with_capacity(url_len(
            &self.issuer,
            &self.account_name,
        )));
        url.push_str("otpauth://totp/");
        if !self.issuer.is_empty() {
            url.extend(utf8_percent_encode(&self.issuer, LABEL));
            url.push(':');
        } else if self.account_name.contains(':')
            || matches!(self.account_name.as_str(), "." | "..")
        {
            // An empty issuer, written so the account reads back whole (and never as a dot
            // segment of the path).
            url.push(':');
        }
        url.extend(utf8_percent_encode(&self.account_name, LABEL));
        url.push_str("?algorithm=SHA1&digits=6&");
        if !self.issuer.is_empty() {
            url.push_str("issuer=");
            url.extend(utf8_percent_encode(&self.issuer, QUERY_VALUE));
            url.push('&');
        }
        url.push_str("period=30&secret=");
        url.push_str(&secret);
        url
    }

    /// The secret in base32 without padding (RFC 4648, upper case), for the
    /// `totp_secret_key` text node. Wiped when dropped.
    pub fn secret_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(self.totp.secret().to_base32())
    }

    /// The code of the time step holding `at_unix` (seconds since 1970). A server only
    /// verifies codes; this is for tests and tools that play the authenticator app.
    pub fn code_at(&self, at_unix: u64) -> Zeroizing<String> {
        Zeroizing::new(self.totp.generate(at_unix).to_string())
    }

    /// The value of the code of the step holding `time`: RFC 4226's dynamic truncation of
    /// totp-rs's HMAC-SHA-1 of the step, modulo 10⁶. `None` only if the signature were
    /// shorter than SHA-1's 20 bytes.
    fn code_value(&self, time: u64) -> Option<u32> {
        let signature = self.totp.sign(time);
        let signature = signature.as_ref();
        let offset = usize::from(signature.last()? & 0x0f);
        let word: [u8; 4] = signature
            .get(offset..offset.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some((u32::from_be_bytes(word) & 0x7fff_ffff) % 1_000_000)
    }

    /// Checks a submitted code at `at_unix` (seconds since 1970): the code of the step holding
    /// `at_unix`, or of the step before or after it (skew 1), is accepted, and the step it
    /// matched is returned (`at_unix / 30`, one less or one more). `None` for a wrong code and
    /// for anything that is not 6 ASCII digits once surrounding ASCII whitespace is trimmed
    /// (as pquerna/otp trims it), whatever its length or characters.
    ///
    /// Every candidate step is computed and compared in constant time, whichever matches.
    /// Steps that would overflow near `u64::MAX` are skipped, never wrapped. A match is not a
    /// use: refuse a replay of the returned step with
    /// [`crate::store::UsedSecretStore::use_once`] under [`used_secret_key`].
    pub fn verify(&self, code: &str, at_unix: u64) -> Option<u64> {
        let code = code
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .as_bytes();
        if code.len() != DIGITS || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Six digits: at most 999,999.
        let submitted = code.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let current = at_unix / PERIOD;
        let mut found = Choice::from(0);
        let mut matched = 0u64;
        // The current step first: when two steps' codes collide, it wins.
        let candidates = [
            Some(current),
            current.checked_sub(SKEW),
            current.checked_add(SKEW),
        ];
        for step in candidates.into_iter().flatten() {
            let Some(start) = step.checked_mul(PERIOD) else {
                continue;
            };
            let Some(expected) = self.code_value(start) else {
                continue;
            };
            let hit = expected.ct_eq(&submitted) & !found;
            matched.conditional_assign(&step, hit);
            found |= hit;
        }
        bool::from(found).then_some(matched)
    }

    /// The otpauth URL as a QR code: a [`QR_IMAGE_SIZE`]² black-on-white PNG (1 bit per
    /// pixel, error correction level M as Kratos's, the code centred with a quiet zone of at
    /// least four modules), as `data:image/png;base64,…` for the `totp_qr` node. Holds the
    /// secret: it is wiped when dropped.
    ///
    /// Fails with [`OtpError::QrTooLong`] when the URL needs a QR code too large to draw at
    /// one pixel per module in the image, and [`OtpError::Image`] when the PNG encoder fails.
    pub fn qr_png_data_url(&self) -> Result<Zeroizing<String>, OtpError> {
        let url = self.to_url();
        let qr = qrcodegen::QrCode::encode_text(&url, qrcodegen::QrCodeEcc::Medium)
            .map_err(|_| OtpError::QrTooLong)?;
        let png = Zeroizing::new(qr_png(&qr)?);
        let mut out = Zeroizing::new(String::with_capacity(
            22usize.saturating_add(png.len().div_ceil(3).saturating_mul(4)),
        ));
        out.push_str("data:image/png;base64,");
        base64::engine::general_purpose::STANDARD.encode_string(png.as_slice(), &mut out);
        Ok(out)
    }
}

/// The key's replay key for [`crate::store::UsedSecretStore::use_once`]: `totp:<step>`, for
/// the step [`TotpKey::verify`] returned.
pub fn used_secret_key(step: u64) -> String {
    format!("totp:{step}")
}

/// The first second (since 1970) at which a code of `step` is no longer accepted (the step
/// after the next one starts): how long its use must be remembered. `None` when that lies
/// past `u64::MAX`.
pub fn step_accepted_until(step: u64) -> Option<u64> {
    step.checked_add(SKEW)?.checked_add(1)?.checked_mul(PERIOD)
}

/// An upper bound of the URL's length, to reserve its buffer once.
fn url_len(issuer: &str, account_name: &str) -> usize {
    let escaped = |s: &str| s.len().saturating_mul(3);
    escaped(issuer)
        .saturating_mul(2)
        .saturating_add(escaped(account_name))
        .saturating_add(
            // Scheme, fixed parameters and a secret of the longest admitted length.
            64 + MAX_IMPORTED_SECRET_LEN.div_ceil(5) * 8,
        )
}

/// Decodes base32 (RFC 4648, either case, `=` padding optional) into a buffer wiped on drop.
/// `None` for any other character, or a length no byte string encodes to.
fn decode_base32(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let text = text.trim_end_matches('=').as_bytes();
    // Unpadded lengths of 1, 3 or 6 characters (mod 8) encode no whole byte.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 8 * 5 + 4));
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Draws `qr` into a [`QR_IMAGE_SIZE`]² 1-bit grayscale PNG.
fn qr_png(qr: &qrcodegen::QrCode) -> Result<Vec<u8>, OtpError> {
    const QUIET: usize = 4;
    let side = QR_IMAGE_SIZE as usize;
    let modules = usize::try_from(qr.size()).map_err(|_| OtpError::QrTooLong)?;
    let scale = side / modules.saturating_add(2 * QUIET);
    if scale == 0 {
        return Err(OtpError::QrTooLong);
    }
    let offset = (side - modules * scale) / 2;
    let row_bytes = side.div_ceil(8);
    // 1 is white: start white, clear the dark modules' pixels.
    let mut pixels = Zeroizing::new(vec![0xffu8; row_bytes * side]);
    for y in 0..modules {
        for x in 0..modules {
            // Both coordinates are below 177, QR's largest size: they fit an i32.
            if !qr.get_module(x as i32, y as i32) {
                continue;
            }
            for py in offset + y * scale..offset + (y + 1) * scale {
                for px in offset + x * scale..offset + (x + 1) * scale {
                    pixels[py * row_bytes + px / 8] &= !(0x80u8 >> (px % 8));
                }
            }
        }
    }
    let mut png = Vec::with_capacity(2048);
    let mut encoder = png::Encoder::new(&mut png, QR_IMAGE_SIZE, QR_IMAGE_SIZE);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(|_| OtpError::Image)?;
    writer
        .write_image_data(&pixels)
        .map_err(|_| OtpError::Image)?;
    writer.finish().map_err(|_| OtpError::Image)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6238's SHA-1 seed: the ASCII string "12345678901234567890".
    fn rfc_key() -> TotpKey {
        TotpKey::with_secret(
            b"12345678901234567890".to_vec().into_boxed_slice(),
            "example.org".into(),
            "alice@example.org".into(),
        )
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B gives 8 digits; a 6-digit code is their last six.
        let vectors = [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let key = rfc_key();
        for (t, eight) in vectors {
            let code = &eight[2..];
            assert_eq!(key.code_at(t).as_str(), code, "T = {t}");
            assert_eq!(key.verify(code, t), Some(t / 30), "T = {t}");
        }
    }

    #[test]
    fn skew_of_one_step_each_way_and_no_more() {
        let key = rfc_key();
        let t = 1_111_111_111;
        let step = t / 30;
        let at = |s: u64| key.code_at(s * 30);
        assert_eq!(key.verify(&at(step), t), Some(step));
        assert_eq!(key.verify(&at(step - 1), t), Some(step - 1));
        assert_eq!(key.verify(&at(step + 1), t), Some(step + 1));
        assert_eq!(key.verify(&at(step - 2), t), None);
        assert_eq!(key.verify(&at(step + 2), t), None);
        // The last and first second of a step see the same window.
        assert_eq!(key.verify(&at(step - 1), step * 30 + 29), Some(step - 1));
        assert_eq!(key.verify(&at(step + 1), step * 30), Some(step + 1));
        // Surrounding whitespace is trimmed, as pquerna/otp does.
        assert_eq!(key.verify(&format!(" {}\n", *at(step)), t), Some(step));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let key = rfc_key();
        let t = 59;
        for bad in [
            "",
            "28708",
            "2870821",
            "28708a",
            "+28708",
            "-28708",
            "28 082",
            "２８７０８２",
            "287082\0",
            "２87082",
            "0x1234",
            "1e5000",
        ] {
            assert_eq!(key.verify(bad, t), None, "{bad:?}");
        }
        assert_eq!(key.verify("287082", t), Some(1));
    }

    #[test]
    fn steps_near_the_ends_of_time_do_not_overflow() {
        let key = rfc_key();
        for t in [0, 1, 29, 30, u64::MAX - 30, u64::MAX - 1, u64::MAX] {
            let step = t / 30;
            // The step's own code, when its start is representable.
            if let Some(start) = step.checked_mul(30) {
                assert_eq!(key.verify(&key.code_at(start), t), Some(step), "t = {t}");
            }
            let _ = key.verify("000000", t);
        }
        assert_eq!(key.verify(&key.code_at(0), 0), Some(0));
        assert_eq!(step_accepted_until(0), Some(60));
        assert_eq!(step_accepted_until(10), Some(360));
        assert_eq!(step_accepted_until(u64::MAX / 30), None);
        assert_eq!(step_accepted_until(u64::MAX), None);
        assert_eq!(used_secret_key(12), "totp:12");
    }

    #[test]
    fn generated_keys_have_160_random_bits() {
        let a = TotpKey::generate("example.org", "alice@example.org").unwrap();
        let b = TotpKey::generate("example.org", "alice@example.org").unwrap();
        assert_eq!(a.totp.secret().as_bytes().len(), SECRET_LEN);
        assert_eq!(a.secret_base32().len(), 32);
        assert_ne!(a.secret_base32(), b.secret_base32());
        assert_eq!(
            TotpKey::generate("", "a").unwrap_err(),
            OtpError::EmptyIssuer
        );
        assert_eq!(
            TotpKey::generate("a", "").unwrap_err(),
            OtpError::EmptyAccountName
        );
        assert_eq!(
            TotpKey::generate("a:b", "c").unwrap_err(),
            OtpError::IssuerColon
        );
        assert_eq!(
            TotpKey::generate("a", &"x".repeat(MAX_URL_LEN)).unwrap_err(),
            OtpError::TooLong
        );
    }

    #[test]
    fn url_is_written_as_pquerna_otp_writes_it() {
        let key = rfc_key();
        assert_eq!(
            key.to_url().as_str(),
            "otpauth://totp/example.org:alice@example.org?algorithm=SHA1&digits=6&issuer=example.org&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            key.secret_base32().as_str(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        // Go escapes a path's space as %20 and leaves `:`/`@`/`+`; `/` is escaped everywhere.
        let spaced = TotpKey::with_secret(
            vec![1; 20].into_boxed_slice(),
            "My App/1".into(),
            "a b+c:d@é".into(),
        );
        assert_eq!(
            spaced.to_url().as_str(),
            "otpauth://totp/My%20App%2F1:a%20b+c:d@%C3%A9?algorithm=SHA1&digits=6&issuer=My%20App%2F1&period=30&secret=AEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIB"
        );
        let back = TotpKey::from_url(&spaced.to_url()).unwrap();
        assert_eq!(back.issuer(), "My App/1");
        assert_eq!(back.account_name(), "a b+c:d@é");
        // `&`, `=` and `+` in the issuer survive the round trip.
        let odd =
            TotpKey::with_secret(vec![2; 20].into_boxed_slice(), "a&b=c+d".into(), "x".into());
        assert!(odd.to_url().contains("issuer=a%26b%3Dc%2Bd&"));
        assert_eq!(
            TotpKey::from_url(&odd.to_url()).unwrap().issuer(),
            "a&b=c+d"
        );
    }

    #[test]
    fn url_round_trip_keeps_the_key() {
        let key = TotpKey::generate("example.org", "alice@example.org").unwrap();
        let back = TotpKey::from_url(&key.to_url()).unwrap();
        assert_eq!(back.issuer(), "example.org");
        assert_eq!(back.account_name(), "alice@example.org");
        assert_eq!(back.secret_base32(), key.secret_base32());
        assert_eq!(back.to_url(), key.to_url());
        for t in [0, 59, 1_700_000_000] {
            assert_eq!(back.code_at(t), key.code_at(t));
        }
    }

    #[test]
    fn imported_urls_are_read_as_pquerna_otp_reads_them() {
        // Google Authenticator's example: an 80-bit secret, the issuer only in the label.
        let key = TotpKey::from_url(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        )
        .unwrap();
        assert_eq!(
            (key.issuer(), key.account_name()),
            ("Example", "alice@google.com")
        );
        let key = TotpKey::from_url(" otpauth://TOTP/ACME%20Co:john.doe%40email.com?secret=jbswy3dpehpk3pxp====&ALGORITHM=x&digits=6&period=30 ").unwrap();
        assert_eq!(
            (key.issuer(), key.account_name()),
            ("ACME Co", "john.doe@email.com")
        );
        assert_eq!(key.secret_base32().as_str(), "JBSWY3DPEHPK3PXP");
        // The issuer parameter wins over the label's; no issuer at all is allowed.
        let key =
            TotpKey::from_url("otpauth://totp/Label:acct?secret=JBSWY3DPEHPK3PXP&issuer=Param")
                .unwrap();
        assert_eq!(key.issuer(), "Param");
        let key = TotpKey::from_url("otpauth://totp/acct?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!((key.issuer(), key.account_name()), ("", "acct"));
        assert_eq!(
            key.to_url().as_str(),
            "otpauth://totp/acct?algorithm=SHA1&digits=6&period=30&secret=JBSWY3DPEHPK3PXP"
        );
        // Repeated parameters: the first counts.
        let key =
            TotpKey::from_url("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&secret=AAAA").unwrap();
        assert_eq!(key.secret_base32().as_str(), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn bad_urls_are_refused_with_their_reason() {
        let cases = [
            ("", OtpError::NotTotpUrl),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP",
                OtpError::NotTotpUrl,
            ),
            (
                "https://totp/a?secret=JBSWY3DPEHPK3PXP",
                OtpError::NotTotpUrl,
            ),
            (
                "otpauth:totp/a?secret=JBSWY3DPEHPK3PXP",
                OtpError::NotTotpUrl,
            ),
            ("otpauth://totp/a", OtpError::MissingSecret),
            ("otpauth://totp/a?secret=", OtpError::SecretLength),
            ("otpauth://totp/a?secret=JBSWY3DP", OtpError::SecretLength),
            (
                "otpauth://totp/a?secret=JBSWY3D1EHPK3PXP",
                OtpError::SecretNotBase32,
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3P",
                OtpError::SecretNotBase32,
            ),
            (
                "otpauth://totp/a?secret=JB%20SWY3DPEHPK3PXP",
                OtpError::SecretNotBase32,
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256",
                OtpError::UnsupportedAlgorithm,
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=8",
                OtpError::UnsupportedDigits,
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=60",
                OtpError::UnsupportedPeriod,
            ),
            (
                "otpauth://totp/%FF?secret=JBSWY3DPEHPK3PXP",
                OtpError::BadLabel,
            ),
        ];
        for (url, want) in cases {
            assert_eq!(TotpKey::from_url(url).unwrap_err(), want, "{url}");
        }
        let long = format!("otpauth://totp/a?secret={}", "A".repeat(MAX_URL_LEN));
        assert_eq!(TotpKey::from_url(&long).unwrap_err(), OtpError::TooLong);
        let big = format!(
            "otpauth://totp/a?secret={}",
            "A".repeat(MAX_IMPORTED_SECRET_LEN / 5 * 8 + 8)
        );
        assert_eq!(TotpKey::from_url(&big).unwrap_err(), OtpError::SecretLength);
    }

    #[test]
    fn debug_and_errors_show_no_secret() {
        let key = rfc_key();
        let debug = format!("{key:?}");
        assert_eq!(debug, "TotpKey { issuer: \"example.org\", .. }");
        assert!(!debug.contains("GEZDGNBV") && !debug.contains("alice"));
        let err =
            TotpKey::from_url("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=8").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("JBSWY3DP"));
    }

    #[test]
    fn qr_code_is_a_256_pixel_png_of_the_url() {
        let key = rfc_key();
        let data_url = key.qr_png_data_url().unwrap();
        let b64 = data_url.strip_prefix("data:image/png;base64,").unwrap();
        let png_bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big endian, right after the chunk length and type.
        assert_eq!(&png_bytes[12..16], b"IHDR");
        assert_eq!(&png_bytes[16..24], &[0, 0, 1, 0, 0, 0, 1, 0]);

        let mut decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((frame.width, frame.height), (256, 256));
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
        let pixel = |x: usize, y: usize| pixels[y * frame.line_size + x] == 0;

        // The image holds the QR code of the URL: sample the centre of every module.
        let qr =
            qrcodegen::QrCode::encode_text(&key.to_url(), qrcodegen::QrCodeEcc::Medium).unwrap();
        let modules = qr.size() as usize;
        let scale = 256 / (modules + 8);
        let offset = (256 - modules * scale) / 2;
        assert!(offset >= 4 * scale, "a quiet zone of four modules");
        for y in 0..modules {
            for x in 0..modules {
                let (px, py) = (
                    offset + x * scale + scale / 2,
                    offset + y * scale + scale / 2,
                );
                assert_eq!(
                    pixel(px, py),
                    qr.get_module(x as i32, y as i32),
                    "module ({x}, {y})"
                );
            }
        }
        // The margin is white.
        assert!((0..256).all(|i| !pixel(i, 0) && !pixel(0, i) && !pixel(i, 255) && !pixel(255, i)));
        // Small, as Kratos's is: a few hundred bytes of compressed 1-bit rows.
        assert!(png_bytes.len() < 4096, "{} bytes", png_bytes.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn verify_never_panics(code in ".{0,16}", t in any::<u64>()) {
            let key = rfc_key();
            let step = key.verify(&code, t);
            if let Some(step) = step {
                prop_assert!(step.abs_diff(t / 30) <= 1);
            }
        }

        #[test]
        fn verify_accepts_exactly_the_window(t in any::<u64>(), offset in -3i64..=3) {
            let key = rfc_key();
            let step = t / 30;
            let Some(target) = step.checked_add_signed(offset) else { return Ok(()) };
            let Some(start) = target.checked_mul(30) else { return Ok(()) };
            let got = key.verify(&key.code_at(start), t);
            if offset.abs() <= 1 {
                prop_assert_eq!(got, Some(target));
            } else if let Some(s) = got {
                // Another step's code may collide with the target's, one in a million.
                prop_assert!(s.abs_diff(step) <= 1);
            }
        }

        #[test]
        fn from_url_never_panics(url in ".{0,300}") {
            let _ = TotpKey::from_url(&url);
        }

        #[test]
        fn from_url_never_panics_on_near_urls(
            label in "[a-zA-Z0-9%:@ ./+&=?#-]{0,40}",
            secret in "[A-Za-z2-7= %+]{0,60}",
            rest in "[a-z0-9=&%]{0,40}",
        ) {
            let url = format!("otpauth://totp/{label}?secret={secret}&{rest}");
            if let Ok(key) = TotpKey::from_url(&url) {
                // Whatever it read, the key writes a URL it reads back the same.
                let again = TotpKey::from_url(&key.to_url()).unwrap();
                prop_assert_eq!(again.to_url(), key.to_url());
            }
        }
    }
}
