//! What the verification and recovery routes share: both are `choose_method` → `sent_email` →
//! `passed_challenge` flows whose submissions answer the flow itself, and whose emailed links
//! are followed with a `GET`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kratos_core::Kratos;
use kratos_core::flow::{FlowError, FlowKind};
use serde_json::Value;

use super::{FlowRequest, Reply, StoredFlow, browser_flow_expired, csrf_violation, flow_error};
use crate::error::ApiError;

/// Messages Kratos writes into the flow as an ordinary step (200, flow persisted): a wrong or
/// used code or link. Other error messages (a missing field, no such method, too many
/// submissions) make the answer a failed submission (400).
const STEP_ERRORS: [u64; 4] = [4060004, 4060006, 4070001, 4070006];

/// The status of a flow answered to a JSON client: 400 when the flow carries a validation
/// error, 200 otherwise (sent, wrong code, passed).
pub(crate) fn answer_status(flow: &Value) -> StatusCode {
    let ui_messages = flow
        .pointer("/ui/messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let node_messages = flow
        .pointer("/ui/nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("messages").and_then(Value::as_array))
        .flatten();
    let failed = ui_messages.chain(node_messages).any(|m| {
        m.get("type").and_then(Value::as_str) == Some("error")
            && !m
                .get("id")
                .and_then(Value::as_u64)
                .is_some_and(|id| STEP_ERRORS.contains(&id))
    });
    if failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// Kratos answers every route of a disabled flow with `self_service_flow_disabled`.
pub(crate) fn ensure_enabled(enabled: bool) -> Result<(), ApiError> {
    if enabled {
        Ok(())
    } else {
        Err(flow_error(&FlowError::Disabled))
    }
}

/// Whether a stored flow was made without a browser (an admin recovery code or link): its
/// CSRF token was never handed to a browser, so no CSRF cookie can vouch for it.
pub(crate) fn skips_csrf(stored: &StoredFlow) -> bool {
    stored.skip_csrf_check
}

/// Answers `GET /self-service/{verification,recovery}/flows?id=`. A browser flow is shown only
/// to a browser whose CSRF cookie vouches for the flow's stored token (the form of a finished
/// flow no longer carries it), unless an admin made the flow.
pub(crate) async fn fetched(
    kratos: &Kratos,
    req: &FlowRequest,
    kind: FlowKind,
    stored: &StoredFlow,
    result: Result<Value, FlowError>,
) -> Response {
    match result {
        Ok(flow) => {
            let browser = stored.flow_type == kratos_core::flow::FlowType::Browser;
            if browser
                && !skips_csrf(stored)
                && !crate::cookie::csrf_cookie_vouches_for(kratos, &req.headers, &stored.csrf)
            {
                return csrf_violation().into_response();
            }
            Reply::json(StatusCode::OK, flow).into_response()
        }
        Err(e @ FlowError::Expired { .. }) => {
            browser_flow_expired(kratos, req, kind, None, &e, false).await
        }
        Err(e) => flow_error(&e).into_response(),
    }
}

/// Answers a submission or followed link that left the flow in place (sent, wrong code,
/// passed). HTML clients of browser flows are sent to `done` when the flow is finished and
/// there is such a place, else back to the flow's UI; JSON clients and api flows get the flow
/// (200, or 400 with validation errors).
pub(crate) fn flow_step(
    req: &FlowRequest,
    ui_url: Option<&str>,
    browser: bool,
    id: uuid::Uuid,
    flow: Value,
    done: Option<String>,
) -> Response {
    if browser && !req.json() {
        if let Some(target) = done {
            return Reply::see_other(target).into_response();
        }
        if let Some(ui) = ui_url {
            return Reply::see_other(super::ui_redirect(ui, id)).into_response();
        }
    }
    let status = answer_status(&flow);
    Reply::json(status, flow).into_response()
}

/// Answers an expired flow or another error of a submission: HTML clients of browser flows
/// are sent to a fresh flow, the others get the error.
pub(crate) async fn submit_error(
    kratos: &Kratos,
    req: &FlowRequest,
    kind: FlowKind,
    ui_url: Option<&str>,
    browser: bool,
    e: FlowError,
) -> Response {
    match e {
        e @ FlowError::Expired { .. } if browser => {
            browser_flow_expired(kratos, req, kind, ui_url, &e, true).await
        }
        e => {
            let forward = browser && super::errors::forwarded_on_submit(&e);
            super::errors::browser_error(&e, forward).into_response()
        }
    }
}

/// The submission a followed link stands for: `token=` (a link), or `code=` (the link in a
/// verification code email). `None` when the request carries neither.
pub(crate) fn link_payload(req: &FlowRequest, allow_code: bool) -> Option<Value> {
    if let Some(token) = req.param("token") {
        return Some(serde_json::json!({ "token": token }));
    }
    if allow_code && let Some(code) = req.param("code") {
        return Some(serde_json::json!({ "method": "code", "code": code }));
    }
    None
}

/// Adds a `Set-Cookie` to a response.
pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}
