//! The totp method in login flows: the second factor of an aal2 flow.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::otp;
use crate::clock::truncate_micros;
use crate::flow::FlowError;
use crate::flow::ui::text::mfa;
use crate::flow::ui::{InputType, NodeGroup, UiNode};
use crate::identity::CredentialType;
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::{
    Authenticated, CompletionWrites, Factor, LoginCx, LoginOutcome, LoginStrategy, Method,
    PopulateCx,
};

#[derive(Deserialize)]
struct TotpPayload {
    #[serde(default)]
    totp_code: Zeroizing<String>,
}

/// The totp method's login strategy (second factor).
#[derive(Debug, Default)]
pub struct TotpLogin;

fn now(kratos: &Kratos) -> DateTime<Utc> {
    truncate_micros(kratos.clock().now())
}

/// The lockout key of an identity's second factor: failed codes count here, so a stolen
/// first factor cannot guess codes without bound.
pub(crate) fn second_factor_lockout_key(identity_id: uuid::Uuid) -> String {
    format!("second-factor:{identity_id}")
}

/// Counts a second-factor attempt of `identity_id` on its lockout key (when lockout is on):
/// `Err(LoginLocked)` while the key is locked, else the key to reset on success.
pub(crate) async fn count_second_factor_attempt(
    kratos: &Kratos,
    identity_id: uuid::Uuid,
) -> Result<Option<String>, FlowError> {
    let lockout = &kratos.config().security.login_lockout;
    if !lockout.enabled {
        return Ok(None);
    }
    let key = second_factor_lockout_key(identity_id);
    let schedule = crate::strategy::password::login::lock_schedule(lockout, now(kratos));
    let refused = kratos
        .store()
        .record_login_attempt(
            kratos.nid(),
            &[crate::store::LockoutKey {
                key: &key,
                max_attempts: lockout.max_failures,
            }],
            &schedule,
        )
        .await?;
    if let Some(until) = refused {
        return Err(FlowError::LoginLocked { until });
    }
    Ok(Some(key))
}

#[async_trait]
impl LoginStrategy for TotpLogin {
    fn method(&self) -> Method {
        Method::Totp
    }

    fn factor(&self) -> Factor {
        Factor::Second
    }

    /// Offers the code input when the identity has an authenticator app linked.
    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx
            .identity
            .is_none_or(|i| i.credential(CredentialType::Totp).is_none())
        {
            return Ok(());
        }
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::Totp, "totp_code", InputType::Text)
                .required()
                .autocomplete("one-time-code")
                .label(mfa::totp_label()),
        );
        cx.ui.nodes.push(
            UiNode::input(NodeGroup::Totp, "method", InputType::Submit)
                .value(json!("totp"))
                .label(mfa::login_totp()),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: TotpPayload = cx.parse()?;
        let kratos = cx.kratos;
        let session = cx.session.ok_or(FlowError::Aal1Required)?;
        cx.flow.active = Some("totp".into());
        let identity = kratos
            .store()
            .get_identity(kratos.nid(), session.identity_id)
            .await?;
        let Some(key) = super::key_of(kratos, &identity)? else {
            cx.flow.ui.messages.push(mfa::no_totp_device());
            return Ok(LoginOutcome::Retry);
        };
        if payload.totp_code.trim().is_empty() {
            cx.flow
                .ui
                .add_node_message("totp_code", crate::flow::ui::text::required("totp_code"));
            return Ok(LoginOutcome::Retry);
        }
        // Kratos's login schema asks for at least 6 characters (checked before anything else).
        let length = payload.totp_code.chars().count();
        if length < otp::DIGITS {
            cx.flow.ui.add_node_message(
                "totp_code",
                crate::flow::ui::text::min_length(otp::DIGITS, length),
            );
            return Ok(LoginOutcome::Retry);
        }
        // Counted before the code is checked: a burst of guesses stops at the limit.
        let reset = count_second_factor_attempt(kratos, identity.id).await?;
        let at = now(kratos);
        let step = u64::try_from(at.timestamp())
            .ok()
            .and_then(|t| key.verify(payload.totp_code.trim(), t));
        let Some(step) = step else {
            // On the flow, as Kratos's (its error points at the form, not the field).
            cx.flow.ui.messages.push(mfa::totp_verifier_wrong());
            return Ok(LoginOutcome::Retry);
        };
        // A code is good once: its step is recorded with the session, in one transaction,
        // and a replay within its window loses.
        let remember_until = super::remember_step_until(step);
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod {
                method: "totp".into(),
                aal: Aal::Aal2,
                completed_at: at,
                provider: None,
            },
            writes: CompletionWrites {
                reset_login_failures: reset,
                use_secret: Some(crate::strategy::SecretToUse {
                    key: otp::used_secret_key(step),
                    expires_at: remember_until,
                    refused: mfa::totp_verifier_wrong(),
                }),
                ..Default::default()
            },
        })))
    }
}
