//! The Ory Permission Language (OPL): lexer, parser and type checker.
//!
//! The parser reads OPL as Keto does. In particular, `||` and `&&` have **no precedence**:
//! `a || b && c` is read strictly left to right as `(a || b) && c`. Because that differs from
//! TypeScript, an unparenthesised mix of the two operators yields a warning.
//!
//! ```
//! let out = keto_core::opl::parse(r#"
//!   import { Namespace } from "@ory/keto-namespace-types"
//!   class User implements Namespace {}
//!   class Doc implements Namespace {
//!     related: { owners: User[]; viewers: User[] }
//!     permits = { view: (ctx: Context): boolean => this.related.viewers.includes(ctx.subject) || this.permits.edit(ctx),
//!                 edit: (ctx) => this.related.owners.includes(ctx.subject) }
//!   }
//! "#);
//! assert!(!out.has_errors(), "{:?}", out.diagnostics);
//! assert_eq!(out.namespaces.len(), 2);
//! ```

mod lexer;
mod parser;
mod typecheck;

pub use parser::{MAX_EXPRESSION_DEPTH, MAX_NESTING};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::namespace::Namespace;

/// A position in the source: 1-based line and 1-based column (counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// Line, starting at 1.
    pub line: u32,
    /// Column, starting at 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file is accepted, but probably not what was meant.
    Warning,
}

/// An error or warning about an OPL source, with its span (`end` is exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// First character of the offending text.
    pub start: Position,
    /// Position just after the offending text.
    pub end: Position,
}

impl Diagnostic {
    /// Renders the diagnostic with the offending source line and a marker under the span.
    pub fn render(&self, source: &str) -> String {
        let mut s = format!("{self}\n");
        if let Some(line) = source
            .lines()
            .nth(self.start.line.saturating_sub(1) as usize)
        {
            s.push_str(&format!("{:4} | {}\n     | ", self.start.line, line));
            let from = self.start.column.saturating_sub(1) as usize;
            let to = if self.end.line == self.start.line {
                (self.end.column.saturating_sub(1) as usize).max(from + 1)
            } else {
                line.chars().count().max(from + 1)
            };
            s.push_str(&" ".repeat(from));
            s.push('^');
            s.push_str(&"~".repeat(to - from - 1));
            s.push('\n');
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{kind} from {} to {}: {}",
            self.start, self.end, self.message
        )
    }
}

/// The result of parsing an OPL source.
#[derive(Debug, Clone, Default)]
pub struct ParseOutput {
    /// The namespaces that were parsed (possibly partial when there are errors).
    pub namespaces: Vec<Namespace>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParseOutput {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
}

/// Parses and type-checks an OPL source. Syntax errors are recovered from at the next
/// permit, relation or class, so several can be reported; type checks run when the syntax is
/// clean.
///
/// Any input is accepted: nothing here panics, and nothing recurses once per input token.
/// Chains of one operator (`a || b || …`) are read into one n-ary node whatever their length;
/// parentheses and negations nest at most [`MAX_NESTING`] levels and a permit's tree is at
/// most [`MAX_EXPRESSION_DEPTH`] levels high. Input beyond a limit yields a positioned error
/// diagnostic, never a crash. Time and memory grow linearly with the input, so callers that
/// take sources from the network bound the input size.
pub fn parse(source: &str) -> ParseOutput {
    let (tokens, mut diagnostics) = lexer::lex(source);
    let mut p = parser::Parser::new(tokens);
    let (namespaces, refs) = p.parse_file();
    diagnostics.extend(p.diagnostics);
    if !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        diagnostics.extend(typecheck::check(&namespaces, &refs));
    }
    diagnostics.sort_by_key(|d| (d.start, d.end));
    ParseOutput {
        namespaces,
        diagnostics,
    }
}
