//! The SQLite backend of kratos-rs: the embedded default.
//!
//! [`connect`] opens (and creates) a database file with WAL journaling, foreign keys and a busy
//! timeout on every connection; [`in_memory`] gives a private database for tests. Both return
//! the shared [`SqlStore`], which implements every store trait.
//!
//! ```
//! use std::sync::Arc;
//! use kratos_core::{Config, Kratos, identity::IdentitySchema};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A private database in memory; `kratos_store_sqlite::connect("sqlite://app.db")` opens
//! // (and creates) a file.
//! let store = kratos_store_sqlite::in_memory().await?;
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
//! SQLite runs one writer at a time; the pool defaults to one connection, which serialises
//! statements in the process and avoids `SQLITE_BUSY` on lock upgrades. Use PostgreSQL when
//! several processes share the data.
//!
//! # Features
//!
//! This crate has no cargo features.
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) (its Storage
//! section) are the manual; the SQL itself is in
//! [kratos-store-sql](https://docs.rs/kratos-store-sql).
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::time::Duration;

pub use kratos_store_sql::SqlStore;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DbErr};

/// Options of a SQLite connection.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Connections in the pool (default 1).
    pub max_connections: u32,
    /// How long a statement waits for a lock (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_connections: 1,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens a SQLite database (`sqlite://path/to/file.db`, created when missing; or a plain path)
/// with the default options. Call [`SqlStore::migrate`] before first use.
pub async fn connect(url: &str) -> Result<SqlStore, DbErr> {
    connect_with(url, SqliteOptions::default()).await
}

/// Opens a SQLite database with the given options.
pub async fn connect_with(url: &str, options: SqliteOptions) -> Result<SqlStore, DbErr> {
    let url = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        format!("sqlite://{url}")
    };
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut opts = ConnectOptions::new(url);
    let busy = options.busy_timeout;
    opts.max_connections(options.max_connections)
        .min_connections(if memory { options.max_connections } else { 0 })
        // A connection is a handle on a local file, not a socket a server or a proxy may
        // close: no ping before each use (sqlx's default), which costs a hand-over to the
        // connection's thread per statement.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            let o = o
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(busy);
            if memory {
                o
            } else {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
    if memory {
        // An in-memory database lives as long as its connections: never let them expire.
        opts.idle_timeout(None::<Duration>)
            .map_sqlx_sqlite_pool_opts(|p| p.max_lifetime(None));
    }
    Ok(SqlStore::new(Database::connect(opts).await?))
}

/// A fresh, private in-memory database (one connection), for tests and examples.
pub async fn in_memory() -> Result<SqlStore, DbErr> {
    connect_with("sqlite::memory:", SqliteOptions::default()).await
}
