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
