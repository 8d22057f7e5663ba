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

const MYSQL_UP: &str = r#"
CREATE TABLE identities (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    schema_id TEXT NOT NULL,
    traits JSON NOT NULL,
    state VARCHAR(64) NOT NULL,
    state_changed_at DATETIME(6),
    metadata_public JSON,
    metadata_admin JSON,
    external_id TEXT,
    external_id_digest BINARY(32) AS (UNHEX(SHA2(external_id, 256))) STORED,
    organization_id BINARY(16),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX identities_nid_id_idx (nid, id),
    UNIQUE INDEX identities_nid_external_id_uq_idx (nid, external_id_digest),
    INDEX identities_nid_organization_id_idx (nid, organization_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE identity_credentials (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    credential_type VARCHAR(64) NOT NULL,
    config JSON NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE INDEX identity_credentials_identity_type_uq_idx (identity_id, credential_type),
    CONSTRAINT identity_credentials_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE identity_credential_identifiers (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    identity_credential_id BINARY(16) NOT NULL,
    credential_type VARCHAR(64) NOT NULL,
    identifier TEXT NOT NULL,
    identifier_digest BINARY(32) AS (UNHEX(SHA2(identifier, 256))) STORED,
    position INTEGER NOT NULL DEFAULT 0,
    UNIQUE INDEX identity_credential_identifiers_nid_type_identifier_uq_idx (nid, credential_type, identifier_digest),
    INDEX identity_credential_identifiers_nid_identifier_idx (nid, identifier(191)),
    INDEX identity_credential_identifiers_identity_id_idx (identity_id),
    CONSTRAINT identity_credential_identifiers_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE,
    CONSTRAINT identity_credential_identifiers_credential_fk FOREIGN KEY (identity_credential_id) REFERENCES identity_credentials (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE identity_verifiable_addresses (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    via VARCHAR(64) NOT NULL,
    value TEXT NOT NULL,
    value_digest BINARY(32) AS (UNHEX(SHA2(value, 256))) STORED,
    verified BOOLEAN NOT NULL,
    status VARCHAR(64) NOT NULL,
    verified_at DATETIME(6),
    position INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE INDEX identity_verifiable_addresses_nid_via_value_uq_idx (nid, via, value_digest),
    INDEX identity_verifiable_addresses_identity_id_idx (identity_id),
    CONSTRAINT identity_verifiable_addresses_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE identity_recovery_addresses (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    via VARCHAR(64) NOT NULL,
    value TEXT NOT NULL,
    value_digest BINARY(32) AS (UNHEX(SHA2(value, 256))) STORED,
    position INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE INDEX identity_recovery_addresses_nid_via_value_uq_idx (nid, via, value_digest),
    INDEX identity_recovery_addresses_identity_id_idx (identity_id),
    CONSTRAINT identity_recovery_addresses_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000001_identities",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
    mysql_up: MYSQL_UP,
    mysql_down: DOWN,
};
