//! A host app's own recovery method, registered in Rust in place of Kratos's `code`, driven
//! through the recovery flow end to end: its form, its payload, a message on retry, and on
//! success the engine's session and settings flow.

use std::sync::Arc;

use async_trait::async_trait;
use kratos_core::flow::recovery::RecoverySubmission;
use kratos_core::flow::ui::{InputType, NodeGroup, UiNode, UiText};
use kratos_core::flow::{FlowContext, FlowError, FlowType};
use kratos_core::identity::CreateIdentityBody;
use kratos_core::session::AuthenticationMethod;
use kratos_core::store::MemoryStore;
use kratos_core::strategy::Method;
use kratos_core::strategy::recovery::{
    AddressFormCx, Recovered, RecoveryCx, RecoveryOutcome, RecoveryStrategy,
};
use kratos_core::{Config, Kratos};
use serde::Deserialize;
use serde_json::json;

/// Recovers whoever knows the recovery PIN kept in their identity's admin metadata.
struct PinRecovery;

#[derive(Deserialize)]
struct PinPayload {
    identifier: uuid::Uuid,
    pin: String,
}

#[async_trait]
impl RecoveryStrategy for PinRecovery {
    fn method(&self) -> Method {
        Method::Code
    }

    fn populate(&self, cx: &mut AddressFormCx<'_>) {
        cx.ui
            .nodes
            .push(UiNode::input(NodeGroup::Code, "pin", InputType::Password).required());
        cx.ui
            .nodes
            .push(UiNode::input(NodeGroup::Code, "method", InputType::Submit).value(json!("code")));
    }

    async fn submit(&self, cx: &mut RecoveryCx<'_>) -> Result<RecoveryOutcome, FlowError> {
        let payload: PinPayload = cx.parse()?;
        let identity = cx.kratos.identities().get(payload.identifier).await.ok();
        let pin = identity
            .as_ref()
            .and_then(|i| i.metadata_admin.as_ref())
            .and_then(|m| m.get("recovery_pin"))
            .and_then(|p| p.as_str());
        match identity {
            Some(identity) if pin == Some(payload.pin.as_str()) => {
                Ok(RecoveryOutcome::Recovered(Box::new(Recovered {
                    identity,
                    method: AuthenticationMethod::first_factor(
                        "pin_recovery",
                        cx.kratos.clock().now(),
                    ),
                })))
            }
            _ => {
                cx.flow
                    .ui
                    .add_node_message("pin", UiText::error(4060006, "Wrong PIN.", None));
                Ok(RecoveryOutcome::Retry)
            }
        }
    }
}

#[tokio::test]
async fn a_host_recovery_method_recovers_through_the_flow() {
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"custom-recovery-secret-0123456789\"]\nselfservice:\n  flows:\n    recovery:\n      enabled: true\n",
    )
    .unwrap();
    let k = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .recovery_method(Arc::new(PinRecovery))
        .build()
        .unwrap();
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": format!("pin-{}@example.com", uuid::Uuid::new_v4())}),
            metadata_admin: Some(json!({"recovery_pin": "0815"})),
            ..Default::default()
        })
        .await
        .unwrap();
    let ctx = FlowContext::default();
    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    assert!(flow.ui.node("pin").is_some(), "the host's form");
    assert!(flow.ui.node("email").is_none(), "in place of Kratos's");

    let RecoverySubmission::Flow(again) = k
        .recovery()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": identity.id, "pin": "0000"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("a wrong PIN recovers nothing")
    };
    let pin = again.ui.node("pin").unwrap();
    assert_eq!(pin.messages.first().map(|m| m.id), Some(4060006));

    let RecoverySubmission::Completed(done) = k
        .recovery()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": identity.id, "pin": "0815"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("the right PIN recovers")
    };
    assert_eq!(done.session.identity_id, identity.id);
    assert_eq!(
        done.session.authentication_methods[0].method,
        "pin_recovery"
    );
    assert_eq!(done.settings_flow.identity.id, identity.id);
    assert_eq!(done.flow.active.as_deref(), Some("code"));
}
