//! Kratos-compatible HTTP for axum, on the embedded library.
//!
//! [`admin_router`] serves the Kratos admin API (identities, health, schemas) and
//! [`public_router`] the public endpoints available so far (health, schemas). They are separate
//! so an app can bind the admin API to another address.
//!
//! ```
//! use kratos_core::{Config, Kratos};
//!
//! let config = Config { dev: true, ..Config::default() };
//! let kratos = Kratos::builder(config)
//!     .schema(kratos_core::testsuite::test_schema())
//!     .build()
//!     .unwrap();
//! let admin: axum::Router = kratos_axum::admin_router(kratos.clone());
//! let public: axum::Router = kratos_axum::public_router(kratos);
//! # let _ = (admin, public);
//! ```
//!
//! Errors answer with Kratos's status codes and `{"error": {...}}` bodies; see [`ApiError`].

mod admin;
mod error;
mod keto;
mod meta;

use axum::Router;
use kratos_core::Kratos;

pub use error::ApiError;
pub use keto::{SNAPTOKEN_HEADER, keto_read_router, keto_router, keto_write_router};

/// The Kratos admin API: `/admin/identities…`, `/health/{alive,ready}`, `/schemas`.
pub fn admin_router(kratos: Kratos) -> Router {
    Router::new()
        .merge(admin::identities::router())
        .merge(meta::health_router())
        .merge(meta::schema_router())
        .with_state(kratos)
}

/// The public endpoints: `/health/{alive,ready}`, `/schemas`.
pub fn public_router(kratos: Kratos) -> Router {
    Router::new()
        .merge(meta::health_router())
        .merge(meta::schema_router())
        .with_state(kratos)
}
