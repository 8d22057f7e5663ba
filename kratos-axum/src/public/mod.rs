//! The public self-service API: login, registration, settings, verification, recovery, logout
//! and the caller's sessions.
//!
//! Browser flows answer HTML clients with 303 redirects (to the flow's `ui_url`, to the return
//! URL after success) and JSON clients (see [`is_json_request`](crate::is_json_request)) with
//! JSON, as Kratos does. Errors that Kratos sends a browser to its error UI for are stored and
//! answered with a 303 to `selfservice.flows.error.ui_url?id=<id>` when it is set (see
//! [`errors`]), and with the error JSON otherwise.

mod admission;
mod challenge;
pub(crate) mod errors;
pub(crate) mod login;
pub(crate) mod logout;
#[cfg(feature = "oidc")]
mod oidc;
pub(crate) mod recovery;
pub(crate) mod registration;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod verification;
#[cfg(feature = "webauthn")]
mod webauthn;

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kratos_core::Kratos;
use kratos_core::flow::{FlowContext, FlowError};
use kratos_core::session::ClientInfo;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::session_token;
use crate::negotiate::is_json_request;

pub(crate) use errors::ForwardToErrorUi;

/// What a flow handler needs to know about the request.
pub(crate) struct FlowRequest {
    pub(crate) headers: HeaderMap,
    pub(crate) uri: Uri,
    pub(crate) client: ClientInfo,
}

impl<S> FromRequestParts<S> for FlowRequest
where
    S: Send + Sync,
    Kratos: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The peer address is used only when the app serves with connect info; forwarding
        // headers only when that peer is a trusted proxy (`serve.public.trusted_proxies`).
        // (`ConnectInfo`'s own extractor, so `MockConnectInfo` serves too.)
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|c| c.0.ip());
        let kratos = Kratos::from_ref(state);
        let ip = peer
            .map(|peer| {
                client_address(
                    peer,
                    &parts.headers,
                    &kratos.config().serve.public.trusted_proxies,
                    kratos.config().serve.public.forwarded_header,
                )
            })
            .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(FlowRequest {
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
            client: ClientInfo {
                ip_address: ip,
                user_agent,
            },
        })
    }
}

/// The most hops of a forwarding header that are looked at, from the right; when all of them
/// are trusted proxies, the left-most of them is the client.
const MAX_FORWARDED_HOPS: usize = 32;

/// The client's address: the peer's, unless the peer is a trusted proxy; then, walking the
/// configured forwarding header (`X-Forwarded-For`, or RFC 7239 `Forwarded`'s `for=`) from
/// the right, the first address that is not a trusted proxy itself. Only what trusted proxies
/// wrote is read: the hops left of the client (which the client controls) are never parsed,
/// so no content there changes the answer. A hop a trusted proxy wrote that names no address
/// (`unknown`, an obfuscated `_name`, not text) gives the peer; so does a missing header.
/// After [`MAX_FORWARDED_HOPS`] trusted hops, the last one read is the client.
pub(crate) fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[kratos_core::config::IpCidr],
    header: kratos_core::config::ForwardedHeader,
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let name = match header {
        kratos_core::config::ForwardedHeader::XForwardedFor => "x-forwarded-for",
        kratos_core::config::ForwardedHeader::Forwarded => "forwarded",
    };
    let lines: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    let hops = lines
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(|&b| b == b','))
        .map(|hop| hop.trim_ascii())
        // Empty list elements are allowed by the header grammar and name nobody.
        .filter(|hop| !hop.is_empty())
        .take(MAX_FORWARDED_HOPS);
    let mut client = peer;
    for hop in hops {
        let address = std::str::from_utf8(hop).ok().and_then(|hop| match header {
            kratos_core::config::ForwardedHeader::XForwardedFor => node_address(hop),
            kratos_core::config::ForwardedHeader::Forwarded => forwarded_for(hop),
        });
        let Some(ip) = address else {
            // A hop a trusted proxy could not name: nothing to its left can be believed.
            return peer;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// The address in the `for=` parameter of one `Forwarded` element (`None` without one, or
/// when it names no address).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let node = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim())
    })?;
    node_address(node.trim_matches('"'))
}

/// The address of a node as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = node.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Whether `s` is a port number.
fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.parse::<u16>().is_ok()
}

impl FlowRequest {
    /// Whether the client wants JSON.
    pub(crate) fn json(&self) -> bool {
        is_json_request(&self.headers)
    }

    /// The query's pairs.
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        self.uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default()
    }

    /// One query parameter (the first, non-empty).
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v)
    }

    /// The request's URL under the public base URL.
    pub(crate) fn request_url(&self, kratos: &Kratos) -> String {
        let path = self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        format!("{}{path}", kratos.config().serve.public_base_url())
    }

    /// The flow context: request URL, the session token the request presents and the client.
    pub(crate) fn context(&self, kratos: &Kratos) -> FlowContext {
        FlowContext {
            request_url: Some(self.request_url(kratos)),
            session_token: session_token(kratos, &self.headers).map(|(t, _)| t),
            client: self.client.clone(),
        }
    }

    /// The flow context of an api flow: only `X-Session-Token` identifies a session.
    pub(crate) fn api_context(&self, kratos: &Kratos) -> FlowContext {
        FlowContext {
            request_url: Some(self.request_url(kratos)),
            session_token: self
                .headers
                .get("x-session-token")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            client: self.client.clone(),
        }
    }

    /// The flow id in query parameter `name`: missing is 400, not a UUID is 404 (no such
    /// flow).
    pub(crate) fn flow_id(&self, name: &str) -> Result<Uuid, ApiError> {
        let raw = self.param(name).ok_or_else(|| {
            ApiError::bad_request(name, format!("The query parameter `{name}` is required."))
        })?;
        Uuid::parse_str(&raw).map_err(|_| ApiError::from_error(&FlowError::NotFound))
    }
}

/// A response under construction: status, body, `Location` and `Set-Cookie` headers.
pub(crate) struct Reply {
    status: StatusCode,
    body: Option<Value>,
    location: Option<String>,
    cookies: Vec<HeaderValue>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            location: None,
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// A 303 See Other.
    pub(crate) fn see_other(location: String) -> Self {
        Reply {
            status: StatusCode::SEE_OTHER,
            body: None,
            location: Some(location),
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// An empty answer.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            body: None,
            location: None,
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a `Set-Cookie`.
    pub(crate) fn cookie(mut self, cookie: Option<HeaderValue>) -> Self {
        self.cookies.extend(cookie);
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(b) => (self.status, Json(b)).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, l);
        }
        for c in self.cookies {
            headers.append(header::SET_COOKIE, c);
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        // Flows and sessions are per user: never cache them.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
        );
        response
    }
}

/// A flow error as Kratos answers it. An expired flow carries `use_flow_id`, `expired_at` and
/// `since` (nanoseconds) beside `error`, as Kratos's `selfServiceFlowExpiredError`.
pub(crate) fn flow_error(e: &FlowError) -> ApiError {
    let err = ApiError::from_error(e);
    match e {
        FlowError::Expired {
            use_flow_id,
            expired_at,
            minutes,
        } => err
            .with_field("use_flow_id", use_flow_id.to_string())
            .with_field("expired_at", expired_at.to_rfc3339())
            .with_field("since", (minutes * 60.0 * 1e9) as i64),
        // Kratos puts the URL beside `error` too (`errorBrowserLocationChangeRequired`).
        FlowError::BrowserLocationChangeRequired {
            redirect_browser_to,
        } => err.with_field("redirect_browser_to", redirect_browser_to.clone()),
        _ => err,
    }
}

/// `ui_url` with `?flow=<id>` appended.
pub(crate) fn ui_redirect(ui_url: &str, id: Uuid) -> String {
    let sep = if ui_url.contains('?') { '&' } else { '?' };
    format!("{ui_url}{sep}flow={id}")
}

/// The CSRF token in a flow's `csrf_token` node.
pub(crate) fn csrf_token_of(flow: &Value) -> Option<String> {
    flow.pointer("/ui/nodes")?
        .as_array()?
        .iter()
        .find(|n| n.pointer("/attributes/name").and_then(Value::as_str) == Some("csrf_token"))?
        .pointer("/attributes/value")?
        .as_str()
        .map(str::to_owned)
}

/// Puts the `X-CSRF-Token` header into a submission that carries no `csrf_token` field.
pub(crate) fn merge_csrf_header(payload: &mut Value, headers: &HeaderMap) {
    let has_body_token = payload
        .get("csrf_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if has_body_token {
        return;
    }
    if let (Some(obj), Some(t)) = (
        payload.as_object_mut(),
        headers.get("x-csrf-token").and_then(|v| v.to_str().ok()),
    ) {
        obj.insert("csrf_token".into(), Value::String(t.to_owned()));
    }
}

/// The 403 for a browser flow whose CSRF cookie is missing or does not vouch for its token.
pub(crate) fn csrf_violation() -> ApiError {
    ApiError::from_error(&FlowError::CsrfViolation).with_detail(
        "reason",
        "The anti-CSRF cookie is missing or does not match the flow: start the flow in this \
         browser and send its cookies with the request.",
    )
}

/// Where to send a browser whose session already exists: the checked `return_to` of the
/// request, else the default return URL.
pub(crate) fn return_url(kratos: &Kratos, req: &FlowRequest) -> Result<String, ApiError> {
    match req.param("return_to") {
        None => Ok(kratos.default_return_url()),
        Some(candidate) => kratos_core::flow::check_return_to(
            &candidate,
            &kratos.default_return_url(),
            &kratos.config().selfservice.allowed_return_urls,
        )
        .map_err(|e| flow_error(&e)),
    }
}

/// The `redirect_browser_to` of a flow's `continue_with`, if any.
pub(crate) fn redirect_target(continue_with: &[kratos_core::flow::ContinueWith]) -> Option<String> {
    continue_with.iter().find_map(|c| match c {
        kratos_core::flow::ContinueWith::RedirectBrowserTo {
            redirect_browser_to,
        } => Some(redirect_browser_to.clone()),
        _ => None,
    })
}

/// A stored flow as the HTTP layer reads it outside submissions (fetching a flow, the CSRF
/// cookie of a flow made on the way).
pub(crate) struct StoredFlow {
    /// `browser` or `api`.
    pub(crate) flow_type: kratos_core::flow::FlowType,
    /// The flow's CSRF token (empty for api flows).
    pub(crate) csrf: String,
    /// An admin made the flow (`internal_context.skip_csrf_check`): no browser holds its CSRF
    /// token.
    pub(crate) skip_csrf_check: bool,
}

/// The few fields of a stored flow's document the HTTP layer reads; the rest of the document
/// is skipped, not built.
#[derive(Deserialize)]
struct DocumentFields {
    #[serde(rename = "type")]
    flow_type: Option<String>,
    #[serde(default)]
    internal_context: InternalContextFields,
}

#[derive(Default, Deserialize)]
struct InternalContextFields {
    #[serde(default)]
    skip_csrf_check: bool,
}

/// Reads a stored flow (404 when there is none of this kind).
pub(crate) async fn stored_flow(
    kratos: &Kratos,
    kind: kratos_core::flow::FlowKind,
    id: Uuid,
) -> Result<StoredFlow, ApiError> {
    let stored = kratos
        .store()
        .get_flow(kratos.nid(), kind, id)
        .await
        .map_err(|e| flow_error(&FlowError::from(e)))?;
    let fields: DocumentFields = stored
        .document
        .decode()
        .map_err(|e| flow_error(&FlowError::Internal(e.to_string())))?;
    Ok(StoredFlow {
        flow_type: match fields.flow_type.as_deref() {
            Some("api") => kratos_core::flow::FlowType::Api,
            _ => kratos_core::flow::FlowType::Browser,
        },
        csrf: stored.csrf_token,
        skip_csrf_check: fields.internal_context.skip_csrf_check,
    })
}

/// The outcome of a flow submission, in the terms the HTTP answer needs.
pub(crate) enum Submitted {
    /// The flow completed.
    Done(Box<Success>),
    /// The flow needs another submission; the flow (with messages) as JSON.
    Retry { id: Uuid, flow: Value },
}

/// A completed flow.
pub(crate) struct Success {
    /// The session issued or refreshed.
    pub(crate) session: Option<kratos_core::session::Session>,
    /// Its token (set as the session cookie for browser flows, returned to api flows).
    pub(crate) token: Option<String>,
    /// The identity created (registration).
    pub(crate) identity: Option<kratos_core::identity::Identity>,
    /// What the client should do next.
    pub(crate) continue_with: Vec<kratos_core::flow::ContinueWith>,
    /// Send browsers to the aal2 step-up login: the identity has a second factor the
    /// session lacks (login).
    pub(crate) aal2_required: bool,
    /// The flow's `return_to`.
    pub(crate) return_to: Option<String>,
    /// Answer with this body instead of the session/identity body (settings: the flow).
    pub(crate) body: Option<Value>,
}

impl Success {
    fn body(&self, with_token: bool) -> Value {
        if let Some(b) = &self.body {
            return b.clone();
        }
        let mut body = serde_json::Map::new();
        if with_token && let Some(t) = &self.token {
            body.insert("session_token".into(), Value::String(t.clone()));
        }
        if let Some(s) = &self.session {
            body.insert(
                "session".into(),
                serde_json::to_value(s).unwrap_or_default(),
            );
        }
        if let Some(i) = &self.identity {
            body.insert(
                "identity".into(),
                serde_json::to_value(i).unwrap_or_default(),
            );
        }
        body.insert(
            "continue_with".into(),
            serde_json::to_value(&self.continue_with).unwrap_or_default(),
        );
        Value::Object(body)
    }
}

/// Answers a new browser flow: HTML clients are sent to `ui_url?flow=<id>` (or get the flow
/// when no UI is configured), JSON clients get the flow; both get a CSRF cookie vouching for
/// the flow's token.
pub(crate) fn browser_flow_created(
    kratos: &Kratos,
    req: &FlowRequest,
    ui_url: Option<&str>,
    id: Uuid,
    flow: Value,
) -> Reply {
    let cookie = csrf_token_of(&flow)
        .and_then(|t| crate::cookie::csrf_cookie_adding(kratos, &req.headers, &t));
    match ui_url {
        Some(ui) if !req.json() => Reply::see_other(ui_redirect(ui, id)),
        _ => Reply::json(StatusCode::OK, flow),
    }
    .cookie(cookie)
}

/// Answers an expired browser flow: the fresh flow (`use_flow_id`) is vouched for by the CSRF
/// cookie; HTML clients are sent to it, JSON clients get 410.
pub(crate) async fn browser_flow_expired(
    kratos: &Kratos,
    req: &FlowRequest,
    kind: kratos_core::flow::FlowKind,
    ui_url: Option<&str>,
    e: &FlowError,
    redirect_html: bool,
) -> Response {
    let FlowError::Expired { use_flow_id, .. } = e else {
        return flow_error(e).into_response();
    };
    let cookie = match stored_flow(kratos, kind, *use_flow_id).await {
        Ok(stored) => crate::cookie::csrf_cookie_adding(kratos, &req.headers, &stored.csrf),
        Err(_) => None,
    };
    let mut response = match ui_url {
        Some(ui) if redirect_html && !req.json() => {
            Reply::see_other(ui_redirect(ui, *use_flow_id)).into_response()
        }
        _ => flow_error(e).into_response(),
    };
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Answers `GET /self-service/<flow>/flows?id=`: a browser flow only to the browser that
/// started it (its CSRF cookie vouches for the flow's token), else 403.
pub(crate) async fn flow_fetched(
    kratos: &Kratos,
    req: &FlowRequest,
    kind: kratos_core::flow::FlowKind,
    result: Result<(kratos_core::flow::FlowType, Value), FlowError>,
) -> Response {
    match result {
        Ok((kratos_core::flow::FlowType::Browser, flow)) => {
            let token = csrf_token_of(&flow).unwrap_or_default();
            if !crate::cookie::csrf_cookie_vouches_for(kratos, &req.headers, &token) {
                return csrf_violation().into_response();
            }
            Reply::json(StatusCode::OK, flow).into_response()
        }
        Ok((_, flow)) => Reply::json(StatusCode::OK, flow).into_response(),
        Err(e @ FlowError::Expired { .. }) => {
            browser_flow_expired(kratos, req, kind, None, &e, false).await
        }
        Err(e) => flow_error(&e).into_response(),
    }
}

/// Answers an api flow's submission: 200 with the session token, session (and identity), 400
/// with the flow on validation errors, the error otherwise.
pub(crate) fn api_submitted(result: Result<Submitted, FlowError>) -> Response {
    match result {
        Ok(Submitted::Done(s)) => Reply::json(StatusCode::OK, s.body(true)).into_response(),
        Ok(Submitted::Retry { flow, .. }) => {
            Reply::json(StatusCode::BAD_REQUEST, flow).into_response()
        }
        Err(FlowError::ContinuedInFlow { flow, .. }) => {
            Reply::json(StatusCode::BAD_REQUEST, *flow).into_response()
        }
        Err(e) => flow_error(&e).into_response(),
    }
}

/// Answers a browser flow's submission. Success sets the session cookie (and a fresh CSRF
/// cookie, vouching for the verification flows of `show_verification_ui`) and sends HTML clients to the `continue_with` redirect (JSON clients get the body);
/// when the identity has a second factor the session lacks, the browser is sent to the aal2
/// login instead (422 `browser_location_change_required` for JSON clients). Validation errors
/// send HTML clients back to the UI (`ui_url?flow=<id>`), JSON clients get 400 with the flow.
pub(crate) async fn browser_submitted(
    kratos: &Kratos,
    req: &FlowRequest,
    kind: kratos_core::flow::FlowKind,
    ui_url: Option<&str>,
    result: Result<Submitted, FlowError>,
) -> Response {
    match result {
        Ok(Submitted::Done(s)) => {
            let mut reply_cookies = Vec::new();
            let mut step_up = None;
            // The verification flows the outcome continues with were made for this browser:
            // its CSRF cookie vouches for them, so their UI can fetch and submit them.
            let verification_tokens = verification_csrf_tokens(kratos, &s.continue_with).await;
            let tokens: Vec<&str> = verification_tokens.iter().map(String::as_str).collect();
            let mut csrf_cookie = (!tokens.is_empty())
                .then(|| crate::cookie::csrf_cookie_adding_all(kratos, &req.headers, &tokens))
                .flatten();
            if let (Some(token), Some(session)) = (&s.token, &s.session) {
                reply_cookies.push(crate::cookie::session_cookie(
                    kratos,
                    token,
                    session.expires_at,
                ));
                // A new session (not a refresh of the one the request carried): CSRF tokens
                // handed out before it are not honoured after it.
                let prior = session_token(kratos, &req.headers).map(|(t, _)| t);
                if prior.as_deref() != Some(token.as_str()) {
                    csrf_cookie =
                        crate::cookie::csrf_cookie_adding_all(kratos, &HeaderMap::new(), &tokens);
                }
                if s.aal2_required {
                    step_up = Some(crate::extract::aal2_login_url(
                        kratos,
                        s.return_to.as_deref(),
                    ));
                }
            }
            reply_cookies.extend(csrf_cookie);
            let mut response = match (step_up, req.json()) {
                (Some(url), true) => browser_location_change_required(&url).into_response(),
                (Some(url), false) => Reply::see_other(url).into_response(),
                (None, true) => Reply::json(StatusCode::OK, s.body(false)).into_response(),
                (None, false) => Reply::see_other(
                    redirect_target(&s.continue_with)
                        .or_else(|| s.return_to.clone())
                        .unwrap_or_else(|| kratos.default_return_url()),
                )
                .into_response(),
            };
            for c in reply_cookies {
                response.headers_mut().append(header::SET_COOKIE, c);
            }
            response
        }
        Ok(Submitted::Retry { id, flow }) => match ui_url {
            Some(ui) if !req.json() => Reply::see_other(ui_redirect(ui, id)).into_response(),
            _ => Reply::json(StatusCode::BAD_REQUEST, flow).into_response(),
        },
        Err(e @ FlowError::Expired { .. }) => {
            browser_flow_expired(kratos, req, kind, ui_url, &e, true).await
        }
        Err(FlowError::BrowserLocationChangeRequired {
            redirect_browser_to,
        }) => {
            if req.json() {
                browser_location_change_required(&redirect_browser_to).into_response()
            } else {
                Reply::see_other(redirect_browser_to).into_response()
            }
        }
        Err(FlowError::ContinuedInFlow {
            redirect_browser_to,
            flow,
        }) => {
            if req.json() {
                Reply::json(StatusCode::BAD_REQUEST, *flow).into_response()
            } else {
                Reply::see_other(redirect_browser_to).into_response()
            }
        }
        Err(e) => errors::browser_error(&e, errors::forwarded_on_submit(&e)).into_response(),
    }
}

/// The CSRF tokens of the browser verification flows in a `continue_with`
/// (`show_verification_ui`).
async fn verification_csrf_tokens(
    kratos: &Kratos,
    continue_with: &[kratos_core::flow::ContinueWith],
) -> Vec<String> {
    let mut tokens = Vec::new();
    for item in continue_with {
        if let kratos_core::flow::ContinueWith::ShowVerificationUi { flow } = item
            && let Ok(stored) =
                stored_flow(kratos, kratos_core::flow::FlowKind::Verification, flow.id).await
            && stored.flow_type == kratos_core::flow::FlowType::Browser
            && !stored.csrf.is_empty()
        {
            tokens.push(stored.csrf);
        }
    }
    tokens
}

/// 422 `browser_location_change_required`: a JSON client must send the browser to `url`.
pub(crate) fn browser_location_change_required(url: &str) -> ApiError {
    ApiError::with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "browser_location_change_required",
        format!("In order to complete this flow please redirect the browser to: {url}"),
    )
    .with_field("redirect_browser_to", url)
}

/// Options of the public router.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublicOptions {
    /// The largest request body read, in bytes; larger ones are answered with 413
    /// (default [`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT)).
    pub body_limit: usize,
}

impl Default for PublicOptions {
    fn default() -> Self {
        Self {
            body_limit: crate::negotiate::DEFAULT_BODY_LIMIT,
        }
    }
}

impl PublicOptions {
    /// Sets the body limit.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// The public self-service routes, before their state is applied.
pub(crate) fn router(options: &PublicOptions) -> axum::Router<Kratos> {
    let router = axum::Router::new();
    #[cfg(feature = "webauthn")]
    let router = router.merge(webauthn::router());
    #[cfg(feature = "oidc")]
    let router = router.merge(oidc::router());
    router
        .merge(login::router())
        .merge(registration::router())
        .merge(settings::router())
        .merge(verification::router())
        .merge(recovery::router())
        .merge(logout::router())
        .merge(sessions::router())
        .merge(errors::router())
        .layer(axum::extract::DefaultBodyLimit::max(options.body_limit))
}

#[cfg(test)]
mod stored_flow_tests {
    use super::DocumentFields;

    #[test]
    fn the_fields_the_http_layer_reads_come_from_the_document() {
        let settings: DocumentFields = serde_json::from_str(
            r#"{"id": "x", "type": "api", "ui": {"nodes": [{"type": "input"}]},
                "identity": {"id": "y", "schema_id": "customer", "traits": {"n": 1}}}"#,
        )
        .expect("decodes");
        assert_eq!(settings.flow_type.as_deref(), Some("api"));
        assert!(!settings.internal_context.skip_csrf_check);
        let recovery: DocumentFields = serde_json::from_str(
            r#"{"type": "browser", "identity": null,
                "internal_context": {"skip_csrf_check": true}}"#,
        )
        .expect("decodes");
        assert!(recovery.internal_context.skip_csrf_check);
    }
}

#[cfg(test)]
mod client_address_tests {
    use std::net::IpAddr;

    use axum::http::{HeaderMap, HeaderValue};
    use kratos_core::config::IpCidr;

    use super::client_address;
    use kratos_core::config::ForwardedHeader;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Vec<IpCidr> {
        ["10.0.0.0/8", "2001:db8:ffff::/48"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect()
    }

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    fn from(peer: &str, pairs: &[(&'static str, &[u8])]) -> IpAddr {
        client_address(
            ip(peer),
            &headers(pairs),
            &proxies(),
            ForwardedHeader::XForwardedFor,
        )
    }

    fn from_forwarded(peer: &str, pairs: &[(&'static str, &[u8])]) -> IpAddr {
        client_address(
            ip(peer),
            &headers(pairs),
            &proxies(),
            ForwardedHeader::Forwarded,
        )
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let xff: &[(&str, &[u8])] = &[("x-forwarded-for", b"203.0.113.9")];
        assert_eq!(from("198.51.100.1", xff), ip("198.51.100.1"));
        assert_eq!(
            client_address(
                ip("10.0.0.1"),
                &headers(xff),
                &[],
                ForwardedHeader::XForwardedFor
            ),
            ip("10.0.0.1"),
            "no trusted proxies: the peer"
        );
    }

    #[test]
    fn a_trusted_peer_gives_the_right_most_untrusted_hop() {
        assert_eq!(
            from(
                "10.0.0.1",
                &[("x-forwarded-for", b"192.0.2.66, 203.0.113.9, 10.1.2.3")]
            ),
            ip("203.0.113.9"),
            "a spoofed left-most hop is not believed"
        );
        assert_eq!(
            from(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", b"192.0.2.66"),
                    ("x-forwarded-for", b"203.0.113.9")
                ]
            ),
            ip("203.0.113.9"),
            "several lines are one list"
        );
        assert_eq!(
            from_forwarded(
                "10.0.0.1",
                &[(
                    "forwarded",
                    b"for=192.0.2.66, for=\"[2001:db8:1::7]:4711\";proto=https, for=10.2.2.2"
                )]
            ),
            ip("2001:db8:1::7")
        );
        assert_eq!(
            from_forwarded(
                "10.0.0.1",
                &[
                    ("forwarded", b"by=10.0.0.1;For=\"203.0.113.9:8080\""),
                    ("x-forwarded-for", b"192.0.2.66")
                ]
            ),
            ip("203.0.113.9"),
            "only the configured header is read; names are case-insensitive"
        );
        // A client's own Forwarded header, passed through by a proxy that appends
        // X-Forwarded-For, is not believed.
        assert_eq!(
            from(
                "10.0.0.1",
                &[
                    ("forwarded", b"for=192.0.2.66"),
                    ("x-forwarded-for", b"203.0.113.9")
                ]
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            from("10.0.0.1", &[("x-forwarded-for", b"10.9.9.9, 10.8.8.8")]),
            ip("10.9.9.9"),
            "only proxies: the left-most"
        );
        assert_eq!(
            from("::ffff:10.0.0.1", &[("x-forwarded-for", b"203.0.113.9")]),
            ip("203.0.113.9"),
            "an IPv4-mapped peer is its IPv4 address"
        );
    }

    #[test]
    fn hops_a_trusted_proxy_wrote_badly_give_the_peer() {
        let cases: Vec<Vec<(&'static str, &[u8])>> = vec![
            vec![],
            vec![("x-forwarded-for", b"")],
            vec![("x-forwarded-for", b",,,")],
            vec![("x-forwarded-for", b"unknown")],
            vec![("x-forwarded-for", b"203.0.113.9, garbage")],
            vec![("x-forwarded-for", b"203.0.113.9:99999")],
            vec![("x-forwarded-for", b"[2001:db8::1")],
            vec![("x-forwarded-for", b"[2001:db8::1]x")],
            vec![("x-forwarded-for", b"[]:80")],
            vec![("x-forwarded-for", b"\xff\xfe")],
            vec![("x-forwarded-for", b"203.0.113.9, 10.1.1.1, \xff")],
        ];
        for case in cases {
            assert_eq!(from("10.0.0.1", &case), ip("10.0.0.1"), "{case:?}");
        }
        let forwarded: Vec<&[u8]> = vec![
            b"for=_hidden",
            b"for=unknown",
            b"proto=https",
            b"for",
            b"for=\"",
            b";;;=,=;",
            b"for=\"[::1]:\"",
            b"for=1.2.3.4:",
            b"\xc3\x28",
        ];
        for value in forwarded {
            let case = [("forwarded", value)];
            assert_eq!(
                from_forwarded("10.0.0.1", &case),
                ip("10.0.0.1"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn what_the_client_wrote_left_of_itself_changes_nothing() {
        // The client controls everything left of the hop the first trusted proxy appended:
        // garbage, bytes that are not text, or a thousand hops there are never read.
        let long = vec!["192.0.2.66"; 1000].join(", ");
        for left in [
            b"garbage".as_slice(),
            b"\xff\xfe",
            b"unknown",
            long.as_bytes(),
        ] {
            let mut value = left.to_vec();
            value.extend_from_slice(b", 203.0.113.9, 10.1.2.3");
            let case = [("x-forwarded-for", value.as_slice())];
            assert_eq!(from("10.0.0.1", &case), ip("203.0.113.9"), "{left:?}");
        }
        // More trusted hops than are read: the last one read is the client.
        let proxies = vec!["10.7.7.7"; 40].join(", ");
        let case = [("x-forwarded-for", proxies.as_bytes())];
        assert_eq!(from("10.0.0.1", &case), ip("10.7.7.7"));
    }
}
