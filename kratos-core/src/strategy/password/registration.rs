//! The password method in registration flows: traits and a password in one step (Kratos's
//! one-step registration).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::flow::FlowError;
use crate::flow::registration::add_trait_error;
use crate::flow::ui::{UiNode, UiText, text};
use crate::identity::{ImportCredentials, ImportPassword, ImportPasswordConfig};
use crate::strategy::{
    Method, NewIdentity, PopulateCx, RegistrationCx, RegistrationOutcome, RegistrationStrategy,
};

#[derive(Deserialize)]
struct PasswordPayload {
    #[serde(default)]
    traits: Value,
    #[serde(default)]
    password: Zeroizing<String>,
}

/// The password method's registration strategy.
#[derive(Debug, Default)]
pub struct PasswordRegistration;

#[async_trait]
impl RegistrationStrategy for PasswordRegistration {
    fn method(&self) -> Method {
        Method::Password
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "password",
                crate::flow::ui::InputType::Password,
            )
            .required()
            .autocomplete("new-password")
            .label(text::password_label()),
        );
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "method",
                crate::flow::ui::InputType::Submit,
            )
            .value(json!("password"))
            .label(text::registration()),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError> {
        let payload: PasswordPayload = cx.parse()?;
        let kratos = cx.kratos;
        let flow = &mut *cx.flow;
        let mut invalid = false;
        if payload.password.is_empty() {
            flow.ui
                .add_node_message("password", text::required("password"));
            invalid = true;
        }
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits
        };
        if let Err(errors) = cx.schema.validate(&traits) {
            for e in errors {
                add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
            }
            invalid = true;
        } else if !payload.password.is_empty() {
            let identifiers = cx
                .schema
                .derive(&traits)
                .map(|d| d.password_identifiers)
                .unwrap_or_default();
            if let Err(violation) = kratos
                .password_policy()
                .check_identifiers(identifiers.iter().map(String::as_str), &payload.password)
                .await
            {
                flow.ui.add_node_message(
                    "password",
                    UiText::error(
                        violation.message_id(),
                        violation.text(),
                        Some(violation.context()).filter(|c| !c.is_null()),
                    ),
                );
                invalid = true;
            }
        }
        if invalid {
            return Ok(RegistrationOutcome::Retry);
        }
        let password = payload.password.clone();
        let hash = kratos
            .run_hash(move |hasher| hasher.hash(password.as_bytes()))
            .await
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let hash = match hash {
            Ok(h) => h,
            Err(e) => {
                flow.ui
                    .add_node_message("password", text::validation_generic(&e.to_string()));
                return Ok(RegistrationOutcome::Retry);
            }
        };
        flow.ui.set_value("password", json!(""));
        Ok(RegistrationOutcome::Register(Box::new(NewIdentity {
            traits,
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        hashed_password: Some(hash),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            verifiable_addresses: None,
            metadata_public: None,
            metadata_admin: None,
            authentication: None,
        })))
    }
}
