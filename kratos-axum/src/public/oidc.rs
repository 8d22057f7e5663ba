//! `/self-service/methods/oidc/callback/{provider}` (and `…/callback` for providers with
//! `pkce: force`): where a sign-in provider sends the browser back. The flow is read from
//! the sealed `state`, and the callback's parameters are submitted to it as the `oidc`
//! method's payload, admitted as a followed link: no CSRF token (the state stands for it),
//! the browser's CSRF cookie still checked on browser flows.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::strategy::oidc::{CALLBACK_PATH, CallbackFlow, CallbackParams, callback_target};

use super::FlowRequest;
use super::admission::HttpAdmission;
use crate::error::ApiError;

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route(
            &format!("{CALLBACK_PATH}/{{provider}}"),
            get(callback_for).post(callback_for),
        )
        .route(CALLBACK_PATH, get(callback).post(callback))
}

async fn callback_for(
    State(k): State<Kratos>,
    Path(provider): Path<String>,
    req: FlowRequest,
) -> Result<Response, ApiError> {
    answer(&k, &req, Some(&provider)).await
}

async fn callback(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    answer(&k, &req, None).await
}

async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    provider: Option<&str>,
) -> Result<Response, ApiError> {
    let params = CallbackParams {
        state: req.param("state"),
        code: req.param("code").or_else(|| req.param("authCode")),
        error: req.param("error"),
        error_description: req.param("error_description"),
    };
    let target = callback_target(k, params.state.as_deref(), provider)
        .map_err(|e| super::errors::browser_error(&e, true))?;
    let payload = params.into_payload(&target.provider);
    let admission = HttpAdmission::following_link(k, req);
    match target.kind {
        CallbackFlow::Login => {
            super::login::answer(k, req, target.flow_id, &payload, &admission).await
        }
        CallbackFlow::Registration => {
            super::registration::answer(k, req, target.flow_id, &payload, &admission).await
        }
        CallbackFlow::Settings => {
            super::settings::answer(k, req, target.flow_id, &payload, &admission).await
        }
    }
}
