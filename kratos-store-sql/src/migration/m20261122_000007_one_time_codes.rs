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

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000007_one_time_codes",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS code_submissions; DROP TABLE IF EXISTS one_time_codes",
    sqlite_down: "DROP TABLE IF EXISTS code_submissions; DROP TABLE IF EXISTS one_time_codes",
};
