//! Opening the store a DSN names, as Kratos and Keto read `dsn`: `memory` (a private
//! in-memory SQLite database, as Kratos's `memory`), `sqlite://…`, `postgres://…`
//! (`postgresql://…`), `mysql://…` (`mariadb://…`).

use std::path::Path;

use kratos_core::config::{REDACTED, redact_url};
use kratos_store_sql::SqlStore;

/// The kind of database a DSN names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `memory`: in-memory SQLite, gone when the process ends.
    Memory,
    /// `sqlite://path` (or `sqlite:path`).
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    Mysql,
}

impl Backend {
    /// The backend of `dsn`.
    ///
    /// Errors for any other scheme (the DSN is shown without its password).
    pub fn of(dsn: &str) -> Result<Self, String> {
        if dsn == "memory" {
            Ok(Backend::Memory)
        } else if dsn.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if dsn.starts_with("mysql://") || dsn.starts_with("mariadb://") {
            Ok(Backend::Mysql)
        } else {
            Err(format!(
                "unsupported DSN `{}`: use memory, sqlite://…, postgres://… or mysql://…",
                redact_url(dsn)
            ))
        }
    }
}

/// A SQLite DSN without the query parameters of Go's SQLite driver that Kratos's examples
/// carry (`_fk=true`: foreign keys are always on here).
fn sqlite_url(dsn: &str) -> String {
    let Some((base, query)) = dsn.split_once('?') else {
        return dsn.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with('_'))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Opens the store `dsn` names, without migrating it. The directory of a SQLite file is
/// created when missing.
///
/// Errors when the DSN is not supported or the database cannot be reached; the message
/// never holds the DSN's password.
pub async fn open(dsn: &str) -> Result<SqlStore, String> {
    let unreachable = |e: sea_orm::DbErr| {
        format!(
            "cannot connect to {}: {}",
            redact_url(dsn),
            without_password(&e.to_string(), dsn)
        )
    };
    match Backend::of(dsn)? {
        Backend::Memory => kratos_store_sqlite::in_memory().await.map_err(unreachable),
        Backend::Postgres => kratos_store_postgres::connect(dsn)
            .await
            .map_err(unreachable),
        Backend::Mysql => kratos_store_mysql::connect(dsn).await.map_err(unreachable),
        Backend::Sqlite => {
            let url = sqlite_url(dsn);
            if let Some(dir) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(|p| p.split('?').next().unwrap_or(p))
                .filter(|p| !p.contains(":memory:"))
                .and_then(|p| Path::new(p).parent())
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            kratos_store_sqlite::connect(&url)
                .await
                .map_err(unreachable)
        }
    }
}

/// `message` with the password of `url` (if it has one) replaced, in case a driver's error
/// quotes the URL or the password.
pub fn without_password(message: &str, url: &str) -> String {
    let message = message.replace(url, &redact_url(url));
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => message.replace(p, REDACTED),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_by_scheme() {
        assert_eq!(Backend::of("memory"), Ok(Backend::Memory));
        assert_eq!(Backend::of("sqlite:///tmp/x.db"), Ok(Backend::Sqlite));
        assert_eq!(Backend::of("postgresql://u@h/db"), Ok(Backend::Postgres));
        assert_eq!(Backend::of("mariadb://u@h/db"), Ok(Backend::Mysql));
        let err = Backend::of("cockroach://u:pw-123@h/db").unwrap_err();
        assert!(
            err.contains("cockroach://") && !err.contains("pw-123"),
            "{err}"
        );
    }

    #[test]
    fn go_driver_parameters_are_dropped() {
        assert_eq!(
            sqlite_url("sqlite:///var/db.sqlite?_fk=true&mode=rwc"),
            "sqlite:///var/db.sqlite?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite:///var/db.sqlite?_fk=true"),
            "sqlite:///var/db.sqlite"
        );
    }

    #[test]
    fn errors_lose_the_password() {
        let url = "postgres://kratos:db-pass-1@db.example.com/kratos";
        let msg = without_password(&format!("error at {url}: db-pass-1 refused"), url);
        assert!(
            !msg.contains("db-pass-1") && msg.contains("db.example.com"),
            "{msg}"
        );
    }
}
