//! The code method in login flows: a one-time code sent to an address signs in without a
//! password (`passwordless_enabled`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{CodeRequest, text as code_text};
use crate::clock::truncate_micros;
use crate::code::CodeKind;
use crate::flow::FlowError;
use crate::flow::FlowState;
use crate::flow::login::LoginFlow;
use crate::flow::ui::{UiContainer, UiNode, UiText, text};
use crate::identity::{CredentialType, IdentifierKind, normalize_identifier};
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;
use crate::store::StoreError;
use crate::strategy::{
    Authenticated, CompletionWrites, Factor, LoginCx, LoginOutcome, LoginStrategy, Method,
    PopulateCx,
};

/// The code method's payload.
#[derive(Deserialize)]
struct CodePayload {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    code: Zeroizing<String>,
    #[serde(default)]
    resend: Option<String>,
}

/// The code method's login strategy (passwordless sign-in).
#[derive(Debug, Default)]
pub struct CodeLogin;

fn now(kratos: &Kratos) -> DateTime<Utc> {
    truncate_micros(kratos.clock().now())
}

#[async_trait]
impl LoginStrategy for CodeLogin {
    fn method(&self) -> Method {
        Method::Code
    }

    fn factor(&self) -> Factor {
        Factor::First
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx.ui.node("identifier").is_none() {
            cx.ui.nodes.push(
                UiNode::input(
                    crate::flow::ui::NodeGroup::Default,
                    "identifier",
                    crate::flow::ui::InputType::Email,
                )
                .required()
                .autocomplete("email")
                .label(text::default_login_identifier_label(cx.kratos.schemas())),
            );
        }
        cx.ui
            .nodes
            .push(super::submit_node(code_text::sign_in_with_code()));
        Ok(())
    }

    /// `{identifier}` sends a code (again with `resend: "code"`), `{code}` signs in. An
    /// unknown or disabled address gets the same answer as a known one and no email; any
    /// code then fails as invalid.
    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: CodePayload = cx.parse()?;
        let kratos = cx.kratos;
        let flow = &mut *cx.flow;
        flow.active = Some("code".into());
        let sending = payload.code.trim().is_empty() || payload.resend.as_deref() == Some("code");
        if sending {
            let address = payload.identifier.trim();
            if address.is_empty() {
                flow.ui
                    .add_node_message("identifier", text::required("identifier"));
                return Ok(LoginOutcome::Retry);
            }
            if !super::send_allowed(kratos, flow.id, address).await? {
                flow.ui.messages.push(super::too_many_sends());
                return Ok(LoginOutcome::Retry);
            }
            let normalized = normalize_identifier(IdentifierKind::Email, address)
                .unwrap_or_else(|_| address.to_lowercase());
            let found = match kratos
                .store()
                .find_identity_by_identifier(kratos.nid(), CredentialType::Code, &normalized)
                .await
            {
                Ok(i) if i.is_active() => Some(i),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(identity) = &found {
                super::send_code(
                    kratos,
                    CodeRequest {
                        kind: CodeKind::LoginCode,
                        flow_id: flow.id,
                        flow_expires_at: flow.expires_at,
                        request_url: &flow.request_url,
                        identity: Some(identity),
                        traits: &Value::Null,
                        address: &normalized,
                    },
                )
                .await?;
            }
            flow.state = FlowState::SentEmail;
            flow.ui = code_step_ui(kratos, flow, address);
            flow.ui.messages.push(code_text::login_code_sent());
            return Ok(LoginOutcome::Retry);
        }
        let Some(consumed) = super::check_code_or_say(
            kratos,
            CodeKind::LoginCode,
            flow.id,
            &payload.code,
            "",
            code_text::login_code_invalid(),
            &mut flow.ui.messages,
        )
        .await?
        else {
            return Ok(LoginOutcome::Retry);
        };
        let identity_id = consumed
            .identity_id
            .ok_or_else(|| FlowError::Internal("a login code without an identity".into()))?;
        let mut identity = match kratos.store().get_identity(kratos.nid(), identity_id).await {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                flow.ui.messages.push(code_text::login_code_invalid());
                return Ok(LoginOutcome::Retry);
            }
            Err(e) => return Err(e.into()),
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // The code proved the address: mark it verified, as Kratos does.
        if let Some(address_id) = consumed.address_id
            && let Some(a) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| a.id == address_id && !a.verified)
        {
            let now = now(kratos);
            match kratos
                .store()
                .mark_address_verified(kratos.nid(), address_id, now)
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            a.verified = true;
            a.verified_at = Some(now);
            a.status = crate::identity::VerificationStatus::Completed;
        }
        flow.ui.set_value("password", json!(""));
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod::first_factor("code", now(kratos)),
            writes: CompletionWrites::default(),
        })))
    }
}

/// The second step of the code method: the address kept, the code asked for.
fn code_step_ui(kratos: &Kratos, flow: &LoginFlow, address: &str) -> UiContainer {
    let mut ui = UiContainer {
        action: flow.ui.action.clone(),
        method: "POST".into(),
        nodes: Vec::new(),
        messages: Vec::new(),
    };
    if let Some(csrf) = flow.ui.node("csrf_token") {
        ui.nodes.push(csrf.clone());
    }
    ui.nodes.push(
        UiNode::input(
            crate::flow::ui::NodeGroup::Code,
            "identifier",
            crate::flow::ui::InputType::Hidden,
        )
        .required()
        .label(text::default_login_identifier_label(kratos.schemas()))
        .value(json!(address)),
    );
    ui.nodes
        .push(super::code_node(code_text::login_code_label()));
    ui.nodes
        .push(super::submit_node(UiText::info(1070005, "Submit")));
    ui.nodes.push(super::resend_node());
    ui
}
