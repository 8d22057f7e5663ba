//! MySQL / MariaDB's whoami row: the session's and the identity's `whoami_document` (stored
//! generated JSON; see migration `m20261206_000016_whoami_documents` for why), decoded into
//! the same [`SessionWithIdentity`] the column-wise statements of the other backends give.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use kratos_core::identity::{Identity, IdentityState};
use kratos_core::session::{Aal, AuthenticationMethod, Device, Session, SessionRecord};
use kratos_core::store::{SessionWithIdentity, StoreError};
use sea_orm::QueryResult;
use serde::de::{self, Deserializer, Visitor};
use uuid::Uuid;

use crate::identity_query::{
    AddressJson, corrupt, debug_assert_columns, json_at, recovery_addresses, verifiable_addresses,
};

/// The columns of `session_store::MYSQL_WHOAMI`, in order.
pub(crate) const COLUMNS: [&str; 2] = ["whoami_document", "identity_document"];

/// `sessions.whoami_document`.
#[derive(serde::Deserialize)]
struct SessionDocument {
    id: Uuid,
    #[serde(deserialize_with = "digest")]
    logout_token_digest: [u8; 32],
    #[serde(deserialize_with = "flag")]
    active: bool,
    aal: String,
    authentication_methods: Vec<AuthenticationMethod>,
    devices: Vec<Device>,
    #[serde(deserialize_with = "time")]
    issued_at: DateTime<Utc>,
    #[serde(deserialize_with = "time")]
    expires_at: DateTime<Utc>,
    #[serde(deserialize_with = "time")]
    authenticated_at: DateTime<Utc>,
}

/// `identities.whoami_document`.
#[derive(serde::Deserialize)]
struct IdentityDocument {
    id: Uuid,
    organization_id: Option<Uuid>,
    schema_id: String,
    traits: serde_json::Value,
    state: String,
    #[serde(default, deserialize_with = "optional_time")]
    state_changed_at: Option<DateTime<Utc>>,
    metadata_public: Option<serde_json::Value>,
    external_id: Option<String>,
    #[serde(deserialize_with = "time")]
    created_at: DateTime<Utc>,
    #[serde(deserialize_with = "time")]
    updated_at: DateTime<Utc>,
    verifiable_addresses: Vec<AddressJson>,
    recovery_addresses: Vec<AddressJson>,
    available_aal: String,
}

/// Decodes a row of `session_store::MYSQL_WHOAMI`, found by `token_digest`.
pub(crate) fn decode(
    row: &QueryResult,
    token_digest: &[u8; 32],
) -> Result<SessionWithIdentity, StoreError> {
    debug_assert_columns(row, 0, &COLUMNS);
    let s: SessionDocument = json_at(row, 0, "session")?;
    let i: IdentityDocument = json_at(row, 1, "identity")?;
    let identity = Identity {
        id: i.id,
        schema_id: i.schema_id,
        schema_url: String::new(),
        state: IdentityState::parse(&i.state).ok_or_else(|| corrupt("identity state"))?,
        state_changed_at: i.state_changed_at,
        traits: i.traits,
        verifiable_addresses: verifiable_addresses(i.verifiable_addresses)?,
        recovery_addresses: recovery_addresses(i.recovery_addresses)?,
        metadata_public: i.metadata_public,
        metadata_admin: None,
        credentials: Default::default(),
        external_id: i.external_id,
        organization_id: i.organization_id,
        created_at: i.created_at,
        updated_at: i.updated_at,
    };
    Ok(SessionWithIdentity {
        record: SessionRecord {
            session: Session {
                id: s.id,
                active: s.active,
                expires_at: s.expires_at,
                authenticated_at: s.authenticated_at,
                authenticator_assurance_level: Aal::parse(&s.aal).ok_or_else(|| corrupt("aal"))?,
                authentication_methods: s.authentication_methods,
                issued_at: s.issued_at,
                identity: None,
                devices: s.devices,
                identity_id: identity.id,
            },
            token_digest: *token_digest,
            logout_token_digest: s.logout_token_digest,
        },
        identity,
        available_aal: Aal::parse(&i.available_aal).ok_or_else(|| corrupt("available aal"))?,
    })
}

/// A `DATETIME` as both servers write it into JSON, in UTC: `2026-12-06 10:00:00.123456`
/// (the fraction optional), read without allocating.
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    struct Time;
    impl Visitor<'_> for Time {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a DATETIME as `YYYY-MM-DD hh:mm:ss[.ffffff]`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_datetime(v)
                .map(|t| t.and_utc())
                .ok_or_else(|| E::custom("not a DATETIME as `YYYY-MM-DD hh:mm:ss[.ffffff]`"))
        }
    }
    d.deserialize_str(Time)
}

/// `YYYY-MM-DD hh:mm:ss` with an optional fraction of up to six digits. Written out because
/// `NaiveDateTime::parse_from_str` reads its format string again on every call, which took
/// about a third of decoding a whoami row here.
fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let number = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from.checked_add(len)?)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if b.len() < 19 || separators.iter().any(|&(at, c)| b[at] != c) {
        return None;
    }
    let micros = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=6).contains(&fraction.len()) => {
            let len = fraction.len();
            number(20, len)? * 10u32.pow(6 - len as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
    let time =
        NaiveTime::from_hms_micro_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?, micros)?;
    Some(date.and_time(time))
}

/// [`time`] or `null`.
fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct Optional;
    impl<'de> Visitor<'de> for Optional {
        type Value = Option<DateTime<Utc>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a DATETIME or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            time(d).map(Some)
        }
    }
    d.deserialize_option(Optional)
}

/// A 32-byte digest as `HEX()` writes it: 64 hexadecimal digits.
fn digest<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    struct Digest;
    impl Visitor<'_> for Digest {
        type Value = [u8; 32];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("64 hexadecimal digits")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let mut out = [0; 32];
            hex::decode_to_slice(v, &mut out)
                .map_err(|_| E::custom("not 64 hexadecimal digits"))?;
            Ok(out)
        }
    }
    d.deserialize_str(Digest)
}

/// A `BOOLEAN` as the servers write it into JSON: `1` / `0` (MariaDB) or `true` / `false`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct Flag;
    impl Visitor<'_> for Flag {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, 0 or 1")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::custom("a flag other than 0 or 1")),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            u64::try_from(v)
                .map_err(|_| E::custom("a negative flag"))
                .and_then(|v| self.visit_u64(v))
        }
    }
    d.deserialize_any(Flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(deserialize_with = "flag")]
        flag: bool,
        #[serde(deserialize_with = "time")]
        at: DateTime<Utc>,
        #[serde(default, deserialize_with = "optional_time")]
        maybe: Option<DateTime<Utc>>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_what_mariadb_and_mysql_write() {
        let p = probe(r#"{"flag": 1, "at": "2026-12-06 10:00:00.123456", "maybe": null}"#)
            .expect("MariaDB's shape");
        assert!(p.flag);
        assert_eq!(p.at.to_rfc3339(), "2026-12-06T10:00:00.123456+00:00");
        assert_eq!(p.maybe, None);
        let p = probe(r#"{"flag": false, "at": "2026-12-06 10:00:00", "maybe": "2026-01-02 03:04:05.000000"}"#)
            .expect("MySQL's shape");
        assert!(!p.flag);
        assert_eq!(p.at.to_rfc3339(), "2026-12-06T10:00:00+00:00");
        assert_eq!(
            p.maybe.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-01-02T03:04:05+00:00")
        );
        let p = probe(r#"{"flag": 0, "at": "2026-12-06 10:00:00"}"#).expect("no optional time");
        assert!(!p.flag && p.maybe.is_none());
    }

    #[test]
    fn refuses_what_is_not_a_flag_or_a_time() {
        for bad in [
            r#"{"flag": 2, "at": "2026-12-06 10:00:00"}"#,
            r#"{"flag": -1, "at": "2026-12-06 10:00:00"}"#,
            r#"{"flag": "1", "at": "2026-12-06 10:00:00"}"#,
            r#"{"flag": 1, "at": "2026-12-06T10:00:00Z"}"#,
            r#"{"flag": 1, "at": "2026-13-06 10:00:00"}"#,
            r#"{"flag": 1, "at": 1796515673}"#,
        ] {
            assert!(probe(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_digests_as_hex_writes_them() {
        #[derive(serde::Deserialize)]
        struct Probe {
            #[serde(deserialize_with = "digest")]
            d: [u8; 32],
        }
        let upper = format!(r#"{{"d": "{}"}}"#, "AB".repeat(32));
        let p: Probe = serde_json::from_str(&upper).expect("HEX()'s upper case");
        assert_eq!(p.d, [0xab; 32]);
        for bad in [
            "AB".repeat(31),
            "AB".repeat(33),
            format!("{}G0", "AB".repeat(31)),
            String::new(),
        ] {
            let json = format!(r#"{{"d": "{bad}"}}"#);
            assert!(serde_json::from_str::<Probe>(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_datetimes_as_chrono_does_and_nothing_else() {
        for good in [
            "2026-12-06 10:00:00",
            "2026-12-06 10:00:00.1",
            "2026-12-06 10:00:00.123456",
            "0001-01-01 00:00:00.000000",
            "9999-12-31 23:59:59.999999",
            "2024-02-29 12:34:56.000001",
        ] {
            let chrono = NaiveDateTime::parse_from_str(good, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            assert_eq!(parse_datetime(good), Some(chrono), "{good}");
        }
        for bad in [
            "",
            "2026-12-06",
            "2026-12-06T10:00:00",
            "2026-12-06 10:00:00.",
            "2026-12-06 10:00:00.1234567",
            "2026-12-06 10:00:00Z",
            "2026-12-06 24:00:00",
            "2025-02-29 10:00:00",
            "2026-12-06 10:00:60",
            "+026-12-06 10:00:00",
            "2026-12-06 10:0a:00",
            "２026-12-06 10:00:00",
            "2026-12-06 10:00:00.12é",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
