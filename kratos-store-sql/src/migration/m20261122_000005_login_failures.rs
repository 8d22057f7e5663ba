//! Failed-login counters for brute-force protection.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE login_failures (
    nid uuid NOT NULL,
    key text NOT NULL,
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (nid, key)
)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE login_failures (
    nid BLOB NOT NULL,
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until TEXT,
    PRIMARY KEY (nid, key)
)
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000005_login_failures",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS login_failures",
    sqlite_down: "DROP TABLE IF EXISTS login_failures",
};
