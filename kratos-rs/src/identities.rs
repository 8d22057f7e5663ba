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

/// One identity to import: where it comes from and its JSON.
#[derive(Debug)]
pub struct Record {
    /// The file it was read from, as given.
    pub file: PathBuf,
    /// Its position in the file's array (0 for a file holding one object).
    pub index: usize,
    /// The identity (Kratos's create-identity body).
    pub value: Value,
}

impl Record {
    /// `FILE[#INDEX]`, how reports name the record.
    pub fn name(&self) -> String {
        format!("{}[#{}]", self.file.display(), self.index)
    }
}

/// Reads identities to import: each file holds one identity object or an array of them.
/// Answers the records, and the errors of files that cannot be read or are not such JSON
/// and of array items that are not objects (each naming its file, and its index).
pub fn read_import_files(files: &[PathBuf]) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let value = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
        let items = match value {
            Ok(Value::Array(items)) => items,
            Ok(v @ Value::Object(_)) => vec![v],
            Ok(_) => {
                errors.push(format!(
                    "{}: expected an identity object or an array of them",
                    file.display()
                ));
                continue;
            }
            Err(e) => {
                errors.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        for (index, value) in items.into_iter().enumerate() {
            let record = Record {
                file: file.clone(),
                index,
                value,
            };
            if record.value.is_object() {
                records.push(record);
            } else {
                errors.push(format!("{}: expected an identity object", record.name()));
            }
        }
    }
    (records, errors)
}

/// How many records go in one `PATCH /admin/identities` call: Kratos's limit for batches
/// whose passwords must be hashed, so any batch fits.
const BATCH: usize = kratos_core::identity::MAX_BATCH_SIZE_WITH_PASSWORDS;

/// Imports `records` through the admin API's batch import (`PATCH /admin/identities`, one
/// `create` patch per record, credentials and hashed passwords as given), which answers a
/// result per record: created, or the error that refused it. A batch the API refuses as a
/// whole (a record whose shape is not a create body) is imported record by record
/// (`POST /admin/identities`) so that each error names its record. Answers the created
/// identities (as `GET /admin/identities/{id}` shows them) and the errors, each naming the
/// record's file and index and the reason.
pub async fn import(admin: &Admin, records: &[Record]) -> (Vec<Value>, Vec<String>) {
    let mut created = Vec::new();
    let mut errors = Vec::new();
    for chunk in records.chunks(BATCH) {
        let patches: Vec<Value> = chunk
            .iter()
            .map(|r| serde_json::json!({ "create": r.value }))
            .collect();
        let body = serde_json::json!({ "identities": patches });
        let answer = admin
            .call(Method::PATCH, "/admin/identities", Some(&body))
            .await;
        let results = match answer {
            Ok((status, body)) if status.is_success() => body["identities"]
                .as_array()
                .filter(|r| r.len() == chunk.len())
                .cloned(),
            _ => None,
        };
        let Some(results) = results else {
            one_by_one(admin, chunk, &mut created, &mut errors).await;
            continue;
        };
        for (record, result) in chunk.iter().zip(results) {
            match result["identity"].as_str() {
                Some(id) if result["action"] == "create" => match get(admin, id).await {
                    Ok(identity) => created.push(identity),
                    Err(e) => errors.push(format!("{}: created as {id}, but {e}", record.name())),
                },
                _ => errors.push(format!(
                    "{}: {}",
                    record.name(),
                    error_of(
                        StatusCode::BAD_REQUEST,
                        &serde_json::json!({ "error": result["error"] })
                    )
                )),
            }
        }
    }
    (created, errors)
}

/// Imports `records` one `POST /admin/identities` each.
async fn one_by_one(
    admin: &Admin,
    records: &[Record],
    created: &mut Vec<Value>,
    errors: &mut Vec<String>,
) {
    for record in records {
        match admin
            .call(Method::POST, "/admin/identities", Some(&record.value))
            .await
        {
            Ok((status, body)) if status.is_success() => created.push(body),
            Ok((status, body)) => {
                errors.push(format!("{}: {}", record.name(), error_of(status, &body)));
            }
            Err(e) => errors.push(format!("{}: {e}", record.name())),
        }
    }
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
