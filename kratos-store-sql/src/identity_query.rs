//! One-query loads of a single identity: the identity row (which keeps both address lists as
//! JSON) with its credentials and their identifiers aggregated as JSON, one statement per
//! backend, and their decoding. whoami uses the same pieces without credentials and admin
//! metadata.

use chrono::{DateTime, Utc};
use kratos_core::identity::{
    AddressVia, CredentialType, Credentials, Identity, IdentityState, RecoveryAddress,
    VerifiableAddress, VerificationStatus,
};
use kratos_core::store::StoreError;
use sea_orm::{DatabaseBackend, QueryResult};
use uuid::Uuid;

use crate::error::map_db_err;

/// The identity columns every one-query load selects (`i` is `identities`), with the copies
/// of both address lists the row keeps.
macro_rules! identity_columns {
    () => {
        "i.id AS identity_id, i.schema_id, i.traits, i.state, i.state_changed_at, \
         i.metadata_public, i.external_id, i.organization_id, \
         i.created_at AS identity_created_at, i.updated_at AS identity_updated_at, \
         i.verifiable_addresses, i.recovery_addresses"
    };
}
pub(crate) use identity_columns;

/// The verifiable address list of the identity `identity` in the tenant `nid` (both SQL
/// expressions) built from `identity_verifiable_addresses` as PostgreSQL JSON, in the shape
/// of the copy on the identity row. The tenant is checked with `IS NOT DISTINCT FROM`, for
/// the reason [`postgres_credentials`] gives.
macro_rules! postgres_verifiable_list {
    ($nid:literal, $identity:literal) => {
        concat!(
            "(SELECT COALESCE(jsonb_agg(jsonb_build_object('id', a.id, 'value', a.value, \
             'verified', a.verified, 'via', a.via, 'status', a.status, \
             'verified_at', a.verified_at, 'created_at', a.created_at, \
             'updated_at', a.updated_at) ORDER BY a.position), '[]'::jsonb) \
             FROM identity_verifiable_addresses a WHERE a.identity_id = ",
            $identity,
            " AND a.nid IS NOT DISTINCT FROM ",
            $nid,
            ")"
        )
    };
}
pub(crate) use postgres_verifiable_list;

/// [`postgres_verifiable_list`] for SQLite (ids as hex, booleans as JSON booleans).
macro_rules! sqlite_verifiable_list {
    ($nid:literal, $identity:literal) => {
        concat!(
            "(SELECT json_group_array(json_object('id', hex(a.id), 'value', a.value, \
             'verified', json(CASE WHEN a.verified THEN 'true' ELSE 'false' END), \
             'via', a.via, 'status', a.status, 'verified_at', a.verified_at, \
             'created_at', a.created_at, 'updated_at', a.updated_at) ORDER BY a.position) \
             FROM identity_verifiable_addresses a WHERE a.nid = ",
            $nid,
            " AND a.identity_id = ",
            $identity,
            ")"
        )
    };
}
pub(crate) use sqlite_verifiable_list;

/// [`postgres_verifiable_list`] for MySQL / MariaDB (ids as hex, booleans as JSON booleans,
/// timestamps as RFC 3339 text). The ordered list is `GROUP_CONCAT … ORDER BY` of JSON
/// objects made a JSON array by `JSON_EXTRACT(…, '$')`: MySQL 8 has no ordered
/// `JSON_ARRAYAGG` (MariaDB has), and both have these.
macro_rules! mysql_verifiable_list {
    ($nid:literal, $identity:literal) => {
        concat!(
            "(SELECT COALESCE(JSON_EXTRACT(CONCAT('[', GROUP_CONCAT(JSON_OBJECT(\
             'id', HEX(a.id), 'value', a.value, \
             'verified', JSON_EXTRACT(IF(a.verified, 'true', 'false'), '$'), \
             'via', a.via, 'status', a.status, \
             'verified_at', DATE_FORMAT(a.verified_at, '%Y-%m-%dT%H:%i:%s.%fZ'), \
             'created_at', DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), \
             'updated_at', DATE_FORMAT(a.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ')) \
             ORDER BY a.position SEPARATOR ','), ']'), '$'), JSON_ARRAY()) \
             FROM identity_verifiable_addresses a WHERE a.nid = ",
            $nid,
            " AND a.identity_id = ",
            $identity,
            ")"
        )
    };
}
pub(crate) use mysql_verifiable_list;

/// The credentials of `i` with their identifiers as a JSON array, for PostgreSQL.
///
/// On PostgreSQL, rows reached through their identity check the tenant with
/// `IS NOT DISTINCT FROM` (the same as `=` on these `NOT NULL` columns): an `nid = $1`
/// condition would let the planner scan an `nid`-prefixed index for the tenant's rows instead
/// of the identity's few, which a generic plan or missing statistics makes it do (the
/// tenant's whole index on every call).
macro_rules! postgres_credentials {
    () => {
        "(SELECT COALESCE(json_agg(json_build_object('type', c.credential_type, \
         'config', c.config, 'version', c.version, 'created_at', c.created_at, \
         'updated_at', c.updated_at, 'identifiers', \
         (SELECT COALESCE(json_agg(ci.identifier ORDER BY ci.position), '[]'::json) \
         FROM identity_credential_identifiers ci WHERE ci.identity_credential_id = c.id \
         AND ci.identity_id = i.id AND ci.nid IS NOT DISTINCT FROM i.nid))), '[]'::json) \
         FROM identity_credentials c WHERE c.nid = $1 AND c.identity_id = i.id) \
         AS credentials"
    };
}

/// [`postgres_credentials`] for SQLite.
macro_rules! sqlite_credentials {
    () => {
        "(SELECT json_group_array(json_object('type', c.credential_type, \
         'config', json(c.config), 'version', c.version, 'created_at', c.created_at, \
         'updated_at', c.updated_at, 'identifiers', \
         json((SELECT json_group_array(ci.identifier ORDER BY ci.position) \
         FROM identity_credential_identifiers ci WHERE ci.nid = $1 \
         AND ci.identity_id = i.id AND ci.identity_credential_id = c.id)))) \
         FROM identity_credentials c WHERE c.nid = $1 AND c.identity_id = i.id) \
         AS credentials"
    };
}

/// [`postgres_credentials`] for MySQL / MariaDB.
macro_rules! mysql_credentials {
    () => {
        "(SELECT COALESCE(JSON_ARRAYAGG(JSON_OBJECT('type', c.credential_type, \
         'config', c.config, 'version', c.version, \
         'created_at', DATE_FORMAT(c.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), \
         'updated_at', DATE_FORMAT(c.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'), 'identifiers', \
         (SELECT COALESCE(JSON_EXTRACT(CONCAT('[', GROUP_CONCAT(JSON_QUOTE(ci.identifier) \
         ORDER BY ci.position SEPARATOR ','), ']'), '$'), JSON_ARRAY()) \
         FROM identity_credential_identifiers ci WHERE ci.nid = $1 \
         AND ci.identity_id = i.id AND ci.identity_credential_id = c.id))), JSON_ARRAY()) \
         FROM identity_credentials c WHERE c.nid = $1 AND c.identity_id = i.id) \
         AS credentials"
    };
}

/// Which identity a one-query load selects.
#[derive(Clone, Copy)]
pub(crate) enum IdentityKey {
    /// By id (`$2`).
    Id,
    /// By external id (`$2`).
    ExternalId,
    /// By credential type (`$2`) and identifier (`$3`).
    Identifier,
}

/// The statement loading one whole identity (`$1` is the network id), with `$N` placeholders
/// on both backends: run it through [`crate::sql::statement`].
pub(crate) fn identity_sql(backend: DatabaseBackend, key: IdentityKey) -> &'static str {
    macro_rules! select {
        ($credentials:ident, $where:literal) => {
            concat!(
                "SELECT ",
                identity_columns!(),
                ", i.metadata_admin, ",
                $credentials!(),
                " FROM identities i WHERE ",
                $where
            )
        };
    }
    match (backend, key) {
        (DatabaseBackend::Sqlite, IdentityKey::Id) => {
            select!(sqlite_credentials, "i.nid = $1 AND i.id = $2")
        }
        (DatabaseBackend::Sqlite, IdentityKey::ExternalId) => {
            select!(sqlite_credentials, "i.nid = $1 AND i.external_id = $2")
        }
        (DatabaseBackend::Sqlite, IdentityKey::Identifier) => select!(
            sqlite_credentials,
            "i.nid = $1 AND i.id = (SELECT ci.identity_id FROM identity_credential_identifiers ci \
             WHERE ci.nid = $1 AND ci.credential_type = $2 AND ci.identifier = $3)"
        ),
        (DatabaseBackend::MySql, IdentityKey::Id) => {
            select!(mysql_credentials, "i.nid = $1 AND i.id = $2")
        }
        (DatabaseBackend::MySql, IdentityKey::ExternalId) => {
            select!(
                mysql_credentials,
                "i.nid = $1 AND i.external_id_digest = UNHEX(SHA2($2, 256)) \
                 AND i.external_id = $2"
            )
        }
        (DatabaseBackend::MySql, IdentityKey::Identifier) => select!(
            mysql_credentials,
            "i.nid = $1 AND i.id = (SELECT ci.identity_id FROM identity_credential_identifiers ci \
             WHERE ci.nid = $1 AND ci.credential_type = $2 \
             AND ci.identifier_digest = UNHEX(SHA2($3, 256)) AND ci.identifier = $3)"
        ),
        (_, IdentityKey::Id) => {
            select!(postgres_credentials, "i.nid = $1 AND i.id = $2")
        }
        (_, IdentityKey::ExternalId) => {
            select!(postgres_credentials, "i.nid = $1 AND i.external_id = $2")
        }
        (_, IdentityKey::Identifier) => select!(
            postgres_credentials,
            "i.nid = $1 AND i.id = (SELECT ci.identity_id FROM identity_credential_identifiers ci \
             WHERE ci.nid = $1 AND ci.credential_type = $2 AND ci.identifier = $3)"
        ),
    }
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} is not valid").into())
}

/// A JSON column decoded by sqlx straight into `T` (from PostgreSQL's JSON or SQLite's text),
/// without a `serde_json::Value` in between.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Typed<T>(T);

impl<T: serde::de::DeserializeOwned> sea_orm::TryGetableFromJson for Typed<T> {}

/// The JSON column at position `index` of a row, decoded as `T`; `what` names it in the error.
pub(crate) fn json_at<T: serde::de::DeserializeOwned>(
    row: &QueryResult,
    index: usize,
    what: &str,
) -> Result<T, StoreError> {
    row.try_get_by_index::<Typed<T>>(index)
        .map(|typed| typed.0)
        .map_err(|_| corrupt(what))
}

/// The column at position `index` of a row, decoded as `T`.
///
/// The one-query loads read their rows by position: a lookup by name hashes the name for
/// every column (reading by position took decoding whoami's row from 28k to 22k
/// instructions). The positions come from the column lists
/// (`IDENTITY_COLUMNS`, `session_store::SESSION_COLUMNS`); [`debug_assert_columns`] checks
/// them against the statement in every debug build.
pub(crate) fn at<T: sea_orm::TryGetable>(row: &QueryResult, index: usize) -> Result<T, StoreError> {
    row.try_get_by_index(index).map_err(map_db_err)
}

/// In debug builds, checks that `row` has the columns `names` from position `from` on.
pub(crate) fn debug_assert_columns(row: &QueryResult, from: usize, names: &[&str]) {
    if cfg!(debug_assertions) {
        let columns = row.column_names();
        let found: Vec<&str> = columns
            .iter()
            .skip(from)
            .take(names.len())
            .map(String::as_str)
            .collect();
        assert_eq!(found, names, "the statement's columns from position {from}");
    }
}

/// Decodes a JSON value, or text holding JSON (as SQLite answers).
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, StoreError> {
    match value {
        serde_json::Value::String(text) => serde_json::from_str(&text),
        value => serde_json::from_value(value),
    }
    .map_err(|_| corrupt(what))
}

/// The copies of an identity's address lists its row keeps (verifiable, recovery), in the
/// shape [`AddressJson`] reads.
pub(crate) fn address_lists(i: &Identity) -> (serde_json::Value, serde_json::Value) {
    let verifiable = i
        .verifiable_addresses
        .iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id, "value": a.value, "verified": a.verified, "via": a.via.as_str(),
                "status": a.status.as_str(), "verified_at": a.verified_at,
                "created_at": a.created_at, "updated_at": a.updated_at,
            })
        })
        .collect();
    let recovery = i
        .recovery_addresses
        .iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id, "value": a.value, "via": a.via.as_str(),
                "created_at": a.created_at, "updated_at": a.updated_at,
            })
        })
        .collect();
    (
        serde_json::Value::Array(verifiable),
        serde_json::Value::Array(recovery),
    )
}

/// An address as an identity row's copy holds it.
#[derive(serde::Deserialize)]
pub(crate) struct AddressJson {
    id: Uuid,
    value: String,
    via: String,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    status: String,
    #[serde(default)]
    verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A credential as the statements aggregate it.
#[derive(serde::Deserialize)]
struct CredentialJson {
    #[serde(rename = "type")]
    credential_type: String,
    config: serde_json::Value,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    identifiers: Vec<String>,
}

fn via(s: &str) -> Result<AddressVia, StoreError> {
    AddressVia::parse(s).ok_or_else(|| corrupt("address channel"))
}

/// The verifiable addresses of an identity row's copy.
pub(crate) fn verifiable_addresses(
    list: Vec<AddressJson>,
) -> Result<Vec<VerifiableAddress>, StoreError> {
    list.into_iter()
        .map(|a| {
            Ok(VerifiableAddress {
                id: a.id,
                value: a.value,
                verified: a.verified,
                via: via(&a.via)?,
                status: VerificationStatus::parse(&a.status)
                    .ok_or_else(|| corrupt("address status"))?,
                verified_at: a.verified_at,
                created_at: a.created_at,
                updated_at: a.updated_at,
            })
        })
        .collect()
}

/// The recovery addresses of an identity row's copy.
pub(crate) fn recovery_addresses(
    list: Vec<AddressJson>,
) -> Result<Vec<RecoveryAddress>, StoreError> {
    list.into_iter()
        .map(|a| {
            Ok(RecoveryAddress {
                id: a.id,
                value: a.value,
                via: via(&a.via)?,
                created_at: a.created_at,
                updated_at: a.updated_at,
            })
        })
        .collect()
}

/// The names of the columns of [`identity_columns`], in order, then those a full load adds.
pub(crate) const IDENTITY_COLUMNS: [&str; 14] = [
    "identity_id",
    "schema_id",
    "traits",
    "state",
    "state_changed_at",
    "metadata_public",
    "external_id",
    "organization_id",
    "identity_created_at",
    "identity_updated_at",
    "verifiable_addresses",
    "recovery_addresses",
    "metadata_admin",
    "credentials",
];

/// Decodes the identity of a one-query load whose [`identity_columns`] start at position
/// `from`; `full` reads admin metadata and credentials too (the two columns right after).
pub(crate) fn decode_identity(
    row: &QueryResult,
    from: usize,
    full: bool,
) -> Result<Identity, StoreError> {
    debug_assert_columns(row, from, &IDENTITY_COLUMNS[..if full { 14 } else { 12 }]);
    let verifiable_addresses = verifiable_addresses(json_at(row, from + 10, "addresses")?)?;
    let recovery_addresses = recovery_addresses(json_at(row, from + 11, "addresses")?)?;
    let mut credentials = std::collections::BTreeMap::new();
    if full {
        for c in json_at::<Vec<CredentialJson>>(row, from + 13, "credentials")? {
            let t = CredentialType::parse(&c.credential_type)
                .ok_or_else(|| corrupt("credential type"))?;
            credentials.insert(
                t,
                Credentials {
                    credential_type: t,
                    identifiers: c.identifiers,
                    config: c.config,
                    version: c.version,
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                },
            );
        }
    }
    Ok(Identity {
        id: at(row, from)?,
        schema_id: at(row, from + 1)?,
        schema_url: String::new(),
        state: IdentityState::parse(&at::<String>(row, from + 3)?)
            .ok_or_else(|| corrupt("identity state"))?,
        state_changed_at: at(row, from + 4)?,
        traits: at(row, from + 2)?,
        verifiable_addresses,
        recovery_addresses,
        metadata_public: at(row, from + 5)?,
        metadata_admin: if full { at(row, from + 12)? } else { None },
        credentials,
        external_id: at(row, from + 6)?,
        organization_id: at(row, from + 7)?,
        created_at: at(row, from + 8)?,
        updated_at: at(row, from + 9)?,
    })
}
