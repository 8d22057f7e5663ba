//! Tokens of OPL.

use super::{Diagnostic, Position, Severity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Punct(&'static str),
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Punct(p) => format!("{p:?}"),
            Tok::Eof => "end of input".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: Position,
    pub(crate) end: Position,
}

const TWO: [&str; 3] = ["=>", "||", "&&"];
const ONE: [&str; 15] = [
    ":", ".", "(", ")", "[", "]", "{", "}", "<", ">", "=", ",", ";", "|", "!",
];

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Position,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        // Saturating: positions of absurdly long inputs stop counting instead of wrapping.
        if c == '\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.column = 1;
        } else {
            self.pos.column = self.pos.column.saturating_add(1);
        }
        Some(c)
    }
}

pub(crate) fn lex(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut c = Cursor {
        chars: src.chars().peekable(),
        pos: Position { line: 1, column: 1 },
    };
    let mut toks = Vec::new();
    let mut diags = Vec::new();
    let rest_starts = |src: &str, off: usize, p: &str| src[off..].starts_with(p);
    let mut offset = 0usize;
    // Track the byte offset alongside the cursor for two-character lookahead.
    while let Some(ch) = c.peek() {
        let start = c.pos;
        if ch.is_whitespace() {
            c.bump();
            offset += ch.len_utf8();
            continue;
        }
        if rest_starts(src, offset, "//") {
            while let Some(ch) = c.peek() {
                if ch == '\n' {
                    break;
                }
                c.bump();
                offset += ch.len_utf8();
            }
            continue;
        }
        if rest_starts(src, offset, "/*") {
            c.bump();
            c.bump();
            offset += 2;
            let mut closed = false;
            while let Some(ch) = c.bump() {
                offset += ch.len_utf8();
                if ch == '*' && c.peek() == Some('/') {
                    c.bump();
                    offset += 1;
                    closed = true;
                    break;
                }
            }
            if !closed {
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    message: "unclosed comment".to_owned(),
                    start,
                    end: c.pos,
                });
            }
            continue;
        }
        if ch.is_ascii_alphabetic() || ch == '_' {
            let mut s = String::new();
            while let Some(ch) = c.peek() {
                if ch.is_ascii_alphanumeric() || ch == '_' {
                    s.push(ch);
                    c.bump();
                    offset += 1;
                } else {
                    break;
                }
            }
            toks.push(Token {
                tok: Tok::Ident(s),
                start,
                end: c.pos,
            });
            continue;
        }
        if ch == '"' || ch == '\'' {
            c.bump();
            offset += 1;
            let mut s = String::new();
            let mut closed = false;
            while let Some(x) = c.bump() {
                offset += x.len_utf8();
                if x == ch {
                    closed = true;
                    break;
                }
                s.push(x);
            }
            if !closed {
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    message: "unclosed string literal".to_owned(),
                    start,
                    end: c.pos,
                });
            }
            toks.push(Token {
                tok: Tok::Str(s),
                start,
                end: c.pos,
            });
            continue;
        }
        if let Some(p) = TWO.iter().find(|p| rest_starts(src, offset, p)) {
            c.bump();
            c.bump();
            offset += 2;
            toks.push(Token {
                tok: Tok::Punct(p),
                start,
                end: c.pos,
            });
            continue;
        }
        if let Some(p) = ONE.iter().find(|p| rest_starts(src, offset, p)) {
            c.bump();
            offset += 1;
            toks.push(Token {
                tok: Tok::Punct(p),
                start,
                end: c.pos,
            });
            continue;
        }
        c.bump();
        offset += ch.len_utf8();
        diags.push(Diagnostic {
            severity: Severity::Error,
            message: format!("unexpected token {ch:?}"),
            start,
            end: c.pos,
        });
    }
    toks.push(Token {
        tok: Tok::Eof,
        start: c.pos,
        end: c.pos,
    });
    (toks, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_positions() {
        let (t, d) = lex("class A /* x */ {\n  a: 'q'; // c\n || => $");
        let kinds: Vec<_> = t.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(kinds[0], Tok::Ident("class".into()));
        assert_eq!(kinds[2], Tok::Punct("{"));
        assert_eq!(kinds[5], Tok::Str("q".into()));
        assert_eq!(kinds[7], Tok::Punct("||"));
        assert_eq!(kinds[8], Tok::Punct("=>"));
        assert_eq!(t[3].start, Position { line: 2, column: 3 });
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].start, Position { line: 3, column: 8 });
        let (_, d) = lex("/* open");
        assert_eq!(d[0].message, "unclosed comment");
    }
}
