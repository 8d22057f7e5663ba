//! `/self-service/settings…`: browser and api settings flows (they need a session).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kratos_core::Kratos;
use kratos_core::error::KratosError;
use kratos_core::flow::settings::SettingsSubmission;
use kratos_core::flow::{FlowError, FlowKind, FlowType};
use serde_json::Value;

use super::admission::HttpAdmission;
use super::{
    FlowRequest, Reply, Submitted, Success, api_submitted, browser_flow_created, browser_submitted,
    flow_error, flow_fetched, merge_csrf_header, ui_redirect,
};
use crate::error::ApiError;
use crate::negotiate::{body_bytes, parse_submission, refuse_browser_on_api_flow};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/settings/browser", get(init_browser))
        .route("/self-service/settings/api", get(init_api))
        .route("/self-service/settings/flows", get(fetch))
        .route("/self-service/settings", post(submit))
        .route("/.well-known/change-password", get(change_password))
}

/// `GET /.well-known/change-password` (the W3C "change password URL" that password managers
/// open): 303 to the settings UI (`selfservice.flows.settings.ui_url`), or without one to
/// `/self-service/settings/browser` under the public base URL, as Kratos answers it.
async fn change_password(State(k): State<Kratos>) -> Response {
    let target = ui_url(&k).unwrap_or_else(|| {
        format!(
            "{}/self-service/settings/browser",
            k.config().serve.public_base_url()
        )
    });
    Reply::see_other(target).into_response()
}

fn ui_url(k: &Kratos) -> Option<String> {
    k.config().selfservice.flows.settings.ui_url.clone()
}

/// Where a settings error wants the browser to go: `redirect_browser_to` in its details
/// (re-authentication, step-up), or for a missing session the login.
fn redirect_of(k: &Kratos, e: &FlowError) -> Option<String> {
    let body = e.to_body();
    if let Some(url) = body
        .error
        .details
        .get("redirect_browser_to")
        .and_then(Value::as_str)
    {
        return Some(url.to_owned());
    }
    match e.id() {
        "session_inactive" => Some(
            k.config()
                .selfservice
                .flows
                .login
                .ui_url
                .clone()
                .unwrap_or_else(|| {
                    format!(
                        "{}/self-service/login/browser",
                        k.config().serve.public_base_url()
                    )
                }),
        ),
        "session_aal2_required" => Some(crate::extract::aal2_login_url(k, None)),
        _ => None,
    }
}

/// A settings error: HTML clients of browser flows are sent where the error points (login,
/// re-authentication, step-up); JSON clients get the error with `redirect_browser_to` beside
/// it. Another error of a browser flow is marked for the error UI (see `errors`) as Kratos
/// forwards it: every one on creation (`creating`), the non-validation ones on submission.
fn settings_error(
    k: &Kratos,
    req: &FlowRequest,
    e: &FlowError,
    browser: bool,
    creating: bool,
) -> Response {
    let redirect = redirect_of(k, e);
    match redirect {
        Some(url) if browser && !req.json() && e.id() != "self_service_flow_expired" => {
            Reply::see_other(url).into_response()
        }
        Some(url) if e.id() != "session_inactive" => flow_error(e)
            .with_field("redirect_browser_to", url.clone())
            .with_detail("redirect_browser_to", url)
            .into_response(),
        _ => {
            let forward = browser
                && if creating {
                    super::errors::forwarded_on_create(e)
                } else {
                    super::errors::forwarded_on_submit(e)
                };
            super::errors::browser_error(e, forward).into_response()
        }
    }
}

async fn init_browser(State(k): State<Kratos>, req: FlowRequest) -> Response {
    match k
        .settings()
        .create(FlowType::Browser, &req.context(&k))
        .await
    {
        Ok(flow) => {
            let json = serde_json::to_value(&flow).unwrap_or_default();
            browser_flow_created(&k, &req, ui_url(&k).as_deref(), flow.id, json).into_response()
        }
        Err(e) => settings_error(&k, &req, &e, true, true),
    }
}

async fn init_api(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    refuse_browser_on_api_flow(&req.headers)?;
    match k
        .settings()
        .create(FlowType::Api, &req.api_context(&k))
        .await
    {
        Ok(flow) => Ok(Reply::json(
            StatusCode::OK,
            serde_json::to_value(&flow).unwrap_or_default(),
        )
        .into_response()),
        Err(e) => Ok(settings_error(&k, &req, &e, false, true)),
    }
}

async fn fetch(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let id = req.flow_id("id")?;
    let result = k
        .settings()
        .get(id, &req.context(&k))
        .await
        .map(|f| (f.flow_type, serde_json::to_value(&f).unwrap_or_default()));
    match result {
        Err(e) if e.id() != "self_service_flow_expired" && e.status() != 404 => {
            Ok(settings_error(&k, &req, &e, false, false))
        }
        result => Ok(flow_fetched(&k, &req, FlowKind::Settings, result).await),
    }
}

/// Whether a flow answered again carries no error: a step of a method (new backup codes
/// shown, the saved ones revealed), which Kratos answers JSON clients with 200 and the flow
/// (`ErrStrategyAsksToReturnToUI`); a flow with a validation error is a failed submission
/// (400).
fn is_step(flow: &Value) -> bool {
    let errors = |messages: Option<&Value>| {
        messages
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|m| m.get("type").and_then(Value::as_str) == Some("error"))
    };
    let node_error = flow
        .pointer("/ui/nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|n| errors(n.get("messages")));
    !errors(flow.pointer("/ui/messages")) && !node_error
}

fn submitted(
    k: &Kratos,
    result: Result<SettingsSubmission, FlowError>,
) -> Result<Submitted, FlowError> {
    result.map(|s| match s {
        SettingsSubmission::Completed(s) => {
            let flow = serde_json::to_value(&s.flow).unwrap_or_default();
            let back = ui_url(k).map(|ui| ui_redirect(&ui, s.flow.id));
            Submitted::Done(Box::new(Success {
                session: None,
                token: None,
                identity: None,
                continue_with: s.continue_with,
                aal2_required: false,
                return_to: s.flow.return_to.clone().or(back),
                body: Some(flow),
            }))
        }
        SettingsSubmission::Retry(flow) => Submitted::Retry {
            id: flow.id,
            flow: serde_json::to_value(&flow).unwrap_or_default(),
        },
    })
}

async fn submit(
    State(k): State<Kratos>,
    req: FlowRequest,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = req.flow_id("flow")?;
    let mut payload = parse_submission(&req.headers, &body_bytes(body)?)?;
    merge_csrf_header(&mut payload, &req.headers);
    answer(&k, &req, id, &payload, &HttpAdmission::new(&k, &req)).await
}

/// Submits `payload` to settings flow `id` and answers as the flow's type asks (also the
/// answer to a sign-in provider's callback).
pub(crate) async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    id: uuid::Uuid,
    payload: &serde_json::Value,
    admission: &HttpAdmission<'_>,
) -> Result<Response, ApiError> {
    let result = k.settings().submit(id, payload, admission).await;
    Ok(match admission.answer_as(&result)? {
        FlowType::Api => match submitted(k, result) {
            Err(e) if e.id().starts_with("session_") => settings_error(k, req, &e, false, false),
            Ok(Submitted::Retry { flow, .. }) if is_step(&flow) => {
                Reply::json(StatusCode::OK, flow).into_response()
            }
            result => api_submitted(result),
        },
        FlowType::Browser => match submitted(k, result) {
            Err(e) if e.id().starts_with("session_") => settings_error(k, req, &e, true, false),
            Ok(Submitted::Retry { flow, .. }) if req.json() && is_step(&flow) => {
                Reply::json(StatusCode::OK, flow).into_response()
            }
            result => {
                let ui = ui_url(k);
                browser_submitted(k, req, FlowKind::Settings, ui.as_deref(), result).await
            }
        },
    })
}
