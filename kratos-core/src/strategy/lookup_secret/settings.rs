//! The lookup_secret method in settings flows: generate new backup codes (shown once, saved
//! when confirmed), reveal the saved ones, or disable them. Every action needs a privileged
//! session.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::codes::{LookupSecretConfig, RecoveryCodes, mac_keys};
use crate::flow::FlowError;
use crate::flow::ui::text::mfa;
use crate::flow::ui::{InputType, NodeGroup, UiContainer, UiNode};
use crate::identity::{CredentialType, Credentials, Identity};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::{
    IdentityChange, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx, SettingsStrategy,
    lenient_bool,
};

/// Where new codes wait for confirmation in the flow's internal context (digested and
/// sealed, as they will be stored).
const PENDING: &str = "lookup_secret_pending";

#[derive(Deserialize)]
struct LookupPayload {
    #[serde(default, deserialize_with = "lenient_bool")]
    lookup_secret_reveal: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    lookup_secret_regenerate: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    lookup_secret_confirm: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    lookup_secret_disable: bool,
}

/// The lookup_secret method's settings strategy.
#[derive(Debug, Default)]
pub struct LookupSecretSettings;

fn stored_config(
    kratos: &Kratos,
    identity: &Identity,
) -> Result<Option<LookupSecretConfig>, FlowError> {
    match identity.credential(CredentialType::LookupSecret) {
        Some(c) => super::read_config(kratos, &c.config),
        None => Ok(None),
    }
}

fn button(name: &str, label: crate::flow::ui::UiText) -> UiNode {
    UiNode::input(NodeGroup::LookupSecret, name, InputType::Submit)
        .value(json!("true"))
        .label(label)
}

/// The buttons of an identity with codes (`has_codes`) or without.
fn buttons(ui: &mut UiContainer, has_codes: bool) {
    if has_codes {
        ui.nodes
            .push(button("lookup_secret_reveal", mfa::reveal_lookup()));
    }
    ui.nodes
        .push(button("lookup_secret_regenerate", mfa::regenerate_lookup()));
    if has_codes {
        ui.nodes
            .push(button("lookup_secret_disable", mfa::disable_lookup()));
    }
}

/// Drops the method's nodes from the form (before showing another step of it).
fn clear_nodes(ui: &mut UiContainer) {
    ui.nodes.retain(|n| n.group != NodeGroup::LookupSecret);
}

/// The node listing `config`'s codes, opened with the cipher.
fn codes_node(kratos: &Kratos, config: &LookupSecretConfig) -> Result<UiNode, FlowError> {
    let revealed = config
        .reveal(kratos.cipher())
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    Ok(UiNode::text(
        NodeGroup::LookupSecret,
        "lookup_secret_codes",
        mfa::lookup_secret_list(revealed.iter().map(|c| (c.code(), c.used_at))),
    )
    .label(mfa::lookup_secrets_label()))
}

#[async_trait]
impl SettingsStrategy for LookupSecretSettings {
    fn method(&self) -> Method {
        Method::LookupSecret
    }

    /// `method=lookup_secret`, or one of its buttons, which post no `method`.
    fn claims(&self, payload: &serde_json::Value) -> bool {
        match payload.get("method").and_then(serde_json::Value::as_str) {
            Some(m) => m == "lookup_secret",
            None => [
                "lookup_secret_reveal",
                "lookup_secret_regenerate",
                "lookup_secret_confirm",
                "lookup_secret_disable",
            ]
            .iter()
            .any(|k| payload.get(*k).is_some()),
        }
    }

    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        // A credential that does not read (a cipher secret rotated out) still lets the
        // identity make new codes.
        let has_codes = stored_config(cx.kratos, cx.identity)
            .ok()
            .flatten()
            .is_some();
        buttons(cx.ui, has_codes);
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: LookupPayload = cx.parse()?;
        cx.require_privileged()?;
        let kratos = cx.kratos;
        let stored = stored_config(kratos, cx.identity)?;
        if payload.lookup_secret_confirm {
            let pending = cx
                .internal
                .get(PENDING)
                .map(LookupSecretConfig::from_value)
                .transpose()
                .map_err(|e| FlowError::Internal(e.to_string()))?;
            let Some(pending) = pending else {
                cx.flow.ui.messages.push(mfa::no_lookup());
                return Ok(SettingsOutcome::Retry);
            };
            cx.internal.remove(PENDING);
            let now = crate::clock::truncate_micros(kratos.clock().now());
            cx.add_session_method(AuthenticationMethod {
                method: "lookup_secret".into(),
                aal: Aal::Aal2,
                completed_at: now,
                provider: None,
            });
            let mut next = cx.identity.clone();
            let created_at = next
                .credential(CredentialType::LookupSecret)
                .map_or(now, |c| c.created_at);
            next.credentials.insert(
                CredentialType::LookupSecret,
                Credentials {
                    credential_type: CredentialType::LookupSecret,
                    identifiers: vec![next.id.to_string()],
                    config: pending.to_value(),
                    version: 0,
                    created_at,
                    updated_at: now,
                },
            );
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(next),
            )));
        }
        if payload.lookup_secret_regenerate {
            let codes =
                RecoveryCodes::generate().map_err(|e| FlowError::Internal(e.to_string()))?;
            let keys = mac_keys(kratos.config());
            let key = keys
                .first()
                .ok_or_else(|| FlowError::Internal("no secret to digest codes with".into()))?;
            let pending = LookupSecretConfig::seal(&codes, key, kratos.cipher())
                .map_err(|e| FlowError::Internal(e.to_string()))?;
            cx.internal.set(PENDING, pending.to_value());
            let ui = &mut cx.flow.ui;
            clear_nodes(ui);
            ui.nodes.push(
                UiNode::text(
                    NodeGroup::LookupSecret,
                    "lookup_secret_codes",
                    mfa::lookup_secret_list(codes.iter().map(|c| (c, None))),
                )
                .label(mfa::lookup_secrets_label()),
            );
            ui.nodes
                .push(button("lookup_secret_confirm", mfa::lookup_confirm()));
            return Ok(SettingsOutcome::Retry);
        }
        if payload.lookup_secret_reveal {
            let Some(config) = stored else {
                cx.flow.ui.messages.push(mfa::no_lookup());
                return Ok(SettingsOutcome::Retry);
            };
            let node = codes_node(kratos, &config)?;
            let ui = &mut cx.flow.ui;
            clear_nodes(ui);
            ui.nodes.push(node);
            buttons(ui, true);
            return Ok(SettingsOutcome::Retry);
        }
        if payload.lookup_secret_disable {
            if stored.is_none() {
                cx.flow.ui.messages.push(mfa::no_lookup());
                return Ok(SettingsOutcome::Retry);
            }
            let mut next = cx.identity.clone();
            next.credentials.remove(&CredentialType::LookupSecret);
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(next),
            )));
        }
        Ok(SettingsOutcome::NotMine)
    }
}
