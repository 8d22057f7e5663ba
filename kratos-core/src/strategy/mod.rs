//! Credential strategies: how each sign-in method checks, stores and renders its credentials.
//!
//! A method is one module behind the strategy traits of the flows it takes part in, as
//! Kratos's strategies are: [`LoginStrategy`], [`RegistrationStrategy`] and
//! [`SettingsStrategy`], and for the address-proving flows [`recovery::RecoveryStrategy`]
//! and [`verification::VerificationStrategy`]. A strategy builds its own UI nodes, parses only its own payload and
//! answers with an outcome (not mine, again with messages, redirect, or done); the flow
//! engines (`crate::flow`) keep everything that is the same for every method: loading,
//! expiry, CSRF, hooks, the session and the one completing write. The engines name no
//! method.
//!
//! The methods of a registry form a [`Methods`] value, a struct of trait objects built from
//! the configuration ([`Methods::from_config`]) to which a host app adds its own
//! ([`crate::KratosBuilder::login_method`] and friends).
//!
//! # Adding a method
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use kratos_core::flow::FlowError;
//! use kratos_core::flow::ui::{InputType, NodeGroup, UiNode};
//! use kratos_core::strategy::{
//!     Factor, LoginCx, LoginOutcome, LoginStrategy, Method, PopulateCx,
//! };
//!
//! /// A method that never signs anyone in: it only shows a button.
//! struct Nope;
//!
//! #[async_trait]
//! impl LoginStrategy for Nope {
//!     fn method(&self) -> Method {
//!         Method::custom("nope")
//!     }
//!     fn factor(&self) -> Factor {
//!         Factor::First
//!     }
//!     fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
//!         cx.ui.nodes.push(
//!             UiNode::input(NodeGroup::custom("nope"), "method", InputType::Submit)
//!                 .value(serde_json::json!("nope")),
//!         );
//!         Ok(())
//!     }
//!     async fn submit(&self, _cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
//!         Ok(LoginOutcome::NotMine)
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = kratos_core::config::Config::from_yaml_str(
//!     "secrets:\n  default: [\"change-me-to-a-long-random-value\"]\n\
//!      selfservice: {methods: {password: {config: {haveibeenpwned_enabled: false}}}}\n",
//! )?;
//! let schema = kratos_core::identity::IdentitySchema::from_value(
//!     "default",
//!     serde_json::json!({"properties": {"traits": {"type": "object", "properties": {
//!         "email": {"type": "string", "format": "email"}
//!     }}}}),
//! )?;
//! let kratos = kratos_core::Kratos::builder(config)
//!     .schema(schema)
//!     .login_method(Arc::new(Nope))
//!     .build()?;
//! assert!(kratos.methods().login(&Method::custom("nope")).is_some());
//! # Ok(())
//! # }
//! ```

use std::any::Any;
use std::borrow::Cow;
use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::flow::login::LoginFlow;
use crate::flow::registration::RegistrationFlow;
use crate::flow::settings::SettingsFlow;
use crate::flow::ui::UiContainer;
use crate::flow::{FlowContext, FlowError, FlowType};
use crate::identity::UpdateIdentityBody;
use crate::identity::{AddressImport, Identity, IdentitySchema, ImportCredentials};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod, Session};

pub(crate) mod code;
pub mod lookup_secret;
#[cfg(feature = "oidc")]
pub mod oidc;
#[cfg(feature = "webauthn")]
pub mod passkey;
pub mod password;
pub(crate) mod profile;
pub mod recovery;
mod registry;
pub(crate) mod sent_secret;
pub mod totp;
pub mod verification;
#[cfg(feature = "webauthn")]
pub mod webauthn;

pub use registry::Methods;
pub(crate) use registry::configured_on;

/// A method's name, as Kratos spells it in `method` fields, UI groups and a session's
/// `authentication_methods`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `password`
    Password,
    /// `code`: one-time codes sent to an address.
    Code,
    /// `link`: links sent to an address (recovery and verification).
    Link,
    /// `profile`: the traits (registration's first step, settings).
    Profile,
    /// `totp`: time-based one-time passwords.
    Totp,
    /// `lookup_secret`: backup codes.
    LookupSecret,
    /// `webauthn`
    Webauthn,
    /// `passkey`
    Passkey,
    /// `oidc`: social sign-in.
    Oidc,
    /// A method a host app registered, by its name.
    Custom(Cow<'static, str>),
}

impl Method {
    /// A host app's method named `name`.
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        match Self::parse(&name) {
            Some(known) => known,
            None => Method::Custom(name),
        }
    }

    /// The method Kratos names `name`, if it is one of Kratos's.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "password" => Method::Password,
            "code" => Method::Code,
            "link" => Method::Link,
            "profile" => Method::Profile,
            "totp" => Method::Totp,
            "lookup_secret" => Method::LookupSecret,
            "webauthn" => Method::Webauthn,
            "passkey" => Method::Passkey,
            "oidc" => Method::Oidc,
            _ => return None,
        })
    }

    /// The name as Kratos spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Password => "password",
            Method::Code => "code",
            Method::Link => "link",
            Method::Profile => "profile",
            Method::Totp => "totp",
            Method::LookupSecret => "lookup_secret",
            Method::Webauthn => "webauthn",
            Method::Passkey => "passkey",
            Method::Oidc => "oidc",
            Method::Custom(name) => name,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which step of a login a strategy serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// The first factor: it signs in on its own (aal1).
    First,
    /// A second factor: it raises an existing session to aal2.
    Second,
    /// Either, depending on the flow (the one-time code: passwordless sign-in, or a second
    /// factor with `mfa_enabled`).
    Both,
}

impl Factor {
    /// Whether the strategy serves a flow asking for `aal`.
    pub fn serves(self, aal: Aal) -> bool {
        matches!(
            (self, aal),
            (Factor::Both, _)
                | (Factor::First, Aal::Aal0 | Aal::Aal1)
                | (Factor::Second, Aal::Aal2)
        )
    }
}

/// What a strategy reads to build its nodes for a new flow (login, registration).
pub struct PopulateCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// `browser` or `api`.
    pub flow_type: FlowType,
    /// The form to add nodes to (the CSRF node is there already on browser flows).
    pub ui: &'a mut UiContainer,
    /// The session being refreshed or stepped up, with its identity, if any.
    pub session: Option<&'a Session>,
    /// The identity of that session with its credentials (refresh and step-up flows).
    pub identity: Option<&'a Identity>,
    /// Whether the flow re-authenticates the session (`refresh=true`).
    pub refresh: bool,
    /// The level the flow asks for.
    pub requested_aal: Aal,
    /// The flow's internal method state, kept in the store and never shown to clients.
    pub internal: &'a mut InternalContext,
}

/// Reads a strategy wants done with the flow load, in one round trip where the store can
/// (the password method's lockout and identity reads): what [`LoginStrategy::prefetch`]
/// returns and [`LoginCx::prefetched`] hands back.
pub struct Prefetched(Box<dyn Any + Send>);

impl Prefetched {
    /// Wraps a strategy's own reads.
    pub fn new<T: Any + Send>(reads: T) -> Self {
        Self(Box::new(reads))
    }

    /// The reads, if they are of type `T`.
    pub fn take<T: Any + Send>(self) -> Option<T> {
        self.0.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Debug for Prefetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prefetched(..)")
    }
}

/// A submission to a login flow, as a strategy sees it.
pub struct LoginCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The flow: a strategy sets messages on its `ui` (cleared before the submission), may
    /// replace its `ui` and `state` for a next step; the engine saves it.
    pub flow: &'a mut LoginFlow,
    /// The payload, as the client sent it (with `method`).
    pub payload: &'a Value,
    /// The request.
    pub request: &'a FlowContext,
    /// The session the flow refreshes or steps up, with its identity (aal2 flows and
    /// `refresh=true`).
    pub session: Option<&'a Session>,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
    /// The strategy's own reads made with the flow load, if its `prefetch` asked for them.
    pub prefetched: Option<Prefetched>,
}

impl LoginCx<'_> {
    /// Parses the payload as the strategy's own type; a malformed one is a 400.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        T::deserialize(self.payload)
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))
    }
}

/// A successful login step.
#[derive(Debug)]
pub struct Authenticated {
    /// Who signed in.
    pub identity: Identity,
    /// The step to record on the session (its method and level).
    pub method: AuthenticationMethod,
    /// Writes of the method that go in the completing transaction.
    pub writes: CompletionWrites,
}

/// The writes a method adds to the one transaction that completes a flow.
#[derive(Debug, Default)]
pub struct CompletionWrites {
    /// A lockout key whose failures are forgotten.
    pub reset_login_failures: Option<String>,
    /// A lockout key (with its limit) whose count this success takes back.
    pub forgive_login_attempt: Option<(String, u32)>,
    /// A change of the method's own credentials by signing in (a backup code marked used),
    /// applied after the completion to a fresh read of the identity.
    pub edit_identity: Option<IdentityEdit>,
    /// A second-factor secret this login uses, recorded in the completing transaction: when
    /// it was used before, nothing is written and the flow shows `refused`.
    pub use_secret: Option<SecretToUse>,
    /// A credential of the signing-in identity rewritten in the completing transaction (a
    /// WebAuthn key's counter): when it changed since it was read, nothing is written and
    /// the flow shows `refused`. (Not together with `use_secret`.)
    pub update_credential: Option<CredentialToUpdate>,
}

/// A credential configuration a login rewrites in its completing transaction
/// ([`crate::store::CompletionStore::complete_flow_updating_credential`]).
#[derive(Debug)]
pub struct CredentialToUpdate {
    /// The credential's type.
    pub credential_type: crate::identity::CredentialType,
    /// Its new configuration.
    pub config: Value,
    /// Its `updated_at` as the login read it.
    pub read_at: chrono::DateTime<chrono::Utc>,
    /// The message when it changed meanwhile.
    pub refused: crate::flow::ui::UiText,
}

/// A change a method makes to an identity's credentials by signing in, applied after the
/// completing transaction to a fresh read of the identity, so that what changed meanwhile
/// (an admin's update, a new set of backup codes) is kept: the edit finds its own part in
/// what is stored now, or does nothing. The edit answers whether it changed anything; the
/// identity is written only then. (What must be atomic with the session, the single use of
/// a secret, is [`CompletionWrites::use_secret`].)
pub struct IdentityEdit {
    /// The identity to edit.
    pub identity_id: Uuid,
    apply: Box<dyn FnOnce(&mut Identity) -> bool + Send>,
}

impl IdentityEdit {
    /// An edit of identity `identity_id`.
    pub fn new(
        identity_id: Uuid,
        apply: impl FnOnce(&mut Identity) -> bool + Send + 'static,
    ) -> Self {
        Self {
            identity_id,
            apply: Box::new(apply),
        }
    }

    /// Applies the edit to `identity`; whether it changed anything.
    pub fn apply(self, identity: &mut Identity) -> bool {
        (self.apply)(identity)
    }
}

impl fmt::Debug for IdentityEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityEdit")
            .field("identity_id", &self.identity_id)
            .finish_non_exhaustive()
    }
}

/// A second-factor secret used at most once ([`crate::store::UsedSecretStore`]), with the
/// message the flow shows when it was used before.
#[derive(Debug)]
pub struct SecretToUse {
    /// The key (`totp:<step>`, `lookup_secret:<digest>`).
    pub key: String,
    /// Until when the use is remembered.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The message when the secret was used before (Kratos's 4000008, 4000012).
    pub refused: crate::flow::ui::UiText,
}

/// A login strategy's answer to a submission.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The payload is not this strategy's: the engine asks the next one.
    NotMine,
    /// The flow again, with messages (or a next step) on it.
    Retry,
    /// Send the browser elsewhere (a social sign-in provider).
    Redirect(String),
    /// Signed in.
    Authenticated(Box<Authenticated>),
}

/// A method's part in login flows.
#[async_trait]
pub trait LoginStrategy: Send + Sync + 'static {
    /// The method, as `method` fields name it.
    fn method(&self) -> Method;

    /// The step(s) of a login it serves.
    fn factor(&self) -> Factor;

    /// Adds its nodes to a new flow (first factor, second factor or refresh, after
    /// `cx.requested_aal` and `cx.refresh`). A strategy with nothing to offer the identity
    /// (a second factor it has not set up) adds nothing.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError>;

    /// Whether a submission is this strategy's. By default: its `method` names the
    /// strategy's method (Kratos's strategies answer "not responsible" otherwise). A
    /// strategy may claim more (the code method's address buttons post no `method`).
    fn claims(&self, payload: &Value) -> bool {
        payload.get("method").and_then(Value::as_str) == Some(self.method().as_str())
    }

    /// Whether a submission carries no CSRF token because it proves itself: a provider's
    /// callback, whose sealed state must be the flow's own and is used once. The
    /// transport's own checks (that the browser holds the flow's CSRF cookie) still run.
    /// Default: no.
    fn exempt_from_csrf_token(&self, _payload: &Value) -> bool {
        false
    }

    /// Reads wanted with the flow load of a submission, in one store call where the store
    /// can. `None` (the default): the engine loads the flow alone. When a strategy returns
    /// the flow, it has loaded it with [`crate::store::StoreError`]s mapped as the engine
    /// would.
    async fn prefetch(
        &self,
        _kratos: &Kratos,
        _flow_id: Uuid,
        _payload: &Value,
        _request: &dyn crate::flow::Admission,
    ) -> Option<(Result<(LoginFlow, String), FlowError>, Prefetched)> {
        None
    }

    /// Handles a submission whose `method` is this strategy's, on a live flow whose CSRF
    /// token matched.
    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError>;
}

/// A submission to a registration flow, as a strategy sees it.
pub struct RegistrationCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The flow (messages cleared; trait values of the payload already set on its nodes).
    pub flow: &'a mut RegistrationFlow,
    /// The payload.
    pub payload: &'a Value,
    /// The request.
    pub request: &'a FlowContext,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
    /// The schema new identities are created with.
    pub schema: &'a IdentitySchema,
}

impl RegistrationCx<'_> {
    /// Parses the payload as the strategy's own type; a malformed one is a 400.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        T::deserialize(self.payload)
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))
    }
}

/// The identity a registration creates.
#[derive(Debug)]
pub struct NewIdentity {
    /// Its traits (valid against the schema).
    pub traits: Value,
    /// Its credentials.
    pub credentials: Option<ImportCredentials>,
    /// Addresses the method proved (a code sent to them).
    pub verifiable_addresses: Option<Vec<AddressImport>>,
    /// `metadata_public` (a social sign-in's claims mapper may set it).
    pub metadata_public: Option<Value>,
    /// `metadata_admin` (a social sign-in's claims mapper may set it).
    pub metadata_admin: Option<Value>,
    /// The step the new session records, when it is more than the method's first factor
    /// (a social sign-in names its provider, and may reach aal2 upstream).
    pub authentication: Option<AuthenticationMethod>,
}

/// A registration strategy's answer to a submission.
#[derive(Debug)]
pub enum RegistrationOutcome {
    /// The payload is not this strategy's.
    NotMine,
    /// The flow again, with messages (or a next step).
    Retry,
    /// Send the browser elsewhere.
    Redirect(String),
    /// Create this identity.
    Register(Box<NewIdentity>),
}

/// A method's part in registration flows.
#[async_trait]
pub trait RegistrationStrategy: Send + Sync + 'static {
    /// The method.
    fn method(&self) -> Method;

    /// Adds its nodes to a new flow (the trait nodes are there already).
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError>;

    /// Whether a submission is this strategy's. By default: its `method` names the
    /// strategy's method. A strategy may claim more (the passkey method's browser script
    /// submits `passkey_register` without a `method`).
    fn claims(&self, payload: &Value) -> bool {
        payload.get("method").and_then(Value::as_str) == Some(self.method().as_str())
    }

    /// Whether a submission carries no CSRF token because it proves itself: a provider's
    /// callback, whose sealed state must be the flow's own and is used once. The
    /// transport's own checks (that the browser holds the flow's CSRF cookie) still run.
    /// Default: no.
    fn exempt_from_csrf_token(&self, _payload: &Value) -> bool {
        false
    }

    /// Handles a submission whose `method` is this strategy's.
    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError>;
}

/// What a settings strategy reads to build its nodes.
pub struct SettingsPopulateCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The form.
    pub ui: &'a mut UiContainer,
    /// The identity, with its credentials.
    pub identity: &'a Identity,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
}

/// A submission to a settings flow, as a strategy sees it.
pub struct SettingsCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The flow (messages cleared).
    pub flow: &'a mut SettingsFlow,
    /// The payload.
    pub payload: &'a Value,
    /// The request.
    pub request: &'a FlowContext,
    /// The session the flow runs in.
    pub session: &'a Session,
    /// The identity as stored, with its credentials.
    pub identity: &'a Identity,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
    /// Authentication steps the submission proved, added to the session once the change is
    /// saved ([`SettingsCx::add_session_method`]).
    pub(crate) session_methods: Vec<crate::session::AuthenticationMethod>,
}

impl SettingsCx<'_> {
    /// Records that the submission proved `method` (a code from the authenticator app being
    /// linked, backup codes being confirmed): once the change is saved, the step is added to
    /// the flow's session, as Kratos does when a second factor is set up in settings.
    pub fn add_session_method(&mut self, method: crate::session::AuthenticationMethod) {
        self.session_methods.push(method);
    }

    /// Parses the payload as the strategy's own type; a malformed one is a 400.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        T::deserialize(self.payload)
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))
    }

    /// `Ok` when the session was authenticated recently enough to change credentials
    /// (`privileged_session_max_age`); otherwise [`FlowError::RefreshRequired`] with the
    /// login URL that re-authenticates and comes back to this flow.
    pub fn require_privileged(&self) -> Result<(), FlowError> {
        crate::flow::settings::require_privileged(self.kratos, self.flow.id, self.session)
    }
}

/// The change a settings strategy saves.
#[derive(Debug)]
pub enum IdentityChange {
    /// Traits and credentials as the admin API's update takes them (validated, addresses
    /// derived again).
    Update(Box<UpdateIdentityBody>),
    /// The identity with its credentials changed (set or removed) and nothing else.
    Credentials(Box<Identity>),
}

/// A settings strategy's answer to a submission.
#[derive(Debug)]
pub enum SettingsOutcome {
    /// The payload is not this strategy's.
    NotMine,
    /// The flow again, with messages (or a next step).
    Retry,
    /// Send the browser elsewhere.
    Redirect(String),
    /// Save this change.
    Save(IdentityChange),
}

/// A method's part in settings flows.
#[async_trait]
pub trait SettingsStrategy: Send + Sync + 'static {
    /// The method.
    fn method(&self) -> Method;

    /// Adds its nodes to the form for `cx.identity`.
    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError>;

    /// Whether a submission is this strategy's. By default: its `method` names the
    /// strategy's method. A strategy whose buttons post no `method` (TOTP's
    /// `totp_unlink`, the lookup secrets' actions) claims them too.
    fn claims(&self, payload: &Value) -> bool {
        payload.get("method").and_then(Value::as_str) == Some(self.method().as_str())
    }

    /// Whether a submission carries no CSRF token because it proves itself: a provider's
    /// callback, whose sealed state must be the flow's own and is used once. The
    /// transport's own checks (that the browser holds the flow's CSRF cookie) still run.
    /// Default: no.
    fn exempt_from_csrf_token(&self, _payload: &Value) -> bool {
        false
    }

    /// Handles a submission whose `method` is this strategy's.
    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError>;
}

/// A flow's method state kept in the store beside it and never shown to clients (a TOTP
/// secret waiting for its first code, new backup codes waiting for confirmation, a
/// WebAuthn challenge, OIDC state): a map from a method-chosen key to JSON. Values that are
/// secrets are sealed with the cipher by the method before they go in.
#[derive(Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InternalContext(serde_json::Map<String, Value>);

impl InternalContext {
    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Keeps `value` under `key`.
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_owned(), value);
    }

    /// Takes over every value of `other` (replacing those under the same keys).
    pub(crate) fn absorb(&mut self, other: InternalContext) {
        self.0.extend(other.0);
    }

    /// Drops and returns the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }
}

impl fmt::Debug for InternalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Reads a flag of a payload as Kratos's forms send it: a JSON boolean, or a form value
/// (`"true"`, `"1"`, `"on"`; `"false"`, `"0"`, `"off"`, `""`). Anything else is an error.
pub fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    use serde::Deserialize;
    match Value::deserialize(deserializer)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" => Ok(true),
            "false" | "0" | "off" | "" => Ok(false),
            _ => Err(serde::de::Error::custom("expected a boolean")),
        },
        _ => Err(serde::de::Error::custom("expected a boolean")),
    }
}
