//! Property tests: the level-batched engine, the memory fast path and a plain recursive
//! reference evaluator (written independently from Keto's step rules) agree on random small
//! graphs; the OPL parser never hangs or panics on token soup.

mod common;

use std::collections::HashSet;

use common::Scenario;
use keto_core::namespace::{Child, Operator, Relation, Rewrite};
use keto_core::{CheckResult, Config, Limitation, Membership, RelationTuple, Schema, Subject};
use proptest::prelude::*;

const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { member: (User | SubjectSet<Group, "member">)[] } }
class Doc implements Namespace {
  related: {
    owner: (User | SubjectSet<Group, "member">)[]
    viewer: (User | SubjectSet<Group, "member">)[]
    parent: Doc[]
    banned: User[]
  }
  permits = {
    view: (ctx) => this.related.viewer.includes(ctx.subject) || this.permits.edit(ctx) || this.related.parent.traverse(p => p.permits.view(ctx)),
    edit: (ctx) => this.related.owner.includes(ctx.subject) && !this.related.banned.includes(ctx.subject),
    mixed: (ctx) => (this.related.viewer.includes(ctx.subject) && this.related.owner.includes(ctx.subject)) || !(this.related.banned.includes(ctx.subject) || this.related.parent.traverse(p => p.related.owner.includes(ctx.subject))),
  }
}
"#;

#[derive(Debug, Clone, PartialEq)]
enum Res {
    Member,
    Not,
    Unknown(Option<Limitation>),
    Err,
}

/// A direct recursive transcription of the rules in the reference notes.
struct Reference<'a> {
    tuples: &'a [RelationTuple],
    schema: &'a Schema,
    subject: &'a Subject,
    strict: bool,
    width: usize,
    visited: Vec<HashSet<(String, String, String)>>,
}

enum Step<'a> {
    Rewrite(&'a Rewrite, i32),
    DirectMulti(Vec<&'a str>),
    IsAllowed(&'a str, bool, i32),
    Child(&'a Child, i32),
}

impl<'a> Reference<'a> {
    fn exists(&self, ns: &str, obj: &str, rel: &str) -> bool {
        self.tuples.iter().any(|t| {
            t.namespace == ns && t.object == obj && t.relation == rel && t.subject == *self.subject
        })
    }
    fn sets(&self, ns: &str, obj: &str, rel: &str) -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = Vec::new();
        for t in self.tuples {
            if t.namespace == ns
                && t.object == obj
                && t.relation == rel
                && let Subject::Set(s) = &t.subject
            {
                let k = (s.namespace.clone(), s.object.clone(), s.relation.clone());
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }
    fn allows_direct(&self, rel: Option<&Relation>) -> bool {
        match self.subject {
            Subject::Id(_) => rel.is_none_or(|r| r.rewrite.is_none()),
            Subject::Set(s) => rel.is_some_and(|r| {
                r.rewrite.is_none()
                    && r.types.iter().any(|t| {
                        t.namespace == s.namespace
                            && t.relation.as_deref().unwrap_or("") == s.relation
                    })
            }),
        }
    }

    fn run(
        &mut self,
        union: bool,
        ns: &'a str,
        obj: &'a str,
        steps: Vec<Step<'a>>,
        vis: Option<usize>,
    ) -> Res {
        if steps.is_empty() {
            return Res::Not;
        }
        let mut lim = None;
        for s in steps {
            let r = match s {
                Step::Rewrite(rw, d) => self.rewrite(rw, ns, obj, d, vis),
                Step::DirectMulti(rels) => {
                    if rels.iter().any(|r| self.exists(ns, obj, r)) {
                        Res::Member
                    } else {
                        Res::Not
                    }
                }
                Step::IsAllowed(rel, skip, d) => self.is_allowed(ns, obj, rel, skip, d, vis),
                Step::Child(c, d) => self.child(c, ns, obj, d, vis),
            };
            match (&r, union) {
                (Res::Err, _) | (Res::Member, true) | (Res::Not, false) => return r,
                (Res::Unknown(Some(l)), _) if lim.is_none() => lim = Some(*l),
                _ => {}
            }
        }
        match (lim, union) {
            (Some(l), _) => Res::Unknown(Some(l)),
            (None, true) => Res::Not,
            (None, false) => Res::Member,
        }
    }

    fn is_allowed(
        &mut self,
        ns: &'a str,
        obj: &'a str,
        rel: &'a str,
        skip: bool,
        d: i32,
        vis: Option<usize>,
    ) -> Res {
        if d <= 0 {
            return Res::Unknown(Some(Limitation::MaxDepthExceeded));
        }
        let Ok(def) = self.schema.relation_for(ns, rel) else {
            return Res::Err;
        };
        let mut lim = None;
        // rewrite, direct, expand: a union, run in this order
        if let Some(rw) = def.and_then(|r| r.rewrite.as_ref()) {
            match self.rewrite(rw, ns, obj, d, vis) {
                Res::Member => return Res::Member,
                Res::Err => return Res::Err,
                Res::Unknown(Some(l)) => lim = lim.or(Some(l)),
                _ => {}
            }
        }
        if !skip && (!self.strict || self.allows_direct(def)) && self.exists(ns, obj, rel) {
            return Res::Member;
        }
        let exp = if !self.strict {
            Some(self.expand(ns, obj, rel, None, d, vis))
        } else {
            def.filter(|r| r.types.iter().any(|t| t.relation.is_some()))
                .map(|def| self.expand(ns, obj, rel, Some(def), d, vis))
        };
        match exp {
            Some(Res::Member) => return Res::Member,
            Some(Res::Err) => return Res::Err,
            Some(Res::Unknown(Some(l))) => lim = lim.or(Some(l)),
            _ => {}
        }
        lim.map_or(Res::Not, |l| Res::Unknown(Some(l)))
    }

    fn expand(
        &mut self,
        ns: &'a str,
        obj: &'a str,
        rel: &'a str,
        strict: Option<&Relation>,
        d: i32,
        vis: Option<usize>,
    ) -> Res {
        let rows: Vec<_> = self
            .sets(ns, obj, rel)
            .into_iter()
            .filter(|(n, _, r)| {
                strict.is_none_or(|def| {
                    def.types
                        .iter()
                        .any(|t| &t.namespace == n && t.relation.as_deref() == Some(r.as_str()))
                })
            })
            .collect();
        for (n, o, r) in &rows {
            let look = strict.is_none()
                || self.allows_direct(self.schema.relation_for(n, r).ok().flatten());
            if look && self.exists(n, o, r) {
                return Res::Member;
            }
        }
        if rows.is_empty() {
            return Res::Not;
        }
        if d <= 1 {
            return Res::Unknown(Some(Limitation::MaxDepthExceeded));
        }
        let vis = vis.unwrap_or_else(|| {
            self.visited.push(HashSet::new());
            self.visited.len() - 1
        });
        let mut lim = (rows.len() > self.width).then_some(Limitation::MaxWidthExceeded);
        for row in rows.into_iter().take(self.width) {
            if !self.visited[vis].insert(row.clone()) {
                continue;
            }
            let (n, o, r) = row;
            let (n, o, r): (&'a str, &'a str, &'a str) = (leak(n), leak(o), leak(r));
            match self.is_allowed(n, o, r, true, d - 1, Some(vis)) {
                Res::Member => return Res::Member,
                Res::Err => return Res::Err,
                Res::Unknown(Some(l)) => lim = lim.or(Some(l)),
                _ => {}
            }
        }
        lim.map_or(Res::Not, |l| Res::Unknown(Some(l)))
    }

    fn rewrite(
        &mut self,
        rw: &'a Rewrite,
        ns: &'a str,
        obj: &'a str,
        d: i32,
        vis: Option<usize>,
    ) -> Res {
        if d <= 0 {
            return Res::Unknown(Some(Limitation::MaxDepthExceeded));
        }
        let mut steps = Vec::new();
        let or = rw.operator == Operator::Or;
        if or {
            let computed: Vec<&'a str> = rw
                .children
                .iter()
                .filter_map(|c| match c {
                    Child::ComputedSubjectSet { relation } => Some(relation.as_str()),
                    _ => None,
                })
                .collect();
            let direct: Vec<&'a str> = computed
                .iter()
                .copied()
                .filter(|r| {
                    !self.strict
                        || self.allows_direct(self.schema.relation_for(ns, r).ok().flatten())
                })
                .collect();
            if !direct.is_empty() {
                steps.push(Step::DirectMulti(direct));
            }
            for r in computed {
                steps.push(Step::IsAllowed(r, true, d - 1));
            }
        }
        for c in &rw.children {
            match c {
                Child::ComputedSubjectSet { .. } if or => {}
                Child::Rewrite(inner) => steps.push(Step::Rewrite(inner, d - 1)),
                other => steps.push(Step::Child(other, d)),
            }
        }
        self.run(or, ns, obj, steps, vis)
    }

    fn child(
        &mut self,
        c: &'a Child,
        ns: &'a str,
        obj: &'a str,
        d: i32,
        vis: Option<usize>,
    ) -> Res {
        match c {
            Child::ComputedSubjectSet { relation } => {
                self.is_allowed(ns, obj, relation, false, d, vis)
            }
            Child::Rewrite(rw) => self.rewrite(rw, ns, obj, d, vis),
            Child::Invert(inner) => match self.child(inner, ns, obj, d, vis) {
                Res::Member => Res::Not,
                Res::Not => Res::Member,
                other => other,
            },
            Child::TupleToSubjectSet {
                relation,
                computed_subject_set_relation,
            } => {
                if d <= 0 {
                    return Res::Unknown(Some(Limitation::MaxDepthExceeded));
                }
                let rows = self.sets(ns, obj, relation);
                let mut lim = None;
                for (n, o, _) in rows {
                    let (n, o) = (leak(n), leak(o));
                    match self.is_allowed(n, o, computed_subject_set_relation, false, d - 1, vis) {
                        Res::Member => return Res::Member,
                        Res::Err => return Res::Err,
                        Res::Unknown(Some(l)) => lim = lim.or(Some(l)),
                        _ => {}
                    }
                }
                lim.map_or(Res::Not, |l| Res::Unknown(Some(l)))
            }
        }
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn subject_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..3u8).prop_map(|u| format!("User:u{u}")),
        (0..2u8).prop_map(|u| format!("u{u}")),
        (0..3u8).prop_map(|g| format!("Group:g{g}#member")),
    ]
}

fn tuple_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0..3u8,
            prop_oneof![Just("owner"), Just("viewer")],
            subject_strategy()
        )
            .prop_map(|(d, r, s)| format!("Doc:d{d}#{r}@{s}")),
        (0..3u8, 0..3u8).prop_map(|(d, p)| format!("Doc:d{d}#parent@Doc:d{p}")),
        (0..3u8, 0..3u8).prop_map(|(d, u)| format!("Doc:d{d}#banned@User:u{u}")),
        (0..3u8, subject_strategy()).prop_map(|(g, s)| format!("Group:g{g}#member@{s}")),
    ]
}

fn query_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0..3u8,
            prop_oneof![
                Just("view"),
                Just("edit"),
                Just("mixed"),
                Just("viewer"),
                Just("owner")
            ],
            subject_strategy()
        )
            .prop_map(|(d, r, s)| format!("Doc:d{d}#{r}@{s}")),
        (0..3u8, subject_strategy()).prop_map(|(g, s)| format!("Group:g{g}#member@{s}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn engines_agree(
        tuples in proptest::collection::vec(tuple_strategy(), 0..24),
        queries in proptest::collection::vec(query_strategy(), 1..6),
        depth in 1u32..7,
        width in prop_oneof![Just(1u32), Just(2), Just(100)],
        strict in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let config = Config { max_read_depth: depth, max_read_width: width, strict_mode: strict, ..Config::default() };
        let schema = Schema::from_opl(OPL).unwrap();
        let refs: Vec<&str> = tuples.iter().map(String::as_str).collect();
        let s = rt.block_on(Scenario::with_schema(schema.clone(), &refs, Config { strict_mode: false, ..config.clone() }));
        let parsed: Vec<RelationTuple> = tuples.iter().map(|t| t.parse().unwrap()).collect();
        // memory store order: first insertion wins
        let mut dedup: Vec<RelationTuple> = Vec::new();
        for t in parsed { if !dedup.contains(&t) { dedup.push(t); } }
        for q in &queries {
            // both engine paths (asserted equal inside `check`)
            let got = rt.block_on(s.check(q, 0));
            let tuple: RelationTuple = q.parse().unwrap();
            let mut reference = Reference { tuples: &dedup, schema: &schema, subject: &tuple.subject, strict, width: width as usize, visited: Vec::new() };
            let want = reference.is_allowed(leak(tuple.namespace.clone()), leak(tuple.object.clone()), leak(tuple.relation.clone()), false, depth as i32, None);
            if strict {
                // the scenario runs non-strict; run a strict engine for this comparison
                let ss = rt.block_on(Scenario::with_schema(schema.clone(), &refs, config.clone()));
                let got = rt.block_on(ss.check(q, 0));
                match (&want, got) {
                    (Res::Member, Ok(r)) => prop_assert_eq!(r, CheckResult::ALLOWED, "{}", q),
                    (Res::Not, Ok(r)) => prop_assert_eq!(r, CheckResult::DENIED, "{}", q),
                    (Res::Unknown(Some(l)), Err(keto_core::EngineError::LimitReached(g))) => prop_assert_eq!(*l, g, "{}", q),
                    (w, g) => prop_assert!(false, "strict {}: reference {:?}, engine {:?}", q, w, g),
                }
            } else {
                let got = got.unwrap();
                let expect = match want {
                    Res::Member => CheckResult::ALLOWED,
                    Res::Not => CheckResult::DENIED,
                    Res::Unknown(l) => CheckResult { membership: Membership::Unknown, limitation: l },
                    Res::Err => panic!("unexpected error"),
                };
                prop_assert_eq!(got, expect, "{}", q);
            }
        }
    }

    #[test]
    fn opl_parser_terminates_on_token_soup(
        parts in proptest::collection::vec(prop_oneof![
            Just("class"), Just("A"), Just("implements"), Just("Namespace"), Just("{"), Just("}"),
            Just("related"), Just(":"), Just("permits"), Just("="), Just("("), Just(")"), Just("ctx"),
            Just("=>"), Just("this"), Just("."), Just("includes"), Just("traverse"), Just("||"),
            Just("&&"), Just("!"), Just("["), Just("]"), Just(","), Just(";"), Just("User"), Just("<"),
            Just(">"), Just("|"), Just("SubjectSet"), Just("\"s\""), Just("subject"), Just("\n"),
            Just("/*"), Just("*/"), Just("//"), Just("$"),
        ], 0..80)
    ) {
        let src = parts.join(" ");
        let out = keto_core::opl::parse(&src);
        for d in &out.diagnostics {
            prop_assert!(d.start <= d.end, "{}", d);
        }
    }
}
