//! The UI of a flow described as data (Kratos's `ui` container), so any frontend can render it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A flow's form: where to post, and the nodes to render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UiContainer {
    /// Where the form posts (`<public>/self-service/<flow>?flow=<id>`).
    pub action: String,
    /// `POST`.
    pub method: String,
    /// The nodes.
    pub nodes: Vec<UiNode>,
    /// Messages about the whole form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<UiText>,
}

impl UiContainer {
    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&UiNode> {
        self.nodes.iter().find(|n| n.name() == Some(name))
    }

    /// The node with this name, mutably.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut UiNode> {
        self.nodes.iter_mut().find(|n| n.name() == Some(name))
    }

    /// Drops every message, on the form and on its nodes.
    pub fn clear_messages(&mut self) {
        self.messages.clear();
        for n in &mut self.nodes {
            n.messages.clear();
        }
    }

    /// Sets the value of an input node.
    pub fn set_value(&mut self, name: &str, value: Value) {
        if let Some(UiNode {
            attributes: NodeAttributes::Input(a),
            ..
        }) = self.node_mut(name)
        {
            a.value = Some(value);
        }
    }

    /// Adds a message to a node (or to the form when no such node exists).
    pub fn add_node_message(&mut self, name: &str, message: UiText) {
        match self.node_mut(name) {
            Some(n) => n.messages.push(message),
            None => self.messages.push(message),
        }
    }
}

/// One element of the form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UiNode {
    /// `input`, `text`, `img`, `a`, `script` or `div`.
    #[serde(rename = "type")]
    pub node_type: String,
    /// The method the node belongs to (`default`, `password`, `profile`, …).
    pub group: String,
    /// The attributes, tagged by `node_type`.
    pub attributes: NodeAttributes,
    /// Messages about this node (validation errors land here).
    #[serde(default)]
    pub messages: Vec<UiText>,
    /// The label.
    #[serde(default)]
    pub meta: NodeMeta,
}

impl UiNode {
    /// An input node.
    pub fn input(group: &str, name: &str, input_type: &str) -> Self {
        UiNode {
            node_type: "input".into(),
            group: group.into(),
            attributes: NodeAttributes::Input(InputAttributes {
                name: name.into(),
                node_type: input_tag(),
                input_type: input_type.into(),
                value: None,
                required: false,
                autocomplete: None,
                disabled: false,
            }),
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// Marks the node required.
    pub fn required(mut self) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.required = true;
        }
        self
    }

    /// Sets `autocomplete`.
    pub fn autocomplete(mut self, v: &str) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.autocomplete = Some(v.into());
        }
        self
    }

    /// Sets the value.
    pub fn value(mut self, v: Value) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.value = Some(v);
        }
        self
    }

    /// Sets the label.
    pub fn label(mut self, text: UiText) -> Self {
        self.meta.label = Some(text);
        self
    }

    /// The input's name.
    pub fn name(&self) -> Option<&str> {
        match &self.attributes {
            NodeAttributes::Input(a) => Some(&a.name),
            NodeAttributes::Other(_) => None,
        }
    }
}

/// Node attributes. Inputs are typed; other node types are kept as they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NodeAttributes {
    /// `node_type: input`
    Input(InputAttributes),
    /// Any other node type, as JSON.
    Other(Value),
}

/// Attributes of an input node.
///
/// `Debug` shows `<redacted>` for the value of the `csrf_token` node and of `password`
/// inputs (so neither shows in the `Debug` of a node, a container or a flow); serialisation
/// writes the value, as the client needs it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAttributes {
    /// The field name.
    pub name: String,
    /// Always `input`.
    #[serde(default = "input_tag")]
    pub node_type: String,
    /// The HTML input type.
    #[serde(rename = "type")]
    pub input_type: String,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Whether it is required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// The autocomplete hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    /// Whether it is disabled.
    #[serde(default)]
    pub disabled: bool,
}

impl std::fmt::Debug for InputAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = self.name == "csrf_token" || self.input_type == "password";
        let mut d = f.debug_struct("InputAttributes");
        d.field("name", &self.name)
            .field("node_type", &self.node_type)
            .field("input_type", &self.input_type);
        match &self.value {
            Some(_) if secret => d.field("value", &Some(crate::config::REDACTED)),
            value => d.field("value", value),
        };
        d.field("required", &self.required)
            .field("autocomplete", &self.autocomplete)
            .field("disabled", &self.disabled)
            .finish()
    }
}

fn input_tag() -> String {
    "input".into()
}

/// A node's meta data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// The label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<UiText>,
}

/// A message, with Kratos's numeric id so frontends can translate it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UiText {
    /// The numeric id (see Kratos's message ids).
    pub id: u32,
    /// The English text.
    pub text: String,
    /// `info`, `error` or `success`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Values the text was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl UiText {
    fn new(id: u32, kind: &str, text: impl Into<String>, context: Option<Value>) -> Self {
        UiText {
            id,
            text: text.into(),
            kind: kind.into(),
            context,
        }
    }

    /// An info message.
    pub fn info(id: u32, text: impl Into<String>) -> Self {
        Self::new(id, "info", text, None)
    }

    /// A success message.
    pub fn success(id: u32, text: impl Into<String>) -> Self {
        Self::new(id, "success", text, None)
    }

    /// An error message with a context.
    pub fn error(id: u32, text: impl Into<String>, context: Option<Value>) -> Self {
        Self::new(id, "error", text, context)
    }
}

/// Kratos's messages used by the flows.
pub mod text {
    use serde_json::json;

    use super::UiText;

    /// 1010001 "Sign in"
    pub fn login() -> UiText {
        UiText::info(1010001, "Sign in")
    }
    /// 1010003 re-authentication hint.
    pub fn reauthenticate() -> UiText {
        UiText::info(
            1010003,
            "Please confirm this action by verifying that it is you.",
        )
    }
    /// 1010022 "Sign in with password"
    pub fn login_with_password() -> UiText {
        UiText::info(1010022, "Sign in with password")
    }
    /// 1040001 "Sign up"
    pub fn registration() -> UiText {
        UiText::info(1040001, "Sign up")
    }
    /// 1070001 "Password"
    pub fn password_label() -> UiText {
        UiText::info(1070001, "Password")
    }
    /// 1070004 "ID"
    pub fn identifier_label() -> UiText {
        UiText::info(1070004, "ID")
    }
    /// 4000001 a generic validation error.
    pub fn validation_generic(reason: &str) -> UiText {
        UiText::error(4000001, reason, Some(json!({ "reason": reason })))
    }
    /// 4000002 "Property {name} is missing."
    pub fn required(property: &str) -> UiText {
        UiText::error(
            4000002,
            format!("Property {property} is missing."),
            Some(json!({ "property": property })),
        )
    }
    /// 4000006 invalid credentials.
    pub fn invalid_credentials() -> UiText {
        UiText::error(
            4000006,
            "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
            None,
        )
    }
    /// 4000007 duplicate credentials.
    pub fn duplicate_credentials() -> UiText {
        UiText::error(
            4000007,
            "An account with the same identifier (email, phone, username, ...) exists already.",
            None,
        )
    }
    /// 4000032 password too short.
    pub fn password_too_short(min: usize, actual: usize) -> UiText {
        UiText::error(
            4000032,
            format!("The password must be at least {min} characters long, but got {actual}."),
            Some(json!({ "min_length": min, "actual_length": actual })),
        )
    }
    /// 1070003 "Save"
    pub fn save() -> UiText {
        UiText::info(1070003, "Save")
    }
    /// 1050001 "Your changes have been saved!"
    pub fn settings_saved() -> UiText {
        UiText::success(1050001, "Your changes have been saved!")
    }
    /// 4000039 the new password equals the old one.
    pub fn password_same_as_old() -> UiText {
        UiText::error(
            4000039,
            "The new password must be different from the old password.",
            None,
        )
    }
    /// 4000010 no verified address (the `require_verified_address` hook).
    pub fn address_not_verified() -> UiText {
        UiText::error(
            4000010,
            "Account not active yet. Did you forget to verify your email address?",
            None,
        )
    }
    /// 4010004 no strategy for the submitted method (settings).
    pub fn settings_no_strategy() -> UiText {
        UiText::error(
            4010004,
            "Could not find a strategy to update your settings. Did you fill out the form correctly?",
            None,
        )
    }
    /// 4010002 no strategy for the submitted method (login).
    pub fn login_no_strategy() -> UiText {
        UiText::error(
            4010002,
            "Could not find a strategy to log you in with. Did you fill out the form correctly?",
            None,
        )
    }
    /// 4010003 no strategy for the submitted method (registration).
    pub fn registration_no_strategy() -> UiText {
        UiText::error(
            4010003,
            "Could not find a strategy to sign you up with. Did you fill out the form correctly?",
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSRF: &str = "csrf-token-known-value-0123456789";

    fn csrf_node() -> UiNode {
        UiNode::input("default", "csrf_token", "hidden")
            .required()
            .value(Value::String(CSRF.into()))
    }

    #[test]
    fn input_attributes_debug_hides_the_csrf_token_and_passwords() {
        let NodeAttributes::Input(a) = csrf_node().attributes else {
            unreachable!("an input node")
        };
        let debug = format!("{a:?}");
        assert!(!debug.contains(CSRF), "{debug}");
        assert!(debug.contains("csrf_token"), "{debug}");
        let NodeAttributes::Input(p) = UiNode::input("password", "password", "password")
            .value(Value::String("typed-password-1".into()))
            .attributes
        else {
            unreachable!("an input node")
        };
        assert!(!format!("{p:?}").contains("typed-password-1"));
        let NodeAttributes::Input(e) = UiNode::input("default", "identifier", "text")
            .value(Value::String("ada@example.com".into()))
            .attributes
        else {
            unreachable!("an input node")
        };
        assert!(format!("{e:?}").contains("ada@example.com"));
    }

    #[test]
    fn ui_node_debug_hides_the_csrf_token() {
        let node = csrf_node();
        assert!(!format!("{node:?}").contains(CSRF));
        // The wire shape carries it: the form needs it.
        assert_eq!(
            serde_json::to_value(&node).unwrap()["attributes"]["value"],
            CSRF
        );
    }

    #[test]
    fn ui_container_debug_hides_the_csrf_token() {
        let mut ui = UiContainer {
            action: "https://app.example.com/self-service/login?flow=1".into(),
            method: "POST".into(),
            nodes: vec![UiNode::input("default", "csrf_token", "hidden")],
            messages: Vec::new(),
        };
        ui.set_value("csrf_token", Value::String(CSRF.into()));
        let debug = format!("{ui:?}");
        assert!(!debug.contains(CSRF), "{debug}");
        assert!(debug.contains("self-service/login"), "{debug}");
    }
}
