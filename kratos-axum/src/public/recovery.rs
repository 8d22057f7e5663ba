//! `/self-service/recovery…`: browser and api recovery flows, and the links their emails (and
//! the admin API) hand out.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::flow::recovery::{RecoveryFlow, RecoverySubmission, RecoverySuccess};
use kratos_core::flow::{ContinueWith, FlowError, FlowKind, FlowType};
use kratos_core::session::RequiredAal;
use serde_json::Value;

use super::admission::HttpAdmission;
use super::challenge::{ensure_enabled, fetched, flow_step, link_payload, submit_error};
use super::{
    FlowRequest, Reply, browser_flow_created, browser_location_change_required, csrf_token_of,
    flow_error, merge_csrf_header, return_url, stored_flow, ui_redirect,
};
use crate::error::ApiError;
use crate::extract::session_token;
use crate::negotiate::{body_bytes, parse_submission, refuse_browser_on_api_flow};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/recovery/browser", get(init_browser))
        .route("/self-service/recovery/api", get(init_api))
        .route("/self-service/recovery/flows", get(fetch))
        .route("/self-service/recovery", get(follow).post(submit))
}

fn ui_url(k: &Kratos) -> Option<String> {
    k.config().selfservice.flows.recovery.ui_url.clone()
}

fn enabled(k: &Kratos) -> Result<(), ApiError> {
    ensure_enabled(k.config().selfservice.flows.recovery.enabled)
}

fn to_json(flow: &RecoveryFlow) -> Value {
    serde_json::to_value(flow).unwrap_or_default()
}

/// `GET /self-service/recovery/browser`. A browser that is signed in already has nothing to
/// recover: HTML clients are sent to the return URL, JSON clients get
/// `session_already_available` (400), as in Kratos.
async fn init_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    if let Some((token, _)) = session_token(&k, &req.headers)
        && k.sessions()
            .whoami_with(&token, RequiredAal::Aal1)
            .await
            .is_ok()
    {
        if req.json() {
            return Err(flow_error(&FlowError::SessionAlreadyAvailable));
        }
        return Ok(Reply::see_other(return_url(&k, &req)?).into_response());
    }
    let flow = k
        .recovery()
        .create(FlowType::Browser, &req.context(&k))
        .await
        .map_err(|e| super::errors::browser_error(&e, super::errors::forwarded_on_create(&e)))?;
    Ok(
        browser_flow_created(&k, &req, ui_url(&k).as_deref(), flow.id, to_json(&flow))
            .into_response(),
    )
}

/// `GET /self-service/recovery/api`.
async fn init_api(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    refuse_browser_on_api_flow(&req.headers)?;
    let flow = k
        .recovery()
        .create(FlowType::Api, &req.api_context(&k))
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(StatusCode::OK, to_json(&flow)).into_response())
}

/// `GET /self-service/recovery/flows?id=`.
async fn fetch(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    enabled(&k)?;
    let id = req.flow_id("id")?;
    let stored = stored_flow(&k, FlowKind::Recovery, id).await?;
    let result = k
        .recovery()
        .get(id, &req.context(&k))
        .await
        .map(|f| to_json(&f));
    Ok(fetched(&k, &req, FlowKind::Recovery, &stored, result).await)
}

/// The settings UI a recovered browser continues in.
fn settings_url(k: &Kratos, s: &RecoverySuccess) -> String {
    s.continue_with
        .iter()
        .find_map(|c| match c {
            ContinueWith::ShowSettingsUi { flow } => flow.url.clone(),
            _ => None,
        })
        .or_else(|| {
            k.config()
                .selfservice
                .flows
                .settings
                .ui_url
                .as_deref()
                .map(|ui| ui_redirect(ui, s.settings_flow.id))
        })
        .unwrap_or_else(|| {
            format!(
                "{}/self-service/settings/flows?id={}",
                k.config().serve.public_base_url(),
                s.settings_flow.id
            )
        })
}

/// A recovered browser: the session cookie is set and the CSRF cookie renewed to vouch only
/// for the new settings flow; HTML clients are sent to the settings UI, JSON clients get 422
/// `browser_location_change_required` pointing there, as Kratos answers.
fn recovered_browser(k: &Kratos, req: &FlowRequest, s: &RecoverySuccess) -> Response {
    let url = settings_url(k, s);
    let mut response = if req.json() {
        browser_location_change_required(&url).into_response()
    } else {
        Reply::see_other(url).into_response()
    };
    let settings_csrf = csrf_token_of(&serde_json::to_value(&s.settings_flow).unwrap_or_default());
    let csrf_cookie = match settings_csrf {
        Some(t) => crate::cookie::csrf_cookie_adding(k, &HeaderMap::new(), &t),
        None => crate::cookie::csrf_cookie_reset(k),
    };
    let headers = response.headers_mut();
    headers.append(
        axum::http::header::SET_COOKIE,
        crate::cookie::session_cookie(k, s.session_token.expose(), s.session.expires_at),
    );
    if let Some(c) = csrf_cookie {
        headers.append(axum::http::header::SET_COOKIE, c);
    }
    response
}

/// A recovered api flow: 200 with the flow in `passed_challenge`, its `continue_with` carrying
/// `set_ory_session_token` and `show_settings_ui`.
fn recovered_api(s: &RecoverySuccess) -> Response {
    let mut json = to_json(&s.flow);
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "continue_with".into(),
            serde_json::to_value(&s.continue_with).unwrap_or_default(),
        );
    }
    Reply::json(StatusCode::OK, json).into_response()
}

/// Answers a recovery submission or followed link.
async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    browser: bool,
    result: Result<RecoverySubmission, FlowError>,
) -> Response {
    let ui = ui_url(k);
    match result {
        Ok(RecoverySubmission::Flow(flow)) => {
            let json = to_json(&flow);
            flow_step(req, ui.as_deref(), browser, flow.id, json, None)
        }
        Ok(RecoverySubmission::Completed(s)) if browser => recovered_browser(k, req, &s),
        Ok(RecoverySubmission::Completed(s)) => recovered_api(&s),
        Err(e) => submit_error(k, req, FlowKind::Recovery, ui.as_deref(), browser, e).await,
    }
}

/// `POST /self-service/recovery?flow=`: `{"method": "code", "email"}` sends a code,
/// `{"method": "code", "code"}` checks it, `{"method": "link", "email"}` sends a link. Browser
/// flows need the CSRF token and the CSRF cookie vouching for it, except flows the admin API
/// made (opened from a link the browser never got a token for).
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
    let result = k.recovery().submit(id, &payload, &admission).await;
    let browser = admission.answer_as(&result)? == FlowType::Browser;
    Ok(answer(&k, &req, browser, result).await)
}

/// `GET /self-service/recovery?flow=&token=`: a recovery link was followed (from an email or
/// the admin API). It needs no CSRF token: the token proves the link. Without `token` the
/// request is sent to the flow's UI (or answered like `/flows?id=`), which is where the admin
/// API's code links lead.
async fn follow(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    enabled(&k)?;
    let id = req.flow_id("flow")?;
    let Some(payload) = link_payload(&req, false) else {
        let stored = stored_flow(&k, FlowKind::Recovery, id).await?;
        if let Some(ui) = ui_url(&k).filter(|_| !req.json()) {
            return Ok(Reply::see_other(ui_redirect(&ui, id)).into_response());
        }
        let result = k
            .recovery()
            .get(id, &req.context(&k))
            .await
            .map(|f| to_json(&f));
        return Ok(fetched(&k, &req, FlowKind::Recovery, &stored, result).await);
    };
    let admission = HttpAdmission::following_link(&k, &req);
    let result = k.recovery().submit(id, &payload, &admission).await;
    let browser = admission.answer_as(&result)? == FlowType::Browser;
    Ok(answer(&k, &req, browser, result).await)
}
