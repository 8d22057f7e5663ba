//! The code method in login flows: a one-time code sent to an address signs in without a
//! password (`passwordless_enabled`), or is the second factor of an aal2 flow
//! (`mfa_enabled`): the flow offers one "send code to" button per address of the identity,
//! and the code sent there steps the session up.

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
use crate::identity::CredentialType;
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

/// The code method's login strategy: passwordless sign-in, or a second factor.
#[derive(Debug, Default)]
pub struct CodeLogin {
    /// First factor (`passwordless_enabled`).
    pub passwordless: bool,
    /// Second factor (`mfa_enabled`).
    pub mfa: bool,
}

/// The addresses a code may be sent to as the identity's second factor: its code
/// identifiers (traits marked `credentials.code.identifier`), as Kratos counts them.
pub(crate) fn mfa_addresses(identity: &crate::identity::Identity) -> Vec<String> {
    identity
        .credential(CredentialType::Code)
        .map(|c| c.identifiers.clone())
        .unwrap_or_default()
}

/// 1010023 "Send code to {address}", context `{address, channel}` (`email` or `sms`).
fn send_code_to(address: &str) -> UiText {
    UiText::info(1010023, format!("Send code to {address}"))
        .with_context(json!({"address": address, "channel": super::address_via(address).as_str()}))
}

fn now(kratos: &Kratos) -> DateTime<Utc> {
    truncate_micros(kratos.clock().now())
}

#[async_trait]
impl LoginStrategy for CodeLogin {
    fn method(&self) -> Method {
        Method::Code
    }

    fn factor(&self) -> Factor {
        match (self.passwordless, self.mfa) {
            (true, true) => Factor::Both,
            (false, true) => Factor::Second,
            _ => Factor::First,
        }
    }

    /// Its `method`, or (second factor) an `address` button, which posts no `method`.
    fn claims(&self, payload: &Value) -> bool {
        match payload.get("method").and_then(Value::as_str) {
            Some(m) => m == "code",
            None => self.mfa && payload.get("address").is_some_and(Value::is_string),
        }
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx.requested_aal > crate::session::Aal::Aal1 {
            for address in cx.identity.map(mfa_addresses).unwrap_or_default() {
                cx.ui.nodes.push(
                    UiNode::input(
                        crate::flow::ui::NodeGroup::Code,
                        "address",
                        crate::flow::ui::InputType::Submit,
                    )
                    .value(json!(address))
                    .label(send_code_to(&address)),
                );
            }
            return Ok(());
        }
        if cx.ui.node("identifier").is_none() {
            // A phone number must be typeable where a schema signs in by text message.
            let phones = cx
                .kratos
                .schemas()
                .iter()
                .any(|s| s.has_sms_code_identifier());
            let (input_type, autocomplete) = if phones {
                (crate::flow::ui::InputType::Text, "username")
            } else {
                (crate::flow::ui::InputType::Email, "email")
            };
            cx.ui.nodes.push(
                UiNode::input(
                    crate::flow::ui::NodeGroup::Default,
                    "identifier",
                    input_type,
                )
                .required()
                .autocomplete(autocomplete)
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
        if cx.flow.requested_aal > crate::session::Aal::Aal1 {
            return self.submit_second_factor(cx).await;
        }
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
            let normalized = super::normalize_code_address(address);
            let found = match kratos
                .store()
                .find_identity_by_identifier(kratos.nid(), CredentialType::Code, &normalized)
                .await
            {
                Ok(i) if i.is_active() => Some(i),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            // A refresh re-authenticates the session's identity: an address of anyone else
            // (or of no one) sends nothing and cannot switch the session (Kratos's 4000035).
            let refreshed = cx.session.filter(|_| flow.refresh).map(|s| s.identity_id);
            if let Some(session_identity) = refreshed
                && found.as_ref().map(|i| i.id) != Some(session_identity)
            {
                flow.ui.messages.push(code_text::no_code_user());
                return Ok(LoginOutcome::Retry);
            }
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
        if cx
            .session
            .filter(|_| flow.refresh)
            .map(|s| s.identity_id)
            .is_some_and(|id| id != identity.id)
        {
            flow.ui.messages.push(code_text::no_code_user());
            return Ok(LoginOutcome::Retry);
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

impl CodeLogin {
    /// The second factor: `{address}` sends a code to one of the session identity's
    /// addresses, `{code}` checks it and steps the session up.
    async fn submit_second_factor(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        #[derive(Deserialize)]
        struct MfaPayload {
            #[serde(default)]
            address: Option<String>,
            #[serde(default)]
            identifier: Option<String>,
            #[serde(default)]
            code: Zeroizing<String>,
            #[serde(default)]
            resend: Option<String>,
        }
        let payload: MfaPayload = cx.parse()?;
        let kratos = cx.kratos;
        let session = cx.session.ok_or(FlowError::Aal1Required)?;
        let flow = &mut *cx.flow;
        flow.active = Some("code".into());
        let identity = kratos
            .store()
            .get_identity(kratos.nid(), session.identity_id)
            .await?;
        let addresses = mfa_addresses(&identity);
        let sending = payload.code.trim().is_empty() || payload.resend.as_deref() == Some("code");
        if sending {
            let asked = payload
                .address
                .as_deref()
                .or(payload.identifier.as_deref())
                .unwrap_or("")
                .trim();
            let normalized = super::normalize_code_address(asked);
            // Only the identity's own addresses: a code is never sent elsewhere.
            let Some(address) = addresses.iter().find(|a| **a == normalized) else {
                flow.ui.messages.push(UiText::error(
                    4010010,
                    "The address you entered does not match any known addresses in the current account.",
                    None,
                ));
                return Ok(LoginOutcome::Retry);
            };
            if !super::send_allowed(kratos, flow.id, address).await? {
                flow.ui.messages.push(super::too_many_sends());
                return Ok(LoginOutcome::Retry);
            }
            super::send_code(
                kratos,
                CodeRequest {
                    kind: CodeKind::LoginCode,
                    flow_id: flow.id,
                    flow_expires_at: flow.expires_at,
                    request_url: &flow.request_url,
                    identity: Some(&identity),
                    traits: &Value::Null,
                    address,
                },
            )
            .await?;
            flow.state = FlowState::SentEmail;
            flow.ui = code_step_ui(kratos, flow, address);
            flow.ui.messages.push(UiText::info(
                1010025,
                "A code was sent to your address. If you didn't receive it, please try again.",
            ));
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
        if consumed.identity_id != Some(identity.id) {
            flow.ui.messages.push(code_text::login_code_invalid());
            return Ok(LoginOutcome::Retry);
        }
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod {
                method: "code".into(),
                aal: crate::session::Aal::Aal2,
                completed_at: now(kratos),
                provider: None,
            },
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
