//! `/self-service/methods/oidc/callback/{provider}` (and `…/callback` for providers with
//! `pkce: force`): where a sign-in provider sends the browser back. The flow is read from
//! the sealed `state`, and the callback's parameters are submitted to it as the `oidc`
//! method's payload, admitted as a followed link: no CSRF token (the state stands for it),
//! the browser's CSRF cookie still checked on browser flows.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::flow::FlowType;
use kratos_core::flow::login::LoginSubmission;
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::strategy::oidc::{CALLBACK_PATH, CallbackFlow, CallbackParams, callback_target};

use super::admission::HttpAdmission;
use super::{FlowRequest, Reply};
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
            let result = k.login().submit(target.flow_id, &payload, &admission).await;
            // A native app's api flow: the browser goes back to the app with the code that
            // exchanges for the session (`/sessions/token-exchange`).
            if let Ok(LoginSubmission::Completed(done)) = &result
                && done.flow.flow_type == FlowType::Api
                && let Some(to) = &done.token_exchange_redirect
            {
                return Ok(Reply::see_other(to.clone()).into_response());
            }
            if let Some(to) = onward(&result) {
                return Ok(to);
            }
            super::login::respond(k, req, &admission, result).await
        }
        CallbackFlow::Registration => {
            let result = k
                .registration()
                .submit(target.flow_id, &payload, &admission)
                .await;
            if let Ok(RegistrationSubmission::Completed(done)) = &result
                && done.flow.flow_type == FlowType::Api
                && let Some(to) = &done.token_exchange_redirect
            {
                return Ok(Reply::see_other(to.clone()).into_response());
            }
            if let Some(to) = onward(&result) {
                return Ok(to);
            }
            super::registration::respond(k, req, &admission, result).await
        }
        CallbackFlow::Settings => {
            super::settings::answer(k, req, target.flow_id, &payload, &admission).await
        }
    }
}

/// The callback continues in another flow (a login that found no identity registers, a
/// registration that found one signs in): the browser follows at once, whatever the
/// flow's type, since a browser is what reached the callback.
fn onward<T>(result: &Result<T, kratos_core::flow::FlowError>) -> Option<Response> {
    match result {
        Err(kratos_core::flow::FlowError::BrowserLocationChangeRequired {
            redirect_browser_to,
        }) if redirect_browser_to.contains(CALLBACK_PATH) => {
            Some(Reply::see_other(redirect_browser_to.clone()).into_response())
        }
        _ => None,
    }
}
