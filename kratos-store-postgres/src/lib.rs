//! The PostgreSQL backend of kratos-rs, for apps that outgrow one machine.
//!
//! [`connect`] opens a pool and returns the shared [`SqlStore`], which implements every store
//! trait. PostgreSQL-wire engines such as CockroachDB are the scale-out path.
//!
//! Self-service flow rows are written with an asynchronous commit (`synchronous_commit = off`
//! for their own transaction only): a crash may lose the latest flows, and their users start
//! the flow again. Identities, sessions, codes and messages, and the transaction that
//! completes a flow, are committed durably.
//!
//! Every update or deletion of a session or an identity sends a notification in its
//! transaction; the store's change feed ([`with_change_feed`]) reports them to the whoami
//! caches of the app instances sharing the database.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kratos_core::{Config, Kratos, identity::IdentitySchema};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = kratos_store_postgres::connect("postgres://postgres@127.0.0.1:5432/kratos").await?;
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
//! This crate has no cargo features.
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) (its Storage
//! section) are the manual; the SQL itself is in
//! [kratos-store-sql](https://docs.rs/kratos-store-sql).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod feed;

use std::time::Duration;

pub use feed::{APPLICATION_NAME, HEARTBEAT_INTERVAL};
pub use kratos_store_sql::SqlStore;
use sea_orm::{ConnectOptions, Database, DbErr};

/// Options of a PostgreSQL pool.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Connections in the pool (default 10).
    pub max_connections: u32,
    /// How long to wait for a connection (default 10 s).
    pub acquire_timeout: Duration,
    /// A pooled connection idle for at least this long is pinged before use, and replaced
    /// when the server, a proxy or a firewall has closed it (default 30 s). Connections in
    /// steady use are not pinged: sqlx's default pings on every checkout, a round trip more
    /// for every statement.
    pub ping_after_idle: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            ping_after_idle: Duration::from_secs(30),
        }
    }
}

/// Opens a pool with the default options. Call [`SqlStore::migrate`] before first use.
pub async fn connect(url: &str) -> Result<SqlStore, DbErr> {
    connect_with(url, PostgresOptions::default()).await
}

/// Opens a pool with the given options.
pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<SqlStore, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(options.ping_after_idle)
        .sqlx_logging(false);
    Ok(with_change_feed(SqlStore::new(
        Database::connect(opts).await?,
    )))
}

/// `store` (on a PostgreSQL connection) with its change feed: each subscriber
/// ([`kratos_core::store::ChangeFeedStore::change_feed`], the whoami cache of a registry)
/// gets a listener on a connection of its own, outside the pool, that reports every update
/// or deletion of a session or an identity committed by any process on the database. It
/// reconnects when its connection drops (reporting `Interrupted`, then `Listening`), and
/// takes a connection that hears nothing for three [`HEARTBEAT_INTERVAL`]s (a heartbeat is
/// sent every interval) for dead. [`connect`] and [`connect_with`] give their stores one.
///
/// # Panics
///
/// When `store`'s connection is not PostgreSQL's.
pub fn with_change_feed(store: SqlStore) -> SqlStore {
    let pool = store.connection().get_postgres_connection_pool().clone();
    store.with_change_feed(std::sync::Arc::new(move || Some(feed::open(&pool))))
}

/// A fresh database per test run, for test suites: creates `kratos_test_<time>_<random>` on
/// the server of `base_url`, migrates it and returns its URL. Databases of earlier runs older
/// than two hours are dropped.
pub async fn create_test_database(base_url: &str) -> Result<String, DbErr> {
    use sea_orm::ConnectionTrait;
    let admin = connect_with(
        base_url,
        PostgresOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await?;
    let db = admin.connection();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let stale = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'kratos_test_%'",
        ))
        .await?;
    for row in stale {
        let name: String = row.try_get("", "datname")?;
        let created: u64 = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > 2 * 3600 {
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .ok();
        }
    }
    let name = format!("kratos_test_{now}_{}", uuid::Uuid::new_v4().simple());
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let (head, query) = match base_url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base_url, String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let url = match head[scheme_end..].rfind('/') {
        Some(i) => format!("{}/{name}{query}", &head[..scheme_end + i]),
        None => format!("{head}/{name}{query}"),
    };
    let store = connect(&url).await?;
    store.migrate().await?;
    Ok(url)
}
