//! Input built to exhaust the stack or overflow arithmetic: long operator chains, deep
//! nesting, long subject-set chains, cycles, huge page tokens. Each test runs on a thread
//! with a small stack, so that a recursion once per input element fails here before it
//! could abort a server.

use std::sync::Arc;

use keto_core::expand::MAX_EXPAND_TREE_DEPTH;
use keto_core::namespace::{Child, Operator};
use keto_core::opl::{self, MAX_EXPRESSION_DEPTH, MAX_NESTING, Position};
use keto_core::store::PageRequest;
use keto_core::{
    CheckOptions, Config, EngineError, ExpandTree, Keto, MemoryStore, RelationQuery, RelationTuple,
    Schema, Subject, SubjectSet, TupleStore,
};
use uuid::Uuid;

/// Stack of the threads the OPL tests run on: far less than a tokio worker's 2 MiB.
const SMALL_STACK: usize = 256 * 1024;

/// Terms in the long chains.
const TERMS: usize = 30_000;

fn on_stack<T: Send + 'static>(size: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(f)
        .expect("spawns")
        .join()
        .expect("the thread did not panic or overflow")
}

const ATOM: &str = "this.related.v.includes(ctx.subject)";

/// An OPL file whose permit `p` is `expr`, written alone on line 5 from column 1.
fn with_permit(expr: &str) -> String {
    format!(
        "class User implements Namespace {{}}\nclass Doc implements Namespace {{\n  related: {{ v: User[] }}\n  permits = {{ p: (ctx: Context): boolean =>\n{expr}\n  }}\n}}\n"
    )
}

fn chain(op: &str, n: usize) -> String {
    vec![ATOM; n].join(&format!(" {op} "))
}

fn pos(line: u32, column: u32) -> Position {
    Position { line, column }
}

/// The column (1-based) of the `nth` (0-based) occurrence of `needle` in `line`.
fn column_of(line: &str, needle: &str, nth: usize) -> u32 {
    let byte = line.match_indices(needle).nth(nth).expect("occurs").0;
    line[..byte].chars().count() as u32 + 1
}

fn permit_rewrite(out: &opl::ParseOutput) -> &keto_core::namespace::Rewrite {
    let doc = out
        .namespaces
        .iter()
        .find(|n| n.name == "Doc")
        .expect("Doc");
    doc.relation("p")
        .and_then(|r| r.rewrite.as_ref())
        .expect("p has a rewrite")
}

/// Checks `Doc:d#p@User:alice` on a current-thread runtime (with `Doc:d#v@User:alice` stored).
fn check_p(src: &str) -> bool {
    let keto = Keto::new(
        Schema::from_opl(src).expect("valid"),
        Arc::new(MemoryStore::new()),
        Config::default(),
    )
    .expect("engine");
    let t = keto.tenant(Uuid::nil());
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(async move {
            t.insert(["Doc:d#v@User:alice".parse().expect("tuple")])
                .await
                .expect("insert");
            t.is_allowed(
                &"Doc:d#p@User:alice".parse().expect("tuple"),
                &CheckOptions::default(),
            )
            .await
            .expect("check")
        })
}

#[test]
fn a_long_or_chain_is_one_node_and_is_checked() {
    let (children, allowed) = on_stack(SMALL_STACK, || {
        let src = with_permit(&chain("||", TERMS));
        assert!(src.len() > 1_000_000, "the source is {} bytes", src.len());
        let out = opl::parse(&src);
        assert!(!out.has_errors(), "{:?}", out.errors().next());
        let rw = permit_rewrite(&out);
        assert_eq!(rw.operator, Operator::Or);
        let children = rw.children.len();
        drop(out);
        (children, check_p(&src))
    });
    assert_eq!(children, TERMS);
    assert!(allowed);
}

#[test]
fn a_long_and_chain_is_one_node_and_is_checked() {
    let (children, allowed) = on_stack(SMALL_STACK, || {
        let src = with_permit(&chain("&&", TERMS));
        let out = opl::parse(&src);
        assert!(!out.has_errors(), "{:?}", out.errors().next());
        let rw = permit_rewrite(&out);
        assert_eq!(rw.operator, Operator::And);
        (rw.children.len(), check_p(&src))
    });
    assert_eq!(children, TERMS);
    assert!(allowed);
}

#[test]
fn a_long_alternating_chain_is_a_positioned_error() {
    let ops = ["||", "&&"];
    let expr = (0..TERMS)
        .map(|i| {
            if i == 0 {
                ATOM.to_owned()
            } else {
                format!(" {} {ATOM}", ops[i % 2])
            }
        })
        .collect::<String>();
    let out = on_stack(SMALL_STACK, move || opl::parse(&with_permit(&expr)));
    let err = out.errors().next().expect("an error");
    assert!(err.message.contains("nested too deeply"), "{err}");
    // Each operator after the first wraps the chain so far: the first tree too high ends at
    // the operator number MAX_EXPRESSION_DEPTH (0-based), an `||` or `&&` by parity.
    let line = chain("||", MAX_EXPRESSION_DEPTH + 2);
    let column = column_of(&line, "||", MAX_EXPRESSION_DEPTH);
    assert_eq!(err.start, pos(5, column));
    assert_eq!(err.end, pos(5, column + 2));
}

#[test]
fn an_alternating_chain_within_the_limit_parses_left_to_right() {
    // a || a && a || a … with MAX_EXPRESSION_DEPTH - 1 changes of operator.
    let ops = ["||", "&&"];
    let expr = (0..MAX_EXPRESSION_DEPTH + 1)
        .map(|i| {
            if i == 0 {
                ATOM.to_owned()
            } else {
                format!(" {} {ATOM}", ops[(i - 1) % 2])
            }
        })
        .collect::<String>();
    let out = opl::parse(&with_permit(&expr));
    assert!(!out.has_errors(), "{:?}", out.errors().next());
    // The root is the last operator; its first child holds everything before it.
    let mut height = 0;
    let mut node = permit_rewrite(&out);
    loop {
        height += 1;
        match node.children.first() {
            Some(Child::Rewrite(inner)) => node = inner,
            _ => break,
        }
    }
    assert_eq!(height, MAX_EXPRESSION_DEPTH);
}

#[test]
fn thirty_thousand_open_parentheses_are_a_positioned_error() {
    let expr = format!("{}{ATOM}", "(".repeat(TERMS));
    let out = on_stack(SMALL_STACK, move || opl::parse(&with_permit(&expr)));
    let err = out.errors().next().expect("an error");
    assert!(err.message.contains("nested too deeply"), "{err}");
    // The parenthesis past the limit.
    let column = MAX_NESTING as u32 + 1;
    assert_eq!((err.start, err.end), (pos(5, column), pos(5, column + 1)));
}

#[test]
fn thirty_thousand_negations_are_a_positioned_error() {
    // `!` applies to an operand or a parenthesised expression: `!!` is a syntax error.
    let expr = format!("{}{ATOM}", "!".repeat(TERMS));
    let out = on_stack(SMALL_STACK, move || opl::parse(&with_permit(&expr)));
    let err = out.errors().next().expect("an error");
    assert_eq!(err.start, pos(5, 2), "{err}");
    // Nested negations of parenthesised expressions stop at the nesting limit.
    let expr = format!("{}{ATOM}{}", "!(".repeat(TERMS), ")".repeat(TERMS));
    let out = on_stack(SMALL_STACK, move || opl::parse(&with_permit(&expr)));
    let err = out.errors().next().expect("an error");
    assert!(err.message.contains("nested too deeply"), "{err}");
    let column = 2 * MAX_NESTING as u32 + 1;
    assert_eq!(err.start, pos(5, column), "{err}");
}

#[test]
fn long_chains_inside_parentheses_stay_flat() {
    let expr = format!(
        "({}) && !({})",
        chain("||", TERMS / 2),
        chain("&&", TERMS / 2)
    );
    let out = on_stack(SMALL_STACK, move || opl::parse(&with_permit(&expr)));
    assert!(!out.has_errors(), "{:?}", out.errors().next());
    let rw = permit_rewrite(&out);
    assert_eq!(rw.operator, Operator::And);
    match rw.children.as_slice() {
        [Child::Rewrite(or), Child::Invert(not)] => {
            assert_eq!(or.children.len(), TERMS / 2);
            match &**not {
                Child::Rewrite(and) => assert_eq!(and.children.len(), TERMS / 2),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
}

const GROUPS: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { member: (User | SubjectSet<Group, "member">)[] } }
"#;

/// An engine allowing the largest depth and expand size Keto's configuration allows, over
/// `tuples`.
fn permissive(tuples: &[RelationTuple]) -> Keto {
    let store = MemoryStore::new();
    store.insert_many(Uuid::nil(), tuples);
    Keto::new(
        Schema::from_opl(GROUPS).expect("valid"),
        Arc::new(store),
        Config {
            max_read_depth: 65535,
            max_expand_size: 65535,
            max_read_width: 65535,
            ..Config::default()
        },
    )
    .expect("engine")
}

/// `Group:g0#member@Group:g1#member`, …, up to `g{n-1}`, whose member is `User:alice`.
fn group_chain(n: usize) -> Vec<RelationTuple> {
    let mut v: Vec<RelationTuple> = (0..n - 1)
        .map(|i| {
            RelationTuple::new(
                "Group",
                format!("g{i}"),
                "member",
                Subject::set("Group", format!("g{}", i + 1), "member"),
            )
        })
        .collect();
    v.push(RelationTuple::new(
        "Group",
        format!("g{}", n - 1),
        "member",
        Subject::set("User", "alice", ""),
    ));
    v
}

/// The height of a tree, counted without recursion.
fn height(t: &ExpandTree) -> usize {
    let mut max = 0;
    let mut stack = vec![(t, 1usize)];
    while let Some((n, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(n.children.iter().map(|c| (c, d + 1)));
    }
    max
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Stack of the threads the check and expand tests run on: less than a tokio worker's
/// 2 MiB. A check recurses at most once or twice per step of Keto's 1000-step path budget;
/// in an unoptimised build a whole path takes about 1.2 MiB.
const ENGINE_STACK: usize = 1536 * 1024;

#[test]
fn expanding_a_ten_thousand_long_subject_set_chain_is_bounded() {
    let (h, json_len) = on_stack(ENGINE_STACK, || {
        let keto = permissive(&group_chain(10_000));
        let tree = block_on(keto.expand(
            Uuid::nil(),
            &SubjectSet::new("Group", "g0", "member"),
            Some(65535),
        ))
        .expect("expand")
        .expect("a tree");
        let json = serde_json::to_string(&tree).expect("serialises");
        let _: serde_json::Value =
            serde_json::from_str(&json).expect("within serde_json's nesting limit");
        let copy = tree.clone();
        assert_eq!(copy, tree);
        (height(&tree), json.len())
    });
    assert_eq!(h, MAX_EXPAND_TREE_DEPTH);
    assert!(json_len > 0);
}

#[test]
fn expanding_a_cycle_ends() {
    let mut tuples = group_chain(3);
    tuples.push(RelationTuple::new(
        "Group",
        "g2",
        "member",
        Subject::set("Group", "g0", "member"),
    ));
    let h = on_stack(ENGINE_STACK, move || {
        let keto = permissive(&tuples);
        let tree = block_on(keto.expand(
            Uuid::nil(),
            &SubjectSet::new("Group", "g0", "member"),
            Some(65535),
        ))
        .expect("expand")
        .expect("a tree");
        height(&tree)
    });
    // g0 → g1 → g2 → g0 (shown, not expanded again).
    assert_eq!(h, 4);
}

#[test]
fn checking_along_a_ten_thousand_long_chain_ends_at_the_step_budget() {
    let r = on_stack(ENGINE_STACK, || {
        let keto = permissive(&group_chain(10_000));
        block_on(keto.check(
            Uuid::nil(),
            &"Group:g0#member@User:alice".parse().expect("tuple"),
            &CheckOptions::depth(65535),
        ))
    });
    // Keto's call budget (1000 steps along one path) ends the walk long before the end of
    // the chain.
    assert!(matches!(r, Err(EngineError::CyclicPermit)), "{r:?}");
}

#[test]
fn a_permit_cycle_ends_at_the_step_budget_on_a_bounded_stack() {
    let src = "class User implements Namespace {}\nclass Doc implements Namespace {\n  related: { v: User[] }\n  permits = {\n    a: (ctx) => !this.permits.b(ctx),\n    b: (ctx) => !this.permits.a(ctx),\n  }\n}\n";
    let r = on_stack(ENGINE_STACK, move || {
        let keto = Keto::new(
            Schema::from_opl(src).expect("valid"),
            Arc::new(MemoryStore::new()),
            Config {
                max_read_depth: 65535,
                ..Config::default()
            },
        )
        .expect("engine");
        block_on(keto.check(
            Uuid::nil(),
            &"Doc:d#a@User:alice".parse().expect("tuple"),
            &CheckOptions::default(),
        ))
    });
    assert!(matches!(r, Err(EngineError::CyclicPermit)), "{r:?}");
}

#[test]
fn requested_depth_is_clamped_to_the_configured_maximum() {
    let store = MemoryStore::new();
    store.insert_many(Uuid::nil(), &group_chain(50));
    let keto = Keto::new(
        Schema::from_opl(GROUPS).expect("valid"),
        Arc::new(store),
        Config::default(),
    )
    .expect("engine");
    let set = SubjectSet::new("Group", "g0", "member");
    let tree = block_on(keto.expand(Uuid::nil(), &set, Some(65535)))
        .expect("expand")
        .expect("a tree");
    assert_eq!(height(&tree), Config::default().max_read_depth as usize);
    // A check asking for 65535 levels walks the configured 5: alice, 50 hops away, is not
    // reached.
    let r = block_on(keto.check(
        Uuid::nil(),
        &"Group:g0#member@User:alice".parse().expect("tuple"),
        &CheckOptions::depth(65535),
    ))
    .expect("check");
    assert_eq!(r.membership, keto_core::Membership::Unknown);
    assert_eq!(
        r.limitation,
        Some(keto_core::Limitation::MaxDepthExceeded),
        "{r:?}"
    );
    let r = block_on(keto.expand(Uuid::nil(), &set, Some(65536)));
    assert!(matches!(r, Err(EngineError::InvalidDepth(65536))), "{r:?}");
    let r = block_on(keto.expand(Uuid::nil(), &set, Some(i64::MAX)));
    assert!(matches!(r, Err(EngineError::InvalidDepth(_))), "{r:?}");
}

#[test]
fn a_page_token_at_the_largest_sequence_number_is_an_empty_page() {
    let store = MemoryStore::new();
    store.insert_many(Uuid::nil(), &group_chain(3));
    let page = block_on(store.list(
        Uuid::nil(),
        &RelationQuery::all(),
        &PageRequest {
            size: 10,
            token: Some(format!("m1.{}", u64::MAX)),
        },
    ))
    .expect("a page");
    assert!(page.tuples.is_empty());
    assert_eq!(page.next_page_token, None);
    let r = block_on(store.list(
        Uuid::nil(),
        &RelationQuery::all(),
        &PageRequest {
            size: 10,
            token: Some("m1.18446744073709551616".into()),
        },
    ));
    assert!(r.is_err(), "a number past u64 is not a token");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Strings made of the characters the tuple syntax cares about, plus multi-byte ones.
    fn tupleish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(":"),
                Just("#"),
                Just("@"),
                Just("("),
                Just(")"),
                Just("a"),
                Just("é"),
                Just("😀"),
                Just(""),
                Just(" "),
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    /// Strings made of OPL tokens and fragments, with stray characters.
    fn oplish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("class "),
                Just("A "),
                Just("implements Namespace "),
                Just("{"),
                Just("}"),
                Just("("),
                Just(")"),
                Just("related: "),
                Just("permits = "),
                Just("p: (ctx) => "),
                Just("this.related.a.includes(ctx.subject)"),
                Just("this.permits.p(ctx)"),
                Just("this.related.a.traverse(x => x.permits.p(ctx))"),
                Just("a: A[]"),
                Just(" || "),
                Just(" && "),
                Just("!"),
                Just(","),
                Just(";"),
                Just("\""),
                Just("'"),
                Just("/*"),
                Just("*/"),
                Just("//"),
                Just("\n"),
                Just("é"),
                Just("<"),
                Just(">"),
                Just("SubjectSet<A, \"a\">"),
                Just("|"),
                Just("[]"),
            ],
            0..64,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn the_tuple_parser_never_panics_and_round_trips(s in prop_oneof![tupleish(), any::<String>()]) {
            if let Ok(t) = s.parse::<RelationTuple>() {
                let again: RelationTuple = t.to_string().parse().expect("a printed tuple parses");
                prop_assert_eq!(
                    (&again.namespace, &again.object, &again.relation),
                    (&t.namespace, &t.object, &t.relation)
                );
                // Keto's form trims parentheses around a subject, so a subject printed with
                // one at either end (object "(" of `:#@:(#`) reads back without it.
                let printed = t.subject.to_string();
                let paren = |c: char| c == '(' || c == ')';
                if !printed.starts_with(paren) && !printed.ends_with(paren) {
                    prop_assert_eq!(again.subject, t.subject);
                }
            }
            let _ = s.parse::<Subject>();
            let _ = s.parse::<SubjectSet>();
            let _ = RelationTuple::parse_lines(&s);
        }

        #[test]
        fn the_opl_parser_never_panics(s in prop_oneof![oplish(), any::<String>()]) {
            let out = opl::parse(&s);
            let lines = s.split('\n').count() as u32;
            for d in &out.diagnostics {
                prop_assert!(d.start <= d.end, "{}", d);
                prop_assert!(d.end.line <= lines, "{} in {} lines", d, lines);
                let _ = d.render(&s);
            }
        }
    }
}

/// Found by the `tuple` fuzz target: a subject set whose object is `(` and whose relation is
/// empty prints as `l/:(#`, which reads back with the parenthesis trimmed (Keto's text form
/// wraps subject sets in optional parentheses). The rest of the tuple round-trips.
#[test]
fn a_subject_set_object_of_one_parenthesis_reads_back_trimmed() {
    let text = " /:(a\u{b}  //\n\n #\u{3}n@l/:(#";
    let t: RelationTuple = text.parse().expect("parses");
    let again: RelationTuple = t.to_string().parse().expect("a printed tuple parses");
    assert_eq!(
        (&again.namespace, &again.object, &again.relation),
        (&t.namespace, &t.object, &t.relation)
    );
    match (&t.subject, &again.subject) {
        (Subject::Set(a), Subject::Set(b)) => {
            assert_eq!((a.namespace.as_str(), a.object.as_str()), ("l/", "("));
            assert_eq!((b.namespace.as_str(), b.object.as_str()), ("l/", ""));
        }
        other => panic!("{other:?}"),
    }
}
