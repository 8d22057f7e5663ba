//! The verification strategy: how a method proves that a user receives messages at an
//! address (Kratos's `verification.Strategy`), with what it sees of a submission and what
//! it answers.

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use super::recovery::AddressFormCx;
use super::{InternalContext, Method};
use crate::flow::ui::UiContainer;
use crate::flow::verification::VerificationFlow;
use crate::flow::{FlowContext, FlowError};
use crate::identity::{Identity, VerifiableAddress};
use crate::kratos::Kratos;

/// A submission to a verification flow, as a strategy sees it.
pub struct VerificationCx<'a> {
    /// The registry.
    pub kratos: &'a Kratos,
    /// The flow (messages cleared): a strategy puts messages on its `ui`, or replaces its
    /// `ui` and `state` for the next step; the engine saves it.
    pub flow: &'a mut VerificationFlow,
    /// The payload, as the client sent it.
    pub payload: &'a Value,
    /// The request.
    pub request: &'a FlowContext,
    /// The flow's internal method state.
    pub internal: &'a mut InternalContext,
    /// An empty form of this flow (action, and the CSRF node on browser flows).
    pub blank_form: UiContainer,
}

impl VerificationCx<'_> {
    /// Parses the payload as the strategy's own type; a malformed one is a 400.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        T::deserialize(self.payload)
            .map_err(|e| FlowError::BadRequest(format!("The request body is invalid: {e}")))
    }
}

/// A proven address.
#[derive(Debug)]
pub struct Verified {
    /// Whose address it is, when the identity still exists (the *after* hooks run for it).
    pub identity_id: Option<Uuid>,
    /// How the proven address is reached, when known: the flow's success message names a
    /// phone number (1080005) for `Sms` and an email address (1080002) otherwise.
    pub via: Option<crate::identity::AddressVia>,
}

/// A verification strategy's answer to a submission.
#[derive(Debug)]
pub enum VerificationOutcome {
    /// The payload is not this strategy's.
    NotMine,
    /// The flow again, with messages (or a next step: a code sent).
    Retry,
    /// The address is verified (the strategy has marked it).
    Verified(Verified),
}

/// A method's part in verification flows. The engine offers the form of the method
/// `selfservice.flows.verification.use` names.
#[async_trait]
pub trait VerificationStrategy: Send + Sync + 'static {
    /// The method.
    fn method(&self) -> Method;

    /// Adds its nodes to a new flow's form.
    fn populate(&self, cx: &mut AddressFormCx<'_>);

    /// Whether a submission is this strategy's. By default: its `method` names the
    /// strategy's method.
    fn claims(&self, payload: &Value) -> bool {
        payload.get("method").and_then(Value::as_str) == Some(self.method().as_str())
    }

    /// Whether a submission this strategy claims needs no CSRF token (a followed link).
    fn exempt_from_csrf(&self, _payload: &Value) -> bool {
        false
    }

    /// Handles a submission it claims, on a live flow whose CSRF token matched.
    async fn submit(&self, cx: &mut VerificationCx<'_>) -> Result<VerificationOutcome, FlowError>;

    /// Puts a new flow for `address` in the step after sending (`blank_form` is its empty
    /// form), before the engine saves it and calls [`VerificationStrategy::send`]: the
    /// verification hook after a registration or a settings change.
    fn show_sent(&self, flow: &mut VerificationFlow, blank_form: UiContainer, address: &str);

    /// Sends the code or link for `address` of `identity`, from the saved flow `flow`.
    async fn send(
        &self,
        kratos: &Kratos,
        flow: &VerificationFlow,
        identity: &Identity,
        address: &VerifiableAddress,
    ) -> Result<(), FlowError>;
}
