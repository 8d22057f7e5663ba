//! OpenID Connect providers: `generic` (any issuer, by discovery), and `google`,
//! `microsoft` and `gitlab`, which are the same with their issuers preset. Discovery, the
//! token request and ID-token verification (signature against the provider's key set,
//! issuer, audience, expiry, nonce) are the `openidconnect` crate's.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenUrl,
};
use serde_json::{Map, Value};

use super::claims::Claims;
use super::config::{ClaimsSource, Pkce, ProviderConfig};
use super::http::ProviderHttp;
use super::provider::{
    AuthorizationRequest, CodeExchange, OidcProvider, ProviderAnswer, ProviderTokens,
    provider_error,
};
use crate::flow::{FlowError, ProviderFailure};

/// How long a provider's discovery document and key set are kept.
pub const METADATA_TTL: Duration = Duration::from_secs(600);

/// The least time between two fetches of a provider's documents for a token signed by an
/// unknown key.
pub const REFRESH_SPACING: Duration = Duration::from_secs(30);

/// The upstream parameters Kratos passes on to the provider.
pub const UPSTREAM_PARAMETERS: [&str; 6] = [
    "login_hint",
    "hd",
    "prompt",
    "auth_type",
    "acr_values",
    "max_age",
];

/// Microsoft's tenants that stand for many: their ID tokens carry the user's own tenant
/// in `iss` and `tid`.
const MICROSOFT_SHARED_TENANTS: [&str; 3] = ["common", "organizations", "consumers"];

struct Discovered {
    at: Instant,
    metadata: CoreProviderMetadata,
    pkce_s256: bool,
}

/// An OpenID Connect provider.
pub struct GenericProvider {
    config: ProviderConfig,
    http: ProviderHttp,
    issuer: String,
    /// Microsoft's shared tenants: the issuer is checked against the token's `tid`.
    issuer_per_tenant: bool,
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

impl GenericProvider {
    /// The provider of `config` (`generic` needs `issuer_url`; the others have defaults).
    ///
    /// # Errors
    ///
    /// When there is no issuer, or it is not a URL.
    pub fn new(config: ProviderConfig, http: ProviderHttp) -> Result<Self, String> {
        let tenant = config
            .microsoft_tenant
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "common".into());
        let issuer = match (config.provider.as_str(), config.issuer_url.as_deref()) {
            (_, Some(url)) if !url.is_empty() => url.to_owned(),
            ("google", _) => "https://accounts.google.com".into(),
            ("gitlab", _) => "https://gitlab.com".into(),
            ("microsoft", _) => format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            _ => return Err("issuer_url is required for a generic provider".into()),
        };
        url::Url::parse(&issuer).map_err(|e| format!("issuer_url is not a URL: {e}"))?;
        let issuer_per_tenant = config.provider == "microsoft"
            && config.issuer_url.as_deref().is_none_or(str::is_empty)
            && MICROSOFT_SHARED_TENANTS.contains(&tenant.as_str());
        Ok(Self {
            config,
            http,
            issuer,
            issuer_per_tenant,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document and key set, fetched when not fetched within
    /// [`METADATA_TTL`], or when `refresh` (a token signed by an unknown key) and not
    /// fetched within [`REFRESH_SPACING`].
    async fn metadata(&self, refresh: bool) -> Result<(CoreProviderMetadata, bool), FlowError> {
        {
            let slot = self.discovered.lock().await;
            if let Some(d) = slot.as_ref() {
                let fresh = d.at.elapsed() < METADATA_TTL;
                // Tokens made to fail cannot keep the provider's documents being fetched.
                if fresh && (!refresh || d.at.elapsed() < REFRESH_SPACING) {
                    return Ok((d.metadata.clone(), d.pkce_s256));
                }
            }
        }
        // Fetched without the lock: a slow provider does not hold up the sign-ins that
        // have its documents already.
        let discovered = self.discover().await?;
        let answer = (discovered.metadata.clone(), discovered.pkce_s256);
        *self.discovered.lock().await = Some(discovered);
        Ok(answer)
    }

    async fn discover(&self) -> Result<Discovered, FlowError> {
        let unreachable = |e: String| {
            provider_error(
                ProviderFailure::Misconfigured,
                format!(
                    "Unable to initialize OpenID Connect Provider \"{}\": {e}",
                    self.config.id
                ),
            )
        };
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (status, body) = self
            .http
            .get(&url, &[(http::header::ACCEPT, "application/json".into())])
            .await
            .map_err(|e| unreachable(e.0))?;
        if !status.is_success() {
            return Err(unreachable(format!(
                "the discovery document answered {status}"
            )));
        }
        let raw: Value = serde_json::from_slice(&body)
            .map_err(|_| unreachable("the discovery document is not JSON".into()))?;
        let pkce_s256 = raw
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|v| v == "S256"));
        let mut metadata: CoreProviderMetadata = serde_json::from_value(raw)
            .map_err(|e| unreachable(format!("the discovery document is invalid: {e}")))?;
        let announced = metadata.issuer().as_str().trim_end_matches('/');
        if !self.issuer_per_tenant && announced != self.issuer.trim_end_matches('/') {
            return Err(unreachable(format!(
                "the discovery document names the issuer {announced}, not {}",
                self.issuer
            )));
        }
        let client = self.http.oauth2();
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &client)
            .await
            .map_err(|e| unreachable(format!("its key set cannot be read: {e}")))?;
        metadata = metadata.set_jwks(jwks);
        if let Some(auth) = self.config.auth_url.as_deref().filter(|u| !u.is_empty()) {
            metadata = metadata.set_authorization_endpoint(
                AuthUrl::new(auth.to_owned())
                    .map_err(|e| unreachable(format!("auth_url is invalid: {e}")))?,
            );
        }
        if let Some(token) = self.config.token_url.as_deref().filter(|u| !u.is_empty()) {
            metadata = metadata.set_token_endpoint(Some(
                TokenUrl::new(token.to_owned())
                    .map_err(|e| unreachable(format!("token_url is invalid: {e}")))?,
            ));
        }
        Ok(Discovered {
            at: Instant::now(),
            metadata,
            pkce_s256,
        })
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        FlowError,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| {
            provider_error(
                ProviderFailure::Misconfigured,
                format!("The callback URL is invalid: {e}"),
            )
        })?;
        let secret = Some(self.config.client_secret())
            .filter(|s| !s.is_empty())
            .map(|s| ClientSecret::new(s.to_owned()));
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect))
    }

    /// The ID token's own claims (its payload, read after it was verified).
    fn payload_of(compact: &str) -> Result<Map<String, Value>, FlowError> {
        let invalid = || {
            provider_error(
                ProviderFailure::Forbidden,
                "Could not verify id_token: its payload is not a JSON object",
            )
        };
        let payload = compact.split('.').nth(1).ok_or_else(invalid)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| invalid())?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(invalid()),
        }
    }

    async fn userinfo(
        &self,
        metadata: &CoreProviderMetadata,
        access_token: &str,
    ) -> Result<Map<String, Value>, FlowError> {
        let Some(endpoint) = metadata.userinfo_endpoint() else {
            return Err(provider_error(
                ProviderFailure::Misconfigured,
                format!(
                    "The OpenID Connect Provider \"{}\" has no userinfo endpoint",
                    self.config.id
                ),
            ));
        };
        let (status, body) = self
            .http
            .get(
                endpoint.as_str(),
                &[
                    (
                        http::header::AUTHORIZATION,
                        format!("Bearer {access_token}"),
                    ),
                    (http::header::ACCEPT, "application/json".into()),
                ],
            )
            .await
            .map_err(|e| provider_error(ProviderFailure::Upstream, e.0))?;
        if !status.is_success() {
            return Err(provider_error(
                ProviderFailure::Upstream,
                format!("The userinfo endpoint answered {status}"),
            ));
        }
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(provider_error(
                ProviderFailure::Upstream,
                "The userinfo endpoint answered no JSON object",
            )),
        }
    }
}

#[async_trait]
impl OidcProvider for GenericProvider {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    async fn uses_pkce(&self) -> Result<bool, FlowError> {
        Ok(match self.config.pkce {
            Pkce::Force => true,
            Pkce::Never => false,
            Pkce::Auto => self.metadata(false).await?.1,
        })
    }

    async fn authorization_url(
        &self,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, FlowError> {
        let (metadata, _) = self.metadata(false).await?;
        let client = self.client(metadata, request.redirect_uri)?;
        let state = request.state.to_owned();
        let nonce = request.nonce.to_owned();
        let mut auth = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        );
        for scope in &self.config.scope {
            if scope != "openid" {
                auth = auth.add_scope(Scope::new(scope.clone()));
            }
        }
        if let Some(verifier) = request.pkce_verifier {
            let verifier = PkceCodeVerifier::new(verifier.to_owned());
            auth = auth.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        }
        if let Some(claims) = &self.config.requested_claims {
            auth = auth.add_extra_param("claims", claims.to_string());
        }
        for (name, value) in request.upstream_parameters {
            if UPSTREAM_PARAMETERS.contains(&name.as_str()) {
                auth = auth.add_extra_param(name.clone(), value.clone());
            }
        }
        let (url, _, _) = auth.url();
        Ok(url.to_string())
    }

    async fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderAnswer, FlowError> {
        let (metadata, _) = self.metadata(false).await?;
        let client = self.client(metadata.clone(), exchange.redirect_uri)?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .map_err(|e| provider_error(ProviderFailure::Misconfigured, e.to_string()))?;
        if let Some(verifier) = exchange.pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let http = self.http.oauth2();
        let token = request.request_async(&http).await.map_err(|e| {
            provider_error(
                ProviderFailure::Upstream,
                format!(
                    "Unable to exchange the OpenID Connect code: {}",
                    token_error(&e)
                ),
            )
        })?;
        let Some(id_token) = token.extra_fields().id_token() else {
            return Err(provider_error(
                ProviderFailure::Upstream,
                "The OpenID Connect Provider did not return an id_token",
            ));
        };
        let nonce = Nonce::new(exchange.nonce.to_owned());
        let audiences = self.config.additional_id_token_audiences.clone();
        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let audiences = audiences.clone();
            let mut verifier =
                client
                    .id_token_verifier()
                    .set_other_audience_verifier_fn(move |aud| {
                        audiences.iter().any(|a| a == aud.as_str())
                    });
            if self.issuer_per_tenant {
                verifier = verifier.require_issuer_match(false);
            }
            id_token.claims(&verifier, &nonce).map(|_| ())
        };
        let mut verified = verify(&client);
        if matches!(
            verified,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_))
        ) {
            // The provider may have rotated its keys: read them again, once.
            let (fresh, _) = self.metadata(true).await?;
            verified = verify(&self.client(fresh, exchange.redirect_uri)?);
        }
        if let Err(e) = verified {
            return Err(provider_error(
                ProviderFailure::Forbidden,
                format!("Could not verify id_token: {e}"),
            ));
        }
        let compact = id_token.to_string();
        let mut object = Self::payload_of(&compact)?;
        if self.issuer_per_tenant {
            let tid = object
                .get("tid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let want = format!("https://login.microsoftonline.com/{tid}/v2.0");
            if tid.is_empty() || object.get("iss").and_then(Value::as_str) != Some(want.as_str()) {
                return Err(provider_error(
                    ProviderFailure::Forbidden,
                    "Could not verify id_token: the issuer is not the token's tenant",
                ));
            }
        }
        let access_token = token.access_token().secret().clone();
        if self.config.claims_source == ClaimsSource::Userinfo {
            let info = self.userinfo(&metadata, &access_token).await?;
            if info.get("sub") != object.get("sub") {
                return Err(provider_error(
                    ProviderFailure::Forbidden,
                    "The userinfo subject does not match the id_token's",
                ));
            }
            let iss = object.remove("iss");
            object = info;
            if let Some(iss) = iss {
                object.entry("iss").or_insert(iss);
            }
        }
        let claims = Claims::from_object(object).map_err(|e| {
            provider_error(
                ProviderFailure::Forbidden,
                format!("The id_token claims were invalid: {e}"),
            )
        })?;
        Ok(ProviderAnswer {
            claims,
            tokens: ProviderTokens {
                access_token: Some(access_token),
                refresh_token: token.refresh_token().map(|t| t.secret().clone()),
                id_token: Some(compact),
            },
        })
    }
}

/// A token request error, without the answer's body (which may hold a token).
pub(crate) fn token_error<
    E: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
>(
    e: &openidconnect::RequestTokenError<E, T>,
) -> String {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => format!("the provider answered {r}"),
        openidconnect::RequestTokenError::Request(e) => e.to_string(),
        openidconnect::RequestTokenError::Parse(_, _) => "the provider's answer is invalid".into(),
        openidconnect::RequestTokenError::Other(e) => e.clone(),
    }
}
