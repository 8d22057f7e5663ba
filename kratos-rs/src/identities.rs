//! `identities import | list | get | delete`: Kratos's identity commands, through the admin
//! API served in-process on the configured DSN (the same handlers `serve` exposes on the
//! admin port), printing JSON as `kratos … --format json` does.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// How JSON is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line of JSON.
    #[default]
    Json,
    /// Indented JSON.
    JsonPretty,
}

impl Format {
    /// `value` as text.
    pub fn show(self, value: &Value) -> String {
        match self {
            Format::Json => value.to_string(),
            Format::JsonPretty => {
                serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
            }
        }
    }
}

/// The admin API of a Kratos instance, called in-process.
pub struct Admin {
    router: axum::Router,
}

impl Admin {
    /// The admin API of `kratos`.
    pub fn new(kratos: kratos_core::Kratos) -> Self {
        Self {
            router: kratos_axum::admin_router(kratos),
        }
    }

    /// Sends one request; returns the status and the JSON body (`null` when empty).
    ///
    /// Errors when the request cannot be built or the body is not JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("accept", "application/json");
        let body = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                format!("the admin API answered {status} with a body that is not JSON: {e}")
            })?
        };
        Ok((status, value))
    }
}

/// The error message of an admin API error body (`error.message`, `error.reason`).
fn error_of(status: StatusCode, body: &Value) -> String {
    let e = &body["error"];
    let mut msg = e["message"]
        .as_str()
        .map_or_else(|| status.to_string(), str::to_owned);
    if let Some(reason) = e["reason"].as_str() {
        msg.push_str(": ");
        msg.push_str(reason);
    }
    msg
}

/// Reads identities to import: each file holds one identity object or an array of them.
///
/// Errors when a file cannot be read or is not such JSON.
pub fn read_import_files(files: &[PathBuf]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        match value {
            Value::Array(items) => out.extend(items),
            v @ Value::Object(_) => out.push(v),
            _ => {
                return Err(format!(
                    "{}: expected an identity object or an array of them",
                    file.display()
                ));
            }
        }
    }
    Ok(out)
}

/// Imports `identities` (`POST /admin/identities` each, with credentials and their hashed
/// passwords as given); returns those created and the errors of the others (each naming
/// the identity's position).
pub async fn import(admin: &Admin, identities: &[Value]) -> (Vec<Value>, Vec<String>) {
    let mut created = Vec::new();
    let mut errors = Vec::new();
    for (i, identity) in identities.iter().enumerate() {
        match admin
            .call(Method::POST, "/admin/identities", Some(identity))
            .await
        {
            Ok((status, body)) if status.is_success() => created.push(body),
            Ok((status, body)) => {
                errors.push(format!("identity #{i}: {}", error_of(status, &body)))
            }
            Err(e) => errors.push(format!("identity #{i}: {e}")),
        }
    }
    (created, errors)
}

/// One page of identities (`GET /admin/identities`).
///
/// Errors when the admin API refuses.
pub async fn list(
    admin: &Admin,
    page_size: u32,
    page_token: Option<&str>,
) -> Result<Value, String> {
    let mut path = format!("/admin/identities?page_size={page_size}");
    if let Some(token) = page_token {
        path.push_str("&page_token=");
        path.extend(form_urlencoded(token));
    }
    let (status, body) = admin.call(Method::GET, &path, None).await?;
    if !status.is_success() {
        return Err(error_of(status, &body));
    }
    Ok(body)
}

/// A page token, percent-encoded for a query string.
fn form_urlencoded(token: &str) -> impl Iterator<Item = char> + '_ {
    token.bytes().flat_map(|b| {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        let s = if keep {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        };
        s.chars().collect::<Vec<_>>()
    })
}

/// One identity (`GET /admin/identities/{id}`).
///
/// Errors when the id is not a UUID or the identity does not exist.
pub async fn get(admin: &Admin, id: &str) -> Result<Value, String> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| format!("`{id}` is not an identity id"))?;
    let path = format!("/admin/identities/{id}");
    let (status, body) = admin.call(Method::GET, &path, None).await?;
    if !status.is_success() {
        return Err(error_of(status, &body));
    }
    Ok(body)
}

/// Deletes one identity (`DELETE /admin/identities/{id}`).
///
/// Errors when the id is not a UUID or the identity does not exist.
pub async fn delete(admin: &Admin, id: &str) -> Result<(), String> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| format!("`{id}` is not an identity id"))?;
    let (status, body) = admin
        .call(Method::DELETE, &format!("/admin/identities/{id}"), None)
        .await?;
    if !status.is_success() {
        return Err(error_of(status, &body));
    }
    Ok(())
}
