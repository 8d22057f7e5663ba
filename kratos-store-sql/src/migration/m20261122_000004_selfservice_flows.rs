//! Self-service flows, stored as JSON documents with their CSRF token in a column of its own.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE selfservice_flows (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    kind text NOT NULL,
    expires_at timestamptz NOT NULL,
    csrf_token text NOT NULL,
    document jsonb NOT NULL
);
CREATE INDEX selfservice_flows_nid_kind_idx ON selfservice_flows (nid, kind, id);
CREATE INDEX selfservice_flows_expires_at_idx ON selfservice_flows (expires_at)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE selfservice_flows (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    kind TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX selfservice_flows_nid_kind_idx ON selfservice_flows (nid, kind, id);
CREATE INDEX selfservice_flows_expires_at_idx ON selfservice_flows (expires_at)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE selfservice_flows (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    csrf_token TEXT NOT NULL,
    document LONGTEXT NOT NULL,
    INDEX selfservice_flows_nid_kind_idx (nid, kind, id),
    INDEX selfservice_flows_expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000004_selfservice_flows",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS selfservice_flows",
    sqlite_down: "DROP TABLE IF EXISTS selfservice_flows",
    mysql_up: MYSQL_UP,
    mysql_down: "DROP TABLE IF EXISTS selfservice_flows",
};
