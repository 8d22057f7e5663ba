//! Session token exchangers (`TokenExchangeStore`): one row per api flow opened with
//! `return_session_token_exchange_code`. Unlike Kratos's table of the same name, the codes are
//! kept as SHA-512 digests (unique per tenant, the init code's being the lookup key) and the
//! attached session's token only sealed under a key the return-to code derives. One exchanger
//! per flow (`(nid, flow_id)` unique); rows go with the cleanup once expired
//! (`(nid, expires_at)`). No foreign key to the session: an exchange whose session is gone
//! answers "not found".

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE session_token_exchanges (
    id uuid NOT NULL PRIMARY KEY,
    nid uuid NOT NULL,
    flow_id uuid NOT NULL,
    session_id uuid NULL,
    init_code_sha512 bytea NOT NULL,
    return_to_code_sha512 bytea NOT NULL,
    sealed_session_token bytea NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX session_token_exchanges_nid_flow_id_uq_idx ON session_token_exchanges (nid, flow_id);
CREATE UNIQUE INDEX session_token_exchanges_nid_init_code_uq_idx ON session_token_exchanges (nid, init_code_sha512);
CREATE INDEX session_token_exchanges_nid_expires_at_idx ON session_token_exchanges (nid, expires_at)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE session_token_exchanges (
    id BLOB NOT NULL PRIMARY KEY,
    nid BLOB NOT NULL,
    flow_id BLOB NOT NULL,
    session_id BLOB NULL,
    init_code_sha512 BLOB NOT NULL,
    return_to_code_sha512 BLOB NOT NULL,
    sealed_session_token BLOB NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE UNIQUE INDEX session_token_exchanges_nid_flow_id_uq_idx ON session_token_exchanges (nid, flow_id);
CREATE UNIQUE INDEX session_token_exchanges_nid_init_code_uq_idx ON session_token_exchanges (nid, init_code_sha512);
CREATE INDEX session_token_exchanges_nid_expires_at_idx ON session_token_exchanges (nid, expires_at)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE session_token_exchanges (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    flow_id BINARY(16) NOT NULL,
    session_id BINARY(16) NULL,
    init_code_sha512 VARBINARY(64) NOT NULL,
    return_to_code_sha512 VARBINARY(64) NOT NULL,
    sealed_session_token VARBINARY(1024) NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    UNIQUE INDEX session_token_exchanges_nid_flow_id_uq_idx (nid, flow_id),
    UNIQUE INDEX session_token_exchanges_nid_init_code_uq_idx (nid, init_code_sha512),
    INDEX session_token_exchanges_nid_expires_at_idx (nid, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

const DOWN: &str = "DROP TABLE IF EXISTS session_token_exchanges";

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000015_session_token_exchanges",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
    mysql_up: MYSQL_UP,
    mysql_down: DOWN,
};
