//! Kratos's messages of the second-factor methods: TOTP (an authenticator app) and lookup
//! secrets (backup recovery codes), from `text/message_login.go`, `message_settings.go` and
//! `message_validation.go`.

use chrono::{DateTime, Timelike, Utc};
use serde_json::json;

use crate::flow::ui::UiText;

/// The id of [`totp_secret`] (1050006).
pub const TOTP_SECRET_ID: u32 = 1050006;
/// The id of [`lookup_secret`] (1050009).
pub const LOOKUP_SECRET_ID: u32 = 1050009;
/// The id of [`lookup_secret_used`] (1050014).
pub const LOOKUP_SECRET_USED_ID: u32 = 1050014;
/// The id of [`lookup_secret_list`] (1050015).
pub const LOOKUP_SECRET_LIST_ID: u32 = 1050015;

/// 1010004: the login flow asks for a second factor (`NewInfoLoginMFA`).
pub fn login_mfa() -> UiText {
    UiText::info(
        1010004,
        "Please complete the second authentication challenge.",
    )
}

/// 1010006: the label of the TOTP code field (`NewInfoLoginTOTPLabel`).
pub fn totp_label() -> UiText {
    UiText::info(1010006, "Authentication code")
}

/// 1010007: the label of the lookup secret field (`NewInfoLoginLookupLabel`).
pub fn lookup_label() -> UiText {
    UiText::info(1010007, "Backup recovery code")
}

/// 1010009: the button that signs in with TOTP (`NewInfoLoginTOTP`).
pub fn login_totp() -> UiText {
    UiText::info(1010009, "Use Authenticator")
}

/// 1010010: the button that signs in with a lookup secret (`NewInfoLoginLookup`).
pub fn login_lookup() -> UiText {
    UiText::info(1010010, "Use backup recovery code")
}

/// 1050004: the button that removes the TOTP app (`NewInfoSelfServiceSettingsUpdateUnlinkTOTP`).
pub fn unlink_totp() -> UiText {
    UiText::info(1050004, "Unlink TOTP Authenticator App")
}

/// 1050005: the label of the TOTP QR code (`NewInfoSelfServiceSettingsTOTPQRCode`).
pub fn totp_qr_code() -> UiText {
    UiText::info(1050005, "Authenticator app QR code")
}

/// 1050006: a new TOTP secret, as text and as the context `{secret}`
/// (`NewInfoSelfServiceSettingsTOTPSecret`). A secret: `Debug` redacts it.
pub fn totp_secret(secret: &str) -> UiText {
    UiText::info(TOTP_SECRET_ID, secret).with_context(json!({ "secret": secret }))
}

/// 1050007: the button that shows the lookup secrets (`NewInfoSelfServiceSettingsRevealLookup`).
pub fn reveal_lookup() -> UiText {
    UiText::info(1050007, "Reveal backup recovery codes")
}

/// 1050008: the button that generates new lookup secrets
/// (`NewInfoSelfServiceSettingsRegenerateLookup`).
pub fn regenerate_lookup() -> UiText {
    UiText::info(1050008, "Generate new backup recovery codes")
}

/// 1050009: one unused lookup secret, as text and as the context `{secret}`
/// (`NewInfoSelfServiceSettingsLookupSecret`). A secret: `Debug` redacts it.
pub fn lookup_secret(secret: &str) -> UiText {
    UiText::info(LOOKUP_SECRET_ID, secret).with_context(json!({ "secret": secret }))
}

/// 1050010: the label of the lookup secrets (`NewInfoSelfServiceSettingsLookupSecretsLabel`).
pub fn lookup_secrets_label() -> UiText {
    UiText::info(
        1050010,
        "These are your back up recovery codes. Please keep them in a safe place!",
    )
}

/// 1050011: the button that confirms new lookup secrets
/// (`NewInfoSelfServiceSettingsLookupConfirm`).
pub fn lookup_confirm() -> UiText {
    UiText::info(1050011, "Confirm backup recovery codes")
}

/// 1050014: a lookup secret used at `used_at`, with the context `{used_at, used_at_unix}`
/// (`NewInfoSelfServiceSettingsLookupSecretUsed`); the text writes the time as Go prints a
/// UTC time (`2024-05-01 10:00:00 +0000 UTC`).
pub fn lookup_secret_used(used_at: DateTime<Utc>) -> UiText {
    UiText::info(
        LOOKUP_SECRET_USED_ID,
        format!("Secret was used at {}", go_time_string(used_at)),
    )
    .with_context(json!({
        "used_at": used_at,
        "used_at_unix": used_at.timestamp(),
    }))
}

/// 1050015: the list of lookup secrets, each a code and when it was used
/// (`CredentialsLookupConfig.ToNode`): the text joins the unused codes and `used` for the used
/// ones with `", "`; the context `{secrets}` holds one [`lookup_secret`] or
/// [`lookup_secret_used`] message per code. A secret: `Debug` redacts it.
pub fn lookup_secret_list<'a>(
    codes: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>,
) -> UiText {
    let (texts, messages): (Vec<&str>, Vec<UiText>) = codes
        .into_iter()
        .map(|(code, used_at)| match used_at {
            None => (code, lookup_secret(code)),
            Some(at) => ("used", lookup_secret_used(at)),
        })
        .unzip();
    UiText::info(LOOKUP_SECRET_LIST_ID, texts.join(", "))
        .with_context(json!({ "secrets": messages }))
}

/// 1050016: the button that removes the lookup secrets
/// (`NewInfoSelfServiceSettingsDisableLookup`).
pub fn disable_lookup() -> UiText {
    UiText::info(1050016, "Disable this method")
}

/// 1050017: the label of the TOTP secret (`NewInfoSelfServiceSettingsTOTPSecretLabel`).
pub fn totp_secret_label() -> UiText {
    UiText::info(
        1050017,
        "This is your authenticator app secret. Use it if you can not scan the QR code.",
    )
}

/// 4000008: a wrong TOTP code (`NewErrorValidationTOTPVerifierWrong`).
pub fn totp_verifier_wrong() -> UiText {
    UiText::error(
        4000008,
        "The provided authentication code is invalid, please try again.",
        None,
    )
}

/// 4000011: the identity has no TOTP app (`NewErrorValidationNoTOTPDevice`).
pub fn no_totp_device() -> UiText {
    UiText::error(4000011, "You have no TOTP device set up.", None)
}

/// 4000012: the lookup secret was used already (`NewErrorValidationLookupAlreadyUsed`).
pub fn lookup_already_used() -> UiText {
    UiText::error(
        4000012,
        "This backup recovery code has already been used.",
        None,
    )
}

/// 4000014: the identity has no lookup secrets (`NewErrorValidationNoLookup`).
pub fn no_lookup() -> UiText {
    UiText::error(4000014, "You have no backup recovery codes set up.", None)
}

/// 4000016: a wrong lookup secret (`NewErrorValidationLookupInvalid`).
pub fn lookup_invalid() -> UiText {
    UiText::error(4000016, "The backup recovery code is not valid.", None)
}

/// A UTC time as Go's `time.Time.String` writes it: `2006-01-02 15:04:05.999999999 +0000 UTC`
/// (the fraction without trailing zeros, none when whole).
fn go_time_string(t: DateTime<Utc>) -> String {
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;

    fn wire(t: UiText) -> Value {
        serde_json::to_value(t).unwrap()
    }

    #[test]
    fn labels_and_errors_serialise_as_kratos() {
        assert_eq!(
            wire(login_mfa()),
            json!({"id": 1010004, "text": "Please complete the second authentication challenge.", "type": "info"})
        );
        assert_eq!(
            wire(totp_label()),
            json!({"id": 1010006, "text": "Authentication code", "type": "info"})
        );
        assert_eq!(
            wire(lookup_secrets_label()),
            json!({"id": 1050010, "text": "These are your back up recovery codes. Please keep them in a safe place!", "type": "info"})
        );
        assert_eq!(
            wire(totp_verifier_wrong()),
            json!({"id": 4000008, "text": "The provided authentication code is invalid, please try again.", "type": "error"})
        );
        assert_eq!(
            wire(lookup_invalid()),
            json!({"id": 4000016, "text": "The backup recovery code is not valid.", "type": "error"})
        );
        let ids: Vec<u32> = [
            login_mfa(),
            totp_label(),
            lookup_label(),
            login_totp(),
            login_lookup(),
            unlink_totp(),
            totp_qr_code(),
            totp_secret("s"),
            reveal_lookup(),
            regenerate_lookup(),
            lookup_secret("s"),
            lookup_secrets_label(),
            lookup_confirm(),
            lookup_secret_used(Utc::now()),
            lookup_secret_list([("s", None)]),
            disable_lookup(),
            totp_secret_label(),
            totp_verifier_wrong(),
            no_totp_device(),
            lookup_already_used(),
            no_lookup(),
            lookup_invalid(),
        ]
        .into_iter()
        .map(|t| t.id)
        .collect();
        assert_eq!(
            ids,
            [
                1010004, 1010006, 1010007, 1010009, 1010010, 1050004, 1050005, 1050006, 1050007,
                1050008, 1050009, 1050010, 1050011, 1050014, 1050015, 1050016, 1050017, 4000008,
                4000011, 4000012, 4000014, 4000016
            ]
        );
    }

    #[test]
    fn secrets_carry_their_context() {
        assert_eq!(
            wire(totp_secret("JBSWY3DPEHPK3PXP")),
            json!({"id": 1050006, "text": "JBSWY3DPEHPK3PXP", "type": "info",
                   "context": {"secret": "JBSWY3DPEHPK3PXP"}})
        );
        assert_eq!(
            wire(lookup_secret("abcd1234")),
            json!({"id": 1050009, "text": "abcd1234", "type": "info",
                   "context": {"secret": "abcd1234"}})
        );
    }

    #[test]
    fn used_lookup_secrets_carry_when() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(
            wire(lookup_secret_used(at)),
            json!({"id": 1050014, "text": "Secret was used at 2024-05-01 10:00:00 +0000 UTC",
                   "type": "info",
                   "context": {"used_at": "2024-05-01T10:00:00Z", "used_at_unix": 1714557600}})
        );
        let fraction = at + chrono::Duration::milliseconds(250);
        assert_eq!(go_time_string(fraction), "2024-05-01 10:00:00.25 +0000 UTC");
    }

    #[test]
    fn the_lookup_list_joins_codes_and_lists_messages() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let list = lookup_secret_list([
            ("abcd1234", None),
            ("efgh5678", Some(at)),
            ("ijkl9012", None),
        ]);
        assert_eq!(
            wire(list),
            json!({
                "id": 1050015,
                "text": "abcd1234, used, ijkl9012",
                "type": "info",
                "context": {"secrets": [
                    wire(lookup_secret("abcd1234")),
                    wire(lookup_secret_used(at)),
                    wire(lookup_secret("ijkl9012")),
                ]},
            })
        );
    }

    #[test]
    fn debug_hides_secret_messages() {
        let list = lookup_secret_list([("abcd1234", None)]);
        for t in [
            totp_secret("JBSWY3DPEHPK3PXP"),
            lookup_secret("abcd1234"),
            list,
        ] {
            let debug = format!("{t:?}");
            assert!(!debug.contains("JBSWY3DPEHPK3PXP"), "{debug}");
            assert!(!debug.contains("abcd1234"), "{debug}");
            assert!(debug.contains(crate::config::REDACTED), "{debug}");
        }
        assert!(format!("{:?}", totp_label()).contains("Authentication code"));
    }
}
