//! `/self-service/registration…`: browser and api registration flows.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kratos_core::Kratos;
use kratos_core::flow::registration::{RegistrationOptions, RegistrationSubmission};
use kratos_core::flow::{FlowError, FlowKind, FlowType};
use serde_json::Value;

use super::admission::HttpAdmission;
use super::{
    FlowRequest, Reply, Submitted, Success, api_submitted, browser_flow_created, browser_submitted,
    flow_error, flow_fetched, merge_csrf_header, return_url,
};
use crate::error::ApiError;
use crate::negotiate::{body_bytes, parse_submission, refuse_browser_on_api_flow};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/self-service/registration/browser", get(init_browser))
        .route("/self-service/registration/api", get(init_api))
        .route("/self-service/registration/flows", get(fetch))
        .route("/self-service/registration", post(submit))
}

fn ui_url(k: &Kratos) -> Option<String> {
    k.config().selfservice.flows.registration.ui_url.clone()
}

async fn init_browser(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    match k
        .registration()
        .create(FlowType::Browser, &req.context(&k))
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
    // Kratos opens the exchange for the literal `true` only.
    let options = RegistrationOptions {
        return_session_token_exchange_code: req
            .param("return_session_token_exchange_code")
            .is_some_and(|v| v == "true"),
    };
    let flow = k
        .registration()
        .create_with(FlowType::Api, &req.api_context(&k), options)
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
        .registration()
        .get(id, &req.context(&k))
        .await
        .map(|f| (f.flow_type, serde_json::to_value(&f).unwrap_or_default()));
    Ok(flow_fetched(&k, &req, FlowKind::Registration, result).await)
}

fn submitted(result: Result<RegistrationSubmission, FlowError>) -> Result<Submitted, FlowError> {
    result.map(|s| match s {
        RegistrationSubmission::Completed(s) => {
            let mut identity = s.identity;
            identity.credentials.clear();
            identity.metadata_admin = None;
            Submitted::Done(Box::new(Success {
                session: s.session,
                token: s.session_token.map(|t| t.expose().to_owned()),
                identity: Some(identity),
                continue_with: s.continue_with,
                aal2_required: false,
                return_to: s.flow.return_to,
                body: None,
            }))
        }
        RegistrationSubmission::Retry(flow) => Submitted::Retry {
            id: flow.id,
            flow: serde_json::to_value(&flow).unwrap_or_default(),
        },
    })
}

/// Form fields arrive as strings; traits the identity schema types as booleans or numbers
/// are converted so a form posts what a JSON client would (values that do not convert are
/// left for the schema to reject).
pub(crate) fn coerce_form_traits(
    k: &Kratos,
    schema_id: &str,
    headers: &HeaderMap,
    payload: &mut Value,
) {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return;
    }
    let schema = k.schemas().get(schema_id);
    if let (Some(traits), Some(props)) = (
        payload.get_mut("traits"),
        schema.and_then(|s| s.raw().pointer("/properties/traits")),
    ) {
        coerce(traits, props);
    }
}

fn coerce(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if let Some(s) = schema.pointer(&format!("/properties/{k}")) {
                    coerce(v, s);
                }
            }
        }
        Value::String(s) => {
            let converted = match schema.get("type").and_then(Value::as_str) {
                Some("boolean") => match s.as_str() {
                    "true" | "on" | "1" => Some(Value::Bool(true)),
                    "false" | "off" | "0" => Some(Value::Bool(false)),
                    _ => None,
                },
                Some("integer") => s.parse::<i64>().ok().map(Value::from),
                Some("number") => s.parse::<f64>().ok().map(Value::from),
                _ => None,
            };
            if let Some(c) = converted {
                *value = c;
            }
        }
        _ => {}
    }
}

async fn submit(
    State(k): State<Kratos>,
    req: FlowRequest,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = req.flow_id("flow")?;
    let mut payload = parse_submission(&req.headers, &body_bytes(body)?)?;
    coerce_form_traits(&k, k.schemas().default_id(), &req.headers, &mut payload);
    merge_csrf_header(&mut payload, &req.headers);
    answer(&k, &req, id, &payload, &HttpAdmission::new(&k, &req)).await
}

/// Submits `payload` to registration flow `id` and answers as the flow's type asks (also
/// the answer to a sign-in provider's callback).
pub(crate) async fn answer(
    k: &Kratos,
    req: &FlowRequest,
    id: uuid::Uuid,
    payload: &serde_json::Value,
    admission: &HttpAdmission<'_>,
) -> Result<Response, ApiError> {
    let result = k.registration().submit(id, payload, admission).await;
    respond(k, req, admission, result).await
}

/// The answer to a submission's `result`, as the flow's type asks.
pub(crate) async fn respond(
    k: &Kratos,
    req: &FlowRequest,
    admission: &HttpAdmission<'_>,
    result: Result<RegistrationSubmission, FlowError>,
) -> Result<Response, ApiError> {
    match admission.answer_as(&result)? {
        FlowType::Api => Ok(api_submitted(submitted(result))),
        FlowType::Browser => {
            let ui = ui_url(k);
            Ok(browser_submitted(
                k,
                req,
                FlowKind::Registration,
                ui.as_deref(),
                submitted(result),
            )
            .await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_values_follow_the_schema_types() {
        let schema = json!({"properties": {
            "age": {"type": "integer"}, "ratio": {"type": "number"},
            "newsletter": {"type": "boolean"}, "name": {"type": "object", "properties": {
                "first": {"type": "string"}}}}});
        let mut traits = json!({"age": "42", "ratio": "0.5", "newsletter": "on",
            "name": {"first": "007"}, "unknown": "1"});
        coerce(&mut traits, &schema);
        assert_eq!(
            traits,
            json!({"age": 42, "ratio": 0.5, "newsletter": true, "name": {"first": "007"}, "unknown": "1"})
        );
        let mut bad = json!({"age": "old"});
        coerce(&mut bad, &schema);
        assert_eq!(bad, json!({"age": "old"}));
    }
}
