//! A configuration document as Ory's services assemble one: files merged in order, then
//! environment variables, then checked against the service's JSON Schema.
//!
//! These are the building blocks of [`ConfigLoader`](super::ConfigLoader); they are public so
//! that a host serving another Ory service (Keto) assembles its document the same way.
//!
//! - [`merge`]: a later document overrides an earlier one key by key; objects are merged
//!   deeply, any other value (arrays included) is replaced whole, as Ory's configx (koanf) does.
//! - [`EnvPaths`]: an environment variable overrides the key whose path, upper-cased with `_`
//!   between segments, is its name (`SERVE_PUBLIC_PORT` → `serve.public.port`, `DSN` → `dsn`;
//!   an array index is a number segment: `IDENTITY_SCHEMAS_0_URL`). Only keys of the schema
//!   are read, and the value is parsed by the schema type of the key: integers, numbers,
//!   booleans (`1`, `t`, `true`, `TRUE`, … as Go's `strconv.ParseBool`), JSON for objects and
//!   arrays, and a comma-separated list for an array of strings or numbers when the value is
//!   not JSON. Unlike configx, a value that does not parse is an error naming the variable
//!   (configx would silently use zero), and the value replaces the key whole (configx merges
//!   an array or object leaf by leaf into the file's).
//! - [`SchemaCheck`]: JSON Schema validation; each violation names its JSON pointer.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ConfigError;
use super::secret;

/// The deepest schema nesting [`EnvPaths`] follows (schemas may refer to themselves).
const MAX_SCHEMA_DEPTH: usize = 24;

/// The deepest document nesting [`merge`] and the key walks follow.
const MAX_DOCUMENT_DEPTH: usize = 64;

/// Reads a YAML or JSON file (`.json` as JSON, anything else as YAML) into a JSON value.
///
/// Errors when the file cannot be read or parsed, or its top level is not a mapping.
pub fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: shown.clone(),
        source,
    })?;
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .map_err(|e| ConfigError::invalid("", format!("{shown}: {e}")))?
    } else if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_yaml_ng::from_str(&text)
            .map_err(|e| ConfigError::invalid("", format!("{shown}: {e}")))?
    };
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        _ => Err(ConfigError::invalid(
            "",
            format!("{shown}: the configuration must be a mapping of keys"),
        )),
    }
}

/// Merges `over` into `base`: keys of `over` win; where both hold objects they are merged
/// recursively, any other value of `over` (arrays too) replaces `base`'s.
pub fn merge(base: &mut Value, over: Value) {
    merge_at(base, over, 0);
}

fn merge_at(base: &mut Value, over: Value, depth: usize) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) if depth < MAX_DOCUMENT_DEPTH => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge_at(existing, v, depth + 1),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// How an environment variable's value is read, from the schema type of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeHint {
    /// `type: string` (or no type): the value as it is.
    String,
    /// `type: integer`.
    Integer,
    /// `type: number`.
    Number,
    /// `type: boolean`.
    Boolean,
    /// An array of strings: JSON, or else a comma-separated list.
    StringList,
    /// An array of numbers or integers: JSON, or else a comma-separated list.
    NumberList,
    /// An object or any other array: JSON.
    Json,
}

/// The keys of a schema that environment variables can set, with their types.
#[derive(Clone, Debug)]
pub struct EnvPaths {
    /// Each key as its segments (`#` for an array index), with its type.
    paths: Vec<(Vec<String>, TypeHint)>,
}

/// One environment variable applied to a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvOverride {
    /// The variable's name.
    pub variable: String,
    /// The JSON pointer of the key it set.
    pub pointer: String,
}

impl EnvPaths {
    /// The keys of `schema`, following `$ref`s into its own `definitions` and into
    /// `resources` (other schemas by their `$id`, such as `ory://tracing-config`).
    pub fn from_schema(schema: &Value, resources: &[(&str, &Value)]) -> Self {
        let mut paths = Vec::new();
        let mut walker = Walker {
            resources,
            paths: &mut paths,
        };
        walker.walk(schema, schema, &mut Vec::new(), 0);
        let mut seen = std::collections::HashSet::new();
        paths.retain(|(p, _)| seen.insert(p.clone()));
        Self { paths }
    }

    /// The number of keys found.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no key was found.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Applies the variables that name a key to `doc`, in the order given; the others are
    /// ignored. Returns which were applied.
    ///
    /// Errors, naming the variable and the key, when a value does not parse as its key's
    /// type or cannot be placed (an array index beyond the end of the array). Values of keys
    /// that may hold secrets are never quoted.
    pub fn apply<I, K, V>(&self, doc: &mut Value, vars: I) -> Result<Vec<EnvOverride>, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut applied = Vec::new();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            let Some((segments, hint)) = self.resolve(name) else {
                continue;
            };
            let pointer = pointer_of(&segments);
            let parsed = parse(value, hint).map_err(|why| {
                let dotted = segments.join(".");
                let why = if secret::key_may_hold_secret(&dotted) {
                    why.replace(value, super::REDACTED)
                } else {
                    why
                };
                ConfigError::Env {
                    variable: name.to_owned(),
                    key: pointer.clone(),
                    message: why,
                }
            })?;
            set(doc, &segments, parsed).map_err(|why| ConfigError::Env {
                variable: name.to_owned(),
                key: pointer.clone(),
                message: why,
            })?;
            applied.push(EnvOverride {
                variable: name.to_owned(),
                pointer,
            });
        }
        Ok(applied)
    }

    /// The key a variable names, with array indices filled in.
    fn resolve(&self, name: &str) -> Option<(Vec<String>, TypeHint)> {
        let key = name.to_ascii_lowercase().replace('_', ".");
        let key_parts: Vec<&str> = key.split('.').collect();
        for (path, hint) in &self.paths {
            let normalized: Vec<String> = path.iter().map(|s| s.replace('_', ".")).collect();
            let joined = normalized.join(".");
            let parts: Vec<&str> = joined.split('.').collect();
            if parts.len() != key_parts.len() {
                continue;
            }
            let matches = parts.iter().zip(&key_parts).all(|(p, k)| {
                p == k || (*p == "#" && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
            });
            if !matches {
                continue;
            }
            // Rebuild the original segments (which may hold `_`), filling `#` with the index.
            let mut indices = parts
                .iter()
                .zip(&key_parts)
                .filter(|(p, _)| **p == "#")
                .map(|(_, k)| (*k).to_owned());
            let segments = path
                .iter()
                .map(|s| {
                    if s == "#" {
                        indices.next().unwrap_or_default()
                    } else {
                        s.clone()
                    }
                })
                .collect();
            return Some((segments, *hint));
        }
        None
    }
}

struct Walker<'a> {
    resources: &'a [(&'a str, &'a Value)],
    paths: &'a mut Vec<(Vec<String>, TypeHint)>,
}

impl<'a> Walker<'a> {
    /// Follows a `$ref`: the schema it names and the root its own refs resolve against.
    fn deref(&self, root: &'a Value, reference: &str) -> Option<(&'a Value, &'a Value)> {
        if let Some(pointer) = reference.strip_prefix('#') {
            return root.pointer(pointer).map(|s| (s, root));
        }
        let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let (_, resource) = self.resources.iter().find(|(id, _)| *id == base)?;
        resource.pointer(fragment).map(|s| (s, *resource))
    }

    fn walk(&mut self, schema: &'a Value, root: &'a Value, path: &mut Vec<String>, depth: usize) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if let Some((target, target_root)) = self.deref(root, reference) {
                self.walk(target, target_root, path, depth + 1);
            }
            return;
        }
        if !path.is_empty() {
            self.paths.push((path.clone(), hint_of(schema, root, self)));
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                path.push(name.clone());
                self.walk(sub, root, path, depth + 1);
                path.pop();
            }
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = schema.get(combinator).and_then(Value::as_array) {
                for sub in list {
                    self.walk_same_level(sub, root, path, depth + 1);
                }
            }
        }
        for branch in ["then", "else"] {
            if let Some(sub) = schema.get(branch) {
                self.walk_same_level(sub, root, path, depth + 1);
            }
        }
        if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
            path.push("#".into());
            self.walk(items, root, path, depth + 1);
            path.pop();
        }
    }

    /// Walks a subschema describing the same key (a branch of `oneOf`, …): its properties
    /// only, so the key itself is listed once, with the type of its first description.
    fn walk_same_level(
        &mut self,
        schema: &'a Value,
        root: &'a Value,
        path: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        let (schema, root) = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => match self.deref(root, r) {
                Some(found) => found,
                None => return,
            },
            None => (schema, root),
        };
        let before = self.paths.len();
        self.walk(schema, root, path, depth);
        // Drop the entry for the key itself that `walk` added: the parent listed it.
        if !path.is_empty() && self.paths.get(before).is_some_and(|(p, _)| p == path) {
            self.paths.remove(before);
        }
    }
}

/// The type hint of a schema, looking through one `$ref` and the first typed branch.
fn hint_of(schema: &Value, root: &Value, walker: &Walker<'_>) -> TypeHint {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let single = types.iter().find(|t| **t != "null").copied();
    match single {
        Some("string") => TypeHint::String,
        Some("integer") => TypeHint::Integer,
        Some("number") => TypeHint::Number,
        Some("boolean") => TypeHint::Boolean,
        Some("object") => TypeHint::Json,
        Some("array") => {
            let items = schema.get("items");
            let items = match items.and_then(|i| i.get("$ref")).and_then(Value::as_str) {
                Some(r) => walker.deref(root, r).map(|(s, _)| s),
                None => items,
            };
            match items.and_then(|i| i.get("type")).and_then(Value::as_str) {
                Some("string") => TypeHint::StringList,
                Some("integer" | "number") => TypeHint::NumberList,
                _ => TypeHint::Json,
            }
        }
        _ => {
            for combinator in ["oneOf", "anyOf", "allOf"] {
                if let Some(list) = schema.get(combinator).and_then(Value::as_array) {
                    for sub in list {
                        if sub.get("type").is_some() {
                            return hint_of(sub, root, walker);
                        }
                    }
                }
            }
            TypeHint::String
        }
    }
}

/// Parses an environment value as `hint` says; the error says why.
fn parse(value: &str, hint: TypeHint) -> Result<Value, String> {
    match hint {
        TypeHint::String => Ok(Value::String(value.to_owned())),
        TypeHint::Integer => value
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("`{value}` is not an integer")),
        TypeHint::Number => value
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{value}` is not a number")),
        TypeHint::Boolean => match value.trim() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            _ => Err(format!("`{value}` is not a boolean")),
        },
        TypeHint::StringList => match serde_json::from_str::<Value>(value) {
            Ok(v @ Value::Array(_)) => Ok(v),
            _ => Ok(Value::Array(
                split_list(value)?.into_iter().map(Value::String).collect(),
            )),
        },
        TypeHint::NumberList => match serde_json::from_str::<Value>(value) {
            Ok(v @ Value::Array(_)) => Ok(v),
            _ => split_list(value)?
                .into_iter()
                .map(|item| parse(&item, TypeHint::Number))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        },
        TypeHint::Json => match serde_json::from_str::<Value>(value) {
            Ok(v @ (Value::Array(_) | Value::Object(_))) => Ok(v),
            _ => Err(format!("`{value}` is not a JSON object or array")),
        },
    }
}

/// A comma-separated list, with `"…"` quoting as in CSV (a quote inside a quoted item is
/// doubled).
fn split_list(value: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if current.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => items.push(std::mem::take(&mut current)),
            (c, _) => current.push(c),
        }
    }
    if quoted {
        return Err(format!("`{value}` has an unclosed quote"));
    }
    items.push(current);
    Ok(items)
}

/// Sets `value` at `segments` in `doc`, creating objects on the way; a number segment
/// indexes an existing array (one past its end appends).
fn set(doc: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = segments.split_last() else {
        *doc = value;
        return Ok(());
    };
    let mut node = doc;
    for segment in parents {
        node = child(node, segment)?;
    }
    *child(node, last)? = value;
    Ok(())
}

fn child<'v>(node: &'v mut Value, segment: &str) -> Result<&'v mut Value, String> {
    let index_segment = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    if index_segment && !node.is_array() && !node.is_object() {
        *node = Value::Array(Vec::new());
    }
    if let Value::Array(items) = node {
        let index: usize = segment
            .parse()
            .map_err(|_| format!("`{segment}` is not an array index"))?;
        if index == items.len() {
            items.push(Value::Null);
        }
        let len = items.len();
        return items
            .get_mut(index)
            .ok_or_else(|| format!("index {index} is beyond the array's {len} items"));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    match node {
        Value::Object(map) => Ok(map.entry(segment.to_owned()).or_insert(Value::Null)),
        _ => Err("not an object".into()),
    }
}

/// The JSON pointer of a key (`/serve/public/port`), with `~` and `/` escaped.
pub fn pointer_of<S: AsRef<str>>(segments: &[S]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.as_ref().replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// A compiled JSON Schema for a configuration document.
pub struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCheck").finish_non_exhaustive()
    }
}

impl SchemaCheck {
    /// Compiles `schema`, with `resources` (other schemas by their `$id`) for its remote
    /// `$ref`s; nothing is fetched over the network.
    ///
    /// Errors when a schema does not compile.
    pub fn new(schema: &Value, resources: &[(&str, &Value)]) -> Result<Self, String> {
        let mut registry = jsonschema::Registry::new();
        for (id, resource) in resources {
            registry = registry
                .add(*id, (*resource).clone())
                .map_err(|e| e.to_string())?;
        }
        let registry = registry.prepare().map_err(|e| e.to_string())?;
        let validator = jsonschema::options()
            .with_registry(&registry)
            .should_validate_formats(true)
            .offline()
            .build(schema)
            .map_err(|e| e.to_string())?;
        Ok(Self { validator })
    }

    /// Checks `doc`: every violation, as its JSON pointer and a message (values of keys that
    /// may hold secrets are not quoted). Empty when the document is valid.
    pub fn violations(&self, doc: &Value) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        for e in self.validator.iter_errors(doc) {
            let pointer = e.instance_path().to_string();
            // An unknown key is named by its own pointer, not its parent's.
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                e.kind()
            {
                for key in unexpected {
                    found.push((
                        format!("{pointer}{}", pointer_of(&[key])),
                        "is not a key of this configuration".to_owned(),
                    ));
                }
                continue;
            }
            let dotted = pointer.trim_start_matches('/').replace('/', ".");
            let message = if secret::key_may_hold_secret(&dotted) || dotted.starts_with("dsn") {
                format!("does not match the schema (`{}`)", e.kind().keyword())
            } else {
                e.to_string()
            };
            found.push((pointer, message));
        }
        found.sort();
        found.dedup();
        found
    }
}

/// The JSON pointers of `doc`'s keys that `implemented` lacks: keys the document sets that
/// the type it was read into did not keep (the topmost such key: `/serve/public/cors`, not each
/// key below it). Where `implemented` holds a non-object value
/// (a raw JSON value, a string a key was read into) the keys below it count as kept; array
/// items are compared by position. A key whose value asks for nothing (null, an empty array
/// or object, or an object of such values) is not listed.
pub fn unkept_keys(doc: &Value, implemented: &Value) -> Vec<String> {
    let mut out = Vec::new();
    unkept_at(doc, implemented, &mut Vec::new(), &mut out, 0);
    out
}

fn unkept_at(
    doc: &Value,
    implemented: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DOCUMENT_DEPTH {
        return;
    }
    match (doc, implemented) {
        (Value::Object(d), Value::Object(i)) => {
            for (k, v) in d {
                path.push(k.clone());
                match i.get(k) {
                    Some(iv) => unkept_at(v, iv, path, out, depth + 1),
                    None if asks_nothing(v, 0) => {}
                    None => out.push(pointer_of(path)),
                }
                path.pop();
            }
        }
        (Value::Array(d), Value::Array(i)) => {
            for (n, (dv, iv)) in d.iter().zip(i).enumerate() {
                path.push(n.to_string());
                unkept_at(dv, iv, path, out, depth + 1);
                path.pop();
            }
        }
        _ => {}
    }
}

fn asks_nothing(v: &Value, depth: usize) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => {
            depth < MAX_DOCUMENT_DEPTH && o.values().all(|v| asks_nothing(v, depth + 1))
        }
        _ => false,
    }
}

/// Whether `pointer` is `pattern` or lies below it; a `*` segment of `pattern` matches any
/// one segment.
pub fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let mut p = pattern.split('/');
    let mut k = pointer.split('/');
    loop {
        match (p.next(), k.next()) {
            (None, _) => return true,
            (Some(_), None) => return false,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

/// The files to merge, in order.
pub(crate) fn read_all(files: &[PathBuf]) -> Result<Value, ConfigError> {
    let mut doc = Value::Object(Map::new());
    for file in files {
        merge(&mut doc, read_file(file)?);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_merge_deeply_and_arrays_are_replaced() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2, 3]}, "d": "x"});
        merge(
            &mut base,
            json!({"a": {"c": [9], "e": true}, "d": {"f": 1}}),
        );
        assert_eq!(
            base,
            json!({"a": {"b": 1, "c": [9], "e": true}, "d": {"f": 1}})
        );
    }

    fn paths() -> EnvPaths {
        let schema = json!({
            "definitions": {"port": {"type": "integer"}},
            "properties": {
                "dsn": {"type": "string"},
                "serve": {"properties": {"public": {"properties": {
                    "port": {"$ref": "#/definitions/port"}
                }}}},
                "secrets": {"properties": {"default": {"type": "array", "items": {"type": "string"}}}},
                "flag_on": {"type": "boolean"},
                "list": {"type": "array", "items": {"properties": {"url": {"type": "string"}}}},
                "tracing": {"$ref": "ory://t"}
            }
        });
        let tracing = json!({"properties": {"service_name": {"type": "string"}}});
        EnvPaths::from_schema(&schema, &[("ory://t", &tracing)])
    }

    #[test]
    fn environment_variables_set_keys_by_their_schema_type() {
        let mut doc = json!({"list": [{"url": "a"}]});
        let applied = paths()
            .apply(
                &mut doc,
                [
                    ("DSN", "memory"),
                    ("SERVE_PUBLIC_PORT", "4455"),
                    ("SECRETS_DEFAULT", "one,\"two,2\""),
                    ("FLAG_ON", "t"),
                    ("LIST_0_URL", "b"),
                    ("TRACING_SERVICE_NAME", "k"),
                    ("PATH", "/usr/bin"),
                ],
            )
            .unwrap();
        assert_eq!(applied.len(), 6);
        assert_eq!(
            doc,
            json!({"dsn": "memory", "serve": {"public": {"port": 4455}},
                   "secrets": {"default": ["one", "two,2"]}, "flag_on": true,
                   "list": [{"url": "b"}], "tracing": {"service_name": "k"}})
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_naming_the_variable_and_key() {
        let err = paths()
            .apply(&mut json!({}), [("SERVE_PUBLIC_PORT", "high")])
            .unwrap_err();
        assert_eq!(err.key(), Some("/serve/public/port"));
        assert!(err.to_string().contains("SERVE_PUBLIC_PORT"), "{err}");
        let err = paths()
            .apply(&mut json!({}), [("LIST_3_URL", "x")])
            .unwrap_err();
        assert_eq!(err.key(), Some("/list/3/url"));
    }

    #[test]
    fn unkept_keys_are_named_by_pointer() {
        let doc = json!({"a": {"b": 1, "x": 2, "empty": {"n": null}}, "raw": {"any": 1},
                         "l": [{"k": 1, "y": 2}]});
        let kept = json!({"a": {"b": 1}, "raw": "{...}", "l": [{"k": 1}]});
        assert_eq!(unkept_keys(&doc, &kept), ["/a/x", "/l/0/y"]);
        assert!(pointer_matches("/serve/*/port", "/serve/public/port"));
        assert!(pointer_matches("/log", "/log/level"));
        assert!(!pointer_matches("/log/level", "/log"));
    }
}
