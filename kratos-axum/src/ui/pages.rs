//! Mountable self-service pages: sign-up, sign-in, settings, verification, recovery, error
//! and sessions, rendered with a [`Renderer`].
//!
//! The pages read flows from the [`Kratos`] handle in the host's state (`Kratos: FromRef<S>`)
//! and their forms post to Kratos's public endpoints, so the host serves
//! [`public_routes`](crate::public_routes) on the same origin. [`SelfServicePages::configure`]
//! points the flows' `ui_url`s at the pages.
//!
//! ```
//! use axum::{Router, routing::get};
//! use kratos_axum::ui::{Renderer, SelfServicePages};
//! use kratos_core::{Config, Kratos};
//!
//! # fn app(mut config: Config) -> Router {
//! let pages = SelfServicePages::new(Renderer::new());
//! pages.configure(&mut config); // ui_urls: <serve.public.base_url>/login, …
//! let kratos = Kratos::builder(config).build().unwrap();
//! Router::<Kratos>::new()
//!     .route("/", get(|| async { "home" }))
//!     .merge(pages.router())
//!     .merge(kratos_axum::public_routes(kratos.clone()))
//!     .with_state(kratos)
//! # }
//! ```
//!
//! A page without a flow starts one (303 to `/self-service/<flow>/browser`, passing
//! `return_to`, `aal`, `refresh` and `via` on). A flow that is unknown, expired, or was
//! started in another browser (its CSRF cookie does not vouch for it) starts a new one;
//! settings without a session send the browser to sign in and come back; a flow that needs a
//! second factor sends it to the second-factor sign-in and back. Other errors render the
//! error page with Kratos's status. The sessions page lists the caller's sessions and revokes
//! them (same-origin form posts only).

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kratos_core::Kratos;
use kratos_core::config::Config;
use kratos_core::error::KratosError;
use kratos_core::flow::FlowContext;
use kratos_core::flow::FlowError;
use kratos_core::flow::ui::UiContainer;
use kratos_core::session::SessionError;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FlowKind, Renderer, forms_of};

/// Where each page is mounted. The defaults: `/login`, `/registration`, `/settings`,
/// `/verification`, `/recovery`, `/error`, `/account/sessions` (Kratos's public API has `/sessions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagePaths {
    /// The sign-in page.
    pub login: String,
    /// The sign-up page.
    pub registration: String,
    /// The settings page.
    pub settings: String,
    /// The verification page.
    pub verification: String,
    /// The recovery page.
    pub recovery: String,
    /// The error page.
    pub error: String,
    /// The sessions page (and its revoke endpoints below it).
    pub sessions: String,
}

impl Default for PagePaths {
    fn default() -> Self {
        PagePaths {
            login: "/login".into(),
            registration: "/registration".into(),
            settings: "/settings".into(),
            verification: "/verification".into(),
            recovery: "/recovery".into(),
            error: "/error".into(),
            sessions: "/account/sessions".into(),
        }
    }
}

impl PagePaths {
    fn of(&self, kind: FlowKind) -> &str {
        match kind {
            FlowKind::Login => &self.login,
            FlowKind::Registration => &self.registration,
            FlowKind::Settings => &self.settings,
            FlowKind::Verification => &self.verification,
            FlowKind::Recovery => &self.recovery,
        }
    }
}

/// The self-service pages, ready to merge into a host app's router.
#[derive(Clone, Debug)]
pub struct SelfServicePages {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    renderer: Renderer,
    paths: PagePaths,
}

impl SelfServicePages {
    /// The pages at their default paths, rendered by `renderer`.
    pub fn new(renderer: Renderer) -> Self {
        Self::with_paths(renderer, PagePaths::default())
    }

    /// The pages at `paths`.
    pub fn with_paths(renderer: Renderer, paths: PagePaths) -> Self {
        SelfServicePages {
            inner: Arc::new(Inner { renderer, paths }),
        }
    }

    /// Where the pages are.
    pub fn paths(&self) -> &PagePaths {
        &self.inner.paths
    }

    /// Points every flow's `ui_url` that is not set, and `selfservice.flows.error.ui_url`, at
    /// these pages under `serve.public.base_url`, so browsers starting a flow come here.
    pub fn configure(&self, config: &mut Config) {
        let base = config.serve.public_base_url();
        let paths = &self.inner.paths;
        let flows = &mut config.selfservice.flows;
        let set = |slot: &mut Option<String>, path: &str| {
            if slot.is_none() {
                *slot = Some(format!("{base}{path}"));
            }
        };
        set(&mut flows.login.ui_url, &paths.login);
        set(&mut flows.registration.ui_url, &paths.registration);
        set(&mut flows.settings.ui_url, &paths.settings);
        set(&mut flows.verification.ui_url, &paths.verification);
        set(&mut flows.recovery.ui_url, &paths.recovery);
        set(&mut flows.error.ui_url, &paths.error);
    }

    /// The pages' routes, for any state that holds the [`Kratos`] handle.
    pub fn router<S>(&self) -> Router<S>
    where
        Kratos: FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        let mut router = Router::new();
        for kind in FlowKind::ALL {
            let inner = self.inner.clone();
            router = router.route(
                inner.paths.of(kind).to_owned().as_str(),
                get(
                    move |State(kratos): State<Kratos>,
                          headers: HeaderMap,
                          Query(query): Query<FlowQuery>| async move {
                        flow_page(&inner, &kratos, kind, &headers, &query).await
                    },
                ),
            );
        }
        let inner = self.inner.clone();
        router = router.route(
            &self.inner.paths.error,
            get(
                move |State(kratos): State<Kratos>,
                      headers: HeaderMap,
                      Query(query): Query<ErrorQuery>| async move {
                    error_page(&inner, &kratos, &headers, &query).await
                },
            ),
        );
        let inner = self.inner.clone();
        router = router.route(
            &self.inner.paths.sessions,
            get(
                move |State(kratos): State<Kratos>,
                      headers: HeaderMap,
                      axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
                      Query(query): Query<NoticeQuery>| async move {
                    sessions_page(&inner, &kratos, &headers, &uri, &query).await
                },
            ),
        );
        let inner = self.inner.clone();
        router = router.route(
            &format!("{}/revoke", self.inner.paths.sessions),
            post(
                move |State(kratos): State<Kratos>,
                      headers: HeaderMap,
                      axum::extract::Form(form): axum::extract::Form<RevokeForm>| async move {
                    match form.session {
                        Some(id) => revoke(&inner, &kratos, &headers, Some(id)).await,
                        // One session's button without its session: nothing to revoke (never
                        // all of them, which is the other endpoint's job).
                        None => {
                            let error = json!({"id": "not_found", "code": 404});
                            error_response(&inner, &kratos, &headers, error, None).await
                        }
                    }
                },
            ),
        );
        let inner = self.inner.clone();
        router.route(
            &format!("{}/revoke-others", self.inner.paths.sessions),
            post(
                move |State(kratos): State<Kratos>, headers: HeaderMap| async move {
                    revoke(&inner, &kratos, &headers, None).await
                },
            ),
        )
    }
}

/// The query of a flow page.
#[derive(Debug, Default, Deserialize)]
struct FlowQuery {
    flow: Option<String>,
    return_to: Option<String>,
    aal: Option<String>,
    refresh: Option<String>,
    via: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorQuery {
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    session: Option<Uuid>,
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Where a new browser flow of `kind` starts, passing the page's query on.
fn init_url(kratos: &Kratos, kind: FlowKind, query: &FlowQuery) -> String {
    let mut url = format!(
        "{}/self-service/{}/browser",
        kratos.config().serve.public_base_url(),
        kind.as_str()
    );
    let mut sep = '?';
    for (key, value) in [
        ("return_to", &query.return_to),
        ("aal", &query.aal),
        ("refresh", &query.refresh),
        ("via", &query.via),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            url.push(sep);
            url.push_str(key);
            url.push('=');
            url.push_str(&encode(v));
            sep = '&';
        }
    }
    url
}

/// The sign-in that comes back to `back` (at `aal`, when given).
fn login_url(kratos: &Kratos, back: &str, aal2: bool) -> String {
    format!(
        "{}/self-service/login/browser?{}return_to={}",
        kratos.config().serve.public_base_url(),
        if aal2 { "aal=aal2&" } else { "" },
        encode(back)
    )
}

fn page_url(kratos: &Kratos, path: &str) -> String {
    format!("{}{path}", kratos.config().serve.public_base_url())
}

fn context(kratos: &Kratos, headers: &HeaderMap) -> FlowContext {
    FlowContext {
        request_url: None,
        session_token: crate::session_token_from_headers(kratos, headers),
        client: Default::default(),
    }
}

/// The links the layout shows; `logout` only with a session.
async fn links(inner: &Inner, kratos: &Kratos, headers: &HeaderMap) -> (Value, bool) {
    let p = &inner.paths;
    let ctx = context(kratos, headers);
    let logout = match ctx.session_token {
        Some(_) => kratos
            .logout()
            .create_browser(&ctx)
            .await
            .ok()
            .map(|f| f.logout_url),
        None => None,
    };
    let links = json!({
        "login": p.login, "registration": p.registration, "settings": p.settings,
        "verification": p.verification, "recovery": p.recovery, "sessions": p.sessions,
        "logout": logout,
    });
    (links, logout.is_some())
}

fn html(status: StatusCode, body: Result<String, super::UiError>) -> Response {
    match body {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a self-service page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><h1>Something went wrong</h1>"),
            )
                .into_response()
        }
    }
}

/// A title and a sentence for a Kratos error id, for people rather than programs.
fn friendly(id: &str, status: u16) -> (&'static str, &'static str) {
    match id {
        "security_csrf_violation" | "self_service_flow_expired" => {
            ("This form has expired", "Please start again.")
        }
        "session_inactive" | "no_active_session" => {
            ("You are signed out", "Please sign in to continue.")
        }
        "session_already_available" => (
            "You are already signed in",
            "Sign out first if you want to use another account.",
        ),
        "self_service_flow_return_to_forbidden" => (
            "That link is not allowed",
            "The page this link wanted to send you to afterwards is not allowed.",
        ),
        "session_aal2_required" => (
            "Second factor required",
            "Please confirm your sign-in with your second factor.",
        ),
        "not_found" | "self_service_flow_not_found" => (
            "Not found",
            "This page or form does not exist, or no longer exists.",
        ),
        "self_service_flow_disabled" => ("Not available", "This is switched off."),
        _ if status >= 500 => (
            "Something went wrong",
            "We could not complete this request. Please try again in a moment.",
        ),
        _ => (
            "Something is not right",
            "The request could not be completed. Please start again.",
        ),
    }
}

async fn error_response(
    inner: &Inner,
    kratos: &Kratos,
    headers: &HeaderMap,
    error: Value,
    restart: Option<&str>,
) -> Response {
    let id = error.get("id").and_then(Value::as_str).unwrap_or_default();
    let code = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (title, message) = friendly(id, code);
    let (links, signed_in) = links(inner, kratos, headers).await;
    html(
        status,
        inner.renderer.render(
            "kratos/error.html",
            json!({
                "title": title, "message": message, "error": error, "restart": restart,
                "links": links, "signed_in": signed_in,
            }),
        ),
    )
}

async fn flow_page(
    inner: &Inner,
    kratos: &Kratos,
    kind: FlowKind,
    headers: &HeaderMap,
    query: &FlowQuery,
) -> Response {
    let init = init_url(kratos, kind, query);
    let Some(id) = query.flow.as_deref().and_then(|f| Uuid::parse_str(f).ok()) else {
        if kind == FlowKind::Settings
            && crate::session_token_from_headers(kratos, headers).is_none()
        {
            return see_other(&login_url(
                kratos,
                &page_url(kratos, &inner.paths.settings),
                false,
            ));
        }
        return see_other(&init);
    };
    let ctx = context(kratos, headers);
    let result = match kind {
        FlowKind::Login => kratos.login().get(id, &ctx).await.map(to_value),
        FlowKind::Registration => kratos.registration().get(id, &ctx).await.map(to_value),
        FlowKind::Settings => kratos.settings().get(id, &ctx).await.map(to_value),
        FlowKind::Verification => kratos.verification().get(id, &ctx).await.map(to_value),
        FlowKind::Recovery => kratos.recovery().get(id, &ctx).await.map(to_value),
    };
    let back = format!("{}?flow={id}", page_url(kratos, inner.paths.of(kind)));
    let flow = match result {
        Ok(flow) => flow,
        Err(FlowError::NotFound | FlowError::Expired { .. } | FlowError::IdentityMismatch) => {
            return see_other(&init);
        }
        Err(FlowError::NoActiveSession) => {
            return see_other(&login_url(
                kratos,
                &page_url(kratos, inner.paths.of(kind)),
                false,
            ));
        }
        Err(FlowError::Aal2Required) => return see_other(&login_url(kratos, &back, true)),
        Err(e) => {
            let body = serde_json::to_value(KratosError::to_body(&e)).unwrap_or_default();
            let error = body.get("error").cloned().unwrap_or_default();
            return error_response(inner, kratos, headers, error, Some(&init)).await;
        }
    };
    // A browser flow's form carries a CSRF token its cookie must vouch for; a flow started
    // in another browser starts again here. (A finished verification or recovery flow has
    // no token: nothing is left to submit.)
    if flow.get("type").and_then(Value::as_str) == Some("browser")
        && let Some(token) = csrf_token_of(&flow)
        && !crate::cookie::csrf_cookie_vouches_for(kratos, headers, &token)
    {
        return see_other(&init);
    }
    let ui: UiContainer = match flow
        .get("ui")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
    {
        Ok(Some(ui)) => ui,
        _ => {
            let error = json!({"id": "internal", "code": 500, "status": "Internal Server Error"});
            return error_response(inner, kratos, headers, error, Some(&init)).await;
        }
    };
    let title = match (kind, flow.get("refresh").and_then(Value::as_bool)) {
        (FlowKind::Login, Some(true)) => "Confirm it’s you",
        (FlowKind::Login, _)
            if flow.get("requested_aal").and_then(Value::as_str) == Some("aal2") =>
        {
            "Second factor"
        }
        _ => kind.title(),
    };
    let second_factor = kind == FlowKind::Login
        && flow.get("requested_aal").and_then(Value::as_str) == Some("aal2");
    let forms = forms_of(kind, &ui, second_factor);
    let (links, signed_in) = links(inner, kratos, headers).await;
    html(
        StatusCode::OK,
        inner.renderer.render(
            "kratos/flow.html",
            json!({
                "kind": kind.as_str(), "title": title, "flow": flow, "ui": ui,
                "forms": forms, "links": links, "signed_in": signed_in,
            }),
        ),
    )
}

fn to_value<T: serde::Serialize>(flow: T) -> Value {
    serde_json::to_value(flow).unwrap_or_default()
}

/// The CSRF token in a flow's `csrf_token` node.
fn csrf_token_of(flow: &Value) -> Option<String> {
    flow.pointer("/ui/nodes")?
        .as_array()?
        .iter()
        .find(|n| n.pointer("/attributes/name").and_then(Value::as_str) == Some("csrf_token"))?
        .pointer("/attributes/value")?
        .as_str()
        .map(str::to_owned)
}

async fn error_page(
    inner: &Inner,
    kratos: &Kratos,
    headers: &HeaderMap,
    query: &ErrorQuery,
) -> Response {
    // The error Kratos's error manager stored when it sent the browser here.
    let stored = match query.id.as_deref().map(Uuid::parse_str) {
        Some(Ok(id)) => kratos.self_service_errors().get(id).await.ok(),
        _ => None,
    };
    let error = match stored {
        Some(stored) => stored.error,
        None => json!({"id": "not_found", "code": 404, "status": "Not Found"}),
    };
    error_response(inner, kratos, headers, error, Some(&inner.paths.login)).await
}

/// Whether a form post comes from this origin (`Sec-Fetch-Site: same-origin`, or an `Origin`
/// equal to the public base URL's): the sessions page's posts have no CSRF token of their own.
fn same_origin(kratos: &Kratos, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let base = kratos.config().serve.public_base_url();
    let origin_of = |u: &str| url_origin(u).map(|o| o.to_ascii_lowercase());
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| origin_of(o).is_some() && origin_of(o) == origin_of(&base))
}

/// `scheme://host[:port]` of a URL.
fn url_origin(u: &str) -> Option<String> {
    let (scheme, rest) = u.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// The signed-in session of a page, or where to send the browser.
async fn require_session(
    inner: &Inner,
    kratos: &Kratos,
    headers: &HeaderMap,
    back: &str,
) -> Result<(kratos_core::session::Session, String), Response> {
    let Some(token) = crate::session_token_from_headers(kratos, headers) else {
        return Err(see_other(&login_url(kratos, back, false)));
    };
    match kratos.sessions().whoami(&token).await {
        Ok(s) => Ok((s, token)),
        Err(SessionError::Aal2Required) => Err(see_other(&login_url(kratos, back, true))),
        Err(SessionError::Inactive | SessionError::NotFound) => {
            Err(see_other(&login_url(kratos, back, false)))
        }
        Err(e) => {
            tracing::error!(error = %e, "whoami failed on the sessions page");
            let error = json!({"id": "internal", "code": 500});
            Err(error_response(inner, kratos, headers, error, None).await)
        }
    }
}

async fn sessions_page(
    inner: &Inner,
    kratos: &Kratos,
    headers: &HeaderMap,
    uri: &Uri,
    query: &NoticeQuery,
) -> Response {
    let back = page_url(kratos, uri.path());
    let (session, _) = match require_session(inner, kratos, headers, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let list = match kratos
        .sessions()
        .list_for_identity(session.identity_id, true)
        .await
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "listing sessions failed");
            let error = json!({"id": "internal", "code": 500});
            return error_response(inner, kratos, headers, error, None).await;
        }
    };
    let sessions: Vec<Value> = list
        .iter()
        .map(|s| {
            let device = s.devices.last();
            json!({
                "id": s.id,
                "current": s.id == session.id,
                "user_agent": device.and_then(|d| d.user_agent.clone()),
                "ip_address": device.and_then(|d| d.ip_address.clone()),
                "authenticated_at": s.authenticated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "expires_at": s.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
        })
        .collect();
    let notice = match query.notice.as_deref() {
        Some("revoked") => Some("The session was revoked."),
        Some("revoked-others") => Some("You were signed out everywhere else."),
        _ => None,
    };
    let (links, signed_in) = links(inner, kratos, headers).await;
    let p = &inner.paths.sessions;
    html(
        StatusCode::OK,
        inner.renderer.render(
            "kratos/sessions.html",
            json!({
                "title": "Sessions", "sessions": sessions, "notice": notice,
                "revoke_action": format!("{p}/revoke"),
                "revoke_others_action": format!("{p}/revoke-others"),
                "links": links, "signed_in": signed_in,
            }),
        ),
    )
}

/// Revokes one of the caller's other sessions, or (`None`) all of them.
async fn revoke(
    inner: &Inner,
    kratos: &Kratos,
    headers: &HeaderMap,
    target: Option<Uuid>,
) -> Response {
    let p = &inner.paths.sessions;
    if !same_origin(kratos, headers) {
        let error = json!({"id": "security_csrf_violation", "code": 403});
        return error_response(inner, kratos, headers, error, Some(p)).await;
    }
    let (session, token) = match require_session(inner, kratos, headers, &page_url(kratos, p)).await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sessions = kratos.sessions();
    let result = match target {
        None => sessions
            .revoke_others(&token)
            .await
            .map(|_| "revoked-others"),
        Some(id) => match sessions.get(id).await {
            // Only the caller's own sessions, and not the current one (that is signing out).
            Ok(s) if s.identity_id == session.identity_id && s.id != session.id => {
                sessions.revoke(id).await.map(|()| "revoked")
            }
            Ok(_) | Err(SessionError::NotFound) => {
                let error = json!({"id": "not_found", "code": 404});
                return error_response(inner, kratos, headers, error, Some(p)).await;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(notice) => see_other(&format!("{p}?notice={notice}")),
        Err(e) => {
            tracing::error!(error = %e, "revoking a session failed");
            let error = json!({"id": "internal", "code": 500});
            error_response(inner, kratos, headers, error, Some(p)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            url_origin("https://a.example:8443/x?y").as_deref(),
            Some("https://a.example:8443")
        );
        assert_eq!(url_origin("nonsense"), None);
        assert_eq!(url_origin("https://"), None);
    }

    #[test]
    fn configure_sets_only_missing_ui_urls() {
        let mut config = Config::default();
        config.serve.public.base_url = Some("https://app.example/".into());
        config.selfservice.flows.login.ui_url = Some("https://elsewhere.example/in".into());
        SelfServicePages::new(Renderer::new()).configure(&mut config);
        let f = &config.selfservice.flows;
        assert_eq!(
            f.login.ui_url.as_deref(),
            Some("https://elsewhere.example/in")
        );
        assert_eq!(
            f.registration.ui_url.as_deref(),
            Some("https://app.example/registration")
        );
        assert_eq!(f.error.ui_url.as_deref(), Some("https://app.example/error"));
        assert_eq!(
            f.settings.ui_url.as_deref(),
            Some("https://app.example/settings")
        );
    }

    #[test]
    fn init_url_passes_the_query_on() {
        let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(Config {
            dev: true,
            ..Config::default()
        }))
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap();
        let q = FlowQuery {
            return_to: Some("https://app.example/x?a=1".into()),
            aal: Some("aal2".into()),
            ..FlowQuery::default()
        };
        assert_eq!(
            init_url(&kratos, FlowKind::Login, &q),
            "http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fapp.example%2Fx%3Fa%3D1&aal=aal2"
        );
    }
}
