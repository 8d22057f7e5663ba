//! `/health/*` and `/schemas`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use kratos_core::Kratos;
use serde_json::json;

use crate::error::ApiError;

pub(crate) fn health_router() -> Router<Kratos> {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(alive))
}

pub(crate) fn schema_router() -> Router<Kratos> {
    Router::new()
        .route("/schemas", get(list_schemas))
        .route("/schemas/{id}", get(get_schema))
}

async fn alive() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
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
