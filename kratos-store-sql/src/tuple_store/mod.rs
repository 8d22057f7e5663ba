//! keto-core's `TupleStore` over sea-orm: one code path (and the same SQL text) for SQLite
//! and PostgreSQL.
//!
//! Batched lookups are one statement whatever the number of keys: the keys travel as a
//! `VALUES` list in a common table expression, joined to the tuple table through its
//! indexes, one probe per key whatever the planner knows (see `join_tuples`: with an inner
//! join and `ANALYZE` statistics SQLite builds a Bloom filter over the whole tuple table on
//! every call, and PostgreSQL without statistics may hash all of a tenant's tuples). A key without a match comes back as one row of NULLs,
//! which is skipped. The lists are padded with NULL keys (which match nothing) to a few fixed
//! sizes, so the statement texts stay few and the drivers' prepared-statement caches keep
//! hitting. Only a part of more than [`MAX_KEYS`] keys is split into several statements,
//! which then run in one read transaction.
//!
//! Writes run in one transaction that first bumps the tenant's row in `keto_versions`
//! (which also serialises writers of one tenant on PostgreSQL), checks the preconditions,
//! inserts (`ON CONFLICT DO NOTHING`: tuples form a set) and deletes.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use keto_core::store::{
    ExpandedNode, LevelRequest, LevelResponse, ObjectKey, PageRequest, Precondition, SubjectKey,
    Transaction, TuplePage, TupleStore, Version,
};
use keto_core::{RelationQuery, RelationTuple, StoreError, Subject, SubjectSet};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DbErr, IsolationLevel, QueryResult, SqlErr,
    TransactionTrait, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::sql::{Sql, bigint, statement};
use walk::{Walk, WalkRows, select_walk, with_walk};

mod walk;

/// Keys of one part per statement; larger parts are split.
const MAX_KEYS: usize = 1024;
/// Distinct subjects of exact-tuple lookups that get a part each; more share two parts.
const MAX_SUBJECT_PARTS: usize = 4;
/// Rows per multi-row INSERT (7 parameters each).
const INSERT_CHUNK: usize = 1000;
/// Prefix of the page tokens this store issues.
const TOKEN_PREFIX: &str = "s1.";

/// Columns every batched lookup selects: part, key index, then the tuple.
const TUPLE_COLS: &str = "t.seq AS seq, t.namespace, t.object, t.relation, t.subject_id, \
     t.subject_set_namespace, t.subject_set_object, t.subject_set_relation";
/// The same shape for lookups that only need to know that a row exists.
const NO_TUPLE_COLS: &str = "t.seq AS seq, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
     CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
     CAST(NULL AS TEXT)";
/// [`NO_TUPLE_COLS`] on MySQL, whose `CAST` knows no `TEXT`.
const MYSQL_NO_TUPLE_COLS: &str = "t.seq AS seq, CAST(NULL AS CHAR), CAST(NULL AS CHAR), \
     CAST(NULL AS CHAR), CAST(NULL AS CHAR), CAST(NULL AS CHAR), CAST(NULL AS CHAR), \
     CAST(NULL AS CHAR)";

/// A key list's rows, `VALUES (…), (…)`, or on MySQL (whose `VALUES` rows are `ROW(…)` and
/// MariaDB's are not) `SELECT …, … UNION ALL SELECT …`: `rows` are the rows' values, already
/// bound and separated by commas.
fn rows_of(backend: DatabaseBackend, rows: &[String]) -> String {
    match backend {
        DatabaseBackend::MySql => rows
            .iter()
            .map(|r| format!("SELECT {r}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL "),
        _ => {
            let rows: Vec<String> = rows.iter().map(|r| format!("({r})")).collect();
            format!("VALUES {}", rows.join(", "))
        }
    }
}

/// Maps a database error to keto-core's portable kinds.
fn db_err(e: DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            StoreError::Conflict("the tuple store changed concurrently".into())
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            StoreError::Conflict("a referenced row is missing".into())
        }
        _ => match e {
            DbErr::RecordNotFound(what) => StoreError::NotFound(what),
            other => StoreError::backend(other),
        },
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::backend(format!("stored relation tuple is not valid: {what}"))
}

fn text(s: &str) -> Value {
    Value::String(Some(s.to_owned()))
}

fn null_text() -> Value {
    Value::String(None)
}

/// The padded size of a key list: exact up to 4, then powers of two.
fn bucket(n: usize) -> usize {
    if n <= 4 { n } else { n.next_power_of_two() }
}

/// One part of a batched lookup: a list of keys and how a key matches a tuple row.
struct Part {
    /// Key columns (after the key index `i`).
    cols: &'static [&'static str],
    /// The keys, each `cols.len()` values.
    keys: Vec<Vec<Value>>,
    /// The join condition; `k.` is the key, `t.` the tuple.
    cond: &'static str,
    /// Whether the tuple columns are needed (or only the existence of a row).
    tuple: bool,
    /// Values shared by every key, bound once and named `{c0}`, `{c1}`, … in `cond`.
    consts: Vec<Value>,
}

impl Part {
    fn new(
        cols: &'static [&'static str],
        cond: &'static str,
        tuple: bool,
        keys: Vec<Vec<Value>>,
    ) -> Self {
        Self {
            cols,
            keys,
            cond,
            tuple,
            consts: Vec::new(),
        }
    }

    fn with_consts(mut self, consts: Vec<Value>) -> Self {
        self.consts = consts;
        self
    }
}

/// Appends `WITH kN(i, …) AS (VALUES …), …` for the given key slices of `parts` (the
/// keyword `WITH RECURSIVE` when walks follow); returns whether nothing was written.
fn with_keys(
    sql: &mut Sql,
    parts: &[(usize, &Part, &[Vec<Value>])],
    recursive: bool,
    backend: DatabaseBackend,
) -> bool {
    let mut first = true;
    for (n, part, keys) in parts {
        if keys.is_empty() {
            continue;
        }
        sql.push(match (first, recursive) {
            (true, true) => "WITH RECURSIVE ",
            (true, false) => "WITH ",
            (false, _) => ", ",
        });
        first = false;
        let mut head = format!("k{n}(i");
        for c in part.cols {
            head.push_str(", ");
            head.push_str(c);
        }
        head.push_str(") AS (");
        sql.push(&head);
        let padded = bucket(keys.len());
        let mut rows = Vec::with_capacity(padded);
        for r in 0..padded {
            let mut row = format!("{r}");
            for c in 0..part.cols.len() {
                let v = keys.get(r).map_or_else(null_text, |k| k[c].clone());
                row.push_str(", ");
                row.push_str(&sql.bind(v));
            }
            rows.push(row);
        }
        sql.push(&rows_of(backend, &rows));
        sql.push(")");
    }
    first
}

/// How a lookup joins the tuple table `t` (of tenant `$1`) to the rows before it: `left`
/// keeps a row without a match (as NULLs), `cond` names the tuple as `t.`.
///
/// The join must probe an index once per row before it, whatever the planner knows. SQLite
/// keeps the written order for `LEFT JOIN` and `CROSS JOIN`. PostgreSQL without statistics
/// (a fresh or just-loaded table before autovacuum analysed it) may otherwise read every
/// subject-set tuple of the tenant through a partial index and hash them, so there the tuple
/// side is a `LATERAL` subquery that cannot be pulled up (`OFFSET 0`): an index scan per row.
fn join_tuples(backend: DatabaseBackend, left: bool, cond: &str) -> String {
    match (backend, left) {
        // MySQL: MariaDB has no `LATERAL`; both probe the index per row before.
        (DatabaseBackend::Sqlite | DatabaseBackend::MySql, true) => {
            format!("LEFT JOIN keto_relation_tuples t ON t.nid = $1 AND {cond}")
        }
        (DatabaseBackend::Sqlite | DatabaseBackend::MySql, false) => {
            format!("CROSS JOIN keto_relation_tuples t ON t.nid = $1 AND {cond}")
        }
        (_, left) => format!(
            "{} LATERAL (SELECT * FROM keto_relation_tuples t WHERE t.nid = $1 AND {cond} \
             OFFSET 0) t{}",
            if left { "LEFT JOIN" } else { "CROSS JOIN" },
            if left { " ON TRUE" } else { "" }
        ),
    }
}

/// Appends the `SELECT … UNION ALL SELECT …` over the key lists written by [`with_keys`];
/// returns whether nothing was written.
fn select_keys(
    sql: &mut Sql,
    parts: &[(usize, &Part, &[Vec<Value>])],
    backend: DatabaseBackend,
) -> bool {
    let mut first = true;
    for (n, part, keys) in parts {
        if keys.is_empty() {
            continue;
        }
        if !first {
            sql.push(" UNION ALL ");
        }
        first = false;
        let mut cond = part.cond.replace("k.", &format!("k{n}."));
        for (c, v) in part.consts.iter().enumerate() {
            let p = sql.bind(v.clone());
            cond = cond.replace(&format!("{{c{c}}}"), &p);
        }
        let cols = match (part.tuple, backend) {
            (true, _) => TUPLE_COLS,
            (false, DatabaseBackend::MySql) => MYSQL_NO_TUPLE_COLS,
            (false, _) => NO_TUPLE_COLS,
        };
        let bigint = bigint(backend);
        let _ = write!(
            sql.text,
            "SELECT CAST({n} AS {bigint}), CAST(k{n}.i AS {bigint}), {cols} \
             FROM k{n} {}",
            join_tuples(backend, true, &cond)
        );
    }
    first
}

/// One result row of a batched lookup.
struct Hit {
    part: usize,
    key: usize,
    seq: i64,
    tuple: Option<RelationTuple>,
}

/// A result row of a lookup: a database row, or one element of the JSON array SQLite
/// answers with (see [`SqlStore::lookup`]).
pub(super) trait LookupRow {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
}

impl LookupRow for QueryResult {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.try_get_by_index::<Option<i64>>(i).map_err(db_err)
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get_by_index::<Option<String>>(i).map_err(db_err)
    }
}

impl LookupRow for Vec<serde_json::Value> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i) {
            Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| corrupt("a non-integer column")),
            None => Err(corrupt("a short row")),
        }
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i) {
            Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(v)) => Ok(Some(v.clone())),
            _ => Err(corrupt("a non-text column")),
        }
    }
}

fn tuple_at(row: &(impl LookupRow + ?Sized), at: usize) -> Result<RelationTuple, StoreError> {
    let get = |i: usize| row.text(at + i);
    let (Some(ns), Some(obj), Some(rel)) = (get(0)?, get(1)?, get(2)?) else {
        return Err(corrupt("missing namespace, object or relation"));
    };
    let subject = match (get(3)?, get(4)?, get(5)?, get(6)?) {
        (Some(id), None, None, None) => Subject::Id(id),
        (None, Some(n), Some(o), Some(r)) => Subject::Set(SubjectSet::new(n, o, r)),
        _ => return Err(corrupt("not exactly one subject kind")),
    };
    Ok(RelationTuple::new(ns, obj, rel, subject))
}

fn hit(
    row: &(impl LookupRow + ?Sized),
    with_tuple: impl Fn(usize) -> bool,
) -> Result<Option<Hit>, StoreError> {
    let part = row.int(0)?.ok_or_else(|| corrupt("no part"))? as usize;
    let key = row.int(1)?.ok_or_else(|| corrupt("no key"))? as usize;
    // A key without a match comes back once with NULL tuple columns (LEFT JOIN).
    let Some(seq) = row.int(2)? else {
        return Ok(None);
    };
    if !with_tuple(part) {
        return Ok(Some(Hit {
            part,
            key,
            seq,
            tuple: None,
        }));
    }
    Ok(Some(Hit {
        part,
        key,
        seq,
        tuple: Some(tuple_at(row, 3)?),
    }))
}

impl SqlStore {
    fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Runs the parts and the walks as one statement (or, beyond [`MAX_KEYS`] keys in a
    /// part, several in one read transaction; the walks go into the first) and returns every
    /// hit and the walked nodes.
    async fn lookup(
        &self,
        nid: Uuid,
        parts: &[Part],
        walks: &[Walk<'_>],
    ) -> Result<(Vec<Hit>, Vec<ExpandedNode>), StoreError> {
        let backend = self.backend();
        let rounds = parts
            .iter()
            .map(|p| p.keys.len().div_ceil(MAX_KEYS))
            .max()
            .unwrap_or(0)
            .max(usize::from(!walks.is_empty()));
        let statement = |round: usize| {
            let slices: Vec<(usize, &Part, &[Vec<Value>])> = parts
                .iter()
                .enumerate()
                .map(|(n, p)| {
                    let lo = (round * MAX_KEYS).min(p.keys.len());
                    let hi = ((round + 1) * MAX_KEYS).min(p.keys.len());
                    (n, p, &p.keys[lo..hi])
                })
                .collect();
            let walks = if round == 0 { walks } else { &[] };
            let mut sql = Sql::new(nid);
            let mut first = with_keys(&mut sql, &slices, !walks.is_empty(), backend);
            for (g, w) in walks.iter().enumerate() {
                sql.push(if first { "WITH RECURSIVE " } else { ", " });
                first = false;
                with_walk(&mut sql, g, w, backend);
            }
            let selects_at = sql.text.len();
            sql.push(" ");
            let mut first_select = select_keys(&mut sql, &slices, backend);
            for (g, w) in walks.iter().enumerate() {
                if !first_select {
                    sql.push(" UNION ALL ");
                }
                first_select = false;
                select_walk(&mut sql, g, w, parts.len() + 2 * g, backend);
            }
            if backend == DatabaseBackend::Sqlite {
                // sqlx hands SQLite rows over from its worker thread one at a time (a thread
                // wake-up each); one row carrying them all as JSON costs one hand-over.
                let selects = sql.text.split_off(selects_at);
                sql.push(if first { "WITH " } else { ", " });
                let _ = write!(
                    sql.text,
                    "u(p, k, seq, ns, obj, rel, sid, sns, sobj, srel) AS ({selects}) \
                     SELECT json_group_array(json_array(p, k, seq, ns, obj, rel, sid, sns, \
                     sobj, srel)) FROM u"
                );
            }
            (
                sql,
                slices
                    .iter()
                    .map(|(_, _, k)| (round * MAX_KEYS, k.len()))
                    .collect::<Vec<_>>(),
            )
        };
        let tuple_parts: Vec<bool> = parts.iter().map(|p| p.tuple).collect();
        let mut out = Vec::new();
        let mut walked = WalkRows::default();
        let mut take = |row: &dyn LookupRow, offsets: &[(usize, usize)]| {
            let part = row.int(0)?.ok_or_else(|| corrupt("no part"))? as usize;
            if part >= parts.len() {
                return walked.take(part - parts.len(), row);
            }
            let Some(mut h) = hit(row, |p| tuple_parts.get(p).copied().unwrap_or(false))? else {
                return Ok(());
            };
            let Some(&(base, len)) = offsets.get(h.part) else {
                return Err(corrupt("unknown part"));
            };
            if h.key < len {
                h.key += base;
                out.push(h);
            }
            Ok::<(), StoreError>(())
        };
        let mut collect = |rows: Vec<QueryResult>, offsets: &[(usize, usize)]| {
            if backend != DatabaseBackend::Sqlite {
                return rows.iter().try_for_each(|row| take(row, offsets));
            }
            for row in rows {
                let json = row.text(0)?.unwrap_or_default();
                let all: Vec<Vec<serde_json::Value>> = serde_json::from_str(&json)
                    .map_err(|_| corrupt("the lookup's JSON answer does not parse"))?;
                for r in &all {
                    take(r, offsets)?;
                }
            }
            Ok::<(), StoreError>(())
        };
        match rounds {
            0 => {}
            1 => {
                let (sql, offsets) = statement(0);
                let rows = self
                    .db
                    .query_all_raw(sql.statement(backend))
                    .await
                    .map_err(db_err)?;
                collect(rows, &offsets)?;
            }
            _ => {
                let (iso, mode) = match backend {
                    DatabaseBackend::Postgres | DatabaseBackend::MySql => (
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    ),
                    _ => (None, None),
                };
                let txn = self.db.begin_with_config(iso, mode).await.map_err(db_err)?;
                for round in 0..rounds {
                    let (sql, offsets) = statement(round);
                    let rows = txn
                        .query_all_raw(sql.statement(backend))
                        .await
                        .map_err(db_err)?;
                    collect(rows, &offsets)?;
                }
                txn.commit().await.map_err(db_err)?;
            }
        }
        Ok((out, walked.finish(walks)))
    }

    /// Bumps and returns the tenant's version inside a write transaction.
    async fn bump_version<C: ConnectionTrait>(
        &self,
        db: &C,
        nid: Uuid,
    ) -> Result<Version, StoreError> {
        let backend = self.backend();
        let row = if backend == DatabaseBackend::MySql {
            // No `RETURNING`: the upsert locks the row, the read in its transaction sees it.
            db.execute_raw(statement(
                backend,
                "INSERT INTO keto_versions (nid, version) VALUES ($1, 1) \
                 ON DUPLICATE KEY UPDATE version = version + 1",
                [Value::from(nid)],
            ))
            .await
            .map_err(db_err)?;
            db.query_one_raw(statement(
                backend,
                "SELECT version FROM keto_versions WHERE nid = $1",
                [Value::from(nid)],
            ))
            .await
        } else {
            db.query_one_raw(statement(
                backend,
                "INSERT INTO keto_versions (nid, version) VALUES ($1, 1) \
                 ON CONFLICT (nid) DO UPDATE SET version = keto_versions.version + 1 \
                 RETURNING version",
                [Value::from(nid)],
            ))
            .await
        }
        .map_err(db_err)?
        .ok_or_else(|| StoreError::backend("the version upsert returned no row"))?;
        let v: i64 = row.try_get_by_index(0).map_err(db_err)?;
        Ok(v as Version)
    }
}

/// Appends ` AND …` conditions for a filter on the tuple alias `t`.
fn filter(sql: &mut Sql, q: &RelationQuery) {
    for (col, v) in [
        ("namespace", &q.namespace),
        ("object", &q.object),
        ("relation", &q.relation),
    ] {
        if let Some(v) = v {
            let p = sql.bind(text(v));
            let _ = write!(sql.text, " AND t.{col} = {p}");
        }
    }
    match &q.subject {
        None => {}
        Some(Subject::Id(id)) => {
            let p = sql.bind(text(id));
            let _ = write!(sql.text, " AND t.subject_id = {p}");
        }
        Some(Subject::Set(s)) => {
            let a = sql.bind(text(&s.namespace));
            let b = sql.bind(text(&s.object));
            let c = sql.bind(text(&s.relation));
            let _ = write!(
                sql.text,
                " AND t.subject_id IS NULL AND t.subject_set_namespace = {a} \
                 AND t.subject_set_object = {b} AND t.subject_set_relation = {c}"
            );
        }
    }
}

const KEY3: &[&str] = &["ns", "obj", "rel"];
const EXISTS_ID_COLS: &[&str] = &["ns", "obj", "rel", "sid"];
const EXISTS_ID_COND: &str = "t.subject_id = k.sid AND t.namespace = k.ns \
     AND t.object = k.obj AND t.relation = k.rel";
const EXISTS_ID_CONST: &str = "t.subject_id = {c0} AND t.namespace = k.ns \
     AND t.object = k.obj AND t.relation = k.rel";
const EXISTS_SET_CONST: &str = "t.subject_id IS NULL AND t.subject_set_namespace = {c0} \
     AND t.subject_set_object = {c1} AND t.subject_set_relation = {c2} \
     AND t.namespace = k.ns AND t.object = k.obj AND t.relation = k.rel";
const EXISTS_SET_COLS: &[&str] = &["ns", "obj", "rel", "sns", "sobj", "srel"];
const EXISTS_SET_COND: &str = "t.subject_id IS NULL AND t.subject_set_namespace = k.sns \
     AND t.subject_set_object = k.sobj AND t.subject_set_relation = k.srel \
     AND t.namespace = k.ns AND t.object = k.obj AND t.relation = k.rel";

/// The two exact-tuple parts (subject ids, subject sets) for `tuples`, with the index of
/// each key in `tuples`.
fn exact_parts(tuples: &[RelationTuple], tuple: bool) -> (Part, Vec<usize>, Part, Vec<usize>) {
    let mut ids = Vec::new();
    let mut id_at = Vec::new();
    let mut sets = Vec::new();
    let mut set_at = Vec::new();
    for (i, t) in tuples.iter().enumerate() {
        match &t.subject {
            Subject::Id(id) => {
                ids.push(vec![
                    text(&t.namespace),
                    text(&t.object),
                    text(&t.relation),
                    text(id),
                ]);
                id_at.push(i);
            }
            Subject::Set(s) => {
                sets.push(vec![
                    text(&t.namespace),
                    text(&t.object),
                    text(&t.relation),
                    text(&s.namespace),
                    text(&s.object),
                    text(&s.relation),
                ]);
                set_at.push(i);
            }
        }
    }
    (
        Part::new(EXISTS_ID_COLS, EXISTS_ID_COND, tuple, ids),
        id_at,
        Part::new(EXISTS_SET_COLS, EXISTS_SET_COND, tuple, sets),
        set_at,
    )
}

fn set_key(s: &SubjectSet) -> Vec<Value> {
    vec![text(&s.namespace), text(&s.object), text(&s.relation)]
}

/// Groups hits of one part by key, each group in insertion order.
fn grouped(hits: &mut [Hit], part: usize, n: usize) -> Vec<Vec<RelationTuple>> {
    let mut out: Vec<Vec<(i64, RelationTuple)>> = (0..n).map(|_| Vec::new()).collect();
    for h in hits.iter_mut().filter(|h| h.part == part) {
        if let Some(t) = h.tuple.take() {
            out[h.key].push((h.seq, t));
        }
    }
    out.into_iter()
        .map(|mut v| {
            v.sort_unstable_by_key(|(s, _)| *s);
            v.into_iter().map(|(_, t)| t).collect()
        })
        .collect()
}

fn parse_token(t: &Option<String>) -> Result<i64, StoreError> {
    match t.as_deref() {
        None | Some("") => Ok(0),
        Some(s) => s
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or(StoreError::InvalidPageToken),
    }
}

impl SqlStore {
    /// Answers a level: exact tuples, subject sets and subjects as asked, and the walks.
    async fn read_plain(
        &self,
        nid: Uuid,
        request: &LevelRequest,
        walks: &[Walk<'_>],
    ) -> Result<LevelResponse, StoreError> {
        // Exact-tuple lookups, one part per subject: a check asks them all for the same
        // subject, which lets PostgreSQL read that subject's few tuples once (hash join)
        // instead of probing the index per key.
        let mut groups: Vec<(&Subject, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<&Subject, usize> = HashMap::new();
        for (i, t) in request.exists.iter().enumerate() {
            let g = *group_of.entry(&t.subject).or_insert_with(|| {
                groups.push((&t.subject, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let mut parts: Vec<Part> = vec![
            Part::new(
                KEY3,
                "t.subject_id IS NULL AND t.namespace = k.ns AND t.object = k.obj \
                 AND t.relation = k.rel",
                true,
                request.subject_sets.iter().map(set_key).collect(),
            ),
            Part::new(
                KEY3,
                "t.namespace = k.ns AND t.object = k.obj AND t.relation = k.rel",
                true,
                request.subjects.iter().map(set_key).collect(),
            ),
        ];
        // Many subjects at once (a batch of checks): two parts with the subject per key.
        let per_key = groups.len() > MAX_SUBJECT_PARTS;
        let mut per_key_at = (Vec::new(), Vec::new());
        if per_key {
            let (ids, id_at, sets, set_at) = exact_parts(&request.exists, false);
            parts.push(ids);
            parts.push(sets);
            per_key_at = (id_at, set_at);
        } else {
            for (subject, at) in &groups {
                let keys = at
                    .iter()
                    .map(|&i| {
                        let t = &request.exists[i];
                        vec![text(&t.namespace), text(&t.object), text(&t.relation)]
                    })
                    .collect();
                parts.push(match subject {
                    Subject::Id(id) => {
                        Part::new(KEY3, EXISTS_ID_CONST, false, keys).with_consts(vec![text(id)])
                    }
                    Subject::Set(s) => Part::new(KEY3, EXISTS_SET_CONST, false, keys)
                        .with_consts(vec![text(&s.namespace), text(&s.object), text(&s.relation)]),
                });
            }
        }
        let (mut hits, expanded) = self.lookup(nid, &parts, walks).await?;
        let mut exists = vec![false; request.exists.len()];
        for h in &hits {
            match (per_key, h.part) {
                (_, 0 | 1) => {}
                (true, 2) => exists[per_key_at.0[h.key]] = true,
                (true, _) => exists[per_key_at.1[h.key]] = true,
                (false, p) => exists[groups[p - 2].1[h.key]] = true,
            }
        }
        let subject_sets = grouped(&mut hits, 0, request.subject_sets.len())
            .into_iter()
            .map(|v| {
                v.into_iter()
                    .filter_map(|t| match t.subject {
                        Subject::Set(s) => Some(s),
                        Subject::Id(_) => None,
                    })
                    .collect()
            })
            .collect();
        let subjects = grouped(&mut hits, 1, request.subjects.len())
            .into_iter()
            .map(|v| v.into_iter().map(|t| t.subject).collect())
            .collect();
        Ok(LevelResponse {
            exists,
            subject_sets,
            subjects,
            expanded,
        })
    }
}

#[async_trait]
impl TupleStore for SqlStore {
    async fn read_level(
        &self,
        nid: Uuid,
        request: &LevelRequest,
    ) -> Result<LevelResponse, StoreError> {
        // One walk per subject, its roots without duplicates (at the largest depth asked).
        let mut walks: Vec<Walk<'_>> = Vec::new();
        let mut root_at: HashMap<(&Subject, &SubjectSet), (usize, usize)> = HashMap::new();
        for e in &request.expansions {
            let depth = e.depth.max(1);
            if let Some(&(g, r)) = root_at.get(&(&e.subject, &e.root)) {
                let d = &mut walks[g].roots[r].1;
                *d = (*d).max(depth);
                continue;
            }
            let g = match walks.iter().position(|w| w.subject == &e.subject) {
                Some(g) => g,
                None => {
                    walks.push(Walk {
                        subject: &e.subject,
                        roots: Vec::new(),
                    });
                    walks.len() - 1
                }
            };
            root_at.insert((&e.subject, &e.root), (g, walks[g].roots.len()));
            walks[g].roots.push((&e.root, depth));
        }
        if walks.len() <= MAX_SUBJECT_PARTS && walks.iter().all(|w| w.roots.len() <= MAX_KEYS) {
            return self.read_plain(nid, request, &walks).await;
        }
        // Too many subjects or roots to walk in one statement: each root gets the two plain
        // lookups instead.
        let mut plain = LevelRequest {
            exists: request.exists.clone(),
            subject_sets: request.subject_sets.clone(),
            subjects: request.subjects.clone(),
            expansions: Vec::new(),
        };
        for e in &request.expansions {
            plain.exists.push(e.root_tuple());
            plain.subject_sets.push(e.root.clone());
        }
        let mut r = self.read_plain(nid, &plain, &[]).await?;
        let sets = r.subject_sets.split_off(request.subject_sets.len());
        let exists = r.exists.split_off(request.exists.len());
        r.expanded = request
            .expansions
            .iter()
            .zip(exists.into_iter().zip(sets))
            .map(|(e, (contains_subject, sets))| ExpandedNode {
                set: e.root.clone(),
                subject: e.subject.clone(),
                contains_subject,
                subject_sets: Some(sets),
            })
            .collect();
        Ok(r)
    }

    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        keys: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        let mut ids = Vec::new();
        let mut id_at = Vec::new();
        let mut objs = Vec::new();
        let mut obj_at = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match k {
                SubjectKey::Id(id) => {
                    ids.push(vec![text(id)]);
                    id_at.push(i);
                }
                SubjectKey::Object { namespace, object } => {
                    objs.push(vec![text(namespace), text(object)]);
                    obj_at.push(i);
                }
            }
        }
        let parts = [
            Part::new(&["sid"], "t.subject_id = k.sid", true, ids),
            Part::new(
                &["sns", "sobj"],
                "t.subject_id IS NULL AND t.subject_set_namespace = k.sns \
                 AND t.subject_set_object = k.sobj",
                true,
                objs,
            ),
        ];
        let (mut hits, _) = self.lookup(nid, &parts, &[]).await?;
        let mut out: Vec<Vec<RelationTuple>> = keys.iter().map(|_| Vec::new()).collect();
        for (i, v) in grouped(&mut hits, 0, id_at.len()).into_iter().enumerate() {
            out[id_at[i]] = v;
        }
        for (i, v) in grouped(&mut hits, 1, obj_at.len()).into_iter().enumerate() {
            out[obj_at[i]] = v;
        }
        Ok(out)
    }

    async fn tuples_by_object(
        &self,
        nid: Uuid,
        keys: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        let parts = [Part::new(
            &["ns", "obj"],
            "t.namespace = k.ns AND t.object = k.obj",
            true,
            keys.iter()
                .map(|k| vec![text(&k.namespace), text(&k.object)])
                .collect(),
        )];
        let (mut hits, _) = self.lookup(nid, &parts, &[]).await?;
        Ok(grouped(&mut hits, 0, keys.len()))
    }

    async fn list(
        &self,
        nid: Uuid,
        query: &RelationQuery,
        page: &PageRequest,
    ) -> Result<TuplePage, StoreError> {
        let after = parse_token(&page.token)?;
        let size = page.size.max(1);
        let mut sql = Sql::new(nid);
        let _ = write!(
            sql.text,
            "SELECT CAST(0 AS {bigint}), CAST(0 AS {bigint}), {TUPLE_COLS} \
             FROM keto_relation_tuples t WHERE t.nid = $1",
            bigint = bigint(self.backend())
        );
        filter(&mut sql, query);
        let a = sql.bind(Value::from(after));
        let l = sql.bind(Value::from(size as i64 + 1));
        let _ = write!(sql.text, " AND t.seq > {a} ORDER BY t.seq LIMIT {l}");
        let rows = self
            .db
            .query_all_raw(sql.statement(self.backend()))
            .await
            .map_err(db_err)?;
        let mut tuples = Vec::with_capacity(rows.len().min(size));
        let mut last = after;
        let more = rows.len() > size;
        for row in rows.iter().take(size) {
            if let Some(h) = hit(row, |_| true)? {
                last = h.seq;
                tuples.extend(h.tuple);
            }
        }
        Ok(TuplePage {
            tuples,
            next_page_token: more.then(|| format!("{TOKEN_PREFIX}{last}")),
        })
    }

    async fn transact(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError> {
        let backend = self.backend();
        let txn = self.db.begin().await.map_err(db_err)?;
        let version = self.bump_version(&txn, nid).await?;

        if !tx.preconditions.is_empty() {
            let mut sql = Sql::new(nid);
            for (i, p) in tx.preconditions.iter().enumerate() {
                let q = match p {
                    Precondition::MustMatch(q) | Precondition::MustNotMatch(q) => q,
                };
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                let _ = write!(
                    sql.text,
                    "SELECT CAST({i} AS {}) WHERE EXISTS \
                     (SELECT 1 FROM keto_relation_tuples t WHERE t.nid = $1",
                    bigint(backend)
                );
                filter(&mut sql, q);
                sql.push(")");
            }
            let rows = txn
                .query_all_raw(sql.statement(backend))
                .await
                .map_err(db_err)?;
            let mut matched = vec![false; tx.preconditions.len()];
            for row in rows {
                let i: i64 = row.try_get_by_index(0).map_err(db_err)?;
                if let Some(m) = matched.get_mut(i as usize) {
                    *m = true;
                }
            }
            for (p, m) in tx.preconditions.iter().zip(matched) {
                let (q, want) = match p {
                    Precondition::MustMatch(q) => (q, true),
                    Precondition::MustNotMatch(q) => (q, false),
                };
                if m != want {
                    // Dropping `txn` rolls everything back, the version bump included.
                    return Err(StoreError::Conflict(format!(
                        "precondition failed: {} {q:?}",
                        if want {
                            "expected a match for"
                        } else {
                            "expected no match for"
                        }
                    )));
                }
            }
        }

        for chunk in tx.insert.chunks(INSERT_CHUNK) {
            let mut sql = Sql::new(nid);
            sql.push(
                "INSERT INTO keto_relation_tuples (nid, namespace, object, relation, subject_id, \
                 subject_set_namespace, subject_set_object, subject_set_relation) VALUES ",
            );
            for (r, t) in chunk.iter().enumerate() {
                let (sid, sns, sobj, srel) = match &t.subject {
                    Subject::Id(id) => (text(id), null_text(), null_text(), null_text()),
                    Subject::Set(s) => (
                        null_text(),
                        text(&s.namespace),
                        text(&s.object),
                        text(&s.relation),
                    ),
                };
                let ps: Vec<String> = [
                    text(&t.namespace),
                    text(&t.object),
                    text(&t.relation),
                    sid,
                    sns,
                    sobj,
                    srel,
                ]
                .into_iter()
                .map(|v| sql.bind(v))
                .collect();
                let _ = write!(
                    sql.text,
                    "{}($1, {})",
                    if r == 0 { "" } else { ", " },
                    ps.join(", ")
                );
            }
            // Tuples form a set: a stored one is left as it is. MySQL (not MariaDB) refuses
            // `seq = seq` (error 1869) when the duplicate is a row the same statement
            // inserted, as the auto-increment column's value is then its own.
            sql.push(match backend {
                DatabaseBackend::MySql => " ON DUPLICATE KEY UPDATE nid = nid",
                _ => " ON CONFLICT DO NOTHING",
            });
            txn.execute_raw(sql.statement(backend))
                .await
                .map_err(db_err)?;
        }

        if !tx.delete.is_empty() {
            let (ids, _, sets, _) = exact_parts(&tx.delete, true);
            for round in 0..ids.keys.len().max(sets.keys.len()).div_ceil(MAX_KEYS) {
                let lo = |p: &Part| (round * MAX_KEYS).min(p.keys.len());
                let hi = |p: &Part| ((round + 1) * MAX_KEYS).min(p.keys.len());
                let slices = [
                    (0, &ids, &ids.keys[lo(&ids)..hi(&ids)]),
                    (1, &sets, &sets.keys[lo(&sets)..hi(&sets)]),
                ];
                let mut sql = Sql::new(nid);
                with_keys(&mut sql, &slices, false, backend);
                if backend == DatabaseBackend::MySql {
                    // MySQL deletes from no table its statement also reads in a subquery:
                    // the rows' `seq` first, then a delete by them.
                    sql.push(" ");
                    select_keys(&mut sql, &slices, backend);
                    let rows = txn
                        .query_all_raw(sql.statement(backend))
                        .await
                        .map_err(db_err)?;
                    let mut delete = Sql::new(nid);
                    delete.push("DELETE FROM keto_relation_tuples WHERE nid = $1 AND seq IN (");
                    let mut any = false;
                    for row in &rows {
                        if let Some(seq) = row.int(2)? {
                            delete.push(if any { ", " } else { "" }).param(seq);
                            any = true;
                        }
                    }
                    delete.push(")");
                    if any {
                        txn.execute_raw(delete.statement(backend))
                            .await
                            .map_err(db_err)?;
                    }
                    continue;
                }
                sql.push(" DELETE FROM keto_relation_tuples WHERE seq IN (SELECT d.seq FROM (");
                select_keys(&mut sql, &slices, backend);
                sql.push(") d)");
                txn.execute_raw(sql.statement(backend))
                    .await
                    .map_err(db_err)?;
            }
        }

        txn.commit().await.map_err(db_err)?;
        Ok(version)
    }

    async fn delete_matching(
        &self,
        nid: Uuid,
        query: &RelationQuery,
    ) -> Result<(u64, Version), StoreError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let version = self.bump_version(&txn, nid).await?;
        let mut sql = Sql::new(nid);
        if self.backend() == DatabaseBackend::MySql {
            // MySQL deletes from no table its statement also reads in a subquery.
            sql.push("DELETE t FROM keto_relation_tuples t WHERE t.nid = $1");
            filter(&mut sql, query);
        } else {
            sql.push(
                "DELETE FROM keto_relation_tuples WHERE seq IN \
                 (SELECT t.seq FROM keto_relation_tuples t WHERE t.nid = $1",
            );
            filter(&mut sql, query);
            sql.push(")");
        }
        let n = txn
            .execute_raw(sql.statement(self.backend()))
            .await
            .map_err(db_err)?
            .rows_affected();
        txn.commit().await.map_err(db_err)?;
        Ok((n, version))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(db_err)
    }

    async fn version(&self, nid: Uuid) -> Result<Version, StoreError> {
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT version FROM keto_versions WHERE nid = $1",
                [Value::from(nid)],
            ))
            .await
            .map_err(db_err)?;
        match row {
            None => Ok(0),
            Some(r) => Ok(r.try_get_by_index::<i64>(0).map_err(db_err)? as Version),
        }
    }
}
