//! `courier.*` configuration, with Kratos's keys and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{KratosDuration, Secret};

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
    /// secret.
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
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpRequestConfig {
    /// `url`
    pub url: Option<String>,
    /// `method` (default `POST`).
    pub method: String,
    /// `headers`
    pub headers: BTreeMap<String, String>,
    /// `auth`: `{type: basic_auth, config: {user, password}}` or `{type: api_key, config:
    /// {name, value, in: header|cookie}}`.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub auth: serde_json::Value,
}

impl Default for HttpRequestConfig {
    fn default() -> Self {
        Self {
            url: None,
            method: "POST".into(),
            headers: BTreeMap::new(),
            auth: serde_json::Value::Null,
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

/// `courier.templates`: `<group>.<valid|invalid>.email.{subject, body.{plaintext, html}}`,
/// where `<group>` is `verification_code`, `verification`, `recovery_code`, `recovery`,
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
