//! `github`: plain OAuth 2.0 (GitHub issues no ID token), the user read from GitHub's API
//! (`/user`, and `/user/emails` when the `user:email` scope was granted), as Kratos's
//! GitHub provider does. `auth_url` and `token_url` override GitHub's endpoints and
//! `issuer_url`, which Kratos does not read for GitHub, sets the API's base URL (GitHub
//! Enterprise, or a local peer in tests).

use async_trait::async_trait;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::claims::Claims;
use super::config::{Pkce, ProviderConfig};
use super::http::ProviderHttp;
use super::provider::{
    AuthorizationRequest, CodeExchange, OidcProvider, ProviderAnswer, ProviderTokens,
    provider_error,
};
use crate::flow::{FlowError, ProviderFailure};

const AUTH_URL: &str = "https://github.com/login/oauth/authorize";
const TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
const API_URL: &str = "https://api.github.com";

type Client = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// GitHub.
pub struct GitHubProvider {
    config: ProviderConfig,
    http: ProviderHttp,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    api_url: String,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    blog: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GitHubProvider {
    /// The provider of `config`.
    ///
    /// # Errors
    ///
    /// When an overridden URL is not one.
    pub fn new(config: ProviderConfig, http: ProviderHttp) -> Result<Self, String> {
        let pick = |v: &Option<String>, default: &str| {
            v.clone()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let auth_url = AuthUrl::new(pick(&config.auth_url, AUTH_URL))
            .map_err(|e| format!("auth_url is invalid: {e}"))?;
        let token_url = TokenUrl::new(pick(&config.token_url, TOKEN_URL))
            .map_err(|e| format!("token_url is invalid: {e}"))?;
        let api_url = pick(&config.issuer_url, API_URL)
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&api_url).map_err(|e| format!("issuer_url is invalid: {e}"))?;
        Ok(Self {
            config,
            http,
            auth_url,
            token_url,
            api_url,
        })
    }

    fn client(&self, redirect_uri: &str) -> Result<Client, FlowError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| {
            provider_error(
                ProviderFailure::Misconfigured,
                format!("The callback URL is invalid: {e}"),
            )
        })?;
        let mut client =
            oauth2::basic::BasicClient::new(ClientId::new(self.config.client_id.clone()))
                .set_auth_uri(self.auth_url.clone())
                .set_token_uri(self.token_url.clone())
                .set_redirect_uri(redirect);
        if !self.config.client_secret().is_empty() {
            client =
                client.set_client_secret(ClientSecret::new(self.config.client_secret().to_owned()));
        }
        Ok(client)
    }

    async fn api<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &str,
    ) -> Result<T, FlowError> {
        let (status, body) = self
            .http
            .get(
                &format!("{}{path}", self.api_url),
                &[
                    (
                        http::header::AUTHORIZATION,
                        format!("Bearer {access_token}"),
                    ),
                    (http::header::ACCEPT, "application/vnd.github+json".into()),
                    (http::header::USER_AGENT, "kratos-rs".into()),
                ],
            )
            .await
            .map_err(|e| provider_error(ProviderFailure::Upstream, e.0))?;
        if !status.is_success() {
            return Err(provider_error(
                ProviderFailure::Upstream,
                format!("GitHub's API answered {status} for {path}"),
            ));
        }
        serde_json::from_slice(&body).map_err(|_| {
            provider_error(
                ProviderFailure::Upstream,
                format!("GitHub's API answered an unexpected document for {path}"),
            )
        })
    }
}

#[async_trait]
impl OidcProvider for GitHubProvider {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    async fn uses_pkce(&self) -> Result<bool, FlowError> {
        // GitHub has no discovery document: `auto` means no PKCE, as in Kratos.
        Ok(self.config.pkce == Pkce::Force)
    }

    async fn authorization_url(
        &self,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, FlowError> {
        let client = self.client(request.redirect_uri)?;
        let state = request.state.to_owned();
        let mut auth = client.authorize_url(move || CsrfToken::new(state));
        for scope in &self.config.scope {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        if let Some(verifier) = request.pkce_verifier {
            let verifier = PkceCodeVerifier::new(verifier.to_owned());
            auth = auth.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        }
        let (url, _) = auth.url();
        Ok(url.to_string())
    }

    async fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderAnswer, FlowError> {
        let client = self.client(exchange.redirect_uri)?;
        let mut request = client.exchange_code(AuthorizationCode::new(exchange.code.to_owned()));
        if let Some(verifier) = exchange.pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let http = self.http.oauth2();
        let token = request.request_async(&http).await.map_err(|e| {
            provider_error(
                ProviderFailure::Upstream,
                format!("Unable to exchange the OAuth2 code: {}", token_error(&e)),
            )
        })?;
        let granted: Vec<String> = token
            .scopes()
            .map(|s| {
                s.iter()
                    .flat_map(|s| s.split(','))
                    .map(|s| s.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(missing) = self.config.scope.iter().find(|s| !granted.contains(s)) {
            return Err(provider_error(
                ProviderFailure::Upstream,
                format!("The provider did not grant the requested scope {missing:?}"),
            ));
        }
        let access_token = token.access_token().secret().clone();
        let user: User = self.api("/user", &access_token).await?;
        let mut object = Map::new();
        object.insert("sub".into(), json!(user.id.to_string()));
        object.insert("iss".into(), json!(self.token_url.as_str()));
        for (key, value) in [
            ("name", user.name),
            ("nickname", user.login),
            ("website", user.blog),
            ("picture", user.avatar_url),
            ("profile", user.html_url),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                object.insert(key.into(), Value::String(v));
            }
        }
        if granted.iter().any(|s| s == "user:email") {
            let emails: Vec<Email> = self.api("/user/emails", &access_token).await?;
            let chosen = emails.iter().find(|e| e.primary).or_else(|| emails.last());
            if let Some(e) = chosen {
                object.insert("email".into(), json!(e.email));
                object.insert("email_verified".into(), json!(e.verified));
            }
        }
        let claims = Claims::from_object(object)
            .map_err(|e| provider_error(ProviderFailure::Upstream, e))?;
        Ok(ProviderAnswer {
            claims,
            tokens: ProviderTokens {
                access_token: Some(access_token),
                refresh_token: token.refresh_token().map(|t| t.secret().clone()),
                id_token: None,
            },
        })
    }
}

/// A token request error, without the answer's body (which may hold a token).
fn token_error<E: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: &oauth2::RequestTokenError<E, T>,
) -> String {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => format!("the provider answered {r}"),
        oauth2::RequestTokenError::Request(e) => e.to_string(),
        oauth2::RequestTokenError::Parse(_, _) => "the provider's answer is invalid".into(),
        oauth2::RequestTokenError::Other(e) => e.clone(),
    }
}
