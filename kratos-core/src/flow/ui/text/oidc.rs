//! The messages of sign-in with OpenID Connect and OAuth 2.0 providers (the `oidc` method).

use serde_json::json;

use crate::flow::ui::UiText;

/// 1010002 "Sign in with {provider}", context `{provider, provider_id}`.
pub fn login_with(provider: &str, provider_id: &str) -> UiText {
    UiText::info(1010002, format!("Sign in with {provider}"))
        .with_context(json!({"provider": provider, "provider_id": provider_id}))
}

/// 1040002 "Sign up with {provider}", context `{provider, provider_id}`.
pub fn registration_with(provider: &str, provider_id: &str) -> UiText {
    UiText::info(1040002, format!("Sign up with {provider}"))
        .with_context(json!({"provider": provider, "provider_id": provider_id}))
}

/// 1040003 "Continue".
pub fn registration_continue() -> UiText {
    UiText::info(1040003, "Continue")
}

/// 1050002 "Link {provider}", context `{provider}`.
pub fn link(provider: &str) -> UiText {
    UiText::info(1050002, format!("Link {provider}")).with_context(json!({"provider": provider}))
}

/// 1050003 "Unlink {provider}", context `{provider}`.
pub fn unlink(provider: &str) -> UiText {
    UiText::info(1050003, format!("Unlink {provider}")).with_context(json!({"provider": provider}))
}

/// 4000027: an identity with the same identifier exists; sign in to it to link the provider.
pub fn duplicate_credentials_on_link() -> UiText {
    UiText::error(
        4000027,
        "An account with the same identifier (email, phone, username, ...) exists already. \
         Please sign in to your existing account to link your social profile.",
        None,
    )
}

/// 1010016: a sign-in with a provider found an account with the same identifier; signing in
/// to it links the provider. Context `{duplicateIdentifier, provider, newLoginUrl,
/// duplicate_identifier, new_login_url, available_credential_types, available_providers}`,
/// as Kratos sends it.
pub fn login_link(
    duplicate_identifier: &str,
    provider: &str,
    new_login_url: &str,
    available_credential_types: &[String],
    available_providers: &[String],
) -> UiText {
    UiText::info(
        1010016,
        format!(
            "You tried to sign in with {duplicate_identifier:?}, but that email is already used \
             by another account. Sign in to your account with one of the options below to add \
             your account {duplicate_identifier:?} at {provider:?} as another way to sign in."
        ),
    )
    .with_context(json!({
        "duplicateIdentifier": duplicate_identifier,
        "provider": provider,
        "newLoginUrl": new_login_url,
        "duplicate_identifier": duplicate_identifier,
        "new_login_url": new_login_url,
        "available_credential_types": available_credential_types,
        "available_providers": available_providers,
    }))
}

/// 1010017 "Sign in and link".
pub fn login_and_link() -> UiText {
    UiText::info(1010017, "Sign in and link")
}

/// 1010018 "Confirm with {provider}", context `{provider}`.
pub fn login_with_and_link(provider: &str) -> UiText {
    UiText::info(1010018, format!("Confirm with {provider}"))
        .with_context(json!({"provider": provider}))
}

/// 4010009 "Linked credentials do not match.": the sign-in that was to link a provider
/// signed in to another account than the one with the duplicate identifier.
pub fn login_linked_credentials_do_not_match() -> UiText {
    UiText::error(4010009, "Linked credentials do not match.", None)
}
