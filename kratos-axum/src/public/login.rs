//! `/self-service/login…`: browser and api login flows.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kratos_core::Kratos;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::{FlowError, FlowKind, FlowType};
use kratos_core::session::Aal;

use super::admission::HttpAdmission;
use super::{
    FlowRequest, Reply, Submitted, Success, api_submitted, browser_flow_created, browser_submitted,
    flow_error, flow_fetched, merge_csrf_header, return_url,
};
use crate::error::ApiError;
use crate::negotiate::{body_bytes, parse_submission, refuse_browser_on_api_flow};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/login/browser", get(init_browser))
        .route("/self-service/login/api", get(init_api))
        .route("/self-service/login/flows", get(fetch))
        .route("/self-service/login", post(submit))
}

fn ui_url(k: &Kratos) -> Option<String> {
    k.config().selfservice.flows.login.ui_url.clone()
}

/// `refresh` and `aal` from the query.
fn options(req: &FlowRequest) -> Result<LoginOptions, ApiError> {
    let refresh = req
        .param("refresh")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t"));
    let aal = match req.param("aal") {
        None => None,
        Some(v) => match Aal::parse(&v) {
            Some(a @ (Aal::Aal1 | Aal::Aal2)) => Some(a),
            _ => {
                return Err(ApiError::bad_request(
                    "aal",
                    format!("Unknown authenticator assurance level `{v}`: use aal1 or aal2."),
                ));
            }
        },
    };
    // Read as Go's `strconv.ParseBool`, as Kratos reads it; anything else is false.
    let return_session_token_exchange_code = req
        .param("return_session_token_exchange_code")
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
    Ok(LoginOptions {
        refresh,
        aal,
        return_session_token_exchange_code,
    })
}

async fn init_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let options = options(&req)?;
    match k
        .login()
        .create(FlowType::Browser, &req.context(&k), options)
        .await
    {
        Ok(flow) => {
            let json = serde_json::to_value(&flow).unwrap_or_default();
            Ok(
                browser_flow_created(&k, &req, ui_url(&k).as_deref(), flow.id, json)
                    .into_response(),
            )
        }
        Err(FlowError::SessionAlreadyAvailable) if !req.json() => {
            Ok(Reply::see_other(return_url(&k, &req)?).into_response())
        }
        Err(e) => Err(super::errors::browser_error(
            &e,
            super::errors::forwarded_on_create(&e),
        )),
    }
}

async fn init_api(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    refuse_browser_on_api_flow(&req.headers)?;
    let options = options(&req)?;
    let flow = k
        .login()
        .create(FlowType::Api, &req.api_context(&k), options)
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::to_value(&flow).unwrap_or_default(),
    )
    .into_response())
}

async fn fetch(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let id = req.flow_id("id")?;
    let result = k
        .login()
        .get(id, &req.context(&k))
        .await
        .map(|f| (f.flow_type, serde_json::to_value(&f).unwrap_or_default()));
    Ok(flow_fetched(&k, &req, FlowKind::Login, result).await)
}

fn submitted(result: Result<LoginSubmission, FlowError>) -> Result<Submitted, FlowError> {
    result.map(|s| match s {
        LoginSubmission::Completed(s) => Submitted::Done(Box::new(Success {
            aal2_required: s.aal2_required,
            session: Some(s.session),
            token: s.session_token.map(|t| t.expose().to_owned()),
            identity: None,
            continue_with: s.continue_with,
            return_to: s.flow.return_to,
            body: None,
        })),
        LoginSubmission::Retry(flow) => Submitted::Retry {
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

/// Submits `payload` to login flow `id` and answers as the flow's type asks (also the
/// answer to a sign-in provider's callback).
pub(crate) async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    id: uuid::Uuid,
    payload: &serde_json::Value,
    admission: &HttpAdmission<'_>,
) -> Result<Response, ApiError> {
    let result = k.login().submit(id, payload, admission).await;
    respond(k, req, admission, result).await
}

/// The answer to a submission's `result`, as the flow's type asks.
pub(crate) async fn respond(
    k: &Kratos,
    req: &FlowRequest,
    admission: &HttpAdmission<'_>,
    result: Result<LoginSubmission, FlowError>,
) -> Result<Response, ApiError> {
    match admission.answer_as(&result)? {
        FlowType::Api => Ok(api_submitted(submitted(result))),
        FlowType::Browser => {
            let ui = ui_url(k);
            Ok(browser_submitted(k, req, FlowKind::Login, ui.as_deref(), submitted(result)).await)
        }
    }
}
