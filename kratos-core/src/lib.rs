//! Identities, self-service flows and sessions compatible with Ory Kratos, as a library.
//!
//! A [`Kratos`] handle is built from a [`Config`] (Kratos's keys and defaults), identity schemas
//! and a storage backend ([`store::MemoryStore`] here; SQLite, PostgreSQL and MySQL / MariaDB in
//! the `kratos-store-sqlite`, `kratos-store-postgres` and `kratos-store-mysql` crates).
//!
//! ```
//! use kratos_core::{Config, Kratos, identity::{CreateIdentityBody, IdentitySchema}};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Kratos checks new passwords against Have I Been Pwned by default; that client is the
//! // `hibp` cargo feature. Without it, turn the check off (or `build()` fails and says so).
//! let config = Config::from_yaml_str(r#"
//! secrets:
//!   default: ["change-me-to-a-long-random-value"]
//! selfservice:
//!   methods:
//!     password:
//!       config:
//!         haveibeenpwned_enabled: false
//! "#)?;
//! let kratos = Kratos::builder(config)
//!     .schema(IdentitySchema::from_value("default", json!({
//!         "properties": {"traits": {"type": "object", "properties": {
//!             "email": {"type": "string", "format": "email",
//!                       "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
//!         }, "required": ["email"]}}
//!     }))?)
//!     .build()?;
//!
//! let ada = kratos.identities().create(CreateIdentityBody {
//!     traits: json!({"email": "Ada@Example.com"}),
//!     ..Default::default()
//! }).await?;
//! assert_eq!(kratos.identities().get(ada.id).await?.traits["email"], "Ada@Example.com");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The self-service flows are [`Kratos::login`], [`Kratos::registration`], [`Kratos::settings`],
//! [`Kratos::recovery`] and [`Kratos::verification`]; sessions are [`Kratos::sessions`]. The
//! `kratos-axum` crate serves them over HTTP with Kratos's routes and JSON shapes.
//!
//! # Features
//!
#![doc = document_features::document_features!()]
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) (quick start,
//! costs, set-up) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) (how the crates
//! fit together, storage, flows and their bounds) are the manual; the configuration keys are
//! Kratos's (see [`Config`]).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cipher;
pub mod cleanup;
pub mod clock;
pub mod code;
pub mod config;
pub mod courier;
pub mod duration;
pub mod error;
pub mod flow;
pub mod hook;
pub mod identity;
pub mod json;
#[cfg(feature = "jsonnet")]
pub mod jsonnet;
mod kratos;
pub mod self_service_error;
pub mod session;
pub mod store;
pub mod strategy;
mod task;
pub mod telemetry;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use cipher::Cipher;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::{ErrorBody, KratosError};
pub use kratos::{BuildError, HashTaskError, Kratos, KratosBuilder};
pub use kratos_hash as hash;
