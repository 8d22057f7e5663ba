//! Self-service flows as explicit state machines the host app drives.
//!
//! A flow is a record (id, type, state, expiry, request URL, CSRF token, UI) persisted in the
//! store; `create_*` returns it with its UI, `submit` takes the method's payload and returns
//! either the flow again (with messages on its nodes) or the outcome (identity, session,
//! `continue_with`). Expired flows answer with Kratos's error and the id of a fresh flow.

pub mod link;
pub mod login;
pub mod logout;
pub mod recovery;
pub mod registration;
pub mod settings;
pub mod token_exchange;
pub mod ui;
pub mod verification;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::KratosError;
use crate::session::{ClientInfo, SessionError};
use crate::store::StoreError;

/// `browser` or `api`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowType {
    /// A browser (cookies, CSRF, redirects).
    Browser,
    /// A native app or API client (session tokens, no CSRF).
    Api,
}

impl FlowType {
    /// `browser` or `api`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FlowType::Browser => "browser",
            FlowType::Api => "api",
        }
    }
}

/// Where a flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Waiting for the user to choose and submit a method.
    ChooseMethod,
    /// A code or link was sent.
    SentEmail,
    /// Completed.
    PassedChallenge,
    /// Settings: the form is shown.
    ShowForm,
    /// Settings: saved.
    Success,
    /// Recovery "v2" (`feature_flags.choose_recovery_address`): waiting for any recovery
    /// address of the account.
    RecoveryAwaitingAddress,
    /// Recovery v2: the account has several recovery addresses; waiting for the user to pick
    /// the one (shown masked) to send the code to.
    RecoveryAwaitingAddressChoice,
    /// Recovery v2: waiting for the picked address in full (Kratos's
    /// `recovery_confirming_address`).
    #[serde(rename = "recovery_confirming_address")]
    RecoveryConfirmingAddress,
    /// Recovery v2: a code was sent; waiting for it.
    RecoveryAwaitingCode,
}

impl FlowState {
    /// Whether the state is one of recovery "v2" (Kratos's `IsStateRecoveryV2`: the
    /// `recovery_` states). A recovery flow created in v2 stays in those states until it
    /// passes the challenge, whatever the configuration says meanwhile.
    pub fn is_recovery_v2(&self) -> bool {
        matches!(
            self,
            FlowState::RecoveryAwaitingAddress
                | FlowState::RecoveryAwaitingAddressChoice
                | FlowState::RecoveryConfirmingAddress
                | FlowState::RecoveryAwaitingCode
        )
    }
}

/// The kinds of flow the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowKind {
    /// Login.
    Login,
    /// Registration.
    Registration,
    /// Settings.
    Settings,
    /// Verification.
    Verification,
    /// Recovery.
    Recovery,
}

impl FlowKind {
    /// The name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::Registration => "registration",
            FlowKind::Settings => "settings",
            FlowKind::Verification => "verification",
            FlowKind::Recovery => "recovery",
        }
    }
}

/// A flow as stored: its JSON document and, apart from it, its CSRF token.
#[derive(Clone, PartialEq)]
pub struct StoredFlow {
    /// The flow id.
    pub id: Uuid,
    /// Its kind.
    pub kind: FlowKind,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The CSRF token (empty for api flows).
    pub csrf_token: String,
    /// The flow in its wire shape.
    pub document: FlowDocument,
}

/// A flow's document: the text of one JSON value, checked once when made.
///
/// Flows are written and read whole, so stores keep them as text: a flow is serialised
/// straight to the text the store binds, and the text a store reads is parsed straight into
/// the flow, with no [`Value`] tree between (building, cloning and dropping those trees was
/// about half of a password login's work outside the hash).
///
/// Two documents are equal when they hold the same JSON value, whatever their formatting and
/// key order: PostgreSQL's `jsonb` hands back its own. Numbers compare as serde_json reads
/// them, so `1e3` and `1000` (a float and an integer) differ. `Debug` shows the length only,
/// as a document may hold a user's traits.
#[derive(Clone)]
pub struct FlowDocument(Box<serde_json::value::RawValue>);

impl FlowDocument {
    /// Serialises `value`.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// Takes JSON text as a store read it; fails when it is not one JSON value.
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(Self)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parses the document as `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl PartialEq for FlowDocument {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
            || matches!(
                (self.decode::<Value>(), other.decode::<Value>()),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

impl std::fmt::Debug for FlowDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlowDocument({} bytes)", self.as_str().len())
    }
}

impl std::fmt::Debug for StoredFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredFlow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What the client should do after a successful flow (Kratos's `continue_with`).
///
/// It serialises as Kratos's wire shape, session token included (that is how an api client
/// receives it); `Debug` shows `ory_st_<redacted>` in its place.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ContinueWith {
    /// Store this session token (api flows).
    SetOrySessionToken {
        /// The token.
        ory_session_token: String,
    },
    /// Send the browser here.
    RedirectBrowserTo {
        /// The URL.
        redirect_browser_to: String,
    },
    /// Show this settings flow (after a recovery).
    ShowSettingsUi {
        /// The flow.
        flow: ContinueWithFlow,
    },
    /// Show this verification flow (after a registration or an address change).
    ShowVerificationUi {
        /// The flow.
        flow: ContinueWithFlow,
    },
}

/// The flow a `continue_with` action points to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinueWithFlow {
    /// The flow id.
    pub id: Uuid,
    /// The address being verified (`show_verification_ui`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifiable_address: Option<String>,
    /// Where the flow's UI is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl std::fmt::Debug for ContinueWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContinueWith::SetOrySessionToken { .. } => f
                .debug_struct("SetOrySessionToken")
                .field("ory_session_token", &REDACTED_SESSION_TOKEN)
                .finish(),
            ContinueWith::RedirectBrowserTo {
                redirect_browser_to,
            } => f
                .debug_struct("RedirectBrowserTo")
                .field("redirect_browser_to", redirect_browser_to)
                .finish(),
            ContinueWith::ShowSettingsUi { flow } => f
                .debug_struct("ShowSettingsUi")
                .field("flow", flow)
                .finish(),
            ContinueWith::ShowVerificationUi { flow } => f
                .debug_struct("ShowVerificationUi")
                .field("flow", flow)
                .finish(),
        }
    }
}

/// What `Debug` shows for a session token.
const REDACTED_SESSION_TOKEN: &str = "ory_st_<redacted>";

/// The request context of a flow call: what the HTTP layer knows about the client.
///
/// `Debug` shows whether a session token was presented, never the token.
#[derive(Clone, Default)]
pub struct FlowContext {
    /// The URL the flow was requested with (its `return_to` query is honoured).
    pub request_url: Option<String>,
    /// The session token the client presented, if any.
    pub session_token: Option<String>,
    /// The client's address and user agent.
    pub client: ClientInfo,
}

impl std::fmt::Debug for FlowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowContext")
            .field(
                "request_url",
                &self.request_url.as_deref().map(crate::config::redact_url),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| REDACTED_SESSION_TOKEN),
            )
            .field("client", &self.client)
            .finish()
    }
}

/// How the transport admits a submission to a flow, once the engine has loaded it: the
/// flow is read once, by the engine, and the checks that need the stored flow but belong
/// to the transport (a browser flow's CSRF cookie, refusing browsers on api flows, which
/// session a flow of that type sees) run in between.
///
/// A [`FlowContext`] admits every submission as it is (the in-process host has no
/// transport to check); kratos-axum admits HTTP requests.
pub trait Admission: Send + Sync {
    /// The request as known before the flow is loaded: its URL and client (the reads a
    /// strategy makes with the flow load see this).
    fn request(&self) -> &FlowContext;

    /// Admits a submission to the loaded flow, or refuses it (typically
    /// [`FlowError::CsrfViolation`], or [`FlowError::BadRequest`] for a browser on an api
    /// flow), and answers the request as a flow of this type sees it.
    fn admit(&self, flow: AdmittedFlow<'_>) -> Result<&FlowContext, FlowError>;

    /// Types the form-encoded values of a payload after the identity schema `schema_id`,
    /// once the engine knows whose flow it is (a settings flow's traits). Default: the
    /// payload stays as sent.
    fn type_form_values(&self, _schema_id: &str, _payload: &mut Value) {}

    /// Whether the transport vouches for a CSRF token the submission carries, before the
    /// flow is loaded (a browser flow's cookie was issued for it). Reads made with the flow
    /// load count a login attempt only for a vouched token (or a flow without one), so a
    /// submission refused for CSRF counts nothing. Default: yes (the engine still compares
    /// the token with the flow's own).
    fn csrf_vouched(&self, _token: &str) -> bool {
        true
    }

    /// Whether the transport would refuse the submission on an api flow (a browser's
    /// request). Reads made with the flow load count a login attempt on an api flow only
    /// when it would not. Default: no.
    fn refuses_api_flows(&self) -> bool {
        false
    }

    /// Whether the request follows a link from a message, the secret in its URL (a
    /// verification code link): it needs no CSRF token, the secret proves it. Default: no.
    fn follows_link(&self) -> bool {
        false
    }
}

/// What [`Admission::admit`] is told of the loaded flow. `Debug` does not show the token.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct AdmittedFlow<'a> {
    /// `browser` or `api`.
    pub flow_type: FlowType,
    /// The flow's CSRF token (empty on api flows).
    pub csrf_token: &'a str,
    /// The submission needs no CSRF token: a followed link (its token proves it), or a
    /// flow the admin API made for a browser that never saw its form.
    pub csrf_exempt: bool,
}

impl<'a> AdmittedFlow<'a> {
    /// A flow of `flow_type` with `csrf_token`.
    pub fn new(flow_type: FlowType, csrf_token: &'a str, csrf_exempt: bool) -> Self {
        Self {
            flow_type,
            csrf_token,
            csrf_exempt,
        }
    }
}

impl std::fmt::Debug for AdmittedFlow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmittedFlow")
            .field("flow_type", &self.flow_type)
            .field("csrf_exempt", &self.csrf_exempt)
            .finish_non_exhaustive()
    }
}

impl Admission for FlowContext {
    fn request(&self) -> &FlowContext {
        self
    }

    fn admit(&self, _flow: AdmittedFlow<'_>) -> Result<&FlowContext, FlowError> {
        Ok(self)
    }
}

/// Why a flow call failed (as opposed to a submission with validation messages, which
/// returns the flow).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// No such flow.
    #[error("Unable to locate the resource")]
    NotFound,
    /// The flow expired; continue with `use_flow_id`.
    #[error("The self-service flow expired {minutes:.2} minutes ago, initialize a new one.")]
    Expired {
        /// A fresh flow to continue with.
        use_flow_id: Uuid,
        /// When the old one expired.
        expired_at: DateTime<Utc>,
        /// Minutes since it expired.
        minutes: f64,
    },
    /// The CSRF token is missing or wrong.
    #[error("A security violation was detected, please fill out the form again.")]
    CsrfViolation,
    /// `return_to` points somewhere not allowed.
    #[error("Requested return_to URL `{0}` is not allowed.")]
    ReturnToForbidden(String),
    /// A session exists already.
    #[error("A valid session was detected and thus registration or login is not possible.")]
    SessionAlreadyAvailable,
    /// Step-up to aal2 needs a session first.
    #[error("You can not requested a higher AAL (AAL2/AAL3) without an active session.")]
    Aal1Required,
    /// The identity is disabled.
    #[error("The account is disabled.")]
    IdentityDisabled,
    /// Too many failed logins: sign-in is locked for a while.
    #[error("Too many failed sign-in attempts. Try again after {until}.")]
    LoginLocked {
        /// When the lock ends.
        until: DateTime<Utc>,
    },
    /// The flow is of another type (api vs browser) or kind.
    #[error("{0}")]
    BadRequest(String),
    /// The flow was already completed.
    #[error("The flow has already been completed.")]
    AlreadyCompleted,
    /// The request carries no active session.
    #[error("No valid session credentials found in the request.")]
    NoActiveSession,
    /// A logout token that belongs to no active session.
    #[error(
        "Unable to log out because the logout token in the URL query does not match an active session."
    )]
    LogoutTokenInvalid,
    /// A session token that belongs to no session.
    #[error(
        "The provided Ory Session Token could not be found, is invalid, or otherwise malformed."
    )]
    SessionTokenInvalid,
    /// The flow belongs to another identity than the session's.
    #[error("The requested resource does not belong to this identity.")]
    IdentityMismatch,
    /// The change needs a recent sign-in; re-authenticate at `redirect_browser_to`.
    #[error(
        "The login session is too old and thus not allowed to update these fields. Please re-authenticate."
    )]
    RefreshRequired {
        /// The login URL that re-authenticates and comes back.
        redirect_browser_to: String,
    },
    /// A method continues elsewhere (a provider's page): browsers are sent to
    /// `redirect_browser_to`, other clients get 422 with it.
    #[error("In order to complete this flow please redirect the browser to: {redirect_browser_to}")]
    BrowserLocationChangeRequired {
        /// Where the browser goes.
        redirect_browser_to: String,
    },
    /// A submission continues in another flow its method made (a social sign-up that found
    /// an existing account continues in a login flow that links the provider to it):
    /// browsers are sent to `redirect_browser_to`, JSON clients get 400 with `flow`, as
    /// Kratos answers.
    #[error("The flow continues in another flow: {redirect_browser_to}")]
    ContinuedInFlow {
        /// Where the browser goes (the other flow's UI).
        redirect_browser_to: String,
        /// The other flow, as its API shows it.
        flow: Box<serde_json::Value>,
    },
    /// The session must reach aal2 first.
    #[error("Session does not fulfill the requested Authenticator Assurance Level")]
    Aal2Required,
    /// A hook refused to create the flow.
    #[error("The request was refused: {}", .0.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join(" "))]
    Refused(Vec<ui::UiText>),
    /// A `web_hook` failed or answered with an error.
    #[error("A web hook failed: {0}")]
    WebHook(String),
    /// The flow is disabled in the configuration.
    #[error(
        "This endpoint was disabled by system administrator. Please check your url or contact the system administrator to enable it."
    )]
    Disabled,
    /// A sign-in provider's step failed (the `oidc` method): an unknown provider, a
    /// callback whose state does not fit, a code the provider refused, an ID token that does
    /// not verify, a claims mapper that fails. `reason` is Kratos's wording and quotes no
    /// token or claim value.
    #[error("{reason}")]
    Provider {
        /// What kind of failure (its status and error id).
        kind: ProviderFailure,
        /// Kratos's reason.
        reason: String,
    },
    /// Storage failed.
    #[error("A storage error occurred.")]
    Store(#[source] StoreError),
    /// Something else failed.
    #[error("An internal error occurred: {0}")]
    Internal(String),
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => FlowError::NotFound,
            other => FlowError::Store(other),
        }
    }
}

impl From<SessionError> for FlowError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(s) => FlowError::Store(s),
            SessionError::Inactive => FlowError::IdentityDisabled,
            SessionError::Aal2Required => FlowError::Aal2Required,
            other => FlowError::Internal(other.to_string()),
        }
    }
}

/// What a flow continuing another one takes over from it
/// (`LoginFlows::create_continuing`, `RegistrationFlows::create_continuing`).
pub(crate) struct Seed {
    /// The CSRF token of the flow it continues.
    pub(crate) csrf: String,
    /// That flow's `return_to`.
    pub(crate) return_to: Option<String>,
    /// The method's state.
    pub(crate) internal: crate::strategy::InternalContext,
}

/// The kind of a sign-in provider's failure, as Kratos answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderFailure {
    /// 400 `bad_request`: a callback without state, with a state that does not fit, or the
    /// provider's own error.
    BadRequest,
    /// 404 `not_found`: an unknown provider.
    NotFound,
    /// 403 `forbidden`: an ID token that does not verify.
    Forbidden,
    /// 502 `bad_gateway`: the provider failed (unreachable, refused the code).
    Upstream,
    /// 500 `internal_server_error`: the provider or its mapper is misconfigured.
    Misconfigured,
}

impl KratosError for FlowError {
    fn id(&self) -> &'static str {
        match self {
            FlowError::NotFound => "not_found",
            FlowError::Expired { .. } => "self_service_flow_expired",
            FlowError::CsrfViolation => "security_csrf_violation",
            FlowError::ReturnToForbidden(_) => "self_service_flow_return_to_forbidden",
            FlowError::SessionAlreadyAvailable => "session_already_available",
            FlowError::Aal1Required => "session_aal1_required",
            FlowError::IdentityDisabled => "identity_disabled",
            FlowError::LoginLocked { .. } => "self_service_login_locked",
            FlowError::NoActiveSession => "session_inactive",
            FlowError::IdentityMismatch => "security_identity_mismatch",
            FlowError::RefreshRequired { .. } => "session_refresh_required",
            FlowError::Aal2Required => "session_aal2_required",
            FlowError::BrowserLocationChangeRequired { .. } => "browser_location_change_required",
            FlowError::WebHook(_) => "bad_gateway",
            FlowError::Refused(_) => "self_service_flow_refused",
            FlowError::LogoutTokenInvalid | FlowError::SessionTokenInvalid => "forbidden",
            FlowError::BadRequest(_)
            | FlowError::AlreadyCompleted
            | FlowError::ContinuedInFlow { .. } => "bad_request",
            FlowError::Disabled => "self_service_flow_disabled",
            FlowError::Store(_) | FlowError::Internal(_) => "internal_server_error",
            FlowError::Provider { kind, .. } => match kind {
                ProviderFailure::BadRequest => "bad_request",
                ProviderFailure::NotFound => "not_found",
                ProviderFailure::Forbidden => "forbidden",
                ProviderFailure::Upstream => "bad_gateway",
                ProviderFailure::Misconfigured => "internal_server_error",
            },
        }
    }

    fn status(&self) -> u16 {
        match self {
            FlowError::NotFound => 404,
            FlowError::Expired { .. } => 410,
            FlowError::CsrfViolation => 403,
            FlowError::ReturnToForbidden(_)
            | FlowError::Refused(_)
            | FlowError::SessionAlreadyAvailable
            | FlowError::BadRequest(_)
            | FlowError::AlreadyCompleted
            | FlowError::ContinuedInFlow { .. }
            | FlowError::Disabled => 400,
            FlowError::Aal1Required | FlowError::IdentityDisabled | FlowError::NoActiveSession => {
                401
            }
            FlowError::LogoutTokenInvalid
            | FlowError::SessionTokenInvalid
            | FlowError::IdentityMismatch
            | FlowError::RefreshRequired { .. }
            | FlowError::Aal2Required => 403,
            FlowError::WebHook(_) => 502,
            FlowError::BrowserLocationChangeRequired { .. } => 422,
            FlowError::LoginLocked { .. } => 429,
            FlowError::Store(_) | FlowError::Internal(_) => 500,
            FlowError::Provider { kind, .. } => match kind {
                ProviderFailure::BadRequest => 400,
                ProviderFailure::NotFound => 404,
                ProviderFailure::Forbidden => 403,
                ProviderFailure::Upstream => 502,
                ProviderFailure::Misconfigured => 500,
            },
        }
    }

    fn to_body(&self) -> crate::error::ErrorBody {
        let code = self.status();
        let mut details = serde_json::json!({});
        if let FlowError::Expired {
            use_flow_id,
            expired_at,
            ..
        } = self
        {
            details = serde_json::json!({ "use_flow_id": use_flow_id, "expired_at": expired_at });
        }
        if let FlowError::RefreshRequired {
            redirect_browser_to,
        }
        | FlowError::BrowserLocationChangeRequired {
            redirect_browser_to,
        } = self
        {
            details = serde_json::json!({ "redirect_browser_to": redirect_browser_to });
        }
        if let FlowError::Refused(messages) = self {
            details = serde_json::json!({ "messages": messages });
        }
        if let FlowError::LoginLocked { until } = self {
            details = serde_json::json!({ "locked_until": until });
        }
        crate::error::ErrorBody {
            error: crate::error::GenericError {
                id: self.id().to_owned(),
                code,
                status: crate::error::status_text(code).to_owned(),
                reason: self.to_string(),
                message: self.to_string(),
                details,
            },
        }
    }
}

/// A flow as the store keeps it: its JSON document beside its CSRF token.
pub(crate) fn stored_flow<T: Serialize>(
    kind: FlowKind,
    id: Uuid,
    expires_at: DateTime<Utc>,
    csrf: &str,
    flow: &T,
) -> Result<StoredFlow, FlowError> {
    Ok(StoredFlow {
        id,
        kind,
        expires_at,
        csrf_token: csrf.to_owned(),
        document: FlowDocument::of(flow).map_err(|e| FlowError::Internal(e.to_string()))?,
    })
}

/// Stores a flow (insert when `new`, else update) as its JSON document beside its CSRF token.
pub(crate) async fn save_flow<T: Serialize>(
    kratos: &crate::Kratos,
    kind: FlowKind,
    id: Uuid,
    expires_at: DateTime<Utc>,
    csrf: &str,
    flow: &T,
    new: bool,
) -> Result<(), FlowError> {
    let stored = stored_flow(kind, id, expires_at, csrf, flow)?;
    if new {
        kratos.store().insert_flow(kratos.nid(), &stored).await?;
    } else {
        kratos.store().update_flow(kratos.nid(), &stored).await?;
    }
    Ok(())
}

/// Loads a flow of a kind with its CSRF token and its methods' internal state.
pub(crate) async fn load_with_internal<T: serde::de::DeserializeOwned + HasInternal>(
    kratos: &crate::Kratos,
    kind: FlowKind,
    id: Uuid,
) -> Result<(T, String), FlowError> {
    let stored = kratos.store().get_flow(kratos.nid(), kind, id).await?;
    decode_with_internal(stored)
}

/// A stored flow's document decoded, with its CSRF token and the methods' internal state.
pub(crate) fn decode_with_internal<T: serde::de::DeserializeOwned + HasInternal>(
    stored: StoredFlow,
) -> Result<(T, String), FlowError> {
    let mut flow: T = stored
        .document
        .decode()
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    // Most flows keep no internal state: the document is read a second time only when it
    // holds some.
    if stored.document.as_str().contains("\"internal_context\"") {
        #[derive(serde::Deserialize)]
        struct Internal {
            #[serde(default)]
            internal_context: crate::strategy::InternalContext,
        }
        let internal: Internal = stored
            .document
            .decode()
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        *flow.internal_mut() = internal.internal_context;
    }
    Ok((flow, stored.csrf_token))
}

/// A flow with the methods' internal state, which its document keeps under
/// `internal_context` and its wire shape leaves out.
pub(crate) trait HasInternal {
    /// The state.
    fn internal_mut(&mut self) -> &mut crate::strategy::InternalContext;
}

/// A flow serialised with its internal state, as the store keeps it.
#[derive(Serialize)]
pub(crate) struct WithInternal<'a, T: Serialize> {
    #[serde(flatten)]
    flow: &'a T,
    #[serde(skip_serializing_if = "crate::strategy::InternalContext::is_empty")]
    internal_context: &'a crate::strategy::InternalContext,
}

impl<'a, T: Serialize> WithInternal<'a, T> {
    /// `flow` with `internal`.
    pub(crate) fn new(flow: &'a T, internal: &'a crate::strategy::InternalContext) -> Self {
        Self {
            flow,
            internal_context: internal,
        }
    }
}

/// What a successful flow tells the client to do: store the session token (api flows) or go
/// to the return URL (browser flows).
pub(crate) fn continue_with(
    kratos: &crate::Kratos,
    flow_type: FlowType,
    token: Option<&crate::session::SessionToken>,
    return_to: Option<&str>,
) -> Vec<ContinueWith> {
    match flow_type {
        FlowType::Api => token
            .map(|t| ContinueWith::SetOrySessionToken {
                ory_session_token: t.expose().to_owned(),
            })
            .into_iter()
            .collect(),
        FlowType::Browser => vec![ContinueWith::RedirectBrowserTo {
            redirect_browser_to: return_to
                .map(str::to_owned)
                .unwrap_or_else(|| kratos.default_return_url()),
        }],
    }
}

/// The error of a completion the store refused as not found, from the state the flow is
/// stored in now (`None` when it is gone): completed meanwhile by a concurrent submission
/// ([`FlowError::AlreadyCompleted`], as a later submission gets), or not found.
pub(crate) fn completion_refused(state: Option<FlowState>) -> FlowError {
    match state {
        Some(FlowState::PassedChallenge) => FlowError::AlreadyCompleted,
        _ => crate::store::StoreError::NotFound.into(),
    }
}

/// A fresh CSRF token: 32 random bytes, base64url.
pub(crate) fn new_csrf_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares the submitted CSRF token with the flow's in constant time.
pub(crate) fn csrf_matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(g) if !expected.is_empty() => bool::from(expected.as_bytes().ct_eq(g.as_bytes())),
        _ => false,
    }
}

/// Resolves and checks a `return_to` against the allow-list (Kratos's rules: same scheme, same
/// host or a `*.` wildcard host, and the allowed path as prefix). Relative URLs resolve against
/// the default return URL. `None` when no `return_to` was asked for.
pub fn check_return_to(
    candidate: &str,
    default_url: &str,
    allowed: &[String],
) -> Result<String, FlowError> {
    let forbidden = || FlowError::ReturnToForbidden(candidate.to_owned());
    let base = url::Url::parse(default_url).map_err(|_| forbidden())?;
    let target = base.join(candidate).map_err(|_| forbidden())?;
    let ok = std::iter::once(default_url)
        .chain(allowed.iter().map(String::as_str))
        .filter_map(|a| url::Url::parse(a).ok())
        .any(|a| {
            let host_ok = match (a.host_str(), target.host_str()) {
                (Some(ah), Some(th)) => {
                    let (ah, th) = (ah.to_ascii_lowercase(), th.to_ascii_lowercase());
                    match ah.strip_prefix("*.") {
                        Some(suffix) => th.ends_with(&format!(".{suffix}")),
                        None => ah == th,
                    }
                }
                _ => false,
            };
            a.scheme().eq_ignore_ascii_case(target.scheme())
                && host_ok
                && a.port_or_known_default() == target.port_or_known_default()
                && target.path().starts_with(a.path())
        });
    if ok {
        Ok(target.to_string())
    } else {
        Err(forbidden())
    }
}

/// The `return_to` query parameter of a request URL.
pub(crate) fn return_to_of(request_url: Option<&str>) -> Option<String> {
    let url = url::Url::parse(request_url?).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_documents_compare_as_json_values_and_hide_their_text() {
        let written =
            FlowDocument::of(&serde_json::json!({"state": "choose_method", "type": "api"}))
                .expect("serialises");
        // As PostgreSQL's jsonb hands it back: its own key order and spacing.
        let read = FlowDocument::from_json(r#"{"type": "api", "state": "choose_method"}"#.into())
            .expect("one JSON value");
        assert_eq!(written, read);
        let other = FlowDocument::from_json(r#"{"type": "api", "state": "sent_email"}"#.into())
            .expect("one JSON value");
        assert_ne!(written, other);
        let decoded: Value = read.decode().expect("decodes");
        assert_eq!(decoded["state"], "choose_method");
        assert!(FlowDocument::from_json("{\"state\": ".into()).is_err());
        assert!(FlowDocument::from_json("{} {}".into()).is_err());
        let debug = format!("{read:?}");
        assert!(!debug.contains("choose_method"), "{debug}");
    }

    #[test]
    fn return_to_follows_the_allow_list() {
        let allowed = vec![
            "https://app.example.com/dashboard".to_owned(),
            "https://*.example.org/".to_owned(),
        ];
        let d = "https://app.example.com/";
        assert_eq!(
            check_return_to("https://app.example.com/dashboard/x", d, &allowed).unwrap(),
            "https://app.example.com/dashboard/x"
        );
        assert_eq!(
            check_return_to("/settings", d, &allowed).unwrap(),
            "https://app.example.com/settings"
        );
        assert!(check_return_to("https://a.b.example.org/x", d, &allowed).is_ok());
        assert!(check_return_to("https://example.org/x", d, &allowed).is_err());
        assert!(
            check_return_to("http://app.example.com/dashboard", d, &allowed).is_err(),
            "scheme"
        );
        assert!(check_return_to("https://evil.com/dashboard", d, &allowed).is_err());
        assert!(
            check_return_to("//evil.com/", d, &allowed).is_err(),
            "protocol-relative"
        );
        assert!(check_return_to("https://app.example.com.evil.com/", d, &allowed).is_err());
        let e = check_return_to("https://evil.com", d, &allowed).unwrap_err();
        assert_eq!(e.id(), "self_service_flow_return_to_forbidden");
    }

    #[test]
    fn csrf_compares_exactly() {
        let t = new_csrf_token();
        assert!(csrf_matches(&t, Some(&t)));
        assert!(!csrf_matches(&t, Some("x")));
        assert!(!csrf_matches(&t, None));
        assert!(!csrf_matches("", Some("")));
    }

    #[test]
    fn continue_with_debug_hides_the_session_token() {
        let token = "ory_st_continuewithsecret0123456789abcdef";
        let c = ContinueWith::SetOrySessionToken {
            ory_session_token: token.into(),
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains(&token[7..]), "{debug}");
        assert!(debug.contains("SetOrySessionToken"), "{debug}");
        // The wire shape still carries it: that is how an api client receives it.
        assert_eq!(
            serde_json::to_value(&c).unwrap()["ory_session_token"],
            token
        );
        let redirect = ContinueWith::RedirectBrowserTo {
            redirect_browser_to: "https://app.example.com/".into(),
        };
        assert!(format!("{redirect:?}").contains("https://app.example.com/"));
    }

    #[test]
    fn flow_context_debug_hides_the_session_token() {
        let token = "ory_st_flowcontextsecret0123456789abcdef";
        let ctx = FlowContext {
            request_url: Some("https://app.example.com/self-service/login/api".into()),
            session_token: Some(token.into()),
            client: ClientInfo {
                ip_address: Some("192.0.2.1".into()),
                user_agent: None,
            },
        };
        let debug = format!("{ctx:?}");
        assert!(!debug.contains(&token[7..]), "{debug}");
        assert!(debug.contains("192.0.2.1") && debug.contains("session_token: Some"));
        // A followed verification or recovery link carries its one-time token in the URL.
        let link = FlowContext {
            request_url: Some(
                "https://auth.example.com/self-service/recovery?flow=f&token=linktokensecret42"
                    .into(),
            ),
            ..FlowContext::default()
        };
        let debug = format!("{link:?}");
        assert!(!debug.contains("linktokensecret42"), "{debug}");
        assert!(debug.contains("flow=f"), "{debug}");
    }
}
