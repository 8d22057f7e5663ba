//! Expand: the tree of subjects that have a relation on an object.

use std::collections::{HashMap, HashSet};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::engine::Keto;
use crate::error::EngineError;
use crate::namespace::{Child, Operator, Relation, Rewrite, Schema};
use crate::store::LevelRequest;
use crate::tuple::{Subject, SubjectSet};

/// The most levels an expand tree has, whatever `limit.max_read_depth` allows: a node this
/// deep is shown without children, as at the depth limit. Stored tuples can chain subject
/// sets arbitrarily far (`g0#member@g1#member`, `g1#member@g2#member`, …); the bound keeps
/// building, serialising, comparing and dropping a tree within a small, fixed stack, and its
/// JSON (two levels of nesting per tree level) within the 128 levels common JSON parsers
/// accept by default (serde_json's limit).
pub const MAX_EXPAND_TREE_DEPTH: usize = 50;

/// The kind of an expand tree node (Keto's `TreeNodeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    /// Any child grants membership.
    Union,
    /// The first child minus the others.
    Exclusion,
    /// Every child must grant membership.
    Intersection,
    /// A subject without further expansion.
    Leaf,
}

/// A node of an expand tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandTree {
    /// The node kind.
    pub node_type: NodeType,
    /// The subject (or subject set) this node stands for.
    pub subject: Subject,
    /// The children, possibly none.
    pub children: Vec<ExpandTree>,
}

impl ExpandTree {
    fn leaf(subject: Subject) -> Self {
        ExpandTree {
            node_type: NodeType::Leaf,
            subject,
            children: Vec::new(),
        }
    }

    /// Every leaf subject in the tree, in order.
    pub fn leaves(&self) -> Vec<&Subject> {
        let mut out = Vec::new();
        fn walk<'t>(t: &'t ExpandTree, out: &mut Vec<&'t Subject>) {
            if t.node_type == NodeType::Leaf {
                out.push(&t.subject);
            }
            for c in &t.children {
                walk(c, out);
            }
        }
        walk(self, &mut out);
        out
    }
}

/// Serialises in Keto's shape: `{"type", "tuple": {"namespace":"", …, "subject_id" |
/// "subject_set"}, "children"?}`.
impl Serialize for ExpandTree {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct T<'a> {
            namespace: &'a str,
            object: &'a str,
            relation: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            subject_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            subject_set: Option<&'a SubjectSet>,
        }
        let n = if self.children.is_empty() { 2 } else { 3 };
        let mut st = s.serialize_struct("ExpandTree", n)?;
        st.serialize_field("type", &self.node_type)?;
        if !self.children.is_empty() {
            st.serialize_field("children", &self.children)?;
        }
        let (subject_id, subject_set) = match &self.subject {
            Subject::Id(id) => (Some(id.as_str()), None),
            Subject::Set(ss) => (None, Some(ss)),
        };
        st.serialize_field(
            "tuple",
            &T {
                namespace: "",
                object: "",
                relation: "",
                subject_id,
                subject_set,
            },
        )?;
        st.end()
    }
}

struct Builder<'c> {
    cache: &'c HashMap<SubjectSet, Vec<Subject>>,
    schema: &'c Schema,
    strict: bool,
    rewrites: bool,
    budget: usize,
    needs: Vec<SubjectSet>,
    /// Levels of the node being built (bounded by [`MAX_EXPAND_TREE_DEPTH`]).
    level: usize,
}

fn empty(node_type: NodeType, subject: Subject) -> ExpandTree {
    ExpandTree {
        node_type,
        subject,
        children: Vec::new(),
    }
}

fn child_rank(c: &Child) -> u8 {
    match c {
        Child::ComputedSubjectSet { .. } => 0,
        Child::TupleToSubjectSet { .. } => 1,
        Child::Rewrite(_) => 2,
        Child::Invert(_) => 3,
    }
}

impl Builder<'_> {
    /// The stored subjects of a set, or `None` (recorded as a need) when not loaded yet.
    fn subjects(&mut self, set: &SubjectSet) -> Option<&Vec<Subject>> {
        match self.cache.get(set) {
            Some(v) => Some(v),
            None => {
                self.needs.push(set.clone());
                None
            }
        }
    }

    /// Whether the node about to be built may have children: not when it sits at the last
    /// level the tree may have (it is then shown without them). Otherwise enters its level
    /// (leave it with `self.level -= 1`).
    fn enter(&mut self) -> bool {
        if self.level + 1 >= MAX_EXPAND_TREE_DEPTH {
            return false;
        }
        self.level += 1;
        true
    }

    fn build(
        &mut self,
        set: &SubjectSet,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> Option<ExpandTree> {
        if !self.enter() {
            return Some(empty(NodeType::Union, Subject::Set(set.clone())));
        }
        let out = self.build_node(set, rest, ancestors);
        self.level -= 1;
        out
    }

    fn build_node(
        &mut self,
        set: &SubjectSet,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> Option<ExpandTree> {
        let subject = Subject::Set(set.clone());
        if ancestors.contains(set) {
            // a cycle: shown, not expanded again
            return Some(empty(NodeType::Union, subject));
        }
        let rel = self
            .schema
            .relation_for(&set.namespace, &set.relation)
            .ok()
            .flatten();
        if rel.is_none() && self.strict && !set.relation.is_empty() {
            return None;
        }
        ancestors.push(set.clone());
        let out = match rel.and_then(|r| r.rewrite.as_ref()) {
            Some(rw) if self.rewrites => Some(self.rewrite(set, rw, rest, ancestors)),
            _ => Some(self.direct(set, rel, rest, ancestors)),
        };
        ancestors.pop();
        out
    }

    fn direct(
        &mut self,
        set: &SubjectSet,
        rel: Option<&Relation>,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> ExpandTree {
        let subject = Subject::Set(set.clone());
        if self.budget == 0 || rest <= 1 {
            // size or depth limit: the set is shown, its subjects are not
            return empty(NodeType::Union, subject);
        }
        let Some(subjects) = self.subjects(set).cloned() else {
            return empty(NodeType::Union, subject);
        };
        let mut children = Vec::new();
        for s in subjects {
            if self.budget == 0 {
                break;
            }
            if self.strict
                && let Some(rel) = rel
            {
                let Subject::Set(ss) = &s else { continue };
                if !rel.types.iter().any(|t| {
                    t.namespace == ss.namespace
                        && t.relation.as_deref().unwrap_or("") == ss.relation
                }) {
                    continue;
                }
            }
            self.budget -= 1;
            match s {
                Subject::Set(ss) if !ss.relation.is_empty() => {
                    if let Some(t) = self.build(&ss, rest - 1, ancestors) {
                        children.push(t);
                    }
                }
                other => children.push(ExpandTree::leaf(other)),
            }
        }
        ExpandTree {
            node_type: NodeType::Union,
            subject,
            children,
        }
    }

    fn rewrite(
        &mut self,
        set: &SubjectSet,
        rw: &Rewrite,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> ExpandTree {
        let mut kids: Vec<&Child> = rw.children.iter().collect();
        kids.sort_by_key(|c| child_rank(c));
        let children = kids
            .into_iter()
            .filter_map(|c| self.child(set, c, rest, ancestors))
            .collect();
        ExpandTree {
            node_type: match rw.operator {
                Operator::Or => NodeType::Union,
                Operator::And => NodeType::Intersection,
            },
            subject: Subject::Set(set.clone()),
            children,
        }
    }

    fn child(
        &mut self,
        set: &SubjectSet,
        c: &Child,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> Option<ExpandTree> {
        if !self.enter() {
            return Some(empty(NodeType::Union, Subject::Set(set.clone())));
        }
        let out = self.child_node(set, c, rest, ancestors);
        self.level -= 1;
        out
    }

    fn child_node(
        &mut self,
        set: &SubjectSet,
        c: &Child,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> Option<ExpandTree> {
        match c {
            Child::ComputedSubjectSet { relation } => self.build(
                &SubjectSet::new(&set.namespace, &set.object, relation),
                rest - 1,
                ancestors,
            ),
            Child::TupleToSubjectSet {
                relation,
                computed_subject_set_relation,
            } => {
                let via = SubjectSet::new(&set.namespace, &set.object, relation);
                let mut node = empty(NodeType::Union, Subject::Set(via.clone()));
                if rest <= 1 || self.budget == 0 {
                    return Some(node);
                }
                let Some(subjects) = self.subjects(&via).cloned() else {
                    return Some(node);
                };
                for s in subjects {
                    let Subject::Set(ss) = s else { continue };
                    if self.budget == 0 {
                        break;
                    }
                    self.budget -= 1;
                    let target =
                        SubjectSet::new(ss.namespace, ss.object, computed_subject_set_relation);
                    if let Some(t) = self.build(&target, rest - 1, ancestors) {
                        node.children.push(t);
                    }
                }
                Some(node)
            }
            Child::Rewrite(rw) => Some(self.rewrite(set, rw, rest, ancestors)),
            Child::Invert(inner) => {
                let inner = self.child(set, inner, rest, ancestors)?;
                Some(ExpandTree {
                    node_type: NodeType::Exclusion,
                    subject: Subject::Set(set.clone()),
                    children: vec![inner],
                })
            }
        }
    }
}

impl Keto {
    /// Expands the subject set into a tree of its subjects, following subject sets up to the
    /// max depth and at most `max_expand_size` tuples. With `expand_rewrites`, permits expand
    /// through their rewrites (union, intersection, exclusion for negations). `Ok(None)` when
    /// nothing is stored under the set (Keto answers 404). The store is read one level per
    /// call.
    ///
    /// Runs in a `keto.expand` span (namespace and relation once the schema knows them).
    #[tracing::instrument(
        name = "keto.expand",
        skip_all,
        fields(namespace = tracing::field::Empty, relation = tracing::field::Empty)
    )]
    pub async fn expand(
        &self,
        nid: Uuid,
        set: &SubjectSet,
        max_depth: Option<i64>,
    ) -> Result<Option<ExpandTree>, EngineError> {
        let schema = self.schema();
        if schema.namespace(&set.namespace).is_none() {
            return Err(EngineError::UnknownNamespace(set.namespace.clone()));
        }
        schema.relation_for(&set.namespace, &set.relation)?;
        let span = tracing::Span::current();
        span.record("namespace", set.namespace.as_str());
        span.record("relation", set.relation.as_str());
        let d = self.clamp_depth(max_depth)?;
        let cfg = self.config();
        let mut cache: HashMap<SubjectSet, Vec<Subject>> = HashMap::new();
        loop {
            let mut b = Builder {
                cache: &cache,
                schema: &schema,
                strict: cfg.strict_mode,
                rewrites: cfg.expand_rewrites,
                budget: cfg.max_expand_size,
                needs: Vec::new(),
                level: 0,
            };
            let tree = b.build(set, d, &mut Vec::new());
            if b.needs.is_empty() {
                let Some(tree) = tree else { return Ok(None) };
                if tree.children.is_empty() && cache.get(set).is_none_or(Vec::is_empty) {
                    return Ok(None);
                }
                return Ok(Some(tree));
            }
            let mut seen = HashSet::new();
            let needs: Vec<SubjectSet> = b
                .needs
                .into_iter()
                .filter(|n| seen.insert(n.clone()))
                .collect();
            let resp = self
                .store()
                .read_level(
                    nid,
                    &LevelRequest {
                        subjects: needs.clone(),
                        ..LevelRequest::default()
                    },
                )
                .await?;
            for (k, v) in needs.into_iter().zip(resp.subjects) {
                cache.insert(k, v);
            }
        }
    }
}
