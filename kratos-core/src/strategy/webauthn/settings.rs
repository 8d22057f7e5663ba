//! The webauthn method in settings flows: add a security key (with a display name) or remove
//! one. Both need a privileged session.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, RegisterPublicKeyCredential, RegistrationState,
    UserVerificationPolicy,
};

use super::text;
use crate::flow::FlowError;
use crate::flow::ui::{InputType, NodeAttributes, NodeGroup, UiNode};
use crate::identity::{CredentialType, Credentials, Identity};
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::passkey::credential::{
    StoredAuthenticator, StoredCredential, WebauthnConfig, attested_key,
};
use crate::strategy::{
    IdentityChange, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx, SettingsStrategy,
};

/// The internal-context key of a registration's ceremony state.
const STATE_KEY: &str = "webauthn_registration_state";

#[derive(Deserialize)]
struct WebauthnSettingsPayload {
    #[serde(default)]
    webauthn_register: String,
    #[serde(default)]
    webauthn_register_displayname: String,
    #[serde(default)]
    webauthn_remove: String,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    state: RegistrationState,
}

/// The webauthn method's settings strategy.
#[derive(Debug, Default)]
pub struct WebauthnSettings;

fn stored_config(identity: &Identity) -> WebauthnConfig {
    crate::strategy::passkey::stored_keys(identity, CredentialType::Webauthn)
}

/// `identity` with its security keys set to `config` (the credential dropped when none is
/// left).
fn with_keys(
    identity: &Identity,
    config: &WebauthnConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Identity, FlowError> {
    let mut next = identity.clone();
    if config.credentials.is_empty() {
        next.credentials.remove(&CredentialType::Webauthn);
        return Ok(next);
    }
    let value = serde_json::to_value(config).map_err(|e| FlowError::Internal(e.to_string()))?;
    let entry = next
        .credentials
        .entry(CredentialType::Webauthn)
        .or_insert_with(|| Credentials {
            credential_type: CredentialType::Webauthn,
            identifiers: Vec::new(),
            config: Value::Null,
            version: 1,
            created_at: now,
            updated_at: now,
        });
    entry.config = value;
    entry.updated_at = now;
    Ok(next)
}

#[async_trait]
impl SettingsStrategy for WebauthnSettings {
    fn method(&self) -> Method {
        Method::Webauthn
    }

    /// `method=webauthn`, or what the buttons and the script post without a `method`
    /// (`webauthn_remove`, `webauthn_register`).
    fn claims(&self, payload: &Value) -> bool {
        crate::strategy::passkey::claims_settings(
            payload,
            "webauthn",
            &["webauthn_remove", "webauthn_register"],
        )
    }

    /// One `webauthn_remove` button per key (1050018; disabled for a passwordless key that
    /// is the last first factor), then the script, `webauthn_register_displayname` (1050013),
    /// `webauthn_register_trigger` with the creation options (1050012) and
    /// `webauthn_register`.
    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        let config = stored_config(cx.identity);
        let first_factors = crate::strategy::passkey::first_factor_count(cx.identity);
        for key in &config.credentials {
            let name = if key.display_name.is_empty() {
                "unnamed"
            } else {
                &key.display_name
            };
            let mut node = UiNode::input(NodeGroup::Webauthn, "webauthn_remove", InputType::Submit)
                .value(Value::String(hex::encode(&key.id)))
                .label(text::remove_webauthn(name, key.added_at));
            if let NodeAttributes::Input(a) = &mut node.attributes {
                a.disabled = key.is_passwordless && first_factors < 2;
            }
            cx.ui.nodes.push(node);
        }
        let rp =
            crate::strategy::passkey::relying_party(cx.kratos, super::method_config(cx.kratos))?;
        let user_id = cx.identity.id.to_string();
        let builder = rp
            .new_challenge_register_builder(cx.identity.id.as_bytes(), &user_id, &user_id)
            .map_err(|e| FlowError::Internal(format!("webauthn registration: {e}")))?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .exclude_credentials(Some(
                config.credentials.iter().map(|c| c.id.clone()).collect(),
            ));
        let (options, state) = rp
            .generate_challenge_register(builder)
            .map_err(|e| FlowError::Internal(format!("webauthn registration: {e}")))?;
        cx.internal.set(
            STATE_KEY,
            serde_json::to_value(Pending { state })
                .map_err(|e| FlowError::Internal(e.to_string()))?,
        );
        let options =
            serde_json::to_string(&options).map_err(|e| FlowError::Internal(e.to_string()))?;
        cx.ui
            .nodes
            .push(crate::strategy::passkey::script_node(cx.kratos));
        cx.ui.nodes.push(
            UiNode::input(
                NodeGroup::Webauthn,
                "webauthn_register_displayname",
                InputType::Text,
            )
            .value(Value::String(String::new()))
            .label(text::display_name_label()),
        );
        let mut trigger = UiNode::input(
            NodeGroup::Webauthn,
            "webauthn_register_trigger",
            InputType::Button,
        )
        .value(Value::String(options.clone()))
        .label(text::register_webauthn());
        if let NodeAttributes::Input(a) = &mut trigger.attributes {
            a.onclick = Some(format!("window.oryWebAuthnRegistration({options})"));
            a.onclick_trigger = Some("oryWebAuthnRegistration".into());
        }
        cx.ui.nodes.push(trigger);
        cx.ui.nodes.push(UiNode::input(
            NodeGroup::Webauthn,
            "webauthn_register",
            InputType::Hidden,
        ));
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: WebauthnSettingsPayload = cx.parse()?;
        cx.require_privileged()?;
        let kratos = cx.kratos;
        let now = crate::clock::truncate_micros(kratos.clock().now());
        let mut config = stored_config(cx.identity);
        if !payload.webauthn_remove.is_empty() {
            let wanted = hex::decode(&payload.webauthn_remove).ok();
            let Some(at) = config
                .credentials
                .iter()
                .position(|c| Some(&c.id) == wanted.as_ref())
            else {
                return Err(FlowError::BadRequest(
                    "You tried to remove a WebAuthn credential which does not exist.".into(),
                ));
            };
            let removed = config.credentials.remove(at);
            let next = with_keys(cx.identity, &config, now)?;
            if removed.is_passwordless && crate::strategy::passkey::first_factor_count(&next) == 0 {
                cx.flow.ui.add_node_message(
                    "webauthn_remove",
                    text::refusal(
                        "unable to remove this security key because it would lock you out of your account",
                    ),
                );
                return Ok(SettingsOutcome::Retry);
            }
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(next),
            )));
        }
        if payload.webauthn_register.is_empty() {
            return Ok(SettingsOutcome::NotMine);
        }
        let pending: Pending = cx
            .internal
            .get(STATE_KEY)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                FlowError::Internal("Expected WebAuthN in internal context to be an object.".into())
            })?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(&payload.webauthn_register).map_err(|e| {
                FlowError::BadRequest(format!("Unable to parse WebAuthn response: {e}"))
            })?;
        let rp = crate::strategy::passkey::relying_party(kratos, super::method_config(kratos))?;
        let credential = rp
            .register_credential(&response, &pending.state, None)
            .map_err(|e| {
                FlowError::BadRequest(format!("Unable to create WebAuthn credential: {e}"))
            })?;
        let attested = attested_key(&response.response.attestation_object)
            .filter(|a| a.credential_id == credential.cred_id)
            .ok_or_else(|| {
                FlowError::BadRequest(
                    "Unable to create WebAuthn credential: malformed attestation".into(),
                )
            })?;
        if config
            .credentials
            .iter()
            .any(|c| c.id == credential.cred_id)
        {
            cx.flow.ui.add_node_message(
                "webauthn_register",
                text::refusal(
                    "this security key or passkey is already registered with your account",
                ),
            );
            return Ok(SettingsOutcome::Retry);
        }
        let added_at = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        config.credentials.push(StoredCredential {
            id: credential.cred_id.clone(),
            public_key: attested.public_key,
            attestation_type: "none".into(),
            authenticator: Some(StoredAuthenticator {
                aaguid: attested.aaguid,
                sign_count: attested.sign_count,
                clone_warning: false,
            }),
            display_name: payload.webauthn_register_displayname.trim().to_owned(),
            added_at,
            is_passwordless: super::passwordless(super::method_config(kratos)),
            flags: Some(attested.flags),
            transport: Vec::new(),
            attestation: None,
        });
        config.user_handle = cx.identity.id.as_bytes().to_vec();
        cx.internal.remove(STATE_KEY);
        // A passwordless key is a first factor: it adds aal1, as Kratos records it, so a
        // settings change cannot step the session up past its second factor.
        let passwordless = super::passwordless(super::method_config(kratos));
        cx.add_session_method(AuthenticationMethod {
            method: "webauthn".into(),
            aal: if passwordless { Aal::Aal1 } else { Aal::Aal2 },
            completed_at: now,
            provider: None,
        });
        let next = with_keys(cx.identity, &config, now)?;
        Ok(SettingsOutcome::Save(IdentityChange::Credentials(
            Box::new(next),
        )))
    }
}
