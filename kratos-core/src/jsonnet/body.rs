//! Request bodies from Jsonnet templates, as Kratos's `request.Builder` builds them for the
//! courier's HTTP channels and the `web_hook` hook.
//!
//! A body template is named by a URI (`courier.http.request_config.body`,
//! `courier.channels[].request_config.body`, a web hook's `config.body`): `file://path`,
//! `base64://…`, `http(s)://…`, or (deprecated in Kratos, accepted with a warning) a plain
//! path. File and base64 templates are read and checked once, by [`BodyTemplate::load`];
//! a remote one is fetched at its first use and kept for [`REMOTE_TEMPLATE_TTL`] (Kratos
//! keeps fetched templates for an hour too).
//!
//! The template is evaluated with the context as its top-level argument `ctx`. Its output is
//! encoded after the request's `Content-Type` header ([`BodyFormat`]):
//!
//! - `application/json` (also when no `Content-Type` is configured; the header is then
//!   added): the output is the body, whatever JSON value it is. An `error "cancel"` in the
//!   template calls the request off ([`BodyError::is_cancelled`]).
//! - `application/x-www-form-urlencoded`: the output must be an object whose values are
//!   strings (a `null` value is an empty string, a `null` output an empty body, as Go's
//!   `json.Unmarshal` into `map[string]string` reads them); it is sent as form values in
//!   key order, escaped as Go's `url.QueryEscape`. Anything else fails, and so does
//!   `error "cancel"` here (Kratos checks for the cancellation on JSON bodies only).
//!
//! Any other `Content-Type` with a template is a configuration error (Kratos fails each
//! request with it). Parameters of the media type (`; charset=utf-8`) are ignored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use serde_json::Value;

use super::{JsonnetError, JsonnetTemplate};
use crate::config::redact_url;

/// How long a fetched remote template is used before it is fetched again.
pub const REMOTE_TEMPLATE_TTL: Duration = Duration::from_secs(3600);

/// The largest remote template read.
pub const MAX_REMOTE_TEMPLATE_BYTES: usize = 1 << 20;

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// `application/json`
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// `application/x-www-form-urlencoded`
pub const CONTENT_TYPE_FORM: &str = "application/x-www-form-urlencoded";

/// How a body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    /// The template's output (or the context) as JSON.
    Json,
    /// The template's output object as form values.
    Form,
}

/// The encoding of a request's body and the `Content-Type` it is sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyFormat {
    /// The encoding.
    pub encoding: BodyEncoding,
    /// The header's value: the configured one, or `application/json`.
    pub content_type: http::HeaderValue,
}

impl BodyFormat {
    /// The format the configured headers ask for: a `Content-Type` of `application/json`
    /// (or none) is JSON, `application/x-www-form-urlencoded` form values (only with a
    /// template: without one the body is the context as JSON).
    ///
    /// # Errors
    ///
    /// A reason (quoting no header value) when the `Content-Type` is anything else, or a
    /// form without a template.
    pub fn from_headers(
        headers: &[(http::HeaderName, http::HeaderValue)],
        templated: bool,
    ) -> Result<Self, String> {
        let Some((_, value)) = headers
            .iter()
            .find(|(name, _)| name == http::header::CONTENT_TYPE)
        else {
            return Ok(Self {
                encoding: BodyEncoding::Json,
                content_type: http::HeaderValue::from_static(CONTENT_TYPE_JSON),
            });
        };
        let essence = value
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let encoding = match essence.as_str() {
            CONTENT_TYPE_JSON => BodyEncoding::Json,
            CONTENT_TYPE_FORM if templated => BodyEncoding::Form,
            CONTENT_TYPE_FORM => {
                return Err(format!(
                    "a `Content-Type` of {CONTENT_TYPE_FORM} needs a Jsonnet body template (`body`)"
                ));
            }
            _ => {
                return Err(format!(
                    "the `Content-Type` of a request with a body must be {CONTENT_TYPE_JSON} or {CONTENT_TYPE_FORM}"
                ));
            }
        };
        Ok(Self {
            encoding,
            content_type: value.clone(),
        })
    }
}

/// Why a body could not be built. Its text quotes no value of the context.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The template failed (or cancelled the request: [`BodyError::is_cancelled`]).
    #[error(transparent)]
    Template(#[from] JsonnetError),
    /// A remote template could not be fetched.
    #[error("the Jsonnet template {url} could not be fetched: {reason}")]
    Fetch {
        /// The template's URL, without a password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The output cannot be sent as form values.
    #[error("the Jsonnet template's output cannot be sent as a form: {0}")]
    NotAForm(&'static str),
}

impl BodyError {
    /// Whether the template called the request off (`error "cancel"`).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BodyError::Template(JsonnetError::Cancelled))
    }
}

/// A body template, loaded (file, base64) or fetched at first use (http, https). Cheap to
/// clone; `Debug` shows where it comes from, without a base64 template's text or a URL's
/// password.
#[derive(Clone)]
pub struct BodyTemplate(Arc<Source>);

enum Source {
    Loaded(JsonnetTemplate),
    Remote(Box<Remote>),
}

struct Remote {
    url: String,
    client: FetchClient,
    cached: tokio::sync::Mutex<Option<(Instant, JsonnetTemplate)>>,
}

impl std::fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Source::Loaded(t) => f.debug_tuple("BodyTemplate").field(&t.label()).finish(),
            Source::Remote(r) => f
                .debug_tuple("BodyTemplate")
                .field(&redact_url(&r.url))
                .finish(),
        }
    }
}

/// A body source for `Debug` output and messages: a base64 template's text and a URL's
/// password left out.
pub fn redact_body_source(uri: &str) -> String {
    if uri.starts_with("base64://") {
        format!("base64://{}", crate::config::REDACTED)
    } else {
        redact_url(uri)
    }
}

impl BodyTemplate {
    /// Loads the template `uri` names: reads and checks a `file://` or `base64://`
    /// template (or a plain path, with a warning, as Kratos still reads them), or prepares
    /// the fetch of an `http(s)://` one.
    ///
    /// # Errors
    ///
    /// A reason (quoting no base64 text) when the template cannot be read, decoded or
    /// loaded, or the URI is not one of these.
    pub fn load(uri: &str) -> Result<Self, String> {
        let uri = uri.trim();
        if let Some(b64) = uri.strip_prefix("base64://") {
            let b64 = b64.trim();
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            let bytes = engines
                .iter()
                .find_map(|e| e.decode(b64).ok())
                .ok_or("the base64 template is not valid base64")?;
            let text = String::from_utf8(bytes).map_err(|_| "the template is not UTF-8")?;
            return Self::compiled("base64://", text);
        }
        if uri.starts_with("http://") || uri.starts_with("https://") {
            let parsed = url::Url::parse(uri).map_err(|e| format!("invalid URL: {e}"))?;
            if parsed.host_str().is_none() {
                return Err("the template URL has no host".into());
            }
            return Ok(Self(Arc::new(Source::Remote(Box::new(Remote {
                url: uri.to_owned(),
                client: fetch_client()?,
                cached: tokio::sync::Mutex::new(None),
            })))));
        }
        let path = match uri.strip_prefix("file://") {
            Some(path) => path,
            None if uri.contains("://") => {
                return Err(
                    "the template must be a file://, base64://, http:// or https:// URI".into(),
                );
            }
            None => {
                tracing::warn!(
                    path = uri,
                    "a Jsonnet template given as a plain path is deprecated; use file://{uri}"
                );
                uri
            }
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Self::compiled(&format!("file://{path}"), text)
    }

    /// A template from its text (`label` names it in messages and `std.thisFile`).
    ///
    /// # Errors
    ///
    /// The reason when it does not load.
    pub fn from_source(label: &str, source: impl Into<String>) -> Result<Self, String> {
        Self::compiled(label, source.into())
    }

    fn compiled(label: &str, text: String) -> Result<Self, String> {
        let template = JsonnetTemplate::compile(label, text).map_err(|e| e.to_string())?;
        Ok(Self(Arc::new(Source::Loaded(template))))
    }

    /// The template, fetched when it is remote and not fetched within
    /// [`REMOTE_TEMPLATE_TTL`].
    pub(crate) async fn template(&self) -> Result<JsonnetTemplate, BodyError> {
        match &*self.0 {
            Source::Loaded(t) => Ok(t.clone()),
            Source::Remote(remote) => {
                let mut cached = remote.cached.lock().await;
                if let Some((at, t)) = &*cached
                    && at.elapsed() < REMOTE_TEMPLATE_TTL
                {
                    return Ok(t.clone());
                }
                let fetched = remote.fetch().await?;
                *cached = Some((Instant::now(), fetched.clone()));
                Ok(fetched)
            }
        }
    }
}

type FetchClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

/// The client remote templates are fetched with (rustls on ring, webpki roots).
fn fetch_client() -> Result<FetchClient, String> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}

impl Remote {
    async fn fetch(&self) -> Result<JsonnetTemplate, BodyError> {
        let label = redact_url(&self.url);
        let failed = |reason: String| BodyError::Fetch {
            url: label.clone(),
            reason,
        };
        let req = http::Request::get(&self.url)
            .header(http::header::USER_AGENT, "kratos-rs")
            .body(Empty::<Bytes>::new())
            .map_err(|e| failed(format!("invalid request: {e}")))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|_| failed("the server could not be reached".into()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(failed(format!("the server answered {}", status.as_u16())));
            }
            Limited::new(resp.into_body(), MAX_REMOTE_TEMPLATE_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|_| {
                    failed(format!(
                        "the answer could not be read or is larger than {MAX_REMOTE_TEMPLATE_BYTES} bytes"
                    ))
                })
        };
        let bytes = tokio::time::timeout(FETCH_TIMEOUT, exchange)
            .await
            .map_err(|_| failed("the server did not answer in time".into()))??;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| failed("the template is not UTF-8".into()))?;
        let template = tokio::task::spawn_blocking(move || JsonnetTemplate::compile(label, text))
            .await
            .map_err(|_| JsonnetError::Failed("the check ended abnormally".into()))??;
        Ok(template)
    }
}

/// Builds a body: the template's output for `ctx` encoded as `format` says, or without a
/// template `ctx` itself as JSON.
///
/// # Errors
///
/// [`BodyError`] when the template fails, cancels, cannot be fetched, or its output is not
/// a form's.
pub async fn render(
    template: Option<&BodyTemplate>,
    format: &BodyFormat,
    ctx: &Value,
) -> Result<Bytes, BodyError> {
    let Some(template) = template else {
        let json = serde_json::to_vec(ctx)
            .map_err(|_| JsonnetError::Failed("the context could not be encoded as JSON".into()))?;
        return Ok(Bytes::from(json));
    };
    let template = template.template().await?;
    let output = match template.evaluate(ctx).await {
        // Kratos calls the request off on JSON bodies only.
        Err(JsonnetError::Cancelled) if format.encoding == BodyEncoding::Form => {
            return Err(JsonnetError::Runtime {
                reason: "the template raised an error".into(),
                position: None,
            }
            .into());
        }
        other => other?,
    };
    match format.encoding {
        BodyEncoding::Json => Ok(Bytes::from(output)),
        BodyEncoding::Form => form(&output).map(Bytes::from),
    }
}

/// A template's output as form values: an object of strings (`null` is empty), keys in
/// order, escaped as Go's `url.QueryEscape`.
fn form(output: &str) -> Result<String, BodyError> {
    let value: Value = serde_json::from_str(output)
        .map_err(|_| BodyError::NotAForm("it is not JSON this library reads"))?;
    let map = match value {
        Value::Null => return Ok(String::new()),
        Value::Object(map) => map,
        _ => return Err(BodyError::NotAForm("it is not an object")),
    };
    let mut pairs: Vec<_> = map.iter().collect();
    // In key order, as Go's `url.Values.Encode` writes them.
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (key, value) in pairs {
        let value = match value {
            Value::String(s) => s.as_str(),
            Value::Null => "",
            _ => return Err(BodyError::NotAForm("a value is not a string")),
        };
        if !out.is_empty() {
            out.push('&');
        }
        query_escape(key, &mut out);
        out.push('=');
        query_escape(value, &mut out);
    }
    Ok(out)
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` stay, a space is `+`, every other
/// byte `%XX`.
fn query_escape(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
