//! What the HTTP tests share: a request builder, the answer, a browser's cookie jar and
//! readers of flow bodies.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kratos_core::courier::MemoryOutbox;
use kratos_core::{Kratos, ManualClock};
use serde_json::Value;
use tower::ServiceExt;

/// An answer: status, headers and the body (JSON, or the text as a JSON string).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Res {
    /// The `Location` header, or "".
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The Kratos error id of an error body, or "".
    pub fn error_id(&self) -> &str {
        self.body["error"]["id"].as_str().unwrap_or("")
    }

    /// The ids of the flow's messages (form and nodes).
    pub fn message_ids(&self) -> Vec<u64> {
        message_ids(&self.body)
    }
}

/// The ids of a flow's messages (form and nodes).
pub fn message_ids(flow: &Value) -> Vec<u64> {
    let form = flow["ui"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let nodes = flow["ui"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .flat_map(|n| n["messages"].as_array().cloned().unwrap_or_default());
    form.into_iter()
        .chain(nodes)
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// A request to send: method, path, headers, body.
pub struct Call<'a> {
    method: Method,
    uri: &'a str,
    headers: Vec<(String, String)>,
    body: Option<(&'a str, String)>,
}

/// A request with `method` to `uri`.
pub fn call(method: Method, uri: &str) -> Call<'_> {
    Call {
        method,
        uri,
        headers: Vec::new(),
        body: None,
    }
}

impl<'a> Call<'a> {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    /// Presents a session token (`X-Session-Token`).
    pub fn token(self, token: &str) -> Self {
        self.header("x-session-token", token)
    }
    pub fn json_accept(self) -> Self {
        self.header("accept", "application/json")
    }
    pub fn html_accept(self) -> Self {
        self.header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json", body.to_string()));
        self
    }
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.body = Some(("application/x-www-form-urlencoded", encoded));
        self
    }
    pub fn raw(mut self, content_type: &'a str, body: String) -> Self {
        self.body = Some((content_type, body));
        self
    }
    pub fn jar(self, jar: &Jar) -> Self {
        match jar.header() {
            Some(c) => self.header("cookie", &c),
            None => self,
        }
    }
    pub async fn send(self, app: &Router) -> Res {
        let mut req = Request::builder().method(self.method).uri(self.uri);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let body = match self.body {
            Some((ct, b)) => {
                req = req.header(header::CONTENT_TYPE, ct);
                Body::from(b)
            }
            None => Body::empty(),
        };
        let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Res {
            status,
            headers,
            body,
        }
    }
}

/// A browser's cookie jar.
#[derive(Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// Takes the cookies an answer sets (and drops the ones it expires).
    pub fn absorb(&mut self, res: &Res) {
        for c in res.set_cookies() {
            let first = c.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    /// The `Cookie` header, if any cookie is held.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
    /// Whether a cookie whose name starts with `prefix` is held.
    pub fn has(&self, prefix: &str) -> bool {
        self.0.keys().any(|k| k.starts_with(prefix))
    }
}

/// The CSRF token node's value of a browser flow.
pub fn csrf_of(flow: &Value) -> String {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == "csrf_token")
        .map(|n| n["attributes"]["value"].as_str().unwrap().to_owned())
        .expect("csrf node")
}

/// A fresh email address.
pub fn email() -> String {
    format!("http-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A 6-digit code other than `code`.
pub fn other_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The path (and query) of a URL.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_owned())
        .unwrap_or_default()
}

/// One query parameter of a URL.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// An app on a fresh memory store whose courier delivers into an in-memory outbox, with a
/// manual clock, and its public and admin routers.
pub struct MailApp {
    pub kratos: Kratos,
    pub outbox: MemoryOutbox,
    pub clock: Arc<ManualClock>,
    pub public: Router,
    pub admin: Router,
}

/// A [`MailApp`] configured by `yaml`.
pub fn mail_app(yaml: &str) -> MailApp {
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let (kratos, outbox, clock) = kratos_core::testsuite::kratos_with_outbox(store, yaml);
    MailApp {
        public: kratos_axum::public_router(kratos.clone()),
        admin: kratos_axum::admin_router(kratos.clone()),
        kratos,
        outbox,
        clock,
    }
}

impl MailApp {
    /// The code in the newest email to `to`, after a courier dispatch.
    pub async fn code(&self, to: &str) -> String {
        kratos_core::testsuite::code_from_outbox(&self.kratos, &self.outbox, to).await
    }
}
