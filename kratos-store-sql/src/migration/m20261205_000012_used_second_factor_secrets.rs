//! Uses of second-factor secrets (`UsedSecretStore`): one row per (tenant, identity, key),
//! inserted once, so of concurrent uses of a TOTP step or a recovery code exactly one wins.
//! Rows go with their identity (foreign key, cascade) and, once expired, with the cleanup
//! (by `(nid, expires_at)`).

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE used_second_factor_secrets (
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    key text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (nid, identity_id, key)
);
CREATE INDEX used_second_factor_secrets_nid_expires_at_idx ON used_second_factor_secrets (nid, expires_at);
CREATE INDEX used_second_factor_secrets_identity_id_idx ON used_second_factor_secrets (identity_id)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE used_second_factor_secrets (
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (nid, identity_id, key)
);
CREATE INDEX used_second_factor_secrets_nid_expires_at_idx ON used_second_factor_secrets (nid, expires_at);
CREATE INDEX used_second_factor_secrets_identity_id_idx ON used_second_factor_secrets (identity_id)
"#;

const DOWN: &str = "DROP TABLE IF EXISTS used_second_factor_secrets";

const MYSQL_UP: &str = r#"
CREATE TABLE used_second_factor_secrets (
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    `key` TEXT NOT NULL,
    key_digest BINARY(32) AS (UNHEX(SHA2(`key`, 256))) STORED,
    expires_at DATETIME(6) NOT NULL,
    UNIQUE INDEX used_second_factor_secrets_uq_idx (nid, identity_id, key_digest),
    INDEX used_second_factor_secrets_nid_expires_at_idx (nid, expires_at),
    INDEX used_second_factor_secrets_identity_id_idx (identity_id),
    CONSTRAINT used_second_factor_secrets_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000012_used_second_factor_secrets",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
    mysql_up: MYSQL_UP,
    mysql_down: DOWN,
};
