//! A feed of changes to stored sessions and identities ([`ChangeFeedStore`]), for the
//! in-process whoami cache of app instances that share one database
//! ([`crate::KratosBuilder::whoami_cache`]).
//!
//! A store whose database can tell its clients what changed (PostgreSQL's `LISTEN` /
//! `NOTIFY`) answers a [`ChangeFeed`]; the others answer none (the trait's default), and a
//! cache over them relies on its time-to-live alone.

use uuid::Uuid;

/// What a [`ChangeFeed`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreChange {
    /// The feed is listening: every change committed from now on is reported. Changes
    /// committed before (or while the feed was interrupted) may have been missed, so
    /// whatever a reader kept from before must be dropped.
    Listening,
    /// The feed stopped listening (its connection dropped) and changes may go unreported
    /// until it reports [`StoreChange::Listening`] again; it reconnects on its own.
    Interrupted,
    /// A session was updated (revoked, extended, re-authenticated) or deleted.
    Session {
        /// The tenant.
        nid: Uuid,
        /// The session's identity.
        identity_id: Uuid,
        /// The session.
        session_id: Uuid,
    },
    /// An identity was updated (traits, state, credentials and so its available level,
    /// addresses) or deleted.
    Identity {
        /// The tenant.
        nid: Uuid,
        /// The identity.
        identity_id: Uuid,
    },
}

/// The receiving end of a store's change feed: the changes other processes (and this one)
/// commit, in the order the store reports them. Dropping it stops the feed.
#[derive(Debug)]
pub struct ChangeFeed {
    receiver: tokio::sync::mpsc::Receiver<StoreChange>,
}

impl ChangeFeed {
    /// A feed and the sender a store's listener reports through; `capacity` changes wait
    /// in between before the listener waits for the reader.
    pub fn channel(capacity: usize) -> (tokio::sync::mpsc::Sender<StoreChange>, ChangeFeed) {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        (sender, ChangeFeed { receiver })
    }

    /// The next change; `None` once the store's listener has ended for good.
    pub async fn next(&mut self) -> Option<StoreChange> {
        self.receiver.recv().await
    }
}

/// A store that can report changes committed by every process sharing its database.
///
/// The default answers no feed: a reader then cannot learn of other processes' writes, and
/// bounds what it keeps by time instead. A backend with notifications (PostgreSQL) overrides
/// [`ChangeFeedStore::change_feed`].
pub trait ChangeFeedStore: Send + Sync {
    /// Subscribes to the changes of sessions and identities: a listener (on a connection of
    /// its own, reconnecting when it drops) reports [`StoreChange::Listening`] once it
    /// listens, then every session or identity updated or deleted by any process, in every
    /// tenant. `None` when this store has no change feed.
    ///
    /// Called within a Tokio runtime: the listener runs as a task of it.
    fn change_feed(&self) -> Option<ChangeFeed> {
        None
    }
}
