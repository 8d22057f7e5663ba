//! Conformance of the passwordless `code` method of login and registration.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use super::courier::{code_from_outbox, kratos_with_outbox};
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::ui::{NodeGroup, UiContainer};
use crate::flow::{FlowContext, FlowError, FlowState, FlowType};
use crate::store::Persister;
use crate::{Kratos, session::Aal};

const PASSWORDLESS: &str = "selfservice:\n  methods:\n    code:\n      passwordless_enabled: true\n  flows:\n    registration:\n      after:\n        code:\n          hooks: [{hook: session}]\n";

fn message_ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn register_step(k: &Kratos, flow: Uuid, body: Value) -> RegistrationSubmission {
    k.registration()
        .submit(flow, &body, &FlowContext::default())
        .await
        .unwrap()
}

async fn login_step(k: &Kratos, flow: Uuid, body: Value) -> Result<LoginSubmission, FlowError> {
    k.login().submit(flow, &body, &FlowContext::default()).await
}

async fn new_login(k: &Kratos) -> Uuid {
    k.login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap()
        .id
}

/// Registers `email` by code and answers the identity id.
async fn register_by_code(k: &Kratos, outbox: &crate::courier::MemoryOutbox, email: &str) -> Uuid {
    let flow = k
        .registration()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    register_step(
        k,
        flow.id,
        json!({"method": "code", "traits": {"email": email}}),
    )
    .await;
    let code = code_from_outbox(k, outbox, email).await;
    match register_step(
        k,
        flow.id,
        json!({"method": "code", "traits": {"email": email}, "code": code}),
    )
    .await
    {
        RegistrationSubmission::Completed(ok) => ok.identity.id,
        RegistrationSubmission::Retry(f) => panic!("refused: {:?}", message_ids(&f.ui)),
    }
}

pub async fn flow_registration_by_code(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, PASSWORDLESS);
    let email = format!("code-{}@example.com", Uuid::new_v4().simple());
    let flow = k
        .registration()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    let button = flow
        .ui
        .nodes
        .iter()
        .find(|n| n.group == NodeGroup::Code && n.name() == Some("method"))
        .expect("a code button");
    assert_eq!(button.meta.label.as_ref().unwrap().id, 1040006);

    // Invalid traits: nothing is sent.
    let RegistrationSubmission::Retry(f) =
        register_step(&k, flow.id, json!({"method": "code", "traits": {}})).await
    else {
        panic!("accepted without an email")
    };
    assert_eq!(message_ids(&f.ui), vec![4000002]);

    let RegistrationSubmission::Retry(sent) = register_step(
        &k,
        flow.id,
        json!({"method": "code", "traits": {"email": email.to_uppercase()}}),
    )
    .await
    else {
        panic!("registered without a code")
    };
    assert_eq!(sent.state, FlowState::SentEmail);
    assert_eq!(message_ids(&sent.ui), vec![1040005]);
    assert!(sent.ui.node("code").is_some() && sent.ui.node("resend").is_some());
    let code = code_from_outbox(&k, &outbox, &email).await;
    assert_eq!(
        outbox.last_to(&email).unwrap().subject,
        "Finish signing up",
        "registration_code_valid template"
    );

    // A wrong code, and the right code for other traits' address, are refused.
    let RegistrationSubmission::Retry(f) = register_step(
        &k,
        flow.id,
        json!({"method": "code", "traits": {"email": email}, "code": wrong(&code)}),
    )
    .await
    else {
        panic!("wrong code accepted")
    };
    assert_eq!(message_ids(&f.ui), vec![4040003]);
    let other = format!("other-{}@example.com", Uuid::new_v4().simple());
    let RegistrationSubmission::Retry(f) = register_step(
        &k,
        flow.id,
        json!({"method": "code", "traits": {"email": other}, "code": code}),
    )
    .await
    else {
        panic!("a code for another address was accepted")
    };
    assert_eq!(message_ids(&f.ui), vec![4040003]);

    // The right code: the identity exists with its address verified and a session.
    let RegistrationSubmission::Completed(done) = register_step(
        &k,
        flow.id,
        json!({"method": "code", "traits": {"email": email}, "code": code}),
    )
    .await
    else {
        panic!("right code refused")
    };
    assert_eq!(done.flow.state, FlowState::PassedChallenge);
    assert!(done.identity.verifiable_addresses[0].verified);
    assert!(
        !done
            .identity
            .credentials
            .contains_key(&crate::identity::CredentialType::Password)
    );
    let token = done
        .session_token
        .expect("the session hook issued a session");
    let session = k.sessions().whoami(token.expose()).await.unwrap();
    assert_eq!(session.authentication_methods[0].method, "code");
    assert!(matches!(
        k.registration()
            .submit(
                flow.id,
                &json!({"method": "code", "traits": {"email": email}, "code": code}),
                &FlowContext::default()
            )
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    // A second registration of the same address: duplicate.
    let again = k
        .registration()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap();
    register_step(
        &k,
        again.id,
        json!({"method": "code", "traits": {"email": email}}),
    )
    .await;
    let code = code_from_outbox(&k, &outbox, &email).await;
    let RegistrationSubmission::Retry(f) = register_step(
        &k,
        again.id,
        json!({"method": "code", "traits": {"email": email}, "code": code}),
    )
    .await
    else {
        panic!("registered twice")
    };
    assert_eq!(message_ids(&f.ui), vec![4000007]);
}

pub async fn flow_login_by_code(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, PASSWORDLESS);
    let email = format!("code-{}@example.com", Uuid::new_v4().simple());
    let identity = register_by_code(&k, &outbox, &email).await;

    let flow = new_login(&k).await;
    let LoginSubmission::Retry(sent) =
        login_step(&k, flow, json!({"method": "code", "identifier": email}))
            .await
            .unwrap()
    else {
        panic!("signed in without a code")
    };
    assert_eq!(sent.state, FlowState::SentEmail);
    assert_eq!(message_ids(&sent.ui), vec![1010014]);
    let code = code_from_outbox(&k, &outbox, &email).await;
    assert_eq!(outbox.last_to(&email).unwrap().subject, "Your sign-in code");
    let LoginSubmission::Retry(f) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": email, "code": wrong(&code)}),
    )
    .await
    .unwrap() else {
        panic!("wrong code accepted")
    };
    assert_eq!(message_ids(&f.ui), vec![4010008]);
    let LoginSubmission::Completed(done) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": email, "code": code}),
    )
    .await
    .unwrap() else {
        panic!("right code refused")
    };
    assert_eq!(done.session.identity_id, identity);
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal1);
    assert_eq!(done.session.authentication_methods[0].method, "code");
    assert_eq!(done.flow.active.as_deref(), Some("code"));

    // A used code does not work in another flow, nor twice.
    let flow = new_login(&k).await;
    let LoginSubmission::Retry(f) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": email, "code": code}),
    )
    .await
    .unwrap() else {
        panic!("a code of another flow was accepted")
    };
    assert_eq!(message_ids(&f.ui), vec![4010008]);

    // A resend replaces the earlier code.
    login_step(&k, flow, json!({"method": "code", "identifier": email}))
        .await
        .unwrap();
    let first = code_from_outbox(&k, &outbox, &email).await;
    login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": email, "resend": "code"}),
    )
    .await
    .unwrap();
    let second = code_from_outbox(&k, &outbox, &email).await;
    if first != second {
        let LoginSubmission::Retry(f) = login_step(
            &k,
            flow,
            json!({"method": "code", "identifier": email, "code": first}),
        )
        .await
        .unwrap() else {
            panic!("a replaced code was accepted")
        };
        assert_eq!(message_ids(&f.ui), vec![4010008]);
    }
    assert!(matches!(
        login_step(
            &k,
            flow,
            json!({"method": "code", "identifier": email, "code": second})
        )
        .await
        .unwrap(),
        LoginSubmission::Completed(_)
    ));
}

pub async fn flow_login_by_code_unknown_address_and_limits(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, PASSWORDLESS);
    // An unknown address gets the answer a known one gets, and no email.
    let unknown = format!("nobody-{}@example.com", Uuid::new_v4().simple());
    let flow = new_login(&k).await;
    let LoginSubmission::Retry(sent) =
        login_step(&k, flow, json!({"method": "code", "identifier": unknown}))
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (sent.state, message_ids(&sent.ui)),
        (FlowState::SentEmail, vec![1010014])
    );
    k.courier().dispatch_batch().await.unwrap();
    assert!(outbox.messages_to(&unknown).is_empty());
    let LoginSubmission::Retry(f) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": unknown, "code": "123456"}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(message_ids(&f.ui), vec![4010008]);

    // Five wrong codes, then even the right one is refused: the flow needs a new code.
    let email = format!("code-{}@example.com", Uuid::new_v4().simple());
    register_by_code(&k, &outbox, &email).await;
    let flow = new_login(&k).await;
    login_step(&k, flow, json!({"method": "code", "identifier": email}))
        .await
        .unwrap();
    let code = code_from_outbox(&k, &outbox, &email).await;
    for _ in 0..5 {
        login_step(
            &k,
            flow,
            json!({"method": "code", "identifier": email, "code": wrong(&code)}),
        )
        .await
        .unwrap();
    }
    let LoginSubmission::Retry(f) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": email, "code": code}),
    )
    .await
    .unwrap() else {
        panic!("accepted after too many attempts")
    };
    assert_eq!(message_ids(&f.ui), vec![4000001]);

    // Concurrent submissions of one code: exactly one signs in.
    let flow = new_login(&k).await;
    login_step(&k, flow, json!({"method": "code", "identifier": email}))
        .await
        .unwrap();
    let code = code_from_outbox(&k, &outbox, &email).await;
    let attempts = (0..6).map(|_| {
        let (k, email, code) = (k.clone(), email.clone(), code.clone());
        async move {
            login_step(
                &k,
                flow,
                json!({"method": "code", "identifier": email, "code": code}),
            )
            .await
        }
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(LoginSubmission::Completed(_))))
        .count();
    assert_eq!(wins, 1);

    // Without `passwordless_enabled` the method is not offered and not accepted.
    let (plain, _, _) = kratos_with_outbox(k.store().clone(), "");
    let flow = plain
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    assert!(!flow.ui.nodes.iter().any(|n| n.group == NodeGroup::Code));
    let LoginSubmission::Retry(f) = plain
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": email}),
            &FlowContext::default(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(message_ids(&f.ui), vec![4010002]);
}

/// A refresh by code re-authenticates the session's own identity: another account's address
/// (or no one's) gets 4000035 and no code, and a code cannot switch the session.
pub async fn flow_refresh_by_code_keeps_the_identity(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, PASSWORDLESS);
    let alice = format!("refresh-a-{}@example.com", Uuid::new_v4().simple());
    let bob = format!("refresh-b-{}@example.com", Uuid::new_v4().simple());
    let alice_id = register_by_code(&k, &outbox, &alice).await;
    register_by_code(&k, &outbox, &bob).await;
    let flow = new_login(&k).await;
    login_step(&k, flow, json!({"method": "code", "identifier": alice}))
        .await
        .unwrap();
    let code = code_from_outbox(&k, &outbox, &alice).await;
    let LoginSubmission::Completed(signed_in) = login_step(
        &k,
        flow,
        json!({"method": "code", "identifier": alice, "code": code}),
    )
    .await
    .unwrap() else {
        panic!("alice signs in")
    };
    let ctx = FlowContext {
        session_token: Some(signed_in.session_token.unwrap().expose().to_owned()),
        ..FlowContext::default()
    };
    let refresh = LoginOptions {
        refresh: true,
        ..Default::default()
    };
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, refresh)
        .await
        .unwrap();
    k.courier().dispatch_batch().await.unwrap();
    let sent_to_bob = outbox.messages_to(&bob).len();
    for other in [
        bob.clone(),
        format!("nobody-{}@example.com", Uuid::new_v4().simple()),
    ] {
        let LoginSubmission::Retry(f) = k
            .login()
            .submit(
                flow.id,
                &json!({"method": "code", "identifier": other}),
                &ctx,
            )
            .await
            .unwrap()
        else {
            panic!("another address does not refresh")
        };
        assert_eq!(message_ids(&f.ui), vec![4000035]);
    }
    k.courier().dispatch_batch().await.unwrap();
    assert_eq!(
        outbox.messages_to(&bob).len(),
        sent_to_bob,
        "bob got no code"
    );
    // Alice's own address refreshes her session.
    k.login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": alice}),
            &ctx,
        )
        .await
        .unwrap();
    let code = code_from_outbox(&k, &outbox, &alice).await;
    let LoginSubmission::Completed(refreshed) = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": alice, "code": code}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("alice refreshes")
    };
    assert_eq!(refreshed.session.identity_id, alice_id);
    assert_eq!(refreshed.session.id, signed_in.session.id);
}
