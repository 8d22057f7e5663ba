//! Self-service errors for an error page, as Kratos's error manager and handler
//! (`selfservice/errorx`): `GET /self-service/errors?id=` answers a stored error, and a browser
//! whose self-service request failed is sent to `selfservice.flows.error.ui_url?id=<id>`.
//!
//! Handlers mark the error answers Kratos forwards to its error UI with
//! [`ApiError::forwarded`]: failures of a browser flow that are not validation errors (an
//! unknown flow, a CSRF violation, a storage error, a refusal of a browser flow's creation).
//! The [`forward`] middleware then, for a request that does not want JSON and when
//! `selfservice.flows.error.ui_url` is set, stores the error and answers 303 to the error UI
//! instead. Without an error UI the error stays the JSON answer it was (Kratos would send the
//! browser to its hosted fallback page). API flows and JSON clients always get the JSON.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kratos_core::Kratos;
use kratos_core::error::GenericError;
use kratos_core::flow::FlowError;
use kratos_core::store::{SelfServiceError, StoreError};
use uuid::Uuid;

use super::{FlowRequest, flow_error};
use crate::error::ApiError;
use crate::negotiate::is_json_request;

/// The route of stored errors.
pub(crate) const ROUTE: &str = "/self-service/errors";

/// The error of an answer that a browser is sent to the error UI for; put on the response by
/// [`ApiError`]'s `IntoResponse` when the error was marked [`ApiError::forwarded`].
#[derive(Clone, Debug)]
pub(crate) struct ForwardToErrorUi(pub(crate) GenericError);

/// `GET /self-service/errors` (and under `/admin` on the admin router).
pub(crate) fn router() -> Router<Kratos> {
    Router::new().route(ROUTE, get(fetch))
}

/// The admin router's routes: the same answer as the public one (Kratos redirects its admin
/// port's route to the public URL; here both answer from the same store).
pub(crate) fn admin_router() -> Router<Kratos> {
    Router::new()
        .route(ROUTE, get(fetch))
        .route("/admin/self-service/errors", get(fetch))
}

/// `?id=` (or `?error=`, which Kratos also reads): the stored error as Kratos's `flowError`
/// (`id`, `error`, `created_at`, `updated_at`); 404 `not_found` for an unknown id or one that
/// is not a UUID. `?id=stub:500` answers a made-up 500, as Kratos does for building an error
/// page.
async fn fetch(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let raw = req
        .param("error")
        .or_else(|| req.param("id"))
        .unwrap_or_default();
    let found = if raw == "stub:500" {
        stub_500(&k)
    } else {
        let id = Uuid::parse_str(&raw).map_err(|_| flow_error(&FlowError::NotFound))?;
        k.self_service_errors()
            .get(id)
            .await
            .map_err(|e| flow_error(&FlowError::from(e)))?
    };
    let mut response = Json(found).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    Ok(response)
}

/// Kratos's stub error: a 500 that is stored nowhere.
fn stub_500(k: &Kratos) -> SelfServiceError {
    let now = k.clock().now();
    let error = ApiError::with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_server_error",
        "This is a stub error.",
    );
    SelfServiceError {
        id: Uuid::new_v4(),
        error: serde_json::to_value(error.generic()).unwrap_or_default(),
        created_at: now,
        updated_at: now,
    }
}

/// The middleware of the public router: an answer marked [`ForwardToErrorUi`] to a request
/// that does not want JSON is stored and becomes a 303 to `selfservice.flows.error.ui_url`
/// with `?id=<id>`, when that URL is set. The answer's cookies go with the redirect. When the
/// error cannot be stored, the original answer is sent (and the failure logged).
pub(crate) async fn forward(State(k): State<Kratos>, request: Request, next: Next) -> Response {
    let json = is_json_request(request.headers());
    let mut response = next.run(request).await;
    let Some(ForwardToErrorUi(error)) = response.extensions_mut().remove::<ForwardToErrorUi>()
    else {
        return response;
    };
    let Some(ui) = k.config().selfservice.flows.error.ui_url.clone() else {
        return response;
    };
    if json {
        return response;
    }
    match k.self_service_errors().create(&error).await {
        Ok(stored) => redirect(&ui, stored.id, &response),
        Err(e) => {
            log_store_failure(&e);
            response
        }
    }
}

fn log_store_failure(e: &StoreError) {
    tracing::error!(error = %e, "could not store a self-service error for the error UI");
}

/// 303 to `ui?id=<id>`, with the `Set-Cookie` headers of `original`.
fn redirect(ui: &str, id: Uuid, original: &Response) -> Response {
    let sep = if ui.contains('?') { '&' } else { '?' };
    let location = format!("{ui}{sep}id={id}");
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(l) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, l);
    }
    for cookie in original.headers().get_all(header::SET_COOKIE) {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    response
}

/// Whether Kratos sends a browser to the error UI when a submission to a browser flow fails
/// with `e`: not for an expired flow (a fresh flow is shown), a redirect the flow asks for,
/// or a validation error (a 400, or a disabled identity, which Kratos shows on the form).
pub(crate) fn forwarded_on_submit(e: &FlowError) -> bool {
    use kratos_core::error::KratosError;
    !matches!(
        e,
        FlowError::Expired { .. }
            | FlowError::BrowserLocationChangeRequired { .. }
            | FlowError::IdentityDisabled
    ) && e.status() != 400
}

/// Whether Kratos sends a browser to the error UI when creating a browser flow fails with
/// `e`: every failure but an expired flow and a redirect the flow asks for.
pub(crate) fn forwarded_on_create(e: &FlowError) -> bool {
    !matches!(
        e,
        FlowError::Expired { .. } | FlowError::BrowserLocationChangeRequired { .. }
    )
}

/// A flow error, marked for the error UI when `forward` says so.
pub(crate) fn browser_error(e: &FlowError, forward: bool) -> ApiError {
    let error = flow_error(e);
    if forward { error.forwarded() } else { error }
}
