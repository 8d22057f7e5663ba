//! The MySQL / MariaDB backend of kratos-rs.
//!
//! [`connect`] opens a pool and returns the shared [`SqlStore`], which implements every store
//! trait. MariaDB 10.11 and MySQL 8 syntax is used where they differ from PostgreSQL and
//! SQLite (see `kratos-store-sql`): ids are `BINARY(16)`, timestamps `DATETIME(6)` in UTC,
//! text `utf8mb4` with the binary collation (exact comparisons), and unique rules over long
//! text are unique indexes over stored SHA-256 digests of it. The tests run against MariaDB
//! 10.11 and MySQL 9.7.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kratos_core::{Config, Kratos, identity::IdentitySchema};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = kratos_store_mysql::connect("mysql://root@127.0.0.1:3306/kratos").await?;
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

use std::time::Duration;

pub use kratos_store_sql::SqlStore;
use sea_orm::sqlx::Executor as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbErr, Statement};

/// Options of a MySQL pool.
#[derive(Clone, Debug)]
pub struct MySqlOptions {
    /// Connections in the pool (default 10).
    pub max_connections: u32,
    /// How long to wait for a connection (default 10 s).
    pub acquire_timeout: Duration,
    /// A pooled connection idle for at least this long is pinged before use, and replaced
    /// when the server (`wait_timeout`), a proxy or a firewall has closed it (default 30 s).
    /// Connections in steady use are not pinged.
    pub ping_after_idle: Duration,
}

impl Default for MySqlOptions {
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
    connect_with(url, MySqlOptions::default()).await
}

/// Run on each new connection (see [`connect_with`]).
const SESSION_SETTINGS: [&str; 2] = [
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    // Identity reads build their address and identifier lists with `GROUP_CONCAT … ORDER BY`
    // (MySQL 8 has no ordered `JSON_ARRAYAGG`), whose result the default limit (1024 bytes on
    // MySQL, 1 MiB on MariaDB) would cut.
    "SET SESSION group_concat_max_len = 67108864",
];

/// Opens a pool with the given options. Connections use `utf8mb4`, the UTC time zone, the
/// `READ COMMITTED` isolation level (as under PostgreSQL's default, a statement does not
/// lock the gaps between the index entries it reads, which under InnoDB's `REPEATABLE READ`
/// made unrelated writes of concurrent tenants deadlock) and a `group_concat_max_len` of
/// 64 MiB (identity reads aggregate with `GROUP_CONCAT`).
pub async fn connect_with(url: &str, options: MySqlOptions) -> Result<SqlStore, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(options.ping_after_idle)
        .sqlx_logging(false)
        // The pool's hook, run on every connection it opens: sea-orm's own `after_connect`
        // runs once, on whichever connection the pool lends it.
        .map_sqlx_mysql_pool_opts(|pool| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    for statement in SESSION_SETTINGS {
                        conn.execute(statement).await?;
                    }
                    Ok(())
                })
            })
        });
    let db = Database::connect(opts)
        .await
        .map_err(|e| redact_err(e, url))?;
    Ok(SqlStore::new(db))
}

/// `url` with its password (if any) replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// An error whose text could quote `url` with its password redacted.
fn redact_err(e: DbErr, url: &str) -> DbErr {
    let text = e.to_string();
    let redacted = redact_url(url);
    if redacted != url && text.contains(url) {
        DbErr::Custom(text.replace(url, &redacted))
    } else {
        e
    }
}

/// A fresh database per test run, for test suites: creates `kratos_test_<time>_<random>`
/// (`utf8mb4`, binary collation) on the server of `base_url`, migrates it and returns its
/// URL. Databases of earlier runs older than two hours are dropped.
pub async fn create_test_database(base_url: &str) -> Result<String, DbErr> {
    let admin = connect_with(
        base_url,
        MySqlOptions {
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
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(schema_name AS CHAR) AS name FROM information_schema.schemata \
             WHERE schema_name LIKE 'kratos\\_test\\_%'",
        ))
        .await?;
    for row in stale {
        let name: String = row.try_get("", "name")?;
        let created: u64 = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > 2 * 3600 {
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .await
                .ok();
        }
    }
    let name = format!("kratos_test_{now}_{}", uuid::Uuid::new_v4().simple());
    db.execute_unprepared(&format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
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

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("mysql://kratos:s3cret@db:3306/kratos?ssl-mode=required"),
            "mysql://kratos:***@db:3306/kratos?ssl-mode=required"
        );
        assert_eq!(
            redact_url("mysql://root@127.0.0.1:3306/mysql"),
            "mysql://root@127.0.0.1:3306/mysql"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
