//! Reverse lookups Keto lacks: which objects a subject can reach (LookupResources) and which
//! subjects hold a permission on an object (LookupSubjects).
//!
//! Both walk the graph level by level (one batched store call per level) to collect
//! candidates connected to the start, then confirm every candidate with a full check, so the
//! answers agree with [`Keto::check`] at the configured depth.

use std::collections::HashSet;

use uuid::Uuid;

use crate::check::eval::R;
use crate::check::{CheckOptions, Question, decide_batched};
use crate::engine::Keto;
use crate::error::EngineError;
use crate::store::{ObjectKey, SubjectKey};
use crate::tuple::{RelationQuery, RelationTuple, Subject};

impl Keto {
    async fn confirm(
        &self,
        nid: Uuid,
        candidates: Vec<RelationTuple>,
        opts: &CheckOptions,
    ) -> Result<Vec<RelationTuple>, EngineError> {
        let max = self.config().max_lookup_results;
        let mut out = Vec::new();
        if self.store().as_memory().is_some() {
            for t in candidates {
                if out.len() >= max {
                    break;
                }
                match self.check(nid, &t, opts).await {
                    Ok(r) if r.allowed() => out.push(t),
                    Ok(_) | Err(EngineError::LimitReached(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(out);
        }
        let schema = self.schema();
        let d = self.clamp_depth(opts.max_depth)?;
        let strict = self.config().strict_mode;
        let width = self.config().max_read_width as usize;
        for chunk in candidates.chunks(256) {
            let qs: Vec<Question<'_>> = chunk
                .iter()
                .map(|t| Question {
                    tuple: t,
                    depth: d,
                    contextual: &opts.contextual_tuples,
                })
                .collect();
            let rs =
                decide_batched(self.store().as_ref(), nid, &schema, &qs, strict, width).await?;
            for (t, r) in chunk.iter().zip(rs) {
                if out.len() >= max {
                    return Ok(out);
                }
                if r? == R::Member {
                    out.push(t.clone());
                }
            }
        }
        Ok(out)
    }

    /// The objects of `namespace` on which `subject` has `permission`.
    ///
    /// Candidates are the objects connected to the subject through stored tuples (walked
    /// backwards up to twice the max depth); when the permission involves a negation, every
    /// object of the namespace is a candidate.
    pub async fn lookup_resources(
        &self,
        nid: Uuid,
        subject: &Subject,
        namespace: &str,
        permission: &str,
        opts: &CheckOptions,
    ) -> Result<Vec<String>, EngineError> {
        let schema = self.schema();
        if schema.namespace(namespace).is_none() {
            return Err(EngineError::UnknownNamespace(namespace.to_owned()));
        }
        schema.relation_for(namespace, permission)?;
        let d = self.clamp_depth(opts.max_depth)?;
        let mut objects: Vec<String> = Vec::new();
        let mut seen_obj: HashSet<String> = HashSet::new();
        if schema.uses_negation(namespace, permission) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .list(
                        nid,
                        &RelationQuery::all().namespace(namespace),
                        Some(self.config().max_page_size),
                        token.as_deref(),
                    )
                    .await?;
                for t in page.relation_tuples {
                    if seen_obj.insert(t.object.clone()) {
                        objects.push(t.object);
                    }
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = Some(page.next_page_token);
            }
        }
        let start = match subject {
            Subject::Id(id) => SubjectKey::Id(id.clone()),
            Subject::Set(s) => SubjectKey::Object {
                namespace: s.namespace.clone(),
                object: s.object.clone(),
            },
        };
        let mut seen: HashSet<SubjectKey> = HashSet::from([start.clone()]);
        let mut frontier = vec![start];
        for _ in 0..(2 * d + 2) {
            if frontier.is_empty() {
                break;
            }
            let found = self.store().tuples_by_subject(nid, &frontier).await?;
            let mut next = Vec::new();
            for t in found.into_iter().flatten() {
                if t.namespace == namespace && seen_obj.insert(t.object.clone()) {
                    objects.push(t.object.clone());
                }
                let k = SubjectKey::Object {
                    namespace: t.namespace,
                    object: t.object,
                };
                if seen.insert(k.clone()) {
                    next.push(k);
                }
            }
            frontier = next;
        }
        let candidates = objects
            .into_iter()
            .map(|o| RelationTuple::new(namespace, o, permission, subject.clone()))
            .collect();
        Ok(self
            .confirm(nid, candidates, opts)
            .await?
            .into_iter()
            .map(|t| t.object)
            .collect())
    }

    /// The subjects (ids and subject sets) that have `permission` on `namespace:object`.
    ///
    /// Candidates are the subjects reachable from the object through stored tuples (walked
    /// forwards up to twice the max depth); each is confirmed with a check.
    pub async fn lookup_subjects(
        &self,
        nid: Uuid,
        namespace: &str,
        object: &str,
        permission: &str,
        opts: &CheckOptions,
    ) -> Result<Vec<Subject>, EngineError> {
        let schema = self.schema();
        if schema.namespace(namespace).is_none() {
            return Err(EngineError::UnknownNamespace(namespace.to_owned()));
        }
        schema.relation_for(namespace, permission)?;
        let d = self.clamp_depth(opts.max_depth)?;
        let start = ObjectKey {
            namespace: namespace.to_owned(),
            object: object.to_owned(),
        };
        let mut seen: HashSet<ObjectKey> = HashSet::from([start.clone()]);
        let mut frontier = vec![start];
        let mut subjects: Vec<Subject> = Vec::new();
        let mut seen_subj: HashSet<Subject> = HashSet::new();
        for _ in 0..(2 * d + 2) {
            if frontier.is_empty() {
                break;
            }
            let found = self.store().tuples_by_object(nid, &frontier).await?;
            let mut next = Vec::new();
            for t in found.into_iter().flatten() {
                if let Subject::Set(s) = &t.subject {
                    let k = ObjectKey {
                        namespace: s.namespace.clone(),
                        object: s.object.clone(),
                    };
                    if seen.insert(k.clone()) {
                        next.push(k);
                    }
                }
                if seen_subj.insert(t.subject.clone()) {
                    subjects.push(t.subject);
                }
            }
            frontier = next;
        }
        let candidates = subjects
            .into_iter()
            .filter(|s| match s {
                Subject::Set(ss) => schema.namespace(&ss.namespace).is_some(),
                Subject::Id(_) => true,
            })
            .map(|s| RelationTuple::new(namespace, object, permission, s))
            .collect();
        Ok(self
            .confirm(nid, candidates, opts)
            .await?
            .into_iter()
            .map(|t| t.subject)
            .collect())
    }
}
