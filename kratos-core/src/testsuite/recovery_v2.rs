//! Recovery "v2" (`feature_flags.choose_recovery_address`) end to end: the address, the
//! choice among the account's addresses, the code by email or by SMS, going back, wrong
//! codes, unknown addresses, and flows that stay v2 after the flag is turned off.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::courier::{MemoryOutbox, Message, MessageQuery, MessageType, TemplateType};
use crate::flow::recovery::{RecoveryFlow, RecoverySubmission};
use crate::flow::ui::{InputType, NodeAttributes, UiContainer, UiNode};
use crate::flow::{ContinueWith, FlowContext, FlowError, FlowState, FlowType};
use crate::identity::{CreateIdentityBody, IdentitySchema};
use crate::store::Persister;
use crate::{Config, Kratos, SystemClock};

const V2: &str = "selfservice:\n  flows:\n    recovery:\n      enabled: true\nfeature_flags:\n  choose_recovery_address: true\n";
const V1: &str = "selfservice:\n  flows:\n    recovery:\n      enabled: true\n";
const V2_NOTIFY: &str = "selfservice:\n  flows:\n    recovery:\n      enabled: true\n      notify_unknown_recipients: true\nfeature_flags:\n  choose_recovery_address: true\n";
const V2_TWO_SENDS: &str = "selfservice:\n  methods:\n    code:\n      config:\n        max_sends_per_flow: 2\n  flows:\n    recovery:\n      enabled: true\nfeature_flags:\n  choose_recovery_address: true\n";

/// A schema with an email address (recovery by email) and a phone number (recovery by SMS,
/// and verifiable by SMS).
fn phone_schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email",
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}},
                        "verification": {"via": "email"},
                        "recovery": {"via": "email"}}},
                "phone": {"type": "string", "format": "tel",
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}},
                        "verification": {"via": "sms"},
                        "recovery": {"via": "sms"}}}
            }, "additionalProperties": false}}
        }),
    )
    .expect("phone schema loads")
}

/// A registry of tenant `nid` over `store` with `yaml` added to the configuration.
fn registry(store: Arc<dyn Persister>, yaml: &str, nid: Uuid) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{yaml}"
    ))
    .expect("config");
    Kratos::builder(super::without_hibp(config))
        .clock(Arc::new(SystemClock))
        .store(store)
        .schema(phone_schema())
        .courier_channel(Arc::new(MemoryOutbox::new()))
        .build()
        .expect("kratos builds")
        .tenant(nid)
}

fn v2(store: Arc<dyn Persister>) -> Kratos {
    registry(store, V2, Uuid::new_v4())
}

fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A random phone number that libphonenumber takes as valid (each test has its own tenant,
/// so numbers need not differ between tests).
fn phone() -> String {
    let n = u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
    format!("+1415555{:04}", n % 10_000)
}

async fn identity(k: &Kratos, traits: Value) -> Uuid {
    k.identities()
        .create(CreateIdentityBody {
            traits,
            ..Default::default()
        })
        .await
        .expect("identity")
        .id
}

/// Submits and expects the flow back (not a completed recovery).
async fn step(k: &Kratos, flow: Uuid, payload: Value) -> RecoveryFlow {
    match k
        .recovery()
        .submit(flow, &payload, &FlowContext::default())
        .await
        .expect("submission")
    {
        RecoverySubmission::Flow(f) => f,
        RecoverySubmission::Completed(_) => panic!("the step does not recover"),
    }
}

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// `(name, type, value)` of every input node, in order.
fn inputs(ui: &UiContainer) -> Vec<(String, InputType, Option<Value>)> {
    ui.nodes
        .iter()
        .filter_map(|n| match &n.attributes {
            NodeAttributes::Input(a) => Some((a.name.clone(), a.input_type, a.value.clone())),
            _ => None,
        })
        .collect()
}

fn names(ui: &UiContainer) -> Vec<String> {
    inputs(ui).into_iter().map(|(n, _, _)| n).collect()
}

fn node<'a>(ui: &'a UiContainer, name: &str) -> &'a UiNode {
    ui.node(name).unwrap_or_else(|| panic!("node {name}"))
}

fn value_of(ui: &UiContainer, name: &str) -> Option<Value> {
    match &node(ui, name).attributes {
        NodeAttributes::Input(a) => a.value.clone(),
        _ => None,
    }
}

/// The `recovery_select_address` buttons: `(value, label text)`.
fn choices(ui: &UiContainer) -> Vec<(String, String)> {
    ui.nodes
        .iter()
        .filter_map(|n| match &n.attributes {
            NodeAttributes::Input(a) if a.name == "recovery_select_address" => Some((
                a.value.as_ref()?.as_str()?.to_owned(),
                n.meta.label.as_ref()?.text.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn digest(address: &str) -> String {
    crate::strategy::sent_secret::recovery_v2::address_digest(address)
}

fn mask(address: &str) -> String {
    crate::strategy::sent_secret::recovery_v2::mask_address(address)
}

async fn messages_to(k: &Kratos, to: &str) -> Vec<Message> {
    k.courier()
        .list(&MessageQuery {
            recipient: Some(to.to_owned()),
            ..Default::default()
        })
        .await
        .expect("messages")
}

async fn all_messages(k: &Kratos) -> usize {
    k.courier()
        .list(&MessageQuery::default())
        .await
        .expect("messages")
        .len()
}

/// The code in the newest message queued to `to`, which must be of `kind`.
async fn code_to(k: &Kratos, to: &str, kind: MessageType) -> String {
    let m = messages_to(k, to)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a message to {to}"));
    assert_eq!(m.message_type, kind, "{to} is reached by {kind:?}");
    assert_eq!(m.template_type, TemplateType::RecoveryCodeValid);
    m.body
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .expect("the message carries a code")
        .to_owned()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn recover(k: &Kratos, flow: Uuid, code: &str) -> crate::flow::recovery::RecoverySuccess {
    match k
        .recovery()
        .submit(flow, &json!({"code": code}), &FlowContext::default())
        .await
        .expect("submission")
    {
        RecoverySubmission::Completed(s) => s,
        RecoverySubmission::Flow(f) => panic!("the code recovers, got {:?}", ids(&f.ui)),
    }
}

/// One recovery address, given in full: the code goes straight out by email.
pub async fn recovery_v2_by_email(store: Arc<dyn Persister>) {
    let k = v2(store.clone());
    let ctx = FlowContext::default();
    let email = format!("v2-{}@example.com", unique());
    let id = identity(&k, json!({ "email": email })).await;

    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::RecoveryAwaitingAddress);
    assert_eq!(flow.active.as_deref(), Some("code"));
    assert_eq!(
        inputs(&flow.ui),
        vec![
            ("recovery_address".into(), InputType::Text, None),
            ("method".into(), InputType::Submit, Some(json!("code"))),
        ]
    );
    let label = |ui: &UiContainer, n: &str| node(ui, n).meta.label.as_ref().map(|l| l.id);
    assert_eq!(label(&flow.ui, "recovery_address"), Some(1070016));
    assert_eq!(label(&flow.ui, "method"), Some(1070009));

    // A missing address is an error on its field.
    let missing = step(&k, flow.id, json!({"method": "code"})).await;
    assert_eq!(missing.state, FlowState::RecoveryAwaitingAddress);
    assert_eq!(
        node(&missing.ui, "recovery_address").messages[0].id,
        4000002
    );

    // Typed in another case: still the account's only address, so no choice.
    let sent = step(
        &k,
        flow.id,
        json!({"method": "code", "recovery_address": email.to_uppercase()}),
    )
    .await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let masked = format!("V2****@{}", "EXAMPLE.COM");
    assert_eq!(
        serde_json::to_value(&sent.ui.messages).unwrap(),
        json!([{
            "id": 1060004,
            "type": "info",
            "text": format!("A recovery code has been sent to {masked}. If you have not received it, check the spelling of the address and make sure to use the address you registered with."),
            "context": {"masked_address": masked},
        }])
    );
    assert_eq!(
        names(&sent.ui),
        [
            "code",
            "method",
            "method",
            "recovery_confirm_address",
            "recovery_address",
            "screen"
        ]
    );
    let code_node = serde_json::to_value(node(&sent.ui, "code")).unwrap();
    assert_eq!(code_node["attributes"]["pattern"], "[0-9]+");
    assert_eq!(code_node["attributes"]["maxlength"], 6);
    assert_eq!(code_node["attributes"]["autocomplete"], "one-time-code");
    assert_eq!(code_node["meta"]["label"]["id"], 1070010);
    assert_eq!(
        value_of(&sent.ui, "recovery_confirm_address"),
        Some(json!(email.to_uppercase()))
    );

    let code = code_to(&k, &email, MessageType::Email).await;
    let again = step(&k, flow.id, json!({"code": wrong(&code)})).await;
    assert_eq!(
        (again.state, ids(&again.ui)),
        (FlowState::RecoveryAwaitingCode, vec![4060006])
    );
    let s = recover(&k, flow.id, &code).await;
    assert_eq!(s.flow.state, FlowState::PassedChallenge);
    assert_eq!(ids(&s.flow.ui), vec![1060001]);
    assert_eq!(s.session.identity_id, id);
    assert_eq!(s.session.authentication_methods[0].method, "code_recovery");
    assert!(matches!(
        &s.continue_with[0],
        ContinueWith::SetOrySessionToken { .. }
    ));
    assert!(matches!(
        &s.continue_with[1],
        ContinueWith::ShowSettingsUi { flow } if flow.id == s.settings_flow.id
    ));
    assert!(k.identities().get(id).await.unwrap().verifiable_addresses[0].verified);
    assert!(matches!(
        k.recovery()
            .submit(flow.id, &json!({"code": code}), &ctx)
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    // A browser flow needs its CSRF token at every step, and every step's form carries it.
    let b = k.recovery().create(FlowType::Browser, &ctx).await.unwrap();
    let csrf = value_of(&b.ui, "csrf_token").expect("the CSRF token");
    assert!(matches!(
        k.recovery()
            .submit(b.id, &json!({"recovery_address": email}), &ctx)
            .await,
        Err(FlowError::CsrfViolation)
    ));
    let sent = step(
        &k,
        b.id,
        json!({"recovery_address": email, "csrf_token": csrf}),
    )
    .await;
    assert_eq!(value_of(&sent.ui, "csrf_token"), Some(csrf.clone()));
    let code = code_to(&k, &email, MessageType::Email).await;
    assert!(matches!(
        k.recovery()
            .submit(b.id, &json!({"code": code}), &ctx)
            .await,
        Err(FlowError::CsrfViolation)
    ));
    let RecoverySubmission::Completed(_) = k
        .recovery()
        .submit(b.id, &json!({"code": code, "csrf_token": csrf}), &ctx)
        .await
        .unwrap()
    else {
        panic!("the code recovers the browser flow")
    };

    // With the flag off, new flows are v1 as before.
    let v1 = registry(store, V1, Uuid::new_v4());
    let f = v1.recovery().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!((f.state, f.active), (FlowState::ChooseMethod, None));
    assert_eq!(names(&f.ui), ["email", "method"]);
}

/// A phone number (`via: sms`): the code goes by text message.
pub async fn recovery_v2_by_sms(store: Arc<dyn Persister>) {
    let k = v2(store);
    let phone = phone();
    let id = identity(&k, json!({ "phone": phone })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    // Typed with spaces: normalised to the stored E.164 number.
    let typed = format!("{} {} {}", &phone[..3], &phone[3..7], &phone[7..]);
    let sent = step(&k, flow.id, json!({"recovery_address": typed})).await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let masked = mask(&typed);
    assert_eq!(
        masked,
        format!("{}****{}", &phone[..3], &phone[phone.len() - 2..])
    );
    assert_eq!(
        sent.ui.messages[0].context,
        Some(json!({ "masked_address": masked }))
    );
    let sms = messages_to(&k, &phone).await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].message_type, MessageType::Sms);
    assert!(sms[0].subject.is_empty() && sms[0].html_body.is_none());
    assert!(sms[0].body.starts_with("Your recovery code is: "));
    let code = code_to(&k, &phone, MessageType::Sms).await;
    let s = recover(&k, flow.id, &code).await;
    assert_eq!(s.session.identity_id, id);
    // The phone number received the code: it is verified too.
    let i = k.identities().get(id).await.unwrap();
    assert!(i.verifiable_addresses.iter().all(|a| a.verified));
}

/// An unknown address gets the answer a known one gets, and nothing is sent (with
/// `notify_unknown_recipients`, an email notice; never a text message).
pub async fn recovery_v2_unknown_address(store: Arc<dyn Persister>) {
    let k = v2(store.clone());
    let ctx = FlowContext::default();
    let known = format!("known-{}@example.com", unique());
    identity(&k, json!({ "email": known })).await;
    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let known_answer = step(&k, flow.id, json!({"recovery_address": known})).await;
    let before = all_messages(&k).await;

    for unknown in [
        format!("nobody-{}@example.com", unique()),
        phone(),
        "asdf".to_owned(),
        "\\".to_owned(),
    ] {
        let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
        let answer = step(&k, flow.id, json!({"recovery_address": unknown})).await;
        assert_eq!(answer.state, known_answer.state, "{unknown}");
        assert_eq!(names(&answer.ui), names(&known_answer.ui));
        assert_eq!(ids(&answer.ui), vec![1060004]);
        let masked = mask(&unknown);
        assert!(answer.ui.messages[0].text.contains(&masked));
        // No code can recover it.
        let again = step(&k, flow.id, json!({"code": "123456"})).await;
        assert_eq!(ids(&again.ui), vec![4060006]);
    }
    assert_eq!(all_messages(&k).await, before, "nothing is sent");

    let nid = Uuid::new_v4();
    let notify = registry(store, V2_NOTIFY, nid);
    let (email, phone) = (format!("nobody-{}@example.com", unique()), phone());
    for unknown in [&email, &phone] {
        let f = notify.recovery().create(FlowType::Api, &ctx).await.unwrap();
        let answer = step(&notify, f.id, json!({"recovery_address": unknown})).await;
        assert_eq!(ids(&answer.ui), vec![1060004]);
    }
    let notices = messages_to(&notify, &email).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].template_type, TemplateType::RecoveryCodeInvalid);
    assert_eq!(notices[0].message_type, MessageType::Email);
    assert!(messages_to(&notify, &phone).await.is_empty());
}

/// Several recovery addresses: a choice among them, masked; the address given in full goes
/// straight to the code, another one must be typed in full first.
pub async fn recovery_v2_chooses_among_addresses(store: Arc<dyn Persister>) {
    let k = v2(store);
    let email = format!("many-{}@example.com", unique());
    let phone = phone();
    let id = identity(&k, json!({ "email": email, "phone": phone })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();

    let choice = step(&k, flow.id, json!({"recovery_address": email})).await;
    assert_eq!(choice.state, FlowState::RecoveryAwaitingAddressChoice);
    assert_eq!(ids(&choice.ui), vec![1060006]);
    // Sorted by address, masked, named by their digests; nothing shows them in full.
    let masked_email = "ma****@example.com".to_owned();
    let masked_phone = format!("{}****{}", &phone[..3], &phone[phone.len() - 2..]);
    assert_eq!(
        choices(&choice.ui),
        vec![
            (digest(&phone), masked_phone.clone()),
            (digest(&email), masked_email)
        ]
    );
    assert_eq!(
        names(&choice.ui),
        [
            "recovery_select_address",
            "recovery_select_address",
            "method",
            "recovery_address"
        ]
    );
    assert!(!serde_json::to_string(&choice.ui).unwrap().contains(&phone));
    assert_eq!(
        node(&choice.ui, "recovery_select_address")
            .meta
            .label
            .as_ref()
            .map(|l| l.id),
        Some(1070000)
    );
    assert_eq!(
        all_messages(&k).await,
        0,
        "nothing is sent before the choice"
    );

    // A choice that is none of the account's addresses.
    let bad = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest("someone@else.example")}),
    )
    .await;
    assert_eq!(bad.state, FlowState::RecoveryAwaitingAddressChoice);
    assert_eq!(
        serde_json::to_value(&bad.ui.messages).unwrap(),
        json!([{"id": 4000001, "type": "error", "text": "The selected recovery address is not valid.",
                "context": {"reason": "The selected recovery address is not valid."}}])
    );
    let missing = step(&k, flow.id, json!({"recovery_address": email})).await;
    assert_eq!(ids(&missing.ui), vec![4000002]);

    // The phone number was not given: it must be typed in full.
    let confirm = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&phone)}),
    )
    .await;
    assert_eq!(confirm.state, FlowState::RecoveryConfirmingAddress);
    assert_eq!(ids(&confirm.ui), vec![1060005]);
    assert_eq!(
        inputs(&confirm.ui),
        vec![
            (
                "recovery_confirm_address".into(),
                InputType::Tel,
                Some(json!(""))
            ),
            (
                "recovery_address".into(),
                InputType::Hidden,
                Some(json!(email))
            ),
            ("method".into(), InputType::Submit, Some(json!("code"))),
            ("method".into(), InputType::Hidden, Some(json!("code"))),
            ("screen".into(), InputType::Submit, Some(json!("previous"))),
        ]
    );
    let label = node(&confirm.ui, "recovery_confirm_address")
        .meta
        .label
        .clone()
        .unwrap();
    assert_eq!((label.id, label.text.as_str()), (1070017, "Phone number"));
    let missing = step(&k, flow.id, json!({"recovery_address": email})).await;
    assert_eq!(
        node(&missing.ui, "recovery_confirm_address").messages[0].id,
        4000002
    );
    let sent = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": phone}),
    )
    .await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    assert_eq!(
        sent.ui.messages[0].context,
        Some(json!({ "masked_address": masked_phone }))
    );
    let code = code_to(&k, &phone, MessageType::Sms).await;
    assert!(messages_to(&k, &email).await.is_empty());
    assert_eq!(recover(&k, flow.id, &code).await.session.identity_id, id);

    // Choosing the address that was given skips typing it again.
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    step(&k, flow.id, json!({"recovery_address": phone})).await;
    let sent = step(
        &k,
        flow.id,
        json!({"recovery_address": phone, "recovery_select_address": digest(&phone)}),
    )
    .await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let code = code_to(&k, &phone, MessageType::Sms).await;
    assert_eq!(recover(&k, flow.id, &code).await.session.identity_id, id);
}

/// `screen: previous`: back to the choice from the later steps, or to the first screen when
/// there is nothing to choose; a code sent before going back to another address no longer
/// recovers; resending replaces the code.
pub async fn recovery_v2_goes_back(store: Arc<dyn Persister>) {
    let k = v2(store);
    let email = format!("back-{}@example.com", unique());
    let phone = phone();
    let id = identity(&k, json!({ "email": email, "phone": phone })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();

    // Choice → confirm → back → choice.
    step(&k, flow.id, json!({"recovery_address": email})).await;
    step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&phone)}),
    )
    .await;
    let back = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "screen": "previous"}),
    )
    .await;
    assert_eq!(back.state, FlowState::RecoveryAwaitingAddressChoice);
    assert_eq!(choices(&back.ui).len(), 2);

    // Choice → code (by email) → back → choice → the phone → code (by SMS).
    let sent = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&email)}),
    )
    .await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let email_code = code_to(&k, &email, MessageType::Email).await;
    let back = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "screen": "previous"}),
    )
    .await;
    assert_eq!(back.state, FlowState::RecoveryAwaitingAddressChoice);
    step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&phone)}),
    )
    .await;
    step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": phone}),
    )
    .await;
    let sms_code = code_to(&k, &phone, MessageType::Sms).await;
    // The email's code went to an address the flow moved away from.
    let refused = step(&k, flow.id, json!({"code": email_code})).await;
    assert_eq!(ids(&refused.ui), vec![4060006]);

    // Resending (no code, the address again) replaces the code.
    let resent = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": phone, "code": ""}),
    )
    .await;
    assert_eq!(
        (resent.state, ids(&resent.ui)),
        (FlowState::RecoveryAwaitingCode, vec![1060004])
    );
    let new_code = code_to(&k, &phone, MessageType::Sms).await;
    assert_eq!(messages_to(&k, &phone).await.len(), 2);
    if new_code != sms_code {
        let refused = step(&k, flow.id, json!({"code": sms_code})).await;
        assert_eq!(ids(&refused.ui), vec![4060006]);
    }
    assert_eq!(
        recover(&k, flow.id, &new_code).await.session.identity_id,
        id
    );

    // One address: back goes to the first screen, from any step.
    let single = format!("single-{}@example.com", unique());
    identity(&k, json!({ "email": single })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    step(&k, flow.id, json!({"recovery_address": single})).await;
    let first = step(
        &k,
        flow.id,
        json!({"recovery_address": single, "screen": "previous"}),
    )
    .await;
    assert_eq!(first.state, FlowState::RecoveryAwaitingAddress);
    assert_eq!(names(&first.ui), ["recovery_address", "method"]);
    assert!(first.ui.messages.is_empty());
    let again = step(&k, flow.id, json!({"recovery_address": single})).await;
    assert_eq!(again.state, FlowState::RecoveryAwaitingCode);
}

/// Wrong codes: each is refused; after `max_submissions` even the right one is; the send
/// limit holds for v2 sends.
pub async fn recovery_v2_wrong_codes_and_limits(store: Arc<dyn Persister>) {
    let k = registry(store, V2_TWO_SENDS, Uuid::new_v4());
    let email = format!("wrong-{}@example.com", unique());
    let id = identity(&k, json!({ "email": email })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    step(&k, flow.id, json!({"recovery_address": email})).await;
    let code = code_to(&k, &email, MessageType::Email).await;
    for _ in 0..5 {
        let r = step(&k, flow.id, json!({"code": wrong(&code)})).await;
        assert_eq!(
            (r.state, ids(&r.ui)),
            (FlowState::RecoveryAwaitingCode, vec![4060006])
        );
    }
    let r = step(&k, flow.id, json!({"code": code})).await;
    assert_eq!(
        (r.state, ids(&r.ui)),
        (FlowState::RecoveryAwaitingCode, vec![4000001])
    );
    assert!(!k.identities().get(id).await.unwrap().verifiable_addresses[0].verified);

    // The second send is allowed, the third refused (nothing queued).
    let resent = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": email}),
    )
    .await;
    assert_eq!(ids(&resent.ui), vec![1060004]);
    let refused = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": email}),
    )
    .await;
    assert_eq!(
        (refused.state, ids(&refused.ui)),
        (FlowState::RecoveryAwaitingCode, vec![4000100])
    );
    assert_eq!(messages_to(&k, &email).await.len(), 2);
}

/// A flow created while the flag was on stays v2 after it is turned off (and the other
/// way round).
pub async fn recovery_v2_flow_outlives_the_flag(store: Arc<dyn Persister>) {
    let nid = Uuid::new_v4();
    let on = registry(store.clone(), V2, nid);
    let off = registry(store, V1, nid);
    let ctx = FlowContext::default();
    let email = format!("toggle-{}@example.com", unique());
    let id = identity(&on, json!({ "email": email })).await;

    let v2_flow = on.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let v1_flow = off.recovery().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(
        off.recovery().get(v2_flow.id, &ctx).await.unwrap().state,
        FlowState::RecoveryAwaitingAddress
    );

    // The flag is off now: the v2 flow goes on as v2 (no `method` needed).
    let sent = step(&off, v2_flow.id, json!({"recovery_address": email})).await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let code = code_to(&off, &email, MessageType::Email).await;
    assert_eq!(
        recover(&off, v2_flow.id, &code).await.session.identity_id,
        id
    );

    // And a v1 flow stays v1 after the flag is turned on.
    let sent = step(&on, v1_flow.id, json!({"method": "code", "email": email})).await;
    assert_eq!(
        (sent.state, ids(&sent.ui)),
        (FlowState::SentEmail, vec![1060003])
    );
    let code = code_to(&on, &email, MessageType::Email).await;
    let RecoverySubmission::Completed(s) = on
        .recovery()
        .submit(v1_flow.id, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap()
    else {
        panic!("the v1 flow recovers")
    };
    assert_eq!(s.session.identity_id, id);
}

/// A code recovers only for the address the flow last sent to: after going back and
/// confirming an address that is not the one chosen (nothing is sent), the code already sent
/// to the first address is refused.
pub async fn recovery_v2_code_only_for_the_last_address(store: Arc<dyn Persister>) {
    let k = v2(store);
    let email = format!("last-{}@example.com", unique());
    let phone = phone();
    identity(&k, json!({ "email": email, "phone": phone })).await;
    let flow = k
        .recovery()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    step(&k, flow.id, json!({"recovery_address": email})).await;
    let sent = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&email)}),
    )
    .await;
    assert_eq!(sent.state, FlowState::RecoveryAwaitingCode);
    let email_code = code_to(&k, &email, MessageType::Email).await;
    step(
        &k,
        flow.id,
        json!({"recovery_address": email, "screen": "previous"}),
    )
    .await;
    step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_select_address": digest(&phone)}),
    )
    .await;
    // Not the chosen number: the same answer as a send, and nothing sent.
    let before = messages_to(&k, &phone).await.len();
    let other = if phone.ends_with('1') {
        "+14155550000"
    } else {
        "+14155550001"
    };
    let confirmed = step(
        &k,
        flow.id,
        json!({"recovery_address": email, "recovery_confirm_address": other}),
    )
    .await;
    assert_eq!(confirmed.state, FlowState::RecoveryAwaitingCode);
    assert_eq!(messages_to(&k, &phone).await.len(), before);
    let refused = step(&k, flow.id, json!({"code": email_code})).await;
    assert_eq!(ids(&refused.ui), vec![4060006]);
}
