//! The nodes of a flow's form (Kratos's `ui/node/node.go`): their type, group and
//! constructors.
//!
//! A node serialises as Kratos's `uiNode`: `{type, group, attributes, messages, meta}`, where
//! `attributes` is one of Kratos's `uiNode*Attributes` objects (see [`super::attributes`]) and
//! carries `node_type`, a copy of the node's `type`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::UiText;
use super::attributes::{
    AnchorAttributes, DivisionAttributes, ImageAttributes, InputAttributes, NodeAttributes,
    ScriptAttributes, TextAttributes,
};

/// A node's type (Kratos's `UiNodeType`): the element (or its native equivalent) that renders
/// it. Serialised lowercase (`input`, `text`, `img`, `a`, `script`, `div`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// `input`: a form field or button.
    Input,
    /// `text`: a text to show, such as a secret to write down.
    Text,
    /// `img`: an image, such as a QR code.
    Img,
    /// `a`: a link.
    A,
    /// `script`: a script to load.
    Script,
    /// `div`: a hook in the page for an interactive widget.
    Div,
}

impl NodeType {
    /// The name Kratos gives the type (`input`, `text`, `img`, `a`, `script`, `div`).
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeType::Input => "input",
            NodeType::Text => "text",
            NodeType::Img => "img",
            NodeType::A => "a",
            NodeType::Script => "script",
            NodeType::Div => "div",
        }
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The method a node belongs to (Kratos's `UiNodeGroup`), serialised as its bare name.
///
/// Kratos's groups have their own variants; a method registered by the host application uses
/// [`NodeGroup::Custom`] with its own name. Build groups from names with [`NodeGroup::custom`]
/// (or `str::parse`, or `From`), which map Kratos's names to their variants; deserialising an
/// unknown name gives [`NodeGroup::Custom`]. Groups compare and hash by name, so a
/// `Custom("password")` built by hand still equals [`NodeGroup::Password`].
#[derive(Clone, Debug)]
pub enum NodeGroup {
    /// `default`: the CSRF token, the identifier, traits of one-step forms.
    Default,
    /// `password`
    Password,
    /// `oidc`
    Oidc,
    /// `profile`: the traits of the settings and two-step registration forms.
    Profile,
    /// `link`
    Link,
    /// `code`
    Code,
    /// `totp`
    Totp,
    /// `lookup_secret`
    LookupSecret,
    /// `webauthn`
    Webauthn,
    /// `passkey`
    Passkey,
    /// `identifier_first`
    IdentifierFirst,
    /// `captcha`
    Captcha,
    /// `saml`
    Saml,
    /// `deviceauthn`
    DeviceAuthn,
    /// A group Kratos does not define: a method registered by the host, by its name.
    Custom(Cow<'static, str>),
}

/// Kratos's groups, in the order of its `UiNodeGroup` enum.
const KRATOS_GROUPS: [NodeGroup; 14] = [
    NodeGroup::Default,
    NodeGroup::Password,
    NodeGroup::Oidc,
    NodeGroup::Profile,
    NodeGroup::Link,
    NodeGroup::Code,
    NodeGroup::Totp,
    NodeGroup::LookupSecret,
    NodeGroup::Webauthn,
    NodeGroup::Passkey,
    NodeGroup::IdentifierFirst,
    NodeGroup::Captcha,
    NodeGroup::Saml,
    NodeGroup::DeviceAuthn,
];

impl NodeGroup {
    /// The group's name as serialised (`default`, `password`, `lookup_secret`, …).
    pub fn as_str(&self) -> &str {
        match self {
            NodeGroup::Default => "default",
            NodeGroup::Password => "password",
            NodeGroup::Oidc => "oidc",
            NodeGroup::Profile => "profile",
            NodeGroup::Link => "link",
            NodeGroup::Code => "code",
            NodeGroup::Totp => "totp",
            NodeGroup::LookupSecret => "lookup_secret",
            NodeGroup::Webauthn => "webauthn",
            NodeGroup::Passkey => "passkey",
            NodeGroup::IdentifierFirst => "identifier_first",
            NodeGroup::Captcha => "captcha",
            NodeGroup::Saml => "saml",
            NodeGroup::DeviceAuthn => "deviceauthn",
            NodeGroup::Custom(name) => name,
        }
    }

    /// The group named `name`: Kratos's variant for one of its names, [`NodeGroup::Custom`]
    /// otherwise.
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        KRATOS_GROUPS
            .into_iter()
            .find(|g| g.as_str() == name)
            .unwrap_or(NodeGroup::Custom(name))
    }

    /// Whether this is a group Kratos does not define.
    pub fn is_custom(&self) -> bool {
        matches!(self, NodeGroup::Custom(name) if KRATOS_GROUPS.iter().all(|g| g.as_str() != name))
    }
}

impl PartialEq for NodeGroup {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for NodeGroup {}

impl Hash for NodeGroup {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for NodeGroup {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for NodeGroup {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for NodeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeGroup {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(NodeGroup::custom(s.to_owned()))
    }
}

impl From<&'static str> for NodeGroup {
    fn from(name: &'static str) -> Self {
        NodeGroup::custom(name)
    }
}

impl From<String> for NodeGroup {
    fn from(name: String) -> Self {
        NodeGroup::custom(name)
    }
}

impl Serialize for NodeGroup {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NodeGroup {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(NodeGroup::custom(String::deserialize(deserializer)?))
    }
}

/// The HTML type of an input node (Kratos's `UiNodeInputAttributeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// `text`
    Text,
    /// `password`
    Password,
    /// `number`
    Number,
    /// `checkbox`
    Checkbox,
    /// `hidden`
    Hidden,
    /// `email`
    Email,
    /// `tel`
    Tel,
    /// `submit`
    Submit,
    /// `button`
    Button,
    /// `datetime-local`
    #[serde(rename = "datetime-local")]
    DateTimeLocal,
    /// `date`
    Date,
    /// `url`
    Url,
}

impl InputType {
    /// The HTML name of the type.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputType::Text => "text",
            InputType::Password => "password",
            InputType::Number => "number",
            InputType::Checkbox => "checkbox",
            InputType::Hidden => "hidden",
            InputType::Email => "email",
            InputType::Tel => "tel",
            InputType::Submit => "submit",
            InputType::Button => "button",
            InputType::DateTimeLocal => "datetime-local",
            InputType::Date => "date",
            InputType::Url => "url",
        }
    }
}

impl fmt::Display for InputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of the form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UiNode {
    /// The node's type; the variant of [`UiNode::attributes`] agrees with it.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// The method the node belongs to.
    pub group: NodeGroup,
    /// The attributes, serialised with `node_type`.
    pub attributes: NodeAttributes,
    /// Messages about this node (validation errors land here).
    pub messages: Vec<UiText>,
    /// The label.
    pub meta: NodeMeta,
}

impl<'de> Deserialize<'de> for UiNode {
    /// Reads the attributes as the node's `type` says; an attributes object without
    /// `node_type` takes the node's, one with another `node_type` is refused.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            node_type: NodeType,
            group: NodeGroup,
            attributes: Map<String, Value>,
            #[serde(default)]
            messages: Vec<UiText>,
            #[serde(default)]
            meta: NodeMeta,
        }
        let raw = Raw::deserialize(deserializer)?;
        if let Some(tag) = raw.attributes.get("node_type") {
            let tag = NodeType::deserialize(tag).map_err(de::Error::custom)?;
            if tag != raw.node_type {
                return Err(de::Error::custom(format_args!(
                    "a node of type `{}` has attributes of node_type `{tag}`",
                    raw.node_type
                )));
            }
        }
        let attributes =
            NodeAttributes::from_map(raw.node_type, raw.attributes).map_err(de::Error::custom)?;
        Ok(UiNode {
            node_type: raw.node_type,
            group: raw.group,
            attributes,
            messages: raw.messages,
            meta: raw.meta,
        })
    }
}

impl UiNode {
    fn with_attributes(group: NodeGroup, attributes: NodeAttributes) -> Self {
        UiNode {
            node_type: attributes.node_type(),
            group,
            attributes,
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// An input node (Kratos's `NewInputField`): not required, no value.
    pub fn input(group: NodeGroup, name: &str, input_type: InputType) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::Input(InputAttributes {
                name: name.into(),
                input_type,
                value: None,
                required: false,
                autocomplete: None,
                pattern: None,
                disabled: false,
                maxlength: None,
                onclick: None,
                onclick_trigger: None,
                onload: None,
                onload_trigger: None,
            }),
        )
    }

    /// A text node (Kratos's `NewTextField`).
    pub fn text(group: NodeGroup, id: &str, text: UiText) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::Text(TextAttributes {
                text,
                id: id.into(),
            }),
        )
    }

    /// An image node (Kratos's `NewImageField`), such as a QR code as a `data:` URL.
    pub fn img(group: NodeGroup, id: &str, src: &str, width: u32, height: u32) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::Img(ImageAttributes {
                src: src.into(),
                id: id.into(),
                width,
                height,
            }),
        )
    }

    /// A link node (Kratos's `NewAnchorField`).
    pub fn anchor(group: NodeGroup, id: &str, href: &str, title: UiText) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::A(AnchorAttributes {
                href: href.into(),
                title,
                id: id.into(),
            }),
        )
    }

    /// A script node with Kratos's defaults (`NewScriptField`): `text/javascript`, loaded
    /// async, `no-referrer`, `anonymous` cross-origin, and a fresh random nonce.
    pub fn script(group: NodeGroup, id: &str, src: &str, integrity: &str) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::Script(ScriptAttributes {
                src: src.into(),
                is_async: true,
                referrer_policy: "no-referrer".into(),
                cross_origin: "anonymous".into(),
                integrity: integrity.into(),
                script_type: "text/javascript".into(),
                id: id.into(),
                nonce: uuid::Uuid::new_v4().to_string(),
            }),
        )
    }

    /// Sets the function of Kratos's `webauthn.js` a click runs (`onclickTrigger`), and
    /// with `browser` the `onclick` JavaScript calling it (`window.<trigger>()`).
    pub fn on_click(mut self, trigger: &str, browser: bool) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.onclick_trigger = Some(trigger.into());
            a.onclick = browser.then(|| format!("window.{trigger}()"));
        }
        self
    }

    /// Sets the function of `webauthn.js` run when the node loads (`onloadTrigger`), and
    /// with `browser` the `onload` JavaScript calling it.
    pub fn on_load(mut self, trigger: &str, browser: bool) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.onload_trigger = Some(trigger.into());
            a.onload = browser.then(|| format!("window.{trigger}()"));
        }
        self
    }

    /// A division node (Kratos's `NewDivisionField`), without class or data; see
    /// [`UiNode::with_class`] and [`UiNode::with_data`].
    pub fn div(group: NodeGroup, id: &str) -> Self {
        Self::with_attributes(
            group,
            NodeAttributes::Div(DivisionAttributes {
                class: None,
                id: id.into(),
                data: None,
            }),
        )
    }

    /// Marks an input node required (no effect on other nodes).
    pub fn required(mut self) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.required = true;
        }
        self
    }

    /// Sets an input node's `autocomplete` (no effect on other nodes).
    pub fn autocomplete(mut self, v: &str) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.autocomplete = Some(v.into());
        }
        self
    }

    /// Sets an input node's `pattern`, a regular expression its value must match (no effect
    /// on other nodes).
    pub fn pattern(mut self, v: &str) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.pattern = Some(v.into());
        }
        self
    }

    /// Sets an input node's `maxlength` (no effect on other nodes).
    pub fn max_length(mut self, v: u32) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.maxlength = Some(v);
        }
        self
    }

    /// Sets an input node's value (no effect on other nodes).
    pub fn value(mut self, v: Value) -> Self {
        if let NodeAttributes::Input(a) = &mut self.attributes {
            a.value = Some(v);
        }
        self
    }

    /// Sets a division node's `class` (no effect on other nodes).
    pub fn with_class(mut self, class: &str) -> Self {
        if let NodeAttributes::Div(a) = &mut self.attributes {
            a.class = Some(class.into());
        }
        self
    }

    /// Adds an entry to a division node's `data` (no effect on other nodes).
    pub fn with_data(mut self, key: &str, value: &str) -> Self {
        if let NodeAttributes::Div(a) = &mut self.attributes {
            a.data
                .get_or_insert_with(BTreeMap::new)
                .insert(key.into(), value.into());
        }
        self
    }

    /// Sets the label.
    pub fn label(mut self, text: UiText) -> Self {
        self.meta.label = Some(text);
        self
    }

    /// The input's name; `None` for other nodes.
    pub fn name(&self) -> Option<&str> {
        match &self.attributes {
            NodeAttributes::Input(a) => Some(&a.name),
            _ => None,
        }
    }

    /// The node's id as Kratos reads it: an input's name, the `id` of other nodes.
    pub fn id(&self) -> &str {
        self.attributes.id()
    }
}

/// A node's meta data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// The label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<UiText>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::ui::{TOTP_SECRET_KEY_NODE_ID, text};

    const CSRF: &str = "csrf-token-known-value-0123456789";

    fn csrf_node() -> UiNode {
        UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
            .required()
            .value(Value::String(CSRF.into()))
    }

    /// The node serialises as `expected` and reads back as itself.
    fn round_trip(node: &UiNode, expected: Value) {
        let wire = serde_json::to_value(node).unwrap();
        assert_eq!(wire, expected);
        let back: UiNode = serde_json::from_value(wire).unwrap();
        assert_eq!(&back, node);
        let text = serde_json::to_string(node).unwrap();
        assert_eq!(&serde_json::from_str::<UiNode>(&text).unwrap(), node);
    }

    /// The keys of Kratos's OpenAPI schema `uiNode<kind>Attributes`, required ones first.
    fn spec_keys(node: &UiNode) -> Vec<String> {
        let mut keys: Vec<String> = serde_json::to_value(node).unwrap()["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
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
    fn input_nodes_serialise_as_kratos() {
        let node = UiNode::input(NodeGroup::Password, "password", InputType::Password)
            .required()
            .autocomplete("current-password")
            .label(text::password_label());
        round_trip(
            &node,
            json!({
                "type": "input",
                "group": "password",
                "attributes": {
                    "name": "password",
                    "type": "password",
                    "required": true,
                    "autocomplete": "current-password",
                    "disabled": false,
                    "node_type": "input",
                },
                "messages": [],
                "meta": {"label": {"id": 1070001, "text": "Password", "type": "info"}},
            }),
        );
        // Attributes written before node types were typed (no `node_type`) still read.
        let old: UiNode = serde_json::from_value(json!({
            "type": "input", "group": "default",
            "attributes": {"name": "identifier", "type": "text", "disabled": false},
            "messages": [], "meta": {},
        }))
        .unwrap();
        assert_eq!(
            old,
            UiNode::input(NodeGroup::Default, "identifier", InputType::Text)
        );
        // Every input type reads back.
        for t in [
            "text",
            "password",
            "number",
            "checkbox",
            "hidden",
            "email",
            "tel",
            "submit",
            "button",
            "datetime-local",
            "date",
            "url",
        ] {
            let parsed: InputType = serde_json::from_value(json!(t)).unwrap();
            assert_eq!(parsed.as_str(), t);
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(t));
        }
    }

    #[test]
    fn text_nodes_serialise_as_kratos() {
        let node = UiNode::text(
            NodeGroup::Totp,
            TOTP_SECRET_KEY_NODE_ID,
            text::mfa::totp_secret("JBSWY3DPEHPK3PXP"),
        )
        .label(text::mfa::totp_secret_label());
        round_trip(
            &node,
            json!({
                "type": "text",
                "group": "totp",
                "attributes": {
                    "text": {"id": 1050006, "text": "JBSWY3DPEHPK3PXP", "type": "info",
                             "context": {"secret": "JBSWY3DPEHPK3PXP"}},
                    "id": "totp_secret_key",
                    "node_type": "text",
                },
                "messages": [],
                "meta": {"label": {"id": 1050017, "type": "info",
                    "text": "This is your authenticator app secret. Use it if you can not scan the QR code."}},
            }),
        );
        // uiNodeTextAttributes: required text, id, node_type.
        assert_eq!(spec_keys(&node), ["id", "node_type", "text"]);
    }

    #[test]
    fn img_nodes_serialise_as_kratos() {
        let node = UiNode::img(
            NodeGroup::Totp,
            "totp_qr",
            "data:image/png;base64,iVBORw0KGgo=",
            256,
            256,
        )
        .label(text::mfa::totp_qr_code());
        round_trip(
            &node,
            json!({
                "type": "img",
                "group": "totp",
                "attributes": {
                    "src": "data:image/png;base64,iVBORw0KGgo=",
                    "id": "totp_qr",
                    "width": 256,
                    "height": 256,
                    "node_type": "img",
                },
                "messages": [],
                "meta": {"label": {"id": 1050005, "text": "Authenticator app QR code", "type": "info"}},
            }),
        );
        // uiNodeImageAttributes: required src, id, width, height, node_type.
        assert_eq!(
            spec_keys(&node),
            ["height", "id", "node_type", "src", "width"]
        );
    }

    #[test]
    fn anchor_nodes_serialise_as_kratos() {
        let title = UiText::info(1070009, "Continue");
        let node = UiNode::anchor(
            NodeGroup::Code,
            "continue",
            "https://app.example.com/settings",
            title.clone(),
        )
        .label(title);
        round_trip(
            &node,
            json!({
                "type": "a",
                "group": "code",
                "attributes": {
                    "href": "https://app.example.com/settings",
                    "title": {"id": 1070009, "text": "Continue", "type": "info"},
                    "id": "continue",
                    "node_type": "a",
                },
                "messages": [],
                "meta": {"label": {"id": 1070009, "text": "Continue", "type": "info"}},
            }),
        );
        // uiNodeAnchorAttributes: required href, title, id, node_type.
        assert_eq!(spec_keys(&node), ["href", "id", "node_type", "title"]);
    }

    #[test]
    fn script_nodes_serialise_as_kratos() {
        let node = UiNode::script(
            NodeGroup::Webauthn,
            "webauthn_script",
            "https://auth.example.com/.well-known/ory/webauthn.js",
            "sha512-abc",
        );
        let NodeAttributes::Script(a) = &node.attributes else {
            unreachable!("a script node")
        };
        let nonce = a.nonce.clone();
        assert_eq!(uuid::Uuid::parse_str(&nonce).unwrap().get_version_num(), 4);
        round_trip(
            &node,
            json!({
                "type": "script",
                "group": "webauthn",
                "attributes": {
                    "src": "https://auth.example.com/.well-known/ory/webauthn.js",
                    "async": true,
                    "referrerpolicy": "no-referrer",
                    "crossorigin": "anonymous",
                    "integrity": "sha512-abc",
                    "type": "text/javascript",
                    "id": "webauthn_script",
                    "nonce": nonce,
                    "node_type": "script",
                },
                "messages": [],
                "meta": {},
            }),
        );
        // uiNodeScriptAttributes: every field is required.
        assert_eq!(
            spec_keys(&node),
            [
                "async",
                "crossorigin",
                "id",
                "integrity",
                "node_type",
                "nonce",
                "referrerpolicy",
                "src",
                "type"
            ]
        );
    }

    #[test]
    fn div_nodes_serialise_as_kratos() {
        let bare = UiNode::div(NodeGroup::Captcha, "captcha");
        round_trip(
            &bare,
            json!({
                "type": "div",
                "group": "captcha",
                "attributes": {"id": "captcha", "node_type": "div"},
                "messages": [],
                "meta": {},
            }),
        );
        let full = UiNode::div(NodeGroup::Captcha, "captcha")
            .with_class("cf-turnstile")
            .with_data("sitekey", "0x4AAA")
            .with_data("theme", "light");
        round_trip(
            &full,
            json!({
                "type": "div",
                "group": "captcha",
                "attributes": {
                    "class": "cf-turnstile",
                    "id": "captcha",
                    "data": {"sitekey": "0x4AAA", "theme": "light"},
                    "node_type": "div",
                },
                "messages": [],
                "meta": {},
            }),
        );
        // uiNodeDivisionAttributes: required id, node_type; class and data optional.
        assert_eq!(spec_keys(&bare), ["id", "node_type"]);
        assert_eq!(spec_keys(&full), ["class", "data", "id", "node_type"]);
    }

    #[test]
    fn groups_have_kratos_names_and_host_ones() {
        let names = [
            (NodeGroup::Default, "default"),
            (NodeGroup::Password, "password"),
            (NodeGroup::Oidc, "oidc"),
            (NodeGroup::Profile, "profile"),
            (NodeGroup::Link, "link"),
            (NodeGroup::Code, "code"),
            (NodeGroup::Totp, "totp"),
            (NodeGroup::LookupSecret, "lookup_secret"),
            (NodeGroup::Webauthn, "webauthn"),
            (NodeGroup::Passkey, "passkey"),
            (NodeGroup::IdentifierFirst, "identifier_first"),
            (NodeGroup::Captcha, "captcha"),
            (NodeGroup::Saml, "saml"),
            (NodeGroup::DeviceAuthn, "deviceauthn"),
        ];
        for (group, name) in names {
            assert_eq!(group.as_str(), name);
            assert_eq!(group.to_string(), name);
            assert_eq!(serde_json::to_value(&group).unwrap(), json!(name));
            let read: NodeGroup = serde_json::from_value(json!(name)).unwrap();
            assert!(matches!(
                (&read, &group),
                (a, b) if std::mem::discriminant(a) == std::mem::discriminant(b)
            ));
            assert_eq!(NodeGroup::custom(name), group);
            assert!(!group.is_custom());
        }
        let host: NodeGroup = serde_json::from_value(json!("magic_link_sms")).unwrap();
        assert_eq!(host, NodeGroup::Custom(Cow::Borrowed("magic_link_sms")));
        assert!(host.is_custom());
        assert_eq!(host, "magic_link_sms");
        assert_eq!(
            serde_json::to_value(&host).unwrap(),
            json!("magic_link_sms")
        );
        assert_eq!("magic_link_sms".parse::<NodeGroup>().unwrap(), host);
        assert_eq!(NodeGroup::from("totp"), NodeGroup::Totp);
        // Groups compare by name, so a hand-built Custom of a Kratos name is that group.
        assert_eq!(NodeGroup::Custom("password".into()), NodeGroup::Password);
        let set: std::collections::HashSet<NodeGroup> =
            [NodeGroup::Password, NodeGroup::Custom("password".into())].into();
        assert_eq!(set.len(), 1);
    }
}
