//! Conformance of phone numbers: sign-up, sign-in, verification and the second factor by a
//! code sent by text message, with numbers normalised to E.164 and refused with Kratos's
//! 4000041 when they are not numbers.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Kratos;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::courier::{MemoryOutbox, MessageQuery, MessageType};
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::ui::UiContainer;
use crate::flow::{FlowContext, FlowState, FlowType};
use crate::identity::{
    AddressVia, CreateIdentityBody, IdentitySchema, ImportCredentials, ImportPassword,
    ImportPasswordConfig,
};
use crate::session::Aal;
use crate::store::Persister;

const PASSWORD: &str = "a phone and a long passphrase";

/// An identity schema with an email address (password identifier, verified by email) and a
/// phone number (code and password identifier, verified and recovered by text message).
fn phone_schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                    "credentials": {"password": {"identifier": true}},
                    "verification": {"via": "email"}}},
                "phone": {"type": "string", "format": "tel", "title": "Phone number",
                    "ory.sh/kratos": {
                        "credentials": {"code": {"identifier": true, "via": "sms"},
                                        "password": {"identifier": true}},
                        "verification": {"via": "sms"},
                        "recovery": {"via": "sms"}}}
            }, "required": ["phone"]}}
        }),
    )
    .expect("the phone schema")
}

/// Kratos with the phone schema; `code_factor` is `passwordless_enabled` or `mfa_enabled`,
/// `flows_yaml` more of `selfservice.flows` (indented by four spaces).
fn phone_kratos(store: Arc<dyn Persister>, code_factor: &str, flows_yaml: &str) -> Phones {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\nselfservice:\n  methods:\n    code:\n      {code_factor}: true\n  flows:\n    registration:\n      after:\n        code:\n          hooks: [{{hook: session}}]\n{flows_yaml}"
    ))
    .expect("config");
    let (mail, sms) = (MemoryOutbox::new(), MemoryOutbox::new());
    let k = Kratos::builder(super::without_hibp(config))
        .clock(Arc::new(ManualClock::new(Utc::now())))
        .store(store)
        .schema(phone_schema())
        .courier_channel(Arc::new(mail.clone()))
        .courier_sms_channel(Arc::new(sms.clone()))
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4());
    Phones { k, mail, sms }
}

/// A registry with its email and text-message outboxes.
struct Phones {
    k: Kratos,
    mail: MemoryOutbox,
    sms: MemoryOutbox,
}

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// The six-digit code in the newest text message to `to`, after a courier dispatch: it went
/// through the text-message channel, never by email.
async fn code_from_sms(p: &Phones, to: &str) -> String {
    p.k.courier().dispatch_batch().await.expect("dispatch");
    assert!(p.mail.last_to(to).is_none(), "no email to a phone number");
    let newest = p.sms.last_to(to).expect("a text message to the phone");
    assert_eq!(
        newest.message_type,
        MessageType::Sms,
        "sent by text message"
    );
    assert!(newest.subject.is_empty() && newest.html_body.is_none());
    newest
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("the text message carries a code")
        .to_owned()
}

/// Every message queued so far, to anyone.
async fn all_messages(k: &Kratos) -> usize {
    k.courier()
        .list(&MessageQuery::default())
        .await
        .expect("messages")
        .len()
}

async fn register(k: &Kratos, flow: Uuid, body: Value) -> RegistrationSubmission {
    k.registration()
        .submit(flow, &body, &FlowContext::default())
        .await
        .expect("registration step")
}

async fn login(k: &Kratos, flow: Uuid, body: Value, ctx: &FlowContext) -> LoginSubmission {
    k.login()
        .submit(flow, &body, ctx)
        .await
        .expect("login step")
}

async fn new_login(k: &Kratos, ctx: &FlowContext, aal: Option<Aal>) -> Uuid {
    k.login()
        .create(
            FlowType::Api,
            ctx,
            LoginOptions {
                aal,
                ..Default::default()
            },
        )
        .await
        .expect("login flow")
        .id
}

/// Signs up with a phone number by a code sent by text message, then signs in with a code by
/// text message; the number is kept in E.164 and verified by the sign-up code. A number that
/// is not a number gets 4000041 on its node and nothing is sent.
pub async fn phone_sign_up_and_sign_in_by_text_message(store: Arc<dyn Persister>) {
    let p = phone_kratos(store, "passwordless_enabled", "");
    let k = &p.k;
    let phone = "+14155550123";
    let flow = k
        .registration()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .expect("registration flow");

    // Not a number: Kratos's 4000041 with the value, on the trait's node; nothing queued.
    let RegistrationSubmission::Retry(bad) = register(
        k,
        flow.id,
        json!({"method": "code", "traits": {"phone": "415 555 0123"}}),
    )
    .await
    else {
        panic!("a local number registered");
    };
    let node = bad.ui.node("traits.phone").expect("the phone node");
    assert_eq!(
        serde_json::to_value(&node.messages).unwrap(),
        json!([{"id": 4000041, "text": "Enter a valid phone number", "type": "error",
                "context": {"value": "415 555 0123"}}])
    );
    for bad_number in ["+999 555 0123", "hello", "+1 415 555 0123 9999 9999"] {
        let RegistrationSubmission::Retry(f) = register(
            k,
            flow.id,
            json!({"method": "code", "traits": {"phone": bad_number}}),
        )
        .await
        else {
            panic!("{bad_number} registered");
        };
        assert_eq!(ids(&f.ui), [4000041], "{bad_number}");
    }
    assert_eq!(
        all_messages(k).await,
        0,
        "nothing queued for numbers that are not numbers"
    );

    // Written as people write it; the code goes by text message to the E.164 number.
    let traits = json!({"phone": "+1 (415) 555-0123"});
    let RegistrationSubmission::Retry(sent) =
        register(k, flow.id, json!({"method": "code", "traits": traits})).await
    else {
        panic!("registered without a code");
    };
    assert_eq!(sent.state, FlowState::SentEmail);
    assert_eq!(ids(&sent.ui), [1040005]);
    let code = code_from_sms(&p, phone).await;
    let RegistrationSubmission::Completed(done) = register(
        k,
        flow.id,
        json!({"method": "code", "traits": traits, "code": code}),
    )
    .await
    else {
        panic!("the sign-up code was refused");
    };
    let identity = done.identity;
    assert_eq!(
        identity.traits["phone"], "+1 (415) 555-0123",
        "traits are kept as written, as Kratos keeps them"
    );
    let address = identity
        .verifiable_addresses
        .iter()
        .find(|a| a.value == phone)
        .expect("the phone is a verifiable address, in E.164");
    assert_eq!(address.via, AddressVia::Sms);
    assert!(address.verified, "the sign-up code proved the number");

    // Sign in with a code by text message, typing the number another way.
    let ctx = FlowContext::default();
    let flow = new_login(k, &ctx, None).await;
    let LoginSubmission::Retry(sent) = login(
        k,
        flow,
        json!({"method": "code", "identifier": "+1 415.555.0123"}),
        &ctx,
    )
    .await
    else {
        panic!("signed in without a code");
    };
    assert_eq!(ids(&sent.ui), [1010014]);
    let code = code_from_sms(&p, phone).await;
    let LoginSubmission::Completed(done) = login(
        k,
        flow,
        json!({"method": "code", "identifier": phone, "code": code}),
        &ctx,
    )
    .await
    else {
        panic!("the login code was refused");
    };
    assert_eq!(done.session.identity_id, identity.id);

    // An unknown number gets the same answer and no message, to anyone.
    let before = all_messages(k).await;
    let flow = new_login(k, &ctx, None).await;
    let LoginSubmission::Retry(same) = login(
        k,
        flow,
        json!({"method": "code", "identifier": "+14155550199"}),
        &ctx,
    )
    .await
    else {
        panic!("an unknown number signed in");
    };
    assert_eq!(ids(&same.ui), [1010014]);
    assert_eq!(all_messages(k).await, before);
}

/// Verifies a phone number by a code sent by text message: Kratos's 1080004 when sent,
/// 1080005 when verified; an unknown number gets the same answer and no message.
pub async fn phone_verification_by_text_message(store: Arc<dyn Persister>) {
    let p = phone_kratos(
        store,
        "passwordless_enabled",
        "    verification:\n      enabled: true\n      use: code\n      notify_unknown_recipients: true\n",
    );
    let k = &p.k;
    let phone = "+442079460958";
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"phone": "+44 20 7946 0958", "email": format!("v-{}@example.com", Uuid::new_v4().simple())}),
            ..Default::default()
        })
        .await
        .expect("identity");
    let address = identity
        .verifiable_addresses
        .iter()
        .find(|a| a.via == AddressVia::Sms)
        .expect("a phone address");
    assert_eq!((address.value.as_str(), address.verified), (phone, false));

    let ctx = FlowContext::default();
    let flow = k
        .verification()
        .create(FlowType::Api, &ctx)
        .await
        .expect("verification flow");
    // With a text-message channel the field takes a phone number too (Kratos's 1070018).
    let field = flow.ui.node("email").expect("the address field");
    assert_eq!(field.meta.label.as_ref().map(|l| l.id), Some(1070018));
    assert_eq!(
        serde_json::to_value(&field.attributes).unwrap()["type"],
        "text"
    );
    let sent = k
        .verification()
        .submit(
            flow.id,
            &json!({"method": "code", "email": "+44 20 7946 0958"}),
            &ctx,
        )
        .await
        .expect("send");
    assert_eq!(sent.state, FlowState::SentEmail);
    assert_eq!(ids(&sent.ui), [1080004]);
    let code = code_from_sms(&p, phone).await;
    let done = k
        .verification()
        .submit(flow.id, &json!({"method": "code", "code": code}), &ctx)
        .await
        .expect("verify");
    assert_eq!(done.state, FlowState::PassedChallenge);
    assert_eq!(ids(&done.ui), [1080005]);
    let identity = k
        .store()
        .get_identity(k.nid(), identity.id)
        .await
        .expect("identity");
    assert!(
        identity
            .verifiable_addresses
            .iter()
            .any(|a| a.value == phone && a.verified)
    );

    // An unknown number gets the same answer and, unlike an unknown email address, no
    // notice: nothing is queued to anyone.
    let before = all_messages(k).await;
    let flow = k
        .verification()
        .create(FlowType::Api, &ctx)
        .await
        .expect("verification flow");
    let same = k
        .verification()
        .submit(
            flow.id,
            &json!({"method": "code", "email": "+442079460000"}),
            &ctx,
        )
        .await
        .expect("send");
    assert_eq!(ids(&same.ui), [1080004]);
    assert_eq!(all_messages(k).await, before);
    // Not a number at all: the same.
    let flow = k
        .verification()
        .create(FlowType::Api, &ctx)
        .await
        .expect("verification flow");
    k.verification()
        .submit(flow.id, &json!({"method": "code", "email": "hello"}), &ctx)
        .await
        .expect("send");
    assert_eq!(all_messages(k).await, before);
}

/// A phone number that is a code identifier is a second factor: the aal2 flow offers it
/// (1010023 with the `sms` channel), the code goes by text message and steps the session up.
pub async fn phone_code_as_second_factor(store: Arc<dyn Persister>) {
    let p = phone_kratos(store, "mfa_enabled", "");
    let k = &p.k;
    let phone = "+14155550177";
    let email = format!("mfa-{}@example.com", Uuid::new_v4().simple());
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email, "phone": phone}),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("identity");
    let ctx = FlowContext::default();
    let flow = new_login(k, &ctx, None).await;
    let LoginSubmission::Completed(first) = login(
        k,
        flow,
        json!({"method": "password", "identifier": email, "password": PASSWORD}),
        &ctx,
    )
    .await
    else {
        panic!("the password was refused");
    };
    let token = first.session_token.expect("a token").expose().to_owned();
    // The phone number signs in with the password too, however it is written.
    let flow = new_login(k, &ctx, None).await;
    let LoginSubmission::Completed(_) = login(
        k,
        flow,
        json!({"method": "password", "identifier": "+1 (415) 555-0177", "password": PASSWORD}),
        &ctx,
    )
    .await
    else {
        panic!("the phone number as written did not sign in");
    };
    let with_token = FlowContext {
        session_token: Some(token),
        ..Default::default()
    };
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &with_token,
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .expect("aal2 flow");
    let button = flow
        .ui
        .nodes
        .iter()
        .find(|n| n.name() == Some("address"))
        .expect("the phone is offered");
    let label = button.meta.label.as_ref().expect("a label");
    assert_eq!(label.id, 1010023);
    assert_eq!(
        label.context,
        Some(json!({"address": phone, "channel": "sms"}))
    );
    let LoginSubmission::Retry(sent) =
        login(k, flow.id, json!({"address": phone}), &with_token).await
    else {
        panic!("stepped up without a code");
    };
    assert_eq!(ids(&sent.ui), [1010025]);
    let code = code_from_sms(&p, phone).await;
    let LoginSubmission::Completed(done) = login(
        k,
        flow.id,
        json!({"method": "code", "code": code, "identifier": phone}),
        &with_token,
    )
    .await
    else {
        panic!("the code was refused");
    };
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
}
