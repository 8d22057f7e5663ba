//! A one-line guard for an app's routes, and signing an identity in from the app's own code.
//!
//! [`LoginRequired`] is a layer: a browser without a session is sent to the sign-in flow and
//! comes back (303 to `/self-service/login/browser?return_to=<the page>`); a session that
//! lacks the second factor the route needs is sent to the second-factor sign-in
//! (`?aal=aal2`); JSON clients get Kratos's 401 `session_inactive` or 403
//! `session_aal2_required` instead. The session it finds is kept in the request, so a
//! [`Session`](crate::Session) extractor in the handler does not look it up again.
//!
//! ```
//! use axum::{Router, routing::get};
//! use kratos_axum::{LoginRequired, Session};
//! use kratos_core::Kratos;
//!
//! # fn app(kratos: Kratos) -> Router {
//! // `route_layer` guards the routes added before it.
//! let admin = Router::new()
//!     .route("/admin", get(|| async { "second factor verified" }))
//!     .route_layer(LoginRequired::new(&kratos).aal2());
//! Router::new()
//!     .route("/dashboard", get(|Session(s): Session| async move { format!("hi {}", s.identity_id) }))
//!     .route_layer(LoginRequired::new(&kratos))
//!     .merge(admin)
//!     .with_state(kratos)
//! # }
//! ```
//!
//! The guard carries its own [`Kratos`] handle, so it cannot be put on a router that lacks
//! one; the extractors need `Kratos: FromRef<S>`, which the compiler checks.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, IntoResponseParts, Redirect, Response, ResponseParts};
use kratos_core::Kratos;
use kratos_core::session::{Aal, AuthenticationMethod, ClientInfo, RequiredAal, SessionError};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{authenticate_with, session_error};

/// A layer that lets through only requests with an active session (see the module docs).
#[derive(Clone, Debug)]
pub struct LoginRequired {
    kratos: Kratos,
    aal2: bool,
}

impl LoginRequired {
    /// Requires a session as whoami does (`session.whoami.required_aal`).
    pub fn new(kratos: &Kratos) -> Self {
        LoginRequired {
            kratos: kratos.clone(),
            aal2: false,
        }
    }

    /// Requires a session at aal2 (a second factor was used), whatever
    /// `session.whoami.required_aal` says.
    pub fn aal2(mut self) -> Self {
        self.aal2 = true;
        self
    }
}

impl<S> tower_layer::Layer<S> for LoginRequired {
    type Service = LoginRequiredService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginRequiredService {
            guard: self.clone(),
            inner,
        }
    }
}

/// The service [`LoginRequired`] wraps a route in.
#[derive(Clone, Debug)]
pub struct LoginRequiredService<S> {
    guard: LoginRequired,
    inner: S,
}

impl<S> tower_service::Service<Request> for LoginRequiredService<S>
where
    S: tower_service::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh one waits its turn.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // At aal2 any active session passes whoami, and the level is checked below.
            let required = if guard.aal2 {
                RequiredAal::Aal1
            } else {
                guard.kratos.config().session.whoami.required_aal
            };
            let outcome = authenticate_with(&guard.kratos, &mut parts, required).await;
            let outcome = match outcome {
                Ok(s) if guard.aal2 && s.authenticator_assurance_level < Aal::Aal2 => {
                    Err(SessionError::Aal2Required)
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(e) => {
                    // The path the client asked for, before any `Router::nest` stripped it.
                    let uri = parts
                        .extensions
                        .get::<axum::extract::OriginalUri>()
                        .map_or(&parts.uri, |o| &o.0);
                    Ok(refuse(&guard.kratos, &parts.headers, uri, &e))
                }
            }
        })
    }
}

/// Whether a request comes from a browser that follows redirects to HTML pages.
fn wants_html(headers: &HeaderMap) -> bool {
    !crate::negotiate::is_json_request(headers)
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The answer to a request the guard turns away.
fn refuse(
    kratos: &Kratos,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    error: &SessionError,
) -> Response {
    let browser_step = match error {
        SessionError::Inactive | SessionError::NotFound => Some(false),
        SessionError::Aal2Required => Some(true),
        _ => None,
    };
    if let Some(aal2) = browser_step
        && wants_html(headers)
    {
        let base = kratos.config().serve.public_base_url();
        let back = format!(
            "{base}{}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        let mut url = format!("{base}/self-service/login/browser");
        let mut query = Vec::new();
        if aal2 {
            query.push("aal=aal2".to_owned());
        }
        // Only a page the flows would send the browser back to (`default_browser_return_url`
        // or `allowed_return_urls`); another would make the sign-in refuse to start.
        let allowed = &kratos.config().selfservice.allowed_return_urls;
        if kratos_core::flow::check_return_to(&back, &kratos.default_return_url(), allowed).is_ok()
        {
            let encoded: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            query.push(format!("return_to={encoded}"));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        return Redirect::to(&url).into_response();
    }
    session_error(kratos, error).into_response()
}

/// A session issued by [`sign_in`]: the session, and the session cookie to set.
///
/// As response parts it sets the cookie: `(signed_in, Redirect::to("/"))`.
pub struct SignedIn {
    /// The new session (with its identity).
    pub session: kratos_core::session::Session,
    /// The session token, for API clients (`X-Session-Token`).
    pub token: kratos_core::session::SessionToken,
    cookie: HeaderValue,
    csrf: Option<HeaderValue>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("session", &self.session.id)
            .finish_non_exhaustive()
    }
}

impl IntoResponseParts for SignedIn {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().append(header::SET_COOKIE, self.cookie);
        if let Some(csrf) = self.csrf {
            res.headers_mut().append(header::SET_COOKIE, csrf);
        }
        Ok(res)
    }
}

/// Signs an identity in from the app's own code (after the app checked who it is by its own
/// means: a magic link of its own, an SSO it terminates, a test): issues a session whose one
/// authentication step is `method` at aal1, with the request's user agent as its device (no
/// address: the caller's server knows it, these headers do not), and as response parts the
/// session cookie that carries it and a new CSRF cookie (as every sign-in renews it, so the
/// forms opened before it stop working).
///
/// # Errors
///
/// 404 `not_found` for an unknown identity, 401 `session_inactive` for a disabled one, 500
/// for a storage failure.
pub async fn sign_in(
    kratos: &Kratos,
    identity_id: Uuid,
    method: &str,
    headers: &HeaderMap,
) -> Result<SignedIn, ApiError> {
    let identity = kratos
        .identities()
        .get(identity_id)
        .await
        .map_err(|e| ApiError::from_error(&e))?;
    let client = ClientInfo {
        ip_address: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    };
    let method = AuthenticationMethod::first_factor(method, kratos.clock().now());
    let issued = kratos
        .sessions()
        .issue(&identity, vec![method], &client)
        .await
        .map_err(|e| session_error(kratos, &e))?;
    let cookie =
        crate::cookie::session_cookie(kratos, issued.token.expose(), issued.session.expires_at);
    Ok(SignedIn {
        session: issued.session,
        token: issued.token,
        cookie,
        csrf: crate::cookie::csrf_cookie_reset(kratos),
    })
}
