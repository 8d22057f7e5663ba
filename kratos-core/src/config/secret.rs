//! Secrets in the configuration, and how they are kept out of `Debug` output, logs and
//! serialised configuration.
//!
//! A [`Secret`] shows as `Secret(<redacted>)` and does not implement `Serialize`: the one way
//! to read it is [`Secret::expose`]. Serialising a [`Config`](super::Config) writes
//! [`REDACTED`] in place of every secret (`secrets.*`, `courier.smtp.connection_uri`, the
//! `auth` of web hooks and of the HTTP courier channel, passwords in URLs), so a serialised
//! configuration may be shown or logged but does not load back with working secrets.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

/// What stands in for a secret in `Debug` output and serialised configuration.
pub const REDACTED: &str = "<redacted>";

/// A secret string. Its `Debug` never shows the value, it has no `Display` and no `Serialize`
/// (read it with [`Secret::expose`]), and it is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }
    /// The secret value. This is the only way to read it: call it where the value is used
    /// (a key derivation, a connection), never to print or serialise it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret::new(String::deserialize(d)?))
    }
}

/// Serialises a list of secrets as one [`REDACTED`] per entry (`serialize_with`).
pub(crate) fn serialize_secret_list<S: Serializer>(
    list: &[Secret],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(|_| REDACTED))
}

/// Serialises an optional secret as [`REDACTED`] or `null` (`serialize_with`).
pub(crate) fn serialize_secret_option<S: Serializer>(
    secret: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

/// Serialises a web hook's `config` or a courier channel's `auth` with its secrets redacted
/// (`serialize_with`, see [`redact_hook_config`] and [`redact_auth`]).
pub(crate) fn serialize_hook_config<S: Serializer>(
    config: &Value,
    s: S,
) -> Result<S::Ok, S::Error> {
    redact_hook_config(config).serialize(s)
}

/// See [`serialize_hook_config`].
pub(crate) fn serialize_auth<S: Serializer>(auth: &Value, s: S) -> Result<S::Ok, S::Error> {
    redact_auth(auth).serialize(s)
}

/// A URL with its password replaced by [`REDACTED`]: the password of the user information
/// (`postgres://user:pw@host/db` → `postgres://user:<redacted>@host/db`) and the value of
/// `password` and `pass` query parameters, and of `token` and `code` (the one-time secrets
/// of verification and recovery links). Anything else, including text that is not a URL, is
/// returned as it is.
pub fn redact_url(url: &str) -> String {
    let (authority_start, authority_end) = match url.find("://") {
        Some(i) => {
            let start = i + 3;
            let len = url[start..]
                .find(['/', '?', '#'])
                .unwrap_or(url.len() - start);
            (start, start + len)
        }
        None => (0, 0),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    let authority = &url[authority_start..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[authority_end..];
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=q]);
    let (query, fragment) = match rest[q + 1..].find('#') {
        Some(h) => (&rest[q + 1..q + 1 + h], &rest[q + 1 + h..]),
        None => (&rest[q + 1..], ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if matches!(
                    k.to_ascii_lowercase().as_str(),
                    "password" | "pass" | "token" | "code"
                ) =>
            {
                format!("{k}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    out.push_str(fragment);
    out
}

/// An `auth` object (`{type: api_key|basic_auth, config: {…}}`, as web hooks and the HTTP
/// courier channel take it) with every value of its `config` replaced by [`REDACTED`] except
/// `user`, `name` and `in`. Any other value is returned as it is.
pub fn redact_auth(auth: &Value) -> Value {
    let mut auth = auth.clone();
    if let Some(config) = auth.get_mut("config").and_then(Value::as_object_mut) {
        for (k, v) in config.iter_mut() {
            if !matches!(k.as_str(), "user" | "name" | "in") {
                *v = Value::String(REDACTED.into());
            }
        }
    }
    auth
}

/// A hook's `config` (`{url, method, headers, auth, …}` for a `web_hook`) with its secrets
/// redacted: the URL's password ([`redact_url`]), every header value (headers such as
/// `Authorization` carry credentials), the `auth` ([`redact_auth`]) and the text of a
/// `base64://` body template (or a body URL's password).
pub fn redact_hook_config(config: &Value) -> Value {
    let mut config = config.clone();
    if let Some(obj) = config.as_object_mut() {
        if let Some(Value::String(url)) = obj.get_mut("url") {
            *url = redact_url(url);
        }
        if let Some(headers) = obj.get_mut("headers").and_then(Value::as_object_mut) {
            for v in headers.values_mut() {
                *v = Value::String(REDACTED.into());
            }
        }
        if let Some(auth) = obj.get_mut("auth") {
            *auth = redact_auth(auth);
        }
        // A Jsonnet body template may hold a key: a base64 one's text is left out.
        if let Some(Value::String(body)) = obj.get_mut("body") {
            *body = if body.starts_with("base64://") {
                format!("base64://{REDACTED}")
            } else {
                redact_url(body)
            };
        }
    }
    config
}

/// A method's `config` kept as JSON (`selfservice.methods.oidc.config`, …) with its secrets
/// redacted: at any depth, the value of every key whose name contains `secret`, `password` or
/// `private_key` (an OIDC provider's `client_secret`, Apple's `apple_private_key`, a SAML
/// `private_key`) becomes [`REDACTED`], and every other string loses the password of a URL
/// ([`redact_url`]).
pub fn redact_method_config(config: &Value) -> Value {
    fn is_secret(key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        ["secret", "password", "private_key"]
            .iter()
            .any(|part| key.contains(part))
    }
    match config {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact_method_config(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_method_config).collect()),
        Value::String(text) => Value::String(redact_url(text)),
        other => other.clone(),
    }
}

/// Serialises a method's `config` with its secrets redacted (`serialize_with`, see
/// [`redact_method_config`]).
pub(super) fn serialize_method_config<S: Serializer>(
    config: &Value,
    s: S,
) -> Result<S::Ok, S::Error> {
    redact_method_config(config).serialize(s)
}

/// A (serde) error message with the values it quotes replaced by [`REDACTED`]: every
/// double-quoted part (string values), and with `backticks` every backticked part too (numbers,
/// but also field names). For errors about a key that may hold a secret.
pub(crate) fn redact_quoted(message: &str, backticks: bool) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let open = rest.find(|c| c == '"' || (backticks && c == '`'));
        let Some(open) = open else {
            out.push_str(rest);
            return out;
        };
        let quote = &rest[open..open + 1];
        match rest[open + 1..].find(quote) {
            Some(len) => {
                out.push_str(&rest[..open]);
                out.push_str(REDACTED);
                rest = &rest[open + 1 + len + 1..];
            }
            None => {
                out.push_str(&rest[..open]);
                out.push_str(REDACTED);
                return out;
            }
        }
    }
}

/// Whether a dotted configuration key may hold a secret, so that an error about it must not
/// quote the value.
pub(crate) fn key_may_hold_secret(key: &str) -> bool {
    key.split(['.', '[']).any(|part| {
        matches!(
            part,
            "secrets"
                | "connection_uri"
                | "auth"
                | "password"
                | "headers"
                | "client_secret"
                | "private_key"
                | "apple_private_key"
                | "jwks_url"
        )
    })
}

/// `secrets.*`. The first entry of each list signs or encrypts; all entries verify or decrypt,
/// so secrets rotate by prepending a new one. `Debug` and serialisation show every entry as
/// [`REDACTED`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// `secrets.default` (at least 16 characters each).
    #[serde(serialize_with = "serialize_secret_list")]
    pub default: Vec<Secret>,
    /// `secrets.cookie` (falls back to `secrets.default`).
    #[serde(serialize_with = "serialize_secret_list")]
    pub cookie: Vec<Secret>,
    /// `secrets.cipher` (exactly 32 characters each).
    #[serde(serialize_with = "serialize_secret_list")]
    pub cipher: Vec<Secret>,
    /// `secrets.pagination`.
    #[serde(serialize_with = "serialize_secret_list")]
    pub pagination: Vec<Secret>,
}

impl SecretsConfig {
    /// The cookie secrets, falling back to the default ones.
    pub fn cookie_or_default(&self) -> &[Secret] {
        if self.cookie.is_empty() {
            &self.default
        } else {
            &self.cookie
        }
    }
}

/// `ciphers.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CiphersConfig {
    /// `ciphers.algorithm`: `noop` (default), `aes` or `xchacha20-poly1305`.
    pub algorithm: CipherAlgorithm,
}

/// The ciphers for data at rest.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum CipherAlgorithm {
    /// No encryption: values are only hex-encoded (Kratos's default).
    #[default]
    #[serde(rename = "noop")]
    Noop,
    /// AES-256-GCM.
    #[serde(rename = "aes")]
    Aes,
    /// XChaCha20-Poly1305.
    #[serde(rename = "xchacha20-poly1305")]
    XChaCha20Poly1305,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_debug_hides_the_value() {
        let s = Secret::new("a-known-secret-value");
        assert!(!format!("{s:?}").contains("a-known-secret-value"));
        assert_eq!(s.expose(), "a-known-secret-value");
    }

    #[test]
    fn urls_lose_their_passwords_only() {
        assert_eq!(
            redact_url("postgres://kratos:s3cr%40t@db.example.com:5432/kratos?sslmode=require"),
            "postgres://kratos:<redacted>@db.example.com:5432/kratos?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p@w@host/db"),
            "postgres://u:<redacted>@host/db"
        );
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=hunter2#x"),
            "postgres://host/db?user=u&password=<redacted>#x"
        );
        assert_eq!(
            redact_url("smtps://user@mail.example.com:465/"),
            "smtps://user@mail.example.com:465/"
        );
        assert_eq!(
            redact_url("sqlite://.axum-app/kratos.db?mode=rwc"),
            "sqlite://.axum-app/kratos.db?mode=rwc"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("x://"), "x://");
    }

    #[test]
    fn quoted_values_leave_error_messages() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "s3cret", expected struct X"#, false),
            "invalid type: string <redacted>, expected struct X"
        );
        assert_eq!(
            redact_quoted("unknown field `bdy`, expected `url`", false),
            "unknown field `bdy`, expected `url`"
        );
        assert_eq!(
            redact_quoted("invalid type: integer `12345`, expected a sequence", true),
            "invalid type: integer <redacted>, expected a sequence"
        );
        assert_eq!(redact_quoted(r#"cut "short"#, false), "cut <redacted>");
        assert!(key_may_hold_secret("secrets.default"));
        assert!(key_may_hold_secret("courier.smtp.connection_uri"));
        assert!(!key_may_hold_secret("hashers.argon2.memory"));
    }

    #[test]
    fn hook_configs_lose_their_credentials() {
        let c = json!({
            "url": "https://u:url-pass@hooks.example.com/x",
            "headers": {"X-Token": "header-secret"},
            "auth": {"type": "api_key", "config": {"name": "X-Key", "value": "key-secret", "in": "header"}},
        });
        let text = redact_hook_config(&c).to_string();
        for secret in ["url-pass", "header-secret", "key-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("X-Key") && text.contains("hooks.example.com"));
        let basic =
            json!({"type": "basic_auth", "config": {"user": "me", "password": "pw-secret"}});
        let text = redact_auth(&basic).to_string();
        assert!(!text.contains("pw-secret") && text.contains("me"));
        assert_eq!(redact_auth(&Value::Null), Value::Null);
    }
}

#[cfg(test)]
mod config_tests {
    use super::super::{Config, HookConfig, SecretsConfig};
    use serde_json::json;

    #[test]
    fn hook_config_debug_hides_web_hook_credentials() {
        let hook = HookConfig {
            hook: "web_hook".into(),
            config: json!({
                "url": "https://hooks.example.com/h",
                "auth": {"type": "api_key", "config": {"name": "X-Key", "value": "api-key-secret-1", "in": "header"}},
            }),
        };
        let debug = format!("{hook:?}");
        assert!(!debug.contains("api-key-secret-1"), "{debug}");
        assert!(debug.contains("X-Key"), "{debug}");
        let basic = HookConfig {
            hook: "web_hook".into(),
            config: json!({
                "url": "https://hooks.example.com/h",
                "auth": {"type": "basic_auth", "config": {"user": "hooks", "password": "basic-pw-secret-2"}},
            }),
        };
        let debug = format!("{basic:?}");
        assert!(!debug.contains("basic-pw-secret-2"), "{debug}");
        let written = serde_json::to_string(&basic).unwrap();
        assert!(!written.contains("basic-pw-secret-2"), "{written}");
        assert!(written.contains("hooks.example.com"), "{written}");
    }

    #[test]
    fn config_errors_do_not_quote_secrets() {
        let err = Config::from_yaml_str("secrets:\n  default: 98765432109876543\n").unwrap_err();
        assert_eq!(err.key(), Some("secrets.default"));
        assert!(!err.to_string().contains("98765432109876543"), "{err}");
        let err = Config::from_json_str(
            r#"{"courier":{"smtp":{"connection_uri":{"pw":"smtp-secret-6"}}}}"#,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("smtp-secret-6"), "{err}");
        // Elsewhere the value helps and is kept.
        let err = Config::from_yaml_str("hashers:\n  argon2:\n    memory: lots\n").unwrap_err();
        assert!(err.to_string().contains("lots"), "{err}");
    }

    #[test]
    fn secrets_config_debug_and_serialisation_hide_the_secrets() {
        let c = Config::from_yaml_str(
            "secrets:\n  default: [\"default-secret-value-1\"]\n  cookie: [\"cookie-secret-value-2\"]\n  \
             cipher: [\"cipher-secret-value-3-0123456789\"]\n  pagination: [\"pagination-secret-4\"]\n\
             courier:\n  smtp:\n    connection_uri: smtps://u:smtp-password-5@mail.example.com:465/\n",
        )
        .unwrap();
        let secrets: &SecretsConfig = &c.secrets;
        let debug = format!("{secrets:?}");
        let written = serde_json::to_string(&c).unwrap();
        let whole = format!("{c:?}");
        for secret in [
            "default-secret-value-1",
            "cookie-secret-value-2",
            "cipher-secret-value-3",
            "pagination-secret-4",
            "smtp-password-5",
        ] {
            assert!(!debug.contains(secret), "{debug}");
            assert!(!whole.contains(secret), "{whole}");
            assert!(!written.contains(secret), "{written}");
        }
        let v: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(v["secrets"]["default"], json!([super::REDACTED]));
        assert_eq!(
            v["courier"]["smtp"]["connection_uri"],
            json!(super::REDACTED)
        );
    }
}
