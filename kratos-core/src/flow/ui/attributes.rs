//! A node's attributes (Kratos's `uiNodeAttributes`, `ui/node/attributes.go`): one typed
//! object per node type, each serialised with `node_type`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::UiText;
use super::node::{InputType, NodeType};
use crate::config::REDACTED;

/// The id of the text node that shows a new TOTP secret (Kratos's `node.TOTPSecretKey`).
pub const TOTP_SECRET_KEY_NODE_ID: &str = "totp_secret_key";

/// The id of the text node that lists the lookup secrets (Kratos's `node.LookupCodes`).
pub const LOOKUP_SECRET_CODES_NODE_ID: &str = "lookup_secret_codes";

/// A node's attributes (Kratos's `uiNodeAttributes`), one variant per [`NodeType`].
///
/// Serialised as the variant's attributes object plus `node_type`; deserialised by that
/// `node_type` (a [`UiNode`](super::UiNode) decides by its own `type`).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeAttributes {
    /// `node_type: input` (`uiNodeInputAttributes`).
    Input(InputAttributes),
    /// `node_type: text` (`uiNodeTextAttributes`).
    Text(TextAttributes),
    /// `node_type: img` (`uiNodeImageAttributes`).
    Img(ImageAttributes),
    /// `node_type: a` (`uiNodeAnchorAttributes`).
    A(AnchorAttributes),
    /// `node_type: script` (`uiNodeScriptAttributes`).
    Script(ScriptAttributes),
    /// `node_type: div` (`uiNodeDivisionAttributes`).
    Div(DivisionAttributes),
}

impl NodeAttributes {
    /// The node type these attributes belong to.
    pub fn node_type(&self) -> NodeType {
        match self {
            NodeAttributes::Input(_) => NodeType::Input,
            NodeAttributes::Text(_) => NodeType::Text,
            NodeAttributes::Img(_) => NodeType::Img,
            NodeAttributes::A(_) => NodeType::A,
            NodeAttributes::Script(_) => NodeType::Script,
            NodeAttributes::Div(_) => NodeType::Div,
        }
    }

    /// The node's id: an input's name, the `id` of other nodes.
    pub fn id(&self) -> &str {
        match self {
            NodeAttributes::Input(a) => &a.name,
            NodeAttributes::Text(a) => &a.id,
            NodeAttributes::Img(a) => &a.id,
            NodeAttributes::A(a) => &a.id,
            NodeAttributes::Script(a) => &a.id,
            NodeAttributes::Div(a) => &a.id,
        }
    }

    /// The input attributes, if these are an input's.
    pub fn as_input(&self) -> Option<&InputAttributes> {
        match self {
            NodeAttributes::Input(a) => Some(a),
            _ => None,
        }
    }

    /// Reads the attributes of a node of type `node_type` from their JSON object (a
    /// `node_type` member in it is ignored).
    pub(super) fn from_map(
        node_type: NodeType,
        map: Map<String, Value>,
    ) -> serde_json::Result<Self> {
        let v = Value::Object(map);
        Ok(match node_type {
            NodeType::Input => NodeAttributes::Input(serde_json::from_value(v)?),
            NodeType::Text => NodeAttributes::Text(serde_json::from_value(v)?),
            NodeType::Img => NodeAttributes::Img(serde_json::from_value(v)?),
            NodeType::A => NodeAttributes::A(serde_json::from_value(v)?),
            NodeType::Script => NodeAttributes::Script(serde_json::from_value(v)?),
            NodeType::Div => NodeAttributes::Div(serde_json::from_value(v)?),
        })
    }
}

impl Serialize for NodeAttributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The attributes with `node_type` last, where Kratos writes it.
        #[derive(Serialize)]
        struct Tagged<'a, T: Serialize> {
            #[serde(flatten)]
            attributes: &'a T,
            node_type: NodeType,
        }
        let node_type = self.node_type();
        match self {
            NodeAttributes::Input(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
            NodeAttributes::Text(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
            NodeAttributes::Img(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
            NodeAttributes::A(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
            NodeAttributes::Script(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
            NodeAttributes::Div(attributes) => Tagged {
                attributes,
                node_type,
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for NodeAttributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        let tag = map
            .get("node_type")
            .ok_or_else(|| de::Error::missing_field("node_type"))?;
        let node_type = NodeType::deserialize(tag).map_err(de::Error::custom)?;
        NodeAttributes::from_map(node_type, map).map_err(de::Error::custom)
    }
}

/// Attributes of an input node (`uiNodeInputAttributes`).
///
/// `Debug` shows `<redacted>` for the value of the `csrf_token` node and of `password`
/// inputs (so neither shows in the `Debug` of a node, a container or a flow); serialisation
/// writes the value, as the client needs it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAttributes {
    /// The field name.
    pub name: String,
    /// The HTML input type.
    #[serde(rename = "type")]
    pub input_type: InputType,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Whether it is required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// The autocomplete hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    /// A regular expression the value must match (such as `[0-9]+` for a code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Whether it is disabled.
    #[serde(default)]
    pub disabled: bool,
    /// The value's maximum length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxlength: Option<u32>,
    /// JavaScript run on click (`window.oryPasskeyLogin()`), browser flows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onclick: Option<String>,
    /// The function of Kratos's `webauthn.js` a click runs, for apps that call it
    /// themselves (`oryPasskeyLogin`).
    #[serde(
        default,
        rename = "onclickTrigger",
        skip_serializing_if = "Option::is_none"
    )]
    pub onclick_trigger: Option<String>,
    /// JavaScript run when the node loads, browser flows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onload: Option<String>,
    /// The function of `webauthn.js` to run when the node loads.
    #[serde(
        default,
        rename = "onloadTrigger",
        skip_serializing_if = "Option::is_none"
    )]
    pub onload_trigger: Option<String>,
}

impl fmt::Debug for InputAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self.name == "csrf_token" || self.input_type == InputType::Password;
        let mut d = f.debug_struct("InputAttributes");
        d.field("name", &self.name)
            .field("input_type", &self.input_type);
        match &self.value {
            Some(_) if secret => d.field("value", &Some(REDACTED)),
            value => d.field("value", value),
        };
        d.field("required", &self.required)
            .field("autocomplete", &self.autocomplete)
            .field("pattern", &self.pattern)
            .field("disabled", &self.disabled)
            .field("maxlength", &self.maxlength)
            .field("onclick_trigger", &self.onclick_trigger)
            .field("onload_trigger", &self.onload_trigger)
            .finish()
    }
}

/// Attributes of a text node (`uiNodeTextAttributes`).
///
/// `Debug` shows `<redacted>` for the text of the nodes that hold a secret: the TOTP secret
/// ([`TOTP_SECRET_KEY_NODE_ID`]) and the lookup secrets ([`LOOKUP_SECRET_CODES_NODE_ID`]).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TextAttributes {
    /// The text.
    pub text: UiText,
    /// The node's id.
    pub id: String,
}

impl TextAttributes {
    /// Whether the text is a secret (by the node's id).
    pub fn holds_secret(&self) -> bool {
        self.id == TOTP_SECRET_KEY_NODE_ID || self.id == LOOKUP_SECRET_CODES_NODE_ID
    }
}

impl fmt::Debug for TextAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TextAttributes");
        if self.holds_secret() {
            d.field("text", &REDACTED);
        } else {
            d.field("text", &self.text);
        }
        d.field("id", &self.id).finish()
    }
}

/// Attributes of an image node (`uiNodeImageAttributes`). `Debug` shows a `data:` URL's
/// length only: the `totp_qr` image encodes a TOTP secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAttributes {
    /// The image's URL (a `data:` URL for QR codes).
    pub src: String,
    /// The node's id.
    pub id: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for ImageAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let src = if self.src.starts_with("data:") {
            format!("<data URL, {} bytes>", self.src.len())
        } else {
            self.src.clone()
        };
        f.debug_struct("ImageAttributes")
            .field("src", &src)
            .field("id", &self.id)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Attributes of a link node (`uiNodeAnchorAttributes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnchorAttributes {
    /// Where the link leads.
    pub href: String,
    /// The link's text.
    pub title: UiText,
    /// The node's id.
    pub id: String,
}

/// Attributes of a script node (`uiNodeScriptAttributes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptAttributes {
    /// The script's URL.
    pub src: String,
    /// `async`.
    #[serde(rename = "async")]
    pub is_async: bool,
    /// `referrerpolicy`.
    #[serde(rename = "referrerpolicy")]
    pub referrer_policy: String,
    /// `crossorigin`.
    #[serde(rename = "crossorigin")]
    pub cross_origin: String,
    /// The subresource integrity hash.
    pub integrity: String,
    /// The MIME type (`type`).
    #[serde(rename = "type")]
    pub script_type: String,
    /// The node's id.
    pub id: String,
    /// A nonce for the page's Content Security Policy.
    pub nonce: String,
}

/// Attributes of a division node (`uiNodeDivisionAttributes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivisionAttributes {
    /// A class name to render (`class`).
    #[serde(rename = "class", default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The node's id.
    pub id: String,
    /// Values for `data-…` attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::ui::{NodeGroup, UiNode, text};

    const CSRF: &str = "csrf-token-known-value-0123456789";

    fn csrf_node() -> UiNode {
        UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
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
        let NodeAttributes::Input(p) =
            UiNode::input(NodeGroup::Password, "password", InputType::Password)
                .value(Value::String("typed-password-1".into()))
                .attributes
        else {
            unreachable!("an input node")
        };
        assert!(!format!("{p:?}").contains("typed-password-1"));
        let NodeAttributes::Input(e) =
            UiNode::input(NodeGroup::Default, "identifier", InputType::Text)
                .value(Value::String("ada@example.com".into()))
                .attributes
        else {
            unreachable!("an input node")
        };
        assert!(format!("{e:?}").contains("ada@example.com"));
    }

    #[test]
    fn secret_text_nodes_hide_their_text_in_debug() {
        let totp = UiNode::text(
            NodeGroup::Totp,
            TOTP_SECRET_KEY_NODE_ID,
            text::mfa::totp_secret("JBSWY3DPEHPK3PXP"),
        );
        let lookup = UiNode::text(
            NodeGroup::LookupSecret,
            LOOKUP_SECRET_CODES_NODE_ID,
            text::mfa::lookup_secret_list([("abcd1234", None), ("efgh5678", None)]),
        );
        // Any text under those ids is hidden, whatever its message.
        let plain_secret = UiNode::text(
            NodeGroup::Totp,
            TOTP_SECRET_KEY_NODE_ID,
            UiText::info(1050006, "KRSXG5CTMVRXEZLU"),
        );
        for (node, secret) in [
            (&totp, "JBSWY3DPEHPK3PXP"),
            (&lookup, "abcd1234"),
            (&lookup, "efgh5678"),
            (&plain_secret, "KRSXG5CTMVRXEZLU"),
        ] {
            let debug = format!("{node:?}");
            assert!(!debug.contains(secret), "{debug}");
            assert!(debug.contains(REDACTED), "{debug}");
            // The wire shape carries it: the user has to see it.
            assert!(serde_json::to_string(node).unwrap().contains(secret));
        }
        let other = UiNode::text(NodeGroup::Default, "note", UiText::info(1, "visible text"));
        assert!(format!("{other:?}").contains("visible text"));
    }

    #[test]
    fn attributes_read_by_their_node_type() {
        let anchor = UiNode::anchor(
            NodeGroup::Link,
            "continue",
            "https://a.example",
            UiText::info(1070009, "Continue"),
        );
        let wire = serde_json::to_value(&anchor.attributes).unwrap();
        let back: NodeAttributes = serde_json::from_value(wire).unwrap();
        assert_eq!(back, anchor.attributes);
        // Without node_type alone, attributes cannot be read.
        assert!(serde_json::from_value::<NodeAttributes>(json!({"id": "x"})).is_err());
        // A node whose attributes name another type is refused.
        let mismatched = json!({
            "type": "text", "group": "default",
            "attributes": {"name": "x", "type": "text", "node_type": "input"},
            "messages": [], "meta": {},
        });
        assert!(serde_json::from_value::<UiNode>(mismatched).is_err());
        // Unknown node types are refused.
        assert!(
            serde_json::from_value::<UiNode>(json!({
                "type": "video", "group": "default", "attributes": {"id": "x"},
            }))
            .is_err()
        );
        assert_eq!(anchor.id(), "continue");
        assert_eq!(anchor.name(), None);
        assert_eq!(anchor.node_type, NodeType::A);
        assert_eq!(NodeType::A.to_string(), "a");
    }
}

#[cfg(test)]
mod image_debug_tests {
    use super::ImageAttributes;

    #[test]
    fn a_data_url_does_not_show_in_debug() {
        let img = ImageAttributes {
            src: "data:image/png;base64,SECRETSECRET".into(),
            id: "totp_qr".into(),
            width: 256,
            height: 256,
        };
        let shown = format!("{img:?}");
        assert!(!shown.contains("SECRETSECRET"), "{shown}");
        assert!(shown.contains("totp_qr"));
    }
}
