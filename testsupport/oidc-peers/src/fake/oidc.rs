//! The fake's OpenID Connect endpoints.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::Url;

use super::{
    AuthorizeOutcome, Grant, IdTokenFault, Shared, SigningAlgorithm, TokenRequestRecord,
    random_token,
};
use crate::{Account, TokenEndpointAuthMethod};

/// How long the fake's ID and access tokens live, in seconds.
const TOKEN_LIFETIME: u64 = 3600;

/// An OAuth 2.0 error answer: `{"error", "error_description"}` with `status`.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"fake\""),
        );
    }
    response
}

/// A `302 Found` to `location`.
pub(super) fn found(location: &Url) -> Response {
    match HeaderValue::from_str(location.as_str()) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the redirect URI is not a valid header value",
        ),
    }
}

/// `redirect_uri` with `pairs` added to its query.
pub(super) fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
    }
    Some(url)
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The client authentication of a token request: the method, the client id and the secret.
pub(super) fn client_authentication(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (TokenEndpointAuthMethod, Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((form_decode(id), form_decode(secret)))
        });
    if let Some((id, secret)) = basic {
        return (
            TokenEndpointAuthMethod::ClientSecretBasic,
            Some(id),
            Some(secret),
        );
    }
    match form.get("client_secret") {
        Some(secret) => (
            TokenEndpointAuthMethod::ClientSecretPost,
            form.get("client_id").cloned(),
            Some(secret.clone()),
        ),
        None => (
            TokenEndpointAuthMethod::None,
            form.get("client_id").cloned(),
            None,
        ),
    }
}

/// Undoes the form encoding RFC 6749 (2.3.1) applies to the id and secret of HTTP Basic.
fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/auth"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name", "given_name", "family_name"],
    }))
}

/// `GET /.well-known/jwks.json`.
pub(super) async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(serde_json::to_value(shared.keys.jwks()).unwrap_or_else(|_| json!({ "keys": [] })))
}

/// `GET /oauth2/auth`: approves at once, or denies as told.
pub(super) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut state = shared.state();
    let Some(client) = params.get("client_id").and_then(|id| state.client(id)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown or missing client_id",
        );
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is not registered for the client",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is required",
            );
        }
    };
    let client_id = client.client_id.clone();
    let state_param = params.get("state").map(String::as_str);
    let redirect_with = |pairs: &[(&str, &str)]| redirect(&redirect_uri, state_param, pairs);
    if params.get("response_type").map(String::as_str) != Some("code") {
        return redirect_with(&[
            ("error", "unsupported_response_type"),
            ("error_description", "only response_type=code is supported"),
        ]);
    }
    if let AuthorizeOutcome::Deny { error, description } = &state.authorize_outcome {
        return redirect_with(&[
            ("error", error.as_str()),
            ("error_description", description.as_str()),
        ]);
    }
    let code_challenge = match params.get("code_challenge") {
        None => None,
        Some(challenge) => {
            let method = params
                .get("code_challenge_method")
                .map_or("plain", String::as_str);
            if method != "S256" && method != "plain" {
                return redirect_with(&[
                    ("error", "invalid_request"),
                    ("error_description", "unsupported code_challenge_method"),
                ]);
            }
            Some((challenge.clone(), method.to_owned()))
        }
    };
    let login = params
        .get("login_hint")
        .cloned()
        .unwrap_or_else(|| state.login.clone());
    let code = random_token("code-");
    state.codes.insert(
        code.clone(),
        Grant {
            endpoint: "oidc",
            client_id,
            redirect_uri: params.get("redirect_uri").cloned(),
            login,
            nonce: params.get("nonce").cloned(),
            code_challenge,
            scope: params.get("scope").cloned().unwrap_or_default(),
        },
    );
    drop(state);
    redirect_with(&[("code", code.as_str())])
}

/// A redirect to `redirect_uri` with `pairs` and, if any, the request's `state`.
fn redirect(redirect_uri: &str, state: Option<&str>, pairs: &[(&str, &str)]) -> Response {
    let mut all = pairs.to_vec();
    if let Some(value) = state {
        all.push(("state", value));
    }
    match with_query(redirect_uri, &all) {
        Some(url) => found(&url),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is no URL",
        ),
    }
}

/// Whether `verifier` answers the PKCE `challenge` made with `method`.
fn pkce_matches(challenge: &str, method: &str, verifier: &str) -> bool {
    match method {
        "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        _ => verifier == challenge,
    }
}

/// `POST /oauth2/token`: the authorization code grant.
pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (method, client_id, secret) = client_authentication(&headers, &form);
    let code_verifier = form.get("code_verifier");
    let mut state = shared.state();
    let mut record = TokenRequestRecord {
        endpoint: "oidc",
        client_id: client_id.clone(),
        auth_method: method,
        code_verifier_sent: code_verifier.is_some(),
        succeeded: false,
    };
    let result = (|| {
        let client = client_id
            .as_deref()
            .and_then(|id| state.client(id))
            .ok_or((StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"))?;
        if client.token_endpoint_auth_method != method {
            return Err((
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client must authenticate with its registered token_endpoint_auth_method",
            ));
        }
        if method != TokenEndpointAuthMethod::None && client.client_secret != secret {
            return Err((
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "wrong client secret",
            ));
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err((
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ));
        }
        let grant = form
            .get("code")
            .and_then(|code| state.codes.remove(code))
            .filter(|grant| grant.endpoint == "oidc")
            .ok_or((
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown, used or expired code",
            ))?;
        if Some(&grant.client_id) != client_id.as_ref() {
            return Err((
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code was issued to another client",
            ));
        }
        if grant.redirect_uri.is_some() && grant.redirect_uri.as_ref() != form.get("redirect_uri") {
            return Err((
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&grant.code_challenge, code_verifier) {
            (Some((challenge, method)), Some(verifier)) => {
                if !pkce_matches(challenge, method, verifier) {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "the code_verifier does not match the code_challenge",
                    ));
                }
            }
            (Some(_), None) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier is required",
                ));
            }
            (None, Some(_)) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        Ok(grant)
    })();
    let grant = match result {
        Ok(grant) => grant,
        Err((status, error, description)) => {
            state.token_requests.push(record);
            return oauth_error(status, error, description);
        }
    };
    let account = state.account(&grant.login);
    let id_token = id_token(
        &shared,
        &grant,
        &account,
        state.fault,
        state.signing_algorithm,
    );
    let id_token = match id_token {
        Ok(token) => token,
        Err(err) => {
            state.token_requests.push(record);
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &err);
        }
    };
    let access_token = random_token("at-");
    state
        .access_tokens
        .insert(access_token.clone(), grant.login.clone());
    record.succeeded = true;
    state.token_requests.push(record);
    drop(state);
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": grant.scope,
    });
    if grant.scope.split(' ').any(|s| s == "openid") {
        body["id_token"] = Value::String(id_token);
    }
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

/// The ID token of `grant` for `account`, with `fault`.
fn id_token(
    shared: &Shared,
    grant: &Grant,
    account: &Account,
    fault: Option<IdTokenFault>,
    alg: SigningAlgorithm,
) -> Result<String, String> {
    let now = now();
    let mut claims = account.claims();
    claims.insert("iss".into(), json!(shared.issuer));
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + TOKEN_LIFETIME));
    claims.insert("auth_time".into(), json!(now));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    match fault {
        Some(IdTokenFault::WrongAudience) => {
            claims.insert("aud".into(), json!("another-client"));
        }
        Some(IdTokenFault::WrongIssuer) => {
            claims.insert(
                "iss".into(),
                json!(format!("{}/not-the-issuer", shared.issuer)),
            );
        }
        Some(IdTokenFault::WrongNonce) => {
            claims.insert("nonce".into(), json!("not-the-nonce-of-the-request"));
        }
        Some(IdTokenFault::MissingNonce) => {
            claims.remove("nonce");
        }
        Some(IdTokenFault::Expired) => {
            claims.insert("iat".into(), json!(now - 2 * TOKEN_LIFETIME));
            claims.insert("auth_time".into(), json!(now - 2 * TOKEN_LIFETIME));
            claims.insert("exp".into(), json!(now - TOKEN_LIFETIME));
        }
        _ => {}
    }
    if fault == Some(IdTokenFault::AlgNone) {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = serde_json::to_vec(&claims).map_err(|err| err.to_string())?;
        return Ok(format!("{header}.{}.", URL_SAFE_NO_PAD.encode(payload)));
    }
    let (key, kid) = match fault {
        Some(IdTokenFault::UnknownKey) => {
            let rogue = shared.keys.rogue(alg);
            (rogue, rogue.kid)
        }
        Some(IdTokenFault::WrongSignature) => {
            (shared.keys.rogue(alg), shared.keys.signing(alg).kid)
        }
        _ => {
            let key = shared.keys.signing(alg);
            (key, key.kid)
        }
    };
    let mut header = Header::new(match alg {
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::Es256 => Algorithm::ES256,
    });
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &key.key).map_err(|err| err.to_string())
}

/// The login a `Bearer` access token of `headers` was issued for.
pub(super) fn bearer_login(
    shared: &Shared,
    headers: &HeaderMap,
    schemes: &[&str],
) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    shared.state().access_tokens.get(token.trim()).cloned()
}

/// `GET|POST /userinfo`.
pub(super) async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match bearer_login(&shared, &headers, &["Bearer"]) {
        Some(login) => Json(Value::Object(shared.state().account(&login).claims())).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            )],
            Json(json!({ "error": "invalid_token", "error_description": "unknown or missing access token" })),
        )
            .into_response(),
    }
}
