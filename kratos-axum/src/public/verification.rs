//! `/self-service/verification…`: browser and api verification flows, and the links their
//! emails carry.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::flow::verification::VerificationFlow;
use kratos_core::flow::{FlowError, FlowKind, FlowState, FlowType};
use serde_json::Value;

use super::admission::HttpAdmission;
use super::challenge::{
    ensure_enabled, fetched, flow_step, link_payload, submit_error, with_cookie,
};
use super::{FlowRequest, Reply, browser_flow_created, flow_error, merge_csrf_header, stored_flow};
use crate::error::ApiError;
use crate::negotiate::{body_bytes, parse_submission, refuse_browser_on_api_flow};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/verification/browser", get(init_browser))
        .route("/self-service/verification/api", get(init_api))
        .route("/self-service/verification/flows", get(fetch))
        .route("/self-service/verification", get(follow).post(submit))
}

fn ui_url(k: &Kratos) -> Option<String> {
    k.config().selfservice.flows.verification.ui_url.clone()
}

fn enabled(k: &Kratos) -> Result<(), ApiError> {
    ensure_enabled(k.config().selfservice.flows.verification.enabled)
}

fn to_json(flow: &VerificationFlow) -> Value {
    serde_json::to_value(flow).unwrap_or_default()
}

/// `GET /self-service/verification/browser`.
async fn init_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let flow = k
        .verification()
        .create(FlowType::Browser, &req.context(&k))
        .await
        .map_err(|e| super::errors::browser_error(&e, super::errors::forwarded_on_create(&e)))?;
    Ok(
        browser_flow_created(&k, &req, ui_url(&k).as_deref(), flow.id, to_json(&flow))
            .into_response(),
    )
}

/// `GET /self-service/verification/api`.
async fn init_api(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    refuse_browser_on_api_flow(&req.headers)?;
    let flow = k
        .verification()
        .create(FlowType::Api, &req.api_context(&k))
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(StatusCode::OK, to_json(&flow)).into_response())
}

/// `GET /self-service/verification/flows?id=`.
async fn fetch(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    enabled(&k)?;
    let id = req.flow_id("id")?;
    let stored = stored_flow(&k, FlowKind::Verification, id).await?;
    let result = k
        .verification()
        .get(id, &req.context(&k))
        .await
        .map(|f| to_json(&f));
    Ok(fetched(&k, &req, FlowKind::Verification, &stored, result).await)
}

/// Where an HTML client goes once the address is verified: the flow's `return_to`, else the
/// verification UI (which shows the flow's "Continue" link), else that link's target.
fn done_target(k: &Kratos, flow: &VerificationFlow, json: &Value) -> Option<String> {
    if flow.state != FlowState::PassedChallenge {
        return None;
    }
    if let Some(r) = &flow.return_to {
        return Some(r.clone());
    }
    if ui_url(k).is_some() {
        return None;
    }
    json.pointer("/ui/nodes")?
        .as_array()?
        .iter()
        .find(|n| n.pointer("/attributes/id").and_then(Value::as_str) == Some("continue"))?
        .pointer("/attributes/href")?
        .as_str()
        .map(str::to_owned)
}

/// Answers a verification submission or followed link.
async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    browser: bool,
    result: Result<VerificationFlow, FlowError>,
) -> Response {
    let ui = ui_url(k);
    match result {
        Ok(flow) => {
            let json = to_json(&flow);
            let done = done_target(k, &flow, &json);
            flow_step(req, ui.as_deref(), browser, flow.id, json, done)
        }
        Err(e) => submit_error(k, req, FlowKind::Verification, ui.as_deref(), browser, e).await,
    }
}

/// `POST /self-service/verification?flow=`: `{"method": "code", "email"}` sends a code,
/// `{"method": "code", "code"}` checks it, `{"method": "link", "email"}` sends a link. Browser
/// flows need the CSRF token (body or `X-CSRF-Token`) and the CSRF cookie vouching for it.
async fn submit(
    State(k): State<Kratos>,
    req: FlowRequest,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    enabled(&k)?;
    let id = req.flow_id("flow")?;
    let mut payload = parse_submission(&req.headers, &body_bytes(body)?)?;
    merge_csrf_header(&mut payload, &req.headers);
    let admission = HttpAdmission::new(&k, &req);
    let result = k.verification().submit(id, &payload, &admission).await;
    let browser = admission.answer_as(&result)? == FlowType::Browser;
    Ok(answer(&k, &req, browser, result).await)
}

/// `GET /self-service/verification?flow=&token=` (or `&code=`): a link from a verification
/// email was followed. It needs no CSRF token: the token or code proves the email arrived, in
/// whatever browser opens it. Once verified, that browser's CSRF cookie vouches for the flow so
/// the UI can show it. Without `token` or `code` the request is sent to the flow's UI (or
/// answered like `/flows?id=`).
async fn follow(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    enabled(&k)?;
    let id = req.flow_id("flow")?;
    let Some(payload) = link_payload(&req, true) else {
        let stored = stored_flow(&k, FlowKind::Verification, id).await?;
        if let Some(ui) = ui_url(&k).filter(|_| !req.json()) {
            return Ok(Reply::see_other(super::ui_redirect(&ui, id)).into_response());
        }
        let result = k
            .verification()
            .get(id, &req.context(&k))
            .await
            .map(|f| to_json(&f));
        return Ok(fetched(&k, &req, FlowKind::Verification, &stored, result).await);
    };
    // The code or token in the link proves the email arrived, in whatever browser opens it.
    let admission = HttpAdmission::following_link(&k, &req);
    let result = k.verification().submit(id, &payload, &admission).await;
    let browser = admission.answer_as(&result)? == FlowType::Browser;
    let passed = matches!(&result, Ok(f) if f.state == FlowState::PassedChallenge);
    let response = answer(&k, &req, browser, result).await;
    // Once verified, this browser's CSRF cookie vouches for the flow so the UI can show it.
    let cookie = (browser && passed)
        .then(|| admission.csrf_token())
        .flatten()
        .and_then(|csrf| crate::cookie::csrf_cookie_adding(&k, &req.headers, csrf));
    Ok(with_cookie(response, cookie))
}
