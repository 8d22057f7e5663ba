//! The comparison behind the SQL-versus-memory property tests, shared by the SQLite and
//! PostgreSQL test crates.

use std::sync::Arc;

use async_trait::async_trait;
use keto_core::store::{
    Expansion, LevelRequest, LevelResponse, ObjectKey, PageRequest, SubjectKey, Transaction,
    TuplePage, TupleStore, Version,
};
use keto_core::{
    CheckOptions, Config, Keto, MemoryStore, RelationQuery, RelationTuple, Schema, StoreError,
    Subject, SubjectSet,
};
use proptest::prelude::*;
use uuid::Uuid;

/// The memory store without its synchronous fast path.
pub struct Batched(pub MemoryStore);

#[async_trait]
impl TupleStore for Batched {
    async fn read_level(&self, nid: Uuid, r: &LevelRequest) -> Result<LevelResponse, StoreError> {
        self.0.read_level(nid, r).await
    }
    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        k: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.0.tuples_by_subject(nid, k).await
    }
    async fn tuples_by_object(
        &self,
        nid: Uuid,
        k: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.0.tuples_by_object(nid, k).await
    }
    async fn list(
        &self,
        nid: Uuid,
        q: &RelationQuery,
        p: &PageRequest,
    ) -> Result<TuplePage, StoreError> {
        self.0.list(nid, q, p).await
    }
    async fn transact(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError> {
        self.0.transact(nid, tx).await
    }
    async fn delete_matching(
        &self,
        nid: Uuid,
        q: &RelationQuery,
    ) -> Result<(u64, Version), StoreError> {
        self.0.delete_matching(nid, q).await
    }
    async fn version(&self, nid: Uuid) -> Result<Version, StoreError> {
        self.0.version(nid).await
    }
}

pub const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
class Folder implements Namespace {
  related: { viewers: (User | SubjectSet<Group, "members">)[], parents: Folder[] }
  permits = { view: (ctx) => this.related.viewers.includes(ctx.subject) || this.related.parents.traverse(p => p.permits.view(ctx)) }
}
class Doc implements Namespace {
  related: { parents: Folder[], banned: User[], owners: (User | SubjectSet<Group, "members">)[] }
  permits = {
    view: (ctx) => (this.related.parents.traverse(p => p.permits.view(ctx)) || this.related.owners.includes(ctx.subject)) && !this.related.banned.includes(ctx.subject),
    edit: (ctx) => this.related.owners.includes(ctx.subject),
  }
}
"#;

const N: u8 = 4;

/// A random graph: tuples to insert, then which of them to delete.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Tuples, in insertion order (may repeat).
    pub insert: Vec<RelationTuple>,
    /// Indexes into `insert` to delete afterwards.
    pub delete: Vec<usize>,
}

fn user(b: u8, as_id: bool) -> Subject {
    if as_id {
        Subject::id(format!("u{b}"))
    } else {
        Subject::set("User", format!("u{b}"), "")
    }
}

fn tuple(kind: u8, a: u8, b: u8, as_id: bool) -> RelationTuple {
    let (ns, obj, rel, subject) = match kind % 9 {
        0 => ("Group", format!("g{a}"), "members", user(b, as_id)),
        1 => (
            "Group",
            format!("g{a}"),
            "members",
            Subject::set("Group", format!("g{b}"), "members"),
        ),
        2 => ("Folder", format!("f{a}"), "viewers", user(b, as_id)),
        3 => (
            "Folder",
            format!("f{a}"),
            "viewers",
            Subject::set("Group", format!("g{b}"), "members"),
        ),
        4 => (
            "Folder",
            format!("f{a}"),
            "parents",
            Subject::set("Folder", format!("f{b}"), ""),
        ),
        5 => (
            "Doc",
            format!("d{a}"),
            "parents",
            Subject::set("Folder", format!("f{b}"), ""),
        ),
        6 => ("Doc", format!("d{a}"), "banned", user(b, as_id)),
        7 => ("Doc", format!("d{a}"), "owners", user(b, as_id)),
        _ => (
            "Doc",
            format!("d{a}"),
            "owners",
            Subject::set("Group", format!("g{b}"), "members"),
        ),
    };
    RelationTuple::new(ns, obj, rel, subject)
}

/// The strategy of random graphs.
pub fn graph() -> impl Strategy<Value = Graph> {
    prop::collection::vec((0u8..9, 0..N, 0..N, prop::bool::weighted(0.2)), 0..40).prop_flat_map(
        |raw| {
            let insert: Vec<RelationTuple> = raw
                .into_iter()
                .map(|(k, a, b, id)| tuple(k, a, b, id))
                .collect();
            let n = insert.len();
            (
                Just(insert),
                prop::collection::vec(0..n.max(1), 0..(n / 4 + 1)),
            )
                .prop_map(|(insert, delete)| {
                    let n = insert.len();
                    Graph {
                        insert,
                        delete: delete.into_iter().filter(|i| *i < n).collect(),
                    }
                })
        },
    )
}

async fn list_all(store: &dyn TupleStore, nid: Uuid, q: &RelationQuery) -> Vec<RelationTuple> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list(nid, q, &PageRequest { size: 3, token })
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

/// Loads `graph` into a fresh tenant of `sql` and of two memory stores and compares every
/// answer; panics on the first difference.
pub async fn compare(sql: Arc<dyn TupleStore>, graph: &Graph) {
    let nid = Uuid::new_v4();
    let mem = MemoryStore::new();
    let batched: Arc<dyn TupleStore> = Arc::new(Batched(mem.clone()));
    let fast: Arc<dyn TupleStore> = Arc::new(mem);
    let schema = Schema::from_opl(OPL).expect("schema");
    let engine = |s: Arc<dyn TupleStore>| Keto::new(schema.clone(), s, Config::default()).unwrap();
    let (k_sql, k_ref, k_fast) = (engine(sql.clone()), engine(batched.clone()), engine(fast));

    let del: Vec<RelationTuple> = graph
        .delete
        .iter()
        .map(|&i| graph.insert[i].clone())
        .collect();
    for k in [&k_sql, &k_ref] {
        k.insert(nid, graph.insert.clone()).await.expect("insert");
        if !del.is_empty() {
            k.write(
                nid,
                Transaction {
                    delete: del.clone(),
                    ..Transaction::default()
                },
            )
            .await
            .expect("delete");
        }
    }

    // Store calls.
    for q in [
        RelationQuery::all(),
        RelationQuery::all().namespace("Doc"),
        RelationQuery::all().relation("members"),
        RelationQuery::all().subject(Subject::set("User", "u1", "")),
        RelationQuery::all().subject(Subject::id("u0")),
        RelationQuery::all()
            .namespace("Folder")
            .object("f0")
            .relation("viewers"),
    ] {
        assert_eq!(
            list_all(&*sql, nid, &q).await,
            list_all(&*batched, nid, &q).await,
            "list {q:?}"
        );
    }
    let mut keys: Vec<SubjectSet> = Vec::new();
    for (ns, rels) in [
        ("Group", &["members"][..]),
        ("Folder", &["viewers", "parents"][..]),
        ("Doc", &["parents", "owners", "banned"][..]),
    ] {
        for rel in rels {
            for a in 0..N {
                keys.push(SubjectSet::new(
                    ns,
                    format!("{}{a}", &ns[..1].to_lowercase()),
                    *rel,
                ));
            }
        }
    }
    let probes: Vec<RelationTuple> = (0..60u8)
        .map(|i| tuple(i % 9, (i / 9) % N, i % N, i % 5 == 0))
        .collect();
    let expansions: Vec<Expansion> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Expansion {
            root: k.clone(),
            subject: if i % 3 == 0 {
                Subject::set("Group", format!("g{}", i % N as usize), "members")
            } else {
                Subject::id(format!("u{}", i % N as usize))
            },
            depth: 1 + (i % 4) as u32,
        })
        .collect();
    let req = LevelRequest {
        exists: probes,
        subject_sets: keys.clone(),
        subjects: keys.clone(),
        expansions,
    };
    let mut a = sql.read_level(nid, &req).await.unwrap();
    let mut b = batched.read_level(nid, &req).await.unwrap();
    let (a_nodes, b_nodes) = (
        std::mem::take(&mut a.expanded),
        std::mem::take(&mut b.expanded),
    );
    assert_eq!(a, b, "read_level");
    // The memory store answers each expansion at its root; the SQL store walks ahead, and
    // every node it answers agrees with plain lookups in memory.
    for root in &b_nodes {
        assert!(a_nodes.contains(root), "root {root:?}");
    }
    keto_core::testsuite::assert_nodes_agree(&*batched, nid, &a_nodes).await;
    let mut subject_keys: Vec<SubjectKey> =
        (0..N).map(|b| SubjectKey::Id(format!("u{b}"))).collect();
    for (ns, p) in [("User", "u"), ("Group", "g"), ("Folder", "f")] {
        for b in 0..N {
            subject_keys.push(SubjectKey::Object {
                namespace: ns.into(),
                object: format!("{p}{b}"),
            });
        }
    }
    let a = sql.tuples_by_subject(nid, &subject_keys).await.unwrap();
    let b = batched.tuples_by_subject(nid, &subject_keys).await.unwrap();
    assert_eq!(
        a.into_iter().map(sorted).collect::<Vec<_>>(),
        b.into_iter().map(sorted).collect::<Vec<_>>(),
        "tuples_by_subject"
    );
    let object_keys: Vec<ObjectKey> = keys
        .iter()
        .map(|k| ObjectKey {
            namespace: k.namespace.clone(),
            object: k.object.clone(),
        })
        .collect();
    let a = sql.tuples_by_object(nid, &object_keys).await.unwrap();
    let b = batched.tuples_by_object(nid, &object_keys).await.unwrap();
    assert_eq!(
        a.into_iter().map(sorted).collect::<Vec<_>>(),
        b.into_iter().map(sorted).collect::<Vec<_>>(),
        "tuples_by_object"
    );

    // Engine questions: every check, with a small and the default depth.
    let mut checks = Vec::new();
    for b in 0..N {
        for a in 0..N {
            for as_id in [false, true] {
                let s = user(b, as_id);
                checks.push(RelationTuple::new(
                    "Doc",
                    format!("d{a}"),
                    "view",
                    s.clone(),
                ));
                checks.push(RelationTuple::new(
                    "Doc",
                    format!("d{a}"),
                    "edit",
                    s.clone(),
                ));
                checks.push(RelationTuple::new(
                    "Folder",
                    format!("f{a}"),
                    "view",
                    s.clone(),
                ));
                checks.push(RelationTuple::new("Group", format!("g{a}"), "members", s));
            }
        }
    }
    for depth in [Some(2), None] {
        let opts = CheckOptions {
            max_depth: depth,
            ..CheckOptions::default()
        };
        for c in &checks {
            let got = k_sql.check(nid, c, &opts).await.expect("sql check");
            let want = k_ref.check(nid, c, &opts).await.expect("reference check");
            assert_eq!(got, want, "check {c} at depth {depth:?} (level-batched)");
            let fast = k_fast.check(nid, c, &opts).await.expect("fast check");
            assert_eq!(got, fast, "check {c} at depth {depth:?} (memory fast path)");
        }
    }
    let opts = CheckOptions::default();
    for b in 0..N {
        let s = user(b, false);
        for (ns, rel) in [("Doc", "view"), ("Folder", "view")] {
            let mut got = k_sql
                .lookup_resources(nid, &s, ns, rel, &opts)
                .await
                .expect("sql lookup");
            let mut want = k_ref
                .lookup_resources(nid, &s, ns, rel, &opts)
                .await
                .expect("reference lookup");
            got.sort();
            want.sort();
            assert_eq!(got, want, "lookup_resources {s} {ns}#{rel}");
        }
    }
}
