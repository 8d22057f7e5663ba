//! A host app's own sign-in method, registered in Rust, driven through the login flow end to
//! end: its nodes in new flows, its own payload, messages on retry, a session on success.

use std::sync::Arc;

use async_trait::async_trait;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::ui::{InputType, NodeGroup, UiNode, UiText};
use kratos_core::flow::{FlowContext, FlowError, FlowType};
use kratos_core::identity::CreateIdentityBody;
use kratos_core::session::{Aal, AuthenticationMethod};
use kratos_core::store::MemoryStore;
use kratos_core::strategy::{
    Authenticated, CompletionWrites, Factor, LoginCx, LoginOutcome, LoginStrategy, Method,
    PopulateCx,
};
use kratos_core::{Config, Kratos};
use serde::Deserialize;
use serde_json::json;

/// Signs in whoever knows the PIN kept in their identity's admin metadata.
struct PinLogin;

#[derive(Deserialize)]
struct PinPayload {
    identifier: uuid::Uuid,
    pin: String,
}

#[async_trait]
impl LoginStrategy for PinLogin {
    fn method(&self) -> Method {
        Method::custom("pin")
    }

    fn factor(&self) -> Factor {
        Factor::First
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        cx.ui
            .nodes
            .push(UiNode::input(NodeGroup::custom("pin"), "pin", InputType::Password).required());
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::custom("pin"), "method", InputType::Submit)
                .value(json!("pin")),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: PinPayload = cx.parse()?;
        let Ok(full) = cx.kratos.identities().get(payload.identifier).await else {
            cx.flow
                .ui
                .messages
                .push(UiText::error(4000006, "Wrong PIN.", None));
            return Ok(LoginOutcome::Retry);
        };
        let pin = full
            .metadata_admin
            .as_ref()
            .and_then(|m| m.get("pin"))
            .and_then(|p| p.as_str());
        if pin != Some(payload.pin.as_str()) {
            cx.flow
                .ui
                .add_node_message("pin", UiText::error(4000006, "Wrong PIN.", None));
            return Ok(LoginOutcome::Retry);
        }
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity: full,
            method: AuthenticationMethod::first_factor("pin", cx.kratos.clock().now()),
            writes: CompletionWrites::default(),
        })))
    }
}

fn kratos() -> Kratos {
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"custom-method-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
    )
    .unwrap();
    Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .login_method(Arc::new(PinLogin))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_host_method_signs_in_through_the_login_flow() {
    let k = kratos();
    let mail = format!("pin-{}@example.com", uuid::Uuid::new_v4());
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": mail}),
            metadata_admin: Some(json!({"pin": "4711"})),
            ..Default::default()
        })
        .await
        .unwrap();
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    // The method's nodes come after the built-in ones, in its own group.
    let pin_node = flow.ui.node("pin").expect("the pin node");
    assert_eq!(serde_json::to_value(pin_node).unwrap()["group"], "pin");
    assert!(flow.ui.node("password").is_some(), "password stays");

    // A wrong PIN: the flow again, with the method's message on its node.
    let wrong = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "pin", "identifier": identity.id, "pin": "0000"}),
            &ctx,
        )
        .await
        .unwrap();
    let LoginSubmission::Retry(again) = wrong else {
        panic!("expected the flow again");
    };
    assert_eq!(again.ui.node("pin").unwrap().messages[0].id, 4000006);

    // A payload that is not the method's shape is a 400, not a sign-in.
    let malformed = k
        .login()
        .submit(flow.id, &json!({"method": "pin", "pin": 4711}), &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(malformed, FlowError::BadRequest(_)),
        "{malformed:?}"
    );

    // The right PIN: a session recording the method.
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "pin", "identifier": identity.id, "pin": "4711"}),
            &ctx,
        )
        .await
        .unwrap();
    let LoginSubmission::Completed(success) = done else {
        panic!("expected a session");
    };
    assert_eq!(success.session.identity_id, identity.id);
    assert_eq!(success.session.authentication_methods[0].method, "pin");
    assert_eq!(success.session.authenticator_assurance_level, Aal::Aal1);
    assert_eq!(success.flow.active.as_deref(), Some("pin"));
    let token = success
        .session_token
        .expect("an api flow returns the token");
    assert_eq!(
        k.sessions()
            .whoami(token.expose())
            .await
            .unwrap()
            .identity_id,
        identity.id
    );
}

#[tokio::test]
async fn an_unregistered_method_answers_no_strategy() {
    let k = kratos();
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let answer = k
        .login()
        .submit(flow.id, &json!({"method": "carrier-pigeon"}), &ctx)
        .await
        .unwrap();
    let LoginSubmission::Retry(again) = answer else {
        panic!("expected the flow again");
    };
    assert_eq!(again.ui.messages[0].id, 4010002);
}

#[test]
fn a_configured_method_that_is_not_available_is_a_configuration_error() {
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"custom-method-secret-0123456789\"]\nselfservice:\n  methods:\n    saml:\n      enabled: true\n",
    )
    .unwrap();
    let err = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("selfservice.methods.saml.enabled"), "{err}");
}
