//! The in-memory tuple store: interned strings, forward and reverse hash indices.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use parking_lot::{RwLock, RwLockReadGuard};
use uuid::Uuid;

use super::{
    ExpandedNode, LevelRequest, LevelResponse, ObjectKey, PageRequest, Precondition, SubjectKey,
    Transaction, TuplePage, TupleStore, Version,
};
use crate::check::source::{NO_HINT, SetRef, Source, SubjRef};
use crate::error::StoreError;
use crate::tuple::{RelationQuery, RelationTuple, Subject, SubjectSet};

type H = foldhash::fast::RandomState;
type Key = (u32, u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SubjIds {
    Id(u32),
    Set(Key),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Stored {
    key: Key,
    subject: SubjIds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RevKey {
    Id(u32),
    Obj(u32, u32),
}

#[derive(Debug, Default)]
struct Node {
    ids: IndexMap<u32, u64, H>,
    sets: IndexMap<Key, u64, H>,
}

/// String interner: ids index `strs`; the table holds ids and compares inline.
#[derive(Default)]
struct Interner {
    strs: Vec<Arc<str>>,
    table: hashbrown::HashTable<u32>,
    hasher: H,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interner({} strings)", self.strs.len())
    }
}

#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

impl Interner {
    #[inline]
    fn get(&self, s: &str) -> Option<u32> {
        let h = self.hasher.hash_one(s);
        self.table
            .find(h, |&id| same(&self.strs[id as usize], s))
            .copied()
    }
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.get(s) {
            return id;
        }
        let id = self.strs.len() as u32;
        self.strs.push(Arc::from(s));
        let h = self.hasher.hash_one(s);
        let (strs, hasher) = (&self.strs, &self.hasher);
        self.table
            .insert_unique(h, id, |&i| hasher.hash_one(&*strs[i as usize]));
        id
    }
}

#[derive(Debug, Default)]
struct Tenant {
    strs: Interner,
    fwd: HashMap<Key, Node, H>,
    by_object: HashMap<(u32, u32), IndexMap<u32, (), H>, H>,
    rev: HashMap<RevKey, IndexMap<Stored, u64, H>, H>,
    by_seq: BTreeMap<u64, Stored>,
}

#[derive(Debug, Default)]
struct Inner {
    tenants: HashMap<Uuid, Tenant, H>,
    seq: u64,
    version: u64,
}

/// An in-memory [`TupleStore`], indexed for forward and reverse lookups.
///
/// Strings are interned per tenant, so a check reads integer-keyed hash maps. Interned
/// strings are kept when their tuples are deleted.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
}

impl Tenant {
    #[inline]
    fn get(&self, s: &str) -> Option<u32> {
        self.strs.get(s)
    }
    fn intern(&mut self, s: &str) -> u32 {
        self.strs.intern(s)
    }
    fn s(&self, id: u32) -> &str {
        &self.strs.strs[id as usize]
    }
    fn lookup(&self, t: &RelationTuple) -> Option<Stored> {
        let key = (
            self.get(&t.namespace)?,
            self.get(&t.object)?,
            self.get(&t.relation)?,
        );
        Some(Stored {
            key,
            subject: self.lookup_subject(&t.subject)?,
        })
    }
    fn lookup_subject(&self, s: &Subject) -> Option<SubjIds> {
        Some(match s {
            Subject::Id(id) => SubjIds::Id(self.get(id)?),
            Subject::Set(ss) => SubjIds::Set((
                self.get(&ss.namespace)?,
                self.get(&ss.object)?,
                self.get(&ss.relation)?,
            )),
        })
    }
    fn intern_tuple(&mut self, t: &RelationTuple) -> Stored {
        let key = (
            self.intern(&t.namespace),
            self.intern(&t.object),
            self.intern(&t.relation),
        );
        let subject = match &t.subject {
            Subject::Id(id) => SubjIds::Id(self.intern(id)),
            Subject::Set(ss) => SubjIds::Set((
                self.intern(&ss.namespace),
                self.intern(&ss.object),
                self.intern(&ss.relation),
            )),
        };
        Stored { key, subject }
    }
    fn seq_of(&self, st: &Stored) -> Option<u64> {
        let node = self.fwd.get(&st.key)?;
        match st.subject {
            SubjIds::Id(i) => node.ids.get(&i).copied(),
            SubjIds::Set(k) => node.sets.get(&k).copied(),
        }
    }
    fn rev_key(st: &Stored) -> RevKey {
        match st.subject {
            SubjIds::Id(i) => RevKey::Id(i),
            SubjIds::Set((n, o, _)) => RevKey::Obj(n, o),
        }
    }
    fn insert(&mut self, st: Stored, seq: u64) -> bool {
        let node = self.fwd.entry(st.key).or_default();
        match st.subject {
            SubjIds::Id(i) => {
                if node.ids.contains_key(&i) {
                    return false;
                }
                node.ids.insert(i, seq);
            }
            SubjIds::Set(k) => {
                if node.sets.contains_key(&k) {
                    return false;
                }
                node.sets.insert(k, seq);
            }
        }
        self.by_object
            .entry((st.key.0, st.key.1))
            .or_default()
            .insert(st.key.2, ());
        self.rev
            .entry(Self::rev_key(&st))
            .or_default()
            .insert(st, seq);
        self.by_seq.insert(seq, st);
        true
    }
    fn remove(&mut self, st: Stored) -> bool {
        let Some(node) = self.fwd.get_mut(&st.key) else {
            return false;
        };
        let seq = match st.subject {
            SubjIds::Id(i) => node.ids.shift_remove(&i),
            SubjIds::Set(k) => node.sets.shift_remove(&k),
        };
        let Some(seq) = seq else { return false };
        if node.ids.is_empty() && node.sets.is_empty() {
            self.fwd.remove(&st.key);
            if let Some(m) = self.by_object.get_mut(&(st.key.0, st.key.1)) {
                m.shift_remove(&st.key.2);
                if m.is_empty() {
                    self.by_object.remove(&(st.key.0, st.key.1));
                }
            }
        }
        let rk = Self::rev_key(&st);
        if let Some(m) = self.rev.get_mut(&rk) {
            m.shift_remove(&st);
            if m.is_empty() {
                self.rev.remove(&rk);
            }
        }
        self.by_seq.remove(&seq);
        true
    }
    fn materialize(&self, st: &Stored) -> RelationTuple {
        let (n, o, r) = st.key;
        let subject = match st.subject {
            SubjIds::Id(i) => Subject::Id(self.s(i).to_owned()),
            SubjIds::Set((a, b, c)) => Subject::set(self.s(a), self.s(b), self.s(c)),
        };
        RelationTuple::new(self.s(n), self.s(o), self.s(r), subject)
    }
    fn any_match(&self, q: &RelationQuery) -> bool {
        let mut found = false;
        self.scan(q, 0, &mut |_, _| {
            found = true;
            false
        });
        found
    }
    /// Visits matching tuples with `seq > after` in ascending seq order until `f` says stop.
    fn scan(&self, q: &RelationQuery, after: u64, f: &mut dyn FnMut(u64, &Stored) -> bool) {
        // Resolve filter strings; an unknown string matches nothing.
        let id = |s: &Option<String>| -> Result<Option<u32>, ()> {
            match s {
                None => Ok(None),
                Some(s) => self.get(s).map(Some).ok_or(()),
            }
        };
        let (Ok(n), Ok(o), Ok(r)) = (id(&q.namespace), id(&q.object), id(&q.relation)) else {
            return;
        };
        let subj = match &q.subject {
            None => None,
            Some(s) => match self.lookup_subject(s) {
                Some(x) => Some(x),
                None => return,
            },
        };
        let ok = |st: &Stored| {
            n.is_none_or(|v| st.key.0 == v)
                && o.is_none_or(|v| st.key.1 == v)
                && r.is_none_or(|v| st.key.2 == v)
                && subj.is_none_or(|v| st.subject == v)
        };
        if let (Some(n), Some(o), Some(r)) = (n, o, r) {
            let Some(node) = self.fwd.get(&(n, o, r)) else {
                return;
            };
            // merge the two seq-ordered maps
            let mut a = node
                .ids
                .iter()
                .map(|(i, s)| (*s, SubjIds::Id(*i)))
                .filter(|x| x.0 > after)
                .peekable();
            let mut b = node
                .sets
                .iter()
                .map(|(k, s)| (*s, SubjIds::Set(*k)))
                .filter(|x| x.0 > after)
                .peekable();
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) => {
                        if x.0 < y.0 {
                            a.next()
                        } else {
                            b.next()
                        }
                    }
                    (Some(_), None) => a.next(),
                    (None, Some(_)) => b.next(),
                    (None, None) => return,
                };
                let (seq, subject) = next.unwrap();
                let st = Stored {
                    key: (n, o, r),
                    subject,
                };
                if ok(&st) && !f(seq, &st) {
                    return;
                }
            }
        }
        if let Some(s) = subj {
            let rk = Self::rev_key(&Stored {
                key: (0, 0, 0),
                subject: s,
            });
            let Some(m) = self.rev.get(&rk) else { return };
            let start = m.partition_point(|_, seq| *seq <= after);
            for i in start..m.len() {
                let (st, seq) = m.get_index(i).unwrap();
                if ok(st) && !f(*seq, st) {
                    return;
                }
            }
            return;
        }
        // A token naming the last possible sequence number has nothing after it.
        let Some(from) = after.checked_add(1) else {
            return;
        };
        for (seq, st) in self.by_seq.range(from..) {
            if ok(st) && !f(*seq, st) {
                return;
            }
        }
    }
}

fn parse_token(t: &Option<String>) -> Result<u64, StoreError> {
    match t {
        None => Ok(0),
        Some(s) if s.is_empty() => Ok(0),
        Some(s) => s
            .strip_prefix("m1.")
            .and_then(|n| n.parse().ok())
            .ok_or(StoreError::InvalidPageToken),
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts tuples without the async machinery (handy to build large graphs in benches
    /// and tests). Returns the new version.
    pub fn insert_many<'a>(
        &self,
        nid: Uuid,
        tuples: impl IntoIterator<Item = &'a RelationTuple>,
    ) -> Version {
        let mut g = self.inner.write();
        let inner = &mut *g;
        let t = inner.tenants.entry(nid).or_default();
        for tuple in tuples {
            let st = t.intern_tuple(tuple);
            inner.seq += 1;
            t.insert(st, inner.seq);
        }
        inner.version += 1;
        inner.version
    }

    /// Number of tuples stored for a tenant.
    pub fn len(&self, nid: Uuid) -> usize {
        self.inner
            .read()
            .tenants
            .get(&nid)
            .map_or(0, |t| t.by_seq.len())
    }

    /// Whether the tenant has no tuples.
    pub fn is_empty(&self, nid: Uuid) -> bool {
        self.len(nid) == 0
    }

    pub(crate) fn read_view(&self) -> MemGuard<'_> {
        MemGuard(self.inner.read())
    }

    fn apply(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError> {
        let mut g = self.inner.write();
        let inner = &mut *g;
        let t = inner.tenants.entry(nid).or_default();
        for p in &tx.preconditions {
            let (q, want) = match p {
                Precondition::MustMatch(q) => (q, true),
                Precondition::MustNotMatch(q) => (q, false),
            };
            if t.any_match(q) != want {
                return Err(StoreError::Conflict(format!(
                    "precondition failed: {} {:?}",
                    if want {
                        "expected a match for"
                    } else {
                        "expected no match for"
                    },
                    q
                )));
            }
        }
        for tuple in &tx.insert {
            let st = t.intern_tuple(tuple);
            inner.seq += 1;
            t.insert(st, inner.seq);
        }
        for tuple in &tx.delete {
            if let Some(st) = t.lookup(tuple) {
                t.remove(st);
            }
        }
        inner.version += 1;
        Ok(inner.version)
    }
}

/// A read snapshot of the memory store.
pub(crate) struct MemGuard<'a>(RwLockReadGuard<'a, Inner>);

impl MemGuard<'_> {
    pub(crate) fn view(&self, nid: Uuid) -> MemView<'_> {
        MemView {
            t: self.0.tenants.get(&nid),
            cache: Cell::new([((0, 0), None); 6]),
            next: Cell::new(0),
        }
    }
    pub(crate) fn version(&self) -> Version {
        self.0.version
    }
}

/// A string's address and length, and its id (if interned).
type IdCacheEntry = ((usize, usize), Option<u32>);

/// One tenant of a read snapshot, as a check data source.
pub(crate) struct MemView<'a> {
    t: Option<&'a Tenant>,
    cache: Cell<[IdCacheEntry; 6]>,
    next: Cell<usize>,
}

/// Iterator over the subject sets of one node.
#[derive(Clone)]
pub(crate) struct MemSets<'a> {
    it: Option<indexmap::map::Keys<'a, Key, u64>>,
    t: Option<&'a Tenant>,
}

impl<'a> Iterator for MemSets<'a> {
    type Item = SetRef<'a>;
    fn next(&mut self) -> Option<SetRef<'a>> {
        let (n, o, r) = *self.it.as_mut()?.next()?;
        let t = self.t?;
        Some(SetRef {
            ns: t.s(n),
            obj: t.s(o),
            rel: t.s(r),
            hint: [n, o, r],
        })
    }
}

impl<'a> MemView<'a> {
    /// Resolves a string to its id, using the hint or a small cache keyed by the string's
    /// address (the evaluator passes the same schema and request strings again and again).
    #[inline]
    fn id(&self, s: &str, hint: u32) -> Option<u32> {
        if hint != NO_HINT {
            return Some(hint);
        }
        let key = (s.as_ptr() as usize, s.len());
        let mut cache = self.cache.get();
        for (k, v) in cache.iter() {
            if *k == key {
                return *v;
            }
        }
        let v = self.t?.get(s);
        let slot = self.next.get();
        cache[slot] = (key, v);
        self.cache.set(cache);
        self.next.set((slot + 1) % cache.len());
        v
    }

    #[inline]
    fn node(&self, s: SetRef<'a>) -> Option<&'a Node> {
        let t = self.t?;
        let key = (
            self.id(s.ns, s.hint[0])?,
            self.id(s.obj, s.hint[1])?,
            self.id(s.rel, s.hint[2])?,
        );
        t.fwd.get(&key)
    }
}

impl<'a> Source<'a> for MemView<'a> {
    type Sets = MemSets<'a>;
    type Subject = Option<SubjIdsPub>;

    fn prepare_subject(&self, s: SubjRef<'a>) -> Self::Subject {
        let t = self.t?;
        Some(SubjIdsPub(match s {
            SubjRef::Id(id) => SubjIds::Id(t.get(id)?),
            SubjRef::Set(ss) => SubjIds::Set((
                self.id(ss.ns, ss.hint[0])?,
                self.id(ss.obj, ss.hint[1])?,
                self.id(ss.rel, ss.hint[2])?,
            )),
        }))
    }

    fn exists(&self, obj: SetRef<'a>, _: SubjRef<'a>, prepared: &Self::Subject) -> Option<bool> {
        let Some(SubjIdsPub(subject)) = prepared else {
            return Some(false);
        };
        let Some(node) = self.node(obj) else {
            return Some(false);
        };
        Some(match subject {
            SubjIds::Id(i) => node.ids.contains_key(i),
            SubjIds::Set(k) => node.sets.contains_key(k),
        })
    }

    fn subject_sets(&self, obj: SetRef<'a>) -> Option<MemSets<'a>> {
        Some(MemSets {
            it: self.node(obj).map(|n| n.sets.keys()),
            t: self.t,
        })
    }
}

/// The interned form of the checked subject.
#[derive(Clone, Copy)]
pub(crate) struct SubjIdsPub(SubjIds);

#[async_trait]
impl TupleStore for MemoryStore {
    async fn read_level(
        &self,
        nid: Uuid,
        request: &LevelRequest,
    ) -> Result<LevelResponse, StoreError> {
        let g = self.inner.read();
        let Some(t) = g.tenants.get(&nid) else {
            return Ok(LevelResponse {
                exists: vec![false; request.exists.len()],
                subject_sets: vec![Vec::new(); request.subject_sets.len()],
                subjects: vec![Vec::new(); request.subjects.len()],
                expanded: request
                    .expansions
                    .iter()
                    .map(|e| ExpandedNode {
                        set: e.root.clone(),
                        subject: e.subject.clone(),
                        contains_subject: false,
                        subject_sets: Some(Vec::new()),
                    })
                    .collect(),
            });
        };
        let stored =
            |tuple: &RelationTuple| t.lookup(tuple).is_some_and(|st| t.seq_of(&st).is_some());
        let sets_of = |k: &SubjectSet| -> Vec<SubjectSet> {
            let key = (|| Some((t.get(&k.namespace)?, t.get(&k.object)?, t.get(&k.relation)?)))();
            key.and_then(|key| t.fwd.get(&key))
                .map(|node| {
                    node.sets
                        .keys()
                        .map(|&(a, b, c)| SubjectSet::new(t.s(a), t.s(b), t.s(c)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let exists = request.exists.iter().map(stored).collect();
        let subject_sets = request.subject_sets.iter().map(sets_of).collect();
        // Every read here is in-process, so an expansion is answered at its root only.
        let expanded = request
            .expansions
            .iter()
            .map(|e| ExpandedNode {
                set: e.root.clone(),
                subject: e.subject.clone(),
                contains_subject: stored(&e.root_tuple()),
                subject_sets: Some(sets_of(&e.root)),
            })
            .collect();
        let subjects = request
            .subjects
            .iter()
            .map(|k| {
                let mut out = Vec::new();
                t.scan(&RelationQuery::from_set(k), 0, &mut |_, st| {
                    out.push(t.materialize(st).subject);
                    true
                });
                out
            })
            .collect();
        Ok(LevelResponse {
            exists,
            subject_sets,
            subjects,
            expanded,
        })
    }

    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        keys: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        let g = self.inner.read();
        let Some(t) = g.tenants.get(&nid) else {
            return Ok(vec![Vec::new(); keys.len()]);
        };
        Ok(keys
            .iter()
            .map(|k| {
                let rk = match k {
                    SubjectKey::Id(id) => t.get(id).map(RevKey::Id),
                    SubjectKey::Object { namespace, object } => t
                        .get(namespace)
                        .and_then(|n| Some(RevKey::Obj(n, t.get(object)?))),
                };
                rk.and_then(|rk| t.rev.get(&rk))
                    .map(|m| m.keys().map(|st| t.materialize(st)).collect())
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn tuples_by_object(
        &self,
        nid: Uuid,
        keys: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        let g = self.inner.read();
        let Some(t) = g.tenants.get(&nid) else {
            return Ok(vec![Vec::new(); keys.len()]);
        };
        Ok(keys
            .iter()
            .map(|k| {
                let mut out = Vec::new();
                let (Some(n), Some(o)) = (t.get(&k.namespace), t.get(&k.object)) else {
                    return out;
                };
                if let Some(rels) = t.by_object.get(&(n, o)) {
                    for &r in rels.keys() {
                        t.scan(
                            &RelationQuery {
                                namespace: Some(k.namespace.clone()),
                                object: Some(k.object.clone()),
                                relation: Some(t.s(r).to_owned()),
                                subject: None,
                            },
                            0,
                            &mut |_, st| {
                                out.push(t.materialize(st));
                                true
                            },
                        );
                    }
                }
                out
            })
            .collect())
    }

    async fn list(
        &self,
        nid: Uuid,
        query: &RelationQuery,
        page: &PageRequest,
    ) -> Result<TuplePage, StoreError> {
        let after = parse_token(&page.token)?;
        let size = page.size.max(1);
        let g = self.inner.read();
        let Some(t) = g.tenants.get(&nid) else {
            return Ok(TuplePage::default());
        };
        let mut tuples = Vec::with_capacity(size.min(1024));
        let mut last = 0;
        let mut more = false;
        t.scan(query, after, &mut |seq, st| {
            if tuples.len() == size {
                more = true;
                return false;
            }
            tuples.push(t.materialize(st));
            last = seq;
            true
        });
        Ok(TuplePage {
            tuples,
            next_page_token: more.then(|| format!("m1.{last}")),
        })
    }

    async fn transact(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError> {
        self.apply(nid, tx)
    }

    async fn delete_matching(
        &self,
        nid: Uuid,
        query: &RelationQuery,
    ) -> Result<(u64, Version), StoreError> {
        let mut g = self.inner.write();
        let inner = &mut *g;
        let mut n = 0;
        if let Some(t) = inner.tenants.get_mut(&nid) {
            let mut victims = Vec::new();
            t.scan(query, 0, &mut |_, st| {
                victims.push(*st);
                true
            });
            for st in victims {
                if t.remove(st) {
                    n += 1;
                }
            }
        }
        inner.version += 1;
        Ok((n, inner.version))
    }

    async fn version(&self, _nid: Uuid) -> Result<Version, StoreError> {
        Ok(self.inner.read().version)
    }

    /// The store answers when its data can be read (the lock is taken and let go).
    async fn ping(&self) -> Result<(), StoreError> {
        drop(self.inner.read());
        Ok(())
    }

    fn as_memory(&self) -> Option<&MemoryStore> {
        Some(self)
    }
}
