//! The totp method in settings flows: link an authenticator app (its QR code and secret
//! shown, a first code confirms it), or unlink it. Both need a privileged session.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::otp::TotpKey;
use crate::flow::FlowError;
use crate::flow::ui::text::mfa;
use crate::flow::ui::{InputType, NodeGroup, UiNode, UiText};
use crate::identity::{CredentialType, Identity};
use crate::kratos::Kratos;
use crate::session::{Aal, AuthenticationMethod};
use crate::strategy::{
    IdentityChange, InternalContext, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx,
    SettingsStrategy,
};

/// Where the key waiting for its first code is kept in the flow's internal context (sealed).
const PENDING: &str = "totp_pending_url";

#[derive(Deserialize)]
struct TotpPayload {
    #[serde(default)]
    totp_code: Zeroizing<String>,
    #[serde(default, deserialize_with = "crate::strategy::lenient_bool")]
    totp_unlink: bool,
}

/// The totp method's settings strategy.
#[derive(Debug, Default)]
pub struct TotpSettings;

/// The account name of a new key: the trait marked `credentials.totp.account_name`, else the
/// identity's id.
fn account_name(kratos: &Kratos, identity: &Identity) -> String {
    kratos
        .schemas()
        .get(&identity.schema_id)
        .and_then(|s| s.derive(&identity.traits).ok())
        .and_then(|d| d.totp_account_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| identity.id.to_string())
}

/// Makes a key for `identity`, keeps it sealed in `internal`, and adds the nodes that show it.
fn offer_new_key(
    kratos: &Kratos,
    identity: &Identity,
    internal: &mut InternalContext,
    nodes: &mut Vec<UiNode>,
) -> Result<(), FlowError> {
    let key = TotpKey::generate(
        &kratos.config().totp_issuer(),
        &account_name(kratos, identity),
    )
    .map_err(|e| FlowError::Internal(e.to_string()))?;
    let sealed = kratos
        .cipher()
        .encrypt(key.to_url().as_bytes())
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    internal.set(PENDING, Value::String(sealed));
    let qr = key
        .qr_png_data_url()
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    nodes.push(UiNode::img(NodeGroup::Totp, "totp_qr", &qr, 256, 256).label(mfa::totp_qr_code()));
    let secret = key.secret_base32();
    nodes.push(
        UiNode::text(
            NodeGroup::Totp,
            "totp_secret_key",
            mfa::totp_secret(&secret),
        )
        .label(mfa::totp_secret_label()),
    );
    nodes.push(
        UiNode::input(NodeGroup::Totp, "totp_code", InputType::Text)
            .required()
            .label(crate::flow::ui::text::verify_code()),
    );
    nodes.push(
        UiNode::input(NodeGroup::Totp, "method", InputType::Submit)
            .value(json!("totp"))
            .label(crate::flow::ui::text::save()),
    );
    Ok(())
}

/// The key waiting for its first code, if the flow offered one.
fn pending_key(kratos: &Kratos, internal: &InternalContext) -> Result<Option<TotpKey>, FlowError> {
    let Some(sealed) = internal.get(PENDING).and_then(Value::as_str) else {
        return Ok(None);
    };
    let opened = kratos
        .cipher()
        .decrypt(sealed)
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    let url = std::str::from_utf8(&opened)
        .map_err(|_| FlowError::Internal("the pending TOTP key is not UTF-8".into()))?;
    TotpKey::from_url(url)
        .map(Some)
        .map_err(|e| FlowError::Internal(e.to_string()))
}

#[async_trait]
impl SettingsStrategy for TotpSettings {
    fn method(&self) -> Method {
        Method::Totp
    }

    /// `method=totp`, or the `totp_unlink` button, which posts no `method`.
    fn claims(&self, payload: &Value) -> bool {
        match payload.get("method").and_then(Value::as_str) {
            Some(m) => m == "totp",
            None => payload.get("totp_unlink").is_some(),
        }
    }

    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        if cx.identity.credential(CredentialType::Totp).is_some() {
            cx.ui.nodes.push(
                UiNode::input(NodeGroup::Totp, "totp_unlink", InputType::Submit)
                    .required()
                    .value(json!("true"))
                    .label(mfa::unlink_totp()),
            );
            return Ok(());
        }
        offer_new_key(cx.kratos, cx.identity, cx.internal, &mut cx.ui.nodes)
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: TotpPayload = cx.parse()?;
        cx.require_privileged()?;
        let linked = cx.identity.credential(CredentialType::Totp).is_some();
        if payload.totp_unlink {
            if !linked {
                cx.flow.ui.messages.push(mfa::no_totp_device());
                return Ok(SettingsOutcome::Retry);
            }
            let mut next = cx.identity.clone();
            next.credentials.remove(&CredentialType::Totp);
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(next),
            )));
        }
        if linked {
            cx.flow.ui.messages.push(UiText::error(
                4000001,
                "An authenticator app is already linked: unlink it first.",
                Some(json!({"reason": "An authenticator app is already linked: unlink it first."})),
            ));
            return Ok(SettingsOutcome::Retry);
        }
        let Some(key) = pending_key(cx.kratos, cx.internal)? else {
            cx.flow.ui.messages.push(mfa::no_totp_device());
            return Ok(SettingsOutcome::Retry);
        };
        if payload.totp_code.trim().is_empty() {
            cx.flow
                .ui
                .add_node_message("totp_code", crate::flow::ui::text::required("totp_code"));
            return Ok(SettingsOutcome::Retry);
        }
        let now = crate::clock::truncate_micros(cx.kratos.clock().now());
        let verified = u64::try_from(now.timestamp())
            .ok()
            .and_then(|t| key.verify(payload.totp_code.trim(), t));
        let Some(step) = verified else {
            cx.flow
                .ui
                .add_node_message("totp_code", mfa::totp_verifier_wrong());
            return Ok(SettingsOutcome::Retry);
        };
        // The code that links the app is used: it cannot sign in again in its window.
        let remember_until = super::remember_step_until(step);
        cx.kratos
            .store()
            .use_once(
                cx.kratos.nid(),
                cx.identity.id,
                &super::otp::used_secret_key(step),
                remember_until,
            )
            .await?;
        cx.internal.remove(PENDING);
        cx.add_session_method(AuthenticationMethod {
            method: "totp".into(),
            aal: Aal::Aal2,
            completed_at: now,
            provider: None,
        });
        let next = super::with_credential(cx.kratos, cx.identity.clone(), &key)?;
        Ok(SettingsOutcome::Save(IdentityChange::Credentials(
            Box::new(next),
        )))
    }
}
