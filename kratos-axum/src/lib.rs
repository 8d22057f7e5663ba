//! Kratos-compatible HTTP for axum, on the embedded library.
//!
//! [`admin_router`] serves the Kratos admin API (identities, sessions, recovery codes and
//! links, courier messages, health, schemas) and [`public_router`] the public API: the
//! self-service login, registration, settings, verification, recovery and logout flows (with
//! the links verification and recovery emails carry), whoami and the caller's sessions, health
//! and schemas. They are separate so an app can bind the admin API to another address.
//!
//! ```
//! use kratos_core::{Config, Kratos, identity::IdentitySchema};
//! use serde_json::json;
//!
//! // Kratos checks new passwords against Have I Been Pwned by default: build kratos-core with
//! // its `hibp` feature, or turn the check off as here.
//! let config = Config::from_yaml_str(r#"
//! secrets:
//!   default: ["change-me-to-a-long-random-value"]
//! serve:
//!   public:
//!     base_url: http://127.0.0.1:4433/
//! selfservice:
//!   methods:
//!     password:
//!       config:
//!         haveibeenpwned_enabled: false
//! "#)?;
//! let schema = IdentitySchema::from_value("default", json!({
//!     "properties": {"traits": {"type": "object", "properties": {
//!         "email": {"type": "string", "format": "email",
//!                   "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
//!     }, "required": ["email"]}}
//! }))?;
//! let kratos = Kratos::builder(config).schema(schema).build()?;
//!
//! let admin: axum::Router = kratos_axum::admin_router(kratos.clone());
//! let public: axum::Router = kratos_axum::public_router(kratos);
//! // Serve each on its own listener, e.g.
//! // axum::serve(tokio::net::TcpListener::bind("127.0.0.1:4433").await?, public).await?;
//! # let _ = (admin, public);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For an app's own routes, the [`Session`], [`OptionalSession`] and [`RequireAal2`]
//! extractors and the [`require_session`] middleware authenticate requests with the same
//! session cookie and tokens (see [`extract`]); the [`require_permission`] middleware also
//! checks a keto-core permission on the object a route names (see [`permission`]). Cookies are
//! described in [`cookie`].
//!
//! Errors answer with Kratos's status codes and `{"error": {...}}` bodies; see [`ApiError`].
//! Every router reads bodies up to a limit (413 beyond it) and is wrapped in a catch-panic
//! layer: a handler that panics answers 500 with that body, and the server keeps serving.
//!
//! # Features
//!
#![doc = document_features::document_features!()]
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) are the manual;
//! `examples/axum-app` there is a complete app on these routers. The library itself is
//! [kratos-core](https://docs.rs/kratos-core).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
pub mod cookie;
mod error;
pub mod extract;
mod keto;
mod meta;
pub mod negotiate;
mod panic;
pub mod permission;
mod public;

use axum::Router;
use kratos_core::Kratos;

pub use error::ApiError;
pub use extract::{
    OptionalSession, RequireAal2, Session, require_session, session_token_from_headers,
};
pub use keto::{
    KETO_DEFAULT_BODY_LIMIT, KetoOptions, SNAPTOKEN_HEADER, keto_read_router,
    keto_read_router_with, keto_router, keto_router_with, keto_write_router,
    keto_write_router_with,
};
pub use negotiate::{DEFAULT_BODY_LIMIT, is_json_request};
pub use permission::{Permission, PermissionGuard, require_permission};
pub use public::PublicOptions;

/// The Kratos admin API: `/admin/identities…`, `/admin/sessions/{id}…`,
/// `/admin/recovery/{code,link}`, `/admin/courier/messages{,/{id}}`, `/health/{alive,ready}`,
/// `/schemas`.
pub fn admin_router(kratos: Kratos) -> Router {
    Router::new()
        .merge(admin::identities::router())
        .merge(admin::sessions::router())
        .merge(admin::recovery::router())
        .merge(admin::courier::router())
        .merge(meta::health_router())
        .merge(meta::schema_router())
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(panic::layer())
        .with_state(kratos)
}

/// The largest request body the admin API reads (2 MiB: a batch of 1,000 identities with
/// imported hashes fits); larger ones are answered with 413.
pub const ADMIN_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The public endpoints:
/// `/self-service/{login,registration,settings,verification,recovery}/{browser,api,flows}`,
/// `POST /self-service/{login,registration,settings,verification,recovery}`,
/// `GET /self-service/{verification,recovery}?flow=&token=` (a followed email link),
/// `/self-service/logout{,/browser,/api}`,
/// `/sessions/whoami`, `/sessions`, `/sessions/{id}`, `/health/{alive,ready}`, `/schemas`,
/// with request bodies up to [`DEFAULT_BODY_LIMIT`].
pub fn public_router(kratos: Kratos) -> Router {
    public_router_with(kratos, PublicOptions::default())
}

/// [`public_router`] with options (the body limit).
pub fn public_router_with(kratos: Kratos, options: PublicOptions) -> Router {
    Router::new()
        .merge(public::router(&options))
        .merge(meta::health_router())
        .merge(meta::schema_router())
        .layer(panic::layer())
        .with_state(kratos)
}
