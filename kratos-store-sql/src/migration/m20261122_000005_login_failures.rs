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

const MYSQL_UP: &str = r#"
CREATE TABLE login_failures (
    nid BINARY(16) NOT NULL,
    `key` TEXT NOT NULL,
    key_digest BINARY(32) AS (UNHEX(SHA2(`key`, 256))) STORED,
    failures INTEGER NOT NULL,
    last_failure_at DATETIME(6) NOT NULL,
    locked_until DATETIME(6),
    UNIQUE INDEX login_failures_nid_key_uq_idx (nid, key_digest)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000005_login_failures",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS login_failures",
    sqlite_down: "DROP TABLE IF EXISTS login_failures",
    mysql_up: MYSQL_UP,
    mysql_down: "DROP TABLE IF EXISTS login_failures",
};
