//! The UI of a flow described as data (Kratos's `ui` container), so any frontend can render it.
//!
//! A [`UiContainer`] holds typed [`UiNode`]s (see [`node`] and [`attributes`]) and
//! [`UiText`] messages; [`text`] builds Kratos's messages with their ids, texts and contexts.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod attributes;
pub mod node;
pub mod text;

pub use attributes::{
    AnchorAttributes, DivisionAttributes, ImageAttributes, InputAttributes,
    LOOKUP_SECRET_CODES_NODE_ID, NodeAttributes, ScriptAttributes, TOTP_SECRET_KEY_NODE_ID,
    TextAttributes,
};
pub use node::{InputType, NodeGroup, NodeMeta, NodeType, UiNode};

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

/// A message, with Kratos's numeric id so frontends can translate it.
///
/// `Debug` shows `<redacted>` for the text and context of the messages that carry a secret
/// (a TOTP secret, 1050006; a lookup secret, 1050009; the list of lookup secrets, 1050015).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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

    /// The message with `context` (Kratos's values the text was built from).
    pub fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    /// Whether the message carries a secret (1050006, 1050009, 1050015).
    pub fn holds_secret(&self) -> bool {
        text::SECRET_MESSAGE_IDS.contains(&self.id)
    }
}

impl fmt::Debug for UiText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UiText");
        d.field("id", &self.id);
        if self.holds_secret() {
            d.field("text", &crate::config::REDACTED)
                .field("kind", &self.kind)
                .field(
                    "context",
                    &self.context.as_ref().map(|_| crate::config::REDACTED),
                );
        } else {
            d.field("text", &self.text)
                .field("kind", &self.kind)
                .field("context", &self.context);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CSRF: &str = "csrf-token-known-value-0123456789";

    #[test]
    fn ui_container_debug_hides_the_csrf_token() {
        let mut ui = UiContainer {
            action: "https://app.example.com/self-service/login?flow=1".into(),
            method: "POST".into(),
            nodes: vec![UiNode::input(
                NodeGroup::Default,
                "csrf_token",
                InputType::Hidden,
            )],
            messages: Vec::new(),
        };
        ui.set_value("csrf_token", Value::String(CSRF.into()));
        let debug = format!("{ui:?}");
        assert!(!debug.contains(CSRF), "{debug}");
        assert!(debug.contains("self-service/login"), "{debug}");
    }

    #[test]
    fn a_stored_container_with_every_node_type_round_trips() {
        let ui = UiContainer {
            action: "https://auth.example.com/self-service/settings?flow=1".into(),
            method: "POST".into(),
            nodes: vec![
                UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
                    .required()
                    .value(json!(CSRF)),
                UiNode::text(
                    NodeGroup::LookupSecret,
                    LOOKUP_SECRET_CODES_NODE_ID,
                    text::mfa::lookup_secret_list([("abcd1234", None)]),
                ),
                UiNode::img(
                    NodeGroup::Totp,
                    "totp_qr",
                    "data:image/png;base64,AA==",
                    256,
                    256,
                ),
                UiNode::anchor(
                    NodeGroup::Code,
                    "continue",
                    "https://app.example.com/",
                    UiText::info(1070009, "Continue"),
                ),
                UiNode::script(NodeGroup::Webauthn, "webauthn_script", "/webauthn.js", ""),
                UiNode::div(NodeGroup::custom("widget"), "widget").with_class("w"),
            ],
            messages: vec![text::settings_saved()],
        };
        let stored = serde_json::to_string(&ui).unwrap();
        let back: UiContainer = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, ui);
        assert_eq!(serde_json::to_string(&back).unwrap(), stored);
        // The `continue` link as flows stored it before attributes were typed.
        let old: UiNode = serde_json::from_value(json!({
            "type": "a",
            "group": "code",
            "attributes": {
                "href": "https://app.example.com/",
                "title": {"id": 1070009, "text": "Continue", "type": "info"},
                "id": "continue",
                "node_type": "a",
            },
            "messages": [],
            "meta": {"label": {"id": 1070009, "text": "Continue", "type": "info"}},
        }))
        .unwrap();
        assert_eq!(
            old,
            UiNode::anchor(
                NodeGroup::Code,
                "continue",
                "https://app.example.com/",
                UiText::info(1070009, "Continue"),
            )
            .label(UiText::info(1070009, "Continue"))
        );
    }

    #[test]
    fn with_context_sets_the_context() {
        let t = UiText::info(1070002, "E-Mail").with_context(json!({"title": "E-Mail"}));
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"id": 1070002, "text": "E-Mail", "type": "info", "context": {"title": "E-Mail"}})
        );
        assert!(!t.holds_secret());
    }
}
