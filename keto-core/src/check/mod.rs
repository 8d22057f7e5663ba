//! Permission checks: Keto's check engine, level-batched over any store.

pub(crate) mod eval;
pub(crate) mod source;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::{Keto, SnapToken};
use crate::error::EngineError;
use crate::namespace::Schema;
use crate::store::{Expansion, LevelRequest, TupleStore};
use crate::tuple::{RelationTuple, Subject};
use eval::{Eval, Need, R};
use source::{Cache, Overlay, SetRef, Source, SubjRef};

/// Why a check could not be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limitation {
    /// The maximum depth was reached.
    MaxDepthExceeded,
    /// A subject set had more rows than the width limit.
    MaxWidthExceeded,
}

impl fmt::Display for Limitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limitation::MaxDepthExceeded => "max_depth_exceeded",
            Limitation::MaxWidthExceeded => "max_width_exceeded",
        })
    }
}

/// The three-valued answer of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// The subject is a member.
    IsMember,
    /// The subject is not a member.
    NotMember,
    /// The engine could not decide within its limits.
    Unknown,
}

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckResult {
    /// Member, not member or unknown.
    pub membership: Membership,
    /// Set when the membership is unknown because a limit was hit.
    pub limitation: Option<Limitation>,
}

impl CheckResult {
    /// A member.
    pub const ALLOWED: CheckResult = CheckResult {
        membership: Membership::IsMember,
        limitation: None,
    };
    /// Not a member.
    pub const DENIED: CheckResult = CheckResult {
        membership: Membership::NotMember,
        limitation: None,
    };
    /// Whether access is granted (only a definite member is allowed).
    pub fn allowed(&self) -> bool {
        self.membership == Membership::IsMember
    }
}

/// How fresh the data a read sees must be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// Whatever the store has now.
    #[default]
    MinimizeLatency,
    /// At least as fresh as the write that returned this token.
    AtLeastAsFresh(SnapToken),
}

/// Options of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Requested max depth: `None` or `0` means the configured maximum; larger values are
    /// clamped to it; negative values and values above 65535 are rejected.
    pub max_depth: Option<i64>,
    /// Freshness requirement.
    pub consistency: Consistency,
    /// Tuples that hold for this check only (not stored).
    pub contextual_tuples: Vec<RelationTuple>,
}

impl CheckOptions {
    /// Options with a max depth.
    pub fn depth(max_depth: i64) -> Self {
        Self {
            max_depth: Some(max_depth),
            ..Self::default()
        }
    }
}

fn to_result(r: R) -> CheckResult {
    match r {
        R::Member => CheckResult::ALLOWED,
        R::Unknown(l) => CheckResult {
            membership: Membership::Unknown,
            limitation: l,
        },
        _ => CheckResult::DENIED,
    }
}

/// Runs one evaluation over a synchronous source (the memory store).
fn decide_sync<'a, S: Source<'a>>(
    src: S,
    schema: &'a Schema,
    t: &'a RelationTuple,
    d: i32,
    strict: bool,
    width: usize,
) -> Result<R, EngineError> {
    let mut ev = Eval::new(src, schema, SubjRef::of(&t.subject), strict, width);
    match ev.run(SetRef::of_tuple(t), d) {
        R::Err(i) => Err(ev.take_error(i)),
        R::Pending => Err(EngineError::Config(
            "a synchronous source reported missing data".into(),
        )),
        r => Ok(r),
    }
}

/// One question of a level-batched run.
pub(crate) struct Question<'q> {
    pub(crate) tuple: &'q RelationTuple,
    pub(crate) depth: i32,
    pub(crate) contextual: &'q [RelationTuple],
}

/// Answers several questions over an async store, issuing one `read_level` per level for
/// all of them together.
pub(crate) async fn decide_batched(
    store: &dyn TupleStore,
    nid: Uuid,
    schema: &Schema,
    questions: &[Question<'_>],
    strict: bool,
    width: usize,
) -> Result<Vec<Result<R, EngineError>>, EngineError> {
    let mut cache = Cache::default();
    let mut results: Vec<Option<Result<R, EngineError>>> = questions.iter().map(|_| None).collect();
    loop {
        let mut req = LevelRequest::default();
        {
            let mut exists: Vec<(SetRef<'_>, SubjRef<'_>)> = Vec::new();
            let mut sets: Vec<SetRef<'_>> = Vec::new();
            // Walk roots per (set, subject), with the largest depth asked.
            let mut walks: HashMap<(SetRef<'_>, SubjRef<'_>), i32> = HashMap::new();
            let mut walk_order: Vec<(SetRef<'_>, SubjRef<'_>)> = Vec::new();
            for (q, slot) in questions.iter().zip(results.iter_mut()) {
                if slot.is_some() {
                    continue;
                }
                let src = Overlay {
                    inner: &cache,
                    extra: q.contextual,
                };
                let subject = SubjRef::of(&q.tuple.subject);
                let mut ev = Eval::new(src, schema, subject, strict, width);
                match ev.run(SetRef::of_tuple(q.tuple), q.depth) {
                    R::Pending => {
                        if ev.needs.is_empty() {
                            *slot = Some(Err(EngineError::Config(
                                "evaluation pending without lookups".into(),
                            )));
                        }
                        for n in ev.needs.drain(..) {
                            match n {
                                Need::Exists(s) => exists.push((s, subject)),
                                Need::Sets(s) => sets.push(s),
                                Need::Expand(s, d) => {
                                    let e = walks.entry((s, subject)).or_insert_with(|| {
                                        walk_order.push((s, subject));
                                        d
                                    });
                                    *e = (*e).max(d);
                                }
                            }
                        }
                    }
                    R::Err(i) => *slot = Some(Err(ev.take_error(i))),
                    r => *slot = Some(Ok(r)),
                }
            }
            // A walk's root answers its own subject sets and whether the subject is stored
            // there: those lookups need not be asked separately.
            let roots: HashSet<SetRef<'_>> = walk_order.iter().map(|(s, _)| *s).collect();
            let mut seen_e: HashSet<(SetRef<'_>, SubjRef<'_>)> = HashSet::new();
            for (s, subject) in exists {
                if !walks.contains_key(&(s, subject)) && seen_e.insert((s, subject)) {
                    req.exists.push(RelationTuple {
                        namespace: s.ns.to_owned(),
                        object: s.obj.to_owned(),
                        relation: s.rel.to_owned(),
                        subject: subject.to_owned_subject(),
                    });
                }
            }
            let mut seen_s: HashSet<SetRef<'_>> = HashSet::new();
            for s in sets {
                if !roots.contains(&s) && seen_s.insert(s) {
                    req.subject_sets.push(s.to_owned_set());
                }
            }
            for (s, subject) in walk_order {
                req.expansions.push(Expansion {
                    root: s.to_owned_set(),
                    subject: subject.to_owned_subject(),
                    depth: walks[&(s, subject)].max(1) as u32,
                });
            }
        }
        if req.is_empty() {
            return Ok(results
                .into_iter()
                .map(|r| r.unwrap_or(Ok(R::NotMember)))
                .collect());
        }
        let resp = store.read_level(nid, &req).await?;
        if resp.exists.len() != req.exists.len()
            || resp.subject_sets.len() != req.subject_sets.len()
        {
            return Err(EngineError::Store(crate::error::StoreError::backend(
                "read_level answered a different number of lookups than asked",
            )));
        }
        for (t, v) in req.exists.iter().zip(resp.exists) {
            cache.put_exists(t, v);
        }
        for (k, v) in req.subject_sets.iter().zip(resp.subject_sets) {
            cache.put_sets(k, v);
        }
        for node in resp.expanded {
            cache.put_node(node);
        }
        if let Some(e) = req
            .expansions
            .iter()
            .find(|e| !cache.has_sets(&e.root) || !cache.has_exists(&e.root, &e.subject))
        {
            return Err(EngineError::Store(crate::error::StoreError::backend(
                format!("read_level did not answer the expansion root {}", e.root),
            )));
        }
    }
}

impl Keto {
    /// Validates a request tuple against the schema.
    pub(crate) fn validate_tuple(schema: &Schema, t: &RelationTuple) -> Result<(), EngineError> {
        if schema.namespace(&t.namespace).is_none() {
            return Err(EngineError::UnknownNamespace(t.namespace.clone()));
        }
        if let Subject::Set(s) = &t.subject
            && schema.namespace(&s.namespace).is_none()
        {
            return Err(EngineError::UnknownNamespace(s.namespace.clone()));
        }
        Ok(())
    }

    /// Keto's depth clamp: `0 < requested <= max` is used, anything else means `max`;
    /// negative or absurd values are errors.
    pub fn clamp_depth(&self, requested: Option<i64>) -> Result<i32, EngineError> {
        let max = self.config().max_read_depth as i32;
        match requested {
            None | Some(0) => Ok(max),
            Some(d) if !(0..=65535).contains(&d) => Err(EngineError::InvalidDepth(d)),
            Some(d) if (d as i32) <= max => Ok(d as i32),
            Some(_) => Ok(max),
        }
    }

    fn finish(&self, r: R) -> Result<CheckResult, EngineError> {
        let res = to_result(r);
        if self.config().strict_mode
            && let Some(l) = res.limitation
        {
            return Err(EngineError::LimitReached(l));
        }
        Ok(res)
    }

    async fn ensure_fresh(&self, nid: Uuid, c: Consistency) -> Result<(), EngineError> {
        if let Consistency::AtLeastAsFresh(tok) = c {
            let current = self.store().version(nid).await?;
            if current < tok.0 {
                return Err(EngineError::SnapshotUnavailable {
                    requested: tok.0,
                    current,
                });
            }
        }
        Ok(())
    }

    /// Checks whether `tuple.subject` has `tuple.relation` on `tuple.namespace:tuple.object`.
    ///
    /// Non-strict mode answers `Unknown` (with its limitation) when a limit stopped the
    /// walk; strict mode turns that into [`EngineError::LimitReached`].
    ///
    /// Runs in a `keto.check` span (namespace and relation once they are known to the
    /// schema; no object or subject) and records its latency in
    /// [`CHECK_DURATION`](crate::CHECK_DURATION).
    #[tracing::instrument(
        name = "keto.check",
        skip_all,
        fields(
            namespace = tracing::field::Empty,
            relation = tracing::field::Empty,
            allowed = tracing::field::Empty,
        )
    )]
    pub async fn check(
        &self,
        nid: Uuid,
        tuple: &RelationTuple,
        opts: &CheckOptions,
    ) -> Result<CheckResult, EngineError> {
        let started = std::time::Instant::now();
        let answer = self.check_unobserved(nid, tuple, opts).await;
        metrics::histogram!(crate::CHECK_DURATION).record(started.elapsed());
        if let Ok(r) = &answer {
            tracing::Span::current().record("allowed", r.allowed());
        }
        answer
    }

    async fn check_unobserved(
        &self,
        nid: Uuid,
        tuple: &RelationTuple,
        opts: &CheckOptions,
    ) -> Result<CheckResult, EngineError> {
        let schema = self.schema();
        Self::validate_tuple(&schema, tuple)?;
        let span = tracing::Span::current();
        span.record("namespace", tuple.namespace.as_str());
        span.record("relation", tuple.relation.as_str());
        let d = self.clamp_depth(opts.max_depth)?;
        let cfg = self.config();
        let width = cfg.max_read_width as usize;
        if let Some(mem) = self.store().as_memory() {
            let r = {
                let g = mem.read_view();
                if let Consistency::AtLeastAsFresh(tok) = opts.consistency
                    && g.version() < tok.0
                {
                    return Err(EngineError::SnapshotUnavailable {
                        requested: tok.0,
                        current: g.version(),
                    });
                }
                let view = g.view(nid);
                if opts.contextual_tuples.is_empty() {
                    decide_sync(view, &schema, tuple, d, cfg.strict_mode, width)
                } else {
                    let src = Overlay {
                        inner: view,
                        extra: &opts.contextual_tuples,
                    };
                    decide_sync(src, &schema, tuple, d, cfg.strict_mode, width)
                }
            }?;
            return self.finish(r);
        }
        self.ensure_fresh(nid, opts.consistency).await?;
        let q = [Question {
            tuple,
            depth: d,
            contextual: &opts.contextual_tuples,
        }];
        let mut out = decide_batched(
            self.store().as_ref(),
            nid,
            &schema,
            &q,
            cfg.strict_mode,
            width,
        )
        .await?;
        let r = out.pop().expect("one result")?;
        self.finish(r)
    }

    /// Like [`check`](Self::check), answering only whether access is granted.
    pub async fn is_allowed(
        &self,
        nid: Uuid,
        tuple: &RelationTuple,
        opts: &CheckOptions,
    ) -> Result<bool, EngineError> {
        Ok(self.check(nid, tuple, opts).await?.allowed())
    }

    /// Checks several tuples (at most `max_batch_check_size`). Each item gets its own result
    /// or error, in input order; over an async store all items share each level's read.
    #[tracing::instrument(name = "keto.batch_check", skip_all, fields(size = tuples.len()))]
    pub async fn batch_check(
        &self,
        nid: Uuid,
        tuples: &[RelationTuple],
        opts: &CheckOptions,
    ) -> Result<Vec<Result<CheckResult, EngineError>>, EngineError> {
        let cfg = self.config();
        if tuples.len() > cfg.max_batch_check_size {
            return Err(EngineError::BatchTooLarge {
                max: cfg.max_batch_check_size,
            });
        }
        let d = self.clamp_depth(opts.max_depth)?;
        if self.store().as_memory().is_some() {
            let mut out = Vec::with_capacity(tuples.len());
            for t in tuples {
                out.push(self.check(nid, t, opts).await);
            }
            return Ok(out);
        }
        self.ensure_fresh(nid, opts.consistency).await?;
        let schema = self.schema();
        let mut slots: Vec<Option<Result<CheckResult, EngineError>>> = Vec::new();
        let mut qs = Vec::new();
        for t in tuples {
            match Self::validate_tuple(&schema, t) {
                Ok(()) => {
                    slots.push(None);
                    qs.push(Question {
                        tuple: t,
                        depth: d,
                        contextual: &opts.contextual_tuples,
                    });
                }
                Err(e) => slots.push(Some(Err(e))),
            }
        }
        let rs = decide_batched(
            self.store().as_ref(),
            nid,
            &schema,
            &qs,
            cfg.strict_mode,
            cfg.max_read_width as usize,
        )
        .await?;
        let mut rs = rs.into_iter();
        Ok(slots
            .into_iter()
            .map(|s| match s {
                Some(e) => e,
                None => rs
                    .next()
                    .expect("one result per question")
                    .and_then(|r| self.finish(r)),
            })
            .collect())
    }
}
