//! SQL text built with its values. Statements are written once, with PostgreSQL's `$N`
//! placeholders and standard `"double-quoted"` identifiers, and rewritten for SQLite
//! ([`sqlite_parameters`]) and MySQL/MariaDB ([`mysql_parameters`]).

use sea_orm::{DatabaseBackend, Statement, Value};
use uuid::Uuid;

/// A statement under construction: SQL text plus its positional values (`$1`, `$2`, …,
/// which both SQLite and PostgreSQL accept; `$1` is always the tenant).
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) values: Vec<Value>,
}

impl Sql {
    /// A statement of tenant `nid` (`$1`).
    pub(crate) fn new(nid: Uuid) -> Self {
        Self {
            text: String::with_capacity(512),
            values: vec![Value::from(nid)],
        }
    }
    /// Binds a value and returns its placeholder.
    pub(crate) fn bind(&mut self, v: Value) -> String {
        self.values.push(v);
        format!("${}", self.values.len())
    }
    /// Appends text.
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    /// Binds a value and appends its placeholder.
    pub(crate) fn param(&mut self, v: impl Into<Value>) -> &mut Self {
        let placeholder = self.bind(v.into());
        self.push(&placeholder)
    }
    /// Appends the tenant's placeholder.
    pub(crate) fn tenant(&mut self) -> &mut Self {
        self.push("$1")
    }
    /// The statement for `backend`: as written on PostgreSQL, through [`sqlite_parameters`]
    /// on SQLite.
    pub(crate) fn statement(self, backend: DatabaseBackend) -> Statement {
        statement(backend, self.text, self.values)
    }
}

/// A statement written with `$N` placeholders, for `backend` (see [`sqlite_parameters`] and
/// [`mysql_parameters`]).
pub(crate) fn statement(
    backend: DatabaseBackend,
    text: impl Into<String>,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let values: Vec<Value> = values.into_iter().collect();
    match backend {
        DatabaseBackend::Sqlite => {
            let (text, values) = sqlite_parameters(&text.into(), &values);
            Statement::from_sql_and_values(backend, text, values)
        }
        DatabaseBackend::MySql => {
            let (text, values) = mysql_parameters(&text.into(), &values);
            Statement::from_sql_and_values(backend, text, values)
        }
        _ => Statement::from_sql_and_values(backend, text, values),
    }
}

/// The type a statement casts an integer to: `BIGINT`, `SIGNED` on MySQL (whose `CAST` knows
/// no `BIGINT`).
pub(crate) fn bigint(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::MySql => "SIGNED",
        _ => "BIGINT",
    }
}

/// The type a statement casts text to: `TEXT`, `CHAR` on MySQL (whose `CAST` knows no `TEXT`).
pub(crate) fn text_type(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::MySql => "CHAR",
        _ => "TEXT",
    }
}

/// Rewrites a statement for MySQL and MariaDB: every parameter `$N` becomes `?`, with the
/// values in the order of their uses, and every `"identifier"` becomes `` `identifier` ``
/// (MySQL quotes identifiers with backticks unless `ANSI_QUOTES` is set; `key` is reserved).
/// Text inside `'single quotes'` is left as written.
pub(crate) fn mysql_parameters(sql: &str, values: &[Value]) -> (String, Vec<Value>) {
    let mut text = String::with_capacity(sql.len());
    let mut out = Vec::with_capacity(values.len() + 4);
    let mut quoted = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if quoted {
            text.push(c);
            continue;
        }
        if c == '"' {
            text.push('`');
            continue;
        }
        let digits = sql[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if c != '$' || digits == 0 {
            text.push(c);
            continue;
        }
        let n: usize = sql[at + 1..at + 1 + digits].parse().unwrap_or(0);
        match n.checked_sub(1).and_then(|i| values.get(i)) {
            Some(v) => out.push(v.clone()),
            // Not a parameter of this statement: leave it for the server to reject.
            None => {
                text.push(c);
                continue;
            }
        }
        text.push('?');
        for _ in 0..digits {
            chars.next();
        }
    }
    (text, out)
}

/// Rewrites every parameter `$N` as `+?`, with the values in the order of their uses.
///
/// - Anonymous: sqlx maps a named SQLite parameter to its argument through
///   `sqlite3_bind_parameter_name`, a linear search per parameter, so binding a statement
///   of n named parameters costs n² (a 1,000-key lookup or a 1,000-row insert paid
///   milliseconds for it); anonymous parameters bind in order.
/// - Behind a unary plus (SQLite's no-op): SQLite built with `SQLITE_ENABLE_STAT4` (as the
///   bundled library is) plans a comparison of an indexed column with a bare parameter by
///   that parameter's value once `ANALYZE` has run, and then prepares the statement again
///   on every bind. Behind the plus the planner does not look at the value; the indexes are
///   used as before.
pub(crate) fn sqlite_parameters(sql: &str, values: &[Value]) -> (String, Vec<Value>) {
    let mut text = String::with_capacity(sql.len() + sql.len() / 8);
    let mut out = Vec::with_capacity(values.len() + 4);
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let digits = sql[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if c != '$' || digits == 0 {
            text.push(c);
            continue;
        }
        let n: usize = sql[at + 1..at + 1 + digits].parse().unwrap_or(0);
        match n.checked_sub(1).and_then(|i| values.get(i)) {
            Some(v) => out.push(v.clone()),
            // Not a parameter of this statement: leave it for SQLite to reject.
            None => {
                text.push(c);
                continue;
            }
        }
        if !text.ends_with('+') {
            text.push('+');
        }
        text.push('?');
        for _ in 0..digits {
            chars.next();
        }
    }
    (text, out)
}

#[cfg(test)]
mod tests {
    use super::{mysql_parameters, sqlite_parameters};
    use sea_orm::Value;

    #[test]
    fn sqlite_parameters_are_anonymous_in_order_of_use() {
        let v = |i: i64| Value::BigInt(Some(i));
        let (text, values) = sqlite_parameters(
            "SELECT 1 FROM t WHERE t.nid = $1 AND x IN ($2, $3) AND y = $1 LIMIT $3",
            &[v(10), v(20), v(30)],
        );
        assert_eq!(
            text,
            "SELECT 1 FROM t WHERE t.nid = +? AND x IN (+?, +?) AND y = +? LIMIT +?"
        );
        assert_eq!(values, vec![v(10), v(20), v(30), v(10), v(30)]);
        let (text, values) = sqlite_parameters("VALUES (+$1, $12)", &[v(1)]);
        assert_eq!(
            text, "VALUES (+?, $12)",
            "an unknown parameter is left as written"
        );
        assert_eq!(values, vec![v(1)]);
    }

    #[test]
    fn mysql_parameters_are_positional_and_identifiers_backquoted() {
        let v = |i: i64| Value::BigInt(Some(i));
        let (text, values) = mysql_parameters(
            "SELECT \"key\" FROM t WHERE nid = $2 AND x = '$1 \"a\"' AND y IN ($1, $2)",
            &[v(10), v(20)],
        );
        assert_eq!(
            text,
            "SELECT `key` FROM t WHERE nid = ? AND x = '$1 \"a\"' AND y IN (?, ?)"
        );
        assert_eq!(values, vec![v(20), v(10), v(20)]);
    }
}
