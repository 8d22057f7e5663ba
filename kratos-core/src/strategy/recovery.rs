//! The recovery strategy: how a method proves that a user who lost their credentials owns
//! an account (Kratos's `recovery.Strategy`), with what it sees of a submission and what it
//! answers.

use async_trait::async_trait;
use serde_json::Value;

use super::{InternalContext, Method};
use crate::flow::recovery::RecoveryFlow;
use crate::flow::ui::UiContainer;
use crate::flow::{FlowContext, FlowError};
use crate::identity::Identity;
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;

/// What a recovery or verification strategy reads to build its form (the address form of a
/// new flow).
pub struct AddressFormCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The form: its action and, on browser flows, the CSRF node are there already.
    pub ui: &'a mut UiContainer,
}

/// A submission to a recovery flow, as a strategy sees it.
pub struct RecoveryCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The flow (messages cleared): a strategy puts messages on its `ui`, or replaces its
    /// `ui` and `state` for the next step (a code sent); the engine saves it.
    pub flow: &'a mut RecoveryFlow,
    /// The payload, as the client sent it.
    pub payload: &'a Value,
    /// The request.
    pub request: &'a FlowContext,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
    /// An empty form of this flow (action, and the CSRF node on browser flows), for a
    /// strategy that shows a next step.
    pub blank_form: UiContainer,
}

impl RecoveryCx<'_> {
    /// Parses the payload as the strategy's own type; a malformed one is a 400.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        T::deserialize(self.payload)
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))
    }
}

/// A proven recovery: the engine signs `identity` in with `method` and opens the settings
/// flow where new credentials are set.
#[derive(Debug)]
pub struct Recovered {
    /// Whose account was recovered.
    pub identity: Identity,
    /// The step recorded on the new session (`code_recovery`, `link_recovery`).
    pub method: AuthenticationMethod,
}

/// A recovery strategy's answer to a submission.
#[derive(Debug)]
pub enum RecoveryOutcome {
    /// The payload is not this strategy's.
    NotMine,
    /// The flow again, with messages (or a next step: a code sent).
    Retry,
    /// The account is recovered.
    Recovered(Box<Recovered>),
}

/// A method's part in recovery flows. The engine offers the form of the method
/// `selfservice.flows.recovery.use` names (when it is enabled); a flow the admin API
/// opened for a method accepts that method too, whatever the configuration. A recovery
/// "v2" flow (see [`RecoveryStrategy::supports_v2`]) belongs to the method it was created
/// with for its whole life.
#[async_trait]
pub trait RecoveryStrategy: Send + Sync + 'static {
    /// The method.
    fn method(&self) -> Method;

    /// Adds its nodes to a new flow's form.
    fn populate(&self, cx: &mut AddressFormCx<'_>);

    /// Whether the strategy runs recovery "v2" (Kratos's `choose_recovery_address` flows):
    /// with `feature_flags.choose_recovery_address` on, a new flow of this method starts in
    /// [`FlowState::RecoveryAwaitingAddress`](crate::flow::FlowState::RecoveryAwaitingAddress)
    /// with its method `active`, and every submission to a flow in a v2 state goes to this
    /// strategy whatever its payload names. Default: no (new flows are v1 whatever the flag).
    fn supports_v2(&self) -> bool {
        false
    }

    /// Adds its nodes to a new v2 flow's form (only called when [`supports_v2`]).
    /// Default: [`populate`].
    ///
    /// [`supports_v2`]: RecoveryStrategy::supports_v2
    /// [`populate`]: RecoveryStrategy::populate
    fn populate_v2(&self, cx: &mut AddressFormCx<'_>) {
        self.populate(cx);
    }

    /// Whether a submission is this strategy's. By default: its `method` names the
    /// strategy's method. (A followed recovery link carries only its token.)
    fn claims(&self, payload: &Value) -> bool {
        payload.get("method").and_then(Value::as_str) == Some(self.method().as_str())
    }

    /// Whether a submission this strategy claims needs no CSRF token (a followed link: the
    /// token in it proves the request). Default: no.
    fn exempt_from_csrf(&self, _payload: &Value) -> bool {
        false
    }

    /// Handles a submission it claims, on a live flow whose CSRF token matched.
    async fn submit(&self, cx: &mut RecoveryCx<'_>) -> Result<RecoveryOutcome, FlowError>;
}
