//! Expand, list, write, delete and the reverse lookups, through the engine.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Scenario, t};
use keto_core::{
    CheckOptions, Config, DeltaAction, EngineError, Keto, MemoryStore, NodeType, RelationQuery,
    Schema, Subject, SubjectSet, TupleDelta,
};
use uuid::Uuid;

const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
class Folder implements Namespace {
  related: { viewers: (User | SubjectSet<Group, "members">)[], parents: Folder[], banned: User[] }
  permits = {
    view: (ctx) => this.related.viewers.includes(ctx.subject) || this.related.parents.traverse(p => p.permits.view(ctx)),
    safe_view: (ctx) => this.permits.view(ctx) && !this.related.banned.includes(ctx.subject),
    open: (ctx) => !this.related.banned.includes(ctx.subject),
  }
}
"#;

const TUPLES: &[&str] = &[
    "Group:eng#members@User:alice",
    "Group:eng#members@Group:backend#members",
    "Group:backend#members@User:bob",
    "Group:backend#members@carol",
    "Folder:root#viewers@Group:eng#members",
    "Folder:root#viewers@User:dave",
    "Folder:sub#parents@Folder:root",
    "Folder:other#viewers@User:erin",
    "Folder:sub#banned@User:bob",
];

#[tokio::test]
async fn expand_tree() {
    let s = Scenario::new(OPL, TUPLES, Config::default()).await;
    for keto in [&s.fast, &s.level] {
        let tree = keto
            .expand(s.nid, &SubjectSet::new("Folder", "root", "viewers"), None)
            .await
            .unwrap()
            .expect("tree");
        assert_eq!(tree.node_type, NodeType::Union);
        assert_eq!(tree.subject, Subject::set("Folder", "root", "viewers"));
        let leaves: HashSet<String> = tree.leaves().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            leaves,
            ["User:alice", "User:bob", "carol", "User:dave"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        let json = serde_json::to_value(&tree).unwrap();
        assert_eq!(json["type"], "union");
        assert_eq!(json["tuple"]["subject_set"]["object"], "root");
        assert_eq!(
            json["children"][0]["tuple"]["subject_set"]["relation"],
            "members"
        );
        assert_eq!(json["children"][1]["tuple"]["subject_set"]["relation"], "");
        assert_eq!(json["children"][1]["type"], "leaf");

        // depth 2: the root's subject sets are shown but not expanded
        let shallow = keto
            .expand(
                s.nid,
                &SubjectSet::new("Folder", "root", "viewers"),
                Some(2),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(shallow.children[0].children.is_empty());
        // depth 3: one more level
        let shallow = keto
            .expand(
                s.nid,
                &SubjectSet::new("Folder", "root", "viewers"),
                Some(3),
            )
            .await
            .unwrap()
            .unwrap();
        let eng = &shallow.children[0];
        assert_eq!(eng.subject, Subject::set("Group", "eng", "members"));
        assert_eq!(eng.children.len(), 2);
        assert!(
            eng.children[1].children.is_empty(),
            "depth limit stops at backend"
        );

        assert!(
            keto.expand(s.nid, &SubjectSet::new("Folder", "none", "viewers"), None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            keto.expand(s.nid, &SubjectSet::new("Nope", "x", "y"), None)
                .await,
            Err(EngineError::UnknownNamespace(_))
        ));
    }
}

#[tokio::test]
async fn expand_cycles_and_size_limit() {
    let s = Scenario::new(
        "class G implements Namespace {}",
        &["G:a#m@G:b#m", "G:b#m@G:a#m", "G:a#m@x", "G:b#m@y"],
        Config::default(),
    )
    .await;
    let tree = s
        .fast
        .expand(s.nid, &SubjectSet::new("G", "a", "m"), None)
        .await
        .unwrap()
        .unwrap();
    let b = &tree.children[0];
    assert_eq!(b.subject, Subject::set("G", "b", "m"));
    assert_eq!(b.children[0].subject, Subject::set("G", "a", "m"));
    assert!(
        b.children[0].children.is_empty(),
        "the cycle back to a is cut"
    );
    let small = Scenario::new(
        "class G implements Namespace {}",
        &["G:a#m@x1", "G:a#m@x2", "G:a#m@x3", "G:a#m@x4"],
        Config {
            max_expand_size: 2,
            ..Config::default()
        },
    )
    .await;
    let tree = small
        .level
        .expand(small.nid, &SubjectSet::new("G", "a", "m"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tree.children.len(), 2);
}

#[tokio::test]
async fn list_with_pagination_and_filters() {
    let s = Scenario::new(OPL, TUPLES, Config::default()).await;
    let keto = &s.fast;
    let all = keto
        .list(s.nid, &RelationQuery::all(), None, None)
        .await
        .unwrap();
    assert_eq!(all.relation_tuples.len(), TUPLES.len());
    assert_eq!(all.next_page_token, "");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = keto
            .list(s.nid, &RelationQuery::all(), Some(2), token.as_deref())
            .await
            .unwrap();
        assert!(page.relation_tuples.len() <= 2);
        seen.extend(page.relation_tuples);
        if page.next_page_token.is_empty() {
            break;
        }
        token = Some(page.next_page_token);
    }
    assert_eq!(seen, all.relation_tuples);
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["next_page_token"], "");
    assert_eq!(
        json["relation_tuples"][0]["subject_set"]["namespace"],
        "User"
    );
    let q: RelationQuery =
        serde_json::from_str(r#"{"namespace":"Group","subject_id":"carol"}"#).unwrap();
    let r = keto.list(s.nid, &q, None, None).await.unwrap();
    assert_eq!(r.relation_tuples, vec![t("Group:backend#members@carol")]);
    assert!(matches!(
        keto.list(s.nid, &RelationQuery::all(), Some(501), None)
            .await,
        Err(EngineError::InvalidPageSize {
            size: 501,
            max: 500
        })
    ));
    assert!(
        keto.list(s.nid, &RelationQuery::all(), Some(500), None)
            .await
            .is_ok()
    );
    assert!(matches!(
        keto.list(s.nid, &RelationQuery::all(), Some(2), Some("garbage"))
            .await,
        Err(EngineError::Store(keto_core::StoreError::InvalidPageToken))
    ));
    assert!(matches!(
        keto.list(s.nid, &RelationQuery::all().namespace("Nope"), None, None)
            .await,
        Err(EngineError::UnknownNamespace(_))
    ));
}

#[tokio::test]
async fn transact_delete_and_validation() {
    let schema = Schema::from_opl(OPL).unwrap();
    let keto = Keto::new(schema, Arc::new(MemoryStore::new()), Config::default()).unwrap();
    let nid = Uuid::new_v4();
    let deltas: Vec<TupleDelta> = serde_json::from_str(
        r#"[{"action":"insert","relation_tuple":{"namespace":"Group","object":"g","relation":"members","subject_id":"a"}},
            {"action":"insert","relation_tuple":{"namespace":"Group","object":"g","relation":"members","subject_id":"b"}},
            {"action":"delete","relation_tuple":{"namespace":"Group","object":"g","relation":"members","subject_id":"a"}}]"#,
    )
    .unwrap();
    assert_eq!(deltas[0].action, DeltaAction::Insert);
    keto.transact(nid, &deltas).await.unwrap();
    let list = keto
        .list(nid, &RelationQuery::all(), None, None)
        .await
        .unwrap();
    assert_eq!(list.relation_tuples, vec![t("Group:g#members@b")]);

    // an invalid tuple rejects the whole write
    let bad = vec![
        TupleDelta {
            action: DeltaAction::Insert,
            relation_tuple: t("Group:g#members@c"),
        },
        TupleDelta {
            action: DeltaAction::Insert,
            relation_tuple: t("Group:g#nope@c"),
        },
    ];
    let e = keto.transact(nid, &bad).await.unwrap_err();
    assert_eq!(e.to_string(), "relation \"nope\" does not exist");
    let e = keto.insert(nid, [t("Nope:x#y@z")]).await.unwrap_err();
    assert!(matches!(e, EngineError::UnknownNamespace(_)));
    assert_eq!(
        keto.list(nid, &RelationQuery::all(), None, None)
            .await
            .unwrap()
            .relation_tuples
            .len(),
        1
    );

    // create refuses duplicates
    keto.create(nid, t("Group:g#members@c")).await.unwrap();
    assert!(matches!(
        keto.create(nid, t("Group:g#members@c")).await,
        Err(EngineError::Store(keto_core::StoreError::Conflict(_)))
    ));

    // delete by filter needs a namespace
    assert!(keto.delete_all(nid, &RelationQuery::all()).await.is_err());
    let (n, _) = keto
        .delete_all(nid, &RelationQuery::all().namespace("Group").object("g"))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(keto.namespaces(), vec!["User", "Group", "Folder"]);
    let tenant = keto.tenant(nid);
    assert_eq!(tenant.nid(), nid);
    assert!(
        tenant
            .list(&RelationQuery::all(), None, None)
            .await
            .unwrap()
            .relation_tuples
            .is_empty()
    );
}

#[tokio::test]
async fn lookup_resources_and_subjects() {
    let s = Scenario::new(OPL, TUPLES, Config::default()).await;
    let opts = CheckOptions::default();
    for keto in [&s.fast, &s.level] {
        let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let alice = Subject::set("User", "alice", "");
        let bob = Subject::set("User", "bob", "");
        assert_eq!(
            set(keto
                .lookup_resources(s.nid, &alice, "Folder", "view", &opts)
                .await
                .unwrap()),
            names(&["root", "sub"])
        );
        assert_eq!(
            set(keto
                .lookup_resources(s.nid, &bob, "Folder", "view", &opts)
                .await
                .unwrap()),
            names(&["root", "sub"])
        );
        assert_eq!(
            set(keto
                .lookup_resources(s.nid, &bob, "Folder", "safe_view", &opts)
                .await
                .unwrap()),
            names(&["root"])
        );
        assert_eq!(
            set(keto
                .lookup_resources(s.nid, &Subject::id("carol"), "Folder", "view", &opts)
                .await
                .unwrap()),
            names(&["root", "sub"])
        );
        // a permit through negation holds on objects not connected to the subject
        assert_eq!(
            set(keto
                .lookup_resources(
                    s.nid,
                    &Subject::set("User", "zed", ""),
                    "Folder",
                    "open",
                    &opts
                )
                .await
                .unwrap()),
            names(&["root", "sub", "other"])
        );
        assert_eq!(
            set(keto
                .lookup_resources(s.nid, &bob, "Folder", "open", &opts)
                .await
                .unwrap()),
            names(&["root", "other"])
        );

        let subjects: HashSet<String> = keto
            .lookup_subjects(s.nid, "Folder", "sub", "view", &opts)
            .await
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        for want in [
            "User:alice",
            "User:bob",
            "carol",
            "User:dave",
            "Group:eng#members",
        ] {
            assert!(subjects.contains(want), "{want} in {subjects:?}");
        }
        assert!(!subjects.contains("User:erin"));
        assert!(matches!(
            keto.lookup_subjects(s.nid, "Folder", "sub", "nope", &opts)
                .await,
            Err(EngineError::UnknownRelation(_))
        ));
    }
}

#[tokio::test]
async fn expand_through_rewrites() {
    let s = Scenario::new(
        OPL,
        TUPLES,
        Config {
            expand_rewrites: true,
            ..Config::default()
        },
    )
    .await;
    for keto in [&s.fast, &s.level] {
        let tree = keto
            .expand(s.nid, &SubjectSet::new("Folder", "sub", "safe_view"), None)
            .await
            .unwrap()
            .expect("tree");
        assert_eq!(tree.node_type, NodeType::Intersection);
        assert_eq!(tree.children.len(), 2);
        // computed `view` first, then the exclusion of `banned`
        let view = &tree.children[0];
        assert_eq!(view.subject, Subject::set("Folder", "sub", "view"));
        assert_eq!(view.node_type, NodeType::Union);
        let excl = &tree.children[1];
        assert_eq!(excl.node_type, NodeType::Exclusion);
        assert_eq!(
            excl.children[0].subject,
            Subject::set("Folder", "sub", "banned")
        );
        assert_eq!(
            excl.children[0].children[0].subject,
            Subject::set("User", "bob", "")
        );
        // view: viewers of sub (none) and the traverse to root's view
        let ttu = view
            .children
            .iter()
            .find(|c| c.subject == Subject::set("Folder", "sub", "parents"))
            .expect("ttu node");
        let root_view = &ttu.children[0];
        assert_eq!(root_view.subject, Subject::set("Folder", "root", "view"));
        let json = serde_json::to_value(&tree).unwrap();
        assert_eq!(json["type"], "intersection");
        assert_eq!(json["children"][1]["type"], "exclusion");
    }
    // without the flag, a permit expands as a plain relation (nothing stored under it)
    let plain = Scenario::new(OPL, TUPLES, Config::default()).await;
    assert!(
        plain
            .fast
            .expand(
                plain.nid,
                &SubjectSet::new("Folder", "sub", "safe_view"),
                None
            )
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn expand_strict_skips_undeclared_types() {
    let s = Scenario::new(
        OPL,
        &[
            "Folder:f#viewers@User:alice",
            "Folder:f#viewers@Group:g#owners",
            "Folder:f#viewers@loose",
        ],
        Config {
            strict_mode: true,
            ..Config::default()
        },
    )
    .await;
    let tree = s
        .fast
        .expand(s.nid, &SubjectSet::new("Folder", "f", "viewers"), None)
        .await
        .unwrap()
        .unwrap();
    let subjects: Vec<String> = tree
        .children
        .iter()
        .map(|c| c.subject.to_string())
        .collect();
    assert_eq!(subjects, vec!["User:alice"]);
}
