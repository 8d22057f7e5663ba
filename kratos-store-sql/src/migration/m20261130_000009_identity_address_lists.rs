//! `identities.verifiable_addresses` and `identities.recovery_addresses`: each identity's
//! address lists as JSON arrays on its own row, in list order, so that loading an identity
//! (and whoami) reads one row instead of aggregating two tables. The address tables stay the
//! index for lookups by address and for uniqueness; every write of an identity writes both,
//! and marking an address verified rebuilds the copy from the table in the same transaction.
//! Existing identities get their lists from the tables.

use super::Scripts;

const POSTGRES_UP: &str = r#"
ALTER TABLE identities ADD COLUMN verifiable_addresses jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN recovery_addresses jsonb NOT NULL DEFAULT '[]';
UPDATE identities i SET
    verifiable_addresses = (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', a.id,
        'value', a.value, 'verified', a.verified, 'via', a.via, 'status', a.status,
        'verified_at', a.verified_at, 'created_at', a.created_at, 'updated_at', a.updated_at)
        ORDER BY a.position), '[]'::jsonb)
        FROM identity_verifiable_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id),
    recovery_addresses = (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', a.id,
        'value', a.value, 'via', a.via, 'created_at', a.created_at,
        'updated_at', a.updated_at) ORDER BY a.position), '[]'::jsonb)
        FROM identity_recovery_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id);
ALTER TABLE identities ALTER COLUMN verifiable_addresses DROP DEFAULT,
    ALTER COLUMN recovery_addresses DROP DEFAULT
"#;

const SQLITE_UP: &str = r#"
ALTER TABLE identities ADD COLUMN verifiable_addresses TEXT NOT NULL DEFAULT '[]';
ALTER TABLE identities ADD COLUMN recovery_addresses TEXT NOT NULL DEFAULT '[]';
UPDATE identities SET
    verifiable_addresses = (SELECT json_group_array(json_object('id', hex(a.id),
        'value', a.value, 'verified', json(CASE WHEN a.verified THEN 'true' ELSE 'false' END),
        'via', a.via, 'status', a.status, 'verified_at', a.verified_at,
        'created_at', a.created_at, 'updated_at', a.updated_at) ORDER BY a.position)
        FROM identity_verifiable_addresses a
        WHERE a.nid = identities.nid AND a.identity_id = identities.id),
    recovery_addresses = (SELECT json_group_array(json_object('id', hex(a.id),
        'value', a.value, 'via', a.via, 'created_at', a.created_at,
        'updated_at', a.updated_at) ORDER BY a.position)
        FROM identity_recovery_addresses a
        WHERE a.nid = identities.nid AND a.identity_id = identities.id)
"#;

const MYSQL_UP: &str = r#"
ALTER TABLE identities ADD COLUMN verifiable_addresses JSON NOT NULL DEFAULT ('[]'),
    ADD COLUMN recovery_addresses JSON NOT NULL DEFAULT ('[]');
UPDATE identities i SET
    verifiable_addresses = (SELECT COALESCE(JSON_EXTRACT(CONCAT('[', GROUP_CONCAT(
        JSON_OBJECT('id', HEX(a.id),
        'value', a.value, 'verified', JSON_EXTRACT(IF(a.verified, 'true', 'false'), '$'),
        'via', a.via, 'status', a.status,
        'verified_at', DATE_FORMAT(a.verified_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'created_at', DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'updated_at', DATE_FORMAT(a.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'))
        ORDER BY a.position SEPARATOR ','), ']'), '$'), '[]')
        FROM identity_verifiable_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id),
    recovery_addresses = (SELECT COALESCE(JSON_EXTRACT(CONCAT('[', GROUP_CONCAT(
        JSON_OBJECT('id', HEX(a.id),
        'value', a.value, 'via', a.via,
        'created_at', DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'updated_at', DATE_FORMAT(a.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'))
        ORDER BY a.position SEPARATOR ','), ']'), '$'), '[]')
        FROM identity_recovery_addresses a WHERE a.nid = i.nid AND a.identity_id = i.id);
ALTER TABLE identities ALTER COLUMN verifiable_addresses DROP DEFAULT,
    ALTER COLUMN recovery_addresses DROP DEFAULT
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261130_000009_identity_address_lists",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "ALTER TABLE identities DROP COLUMN verifiable_addresses, \
        DROP COLUMN recovery_addresses",
    sqlite_down: "ALTER TABLE identities DROP COLUMN verifiable_addresses;
        ALTER TABLE identities DROP COLUMN recovery_addresses",
    mysql_up: MYSQL_UP,
    mysql_down: "ALTER TABLE identities DROP COLUMN verifiable_addresses, DROP COLUMN recovery_addresses",
};
