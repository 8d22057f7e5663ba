//! What the `oidc` method asks of a provider ([`OidcProvider`]), and the providers Kratos's
//! configuration names: `generic`, `google`, `microsoft` and `gitlab` (OpenID Connect,
//! [`generic`](super::generic)) and `github` (plain OAuth 2.0 and GitHub's API,
//! [`github`](super::github)).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::claims::Claims;
use super::config::ProviderConfig;
use crate::flow::{FlowError, ProviderFailure};

/// The authorization request the method sends the browser to. `Debug` shows the callback
/// only (the state, nonce and PKCE verifier are secrets of the sign-in).
#[non_exhaustive]
pub struct AuthorizationRequest<'a> {
    /// The callback the provider redirects back to.
    pub redirect_uri: &'a str,
    /// The `state` parameter (sealed; the provider hands it back unchanged).
    pub state: &'a str,
    /// The `nonce` the ID token must carry.
    pub nonce: &'a str,
    /// The PKCE verifier, when PKCE is used (the provider sends its S256 challenge).
    pub pkce_verifier: Option<&'a str>,
    /// `upstream_parameters` of the submission (`login_hint`, `hd`, `prompt`, …): only the
    /// ones Kratos passes on.
    pub upstream_parameters: &'a BTreeMap<String, String>,
}

impl std::fmt::Debug for AuthorizationRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("redirect_uri", &self.redirect_uri)
            .field("pkce", &self.pkce_verifier.is_some())
            .finish_non_exhaustive()
    }
}

/// The callback's code, to exchange for tokens.
#[non_exhaustive]
pub struct CodeExchange<'a> {
    /// The callback the authorization request named.
    pub redirect_uri: &'a str,
    /// The `code` the provider sent back.
    pub code: &'a str,
    /// The PKCE verifier of the authorization request, if PKCE was used.
    pub pkce_verifier: Option<&'a str>,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The tokens a provider gave, kept (sealed) with the identity's `oidc` credential as
/// Kratos keeps `initial_access_token`, `initial_refresh_token` and `initial_id_token`.
/// `Debug` shows which are there, never their values.
#[derive(Clone, Default)]
pub struct ProviderTokens {
    /// The access token.
    pub access_token: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// The ID token (compact JWS).
    pub id_token: Option<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("access_token", &self.access_token.is_some())
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .finish()
    }
}

/// What a provider answered for a code: the user's claims (verified) and its tokens.
#[derive(Debug)]
pub struct ProviderAnswer {
    /// The claims about the user.
    pub claims: Claims,
    /// The tokens.
    pub tokens: ProviderTokens,
}

/// A sign-in provider: it builds the authorization URL and turns the callback's code into
/// verified claims. Kratos's provider types are built from the configuration
/// ([`provider_for`]); a host app adds its own with
/// [`OidcMethod::with_provider`](super::OidcMethod::with_provider).
///
/// Errors are [`FlowError::Provider`] with Kratos's status and reason for the step.
#[async_trait]
pub trait OidcProvider: Send + Sync + 'static {
    /// The provider's configuration (its `id`, `label`, mapper, linking mode, …).
    fn config(&self) -> &ProviderConfig;

    /// Whether this sign-in uses PKCE (S256): `pkce: force` always, `never` not, `auto`
    /// when the provider says it supports it.
    async fn uses_pkce(&self) -> Result<bool, FlowError>;

    /// The URL the browser is sent to.
    async fn authorization_url(
        &self,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, FlowError>;

    /// Exchanges the code and reads the user's claims: for OpenID Connect providers the ID
    /// token's signature, issuer, audience, expiry and nonce are verified first.
    async fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderAnswer, FlowError>;
}

impl std::fmt::Debug for dyn OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OidcProvider")
            .field(&self.config().id)
            .finish()
    }
}

/// A provider error of `kind` with Kratos's `reason`.
pub fn provider_error(kind: ProviderFailure, reason: impl Into<String>) -> FlowError {
    FlowError::Provider {
        kind,
        reason: reason.into(),
    }
}

/// Kratos's provider for `config` (`generic`, `google`, `microsoft`, `gitlab`, `github`).
///
/// # Errors
///
/// When the provider type is not one of these, or its configuration lacks what it needs
/// (an `issuer_url` for `generic`).
pub fn provider_for(
    config: &ProviderConfig,
    http: &super::http::ProviderHttp,
) -> Result<Arc<dyn OidcProvider>, String> {
    let key = format!(
        "selfservice.methods.oidc.config.providers[id={}]",
        config.id
    );
    match config.provider.as_str() {
        "generic" | "google" | "microsoft" | "gitlab" => Ok(Arc::new(
            super::generic::GenericProvider::new(config.clone(), http.clone())
                .map_err(|e| format!("{key}: {e}"))?,
        )),
        "github" => Ok(Arc::new(
            super::github::GitHubProvider::new(config.clone(), http.clone())
                .map_err(|e| format!("{key}: {e}"))?,
        )),
        other => Err(format!(
            "{key}.provider: the provider type {other:?} is not supported; supported are \
             generic, google, microsoft, gitlab and github"
        )),
    }
}
