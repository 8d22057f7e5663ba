//! The change feed of the SQL store ([`kratos_core::store::ChangeFeedStore`]).
//!
//! On PostgreSQL, triggers (migration `m20261205_000013_change_notifications`) send a
//! notification on [`CHANNEL`] for every update or deletion of a session or an identity row;
//! `kratos-store-postgres` listens for them and gives the store its feed
//! ([`crate::SqlStore::with_change_feed`]). SQLite and MySQL have no feed.

use kratos_core::store::{ChangeFeed, ChangeFeedStore, StoreChange};
use uuid::Uuid;

use crate::SqlStore;

/// The notification channel of the change triggers.
pub const CHANNEL: &str = "kratos_rs_changes";

/// The payload of a heartbeat notification (sent by listeners to check that their
/// connection still receives); it names no change.
pub const HEARTBEAT: &str = "heartbeat";

/// Reads a notification's payload: `s <nid> <identity id> <session id>` for a session,
/// `i <nid> <identity id>` for an identity. `None` for anything else (a heartbeat).
pub fn parse(payload: &str) -> Option<StoreChange> {
    let mut parts = payload.split(' ');
    let kind = parts.next()?;
    let mut id = || parts.next().and_then(|p| Uuid::parse_str(p).ok());
    let change = match kind {
        "s" => StoreChange::Session {
            nid: id()?,
            identity_id: id()?,
            session_id: id()?,
        },
        "i" => StoreChange::Identity {
            nid: id()?,
            identity_id: id()?,
        },
        _ => return None,
    };
    parts.next().is_none().then_some(change)
}

impl ChangeFeedStore for SqlStore {
    fn change_feed(&self) -> Option<ChangeFeed> {
        self.feed.as_ref().and_then(|open| open())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_the_triggers_parse() {
        let (nid, identity, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            parse(&format!("s {nid} {identity} {session}")),
            Some(StoreChange::Session {
                nid,
                identity_id: identity,
                session_id: session
            })
        );
        assert_eq!(
            parse(&format!("i {nid} {identity}")),
            Some(StoreChange::Identity {
                nid,
                identity_id: identity
            })
        );
        for other in [
            HEARTBEAT.to_owned(),
            String::new(),
            format!("i {nid}"),
            format!("i {nid} {identity} {session}"),
            format!("s {nid} {identity} nope"),
        ] {
            assert_eq!(parse(&other), None, "{other}");
        }
    }
}
