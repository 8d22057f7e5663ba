//! The code method in registration flows: the traits, then a code sent to their email
//! address proves it.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{CodeRequest, text as code_text};
use crate::clock::truncate_micros;
use crate::code::CodeKind;
use crate::flow::registration::add_trait_error;
use crate::flow::ui::{NodeAttributes, UiContainer, UiText, text};
use crate::flow::{FlowError, FlowState};
use crate::strategy::{
    Method, NewIdentity, PopulateCx, RegistrationCx, RegistrationOutcome, RegistrationStrategy,
};

#[derive(Deserialize)]
struct CodePayload {
    #[serde(default)]
    traits: Value,
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    resend: Option<String>,
}

/// The code method's registration strategy.
#[derive(Debug, Default)]
pub struct CodeRegistration;

#[async_trait]
impl RegistrationStrategy for CodeRegistration {
    fn method(&self) -> Method {
        Method::Code
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        cx.ui
            .nodes
            .push(super::submit_node(code_text::sign_up_with_code()));
        Ok(())
    }

    /// `{traits}` validates them and sends a code to their first code address, by email or by
    /// text message (again with
    /// `resend: "code"`); `{traits, code}` creates the identity with that address verified.
    /// The code only works for the address it was sent to.
    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError> {
        let payload: CodePayload = cx.parse()?;
        let kratos = cx.kratos;
        let flow = &mut *cx.flow;
        flow.active = Some("code".into());
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits
        };
        if let Err(errors) = cx.schema.validate(&traits) {
            for e in errors {
                add_trait_error(&mut flow.ui, &e.instance_ptr, &e.message);
            }
            return Ok(RegistrationOutcome::Retry);
        }
        // The first code identifier in the schema's order: an email address, or a phone
        // number reached by text message.
        let address = cx
            .schema
            .derive(&traits)
            .ok()
            .and_then(|d| d.code_identifiers.into_iter().next());
        let Some((via, address)) = address else {
            flow.ui.messages.push(text::validation_generic(
                "The identity schema marks no email address or phone number as a code identifier.",
            ));
            return Ok(RegistrationOutcome::Retry);
        };
        if payload.code.trim().is_empty() || payload.resend.as_deref() == Some("code") {
            if !super::send_allowed(kratos, flow.id, &address).await? {
                flow.ui.messages.push(super::too_many_sends());
                return Ok(RegistrationOutcome::Retry);
            }
            super::send_code(
                kratos,
                CodeRequest {
                    kind: CodeKind::RegistrationCode,
                    flow_id: flow.id,
                    flow_expires_at: flow.expires_at,
                    request_url: &flow.request_url,
                    identity: None,
                    traits: &traits,
                    address: &address,
                },
            )
            .await?;
            flow.state = FlowState::SentEmail;
            flow.ui = code_step_ui(&flow.ui);
            flow.ui.messages.push(code_text::registration_code_sent());
            return Ok(RegistrationOutcome::Retry);
        }
        let checked = super::check_code_or_say(
            kratos,
            CodeKind::RegistrationCode,
            flow.id,
            &payload.code,
            &address,
            code_text::registration_code_invalid(),
            &mut flow.ui.messages,
        )
        .await?;
        if checked.is_none() {
            return Ok(RegistrationOutcome::Retry);
        }
        // The code proved the address.
        let verified = vec![crate::identity::AddressImport {
            value: address,
            via: Some(via),
            verified: true,
            status: Some(crate::identity::VerificationStatus::Completed),
            verified_at: Some(truncate_micros(kratos.clock().now())),
        }];
        flow.ui.set_value("password", json!(""));
        Ok(RegistrationOutcome::Register(Box::new(NewIdentity {
            traits,
            credentials: None,
            verifiable_addresses: Some(verified),
            metadata_public: None,
            metadata_admin: None,
            authentication: None,
        })))
    }
}

/// The second step of the code method: the traits kept as hidden inputs, the code asked for.
fn code_step_ui(first: &UiContainer) -> UiContainer {
    let mut ui = UiContainer {
        action: first.action.clone(),
        method: "POST".into(),
        nodes: Vec::new(),
        messages: Vec::new(),
    };
    for node in &first.nodes {
        let Some(name) = node.name() else { continue };
        if name == "csrf_token" || name.starts_with("traits.") {
            let mut node = node.clone();
            if name != "csrf_token"
                && let NodeAttributes::Input(a) = &mut node.attributes
            {
                a.input_type = crate::flow::ui::InputType::Hidden;
                node.group = crate::flow::ui::NodeGroup::Code;
            }
            ui.nodes.push(node);
        }
    }
    ui.nodes
        .push(super::code_node(code_text::registration_code_label()));
    ui.nodes
        .push(super::submit_node(UiText::info(1070005, "Submit")));
    ui.nodes.push(super::resend_node());
    ui
}
