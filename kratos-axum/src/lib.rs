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
//! A host app's own pages: [`LoginRequired`] guards routes in one line (browsers go to sign
//! in and come back; JSON clients get Kratos's 401/403), [`sign_in`] signs someone in from
//! the host's code, [`public_routes`] and [`admin_routes`] merge into a router with the host's
//! state, and with the `ui` feature the `ui` module renders the flows and mounts
//! ready-made self-service pages (`examples/minimal` is a whole app in 55 lines).
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
mod cors;
mod error;
pub mod extract;
pub mod guard;
#[cfg(feature = "jwt")]
pub mod jwt;
mod keto;
mod meta;
mod metrics;
pub mod negotiate;
mod panic;
pub mod permission;
mod public;
#[cfg(feature = "ui")]
pub mod ui;

use axum::Router;
use kratos_core::Kratos;

pub use error::ApiError;
pub use extract::{
    OptionalSession, RequireAal2, Session, require_session, session_token_from_headers,
};
pub use guard::{LoginRequired, SignedIn, sign_in};
#[cfg(feature = "jwt")]
pub use jwt::{JwtError, JwtVerifier, SessionJwt};
pub use keto::{
    KETO_DEFAULT_BODY_LIMIT, KetoOptions, SNAPTOKEN_HEADER, keto_read_router,
    keto_read_router_with, keto_router, keto_router_with, keto_write_router,
    keto_write_router_with,
};
pub use metrics::AdminOptions;
#[cfg(feature = "prometheus")]
pub use metrics::{
    PROMETHEUS_CONTENT_TYPE, PROMETHEUS_PATH, PrometheusError, PrometheusHandle,
    install_prometheus_recorder, prometheus_router,
};
pub use negotiate::{DEFAULT_BODY_LIMIT, is_json_request};
pub use permission::{Permission, PermissionGuard, require_permission};
pub use public::PublicOptions;

/// The Kratos admin API: `/admin/identities…`, `/admin/sessions/{id}…`,
/// `/admin/recovery/{code,link}`, `/admin/courier/messages{,/{id}}`, `/health/{alive,ready}`
/// and `/version` (also under `/admin`; the readiness check shows the store's error),
/// `/self-service/errors` (also under `/admin`), `/schemas`.
pub fn admin_router(kratos: Kratos) -> Router {
    admin_router_with(kratos, AdminOptions::default())
}

/// [`admin_router`] with options: with the `prometheus` feature, `GET /metrics/prometheus`
/// when [`AdminOptions`] carries a handle (see [`AdminOptions`]).
pub fn admin_router_with(kratos: Kratos, options: AdminOptions) -> Router {
    admin_routes_with(kratos, options)
}

/// The routes of [`admin_router`] as a `Router<S>` for any host state, to merge into the
/// host's router before its `.with_state(…)`.
pub fn admin_routes<S>(kratos: Kratos) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    admin_routes_with(kratos, AdminOptions::default())
}

/// [`admin_routes`] with options.
pub fn admin_routes_with<S>(kratos: Kratos, options: AdminOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .merge(options.routes())
        .merge(admin::identities::router())
        .merge(admin::sessions::router())
        .merge(admin::recovery::router())
        .merge(admin::courier::router())
        .merge(meta::admin_operations_router())
        .merge(public::errors::admin_router())
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
/// `/self-service/logout{,/browser,/api}`, `/self-service/errors?id=`,
/// `/.well-known/change-password`,
/// `/sessions/whoami`, `/sessions`, `/sessions/{id}`, `/sessions/token-exchange`,
/// `/health/{alive,ready}`, `/version`,
/// `/schemas`, with request bodies up to [`DEFAULT_BODY_LIMIT`]. A browser whose
/// self-service request fails is sent to `selfservice.flows.error.ui_url` when it is set
/// (the error is stored for `/self-service/errors`). With `serve.public.cors.enabled`, the
/// router answers CORS (preflight requests included) for the configured origins.
pub fn public_router(kratos: Kratos) -> Router {
    public_router_with(kratos, PublicOptions::default())
}

/// [`public_router`] with options (the body limit).
pub fn public_router_with(kratos: Kratos, options: PublicOptions) -> Router {
    public_routes_with(kratos, options)
}

/// The routes of [`public_router`] as a `Router<S>` for any host state, to merge into the
/// host's router before its `.with_state(…)` (the routes carry their own [`Kratos`] handle).
///
/// ```
/// # use axum::{Router, routing::get};
/// # #[derive(Clone)] struct AppState;
/// # fn app(kratos: kratos_core::Kratos) -> Router {
/// Router::<AppState>::new()
///     .route("/", get(|| async { "home" }))
///     .merge(kratos_axum::public_routes(kratos))
///     .with_state(AppState)
/// # }
/// ```
pub fn public_routes<S>(kratos: Kratos) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    public_routes_with(kratos, PublicOptions::default())
}

/// [`public_routes`] with options.
pub fn public_routes_with<S>(kratos: Kratos, options: PublicOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let cors = cors::layer(kratos.config());
    let router = Router::new()
        .merge(public::router(&options))
        .merge(meta::public_operations_router())
        .merge(meta::schema_router())
        .layer(axum::middleware::from_fn_with_state(
            kratos.clone(),
            public::errors::forward,
        ))
        .layer(panic::layer())
        .with_state(kratos);
    // Outermost, so preflight requests are answered before routing.
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}
