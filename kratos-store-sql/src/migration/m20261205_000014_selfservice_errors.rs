//! Self-service errors kept for the error page (`SelfServiceErrorStore`), Kratos's
//! `selfservice_errors`: the error's JSON, per tenant, with the time it was stored (the cleanup
//! deletes old ones by `(nid, created_at)`). Kratos's `csrf_token`, `was_seen` and `seen_at`
//! columns are left out: nothing here reads them.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE selfservice_errors (
    id uuid NOT NULL PRIMARY KEY,
    nid uuid NOT NULL,
    errors jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX selfservice_errors_nid_created_at_idx ON selfservice_errors (nid, created_at)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE selfservice_errors (
    id BLOB NOT NULL PRIMARY KEY,
    nid BLOB NOT NULL,
    errors TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX selfservice_errors_nid_created_at_idx ON selfservice_errors (nid, created_at)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE selfservice_errors (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    errors JSON NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX selfservice_errors_nid_created_at_idx (nid, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

const DOWN: &str = "DROP TABLE IF EXISTS selfservice_errors";

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000014_selfservice_errors",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
    mysql_up: MYSQL_UP,
    mysql_down: DOWN,
};
