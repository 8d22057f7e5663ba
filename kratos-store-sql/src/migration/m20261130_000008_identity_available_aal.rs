//! `identities.available_aal`, as Kratos keeps it: the highest authenticator assurance level
//! the identity's credentials allow (`aal2` with a second factor, `aal1` otherwise), written
//! with the credentials so whoami reads it instead of inspecting them. Existing identities
//! get it from their credentials, by the rule of `kratos_core::session::available_aal`: a
//! TOTP credential, lookup secrets with at least one recovery code, or a WebAuthn credential
//! with a key whose `is_passwordless` is not `true`.

use super::Scripts;

const POSTGRES_UP: &str = r#"
ALTER TABLE identities ADD COLUMN available_aal text NOT NULL DEFAULT 'aal1';
UPDATE identities i SET available_aal = 'aal2' WHERE EXISTS (SELECT 1 FROM identity_credentials c
    WHERE c.nid = i.nid AND c.identity_id = i.id AND (c.credential_type = 'totp'
    OR (c.credential_type = 'lookup_secret' AND CASE
        WHEN jsonb_typeof(c.config -> 'recovery_codes') = 'array'
        THEN jsonb_array_length(c.config -> 'recovery_codes') > 0 ELSE false END)
    OR (c.credential_type = 'webauthn' AND CASE
        WHEN jsonb_typeof(c.config -> 'credentials') = 'array'
        THEN EXISTS (SELECT 1 FROM jsonb_array_elements(c.config -> 'credentials') AS k(v)
            WHERE (k.v -> 'is_passwordless') IS DISTINCT FROM 'true'::jsonb)
        ELSE false END)));
ALTER TABLE identities ALTER COLUMN available_aal DROP DEFAULT
"#;

const SQLITE_UP: &str = r#"
ALTER TABLE identities ADD COLUMN available_aal TEXT NOT NULL DEFAULT 'aal1';
UPDATE identities SET available_aal = 'aal2' WHERE EXISTS (SELECT 1 FROM identity_credentials c
    WHERE c.nid = identities.nid AND c.identity_id = identities.id
    AND (c.credential_type = 'totp'
    OR (c.credential_type = 'lookup_secret' AND CASE
        WHEN json_type(c.config, '$.recovery_codes') = 'array'
        THEN json_array_length(c.config, '$.recovery_codes') > 0 ELSE 0 END)
    OR (c.credential_type = 'webauthn' AND CASE
        WHEN json_type(c.config, '$.credentials') = 'array'
        THEN EXISTS (SELECT 1 FROM json_each(c.config, '$.credentials') AS k WHERE CASE
            WHEN k.type = 'object' THEN json_type(k.value, '$.is_passwordless') IS NOT 'true'
            ELSE 1 END)
        ELSE 0 END)))
"#;

const MYSQL_UP: &str = r#"
ALTER TABLE identities ADD COLUMN available_aal VARCHAR(16) NOT NULL DEFAULT 'aal1';
UPDATE identities i SET available_aal = 'aal2' WHERE EXISTS (SELECT 1 FROM identity_credentials c
    WHERE c.nid = i.nid AND c.identity_id = i.id AND (c.credential_type = 'totp'
    OR (c.credential_type = 'lookup_secret' AND CASE
        WHEN JSON_TYPE(JSON_EXTRACT(c.config, '$.recovery_codes')) = 'ARRAY'
        THEN JSON_LENGTH(c.config, '$.recovery_codes') > 0 ELSE FALSE END)
    OR (c.credential_type = 'webauthn' AND CASE
        WHEN JSON_TYPE(JSON_EXTRACT(c.config, '$.credentials')) = 'ARRAY'
        THEN EXISTS (SELECT 1 FROM JSON_TABLE(c.config, '$.credentials[*]'
            COLUMNS (k JSON PATH '$')) AS k
            WHERE JSON_TYPE(k.k) <> 'OBJECT'
            OR NOT (JSON_EXTRACT(k.k, '$.is_passwordless') <=> JSON_EXTRACT('true', '$')))
        ELSE FALSE END)));
ALTER TABLE identities ALTER COLUMN available_aal DROP DEFAULT
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261130_000008_identity_available_aal",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "ALTER TABLE identities DROP COLUMN available_aal",
    sqlite_down: "ALTER TABLE identities DROP COLUMN available_aal",
    mysql_up: MYSQL_UP,
    mysql_down: "ALTER TABLE identities DROP COLUMN available_aal",
};
