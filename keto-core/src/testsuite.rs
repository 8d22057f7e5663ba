//! A conformance suite for [`TupleStore`] backends (feature `testsuite`).
//!
//! Every function takes a store, works in a fresh tenant (`nid`) and panics on a violation,
//! so tests can share one database and run in parallel. [`tuple_store_tests!`](crate::tuple_store_tests) stamps them
//! out as `#[tokio::test]` functions:
//!
//! ```ignore
//! async fn store() -> std::sync::Arc<dyn keto_core::TupleStore> {
//!     std::sync::Arc::new(keto_core::MemoryStore::new())
//! }
//! keto_core::tuple_store_tests!(store);
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::check::CheckOptions;
use crate::engine::{Config, Keto};
use crate::error::StoreError;
use crate::namespace::Schema;
use crate::store::{
    ExpandedNode, Expansion, LevelRequest, ObjectKey, PageRequest, Precondition, SubjectKey,
    Transaction, TupleStore,
};
use crate::tuple::{RelationQuery, RelationTuple, Subject, SubjectSet};

#[doc(hidden)]
pub use tokio;

/// Converts what a factory returns into a shared store.
pub trait IntoStore {
    /// The shared store.
    fn into_store(self) -> Arc<dyn TupleStore>;
}

impl IntoStore for Arc<dyn TupleStore> {
    fn into_store(self) -> Arc<dyn TupleStore> {
        self
    }
}

impl<T: TupleStore> IntoStore for T {
    fn into_store(self) -> Arc<dyn TupleStore> {
        Arc::new(self)
    }
}

impl<T: TupleStore> IntoStore for Arc<T> {
    fn into_store(self) -> Arc<dyn TupleStore> {
        self
    }
}

/// Stamps out every suite function as a `#[tokio::test]` for an async store factory
/// (`async fn() -> impl IntoStore`).
///
/// With `optional:` the factory returns `Option<impl IntoStore>`, and `None` skips the test
/// (for a database that is not configured outside CI; the factory should print why):
///
/// ```ignore
/// keto_core::tuple_store_tests!(optional: postgres_store_or_skip);
/// ```
#[macro_export]
macro_rules! tuple_store_tests {
    (optional: $factory:path) => {
        $crate::tuple_store_tests!(@names @optional $factory);
    };
    ($factory:path) => {
        $crate::tuple_store_tests!(@names @required $factory);
    };
    (@names @$mode:ident $factory:path) => {
        $crate::tuple_store_tests!(@each $mode $factory;
            write_and_read_back,
            insert_is_idempotent,
            delete_tuples,
            list_filters,
            subject_kinds_are_distinct,
            pagination_sees_every_row_once,
            pagination_survives_concurrent_writes,
            invalid_page_token,
            transaction_rolls_back_on_failed_precondition,
            transaction_inserts_then_deletes,
            delete_matching_filter,
            tenant_isolation,
            read_level_answers_in_order,
            expansions_answer_truthfully,
            reverse_and_object_lookups,
            version_is_monotonic,
            engine_checks_through_store
        );
    };
    (@each required $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[$crate::testsuite::tokio::test(crate = "keto_core::testsuite::tokio")]
            async fn $name() {
                let store = $crate::testsuite::IntoStore::into_store($factory().await);
                $crate::testsuite::$name(store).await;
            }
        )*
    };
    (@each optional $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[$crate::testsuite::tokio::test(crate = "keto_core::testsuite::tokio")]
            async fn $name() {
                if let Some(store) = $factory().await {
                    let store = $crate::testsuite::IntoStore::into_store(store);
                    $crate::testsuite::$name(store).await;
                }
            }
        )*
    };
}

fn t(s: &str) -> RelationTuple {
    s.parse().expect("valid tuple")
}

fn tuples(list: &[&str]) -> Vec<RelationTuple> {
    list.iter().map(|s| t(s)).collect()
}

async fn insert(store: &dyn TupleStore, nid: Uuid, list: &[&str]) {
    store
        .transact(
            nid,
            &Transaction {
                insert: tuples(list),
                ..Transaction::default()
            },
        )
        .await
        .expect("insert");
}

async fn all(store: &dyn TupleStore, nid: Uuid, q: &RelationQuery) -> Vec<RelationTuple> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list(nid, q, &PageRequest { size: 7, token })
            .await
            .expect("list");
        out.extend(page.tuples);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

fn sorted(mut v: Vec<RelationTuple>) -> Vec<RelationTuple> {
    v.sort();
    v
}

/// Inserted tuples are listed back exactly, in insertion order.
pub async fn write_and_read_back(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let list = [
        "Doc:a#viewer@alice",
        "Doc:a#viewer@User:bob",
        "Doc:a#viewer@Group:eng#member",
        "Doc:b#owner@User:carol#",
        "Group:eng#member@User:dave",
    ];
    insert(&*store, nid, &list).await;
    let got = all(&*store, nid, &RelationQuery::all()).await;
    assert_eq!(got, tuples(&list), "tuples are listed in insertion order");
}

/// Inserting a stored tuple changes nothing.
pub async fn insert_is_idempotent(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(&*store, nid, &["Doc:a#viewer@alice", "Doc:a#viewer@bob"]).await;
    insert(&*store, nid, &["Doc:a#viewer@alice"]).await;
    let got = all(&*store, nid, &RelationQuery::all()).await;
    assert_eq!(got, tuples(&["Doc:a#viewer@alice", "Doc:a#viewer@bob"]));
}

/// Deleting removes exactly the given tuples; deleting a missing tuple is a no-op.
pub async fn delete_tuples(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(
        &*store,
        nid,
        &[
            "Doc:a#viewer@alice",
            "Doc:a#viewer@bob",
            "Doc:a#viewer@User:alice",
        ],
    )
    .await;
    store
        .transact(
            nid,
            &Transaction {
                delete: tuples(&["Doc:a#viewer@alice", "Doc:zzz#viewer@nobody"]),
                ..Transaction::default()
            },
        )
        .await
        .expect("delete");
    let got = all(&*store, nid, &RelationQuery::all()).await;
    assert_eq!(
        got,
        tuples(&["Doc:a#viewer@bob", "Doc:a#viewer@User:alice"])
    );
}

/// Every filter field, alone and combined.
pub async fn list_filters(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let list = [
        "Doc:a#viewer@alice",
        "Doc:a#owner@alice",
        "Doc:b#viewer@bob",
        "Folder:a#viewer@alice",
        "Doc:b#viewer@Group:eng#member",
        "Doc:c#parent@Folder:a",
    ];
    insert(&*store, nid, &list).await;
    let q = |q: RelationQuery| {
        let store = store.clone();
        async move { sorted(all(&*store, nid, &q).await) }
    };
    assert_eq!(
        q(RelationQuery::all().namespace("Folder")).await,
        tuples(&["Folder:a#viewer@alice"])
    );
    assert_eq!(
        q(RelationQuery::all().object("a")).await,
        sorted(tuples(&[
            "Doc:a#viewer@alice",
            "Doc:a#owner@alice",
            "Folder:a#viewer@alice"
        ]))
    );
    assert_eq!(
        q(RelationQuery::all().relation("owner")).await,
        tuples(&["Doc:a#owner@alice"])
    );
    assert_eq!(
        q(RelationQuery::all().subject(Subject::id("alice"))).await,
        sorted(tuples(&[
            "Doc:a#viewer@alice",
            "Doc:a#owner@alice",
            "Folder:a#viewer@alice"
        ]))
    );
    assert_eq!(
        q(RelationQuery::all().subject(Subject::set("Group", "eng", "member"))).await,
        tuples(&["Doc:b#viewer@Group:eng#member"])
    );
    assert_eq!(
        q(RelationQuery::all().subject(Subject::set("Folder", "a", ""))).await,
        tuples(&["Doc:c#parent@Folder:a"])
    );
    assert_eq!(
        q(RelationQuery::all()
            .namespace("Doc")
            .object("b")
            .relation("viewer"))
        .await,
        sorted(tuples(&[
            "Doc:b#viewer@bob",
            "Doc:b#viewer@Group:eng#member"
        ]))
    );
    assert_eq!(
        q(RelationQuery::all()
            .namespace("Doc")
            .object("a")
            .relation("viewer")
            .subject(Subject::id("alice")))
        .await,
        tuples(&["Doc:a#viewer@alice"])
    );
    assert!(q(RelationQuery::all().namespace("Nope")).await.is_empty());
    assert!(
        q(RelationQuery::all().subject(Subject::id("nobody")))
            .await
            .is_empty()
    );
}

/// `User:alice`, `User:alice#` and `alice` are handled as the text says: the first two are
/// one subject, the third another.
pub async fn subject_kinds_are_distinct(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(
        &*store,
        nid,
        &[
            "Doc:a#viewer@User:alice",
            "Doc:a#viewer@User:alice#",
            "Doc:a#viewer@alice",
        ],
    )
    .await;
    let got = all(&*store, nid, &RelationQuery::all()).await;
    assert_eq!(
        got.len(),
        2,
        "User:alice and User:alice# are the same subject"
    );
    let ids = all(
        &*store,
        nid,
        &RelationQuery::all().subject(Subject::id("alice")),
    )
    .await;
    assert_eq!(ids, tuples(&["Doc:a#viewer@alice"]));
}

/// Paging with every page size returns every row exactly once.
pub async fn pagination_sees_every_row_once(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let list: Vec<String> = (0..53)
        .map(|i| format!("Doc:d{}#viewer@u{i}", i % 5))
        .collect();
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    insert(&*store, nid, &refs).await;
    for size in [1, 2, 10, 53, 100] {
        for q in [
            RelationQuery::all(),
            RelationQuery::all().namespace("Doc"),
            RelationQuery::all()
                .namespace("Doc")
                .object("d1")
                .relation("viewer"),
        ] {
            let mut seen = Vec::new();
            let mut token = None;
            loop {
                let page = store
                    .list(nid, &q, &PageRequest { size, token })
                    .await
                    .unwrap();
                assert!(page.tuples.len() <= size);
                seen.extend(page.tuples);
                match page.next_page_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            let expect: Vec<RelationTuple> =
                tuples(&refs).into_iter().filter(|t| q.matches(t)).collect();
            assert_eq!(seen, expect, "size {size}, query {q:?}");
        }
    }
}

/// Rows that stay stored are seen exactly once even when others are inserted and deleted
/// between pages.
pub async fn pagination_survives_concurrent_writes(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let list: Vec<String> = (0..30).map(|i| format!("Doc:d#viewer@u{i:02}")).collect();
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    insert(&*store, nid, &refs).await;
    let q = RelationQuery::all().namespace("Doc");
    let mut seen = Vec::new();
    let mut token = None;
    let mut round = 0;
    loop {
        let page = store
            .list(nid, &q, &PageRequest { size: 4, token })
            .await
            .unwrap();
        seen.extend(page.tuples);
        // delete a row already seen and one not yet seen, insert a new one
        round += 1;
        let tx = Transaction {
            insert: vec![t(&format!("Doc:d#viewer@new{round:02}"))],
            delete: vec![t(&format!("Doc:d#viewer@u{:02}", round - 1))],
            ..Transaction::default()
        };
        store.transact(nid, &tx).await.unwrap();
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let uniq: HashSet<&RelationTuple> = seen.iter().collect();
    assert_eq!(uniq.len(), seen.len(), "no row was returned twice");
    for i in 0..30 {
        let tuple = t(&format!("Doc:d#viewer@u{i:02}"));
        let stays = i >= round; // rows 0..round were deleted at some point
        if stays {
            assert!(
                seen.contains(&tuple),
                "row {tuple} that stayed stored was skipped"
            );
        }
    }
}

/// A token the store did not issue is rejected.
pub async fn invalid_page_token(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(&*store, nid, &["Doc:a#viewer@alice"]).await;
    let r = store
        .list(
            nid,
            &RelationQuery::all(),
            &PageRequest {
                size: 10,
                token: Some("definitely not a token".into()),
            },
        )
        .await;
    assert!(matches!(r, Err(StoreError::InvalidPageToken)), "{r:?}");
}

/// A failing precondition aborts the whole transaction.
pub async fn transaction_rolls_back_on_failed_precondition(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(&*store, nid, &["Doc:a#viewer@alice"]).await;
    let before = store.version(nid).await.unwrap();
    let tx = Transaction {
        insert: tuples(&["Doc:a#viewer@bob", "Doc:b#viewer@carol"]),
        delete: tuples(&["Doc:a#viewer@alice"]),
        preconditions: vec![
            Precondition::MustMatch(RelationQuery::exact(&t("Doc:a#viewer@alice"))),
            Precondition::MustNotMatch(RelationQuery::all().object("a")),
        ],
    };
    let r = store.transact(nid, &tx).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(
        all(&*store, nid, &RelationQuery::all()).await,
        tuples(&["Doc:a#viewer@alice"]),
        "nothing of the failed transaction is visible"
    );
    assert!(store.version(nid).await.unwrap() >= before);
    let ok = Transaction {
        preconditions: vec![Precondition::MustMatch(RelationQuery::exact(&t(
            "Doc:a#viewer@alice",
        )))],
        ..tx
    };
    store.transact(nid, &ok).await.expect("preconditions hold");
    assert_eq!(
        sorted(all(&*store, nid, &RelationQuery::all()).await),
        sorted(tuples(&["Doc:a#viewer@bob", "Doc:b#viewer@carol"]))
    );
}

/// Inserts are applied before deletes, as in Keto's patch.
pub async fn transaction_inserts_then_deletes(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let tx = Transaction {
        insert: tuples(&["Doc:a#viewer@alice", "Doc:a#viewer@bob"]),
        delete: tuples(&["Doc:a#viewer@alice"]),
        ..Transaction::default()
    };
    store.transact(nid, &tx).await.unwrap();
    assert_eq!(
        all(&*store, nid, &RelationQuery::all()).await,
        tuples(&["Doc:a#viewer@bob"])
    );
}

/// Deleting by filter removes every match and nothing else.
pub async fn delete_matching_filter(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(
        &*store,
        nid,
        &[
            "Doc:a#viewer@alice",
            "Doc:a#owner@alice",
            "Doc:b#viewer@alice",
            "Folder:a#viewer@alice",
        ],
    )
    .await;
    let (n, _) = store
        .delete_matching(
            nid,
            &RelationQuery::all().namespace("Doc").relation("viewer"),
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        sorted(all(&*store, nid, &RelationQuery::all()).await),
        sorted(tuples(&["Doc:a#owner@alice", "Folder:a#viewer@alice"]))
    );
    let (n, _) = store
        .delete_matching(nid, &RelationQuery::all().namespace("Nope"))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// Tenants never see each other's tuples.
pub async fn tenant_isolation(store: Arc<dyn TupleStore>) {
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    insert(&*store, a, &["Doc:x#viewer@alice", "Group:g#member@alice"]).await;
    insert(&*store, b, &["Doc:x#viewer@bob"]).await;
    assert_eq!(all(&*store, a, &RelationQuery::all()).await.len(), 2);
    assert_eq!(
        all(&*store, b, &RelationQuery::all()).await,
        tuples(&["Doc:x#viewer@bob"])
    );
    let lvl = store
        .read_level(
            b,
            &LevelRequest {
                exists: tuples(&["Doc:x#viewer@alice"]),
                subject_sets: vec![SubjectSet::new("Doc", "x", "viewer")],
                subjects: vec![SubjectSet::new("Doc", "x", "viewer")],
                expansions: vec![Expansion {
                    root: SubjectSet::new("Group", "g", "member"),
                    subject: Subject::id("alice"),
                    depth: 5,
                }],
            },
        )
        .await
        .unwrap();
    assert_eq!(lvl.exists, vec![false]);
    assert_eq!(lvl.subjects, vec![vec![Subject::id("bob")]]);
    assert_eq!(
        lvl.expanded,
        vec![ExpandedNode {
            set: SubjectSet::new("Group", "g", "member"),
            subject: Subject::id("alice"),
            contains_subject: false,
            subject_sets: Some(Vec::new()),
        }],
        "an expansion in b sees nothing of a"
    );
    let rev = store
        .tuples_by_subject(b, &[SubjectKey::Id("alice".into())])
        .await
        .unwrap();
    assert!(rev[0].is_empty());
    store
        .delete_matching(b, &RelationQuery::all().namespace("Doc"))
        .await
        .unwrap();
    assert_eq!(
        all(&*store, a, &RelationQuery::all()).await.len(),
        2,
        "a delete in b leaves a alone"
    );
    let empty = Uuid::new_v4();
    assert!(all(&*store, empty, &RelationQuery::all()).await.is_empty());
}

/// `read_level` answers index-aligned, with subject sets in insertion order.
pub async fn read_level_answers_in_order(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(
        &*store,
        nid,
        &[
            "Doc:a#viewer@Group:z#member",
            "Doc:a#viewer@alice",
            "Doc:a#viewer@Group:b#member",
            "Doc:a#viewer@User:carol",
            "Doc:a#parent@Folder:f",
        ],
    )
    .await;
    let req = LevelRequest {
        exists: tuples(&[
            "Doc:a#viewer@alice",
            "Doc:a#viewer@User:alice",
            "Doc:a#viewer@User:carol#",
            "Doc:a#owner@alice",
        ]),
        subject_sets: vec![
            SubjectSet::new("Doc", "a", "viewer"),
            SubjectSet::new("Doc", "a", "nothing"),
            SubjectSet::new("Doc", "a", "parent"),
        ],
        subjects: vec![SubjectSet::new("Doc", "a", "viewer")],
        expansions: Vec::new(),
    };
    let r = store.read_level(nid, &req).await.unwrap();
    assert_eq!(r.exists, vec![true, false, true, false]);
    assert_eq!(
        r.subject_sets,
        vec![
            vec![
                SubjectSet::new("Group", "z", "member"),
                SubjectSet::new("Group", "b", "member"),
                SubjectSet::new("User", "carol", ""),
            ],
            vec![],
            vec![SubjectSet::new("Folder", "f", "")],
        ]
    );
    assert_eq!(
        r.subjects,
        vec![vec![
            Subject::set("Group", "z", "member"),
            Subject::id("alice"),
            Subject::set("Group", "b", "member"),
            Subject::set("User", "carol", ""),
        ]]
    );
}

/// Asserts that every node answered for an expansion agrees with plain lookups
/// (`exists`, `subject_sets`) on `store`.
pub async fn assert_nodes_agree(store: &dyn TupleStore, nid: Uuid, nodes: &[ExpandedNode]) {
    let plain = store
        .read_level(
            nid,
            &LevelRequest {
                exists: nodes.iter().map(ExpandedNode::tuple).collect(),
                subject_sets: nodes.iter().map(|n| n.set.clone()).collect(),
                ..LevelRequest::default()
            },
        )
        .await
        .unwrap();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            n.contains_subject, plain.exists[i],
            "{} @ {}",
            n.set, n.subject
        );
        if let Some(sets) = &n.subject_sets {
            assert_eq!(sets, &plain.subject_sets[i], "subject sets of {}", n.set);
        }
    }
}

/// Expansions: every root is answered, with its subject sets in insertion order and whether
/// the subject is stored there; any further node a store answers (an SQL store follows the
/// subject-set edges ahead, through cycles) agrees with plain lookups.
pub async fn expansions_answer_truthfully(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let mut lines = vec![
        "Doc:a#viewer@Group:g0#member".to_owned(),
        "Doc:a#viewer@carol".to_owned(),
        "Doc:a#viewer@Group:z#member".to_owned(),
        "Group:g3#member@Group:g0#member".to_owned(),
        "Group:g3#member@dave".to_owned(),
        "Group:z#member@Team:t#".to_owned(),
    ];
    for l in 0..3 {
        lines.push(format!("Group:g{l}#member@Group:g{}#member", l + 1));
    }
    for k in 0..30 {
        lines.push(format!("Group:g1#member@Group:w{k}#member"));
        lines.push(format!("Group:w{k}#member@u{k}"));
    }
    // Wider than a store may walk in one go: what it answers must still be complete.
    for k in 0..700 {
        lines.push(format!("Group:big#member@Group:b{k}#member"));
        lines.push(format!("Group:b{k}#member@Group:c{k}#member"));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    insert(&*store, nid, &lines).await;
    let expansions = vec![
        Expansion {
            root: SubjectSet::new("Doc", "a", "viewer"),
            subject: Subject::id("dave"),
            depth: 5,
        },
        Expansion {
            root: SubjectSet::new("Doc", "a", "viewer"),
            subject: Subject::id("carol"),
            depth: 1,
        },
        Expansion {
            root: SubjectSet::new("Group", "g1", "member"),
            subject: Subject::set("Group", "w7", "member"),
            depth: 2,
        },
        Expansion {
            root: SubjectSet::new("Nope", "x", "y"),
            subject: Subject::id("dave"),
            depth: 3,
        },
        Expansion {
            root: SubjectSet::new("Group", "big", "member"),
            subject: Subject::id("dave"),
            depth: 5,
        },
    ];
    let req = LevelRequest {
        expansions: expansions.clone(),
        ..LevelRequest::default()
    };
    let r = store.read_level(nid, &req).await.unwrap();
    let root = |set: &SubjectSet, subject: &Subject| {
        r.expanded
            .iter()
            .find(|n| &n.set == set && &n.subject == subject)
            .unwrap_or_else(|| panic!("root {set} for {subject} answered"))
    };
    let a = SubjectSet::new("Doc", "a", "viewer");
    let a_sets = vec![
        SubjectSet::new("Group", "g0", "member"),
        SubjectSet::new("Group", "z", "member"),
    ];
    assert!(!root(&a, &Subject::id("dave")).contains_subject);
    assert_eq!(
        root(&a, &Subject::id("dave")).subject_sets,
        Some(a_sets.clone())
    );
    assert!(root(&a, &Subject::id("carol")).contains_subject);
    assert_eq!(root(&a, &Subject::id("carol")).subject_sets, Some(a_sets));
    let g1 = root(
        &SubjectSet::new("Group", "g1", "member"),
        &Subject::set("Group", "w7", "member"),
    );
    assert!(
        g1.contains_subject,
        "a subject set is stored under g1 directly"
    );
    let g1_sets = g1.subject_sets.as_ref().expect("root sets");
    assert_eq!(g1_sets.len(), 31);
    assert_eq!(g1_sets[0], SubjectSet::new("Group", "g2", "member"));
    assert_eq!(g1_sets[30], SubjectSet::new("Group", "w29", "member"));
    let nope = root(&SubjectSet::new("Nope", "x", "y"), &Subject::id("dave"));
    assert!(!nope.contains_subject);
    assert_eq!(nope.subject_sets, Some(Vec::new()));
    // More subjects than a store may walk at once: every root is still answered.
    let many: Vec<Expansion> = (0..6)
        .map(|k| Expansion {
            root: SubjectSet::new("Group", "w3", "member"),
            subject: Subject::id(format!("u{k}")),
            depth: 2,
        })
        .collect();
    let r_many = store
        .read_level(
            nid,
            &LevelRequest {
                expansions: many.clone(),
                ..LevelRequest::default()
            },
        )
        .await
        .unwrap();
    for e in &many {
        let n = r_many
            .expanded
            .iter()
            .find(|n| n.set == e.root && n.subject == e.subject)
            .expect("every root answered");
        assert_eq!(n.contains_subject, e.subject == Subject::id("u3"));
        assert_eq!(n.subject_sets, Some(Vec::new()));
    }
    let big = root(
        &SubjectSet::new("Group", "big", "member"),
        &Subject::id("dave"),
    );
    assert_eq!(big.subject_sets.as_ref().map(Vec::len), Some(700));
    assert_nodes_agree(&*store, nid, &r.expanded).await;
    for n in &r.expanded {
        assert!(
            expansions.iter().any(|e| e.subject == n.subject),
            "{} answered for a subject nobody asked about",
            n.set
        );
    }
}

/// Reverse lookups by subject and forward lookups by object.
pub async fn reverse_and_object_lookups(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    insert(
        &*store,
        nid,
        &[
            "Doc:a#viewer@alice",
            "Doc:b#owner@alice",
            "Doc:a#viewer@Group:eng#member",
            "Doc:c#parent@Group:eng",
            "Doc:a#owner@bob",
        ],
    )
    .await;
    let r = store
        .tuples_by_subject(
            nid,
            &[
                SubjectKey::Id("alice".into()),
                SubjectKey::Object {
                    namespace: "Group".into(),
                    object: "eng".into(),
                },
                SubjectKey::Id("nobody".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        sorted(r[0].clone()),
        sorted(tuples(&["Doc:a#viewer@alice", "Doc:b#owner@alice"]))
    );
    assert_eq!(
        sorted(r[1].clone()),
        sorted(tuples(&[
            "Doc:a#viewer@Group:eng#member",
            "Doc:c#parent@Group:eng"
        ]))
    );
    assert!(r[2].is_empty());
    let o = store
        .tuples_by_object(
            nid,
            &[
                ObjectKey {
                    namespace: "Doc".into(),
                    object: "a".into(),
                },
                ObjectKey {
                    namespace: "Doc".into(),
                    object: "zz".into(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        sorted(o[0].clone()),
        sorted(tuples(&[
            "Doc:a#viewer@alice",
            "Doc:a#viewer@Group:eng#member",
            "Doc:a#owner@bob"
        ]))
    );
    assert!(o[1].is_empty());
}

/// Every write returns a larger version, and `version` is at least the last one returned.
pub async fn version_is_monotonic(store: Arc<dyn TupleStore>) {
    let nid = Uuid::new_v4();
    let mut last = store.version(nid).await.unwrap();
    for i in 0..5 {
        let v = store
            .transact(
                nid,
                &Transaction {
                    insert: vec![t(&format!("Doc:a#viewer@u{i}"))],
                    ..Transaction::default()
                },
            )
            .await
            .unwrap();
        assert!(v > last, "version grows on write");
        assert!(store.version(nid).await.unwrap() >= v);
        last = v;
    }
    let (_, v) = store
        .delete_matching(nid, &RelationQuery::all().namespace("Doc"))
        .await
        .unwrap();
    assert!(v > last);
}

/// The check engine gives the same answers through this store as through the memory store.
pub async fn engine_checks_through_store(store: Arc<dyn TupleStore>) {
    let schema = Schema::from_opl(
        r#"
        class User implements Namespace {}
        class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
        class Folder implements Namespace {
          related: { viewers: (User | SubjectSet<Group, "members">)[], parents: Folder[] }
          permits = { view: (ctx) => this.related.viewers.includes(ctx.subject) || this.related.parents.traverse(p => p.permits.view(ctx)) }
        }
        class Doc implements Namespace {
          related: { parents: Folder[], banned: User[], owners: User[] }
          permits = {
            view: (ctx) => (this.related.parents.traverse(p => p.permits.view(ctx)) || this.related.owners.includes(ctx.subject)) && !this.related.banned.includes(ctx.subject),
          }
        }
    "#,
    )
    .expect("schema");
    let keto = Keto::new(schema, store, Config::default()).unwrap();
    let nid = Uuid::new_v4();
    keto.insert(
        nid,
        tuples(&[
            "Group:eng#members@User:alice",
            "Group:eng#members@User:mallory",
            "Folder:root#viewers@Group:eng#members",
            "Folder:sub#parents@Folder:root",
            "Doc:d#parents@Folder:sub",
            "Doc:d#banned@User:mallory",
            "Doc:d#owners@User:olga",
        ]),
    )
    .await
    .unwrap();
    let opts = CheckOptions::default();
    for (q, want) in [
        ("Doc:d#view@User:alice", true),
        ("Doc:d#view@User:olga", true),
        ("Doc:d#view@User:mallory", false),
        ("Doc:d#view@User:nobody", false),
        ("Folder:sub#view@User:alice", true),
        ("Group:eng#members@User:alice", true),
    ] {
        assert_eq!(
            keto.is_allowed(nid, &t(q), &opts).await.unwrap(),
            want,
            "{q}"
        );
    }
    let other = Uuid::new_v4();
    assert!(
        !keto
            .is_allowed(other, &t("Doc:d#view@User:alice"), &opts)
            .await
            .unwrap()
    );
    let objs = keto
        .lookup_resources(
            nid,
            &Subject::set("User", "alice", ""),
            "Folder",
            "view",
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(
        objs.iter().cloned().collect::<HashSet<_>>(),
        HashSet::from(["root".to_string(), "sub".to_string()])
    );
}

/// Counts the `read_level` calls the engine makes through a store.
struct CountingReads {
    inner: Arc<dyn TupleStore>,
    reads: std::sync::atomic::AtomicUsize,
}

impl CountingReads {
    fn take(&self) -> usize {
        self.reads.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TupleStore for CountingReads {
    async fn read_level(
        &self,
        nid: Uuid,
        request: &LevelRequest,
    ) -> Result<crate::store::LevelResponse, StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.read_level(nid, request).await
    }
    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        keys: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.inner.tuples_by_subject(nid, keys).await
    }
    async fn tuples_by_object(
        &self,
        nid: Uuid,
        keys: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.inner.tuples_by_object(nid, keys).await
    }
    async fn list(
        &self,
        nid: Uuid,
        query: &RelationQuery,
        page: &PageRequest,
    ) -> Result<crate::store::TuplePage, StoreError> {
        self.inner.list(nid, query, page).await
    }
    async fn transact(
        &self,
        nid: Uuid,
        tx: &Transaction,
    ) -> Result<crate::store::Version, StoreError> {
        self.inner.transact(nid, tx).await
    }
    async fn delete_matching(
        &self,
        nid: Uuid,
        query: &RelationQuery,
    ) -> Result<(u64, crate::store::Version), StoreError> {
        self.inner.delete_matching(nid, query).await
    }
    async fn version(&self, nid: Uuid) -> Result<crate::store::Version, StoreError> {
        self.inner.version(nid).await
    }
}

/// For stores that answer [`Expansion`]s ahead (not part of the required suite): a check
/// through four nested groups, with a cycle, reads the store once, allowed or denied, the
/// depth limit still holds, and a traverse over 200 parents reads it twice.
pub async fn expansions_walk_ahead(store: Arc<dyn TupleStore>) {
    let counting = Arc::new(CountingReads {
        inner: store,
        reads: Default::default(),
    });
    let opl = r#"
class User implements Namespace {}
class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
class Folder implements Namespace {
  related: { viewers: (User | SubjectSet<Group, "members">)[] }
  permits = { view: (ctx) => this.related.viewers.includes(ctx.subject) }
}
class Doc implements Namespace {
  related: { parents: Folder[], owners: User[] }
  permits = {
    view: (ctx) => this.related.owners.includes(ctx.subject) || this.related.parents.traverse(p => p.permits.view(ctx)),
  }
}
"#;
    let keto = Keto::new(
        Schema::from_opl(opl).unwrap(),
        counting.clone(),
        Config::default(),
    )
    .unwrap();
    let nid = Uuid::new_v4();
    let mut lines = vec!["Folder:f#viewers@Group:g0#members".to_owned()];
    for l in 0..3 {
        lines.push(format!("Group:g{l}#members@Group:g{}#members", l + 1));
        lines.push(format!("Group:g{l}#members@User:u{l}"));
    }
    lines.push("Group:g3#members@User:deep".into());
    lines.push("Group:g3#members@Group:g0#members".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    insert(&*counting, nid, &lines).await;
    let opts = CheckOptions::default();
    for (subject, allowed) in [("deep", true), ("nobody", false), ("u1", true)] {
        counting.take();
        let tuple = t(&format!("Folder:f#viewers@User:{subject}"));
        assert_eq!(keto.is_allowed(nid, &tuple, &opts).await.unwrap(), allowed);
        let n = counting.take();
        assert_eq!(n, 1, "{subject}: {n} reads");
    }
    // `deep` sits four sets below the folder, which a depth of 4 reaches (with Keto's
    // one-level look-ahead) and a depth of 3 does not.
    let tuple = t("Folder:f#viewers@User:deep");
    let (four, three) = (CheckOptions::depth(4), CheckOptions::depth(3));
    assert!(keto.is_allowed(nid, &tuple, &four).await.unwrap());
    assert_eq!(
        keto.check(nid, &tuple, &three).await.unwrap().limitation,
        Some(crate::check::Limitation::MaxDepthExceeded)
    );

    // A traverse over 200 parents: the parents, then every parent with its walk at once.
    let mut lines = Vec::new();
    for i in 0..200 {
        lines.push(format!("Doc:d#parents@Folder:f{i}"));
        lines.push(format!("Folder:f{i}#viewers@Group:t{i}#members"));
    }
    lines.push("Group:t199#members@User:alice".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    insert(&*counting, nid, &lines).await;
    for (subject, allowed) in [("alice", true), ("mallory", false)] {
        counting.take();
        let tuple = t(&format!("Doc:d#view@User:{subject}"));
        assert_eq!(keto.is_allowed(nid, &tuple, &opts).await.unwrap(), allowed);
        let n = counting.take();
        assert!(n <= 2, "200-parent traverse for {subject}: {n} reads");
    }
}

/// Two engines over two stores of one database (separate pools, as two app processes have):
/// a tuple written through one is seen by a check through the other that carries the
/// write's snapshot token; a token the database has not reached yet is refused, never
/// answered from older data.
pub async fn instances_see_writes_with_their_snapshot(
    a: Arc<dyn TupleStore>,
    b: Arc<dyn TupleStore>,
) {
    let schema = || {
        Schema::from_opl(
            "class User implements Namespace {}\nclass Doc implements Namespace { related: { viewers: User[] } }",
        )
        .expect("schema")
    };
    let one = Keto::new(schema(), a, Config::default()).unwrap();
    let two = Keto::new(schema(), b, Config::default()).unwrap();
    let nid = Uuid::new_v4();
    let tuple: RelationTuple = "Doc:d#viewers@User:ada".parse().expect("tuple");
    let token = one.insert(nid, vec![tuple.clone()]).await.unwrap();
    let fresh = CheckOptions {
        consistency: crate::check::Consistency::AtLeastAsFresh(token),
        ..CheckOptions::default()
    };
    assert!(two.check(nid, &tuple, &fresh).await.unwrap().allowed());
    let (_, token) = two
        .delete_all(
            nid,
            &RelationQuery {
                namespace: Some("Doc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let fresh = CheckOptions {
        consistency: crate::check::Consistency::AtLeastAsFresh(token),
        ..CheckOptions::default()
    };
    assert!(!one.check(nid, &tuple, &fresh).await.unwrap().allowed());
    let future = CheckOptions {
        consistency: crate::check::Consistency::AtLeastAsFresh(crate::engine::SnapToken(
            token.0 + 1_000_000,
        )),
        ..CheckOptions::default()
    };
    assert!(matches!(
        one.check(nid, &tuple, &future).await,
        Err(crate::error::EngineError::SnapshotUnavailable { .. })
    ));
}
