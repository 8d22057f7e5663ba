//! The passkey method in settings flows: add a passkey or remove one (never the last first
//! factor). Both need a privileged session.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, RegisterPublicKeyCredential, RegistrationState,
};

use super::credential::{StoredAuthenticator, StoredCredential, WebauthnConfig, attested_key};
use crate::flow::FlowError;
use crate::flow::ui::{InputType, NodeAttributes, NodeGroup, UiNode, UiText};
use crate::identity::{CredentialType, Credentials, Identity};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::{
    IdentityChange, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx, SettingsStrategy,
};

/// The internal-context key of a settings registration's ceremony state.
const STATE_KEY: &str = "passkey_settings_state";

#[derive(Deserialize)]
struct PasskeySettingsPayload {
    #[serde(default)]
    passkey_settings_register: String,
    #[serde(default)]
    passkey_remove: String,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    state: RegistrationState,
    user_handle: String,
}

/// The passkey method's settings strategy.
#[derive(Debug, Default)]
pub struct PasskeySettings;

fn stored_config(identity: &Identity) -> WebauthnConfig {
    super::stored_keys(identity, CredentialType::Passkey)
}

/// The name a new passkey of `identity` is created with: the trait marked
/// `passkey.display_name`, else the WebAuthn identifier (Kratos's
/// `PasskeyDisplayNameFromIdentity`).
pub(super) fn display_name(kratos: &Kratos, identity: &Identity) -> Option<String> {
    let derived = kratos
        .schemas()
        .get(&identity.schema_id)?
        .derive(&identity.traits)
        .ok()?;
    derived
        .passkey_display_name
        .filter(|n| !n.is_empty())
        .or_else(|| derived.webauthn_identifiers.into_iter().next())
}

/// 1050020 `Remove passkey "<name>"`, context `{display_name, added_at, added_at_unix}`.
fn remove_label(name: &str, added_at: chrono::DateTime<chrono::Utc>) -> UiText {
    super::remove_key_label(1050020, "passkey", name, added_at)
}

#[async_trait]
impl SettingsStrategy for PasskeySettings {
    fn method(&self) -> Method {
        Method::Passkey
    }

    /// `method=passkey`, or what the buttons and the script post without a `method`
    /// (`passkey_remove`, `passkey_settings_register`).
    fn claims(&self, payload: &Value) -> bool {
        super::claims_settings(
            payload,
            "passkey",
            &["passkey_remove", "passkey_settings_register"],
        )
    }

    /// One `passkey_remove` button per passkey (1050020, disabled while the identity has
    /// fewer than two first factors), the script, `passkey_register_trigger` (1050019),
    /// `passkey_settings_register` and `passkey_create_data` with the creation options.
    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        let config = stored_config(cx.identity);
        let first_factors = super::first_factor_count(cx.identity);
        for key in &config.credentials {
            let name = if key.display_name.is_empty() {
                "unnamed"
            } else {
                &key.display_name
            };
            let mut node = UiNode::input(NodeGroup::Passkey, "passkey_remove", InputType::Submit)
                .value(Value::String(hex::encode(&key.id)))
                .label(remove_label(name, key.added_at));
            if let NodeAttributes::Input(a) = &mut node.attributes {
                a.disabled = first_factors < 2;
            }
            cx.ui.nodes.push(node);
        }
        let Some(name) = display_name(cx.kratos, cx.identity) else {
            cx.ui.messages.push(UiText::error(
                4000009,
                "Could not find any login identifiers. Did you forget to set them? This could also be caused by a server misconfiguration.",
                None,
            ));
            return Ok(());
        };
        let rp = super::relying_party(
            cx.kratos,
            &cx.kratos.config().selfservice.methods.passkey.config,
        )?;
        let user_handle = super::registration::new_user_handle();
        let builder = rp
            .new_challenge_register_builder(user_handle.as_bytes(), &name, &name)
            .map_err(|e| FlowError::Internal(format!("passkey registration: {e}")))?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(super::user_verification(cx.kratos))
            .require_resident_key(true)
            .exclude_credentials(Some(
                config.credentials.iter().map(|c| c.id.clone()).collect(),
            ));
        let (options, state) = rp
            .generate_challenge_register(builder)
            .map_err(|e| FlowError::Internal(format!("passkey registration: {e}")))?;
        cx.internal.set(
            STATE_KEY,
            serde_json::to_value(Pending { state, user_handle })
                .map_err(|e| FlowError::Internal(e.to_string()))?,
        );
        let options =
            serde_json::to_string(&options).map_err(|e| FlowError::Internal(e.to_string()))?;
        // Settings flows are browser flows when they have a CSRF token node.
        let browser = cx.ui.node("csrf_token").is_some();
        if browser {
            cx.ui.nodes.push(super::script_node(cx.kratos));
        }
        cx.ui.nodes.push(
            UiNode::input(
                NodeGroup::Passkey,
                "passkey_register_trigger",
                InputType::Button,
            )
            .value(Value::String(String::new()))
            .on_click("oryPasskeySettingsRegistration", browser)
            .label(UiText::info(1050019, "Add passkey")),
        );
        cx.ui.nodes.push(UiNode::input(
            NodeGroup::Passkey,
            "passkey_settings_register",
            InputType::Hidden,
        ));
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::Passkey, "passkey_create_data", InputType::Hidden)
                .value(Value::String(options)),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: PasskeySettingsPayload = cx.parse()?;
        if payload.passkey_remove.is_empty() && payload.passkey_settings_register.is_empty() {
            return Ok(SettingsOutcome::NotMine);
        }
        cx.require_privileged()?;
        let kratos = cx.kratos;
        let now = crate::clock::truncate_micros(kratos.clock().now());
        let mut config = stored_config(cx.identity);
        if !payload.passkey_remove.is_empty() {
            if cx.identity.credential(CredentialType::Passkey).is_none() {
                return Err(FlowError::BadRequest(
                    "You tried to remove a WebAuthn but you have no WebAuthn set up.".into(),
                ));
            }
            let before = config.credentials.len();
            config
                .credentials
                .retain(|c| hex::encode(&c.id) != payload.passkey_remove);
            if config.credentials.len() == before {
                return Err(FlowError::BadRequest(
                    "You tried to remove a passkey which does not exist.".into(),
                ));
            }
            if super::first_factor_count(cx.identity) < 2 {
                cx.flow.ui.add_node_message(
                    "passkey_remove",
                    crate::flow::ui::text::validation_generic(
                        "unable to remove this security key because it would lock you out of your account",
                    ),
                );
                return Ok(SettingsOutcome::Retry);
            }
            let mut next = cx.identity.clone();
            if config.credentials.is_empty() {
                next.credentials.remove(&CredentialType::Passkey);
            } else if let Some(credential) = next.credentials.get_mut(&CredentialType::Passkey) {
                credential.config = serde_json::to_value(&config)
                    .map_err(|e| FlowError::Internal(e.to_string()))?;
                credential.updated_at = now;
            }
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(next),
            )));
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
            serde_json::from_str(&payload.passkey_settings_register).map_err(|e| {
                FlowError::BadRequest(format!("Unable to parse WebAuthn response: {e}"))
            })?;
        let rp = super::relying_party(kratos, &kratos.config().selfservice.methods.passkey.config)?;
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
                "passkey_settings_register",
                crate::flow::ui::text::validation_generic(
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
            display_name: String::new(),
            added_at,
            is_passwordless: true,
            flags: Some(attested.flags),
            transport: Vec::new(),
            attestation: None,
        });
        // The new handle is the one new logins answer with; older passkeys keep answering
        // with theirs, kept as identifiers (as Kratos's `WithAdditionalIdentifier`).
        config.user_handle = pending.user_handle.clone().into_bytes();
        let value =
            serde_json::to_value(&config).map_err(|e| FlowError::Internal(e.to_string()))?;
        let mut next = cx.identity.clone();
        let entry = next
            .credentials
            .entry(CredentialType::Passkey)
            .or_insert_with(|| Credentials {
                credential_type: CredentialType::Passkey,
                identifiers: Vec::new(),
                config: Value::Null,
                version: 1,
                created_at: now,
                updated_at: now,
            });
        entry.config = value;
        entry.updated_at = now;
        if !entry.identifiers.contains(&pending.user_handle) {
            entry.identifiers.push(pending.user_handle);
        }
        cx.internal.remove(STATE_KEY);
        cx.add_session_method(AuthenticationMethod {
            method: "passkey".into(),
            aal: Aal::Aal1,
            completed_at: now,
            provider: None,
        });
        Ok(SettingsOutcome::Save(IdentityChange::Credentials(
            Box::new(next),
        )))
    }
}
