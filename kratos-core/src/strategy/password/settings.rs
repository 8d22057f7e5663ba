//! The password method in settings flows: a new password, checked by the policy, that is not
//! the current one.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::flow::FlowError;
use crate::flow::ui::{UiNode, UiText, text};
use crate::identity::{
    CredentialType, ImportCredentials, ImportPassword, ImportPasswordConfig, UpdateIdentityBody,
};
use crate::strategy::{
    IdentityChange, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx, SettingsStrategy,
};

#[derive(Deserialize)]
struct PasswordPayload {
    #[serde(default)]
    password: Zeroizing<String>,
}

/// The password method's settings strategy. Needs a privileged session.
#[derive(Debug, Default)]
pub struct PasswordSettings;

#[async_trait]
impl SettingsStrategy for PasswordSettings {
    fn method(&self) -> Method {
        Method::Password
    }

    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "password",
                crate::flow::ui::InputType::Password,
            )
            .required()
            .autocomplete("new-password")
            .label(text::password_label()),
        );
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "method",
                crate::flow::ui::InputType::Submit,
            )
            .value(json!("password"))
            .label(text::save()),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: PasswordPayload = cx.parse()?;
        cx.require_privileged()?;
        let password = payload.password;
        let flow = &mut *cx.flow;
        let current = cx.identity;
        if password.is_empty() {
            flow.ui
                .add_node_message("password", text::required("password"));
            return Ok(SettingsOutcome::Retry);
        }
        let identifiers = cx
            .kratos
            .schemas()
            .get(&current.schema_id)
            .and_then(|s| s.derive(&current.traits).ok())
            .map(|d| d.password_identifiers)
            .unwrap_or_default();
        if let Err(violation) = cx
            .kratos
            .password_policy()
            .check_identifiers(identifiers.iter().map(String::as_str), &password)
            .await
        {
            flow.ui.add_node_message(
                "password",
                UiText::error(
                    violation.message_id(),
                    violation.text(),
                    Some(violation.context()).filter(|c| !c.is_null()),
                ),
            );
            return Ok(SettingsOutcome::Retry);
        }
        let old_hash = current
            .credential(CredentialType::Password)
            .and_then(|c| c.hashed_password())
            .map(str::to_owned);
        let pw = password.clone();
        // One turn of the hashing gate: compare with the old password, then hash the new one.
        let outcome = cx
            .kratos
            .run_hash(move |hasher| {
                if let Some(old) = old_hash
                    && kratos_hash::verify(pw.as_bytes(), &old).unwrap_or(false)
                {
                    return Ok(None);
                }
                hasher.hash(pw.as_bytes()).map(Some)
            })
            .await
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let hash = match outcome {
            Ok(Some(h)) => h,
            Ok(None) => {
                flow.ui
                    .add_node_message("password", text::password_same_as_old());
                return Ok(SettingsOutcome::Retry);
            }
            Err(e) => {
                flow.ui
                    .add_node_message("password", text::validation_generic(&e.to_string()));
                return Ok(SettingsOutcome::Retry);
            }
        };
        Ok(SettingsOutcome::Save(IdentityChange::Update(Box::new(
            UpdateIdentityBody {
                schema_id: current.schema_id.clone(),
                traits: current.traits.clone(),
                state: Some(current.state),
                metadata_public: current.metadata_public.clone(),
                metadata_admin: current.metadata_admin.clone(),
                credentials: Some(ImportCredentials {
                    password: Some(ImportPassword {
                        config: ImportPasswordConfig {
                            hashed_password: Some(hash),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                }),
                external_id: current.external_id.clone(),
            },
        ))))
    }
}
