//! Sessions. Tokens are stored only as SHA-256 digests; devices live in a JSON column so
//! whoami is one indexed lookup.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_digest bytea NOT NULL,
    logout_token_digest bytea NOT NULL,
    active boolean NOT NULL,
    aal text NOT NULL,
    authentication_methods jsonb NOT NULL,
    devices jsonb NOT NULL,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    authenticated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX sessions_token_digest_uq_idx ON sessions (nid, token_digest);
CREATE UNIQUE INDEX sessions_logout_token_digest_uq_idx ON sessions (nid, logout_token_digest);
CREATE INDEX sessions_identity_idx ON sessions (nid, identity_id, issued_at DESC)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE sessions (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_digest BLOB NOT NULL,
    logout_token_digest BLOB NOT NULL,
    active INTEGER NOT NULL,
    aal TEXT NOT NULL,
    authentication_methods TEXT NOT NULL,
    devices TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    authenticated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX sessions_token_digest_uq_idx ON sessions (nid, token_digest);
CREATE UNIQUE INDEX sessions_logout_token_digest_uq_idx ON sessions (nid, logout_token_digest);
CREATE INDEX sessions_identity_idx ON sessions (nid, identity_id, issued_at DESC)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE sessions (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    token_digest VARBINARY(64) NOT NULL,
    logout_token_digest VARBINARY(64) NOT NULL,
    active BOOLEAN NOT NULL,
    aal VARCHAR(16) NOT NULL,
    authentication_methods JSON NOT NULL,
    devices JSON NOT NULL,
    issued_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    authenticated_at DATETIME(6) NOT NULL,
    UNIQUE INDEX sessions_token_digest_uq_idx (nid, token_digest),
    UNIQUE INDEX sessions_logout_token_digest_uq_idx (nid, logout_token_digest),
    INDEX sessions_identity_idx (nid, identity_id, issued_at DESC),
    CONSTRAINT sessions_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000003_sessions",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS sessions",
    sqlite_down: "DROP TABLE IF EXISTS sessions",
    mysql_up: MYSQL_UP,
    mysql_down: "DROP TABLE IF EXISTS sessions",
};
