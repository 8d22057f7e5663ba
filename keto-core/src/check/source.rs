//! Data sources the evaluator reads: the memory store directly, or a cache filled level by
//! level from any [`TupleStore`](crate::TupleStore).

use std::collections::HashMap;

use crate::store::ExpandedNode;
use crate::tuple::{RelationTuple, Subject, SubjectSet};

/// A borrowed `namespace:object#relation`.
///
/// `hint` carries the interned ids (`NO_HINT` when unknown) when the memory store produced
/// the strings, so the store can skip hashing them again; it takes no part in equality or
/// hashing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetRef<'a> {
    pub(crate) ns: &'a str,
    pub(crate) obj: &'a str,
    pub(crate) rel: &'a str,
    pub(crate) hint: [u32; 3],
}

/// A missing id hint.
pub(crate) const NO_HINT: u32 = u32::MAX;

impl PartialEq for SetRef<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.ns == o.ns && self.obj == o.obj && self.rel == o.rel
    }
}

impl Eq for SetRef<'_> {}

impl std::hash::Hash for SetRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.ns.hash(h);
        self.obj.hash(h);
        self.rel.hash(h);
    }
}

impl<'a> SetRef<'a> {
    pub(crate) fn of(s: &'a SubjectSet) -> Self {
        SetRef {
            ns: &s.namespace,
            obj: &s.object,
            rel: &s.relation,
            hint: [NO_HINT; 3],
        }
    }
    pub(crate) fn of_tuple(t: &'a RelationTuple) -> Self {
        SetRef {
            ns: &t.namespace,
            obj: &t.object,
            rel: &t.relation,
            hint: [NO_HINT; 3],
        }
    }
    pub(crate) fn with_rel(self, rel: &'a str) -> Self {
        SetRef {
            rel,
            hint: [self.hint[0], self.hint[1], NO_HINT],
            ..self
        }
    }
    pub(crate) fn to_owned_set(self) -> SubjectSet {
        SubjectSet::new(self.ns, self.obj, self.rel)
    }
}

/// A borrowed subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SubjRef<'a> {
    Id(&'a str),
    Set(SetRef<'a>),
}

impl<'a> SubjRef<'a> {
    pub(crate) fn of(s: &'a Subject) -> Self {
        match s {
            Subject::Id(id) => SubjRef::Id(id),
            Subject::Set(ss) => SubjRef::Set(SetRef::of(ss)),
        }
    }
    fn matches(self, s: &Subject) -> bool {
        match (self, s) {
            (SubjRef::Id(a), Subject::Id(b)) => a == b,
            (SubjRef::Set(a), Subject::Set(b)) => {
                a.ns == b.namespace && a.obj == b.object && a.rel == b.relation
            }
            _ => false,
        }
    }
    pub(crate) fn to_owned_subject(self) -> Subject {
        match self {
            SubjRef::Id(id) => Subject::Id(id.to_owned()),
            SubjRef::Set(s) => Subject::Set(s.to_owned_set()),
        }
    }
}

/// What the evaluator reads. `None` means "not loaded yet": the evaluator records the need
/// and the engine fetches it with the rest of the level.
pub(crate) trait Source<'a> {
    /// Subject sets stored under one key, in insertion order.
    type Sets: Iterator<Item = SetRef<'a>> + Clone;
    /// The checked subject, pre-resolved once per evaluation.
    type Subject;
    fn prepare_subject(&self, s: SubjRef<'a>) -> Self::Subject;
    fn exists(
        &self,
        obj: SetRef<'a>,
        subject: SubjRef<'a>,
        prepared: &Self::Subject,
    ) -> Option<bool>;
    fn subject_sets(&self, obj: SetRef<'a>) -> Option<Self::Sets>;
}

fn key(s: SetRef<'_>) -> String {
    let mut k = String::with_capacity(s.ns.len() + s.obj.len() + s.rel.len() + 2);
    k.push_str(s.ns);
    k.push('\0');
    k.push_str(s.obj);
    k.push('\0');
    k.push_str(s.rel);
    k
}

/// Lookups loaded so far for one subject.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    exists: HashMap<(String, Subject), bool>,
    sets: HashMap<String, Vec<SubjectSet>>,
}

impl Cache {
    pub(crate) fn put_exists(&mut self, t: &RelationTuple, v: bool) {
        self.exists
            .insert((key(SetRef::of_tuple(t)), t.subject.clone()), v);
    }
    pub(crate) fn put_sets(&mut self, k: &SubjectSet, v: Vec<SubjectSet>) {
        self.sets.insert(key(SetRef::of(k)), v);
    }
    /// Stores what a store answered about one node of an expansion.
    pub(crate) fn put_node(&mut self, node: ExpandedNode) {
        let k = key(SetRef::of(&node.set));
        if let Some(sets) = node.subject_sets {
            self.sets.insert(k.clone(), sets);
        }
        self.exists.insert((k, node.subject), node.contains_subject);
    }
    pub(crate) fn has_sets(&self, k: &SubjectSet) -> bool {
        self.sets.contains_key(&key(SetRef::of(k)))
    }
    pub(crate) fn has_exists(&self, k: &SubjectSet, subject: &Subject) -> bool {
        self.exists
            .contains_key(&(key(SetRef::of(k)), subject.clone()))
    }
}

fn set_ref(s: &SubjectSet) -> SetRef<'_> {
    SetRef::of(s)
}

impl<'a> Source<'a> for &'a Cache {
    type Sets = std::iter::Map<std::slice::Iter<'a, SubjectSet>, fn(&'a SubjectSet) -> SetRef<'a>>;
    type Subject = Subject;
    fn prepare_subject(&self, s: SubjRef<'a>) -> Subject {
        s.to_owned_subject()
    }
    fn exists(&self, obj: SetRef<'a>, _: SubjRef<'a>, subject: &Subject) -> Option<bool> {
        self.exists.get(&(key(obj), subject.clone())).copied()
    }
    fn subject_sets(&self, obj: SetRef<'a>) -> Option<Self::Sets> {
        self.sets
            .get(&key(obj))
            .map(|v| v.iter().map(set_ref as fn(&'a SubjectSet) -> SetRef<'a>))
    }
}

/// A source plus request-scoped contextual tuples.
pub(crate) struct Overlay<'a, S> {
    pub(crate) inner: S,
    pub(crate) extra: &'a [RelationTuple],
}

/// Subject sets of the contextual tuples under one key.
#[derive(Clone)]
pub(crate) struct ExtraSets<'a> {
    it: std::slice::Iter<'a, RelationTuple>,
    key: SetRef<'a>,
}

impl<'a> Iterator for ExtraSets<'a> {
    type Item = SetRef<'a>;
    fn next(&mut self) -> Option<SetRef<'a>> {
        for t in self.it.by_ref() {
            if let Subject::Set(s) = &t.subject
                && SetRef::of_tuple(t) == self.key
            {
                return Some(SetRef::of(s));
            }
        }
        None
    }
}

impl<'a, S: Source<'a>> Source<'a> for Overlay<'a, S> {
    type Sets = std::iter::Chain<S::Sets, ExtraSets<'a>>;
    type Subject = S::Subject;
    fn prepare_subject(&self, s: SubjRef<'a>) -> S::Subject {
        self.inner.prepare_subject(s)
    }
    fn exists(&self, obj: SetRef<'a>, subject: SubjRef<'a>, p: &S::Subject) -> Option<bool> {
        if self
            .extra
            .iter()
            .any(|t| SetRef::of_tuple(t) == obj && subject.matches(&t.subject))
        {
            return Some(true);
        }
        self.inner.exists(obj, subject, p)
    }
    fn subject_sets(&self, obj: SetRef<'a>) -> Option<Self::Sets> {
        let inner = self.inner.subject_sets(obj)?;
        Some(inner.chain(ExtraSets {
            it: self.extra.iter(),
            key: obj,
        }))
    }
}
