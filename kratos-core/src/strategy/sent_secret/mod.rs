//! The `code` and `link` methods of recovery and verification: a one-time secret (a
//! six-digit code, or a token in a link) sent to an address, whose return proves that the
//! user receives messages there.
//!
//! The two methods differ only in the secret's form, its lifespan, the email template and
//! the form after sending, so one strategy type serves both, parameterised by
//! [`CodeOrLink`]. Codes are stored as MACs ([`crate::code`]), issued in the same
//! transaction as their email, and counted against the send and submission limits of
//! `selfservice.methods.code.config`.

pub(crate) mod recovery;
pub(crate) mod recovery_v2;
pub(crate) mod verification;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::code::{CodeKind, CodeSecret, OneTimeCode, digest};
use crate::config::CodeOrLink;
use crate::courier::TemplateType;
use crate::flow::FlowError;
use crate::flow::ui::{InputType, NodeGroup, UiContainer, UiNode, UiText};
use crate::flow::verification::code_secrets;
use crate::identity::{AddressVia, IdentifierKind, Identity, normalize_identifier};
use crate::kratos::Kratos;
use crate::store::{AddressKind, StoreError};
use crate::strategy::Method;

/// The method a delivery is.
pub(crate) fn method_of(delivery: CodeOrLink) -> Method {
    match delivery {
        CodeOrLink::Code => Method::Code,
        CodeOrLink::Link => Method::Link,
    }
}

/// The node group of a delivery's nodes.
pub(crate) fn group_of(delivery: CodeOrLink) -> NodeGroup {
    match delivery {
        CodeOrLink::Code => NodeGroup::Code,
        CodeOrLink::Link => NodeGroup::Link,
    }
}

/// What both flows accept: `{email}` asks for a secret, `{code}` or `{token}` returns one.
#[derive(Deserialize)]
pub(crate) struct Payload {
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) code: Zeroizing<String>,
    #[serde(default)]
    pub(crate) token: Zeroizing<String>,
}

/// Whether a payload returns a link's token (a followed link carries no `method`).
pub(crate) fn follows_link(payload: &serde_json::Value) -> bool {
    payload
        .get("token")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| !t.is_empty())
}

/// Whether a payload is the delivery's: its `method`, or for links a followed token.
pub(crate) fn claims(delivery: CodeOrLink, payload: &serde_json::Value) -> bool {
    match delivery {
        CodeOrLink::Link if follows_link(payload) => true,
        // A followed link is the link method's, whatever else the payload says.
        CodeOrLink::Code if follows_link(payload) => false,
        _ => payload.get("method").and_then(serde_json::Value::as_str) == Some(delivery.as_str()),
    }
}

/// The texts a flow shows around a sent secret (recovery and verification give them their
/// own ids).
pub(crate) struct Texts {
    pub(crate) link_sent: fn() -> UiText,
    pub(crate) code_sent: fn() -> UiText,
    pub(crate) token_invalid: fn() -> UiText,
    pub(crate) code_invalid: fn() -> UiText,
    pub(crate) code_label: fn() -> UiText,
}

fn email_label() -> UiText {
    UiText::info(1070007, "Email")
}

fn submit_label() -> UiText {
    UiText::info(1070005, "Submit")
}

fn resend_label() -> UiText {
    UiText::info(1070008, "Resend code")
}

/// The form asking for an address: `email` and the delivery's `method` button.
pub(crate) fn address_form(ui: &mut UiContainer, delivery: CodeOrLink, email: &str) {
    let group = group_of(delivery);
    let mut email_node = UiNode::input(group.clone(), "email", InputType::Email)
        .required()
        .autocomplete("email")
        .label(email_label());
    if !email.is_empty() {
        email_node = email_node.value(json!(email));
    }
    ui.nodes.push(email_node);
    ui.nodes.push(
        UiNode::input(group, "method", InputType::Submit)
            .value(json!(delivery.as_str()))
            .label(submit_label()),
    );
}

/// The form asking for the code, with a button to send another to `email` when known.
pub(crate) fn code_form(ui: &mut UiContainer, label: UiText, email: Option<&str>) {
    ui.nodes.push(
        UiNode::input(NodeGroup::Code, "code", InputType::Text)
            .required()
            .autocomplete("one-time-code")
            .label(label),
    );
    ui.nodes
        .push(UiNode::input(NodeGroup::Code, "method", InputType::Hidden).value(json!("code")));
    ui.nodes.push(
        UiNode::input(NodeGroup::Code, "method", InputType::Submit)
            .value(json!("code"))
            .label(submit_label()),
    );
    if let Some(email) = email {
        ui.nodes.push(
            UiNode::input(NodeGroup::Code, "email", InputType::Submit)
                .value(json!(email))
                .label(resend_label()),
        );
    }
}

/// The form after a secret was sent to `email`: the code form, or the address form again
/// (links), with the message saying so.
pub(crate) fn sent_form(
    mut ui: UiContainer,
    delivery: CodeOrLink,
    texts: &Texts,
    email: &str,
) -> UiContainer {
    match delivery {
        CodeOrLink::Code => {
            code_form(&mut ui, (texts.code_label)(), Some(email));
            ui.messages.push((texts.code_sent)());
        }
        CodeOrLink::Link => {
            address_form(&mut ui, delivery, email);
            ui.messages.push((texts.link_sent)());
        }
    }
    ui
}

/// A new secret of `kind` for a flow, and its stored MAC.
pub(crate) struct NewSecret<'a> {
    pub(crate) kind: CodeKind,
    pub(crate) flow_id: Uuid,
    pub(crate) identity_id: Uuid,
    pub(crate) address: Option<(Uuid, &'a str)>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) admin: bool,
}

impl NewSecret<'_> {
    /// Generates the secret (a code or a link token, after its kind) and its record.
    pub(crate) fn generate(self, kratos: &Kratos) -> (CodeSecret, OneTimeCode) {
        let secret = match self.kind {
            CodeKind::RecoveryLink | CodeKind::VerificationLink => CodeSecret::generate_token(),
            _ => CodeSecret::generate_code(),
        };
        let code = OneTimeCode {
            id: Uuid::now_v7(),
            kind: self.kind,
            flow_id: self.flow_id,
            identity_id: Some(self.identity_id),
            address_id: self.address.map(|a| a.0),
            address: self.address.map(|a| a.1.to_owned()),
            admin: self.admin,
            digest: digest(
                code_secrets(kratos),
                self.kind,
                self.flow_id,
                secret.expose(),
            ),
            issued_at: crate::clock::truncate_micros(kratos.clock().now()),
            expires_at: self.expires_at,
            used_at: None,
        };
        (secret, code)
    }
}

/// How long a secret of `delivery` lives: its method's `config.lifespan`, never past the
/// flow.
pub(crate) fn expires_at(
    kratos: &Kratos,
    delivery: CodeOrLink,
    now: DateTime<Utc>,
    flow_expires_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let methods = &kratos.config().selfservice.methods;
    let lifespan = match delivery {
        CodeOrLink::Code => methods.code.config.lifespan,
        CodeOrLink::Link => methods.link.config.lifespan,
    };
    (now + lifespan.as_chrono()).min(flow_expires_at)
}

/// The base URL links point at: `selfservice.methods.link.config.base_url`, or the public
/// URL, followed by `path`.
pub(crate) fn link_base(kratos: &Kratos, path: &str) -> String {
    let config = kratos.config();
    let base = config
        .selfservice
        .methods
        .link
        .config
        .base_url
        .clone()
        .unwrap_or_else(|| config.serve.public_base_url());
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The identity whose address of `kind` is `email`, or `None` for an unknown address, which
/// gets `unknown_template` instead when `notify_unknown` (so the flow answers the same
/// either way and reveals no accounts).
pub(crate) async fn find_or_notify(
    kratos: &Kratos,
    kind: AddressKind,
    email: &str,
    notify_unknown: Option<TemplateType>,
    request_url: &str,
) -> Result<Option<(Identity, String)>, FlowError> {
    let normalized =
        normalize_identifier(IdentifierKind::Email, email).unwrap_or_else(|_| email.to_owned());
    find_or_notify_via(
        kratos,
        kind,
        AddressVia::Email,
        &normalized,
        notify_unknown,
        request_url,
    )
    .await
}

/// [`find_or_notify`] for an address reached `via` email or SMS, already normalised
/// (`normalized`); only an unknown email address gets the notice.
pub(crate) async fn find_or_notify_via(
    kratos: &Kratos,
    kind: AddressKind,
    via: AddressVia,
    normalized: &str,
    notify_unknown: Option<TemplateType>,
    request_url: &str,
) -> Result<Option<(Identity, String)>, FlowError> {
    match kratos
        .store()
        .find_identity_by_address(kratos.nid(), kind, via, normalized)
        .await
    {
        Ok(identity) => Ok(Some((identity, normalized.to_owned()))),
        Err(StoreError::NotFound) => {
            // Only an email address is told that it is unknown, as Kratos does: a text to
            // any number typed in would cost money and could be aimed at anyone.
            if let Some(template) = notify_unknown.filter(|_| via == AddressVia::Email) {
                let courier = kratos.courier();
                let message = courier
                    .render_via(
                        via,
                        template,
                        normalized,
                        json!({"to": normalized, "request_url": request_url}),
                    )
                    .map_err(|e| FlowError::Internal(e.to_string()))?;
                kratos
                    .store()
                    .enqueue_message(kratos.nid(), &message)
                    .await?;
                crate::telemetry::message_queued(&message);
            }
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
