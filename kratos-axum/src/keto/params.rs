//! Reading Keto's query parameters and JSON bodies, with Keto's error answers.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use keto_core::{RelationQuery, RelationTuple, SnapToken, Subject, TupleError};
use serde::de::DeserializeOwned;

use super::error::KetoError;

/// Query parameter carrying the requested depth (Keto's name).
pub(crate) const MAX_DEPTH: &str = "max-depth";
/// The largest `max-depth` accepted (the largest `limit.max_read_depth` Keto allows).
const MAX_DEPTH_VALUE: i64 = 65535;
/// Query parameter carrying a consistency token (the name of Keto's gRPC field).
pub(crate) const SNAPTOKEN: &str = "snaptoken";

const TUPLE_KEYS: [&str; 7] = [
    "namespace",
    "object",
    "relation",
    "subject_id",
    "subject_set.namespace",
    "subject_set.object",
    "subject_set.relation",
];

/// The decoded query string, in order; lookups take the first value of a key, as Keto does.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (absent means empty).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses keys outside the tuple filter and `extra`.
    pub(crate) fn only_filter_keys(&self, extra: &[&str]) -> Result<(), KetoError> {
        match self
            .0
            .iter()
            .find(|(k, _)| !TUPLE_KEYS.contains(&k.as_str()) && !extra.contains(&k.as_str()))
        {
            Some((k, _)) => Err(KetoError::bad_request(format!(
                "unknown query parameter {k:?}"
            ))),
            None => Ok(()),
        }
    }

    /// `max-depth`: absent means the server's default; otherwise an integer from 0 (the
    /// server's default) to 65535, which the engine clamps to `limit.max_read_depth`.
    pub(crate) fn max_depth(&self) -> Result<Option<i64>, KetoError> {
        self.get(MAX_DEPTH)
            .map(|v| match v.trim().parse::<i64>() {
                Ok(d) if (0..=MAX_DEPTH_VALUE).contains(&d) => Ok(d),
                _ => Err(KetoError::bad_request(format!(
                    "query parameter \"max-depth\" must be an integer between 0 and {MAX_DEPTH_VALUE}, got {v:?}"
                ))),
            })
            .transpose()
    }

    /// `snaptoken`: a token returned by a write; absent or empty means no requirement.
    pub(crate) fn snaptoken(&self) -> Result<Option<SnapToken>, KetoError> {
        match self.get(SNAPTOKEN) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                KetoError::bad_request(format!(
                    "query parameter \"snaptoken\" is not a snapshot token, got {v:?}"
                ))
            }),
        }
    }

    /// `page_size`: absent means the default.
    pub(crate) fn page_size(&self) -> Result<Option<usize>, KetoError> {
        self.get("page_size")
            .map(|v| {
                v.trim().parse::<usize>().map_err(|_| {
                    KetoError::bad_request(format!(
                        "query parameter \"page_size\" must be a positive integer, got {v:?}"
                    ))
                })
            })
            .transpose()
    }

    /// The subject given by `subject_id` or `subject_set.*`, if any.
    fn subject(&self) -> Result<Option<Subject>, TupleError> {
        if self.get("subject").is_some() {
            return Err(TupleError::DroppedSubjectKey);
        }
        let id = self.get("subject_id");
        let ns = self.get("subject_set.namespace");
        let obj = self.get("subject_set.object");
        let rel = self.get("subject_set.relation");
        let any_set = ns.is_some() || obj.is_some() || rel.is_some();
        match (id, any_set) {
            (Some(_), true) => Err(TupleError::DuplicateSubject),
            (Some(id), false) => Ok(Some(Subject::id(id))),
            (None, true) => match (ns, obj) {
                (Some(ns), Some(obj)) => Ok(Some(Subject::set(ns, obj, rel.unwrap_or_default()))),
                _ => Err(TupleError::IncompleteSubject),
            },
            (None, false) => Ok(None),
        }
    }

    /// A complete tuple (check): namespace, object, relation and a subject are required.
    pub(crate) fn tuple(&self) -> Result<RelationTuple, TupleError> {
        let subject = self.subject()?.ok_or(TupleError::NilSubject)?;
        match (
            self.get("namespace"),
            self.get("object"),
            self.get("relation"),
        ) {
            (Some(ns), Some(obj), Some(rel)) => Ok(RelationTuple::new(ns, obj, rel, subject)),
            _ => Err(TupleError::IncompleteTuple),
        }
    }

    /// A tuple filter (list, delete): every part is optional.
    pub(crate) fn query(&self) -> Result<RelationQuery, TupleError> {
        Ok(RelationQuery {
            namespace: self.get("namespace").map(str::to_owned),
            object: self.get("object").map(str::to_owned),
            relation: self.get("relation").map(str::to_owned),
            subject: self.subject()?,
        })
    }
}

/// The request body, or Keto's error answer when it could not be read: 413 when it is larger
/// than the router's body limit.
pub(crate) fn body(read: Result<Bytes, BytesRejection>) -> Result<Bytes, KetoError> {
    read.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => KetoError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than this server accepts",
        ),
        status => KetoError::new(status, "the request body could not be read"),
    })
}

/// Whether the request declares a JSON body (or declares nothing).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Decodes a JSON body: a non-JSON content type, an empty body or invalid JSON answer 400.
pub(crate) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, KetoError> {
    if !is_json(headers) {
        return Err(KetoError::bad_request(
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(KetoError::bad_request("the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| KetoError::bad_request(format!("the request body could not be decoded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_from_query() {
        let p = Params::parse(Some(
            "namespace=Doc&object=a%20b&relation=view&subject_set.namespace=User&subject_set.object=al",
        ));
        let t = p.tuple().unwrap();
        assert_eq!(t.to_string(), "Doc:a b#view@User:al");
        let p = Params::parse(Some("namespace=Doc&object=a&relation=v&subject_id=x"));
        assert_eq!(p.tuple().unwrap().subject, Subject::id("x"));
        let err = |q: &str| Params::parse(Some(q)).tuple().unwrap_err();
        assert_eq!(
            err("namespace=D&object=a&relation=v"),
            TupleError::NilSubject
        );
        assert_eq!(
            err("namespace=D&object=a&relation=v&subject_id=x&subject_set.namespace=U"),
            TupleError::DuplicateSubject
        );
        assert_eq!(
            err("namespace=D&object=a&relation=v&subject_set.namespace=U"),
            TupleError::IncompleteSubject
        );
        assert_eq!(
            err("namespace=D&object=a&relation=v&subject=x"),
            TupleError::DroppedSubjectKey
        );
        assert_eq!(
            err("object=a&relation=v&subject_id=x"),
            TupleError::IncompleteTuple
        );
    }

    #[test]
    fn numeric_parameters_are_checked_and_named() {
        let p = |q: &str| Params::parse(Some(q));
        assert_eq!(p("max-depth=65535").max_depth().unwrap(), Some(65535));
        assert_eq!(p("max-depth=%200%20").max_depth().unwrap(), Some(0));
        assert_eq!(p("").max_depth().unwrap(), None);
        for bad in [
            "max-depth=65536",
            "max-depth=-1",
            "max-depth=9223372036854775808",
            "max-depth=-9223372036854775809",
            "max-depth=",
            "max-depth=%E2%82%AC",
            "max-depth=1e3",
        ] {
            let e = p(bad).max_depth().unwrap_err();
            assert!(
                format!("{e:?}").contains("\\\"max-depth\\\""),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(p("page_size=500").page_size().unwrap(), Some(500));
        for bad in [
            "page_size=18446744073709551616",
            "page_size=-1",
            "page_size=%F0%9F%98%80",
        ] {
            let e = p(bad).page_size().unwrap_err();
            assert!(format!("{e:?}").contains("page_size"), "{bad}: {e:?}");
        }
        assert_eq!(p("snaptoken=").snaptoken().unwrap(), None);
        for bad in [
            "snaptoken=kv1_18446744073709551616",
            "snaptoken=kv1_-1",
            "snaptoken=%FF",
        ] {
            let e = p(bad).snaptoken().unwrap_err();
            assert!(format!("{e:?}").contains("snaptoken"), "{bad}: {e:?}");
        }
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge+json".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
