//! The webauthn method in registration flows (`passwordless: true` only): the identity is
//! created with a security key as its first factor, found at login by the traits marked
//! `webauthn.identifier`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, RegisterPublicKeyCredential, RegistrationState,
    UserVerificationPolicy,
};

use super::text;
use crate::flow::FlowError;
use crate::flow::ui::{InputType, NodeAttributes, NodeGroup, UiNode, UiText};
use crate::identity::{ImportCredentials, ImportWebauthn};
use crate::strategy::passkey::credential::{
    StoredAuthenticator, StoredCredential, WebauthnConfig, attested_key,
};
use crate::strategy::{
    Method, NewIdentity, PopulateCx, RegistrationCx, RegistrationOutcome, RegistrationStrategy,
};

/// The internal-context key of a registration's ceremony state.
const STATE_KEY: &str = "webauthn_registration_state";

#[derive(Serialize, Deserialize)]
struct Pending {
    state: RegistrationState,
    user_handle: Vec<u8>,
}

#[derive(Deserialize)]
struct WebauthnRegistrationPayload {
    #[serde(default)]
    webauthn_register: String,
    #[serde(default)]
    webauthn_register_displayname: String,
    #[serde(default)]
    traits: Value,
}

/// The webauthn method's registration strategy (registered with `passwordless: true`).
#[derive(Debug, Default)]
pub struct WebauthnRegistration;

#[async_trait]
impl RegistrationStrategy for WebauthnRegistration {
    fn method(&self) -> Method {
        Method::Webauthn
    }

    /// `webauthn_register` (the browser script posts no `method`) or `method=webauthn`.
    fn claims(&self, payload: &Value) -> bool {
        payload
            .get("webauthn_register")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            || payload.get("method").and_then(Value::as_str) == Some("webauthn")
    }

    /// `webauthn_register_displayname` (1050013), `webauthn_register_trigger` with the
    /// creation options (1040004), the script and `webauthn_register`.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        let rp =
            crate::strategy::passkey::relying_party(cx.kratos, super::method_config(cx.kratos))?;
        let user_handle = uuid::Uuid::new_v4().as_bytes().to_vec();
        let builder = rp
            .new_challenge_register_builder(&user_handle, "webauthn", "webauthn")
            .map_err(|e| FlowError::Internal(format!("webauthn registration: {e}")))?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Preferred);
        let (options, state) = rp
            .generate_challenge_register(builder)
            .map_err(|e| FlowError::Internal(format!("webauthn registration: {e}")))?;
        cx.internal.set(
            STATE_KEY,
            serde_json::to_value(Pending { state, user_handle })
                .map_err(|e| FlowError::Internal(e.to_string()))?,
        );
        let options =
            serde_json::to_string(&options).map_err(|e| FlowError::Internal(e.to_string()))?;
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
        .label(UiText::info(1040004, "Sign up with security key"));
        if let NodeAttributes::Input(a) = &mut trigger.attributes {
            a.onclick = Some(format!("window.oryWebAuthnRegistration({options})"));
            a.onclick_trigger = Some("oryWebAuthnRegistration".into());
        }
        cx.ui.nodes.push(trigger);
        cx.ui
            .nodes
            .push(crate::strategy::passkey::script_node(cx.kratos));
        cx.ui.nodes.push(UiNode::input(
            NodeGroup::Webauthn,
            "webauthn_register",
            InputType::Hidden,
        ));
        Ok(())
    }

    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError> {
        let payload: WebauthnRegistrationPayload = cx.parse()?;
        if payload.webauthn_register.is_empty() {
            return Ok(RegistrationOutcome::NotMine);
        }
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits
        };
        // The key is found at login by the identifier traits: without one it could never
        // sign in (Kratos's missing-identifier error).
        if cx
            .schema
            .derive(&traits)
            .map(|d| d.webauthn_identifiers.is_empty())
            .unwrap_or(true)
        {
            cx.flow.ui.messages.push(UiText::error(
                4000009,
                "Could not find any login identifiers. Did you forget to set them? This could also be caused by a server misconfiguration.",
                None,
            ));
            return Ok(RegistrationOutcome::Retry);
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
        let kratos = cx.kratos;
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
        let now = kratos.clock().now();
        let added_at = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let config = WebauthnConfig {
            credentials: vec![StoredCredential {
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
                is_passwordless: true,
                flags: Some(attested.flags),
                transport: Vec::new(),
                attestation: None,
            }],
            user_handle: pending.user_handle,
        };
        let config =
            serde_json::to_value(&config).map_err(|e| FlowError::Internal(e.to_string()))?;
        Ok(RegistrationOutcome::Register(Box::new(NewIdentity {
            traits,
            credentials: Some(ImportCredentials {
                webauthn: Some(ImportWebauthn { config }),
                ..Default::default()
            }),
            verifiable_addresses: None,
            metadata_public: None,
            metadata_admin: None,
            authentication: None,
        })))
    }
}
