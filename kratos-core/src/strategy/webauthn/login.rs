//! The webauthn method in login flows: a security key as the second factor of an aal2
//! browser flow.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{AuthenticationState, PublicKeyCredential, UserVerificationPolicy};

use super::text;
use crate::clock::truncate_micros;
use crate::flow::ui::{InputType, NodeAttributes, NodeGroup, UiNode};
use crate::flow::{FlowError, FlowType};
use crate::identity::{CredentialType, Identity};
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::passkey::credential::WebauthnConfig;
use crate::strategy::passkey::login::{mark_clone_warning, update_after_login};
use crate::strategy::passkey::text as passkey_text;
use crate::strategy::{
    Authenticated, CompletionWrites, CredentialToUpdate, Factor, LoginCx, LoginOutcome,
    LoginStrategy, Method, PopulateCx,
};

/// The internal-context key of a login's ceremony state.
const STATE_KEY: &str = "webauthn_login_state";

#[derive(Deserialize)]
struct WebauthnLoginPayload {
    #[serde(default)]
    webauthn_login: String,
    #[serde(default)]
    identifier: String,
}

/// The webauthn method's login strategy: a second factor, or with `passwordless` (Kratos's
/// `config.passwordless: true`) a first factor that asks for the identifier first.
#[derive(Debug, Default)]
pub struct WebauthnLogin {
    /// Security keys sign in on their own (first factor) rather than step up.
    pub passwordless: bool,
}

/// The identity's security keys of the kind a login uses (passwordless ones for a first
/// factor, the others for a second), as stored.
fn keys_for(identity: &Identity, passwordless: bool) -> Option<WebauthnConfig> {
    let credential = identity.credential(CredentialType::Webauthn)?;
    let mut config: WebauthnConfig = serde_json::from_value(credential.config.clone()).ok()?;
    config
        .credentials
        .retain(|c| c.is_passwordless == passwordless);
    (!config.credentials.is_empty()).then_some(config)
}

/// Starts a login with `config`'s keys: the request options (JSON text), the state kept in
/// `internal`. `None` when no stored key can be used.
fn begin(
    kratos: &crate::kratos::Kratos,
    internal: &mut crate::strategy::InternalContext,
    config: &WebauthnConfig,
) -> Result<Option<String>, FlowError> {
    let keys: Vec<_> = config
        .credentials
        .iter()
        .filter_map(|c| c.to_core().ok())
        .collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let rp = crate::strategy::passkey::relying_party(kratos, super::method_config(kratos))?;
    let builder = rp
        .new_challenge_authenticate_builder(keys, Some(UserVerificationPolicy::Preferred))
        .map_err(|e| FlowError::Internal(format!("webauthn login: {e}")))?
        .allow_backup_eligible_upgrade(true);
    let (options, state) = rp
        .generate_challenge_authenticate(builder)
        .map_err(|e| FlowError::Internal(format!("webauthn login: {e}")))?;
    internal.set(
        STATE_KEY,
        serde_json::to_value(&state).map_err(|e| FlowError::Internal(e.to_string()))?,
    );
    serde_json::to_string(&options)
        .map(Some)
        .map_err(|e| FlowError::Internal(e.to_string()))
}

/// The script, `webauthn_login_trigger` with `options` and `label`, and `webauthn_login`.
fn challenge_nodes(
    kratos: &crate::kratos::Kratos,
    nodes: &mut Vec<UiNode>,
    options: &str,
    label: crate::flow::ui::UiText,
) {
    nodes.push(crate::strategy::passkey::script_node(kratos));
    let mut trigger = UiNode::input(
        NodeGroup::Webauthn,
        "webauthn_login_trigger",
        InputType::Button,
    )
    .value(Value::String(options.to_owned()))
    .label(label);
    if let NodeAttributes::Input(a) = &mut trigger.attributes {
        a.onclick = Some(format!("window.oryWebAuthnLogin({options})"));
        a.onclick_trigger = Some("oryWebAuthnLogin".into());
    }
    nodes.push(trigger);
    nodes.push(UiNode::input(
        NodeGroup::Webauthn,
        "webauthn_login",
        InputType::Hidden,
    ));
}

#[async_trait]
impl LoginStrategy for WebauthnLogin {
    fn method(&self) -> Method {
        Method::Webauthn
    }

    fn factor(&self) -> Factor {
        if self.passwordless {
            Factor::First
        } else {
            Factor::Second
        }
    }

    /// A submission is the method's when it carries `webauthn_login` (the browser script
    /// submits the form without a `method`) or names the method.
    fn claims(&self, payload: &Value) -> bool {
        payload
            .get("webauthn_login")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            || payload.get("method").and_then(Value::as_str) == Some("webauthn")
    }

    /// Offers the identity's security keys on an aal2 browser flow (Kratos offers them to
    /// browsers only): the hidden `identifier`, the script, `webauthn_login_trigger` with the
    /// request options (1010008) and `webauthn_login`.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx.flow_type != FlowType::Browser || cx.refresh {
            return Ok(());
        }
        if self.passwordless {
            // The identifier first (Kratos's `populateLoginMethodForPasswordless`).
            match cx.ui.node_mut("identifier") {
                Some(node) => {
                    if let NodeAttributes::Input(a) = &mut node.attributes {
                        a.autocomplete = Some("username webauthn".into());
                    }
                }
                None => cx.ui.nodes.push(
                    UiNode::input(NodeGroup::Default, "identifier", InputType::Text)
                        .value(Value::String(String::new()))
                        .required()
                        .autocomplete("username webauthn")
                        .label(crate::flow::ui::text::default_login_identifier_label(
                            cx.kratos.schemas(),
                        )),
                ),
            }
            cx.ui.nodes.push(
                UiNode::input(NodeGroup::Webauthn, "method", InputType::Submit)
                    .value(Value::String("webauthn".into()))
                    .label(text::login_webauthn()),
            );
            return Ok(());
        }
        let Some(identity) = cx.identity else {
            return Ok(());
        };
        let Some(config) = keys_for(identity, false) else {
            return Ok(());
        };
        let Some(options) = begin(cx.kratos, cx.internal, &config)? else {
            return Ok(());
        };
        if let Some(first) = identity
            .credential(CredentialType::Webauthn)
            .and_then(|c| c.identifiers.first())
        {
            cx.ui.nodes.retain(|n| n.name() != Some("identifier"));
            cx.ui.nodes.push(
                UiNode::input(NodeGroup::Default, "identifier", InputType::Hidden)
                    .value(Value::String(first.clone())),
            );
        }
        challenge_nodes(
            cx.kratos,
            &mut cx.ui.nodes,
            &options,
            text::login_webauthn(),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: WebauthnLoginPayload = cx.parse()?;
        let kratos = cx.kratos;
        if cx.flow.flow_type != FlowType::Browser {
            return Ok(LoginOutcome::NotMine);
        }
        cx.flow.active = Some("webauthn".into());
        let identity = if self.passwordless {
            if payload.identifier.trim().is_empty() {
                return Err(FlowError::BadRequest("identifier is required".into()));
            }
            let identifier = crate::identity::normalize_identifier(
                crate::identity::IdentifierKind::Username,
                payload.identifier.trim(),
            )
            .unwrap_or_else(|_| payload.identifier.trim().to_owned());
            match kratos
                .store()
                .find_identity_by_identifier(kratos.nid(), CredentialType::Webauthn, &identifier)
                .await
            {
                Ok(identity) => identity,
                Err(crate::store::StoreError::NotFound) => {
                    cx.flow
                        .ui
                        .messages
                        .push(passkey_text::no_such_webauthn_user());
                    return Ok(LoginOutcome::Retry);
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            let session = cx.session.ok_or(FlowError::Aal1Required)?;
            kratos
                .store()
                .get_identity(kratos.nid(), session.identity_id)
                .await?
        };
        let Some(config) = keys_for(&identity, self.passwordless) else {
            cx.flow.ui.messages.push(if self.passwordless {
                passkey_text::no_such_webauthn_user()
            } else {
                passkey_text::no_webauthn_device()
            });
            return Ok(LoginOutcome::Retry);
        };
        if payload.webauthn_login.is_empty() && self.passwordless {
            // The identifier is known: the challenge of its keys, on the form again
            // (Kratos answers with a redirect to the login UI).
            let Some(options) = begin(kratos, cx.internal, &config)? else {
                cx.flow
                    .ui
                    .messages
                    .push(passkey_text::no_such_webauthn_user());
                return Ok(LoginOutcome::Retry);
            };
            cx.flow.ui.nodes.retain(|n| n.name() == Some("csrf_token"));
            cx.flow.ui.nodes.push(
                UiNode::input(NodeGroup::Default, "identifier", InputType::Hidden)
                    .value(Value::String(payload.identifier.clone()))
                    .required(),
            );
            challenge_nodes(
                kratos,
                &mut cx.flow.ui.nodes,
                &options,
                crate::flow::ui::UiText::info(1010013, "Continue"),
            );
            cx.flow.ui.messages.push(crate::flow::ui::UiText::info(
                1010012,
                "Prepare your WebAuthn device (e.g. security key, biometrics scanner, ...) and press continue.",
            ));
            let ui = kratos
                .config()
                .selfservice
                .flows
                .login
                .ui_url
                .clone()
                .unwrap_or_else(|| "https://www.ory.sh/kratos/docs/fallback/login".into());
            return Ok(LoginOutcome::Redirect(format!("{ui}?flow={}", cx.flow.id)));
        }
        if payload.webauthn_login.is_empty() {
            cx.flow.ui.add_node_message(
                "webauthn_login",
                crate::flow::ui::text::required("webauthn_login"),
            );
            return Ok(LoginOutcome::Retry);
        }
        let response: PublicKeyCredential = serde_json::from_str(&payload.webauthn_login)
            .map_err(|_| FlowError::BadRequest("Unable to parse WebAuthn response.".into()))?;
        let state: AuthenticationState = cx
            .internal
            .get(STATE_KEY)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                FlowError::Internal("Expected WebAuthN in internal context to be an object.".into())
            })?;
        // Counted before the key is checked, as the other second factors are.
        let reset = if self.passwordless {
            None
        } else {
            crate::strategy::totp::login::count_second_factor_attempt(kratos, identity.id).await?
        };
        let Some(core) = config
            .credentials
            .iter()
            .find(|c| c.id == response.raw_id)
            .and_then(|c| c.to_core().ok())
        else {
            cx.flow
                .ui
                .messages
                .push(passkey_text::webauthn_verifier_wrong());
            return Ok(LoginOutcome::Retry);
        };
        let rp = crate::strategy::passkey::relying_party(kratos, super::method_config(kratos))?;
        let result = match rp.authenticate_single_credential(&response, &state, &core) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                mark_clone_warning(
                    kratos,
                    &identity,
                    CredentialType::Webauthn,
                    &response.raw_id,
                )
                .await?;
                cx.flow
                    .ui
                    .messages
                    .push(passkey_text::webauthn_verifier_wrong());
                return Ok(LoginOutcome::Retry);
            }
            Err(_) => {
                cx.flow
                    .ui
                    .messages
                    .push(passkey_text::webauthn_verifier_wrong());
                return Ok(LoginOutcome::Retry);
            }
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // The challenge stays with the flow (see the passkey login): a refused completion
        // can be tried again.
        let mut updated = identity.clone();
        let update_credential = update_after_login(
            &mut updated,
            CredentialType::Webauthn,
            &response.raw_id,
            result.counter(),
            result.backup_eligible(),
            result.backup_state(),
        )
        .then(|| updated.credentials.remove(&CredentialType::Webauthn))
        .flatten()
        .map(|credential| CredentialToUpdate {
            credential_type: CredentialType::Webauthn,
            config: credential.config,
            read_at: credential.updated_at,
            refused: passkey_text::webauthn_verifier_wrong(),
        });
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod {
                method: "webauthn".into(),
                aal: if self.passwordless {
                    Aal::Aal1
                } else {
                    Aal::Aal2
                },
                completed_at: truncate_micros(kratos.clock().now()),
                provider: None,
            },
            writes: CompletionWrites {
                reset_login_failures: reset,
                update_credential,
                ..Default::default()
            },
        })))
    }
}
