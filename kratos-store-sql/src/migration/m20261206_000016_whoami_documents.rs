//! MySQL / MariaDB only: `identities.whoami_document` and `sessions.whoami_document`, stored
//! generated JSON columns that gather what whoami reads of each row into one value (binary ids
//! and digests as hexadecimal text), which the database keeps in step with every write.
//!
//! MariaDB resolves every selected column again on each execution of a prepared statement,
//! and both servers send a column definition per column with every result: whoami's row of
//! 24 columns took about 1.45x a 12-column primary-key `SELECT`, most of it per column.
//! With the two documents whoami selects two columns (`session_store::MYSQL_WHOAMI`); the
//! price is a second copy of those values in each row. PostgreSQL and SQLite read the
//! columns themselves and need nothing here.
//!
//! Timestamps are in the documents as the server writes them in JSON
//! (`2026-12-06 10:00:00.000000`, UTC), booleans as `1` / `0` on MariaDB and `true` / `false`
//! on MySQL; `session_store::mysql_whoami` reads both.

use super::Scripts;

const MYSQL_UP: &str = r#"
ALTER TABLE identities ADD COLUMN whoami_document JSON AS (JSON_OBJECT(
    'id', HEX(id), 'organization_id', HEX(organization_id), 'schema_id', schema_id, 'traits', traits, 'state', state,
    'state_changed_at', state_changed_at, 'metadata_public', metadata_public,
    'external_id', external_id, 'created_at', created_at, 'updated_at', updated_at,
    'verifiable_addresses', verifiable_addresses, 'recovery_addresses', recovery_addresses,
    'available_aal', available_aal)) STORED;
ALTER TABLE sessions ADD COLUMN whoami_document JSON AS (JSON_OBJECT(
    'id', HEX(id), 'logout_token_digest', HEX(logout_token_digest), 'active', active, 'aal', aal, 'authentication_methods', authentication_methods,
    'devices', devices, 'issued_at', issued_at, 'expires_at', expires_at,
    'authenticated_at', authenticated_at)) STORED
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261206_000016_whoami_documents",
    postgres_up: "",
    sqlite_up: "",
    postgres_down: "",
    sqlite_down: "",
    mysql_up: MYSQL_UP,
    mysql_down: "ALTER TABLE sessions DROP COLUMN whoami_document;
        ALTER TABLE identities DROP COLUMN whoami_document",
};
