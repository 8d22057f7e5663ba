//! `courier.*` configuration, with Kratos's keys and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{
    ConfigError, KratosDuration, REDACTED, Secret, redact_auth, redact_url, serialize_auth,
    serialize_secret_option,
};

/// `courier.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CourierConfig {
    /// `courier.delivery_strategy`: `smtp` (default) or `http`.
    pub delivery_strategy: String,
    /// `courier.smtp`
    pub smtp: SmtpConfig,
    /// `courier.http`
    pub http: HttpDeliveryConfig,
    /// `courier.message_retries`: failed sends before a message is abandoned (default 5).
    pub message_retries: u32,
    /// `courier.worker`
    pub worker: WorkerConfig,
    /// `courier.templates`: per-template overrides.
    pub templates: CourierTemplatesConfig,
    /// `courier.channels`: the channels of messages other than email (Kratos has one, `sms`).
    pub channels: Vec<CourierChannelConfig>,
}

impl Default for CourierConfig {
    fn default() -> Self {
        Self {
            delivery_strategy: "smtp".into(),
            smtp: SmtpConfig::default(),
            http: HttpDeliveryConfig::default(),
            message_retries: 5,
            worker: WorkerConfig::default(),
            templates: CourierTemplatesConfig::default(),
            channels: Vec::new(),
        }
    }
}

impl CourierConfig {
    /// The configured `sms` channel and its index in `courier.channels`, if any.
    pub fn sms_channel(&self) -> Option<(usize, &CourierChannelConfig)> {
        self.channels
            .iter()
            .enumerate()
            .find(|(_, c)| c.id == CourierChannelId::Sms)
    }

    /// Checks what serde cannot: each channel id appears once in `courier.channels`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `courier.channels[i].id` of the second channel with an
    /// id already taken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, channel) in self.channels.iter().enumerate() {
            if self.channels[..i].iter().any(|c| c.id == channel.id) {
                return Err(ConfigError::invalid(
                    format!("courier.channels[{i}].id"),
                    format!(
                        "the channel `{}` is configured more than once",
                        channel.id.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One entry of `courier.channels`: `{id: sms, type: http, request_config: …}`. An unknown
/// `id` or `type` is a configuration error naming its key (`courier.channels[0].id`).
///
/// Its credentials stay out of `Debug` and serialisation as those of
/// `courier.http.request_config` do ([`HttpRequestConfig`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CourierChannelConfig {
    /// `id`: which messages the channel delivers (`sms`: text messages).
    pub id: CourierChannelId,
    /// `type`: how it delivers them (`http`, the default and the one type).
    #[serde(rename = "type", default)]
    pub channel_type: CourierChannelType,
    /// `request_config`: the HTTP request for each message.
    pub request_config: HttpRequestConfig,
}

/// The id of a courier channel (`courier.channels[].id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CourierChannelId {
    /// `sms`: text messages ([`MessageType::Sms`](super::MessageType::Sms)).
    Sms,
}

impl CourierChannelId {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CourierChannelId::Sms => "sms",
        }
    }

    /// The type of the messages the channel delivers.
    pub fn message_type(&self) -> super::MessageType {
        match self {
            CourierChannelId::Sms => super::MessageType::Sms,
        }
    }
}

/// The type of a courier channel (`courier.channels[].type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CourierChannelType {
    /// `http`: one HTTP request per message (the `courier-http` feature).
    #[default]
    Http,
}

impl CourierChannelType {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CourierChannelType::Http => "http",
        }
    }
}

/// `courier.smtp`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SmtpConfig {
    /// `connection_uri`: `smtp://user:pass@host:587/` (STARTTLS required unless
    /// `?disable_starttls=true`) or `smtps://user:pass@host:465/` (implicit TLS);
    /// `?skip_ssl_verify=true` and `?server_name=` are honoured. Holds a password: kept as a
    /// secret (`Debug` and serialisation show [`REDACTED`]).
    #[serde(serialize_with = "serialize_secret_option")]
    pub connection_uri: Option<Secret>,
    /// `from_address` (default `no-reply@ory.kratos.sh`).
    pub from_address: String,
    /// `from_name`
    pub from_name: Option<String>,
    /// `headers`: extra headers on every email.
    pub headers: BTreeMap<String, String>,
    /// `local_name`: the name given in `EHLO` (default `localhost`).
    pub local_name: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            connection_uri: None,
            from_address: "no-reply@ory.kratos.sh".into(),
            from_name: None,
            headers: BTreeMap::new(),
            local_name: "localhost".into(),
        }
    }
}

/// `courier.http`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpDeliveryConfig {
    /// `request_config`
    pub request_config: HttpRequestConfig,
}

/// `courier.http.request_config`
///
/// Its credentials stay out of `Debug` (the URL's password, header values and the `auth`
/// values are redacted) and out of serialisation (the URL's password and the `auth` values,
/// [`redact_auth`]).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpRequestConfig {
    /// `url`
    #[serde(serialize_with = "serialize_url_option")]
    pub url: Option<String>,
    /// `method` (default `POST`).
    pub method: String,
    /// `headers`
    pub headers: BTreeMap<String, String>,
    /// `auth`: `{type: basic_auth, config: {user, password}}` or `{type: api_key, config:
    /// {name, value, in: header|cookie}}`.
    #[serde(
        default,
        skip_serializing_if = "serde_json::Value::is_null",
        serialize_with = "serialize_auth"
    )]
    pub auth: serde_json::Value,
    /// `body`: the Jsonnet template of the request's body (`file://…`, `base64://…`,
    /// `http(s)://…`), evaluated with the message's context as `ctx`; unset, Kratos's default
    /// template. `Debug` leaves out a base64 template's text and a URL's password;
    /// serialisation a URL's password.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_url_option"
    )]
    pub body: Option<String>,
}

/// A body template's source without a base64 template's text or a URL's password.
fn redact_body(body: &str) -> String {
    if body.starts_with("base64://") {
        format!("base64://{REDACTED}")
    } else {
        redact_url(body)
    }
}

fn serialize_url_option<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    url.as_deref().map(redact_url).serialize(s)
}

impl std::fmt::Debug for HttpRequestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .keys()
            .map(|k| (k.as_str(), REDACTED))
            .collect();
        f.debug_struct("HttpRequestConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("method", &self.method)
            .field("headers", &headers)
            .field("auth", &redact_auth(&self.auth))
            .field("body", &self.body.as_deref().map(redact_body))
            .finish()
    }
}

impl Default for HttpRequestConfig {
    fn default() -> Self {
        Self {
            url: None,
            method: "POST".into(),
            headers: BTreeMap::new(),
            auth: serde_json::Value::Null,
            body: None,
        }
    }
}

/// `courier.worker`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// `pull_count`: messages per batch (default 10).
    pub pull_count: usize,
    /// `pull_wait`: the pause between batches when the queue is drained (default 1s).
    pub pull_wait: KratosDuration,
    /// `claim_timeout`: a message claimed longer ago than this by a worker that never
    /// reported back (it crashed) is claimed again (default 10m). Not a Kratos key.
    pub claim_timeout: KratosDuration,
    /// `retry_backoff`: the wait after the first failed send, doubling with each further
    /// failure (default 30s). Not a Kratos key.
    pub retry_backoff: KratosDuration,
    /// `max_backoff`: the longest wait between retries (default 1h). Not a Kratos key.
    pub max_backoff: KratosDuration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            pull_count: 10,
            pull_wait: KratosDuration(Duration::from_secs(1)),
            claim_timeout: KratosDuration(Duration::from_secs(600)),
            retry_backoff: KratosDuration(Duration::from_secs(30)),
            max_backoff: KratosDuration(Duration::from_secs(3600)),
        }
    }
}

/// `courier.templates`: `<group>.<valid|invalid>.email.{subject, body.{plaintext, html}}`
/// and `<group>.<valid|invalid>.sms.body.plaintext`, where `<group>` is `verification_code`, `verification`, `recovery_code`, `recovery`,
/// `login_code` or `registration_code`. Each value is a `file://` path, a `base64://`
/// template, or the template text itself.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct CourierTemplatesConfig(pub BTreeMap<String, TemplateGroupConfig>);

/// One template group's overrides.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TemplateGroupConfig {
    /// `valid`
    pub valid: Option<TemplateChannels>,
    /// `invalid`
    pub invalid: Option<TemplateChannels>,
}

/// The channels of a template.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TemplateChannels {
    /// `email`
    pub email: Option<EmailTemplateConfig>,
    /// `sms`
    pub sms: Option<SmsTemplateConfig>,
}

/// A text message template's sources (`sms.body.plaintext`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SmsTemplateConfig {
    /// `body`
    pub body: SmsBodyConfig,
}

/// A text message body's source.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SmsBodyConfig {
    /// `plaintext`
    pub plaintext: Option<String>,
}

/// An email template's sources.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EmailTemplateConfig {
    /// `subject`
    pub subject: Option<String>,
    /// `body`
    pub body: EmailBodyConfig,
}

/// An email body's sources.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EmailBodyConfig {
    /// `plaintext`
    pub plaintext: Option<String>,
    /// `html`
    pub html: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http_request_config() -> HttpRequestConfig {
        HttpRequestConfig {
            url: Some("https://mailer:url-password-1@mail.example.com/send".into()),
            method: "POST".into(),
            headers: BTreeMap::from([("X-Token".to_owned(), "header-secret-2".to_owned())]),
            auth: json!({"type": "basic_auth", "config": {"user": "mailer", "password": "auth-password-3"}}),
            body: Some("base64://Ym9keS1zZWNyZXQtNg==".into()),
        }
    }

    const HTTP_SECRETS: [&str; 3] = ["url-password-1", "header-secret-2", "auth-password-3"];

    #[test]
    fn http_request_config_debug_hides_credentials() {
        let c = http_request_config();
        let debug = format!("{c:?}");
        for secret in HTTP_SECRETS {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("mail.example.com") && debug.contains("X-Token"));
        // The base64 body template's text ("body-secret-6") is not shown either.
        assert!(!debug.contains("Ym9keS1zZWNyZXQtNg"), "{debug}");
        let remote = HttpRequestConfig {
            body: Some("https://u:body-url-pw-7@templates.example.com/b.jsonnet".into()),
            ..HttpRequestConfig::default()
        };
        assert!(!format!("{remote:?}").contains("body-url-pw-7"));
        assert!(
            !serde_json::to_string(&remote)
                .unwrap()
                .contains("body-url-pw-7")
        );
        let written = serde_json::to_string(&c).unwrap();
        for secret in ["url-password-1", "auth-password-3"] {
            assert!(!written.contains(secret), "{written}");
        }
        let api_key = HttpRequestConfig {
            auth: json!({"type": "api_key", "config": {"name": "X-Api-Key", "value": "api-key-4", "in": "header"}}),
            ..HttpRequestConfig::default()
        };
        assert!(!format!("{api_key:?}").contains("api-key-4"));
    }

    #[test]
    fn smtp_config_debug_hides_the_connection_password() {
        let c = SmtpConfig {
            connection_uri: Some(Secret::new(
                "smtps://u:smtp-password-5@mail.example.com:465/",
            )),
            ..SmtpConfig::default()
        };
        assert!(!format!("{c:?}").contains("smtp-password-5"));
        assert!(
            !serde_json::to_string(&c)
                .unwrap()
                .contains("smtp-password-5")
        );
    }

    #[test]
    fn courier_config_debug_hides_every_channel_credential() {
        let c = CourierConfig {
            smtp: SmtpConfig {
                connection_uri: Some(Secret::new("smtp://u:smtp-password-5@mail.example.com/")),
                ..SmtpConfig::default()
            },
            http: HttpDeliveryConfig {
                request_config: http_request_config(),
            },
            ..CourierConfig::default()
        };
        let debug = format!("{c:?}");
        for secret in HTTP_SECRETS.iter().chain(&["smtp-password-5"]) {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    fn courier_yaml(channels: &str) -> Result<crate::Config, ConfigError> {
        crate::Config::from_yaml_str(&format!("courier:\n  channels:\n{channels}"))
    }

    #[test]
    fn an_sms_channel_is_read_from_courier_channels() {
        let config = courier_yaml(
            "    - id: sms\n      type: http\n      request_config:\n        \
             url: https://sms.example.com/send\n        method: PUT\n",
        )
        .unwrap();
        let (i, sms) = config.courier.sms_channel().unwrap();
        assert_eq!(i, 0);
        assert_eq!(sms.id.message_type(), crate::courier::MessageType::Sms);
        assert_eq!(sms.channel_type, CourierChannelType::Http);
        assert_eq!(
            sms.request_config.url.as_deref(),
            Some("https://sms.example.com/send")
        );
        assert_eq!(sms.request_config.method, "PUT");
        config.courier.validate().unwrap();
        // `type` may be left out: http is the one type.
        let untyped =
            courier_yaml("    - id: sms\n      request_config: {url: https://s.example/}\n")
                .unwrap();
        assert_eq!(
            untyped.courier.sms_channel().unwrap().1.channel_type,
            CourierChannelType::Http
        );
        assert!(CourierConfig::default().sms_channel().is_none());
    }

    #[test]
    fn unknown_channel_ids_and_types_name_their_key() {
        let err = courier_yaml("    - id: fax\n      request_config: {url: https://s.example/}\n")
            .unwrap_err();
        assert_eq!(err.key(), Some("courier.channels[0].id"), "{err}");
        let err = courier_yaml(
            "    - id: sms\n      type: smtp\n      request_config: {url: https://s.example/}\n",
        )
        .unwrap_err();
        assert_eq!(err.key(), Some("courier.channels[0].type"), "{err}");
        let err = courier_yaml("    - id: sms\n").unwrap_err();
        assert!(err.to_string().contains("request_config"), "{err}");
        let twice = courier_yaml(
            "    - id: sms\n      request_config: {url: https://a.example/}\n    \
             - id: sms\n      request_config: {url: https://b.example/}\n",
        )
        .unwrap();
        let err = twice.courier.validate().unwrap_err();
        assert_eq!(err.key(), Some("courier.channels[1].id"), "{err}");
    }

    #[test]
    fn channel_credentials_stay_out_of_debug_and_serialisation() {
        let c = CourierConfig {
            channels: vec![CourierChannelConfig {
                id: CourierChannelId::Sms,
                channel_type: CourierChannelType::Http,
                request_config: http_request_config(),
            }],
            ..CourierConfig::default()
        };
        let debug = format!("{c:?}");
        for secret in HTTP_SECRETS {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("mail.example.com"), "{debug}");
        let written = serde_json::to_string(&c).unwrap();
        for secret in ["url-password-1", "auth-password-3"] {
            assert!(!written.contains(secret), "{written}");
        }
        assert!(written.contains(r#""id":"sms","type":"http""#), "{written}");
        let api_key = CourierChannelConfig {
            id: CourierChannelId::Sms,
            channel_type: CourierChannelType::Http,
            request_config: HttpRequestConfig {
                auth: json!({"type": "api_key", "config": {"name": "X-Api-Key", "value": "api-key-4", "in": "header"}}),
                ..HttpRequestConfig::default()
            },
        };
        assert!(!format!("{api_key:?}").contains("api-key-4"));
        assert!(
            !serde_json::to_string(&api_key)
                .unwrap()
                .contains("api-key-4")
        );
    }
}
