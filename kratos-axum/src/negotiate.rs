//! Content negotiation and request bodies.
//!
//! A browser request is answered with JSON instead of redirects when it asks for JSON: its
//! `Accept` header prefers `application/json` over the HTML offers (`text/html`, `text/*`,
//! `*/*`, in that order, HTML by default), or its body is `application/json`. This is the rule
//! Kratos applies to tell single-page apps from HTML forms.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use crate::cookie::has_non_cloudflare_cookie;
use crate::error::ApiError;

/// The largest request body the public router reads by default (64 KiB); larger bodies are
/// answered with 413. See [`PublicOptions`](crate::PublicOptions) to change it.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

const OFFERS: [&str; 4] = ["text/html", "text/*", "*/*", "application/json"];

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a request wants JSON rather than HTML and redirects.
pub fn is_json_request(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type);
    if content_type.as_deref() == Some("application/json") {
        return true;
    }
    negotiate(headers) == "application/json"
}

/// Picks one of [`OFFERS`] for the request's `Accept` header: the offer matched with the
/// highest quality, an exact match beating a `type/*` match beating `*/*` at equal quality,
/// and earlier offers winning ties.
fn negotiate(headers: &HeaderMap) -> &'static str {
    let specs: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let value = parts.next()?.trim().to_ascii_lowercase();
            if value.is_empty() {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((value, q))
        })
        .collect();
    let mut best = OFFERS[0];
    let mut best_q = -1.0f32;
    // 0 exact, 1 type wildcard, 2 full wildcard, 3 nothing yet.
    let mut best_wild = 3;
    for offer in OFFERS {
        for (value, q) in &specs {
            let q = *q;
            if q <= 0.0 || q < best_q {
                continue;
            }
            let wild = if value == "*/*" {
                2
            } else if let Some(prefix) = value.strip_suffix('*') {
                if !offer.starts_with(prefix) {
                    continue;
                }
                1
            } else if value == offer {
                0
            } else {
                continue;
            };
            if q > best_q || best_wild > wild {
                best_q = q;
                best_wild = wild;
                best = offer;
            }
        }
    }
    best
}

/// Refuses requests to api flows that come from a browser: an `Origin` header or any cookie
/// other than Cloudflare's means a browser sent it, and browsers must use browser flows (with
/// CSRF protection).
pub(crate) fn refuse_browser_on_api_flow(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(header::ORIGIN) {
        return Err(ApiError::with_status(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request carries an Origin header, so it was sent by a browser, but the flow is \
             an api flow. Browsers must use browser flows, which are protected against CSRF.",
        ));
    }
    if has_non_cloudflare_cookie(headers) {
        return Err(ApiError::with_status(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request carries cookies, so it was sent by a browser, but the flow is an api \
             flow. Browsers must use browser flows, which are protected against CSRF.",
        ));
    }
    Ok(())
}

/// The body as bytes, or Kratos-style errors: 413 when it exceeds the limit, 400 otherwise.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            "The request body exceeds the size limit.",
        ),
        status => ApiError::with_status(
            if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            "bad_request",
            "The request body could not be read.",
        ),
    })
}

/// Parses a flow submission: `application/json`, or `application/x-www-form-urlencoded` whose
/// dotted keys (`traits.email`) become nested objects. Other content types are 415, malformed
/// bodies 400.
pub(crate) fn parse_submission(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type)
        .unwrap_or_default();
    match content_type.as_str() {
        "application/json" => {
            let value: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request("body", format!("The request body is not valid JSON: {e}"))
            })?;
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "body",
                    "The request body must be a JSON object.",
                ));
            }
            // The same bound as a form's keys: what a flow stores from a submission must
            // read back within the parser's own limit once it sits inside a flow document.
            if kratos_core::json::exceeds_depth(&value, kratos_core::json::MAX_DEPTH) {
                return Err(ApiError::bad_request(
                    "body",
                    format!(
                        "The request body nests deeper than {} levels.",
                        kratos_core::json::MAX_DEPTH
                    ),
                ));
            }
            Ok(value)
        }
        "application/x-www-form-urlencoded" => form_to_json(body),
        other => Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "The request body's content type `{other}` is not supported: send \
                 application/json or application/x-www-form-urlencoded."
            ),
        )),
    }
}

/// A form body as JSON: `traits.name.first=Ada` becomes `{"traits": {"name": {"first": "Ada"}}}`.
/// A repeated key keeps its last value; empty segments (`a..b`, a trailing `.`) are skipped.
/// An empty value is left out, as Kratos's form decoder leaves out empty strings: an optional
/// field left blank (a phone number, say) is absent rather than an invalid `""`, and a
/// required one is reported missing.
///
/// # Errors
/// A 400 `bad_request` on the field `body` when a key has more than
/// [`MAX_DEPTH`](kratos_core::json::MAX_DEPTH) segments. The document is built without
/// recursion, so no key can exhaust the stack.
pub fn form_to_json(body: &[u8]) -> Result<Value, ApiError> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        if value.is_empty() {
            continue;
        }
        let segments = key.split('.').filter(|s| !s.is_empty());
        if segments.clone().nth(kratos_core::json::MAX_DEPTH).is_some() {
            return Err(ApiError::bad_request(
                "body",
                format!(
                    "A form field name nests deeper than {} levels.",
                    kratos_core::json::MAX_DEPTH
                ),
            ));
        }
        insert_path(&mut root, segments, Value::String(value.into_owned()));
    }
    Ok(Value::Object(root))
}

/// Walks (and creates) the objects along `path` and sets its last segment to `value`.
fn insert_path<'a>(
    root: &mut Map<String, Value>,
    path: impl Iterator<Item = &'a str>,
    value: Value,
) {
    let mut path = path.peekable();
    let mut map = root;
    while let Some(segment) = path.next() {
        if path.peek().is_none() {
            map.insert(segment.to_owned(), value);
            return;
        }
        let entry = map
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        map = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiates_like_kratos() {
        assert!(!is_json_request(&HeaderMap::new()));
        assert!(is_json_request(&accept("application/json")));
        assert!(is_json_request(&accept(
            "application/json, text/plain, */*"
        )));
        assert!(!is_json_request(&accept("*/*")));
        assert!(!is_json_request(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(is_json_request(&accept(
            "text/html;q=0.5, application/json"
        )));
        assert!(!is_json_request(&accept("application/json;q=0")));
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_json_request(&h));
    }

    #[test]
    fn forms_nest_dotted_keys() {
        assert_eq!(
            form_to_json(b"traits.email=a%40b.c&traits.name.first=Ada&method=password&x.=1")
                .unwrap(),
            json!({"traits": {"email": "a@b.c", "name": {"first": "Ada"}}, "method": "password", "x": "1"})
        );
    }

    #[test]
    fn forms_leave_out_empty_values() {
        assert_eq!(
            form_to_json(b"traits.email=a%40b.c&traits.phone=&code=&method=code").unwrap(),
            json!({"traits": {"email": "a@b.c"}, "method": "code"})
        );
        assert_eq!(form_to_json(b"traits.phone=").unwrap(), json!({}));
    }
}
