//! The account pages: home, sign-in, sign-up, settings, email verification and account
//! recovery (the flows' UI, rendered from their `ui.nodes`), the self-service error page and the
//! sessions list. The sign-in page's second-factor form and the security page are in
//! [`crate::security`].

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kratos_axum::LoginRequired;
use kratos_axum::ui::FlowKind;
use kratos_core::Kratos;
use kratos_core::config::CodeOrLink;
use kratos_core::flow::ui::UiContainer;
use kratos_core::flow::{FlowContext, FlowError};
use kratos_core::session::{RequiredAal, Session, SessionError};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::views::CSS;

pub(crate) fn router(kratos: &Kratos) -> Router<AppState> {
    let signed_in = Router::new()
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route(
            "/account/sessions/revoke-others",
            post(revoke_other_sessions),
        )
        .route_layer(LoginRequired::new(kratos));
    Router::new()
        .route("/", get(home))
        .route("/static/app.css", get(stylesheet))
        .route("/login", get(login_page))
        .route("/registration", get(registration_page))
        .route("/settings", get(settings_page))
        .route("/verification", get(verification_page))
        .route("/recovery", get(recovery_page))
        .route("/error", get(error_page))
        .merge(signed_in)
}

/// The signed-in user of a request.
pub(crate) struct Viewer {
    /// The session.
    pub(crate) session: Session,
    /// Its token (for the logout URL and "sign out everywhere else").
    pub(crate) token: String,
    /// What the navigation bar shows: name, email, logout URL.
    pub(crate) nav: Value,
}

impl Viewer {
    /// The identity's id.
    pub(crate) fn identity_id(&self) -> Uuid {
        self.session.identity_id
    }
}

/// A trait of an identity as text.
pub(crate) fn trait_text(traits: &Value, key: &str) -> String {
    traits
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The flow context of a request made by the app itself: the session token the browser
/// presents.
fn flow_context(state: &AppState, headers: &HeaderMap) -> FlowContext {
    FlowContext {
        request_url: None,
        session_token: kratos_axum::session_token_from_headers(&state.kratos, headers),
        client: Default::default(),
    }
}

/// Who makes a request.
pub(crate) enum Visitor {
    /// No session (or an inactive one).
    Anonymous,
    /// Signed in with a first factor, but the account has a second factor the session has
    /// not passed yet (`session_aal2_required`): the session is good for nothing but the
    /// second-factor sign-in and signing out.
    NeedsSecondFactor(Viewer),
    /// Signed in.
    SignedIn(Viewer),
}

/// Who makes the request. Storage failures are answered with an error page.
pub(crate) async fn visitor(state: &AppState, headers: &HeaderMap) -> Result<Visitor, Response> {
    let Some(token) = kratos_axum::session_token_from_headers(&state.kratos, headers) else {
        return Ok(Visitor::Anonymous);
    };
    let sessions = state.kratos.sessions();
    let (session, pending) = match sessions.whoami(&token).await {
        Ok(s) => (s, false),
        Err(SessionError::Aal2Required) => {
            match sessions.whoami_with(&token, RequiredAal::Aal1).await {
                Ok(s) => (s, true),
                Err(SessionError::Inactive | SessionError::NotFound) => {
                    return Ok(Visitor::Anonymous);
                }
                Err(e) => return Err(internal_error(state, &e.to_string())),
            }
        }
        Err(SessionError::Inactive | SessionError::NotFound) => return Ok(Visitor::Anonymous),
        Err(e) => return Err(internal_error(state, &e.to_string())),
    };
    let viewer = viewer_of(state, session, token).await?;
    Ok(if pending {
        Visitor::NeedsSecondFactor(viewer)
    } else {
        Visitor::SignedIn(viewer)
    })
}

/// The request's signed-in user, if any (a session that still needs its second factor is
/// not one). Storage failures are answered with an error page.
pub(crate) async fn viewer(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, Response> {
    Ok(match visitor(state, headers).await? {
        Visitor::SignedIn(v) => Some(v),
        Visitor::Anonymous | Visitor::NeedsSecondFactor(_) => None,
    })
}

/// The [`Viewer`] of a session: its navigation bar, with a logout URL.
async fn viewer_of(state: &AppState, session: Session, token: String) -> Result<Viewer, Response> {
    let ctx = FlowContext {
        request_url: None,
        session_token: Some(token.clone()),
        client: Default::default(),
    };
    let logout_url = match state.kratos.logout().create_browser(&ctx).await {
        Ok(flow) => flow.logout_url,
        Err(e) => return Err(internal_error(state, &e.to_string())),
    };
    let traits = session
        .identity
        .as_ref()
        .map(|i| i.traits.clone())
        .unwrap_or_default();
    let addresses: Vec<Value> = session
        .identity
        .as_ref()
        .map(|i| {
            i.verifiable_addresses
                .iter()
                .map(|a| json!({"value": a.value, "verified": a.verified}))
                .collect()
        })
        .unwrap_or_default();
    let unverified: Vec<&Value> = addresses
        .iter()
        .filter(|a| a["verified"] == false)
        .map(|a| &a["value"])
        .collect();
    let nav = json!({
        "id": session.identity_id,
        "name": trait_text(&traits, "name"),
        "email": trait_text(&traits, "email"),
        "logout_url": logout_url,
        "addresses": addresses,
        "unverified": unverified,
    });
    Ok(Viewer {
        session,
        token,
        nav,
    })
}

/// The signed-in user of a route behind kratos-axum's `LoginRequired` guard (which sends
/// browsers without a session, or without the second factor their account has, to sign in
/// and back): the session the guard resolved, through kratos-axum's `Session` extractor,
/// with the navigation bar. Storage failures are answered with an error page.
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let kratos_axum::Session(session) = kratos_axum::Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = kratos_axum::session_token_from_headers(&state.kratos, &parts.headers)
            .unwrap_or_default();
        viewer_of(state, session, token).await
    }
}

/// A 303 See Other.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A 500 page; the details go to the log, not to the browser.
pub(crate) fn internal_error(state: &AppState, detail: &str) -> Response {
    tracing::error!("{detail}");
    state.views.error(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "Something went wrong",
        "We could not complete this request. Please try again in a moment.",
        None,
    )
}

/// A title and a sentence for a Kratos error id, for people rather than programs.
pub(crate) fn friendly(id: &str, status: u16, reason: &str) -> (String, String) {
    let (title, message) = match id {
        "security_csrf_violation" => (
            "This form has expired",
            "For your security, a form only works in the browser that opened it, and only until \
             you sign in or out. Please start again.",
        ),
        "self_service_flow_expired" => ("This form has expired", "Please start again."),
        "session_inactive" | "no_active_session" => {
            ("You are signed out", "Please sign in to continue.")
        }
        "session_already_available" => (
            "You are already signed in",
            "Sign out first if you want to use another account.",
        ),
        "self_service_flow_return_to_forbidden" => (
            "That link is not allowed",
            "The page this link wanted to send you to afterwards is not part of this app.",
        ),
        "security_identity_mismatch" => (
            "This form belongs to another account",
            "Please start again from your own settings page.",
        ),
        "session_aal2_required" => (
            "Second factor required",
            "Please confirm your sign-in with your second factor.",
        ),
        "not_found" | "self_service_flow_not_found" => (
            "Not found",
            "This page or form does not exist, or no longer exists.",
        ),
        "self_service_flow_disabled" => (
            "Not available",
            "This part of the app is switched off in its configuration.",
        ),
        _ if status >= 500 => (
            "Something went wrong",
            "We could not complete this request. Please try again in a moment.",
        ),
        _ => ("Something is not right", ""),
    };
    let message = if message.is_empty() {
        if reason.is_empty() {
            "The request could not be completed. Please start again.".to_owned()
        } else {
            reason.to_owned()
        }
    } else {
        message.to_owned()
    };
    (title.to_owned(), message)
}

async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        CSS,
    )
        .into_response()
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(v)) => Some(v),
        Ok(Visitor::Anonymous) => None,
        // Half signed in: the home page would look signed out, and its "Sign in" would find a
        // session; the second factor comes first.
        Ok(Visitor::NeedsSecondFactor(_)) => {
            return see_other(&crate::security::step_up_url(None));
        }
        Err(r) => return r,
    };
    let documents = match &viewer {
        Some(v) => crate::documents::visible_ids(&state, v.identity_id())
            .await
            .map(|ids| ids.len())
            .unwrap_or(0),
        None => 0,
    };
    state.views.page(
        "home.html",
        json!({
            "title": "Home",
            "viewer": viewer.as_ref().map(|v| &v.nav),
            "documents": documents,
        }),
    )
}

/// The query of a flow page.
#[derive(Deserialize, Default)]
pub(crate) struct FlowQuery {
    /// The flow's id.
    pub(crate) flow: Option<String>,
    /// Where the browser goes after the flow (passed on to a new flow).
    pub(crate) return_to: Option<String>,
}

impl FlowQuery {
    /// The flow's id, when it is one.
    pub(crate) fn id(&self) -> Option<Uuid> {
        self.flow.as_deref().and_then(|f| Uuid::parse_str(f).ok())
    }

    /// Where a new browser flow of `kind` starts (passing `return_to` on).
    fn init_url(&self, kind: &str) -> String {
        let mut url = format!("/self-service/{kind}/browser");
        if let Some(r) = self.return_to.as_deref().filter(|r| !r.is_empty()) {
            url.push_str("?return_to=");
            url.push_str(&encode(r));
        }
        url
    }
}

impl FlowPage {
    /// The flow's kind.
    fn flow_kind(&self) -> FlowKind {
        match self.kind {
            "login" => FlowKind::Login,
            "registration" => FlowKind::Registration,
            "settings" => FlowKind::Settings,
            "verification" => FlowKind::Verification,
            _ => FlowKind::Recovery,
        }
    }
}

/// What a flow page shows besides the flow.
struct FlowPage {
    kind: &'static str,
    heading: &'static str,
    lead: Option<&'static str>,
    nav: &'static str,
    /// The method of a verification or recovery flow (`use`).
    method: Option<CodeOrLink>,
}

/// Fills an empty `email` input of a flow's form with an address (a text input where the
/// form takes a phone number too).
fn prefill_email(ui: &mut Value, address: &str) {
    if address.is_empty() {
        return;
    }
    let nodes = ui.get_mut("nodes").and_then(Value::as_array_mut);
    for n in nodes.into_iter().flatten() {
        if let Some(a) = n.get_mut("attributes").and_then(Value::as_object_mut)
            && a.get("name").and_then(Value::as_str) == Some("email")
            && matches!(
                a.get("type").and_then(Value::as_str),
                Some("email" | "text")
            )
            && a.get("value").is_none_or(|v| v.is_null() || v == "")
        {
            a.insert("value".into(), json!(address));
        }
    }
}

/// Renders a fetched flow, or sends the browser where it can continue: a new flow when this
/// one is unknown, expired, or was started in another browser (its CSRF cookie does not
/// vouch for it), the sign-in when settings need a session.
async fn show_flow(
    state: &AppState,
    headers: &HeaderMap,
    page: FlowPage,
    query: &FlowQuery,
    result: Result<Value, FlowError>,
) -> Response {
    let init = query.init_url(page.kind);
    let flow = match result {
        Ok(flow) => flow,
        Err(FlowError::NotFound | FlowError::Expired { .. } | FlowError::IdentityMismatch) => {
            return see_other(&init);
        }
        Err(FlowError::NoActiveSession) => {
            return see_other(&format!(
                "/self-service/login/browser?return_to={}",
                encode(&format!("{}/settings", state.base_url))
            ));
        }
        Err(FlowError::Aal2Required) => {
            // The account gained a second factor (just set up in this very flow, say): the
            // session steps up, then comes back to this flow.
            let back = match &query.flow {
                Some(id) => format!("{}/{}?flow={}", state.base_url, page.kind, encode(id)),
                None => format!("{}/{}", state.base_url, page.kind),
            };
            return see_other(&crate::security::step_up_url(Some(&back)));
        }
        Err(e) => {
            let body = kratos_core::error::KratosError::to_body(&e);
            let (title, message) = friendly(&body.error.id, body.error.code, &body.error.reason);
            let status =
                StatusCode::from_u16(body.error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return state
                .views
                .error(status, None, &title, &message, Some((&init, "Start again")));
        }
    };
    // A form to submit carries a CSRF token; a completed verification or recovery flow has
    // none (nothing left to submit), and shows its outcome to whoever holds its id.
    if flow.get("type").and_then(Value::as_str) == Some("browser")
        && let Some(token) = csrf_token_of(&flow)
        && !kratos_axum::cookie::csrf_cookie_vouches_for(&state.kratos, headers, &token)
    {
        return see_other(&init);
    }
    if page.kind == "login" && crate::security::is_step_up(&flow) {
        return crate::security::second_factor_page(state, headers, &flow).await;
    }
    let viewer = match viewer(state, headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut ui = flow.get("ui").cloned().unwrap_or_default();
    let flow_state = flow
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if page.kind == "verification"
        && flow_state == "choose_method"
        && let Some(v) = &viewer
    {
        // Offer the signed-in user's first unverified address (or their email).
        let address = v.nav["unverified"]
            .get(0)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| v.nav["email"].as_str().unwrap_or_default().to_owned());
        prefill_email(&mut ui, &address);
    }
    // Settings right after a recovery: the user is signed in and sets a new password.
    let recovered = page.kind == "settings"
        && viewer.as_ref().is_some_and(|v| {
            v.session
                .authentication_methods
                .last()
                .is_some_and(|m| m.method.ends_with("_recovery"))
        });
    let mut groups: Vec<String> = Vec::new();
    for n in ui
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // A script (a passkey's `webauthn.js`, in the `webauthn` group) is no method of its
        // own: the page loads it once, outside the forms.
        if let Some(g) = n.get("group").and_then(Value::as_str)
            && n.get("type").and_then(Value::as_str) != Some("script")
            && g != "default"
            && !groups.iter().any(|x| x == g)
            // The second factors have a page of their own.
            && !(page.kind == "settings" && crate::security::GROUPS.contains(&g))
        {
            groups.push(g.to_owned());
        }
    }
    let offers = |g: &str| groups.iter().any(|x| x == g);
    let lead = match (page.kind, flow_state.as_str()) {
        ("verification" | "recovery", "passed_challenge") => None,
        ("verification" | "recovery", "sent_email") => Some(match page.method {
            Some(CodeOrLink::Link) => "Open the link in the email we sent you.",
            _ => "Enter the code from the email we sent you.",
        }),
        ("login" | "registration", "sent_email") => {
            Some("Enter the code from the email we sent you.")
        }
        ("login", _) if offers("code") && offers("password") => {
            Some("Welcome back. Sign in with your password, or with a code we email you.")
        }
        ("login", _) if offers("code") => Some("Welcome back. We’ll email you a code to sign in."),
        _ => page.lead,
    };
    // Sign-in and sign-up show their methods in one form; settings one titled form per
    // method, but for the second factors, which have a page of their own (`/security`).
    let typed: Option<UiContainer> = serde_json::from_value(ui.clone()).ok();
    let mut forms = typed
        .as_ref()
        .map(|ui| {
            let aal2 = flow.get("requested_aal").and_then(Value::as_str) == Some("aal2");
            kratos_axum::ui::forms_of(page.flow_kind(), ui, aal2)
        })
        .unwrap_or_default();
    if page.kind == "settings" {
        forms.retain(|f| !crate::security::GROUPS.contains(&f.group.as_str()));
    }
    let heading = match (page.kind, flow.get("refresh").and_then(Value::as_bool)) {
        ("login", Some(true)) => "Confirm it’s you",
        _ => page.heading,
    };
    state.views.page(
        "flow.html",
        json!({
            "title": heading,
            "heading": heading,
            "lead": lead,
            "kind": page.kind,
            "state": flow_state,
            "recovered": recovered,
            "nav": page.nav,
            "viewer": viewer.as_ref().map(|v| &v.nav),
            "ui": ui,
            "forms": forms,
        }),
    )
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

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        // A session waiting for its second factor gets the second-factor form: a new
        // first-factor flow would find the session and send the browser home.
        return match visitor(&state, &headers).await {
            Ok(Visitor::NeedsSecondFactor(_)) => {
                see_other(&crate::security::step_up_url(query.return_to.as_deref()))
            }
            Ok(_) => see_other(&query.init_url("login")),
            Err(r) => r,
        };
    };
    let result = state
        .kratos
        .login()
        .get(id, &flow_context(&state, &headers))
        .await
        .map(|f| serde_json::to_value(f).unwrap_or_default());
    let page = FlowPage {
        kind: "login",
        heading: "Sign in",
        lead: Some("Welcome back. Sign in with your email address and password."),
        nav: "login",
        method: None,
    };
    show_flow(&state, &headers, page, &query, result).await
}

async fn registration_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        return see_other(&query.init_url("registration"));
    };
    let result = state
        .kratos
        .registration()
        .get(id, &flow_context(&state, &headers))
        .await
        .map(|f| serde_json::to_value(f).unwrap_or_default());
    let page = FlowPage {
        kind: "registration",
        heading: "Create your account",
        lead: Some("It takes less than a minute."),
        nav: "registration",
        method: None,
    };
    show_flow(&state, &headers, page, &query, result).await
}

async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        return match visitor(&state, &headers).await {
            Ok(Visitor::NeedsSecondFactor(_)) => see_other(&crate::security::step_up_url(Some(
                &format!("{}/settings", state.base_url),
            ))),
            Ok(_) => see_other(&query.init_url("settings")),
            Err(r) => r,
        };
    };
    let result = state
        .kratos
        .settings()
        .get(id, &flow_context(&state, &headers))
        .await
        .map(|f| serde_json::to_value(f).unwrap_or_default());
    // Kratos sends every settings flow back to this page (its `ui_url`); those of the
    // security page go on there.
    if let Ok(flow) = &result
        && crate::security::started_on_security_page(flow)
    {
        return see_other(&format!("/security?flow={id}"));
    }
    let page = FlowPage {
        kind: "settings",
        heading: "Account settings",
        lead: None,
        nav: "settings",
        method: None,
    };
    show_flow(&state, &headers, page, &query, result).await
}

async fn verification_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        return see_other(&query.init_url("verification"));
    };
    let result = state
        .kratos
        .verification()
        .get(id, &flow_context(&state, &headers))
        .await
        .map(|f| serde_json::to_value(f).unwrap_or_default());
    let method = state
        .kratos
        .config()
        .selfservice
        .flows
        .verification
        .use_method;
    let page = FlowPage {
        kind: "verification",
        heading: "Verify your email address",
        lead: Some(match method {
            CodeOrLink::Code => "We’ll send a code to your address to confirm that it is yours.",
            CodeOrLink::Link => "We’ll send a link to your address to confirm that it is yours.",
        }),
        nav: "verification",
        method: Some(method),
    };
    show_flow(&state, &headers, page, &query, result).await
}

async fn recovery_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        return see_other(&query.init_url("recovery"));
    };
    let result = state
        .kratos
        .recovery()
        .get(id, &flow_context(&state, &headers))
        .await
        .map(|f| serde_json::to_value(f).unwrap_or_default());
    let method = state.kratos.config().selfservice.flows.recovery.use_method;
    let page = FlowPage {
        kind: "recovery",
        heading: "Recover your account",
        lead: Some(match method {
            CodeOrLink::Code => {
                "Enter the email address of your account. We’ll send you a code to sign in \
                 and set a new password."
            }
            CodeOrLink::Link => {
                "Enter the email address of your account. We’ll send you a link to sign in \
                 and set a new password."
            }
        }),
        nav: "recovery",
        method: Some(method),
    };
    show_flow(&state, &headers, page, &query, result).await
}

#[derive(Deserialize)]
struct ErrorQuery {
    id: Option<String>,
}

/// `selfservice.flows.error.ui_url`: errors are shown by id, with a friendly text.
async fn error_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ErrorQuery>,
) -> Response {
    let viewer = viewer(&state, &headers).await.ok().flatten();
    // The error kratos-axum stored when it sent the browser here (`selfservice.flows.error.
    // ui_url?id=`); an unknown id is not found.
    let stored = match query.id.as_deref().map(Uuid::parse_str) {
        Some(Ok(id)) => state.kratos.self_service_errors().get(id).await.ok(),
        _ => None,
    };
    let error = stored
        .map(|s| s.error)
        .unwrap_or_else(|| json!({"id": "not_found", "code": 404}));
    let id = error.get("id").and_then(Value::as_str).unwrap_or_default();
    let code = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500);
    let reason = error
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (title, message) = friendly(id, code, reason);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let restart = if viewer.is_some() {
        ("/", "Home")
    } else {
        ("/login", "Back to sign in")
    };
    state.views.error(
        status,
        viewer.as_ref().map(|v| &v.nav),
        &title,
        &message,
        Some(restart),
    )
}

/// A short description of a user agent: browser and system.
fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return "Unknown device".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => ua.chars().take(60).collect(),
    }
}

/// A timestamp as the pages show it.
pub(crate) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn sessions_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let list = match state
        .kratos
        .sessions()
        .list_for_identity(viewer.identity_id(), true)
        .await
    {
        Ok(l) => l,
        Err(e) => return internal_error(&state, &e.to_string()),
    };
    let others = list.iter().filter(|s| s.id != viewer.session.id).count();
    let sessions: Vec<Value> = list
        .iter()
        .map(|s| {
            let device = s.devices.last();
            json!({
                "id": s.id,
                "current": s.id == viewer.session.id,
                "device": device_name(device.and_then(|d| d.user_agent.as_deref())),
                "ip": device.and_then(|d| d.ip_address.clone()),
                "authenticated_at": when(s.authenticated_at),
                "expires_at": when(s.expires_at),
            })
        })
        .collect();
    let notice = match q.notice.as_deref() {
        Some("revoked") => Some("The session was revoked."),
        Some("revoked-others") => Some("You were signed out everywhere else."),
        _ => None,
    };
    state.views.page(
        "sessions.html",
        json!({
            "title": "Sessions",
            "nav": "sessions",
            "viewer": viewer.nav,
            "sessions": sessions,
            "others": others,
            "notice": notice,
        }),
    )
}

async fn revoke_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let not_found = || {
        state.views.error(
            StatusCode::NOT_FOUND,
            Some(&viewer.nav),
            "Session not found",
            "This session does not exist or was already revoked.",
            Some(("/account/sessions", "Back to sessions")),
        )
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found();
    };
    if id == viewer.session.id {
        return state.views.error(
            StatusCode::BAD_REQUEST,
            Some(&viewer.nav),
            "This is your current session",
            "Use “Sign out” to end the session of this browser.",
            Some(("/account/sessions", "Back to sessions")),
        );
    }
    match state.kratos.sessions().get(id).await {
        Ok(s) if s.identity_id == viewer.identity_id() => {}
        Ok(_) | Err(SessionError::NotFound) => return not_found(),
        Err(e) => return internal_error(&state, &e.to_string()),
    }
    if let Err(e) = state.kratos.sessions().revoke(id).await {
        return internal_error(&state, &e.to_string());
    }
    see_other("/account/sessions?notice=revoked")
}

async fn revoke_other_sessions(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(e) = state.kratos.sessions().revoke_others(&viewer.token).await {
        return internal_error(&state, &e.to_string());
    }
    see_other("/account/sessions?notice=revoked-others")
}
