//! The storage trait every backend implements, and the in-memory backend.
//!
//! Every call is scoped by a tenant network id (`nid`); tenants never see each other's
//! tuples. The engine reads the tuple graph **level by level**: each call of
//! [`TupleStore::read_level`] carries every lookup one level of a check (or expand, or
//! lookup) needs, so an SQL backend answers a whole level in one round trip.

mod memory;

pub use memory::MemoryStore;

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;
use crate::tuple::{RelationQuery, RelationTuple, Subject, SubjectSet};

/// A monotonic store version: every committed write makes it larger.
pub type Version = u64;

/// The lookups of one level of a graph walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelRequest {
    /// Exact tuples whose existence is asked for.
    pub exists: Vec<RelationTuple>,
    /// Keys `namespace:object#relation` whose subject-set subjects are asked for (subject ids
    /// are not returned).
    pub subject_sets: Vec<SubjectSet>,
    /// Keys whose subjects of both kinds (ids and sets) are asked for (used by expand).
    pub subjects: Vec<SubjectSet>,
    /// Subject-set walks a check is about to take; see [`Expansion`].
    pub expansions: Vec<Expansion>,
}

impl LevelRequest {
    /// Whether there is nothing to look up.
    pub fn is_empty(&self) -> bool {
        self.exists.is_empty()
            && self.subject_sets.is_empty()
            && self.subjects.is_empty()
            && self.expansions.is_empty()
    }
}

/// A walk along stored subject-set edges that a check is about to take (Keto's expansion of
/// a relation into the subject sets stored under it), which a store may answer several
/// levels ahead in the same round trip.
///
/// A check through five nested groups otherwise costs two round trips per group (the
/// group's subject sets, then whether the subject is stored directly under each); a store
/// that can follow the edges itself (an SQL recursive query) answers all of them at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// Where the walk starts.
    pub root: SubjectSet,
    /// The checked subject: each answered node says whether it is stored directly there.
    pub subject: Subject,
    /// How many subject-set edges below the root the walk may follow (at least 1).
    pub depth: u32,
}

/// One node of an answered [`Expansion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedNode {
    /// The node `namespace:object#relation`.
    pub set: SubjectSet,
    /// The subject of the expansion that reached it.
    pub subject: Subject,
    /// Whether the tuple `set@subject` is stored.
    pub contains_subject: bool,
    /// Every subject set stored under the node, in insertion order; `None` when the store
    /// did not read them (allowed only for nodes at the walk's full depth).
    pub subject_sets: Option<Vec<SubjectSet>>,
}

fn tuple_of(set: &SubjectSet, subject: &Subject) -> RelationTuple {
    RelationTuple::new(
        set.namespace.clone(),
        set.object.clone(),
        set.relation.clone(),
        subject.clone(),
    )
}

impl Expansion {
    /// The tuple `root@subject`: whether it is stored is part of the answer.
    pub fn root_tuple(&self) -> RelationTuple {
        tuple_of(&self.root, &self.subject)
    }
}

impl ExpandedNode {
    /// The tuple `set@subject` whose presence [`contains_subject`](Self::contains_subject)
    /// answers.
    pub fn tuple(&self) -> RelationTuple {
        tuple_of(&self.set, &self.subject)
    }
}

/// The answers to a [`LevelRequest`], index-aligned with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelResponse {
    /// For each `exists` entry: whether that exact tuple is stored.
    pub exists: Vec<bool>,
    /// For each `subject_sets` key: the subject sets stored under it, in list order (ascending
    /// insertion order).
    pub subject_sets: Vec<Vec<SubjectSet>>,
    /// For each `subjects` key: every subject stored under it, in list order.
    pub subjects: Vec<Vec<Subject>>,
    /// The nodes of the requested expansions, in any order. Each expansion's root is
    /// answered, with its subject sets; any other node reachable from a root within its
    /// depth may be answered too, and every answered node is complete and true.
    pub expanded: Vec<ExpandedNode>,
}

/// A key of the reverse (subject-side) index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectKey {
    /// Tuples whose subject is this subject id.
    Id(String),
    /// Tuples whose subject is a subject set on this object, with any relation (including
    /// the empty one).
    Object {
        /// Namespace of the subject set.
        namespace: String,
        /// Object of the subject set.
        object: String,
    },
}

/// A key of the forward (object-side) index: every tuple of an object, any relation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Namespace of the object.
    pub namespace: String,
    /// The object.
    pub object: String,
}

/// A page to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Maximum number of tuples (the engine passes 1..=500).
    pub size: usize,
    /// Token of the previous page's `next_page_token`; `None` for the first page.
    pub token: Option<String>,
}

/// One page of tuples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TuplePage {
    /// The tuples, in ascending insertion order.
    pub tuples: Vec<RelationTuple>,
    /// Token for the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// A condition a transaction checks before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// At least one tuple must match.
    MustMatch(RelationQuery),
    /// No tuple may match.
    MustNotMatch(RelationQuery),
}

/// A write: inserts, then deletes, applied atomically after the preconditions held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Tuples to insert. Inserting a stored tuple is a no-op (tuples form a set).
    pub insert: Vec<RelationTuple>,
    /// Tuples to delete. Deleting a tuple that is not stored is a no-op.
    pub delete: Vec<RelationTuple>,
    /// Conditions checked inside the transaction before writing; if one fails, nothing is
    /// written and the store answers [`StoreError::Conflict`].
    pub preconditions: Vec<Precondition>,
}

/// Storage of relation tuples, scoped by tenant (`nid`).
///
/// Contract for implementers (the `testsuite` feature checks it):
/// - tuples form a set per tenant: inserting a stored tuple changes nothing;
/// - [`list`](Self::list) and the `subject_sets` of [`read_level`](Self::read_level) return
///   tuples in ascending insertion order (a stable key such as an auto-increment id), and a
///   page token resumes strictly after the last tuple returned, so paging never repeats or
///   skips a tuple that stays stored;
/// - [`transact`](Self::transact) is all-or-nothing and returns the new
///   [`version`](Self::version);
/// - [`read_level`](Self::read_level) answers every root of its
///   [`expansions`](LevelRequest::expansions); answering more of the walk is optional;
/// - reads may come from different snapshots across calls, but each call reads one snapshot.
#[async_trait]
pub trait TupleStore: Send + Sync + 'static {
    /// Answers every lookup of one graph level in one round trip.
    async fn read_level(
        &self,
        nid: Uuid,
        request: &LevelRequest,
    ) -> Result<LevelResponse, StoreError>;

    /// Reverse lookup: for each key, the tuples whose subject matches it.
    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        keys: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError>;

    /// Forward lookup: for each object, all its tuples (any relation).
    async fn tuples_by_object(
        &self,
        nid: Uuid,
        keys: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError>;

    /// Lists the tuples matching `query`, one page at a time.
    async fn list(
        &self,
        nid: Uuid,
        query: &RelationQuery,
        page: &PageRequest,
    ) -> Result<TuplePage, StoreError>;

    /// Applies a transaction atomically and returns the version after it.
    async fn transact(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError>;

    /// Deletes every tuple matching `query`; returns how many were deleted and the version
    /// after the delete.
    async fn delete_matching(
        &self,
        nid: Uuid,
        query: &RelationQuery,
    ) -> Result<(u64, Version), StoreError>;

    /// The current version: at least the version returned by every write that completed.
    async fn version(&self, nid: Uuid) -> Result<Version, StoreError>;

    /// Asks the backend for a trivial answer, for a readiness check (Keto's `/health/ready`
    /// pings its database). Fails with [`StoreError::Backend`] when it cannot answer; the
    /// error's text names the failure, never a connection string or a password.
    ///
    /// The default lists at most one tuple of the nil tenant (a real read through the store);
    /// a backend with a cheaper probe (`SELECT 1`, taking a lock) overrides it.
    async fn ping(&self) -> Result<(), StoreError> {
        let page = PageRequest {
            size: 1,
            token: None,
        };
        self.list(Uuid::nil(), &RelationQuery::default(), &page)
            .await
            .map(|_| ())
    }

    /// A store that keeps its tuples in this process may expose them here; the engine then
    /// reads them synchronously under one snapshot instead of level by level. Other backends
    /// keep the default `None`.
    fn as_memory(&self) -> Option<&MemoryStore> {
        None
    }
}
