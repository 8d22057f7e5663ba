//! Middlewares: readable error pages for browsers on the Kratos public API, and a same-origin
//! rule for the app's own form posts.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use crate::AppState;
use crate::pages::{friendly, see_other};

/// Whether a request comes from a browser page: it asks for HTML and is not a JSON client.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
        && !kratos_axum::is_json_request(headers)
}

/// Where to start over after an error on a self-service path.
fn restart_for(path: &str) -> (&'static str, &'static str) {
    if path.starts_with("/self-service/login") {
        ("/login", "Back to sign in")
    } else if path.starts_with("/self-service/registration") {
        ("/registration", "Back to sign up")
    } else if path.starts_with("/self-service/settings") {
        ("/settings", "Back to settings")
    } else if path.starts_with("/self-service/verification") {
        ("/verification", "Start verification again")
    } else if path.starts_with("/self-service/recovery") {
        ("/recovery", "Start recovery again")
    } else {
        ("/", "Home")
    }
}

/// Kratos answers errors with JSON (there is no error store to redirect to). For a browser
/// page that posted a form to `/self-service/…`, this renders the error as a page instead:
/// an error that names a place to go (`redirect_browser_to`) redirects there, any other shows
/// a friendly title and sentence for its error id. Cookies the answer sets are kept.
pub(crate) async fn friendly_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let html = request.uri().path().starts_with("/self-service/") && wants_html(request.headers());
    let path = request.uri().path().to_owned();
    let request_headers = if html {
        request.headers().clone()
    } else {
        HeaderMap::new()
    };
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !html || !is_json || response.status().as_u16() < 400 {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body: Value = match axum::body::to_bytes(body, 256 * 1024).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => Value::Null,
    };
    let mut page = if let Some(url) = body.get("redirect_browser_to").and_then(Value::as_str) {
        see_other(url)
    } else {
        let error = body.get("error").cloned().unwrap_or_default();
        let text = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default();
        let (title, message) = friendly(text("id"), parts.status.as_u16(), text("reason"));
        let viewer = crate::pages::viewer(&state, &request_headers)
            .await
            .ok()
            .flatten();
        state.views.error(
            parts.status,
            viewer.as_ref().map(|v| &v.nav),
            &title,
            &message,
            Some(restart_for(&path)),
        )
    };
    for cookie in parts.headers.get_all(header::SET_COOKIE) {
        page.headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    page
}

/// The app's own form posts (documents, groups, sessions) must come from its own pages: the
/// `Origin` header (or, without one, the `Referer`) must be the app's public origin. Together
/// with the `SameSite=Lax` session cookie this keeps other sites from posting on a user's
/// behalf.
pub(crate) async fn same_origin_posts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let ok = match (origin, referer) {
        (Some(o), _) => o == state.base_url,
        (None, Some(r)) => r == state.base_url || r.starts_with(&format!("{}/", state.base_url)),
        (None, None) => false,
    };
    if ok {
        return next.run(request).await;
    }
    state.views.error(
        StatusCode::FORBIDDEN,
        None,
        "This form was sent from elsewhere",
        "For your security, changes can only be made from this app’s own pages. Please go back and try again.",
        Some(("/", "Home")),
    )
}
