//! The check evaluator: Keto's step semantics over a [`Source`].
//!
//! Evaluation is a sequential depth-first walk, exactly as Keto runs it. When the source has
//! not loaded some data yet, the step answers `Pending`, the walk records the lookup and
//! carries on speculatively with the siblings (so that one pass collects every lookup of the
//! next level); the engine then loads all recorded lookups in one store call and runs the
//! walk again. A pass whose result is not `Pending` saw all the data it needed, in Keto's
//! order, so its answer is Keto's answer.

use std::collections::HashSet;

use super::Limitation;
use super::source::{SetRef, Source, SubjRef};
use crate::error::EngineError;
use crate::namespace::{Child, Operator, Relation, Rewrite, Schema, SubjectKind};

type H = foldhash::fast::RandomState;

/// Steps allowed along one resolution path (Keto's call budget).
pub(crate) const PATH_BUDGET: u32 = 1000;
/// Steps allowed for one whole evaluation pass.
pub(crate) const TOTAL_BUDGET: u64 = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum R {
    Member,
    NotMember,
    Unknown(Option<Limitation>),
    Err(u32),
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Need<'a> {
    /// Whether the checked subject is stored directly under the set.
    Exists(SetRef<'a>),
    /// The subject sets stored under the set.
    Sets(SetRef<'a>),
    /// The subject sets stored under the set, for a subject-set walk from it with this
    /// much depth left (the store may answer the walk ahead).
    Expand(SetRef<'a>, i32),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Union,
    Intersection,
}

/// Keto's step group, run sequentially, plus a `Pending` state.
struct Comb {
    mode: Mode,
    any: bool,
    pending: bool,
    done: bool,
    result: Option<R>,
    limitation: Option<Limitation>,
}

impl Comb {
    fn new(mode: Mode) -> Self {
        Comb {
            mode,
            any: false,
            pending: false,
            done: false,
            result: None,
            limitation: None,
        }
    }
    fn union() -> Self {
        Self::new(Mode::Union)
    }
    fn decisive(&self, r: R) -> bool {
        match self.mode {
            Mode::Union => matches!(r, R::Member | R::Err(_)),
            Mode::Intersection => matches!(r, R::NotMember | R::Err(_)),
        }
    }
    fn add(&mut self, r: R) {
        self.any = true;
        if r == R::Pending {
            self.pending = true;
        } else if self.decisive(r) {
            if !self.pending {
                self.result = Some(r);
            }
            self.done = true;
        } else if let R::Unknown(Some(l)) = r
            && self.limitation.is_none()
        {
            self.limitation = Some(l);
        }
    }
    fn finish(self) -> R {
        if self.pending {
            return R::Pending;
        }
        if let Some(r) = self.result {
            return r;
        }
        if !self.any && self.limitation.is_none() {
            return R::NotMember;
        }
        if let Some(l) = self.limitation {
            return R::Unknown(Some(l));
        }
        match self.mode {
            Mode::Union => R::NotMember,
            Mode::Intersection => R::Member,
        }
    }
}

pub(crate) struct Eval<'a, S: Source<'a>> {
    src: S,
    schema: &'a Schema,
    subject: SubjRef<'a>,
    kind: SubjectKind<'a>,
    prepared: S::Subject,
    strict: bool,
    width: usize,
    visited: Vec<HashSet<SetRef<'a>, H>>,
    pub(crate) errors: Vec<EngineError>,
    pub(crate) needs: Vec<Need<'a>>,
    steps: u64,
    rel_cache: [(RelKey, Option<&'a Relation>); 4],
    rel_next: usize,
}

/// Addresses and lengths of a namespace and relation string.
type RelKey = (usize, usize, usize, usize);

const DEPTH: R = R::Unknown(Some(Limitation::MaxDepthExceeded));

impl<'a, S: Source<'a>> Eval<'a, S> {
    pub(crate) fn new(
        src: S,
        schema: &'a Schema,
        subject: SubjRef<'a>,
        strict: bool,
        width: usize,
    ) -> Self {
        let prepared = src.prepare_subject(subject);
        let kind = match subject {
            SubjRef::Id(_) => SubjectKind::Id,
            SubjRef::Set(s) => SubjectKind::Set(s.ns, s.rel),
        };
        Eval {
            src,
            schema,
            subject,
            kind,
            prepared,
            strict,
            width,
            visited: Vec::new(),
            errors: Vec::new(),
            needs: Vec::new(),
            steps: 0,
            rel_cache: [((0, 0, 0, 0), None); 4],
            rel_next: 0,
        }
    }

    pub(crate) fn take_error(&mut self, i: u32) -> EngineError {
        std::mem::replace(
            &mut self.errors[i as usize],
            EngineError::Config("error already taken".into()),
        )
    }

    fn err(&mut self, e: EngineError) -> R {
        self.errors.push(e);
        R::Err(self.errors.len() as u32 - 1)
    }

    /// Counts a step; `Some` aborts the step.
    #[inline]
    fn enter(&mut self, budget: u32) -> Option<R> {
        self.steps += 1;
        if budget == 0 {
            return Some(self.err(EngineError::CyclicPermit));
        }
        if self.steps > TOTAL_BUDGET {
            return Some(self.err(EngineError::TooManySteps(TOTAL_BUDGET)));
        }
        None
    }

    /// Runs a check of `t` at rest depth `d` (already clamped).
    pub(crate) fn run(&mut self, t: SetRef<'a>, d: i32) -> R {
        self.is_allowed(t, false, d, None, PATH_BUDGET)
    }

    /// The schema relation, with a small cache keyed by string address (the same schema and
    /// store strings come by again and again).
    #[inline]
    fn relation(&mut self, ns: &'a str, rel: &'a str) -> Result<Option<&'a Relation>, EngineError> {
        let key = (
            ns.as_ptr() as usize,
            ns.len(),
            rel.as_ptr() as usize,
            rel.len(),
        );
        if let Some((_, r)) = self.rel_cache.iter().find(|(k, _)| *k == key && key.1 != 0) {
            return Ok(*r);
        }
        let r = self.schema.relation_for(ns, rel)?;
        self.rel_cache[self.rel_next] = (key, r);
        self.rel_next = (self.rel_next + 1) % self.rel_cache.len();
        Ok(r)
    }

    fn allows_direct(&self, rel: Option<&Relation>) -> bool {
        Relation::allows_direct(rel, self.kind)
    }

    fn is_allowed(
        &mut self,
        t: SetRef<'a>,
        skip_direct: bool,
        d: i32,
        vis: Option<u32>,
        b: u32,
    ) -> R {
        if let Some(r) = self.enter(b) {
            return r;
        }
        if d <= 0 {
            return DEPTH;
        }
        let rel = match self.relation(t.ns, t.rel) {
            Ok(r) => r,
            Err(e) => return self.err(e),
        };
        let mut c = Comb::union();
        if let Some(rw) = rel.and_then(|r| r.rewrite.as_ref()) {
            let r = self.rewrite(rw, t, d, vis, b - 1);
            c.add(r);
        }
        if !c.done && !skip_direct && (!self.strict || self.allows_direct(rel)) {
            let r = self.direct(t, d, b - 1);
            c.add(r);
        }
        if !c.done {
            if !self.strict {
                let r = self.expand(t, None, d, vis, b - 1);
                c.add(r);
            } else if let Some(rel) = rel
                && rel.types.iter().any(|ty| ty.relation.is_some())
            {
                let r = self.expand(t, Some(rel), d, vis, b - 1);
                c.add(r);
            }
        }
        c.finish()
    }

    fn direct(&mut self, t: SetRef<'a>, d: i32, b: u32) -> R {
        if let Some(r) = self.enter(b) {
            return r;
        }
        if d <= 0 {
            return DEPTH;
        }
        match self.src.exists(t, self.subject, &self.prepared) {
            Some(true) => R::Member,
            Some(false) => R::NotMember,
            None => {
                self.needs.push(Need::Exists(t));
                R::Pending
            }
        }
    }

    fn row_ok(rel: Option<&Relation>, row: SetRef<'_>) -> bool {
        match rel {
            None => true,
            Some(rel) => rel
                .types
                .iter()
                .any(|ty| ty.namespace == row.ns && ty.relation.as_deref() == Some(row.rel)),
        }
    }

    /// Keto's ExpandSubject; `strict_rel` filters rows to the declared subject-set types.
    fn expand(
        &mut self,
        t: SetRef<'a>,
        strict_rel: Option<&'a Relation>,
        d: i32,
        vis: Option<u32>,
        b: u32,
    ) -> R {
        if let Some(r) = self.enter(b) {
            return r;
        }
        if d <= 0 {
            return DEPTH;
        }
        let Some(rows) = self.src.subject_sets(t) else {
            self.needs.push(Need::Expand(t, d));
            return R::Pending;
        };
        // One-level look-ahead: is the subject stored directly under any row?
        let mut pending = false;
        let mut count = 0usize;
        for row in rows.clone() {
            if !Self::row_ok(strict_rel, row) {
                continue;
            }
            count += 1;
            if strict_rel.is_some() {
                let target = self.schema.relation_for(row.ns, row.rel).ok().flatten();
                if !self.allows_direct(target) {
                    continue;
                }
            }
            match self.src.exists(row, self.subject, &self.prepared) {
                Some(true) => return R::Member,
                Some(false) => {}
                None => {
                    self.needs.push(Need::Exists(row));
                    pending = true;
                }
            }
        }
        if pending {
            return R::Pending;
        }
        if count == 0 {
            return R::NotMember;
        }
        if d <= 1 {
            return DEPTH;
        }
        let vis = match vis {
            Some(v) => v,
            None => {
                self.visited.push(HashSet::default());
                self.visited.len() as u32 - 1
            }
        };
        let mut c = Comb::union();
        if count > self.width {
            c.limitation = Some(Limitation::MaxWidthExceeded);
        }
        for row in rows
            .filter(|r| Self::row_ok(strict_rel, *r))
            .take(self.width)
        {
            if c.done {
                break;
            }
            if !self.visited[vis as usize].insert(row) {
                continue;
            }
            let r = self.is_allowed(row, true, d - 1, Some(vis), b - 1);
            c.add(r);
        }
        c.finish()
    }

    fn rewrite(&mut self, rw: &'a Rewrite, t: SetRef<'a>, d: i32, vis: Option<u32>, b: u32) -> R {
        if let Some(r) = self.enter(b) {
            return r;
        }
        if d <= 0 {
            return DEPTH;
        }
        let mut c = Comb::new(match rw.operator {
            Operator::Or => Mode::Union,
            Operator::And => Mode::Intersection,
        });
        if rw.operator == Operator::Or {
            let computed = || {
                rw.children.iter().filter_map(|ch| match ch {
                    Child::ComputedSubjectSet { relation } => Some(relation.as_str()),
                    _ => None,
                })
            };
            // One DirectMulti over the computed relations (strict mode drops those that
            // cannot hold the subject directly) ...
            let mut any_direct = false;
            let mut found = false;
            let mut pending = false;
            for rel in computed() {
                if self.strict {
                    let target = self.schema.relation_for(t.ns, rel).ok().flatten();
                    if !self.allows_direct(target) {
                        continue;
                    }
                }
                if !any_direct {
                    any_direct = true;
                    if let Some(r) = self.enter(b - 1) {
                        return r;
                    }
                }
                match self
                    .src
                    .exists(t.with_rel(rel), self.subject, &self.prepared)
                {
                    Some(true) => {
                        found = true;
                        break;
                    }
                    Some(false) => {}
                    None => {
                        self.needs.push(Need::Exists(t.with_rel(rel)));
                        pending = true;
                    }
                }
            }
            if any_direct {
                c.add(if found {
                    R::Member
                } else if pending {
                    R::Pending
                } else {
                    R::NotMember
                });
            }
            // ... then a full check of each computed relation one level down.
            for rel in computed() {
                if c.done {
                    break;
                }
                let r = self.is_allowed(t.with_rel(rel), true, d - 1, vis, b - 1);
                c.add(r);
            }
        }
        for ch in &rw.children {
            if c.done {
                break;
            }
            let r = match ch {
                Child::ComputedSubjectSet { .. } if rw.operator == Operator::Or => continue,
                Child::Rewrite(inner) => self.rewrite(inner, t, d - 1, vis, b - 1),
                other => self.child(other, t, d, vis, b - 1),
            };
            c.add(r);
        }
        c.finish()
    }

    /// A rewrite child run at the same depth (AND operands, inverted children).
    fn child(&mut self, ch: &'a Child, t: SetRef<'a>, d: i32, vis: Option<u32>, b: u32) -> R {
        match ch {
            Child::ComputedSubjectSet { relation } => {
                if let Some(r) = self.enter(b) {
                    return r;
                }
                self.is_allowed(t.with_rel(relation), false, d, vis, b - 1)
            }
            Child::TupleToSubjectSet {
                relation,
                computed_subject_set_relation,
            } => self.traverse(t, relation, computed_subject_set_relation, d, vis, b),
            Child::Rewrite(rw) => self.rewrite(rw, t, d, vis, b),
            Child::Invert(inner) => {
                if let Some(r) = self.enter(b) {
                    return r;
                }
                match self.child(inner, t, d, vis, b - 1) {
                    R::Member => R::NotMember,
                    R::NotMember => R::Member,
                    other => other,
                }
            }
        }
    }

    fn traverse(
        &mut self,
        t: SetRef<'a>,
        rel: &'a str,
        target: &'a str,
        d: i32,
        vis: Option<u32>,
        b: u32,
    ) -> R {
        if let Some(r) = self.enter(b) {
            return r;
        }
        if d <= 0 {
            return DEPTH;
        }
        let key = t.with_rel(rel);
        let Some(rows) = self.src.subject_sets(key) else {
            self.needs.push(Need::Sets(key));
            return R::Pending;
        };
        let mut c = Comb::union();
        for row in rows {
            if c.done {
                break;
            }
            let r = self.is_allowed(row.with_rel(target), false, d - 1, vis, b - 1);
            c.add(r);
        }
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: Mode, rs: &[R]) -> R {
        let mut c = Comb::new(mode);
        for r in rs {
            if c.done {
                break;
            }
            c.add(*r);
        }
        c.finish()
    }

    const LIMIT: R = R::Unknown(Some(Limitation::MaxDepthExceeded));
    const WIDTH: R = R::Unknown(Some(Limitation::MaxWidthExceeded));

    #[test]
    fn three_valued_union() {
        assert_eq!(run(Mode::Union, &[LIMIT, R::Member]), R::Member);
        assert_eq!(run(Mode::Union, &[R::NotMember, LIMIT]), LIMIT);
        assert_eq!(
            run(Mode::Union, &[WIDTH, LIMIT]),
            WIDTH,
            "first limitation wins"
        );
        assert_eq!(run(Mode::Union, &[R::Unknown(None)]), R::NotMember);
        assert_eq!(run(Mode::Union, &[R::Err(0), R::Member]), R::Err(0));
        assert_eq!(run(Mode::Union, &[]), R::NotMember);
    }

    #[test]
    fn three_valued_intersection() {
        assert_eq!(run(Mode::Intersection, &[R::Member, LIMIT]), LIMIT);
        assert_eq!(
            run(Mode::Intersection, &[LIMIT, R::NotMember]),
            R::NotMember
        );
        assert_eq!(run(Mode::Intersection, &[R::Member, R::Member]), R::Member);
        assert_eq!(
            run(Mode::Intersection, &[]),
            R::NotMember,
            "empty intersection"
        );
    }

    #[test]
    fn pending_defers_until_earlier_children_are_known() {
        // a later member cannot decide while an earlier child could still be an error
        assert_eq!(run(Mode::Union, &[R::Pending, R::Member]), R::Pending);
        assert_eq!(run(Mode::Union, &[R::Member, R::Pending]), R::Member);
        assert_eq!(
            run(Mode::Intersection, &[R::Pending, R::NotMember]),
            R::Pending
        );
    }
}
