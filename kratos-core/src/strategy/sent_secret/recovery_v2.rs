//! Recovery "v2" of the `code` method (`feature_flags.choose_recovery_address`), Kratos's
//! state machine (`strategy_recovery.go`, `recoveryV2HandleState…`):
//!
//! 1. `recovery_awaiting_address`: the user gives any recovery address of the account
//!    (`recovery_address`). When the account has that one address (or none matches: an
//!    unknown address is answered as if it were the account's only one), the code is sent
//!    to it right away (step 4).
//! 2. `recovery_awaiting_address_choice`: the account's recovery addresses, masked, as
//!    `recovery_select_address` buttons whose values are the addresses' SHA-256 digests
//!    (base64). Choosing the address given in step 1 sends the code to it (step 4).
//! 3. `recovery_confirming_address`: another address was chosen; the user types it in full
//!    (`recovery_confirm_address`), so that knowing one address does not reveal the others.
//! 4. `recovery_awaiting_code`: a code went to the address (by SMS to a recovery address
//!    `via: sms`, by email otherwise; nothing to an unknown address, with the same answer),
//!    and the code recovers the account. Submitting no code sends another.
//!
//! `screen: "previous"` goes back to the choice (or to step 1 when there is none to make).
//! The send and submission limits and the codes' storage are v1's; the engine completes
//! the recovery as in v1.

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::recovery::{SentSecretRecovery, TEXTS};
use crate::code::CodeKind;
use crate::courier::TemplateType;
use crate::flow::recovery::RecoveryFlow;
use crate::flow::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText, text};
use crate::flow::{FlowError, FlowState};
use crate::identity::{AddressVia, IdentifierKind, normalize_identifier};
use crate::kratos::Kratos;
use crate::store::{AddressKind, StoreError};
use crate::strategy::code::{check_code_or_say, send_allowed, too_many_sends};
use crate::strategy::recovery::{RecoveryCx, RecoveryOutcome};

/// The internal key holding the digest of the address the flow's code was last sent to (or,
/// for an unknown address, would have been): only a code sent there recovers, as Kratos
/// deletes a flow's codes before each send.
const SENT_TO: &str = "recovery_v2_sent_to";

/// At most this many addresses are offered (Kratos's `LIMIT 10`).
const MAX_ADDRESSES: usize = 10;

/// Kratos's texts of recovery v2 (`text/message_recovery.go`, `text/message_node.go`).
mod msg {
    use serde_json::json;

    use super::UiText;

    /// 1060004, with the context `{masked_address}`.
    pub(super) fn code_sent(masked_address: &str) -> UiText {
        UiText::info(
            1060004,
            format!(
                "A recovery code has been sent to {masked_address}. If you have not received it, check the spelling of the address and make sure to use the address you registered with."
            ),
        )
        .with_context(json!({ "masked_address": masked_address }))
    }
    pub(super) fn ask_for_full_address() -> UiText {
        UiText::info(
            1060005,
            "Recover access to your account by providing your recovery address in full.",
        )
    }
    pub(super) fn ask_to_choose_address() -> UiText {
        UiText::info(1060006, "How do you want to recover your account?")
    }
    pub(super) fn back() -> UiText {
        UiText::info(1060007, "Back")
    }
    /// 1070000: a generic label, here a masked address.
    pub(super) fn label(text: String) -> UiText {
        UiText::info(1070000, text)
    }
    pub(super) fn email() -> UiText {
        UiText::info(1070007, "Email")
    }
    pub(super) fn resend() -> UiText {
        UiText::info(1070008, "Resend code")
    }
    pub(super) fn continue_() -> UiText {
        UiText::info(1070009, "Continue")
    }
    pub(super) fn recovery_address() -> UiText {
        UiText::info(1070016, "Recovery address")
    }
    pub(super) fn phone_number() -> UiText {
        UiText::info(1070017, "Phone number")
    }
}

/// What a v2 submission carries (other fields, such as `method` and `csrf_token`, are
/// ignored: the flow's state says what comes next).
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    recovery_address: String,
    #[serde(default)]
    recovery_select_address: String,
    #[serde(default)]
    recovery_confirm_address: String,
    #[serde(default)]
    screen: String,
}

/// Kratos's `MaskAddress`: an email keeps the first two characters before the `@` (all of
/// it when shorter), anything else its first three and last two characters, with `****`
/// between (all of it when shorter than six characters). `+14155550100` → `+14****00`.
pub(crate) fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if let Some(at) = chars.iter().position(|&c| c == '@') {
        if at < 2 {
            return address.to_owned();
        }
        let head: String = chars[..2].iter().collect();
        let domain: String = chars[at + 1..].iter().collect();
        return format!("{head}****@{domain}");
    }
    if chars.len() < 6 {
        return address.to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}****{tail}")
}

/// Kratos's `AddressToHashBase64`: the address's SHA-256 digest, standard base64. It names
/// an address in the choice without showing it.
pub(crate) fn address_digest(address: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(address.as_bytes()))
}

fn same_digest(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The channel an address typed by the user is reached by, and the address as stored
/// (normalised; as typed, trimmed, when it does not normalise): an address with an `@` is
/// an email address, anything else a phone number (Kratos's `hackyInferChannel`).
fn lookup_key(address: &str) -> (AddressVia, String) {
    let (via, kind) = if address.contains('@') {
        (AddressVia::Email, IdentifierKind::Email)
    } else {
        (AddressVia::Sms, IdentifierKind::Phone)
    };
    let key = normalize_identifier(kind, address).unwrap_or_else(|_| address.trim().to_owned());
    (via, key)
}

/// The recovery addresses of the account one of whose recovery addresses is `address`
/// (sorted, at most [`MAX_ADDRESSES`]); none for an unknown address.
async fn addresses_of(kratos: &Kratos, address: &str) -> Result<Vec<String>, FlowError> {
    if address.trim().is_empty() {
        return Ok(Vec::new());
    }
    let (via, key) = lookup_key(address);
    match kratos
        .store()
        .find_identity_by_address(kratos.nid(), AddressKind::Recovery, via, &key)
        .await
    {
        Ok(identity) => {
            let mut values: Vec<String> = identity
                .recovery_addresses
                .into_iter()
                .map(|a| a.value)
                .collect();
            values.sort();
            values.dedup();
            values.truncate(MAX_ADDRESSES);
            Ok(values)
        }
        Err(StoreError::NotFound) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// The first screen's nodes: `recovery_address` and the `method` button.
pub(super) fn address_form(ui: &mut UiContainer) {
    ui.nodes.push(
        UiNode::input(NodeGroup::Code, "recovery_address", InputType::Text)
            .required()
            .label(msg::recovery_address()),
    );
    ui.nodes.push(continue_button());
}

fn continue_button() -> UiNode {
    UiNode::input(NodeGroup::Code, "method", InputType::Submit)
        .value(json!("code"))
        .label(msg::continue_())
}

fn hidden(name: &str, value: &str) -> UiNode {
    UiNode::input(NodeGroup::Code, name, InputType::Hidden).value(json!(value))
}

fn back_button() -> UiNode {
    UiNode::input(NodeGroup::Code, "screen", InputType::Submit)
        .value(json!("previous"))
        .label(msg::back())
}

/// Handles a submission to a flow in a v2 state.
pub(super) async fn submit(
    strategy: &SentSecretRecovery,
    cx: &mut RecoveryCx<'_>,
) -> Result<RecoveryOutcome, FlowError> {
    let p: Payload = cx.parse()?;
    if p.screen == "previous" {
        return go_back(cx, &p).await;
    }
    match cx.flow.state {
        FlowState::RecoveryAwaitingAddress => awaiting_address(strategy, cx, &p).await,
        FlowState::RecoveryAwaitingAddressChoice => awaiting_choice(strategy, cx, &p).await,
        FlowState::RecoveryConfirmingAddress => {
            send_code(
                strategy,
                cx,
                &p.recovery_address,
                &p.recovery_confirm_address,
            )
            .await
        }
        FlowState::RecoveryAwaitingCode if p.code.is_empty() => {
            // The resend button: another code to the same address.
            send_code(
                strategy,
                cx,
                &p.recovery_address,
                &p.recovery_confirm_address,
            )
            .await
        }
        FlowState::RecoveryAwaitingCode => check(strategy, cx, &p.code).await,
        _ => Ok(RecoveryOutcome::NotMine),
    }
}

/// Step 1: any recovery address of the account.
async fn awaiting_address(
    strategy: &SentSecretRecovery,
    cx: &mut RecoveryCx<'_>,
    p: &Payload,
) -> Result<RecoveryOutcome, FlowError> {
    let given = p.recovery_address.as_str();
    if given.trim().is_empty() {
        cx.flow
            .ui
            .add_node_message("recovery_address", text::required("recovery_address"));
        return Ok(RecoveryOutcome::Retry);
    }
    let (_, key) = lookup_key(given);
    let mut addresses = addresses_of(cx.kratos, given).await?;
    if addresses.is_empty() {
        // An unknown address is answered as an account's only address would be.
        addresses.push(key.clone());
    }
    if addresses.len() == 1 && addresses[0] == key {
        // Nothing to choose, and the address was given in full: send right away.
        return send_code(strategy, cx, given, given).await;
    }
    show_choice(cx, given, &addresses);
    Ok(RecoveryOutcome::Retry)
}

/// The choice among the account's addresses, masked.
fn show_choice(cx: &mut RecoveryCx<'_>, given: &str, addresses: &[String]) {
    let mut ui = cx.blank_form.clone();
    ui.messages.push(msg::ask_to_choose_address());
    for a in addresses {
        ui.nodes.push(
            UiNode::input(
                NodeGroup::Code,
                "recovery_select_address",
                InputType::Submit,
            )
            .value(json!(address_digest(a)))
            .label(msg::label(mask_address(a))),
        );
    }
    ui.nodes.push(hidden("method", "code"));
    ui.nodes.push(hidden("recovery_address", given));
    // No way back from here: the previous screen is the one the address was given on.
    cx.flow.ui = ui;
    cx.flow.state = FlowState::RecoveryAwaitingAddressChoice;
}

/// Step 2: an address was chosen.
async fn awaiting_choice(
    strategy: &SentSecretRecovery,
    cx: &mut RecoveryCx<'_>,
    p: &Payload,
) -> Result<RecoveryOutcome, FlowError> {
    if p.recovery_select_address.is_empty() {
        cx.flow.ui.add_node_message(
            "recovery_select_address",
            text::required("recovery_select_address"),
        );
        return Ok(RecoveryOutcome::Retry);
    }
    let given = p.recovery_address.as_str();
    if given.trim().is_empty() {
        cx.flow
            .ui
            .add_node_message("recovery_address", text::required("recovery_address"));
        return Ok(RecoveryOutcome::Retry);
    }
    let (_, key) = lookup_key(given);
    if same_digest(&address_digest(&key), &p.recovery_select_address) {
        // The address given in full was chosen: no need to ask for it again.
        return send_code(strategy, cx, given, given).await;
    }
    let addresses = addresses_of(cx.kratos, given).await?;
    let Some(chosen) = addresses
        .iter()
        .find(|a| same_digest(&address_digest(a), &p.recovery_select_address))
    else {
        cx.flow.ui.messages.push(text::validation_generic(
            "The selected recovery address is not valid.",
        ));
        return Ok(RecoveryOutcome::Retry);
    };
    let (input_type, label) = if chosen.contains('@') {
        (InputType::Email, msg::email())
    } else {
        (InputType::Tel, msg::phone_number())
    };
    let mut ui = cx.blank_form.clone();
    ui.messages.push(msg::ask_for_full_address());
    ui.nodes.push(
        UiNode::input(NodeGroup::Code, "recovery_confirm_address", input_type)
            .required()
            .value(json!(p.recovery_confirm_address))
            .label(label),
    );
    ui.nodes.push(hidden("recovery_address", given));
    ui.nodes.push(continue_button());
    ui.nodes.push(hidden("method", "code"));
    ui.nodes.push(back_button());
    cx.flow.ui = ui;
    cx.flow.state = FlowState::RecoveryConfirmingAddress;
    Ok(RecoveryOutcome::Retry)
}

/// Steps 3 and 4: sends a code to `address` (in full, as the user typed it) when it is a
/// recovery address, and asks for the code either way. `given` is the address of step 1.
async fn send_code(
    strategy: &SentSecretRecovery,
    cx: &mut RecoveryCx<'_>,
    given: &str,
    address: &str,
) -> Result<RecoveryOutcome, FlowError> {
    if address.trim().is_empty() {
        cx.flow.ui.add_node_message(
            "recovery_confirm_address",
            text::required("recovery_confirm_address"),
        );
        return Ok(RecoveryOutcome::Retry);
    }
    let (via, key) = lookup_key(address);
    if !send_allowed(cx.kratos, cx.flow.id, &key).await? {
        cx.flow.ui.messages.push(too_many_sends());
        return Ok(RecoveryOutcome::Retry);
    }
    send(strategy, cx.kratos, cx.flow, via, &key, address).await?;
    cx.internal.set(SENT_TO, json!(address_digest(&key)));

    let mut ui = cx.blank_form.clone();
    ui.messages.push(msg::code_sent(&mask_address(address)));
    ui.nodes.push(
        UiNode::input(NodeGroup::Code, "code", InputType::Text)
            .required()
            .autocomplete("one-time-code")
            .pattern("[0-9]+")
            .max_length(6)
            .label((TEXTS.code_label)()),
    );
    ui.nodes.push(continue_button());
    ui.nodes.push(hidden("method", "code"));
    // The resend button posts the address again.
    ui.nodes.push(
        UiNode::input(
            NodeGroup::Code,
            "recovery_confirm_address",
            InputType::Submit,
        )
        .value(json!(address))
        .label(msg::resend()),
    );
    ui.nodes.push(hidden("recovery_address", given));
    ui.nodes.push(back_button());
    cx.flow.ui = ui;
    cx.flow.state = FlowState::RecoveryAwaitingCode;
    Ok(RecoveryOutcome::Retry)
}

/// Queues a code for the recovery address `key` (reached `via`), by SMS or email after the
/// address's own `via`. An unknown address gets nothing, or with
/// `notify_unknown_recipients` an email notice (never a text message, as Kratos: those
/// cost money).
async fn send(
    strategy: &SentSecretRecovery,
    kratos: &Kratos,
    flow: &RecoveryFlow,
    via: AddressVia,
    key: &str,
    typed: &str,
) -> Result<(), FlowError> {
    let identity = match kratos
        .store()
        .find_identity_by_address(kratos.nid(), AddressKind::Recovery, via, key)
        .await
    {
        Ok(identity) => identity,
        Err(StoreError::NotFound) => {
            let notify = kratos
                .config()
                .selfservice
                .flows
                .recovery
                .notify_unknown_recipients;
            if notify && via == AddressVia::Email {
                kratos
                    .courier()
                    .queue(
                        TemplateType::RecoveryCodeInvalid,
                        typed,
                        json!({"to": typed, "request_url": flow.request_url}),
                    )
                    .await
                    .map_err(|e| FlowError::Internal(e.to_string()))?;
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let Some(address) = identity
        .recovery_addresses
        .iter()
        .find(|a| a.via == via && a.value == key)
    else {
        return Err(FlowError::Internal("the address vanished".into()));
    };
    strategy
        .issue(
            kratos,
            flow,
            &identity,
            address.id,
            &address.value,
            address.via,
        )
        .await
}

/// Step 4: the code. Only a code sent to the address the flow last sent one to recovers.
async fn check(
    strategy: &SentSecretRecovery,
    cx: &mut RecoveryCx<'_>,
    submitted: &str,
) -> Result<RecoveryOutcome, FlowError> {
    let (kratos, id) = (cx.kratos, cx.flow.id);
    let messages = &mut cx.flow.ui.messages;
    let invalid = (TEXTS.code_invalid)();
    let Some(code) = check_code_or_say(
        kratos,
        CodeKind::RecoveryCode,
        id,
        submitted,
        "",
        invalid,
        messages,
    )
    .await?
    else {
        return Ok(RecoveryOutcome::Retry);
    };
    let expected = cx.internal.get(SENT_TO).and_then(|v| v.as_str());
    let sent_to = code.address.as_deref().map(address_digest);
    let matches = match (expected, sent_to) {
        (Some(e), Some(s)) => same_digest(e, &s),
        _ => false,
    };
    if !matches {
        cx.flow.ui.messages.push((TEXTS.code_invalid)());
        return Ok(RecoveryOutcome::Retry);
    }
    strategy.recover_with(cx, code).await
}

/// `screen: "previous"`: back to the choice of addresses when there is one to make (from
/// steps 3 and 4), otherwise to the first screen.
async fn go_back(cx: &mut RecoveryCx<'_>, p: &Payload) -> Result<RecoveryOutcome, FlowError> {
    let addresses = addresses_of(cx.kratos, &p.recovery_address).await?;
    let later_step = matches!(
        cx.flow.state,
        FlowState::RecoveryConfirmingAddress | FlowState::RecoveryAwaitingCode
    );
    if addresses.len() > 1 && later_step {
        show_choice(cx, &p.recovery_address, &addresses);
        return Ok(RecoveryOutcome::Retry);
    }
    let mut ui = cx.blank_form.clone();
    address_form(&mut ui);
    cx.flow.ui = ui;
    cx.flow.state = FlowState::RecoveryAwaitingAddress;
    Ok(RecoveryOutcome::Retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_as_kratos() {
        // Kratos's examples (`MaskAddress`).
        assert_eq!(mask_address("foo@bar"), "fo****@bar");
        assert_eq!(mask_address("foobar"), "foo****ar");
        assert_eq!(mask_address("f@bar"), "f@bar");
        assert_eq!(mask_address("fo@bar"), "fo****@bar");
        assert_eq!(mask_address("+12345678910"), "+12****10");
        assert_eq!(mask_address("+491705550167"), "+49****67");
        assert_eq!(mask_address("test@ory.sh"), "te****@ory.sh");
        assert_eq!(mask_address("\\"), "\\");
        assert_eq!(mask_address("asdf"), "asdf");
        // Non-ASCII is masked by characters, never cut inside one.
        assert_eq!(mask_address("éèàü@x.example"), "éè****@x.example");
        assert_eq!(mask_address("日本語の電話番号"), "日本語****番号");
    }

    #[test]
    fn digests_addresses_as_kratos() {
        // Kratos's snapshot: the button of +491705550167.
        assert_eq!(
            address_digest("+491705550167"),
            "MEIbSbZvtBRV9TH7wdFTF5CGyhxaaM2zuLDSIELCIAI="
        );
    }

    #[test]
    fn infers_the_channel_and_normalises() {
        assert_eq!(
            lookup_key(" Alice@Example.COM "),
            (AddressVia::Email, "alice@example.com".to_owned())
        );
        assert_eq!(
            lookup_key("+1 415 555 0100"),
            (AddressVia::Sms, "+14155550100".to_owned())
        );
        assert_eq!(lookup_key(" asdf "), (AddressVia::Sms, "asdf".to_owned()));
    }

    #[test]
    fn texts_carry_kratos_ids_and_contexts() {
        assert_eq!(
            serde_json::to_value(msg::code_sent("fo****@bar")).unwrap(),
            json!({
                "id": 1060004,
                "type": "info",
                "text": "A recovery code has been sent to fo****@bar. If you have not received it, check the spelling of the address and make sure to use the address you registered with.",
                "context": {"masked_address": "fo****@bar"},
            })
        );
    }
}
