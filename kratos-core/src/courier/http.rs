//! The HTTP channel: each message as a JSON request to an endpoint (`courier.http`).

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

/// Delivers messages as JSON requests, as Kratos's `http` delivery strategy does. The body is
/// `{recipient, subject, body, html_body, template_type, template_data, message_type}`; any
/// 2xx answer counts as delivered.
pub struct HttpChannel {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: String,
    method: http::Method,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl std::fmt::Debug for HttpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpChannel").finish_non_exhaustive()
    }
}

impl HttpChannel {
    /// Builds the channel from `courier.http.request_config`.
    pub fn from_config(config: &HttpRequestConfig) -> Result<Self, String> {
        Self::from_config_at(config, "courier.http.request_config")
    }

    /// Builds the channel from the request configuration at `key` (such as
    /// `courier.channels[0].request_config`); errors name that key and quote no value.
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
        })
    }

    /// The JSON body for a message.
    pub fn payload(message: &Message) -> Value {
        json!({
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "html_body": message.html_body,
            "template_type": message.template_type,
            "template_data": message.template_data,
            "message_type": message.message_type,
        })
    }
}

#[async_trait]
impl Channel for HttpChannel {
    fn name(&self) -> &str {
        "http"
    }

    async fn send(&self, message: &Message) -> Result<(), ChannelError> {
        let body = serde_json::to_vec(&Self::payload(message))
            .map_err(|_| ChannelError::new("the message could not be encoded"))?;
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "kratos-rs courier");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
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
