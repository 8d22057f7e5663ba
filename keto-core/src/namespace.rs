//! Namespaces and their relations: the compiled form of an OPL file or a legacy name list.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::opl::{self, Diagnostic};

/// A type a relation may hold: a namespace, and for subject sets also a relation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RelationType {
    /// Namespace of the subject.
    pub namespace: String,
    /// Relation of the subject set; `None` for the object itself (`User[]`).
    pub relation: Option<String>,
}

/// How the children of a rewrite combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// Any child suffices (`||`).
    Or,
    /// Every child must hold (`&&`).
    And,
}

/// A subject-set rewrite: an operator over children.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rewrite {
    /// The operator.
    pub operator: Operator,
    /// The operands.
    pub children: Vec<Child>,
}

/// One operand of a rewrite.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Child {
    /// `this.permits.R(ctx)` / `this.related.R.includes(ctx.subject)`.
    ComputedSubjectSet {
        /// The relation on the same object.
        relation: String,
    },
    /// `this.related.R.traverse(x => x.permits.P(ctx))`.
    TupleToSubjectSet {
        /// The relation whose subject sets are followed.
        relation: String,
        /// The relation checked on each followed object.
        computed_subject_set_relation: String,
    },
    /// A parenthesised sub-expression.
    Rewrite(Rewrite),
    /// `!child`.
    Invert(Box<Child>),
}

/// A relation (or permit) of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// Its name.
    pub name: String,
    /// The subject types it may hold (empty for permits).
    pub types: Vec<RelationType>,
    /// The rewrite of a permit.
    pub rewrite: Option<Rewrite>,
}

impl Relation {
    /// Whether `subject` may be stored directly under this relation (Keto's
    /// `AllowsDirectMember`, used in strict mode). `rel == None` means an untyped relation.
    pub(crate) fn allows_direct(rel: Option<&Relation>, subject: SubjectKind<'_>) -> bool {
        match subject {
            SubjectKind::Id => rel.is_none_or(|r| r.rewrite.is_none()),
            SubjectKind::Set(ns, relation) => rel.is_some_and(|r| {
                r.rewrite.is_none()
                    && r.types.iter().any(|t| {
                        t.namespace == ns && t.relation.as_deref().unwrap_or("") == relation
                    })
            }),
        }
    }
}

/// The shape of a subject as the strict-mode rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SubjectKind<'a> {
    Id,
    Set(&'a str, &'a str),
}

/// A namespace with its relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// Its relations and permits, in declaration order. Empty means "any relation name".
    pub relations: Vec<Relation>,
}

impl Namespace {
    /// A namespace without declared relations (legacy configuration).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            relations: Vec::new(),
        }
    }

    /// The relation named `name`.
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }
}

/// Errors looking up a relation in a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The namespace is not configured.
    #[error("namespace {0:?} was not found")]
    UnknownNamespace(String),
    /// The namespace declares relations, but not this one.
    #[error("relation {0:?} does not exist")]
    UnknownRelation(String),
    /// The OPL source has errors.
    #[error("{} error(s) in the namespace configuration; first: {}", .0.len(), .0.first().map(|d| d.to_string()).unwrap_or_default())]
    Opl(Vec<Diagnostic>),
}

type H = foldhash::fast::RandomState;

#[derive(Debug)]
struct NsEntry {
    ns: Namespace,
    by_name: HashMap<String, usize, H>,
}

#[derive(Debug, Default)]
struct SchemaInner {
    map: HashMap<String, NsEntry, H>,
    order: Vec<String>,
}

/// The set of configured namespaces, cheap to clone.
///
/// ```
/// use keto_core::Schema;
/// let schema = Schema::from_opl("class User implements Namespace {}").unwrap();
/// assert!(schema.namespace("User").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Schema {
    inner: Arc<SchemaInner>,
}

impl Schema {
    /// Builds a schema from namespaces.
    pub fn new(namespaces: impl IntoIterator<Item = Namespace>) -> Self {
        let mut map = HashMap::default();
        let mut order = Vec::new();
        for ns in namespaces {
            let by_name = ns
                .relations
                .iter()
                .enumerate()
                .map(|(i, r)| (r.name.clone(), i))
                .collect();
            order.push(ns.name.clone());
            map.insert(ns.name.clone(), NsEntry { ns, by_name });
        }
        order.dedup();
        Self {
            inner: Arc::new(SchemaInner { map, order }),
        }
    }

    /// A legacy configuration: namespaces by name, without relations.
    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(names.into_iter().map(Namespace::named))
    }

    /// Parses and type-checks an OPL file. Warnings are dropped; use [`opl::parse`] to see
    /// them.
    pub fn from_opl(source: &str) -> Result<Self, SchemaError> {
        let out = opl::parse(source);
        if out.has_errors() {
            return Err(SchemaError::Opl(out.errors().cloned().collect()));
        }
        Ok(Self::new(out.namespaces))
    }

    /// The namespace named `name`.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.inner.map.get(name).map(|e| &e.ns)
    }

    /// All namespaces in declaration order.
    pub fn namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.inner.order.iter().filter_map(|n| self.namespace(n))
    }

    /// Keto's relation lookup: `Ok(None)` when the relation is empty, the namespace is
    /// unknown or it declares no relations; an error when the namespace declares relations
    /// but not this one.
    pub fn relation_for(&self, ns: &str, rel: &str) -> Result<Option<&Relation>, SchemaError> {
        if rel.is_empty() {
            return Ok(None);
        }
        let Some(e) = self.inner.map.get(ns) else {
            return Ok(None);
        };
        if e.ns.relations.is_empty() {
            return Ok(None);
        }
        match e.by_name.get(rel) {
            Some(&i) => Ok(Some(&e.ns.relations[i])),
            None => Err(SchemaError::UnknownRelation(rel.to_owned())),
        }
    }

    /// Whether evaluating `ns#rel` can pass through a negation (then reverse lookups must
    /// consider objects not connected to the subject).
    pub(crate) fn uses_negation(&self, ns: &str, rel: &str) -> bool {
        fn child(s: &Schema, ns: &str, c: &Child, seen: &mut Vec<(String, String)>) -> bool {
            match c {
                Child::Invert(_) => true,
                Child::ComputedSubjectSet { relation } => walk(s, ns, relation, seen),
                Child::TupleToSubjectSet {
                    relation,
                    computed_subject_set_relation,
                } => {
                    let Ok(Some(r)) = s.relation_for(ns, relation) else {
                        return false;
                    };
                    let targets: Vec<String> =
                        r.types.iter().map(|t| t.namespace.clone()).collect();
                    targets
                        .iter()
                        .any(|t| walk(s, t, computed_subject_set_relation, seen))
                }
                Child::Rewrite(rw) => rw.children.iter().any(|c| child(s, ns, c, seen)),
            }
        }
        fn walk(s: &Schema, ns: &str, rel: &str, seen: &mut Vec<(String, String)>) -> bool {
            if seen.iter().any(|(a, b)| a == ns && b == rel) {
                return false;
            }
            seen.push((ns.to_owned(), rel.to_owned()));
            match s.relation_for(ns, rel) {
                Ok(Some(r)) => r
                    .rewrite
                    .as_ref()
                    .is_some_and(|rw| rw.children.iter().any(|c| child(s, ns, c, seen))),
                _ => false,
            }
        }
        walk(self, ns, rel, &mut Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_lookup_rules() {
        let s = Schema::from_opl(
            "class User implements Namespace {}\nclass Doc implements Namespace { related: { viewers: User[] } }",
        )
        .unwrap();
        assert!(s.relation_for("Doc", "viewers").unwrap().is_some());
        assert!(s.relation_for("Doc", "").unwrap().is_none());
        assert!(s.relation_for("User", "anything").unwrap().is_none());
        assert!(s.relation_for("Nope", "x").unwrap().is_none());
        assert_eq!(
            s.relation_for("Doc", "x").unwrap_err().to_string(),
            "relation \"x\" does not exist"
        );
        let legacy = Schema::from_names(["a", "b"]);
        assert_eq!(legacy.namespaces().count(), 2);
    }
}
