//! `/self-service/logout…`: the browser logout URL, browser logout and api logout.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use kratos_core::Kratos;
use serde::Deserialize;

use super::{FlowRequest, Reply, flow_error};
use crate::cookie::remove_session_cookie;
use crate::error::{ApiError, parse_json};
use crate::negotiate::body_bytes;

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/logout/browser", get(create_browser))
        .route("/self-service/logout", get(logout_browser))
        .route("/self-service/logout/api", delete(logout_api))
}

/// `GET /self-service/logout/browser`: the logout URL and token of the request's session
/// (401 without one).
async fn create_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let flow = k
        .logout()
        .create_browser(&req.context(&k))
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::to_value(&flow).unwrap_or_default(),
    )
    .into_response())
}

/// `GET /self-service/logout?token=&return_to=`: ends the session the logout token belongs
/// to and removes the session cookie; 303 to the return URL, or 204 for JSON clients.
async fn logout_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let token = req.param("token").ok_or_else(|| {
        ApiError::bad_request("token", "Please include a logout token in the URL query.")
    })?;
    let return_to = req.param("return_to");
    let target = k
        .logout()
        .submit_browser(&token, return_to.as_deref())
        .await
        // Kratos sends a browser whose logout fails to the error UI.
        .map_err(|e| super::errors::browser_error(&e, super::errors::forwarded_on_create(&e)))?;
    let reply = if req.json() {
        Reply::empty(StatusCode::NO_CONTENT)
    } else {
        Reply::see_other(target)
    };
    Ok(reply
        .cookie(Some(remove_session_cookie(&k)))
        .into_response())
}

#[derive(Deserialize)]
struct ApiLogoutBody {
    session_token: Option<String>,
}

/// `DELETE /self-service/logout/api` with `{"session_token": …}`: 204, 403 for an unknown
/// token, 400 without one.
async fn logout_api(
    State(k): State<Kratos>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body)?;
    let body: ApiLogoutBody = parse_json(&bytes)?;
    let token = body
        .session_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("session_token", "The session_token field is required.")
        })?;
    k.logout().api(&token).await.map_err(|e| flow_error(&e))?;
    Ok(Reply::empty(StatusCode::NO_CONTENT).into_response())
}
