//! Cross-Origin Resource Sharing of the public router, from `serve.public.cors` (off unless
//! `enabled`, as in Kratos), with tower-http's CORS layer.
//!
//! The allowed origin is always the request's own `Origin` once it matches
//! `allowed_origins` (Kratos's rs/cors does the same with its origin function), so
//! `allow_credentials` combines with `*`. `*` in `allowed_headers` allows the headers a
//! preflight asks for; with credentials, `*` in `exposed_headers` is left out, since a browser
//! then reads it as a header named `*`. A preflight from an origin that is not allowed is
//! answered without CORS headers, so the browser refuses the request.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

/// The layer `serve.public.cors` asks for; `None` when it is off.
pub(crate) fn layer(config: &kratos_core::Config) -> Option<CorsLayer> {
    let cors = config.serve.public.cors.clone();
    if !cors.enabled {
        return None;
    }
    let methods: Vec<Method> = cors
        .allowed_methods
        .iter()
        .filter_map(|m| Method::from_bytes(m.as_str().as_bytes()).ok())
        .collect();
    let allow_headers = if cors.allows_any_header() {
        AllowHeaders::mirror_request()
    } else {
        AllowHeaders::list(names(cors.allowed_headers.iter().map(|h| h.as_str())))
    };
    let expose_any =
        !cors.allow_credentials && cors.exposed_headers.iter().any(|h| h.as_str() == "*");
    let expose_headers = if expose_any {
        ExposeHeaders::any()
    } else {
        ExposeHeaders::list(names(cors.exposed_headers.iter().map(|h| h.as_str())))
    };
    let credentials = cors.allow_credentials;
    let max_age = cors.max_age;
    let origins = cors;
    let mut layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|origin| origins.allows_origin(origin))
        }))
        .allow_methods(methods)
        .allow_headers(allow_headers)
        .expose_headers(expose_headers)
        .allow_credentials(credentials);
    if max_age > 0 {
        layer = layer.max_age(Duration::from_secs(u64::from(max_age)));
    }
    Some(layer)
}

/// The header names of a configured list, `*` left out (the config checked that each is a
/// header name).
fn names<'a>(headers: impl Iterator<Item = &'a str>) -> Vec<HeaderName> {
    headers
        .filter(|h| *h != "*")
        .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
        .collect()
}
