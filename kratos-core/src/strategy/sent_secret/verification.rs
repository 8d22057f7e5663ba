//! Verification by a code or link sent to a verifiable address.

use async_trait::async_trait;
use serde_json::json;

use super::{NewSecret, Payload, Texts};
use crate::code::CodeKind;
use crate::config::CodeOrLink;
use crate::courier::TemplateType;
use crate::flow::ui::{UiContainer, UiText, text};
use crate::flow::verification::{VerificationFlow, template_identity, with_query};
use crate::flow::{FlowError, FlowState};
use crate::identity::{AddressVia, Identity, VerifiableAddress};
use crate::kratos::Kratos;
use crate::store::{AddressKind, StoreError};
use crate::strategy::Method;
use crate::strategy::code::{
    address_via, check_code_or_say, normalize_code_address, send_allowed, too_many_sends,
};
use crate::strategy::recovery::AddressFormCx;
use crate::strategy::verification::{
    VerificationCx, VerificationOutcome, VerificationStrategy, Verified,
};

/// Kratos's texts of verification by code or link (`text/message_verification.go`).
const TEXTS: Texts = Texts {
    link_sent: || {
        UiText::info(
            1080001,
            "An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    },
    code_sent: || {
        UiText::info(
            1080003,
            "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    },
    token_invalid: || {
        UiText::error(
            4070001,
            "The verification token is invalid or has already been used. Please retry the flow.",
            None,
        )
    },
    code_invalid: || {
        UiText::error(
            4070006,
            "The verification code is invalid or has already been used. Please try again.",
            None,
        )
    },
    code_label: || UiText::info(1070011, "Verification code"),
};

/// 1080004: a verification code went to a phone number by text message.
fn code_sent_by_sms() -> UiText {
    UiText::info(
        1080004,
        "A text message containing a verification code has been sent to the phone number you provided. If you have not received a text message, check the spelling of the number and make sure to use the number you registered with.",
    )
}

/// With a text-message channel, the address field takes a phone number too, as Kratos words
/// it: a text input labelled 1070018 "Email or phone number".
fn phone_friendly(kratos: &Kratos, ui: &mut UiContainer) {
    if kratos.courier_sms_channel().is_none() {
        return;
    }
    for node in ui.nodes.iter_mut() {
        if let crate::flow::ui::NodeAttributes::Input(a) = &mut node.attributes
            && a.name == "email"
            && a.input_type == crate::flow::ui::InputType::Email
        {
            a.input_type = crate::flow::ui::InputType::Text;
            a.autocomplete = None;
            node.meta.label = Some(UiText::info(1070018, "Email or phone number"));
        }
    }
}

/// The form after a secret went to `address`, saying so in the words of its channel.
/// With `kratos`, the address field is [`phone_friendly`].
fn sent_form(
    kratos: Option<&Kratos>,
    blank_form: UiContainer,
    delivery: CodeOrLink,
    address: &str,
) -> UiContainer {
    let mut ui = super::sent_form(blank_form, delivery, &TEXTS, address);
    if let Some(kratos) = kratos.filter(|_| delivery == CodeOrLink::Code) {
        phone_friendly(kratos, &mut ui);
    }
    if delivery == CodeOrLink::Code && address_via(address) == AddressVia::Sms {
        for m in ui.messages.iter_mut().filter(|m| m.id == 1080003) {
            *m = code_sent_by_sms();
        }
    }
    ui
}

/// The `code` or `link` method of verification flows.
pub(crate) struct SentSecretVerification(pub(crate) CodeOrLink);

impl SentSecretVerification {
    fn kind(&self) -> CodeKind {
        match self.0 {
            CodeOrLink::Code => CodeKind::VerificationCode,
            CodeOrLink::Link => CodeKind::VerificationLink,
        }
    }
}

#[async_trait]
impl VerificationStrategy for SentSecretVerification {
    fn method(&self) -> Method {
        super::method_of(self.0)
    }

    fn populate(&self, cx: &mut AddressFormCx<'_>) {
        super::address_form(cx.ui, self.0, "");
        if self.0 == CodeOrLink::Code {
            phone_friendly(cx.kratos, cx.ui);
        }
    }

    fn claims(&self, payload: &serde_json::Value) -> bool {
        super::claims(self.0, payload)
    }

    fn exempt_from_csrf(&self, payload: &serde_json::Value) -> bool {
        self.0 == CodeOrLink::Link && super::follows_link(payload)
    }

    async fn submit(&self, cx: &mut VerificationCx<'_>) -> Result<VerificationOutcome, FlowError> {
        let payload: Payload = cx.parse()?;
        let returned = match self.0 {
            CodeOrLink::Link => &payload.token,
            CodeOrLink::Code => &payload.code,
        };
        if !returned.is_empty() {
            let invalid = match self.0 {
                CodeOrLink::Link => (TEXTS.token_invalid)(),
                CodeOrLink::Code => (TEXTS.code_invalid)(),
            };
            let kratos = cx.kratos;
            let (id, messages) = (cx.flow.id, &mut cx.flow.ui.messages);
            let Some(code) =
                check_code_or_say(kratos, self.kind(), id, returned, "", invalid, messages).await?
            else {
                return Ok(VerificationOutcome::Retry);
            };
            if let Some(address_id) = code.address_id {
                let now = crate::clock::truncate_micros(kratos.clock().now());
                match kratos
                    .store()
                    .mark_address_verified(kratos.nid(), address_id, now)
                    .await
                {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(VerificationOutcome::Verified(Verified {
                identity_id: code.identity_id,
                via: code.address.as_deref().map(address_via),
            }));
        }
        let email = payload.email.trim();
        if email.is_empty() {
            cx.flow
                .ui
                .add_node_message("email", text::required("email"));
            return Ok(VerificationOutcome::Retry);
        }
        if !send_allowed(cx.kratos, cx.flow.id, email).await? {
            cx.flow.ui.messages.push(too_many_sends());
            return Ok(VerificationOutcome::Retry);
        }
        self.send_to_address(cx.kratos, cx.flow, email).await?;
        cx.flow.state = FlowState::SentEmail;
        let form = cx.blank_form.clone();
        cx.flow.ui = sent_form(Some(cx.kratos), form, self.0, email);
        Ok(VerificationOutcome::Retry)
    }

    fn show_sent(&self, flow: &mut VerificationFlow, blank_form: UiContainer, address: &str) {
        flow.state = FlowState::SentEmail;
        flow.active = Some(self.0.as_str().to_owned());
        flow.ui = sent_form(None, blank_form, self.0, address);
    }

    async fn send(
        &self,
        kratos: &Kratos,
        flow: &VerificationFlow,
        identity: &Identity,
        address: &VerifiableAddress,
    ) -> Result<(), FlowError> {
        let now = crate::clock::truncate_micros(kratos.clock().now());
        let expires_at = super::expires_at(kratos, self.0, now, flow.expires_at);
        let (secret, code) = NewSecret {
            kind: self.kind(),
            flow_id: flow.id,
            identity_id: identity.id,
            address: Some((address.id, &address.value)),
            expires_at,
            admin: false,
        }
        .generate(kratos);
        let base = super::link_base(kratos, "/self-service/verification");
        let flow_id = flow.id.to_string();
        let mut data = json!({
            "to": address.value,
            "identity": template_identity(identity),
            "traits": identity.traits,
            "request_url": flow.request_url,
            "expires_in_minutes": (expires_at - now).num_minutes(),
        });
        let template = match self.0 {
            CodeOrLink::Code => {
                data["verification_code"] = json!(secret.expose());
                data["verification_url"] = json!(with_query(
                    &base,
                    &[("flow", &flow_id), ("code", secret.expose())]
                ));
                TemplateType::VerificationCodeValid
            }
            CodeOrLink::Link => {
                data["verification_url"] = json!(with_query(
                    &base,
                    &[("flow", &flow_id), ("token", secret.expose())]
                ));
                TemplateType::VerificationValid
            }
        };
        let message = kratos
            .courier()
            .render_via(address.via, template, &address.value, data)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        kratos
            .store()
            .issue_code(kratos.nid(), &code, Some(&message))
            .await?;
        crate::telemetry::message_queued(&message);
        Ok(())
    }
}

impl SentSecretVerification {
    /// Queues a code or link for `email` when it is a verifiable address (or, for an
    /// unknown address, a notice when configured). As Kratos infers it, an address without
    /// `@` is a phone number, and the message goes by text message. The same outcome for the
    /// caller either way.
    async fn send_to_address(
        &self,
        kratos: &Kratos,
        flow: &VerificationFlow,
        email: &str,
    ) -> Result<(), FlowError> {
        let notify = kratos
            .config()
            .selfservice
            .flows
            .verification
            .notify_unknown_recipients
            .then_some(match self.0 {
                CodeOrLink::Code => TemplateType::VerificationCodeInvalid,
                CodeOrLink::Link => TemplateType::VerificationInvalid,
            });
        // Codes go to email addresses and phone numbers; links, as Kratos sends them, to
        // email addresses only.
        let via = match self.0 {
            CodeOrLink::Code => address_via(email),
            CodeOrLink::Link => AddressVia::Email,
        };
        let normalized = match via {
            AddressVia::Sms => normalize_code_address(email),
            AddressVia::Email => {
                crate::identity::normalize_identifier(crate::identity::IdentifierKind::Email, email)
                    .unwrap_or_else(|_| email.trim().to_owned())
            }
        };
        let Some((identity, normalized)) = super::find_or_notify_via(
            kratos,
            AddressKind::Verifiable,
            via,
            &normalized,
            notify,
            &flow.request_url,
        )
        .await?
        else {
            return Ok(());
        };
        let address = identity
            .verifiable_addresses
            .iter()
            .find(|a| a.value == normalized && a.via == via)
            .ok_or(FlowError::Internal("the address vanished".into()))?;
        self.send(kratos, flow, &identity, address).await
    }
}
