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

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000003_sessions",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS sessions",
    sqlite_down: "DROP TABLE IF EXISTS sessions",
};
