//! The fake's GitHub-style OAuth 2.0 endpoints and API (no ID token), answering as
//! `github.com/login/oauth/*` and `api.github.com/user*` do.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::oidc::{bearer_login, client_authentication, found, with_query};
use super::{AuthorizeOutcome, Grant, Shared, TokenRequestRecord, random_token};
use crate::TokenEndpointAuthMethod;

/// GitHub's documentation link in its authorization errors.
const ERROR_URI: &str =
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors";

/// The numeric id of `login`: the first six bytes of its SHA-256, so stable and below 2^48.
pub(super) fn user_id(login: &str) -> u64 {
    let digest = Sha256::digest(login.as_bytes());
    digest[..6]
        .iter()
        .fold(0u64, |id, byte| (id << 8) | u64::from(*byte))
}

/// GitHub's login name for `login`: the part before an `@`.
fn github_login(login: &str) -> &str {
    login.split('@').next().unwrap_or(login)
}

/// GitHub's plain page for a request it cannot redirect.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// `GET /login/oauth/authorize`: approves at once, or redirects with
/// `error=access_denied` as GitHub does when the user cancels.
pub(super) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut guard = shared.state();
    let state = &mut *guard;
    let Some(client) = params.get("client_id").and_then(|id| state.client(id)) else {
        return not_found();
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        // GitHub shows a page ("redirect_uri is not associated with this application").
        Some(_) => return not_found(),
        None => match client.redirect_uris.first() {
            Some(uri) => uri.clone(),
            None => return not_found(),
        },
    };
    let client_id = client.client_id.clone();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let code;
    match &state.authorize_outcome {
        AuthorizeOutcome::Deny { error, description } => {
            pairs.push(("error", error.as_str()));
            pairs.push(("error_description", description.as_str()));
            pairs.push(("error_uri", ERROR_URI));
        }
        AuthorizeOutcome::Approve => {
            code = hex_code();
            let login = params
                .get("login")
                .cloned()
                .unwrap_or_else(|| state.login.clone());
            state.codes.insert(
                code.clone(),
                Grant {
                    endpoint: "github",
                    client_id,
                    redirect_uri: params.get("redirect_uri").cloned(),
                    login,
                    nonce: None,
                    code_challenge: None,
                    scope: params.get("scope").cloned().unwrap_or_default(),
                },
            );
            pairs.push(("code", code.as_str()));
        }
    }
    if let Some(value) = params.get("state") {
        pairs.push(("state", value.as_str()));
    }
    match with_query(&redirect_uri, &pairs) {
        Some(url) => found(&url),
        None => not_found(),
    }
}

/// A code shaped like GitHub's: 20 hex digits.
fn hex_code() -> String {
    let bytes: [u8; 10] = rand::random();
    hex::encode(bytes)
}

/// GitHub's token endpoint answer in the format the request accepts: JSON when `Accept`
/// names `application/json`, else a form (`application/x-www-form-urlencoded`), both with
/// status 200, errors included.
fn answer(headers: &HeaderMap, fields: &[(&str, &str)]) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        let object: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(key, value)| ((*key).to_owned(), Value::String((*value).to_owned())))
            .collect();
        return Json(Value::Object(object)).into_response();
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// `POST /login/oauth/access_token`: `client_id`, `client_secret` (in the body or HTTP
/// Basic), `code`, `redirect_uri`.
pub(super) async fn access_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    Form(mut form): Form<HashMap<String, String>>,
) -> Response {
    // GitHub also takes the parameters in the query string.
    for (key, value) in query {
        form.entry(key).or_insert(value);
    }
    let (method, client_id, secret) = client_authentication(&headers, &form);
    let mut state = shared.state();
    let mut record = TokenRequestRecord {
        endpoint: "github",
        client_id: client_id.clone(),
        auth_method: method,
        code_verifier_sent: form.contains_key("code_verifier"),
        succeeded: false,
    };
    let client_ok = client_id
        .as_deref()
        .and_then(|id| state.client(id))
        .is_some_and(|client| {
            method != TokenEndpointAuthMethod::None && client.client_secret == secret
        });
    if !client_ok {
        state.token_requests.push(record);
        return answer(
            &headers,
            &[
                ("error", "incorrect_client_credentials"),
                (
                    "error_description",
                    "The client_id and/or client_secret passed are incorrect.",
                ),
                ("error_uri", ERROR_URI),
            ],
        );
    }
    let grant = form
        .get("code")
        .and_then(|code| state.codes.remove(code))
        .filter(|grant| grant.endpoint == "github" && Some(&grant.client_id) == client_id.as_ref());
    let Some(grant) = grant else {
        state.token_requests.push(record);
        return answer(
            &headers,
            &[
                ("error", "bad_verification_code"),
                (
                    "error_description",
                    "The code passed is incorrect or expired.",
                ),
                ("error_uri", ERROR_URI),
            ],
        );
    };
    if grant.redirect_uri.is_some() && grant.redirect_uri.as_ref() != form.get("redirect_uri") {
        state.token_requests.push(record);
        return answer(
            &headers,
            &[
                ("error", "redirect_uri_mismatch"),
                (
                    "error_description",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                ),
                ("error_uri", ERROR_URI),
            ],
        );
    }
    let token = random_token("gho_");
    state.access_tokens.insert(token.clone(), grant.login);
    // GitHub separates the granted scopes with commas.
    let scope = state.github_granted_scope.clone().unwrap_or_else(|| {
        grant
            .scope
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",")
    });
    record.succeeded = true;
    state.token_requests.push(record);
    drop(state);
    answer(
        &headers,
        &[
            ("access_token", token.as_str()),
            ("token_type", "bearer"),
            ("scope", scope.as_str()),
        ],
    )
}

/// GitHub's answer to a request without valid credentials.
fn bad_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        })),
    )
        .into_response()
}

/// `GET /user`: the authenticated user.
pub(super) async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(login) = bearer_login(&shared, &headers, &["Bearer", "token"]) else {
        return bad_credentials();
    };
    let state = shared.state();
    let account = state.account(&login);
    let id = user_id(&login);
    let name = github_login(&login);
    let email = state.github_email_public.then_some(account.email);
    Json(json!({
        "login": name,
        "id": id,
        "node_id": format!("U_fake{id}"),
        "avatar_url": format!("{}/avatars/{id}", shared.issuer),
        "html_url": format!("{}/{name}", shared.issuer),
        "type": "User",
        "site_admin": false,
        "name": account.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": email,
        "bio": null,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }))
    .into_response()
}

/// `GET /user/emails`: the account's email (primary, verified as the account says) and a
/// second, unverified one.
pub(super) async fn emails(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(login) = bearer_login(&shared, &headers, &["Bearer", "token"]) else {
        return bad_credentials();
    };
    let account = shared.state().account(&login);
    let secondary = format!("{}+secondary@example.test", github_login(&login));
    Json(json!([
        {
            "email": account.email,
            "primary": true,
            "verified": account.email_verified,
            "visibility": "public",
        },
        {
            "email": secondary,
            "primary": false,
            "verified": false,
            "visibility": null,
        },
    ]))
    .into_response()
}
