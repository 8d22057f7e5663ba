//! Relation tuples, subjects and tuple filters, with Keto's string and JSON forms.
//!
//! A relation tuple reads `namespace:object#relation@subject`. The subject is either an
//! opaque subject id (`alice`) or a subject set (`User:alice`, `Group:eng#member`). A subject
//! set may have an empty relation: `User:alice` and `User:alice#` are the same subject, and
//! neither equals the subject id `alice`.
//!
//! ```
//! use keto_core::{RelationTuple, Subject};
//! let t: RelationTuple = "Group:eng#member@User:alice".parse().unwrap();
//! assert_eq!(t.subject, Subject::set("User", "alice", ""));
//! assert_eq!(t.to_string(), "Group:eng#member@User:alice");
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors raised while decoding or validating a relation tuple.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TupleError {
    /// The string form could not be decoded (Keto's `malformed string input`).
    #[error("malformed string input: {0}")]
    Malformed(&'static str),
    /// The JSON used the legacy `subject` key.
    #[error(r#"provide "subject_id" or "subject_set.*"; support for "subject" was dropped"#)]
    DroppedSubjectKey,
    /// Both `subject_id` and `subject_set` were given.
    #[error("exactly one of subject_set or subject_id has to be provided")]
    DuplicateSubject,
    /// A subject set misses one of its fields.
    #[error(r#"incomplete subject, provide "subject_id" or a complete "subject_set.*""#)]
    IncompleteSubject,
    /// No subject was given.
    #[error("subject is not allowed to be nil")]
    NilSubject,
    /// The tuple misses its namespace, object or relation.
    #[error(r#"incomplete tuple, provide "namespace", "object", "relation", and a subject"#)]
    IncompleteTuple,
}

/// A set of subjects: everyone who has `relation` on `namespace:object`.
///
/// An empty relation denotes the object itself (`User:alice`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectSet {
    /// Namespace of the set.
    pub namespace: String,
    /// Object of the set.
    pub object: String,
    /// Relation of the set; may be empty.
    pub relation: String,
}

impl SubjectSet {
    /// Builds a subject set.
    pub fn new(
        namespace: impl Into<String>,
        object: impl Into<String>,
        relation: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            object: object.into(),
            relation: relation.into(),
        }
    }
}

impl fmt::Display for SubjectSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.object)?;
        if !self.relation.is_empty() {
            write!(f, "#{}", self.relation)?;
        }
        Ok(())
    }
}

impl FromStr for SubjectSet {
    type Err = TupleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (namespace, rest) = s
            .split_once(':')
            .ok_or(TupleError::Malformed("expected subject set to contain ':'"))?;
        let (object, relation) = rest.split_once('#').unwrap_or((rest, ""));
        Ok(SubjectSet::new(namespace, object, relation))
    }
}

/// The subject of a relation tuple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// An opaque subject id without namespace.
    Id(String),
    /// A subject set.
    Set(SubjectSet),
}

impl Subject {
    /// A subject id.
    pub fn id(id: impl Into<String>) -> Self {
        Subject::Id(id.into())
    }
    /// A subject set; pass `""` as relation for the object itself.
    pub fn set(
        namespace: impl Into<String>,
        object: impl Into<String>,
        relation: impl Into<String>,
    ) -> Self {
        Subject::Set(SubjectSet::new(namespace, object, relation))
    }
    /// The subject set, if this is one.
    pub fn as_set(&self) -> Option<&SubjectSet> {
        match self {
            Subject::Set(s) => Some(s),
            Subject::Id(_) => None,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Id(id) => f.write_str(id),
            Subject::Set(s) => s.fmt(f),
        }
    }
}

impl FromStr for Subject {
    type Err = TupleError;
    /// Parses a subject as Keto does: surrounding parentheses are trimmed, and a `:` makes
    /// it a subject set.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_matches(|c| c == '(' || c == ')');
        if s.contains(':') {
            Ok(Subject::Set(s.parse()?))
        } else {
            Ok(Subject::Id(s.to_owned()))
        }
    }
}

impl From<SubjectSet> for Subject {
    fn from(s: SubjectSet) -> Self {
        Subject::Set(s)
    }
}

/// A relation tuple `namespace:object#relation@subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationTuple {
    /// Namespace of the object.
    pub namespace: String,
    /// The object.
    pub object: String,
    /// The relation.
    pub relation: String,
    /// The subject.
    pub subject: Subject,
}

impl RelationTuple {
    /// Builds a tuple.
    pub fn new(
        namespace: impl Into<String>,
        object: impl Into<String>,
        relation: impl Into<String>,
        subject: Subject,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            object: object.into(),
            relation: relation.into(),
            subject,
        }
    }

    /// The object and relation of this tuple as a subject set.
    pub fn object_set(&self) -> SubjectSet {
        SubjectSet::new(&self.namespace, &self.object, &self.relation)
    }

    /// Parses a list of tuples, one per line, as Keto's CLI does: lines are trimmed, blank
    /// lines and lines starting with `//` are skipped. Errors name the 1-based line.
    pub fn parse_lines(input: &str) -> Result<Vec<RelationTuple>, (usize, String, TupleError)> {
        let mut out = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            out.push(line.parse().map_err(|e| (i + 1, line.to_owned(), e))?);
        }
        Ok(out)
    }
}

impl fmt::Display for RelationTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}#{}@{}",
            self.namespace, self.object, self.relation, self.subject
        )
    }
}

impl FromStr for RelationTuple {
    type Err = TupleError;
    /// Parses Keto's string form with its cut-based rules.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (namespace, rest) = s
            .split_once(':')
            .ok_or(TupleError::Malformed("expected input to contain ':'"))?;
        let (object, rest) = rest
            .split_once('#')
            .ok_or(TupleError::Malformed("expected input to contain '#'"))?;
        let (relation, subject) = rest
            .split_once('@')
            .ok_or(TupleError::Malformed("expected input to contain '@'"))?;
        Ok(RelationTuple::new(
            namespace,
            object,
            relation,
            subject.parse()?,
        ))
    }
}

/// Keto's JSON shape of a tuple (`subject_id` or `subject_set`).
#[derive(Serialize, Deserialize)]
struct TupleJson {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    relation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_set: Option<SubjectSetJson>,
    #[serde(default, skip_serializing)]
    subject: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct SubjectSetJson {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    relation: Option<String>,
}

fn subject_from_json(
    id: Option<String>,
    set: Option<SubjectSetJson>,
    legacy: bool,
) -> Result<Subject, TupleError> {
    if legacy {
        return Err(TupleError::DroppedSubjectKey);
    }
    match (id, set) {
        (Some(_), Some(_)) => Err(TupleError::DuplicateSubject),
        (Some(id), None) => Ok(Subject::Id(id)),
        (None, Some(s)) => match (s.namespace, s.object, s.relation) {
            (Some(n), Some(o), r) => Ok(Subject::set(n, o, r.unwrap_or_default())),
            _ => Err(TupleError::IncompleteSubject),
        },
        (None, None) => Err(TupleError::NilSubject),
    }
}

impl TryFrom<TupleJson> for RelationTuple {
    type Error = TupleError;
    fn try_from(j: TupleJson) -> Result<Self, TupleError> {
        let subject = subject_from_json(j.subject_id, j.subject_set, j.subject.is_some())?;
        match (j.namespace, j.object, j.relation) {
            (Some(n), Some(o), Some(r)) => Ok(RelationTuple::new(n, o, r, subject)),
            _ => Err(TupleError::IncompleteTuple),
        }
    }
}

impl From<&RelationTuple> for TupleJson {
    fn from(t: &RelationTuple) -> Self {
        let (subject_id, subject_set) = match &t.subject {
            Subject::Id(id) => (Some(id.clone()), None),
            Subject::Set(s) => (
                None,
                Some(SubjectSetJson {
                    namespace: Some(s.namespace.clone()),
                    object: Some(s.object.clone()),
                    relation: Some(s.relation.clone()),
                }),
            ),
        };
        TupleJson {
            namespace: Some(t.namespace.clone()),
            object: Some(t.object.clone()),
            relation: Some(t.relation.clone()),
            subject_id,
            subject_set,
            subject: None,
        }
    }
}

impl Serialize for RelationTuple {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TupleJson::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for RelationTuple {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = TupleJson::deserialize(d)?;
        RelationTuple::try_from(j).map_err(serde::de::Error::custom)
    }
}

/// A filter over relation tuples: every `Some` field must match. Used to list and to delete.
///
/// Its JSON form is Keto's query shape (`namespace`, `object`, `relation`, `subject_id`,
/// `subject_set`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RelationQuery {
    /// Namespace to match.
    pub namespace: Option<String>,
    /// Object to match.
    pub object: Option<String>,
    /// Relation to match.
    pub relation: Option<String>,
    /// Subject to match exactly.
    pub subject: Option<Subject>,
}

impl RelationQuery {
    /// A filter that matches every tuple.
    pub fn all() -> Self {
        Self::default()
    }
    /// Restricts the namespace.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }
    /// Restricts the object.
    pub fn object(mut self, o: impl Into<String>) -> Self {
        self.object = Some(o.into());
        self
    }
    /// Restricts the relation.
    pub fn relation(mut self, r: impl Into<String>) -> Self {
        self.relation = Some(r.into());
        self
    }
    /// Restricts the subject.
    pub fn subject(mut self, s: Subject) -> Self {
        self.subject = Some(s);
        self
    }
    /// Whether `t` matches this filter.
    pub fn matches(&self, t: &RelationTuple) -> bool {
        self.namespace.as_ref().is_none_or(|n| *n == t.namespace)
            && self.object.as_ref().is_none_or(|o| *o == t.object)
            && self.relation.as_ref().is_none_or(|r| *r == t.relation)
            && self.subject.as_ref().is_none_or(|s| *s == t.subject)
    }
    /// The filter of every tuple under `namespace:object#relation`.
    pub fn from_set(s: &SubjectSet) -> Self {
        Self {
            namespace: Some(s.namespace.clone()),
            object: Some(s.object.clone()),
            relation: Some(s.relation.clone()),
            subject: None,
        }
    }
    /// The exact-match filter of one tuple.
    pub fn exact(t: &RelationTuple) -> Self {
        Self {
            namespace: Some(t.namespace.clone()),
            object: Some(t.object.clone()),
            relation: Some(t.relation.clone()),
            subject: Some(t.subject.clone()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct QueryJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_set: Option<SubjectSetJson>,
    #[serde(default, skip_serializing)]
    subject: Option<serde_json::Value>,
}

impl Serialize for RelationQuery {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (subject_id, subject_set) = match &self.subject {
            None => (None, None),
            Some(Subject::Id(id)) => (Some(id.clone()), None),
            Some(Subject::Set(ss)) => (
                None,
                Some(SubjectSetJson {
                    namespace: Some(ss.namespace.clone()),
                    object: Some(ss.object.clone()),
                    relation: Some(ss.relation.clone()),
                }),
            ),
        };
        QueryJson {
            namespace: self.namespace.clone(),
            object: self.object.clone(),
            relation: self.relation.clone(),
            subject_id,
            subject_set,
            subject: None,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RelationQuery {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = QueryJson::deserialize(d)?;
        let subject = if j.subject.is_none() && j.subject_id.is_none() && j.subject_set.is_none() {
            None
        } else {
            Some(
                subject_from_json(j.subject_id, j.subject_set, j.subject.is_some())
                    .map_err(serde::de::Error::custom)?,
            )
        };
        Ok(RelationQuery {
            namespace: j.namespace,
            object: j.object,
            relation: j.relation,
            subject,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> RelationTuple {
        s.parse().unwrap()
    }

    #[test]
    fn keto_vectors() {
        assert_eq!(t("n:o#r@s").subject, Subject::id("s"));
        assert_eq!(t("n:o#r@n:o#r").subject, Subject::set("n", "o", "r"));
        assert_eq!(t("n:o#r@n:o#...").subject, Subject::set("n", "o", "..."));
        assert_eq!(t("n:o#r@n:o#").subject, Subject::set("n", "o", ""));
        assert_eq!(t("n:o#r@n:o").subject, Subject::set("n", "o", ""));
        assert_eq!(t("n:o#r@(n:o#r)").subject, Subject::set("n", "o", "r"));
        for bad in ["no-colon#in@this", "no:hash-in@this", "no:at#in-this"] {
            let e = bad.parse::<RelationTuple>().unwrap_err();
            assert!(e.to_string().starts_with("malformed string input"), "{bad}");
        }
        let x = t("#dev:@ory#:working:@projects:keto#awesome");
        assert_eq!(x.namespace, "#dev");
        assert_eq!(x.object, "@ory");
        assert_eq!(x.relation, ":working:");
        assert_eq!(x.subject, Subject::set("projects", "keto", "awesome"));
    }

    #[test]
    fn empty_relation_subjects() {
        assert_eq!(t("n:o#r@User:alice"), t("n:o#r@User:alice#"));
        assert_ne!(t("n:o#r@User:alice"), t("n:o#r@alice"));
        assert_eq!(t("n:o#r@User:alice#").to_string(), "n:o#r@User:alice");
    }

    #[test]
    fn roundtrip_display() {
        for s in ["n:o#r@s", "n:o#r@n:o#r", "n:o#r@n:o", "a:b#c@d:e#..."] {
            assert_eq!(t(s).to_string(), s);
        }
    }

    #[test]
    fn json() {
        let x: RelationTuple = serde_json::from_str(
            r#"{"namespace":"n","object":"o","relation":"r","subject_set":{"namespace":"u","object":"a","relation":""}}"#,
        )
        .unwrap();
        assert_eq!(x, t("n:o#r@u:a"));
        let v = serde_json::to_value(&x).unwrap();
        assert_eq!(v["subject_set"]["relation"], "");
        assert!(v.get("subject_id").is_none());
        let err = |s: &str| {
            serde_json::from_str::<RelationTuple>(s)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"namespace":"n","object":"o","relation":"r"}"#).contains("nil"));
        assert!(
            err(r#"{"namespace":"n","object":"o","relation":"r","subject_id":"x","subject_set":{"namespace":"a","object":"b","relation":"c"}}"#)
                .contains("exactly one of subject_set or subject_id")
        );
        assert!(
            err(r#"{"namespace":"n","object":"o","relation":"r","subject":"x"}"#)
                .contains("was dropped")
        );
        assert!(
            err(r#"{"namespace":"n","object":"o","relation":"r","subject_set":{"namespace":"a"}}"#)
                .contains("incomplete subject")
        );
        assert!(
            err(r#"{"object":"o","relation":"r","subject_id":"x"}"#).contains("incomplete tuple")
        );
    }

    #[test]
    fn query_json_and_match() {
        let q: RelationQuery =
            serde_json::from_str(r#"{"namespace":"n","subject_id":"s"}"#).unwrap();
        assert!(q.matches(&t("n:o#r@s")));
        assert!(!q.matches(&t("n:o#r@x")));
        assert!(RelationQuery::all().matches(&t("a:b#c@d")));
    }

    #[test]
    fn parse_lines() {
        let v = RelationTuple::parse_lines("// c\n\n  a:b#c@d \n").unwrap();
        assert_eq!(v.len(), 1);
        let e = RelationTuple::parse_lines("a:b#c@d\nbad").unwrap_err();
        assert_eq!(e.0, 2);
    }
}
