//! Identities, credentials, identifiers and addresses.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE identities (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    schema_id text NOT NULL,
    traits jsonb NOT NULL,
    state text NOT NULL,
    state_changed_at timestamptz,
    metadata_public jsonb,
    metadata_admin jsonb,
    external_id text,
    organization_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX identities_nid_id_idx ON identities (nid, id);
CREATE UNIQUE INDEX identities_nid_external_id_uq_idx ON identities (nid, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX identities_nid_organization_id_idx ON identities (nid, organization_id, id);
CREATE TABLE identity_credentials (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    credential_type text NOT NULL,
    config jsonb NOT NULL,
    version integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX identity_credentials_identity_type_uq_idx ON identity_credentials (identity_id, credential_type);
CREATE TABLE identity_credential_identifiers (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    identity_credential_id uuid NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    credential_type text NOT NULL,
    identifier text NOT NULL,
    position integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX identity_credential_identifiers_nid_type_identifier_uq_idx ON identity_credential_identifiers (nid, credential_type, identifier);
CREATE INDEX identity_credential_identifiers_nid_identifier_idx ON identity_credential_identifiers (nid, identifier text_pattern_ops);
CREATE INDEX identity_credential_identifiers_identity_id_idx ON identity_credential_identifiers (identity_id);
CREATE TABLE identity_verifiable_addresses (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via text NOT NULL,
    value text NOT NULL,
    verified boolean NOT NULL,
    status text NOT NULL,
    verified_at timestamptz,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX identity_verifiable_addresses_nid_via_value_uq_idx ON identity_verifiable_addresses (nid, via, value);
CREATE INDEX identity_verifiable_addresses_identity_id_idx ON identity_verifiable_addresses (identity_id);
CREATE TABLE identity_recovery_addresses (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via text NOT NULL,
    value text NOT NULL,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX identity_recovery_addresses_nid_via_value_uq_idx ON identity_recovery_addresses (nid, via, value);
CREATE INDEX identity_recovery_addresses_identity_id_idx ON identity_recovery_addresses (identity_id)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE identities (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    schema_id TEXT NOT NULL,
    traits TEXT NOT NULL,
    state TEXT NOT NULL,
    state_changed_at TEXT,
    metadata_public TEXT,
    metadata_admin TEXT,
    external_id TEXT,
    organization_id BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX identities_nid_id_idx ON identities (nid, id);
CREATE UNIQUE INDEX identities_nid_external_id_uq_idx ON identities (nid, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX identities_nid_organization_id_idx ON identities (nid, organization_id, id);
CREATE TABLE identity_credentials (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    credential_type TEXT NOT NULL,
    config TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_credentials_identity_type_uq_idx ON identity_credentials (identity_id, credential_type);
CREATE TABLE identity_credential_identifiers (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    identity_credential_id BLOB NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    credential_type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX identity_credential_identifiers_nid_type_identifier_uq_idx ON identity_credential_identifiers (nid, credential_type, identifier);
CREATE INDEX identity_credential_identifiers_nid_identifier_idx ON identity_credential_identifiers (nid, identifier);
CREATE INDEX identity_credential_identifiers_identity_id_idx ON identity_credential_identifiers (identity_id);
CREATE TABLE identity_verifiable_addresses (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    value TEXT NOT NULL,
    verified INTEGER NOT NULL,
    status TEXT NOT NULL,
    verified_at TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_verifiable_addresses_nid_via_value_uq_idx ON identity_verifiable_addresses (nid, via, value);
CREATE INDEX identity_verifiable_addresses_identity_id_idx ON identity_verifiable_addresses (identity_id);
CREATE TABLE identity_recovery_addresses (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    value TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_recovery_addresses_nid_via_value_uq_idx ON identity_recovery_addresses (nid, via, value);
CREATE INDEX identity_recovery_addresses_identity_id_idx ON identity_recovery_addresses (identity_id)
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS identity_recovery_addresses;
DROP TABLE IF EXISTS identity_verifiable_addresses;
DROP TABLE IF EXISTS identity_credential_identifiers;
DROP TABLE IF EXISTS identity_credentials;
DROP TABLE IF EXISTS identities
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000001_identities",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
};
