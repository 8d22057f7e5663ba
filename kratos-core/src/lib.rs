//! Identities, self-service flows and sessions compatible with Ory Kratos, as a library.
//!
//! A [`Kratos`] handle is built from a [`Config`] (Kratos's keys and defaults), identity schemas
//! and a storage backend ([`store::MemoryStore`] here; SQLite and PostgreSQL in the
//! `kratos-store-sqlite` and `kratos-store-postgres` crates).
//!
//! ```
//! use kratos_core::{Config, Kratos, identity::{CreateIdentityBody, IdentitySchema}};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = Config::from_yaml_str("secrets:\n  default: [\"change-me-to-a-long-random-value\"]\n")?;
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
