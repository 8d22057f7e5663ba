//! `/health/*`, `/version` and `/schemas`.
//!
//! As Kratos and Keto (ory/x `healthx`): `/health/alive` answers 200 `{"status":"ok"}` while
//! the process serves; `/health/ready` answers the same once the store answers its ping
//! ([`kratos_core::store::PingStore`]), and 503 `{"errors":{"database":"…"}}` when it does
//! not. The text names the failure on the admin router only; the public router (and Keto's)
//! says that it is withheld, as Kratos's public port does. `/version` answers
//! `{"version":"<this crate's version>"}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use kratos_core::Kratos;
use serde_json::json;

use crate::error::ApiError;

/// The text a failed check shows where its error is withheld.
const WITHHELD: &str = "the check failed; its error is shown on the admin API only";

/// Whether a failed readiness check shows its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Errors {
    /// The error's text (the admin router).
    Shown,
    /// [`WITHHELD`] instead (public routers, where the text may reveal the infrastructure).
    Withheld,
}

/// `/health/alive`, `/health/ready` and `/version` of the public router.
pub(crate) fn public_operations_router() -> Router<Kratos> {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready_withheld))
        .route("/version", get(version))
}

/// The admin router's: the same paths, also under `/admin` (Kratos's admin port serves both),
/// with the readiness error shown.
pub(crate) fn admin_operations_router() -> Router<Kratos> {
    let mut router = Router::new();
    for prefix in ["", "/admin"] {
        router = router
            .route(&format!("{prefix}/health/alive"), get(alive))
            .route(&format!("{prefix}/health/ready"), get(ready_shown))
            .route(&format!("{prefix}/version"), get(version));
    }
    router
}

pub(crate) async fn alive() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready_withheld(State(k): State<Kratos>) -> Response {
    readiness(k.store().ping().await, Errors::Withheld)
}

async fn ready_shown(State(k): State<Kratos>) -> Response {
    readiness(k.store().ping().await, Errors::Shown)
}

/// The answer of `/health/ready` to the database check's outcome: 200 `{"status":"ok"}`, or
/// 503 `{"errors":{"database":…}}`.
pub(crate) fn readiness<E: std::fmt::Display>(ping: Result<(), E>, errors: Errors) -> Response {
    match ping {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the store did not answer its ping");
            let text = match errors {
                Errors::Shown => e.to_string(),
                Errors::Withheld => WITHHELD.to_owned(),
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "errors": { "database": text } })),
            )
                .into_response()
        }
    }
}

/// `/version`: this crate's version.
pub(crate) async fn version() -> Json<serde_json::Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

pub(crate) fn schema_router() -> Router<Kratos> {
    Router::new()
        .route("/schemas", get(list_schemas))
        .route("/schemas/{id}", get(get_schema))
}

async fn list_schemas(State(k): State<Kratos>) -> Json<serde_json::Value> {
    Json(json!(
        k.schemas()
            .iter()
            .map(|s| json!({ "id": s.id(), "schema": s.raw() }))
            .collect::<Vec<_>>()
    ))
}

async fn get_schema(State(k): State<Kratos>, Path(id): Path<String>) -> Result<Response, ApiError> {
    // The URL id is base64url(schema id), as in Kratos; a plain id is accepted too.
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let schema = decoded
        .as_deref()
        .and_then(|d| k.schemas().get(d))
        .or_else(|| k.schemas().get(&id))
        .ok_or_else(|| ApiError::not_found(format!("no identity schema with id `{id}`")))?;
    Ok(Json(schema.raw().clone()).into_response())
}
