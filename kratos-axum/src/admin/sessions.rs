//! `/admin/sessions/{id}…` and `/admin/identities/{id}/sessions`: sessions for operators.
//!
//! `GET /admin/sessions` (every session across identities) is not served: the store has no
//! listing across identities yet.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use kratos_core::Kratos;
use kratos_core::session::{Session, SessionError};
use kratos_core::store::StoreError;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::session_error;
use crate::public::sessions::Page;
use crate::public::{FlowRequest, Reply};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/admin/sessions/{id}", get(get_one).delete(disable))
        .route("/admin/sessions/{id}/extend", patch(extend))
        .route(
            "/admin/identities/{id}/sessions",
            get(list_for_identity).delete(delete_for_identity),
        )
}

fn uuid(field: &str, v: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(v).map_err(|_| ApiError::bad_request(field, format!("`{v}` is not a UUID")))
}

/// The session as JSON with only the requested expansions (`expand=identity`,
/// `expand=devices`); without `expand` both are left out, as in Kratos.
fn expanded(session: &Session, req: &FlowRequest) -> Result<Value, ApiError> {
    let mut identity = false;
    let mut devices = false;
    for (k, v) in req.query() {
        if k == "expand" {
            match v.to_ascii_lowercase().as_str() {
                "identity" => identity = true,
                "devices" => devices = true,
                _ => {
                    return Err(ApiError::bad_request(
                        "expand",
                        format!("`{v}` cannot be expanded: use identity or devices"),
                    ));
                }
            }
        }
    }
    let mut value = serde_json::to_value(session).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        if !identity {
            obj.remove("identity");
        }
        if !devices {
            obj.remove("devices");
        }
    }
    Ok(value)
}

/// `GET /admin/sessions/{id}`.
async fn get_one(
    State(k): State<Kratos>,
    Path(id): Path<String>,
    req: FlowRequest,
) -> Result<Response, ApiError> {
    let id = uuid("id", &id)?;
    let session = k
        .sessions()
        .get(id)
        .await
        .map_err(|e| session_error(&k, &e))?;
    Ok(Reply::json(StatusCode::OK, expanded(&session, &req)?).into_response())
}

/// `DELETE /admin/sessions/{id}`: deactivates the session (204).
async fn disable(State(k): State<Kratos>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid("id", &id)?;
    k.sessions()
        .revoke(id)
        .await
        .map_err(|e| session_error(&k, &e))?;
    Ok(Reply::empty(StatusCode::NO_CONTENT).into_response())
}

/// `PATCH /admin/sessions/{id}/extend`: one more lifespan from now; 200 with the session. An
/// unknown or inactive session is 404.
async fn extend(State(k): State<Kratos>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid("id", &id)?;
    let session = k.sessions().extend(id).await.map_err(|e| match e {
        SessionError::Inactive => ApiError::from_error(&SessionError::NotFound),
        e => session_error(&k, &e),
    })?;
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::to_value(&session).unwrap_or_default(),
    )
    .into_response())
}

async fn identity_exists(k: &Kratos, id: Uuid) -> Result<(), ApiError> {
    match k.store().get_identity(k.nid(), id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => {
            Err(ApiError::not_found(format!("no identity with id `{id}`")))
        }
        Err(e) => Err(session_error(k, &SessionError::Store(e))),
    }
}

/// `GET /admin/identities/{id}/sessions?active=`: the identity's sessions, newest first,
/// paginated (`page_size`, `page_token`, `Link` header).
async fn list_for_identity(
    State(k): State<Kratos>,
    Path(id): Path<String>,
    req: FlowRequest,
) -> Result<Response, ApiError> {
    let id = uuid("id", &id)?;
    let page = Page::from_request(&req)?;
    let active = match req.param("active").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::bad_request(
                "active",
                format!("`{v}` is not a boolean"),
            ));
        }
    };
    identity_exists(&k, id).await?;
    let mut list = k
        .sessions()
        .list_for_identity(id, false)
        .await
        .map_err(|e| session_error(&k, &e))?;
    if let Some(active) = active {
        list.retain(|s| s.active == active);
    }
    Ok(page
        .apply(&format!("/admin/identities/{id}/sessions"), list)
        .into_response())
}

/// `DELETE /admin/identities/{id}/sessions`: revokes every session of the identity (204).
async fn delete_for_identity(
    State(k): State<Kratos>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = uuid("id", &id)?;
    identity_exists(&k, id).await?;
    k.sessions()
        .revoke_all(id)
        .await
        .map_err(|e| session_error(&k, &e))?;
    Ok(Reply::empty(StatusCode::NO_CONTENT).into_response())
}
