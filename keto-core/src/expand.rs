//! Expand: the tree of subjects that have a relation on an object.

use std::collections::{HashMap, HashSet};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::engine::Keto;
use crate::error::EngineError;
use crate::store::LevelRequest;
use crate::tuple::{Subject, SubjectSet};

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
    budget: usize,
}

impl Builder<'_> {
    fn build(
        &mut self,
        set: &SubjectSet,
        rest: i32,
        ancestors: &mut Vec<SubjectSet>,
    ) -> ExpandTree {
        let subject = Subject::Set(set.clone());
        if ancestors.contains(set) {
            return ExpandTree {
                node_type: NodeType::Union,
                subject,
                children: Vec::new(),
            };
        }
        if rest <= 1 {
            // depth limit: the set is shown, its subjects are not
            return ExpandTree {
                node_type: NodeType::Union,
                subject,
                children: Vec::new(),
            };
        }
        let mut children = Vec::new();
        ancestors.push(set.clone());
        for s in self.cache.get(set).map(Vec::as_slice).unwrap_or_default() {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            match s {
                Subject::Set(ss) if !ss.relation.is_empty() => {
                    children.push(self.build(ss, rest - 1, ancestors))
                }
                other => children.push(ExpandTree::leaf(other.clone())),
            }
        }
        ancestors.pop();
        ExpandTree {
            node_type: NodeType::Union,
            subject,
            children,
        }
    }
}

impl Keto {
    /// Expands the subject set into a tree of its subjects, following subject sets up to the
    /// max depth and at most `max_expand_size` tuples. `Ok(None)` when nothing is stored
    /// under the set (Keto answers 404). The store is read one level per call.
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
        let d = self.clamp_depth(max_depth)?;
        let budget = self.config().max_expand_size;
        let mut cache: HashMap<SubjectSet, Vec<Subject>> = HashMap::new();
        let mut frontier = vec![set.clone()];
        let mut rest = d;
        let mut loaded = 0usize;
        while !frontier.is_empty() && rest > 1 && loaded <= budget {
            let req = LevelRequest {
                subjects: frontier.clone(),
                ..LevelRequest::default()
            };
            let resp = self.store().read_level(nid, &req).await?;
            let mut next = Vec::new();
            let mut queued: HashSet<SubjectSet> = HashSet::new();
            for (k, subjects) in frontier.into_iter().zip(resp.subjects) {
                loaded += subjects.len();
                for s in &subjects {
                    if let Subject::Set(ss) = s
                        && !ss.relation.is_empty()
                        && !cache.contains_key(ss)
                        && queued.insert(ss.clone())
                    {
                        next.push(ss.clone());
                    }
                }
                cache.insert(k, subjects);
            }
            next.retain(|s| !cache.contains_key(s));
            frontier = next;
            rest -= 1;
        }
        if cache.get(set).is_none_or(Vec::is_empty) {
            return Ok(None);
        }
        let mut b = Builder {
            cache: &cache,
            budget,
        };
        Ok(Some(b.build(set, d, &mut Vec::new())))
    }
}
