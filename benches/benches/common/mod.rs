//! Set-up shared by the `flows`, `mfa`, `whoami` and `import` benches: the runtime, the
//! backends (memory, a SQLite file, a fresh PostgreSQL database when
//! `KRATOS_TEST_POSTGRES_URL` is set, a fresh MySQL / MariaDB one when
//! `KRATOS_TEST_MYSQL_URL` is set) and the criterion configuration.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use kratos_core::Kratos;
use kratos_core::config::Config;
use kratos_core::identity::IdentitySchema;
use kratos_core::store::{MemoryStore, Persister};
use kratos_store_sql::SqlStore;
use kratos_store_sql::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;

/// Short runs without plots: 10 samples, half a second of warm-up, 3 s of measurement,
/// written where `bench_table` reads ([`kratos_benches::criterion_dir`]).
pub fn criterion() -> Criterion {
    Criterion::default()
        .output_directory(&kratos_benches::criterion_dir())
        .without_plots()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

/// A current-thread runtime, as a request handler would see one.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Configuration at the library's defaults (argon2id 19 MiB, t=2, p=1), plus `extra_yaml`, with
/// the Have I Been Pwned check off.
pub fn config(extra_yaml: &str) -> Config {
    let mut config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"bench-secret-0123456789abcdef0123\"]\n{extra_yaml}"
    ))
    .expect("config");
    // The benchmarks reach no network: no Have I Been Pwned check (Kratos's default, which
    // needs kratos-core's `hibp` feature).
    config
        .selfservice
        .methods
        .password
        .config
        .haveibeenpwned_enabled = false;
    config
}

/// An identity schema with one password identifier, the e-mail address.
pub fn schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}
            }, "required": ["email"], "additionalProperties": false}}
        }),
    )
    .expect("schema")
}

/// A registry over `store` with [`config`]`(extra_yaml)` and [`schema`].
pub fn kratos(store: Arc<dyn Persister>, extra_yaml: &str) -> Kratos {
    Kratos::builder(config(extra_yaml))
        .store(store)
        .schema(schema())
        .build()
        .expect("kratos builds")
}

/// One backend under test.
pub struct Backend {
    /// `memory`, `sqlite` or `postgres`.
    pub name: &'static str,
    /// The store as the registry sees it.
    pub store: Arc<dyn Persister>,
    /// The SQL store, for baselines on the same database (none for memory).
    pub sql: Option<SqlStore>,
    /// The database URL (none for memory).
    pub url: Option<String>,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    Dir(PathBuf),
    Postgres { base: String, name: String },
    MySql { base: String, name: String },
}

/// The in-memory store.
pub fn memory() -> Backend {
    Backend {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        sql: None,
        url: None,
        cleanup: Cleanup::None,
    }
}

/// A migrated SQLite file (WAL) in a temporary directory, removed by [`Backend::finish`].
pub fn sqlite(rt: &tokio::runtime::Runtime, bench: &str) -> Backend {
    let dir = std::env::temp_dir().join(format!("{bench}-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kratos.db").display().to_string();
    eprintln!("SQLite ({path})");
    let store = rt.block_on(async {
        let s = kratos_store_sqlite::connect(&path).await.expect("sqlite");
        s.migrate().await.expect("migrate");
        s
    });
    Backend {
        name: "sqlite",
        store: Arc::new(store.clone()),
        sql: Some(store),
        url: Some(format!("sqlite://{path}")),
        cleanup: Cleanup::Dir(dir),
    }
}

/// A fresh, migrated PostgreSQL database when `KRATOS_TEST_POSTGRES_URL` is set; prints a
/// skip line and returns `None` otherwise.
pub fn postgres(rt: &tokio::runtime::Runtime) -> Option<Backend> {
    let base = match std::env::var("KRATOS_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => {
            eprintln!("KRATOS_TEST_POSTGRES_URL is not set: skipping the PostgreSQL benches");
            return None;
        }
    };
    eprintln!("PostgreSQL");
    let url = rt
        .block_on(kratos_store_postgres::create_test_database(&base))
        .expect("PostgreSQL test database");
    let store = rt
        .block_on(kratos_store_postgres::connect(&url))
        .expect("connect");
    let name = url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    Some(Backend {
        name: "postgres",
        store: Arc::new(store.clone()),
        sql: Some(store),
        url: Some(url),
        cleanup: Cleanup::Postgres { base, name },
    })
}

/// A fresh, migrated MySQL / MariaDB database when `KRATOS_TEST_MYSQL_URL` is set; prints a
/// skip line and returns `None` otherwise.
pub fn mysql(rt: &tokio::runtime::Runtime) -> Option<Backend> {
    let base = match std::env::var("KRATOS_TEST_MYSQL_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => {
            eprintln!("KRATOS_TEST_MYSQL_URL is not set: skipping the MySQL benches");
            return None;
        }
    };
    eprintln!("MySQL");
    let url = rt
        .block_on(kratos_store_mysql::create_test_database(&base))
        .expect("MySQL test database");
    let store = rt
        .block_on(kratos_store_mysql::connect(&url))
        .expect("connect");
    let name = database_name(&url);
    Some(Backend {
        name: "mysql",
        store: Arc::new(store.clone()),
        sql: Some(store),
        url: Some(url),
        cleanup: Cleanup::MySql { base, name },
    })
}

/// The database name at the end of a URL's path.
pub fn database_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

/// Drops a MySQL database of a bench run.
pub fn drop_mysql_database(rt: &tokio::runtime::Runtime, base: &str, name: &str) {
    rt.block_on(async {
        let admin = kratos_store_mysql::connect(base).await.expect("admin");
        admin
            .connection()
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
            .await
            .ok();
    });
}

impl Backend {
    /// Closes the store and removes the SQLite directory or drops the PostgreSQL database.
    pub fn finish(self, rt: &tokio::runtime::Runtime) {
        let Backend {
            store,
            sql,
            cleanup,
            ..
        } = self;
        drop(store);
        drop(sql);
        match cleanup {
            Cleanup::None => {}
            Cleanup::Dir(dir) => {
                std::fs::remove_dir_all(&dir).ok();
            }
            Cleanup::MySql { base, name } => drop_mysql_database(rt, &base, &name),
            Cleanup::Postgres { base, name } => rt.block_on(async {
                let admin = kratos_store_postgres::connect(&base).await.expect("admin");
                admin
                    .connection()
                    .execute_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    ))
                    .await
                    .ok();
            }),
        }
    }
}
