//! Check engine behaviour, on the memory fast path and the level-batched path alike.

mod common;

use common::{Scenario, t};
use keto_core::{
    CheckOptions, CheckResult, Config, Consistency, EngineError, Limitation, Membership, SnapToken,
};

const DEPTH_OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace {
  related: { members: (User | SubjectSet<Group, "members">)[] }
}
class Resource implements Namespace {
  related: {
    deepRel: (User | SubjectSet<Group, "members">)[]
    shortRel: (User | SubjectSet<Group, "members">)[]
  }
  permits = {
    union: (ctx: Context) => this.related.deepRel.includes(ctx.subject) || this.related.shortRel.includes(ctx.subject),
    intersection: (ctx: Context) => this.related.deepRel.includes(ctx.subject) && this.related.shortRel.includes(ctx.subject),
    shortButNotDeep: (ctx: Context) => this.related.shortRel.includes(ctx.subject) && !this.related.deepRel.includes(ctx.subject),
    notEither: (ctx: Context) => !this.permits.union(ctx),
  }
}
"#;

const DEPTH_TUPLES: &[&str] = &[
    "Resource:doc#deepRel@Group:deep#members",
    "Resource:doc#shortRel@Group:short#members",
    "Group:deep#members@Group:deep1#members",
    "Group:deep1#members@Group:deep2#members",
    "Group:deep2#members@Group:deep3#members",
    "Group:deep3#members@Group:deep4#members",
    "Group:deep4#members@User:Alice",
    "Group:short#members@Group:short1#members",
    "Group:short1#members@Group:short2#members",
    "Group:short2#members@User:Alice",
    "Group:short2#members@User:Charlie",
];

const UNKNOWN_DEPTH: CheckResult = CheckResult {
    membership: Membership::Unknown,
    limitation: Some(Limitation::MaxDepthExceeded),
};

fn cfg_depth(d: u32) -> Config {
    Config {
        max_read_depth: d,
        ..Config::default()
    }
}

#[tokio::test]
async fn depth_limit_cases() {
    let cases: &[(&str, u32, CheckResult)] = &[
        ("Resource:doc#union@User:Alice", 2, UNKNOWN_DEPTH),
        ("Resource:doc#union@User:Alice", 4, CheckResult::ALLOWED),
        ("Resource:doc#union@User:Bob", 4, UNKNOWN_DEPTH),
        ("Resource:doc#intersection@User:Alice", 2, UNKNOWN_DEPTH),
        ("Resource:doc#intersection@User:Alice", 4, UNKNOWN_DEPTH),
        (
            "Resource:doc#intersection@User:Alice",
            5,
            CheckResult::ALLOWED,
        ),
        ("Resource:doc#shortButNotDeep@User:Alice", 2, UNKNOWN_DEPTH),
        ("Resource:doc#shortButNotDeep@User:Alice", 4, UNKNOWN_DEPTH),
        (
            "Resource:doc#shortButNotDeep@User:Charlie",
            7,
            CheckResult::ALLOWED,
        ),
        ("Resource:doc#notEither@User:Alice", 2, UNKNOWN_DEPTH),
    ];
    for (tuple, depth, want) in cases {
        let s = Scenario::new(DEPTH_OPL, DEPTH_TUPLES, cfg_depth(*depth)).await;
        let got = s.check(tuple, 10).await.unwrap();
        assert_eq!(got, *want, "{tuple} at global depth {depth}");
    }
}

const RECURSIVE_OPL: &str = r#"
class User implements Namespace{}
class Group implements Namespace{ related: { members: (User | SubjectSet<Group, "members">)[] } }
"#;

const RECURSIVE_TUPLES: &[&str] = &[
    "Group:company#members@Group:engineering#members",
    "Group:company#members@User:cto",
    "Group:engineering#members@User:manager",
    "Group:engineering#members@Group:frontend#members",
    "Group:engineering#members@Group:backend#members",
    "Group:backend#members@User:Alice",
    "Group:frontend#members@User:Bob",
    "Group:backend#members@Alice",
    "Group:frontend#members@Bob",
];

#[tokio::test]
async fn two_subject_set_hops_need_depth_two() {
    let s = Scenario::new(RECURSIVE_OPL, RECURSIVE_TUPLES, Config::default()).await;
    let q = "Group:company#members@User:Alice";
    assert_eq!(s.check(q, 1).await.unwrap(), UNKNOWN_DEPTH);
    assert_eq!(s.check(q, 2).await.unwrap(), CheckResult::ALLOWED);
    assert_eq!(s.check(q, 0).await.unwrap(), CheckResult::ALLOWED);
    let one = Scenario::new(RECURSIVE_OPL, RECURSIVE_TUPLES, cfg_depth(1)).await;
    assert!(
        !one.check(q, 5).await.unwrap().allowed(),
        "global depth 1 overrides request 5"
    );
    let three = Scenario::new(RECURSIVE_OPL, RECURSIVE_TUPLES, cfg_depth(3)).await;
    assert!(three.check(q, 0).await.unwrap().allowed());
}

#[tokio::test]
async fn membership_expansion_recursive() {
    for opl in [
        RECURSIVE_OPL,
        "class User implements Namespace{} class Group implements Namespace{}",
    ] {
        let s = Scenario::new(opl, RECURSIVE_TUPLES, Config::default()).await;
        for m in [
            "Group:backend#members@User:Alice",
            "Group:backend#members@Alice",
            "Group:frontend#members@User:Bob",
            "Group:frontend#members@Bob",
            "Group:engineering#members@User:manager",
            "Group:engineering#members@User:Alice",
            "Group:engineering#members@Alice",
            "Group:engineering#members@User:Bob",
            "Group:engineering#members@Bob",
            "Group:company#members@User:cto",
            "Group:company#members@User:manager",
            "Group:company#members@User:Alice",
            "Group:company#members@Alice",
            "Group:company#members@User:Bob",
            "Group:company#members@Bob",
        ] {
            assert!(s.allowed(m).await, "{m} should be a member");
        }
        for n in [
            "Group:frontend#members@User:Alice",
            "Group:backend#members@User:Bob",
            "Group:backend#members@User:manager",
            "Group:backend#members@User:cto",
            "Group:frontend#members@User:manager",
            "Group:frontend#members@User:cto",
            "Group:engineering#members@User:cto",
        ] {
            assert!(!s.allowed(n).await, "{n} should not be a member");
        }
    }
}

const HOP3_OPL: &str = r#"
class User implements Namespace{}
class Group implements Namespace{ related: { member: User[] } }
class File implements Namespace{
  related: {
    editors: (User | SubjectSet<Group, "member">)[]
    viewers: (User | SubjectSet<File, "editors">)[]
  }
}
"#;
const HOP3_TUPLES: &[&str] = &[
    "Group:finance#member@User:Alice",
    "Group:finance#member@User:Bob",
    "File:team-report#editors@Group:finance#member",
    "File:team-report#viewers@File:team-report#editors",
    "File:personal-note#viewers@User:Alice",
    "File:personal-note#viewers@User:Bob",
];

#[tokio::test]
async fn three_hop_expansion_and_batch_check() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    for m in [
        "Group:finance#member@User:Alice",
        "File:team-report#editors@User:Bob",
        "File:team-report#viewers@User:Alice",
        "File:personal-note#viewers@User:Bob",
    ] {
        assert!(s.allowed(m).await, "{m}");
    }
    for n in [
        "File:personal-note#editors@User:Alice",
        "File:personal-note#editors@User:Bob",
    ] {
        assert!(!s.allowed(n).await, "{n}");
    }
    let batch: Vec<_> = [
        "Group:finance#member@User:Alice",
        "File:team-report#editors@User:Alice",
        "File:team-report#viewers@User:Alice",
        "NonExistent:x#rel@User:Alice",
        "Group:finance#member@User:Eve",
        "File:team-report#viewers@File:team-report#editors",
    ]
    .iter()
    .map(|s| t(s))
    .collect();
    for keto in [&s.fast, &s.level] {
        let r = keto
            .batch_check(s.nid, &batch, &CheckOptions::depth(1))
            .await
            .unwrap();
        assert_eq!(*r[0].as_ref().unwrap(), CheckResult::ALLOWED);
        assert_eq!(*r[1].as_ref().unwrap(), CheckResult::ALLOWED);
        assert_eq!(*r[2].as_ref().unwrap(), UNKNOWN_DEPTH);
        assert!(matches!(r[3], Err(EngineError::UnknownNamespace(_))));
        assert_eq!(
            *r[4].as_ref().unwrap(),
            UNKNOWN_DEPTH,
            "User:Eve rows exist, so depth 1 is Unknown"
        );
        assert_eq!(*r[5].as_ref().unwrap(), CheckResult::ALLOWED);
        let r = keto
            .batch_check(s.nid, &batch, &CheckOptions::depth(3))
            .await
            .unwrap();
        assert_eq!(*r[2].as_ref().unwrap(), CheckResult::ALLOWED);
    }
}

#[tokio::test]
async fn batch_size_limit() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    let many: Vec<_> = (0..11)
        .map(|i| t(&format!("Group:finance#member@User:u{i}")))
        .collect();
    let e = s
        .fast
        .batch_check(s.nid, &many, &CheckOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "batch exceeds max size of 10");
    assert_eq!(e.http_status(), 400);
    assert_eq!(
        s.fast
            .batch_check(s.nid, &many[..10], &CheckOptions::default())
            .await
            .unwrap()
            .len(),
        10
    );
    let big = Scenario::new(
        HOP3_OPL,
        HOP3_TUPLES,
        Config {
            max_batch_check_size: 20,
            ..Config::default()
        },
    )
    .await;
    assert_eq!(
        big.level
            .batch_check(big.nid, &many, &CheckOptions::default())
            .await
            .unwrap()
            .len(),
        11
    );
}

#[tokio::test]
async fn circular_subject_sets_terminate() {
    let s = Scenario::new(
        "class Folder implements Namespace{}",
        &[
            "Folder:a#parent@Folder:b#parent",
            "Folder:b#parent@Folder:c#parent",
            "Folder:c#parent@Folder:a#parent",
        ],
        Config::default(),
    )
    .await;
    for a in ["a", "b", "c"] {
        for b in ["a", "b", "c"] {
            let q = format!("Folder:{a}#parent@Folder:{b}#parent");
            assert!(s.allowed(&q).await, "{q}");
        }
    }
    assert!(!s.allowed("Folder:a#parent@Folder:x#parent").await);
}

#[tokio::test]
async fn no_transitive_relation_without_rewrite() {
    let s = Scenario::new(
        "class User implements Namespace{} class Directory implements Namespace{} class File implements Namespace{}",
        &["File:report#parent@Directory:docs", "Directory:docs#access@User:Alice"],
        Config::default(),
    )
    .await;
    assert!(!s.allowed("File:report#access@User:Alice").await);
}

const NONCONFORMING_OPL: &str = r#"
class User implements Namespace {}
class File implements Namespace {
  related: { editors: User[], viewers: User[] }
  permits = {
    canEdit: (ctx: Context) => this.related.editors.includes(ctx.subject),
    canView: (ctx: Context) => this.permits.canEdit(ctx) || this.related.viewers.includes(ctx.subject),
  }
}
"#;
const NONCONFORMING_TUPLES: &[&str] = &[
    "File:secret-doc#editors@User:Alice",
    "File:secret-doc#viewers@User:Bob",
    "File:secret-doc#canEdit@User:Eve",
    "File:secret-doc#canEdit@Eve",
];

#[tokio::test]
async fn strict_mode_ignores_nonconforming_tuples() {
    let strict = Scenario::new(
        NONCONFORMING_OPL,
        NONCONFORMING_TUPLES,
        Config {
            strict_mode: true,
            ..Config::default()
        },
    )
    .await;
    let lax = Scenario::new(NONCONFORMING_OPL, NONCONFORMING_TUPLES, Config::default()).await;
    for s in [&strict, &lax] {
        for m in [
            "File:secret-doc#viewers@User:Bob",
            "File:secret-doc#editors@User:Alice",
            "File:secret-doc#canView@User:Bob",
            "File:secret-doc#canEdit@User:Alice",
            "File:secret-doc#canView@User:Alice",
        ] {
            assert!(s.allowed(m).await, "{m}");
        }
    }
    for n in [
        "File:secret-doc#canEdit@User:Eve",
        "File:secret-doc#canView@User:Eve",
        "File:secret-doc#canEdit@Eve",
        "File:secret-doc#canView@Eve",
    ] {
        assert!(!strict.allowed(n).await, "strict: {n}");
    }
    assert!(lax.allowed("File:secret-doc#canEdit@User:Eve").await);
    assert!(lax.allowed("File:secret-doc#canView@User:Eve").await);
}

#[tokio::test]
async fn strict_mode_turns_limits_into_errors() {
    let opl = r#"
class User implements Namespace {}
class Group implements Namespace { related: { member: (User | SubjectSet<Group, "member">)[] } }
class Resource implements Namespace { related: { readers: (User | SubjectSet<Group, "member">)[] } }
"#;
    let tuples = &[
        "Resource:doc#readers@Group:alpha#member",
        "Resource:doc#readers@Group:beta#member",
        "Resource:doc#readers@Group:gamma#member",
        "Group:alpha#member@Group:alpha-sub#member",
        "Group:beta#member@Group:beta-sub#member",
        "Group:gamma#member@Group:gamma-sub#member",
        "Group:alpha-sub#member@User:Alice",
        "Group:beta-sub#member@User:Bob",
    ];
    let width = |w: u32, strict: bool| Config {
        max_read_width: w,
        strict_mode: strict,
        ..Config::default()
    };
    let unknown_width = CheckResult {
        membership: Membership::Unknown,
        limitation: Some(Limitation::MaxWidthExceeded),
    };
    for strict in [false, true] {
        let s = Scenario::new(opl, tuples, width(100, strict)).await;
        assert_eq!(
            s.check("Resource:doc#readers@User:Alice", 10)
                .await
                .unwrap(),
            CheckResult::ALLOWED
        );
        assert_eq!(
            s.check("Resource:doc#readers@User:Eve", 10).await.unwrap(),
            CheckResult::DENIED
        );
        let s = Scenario::new(opl, tuples, width(1, strict)).await;
        for who in ["Eve", "Bob"] {
            let r = s
                .check(&format!("Resource:doc#readers@User:{who}"), 10)
                .await;
            if strict {
                let e = r.unwrap_err();
                assert!(
                    matches!(e, EngineError::LimitReached(Limitation::MaxWidthExceeded)),
                    "{e:?}"
                );
                assert!(e.to_string().contains("max_width_exceeded"));
                assert_eq!(e.http_status(), 422);
            } else {
                assert_eq!(r.unwrap(), unknown_width, "{who}");
            }
        }
    }
}

#[tokio::test]
async fn notion_pages() {
    let opl = r#"
class User implements Namespace {}
class Workspace implements Namespace { related: { member: User[] } }
class Page implements Namespace {
  related: { workspace: Workspace[], parent: Page[], viewer: User[], editor: User[] }
  permits = {
    canView: (ctx: Context) =>
      this.related.viewer.includes(ctx.subject) ||
      this.related.editor.includes(ctx.subject) ||
      this.related.parent.traverse(p => p.permits.canView(ctx)),
    canEdit: (ctx: Context) =>
      this.related.editor.includes(ctx.subject) &&
      this.related.workspace.traverse(w => w.related.member.includes(ctx.subject)),
  }
}
"#;
    let tuples = &[
        "Workspace:acme#member@User:Alice",
        "Workspace:acme#member@User:Bob",
        "Page:home#workspace@Workspace:acme",
        "Page:home#viewer@User:Alice",
        "Page:home#editor@User:Bob",
        "Page:home#editor@User:Eve",
        "Page:intro#workspace@Workspace:acme",
        "Page:intro#parent@Page:home",
        "Page:intro#editor@User:Alice",
    ];
    let s = Scenario::new(opl, tuples, Config::default()).await;
    for m in [
        "Page:home#canView@User:Alice",
        "Page:home#canView@User:Bob",
        "Page:home#canView@User:Eve",
        "Page:home#canEdit@User:Bob",
        "Page:intro#canEdit@User:Alice",
        "Page:intro#canView@User:Alice",
        "Page:intro#canView@User:Bob",
        "Page:intro#canView@User:Eve",
    ] {
        assert!(s.allowed(m).await, "{m}");
    }
    for n in [
        "Page:home#canEdit@User:Eve",
        "Page:intro#canEdit@User:Bob",
        "Page:home#canEdit@User:Alice",
    ] {
        assert!(!s.allowed(n).await, "{n}");
    }
}

#[tokio::test]
async fn permit_cycles_end_with_an_error() {
    let opl = r#"
class User implements Namespace {}
class Doc implements Namespace {
  related: { owners: User[] }
  permits = {
    edit: (ctx) => !this.permits.view(ctx),
    view: (ctx) => !this.permits.edit(ctx),
    selfish: (ctx) => this.permits.selfish(ctx),
    both: (ctx) => this.related.owners.includes(ctx.subject) && this.permits.both(ctx),
  }
}
"#;
    let s = Scenario::new(opl, &["Doc:d#owners@User:a"], Config::default()).await;
    let e = s.check("Doc:d#edit@User:a", 0).await.unwrap_err();
    assert!(matches!(e, EngineError::CyclicPermit), "{e:?}");
    assert_eq!(e.http_status(), 422);
    // a self reference under OR is a computed hop that consumes depth
    assert_eq!(
        s.check("Doc:d#selfish@User:a", 0).await.unwrap(),
        UNKNOWN_DEPTH
    );
    // under AND it does not: the call budget stops it
    assert!(matches!(
        s.check("Doc:d#both@User:a", 0).await.unwrap_err(),
        EngineError::CyclicPermit
    ));
}

#[tokio::test]
async fn undeclared_relation_and_unknown_namespace() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    let e = s
        .check("File:team-report#nope@User:Alice", 0)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "relation \"nope\" does not exist");
    assert_eq!(e.http_status(), 400);
    let e = s.check("Nope:x#y@User:Alice", 0).await.unwrap_err();
    assert!(matches!(e, EngineError::UnknownNamespace(_)));
    assert_eq!(e.http_status(), 404);
    // a namespace without relations accepts any relation name
    assert!(!s.allowed("User:x#anything@User:Alice").await);
    assert!(s.check("User:x#anything@User:Alice", 0).await.is_ok());
}

#[tokio::test]
async fn absurd_depths_are_rejected() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    for d in [-1, -100, 65536, i64::MAX] {
        let e = s
            .check("Group:finance#member@User:Alice", d)
            .await
            .unwrap_err();
        assert!(matches!(e, EngineError::InvalidDepth(x) if x == d), "{e:?}");
    }
    assert!(
        s.check("Group:finance#member@User:Alice", 65535)
            .await
            .unwrap()
            .allowed()
    );
    assert!(
        keto_core::Keto::new(
            keto_core::Schema::default(),
            std::sync::Arc::new(keto_core::MemoryStore::new()),
            cfg_depth(0)
        )
        .is_err()
    );
}

#[tokio::test]
async fn traverse_is_batched_per_level() {
    let opl = r#"
class User implements Namespace {}
class Folder implements Namespace { related: { viewers: User[] } }
class Doc implements Namespace {
  related: { parents: Folder[] }
  permits = { view: (ctx) => this.related.parents.traverse(p => p.related.viewers.includes(ctx.subject)) }
}
"#;
    let mut tuples: Vec<String> = (0..200)
        .map(|i| format!("Doc:d#parents@Folder:f{i}"))
        .collect();
    tuples.push("Folder:f199#viewers@User:zed".into());
    let refs: Vec<&str> = tuples.iter().map(String::as_str).collect();
    let s = Scenario::new(opl, &refs, Config::default()).await;
    s.level_store.reset();
    assert!(s.allowed("Doc:d#view@User:zed").await);
    assert!(!s.allowed("Doc:d#view@User:nobody").await);
    // two checks; each walks 200 parents with a handful of store round trips, not 200
    let calls = s.level_store.calls();
    assert!(
        calls <= 2 * 6,
        "{calls} store calls for two checks over 200 parents"
    );
}

#[tokio::test]
async fn contextual_tuples_apply_to_one_check() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    let opts = CheckOptions {
        contextual_tuples: vec![t("Group:finance#member@User:Carol")],
        ..CheckOptions::default()
    };
    assert!(
        s.check_opts("File:team-report#viewers@User:Carol", &opts)
            .await
            .unwrap()
            .allowed()
    );
    assert!(!s.allowed("File:team-report#viewers@User:Carol").await);
    let opts = CheckOptions {
        contextual_tuples: vec![t("File:personal-note#editors@Group:finance#member")],
        ..CheckOptions::default()
    };
    assert!(
        s.check_opts("File:personal-note#editors@User:Bob", &opts)
            .await
            .unwrap()
            .allowed()
    );
}

#[tokio::test]
async fn snapshot_tokens() {
    let s = Scenario::new(HOP3_OPL, HOP3_TUPLES, Config::default()).await;
    for keto in [&s.fast, &s.level] {
        let tok = keto
            .insert(s.nid, [t("Group:finance#member@User:Zoe")])
            .await
            .unwrap();
        let opts = CheckOptions {
            consistency: Consistency::AtLeastAsFresh(tok),
            ..CheckOptions::default()
        };
        assert!(
            keto.is_allowed(s.nid, &t("File:team-report#editors@User:Zoe"), &opts)
                .await
                .unwrap()
        );
        let future = CheckOptions {
            consistency: Consistency::AtLeastAsFresh(SnapToken(tok.0 + 1000)),
            ..CheckOptions::default()
        };
        let e = keto
            .check(s.nid, &t("Group:finance#member@User:Zoe"), &future)
            .await
            .unwrap_err();
        assert!(
            matches!(e, EngineError::SnapshotUnavailable { .. }),
            "{e:?}"
        );
        assert_eq!(tok.to_string().parse::<SnapToken>().unwrap(), tok);
    }
}

#[tokio::test]
async fn negation_and_exclusion() {
    let opl = r#"
class User implements Namespace {}
class Doc implements Namespace {
  related: { viewers: User[], banned: User[] }
  permits = { view: (ctx) => this.related.viewers.includes(ctx.subject) && !this.related.banned.includes(ctx.subject) }
}
"#;
    let s = Scenario::new(
        opl,
        &[
            "Doc:d#viewers@User:a",
            "Doc:d#viewers@User:b",
            "Doc:d#banned@User:b",
        ],
        Config::default(),
    )
    .await;
    assert!(s.allowed("Doc:d#view@User:a").await);
    assert!(!s.allowed("Doc:d#view@User:b").await);
    assert!(!s.allowed("Doc:d#view@User:c").await);
}

#[tokio::test]
async fn level_batching_round_trips() {
    let s = Scenario::new(RECURSIVE_OPL, RECURSIVE_TUPLES, Config::default()).await;
    s.level_store.reset();
    assert!(s.allowed("Group:company#members@User:Alice").await);
    let one = s.level_store.calls();
    assert!(one <= 4, "{one} store calls for a 2-hop check");
    // a batch shares each level's read across its items
    s.level_store.reset();
    let batch: Vec<_> = [
        "User:Alice",
        "User:Bob",
        "User:cto",
        "User:manager",
        "User:nobody",
    ]
    .iter()
    .map(|u| t(&format!("Group:company#members@{u}")))
    .collect();
    let r = s
        .level
        .batch_check(s.nid, &batch, &CheckOptions::default())
        .await
        .unwrap();
    assert_eq!(
        r.iter()
            .map(|x| x.as_ref().unwrap().allowed())
            .collect::<Vec<_>>(),
        vec![true, true, true, true, false]
    );
    let calls = s.level_store.calls();
    let mut deepest = 0;
    for tuple in &batch {
        s.level_store.reset();
        s.level
            .check(s.nid, tuple, &CheckOptions::default())
            .await
            .unwrap();
        deepest = deepest.max(s.level_store.calls());
    }
    assert_eq!(
        calls, deepest,
        "the batch costs as many round trips as its deepest item"
    );
}
