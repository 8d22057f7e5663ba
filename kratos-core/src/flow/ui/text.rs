//! Kratos's messages used by the flows (`text/message_*.go`): each with Kratos's id, English
//! text, type and context.
//!
//! The texts of second-factor methods (TOTP, lookup secrets) are in [`mfa`].

use serde_json::json;

use super::UiText;
use crate::identity::{IdentitySchema, SchemaRegistry};

pub mod mfa;
pub mod oidc;

/// The ids of the messages whose text and context are a secret: the TOTP secret (1050006), a
/// lookup secret (1050009) and the list of lookup secrets (1050015).
pub const SECRET_MESSAGE_IDS: [u32; 3] = [
    mfa::TOTP_SECRET_ID,
    mfa::LOOKUP_SECRET_ID,
    mfa::LOOKUP_SECRET_LIST_ID,
];

/// 1010001 "Sign in"
pub fn login() -> UiText {
    UiText::info(1010001, "Sign in")
}
/// 1010003 re-authentication hint.
pub fn reauthenticate() -> UiText {
    UiText::info(
        1010003,
        "Please confirm this action by verifying that it is you.",
    )
}
/// 1010022 "Sign in with password"
pub fn login_with_password() -> UiText {
    UiText::info(1010022, "Sign in with password")
}
/// 1040001 "Sign up"
pub fn registration() -> UiText {
    UiText::info(1040001, "Sign up")
}
/// 1070001 "Password"
pub fn password_label() -> UiText {
    UiText::info(1070001, "Password")
}
/// 1070002: the label of a field generated from the identity schema (Kratos's
/// `NewInfoNodeLabelGenerated`): the text is the trait's `title`, the context
/// `{title, name}` with `name` the field's name (`traits.email`).
pub fn generated_label(title: &str, name: &str) -> UiText {
    UiText::info(1070002, title).with_context(json!({ "title": title, "name": name }))
}
/// 1070004 "ID"
pub fn identifier_label() -> UiText {
    UiText::info(1070004, "ID")
}
/// The label of the login form's `identifier` field from an identity schema, as Kratos
/// computes it (`GetIdentifierLabelFromSchema`): when exactly one trait identifies the account
/// (see [`IdentitySchema::identifier_traits`]) and it has a title, 1070002 with that title
/// ([`generated_label`]); otherwise 1070004 "ID" ([`identifier_label`]).
pub fn login_identifier_label(schema: &IdentitySchema) -> UiText {
    match schema.identifier_traits().as_slice() {
        [only] => match only.title.as_deref().filter(|t| !t.is_empty()) {
            Some(title) => generated_label(title, &only.name),
            None => identifier_label(),
        },
        _ => identifier_label(),
    }
}
/// [`login_identifier_label`] of the registry's default schema; 1070004 "ID" when the
/// registry has no default schema.
pub fn default_login_identifier_label(schemas: &SchemaRegistry) -> UiText {
    schemas
        .get(schemas.default_id())
        .map_or_else(identifier_label, |s| login_identifier_label(s))
}
/// 4000001 a generic validation error: the text is the reason, the context `{reason}`.
pub fn validation_generic(reason: &str) -> UiText {
    UiText::error(4000001, reason, Some(json!({ "reason": reason })))
}
/// 4000040 "Enter a valid email address" (a trait failing the `email` format), with the
/// context `{value}`.
pub fn invalid_email(value: &str) -> UiText {
    UiText::error(
        4000040,
        "Enter a valid email address",
        Some(json!({ "value": value })),
    )
}
/// 4000041 "Enter a valid phone number" (a trait failing the `tel` format), with the context
/// `{value}`.
pub fn invalid_phone(value: &str) -> UiText {
    UiText::error(
        4000041,
        "Enter a valid phone number",
        Some(json!({ "value": value })),
    )
}
/// 4000002 "Property {property} is missing." with the context `{property}`.
pub fn required(property: &str) -> UiText {
    UiText::error(
        4000002,
        format!("Property {property} is missing."),
        Some(json!({ "property": property })),
    )
}
/// 4000003 "length must be >= {min}, but got {actual}" (a JSON schema `minLength`), with the
/// context `{min_length, actual_length}`.
pub fn min_length(min: usize, actual: usize) -> UiText {
    UiText::error(
        4000003,
        format!("length must be >= {min}, but got {actual}"),
        Some(json!({ "min_length": min, "actual_length": actual })),
    )
}
/// 4000006 invalid credentials.
pub fn invalid_credentials() -> UiText {
    UiText::error(
        4000006,
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
        None,
    )
}
/// 4000007 duplicate credentials.
pub fn duplicate_credentials() -> UiText {
    UiText::error(
        4000007,
        "An account with the same identifier (email, phone, username, ...) exists already.",
        None,
    )
}
/// 4000032 password too short, with the context `{min_length, actual_length}`.
pub fn password_too_short(min: usize, actual: usize) -> UiText {
    UiText::error(
        4000032,
        format!("The password must be at least {min} characters long, but got {actual}."),
        Some(json!({ "min_length": min, "actual_length": actual })),
    )
}
/// 1070003 "Save"
pub fn save() -> UiText {
    UiText::info(1070003, "Save")
}
/// 1070006 "Verify code" (the label of a code that confirms a new second factor)
pub fn verify_code() -> UiText {
    UiText::info(1070006, "Verify code")
}
/// 1050001 "Your changes have been saved!"
pub fn settings_saved() -> UiText {
    UiText::success(1050001, "Your changes have been saved!")
}
/// 4000039 the new password equals the old one.
pub fn password_same_as_old() -> UiText {
    UiText::error(
        4000039,
        "The new password must be different from the old password.",
        None,
    )
}
/// 4000010 no verified address (the `require_verified_address` hook).
pub fn address_not_verified() -> UiText {
    UiText::error(
        4000010,
        "Account not active yet. Did you forget to verify your email address?",
        None,
    )
}
/// 4010004 no strategy for the submitted method (settings).
pub fn settings_no_strategy() -> UiText {
    UiText::error(
        4010004,
        "Could not find a strategy to update your settings. Did you fill out the form correctly?",
        None,
    )
}
/// 4010002 no strategy for the submitted method (login).
pub fn login_no_strategy() -> UiText {
    UiText::error(
        4010002,
        "Could not find a strategy to log you in with. Did you fill out the form correctly?",
        None,
    )
}
/// 4010003 no strategy for the submitted method (registration).
pub fn registration_no_strategy() -> UiText {
    UiText::error(
        4010003,
        "Could not find a strategy to sign you up with. Did you fill out the form correctly?",
        None,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn schema(traits: Value) -> IdentitySchema {
        IdentitySchema::from_value(
            "default",
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"traits": {"type": "object", "properties": traits}},
            }),
        )
        .unwrap()
    }

    fn password_identifier() -> Value {
        json!({"credentials": {"password": {"identifier": true}}})
    }

    #[test]
    fn generated_labels_carry_title_and_name() {
        assert_eq!(
            serde_json::to_value(generated_label("E-Mail", "traits.email")).unwrap(),
            json!({
                "id": 1070002,
                "text": "E-Mail",
                "type": "info",
                "context": {"title": "E-Mail", "name": "traits.email"},
            })
        );
    }

    #[test]
    fn the_login_identifier_is_named_after_the_one_identifying_trait() {
        let s = schema(json!({
            "email": {"type": "string", "format": "email", "title": "E-Mail",
                      "ory.sh/kratos": {
                          "credentials": {"password": {"identifier": true},
                                          "code": {"identifier": true, "via": "email"}},
                          "verification": {"via": "email"}}},
            "name": {"type": "string", "title": "Name"},
        }));
        assert_eq!(
            login_identifier_label(&s),
            generated_label("E-Mail", "traits.email")
        );
    }

    #[test]
    fn the_login_identifier_falls_back_to_id() {
        // No identifier trait.
        let none = schema(json!({"name": {"type": "string", "title": "Name"}}));
        assert_eq!(login_identifier_label(&none), identifier_label());
        // An identifier without a title.
        let untitled = schema(json!({
            "username": {"type": "string", "ory.sh/kratos": password_identifier()},
        }));
        assert_eq!(login_identifier_label(&untitled), identifier_label());
        // Two identifying traits: Kratos cannot name one of them.
        let two = schema(json!({
            "email": {"type": "string", "title": "E-Mail", "ory.sh/kratos": password_identifier()},
            "username": {"type": "string", "title": "Username", "ory.sh/kratos": password_identifier()},
        }));
        assert_eq!(login_identifier_label(&two), identifier_label());
        assert_eq!(
            serde_json::to_value(identifier_label()).unwrap(),
            json!({"id": 1070004, "text": "ID", "type": "info"})
        );
    }

    #[test]
    fn the_registry_label_uses_the_default_schema() {
        let s = schema(json!({
            "email": {"type": "string", "title": "Your email", "ory.sh/kratos": password_identifier()},
        }));
        let registry = SchemaRegistry::new("default").with(s).unwrap();
        assert_eq!(
            default_login_identifier_label(&registry),
            generated_label("Your email", "traits.email")
        );
        assert_eq!(
            default_login_identifier_label(&SchemaRegistry::new("missing")),
            identifier_label()
        );
    }

    #[test]
    fn validation_messages_carry_kratos_contexts() {
        assert_eq!(
            serde_json::to_value(required("email")).unwrap(),
            json!({"id": 4000002, "text": "Property email is missing.", "type": "error",
                   "context": {"property": "email"}})
        );
        assert_eq!(
            serde_json::to_value(validation_generic("bad")).unwrap(),
            json!({"id": 4000001, "text": "bad", "type": "error", "context": {"reason": "bad"}})
        );
    }
}
