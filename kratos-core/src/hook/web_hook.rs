//! The `web_hook` hook: an HTTP call about the flow.
//!
//! Configuration as Kratos's (`config: {url, method, headers, auth, body, response: {ignore,
//! parse}}`). With `body`, a Jsonnet template (`file://`, `base64://`, `http(s)://`; see
//! [`jsonnet::body`](crate::jsonnet::body)), the request's body is the template's output for
//! Kratos's context `ctx`: `{flow: {id, type, active, request_url}, request_headers,
//! request_url, request_cookies, identity?, session?}` (`request_headers` holds the
//! `User-Agent` when known; this library passes no cookies, and knows neither the request's
//! method nor a `transient_payload`), sent as JSON or, with `Content-Type:
//! application/x-www-form-urlencoded`, as form values. A template that raises
//! `error "cancel"` calls the request off and the hook succeeds; one that fails otherwise
//! fails the hook as an unreachable target does. Templates are read and checked once, when
//! the registry is built (a remote one at its first use). Without `body` the body is this
//! library's context as JSON: `{flow: {id, type, kind}, method, identity, session?,
//! request_url, client: {ip_address, user_agent}}` (Kratos requires a body template).
//!
//! With `response.parse`, the hook runs before the change is written: a 200 answer
//! `{"identity": {"traits": …, "metadata_public": …, "metadata_admin": …}}` amends the
//! identity (registration, settings), a 4xx answer `{"messages": [{"instance_ptr":
//! "#/traits/email", "messages": [{"id", "text", "type", "context"}]}]}` becomes validation
//! messages, and anything else fails the flow with 502. Without it, the hook runs after the
//! change: awaited (a non-2xx answer fails with 502), or detached with `response.ignore`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{HookAbort, HookContext};
use crate::config::{ConfigError, REDACTED};
use crate::flow::FlowError;
use crate::flow::ui::UiText;
use crate::identity::Identity;
use crate::jsonnet::body::{BodyFormat, BodyTemplate, redact_body_source, render};

const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// How a web hook authenticates.
#[derive(Clone)]
pub enum WebHookAuth {
    /// An API key in a header or cookie.
    ApiKey {
        /// Header or cookie name.
        name: String,
        /// The key.
        value: Zeroizing<String>,
        /// `header` or `cookie`.
        in_cookie: bool,
    },
    /// HTTP basic authentication.
    BasicAuth {
        /// User.
        user: String,
        /// Password.
        password: Zeroizing<String>,
    },
}

impl std::fmt::Debug for WebHookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebHookAuth::ApiKey { name, .. } => write!(f, "ApiKey({name}: {REDACTED})"),
            WebHookAuth::BasicAuth { user, .. } => write!(f, "BasicAuth({user}:{REDACTED})"),
        }
    }
}

/// `response` of a web hook.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WebHookResponse {
    /// Fire and forget.
    pub ignore: bool,
    /// Let the answer amend the identity or stop the flow.
    pub parse: bool,
}

/// A parsed `web_hook` configuration.
///
/// `Debug` shows the URL without its password, the header names without their values and the
/// authentication without its key or password.
#[derive(Clone)]
pub struct WebHookConfig {
    /// The target.
    pub url: String,
    /// The HTTP method (default POST).
    pub method: http::Method,
    /// Extra headers (values are not logged).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Authentication.
    pub auth: Option<WebHookAuth>,
    /// Answer handling.
    pub response: WebHookResponse,
    /// `body`: the Jsonnet template of the request's body (its URI), if any.
    pub body: Option<String>,
    /// How the body is encoded (after the `Content-Type` header).
    pub format: BodyFormat,
}

impl std::fmt::Debug for WebHookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("WebHookConfig")
            .field("url", &crate::config::redact_url(&self.url))
            .field("method", &self.method)
            .field("headers", &headers)
            .field("auth", &self.auth)
            .field("response", &self.response)
            .field("body", &self.body.as_deref().map(redact_body_source))
            .field("format", &self.format.encoding)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    auth: Option<RawAuth>,
    #[serde(default)]
    response: WebHookResponse,
    #[serde(default)]
    can_interrupt: bool,
    #[serde(default)]
    emit_analytics_event: Option<bool>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct RawAuth {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    config: Value,
}

impl WebHookConfig {
    pub(crate) fn from_config(config: &Value, key: &str) -> Result<Self, ConfigError> {
        let key = format!("{key}.config");
        // The message may quote a value (an api key in the wrong place): strings are left out.
        let raw: Raw = serde_json::from_value(config.clone()).map_err(|e| {
            ConfigError::invalid(&key, crate::config::redact_quoted(&e.to_string(), false))
        })?;
        let _ = (raw.emit_analytics_event, raw.id);
        let uri: http::Uri = raw
            .url
            .parse()
            .map_err(|e| ConfigError::invalid(format!("{key}.url"), format!("{e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ConfigError::invalid(
                format!("{key}.url"),
                "expected an absolute http or https URL",
            ));
        }
        let method = raw
            .method
            .as_deref()
            .unwrap_or("POST")
            .to_ascii_uppercase()
            .parse::<http::Method>()
            .map_err(|e| ConfigError::invalid(format!("{key}.method"), e.to_string()))?;
        let mut headers = Vec::new();
        for (k, v) in raw.headers {
            let name = http::HeaderName::try_from(k.as_str())
                .map_err(|e| ConfigError::invalid(format!("{key}.headers.{k}"), e.to_string()))?;
            let mut value = http::HeaderValue::try_from(v.as_str())
                .map_err(|e| ConfigError::invalid(format!("{key}.headers.{k}"), e.to_string()))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let auth = match raw.auth {
            None => None,
            Some(a) => {
                let s = |field: &str| -> Result<String, ConfigError> {
                    a.config
                        .get(field)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            ConfigError::invalid(
                                format!("{key}.auth.config.{field}"),
                                "is required",
                            )
                        })
                };
                match a.kind.as_str() {
                    "api_key" => {
                        let place = a
                            .config
                            .get("in")
                            .and_then(Value::as_str)
                            .unwrap_or("header");
                        if !matches!(place, "header" | "cookie") {
                            return Err(ConfigError::invalid(
                                format!("{key}.auth.config.in"),
                                "must be `header` or `cookie`",
                            ));
                        }
                        Some(WebHookAuth::ApiKey {
                            name: s("name")?,
                            value: Zeroizing::new(s("value")?),
                            in_cookie: place == "cookie",
                        })
                    }
                    "basic_auth" => Some(WebHookAuth::BasicAuth {
                        user: s("user")?,
                        password: Zeroizing::new(s("password")?),
                    }),
                    other => {
                        return Err(ConfigError::invalid(
                            format!("{key}.auth.type"),
                            format!("`{other}` is not `api_key` or `basic_auth`"),
                        ));
                    }
                }
            }
        };
        let format = BodyFormat::from_headers(&headers, raw.body.is_some())
            .map_err(|e| ConfigError::invalid(format!("{key}.headers"), e))?;
        let mut response = raw.response;
        response.parse |= raw.can_interrupt;
        if response.parse && response.ignore {
            return Err(ConfigError::invalid(
                format!("{key}.response"),
                "`ignore` and `parse` cannot both be set",
            ));
        }
        Ok(Self {
            url: raw.url,
            method,
            headers,
            auth,
            response,
            body: raw.body,
            format,
        })
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP client web hooks share, with the body templates of every configured web hook,
/// loaded when the registry is built.
#[derive(Clone)]
pub(crate) struct WebHookClient {
    client: HttpClient,
    templates: Arc<HashMap<String, BodyTemplate>>,
}

impl std::fmt::Debug for WebHookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebHookClient")
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

fn failed(reason: impl Into<String>) -> FlowError {
    FlowError::WebHook(reason.into())
}

/// What a hook's body template made of its context: the body, or the request called off.
enum Prepared {
    Send(Bytes),
    Cancelled,
}

impl WebHookClient {
    /// The client, with the body templates `bodies` names (`(key, URI)`: each template is
    /// loaded once, an error names the first key it is at).
    pub(crate) fn new(bodies: &[(String, String)]) -> Result<Self, crate::BuildError> {
        let mut templates = HashMap::new();
        for (key, uri) in bodies {
            if templates.contains_key(uri) {
                continue;
            }
            let template =
                BodyTemplate::load(uri).map_err(|e| ConfigError::invalid(key.clone(), e))?;
            templates.insert(uri.clone(), template);
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| crate::BuildError::WebHook(format!("TLS setup failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            templates: Arc::new(templates),
        })
    }

    /// This library's body without a template.
    fn body(ctx: &HookContext<'_>, identity: &Identity) -> Value {
        json!({
            "flow": {"id": ctx.flow_id, "type": ctx.flow_type, "kind": ctx.flow_kind.as_str()},
            "method": ctx.method,
            "identity": public_identity(identity),
            "session": ctx.session,
            "request_url": ctx.request.request_url,
            "client": {
                "ip_address": ctx.request.client.ip_address,
                "user_agent": ctx.request.client.user_agent,
            },
        })
    }

    /// Kratos's template context (`templateContext`) after a method succeeded.
    fn template_ctx(ctx: &HookContext<'_>, identity: &Identity) -> Value {
        let mut value = request_ctx(ctx.request);
        value["flow"] = json!({
            "id": ctx.flow_id,
            "type": ctx.flow_type,
            "active": ctx.method,
            "request_url": ctx.request.request_url,
        });
        value["identity"] = public_identity(identity);
        if let Some(session) = ctx.session {
            value["session"] = serde_json::to_value(session).unwrap_or(Value::Null);
        }
        value
    }

    /// The body of a call: the template's output for `template_ctx` when the hook has a
    /// template, `plain` as JSON otherwise; nothing when the method is TRACE.
    async fn prepare(
        &self,
        hook: &WebHookConfig,
        template_ctx: impl FnOnce() -> Value,
        plain: impl FnOnce() -> Value,
    ) -> Result<Prepared, FlowError> {
        if hook.method == http::Method::TRACE {
            return Ok(Prepared::Send(Bytes::new()));
        }
        let Some(uri) = &hook.body else {
            return render(None, &hook.format, &plain())
                .await
                .map(Prepared::Send)
                .map_err(|e| failed(e.to_string()));
        };
        let template = self.templates.get(uri).ok_or_else(|| {
            failed(format!(
                "the body template of the web hook {} was not loaded",
                host(hook)
            ))
        })?;
        match render(Some(template), &hook.format, &template_ctx()).await {
            Ok(body) => Ok(Prepared::Send(body)),
            Err(e) if e.is_cancelled() => Ok(Prepared::Cancelled),
            Err(e) => Err(failed(format!(
                "the body of the web hook {}: {e}",
                host(hook)
            ))),
        }
    }

    async fn send(&self, hook: &WebHookConfig, body: Bytes) -> Result<(u16, Bytes), FlowError> {
        let mut req = http::Request::builder()
            .method(hook.method.clone())
            .uri(&hook.url)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "kratos-rs web_hook");
        if hook.method != http::Method::TRACE {
            req = req.header(http::header::CONTENT_TYPE, hook.format.content_type.clone());
        }
        for (k, v) in &hook.headers {
            if k != http::header::CONTENT_TYPE {
                req = req.header(k, v);
            }
        }
        match &hook.auth {
            Some(WebHookAuth::ApiKey {
                name,
                value,
                in_cookie,
            }) => {
                let (header, v) = if *in_cookie {
                    (http::header::COOKIE, format!("{name}={}", value.as_str()))
                } else {
                    (
                        http::HeaderName::try_from(name.as_str())
                            .map_err(|_| failed("the api key header name is invalid"))?,
                        value.to_string(),
                    )
                };
                let mut v = http::HeaderValue::try_from(v)
                    .map_err(|_| failed("the api key is not a valid header value"))?;
                v.set_sensitive(true);
                req = req.header(header, v);
            }
            Some(WebHookAuth::BasicAuth { user, password }) => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.as_str()));
                let mut v = http::HeaderValue::try_from(format!("Basic {token}"))
                    .map_err(|_| failed("the basic auth credentials are not a valid header"))?;
                v.set_sensitive(true);
                req = req.header(http::header::AUTHORIZATION, v);
            }
            None => {}
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| failed(format!("invalid request: {e}")))?;
        let exchange = async {
            let resp =
                self.client.request(req).await.map_err(|_| {
                    failed(format!("the web hook {} could not be reached", host(hook)))
                })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|_| failed("the web hook's answer could not be read"))?
                .to_bytes();
            Ok::<_, FlowError>((status, body))
        };
        tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
            failed(format!(
                "the web hook {} did not answer in time",
                host(hook)
            ))
        })?
    }

    /// Runs a detached call (`response.ignore`): its body is built and sent in the
    /// background, and failures are only logged.
    fn detach(&self, hook: &WebHookConfig, template_ctx: Value, plain: Value) {
        let this = self.clone();
        let hook = hook.clone();
        tokio::spawn(async move {
            let sent = match this.prepare(&hook, || template_ctx, || plain).await {
                Ok(Prepared::Send(body)) => this.send(&hook, body).await.map(drop),
                Ok(Prepared::Cancelled) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::warn!(target: "kratos::hook", error = %e, "a detached web hook failed");
            }
        });
    }

    /// An awaited (or, with `response.ignore`, detached) call after the change.
    pub(crate) async fn call(
        &self,
        hook: &WebHookConfig,
        ctx: &HookContext<'_>,
        identity: &Identity,
    ) -> Result<(), FlowError> {
        if hook.response.ignore {
            self.detach(
                hook,
                Self::template_ctx(ctx, identity),
                Self::body(ctx, identity),
            );
            return Ok(());
        }
        let prepared = self
            .prepare(
                hook,
                || Self::template_ctx(ctx, identity),
                || Self::body(ctx, identity),
            )
            .await?;
        let Prepared::Send(body) = prepared else {
            return Ok(());
        };
        let (status, _) = self.send(hook, body).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(failed(format!(
                "the web hook {} answered with status {status}",
                host(hook)
            )))
        }
    }

    /// A call before a flow is created: `{flow: {type, kind}, request_url, client}` (with a
    /// template, Kratos's context: `{flow: {type}, request_headers, request_url,
    /// request_cookies}`). With `response.parse` a 4xx answer with messages refuses the flow.
    pub(crate) async fn call_before_flow(
        &self,
        hook: &WebHookConfig,
        kind: crate::flow::FlowKind,
        flow_type: crate::flow::FlowType,
        request: &crate::flow::FlowContext,
    ) -> Result<Result<(), HookAbort>, FlowError> {
        let plain = || {
            json!({
                "flow": {"type": flow_type, "kind": kind.as_str()},
                "request_url": request.request_url,
                "client": {
                    "ip_address": request.client.ip_address,
                    "user_agent": request.client.user_agent,
                },
            })
        };
        let template_ctx = || {
            let mut value = request_ctx(request);
            value["flow"] = json!({"type": flow_type, "request_url": request.request_url});
            value
        };
        if hook.response.ignore {
            self.detach(hook, template_ctx(), plain());
            return Ok(Ok(()));
        }
        let Prepared::Send(body) = self.prepare(hook, template_ctx, plain).await? else {
            return Ok(Ok(()));
        };
        let (status, answer) = self.send(hook, body).await?;
        match status {
            200..=299 => Ok(Ok(())),
            400..=499 if hook.response.parse => Ok(Err(messages_of(hook, status, &answer)?)),
            _ => Err(failed(format!(
                "the web hook {} answered with status {status}",
                host(hook)
            ))),
        }
    }

    /// A call whose answer may amend the identity (when `amend`) or stop the flow.
    pub(crate) async fn call_parsed(
        &self,
        hook: &WebHookConfig,
        ctx: &HookContext<'_>,
        identity: &mut Identity,
        amend: bool,
    ) -> Result<Result<(), HookAbort>, FlowError> {
        let prepared = self
            .prepare(
                hook,
                || Self::template_ctx(ctx, identity),
                || Self::body(ctx, identity),
            )
            .await?;
        let Prepared::Send(body) = prepared else {
            return Ok(Ok(()));
        };
        let (status, answer) = self.send(hook, body).await?;
        match status {
            200 if amend => {
                let v: Value = serde_json::from_slice(&answer).map_err(|_| {
                    failed(format!(
                        "the web hook {} answered with invalid JSON",
                        host(hook)
                    ))
                })?;
                if let Some(patch) = v.get("identity") {
                    if let Some(t) = patch.get("traits") {
                        identity.traits = t.clone();
                    }
                    if let Some(m) = patch.get("metadata_public") {
                        identity.metadata_public = Some(m.clone()).filter(|m| !m.is_null());
                    }
                    if let Some(m) = patch.get("metadata_admin") {
                        identity.metadata_admin = Some(m.clone()).filter(|m| !m.is_null());
                    }
                }
                Ok(Ok(()))
            }
            200..=299 => Ok(Ok(())),
            400..=499 => Ok(Err(messages_of(hook, status, &answer)?)),
            _ => Err(failed(format!(
                "the web hook {} answered with status {status}",
                host(hook)
            ))),
        }
    }
}

/// The request's part of Kratos's template context: `request_headers` (the `User-Agent`,
/// the one header known here, in Go's `http.Header` shape), `request_url` and
/// `request_cookies` (none are passed).
fn request_ctx(request: &crate::flow::FlowContext) -> Value {
    let mut headers = serde_json::Map::new();
    if let Some(ua) = &request.client.user_agent {
        headers.insert("User-Agent".into(), json!([ua]));
    }
    json!({
        "request_headers": headers,
        "request_url": request.request_url.as_deref().unwrap_or_default(),
        "request_cookies": {},
    })
}

/// A 4xx answer's `{"messages": [{"instance_ptr", "messages": [...]}]}` as flow messages.
fn messages_of(hook: &WebHookConfig, status: u16, answer: &[u8]) -> Result<HookAbort, FlowError> {
    let parsed: Option<WebHookMessages> = serde_json::from_slice(answer).ok();
    let Some(parsed) = parsed.filter(|p| !p.messages.is_empty()) else {
        return Err(failed(format!(
            "the web hook {} answered with status {status}",
            host(hook)
        )));
    };
    let mut abort = HookAbort {
        messages: Vec::new(),
        node_messages: Vec::new(),
    };
    for group in parsed.messages {
        let node = group
            .instance_ptr
            .trim_start_matches('#')
            .trim_start_matches('/')
            .replace('/', ".");
        for m in group.messages {
            let text = UiText::error(m.id, m.text, m.context);
            if node.is_empty() {
                abort.messages.push(text);
            } else {
                abort.node_messages.push((node.clone(), text));
            }
        }
    }
    Ok(abort)
}

#[derive(Deserialize)]
struct WebHookMessages {
    #[serde(default)]
    messages: Vec<WebHookMessageGroup>,
}

#[derive(Deserialize)]
struct WebHookMessageGroup {
    #[serde(default)]
    instance_ptr: String,
    #[serde(default)]
    messages: Vec<WebHookMessage>,
}

#[derive(Deserialize)]
struct WebHookMessage {
    id: u32,
    text: String,
    #[serde(default)]
    context: Option<Value>,
}

/// The target's host, for error messages (never the path or query, which may carry keys).
fn host(hook: &WebHookConfig) -> String {
    hook.url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "target".into())
}

fn public_identity(identity: &Identity) -> Value {
    let mut i = identity.clone();
    i.credentials.clear();
    serde_json::to_value(i).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(auth: Value) -> WebHookConfig {
        WebHookConfig::from_config(
            &json!({
                "url": "https://hook:url-password-0@hooks.example.com/h",
                "headers": {"X-Shared-Secret": "header-secret-9"},
                "auth": auth,
                "body": "base64://Ym9keS1zZWNyZXQtOA==",
            }),
            "selfservice.flows.login.after.hooks[0]",
        )
        .unwrap()
    }

    #[test]
    fn web_hook_auth_debug_hides_the_key_and_the_password() {
        let key = WebHookAuth::ApiKey {
            name: "X-Key".into(),
            value: Zeroizing::new("auth-api-key-1".into()),
            in_cookie: false,
        };
        assert!(!format!("{key:?}").contains("auth-api-key-1"));
        let basic = WebHookAuth::BasicAuth {
            user: "hooks".into(),
            password: Zeroizing::new("auth-basic-pw-2".into()),
        };
        let debug = format!("{basic:?}");
        assert!(!debug.contains("auth-basic-pw-2") && debug.contains("hooks"));
    }

    #[test]
    fn web_hook_config_errors_do_not_quote_values() {
        let err = WebHookConfig::from_config(
            &json!({"url": "https://hooks.example.com/h", "auth": "misplaced-key-7"}),
            "hooks[0]",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("misplaced-key-7"), "{err}");
        assert_eq!(err.key(), Some("hooks[0].config"));
    }

    #[test]
    fn web_hook_config_debug_hides_every_credential() {
        for auth in [
            json!({"type": "api_key", "config": {"name": "X-Key", "value": "config-key-3", "in": "header"}}),
            json!({"type": "basic_auth", "config": {"user": "hooks", "password": "config-pw-4"}}),
        ] {
            let debug = format!("{:?}", parsed(auth));
            for secret in [
                "Ym9keS1zZWNyZXQtOA",
                "config-key-3",
                "config-pw-4",
                "header-secret-9",
                "url-password-0",
            ] {
                assert!(!debug.contains(secret), "{debug}");
            }
            assert!(debug.contains("hooks.example.com") && debug.contains("x-shared-secret"));
        }
    }
}
