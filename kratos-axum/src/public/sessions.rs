//! `/sessions…`: whoami and the caller's own sessions.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use kratos_core::Kratos;
use kratos_core::session::{RequiredAal, Session, SessionError};
use serde_json::json;
use uuid::Uuid;

use super::{FlowRequest, Reply};
use crate::cookie::session_cookie;
use crate::error::ApiError;
use crate::extract::{TokenSource, session_error, session_token};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/sessions/whoami", get(whoami))
        .route("/sessions", get(list_mine).delete(revoke_others))
        .route("/sessions/{id}", delete(revoke_mine))
        .route("/sessions/token-exchange", get(token_exchange))
}

/// The identity id header whoami answers with.
const IDENTITY_HEADER: HeaderName = HeaderName::from_static("x-kratos-authenticated-identity-id");

fn no_session() -> ApiError {
    ApiError::from_error(&SessionError::Inactive)
}

/// The caller's session without the level check (listing and revoking one's own sessions).
async fn current(k: &Kratos, headers: &HeaderMap) -> Result<(Session, String), ApiError> {
    let (token, _) = session_token(k, headers).ok_or_else(no_session)?;
    let session = k
        .sessions()
        .whoami_with(&token, RequiredAal::Aal1)
        .await
        .map_err(|e| session_error(k, &e))?;
    Ok((session, token))
}

/// `GET /sessions/whoami`; with `tokenize_as=<template>` the session also carries
/// `tokenized`, the JWT that template makes of it (feature `jwt`).
async fn whoami(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let tokenize_as = req.param("tokenize_as").filter(|t| !t.is_empty());
    let headers = req.headers;
    let (token, source) = session_token(&k, &headers).ok_or_else(no_session)?;
    let session = k
        .sessions()
        .whoami(&token)
        .await
        .map_err(|e| session_error(&k, &e))?;
    let mut body = serde_json::to_value(&session).unwrap_or_default();
    if let Some(template) = tokenize_as {
        let tokenized = tokenize(&k, &session, &template).await?;
        if let Some(o) = body.as_object_mut() {
            o.insert("tokenized".into(), tokenized.into());
        }
    }
    let mut reply = Reply::json(StatusCode::OK, body);
    if let Ok(v) = HeaderValue::from_str(&session.identity_id.to_string()) {
        reply = reply.header(IDENTITY_HEADER, v);
    }
    // The session outlives the cookie (sliding expiry): renew the cookie.
    if let TokenSource::Cookie { expires_at } = source
        && session.expires_at.timestamp() > expires_at
    {
        reply = reply.cookie(Some(session_cookie(&k, &token, session.expires_at)));
    }
    Ok(reply.into_response())
}

/// The session as the template `template` tokenizes it, or Kratos's error.
#[cfg(feature = "jwt")]
async fn tokenize(k: &Kratos, session: &Session, template: &str) -> Result<String, ApiError> {
    k.sessions().tokenize(session, template).await.map_err(|e| {
        if let Some(detail) = e.detail() {
            tracing::warn!(template, reason = %e, detail, "the session could not be tokenized");
        }
        ApiError::from_error(&e)
    })
}

/// Without the `jwt` feature no template can be configured: every name is unknown.
#[cfg(not(feature = "jwt"))]
async fn tokenize(_: &Kratos, _: &Session, template: &str) -> Result<String, ApiError> {
    Err(ApiError::with_status(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("Unable to find tokenizer template \"{template}\"."),
    ))
}

/// Page size and token of a listing (`page_size`, or the older `per_page`; `page_token`).
pub(crate) struct Page {
    size: usize,
    after: Option<Uuid>,
}

impl Page {
    pub(crate) fn from_request(req: &FlowRequest) -> Result<Self, ApiError> {
        let size = match req.param("page_size").or_else(|| req.param("per_page")) {
            None => 250,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(
                        "page_size",
                        format!("`{v}` is not a page size between 1 and 1000"),
                    ));
                }
            },
        };
        let after = match req.param("page_token") {
            None => None,
            Some(t) => Some(Uuid::parse_str(&t).map_err(|_| {
                ApiError::bad_request("page_token", "The page token is malformed.")
            })?),
        };
        Ok(Page { size, after })
    }

    /// One page of `list` and, when more follow, a `Link` header to the next.
    pub(crate) fn apply(&self, path: &str, list: Vec<Session>) -> Reply {
        let start = match self.after {
            Some(after) => list
                .iter()
                .position(|s| s.id == after)
                .map(|i| i + 1)
                .unwrap_or(list.len()),
            None => 0,
        };
        let page: Vec<&Session> = list.iter().skip(start).take(self.size).collect();
        let more = start + page.len() < list.len();
        let mut reply = Reply::json(StatusCode::OK, json!(page));
        if more && let Some(last) = page.last() {
            let link = format!(
                "<{path}?page_size={}&page_token={}>; rel=\"next\"",
                self.size, last.id
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                reply = reply.header(axum::http::header::LINK, v);
            }
        }
        reply
    }
}

/// `GET /sessions`: the caller's other active sessions, newest first.
async fn list_mine(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let page = Page::from_request(&req)?;
    let (me, _) = current(&k, &req.headers).await?;
    let mut list = k
        .sessions()
        .list_for_identity(me.identity_id, true)
        .await
        .map_err(|e| session_error(&k, &e))?;
    list.retain(|s| s.id != me.id);
    Ok(page.apply("/sessions", list).into_response())
}

/// `DELETE /sessions`: revokes every other session of the caller; `{"count": n}`.
async fn revoke_others(State(k): State<Kratos>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (_, token) = current(&k, &headers).await?;
    let count = k
        .sessions()
        .revoke_others(&token)
        .await
        .map_err(|e| session_error(&k, &e))?;
    Ok(Reply::json(StatusCode::OK, json!({ "count": count })).into_response())
}

/// `DELETE /sessions/{id}`: revokes another of the caller's sessions (204). The current
/// session is 400 (log out instead); a session of someone else is 404, like an unknown one.
async fn revoke_mine(
    State(k): State<Kratos>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("id", format!("`{id}` is not a UUID")))?;
    let (me, _) = current(&k, &headers).await?;
    if id == me.id {
        return Err(ApiError::bad_request(
            "id",
            "The current session cannot be revoked here: log out instead.",
        ));
    }
    let not_found = || ApiError::from_error(&SessionError::NotFound);
    let target = match k.sessions().get(id).await {
        Ok(s) => s,
        Err(SessionError::NotFound) => return Err(not_found()),
        Err(e) => return Err(session_error(&k, &e)),
    };
    if target.identity_id != me.identity_id {
        return Err(not_found());
    }
    k.sessions()
        .revoke(id)
        .await
        .map_err(|e| session_error(&k, &e))?;
    Ok(Reply::empty(StatusCode::NO_CONTENT).into_response())
}

/// `GET /sessions/token-exchange?init_code=…&return_to_code=…`: the session of a completed
/// native flow opened with `return_session_token_exchange_code`, once
/// (`{session, session_token}`). As Kratos answers: 400 when a code is missing, 422 with the
/// flow when it has not completed, 404 when the codes match no live exchanger (unknown,
/// used, expired). The codes never appear in an answer or a log.
async fn token_exchange(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    use kratos_core::flow::token_exchange::TokenExchangeOutcome;
    let init_code = req.param("init_code").unwrap_or_default();
    let return_to_code = req.param("return_to_code").unwrap_or_default();
    if init_code.is_empty() || return_to_code.is_empty() {
        return Err(ApiError::with_status(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "\"init_code\" and \"return_to_code\" query params must be set",
        ));
    }
    let outcome = k
        .session_token_exchanges()
        .exchange(&init_code, &return_to_code)
        .await
        .map_err(|e| ApiError::from_error(&e))?;
    Ok(match outcome {
        TokenExchangeOutcome::Exchanged {
            session,
            session_token,
        } => Reply::json(
            StatusCode::OK,
            json!({"session": session, "session_token": session_token.expose()}),
        )
        .into_response(),
        TokenExchangeOutcome::Pending(flow) => Reply::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::to_value(&flow).unwrap_or_default(),
        )
        .into_response(),
        TokenExchangeOutcome::NotFound => {
            return Err(ApiError::not_found("no session yet for this \"code\""));
        }
    })
}
