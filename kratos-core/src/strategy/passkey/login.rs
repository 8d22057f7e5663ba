//! The passkey method in login flows: a discoverable WebAuthn login as the first factor.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{AuthenticationState, PublicKeyCredential};

use super::credential::WebauthnConfig;
use super::text;
use crate::clock::truncate_micros;
use crate::flow::FlowError;
use crate::flow::FlowType;
use crate::flow::ui::{InputType, NodeGroup, UiContainer, UiNode};
use crate::identity::{CredentialType, Identity};
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;
use crate::store::StoreError;
use crate::strategy::{
    Authenticated, CompletionWrites, CredentialToUpdate, Factor, InternalContext, LoginCx,
    LoginOutcome, LoginStrategy, Method, PopulateCx,
};

/// The internal-context key of a login's ceremony state.
const STATE_KEY: &str = "passkey_login_state";

#[derive(Deserialize)]
struct PasskeyLoginPayload {
    #[serde(default)]
    passkey_login: String,
}

/// The passkey method's login strategy (first factor).
#[derive(Debug, Default)]
pub struct PasskeyLogin;

fn method_config(kratos: &Kratos) -> &Value {
    &kratos.config().selfservice.methods.passkey.config
}

/// Starts a discoverable login: the request options for `passkey_challenge` (JSON text),
/// the state kept in `internal`.
fn begin(kratos: &Kratos, internal: &mut InternalContext) -> Result<String, FlowError> {
    let rp = super::relying_party(kratos, method_config(kratos))?;
    let builder = rp
        .new_challenge_authenticate_builder(Vec::new(), Some(super::user_verification(kratos)))
        .map_err(|e| FlowError::Internal(format!("passkey login: {e}")))?
        .allow_backup_eligible_upgrade(true);
    let (options, state) = rp
        .generate_challenge_authenticate(builder)
        .map_err(|e| FlowError::Internal(format!("passkey login: {e}")))?;
    internal.set(
        STATE_KEY,
        serde_json::to_value(&state).map_err(|e| FlowError::Internal(e.to_string()))?,
    );
    serde_json::to_string(&options).map_err(|e| FlowError::Internal(e.to_string()))
}

/// Adds the passkey nodes of a first-factor login form (Kratos's
/// `populateLoginMethodForPasskeys` and the trigger button).
fn add_nodes(kratos: &Kratos, ui: &mut UiContainer, flow_type: FlowType, challenge: String) {
    let browser = flow_type == FlowType::Browser;
    match ui.node_mut("identifier") {
        Some(node) => {
            if let crate::flow::ui::NodeAttributes::Input(a) = &mut node.attributes {
                a.autocomplete = Some("username webauthn".into());
            }
        }
        None => ui.nodes.push(
            UiNode::input(NodeGroup::Default, "identifier", InputType::Text)
                .value(Value::String(String::new()))
                .required()
                .autocomplete("username webauthn")
                .label(crate::flow::ui::text::default_login_identifier_label(
                    kratos.schemas(),
                )),
        ),
    }
    ui.nodes.push(
        UiNode::input(NodeGroup::Passkey, "passkey_challenge", InputType::Hidden)
            .value(Value::String(challenge)),
    );
    if browser {
        ui.nodes.push(super::script_node(kratos));
    }
    ui.nodes.push(
        UiNode::input(NodeGroup::Passkey, "passkey_login", InputType::Hidden)
            .on_load("oryPasskeyLoginAutocompleteInit", browser),
    );
    ui.nodes.push(
        UiNode::input(
            NodeGroup::Passkey,
            "passkey_login_trigger",
            InputType::Button,
        )
        .value(Value::String(String::new()))
        .on_click("oryPasskeyLogin", browser)
        .label(text::login_passkey()),
    );
}

/// The passkey nodes of a refresh (`refresh=true`, Kratos's
/// `PopulateLoginMethodFirstFactorRefresh`): a challenge for the session identity's passkeys,
/// the script (browser flows), `passkey_login`, the trigger and the identifier as a hidden
/// input. Nothing when the identity has no passkey.
fn populate_refresh(cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
    let Some(identity) = cx.identity else {
        return Ok(());
    };
    let Some(config) = identity
        .credential(CredentialType::Passkey)
        .and_then(|c| serde_json::from_value::<WebauthnConfig>(c.config.clone()).ok())
    else {
        return Ok(());
    };
    let keys: Vec<_> = config
        .credentials
        .iter()
        .filter_map(|c| c.to_core().ok())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let kratos = cx.kratos;
    let rp = super::relying_party(kratos, method_config(kratos))?;
    let builder = rp
        .new_challenge_authenticate_builder(keys, Some(super::user_verification(kratos)))
        .map_err(|e| FlowError::Internal(format!("passkey login: {e}")))?
        .allow_backup_eligible_upgrade(true);
    let (options, state) = rp
        .generate_challenge_authenticate(builder)
        .map_err(|e| FlowError::Internal(format!("passkey login: {e}")))?;
    cx.internal.set(
        STATE_KEY,
        serde_json::to_value(&state).map_err(|e| FlowError::Internal(e.to_string()))?,
    );
    let options =
        serde_json::to_string(&options).map_err(|e| FlowError::Internal(e.to_string()))?;
    let browser = cx.flow_type == FlowType::Browser;
    cx.ui.nodes.push(
        UiNode::input(NodeGroup::Passkey, "passkey_challenge", InputType::Hidden)
            .value(Value::String(options)),
    );
    if browser {
        cx.ui.nodes.push(super::script_node(kratos));
    }
    cx.ui.nodes.push(UiNode::input(
        NodeGroup::Passkey,
        "passkey_login",
        InputType::Hidden,
    ));
    cx.ui.nodes.push(
        UiNode::input(
            NodeGroup::Passkey,
            "passkey_login_trigger",
            InputType::Button,
        )
        .value(Value::String(String::new()))
        .on_click("oryPasskeyLogin", browser)
        .label(text::login_passkey()),
    );
    let name = super::settings::display_name(kratos, identity).unwrap_or_default();
    cx.ui.nodes.retain(|n| n.name() != Some("identifier"));
    cx.ui.nodes.push(
        UiNode::input(NodeGroup::Default, "identifier", InputType::Hidden)
            .value(Value::String(name)),
    );
    Ok(())
}

#[async_trait]
impl LoginStrategy for PasskeyLogin {
    fn method(&self) -> Method {
        Method::Passkey
    }

    fn factor(&self) -> Factor {
        Factor::First
    }

    /// A submission is the passkey method's when it carries `passkey_login` or names the
    /// method (Kratos's browser script submits the form without a `method`).
    fn claims(&self, payload: &Value) -> bool {
        payload
            .get("passkey_login")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            || payload.get("method").and_then(Value::as_str) == Some("passkey")
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx.refresh {
            return populate_refresh(cx);
        }
        let challenge = begin(cx.kratos, cx.internal)?;
        add_nodes(cx.kratos, cx.ui, cx.flow_type, challenge);
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: PasskeyLoginPayload = cx.parse()?;
        let kratos = cx.kratos;
        cx.flow.active = Some("passkey".into());
        if payload.passkey_login.is_empty() {
            // Kratos answers with a fresh challenge on the form.
            cx.flow
                .ui
                .nodes
                .retain(|n| n.group != NodeGroup::Passkey && n.group != NodeGroup::Webauthn);
            let challenge = begin(kratos, cx.internal)?;
            add_nodes(kratos, &mut cx.flow.ui, cx.flow.flow_type, challenge);
            return Ok(LoginOutcome::Retry);
        }
        let response: PublicKeyCredential = serde_json::from_str(&payload.passkey_login)
            .map_err(|_| FlowError::BadRequest("Unable to parse WebAuthn response.".into()))?;
        let Some(state) = cx.internal.get(STATE_KEY).cloned() else {
            return Err(FlowError::Internal(
                "Expected WebAuthN in internal context to be an object.".into(),
            ));
        };
        let mut state: AuthenticationState = serde_json::from_value(state).map_err(|e| {
            FlowError::Internal(format!(
                "Expected WebAuthN in internal context to be an object but got: {e}"
            ))
        })?;
        let Some(handle) = response.get_user_unique_id() else {
            cx.flow.ui.messages.push(text::no_such_webauthn_user());
            return Ok(LoginOutcome::Retry);
        };
        let Ok(handle) = std::str::from_utf8(handle) else {
            cx.flow.ui.messages.push(text::no_such_webauthn_user());
            return Ok(LoginOutcome::Retry);
        };
        let identity = match kratos
            .store()
            .find_identity_by_identifier(kratos.nid(), CredentialType::Passkey, handle)
            .await
        {
            Ok(identity) => identity,
            Err(StoreError::NotFound) => {
                cx.flow.ui.messages.push(text::no_such_webauthn_user());
                return Ok(LoginOutcome::Retry);
            }
            Err(e) => return Err(e.into()),
        };
        let Some(config) = identity
            .credential(CredentialType::Passkey)
            .and_then(|c| serde_json::from_value::<WebauthnConfig>(c.config.clone()).ok())
        else {
            cx.flow.ui.messages.push(text::no_webauthn_device());
            return Ok(LoginOutcome::Retry);
        };
        let Some(stored) = config
            .credentials
            .iter()
            .find(|c| c.is_passwordless && c.id == response.raw_id)
        else {
            cx.flow.ui.messages.push(text::webauthn_verifier_wrong());
            return Ok(LoginOutcome::Retry);
        };
        let Ok(core) = stored.to_core() else {
            cx.flow.ui.messages.push(text::webauthn_verifier_wrong());
            return Ok(LoginOutcome::Retry);
        };
        state.set_allowed_credentials(vec![core.clone()]);
        let rp = super::relying_party(kratos, method_config(kratos))?;
        let result = match rp.authenticate_single_credential(&response, &state, &core) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                // The counter did not advance: a cloned key. Marked, and refused.
                mark_clone_warning(kratos, &identity, CredentialType::Passkey, &response.raw_id)
                    .await?;
                cx.flow.ui.messages.push(text::webauthn_verifier_wrong());
                return Ok(LoginOutcome::Retry);
            }
            Err(_) => {
                cx.flow.ui.messages.push(text::webauthn_verifier_wrong());
                return Ok(LoginOutcome::Retry);
            }
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // The challenge stays with the flow: a completed flow takes no further answer, and
        // a completion refused (a hook, a concurrent change of the key) can be tried again.
        // The counter and backup state go in the completing transaction, over the
        // credential as read here (a change meanwhile refuses the login).
        let mut updated = identity.clone();
        let update_credential = update_after_login(
            &mut updated,
            CredentialType::Passkey,
            &response.raw_id,
            result.counter(),
            result.backup_eligible(),
            result.backup_state(),
        )
        .then(|| updated.credentials.remove(&CredentialType::Passkey))
        .flatten()
        .map(|credential| CredentialToUpdate {
            credential_type: CredentialType::Passkey,
            config: credential.config,
            read_at: credential.updated_at,
            refused: text::webauthn_verifier_wrong(),
        });
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod::first_factor(
                "passkey",
                truncate_micros(kratos.clock().now()),
            ),
            writes: CompletionWrites {
                update_credential,
                ..Default::default()
            },
        })))
    }
}

/// Records a login with key `credential_id` on `identity`'s keys of `credential_type`: the
/// counter only ever advances, the backup state follows the authenticator, and a key stored
/// without flags (older Kratos versions) takes the backup flags it showed. Whether anything
/// changed.
pub(crate) fn update_after_login(
    identity: &mut Identity,
    credential_type: CredentialType,
    credential_id: &[u8],
    counter: u32,
    backup_eligible: bool,
    backup_state: bool,
) -> bool {
    edit_key(identity, credential_type, credential_id, |key| {
        let mut changed = false;
        let authenticator = key.authenticator.get_or_insert_with(Default::default);
        if authenticator.sign_count < counter {
            authenticator.sign_count = counter;
            changed = true;
        }
        match &mut key.flags {
            Some(flags) => {
                if flags.backup_state != backup_state {
                    flags.backup_state = backup_state;
                    changed = true;
                }
            }
            None => {
                key.flags = Some(super::credential::StoredFlags {
                    backup_eligible,
                    backup_state,
                    ..Default::default()
                });
                changed = true;
            }
        }
        changed
    })
}

/// Applies `edit` to the stored key `credential_id` of `identity`'s `credential_type`;
/// whether it changed.
fn edit_key(
    identity: &mut Identity,
    credential_type: CredentialType,
    credential_id: &[u8],
    edit: impl FnOnce(&mut super::credential::StoredCredential) -> bool,
) -> bool {
    let Some(credential) = identity.credentials.get_mut(&credential_type) else {
        return false;
    };
    let Ok(mut config) = serde_json::from_value::<WebauthnConfig>(credential.config.clone()) else {
        return false;
    };
    let Some(key) = config
        .credentials
        .iter_mut()
        .find(|c| c.id == credential_id)
    else {
        return false;
    };
    if !edit(key) {
        return false;
    }
    match serde_json::to_value(&config) {
        Ok(value) => {
            credential.config = value;
            true
        }
        Err(_) => false,
    }
}

/// Sets the clone warning of the key `credential_id` of `credential_type`, over a fresh read
/// of the identity.
pub(crate) async fn mark_clone_warning(
    kratos: &Kratos,
    identity: &Identity,
    credential_type: CredentialType,
    credential_id: &[u8],
) -> Result<(), FlowError> {
    let mut fresh = kratos
        .store()
        .get_identity(kratos.nid(), identity.id)
        .await?;
    let changed = edit_key(&mut fresh, credential_type, credential_id, |key| {
        let authenticator = key.authenticator.get_or_insert_with(Default::default);
        let was = authenticator.clone_warning;
        authenticator.clone_warning = true;
        !was
    });
    if changed {
        kratos.store().update_identity(kratos.nid(), &fresh).await?;
    }
    Ok(())
}
