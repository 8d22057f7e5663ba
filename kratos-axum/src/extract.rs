//! Extractors and a middleware that authenticate app routes with Kratos sessions.
//!
//! The session token is looked up as Kratos does: the `X-Session-Token` header, then the
//! session cookie, then `Authorization: Bearer`. The extractors need the [`Kratos`] handle
//! from the router's state through [`FromRef`], so an app keeps its own state type:
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::get};
//! use kratos_axum::{OptionalSession, RequireAal2, Session};
//! use kratos_core::Kratos;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     kratos: Kratos,
//!     greeting: &'static str,
//! }
//!
//! // Or `#[derive(FromRef)]` with axum's `macros` feature.
//! impl FromRef<AppState> for Kratos {
//!     fn from_ref(state: &AppState) -> Kratos {
//!         state.kratos.clone()
//!     }
//! }
//!
//! async fn me(Session(session): Session) -> String {
//!     format!("signed in as {}", session.id)
//! }
//!
//! async fn home(OptionalSession(session): OptionalSession) -> &'static str {
//!     if session.is_some() { "welcome back" } else { "hello" }
//! }
//!
//! async fn admin_only(RequireAal2(_session): RequireAal2) -> &'static str {
//!     "second factor verified"
//! }
//!
//! # fn app(kratos: Kratos) -> Router {
//! let state = AppState { kratos: kratos.clone(), greeting: "hi" };
//! let protected = Router::new()
//!     .route("/dashboard", get(|| async { "only with a session" }))
//!     .route_layer(axum::middleware::from_fn_with_state(kratos, kratos_axum::require_session));
//! Router::new()
//!     .route("/me", get(me))
//!     .route("/", get(home))
//!     .route("/admin", get(admin_only))
//!     .merge(protected)
//!     .with_state(state)
//! # }
//! ```

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kratos_core::Kratos;
use kratos_core::session::{Aal, RequiredAal, SessionError};

use crate::cookie::read_session_cookie;
use crate::error::ApiError;

/// Where a request's session token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Header,
    Cookie { expires_at: i64 },
    Bearer,
}

/// The session token a request presents, in Kratos's order: `X-Session-Token`, the session
/// cookie, `Authorization: Bearer`. Empty values count as absent; a cookie that does not
/// open with the cookie secrets counts as absent.
pub(crate) fn session_token(kratos: &Kratos, headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(t) = headers
        .get("x-session-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some((t.to_owned(), TokenSource::Header));
    }
    if let Some(c) = read_session_cookie(kratos, headers) {
        return Some((
            c.token.as_str().to_owned(),
            TokenSource::Cookie {
                expires_at: c.expires_at,
            },
        ));
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .map(|t| (t.to_owned(), TokenSource::Bearer))
}

/// The session token a request presents (see the module docs for the order), for apps that
/// call `kratos-core` themselves.
pub fn session_token_from_headers(kratos: &Kratos, headers: &HeaderMap) -> Option<String> {
    session_token(kratos, headers).map(|(t, _)| t)
}

/// The login URL that steps a session up to aal2.
pub(crate) fn aal2_login_url(kratos: &Kratos, return_to: Option<&str>) -> String {
    let mut url = format!(
        "{}/self-service/login/browser?aal=aal2",
        kratos.config().serve.public_base_url()
    );
    if let Some(r) = return_to {
        url.push_str("&return_to=");
        url.extend(form_urlencoded::byte_serialize(r.as_bytes()));
    }
    url
}

/// A session error as Kratos answers it; `session_aal2_required` carries the login URL that
/// steps up (`redirect_browser_to`).
pub(crate) fn session_error(kratos: &Kratos, e: &SessionError) -> ApiError {
    let err = ApiError::from_error(e);
    match e {
        SessionError::Aal2Required => {
            // Beside the error and in its details, as Kratos's `ErrAALNotSatisfied`.
            let url = aal2_login_url(kratos, None);
            err.with_field("redirect_browser_to", url.clone())
                .with_detail("redirect_browser_to", url)
        }
        _ => err,
    }
}

fn no_session() -> ApiError {
    ApiError::from_error(&SessionError::Inactive)
}

/// Resolves the request's session with the given level requirement, reusing one a
/// [`require_session`] middleware already resolved.
async fn resolve(
    kratos: &Kratos,
    parts: &Parts,
    required: RequiredAal,
) -> Result<kratos_core::session::Session, ApiError> {
    if let Some(Authenticated(s)) = parts.extensions.get::<Authenticated>() {
        return Ok(s.clone());
    }
    let (token, _) = session_token(kratos, &parts.headers).ok_or_else(no_session)?;
    kratos
        .sessions()
        .whoami_with(&token, required)
        .await
        .map_err(|e| session_error(kratos, &e))
}

/// The session a [`require_session`] middleware resolved, kept in the request's extensions.
#[derive(Clone, Debug)]
struct Authenticated(kratos_core::session::Session);

/// The request's active session, checked against `session.whoami.required_aal` as whoami does.
/// Without one the request is answered with 401 `session_inactive` (or 403
/// `session_aal2_required` when the identity has a second factor the session lacks).
///
/// `Option<Session>` accepts requests without a session (any other failure still rejects).
#[derive(Clone, Debug)]
pub struct Session(pub kratos_core::session::Session);

impl std::ops::Deref for Session {
    type Target = kratos_core::session::Session;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S> FromRequestParts<S> for Session
where
    Kratos: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kratos = Kratos::from_ref(state);
        let required = kratos.config().session.whoami.required_aal;
        resolve(&kratos, parts, required).await.map(Session)
    }
}

impl<S> OptionalFromRequestParts<S> for Session
where
    Kratos: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Session as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.status() == StatusCode::UNAUTHORIZED => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The request's session if it has an active one, `None` otherwise (never rejects for a
/// missing, expired or insufficient session; storage failures still answer 500).
#[derive(Clone, Debug)]
pub struct OptionalSession(pub Option<kratos_core::session::Session>);

impl<S> FromRequestParts<S> for OptionalSession
where
    Kratos: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match <Session as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(Session(s)) => Ok(OptionalSession(Some(s))),
            Err(e) if matches!(e.status().as_u16(), 401 | 403) => Ok(OptionalSession(None)),
            Err(e) => Err(e),
        }
    }
}

/// An active session at assurance level aal2 (a second factor was used), whatever
/// `session.whoami.required_aal` says. Otherwise 401 `session_inactive`, or, for a session
/// below aal2, the step-up: browsers (requests that accept `text/html` and not JSON) are
/// sent to the aal2 login with 303, other clients get 403 `session_aal2_required` with
/// `redirect_browser_to` pointing at it.
#[derive(Clone, Debug)]
pub struct RequireAal2(pub kratos_core::session::Session);

/// Whether a request comes from a browser that follows redirects to HTML pages.
fn wants_html(headers: &HeaderMap) -> bool {
    !crate::negotiate::is_json_request(headers)
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

impl<S> FromRequestParts<S> for RequireAal2
where
    Kratos: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kratos = Kratos::from_ref(state);
        let session = resolve(&kratos, parts, RequiredAal::Aal1)
            .await
            .map_err(IntoResponse::into_response)?;
        if session.authenticator_assurance_level < Aal::Aal2 {
            if wants_html(&parts.headers) {
                return Err(
                    axum::response::Redirect::to(&aal2_login_url(&kratos, None)).into_response()
                );
            }
            return Err(session_error(&kratos, &SessionError::Aal2Required).into_response());
        }
        Ok(RequireAal2(session))
    }
}

/// A middleware that lets only requests with an active session through (401/403 JSON
/// otherwise, as [`Session`]). The session is kept in the request so a [`Session`] extractor
/// in the handler does not look it up again.
///
/// ```
/// # use axum::{Router, routing::get};
/// # fn app(kratos: kratos_core::Kratos) -> Router {
/// Router::new()
///     .route("/dashboard", get(|| async { "secret" }))
///     .route_layer(axum::middleware::from_fn_with_state(kratos, kratos_axum::require_session))
/// # }
/// ```
pub async fn require_session(
    State(kratos): State<Kratos>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match authenticate(&kratos, &mut parts).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}

/// Resolves the request's session at `required` and keeps it in the request for the
/// extractors downstream; the session error as it is, so a caller can tell a missing session
/// from a missing second factor.
pub(crate) async fn authenticate_with(
    kratos: &Kratos,
    parts: &mut Parts,
    required: RequiredAal,
) -> Result<kratos_core::session::Session, SessionError> {
    let (token, _) = session_token(kratos, &parts.headers).ok_or(SessionError::Inactive)?;
    let session = kratos.sessions().whoami_with(&token, required).await?;
    parts.extensions.insert(Authenticated(session.clone()));
    Ok(session)
}

/// Resolves the request's session as [`Session`] does and keeps it in the request for the
/// extractors downstream.
pub(crate) async fn authenticate(
    kratos: &Kratos,
    parts: &mut Parts,
) -> Result<kratos_core::session::Session, ApiError> {
    let required = kratos.config().session.whoami.required_aal;
    let session = resolve(kratos, parts, required).await?;
    parts.extensions.insert(Authenticated(session.clone()));
    Ok(session)
}
