//! The profile method in settings flows: editing the traits.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::flow::FlowError;
use crate::flow::registration::{add_trait_error, set_trait_values, trait_nodes};
use crate::flow::ui::{UiNode, text};
use crate::identity::UpdateIdentityBody;
use crate::strategy::{
    IdentityChange, Method, SettingsCx, SettingsOutcome, SettingsPopulateCx, SettingsStrategy,
};

#[derive(Deserialize)]
struct ProfilePayload {
    #[serde(default)]
    traits: Value,
}

/// The profile method's settings strategy: new traits, validated against the identity's
/// schema. Changing identifiers or addresses needs a privileged session.
#[derive(Debug, Default)]
pub struct ProfileSettings;

#[async_trait]
impl SettingsStrategy for ProfileSettings {
    fn method(&self) -> Method {
        Method::Profile
    }

    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        let schema = cx
            .kratos
            .schemas()
            .get(&cx.identity.schema_id)
            .ok_or_else(|| FlowError::Internal("the identity's schema is missing".into()))?;
        if let Some(traits) = schema.raw().pointer("/properties/traits") {
            let req = traits
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            trait_nodes(
                traits,
                &crate::flow::ui::NodeGroup::Profile,
                "traits",
                &req,
                &mut cx.ui.nodes,
            );
        }
        set_trait_values(cx.ui, &cx.identity.traits, "traits");
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Profile,
                "method",
                crate::flow::ui::InputType::Submit,
            )
            .value(json!("profile"))
            .label(text::save()),
        );
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let payload: ProfilePayload = cx.parse()?;
        set_trait_values(&mut cx.flow.ui, &payload.traits, "traits");
        let traits = if payload.traits.is_null() {
            json!({})
        } else {
            payload.traits
        };
        let current = cx.identity;
        let schema = cx
            .kratos
            .schemas()
            .get(&current.schema_id)
            .cloned()
            .ok_or_else(|| FlowError::Internal("the identity's schema is missing".into()))?;
        let next = match schema.derive(&traits) {
            Ok(d) => d,
            Err(errors) => {
                for e in errors {
                    add_trait_error(&mut cx.flow.ui, &e.instance_ptr, &e.message);
                }
                return Ok(SettingsOutcome::Retry);
            }
        };
        let before = schema.derive(&current.traits).unwrap_or_default();
        if next != before {
            // Identifiers or addresses change: that is a credential change.
            cx.require_privileged()?;
        }
        Ok(SettingsOutcome::Save(IdentityChange::Update(Box::new(
            UpdateIdentityBody {
                schema_id: current.schema_id.clone(),
                traits,
                state: Some(current.state),
                metadata_public: current.metadata_public.clone(),
                metadata_admin: current.metadata_admin.clone(),
                credentials: None,
                external_id: current.external_id.clone(),
            },
        ))))
    }
}
