//! keto-core's in-memory check engine beside simple-zanzibar 0.3 on the same graph
//! (>= 1,000,000 tuples) and the same questions, measured in the same run.
//!
//! Scenarios: a direct check, membership through 5 nested groups, a denied check that walks
//! the same nest, a permit that is an OR over 100 relations (the subject is in the last
//! one), and a traverse over 200 parents (the subject is a viewer of the last parent).
//!
//! casbin-rs answers the questions that RBAC can model on the same graph (direct grant,
//! role membership through 5 nested roles, denial): documents' viewers become policies
//! `p(subject, doc, viewer)`, group memberships role links `g(member, group)`. A denial makes
//! casbin walk its whole role graph, which takes minutes on this graph (446 s once on the
//! 2-vCPU VM of the README): it is timed once, not sampled, and only when
//! `KETO_BENCH_CASBIN_DENIED` is set, so that the suite stays within its time. Set
//! `KETO_BENCH_SKIP_BASELINE` to measure keto-core alone.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keto_core::{CheckOptions, Config, Keto, MemoryStore, RelationTuple, Schema};
use simple_zanzibar::ZanzibarEngine;
use simple_zanzibar::model::{Object, Relation, User};
use simple_zanzibar::relationship::RelationshipMutation;

const DOCS: usize = 200_000;
const VIEWERS_PER_DOC: usize = 4;
const USERS: usize = 50_000;
const GROUPS: usize = 40_000;
const MEMBERS_PER_GROUP: usize = 3;
const FOLDERS: usize = 1_000;
const WIDE: usize = 100;
const PARENTS: usize = 200;

/// The graph as `(object_ns, object, relation, subject)` strings, where the subject is
/// `user:ID` or `ns:obj#rel`.
fn graph() -> Vec<String> {
    let mut v = Vec::with_capacity(1_300_000);
    for i in 0..DOCS {
        for k in 0..VIEWERS_PER_DOC {
            v.push(format!(
                "doc:d{i}#viewer@user:u{}",
                (i * 7 + k * 13) % USERS
            ));
        }
        v.push(format!("doc:d{i}#parent@folder:f{}", i % FOLDERS));
        if i % 4 == 0 {
            v.push(format!("doc:d{i}#viewer@group:g{}#member", i % GROUPS));
        }
    }
    for g in 0..GROUPS {
        for k in 0..MEMBERS_PER_GROUP {
            v.push(format!(
                "group:g{g}#member@user:u{}",
                (g * 11 + k * 17) % USERS
            ));
        }
    }
    for f in 0..FOLDERS {
        v.push(format!("folder:f{f}#viewer@user:u{}", f * 3));
    }
    // 5 nested groups
    v.push("doc:nested#viewer@group:n0#member".into());
    for l in 0..4 {
        v.push(format!("group:n{l}#member@group:n{}#member", l + 1));
    }
    v.push("group:n4#member@user:deep".into());
    // 100-wide rewrite
    v.push(format!("wide:w#r{}@user:widest", WIDE - 1));
    // 200 parents, stored as `folder:pN#viewer` subject sets: simple-zanzibar follows
    // tuple-to-userset only through usersets, and Keto ignores the stored relation
    for p in 0..PARENTS {
        v.push(format!("doc:big#parent@folder:p{p}#viewer"));
    }
    v.push(format!("folder:p{}#viewer@user:climber", PARENTS - 1));
    v
}

fn opl() -> String {
    let rels: Vec<String> = (0..WIDE).map(|i| format!("r{i}: user[]")).collect();
    let ors: Vec<String> = (0..WIDE)
        .map(|i| format!("this.related.r{i}.includes(ctx.subject)"))
        .collect();
    format!(
        r#"
class user implements Namespace {{}}
class group implements Namespace {{ related: {{ member: (user | SubjectSet<group, "member">)[] }} }}
class folder implements Namespace {{ related: {{ viewer: user[] }} }}
class doc implements Namespace {{
  related: {{ viewer: (user | SubjectSet<group, "member">)[], parent: folder[] }}
  permits = {{
    view: (ctx) => this.related.viewer.includes(ctx.subject) || this.related.parent.traverse(p => p.related.viewer.includes(ctx.subject)),
  }}
}}
class wide implements Namespace {{
  related: {{ {} }}
  permits = {{ view: (ctx) => {} }}
}}
"#,
        rels.join(", "),
        ors.join(" || ")
    )
}

fn zanzibar_dsl() -> String {
    let rels: String = (0..WIDE).map(|i| format!("relation r{i} {{}}\n")).collect();
    let ors: Vec<String> = (0..WIDE)
        .map(|i| format!("computed_userset(relation: \"r{i}\")"))
        .collect();
    format!(
        r#"
namespace user {{ relation self {{}} }}
namespace group {{ relation member {{}} }}
namespace folder {{ relation viewer {{}} }}
namespace doc {{
    relation viewer {{}}
    relation parent {{}}
    relation view {{
        rewrite union(computed_userset(relation: "viewer"), tuple_to_userset(tupleset: "parent", computed_userset: "viewer"))
    }}
}}
namespace wide {{
    {rels}
    relation view {{ rewrite union({}) }}
}}
"#,
        ors.join(", ")
    )
}

/// Keto writes users as subject sets with an empty relation (`user:alice`).
fn keto_tuple(s: &str) -> RelationTuple {
    s.parse().expect("valid tuple")
}

struct Case {
    name: &'static str,
    keto: &'static str,
    zanzibar: (&'static str, &'static str, &'static str, &'static str),
}

const CASES: &[Case] = &[
    Case {
        name: "direct",
        keto: "doc:d123#viewer@user:u861",
        zanzibar: ("doc", "d123", "viewer", "u861"),
    },
    Case {
        name: "nested_5_levels",
        keto: "doc:nested#viewer@user:deep",
        zanzibar: ("doc", "nested", "viewer", "deep"),
    },
    Case {
        name: "denied",
        keto: "doc:nested#viewer@user:nobody",
        zanzibar: ("doc", "nested", "viewer", "nobody"),
    },
    Case {
        name: "wide_rewrite_100",
        keto: "wide:w#view@user:widest",
        zanzibar: ("wide", "w", "view", "widest"),
    },
    Case {
        name: "traverse_200_parents",
        keto: "doc:big#view@user:climber",
        zanzibar: ("doc", "big", "view", "climber"),
    },
];

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
"#;

/// The graph as casbin policies and role links (the tuples RBAC can express).
async fn casbin_enforcer(lines: &[String]) -> casbin::Enforcer {
    use casbin::prelude::*;
    let model = DefaultModel::from_str(CASBIN_MODEL)
        .await
        .expect("casbin model");
    let mut e = Enforcer::new(model, MemoryAdapter::default())
        .await
        .expect("casbin enforcer");
    e.enable_auto_build_role_links(false);
    let mut policies = Vec::new();
    let mut roles = Vec::new();
    for line in lines {
        let (object, subject) = line.split_once('@').expect("tuple");
        let (object, relation) = object.split_once('#').expect("relation");
        let (ns, obj) = object.split_once(':').expect("namespace");
        let subject = subject.trim_end_matches("#member");
        let subject = subject.split_once(':').map_or(subject, |(_, id)| id);
        match (ns, relation) {
            ("group", "member") => roles.push(vec![subject.to_owned(), obj.to_owned()]),
            ("doc", "viewer") => policies.push(vec![
                subject.to_owned(),
                obj.to_owned(),
                "viewer".to_owned(),
            ]),
            _ => {}
        }
    }
    for chunk in policies.chunks(50_000) {
        e.add_policies(chunk.to_vec())
            .await
            .expect("casbin policies");
    }
    for chunk in roles.chunks(50_000) {
        e.add_grouping_policies(chunk.to_vec())
            .await
            .expect("casbin roles");
    }
    e.build_role_links().expect("casbin role links");
    e
}

fn bench(c: &mut Criterion) {
    let lines = graph();
    eprintln!("graph: {} tuples", lines.len());

    let started = std::time::Instant::now();
    let nid = uuid::Uuid::new_v4();
    let store = Arc::new(MemoryStore::new());
    let tuples: Vec<RelationTuple> = lines.iter().map(|s| keto_tuple(s)).collect();
    store.insert_many(nid, &tuples);
    drop(tuples);
    let schema = Schema::from_opl(&opl()).expect("OPL");
    let keto = Keto::new(schema, store, Config::default()).expect("engine");

    eprintln!("keto-core graph built in {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let skip_baseline = std::env::var_os("KETO_BENCH_SKIP_BASELINE").is_some();
    let zanzibar = ZanzibarEngine::builder().build();
    zanzibar.add_dsl(&zanzibar_dsl()).expect("DSL");
    for chunk in lines
        .chunks(10_000)
        .take(if skip_baseline { 0 } else { usize::MAX })
    {
        let muts: Vec<RelationshipMutation> = chunk
            .iter()
            .map(|s| RelationshipMutation::touch(s).expect("relationship"))
            .collect();
        zanzibar.write_relationships(muts).expect("write");
    }
    eprintln!("simple-zanzibar graph built in {:?}", started.elapsed());

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let casbin = (!skip_baseline).then(|| rt.block_on(casbin_enforcer(&lines)));
    drop(lines);
    eprintln!("casbin graph built in {:?}", started.elapsed());
    let opts = CheckOptions::default();

    for case in CASES {
        let tuple = keto_tuple(case.keto);
        let (ns, obj, rel, user) = case.zanzibar;
        let object = Object::new(ns, obj);
        let relation = Relation::new(rel);
        let user = User::user_id(user);
        let ours = rt
            .block_on(keto.check(nid, &tuple, &opts))
            .expect("keto check");
        let theirs = zanzibar.check_relation(&object, &relation, &user);
        eprintln!(
            "{}: keto-core {:?} / simple-zanzibar {theirs:?}",
            case.name, ours.membership
        );

        let mut g = c.benchmark_group(format!("keto_check/{}", case.name));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        g.bench_function("keto-core", |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(keto.check(nid, black_box(&tuple), &opts).await) })
        });
        let casbin_denied = std::env::var_os("KETO_BENCH_CASBIN_DENIED").is_some();
        if let (Some(e), "direct" | "nested_5_levels" | "denied") = (&casbin, case.name)
            && (case.name != "denied" || casbin_denied)
        {
            use casbin::CoreApi;
            let (_, obj, rel, user) = case.zanzibar;
            let started = std::time::Instant::now();
            let allowed = e.enforce((user, obj, rel)).expect("casbin enforce");
            let one_call = started.elapsed();
            eprintln!("{}: casbin-rs {allowed} in {one_call:?}", case.name);
            // A denial makes casbin walk the whole role graph (see the module's
            // documentation): timed once above, not sampled.
            if case.name != "denied" {
                g.bench_function("casbin-rs", |b| {
                    b.iter(|| black_box(e.enforce(black_box((user, obj, rel)))))
                });
            }
        }
        if !skip_baseline {
            g.bench_function("simple-zanzibar", |b| {
                b.iter(|| {
                    black_box(zanzibar.check_relation(
                        black_box(&object),
                        black_box(&relation),
                        black_box(&user),
                    ))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
