//! Conformance of the verification hooks: registration, settings and login send verification
//! messages and point `continue_with` at the verification flows.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::courier::{code_from_outbox, kratos_with_outbox};
use crate::error::KratosError;
use crate::flow::registration::RegistrationSubmission;
use crate::flow::settings::SettingsSubmission;
use crate::flow::{ContinueWith, FlowContext, FlowState, FlowType};
use crate::store::Persister;

const HOOKS: &str = "selfservice:\n  flows:\n    verification:\n      enabled: true\n      ui_url: http://app.test/verification\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}, {hook: show_verification_ui}]\n    login:\n      after:\n        hooks: [{hook: require_verified_address}]\n    settings:\n      privileged_session_max_age: 1h\n";

fn fresh_email() -> String {
    format!("hooks-{}@example.com", Uuid::new_v4().simple())
}

fn verification_flows(items: &[ContinueWith]) -> Vec<(Uuid, Option<String>, Option<String>)> {
    items
        .iter()
        .filter_map(|c| match c {
            ContinueWith::ShowVerificationUi { flow } => {
                Some((flow.id, flow.verifiable_address.clone(), flow.url.clone()))
            }
            _ => None,
        })
        .collect()
}

async fn register(
    k: &crate::Kratos,
    flow_type: FlowType,
    email: &str,
) -> crate::flow::registration::RegistrationSuccess {
    let ctx = FlowContext::default();
    let flow = k.registration().create(flow_type, &ctx).await.unwrap();
    let mut body =
        json!({"method": "password", "traits": {"email": email}, "password": "long enough pw"});
    if flow_type == FlowType::Browser {
        let csrf = k
            .store()
            .get_flow(k.nid(), crate::flow::FlowKind::Registration, flow.id)
            .await
            .unwrap()
            .csrf_token;
        body["csrf_token"] = json!(csrf);
    }
    match k.registration().submit(flow.id, &body, &ctx).await.unwrap() {
        RegistrationSubmission::Completed(ok) => ok,
        RegistrationSubmission::Retry(f) => panic!("registration refused: {:?}", f.ui.messages),
    }
}

pub async fn flow_registration_sends_verification(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, HOOKS);
    let email = fresh_email();

    // An api registration: the session token and one verification flow for the address.
    let done = register(&k, FlowType::Api, &email).await;
    let flows = verification_flows(&done.continue_with);
    assert_eq!(flows.len(), 1, "{:?}", done.continue_with);
    let (flow_id, address, url) = &flows[0];
    assert_eq!(address.as_deref(), Some(email.as_str()));
    assert_eq!(
        url.as_deref(),
        Some(format!("http://app.test/verification?flow={flow_id}").as_str())
    );
    assert!(
        done.continue_with
            .iter()
            .any(|c| matches!(c, ContinueWith::SetOrySessionToken { .. }))
    );
    let ctx = FlowContext::default();
    let flow = k.verification().get(*flow_id, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::SentEmail);
    assert_eq!(flow.flow_type, FlowType::Api);

    // The login hook refuses until the address is verified.
    let password_login = |k: crate::Kratos, email: String| async move {
        let flow = k
            .login()
            .create(
                FlowType::Api,
                &FlowContext::default(),
                crate::flow::login::LoginOptions::default(),
            )
            .await
            .unwrap();
        k.login()
            .submit(
                flow.id,
                &json!({"method": "password", "identifier": email, "password": "long enough pw"}),
                &FlowContext::default(),
            )
            .await
            .unwrap()
    };
    assert!(matches!(
        password_login(k.clone(), email.clone()).await,
        crate::flow::login::LoginSubmission::Retry(_)
    ));

    // The mailed code verifies the address; the login passes.
    let code = code_from_outbox(&k, &outbox, &email).await;
    let verified = k
        .verification()
        .submit(*flow_id, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap();
    assert_eq!(verified.state, FlowState::PassedChallenge);
    assert!(
        done.identity
            .verifiable_addresses
            .iter()
            .all(|a| !a.verified)
    );
    let identity = k.identities().get(done.identity.id).await.unwrap();
    assert!(identity.verifiable_addresses[0].verified);
    assert!(matches!(
        password_login(k.clone(), email.clone()).await,
        crate::flow::login::LoginSubmission::Completed(_)
    ));

    // A browser registration with `show_verification_ui` is sent to the verification UI.
    let email = fresh_email();
    let done = register(&k, FlowType::Browser, &email).await;
    let flows = verification_flows(&done.continue_with);
    assert_eq!(flows.len(), 1);
    let redirect = done.continue_with.iter().find_map(|c| match c {
        ContinueWith::RedirectBrowserTo {
            redirect_browser_to,
        } => Some(redirect_browser_to.clone()),
        _ => None,
    });
    assert_eq!(redirect, flows[0].2, "browsers go to the verification UI");
    assert_eq!(outbox.messages_to(&email).len(), 0, "queued, not sent yet");
    k.courier().dispatch_batch().await.unwrap();
    assert_eq!(outbox.messages_to(&email).len(), 1);
}

pub async fn flow_registration_without_verification_sends_nothing(store: Arc<dyn Persister>) {
    let yaml = "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n";
    let (k, outbox, _) = kratos_with_outbox(store, yaml);
    let email = fresh_email();
    let done = register(&k, FlowType::Browser, &email).await;
    assert!(verification_flows(&done.continue_with).is_empty());
    k.courier().dispatch_batch().await.unwrap();
    assert!(outbox.messages_to(&email).is_empty());
}

pub async fn flow_settings_new_address_is_verified_again(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, HOOKS);
    let email = fresh_email();
    let done = register(&k, FlowType::Api, &email).await;
    let token = done.session_token.unwrap().expose().to_owned();
    // Verify the first address.
    let first = verification_flows(&done.continue_with)[0].0;
    let code = code_from_outbox(&k, &outbox, &email).await;
    let ctx = FlowContext::default();
    k.verification()
        .submit(first, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap();

    let ctx = FlowContext {
        session_token: Some(token),
        ..Default::default()
    };
    // A profile change that keeps the address sends nothing.
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let SettingsSubmission::Completed(same) = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "profile", "traits": {"email": email, "name": "Ada"}}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("profile change refused")
    };
    assert!(verification_flows(&same.continue_with).is_empty());
    let identity = k.identities().get(done.identity.id).await.unwrap();
    assert!(identity.verifiable_addresses[0].verified, "kept");

    // A new address starts unverified and gets its own message and flow.
    let new_email = fresh_email();
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let SettingsSubmission::Completed(changed) = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "profile", "traits": {"email": new_email}}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("address change refused")
    };
    let flows = verification_flows(&changed.continue_with);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].1.as_deref(), Some(new_email.as_str()));
    let identity = k.identities().get(done.identity.id).await.unwrap();
    assert_eq!(identity.verifiable_addresses.len(), 1);
    assert_eq!(identity.verifiable_addresses[0].value, new_email);
    assert!(!identity.verifiable_addresses[0].verified);
    let code = code_from_outbox(&k, &outbox, &new_email).await;
    let verified = k
        .verification()
        .submit(
            flows[0].0,
            &json!({"method": "code", "code": code}),
            &FlowContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(verified.state, FlowState::PassedChallenge);
    assert!(
        k.identities()
            .get(done.identity.id)
            .await
            .unwrap()
            .verifiable_addresses[0]
            .verified
    );
}

pub async fn flow_disabled_verification_and_recovery(store: Arc<dyn Persister>) {
    let yaml = "selfservice:\n  flows:\n    verification:\n      enabled: true\n    recovery:\n      enabled: true\n";
    let (k, _, _) = kratos_with_outbox(store.clone(), yaml);
    let ctx = FlowContext::default();
    let verification = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    let recovery = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let identity = k
        .identities()
        .create(crate::identity::CreateIdentityBody {
            traits: json!({"email": fresh_email()}),
            ..Default::default()
        })
        .await
        .unwrap();
    // The same tenant with both flows switched off: nothing is served any more.
    let (off, _, _) = kratos_with_outbox(store, "");
    let off = off.tenant(k.nid());
    let disabled = |r: Result<(), crate::flow::FlowError>| {
        let e = r.expect_err("a disabled flow answered");
        assert_eq!((e.id(), e.status()), ("self_service_flow_disabled", 400));
    };
    disabled(
        off.verification()
            .create(FlowType::Api, &ctx)
            .await
            .map(drop),
    );
    disabled(
        off.verification()
            .get(verification.id, &ctx)
            .await
            .map(drop),
    );
    disabled(
        off.verification()
            .submit(
                verification.id,
                &json!({"method": "code", "email": "a@b.c"}),
                &ctx,
            )
            .await
            .map(drop),
    );
    disabled(off.recovery().create(FlowType::Api, &ctx).await.map(drop));
    disabled(off.recovery().get(recovery.id, &ctx).await.map(drop));
    disabled(
        off.recovery()
            .submit(
                recovery.id,
                &json!({"method": "code", "email": "a@b.c"}),
                &ctx,
            )
            .await
            .map(drop),
    );
    disabled(
        off.recovery()
            .admin_create_code(identity.id, None)
            .await
            .map(drop),
    );
    // Still enabled where configured.
    assert!(k.verification().get(verification.id, &ctx).await.is_ok());
}
