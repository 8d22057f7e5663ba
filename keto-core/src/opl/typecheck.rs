//! Type checks over parsed namespaces, with Keto's messages.

use std::collections::HashMap;

use super::parser::{Ref, Span};
use super::{Diagnostic, Severity};
use crate::namespace::Namespace;

fn error(message: String, span: Span) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        start: span.start,
        end: span.end,
    }
}

pub(crate) fn check(namespaces: &[Namespace], refs: &[Ref]) -> Vec<Diagnostic> {
    let by_name: HashMap<&str, &Namespace> =
        namespaces.iter().map(|n| (n.name.as_str(), n)).collect();
    let has = |ns: &str, rel: &str| {
        by_name
            .get(ns)
            .is_some_and(|n| n.relations.iter().any(|r| r.name == rel))
    };
    let mut out = Vec::new();
    for r in refs {
        match r {
            Ref::Duplicate { message, span } => out.push(error(message.clone(), *span)),
            Ref::Type {
                namespace,
                relation,
                span,
                rel_span,
                ..
            } => {
                if !by_name.contains_key(namespace.as_str()) {
                    out.push(error(
                        format!("namespace {namespace:?} was not declared"),
                        *span,
                    ));
                } else if let Some(rel) = relation
                    && !has(namespace, rel)
                {
                    out.push(error(
                        format!("namespace {namespace:?} did not declare relation {rel:?}"),
                        *rel_span,
                    ));
                }
            }
            Ref::Relation {
                class,
                relation,
                span,
            } => {
                if !has(class, relation) {
                    out.push(error(
                        format!("relation {relation:?} was not declared in namespace {class:?}"),
                        *span,
                    ));
                }
            }
            Ref::Traverse {
                class,
                relation,
                target,
                target_span,
            } => {
                let Some(rel) = by_name
                    .get(class.as_str())
                    .and_then(|n| n.relations.iter().find(|r| &r.name == relation))
                else {
                    continue; // reported as a Relation reference
                };
                let mut seen: Vec<&str> = Vec::new();
                for t in &rel.types {
                    let ns = t.namespace.as_str();
                    if seen.contains(&ns) || !by_name.contains_key(ns) {
                        continue; // undeclared namespaces are reported by the Type reference
                    }
                    seen.push(ns);
                    if !has(ns, target) {
                        out.push(error(
                            format!("relation {target:?} was not declared in namespace {ns:?}"),
                            *target_span,
                        ));
                    }
                }
            }
        }
    }
    out
}
