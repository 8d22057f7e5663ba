//! Subject-set walks answered inside a lookup statement.
//!
//! A check that expands `namespace:object#relation` into the subject sets stored under it
//! will, level after level, ask the same two questions of every set it reaches: which
//! subject sets are stored under it, and is the checked subject stored there directly.
//! A walk answers both for every set reachable from its roots through stored subject-set
//! edges, in the one statement of the level, with a recursive common table expression:
//!
//! ```sql
//! wK(ns, obj, rel, d) AS (               -- the reachable sets, d = depth left
//!     SELECT … FROM the roots
//!     UNION
//!     SELECT t.subject_set_* , w.d - 1 FROM wK w JOIN keto_relation_tuples t …
//!     WHERE w.d > 0)
//! nK(ns, obj, rel, d) AS (SELECT …, MAX(d) FROM (SELECT … FROM wK LIMIT cap) GROUP BY …)
//! ```
//!
//! then one `LEFT JOIN` per node for "is the subject stored here" and one for the subject
//! sets of every node that has depth left. The walk reads at most the roots plus
//! [`WALK_NODES`] sets: PostgreSQL evaluates a recursive CTE only as far as its reader pulls
//! rows, and SQLite stops at the `LIMIT` of the recursive select. The nodes it does read are
//! complete, so the engine evaluates them exactly as if it had asked level by level.

use std::collections::HashMap;
use std::fmt::Write as _;

use keto_core::store::ExpandedNode;
use keto_core::{StoreError, Subject, SubjectSet};
use sea_orm::{DatabaseBackend, Value};

use super::{LookupRow, Sql, bucket, corrupt, join_tuples, null_text, rows_of, text};
use crate::sql::{bigint, text_type};

/// Sets a walk may read beyond its roots.
pub(super) const WALK_NODES: usize = 512;

/// The expansions of one subject, walked in one statement.
pub(super) struct Walk<'a> {
    pub(super) subject: &'a Subject,
    /// Roots with the depth left at each (at least 1), without duplicates.
    pub(super) roots: Vec<(&'a SubjectSet, u32)>,
}

/// Appends the CTEs of walk `g` (after `WITH RECURSIVE` or a comma).
pub(super) fn with_walk(sql: &mut Sql, g: usize, walk: &Walk<'_>, backend: DatabaseBackend) {
    let _ = write!(sql.text, "r{g}(ns, obj, rel, d) AS (");
    let mut rows = Vec::with_capacity(bucket(walk.roots.len()));
    for r in 0..bucket(walk.roots.len()) {
        let (ns, obj, rel, d) = match walk.roots.get(r) {
            Some((s, d)) => (
                text(&s.namespace),
                text(&s.object),
                text(&s.relation),
                Value::BigInt(Some(i64::from(*d))),
            ),
            None => (null_text(), null_text(), null_text(), Value::BigInt(None)),
        };
        rows.push(format!(
            "{}, {}, {}, {}",
            sql.bind(ns),
            sql.bind(obj),
            sql.bind(rel),
            sql.bind(d)
        ));
    }
    sql.push(&rows_of(backend, &rows));
    let cap = sql.bind(Value::BigInt(Some((walk.roots.len() + WALK_NODES) as i64)));
    // SQLite stops a recursive CTE at the LIMIT of its recursive select; PostgreSQL rejects
    // that LIMIT but stops as soon as the capped reader below has its rows.
    // MySQL takes no LIMIT there either, and types a recursive CTE's columns by its first
    // select: the roots' text is widened to what a step may add.
    let (inner_limit, capped) = match backend {
        DatabaseBackend::Sqlite => (format!(" LIMIT {cap}"), format!("w{g}")),
        _ => (
            String::new(),
            format!("(SELECT ns, obj, rel, d FROM w{g} LIMIT {cap}) x"),
        ),
    };
    let roots = match backend {
        DatabaseBackend::MySql => {
            "CAST(ns AS CHAR(16383)), CAST(obj AS CHAR(16383)), CAST(rel AS CHAR(16383)), d"
        }
        _ => "ns, obj, rel, d",
    };
    let step = join_tuples(
        backend,
        false,
        "t.namespace = w.ns AND t.object = w.obj AND t.relation = w.rel \
         AND t.subject_id IS NULL",
    );
    let _ = write!(
        sql.text,
        "), w{g}(ns, obj, rel, d) AS (SELECT {roots} FROM r{g} WHERE ns IS NOT NULL \
         UNION SELECT t.subject_set_namespace, t.subject_set_object, t.subject_set_relation, \
         w.d - 1 FROM w{g} w {step} WHERE w.d > 0{inner_limit}), \
         n{g}(ns, obj, rel, d) AS (SELECT ns, obj, rel, MAX(d) FROM {capped} \
         GROUP BY ns, obj, rel)"
    );
}

/// Appends the two selects of walk `g` (after `UNION ALL` when not first): part `part` has
/// one row per node (`seq` set when the subject is stored there), part `part + 1` the
/// subject sets of every node with depth left (one row of NULLs for a node without any).
pub(super) fn select_walk(
    sql: &mut Sql,
    g: usize,
    walk: &Walk<'_>,
    part: usize,
    backend: DatabaseBackend,
) {
    let subject_cond = match walk.subject {
        Subject::Id(id) => format!("t.subject_id = {}", sql.bind(text(id))),
        Subject::Set(s) => format!(
            "t.subject_id IS NULL AND t.subject_set_namespace = {} \
             AND t.subject_set_object = {} AND t.subject_set_relation = {}",
            sql.bind(text(&s.namespace)),
            sql.bind(text(&s.object)),
            sql.bind(text(&s.relation))
        ),
    };
    let node = "t.namespace = n.ns AND t.object = n.obj AND t.relation = n.rel";
    let (int, text) = (bigint(backend), text_type(backend));
    let _ = write!(
        sql.text,
        "SELECT CAST({part} AS {int}), CAST(0 AS {int}), t.seq, n.ns, n.obj, n.rel, \
         CAST(NULL AS {text}), CAST(NULL AS {text}), CAST(NULL AS {text}), CAST(NULL AS {text}) \
         FROM n{g} n {} \
         UNION ALL \
         SELECT CAST({} AS {int}), CAST(0 AS {int}), t.seq, n.ns, n.obj, n.rel, \
         CAST(NULL AS {text}), t.subject_set_namespace, t.subject_set_object, \
         t.subject_set_relation \
         FROM n{g} n {} WHERE n.d > 0",
        join_tuples(backend, true, &format!("{subject_cond} AND {node}")),
        part + 1,
        join_tuples(backend, true, &format!("t.subject_id IS NULL AND {node}")),
    );
}

/// What the rows of the walks tell about each node.
#[derive(Default)]
struct NodeRows {
    contains_subject: bool,
    sets: Option<Vec<(i64, SubjectSet)>>,
}

/// Collects the rows of walk parts (`part - first_part` = 2 × walk + kind).
#[derive(Default)]
pub(super) struct WalkRows {
    nodes: HashMap<(usize, SubjectSet), NodeRows>,
    order: Vec<(usize, SubjectSet)>,
}

impl WalkRows {
    /// Takes one row of part `rel_part` (relative to the first walk part).
    pub(super) fn take(
        &mut self,
        rel_part: usize,
        row: &(impl LookupRow + ?Sized),
    ) -> Result<(), StoreError> {
        let get = |i: usize| row.text(i);
        let seq = row.int(2)?;
        let (Some(ns), Some(obj), Some(rel)) = (get(3)?, get(4)?, get(5)?) else {
            return Err(corrupt(
                "a walked set without namespace, object or relation",
            ));
        };
        let key = (rel_part / 2, SubjectSet::new(ns, obj, rel));
        if !self.nodes.contains_key(&key) {
            self.order.push(key.clone());
        }
        let node = self.nodes.entry(key).or_default();
        if rel_part.is_multiple_of(2) {
            node.contains_subject |= seq.is_some();
            return Ok(());
        }
        let sets = node.sets.get_or_insert_with(Vec::new);
        if let Some(seq) = seq {
            let (Some(n), Some(o), Some(r)) = (get(7)?, get(8)?, get(9)?) else {
                return Err(corrupt(
                    "a subject set without namespace, object or relation",
                ));
            };
            sets.push((seq, SubjectSet::new(n, o, r)));
        }
        Ok(())
    }

    /// The answered nodes, for the walks in the order they were written.
    pub(super) fn finish(self, walks: &[Walk<'_>]) -> Vec<ExpandedNode> {
        let WalkRows { mut nodes, order } = self;
        order
            .into_iter()
            .filter_map(|key| {
                let rows = nodes.remove(&key)?;
                Some(ExpandedNode {
                    subject: walks[key.0].subject.clone(),
                    set: key.1,
                    contains_subject: rows.contains_subject,
                    subject_sets: rows.sets.map(|mut v| {
                        v.sort_unstable_by_key(|(s, _)| *s);
                        v.into_iter().map(|(_, s)| s).collect()
                    }),
                })
            })
            .collect()
    }
}
