//! OPL parsing, diagnostics and type checks.

use keto_core::namespace::{Child, Operator, Rewrite};
use keto_core::opl::{self, Position, Severity};
use keto_core::{Schema, SchemaError};

fn pos(line: u32, column: u32) -> Position {
    Position { line, column }
}

fn cs(r: &str) -> Child {
    Child::ComputedSubjectSet { relation: r.into() }
}

fn rewrite(src: &str, ns: &str, rel: &str) -> Rewrite {
    let out = opl::parse(src);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    out.namespaces
        .iter()
        .find(|n| n.name == ns)
        .and_then(|n| n.relation(rel))
        .and_then(|r| r.rewrite.clone())
        .expect("permit")
}

const BASE: &str = r#"
import { Namespace, SubjectSet, Context } from "@ory/keto-namespace-types"
// a comment
/* a block
   comment */
class User implements Namespace {}
class Group implements Namespace {
  related: {
    members: (User | SubjectSet<Group, "members">)[];
  }
}
"#;

#[test]
fn full_example_parses() {
    let src = format!(
        "{BASE}{}",
        r#"
class Folder implements Namespace {
  related: {
    parents: Folder[]
    viewers: Array<User | SubjectSet<Group, "members">>
    "scope.relation": User[],
  }
  permits = {
    view: (ctx: Context): boolean =>
      this.related.viewers.includes(ctx.subject) ||
      this.related["scope.relation"].includes(ctx.subject) ||
      this.related.parents.traverse((p) => p.permits.view(ctx)),
  }
}
"#
    );
    let out = opl::parse(&src);
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    let folder = out.namespaces.iter().find(|n| n.name == "Folder").unwrap();
    assert_eq!(folder.relations.len(), 4);
    assert_eq!(folder.relation("viewers").unwrap().types.len(), 2);
    let view = folder.relation("view").unwrap().rewrite.as_ref().unwrap();
    assert_eq!(view.operator, Operator::Or);
    assert_eq!(
        view.children,
        vec![
            cs("viewers"),
            cs("scope.relation"),
            Child::TupleToSubjectSet {
                relation: "parents".into(),
                computed_subject_set_relation: "view".into()
            },
        ]
    );
}

#[test]
fn operators_have_no_precedence_and_mixing_warns() {
    let src = format!(
        "{BASE}{}",
        r#"
class Doc implements Namespace {
  related: { a: User[], b: User[], c: User[] }
  permits = {
    mixed: (ctx) => this.related.a.includes(ctx.subject) || this.related.b.includes(ctx.subject) && this.related.c.includes(ctx.subject),
    grouped: (ctx) => this.related.a.includes(ctx.subject) || (this.related.b.includes(ctx.subject) && this.related.c.includes(ctx.subject)),
    single: (ctx) => this.permits.a(ctx),
    not: (ctx) => !this.related.a.includes(ctx.subject),
  }
}
"#
    );
    let out = opl::parse(&src);
    assert!(!out.has_errors());
    let warnings: Vec<_> = out.warnings().collect();
    assert_eq!(
        warnings.len(),
        1,
        "only the unparenthesised mix warns: {warnings:#?}"
    );
    let w = warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("no precedence"), "{}", w.message);
    // `&&` on the `mixed` line
    let line = src.lines().position(|l| l.contains("mixed:")).unwrap() as u32 + 1;
    let col = src
        .lines()
        .nth(line as usize - 1)
        .unwrap()
        .find("&&")
        .unwrap() as u32
        + 1;
    assert_eq!(w.start, pos(line, col));
    assert_eq!(w.end, pos(line, col + 2));

    let mixed = rewrite(&src, "Doc", "mixed");
    assert_eq!(
        mixed,
        Rewrite {
            operator: Operator::And,
            children: vec![
                Child::Rewrite(Rewrite {
                    operator: Operator::Or,
                    children: vec![cs("a"), cs("b")]
                }),
                cs("c"),
            ]
        },
        "a || b && c reads as (a || b) && c"
    );
    let grouped = rewrite(&src, "Doc", "grouped");
    assert_eq!(
        grouped,
        Rewrite {
            operator: Operator::Or,
            children: vec![
                cs("a"),
                Child::Rewrite(Rewrite {
                    operator: Operator::And,
                    children: vec![cs("b"), cs("c")]
                })
            ]
        }
    );
    assert_eq!(
        rewrite(&src, "Doc", "single"),
        Rewrite {
            operator: Operator::Or,
            children: vec![cs("a")]
        }
    );
    assert_eq!(
        rewrite(&src, "Doc", "not"),
        Rewrite {
            operator: Operator::Or,
            children: vec![Child::Invert(Box::new(cs("a")))]
        }
    );
}

#[test]
fn same_operator_chains_flatten() {
    let src = format!(
        "{BASE}{}",
        r#"class D implements Namespace { related: { a: User[], b: User[], c: User[] }
  permits = { p: (ctx) => (this.permits.a(ctx) || this.permits.b(ctx)) || this.permits.c(ctx) } }"#
    );
    assert_eq!(
        rewrite(&src, "D", "p"),
        Rewrite {
            operator: Operator::Or,
            children: vec![cs("a"), cs("b"), cs("c")]
        }
    );
}

#[test]
fn syntax_errors_have_positions_and_several_are_reported() {
    let src = "class A implements Namespace {\n  related: {\n    x: User\n  }\n}\nclass B implements Namespace {\n  permits = {\n    p: (ctx) => this.nope.x(ctx),\n  }\n}\n";
    let out = opl::parse(src);
    let errors: Vec<_> = out.errors().collect();
    assert!(errors.len() >= 2, "{errors:#?}");
    assert_eq!(errors[0].start, pos(4, 3), "{}", errors[0]);
    assert!(
        errors[0].message.contains("expected \"[\""),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[1].start, pos(8, 22));
    assert_eq!(errors[1].end, pos(8, 26));
    assert!(
        errors[1].message.contains("\"nope\""),
        "{}",
        errors[1].message
    );
    let shown = errors[1].to_string();
    assert!(shown.starts_with("error from 8:22 to 8:26:"), "{shown}");
    let rendered = errors[1].render(src);
    assert!(
        rendered.contains("   8 |     p: (ctx) => this.nope.x(ctx),"),
        "{rendered}"
    );
    assert!(rendered.contains("^~~~"), "{rendered}");
}

#[test]
fn lexer_errors() {
    let out = opl::parse("class A implements Namespace { $ }");
    let e = out.errors().next().unwrap();
    assert_eq!(e.message, "unexpected token '$'");
    assert_eq!(e.start, pos(1, 32));
    let out = opl::parse("class A implements Namespace {} /* never closed");
    assert_eq!(out.errors().next().unwrap().message, "unclosed comment");
    let out = opl::parse("class A implements Namespace { related: { \"x: User[] } }");
    assert!(out.errors().any(|e| e.message == "unclosed string literal"));
}

#[test]
fn type_errors_are_reported_together() {
    let src = r#"
class User implements Namespace {}
class Folder implements Namespace { related: { owners: User[] } }
class Doc implements Namespace {
  related: {
    owners: Usr[]
    groups: SubjectSet<Folder, "members">[]
    parents: Folder[]
  }
  permits = {
    view: (ctx) => this.related.viewers.includes(ctx.subject) || this.permits.edit(ctx),
    edit: (ctx) => this.related.parents.traverse(p => p.permits.view(ctx)),
  }
}
"#;
    let out = opl::parse(src);
    let msgs: Vec<String> = out.errors().map(|d| d.message.clone()).collect();
    assert_eq!(
        msgs,
        vec![
            "namespace \"Usr\" was not declared",
            "namespace \"Folder\" did not declare relation \"members\"",
            "relation \"viewers\" was not declared in namespace \"Doc\"",
            "relation \"view\" was not declared in namespace \"Folder\"",
        ],
        "{:#?}",
        out.diagnostics
    );
    let first = out.errors().next().unwrap();
    assert_eq!((first.start, first.end), (pos(6, 13), pos(6, 16)));
    match Schema::from_opl(src) {
        Err(SchemaError::Opl(d)) => assert_eq!(d.len(), 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicates_and_nesting_limit() {
    let out = opl::parse(
        "class U implements Namespace {} class U implements Namespace {} class D implements Namespace { related: { a: U[], a: U[] } }",
    );
    let msgs: Vec<String> = out.errors().map(|d| d.message.clone()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("namespace \"U\" was declared twice")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("relation \"a\" was declared twice")),
        "{msgs:?}"
    );
    let deep = format!(
        "class U implements Namespace {{}} class D implements Namespace {{ related: {{ a: U[] }} permits = {{ p: (ctx) => {}this.permits.a(ctx){} }} }}",
        "(".repeat(12),
        ")".repeat(12)
    );
    let out = opl::parse(&deep);
    assert!(
        out.errors()
            .any(|d| d.message.contains("nested too deeply")),
        "{:#?}",
        out.diagnostics
    );
}

#[test]
fn traverse_variable_must_be_reused() {
    let out = opl::parse(
        "class F implements Namespace { related: { p: F[] } permits = { v: (ctx) => this.related.p.traverse(x => y.permits.v(ctx)) } }",
    );
    assert!(
        out.errors().any(|d| d.message.contains("lambda variable")),
        "{:#?}",
        out.diagnostics
    );
}

#[test]
fn preamble_is_ignored_and_legacy_names_work() {
    let out = opl::parse(
        "import { Namespace } from '@ory/keto-namespace-types'\ntype Foo = { a: string }\nclass A implements Namespace {}",
    );
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    assert_eq!(out.namespaces.len(), 1);
    let legacy = Schema::from_names(["files", "directories"]);
    assert!(legacy.relation_for("files", "anything").unwrap().is_none());
}
