//! The HTTP channel: each message as a request to an endpoint (`courier.http`), its body
//! built by a Jsonnet template as Kratos builds it.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::Message;
use super::channel::{Channel, ChannelError};
use super::config::HttpRequestConfig;
use crate::jsonnet::body::{BodyFormat, BodyTemplate, render};

/// Delivers messages as HTTP requests, as Kratos's `http` delivery strategy does: the
/// request's body is the output of the Jsonnet template `request_config.body` (Kratos's
/// [`HttpChannel::DEFAULT_BODY`] when unset) for the message's context ([`HttpChannel::payload`]), as
/// JSON or, with `Content-Type: application/x-www-form-urlencoded`, as form values (see
/// [`jsonnet::body`](crate::jsonnet::body)). Email and text messages are sent the same way.
/// Any 2xx answer counts as delivered; a template that fails is a failed send, retried as any.
pub struct HttpChannel {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: String,
    method: http::Method,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    body: BodyTemplate,
    format: BodyFormat,
    key: String,
}

impl std::fmt::Debug for HttpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpChannel").finish_non_exhaustive()
    }
}

impl HttpChannel {
    /// Kratos's default `courier.http.request_config.body` (the schema's default): `{recipient,
    /// template_type, to, recovery_code, recovery_url, verification_url, verification_code,
    /// subject, body}`, the `template_data` fields `null` when absent.
    pub const DEFAULT_BODY: &str = "base64://ZnVuY3Rpb24oY3R4KSB7CiAgcmVjaXBpZW50OiBjdHgucmVjaXBpZW50LAogIHRlbXBsYXRlX3R5cGU6IGN0eC50ZW1wbGF0ZV90eXBlLAogIHRvOiBpZiAidGVtcGxhdGVfZGF0YSIgaW4gY3R4ICYmICJ0byIgaW4gY3R4LnRlbXBsYXRlX2RhdGEgdGhlbiBjdHgudGVtcGxhdGVfZGF0YS50byBlbHNlIG51bGwsCiAgcmVjb3ZlcnlfY29kZTogaWYgInRlbXBsYXRlX2RhdGEiIGluIGN0eCAmJiAicmVjb3ZlcnlfY29kZSIgaW4gY3R4LnRlbXBsYXRlX2RhdGEgdGhlbiBjdHgudGVtcGxhdGVfZGF0YS5yZWNvdmVyeV9jb2RlIGVsc2UgbnVsbCwKICByZWNvdmVyeV91cmw6IGlmICJ0ZW1wbGF0ZV9kYXRhIiBpbiBjdHggJiYgInJlY292ZXJ5X3VybCIgaW4gY3R4LnRlbXBsYXRlX2RhdGEgdGhlbiBjdHgudGVtcGxhdGVfZGF0YS5yZWNvdmVyeV91cmwgZWxzZSBudWxsLAogIHZlcmlmaWNhdGlvbl91cmw6IGlmICJ0ZW1wbGF0ZV9kYXRhIiBpbiBjdHggJiYgInZlcmlmaWNhdGlvbl91cmwiIGluIGN0eC50ZW1wbGF0ZV9kYXRhIHRoZW4gY3R4LnRlbXBsYXRlX2RhdGEudmVyaWZpY2F0aW9uX3VybCBlbHNlIG51bGwsCiAgdmVyaWZpY2F0aW9uX2NvZGU6IGlmICJ0ZW1wbGF0ZV9kYXRhIiBpbiBjdHggJiYgInZlcmlmaWNhdGlvbl9jb2RlIiBpbiBjdHgudGVtcGxhdGVfZGF0YSB0aGVuIGN0eC50ZW1wbGF0ZV9kYXRhLnZlcmlmaWNhdGlvbl9jb2RlIGVsc2UgbnVsbCwKICBzdWJqZWN0OiBjdHguc3ViamVjdCwKICBib2R5OiBjdHguYm9keQp9Cg==";

    /// Builds the channel from `courier.http.request_config`.
    ///
    /// # Errors
    ///
    /// A message naming the key (and quoting no secret) when a setting is invalid or the
    /// body template cannot be read or loaded.
    pub fn from_config(config: &HttpRequestConfig) -> Result<Self, String> {
        Self::from_config_at(config, "courier.http.request_config")
    }

    /// Builds the channel from a request configuration at `key` (`courier.http.request_config`,
    /// `courier.channels[0].request_config`), named in its errors.
    ///
    /// # Errors
    ///
    /// As [`HttpChannel::from_config`].
    pub fn from_config_at(config: &HttpRequestConfig, key: &str) -> Result<Self, String> {
        let url = config
            .url
            .clone()
            .ok_or_else(|| format!("{key}.url is not set"))?;
        let method = http::Method::from_bytes(config.method.as_bytes())
            .map_err(|_| format!("{key}.method is invalid"))?;
        let mut headers = Vec::new();
        for (k, v) in &config.headers {
            headers.push((
                http::HeaderName::try_from(k.as_str())
                    .map_err(|_| format!("{key}.headers: invalid name"))?,
                http::HeaderValue::try_from(v.as_str())
                    .map_err(|_| format!("{key}.headers: invalid value"))?,
            ));
        }
        if !config.auth.is_null() {
            let ty = config.auth.get("type").and_then(Value::as_str);
            let c = config.auth.get("config").cloned().unwrap_or(Value::Null);
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
            let (name, value) = match ty {
                Some("basic_auth") => (
                    http::header::AUTHORIZATION,
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!(
                            "{}:{}",
                            s("user"),
                            s("password")
                        ))
                    ),
                ),
                Some("api_key") if s("in") == "cookie" => (
                    http::header::COOKIE,
                    format!("{}={}", s("name"), s("value")),
                ),
                Some("api_key") => (
                    http::HeaderName::try_from(s("name"))
                        .map_err(|_| format!("{key}.auth.config.name is invalid"))?,
                    s("value").to_owned(),
                ),
                _ => return Err(format!("{key}.auth.type must be basic_auth or api_key")),
            };
            let mut value = http::HeaderValue::try_from(value)
                .map_err(|_| format!("{key}.auth is not a valid header value"))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let body_uri = config.body.as_deref().unwrap_or(Self::DEFAULT_BODY);
        let body = BodyTemplate::load(body_uri).map_err(|e| format!("{key}.body: {e}"))?;
        let format =
            BodyFormat::from_headers(&headers, true).map_err(|e| format!("{key}.headers: {e}"))?;
        headers.retain(|(name, _)| name != http::header::CONTENT_TYPE);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            url,
            method,
            headers,
            body,
            format,
            key: key.to_owned(),
        })
    }

    /// The context a message's body template sees (`ctx`), as Kratos's: `{recipient,
    /// subject, body, html_body (when there is one), template_type, template_data,
    /// message_type, request_headers}`. The request headers are not kept with a message
    /// here: `request_headers` is `{}`.
    pub fn payload(message: &Message) -> Value {
        let mut ctx = json!({
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "template_type": message.template_type,
            "template_data": message.template_data,
            "message_type": message.message_type,
            "request_headers": {},
        });
        if let (Some(html), Some(map)) = (&message.html_body, ctx.as_object_mut()) {
            map.insert("html_body".into(), Value::String(html.clone()));
        }
        ctx
    }
}

#[async_trait]
impl Channel for HttpChannel {
    fn name(&self) -> &str {
        "http"
    }

    async fn send(&self, message: &Message) -> Result<(), ChannelError> {
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.url)
            .header(http::header::USER_AGENT, "kratos-rs courier");
        // Every method but TRACE carries the body, as in Kratos.
        let body = if self.method == http::Method::TRACE {
            Bytes::new()
        } else {
            req = req.header(http::header::CONTENT_TYPE, self.format.content_type.clone());
            render(Some(&self.body), &self.format, &Self::payload(message))
                .await
                .map_err(|e| ChannelError::new(format!("{}.body: {e}", self.key)))?
        };
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|_| ChannelError::new("invalid courier.http request"))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|_| ChannelError::new("the courier endpoint could not be reached"))?;
            let status = resp.status();
            let _ = resp.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(ChannelError::new(format!(
                    "the courier endpoint answered {}",
                    status.as_u16()
                )))
            }
        };
        tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .map_err(|_| ChannelError::new("the courier endpoint did not answer in time"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::courier::{MessageStatus, MessageType, TemplateType};

    fn message(html_body: Option<&str>, message_type: MessageType) -> Message {
        let now = chrono::Utc::now();
        Message {
            id: uuid::Uuid::now_v7(),
            status: MessageStatus::Queued,
            message_type,
            recipient: "+15551234567".into(),
            subject: String::new(),
            body: "Your code: 123456".into(),
            html_body: html_body.map(str::to_owned),
            template_type: TemplateType::LoginCodeValid,
            template_data: json!({"login_code": "123456"}),
            send_count: 0,
            send_after: now,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_template_context_is_kratos_http_data_model() {
        let ctx = HttpChannel::payload(&message(None, MessageType::Sms));
        assert_eq!(
            ctx,
            json!({
                "recipient": "+15551234567",
                "subject": "",
                "body": "Your code: 123456",
                "template_type": "login_code_valid",
                "template_data": {"login_code": "123456"},
                "message_type": "sms",
                "request_headers": {},
            })
        );
        let ctx = HttpChannel::payload(&message(Some("<p>hi</p>"), MessageType::Email));
        assert_eq!(ctx["html_body"], "<p>hi</p>");
        assert_eq!(ctx["message_type"], "email");
    }

    #[test]
    fn kratos_default_body_loads() {
        let channel = HttpChannel::from_config(&HttpRequestConfig {
            url: Some("https://mail.example.com/send".into()),
            ..HttpRequestConfig::default()
        })
        .unwrap();
        assert_eq!(channel.format.content_type, "application/json");
        let err = HttpChannel::from_config_at(
            &HttpRequestConfig {
                url: Some("https://sms.example.com/send".into()),
                body: Some("base64://e2E6IG5vcGV9".into()),
                ..HttpRequestConfig::default()
            },
            "courier.channels[0].request_config",
        )
        .unwrap_err();
        assert!(
            err.starts_with("courier.channels[0].request_config.body:"),
            "{err}"
        );
    }

    #[test]
    fn http_channel_debug_hides_the_credentials() {
        let config = HttpRequestConfig {
            url: Some("https://u:http-url-pw-1@mail.example.com/send".into()),
            auth: json!({"type": "api_key", "config": {"name": "X-Key", "value": "http-key-2", "in": "header"}}),
            ..HttpRequestConfig::default()
        };
        let channel = HttpChannel::from_config(&config).unwrap();
        let debug = format!("{channel:?}");
        for secret in ["http-url-pw-1", "http-key-2"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
