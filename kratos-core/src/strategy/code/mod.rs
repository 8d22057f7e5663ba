//! The `code` method of login and registration: a 6-digit code sent by email, or by text
//! message to a phone number, signs the user in or finishes the sign-up, without a password
//! (`selfservice.methods.code.passwordless_enabled`).
//!
//! Codes are stored only as MACs bound to their flow and kind, in the same transaction as the
//! email carrying them; a flow accepts `selfservice.methods.code.config.max_submissions` (5)
//! wrong codes, and a code is consumed by one atomic update, so of concurrent submissions
//! exactly one wins. Unlike Kratos, a login code asked for an unknown address gets the same
//! answer as a known one (nothing is sent), so the form reveals no accounts.

pub(crate) mod login;
pub(crate) mod registration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::clock::truncate_micros;
use crate::code::{CodeKind, CodeSecret, OneTimeCode, address_send_key, candidate_digests, digest};
use crate::courier::TemplateType;
use crate::flow::FlowError;
use crate::flow::ui::{InputType, NodeGroup, UiNode, UiText};
use crate::flow::verification::{code_secrets, template_identity};
use crate::identity::{
    AddressVia, IdentifierKind, Identity, normalize_identifier, normalize_phone,
};
use crate::kratos::Kratos;

/// The message id of [`too_many_sends`]. Kratos has no rate limit on sending codes and so no
/// message for it; 4000100 lies in Kratos's validation range (4000000+) and is not used by
/// Kratos, whose validation messages end at 4000046.
pub const TOO_MANY_SENDS_MESSAGE_ID: u32 = 4000100;

/// 4000100 (this library's, see [`TOO_MANY_SENDS_MESSAGE_ID`]): the flow or the address asked
/// for more codes than the send limits allow; nothing was sent.
pub(crate) fn too_many_sends() -> UiText {
    UiText::error(
        TOO_MANY_SENDS_MESSAGE_ID,
        "Too many codes were requested. Please wait a while before requesting another one.",
        None,
    )
}

/// Counts one code or link email from flow `flow_id` to `address` against
/// `selfservice.methods.code.config.max_sends_per_flow` and `max_sends_per_address` (0: no
/// limit), in windows of `send_limit_window`, and answers whether it may be sent. On `false`
/// the caller sends nothing and shows [`too_many_sends`]. The counters live in the store
/// (atomic upserts), so app instances sharing it share them. Unknown addresses count as
/// known ones do, so the limit reveals no accounts.
pub(crate) async fn send_allowed(
    kratos: &Kratos,
    flow_id: Uuid,
    address: &str,
) -> Result<bool, FlowError> {
    let settings = &kratos.config().selfservice.methods.code.config;
    let (per_flow, per_address) = (settings.max_sends_per_flow, settings.max_sends_per_address);
    if per_flow == 0 && per_address == 0 {
        return Ok(true);
    }
    let now = truncate_micros(kratos.clock().now());
    let window_start = crate::cleanup::ago(now, settings.send_limit_window.0);
    // The flow is counted first: a send its flow refuses does not use up the address's
    // allowance.
    let count = |key: String| async move {
        let counts = kratos
            .store()
            .count_code_sends(kratos.nid(), &[key], now, window_start)
            .await?;
        Ok::<u32, FlowError>(counts.first().copied().unwrap_or(u32::MAX))
    };
    if per_flow > 0 && count(format!("flow:{flow_id}")).await? > per_flow {
        return Ok(false);
    }
    if per_address > 0 {
        let normalized = normalize_code_address(address);
        let key = address_send_key(code_secrets(kratos), &normalized);
        if count(key).await? > per_address {
            return Ok(false);
        }
    }
    Ok(true)
}

/// How a code reaches an address, as Kratos infers it: an address with `@` is an email
/// address, anything else a phone number (text message).
pub(crate) fn address_via(address: &str) -> AddressVia {
    if address.contains('@') {
        AddressVia::Email
    } else {
        AddressVia::Sms
    }
}

/// An address as the user typed it, normalised as the identity's code addresses are: an email
/// address folded, a phone number in E.164; anything else trimmed and lowercased (it then
/// matches no address).
pub(crate) fn normalize_code_address(raw: &str) -> String {
    let raw = raw.trim();
    let normalized = match address_via(raw) {
        AddressVia::Email => normalize_identifier(IdentifierKind::Email, raw).ok(),
        AddressVia::Sms => normalize_phone(raw).ok(),
    };
    normalized.unwrap_or_else(|| raw.to_lowercase())
}

/// Where a code goes and what it is for.
pub(crate) struct CodeRequest<'a> {
    /// Login or registration.
    pub(crate) kind: CodeKind,
    /// The flow the code is bound to.
    pub(crate) flow_id: Uuid,
    /// The flow's expiry: a code never outlives its flow.
    pub(crate) flow_expires_at: DateTime<Utc>,
    /// The URL that started the flow (for the template).
    pub(crate) request_url: &'a str,
    /// The identity signing in (login).
    pub(crate) identity: Option<&'a Identity>,
    /// The traits being registered (registration).
    pub(crate) traits: &'a Value,
    /// The address (email address or phone number, normalised).
    pub(crate) address: &'a str,
}

/// What the MAC covers: the code, and for a registration code also the address it was sent
/// to, so a code only finishes the sign-up of the address that received it.
fn mac_input(kind: CodeKind, code: &str, address: &str) -> String {
    match kind {
        CodeKind::RegistrationCode => format!("{}\n{address}", code.trim()),
        _ => code.trim().to_owned(),
    }
}

/// Queues a fresh code for `request.address` (by email, or by text message to a phone
/// number), replacing the flow's earlier codes.
pub(crate) async fn send_code(kratos: &Kratos, request: CodeRequest<'_>) -> Result<(), FlowError> {
    let now = truncate_micros(kratos.clock().now());
    let settings = &kratos.config().selfservice.methods.code.config;
    let secret = CodeSecret::generate_code();
    let expires_at = (now + settings.lifespan.as_chrono()).min(request.flow_expires_at);
    let expires_in_minutes = (expires_at - now).num_minutes();
    let (template, data) = match request.kind {
        CodeKind::LoginCode => (
            TemplateType::LoginCodeValid,
            json!({
                "to": request.address,
                "login_code": secret.expose(),
                "identity": request.identity.map(template_identity),
                "traits": request.identity.map(|i| i.traits.clone()),
                "request_url": request.request_url,
                "expires_in_minutes": expires_in_minutes,
            }),
        ),
        _ => (
            TemplateType::RegistrationCodeValid,
            json!({
                "to": request.address,
                "registration_code": secret.expose(),
                "traits": request.traits,
                "request_url": request.request_url,
                "expires_in_minutes": expires_in_minutes,
            }),
        ),
    };
    let message = kratos
        .courier()
        .render_via(
            address_via(request.address),
            template,
            request.address,
            data,
        )
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    let address_id = request.identity.and_then(|i| {
        i.verifiable_addresses
            .iter()
            .find(|a| a.value == request.address)
            .map(|a| a.id)
    });
    let code = OneTimeCode {
        id: Uuid::now_v7(),
        kind: request.kind,
        flow_id: request.flow_id,
        identity_id: request.identity.map(|i| i.id),
        address_id,
        address: Some(request.address.to_owned()),
        admin: false,
        digest: digest(
            code_secrets(kratos),
            request.kind,
            request.flow_id,
            &mac_input(request.kind, secret.expose(), request.address),
        ),
        issued_at: now,
        expires_at,
        used_at: None,
    };
    kratos
        .store()
        .issue_code(kratos.nid(), &code, Some(&message))
        .await?;
    crate::telemetry::message_queued(&message);
    Ok(())
}

/// What a submitted code turned out to be.
enum CodeCheck {
    /// The flow saw too many submissions; a new code is needed.
    TooMany,
    /// Wrong, used or expired.
    Invalid,
    /// Valid, and now consumed.
    Valid(OneTimeCode),
}

/// [`check_code`] for a flow's UI: the consumed code, or `None` after adding the flow's
/// message to `messages` (too many submissions, or `invalid`).
pub(crate) async fn check_code_or_say(
    kratos: &Kratos,
    kind: CodeKind,
    flow_id: Uuid,
    submitted: &str,
    address: &str,
    invalid: UiText,
    messages: &mut Vec<UiText>,
) -> Result<Option<OneTimeCode>, FlowError> {
    Ok(
        match check_code(kratos, kind, flow_id, submitted, address).await? {
            CodeCheck::Valid(code) => Some(code),
            CodeCheck::TooMany => {
                messages.push(crate::flow::verification::too_many_submissions());
                None
            }
            CodeCheck::Invalid => {
                messages.push(invalid);
                None
            }
        },
    )
}

/// Counts the submission and consumes the code if it is the flow's valid one (for a
/// registration code: sent to `address`).
async fn check_code(
    kratos: &Kratos,
    kind: CodeKind,
    flow_id: Uuid,
    submitted: &str,
    address: &str,
) -> Result<CodeCheck, FlowError> {
    let store = kratos.store();
    let nid = kratos.nid();
    let max = kratos
        .config()
        .selfservice
        .methods
        .code
        .config
        .max_submissions;
    if store.count_code_submission(nid, flow_id).await? > max {
        return Ok(CodeCheck::TooMany);
    }
    let digests = candidate_digests(
        code_secrets(kratos),
        kind,
        flow_id,
        &mac_input(kind, submitted, address),
    );
    let now = truncate_micros(kratos.clock().now());
    Ok(
        match store.use_code(nid, flow_id, kind, &digests, now).await? {
            Some(code) => CodeCheck::Valid(code),
            None => CodeCheck::Invalid,
        },
    )
}

/// The `code` input of the second step.
pub(crate) fn code_node(label: UiText) -> UiNode {
    UiNode::input(NodeGroup::Code, "code", InputType::Text)
        .required()
        .autocomplete("one-time-code")
        .label(label)
}

/// The button that sends a new code.
pub(crate) fn resend_node() -> UiNode {
    UiNode::input(NodeGroup::Code, "resend", InputType::Submit)
        .value(json!("code"))
        .label(UiText::info(1070008, "Resend code"))
}

/// The button that submits the method.
pub(crate) fn submit_node(label: UiText) -> UiNode {
    UiNode::input(NodeGroup::Code, "method", InputType::Submit)
        .value(json!("code"))
        .label(label)
}

/// Kratos's texts of the code method.
pub(crate) mod text {
    use crate::flow::ui::UiText;

    /// 1010014: a login code was sent.
    pub(crate) fn login_code_sent() -> UiText {
        UiText::info(
            1010014,
            "A code was sent to the address you provided. If you didn't receive it, please check the spelling of the address and try again.",
        )
    }
    /// 1010015: the login button.
    pub(crate) fn sign_in_with_code() -> UiText {
        UiText::info(1010015, "Send sign in code")
    }
    /// 1070013: the login code's label.
    pub(crate) fn login_code_label() -> UiText {
        UiText::info(1070013, "Login code")
    }
    /// 4010008: a wrong login code.
    pub(crate) fn login_code_invalid() -> UiText {
        UiText::error(
            4010008,
            "The login code is invalid or has already been used. Please try again.",
            None,
        )
    }
    /// 4000035: the address is not one of the identity's (a refresh by code for another
    /// account).
    pub(crate) fn no_code_user() -> UiText {
        UiText::error(
            4000035,
            "This account does not exist or has not setup sign in with code.",
            None,
        )
    }
    /// 1040005: a registration code was sent.
    pub(crate) fn registration_code_sent() -> UiText {
        UiText::info(
            1040005,
            "A code has been sent to the address(es) you provided. If you have not received a message, check the spelling of the address and retry the registration.",
        )
    }
    /// 1040006: the registration button.
    pub(crate) fn sign_up_with_code() -> UiText {
        UiText::info(1040006, "Send sign up code")
    }
    /// 1070012: the registration code's label.
    pub(crate) fn registration_code_label() -> UiText {
        UiText::info(1070012, "Registration code")
    }
    /// 4040003: a wrong registration code.
    pub(crate) fn registration_code_invalid() -> UiText {
        UiText::error(
            4040003,
            "The registration code is invalid or has already been used. Please try again.",
            None,
        )
    }
}
