//! The passkey method in registration flows: the identity is created with a discoverable
//! WebAuthn credential as its first factor.

use async_trait::async_trait;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, RegisterPublicKeyCredential, RegistrationState,
};

use super::credential::{StoredAuthenticator, StoredCredential, WebauthnConfig, attested_key};
use super::text;
use crate::flow::ui::{InputType, NodeGroup, UiNode};
use crate::flow::{FlowError, FlowType};
use crate::identity::{ImportCredentials, ImportWebauthn};
use crate::kratos::Kratos;
use crate::strategy::{
    InternalContext, Method, NewIdentity, PopulateCx, RegistrationCx, RegistrationOutcome,
    RegistrationStrategy,
};

/// The internal-context key of a registration's ceremony state.
const STATE_KEY: &str = "passkey_registration_state";

/// The length of a new user handle: 64 letters and digits, as Kratos makes them.
const USER_HANDLE_LENGTH: usize = 64;

/// What a registration remembers between the form and the submission.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The ceremony state (challenge, policy).
    state: RegistrationState,
    /// The user handle the new passkey is created for.
    user_handle: String,
}

#[derive(Deserialize)]
struct PasskeyRegistrationPayload {
    #[serde(default)]
    passkey_register: String,
    #[serde(default)]
    traits: Value,
}

/// The passkey method's registration strategy.
#[derive(Debug, Default)]
pub struct PasskeyRegistration;

/// A new user handle: 64 letters and digits from the OS random source, as Kratos makes them.
pub(crate) fn new_user_handle() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..USER_HANDLE_LENGTH)
        .map(|_| {
            let i = rng.random_range(0..ALPHABET.len());
            char::from(ALPHABET[i])
        })
        .collect()
}

/// The `passkey_create_data` value (JSON text: `credentialOptions`, `displayNameFieldName`,
/// `displayNameFieldNames`), with the ceremony state kept in `internal`.
fn create_data(
    kratos: &Kratos,
    internal: &mut InternalContext,
    field_names: &[String],
) -> Result<String, FlowError> {
    let rp = super::relying_party(kratos, &kratos.config().selfservice.methods.passkey.config)?;
    let user_handle = new_user_handle();
    // The browser script fills in the name from the form; the library wants one to start.
    let builder = rp
        .new_challenge_register_builder(user_handle.as_bytes(), "passkey", "passkey")
        .map_err(|e| FlowError::Internal(format!("passkey registration: {e}")))?
        .attestation(AttestationConveyancePreference::None)
        .user_verification_policy(super::user_verification(kratos))
        .require_resident_key(true);
    let (options, state) = rp
        .generate_challenge_register(builder)
        .map_err(|e| FlowError::Internal(format!("passkey registration: {e}")))?;
    let mut options =
        serde_json::to_value(&options).map_err(|e| FlowError::Internal(e.to_string()))?;
    if let Some(user) = options.pointer_mut("/publicKey/user") {
        user["name"] = json!("");
        user["displayName"] = json!("");
    }
    internal.set(
        STATE_KEY,
        serde_json::to_value(Pending { state, user_handle })
            .map_err(|e| FlowError::Internal(e.to_string()))?,
    );
    serde_json::to_string(&json!({
        "credentialOptions": options,
        "displayNameFieldName": field_names.first(),
        "displayNameFieldNames": field_names,
    }))
    .map_err(|e| FlowError::Internal(e.to_string()))
}

#[async_trait]
impl RegistrationStrategy for PasskeyRegistration {
    fn method(&self) -> Method {
        Method::Passkey
    }

    /// A submission is the passkey method's when it carries `passkey_register` (Kratos's
    /// browser script submits the form without a `method`) or names the method.
    fn claims(&self, payload: &Value) -> bool {
        payload
            .get("passkey_register")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && s != "true")
            || payload.get("method").and_then(Value::as_str) == Some("passkey")
    }

    /// Adds `passkey_create_data`, the trigger button (1040007), the script (browser flows)
    /// and `passkey_register`. A schema with no trait to name a passkey after
    /// (`passkey.display_name` or `webauthn.identifier`) gets no passkey nodes, as Kratos.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        let schemas = cx.kratos.schemas();
        let Some(schema) = schemas.get(schemas.default_id()) else {
            return Ok(());
        };
        let fields = schema.passkey_display_name_fields();
        if fields.is_empty() {
            return Ok(());
        }
        let data = create_data(cx.kratos, cx.internal, &fields)?;
        let browser = cx.flow_type == FlowType::Browser;
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::Passkey, "passkey_create_data", InputType::Hidden)
                .value(Value::String(data)),
        );
        cx.ui.nodes.push(
            UiNode::input(
                NodeGroup::Passkey,
                "passkey_register_trigger",
                InputType::Button,
            )
            .on_click("oryPasskeyRegistration", browser)
            .label(text::register_passkey()),
        );
        if browser {
            cx.ui.nodes.push(super::script_node(cx.kratos));
        }
        cx.ui.nodes.push(UiNode::input(
            NodeGroup::Passkey,
            "passkey_register",
            InputType::Hidden,
        ));
        Ok(())
    }

    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError> {
        let payload: PasskeyRegistrationPayload = cx.parse()?;
        if payload.passkey_register.is_empty() || payload.passkey_register == "true" {
            return Ok(RegistrationOutcome::NotMine);
        }
        let pending: Pending = cx
            .internal
            .get(STATE_KEY)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                FlowError::Internal("Expected WebAuthN in internal context to be an object.".into())
            })?;
        let response: RegisterPublicKeyCredential = serde_json::from_str(&payload.passkey_register)
            .map_err(|e| {
                FlowError::BadRequest(format!("Unable to parse WebAuthn response: {e}"))
            })?;
        let kratos = cx.kratos;
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
                display_name: String::new(),
                added_at,
                is_passwordless: true,
                flags: Some(attested.flags),
                transport: Vec::new(),
                attestation: None,
            }],
            user_handle: pending.user_handle.into_bytes(),
        };
        let config =
            serde_json::to_value(&config).map_err(|e| FlowError::Internal(e.to_string()))?;
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits
        };
        Ok(RegistrationOutcome::Register(Box::new(NewIdentity {
            traits,
            credentials: Some(ImportCredentials {
                passkey: Some(ImportWebauthn { config }),
                ..Default::default()
            }),
            verifiable_addresses: None,
            metadata_public: None,
            metadata_admin: None,
            authentication: None,
        })))
    }
}
