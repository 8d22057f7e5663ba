//! Recursive-descent parser producing namespaces plus the references the type checker needs.

use super::lexer::{Tok, Token};
use super::{Diagnostic, Position, Severity};
use crate::namespace::{Child, Namespace, Operator, Relation, RelationType, Rewrite};

/// Maximum nesting of parentheses and negations in one expression (Keto's limit); deeper
/// nesting is an error at the parenthesis or `!` that goes past it.
pub const MAX_NESTING: usize = 10;

/// Maximum height of one permit's expression tree: every negation, every parenthesised group
/// inside a chain and every change between `||` and `&&` in a chain adds a level. Chains of one operator are read into one
/// n-ary node, so their length does not count. The bound keeps every later walk over the tree
/// (simplification, type checking, evaluation, expansion, dropping) shallow, whatever the
/// input.
pub const MAX_EXPRESSION_DEPTH: usize = 64;

/// A source span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: Position,
    pub(crate) end: Position,
}

/// Something the type checker verifies, with where it was written.
#[derive(Debug, Clone)]
pub(crate) enum Ref {
    /// A type name in `related`.
    Type {
        namespace: String,
        relation: Option<String>,
        span: Span,
        rel_span: Span,
    },
    /// `this.related.R` / `this.permits.R`.
    Relation {
        class: String,
        relation: String,
        span: Span,
    },
    /// `this.related.R.traverse(x => x.….P…)`.
    Traverse {
        class: String,
        relation: String,
        target: String,
        target_span: Span,
    },
    /// A duplicate declaration.
    Duplicate { message: String, span: Span },
}

type PResult<T> = Result<T, Diagnostic>;

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    pub(crate) diagnostics: Vec<Diagnostic>,
    refs: Vec<Ref>,
    class: String,
    nesting: usize,
}

/// A parsed sub-expression with the height of its tree (0 for a single operand).
struct Sub {
    child: Child,
    height: usize,
}

/// Flattens nested rewrites with a single child or the same operator, as Keto does.
fn simplify_rewrite(rw: Rewrite) -> Rewrite {
    let mut children = Vec::with_capacity(rw.children.len());
    for c in rw.children {
        match simplify_child(c) {
            Child::Rewrite(inner) if inner.operator == rw.operator || inner.children.len() == 1 => {
                children.extend(inner.children)
            }
            other => children.push(other),
        }
    }
    Rewrite {
        operator: rw.operator,
        children,
    }
}

fn simplify_child(c: Child) -> Child {
    match c {
        Child::Rewrite(rw) => Child::Rewrite(simplify_rewrite(rw)),
        Child::Invert(inner) => Child::Invert(Box::new(simplify_child(*inner))),
        other => other,
    }
}

impl Parser {
    pub(crate) fn new(toks: Vec<Token>) -> Self {
        Self {
            toks,
            pos: 0,
            diagnostics: Vec::new(),
            refs: Vec::new(),
            class: String::new(),
            nesting: 0,
        }
    }

    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, t: &Token, msg: String) -> PResult<T> {
        Err(Diagnostic {
            severity: Severity::Error,
            message: msg,
            start: t.start,
            end: t.end,
        })
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(&self.peek().tok, Tok::Punct(x) if *x == p)
    }
    fn is_ident(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == s)
    }
    fn punct(&mut self, p: &str) -> PResult<Token> {
        if self.is_punct(p) {
            Ok(self.next())
        } else {
            let t = self.peek().clone();
            self.err(&t, format!("expected {p:?}, got {}", t.tok.describe()))
        }
    }
    fn keyword(&mut self, k: &str) -> PResult<Token> {
        if self.is_ident(k) {
            Ok(self.next())
        } else {
            let t = self.peek().clone();
            self.err(&t, format!("expected {k:?}, got {}", t.tok.describe()))
        }
    }
    fn opt_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.next();
            true
        } else {
            false
        }
    }
    /// An identifier or a string literal.
    fn name(&mut self) -> PResult<(String, Span)> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Ident(s) | Tok::Str(s) => {
                self.next();
                Ok((
                    s.clone(),
                    Span {
                        start: t.start,
                        end: t.end,
                    },
                ))
            }
            other => self.err(&t, format!("expected a name, got {}", other.describe())),
        }
    }
    fn ident(&mut self) -> PResult<(String, Span)> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Ident(s) => {
                self.next();
                Ok((
                    s.clone(),
                    Span {
                        start: t.start,
                        end: t.end,
                    },
                ))
            }
            other => self.err(
                &t,
                format!("expected an identifier, got {}", other.describe()),
            ),
        }
    }

    /// Skips to the next token that satisfies `stop` at bracket depth 0 (relative to here),
    /// never beyond the closing bracket of the enclosing block.
    fn recover(&mut self, stop: &[&str]) {
        let mut depth = 0i32;
        loop {
            match &self.peek().tok {
                Tok::Eof => return,
                Tok::Ident(s) if s == "class" && depth <= 0 => return,
                Tok::Punct(p) => {
                    if depth == 0 && stop.contains(p) {
                        return;
                    }
                    match *p {
                        "(" | "[" | "{" => depth += 1,
                        "}" if depth == 0 => return,
                        ")" | "]" | "}" => depth = (depth - 1).max(0),
                        _ => {}
                    }
                }
                _ => {}
            }
            self.next();
        }
    }

    pub(crate) fn parse_file(&mut self) -> (Vec<Namespace>, Vec<Ref>) {
        let mut out: Vec<Namespace> = Vec::new();
        loop {
            // Everything before a `class` keyword is skipped (imports, type declarations).
            while !self.is_ident("class") && self.peek().tok != Tok::Eof {
                self.next();
            }
            if self.peek().tok == Tok::Eof {
                break;
            }
            let start = self.pos;
            match self.class() {
                Ok(ns) => {
                    if let Some(prev) = out.iter().position(|n| n.name == ns.name) {
                        let t = &self.toks[start + 1];
                        self.refs.push(Ref::Duplicate {
                            message: format!("namespace {:?} was declared twice", ns.name),
                            span: Span {
                                start: t.start,
                                end: t.end,
                            },
                        });
                        out[prev] = ns;
                    } else {
                        out.push(ns);
                    }
                }
                Err(d) => {
                    self.diagnostics.push(d);
                    if self.pos == start {
                        self.next();
                    }
                    // Skip to the next class.
                    while !self.is_ident("class") && self.peek().tok != Tok::Eof {
                        self.next();
                    }
                }
            }
        }
        (out, std::mem::take(&mut self.refs))
    }

    fn class(&mut self) -> PResult<Namespace> {
        self.keyword("class")?;
        let (name, _) = self.ident()?;
        self.class = name.clone();
        self.keyword("implements")?;
        self.keyword("Namespace")?;
        self.punct("{")?;
        let mut ns = Namespace {
            name,
            relations: Vec::new(),
        };
        loop {
            if self.opt_punct("}") {
                return Ok(ns);
            }
            if self.opt_punct(";") {
                continue;
            }
            if self.is_ident("related") {
                self.next();
                self.punct(":")?;
                self.punct("{")?;
                self.related_block(&mut ns)?;
            } else if self.is_ident("permits") {
                self.next();
                self.punct("=")?;
                self.punct("{")?;
                self.permits_block(&mut ns)?;
            } else {
                let t = self.peek().clone();
                return self.err(
                    &t,
                    format!(
                        "expected \"related\", \"permits\" or \"}}\", got {}",
                        t.tok.describe()
                    ),
                );
            }
        }
    }

    fn add_relation(&mut self, ns: &mut Namespace, rel: Relation, span: Span) {
        if ns.relations.iter().any(|r| r.name == rel.name) {
            self.refs.push(Ref::Duplicate {
                message: format!(
                    "relation {:?} was declared twice in namespace {:?}",
                    rel.name, ns.name
                ),
                span,
            });
            return;
        }
        ns.relations.push(rel);
    }

    fn related_block(&mut self, ns: &mut Namespace) -> PResult<()> {
        loop {
            if self.opt_punct("}") {
                return Ok(());
            }
            if self.opt_punct(";") || self.opt_punct(",") {
                continue;
            }
            if self.peek().tok == Tok::Eof || self.is_ident("class") {
                let t = self.peek().clone();
                return self.err(&t, format!("expected \"}}\", got {}", t.tok.describe()));
            }
            let before = self.pos;
            match self.relation_decl() {
                Ok((rel, span)) => self.add_relation(ns, rel, span),
                Err(d) => {
                    self.diagnostics.push(d);
                    self.recover(&[";", ","]);
                    if self.pos == before {
                        self.next();
                    }
                }
            }
        }
    }

    fn relation_decl(&mut self) -> PResult<(Relation, Span)> {
        let (name, span) = self.name()?;
        self.punct(":")?;
        let mut types = Vec::new();
        if self.is_ident("Array") {
            self.next();
            self.punct("<")?;
            self.type_union(&mut types, ">")?;
            self.punct(">")?;
        } else if self.opt_punct("(") {
            self.type_union(&mut types, ")")?;
            self.punct(")")?;
            self.punct("[")?;
            self.punct("]")?;
        } else {
            self.type_term(&mut types)?;
            self.punct("[")?;
            self.punct("]")?;
        }
        Ok((
            Relation {
                name,
                types,
                rewrite: None,
            },
            span,
        ))
    }

    fn type_union(&mut self, types: &mut Vec<RelationType>, _end: &str) -> PResult<()> {
        self.type_term(types)?;
        while self.opt_punct("|") {
            self.type_term(types)?;
        }
        Ok(())
    }

    fn type_term(&mut self, types: &mut Vec<RelationType>) -> PResult<()> {
        if self.is_ident("SubjectSet") {
            self.next();
            self.punct("<")?;
            let (ns, span) = self.ident()?;
            self.punct(",")?;
            let (rel, rel_span) = self.name()?;
            self.punct(">")?;
            self.refs.push(Ref::Type {
                namespace: ns.clone(),
                relation: Some(rel.clone()),
                span,
                rel_span,
            });
            types.push(RelationType {
                namespace: ns,
                relation: Some(rel),
            });
        } else {
            let (ns, span) = self.ident()?;
            self.refs.push(Ref::Type {
                namespace: ns.clone(),
                relation: None,
                span,
                rel_span: span,
            });
            types.push(RelationType {
                namespace: ns,
                relation: None,
            });
        }
        Ok(())
    }

    fn permits_block(&mut self, ns: &mut Namespace) -> PResult<()> {
        loop {
            if self.opt_punct("}") {
                return Ok(());
            }
            if self.opt_punct(",") || self.opt_punct(";") {
                continue;
            }
            if self.peek().tok == Tok::Eof || self.is_ident("class") {
                let t = self.peek().clone();
                return self.err(&t, format!("expected \"}}\", got {}", t.tok.describe()));
            }
            let before = self.pos;
            match self.permit() {
                Ok((rel, span)) => self.add_relation(ns, rel, span),
                Err(d) => {
                    self.diagnostics.push(d);
                    self.recover(&[","]);
                    if self.pos == before {
                        self.next();
                    }
                }
            }
        }
    }

    fn permit(&mut self) -> PResult<(Relation, Span)> {
        let (name, span) = self.name()?;
        self.punct(":")?;
        self.punct("(")?;
        self.keyword("ctx")?;
        if self.opt_punct(":") {
            self.keyword("Context")?;
        }
        self.punct(")")?;
        if self.opt_punct(":") {
            self.keyword("boolean")?;
        }
        self.punct("=>")?;
        self.nesting = 0;
        let expr = self.expr()?;
        if !(self.is_punct(",") || self.is_punct("}")) {
            let t = self.peek().clone();
            return self.err(
                &t,
                format!("expected \",\" or \"}}\", got {}", t.tok.describe()),
            );
        }
        let rewrite = match expr.child {
            Child::Rewrite(rw) => simplify_rewrite(rw),
            other => simplify_rewrite(Rewrite {
                operator: Operator::Or,
                children: vec![other],
            }),
        };
        Ok((
            Relation {
                name,
                types: Vec::new(),
                rewrite: Some(rewrite),
            },
            span,
        ))
    }

    /// `Term { ("||" | "&&") Term }`, read left to right without precedence: a run of one
    /// operator becomes one n-ary node, and a change of operator wraps everything so far
    /// (`a || b && c` is `(a || b) && c`). Iterative, so a chain of any length uses constant
    /// stack; a tree higher than [`MAX_EXPRESSION_DEPTH`] is an error at the operator.
    fn expr(&mut self) -> PResult<Sub> {
        let mut root = self.term()?;
        // The operator of `root` while `root` is the node this chain is building.
        let mut open: Option<Operator> = None;
        let mut first_op: Option<(Operator, Token)> = None;
        loop {
            let op = if self.is_punct("||") {
                Operator::Or
            } else if self.is_punct("&&") {
                Operator::And
            } else {
                return Ok(root);
            };
            let tok = self.next();
            match &first_op {
                None => first_op = Some((op, tok.clone())),
                Some((first, first_tok)) if *first != op => {
                    let (a, b) = match first {
                        Operator::Or => ("||", "&&"),
                        Operator::And => ("&&", "||"),
                    };
                    self.diagnostics.push(Diagnostic {
                        severity: Severity::Warning,
                        message: format!(
                            "`{b}` follows `{a}` (at {}) without parentheses: operators have no precedence in OPL and are applied left to right, so this reads as `(… {a} …) {b} …`; add parentheses to state the intended grouping",
                            first_tok.start
                        ),
                        start: tok.start,
                        end: tok.end,
                    });
                    first_op = Some((op, tok.clone()));
                }
                _ => {}
            }
            let rhs = self.term()?;
            let height = if open == Some(op) {
                root.height.max(rhs.height + 1)
            } else {
                root.height.max(rhs.height) + 1
            };
            if height > MAX_EXPRESSION_DEPTH {
                return self.err(
                    &tok,
                    format!(
                        "expression nested too deeply (more than {MAX_EXPRESSION_DEPTH} levels of parentheses, negations and changes between `||` and `&&`)"
                    ),
                );
            }
            match (&mut root.child, open) {
                (Child::Rewrite(rw), Some(o)) if o == op => rw.children.push(rhs.child),
                _ => {
                    let prev = std::mem::replace(
                        &mut root.child,
                        Child::Rewrite(Rewrite {
                            operator: op,
                            children: Vec::with_capacity(2),
                        }),
                    );
                    if let Child::Rewrite(rw) = &mut root.child {
                        rw.children.push(prev);
                        rw.children.push(rhs.child);
                    }
                    open = Some(op);
                }
            }
            root.height = height;
        }
    }

    fn nest(&mut self, t: &Token) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.err(
                t,
                format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
            );
        }
        Ok(())
    }

    fn term(&mut self) -> PResult<Sub> {
        if self.is_punct("(") {
            let t = self.next();
            self.nest(&t)?;
            let e = self.expr()?;
            self.punct(")")?;
            self.nesting -= 1;
            return Ok(e);
        }
        if self.is_punct("!") {
            let t = self.next();
            self.nest(&t)?;
            let inner = if self.is_punct("(") {
                self.next();
                let e = self.expr()?;
                self.punct(")")?;
                e
            } else {
                Sub {
                    child: self.atom()?,
                    height: 0,
                }
            };
            self.nesting -= 1;
            if inner.height >= MAX_EXPRESSION_DEPTH {
                return self.err(
                    &t,
                    format!(
                        "expression nested too deeply (more than {MAX_EXPRESSION_DEPTH} levels of parentheses, negations and changes between `||` and `&&`)"
                    ),
                );
            }
            return Ok(Sub {
                child: Child::Invert(Box::new(inner.child)),
                height: inner.height + 1,
            });
        }
        Ok(Sub {
            child: self.atom()?,
            height: 0,
        })
    }

    /// `.Name` or `["Name"]`.
    fn prop(&mut self) -> PResult<(String, Span)> {
        if self.opt_punct("[") {
            let n = self.name()?;
            self.punct("]")?;
            Ok(n)
        } else {
            self.punct(".")?;
            self.name()
        }
    }

    fn ctx_subject(&mut self) -> PResult<()> {
        self.punct("(")?;
        self.keyword("ctx")?;
        self.punct(".")?;
        self.keyword("subject")?;
        self.opt_punct(",");
        self.punct(")")?;
        Ok(())
    }

    fn atom(&mut self) -> PResult<Child> {
        self.keyword("this")?;
        self.punct(".")?;
        if self.is_ident("permits") {
            self.next();
            let (rel, span) = self.prop()?;
            self.punct("(")?;
            self.keyword("ctx")?;
            self.punct(")")?;
            self.refs.push(Ref::Relation {
                class: self.class.clone(),
                relation: rel.clone(),
                span,
            });
            return Ok(Child::ComputedSubjectSet { relation: rel });
        }
        self.keyword("related")?;
        let (rel, span) = self.prop()?;
        self.punct(".")?;
        if self.is_ident("includes") {
            self.next();
            self.ctx_subject()?;
            self.refs.push(Ref::Relation {
                class: self.class.clone(),
                relation: rel.clone(),
                span,
            });
            return Ok(Child::ComputedSubjectSet { relation: rel });
        }
        if !self.is_ident("traverse") {
            let t = self.peek().clone();
            return self.err(
                &t,
                format!(
                    "expected \"includes\" or \"traverse\", got {}",
                    t.tok.describe()
                ),
            );
        }
        self.next();
        self.punct("(")?;
        let var = if self.opt_punct("(") {
            let v = self.ident()?.0;
            self.punct(")")?;
            v
        } else {
            self.ident()?.0
        };
        self.punct("=>")?;
        let used = self.peek().clone();
        let (v2, _) = self.ident()?;
        if v2 != var {
            return self.err(
                &used,
                format!("expected the lambda variable {var:?}, got {v2:?}"),
            );
        }
        self.punct(".")?;
        let target = if self.is_ident("related") {
            self.next();
            let t = self.prop()?;
            self.punct(".")?;
            self.keyword("includes")?;
            self.ctx_subject()?;
            t
        } else if self.is_ident("permits") {
            self.next();
            let t = self.prop()?;
            self.punct("(")?;
            self.keyword("ctx")?;
            self.punct(")")?;
            t
        } else {
            let t = self.peek().clone();
            return self.err(
                &t,
                format!(
                    "expected \"related\" or \"permits\", got {}",
                    t.tok.describe()
                ),
            );
        };
        self.opt_punct(",");
        self.punct(")")?;
        self.refs.push(Ref::Relation {
            class: self.class.clone(),
            relation: rel.clone(),
            span,
        });
        self.refs.push(Ref::Traverse {
            class: self.class.clone(),
            relation: rel.clone(),
            target: target.0.clone(),
            target_span: target.1,
        });
        Ok(Child::TupleToSubjectSet {
            relation: rel,
            computed_subject_set_relation: target.0,
        })
    }
}
