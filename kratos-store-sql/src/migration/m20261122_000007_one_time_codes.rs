//! One-time codes and link tokens (their MACs only), and per-flow submission counters.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE one_time_codes (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    kind text NOT NULL,
    flow_id uuid NOT NULL,
    identity_id uuid REFERENCES identities (id) ON DELETE CASCADE,
    address_id uuid,
    address text,
    admin boolean NOT NULL DEFAULT false,
    digest text NOT NULL,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX one_time_codes_flow_idx ON one_time_codes (nid, flow_id, kind, digest);
CREATE INDEX one_time_codes_identity_id_idx ON one_time_codes (identity_id);
CREATE INDEX one_time_codes_expires_at_idx ON one_time_codes (expires_at);
CREATE TABLE code_submissions (
    nid uuid NOT NULL,
    flow_id uuid NOT NULL,
    count integer NOT NULL,
    PRIMARY KEY (nid, flow_id)
)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE one_time_codes (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    kind TEXT NOT NULL,
    flow_id BLOB NOT NULL,
    identity_id BLOB REFERENCES identities (id) ON DELETE CASCADE,
    address_id BLOB,
    address TEXT,
    admin INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX one_time_codes_flow_idx ON one_time_codes (nid, flow_id, kind, digest);
CREATE INDEX one_time_codes_identity_id_idx ON one_time_codes (identity_id);
CREATE INDEX one_time_codes_expires_at_idx ON one_time_codes (expires_at);
CREATE TABLE code_submissions (
    nid BLOB NOT NULL,
    flow_id BLOB NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (nid, flow_id)
)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE one_time_codes (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    flow_id BINARY(16) NOT NULL,
    identity_id BINARY(16),
    address_id BINARY(16),
    address TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    digest VARCHAR(255) NOT NULL,
    issued_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at DATETIME(6),
    INDEX one_time_codes_flow_idx (nid, flow_id, kind, digest),
    INDEX one_time_codes_identity_id_idx (identity_id),
    INDEX one_time_codes_expires_at_idx (expires_at),
    CONSTRAINT one_time_codes_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE code_submissions (
    nid BINARY(16) NOT NULL,
    flow_id BINARY(16) NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (nid, flow_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000007_one_time_codes",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS code_submissions; DROP TABLE IF EXISTS one_time_codes",
    sqlite_down: "DROP TABLE IF EXISTS code_submissions; DROP TABLE IF EXISTS one_time_codes",
    mysql_up: MYSQL_UP,
    mysql_down: "DROP TABLE IF EXISTS code_submissions; DROP TABLE IF EXISTS one_time_codes",
};
