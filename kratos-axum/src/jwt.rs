//! Sessions as JSON Web Tokens in another service (feature `jwt`): the [`SessionJwt`]
//! extractor accepts the token `GET /sessions/whoami?tokenize_as=<template>` answers in
//! `tokenized`, sent as `Authorization: Bearer <jwt>`, and verifies it with a
//! [`JwtVerifier`] from the router's state (through [`FromRef`]).
//!
//! The verifier checks the signature against a JSON Web Key Set — a static
//! [`JwkSet`](jsonwebtoken::jwk::JwkSet), or one read from an `http(s)://` or `file://` URL
//! and kept for [`DEFAULT_CACHE_TTL`] — and the claims: `exp` (required), `nbf` (when
//! present), `iss` (required, one of the issuers given: Kratos's public base URL), and
//! `aud` when an audience is configured. The key is the one whose `kid` the token names (or
//! the only key of the set when the token names none); a token naming a key the set lacks
//! makes a fetched set be read again, at most once per [`MIN_REFRESH_INTERVAL`] (see
//! [`JwtVerifier::refresh_interval`]). The
//! algorithm must fit the key (its `alg` when it has one, else its type): `alg: none` and
//! an HMAC token against a public key are refused.
//!
//! A refused token is answered as Kratos answers an unauthorized request: 401 with
//! `{"error": {"id": "unauthorized", "code": 401, …}}` and `WWW-Authenticate: Bearer`; a key
//! set that cannot be fetched is a 500. Neither names the token or its claims.
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::get};
//! use kratos_axum::jwt::{JwtVerifier, SessionJwt};
//!
//! #[derive(Clone)]
//! struct AppState {
//!     jwt: JwtVerifier,
//! }
//!
//! impl FromRef<AppState> for JwtVerifier {
//!     fn from_ref(state: &AppState) -> JwtVerifier {
//!         state.jwt.clone()
//!     }
//! }
//!
//! async fn me(jwt: SessionJwt) -> String {
//!     format!("session {} of {}", jwt.sid().unwrap_or_default(), jwt.sub().unwrap_or_default())
//! }
//!
//! # fn app() -> Result<Router, kratos_axum::jwt::JwtSetupError> {
//! let jwt = JwtVerifier::from_url(
//!     "https://auth.example.com/.well-known/jwks.json",
//!     ["https://auth.example.com/"],
//! )?;
//! Ok(Router::new().route("/me", get(me)).with_state(AppState { jwt }))
//! # }
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// How long a fetched key set is used before it is fetched again (by default).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// The least time between two fetches of a key set for a key it lacks (by default).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest key set read.
const MAX_KEY_SET_BYTES: usize = 1 << 20;

/// Why a [`JwtVerifier`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtSetupError {
    /// The key set URL is not an `http://`, `https://` or `file://` URL.
    #[error("the key set URL must be an http://, https:// or file:// URL")]
    Url,
    /// No issuer was given.
    #[error("at least one issuer is required")]
    NoIssuer,
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
}

/// Why a token was refused. The messages (the `reason` of the 401) name no part of the
/// token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// No `Authorization: Bearer` header.
    #[error("The request carries no bearer token.")]
    Missing,
    /// The token is not a JWT, its algorithm is not allowed, or its signature does not
    /// verify.
    #[error("The bearer token is not a valid JSON Web Token.")]
    Invalid,
    /// No key of the set fits the token's `kid` and algorithm.
    #[error("The bearer token is signed with an unknown key.")]
    UnknownKey,
    /// `exp` is past (or missing).
    #[error("The bearer token has expired.")]
    Expired,
    /// `nbf` is in the future.
    #[error("The bearer token is not valid yet.")]
    NotYetValid,
    /// `iss` is missing or not an accepted issuer.
    #[error("The bearer token has the wrong issuer.")]
    Issuer,
    /// `aud` is missing or not an accepted audience.
    #[error("The bearer token has the wrong audience.")]
    Audience,
    /// The key set could not be fetched or read (500).
    #[error("The JSON Web Key Set could not be fetched.")]
    KeySet(String),
}

impl JwtError {
    /// The HTTP status: 401, or 500 when the key set could not be fetched.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::KeySet(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for JwtError {
    fn into_response(self) -> Response {
        if let JwtError::KeySet(reason) = &self {
            tracing::warn!(%reason, "the JSON Web Key Set could not be fetched");
            return ApiError::with_status(self.status(), "internal_server_error", self.to_string())
                .into_response();
        }
        let mut response =
            ApiError::with_status(self.status(), "unauthorized", self.to_string()).into_response();
        let challenge = match self {
            JwtError::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        };
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

/// Verifies session JWTs: keys, issuers, audience, leeway. Cheap to clone.
#[derive(Clone)]
pub struct JwtVerifier(Arc<Inner>);

struct Inner {
    keys: Keys,
    issuers: HashSet<String>,
    audience: Option<HashSet<String>>,
    leeway: u64,
}

impl Clone for Inner {
    fn clone(&self) -> Self {
        let keys = match &self.keys {
            Keys::Static(set) => Keys::Static(set.clone()),
            Keys::Fetched(f) => Keys::Fetched(Box::new(Fetched {
                url: f.url.clone(),
                client: f.client.clone(),
                ttl: f.ttl,
                refresh: f.refresh,
                state: tokio::sync::Mutex::new(FetchState::default()),
            })),
        };
        Self {
            keys,
            issuers: self.issuers.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
        }
    }
}

enum Keys {
    Static(Arc<JwkSet>),
    Fetched(Box<Fetched>),
}

struct Fetched {
    url: String,
    client: Option<Client>,
    ttl: Duration,
    refresh: Duration,
    state: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    set: Option<(Instant, Arc<JwkSet>)>,
    last_attempt: Option<Instant>,
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.0.keys {
            Keys::Static(set) => format!("{} static keys", set.keys.len()),
            Keys::Fetched(f) => kratos_core::config::redact_url(&f.url),
        };
        f.debug_struct("JwtVerifier")
            .field("keys", &keys)
            .field("issuers", &self.0.issuers)
            .field("audience", &self.0.audience)
            .field("leeway", &self.0.leeway)
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier with a fixed key set, accepting tokens of `issuers` (Kratos's public
    /// base URL as it writes `iss`, e.g. `https://auth.example.com/`).
    ///
    /// # Errors
    ///
    /// [`JwtSetupError::NoIssuer`] when `issuers` is empty.
    pub fn from_jwks<I, S>(set: JwkSet, issuers: I) -> Result<Self, JwtSetupError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Keys::Static(Arc::new(set)), issuers)
    }

    /// A verifier whose key set is read from `url` (`http://`, `https://` or `file://`) at
    /// the first token and again every [`DEFAULT_CACHE_TTL`] (see
    /// [`cache_ttl`](Self::cache_ttl)), accepting tokens of `issuers`.
    ///
    /// # Errors
    ///
    /// [`JwtSetupError`] for another scheme, no issuer, or no HTTP client.
    pub fn from_url<I, S>(url: &str, issuers: I) -> Result<Self, JwtSetupError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let url = url.trim();
        let client = if url.starts_with("http://") || url.starts_with("https://") {
            Some(client()?)
        } else if url.starts_with("file://") {
            None
        } else {
            return Err(JwtSetupError::Url);
        };
        let keys = Keys::Fetched(Box::new(Fetched {
            url: url.to_owned(),
            client,
            ttl: DEFAULT_CACHE_TTL,
            refresh: MIN_REFRESH_INTERVAL,
            state: tokio::sync::Mutex::new(FetchState::default()),
        }));
        Self::new(keys, issuers)
    }

    fn new<I, S>(keys: Keys, issuers: I) -> Result<Self, JwtSetupError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let issuers: HashSet<String> = issuers.into_iter().map(Into::into).collect();
        if issuers.is_empty() {
            return Err(JwtSetupError::NoIssuer);
        }
        Ok(Self(Arc::new(Inner {
            keys,
            issuers,
            audience: None,
            leeway: 5,
        })))
    }

    /// The settings to change: a verifier configured after it was cloned gets its own copy
    /// (with an empty cache of fetched keys).
    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.0)
    }

    /// Requires `aud` to hold one of `audience` (by default `aud` is not checked).
    pub fn audience<I, S>(mut self, audience: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: HashSet<String> = audience.into_iter().map(Into::into).collect();
        self.inner_mut().audience = (!set.is_empty()).then_some(set);
        self
    }

    /// The clock skew allowed on `exp` and `nbf`, in seconds (default 5).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.inner_mut().leeway = seconds;
        self
    }

    /// How long a fetched key set is used before it is fetched again (default
    /// [`DEFAULT_CACHE_TTL`]; at least the refresh interval). No effect on a static set.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        if let Keys::Fetched(f) = &mut self.inner_mut().keys {
            f.ttl = ttl.max(f.refresh);
        }
        self
    }

    /// The least time between two fetches of a key set (default [`MIN_REFRESH_INTERVAL`],
    /// at least one second): a token naming a key the set lacks makes it be fetched again
    /// only once this long has passed since the last fetch, so such tokens cannot make the
    /// verifier hammer the key server. No effect on a static set.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        if let Keys::Fetched(f) = &mut self.inner_mut().keys {
            f.refresh = interval.max(Duration::from_secs(1));
            f.ttl = f.ttl.max(f.refresh);
        }
        self
    }

    /// Verifies a token and answers its header and claims.
    ///
    /// # Errors
    ///
    /// [`JwtError`] saying why the token is refused, or that the key set could not be read.
    pub async fn verify(&self, token: &str) -> Result<SessionJwt, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        let kid = header.kid.as_deref().filter(|k| !k.is_empty());
        let set = self.key_set(kid).await?;
        let jwk = pick(&set, kid, header.alg).ok_or(JwtError::UnknownKey)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.0.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.iss = Some(self.0.issuers.clone());
        match &self.0.audience {
            Some(aud) => {
                validation.aud = Some(aud.clone());
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| refusal(&e))?;
        Ok(SessionJwt {
            header: data.header,
            claims: data.claims,
        })
    }

    /// The key set; a fetched one is read when it is older than its TTL, or when it lacks
    /// `kid`; but never twice within the refresh interval. A set that cannot be read
    /// again is used as it was while one is cached.
    async fn key_set(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, JwtError> {
        let fetched = match &self.0.keys {
            Keys::Static(set) => return Ok(set.clone()),
            Keys::Fetched(f) => f,
        };
        let mut state = fetched.state.lock().await;
        let tried_recently = state
            .last_attempt
            .is_some_and(|t| t.elapsed() < fetched.refresh);
        if let Some((at, set)) = &state.set {
            let fresh = at.elapsed() < fetched.ttl;
            let has_kid = kid.is_none_or(|k| set.find(k).is_some());
            if (fresh && has_kid) || tried_recently {
                return Ok(set.clone());
            }
        }
        state.last_attempt = Some(Instant::now());
        match fetched.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                state.set = Some((Instant::now(), set.clone()));
                Ok(set)
            }
            Err(e) => match &state.set {
                Some((_, set)) => {
                    tracing::warn!(reason = %e, "the JSON Web Key Set could not be read again; the cached one is used");
                    Ok(set.clone())
                }
                None => Err(JwtError::KeySet(e)),
            },
        }
    }
}

/// The key a token names: by `kid`, or the only key of the set when it names none; its
/// `alg` (when set) must be the token's, and its type must fit the token's algorithm.
fn pick<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        None if set.keys.len() == 1 => set.keys.first()?,
        None => return None,
    };
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg != jsonwebtoken::jwk::KeyAlgorithm::from(alg)
    {
        return None;
    }
    let family = DecodingKey::from_jwk(jwk).ok()?.family();
    (family == alg.family()).then_some(jwk)
}

fn refusal(e: &jsonwebtoken::errors::Error) -> JwtError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        ErrorKind::InvalidAudience => JwtError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => JwtError::Expired,
            "iss" => JwtError::Issuer,
            "aud" => JwtError::Audience,
            _ => JwtError::Invalid,
        },
        _ => JwtError::Invalid,
    }
}

fn client() -> Result<Client, JwtSetupError> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| JwtSetupError::Client(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}

impl Fetched {
    /// Reads the key set; the error names no more than the URL without its password.
    async fn fetch(&self) -> Result<JwkSet, String> {
        let url = kratos_core::config::redact_url(&self.url);
        let bytes = match &self.client {
            None => {
                let path = self.url.trim_start_matches("file://").to_owned();
                tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .map_err(|_| format!("{url}: the read ended abnormally"))?
                    .map_err(|e| format!("{url}: {e}"))?
                    .into()
            }
            Some(client) => {
                let req = axum::http::Request::get(&self.url)
                    .header(header::USER_AGENT, "kratos-rs")
                    .header(header::ACCEPT, "application/json")
                    .body(Empty::<Bytes>::new())
                    .map_err(|e| format!("{url}: invalid request: {e}"))?;
                let exchange = async {
                    let resp = client
                        .request(req)
                        .await
                        .map_err(|_| format!("{url}: the server could not be reached"))?;
                    if !resp.status().is_success() {
                        return Err(format!("{url}: the server answered {}", resp.status()));
                    }
                    Limited::new(resp.into_body(), MAX_KEY_SET_BYTES)
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .map_err(|_| format!("{url}: the answer could not be read or is too large"))
                };
                tokio::time::timeout(FETCH_TIMEOUT, exchange)
                    .await
                    .map_err(|_| format!("{url}: the server did not answer in time"))??
            }
        };
        if bytes.len() > MAX_KEY_SET_BYTES {
            return Err(format!("{url}: the key set is too large"));
        }
        serde_json::from_slice(&bytes).map_err(|_| format!("{url}: not a JSON Web Key Set"))
    }
}

/// A verified session JWT: its header and claims. As an extractor it reads
/// `Authorization: Bearer <jwt>` and verifies it with the [`JwtVerifier`] of the state;
/// the rejection is a [`JwtError`].
#[derive(Clone, Debug)]
pub struct SessionJwt {
    /// The header (`alg`, `kid`, `typ`).
    pub header: Header,
    /// Every claim.
    pub claims: Map<String, Value>,
}

impl SessionJwt {
    /// `sub`: the identity's id (or its external id, by the template's `subject_source`).
    pub fn sub(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// `sid`: the session's id.
    pub fn sid(&self) -> Option<&str> {
        self.claims.get("sid").and_then(Value::as_str)
    }

    /// `exp`, in seconds since the epoch.
    pub fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }

    /// A claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

impl<S> FromRequestParts<S> for SessionJwt
where
    S: Send + Sync,
    JwtVerifier: FromRef<S>,
{
    type Rejection = JwtError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(JwtError::Missing)?;
        JwtVerifier::from_ref(state).verify(token).await
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
