//! Observability: the metrics this crate emits and the structured events of sign-ins,
//! failures, lockouts and queued messages.
//!
//! Metrics go through the [`metrics`] facade: the library only emits, and nothing is recorded
//! until the host app installs a recorder (kratos-axum's `prometheus` feature installs
//! Prometheus's). Without one, each emission is a read of the facade's global recorder and a
//! call into its no-op recorder. The names, with their labels:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`LOGIN_TOTAL`] | counter | `method`, `result` |
//! | [`REGISTRATION_TOTAL`] | counter | `method`, `result` |
//! | [`LOGIN_LOCKOUTS_TOTAL`] | counter | `method` |
//! | [`COURIER_QUEUED_TOTAL`] | counter | `channel`, `template` |
//! | [`COURIER_SENT_TOTAL`] | counter | `channel` |
//! | [`COURIER_FAILED_TOTAL`] | counter | `channel`, `outcome` (`retry`, `abandoned`) |
//! | [`COURIER_CLAIMED`] | gauge | none |
//! | [`STORE_CALL_DURATION`] | histogram (seconds) | `operation` |
//!
//! `result` is one of [`LoginResult`]'s names. Labels are bounded: methods are the registered
//! strategies' names, operations the store traits' method names, templates Kratos's template
//! types. No label or event field holds an identifier, address, password, code or token;
//! events name identities by id only.

use std::time::Duration;

use uuid::Uuid;

use crate::courier::Message;
use crate::error::KratosError;
use crate::flow::FlowError;
use crate::flow::ui::UiContainer;
use crate::session::Aal;
use crate::strategy::Method;

/// Counter of login submissions, by `method` and `result`.
pub const LOGIN_TOTAL: &str = "kratos_login_total";
/// Counter of registration submissions, by `method` and `result`.
pub const REGISTRATION_TOTAL: &str = "kratos_registration_total";
/// Counter of login attempts refused because a key is locked (`security.login_lockout`).
pub const LOGIN_LOCKOUTS_TOTAL: &str = "kratos_login_lockouts_total";
/// Counter of messages put in the courier's queue, by `channel` and `template`.
pub const COURIER_QUEUED_TOTAL: &str = "kratos_courier_messages_queued_total";
/// Counter of messages the courier sent, by `channel`.
pub const COURIER_SENT_TOTAL: &str = "kratos_courier_messages_sent_total";
/// Counter of failed sends, by `channel` and `outcome` (`retry` or `abandoned`).
pub const COURIER_FAILED_TOTAL: &str = "kratos_courier_messages_failed_total";
/// Gauge: how many messages the courier's last dispatch claimed (`courier.worker.pull_count`
/// means the queue had at least that many due).
pub const COURIER_CLAIMED: &str = "kratos_courier_claimed_messages";
/// Histogram of store call latency in seconds, by `operation` (the store trait method).
pub const STORE_CALL_DURATION: &str = "kratos_store_call_duration_seconds";

/// Gives every metric above its description and unit in the installed recorder (the
/// `# HELP` lines of Prometheus). Call it once after installing a recorder; emitting works
/// without it.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        LOGIN_TOTAL,
        Unit::Count,
        "Login submissions by method and result"
    );
    describe_counter!(
        REGISTRATION_TOTAL,
        Unit::Count,
        "Registration submissions by method and result"
    );
    describe_counter!(
        LOGIN_LOCKOUTS_TOTAL,
        Unit::Count,
        "Login attempts refused by a lockout"
    );
    describe_counter!(
        COURIER_QUEUED_TOTAL,
        Unit::Count,
        "Messages queued by the courier"
    );
    describe_counter!(
        COURIER_SENT_TOTAL,
        Unit::Count,
        "Messages sent by the courier"
    );
    describe_counter!(
        COURIER_FAILED_TOTAL,
        Unit::Count,
        "Failed courier sends, retried or abandoned"
    );
    describe_gauge!(
        COURIER_CLAIMED,
        Unit::Count,
        "Messages claimed by the courier's last dispatch"
    );
    describe_histogram!(
        STORE_CALL_DURATION,
        Unit::Seconds,
        "Latency of store calls by operation"
    );
}

/// How a login or registration submission ended, the `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginResult {
    /// Signed in (or registered).
    Success,
    /// Refused with a message on the flow (wrong credentials, invalid traits, …).
    Failure,
    /// Refused by a lockout.
    Locked,
    /// Answered with an error (expired flow, CSRF violation, storage failure, …).
    Error,
}

impl LoginResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::Failure => "failure",
            LoginResult::Locked => "locked",
            LoginResult::Error => "error",
        }
    }
}

/// The first error message of a flow's form (on the form or on a node): the Kratos message
/// id a failure is reported with.
pub(crate) fn first_error_id(ui: &UiContainer) -> Option<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .find(|m| m.kind == "error")
        .map(|m| m.id)
}

fn method_label(method: Option<&Method>) -> String {
    method.map_or("none", Method::as_str).to_owned()
}

/// The outcome of a login or registration submission, as the engine saw it.
pub(crate) enum Observed<'a> {
    /// Signed in (or registered) as this identity, at this level when a session was issued.
    Success {
        /// The identity.
        identity_id: Uuid,
        /// The session's level, when one was issued.
        aal: Option<Aal>,
    },
    /// The flow again: a failure when it carries an error message, a step otherwise.
    Retry(&'a UiContainer),
    /// An error answer.
    Error(&'a FlowError),
}

fn observe(
    counter: &'static str,
    flow: &'static str,
    method: Option<&Method>,
    observed: Observed<'_>,
) {
    let name = method.map_or("none", Method::as_str);
    let result = match observed {
        Observed::Success { identity_id, aal } => {
            tracing::Span::current().record("identity.id", tracing::field::display(identity_id));
            tracing::info!(
                flow,
                method = name,
                identity.id = %identity_id,
                aal = aal.map(|a| a.as_str()),
                "{flow} succeeded"
            );
            LoginResult::Success
        }
        Observed::Retry(ui) => match first_error_id(ui) {
            Some(reason_id) => {
                tracing::info!(flow, method = name, reason_id, "{flow} failed");
                LoginResult::Failure
            }
            // A step of the method (a code sent, a second screen): no result yet.
            None => return,
        },
        Observed::Error(
            FlowError::BrowserLocationChangeRequired { .. } | FlowError::ContinuedInFlow { .. },
        ) => return,
        Observed::Error(e @ FlowError::LoginLocked { until }) => {
            tracing::warn!(
                flow,
                method = name,
                error_id = e.id(),
                locked_until = %until,
                "{flow} refused: locked out"
            );
            metrics::counter!(LOGIN_LOCKOUTS_TOTAL, "method" => method_label(method)).increment(1);
            LoginResult::Locked
        }
        Observed::Error(e) => {
            tracing::info!(flow, method = name, error_id = e.id(), "{flow} failed");
            LoginResult::Error
        }
    };
    metrics::counter!(counter, "method" => method_label(method), "result" => result.as_str())
        .increment(1);
}

/// Reports a login submission's outcome: the event and [`LOGIN_TOTAL`] (and
/// [`LOGIN_LOCKOUTS_TOTAL`] for a lockout).
pub(crate) fn login_observed(method: Option<&Method>, observed: Observed<'_>) {
    observe(LOGIN_TOTAL, "login", method, observed);
}

/// Reports a registration submission's outcome: the event and [`REGISTRATION_TOTAL`].
pub(crate) fn registration_observed(method: Option<&Method>, observed: Observed<'_>) {
    observe(REGISTRATION_TOTAL, "registration", method, observed);
}

/// Reports a message put in the courier's queue: an event with its channel and template
/// (never its recipient or body) and [`COURIER_QUEUED_TOTAL`].
pub(crate) fn message_queued(message: &Message) {
    let channel = message.message_type.as_str();
    let template = message.template_type.as_str();
    tracing::info!(
        message.id = %message.id,
        channel,
        template,
        "courier: message queued"
    );
    metrics::counter!(COURIER_QUEUED_TOTAL, "channel" => channel, "template" => template)
        .increment(1);
}

/// Reports a message the courier sent.
pub(crate) fn message_sent(message: &Message) {
    let channel = message.message_type.as_str();
    tracing::info!(
        message.id = %message.id,
        channel,
        template = message.template_type.as_str(),
        "courier: message sent"
    );
    metrics::counter!(COURIER_SENT_TOTAL, "channel" => channel).increment(1);
}

/// Reports a failed send, `abandoned` when it will not be retried.
pub(crate) fn message_failed(message: &Message, abandoned: bool) {
    let outcome = if abandoned { "abandoned" } else { "retry" };
    metrics::counter!(
        COURIER_FAILED_TOTAL,
        "channel" => message.message_type.as_str(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Reports how many messages a dispatch claimed.
pub(crate) fn messages_claimed(count: usize) {
    // Exact up to 2^53, far past any pull count.
    metrics::gauge!(COURIER_CLAIMED).set(count as f64);
}

/// Records one store call's latency.
pub(crate) fn store_call(operation: &'static str, elapsed: Duration) {
    metrics::histogram!(STORE_CALL_DURATION, "operation" => operation).record(elapsed);
}
