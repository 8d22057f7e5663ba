//! `/admin/recovery/{code,link}`: recovery codes and links for an identity, made by an
//! operator (no email is sent).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kratos_core::Kratos;
use kratos_core::config::KratosDuration;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::{ApiError, parse_json};
use crate::public::{Reply, flow_error};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/admin/recovery/code", post(create_code))
        .route("/admin/recovery/link", post(create_link))
}

/// Kratos's `createRecoveryCodeForIdentityBody` / `createRecoveryLinkForIdentityBody`.
#[derive(Deserialize)]
struct Body {
    identity_id: Uuid,
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    flow_type: Option<String>,
}

/// `expires_in` as a duration (`1h`, `15m`, `90s`); absent means the method's lifespan.
fn expires_in(raw: Option<&str>) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    match KratosDuration::parse(raw) {
        Ok(d) if !d.0.is_zero() => Ok(Some(d.0)),
        Ok(_) => Err(ApiError::bad_request(
            "expires_in",
            "`expires_in` must be a positive duration.",
        )),
        Err(e) => Err(ApiError::bad_request(
            "expires_in",
            format!("`expires_in` is not a duration such as 1h or 15m: {e}"),
        )),
    }
}

/// `POST /admin/recovery/code`: 201 with `{recovery_link, recovery_code, expires_at}`. The
/// code is entered in the browser flow the link opens. Only browser flows are made
/// (`flow_type: api` is refused).
async fn create_code(State(k): State<Kratos>, body: Bytes) -> Result<Response, ApiError> {
    let body: Body = parse_json(&body)?;
    match body.flow_type.as_deref() {
        None | Some("browser") => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                "flow_type",
                format!("Recovery codes are made for browser flows only, not `{other}`."),
            ));
        }
    }
    let expires_in = expires_in(body.expires_in.as_deref())?;
    let code = k
        .recovery()
        .admin_create_code(body.identity_id, expires_in)
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(
        StatusCode::CREATED,
        json!({
            "recovery_link": code.recovery_link,
            "recovery_code": code.recovery_code,
            "expires_at": code.expires_at,
        }),
    )
    .into_response())
}

/// `POST /admin/recovery/link`: 200 with `{recovery_link, expires_at}`.
async fn create_link(State(k): State<Kratos>, body: Bytes) -> Result<Response, ApiError> {
    let body: Body = parse_json(&body)?;
    let expires_in = expires_in(body.expires_in.as_deref())?;
    let link = k
        .recovery()
        .admin_create_link(body.identity_id, expires_in)
        .await
        .map_err(|e| flow_error(&e))?;
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "recovery_link": link.recovery_link,
            "expires_at": link.expires_at,
        }),
    )
    .into_response())
}
