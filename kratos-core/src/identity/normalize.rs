//! Normalisation of identifiers and addresses before they are stored or looked up.
//!
//! Emails and usernames are trimmed, NFKC-normalised, lowercased and stripped of control and
//! default-ignorable characters, as Kratos's PRECIS profile does; phone numbers become E.164.

use unicode_normalization::UnicodeNormalization;

/// What kind of value an identifier is, which decides how it is normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifierKind {
    /// An email address.
    Email,
    /// A phone number (normalised to E.164).
    Phone,
    /// Anything else (usernames).
    Username,
}

/// Why a value could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// Nothing is left after normalisation.
    #[error("the identifier is empty")]
    Empty,
    /// Not a phone number that E.164 can express.
    #[error("the phone number is not valid: use the international format, such as +14155550100")]
    InvalidPhone,
}

/// Normalises an identifier of the given kind.
pub fn normalize_identifier(kind: IdentifierKind, value: &str) -> Result<String, NormalizeError> {
    match kind {
        IdentifierKind::Phone => normalize_phone(value),
        IdentifierKind::Email | IdentifierKind::Username => {
            let folded = if value.is_ascii() {
                fold_ascii(value)
            } else {
                fold_unicode(value)
            };
            if folded.is_empty() {
                Err(NormalizeError::Empty)
            } else {
                Ok(folded)
            }
        }
    }
}

/// Trims, NFKC-normalises, drops disallowed characters and lowercases (then normalises and
/// trims again, since lowercasing may leave a composable sequence).
fn fold_unicode(value: &str) -> String {
    let folded: String = value
        .trim()
        .nfkc()
        .filter(|c| !is_disallowed(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let folded: String = folded.nfkc().collect();
    folded.trim().to_owned()
}

/// [`fold_unicode`] for ASCII, without the normalisation tables: NFKC leaves ASCII as it is,
/// the only disallowed ASCII characters are the controls, and ASCII lowercases to ASCII.
fn fold_ascii(value: &str) -> String {
    let folded: String = value
        .trim()
        .chars()
        .filter(|c| !c.is_ascii_control())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    folded.trim().to_owned()
}

fn is_disallowed(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{E0000}'..='\u{E0FFF}'
            | '\u{FDD0}'..='\u{FDEF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// The longest phone number input looked at (libphonenumber's own limit is 250); longer
/// input is not a phone number.
const MAX_PHONE_INPUT: usize = 64;

/// Normalises a phone number to E.164, as Kratos does: the number must be in international
/// format (`+` and the country code; spaces, dots, dashes and parentheses allowed) and be a
/// valid number of its region by libphonenumber's metadata.
///
/// # Errors
/// [`NormalizeError::InvalidPhone`] for anything else: a local number without its country
/// code, an unknown country code, a number too short or too long for its region, letters.
pub fn normalize_phone(value: &str) -> Result<String, NormalizeError> {
    let v: String = value.trim().nfkc().collect();
    if v.len() > MAX_PHONE_INPUT || !v.starts_with('+') {
        return Err(NormalizeError::InvalidPhone);
    }
    let number = phonenumber::parse(None, &v).map_err(|_| NormalizeError::InvalidPhone)?;
    if !phonenumber::is_valid(&number) {
        return Err(NormalizeError::InvalidPhone);
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_folded_and_lowercased() {
        assert_eq!(
            normalize_identifier(IdentifierKind::Email, "  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        // Full-width letters fold to ASCII (NFKC), zero-width characters go.
        assert_eq!(
            normalize_identifier(IdentifierKind::Email, "ＡＬＩＣＥ\u{200B}@example.com").unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            normalize_identifier(IdentifierKind::Username, "  \u{200B} "),
            Err(NormalizeError::Empty)
        );
    }

    #[test]
    fn ascii_folds_as_the_unicode_path_does() {
        let samples = [
            "  Alice@Example.COM ",
            "\tBob@EXAMPLE.org\n",
            "c\u{7f}a\u{1}r\u{1f}ol@example.com",
            " \u{0} \u{b} ",
            "MiXeD_User.Name-42",
            "",
            "   ",
        ];
        for sample in samples {
            assert_eq!(fold_ascii(sample), fold_unicode(sample), "{sample:?}");
        }
        // Every printable and control ASCII character on its own and between letters.
        for byte in 0u8..128 {
            let c = byte as char;
            for sample in [c.to_string(), format!("A{c}b"), format!("{c}X{c}")] {
                assert_eq!(fold_ascii(&sample), fold_unicode(&sample), "{sample:?}");
            }
        }
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            normalize_phone("+1 (415) 555-0100").unwrap(),
            "+14155550100"
        );
        assert_eq!(normalize_phone("+49 30 901820").unwrap(), "+4930901820");
        assert_eq!(
            normalize_phone("+44 20 7946 0958").unwrap(),
            "+442079460958"
        );
        assert_eq!(
            normalize_phone("415 555 0100"),
            Err(NormalizeError::InvalidPhone)
        );
        assert_eq!(normalize_phone("+1 abc"), Err(NormalizeError::InvalidPhone));
        assert_eq!(normalize_phone("+12"), Err(NormalizeError::InvalidPhone));
    }

    #[test]
    fn phones_that_are_not_numbers_are_refused() {
        for bad in [
            "",
            "+",
            "0049 30 901820",
            "+999 1234567",
            "+1 415 555 0100 0100 0100",
            "+49 30",
            "hello",
            "+1\u{0}4155550100",
            "\u{202e}+14155550100",
        ] {
            assert_eq!(
                normalize_phone(bad),
                Err(NormalizeError::InvalidPhone),
                "{bad:?}"
            );
        }
        let long = format!("+1{}", "5".repeat(10_000));
        assert_eq!(normalize_phone(&long), Err(NormalizeError::InvalidPhone));
        assert_eq!(
            normalize_phone("+\u{FF11} 415 555 0100").unwrap(),
            "+14155550100",
            "full-width digits"
        );
    }
}
