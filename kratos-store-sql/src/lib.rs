//! SQL storage for kratos-core (and keto-core), shared by the SQLite, PostgreSQL and MySQL /
//! MariaDB backends.
//!
//! One code path over sea-orm implements every store trait; the backend crates
//! (`kratos-store-sqlite`, `kratos-store-postgres`, `kratos-store-mysql`) only connect and
//! tune. Migrations create the schema from nothing and roll it back. Statements are written
//! once; where a dialect differs, the statement matches on the backend in one place.
//!
//! On PostgreSQL, flow creation and flow-only updates commit asynchronously (a crash may lose
//! the latest flows; their users start again); everything else commits durably. Updates and
//! deletions of sessions and identities send a notification ([`changes`]) for the whoami
//! caches of the app instances sharing the database.
//!
//! ```
//! use std::sync::Arc;
//! use kratos_core::{Config, Kratos, identity::IdentitySchema};
//! use kratos_store_sql::SqlStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Any sea-orm connection (this one needs sea-orm's `sqlx-sqlite` feature); the backend crates
//! // open tuned ones: `kratos_store_sqlite::connect`, `kratos_store_postgres::connect`,
//! // `kratos_store_mysql::connect`.
//! let db = sea_orm::Database::connect("sqlite::memory:").await?;
//! let store = SqlStore::new(db);
//! store.migrate().await?;
//! let config = Config::from_yaml_str(r#"
//! secrets:
//!   default: ["change-me-to-a-long-random-value"]
//! selfservice:
//!   methods:
//!     password:
//!       config:
//!         haveibeenpwned_enabled: false # or build kratos-core with its `hibp` feature
//! "#)?;
//! // Identity schemas as Kratos writes them: from a JSON value, a file or a URL.
//! let schema = IdentitySchema::from_value("default", serde_json::json!({
//!     "properties": {"traits": {"type": "object", "properties": {
//!         "email": {"type": "string", "format": "email",
//!                   "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
//!     }, "required": ["email"]}}
//! }))?;
//! let kratos = Kratos::builder(config).store(Arc::new(store)).schema(schema).build()?;
//! # let _ = kratos;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
#![doc = document_features::document_features!()]
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) (its Storage
//! section) are the manual.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod changes;
mod cleanup_store;
mod code_store;
mod completion_store;
mod courier_store;
pub mod entity;
mod error;
mod flow_store;
mod identity_query;
mod identity_store;
mod lockout_store;
mod login_read_store;
pub mod migration;
mod operations_store;
mod session_store;
mod sql;
#[cfg(feature = "testsuite")]
pub mod testsuite;
mod token_exchange_store;
mod tuple_store;
mod used_secret_store;
mod whoami_document;

pub use error::map_db_err;
pub use sea_orm;

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

/// Opens a change feed ([`SqlStore::with_change_feed`]).
pub type ChangeFeedSource =
    std::sync::Arc<dyn Fn() -> Option<kratos_core::store::ChangeFeed> + Send + Sync>;

/// The SQL store: implements every store trait of kratos-core on a sea-orm connection.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    feed: Option<ChangeFeedSource>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("db", &self.db)
            .field("change_feed", &self.feed.is_some())
            .finish()
    }
}

impl SqlStore {
    /// Wraps a connection (pool). Run [`SqlStore::migrate`] before first use. The store has
    /// no change feed ([`kratos_core::store::ChangeFeedStore`]) until one is given with
    /// [`SqlStore::with_change_feed`] (`kratos-store-postgres` gives one).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, feed: None }
    }

    /// The store, answering [`kratos_core::store::ChangeFeedStore::change_feed`] with what
    /// `open` opens (called within a Tokio runtime, once per subscriber).
    pub fn with_change_feed(mut self, open: ChangeFeedSource) -> Self {
        self.feed = Some(open);
        self
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::up(&self.db, None).await
    }

    /// Rolls every migration back, dropping all tables of this crate.
    pub async fn rollback_all(&self) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::down(&self.db, None).await
    }
}
