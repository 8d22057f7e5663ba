//! Identity schemas: JSON Schemas for traits, with Kratos's `ory.sh/kratos` extension.
//!
//! A schema is checked against Kratos's identity meta-schema when it is loaded. The extension
//! marks which traits are credential identifiers (`credentials.password.identifier`, …), which
//! are verifiable addresses (`verification.via`) and which are recovery addresses
//! (`recovery.via`); [`IdentitySchema::derive`] reads them out of a set of traits.
//!
//! A Rust type that derives [`schemars::JsonSchema`] can serve as a schema too:
//!
//! ```
//! use kratos_core::identity::IdentitySchema;
//!
//! #[derive(schemars::JsonSchema)]
//! struct Traits {
//!     #[schemars(email, extend("ory.sh/kratos" = {
//!         "credentials": {"password": {"identifier": true}},
//!         "verification": {"via": "email"}
//!     }))]
//!     email: String,
//!     name: Option<String>,
//! }
//!
//! let schema = IdentitySchema::for_traits::<Traits>("customer").unwrap();
//! let derived = schema.derive(&serde_json::json!({"email": "Ada@Example.com"})).unwrap();
//! assert_eq!(derived.password_identifiers, vec!["ada@example.com".to_string()]);
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock};

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::AddressVia;
use super::normalize::{IdentifierKind, NormalizeError, normalize_identifier};
use crate::config::IdentityConfig;

static META_SCHEMA: &str = include_str!("../../schemas/identity_meta.schema.json");
static EXTENSION_SCHEMA: &str = include_str!("../../schemas/identity_extension.schema.json");

/// The compiled meta-validator, built once.
static META_VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let meta: Value = serde_json::from_str(META_SCHEMA).map_err(|e| e.to_string())?;
    let ext: Value = serde_json::from_str(EXTENSION_SCHEMA).map_err(|e| e.to_string())?;
    let registry = jsonschema::Registry::new()
        .add("ory://identity-extension", ext)
        .and_then(|b| b.prepare())
        .map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_registry(&registry)
        .offline()
        .build(&meta)
        .map_err(|e| e.to_string())
});

/// Why a schema could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema source could not be read.
    #[error("identity schema `{id}` could not be read from {url}: {reason}")]
    Unreadable {
        /// The schema id.
        id: String,
        /// Where it was read from.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The schema is not valid JSON or not a valid JSON Schema.
    #[error("identity schema `{id}` is invalid: {reason}")]
    Invalid {
        /// The schema id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The schema breaks Kratos's identity meta-schema.
    #[error("identity schema `{id}` does not satisfy the identity meta-schema: {}", .violations.join("; "))]
    MetaSchema {
        /// The schema id.
        id: String,
        /// Each violation, with its location in the schema.
        violations: Vec<String>,
    },
    /// Two schemas share an id.
    #[error("identity schema id `{0}` is defined twice")]
    Duplicate(String),
    /// The default schema id names no schema.
    #[error("the default identity schema `{0}` is not defined")]
    MissingDefault(String),
}

/// One trait that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TraitError {
    /// JSON pointer to the offending value, such as `#/traits/email`.
    pub instance_ptr: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for TraitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.instance_ptr, self.message)
    }
}

/// What an identity schema's extension says about a set of traits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DerivedTraits {
    /// Normalised password identifiers.
    pub password_identifiers: Vec<String>,
    /// Normalised WebAuthn identifiers.
    pub webauthn_identifiers: Vec<String>,
    /// Normalised one-time-code identifiers with their channel.
    pub code_identifiers: Vec<(AddressVia, String)>,
    /// Verifiable addresses.
    pub verifiable_addresses: Vec<(AddressVia, String)>,
    /// Recovery addresses.
    pub recovery_addresses: Vec<(AddressVia, String)>,
    /// Value of the trait marked `credentials.totp.account_name`.
    pub totp_account_name: Option<String>,
    /// Value of the trait marked `credentials.passkey.display_name`.
    pub passkey_display_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct KratosExtension {
    #[serde(default)]
    credentials: CredentialsExtension,
    #[serde(default)]
    verification: Option<ViaExtension>,
    #[serde(default)]
    recovery: Option<ViaExtension>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct CredentialsExtension {
    #[serde(default)]
    password: Option<IdentifierFlag>,
    #[serde(default)]
    webauthn: Option<IdentifierFlag>,
    #[serde(default)]
    code: Option<CodeExtension>,
    #[serde(default)]
    totp: Option<AccountNameFlag>,
    #[serde(default)]
    passkey: Option<DisplayNameFlag>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct IdentifierFlag {
    #[serde(default)]
    identifier: bool,
}
#[derive(Clone, Debug, Default, Deserialize)]
struct AccountNameFlag {
    #[serde(default)]
    account_name: bool,
}
#[derive(Clone, Debug, Default, Deserialize)]
struct DisplayNameFlag {
    #[serde(default)]
    display_name: bool,
}
#[derive(Clone, Debug, Default, Deserialize)]
struct CodeExtension {
    #[serde(default)]
    identifier: bool,
    #[serde(default)]
    via: Option<String>,
}
#[derive(Clone, Debug, Default, Deserialize)]
struct ViaExtension {
    via: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Items,
}

#[derive(Clone, Debug)]
struct ExtensionField {
    path: Vec<Segment>,
    format: Option<String>,
    title: Option<String>,
    ext: KratosExtension,
}

impl ExtensionField {
    /// Whether Kratos names the login identifier after this trait: it is a password, WebAuthn
    /// or code identifier, a TOTP account name or a passkey display name.
    fn identifies_account(&self) -> bool {
        let c = &self.ext.credentials;
        c.password.as_ref().is_some_and(|f| f.identifier)
            || c.webauthn.as_ref().is_some_and(|f| f.identifier)
            || c.passkey.as_ref().is_some_and(|f| f.display_name)
            || c.totp.as_ref().is_some_and(|f| f.account_name)
            || c.code.as_ref().is_some_and(|f| f.identifier)
    }

    /// The form field's name: `traits.` and the path, array items as `#`.
    fn field_name(&self) -> String {
        let mut name = String::from("traits");
        for segment in &self.path {
            name.push('.');
            match segment {
                Segment::Key(k) => name.push_str(k),
                Segment::Items => name.push('#'),
            }
        }
        name
    }
}

/// A trait that identifies the account (see [`IdentitySchema::identifier_traits`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierTrait {
    /// The form field's name, such as `traits.email` (array items as `#`).
    pub name: String,
    /// The trait's `title`, if it has one.
    pub title: Option<String>,
}

/// A loaded, checked and compiled identity schema.
pub struct IdentitySchema {
    id: String,
    raw: Value,
    validator: jsonschema::Validator,
    fields: Vec<ExtensionField>,
}

impl fmt::Debug for IdentitySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySchema")
            .field("id", &self.id)
            .field("extension_fields", &self.fields.len())
            .finish()
    }
}

impl IdentitySchema {
    /// Loads a schema from a JSON value, checking it against the identity meta-schema.
    pub fn from_value(id: impl Into<String>, raw: Value) -> Result<Self, SchemaError> {
        let id = id.into();
        let meta = META_VALIDATOR.as_ref().map_err(|e| SchemaError::Invalid {
            id: id.clone(),
            reason: format!("the meta-schema failed to compile: {e}"),
        })?;
        let violations: Vec<String> = meta
            .iter_errors(&raw)
            .map(|e| format!("at {}: {}", display_ptr(&e.instance_path().to_string()), e))
            .collect();
        if !violations.is_empty() {
            return Err(SchemaError::MetaSchema { id, violations });
        }
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .with_format("tel", |s: &str| {
                super::normalize::normalize_phone(s).is_ok()
            })
            .with_format("no-validate", |_: &str| true)
            .offline()
            .build(&raw)
            .map_err(|e| SchemaError::Invalid {
                id: id.clone(),
                reason: e.to_string(),
            })?;
        let mut fields = Vec::new();
        if let Some(traits) = raw.pointer("/properties/traits") {
            walk(&raw, traits, &mut Vec::new(), &mut fields, 0).map_err(|reason| {
                SchemaError::Invalid {
                    id: id.clone(),
                    reason,
                }
            })?;
        }
        Ok(Self {
            id,
            raw,
            validator,
            fields,
        })
    }

    /// Loads a schema from a JSON string.
    pub fn from_json_str(id: impl Into<String>, json: &str) -> Result<Self, SchemaError> {
        let id = id.into();
        let raw: Value = serde_json::from_str(json).map_err(|e| SchemaError::Invalid {
            id: id.clone(),
            reason: format!("not JSON: {e}"),
        })?;
        Self::from_value(id, raw)
    }

    /// Loads a schema from a Kratos-style URL: `file:///path`, `base64://…`, or a plain path.
    pub fn from_url(id: impl Into<String>, url: &str) -> Result<Self, SchemaError> {
        let id = id.into();
        let unreadable = |reason: String| SchemaError::Unreadable {
            id: id.clone(),
            url: url.to_owned(),
            reason,
        };
        let text = if let Some(b64) = url.strip_prefix("base64://") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(b64.trim()))
                .map_err(|e| unreadable(e.to_string()))?;
            String::from_utf8(bytes).map_err(|e| unreadable(e.to_string()))?
        } else if url.starts_with("http://") || url.starts_with("https://") {
            return Err(unreadable(
                "remote schemas are not fetched; use file:// or base64://".into(),
            ));
        } else {
            let path = url.strip_prefix("file://").unwrap_or(url);
            std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?
        };
        Self::from_json_str(id, &text)
    }

    /// Builds a schema from a Rust type: the type's JSON Schema becomes the traits' schema.
    /// Use `#[schemars(extend("ory.sh/kratos" = {…}))]` on fields to mark identifiers and
    /// addresses.
    pub fn for_traits<T: schemars::JsonSchema>(id: impl Into<String>) -> Result<Self, SchemaError> {
        let generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let root = generator.into_root_schema_for::<T>();
        let mut traits = root.to_value();
        let definitions = traits
            .as_object_mut()
            .and_then(|o| {
                o.remove("$schema");
                o.remove("definitions")
            })
            .unwrap_or_else(|| json!({}));
        let raw = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "definitions": definitions,
            "properties": {"traits": traits},
        });
        Self::from_value(id, raw)
    }

    /// The schema id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The schema document.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// Whether a trait of this schema is a code identifier reached by SMS (a phone number
    /// marked `credentials.code.identifier` with `via: sms` or the `tel` format).
    pub fn has_sms_code_identifier(&self) -> bool {
        self.fields.iter().any(|f| {
            f.ext.credentials.code.as_ref().is_some_and(|c| {
                c.identifier && via_of(c.via.as_deref(), f.format.as_deref()) == AddressVia::Sms
            })
        })
    }

    /// Whether the schema reaches any address by text message: a code identifier, a
    /// verifiable or a recovery address `via: sms`.
    pub fn uses_sms(&self) -> bool {
        self.has_sms_code_identifier()
            || self.fields.iter().any(|f| {
                let by_text = |v: &Option<ViaExtension>| {
                    v.as_ref().is_some_and(|v| {
                        via_of(Some(&v.via), f.format.as_deref()) == AddressVia::Sms
                    })
                };
                by_text(&f.ext.verification) || by_text(&f.ext.recovery)
            })
    }

    /// The traits Kratos names the login form's identifier after
    /// (`GetIdentifierLabelFromSchema`): those marked as a password, WebAuthn or code
    /// identifier, a TOTP account name or a passkey display name, each once.
    pub fn identifier_traits(&self) -> Vec<IdentifierTrait> {
        let mut out: Vec<IdentifierTrait> = Vec::new();
        for field in self.fields.iter().filter(|f| f.identifies_account()) {
            let name = field.field_name();
            match out.iter_mut().find(|t| t.name == name) {
                Some(known) => {
                    if known.title.is_none() {
                        known.title.clone_from(&field.title);
                    }
                }
                None => out.push(IdentifierTrait {
                    name,
                    title: field.title.clone(),
                }),
            }
        }
        out
    }

    /// The form fields a passkey is named after (Kratos's `PasskeyDisplayNameFromSchema`):
    /// traits marked `passkey.display_name` or `webauthn.identifier`, sorted, each once.
    pub fn passkey_display_name_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .fields
            .iter()
            .filter(|f| {
                let c = &f.ext.credentials;
                c.passkey.as_ref().is_some_and(|p| p.display_name)
                    || c.webauthn.as_ref().is_some_and(|w| w.identifier)
            })
            .map(ExtensionField::field_name)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Validates traits; every violation is reported with the pointer to its value.
    pub fn validate(&self, traits: &Value) -> Result<(), Vec<TraitError>> {
        let doc = json!({ "traits": traits });
        let errors: Vec<TraitError> = self
            .validator
            .iter_errors(&doc)
            .map(|e| TraitError {
                instance_ptr: display_ptr(&e.instance_path().to_string()),
                message: e.to_string(),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Reads identifiers and addresses out of (valid) traits, normalised.
    pub fn derive(&self, traits: &Value) -> Result<DerivedTraits, Vec<TraitError>> {
        let mut out = DerivedTraits::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<&'static str, BTreeSet<String>> = HashMap::new();
        for field in &self.fields {
            let mut values = Vec::new();
            collect(
                traits,
                &field.path,
                &mut String::from("#/traits"),
                &mut values,
            );
            for (ptr, value) in values {
                let Some(text) = value_text(value) else {
                    continue;
                };
                let base_kind = match field.format.as_deref() {
                    Some("email") => IdentifierKind::Email,
                    Some("tel") => IdentifierKind::Phone,
                    _ => IdentifierKind::Username,
                };
                let mut norm = |kind: IdentifierKind| -> Option<String> {
                    match normalize_identifier(kind, &text) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            errors.push(TraitError {
                                instance_ptr: ptr.clone(),
                                message: normalize_message(&e),
                            });
                            None
                        }
                    }
                };
                let ext = &field.ext;
                if ext
                    .credentials
                    .password
                    .as_ref()
                    .is_some_and(|f| f.identifier)
                    && let Some(v) = norm(base_kind)
                    && seen.entry("password").or_default().insert(v.clone())
                {
                    out.password_identifiers.push(v);
                }
                if ext
                    .credentials
                    .webauthn
                    .as_ref()
                    .is_some_and(|f| f.identifier)
                    && let Some(v) = norm(base_kind)
                    && seen.entry("webauthn").or_default().insert(v.clone())
                {
                    out.webauthn_identifiers.push(v);
                }
                if let Some(code) = ext.credentials.code.as_ref().filter(|c| c.identifier) {
                    let via = via_of(code.via.as_deref(), field.format.as_deref());
                    if let Some(v) = norm(kind_for(via))
                        && seen.entry("code").or_default().insert(v.clone())
                    {
                        out.code_identifiers.push((via, v));
                    }
                }
                if let Some(ver) = &ext.verification {
                    let via = via_of(Some(&ver.via), field.format.as_deref());
                    if let Some(v) = norm(kind_for(via))
                        && seen
                            .entry("verification")
                            .or_default()
                            .insert(format!("{via:?}{v}"))
                    {
                        out.verifiable_addresses.push((via, v));
                    }
                }
                if let Some(rec) = &ext.recovery {
                    let via = via_of(Some(&rec.via), field.format.as_deref());
                    if let Some(v) = norm(kind_for(via))
                        && seen
                            .entry("recovery")
                            .or_default()
                            .insert(format!("{via:?}{v}"))
                    {
                        out.recovery_addresses.push((via, v));
                    }
                }
                if ext
                    .credentials
                    .totp
                    .as_ref()
                    .is_some_and(|f| f.account_name)
                {
                    out.totp_account_name.get_or_insert(text.clone());
                }
                if ext
                    .credentials
                    .passkey
                    .as_ref()
                    .is_some_and(|f| f.display_name)
                {
                    out.passkey_display_name.get_or_insert(text.clone());
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn normalize_message(e: &NormalizeError) -> String {
    e.to_string()
}

fn display_ptr(location: &str) -> String {
    format!("#{location}")
}

fn via_of(via: Option<&str>, format: Option<&str>) -> AddressVia {
    match via {
        Some("sms") => AddressVia::Sms,
        Some("email") => AddressVia::Email,
        _ if format == Some("tel") => AddressVia::Sms,
        _ => AddressVia::Email,
    }
}

fn kind_for(via: AddressVia) -> IdentifierKind {
    match via {
        AddressVia::Email => IdentifierKind::Email,
        AddressVia::Sms => IdentifierKind::Phone,
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Walks a schema node and records every subschema carrying the extension, with its path.
fn walk(
    root: &Value,
    node: &Value,
    path: &mut Vec<Segment>,
    out: &mut Vec<ExtensionField>,
    depth: usize,
) -> Result<(), String> {
    if depth > 64 {
        return Err("the traits schema nests (or references itself) too deeply".into());
    }
    if let Some(r) = node.get("$ref").and_then(Value::as_str)
        && let Some(ptr) = r.strip_prefix('#')
    {
        let target = root
            .pointer(ptr)
            .ok_or_else(|| format!("$ref `{r}` points nowhere"))?;
        walk(root, target, path, out, depth + 1)?;
    }
    if let Some(ext) = node.get("ory.sh/kratos") {
        let ext: KratosExtension = serde_json::from_value(ext.clone())
            .map_err(|e| format!("bad ory.sh/kratos extension: {e}"))?;
        out.push(ExtensionField {
            path: path.clone(),
            format: node
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_owned),
            title: node.get("title").and_then(Value::as_str).map(str::to_owned),
            ext,
        });
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            path.push(Segment::Key(k.clone()));
            walk(root, v, path, out, depth + 1)?;
            path.pop();
        }
    }
    if let Some(items) = node.get("items")
        && items.is_object()
    {
        path.push(Segment::Items);
        walk(root, items, path, out, depth + 1)?;
        path.pop();
    }
    for kw in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = node.get(kw).and_then(Value::as_array) {
            for s in subs {
                walk(root, s, path, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn collect<'v>(
    value: &'v Value,
    path: &[Segment],
    ptr: &mut String,
    out: &mut Vec<(String, &'v Value)>,
) {
    match path.split_first() {
        None => out.push((ptr.clone(), value)),
        Some((Segment::Key(k), rest)) => {
            if let Some(v) = value.get(k) {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                collect(v, rest, ptr, out);
                ptr.truncate(len);
            }
        }
        Some((Segment::Items, rest)) => {
            if let Some(items) = value.as_array() {
                for (i, v) in items.iter().enumerate() {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&i.to_string());
                    collect(v, rest, ptr, out);
                    ptr.truncate(len);
                }
            }
        }
    }
}

/// The identity schemas an application knows, by id, with a default.
#[derive(Clone, Debug)]
pub struct SchemaRegistry {
    schemas: HashMap<String, Arc<IdentitySchema>>,
    order: Vec<String>,
    default_id: String,
}

impl SchemaRegistry {
    /// A registry whose default is `default_id`; add schemas with [`SchemaRegistry::add`].
    pub fn new(default_id: impl Into<String>) -> Self {
        Self {
            schemas: HashMap::new(),
            order: Vec::new(),
            default_id: default_id.into(),
        }
    }

    /// Loads every schema listed in `identity.schemas`.
    pub fn from_config(config: &IdentityConfig) -> Result<Self, SchemaError> {
        let mut reg = Self::new(config.default_schema_id.clone());
        for s in &config.schemas {
            reg.add(IdentitySchema::from_url(s.id.clone(), &s.url)?)?;
        }
        Ok(reg)
    }

    /// Adds a schema; ids must be unique.
    pub fn add(&mut self, schema: IdentitySchema) -> Result<&mut Self, SchemaError> {
        if self.schemas.contains_key(schema.id()) {
            return Err(SchemaError::Duplicate(schema.id().to_owned()));
        }
        self.order.push(schema.id().to_owned());
        self.schemas
            .insert(schema.id().to_owned(), Arc::new(schema));
        Ok(self)
    }

    /// Builder-style [`SchemaRegistry::add`].
    pub fn with(mut self, schema: IdentitySchema) -> Result<Self, SchemaError> {
        self.add(schema)?;
        Ok(self)
    }

    /// Checks that the default schema exists.
    pub fn check(&self) -> Result<(), SchemaError> {
        if self.schemas.contains_key(&self.default_id) {
            Ok(())
        } else {
            Err(SchemaError::MissingDefault(self.default_id.clone()))
        }
    }

    /// The schema with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<IdentitySchema>> {
        self.schemas.get(id)
    }

    /// The default schema id.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// The schemas in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<IdentitySchema>> {
        self.order.iter().filter_map(|id| self.schemas.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL_PASSWORD: &str =
        include_str!("../../schemas/quickstart-email-password.identity.schema.json");
    const ALL: &str = include_str!("../../schemas/quickstart-all-strategies.identity.schema.json");

    #[test]
    fn quickstart_schemas_load_and_derive() {
        let s = IdentitySchema::from_json_str("default", EMAIL_PASSWORD).unwrap();
        let traits = json!({"email": " Foo@Bar.com ", "name": {"first": "Foo"}});
        // format: email rejects the surrounding spaces? No: validation sees the raw value.
        let traits_ok = json!({"email": "Foo@Bar.com", "name": {"first": "Foo"}});
        s.validate(&traits_ok).unwrap();
        let d = s.derive(&traits).unwrap();
        assert_eq!(d.password_identifiers, vec!["foo@bar.com"]);
        assert_eq!(
            d.verifiable_addresses,
            vec![(AddressVia::Email, "foo@bar.com".into())]
        );
        assert_eq!(
            d.recovery_addresses,
            vec![(AddressVia::Email, "foo@bar.com".into())]
        );

        let all = IdentitySchema::from_json_str("all", ALL).unwrap();
        let d = all.derive(&traits_ok).unwrap();
        assert_eq!(d.webauthn_identifiers, vec!["foo@bar.com"]);
        assert_eq!(
            d.code_identifiers,
            vec![(AddressVia::Email, "foo@bar.com".into())]
        );
        assert_eq!(d.passkey_display_name.as_deref(), Some("Foo@Bar.com"));
    }

    #[test]
    fn invalid_traits_name_the_field() {
        let s = IdentitySchema::from_json_str("default", EMAIL_PASSWORD).unwrap();
        let errs = s.validate(&json!({"email": "not-an-email"})).unwrap_err();
        assert_eq!(errs[0].instance_ptr, "#/traits/email");
        let errs = s.validate(&json!({"name": {}})).unwrap_err();
        assert!(errs.iter().any(|e| e.message.contains("email")), "{errs:?}");
        let errs = s
            .validate(&json!({"email": "a@b.co", "extra": 1}))
            .unwrap_err();
        assert!(!errs.is_empty());
    }

    #[test]
    fn meta_schema_violations_are_load_errors() {
        // No traits at all.
        let err = IdentitySchema::from_value("x", json!({"type": "object", "properties": {}}))
            .unwrap_err();
        assert!(matches!(err, SchemaError::MetaSchema { .. }), "{err}");
        // Verification on a field with a format the meta-schema does not permit.
        let err = IdentitySchema::from_value(
            "x",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "uri", "ory.sh/kratos": {"verification": {"via": "email"}}}
            }}}}),
        )
        .unwrap_err();
        assert!(matches!(err, SchemaError::MetaSchema { .. }), "{err}");
        // Unknown extension key.
        let err = IdentitySchema::from_value(
            "x",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "ory.sh/kratos": {"credentials": {"pasword": {}}}}
            }}}}),
        )
        .unwrap_err();
        assert!(matches!(err, SchemaError::MetaSchema { .. }), "{err}");
        // Not JSON.
        assert!(matches!(
            IdentitySchema::from_json_str("x", "{").unwrap_err(),
            SchemaError::Invalid { .. }
        ));
    }

    #[test]
    fn arrays_nested_objects_and_phones() {
        let s = IdentitySchema::from_value(
            "multi",
            json!({"properties": {"traits": {"type": "object", "properties": {
                "emails": {"type": "array", "items": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}},
                                       "recovery": {"via": "email"}}}},
                "contact": {"type": "object", "properties": {
                    "phone": {"type": "string", "format": "tel",
                        "ory.sh/kratos": {"credentials": {"code": {"identifier": true, "via": "sms"}},
                                           "verification": {"via": "sms"}}}}},
                "username": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
            }}}}),
        )
        .unwrap();
        let traits = json!({"emails": ["A@x.io", "b@x.io"], "contact": {"phone": "+1 415 555 0100"}, "username": "Ｂob"});
        s.validate(&traits).unwrap();
        let d = s.derive(&traits).unwrap();
        assert_eq!(d.password_identifiers, vec!["a@x.io", "b@x.io", "bob"]);
        assert_eq!(
            d.code_identifiers,
            vec![(AddressVia::Sms, "+14155550100".into())]
        );
        assert_eq!(
            d.verifiable_addresses,
            vec![(AddressVia::Sms, "+14155550100".into())]
        );
        assert_eq!(d.recovery_addresses.len(), 2);
        let errs = s
            .validate(&json!({"contact": {"phone": "hello"}}))
            .unwrap_err();
        assert_eq!(errs[0].instance_ptr, "#/traits/contact/phone");
    }

    #[test]
    fn registry_checks_default_and_duplicates() {
        let mut reg = SchemaRegistry::new("default");
        assert!(matches!(reg.check(), Err(SchemaError::MissingDefault(_))));
        reg.add(IdentitySchema::from_json_str("default", EMAIL_PASSWORD).unwrap())
            .unwrap();
        reg.check().unwrap();
        assert!(matches!(
            reg.add(IdentitySchema::from_json_str("default", EMAIL_PASSWORD).unwrap()),
            Err(SchemaError::Duplicate(_))
        ));
        let b64 = base64::engine::general_purpose::STANDARD.encode(ALL);
        let s = IdentitySchema::from_url("all", &format!("base64://{b64}")).unwrap();
        assert_eq!(s.id(), "all");
        assert!(matches!(
            IdentitySchema::from_url("x", "file:///nonexistent/schema.json"),
            Err(SchemaError::Unreadable { .. })
        ));
    }

    #[test]
    fn identifier_traits_name_each_identifying_trait_once() {
        let s = IdentitySchema::from_json_str("default", EMAIL_PASSWORD).unwrap();
        assert_eq!(
            s.identifier_traits(),
            vec![IdentifierTrait {
                name: "traits.email".into(),
                title: Some("E-Mail".into()),
            }]
        );
        // Every identifying mark counts; a trait marked twice (here through `allOf`) once;
        // array items are named `#`.
        let s = IdentitySchema::from_value(
            "x",
            json!({
                "type": "object",
                "properties": {"traits": {"type": "object", "properties": {
                    "phone": {"type": "string", "title": "Phone",
                        "ory.sh/kratos": {"credentials": {"code": {"identifier": true, "via": "sms"}}},
                        "allOf": [{"ory.sh/kratos": {"credentials": {"totp": {"account_name": true}}}}]},
                    "emails": {"type": "array", "items": {"type": "string",
                        "ory.sh/kratos": {"credentials": {"webauthn": {"identifier": true}}}}},
                    "nick": {"type": "string",
                        "ory.sh/kratos": {"credentials": {"passkey": {"display_name": true}}}},
                    "backup": {"type": "string", "ory.sh/kratos": {"recovery": {"via": "email"}}},
                }}},
            }),
        )
        .unwrap();
        let mut names: Vec<(String, Option<String>)> = s
            .identifier_traits()
            .into_iter()
            .map(|t| (t.name, t.title))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                ("traits.emails.#".into(), None),
                ("traits.nick".into(), None),
                ("traits.phone".into(), Some("Phone".into())),
            ]
        );
    }
}
