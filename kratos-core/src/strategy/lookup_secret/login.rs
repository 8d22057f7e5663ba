//! The lookup_secret method in login flows: a backup code as the second factor of an aal2
//! flow, each code good once.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::codes::mac_keys;
use crate::clock::truncate_micros;
use crate::flow::FlowError;
use crate::flow::ui::text::mfa;
use crate::flow::ui::{InputType, NodeGroup, UiNode};
use crate::identity::CredentialType;
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::totp::login::count_second_factor_attempt;
use crate::strategy::{
    Authenticated, CompletionWrites, Factor, LoginCx, LoginOutcome, LoginStrategy, Method,
    PopulateCx,
};

#[derive(Deserialize)]
struct LookupPayload {
    #[serde(default)]
    lookup_secret: Zeroizing<String>,
}

/// The lookup_secret method's login strategy (second factor).
#[derive(Debug, Default)]
pub struct LookupSecretLogin;

#[async_trait]
impl LoginStrategy for LookupSecretLogin {
    fn method(&self) -> Method {
        Method::LookupSecret
    }

    fn factor(&self) -> Factor {
        Factor::Second
    }

    /// Offers the code input when the identity has unused backup codes.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        // Shown while the identity has codes, used or not (as Kratos): its level counts them.
        let has_codes = cx
            .identity
            .and_then(|i| i.credential(CredentialType::LookupSecret))
            .and_then(|c| super::read_config(cx.kratos, &c.config).ok().flatten())
            .is_some();
        if !has_codes {
            return Ok(());
        }
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::LookupSecret, "lookup_secret", InputType::Text)
                .required()
                .label(mfa::lookup_label()),
        );
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::LookupSecret, "method", InputType::Submit)
                .value(json!("lookup_secret"))
                .label(mfa::login_lookup()),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: LookupPayload = cx.parse()?;
        let kratos = cx.kratos;
        let session = cx.session.ok_or(FlowError::Aal1Required)?;
        cx.flow.active = Some("lookup_secret".into());
        let mut identity = kratos
            .store()
            .get_identity(kratos.nid(), session.identity_id)
            .await?;
        let config = match identity.credential(CredentialType::LookupSecret) {
            Some(c) => super::read_config(kratos, &c.config)?,
            None => None,
        };
        let Some(mut config) = config else {
            cx.flow.ui.messages.push(mfa::no_lookup());
            return Ok(LoginOutcome::Retry);
        };
        if payload.lookup_secret.trim().is_empty() {
            cx.flow.ui.add_node_message(
                "lookup_secret",
                crate::flow::ui::text::required("lookup_secret"),
            );
            return Ok(LoginOutcome::Retry);
        }
        // Counted before the code is looked at: a burst of guesses stops at the limit.
        let reset = count_second_factor_attempt(kratos, identity.id).await?;
        let Some(index) = config.find(&mac_keys(kratos.config()), &payload.lookup_secret) else {
            // On the flow, as Kratos's (its errors point at the form, not the field).
            cx.flow.ui.messages.push(mfa::lookup_invalid());
            return Ok(LoginOutcome::Retry);
        };
        let stored = &config.recovery_codes[index];
        if stored.used_at.is_some() {
            cx.flow.ui.messages.push(mfa::lookup_already_used());
            return Ok(LoginOutcome::Retry);
        }
        // The use is recorded with the session, in one transaction: of concurrent logins with
        // one code exactly one gets a session. Codes are good until replaced, so the use is
        // remembered as long as the credential may hold the code.
        let use_secret = crate::strategy::SecretToUse {
            key: stored.used_secret_key(),
            expires_at: super::remember_forever(),
            refused: mfa::lookup_already_used(),
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        let now = truncate_micros(kratos.clock().now());
        config.mark_used(index, now);
        if let Some(credential) = identity.credentials.get_mut(&CredentialType::LookupSecret) {
            credential.config = config.to_value();
            credential.updated_at = now;
        }
        // The stored credential gets the mark over what it holds by then: codes replaced
        // meanwhile are not brought back.
        let (key, kratos) = (use_secret.key.clone(), kratos.clone());
        let mark_used = crate::strategy::IdentityEdit::new(identity.id, move |fresh| {
            let Some(credential) = fresh.credentials.get_mut(&CredentialType::LookupSecret) else {
                return false;
            };
            let Ok(Some(mut config)) = super::read_config(&kratos, &credential.config) else {
                return false;
            };
            let Some(index) = config
                .recovery_codes
                .iter()
                .position(|c| c.used_at.is_none() && c.used_secret_key() == key)
            else {
                return false;
            };
            config.mark_used(index, now);
            credential.config = config.to_value();
            credential.updated_at = now;
            true
        });
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod {
                method: "lookup_secret".into(),
                aal: Aal::Aal2,
                completed_at: now,
                provider: None,
            },
            writes: CompletionWrites {
                reset_login_failures: reset,
                edit_identity: Some(mark_used),
                use_secret: Some(use_secret),
                ..Default::default()
            },
        })))
    }
}
