//! A Zanzibar-style permission engine compatible with Ory Keto, embeddable in-process.
//!
//! Relation tuples (`namespace:object#relation@subject`) live in a [`TupleStore`]; namespaces
//! come from an Ory Permission Language file ([`Schema::from_opl`]) or a legacy name list; the
//! [`Keto`] engine answers checks with Keto's exact semantics (depth accounting, three-valued
//! results, strict mode), expands subject sets, lists tuples, and adds what Keto lacks:
//! reverse lookups, consistency tokens and contextual tuples.
//!
//! ```
//! use std::sync::Arc;
//! use keto_core::{CheckOptions, Config, Keto, MemoryStore, RelationTuple, Schema};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let schema = Schema::from_opl(r#"
//!     class User implements Namespace {}
//!     class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
//!     class Doc implements Namespace {
//!         related: { viewers: (User | SubjectSet<Group, "members">)[] }
//!         permits = { view: (ctx) => this.related.viewers.includes(ctx.subject) }
//!     }
//! "#).unwrap();
//! let keto = Keto::new(schema, Arc::new(MemoryStore::new()), Config::default()).unwrap();
//! let nid = uuid::Uuid::new_v4();
//! let t = |s: &str| s.parse::<RelationTuple>().unwrap();
//! let token = keto
//!     .insert(nid, [t("Group:eng#members@User:alice"), t("Doc:readme#viewers@Group:eng#members")])
//!     .await
//!     .unwrap();
//! let opts = CheckOptions { consistency: keto_core::Consistency::AtLeastAsFresh(token), ..Default::default() };
//! assert!(keto.is_allowed(nid, &t("Doc:readme#view@User:alice"), &opts).await.unwrap());
//! assert!(!keto.is_allowed(nid, &t("Doc:readme#view@User:bob"), &opts).await.unwrap());
//! # });
//! ```
//!
//! # How checks read the store
//!
//! The evaluator follows Keto's step rules exactly (see [`check`]). Over the in-memory
//! store it reads the indices directly under one read lock. Over any other [`TupleStore`]
//! it walks the graph **level by level**: a pass of the evaluator records every lookup it is
//! missing (while carrying on speculatively with sibling branches), the engine answers them
//! all with one [`TupleStore::read_level`] call, and the pass runs again. A traverse over 200
//! parents therefore costs a handful of round trips, not 200; a batch check shares each
//! level's round trip across its items. When a check is about to expand a relation into its
//! subject sets it asks for an [`store::Expansion`], which a store may answer several levels
//! ahead (the SQL store follows the subject-set edges with a recursive query), so a check
//! through nested groups costs one round trip.
//!
//! # Beyond Keto
//!
//! - [`Keto::lookup_resources`] and [`Keto::lookup_subjects`]: reverse lookups confirmed by
//!   checks.
//! - [`SnapToken`]: every write returns one; [`Consistency::AtLeastAsFresh`] makes a check
//!   read at least that version.
//! - [`CheckOptions::contextual_tuples`]: tuples that hold for one check only.
//! - Preconditions on writes ([`store::Precondition`]).
//!
//! # Store backends
//!
//! The `testsuite` feature provides [`testsuite`] (a conformance suite of plain async
//! functions) and the [`tuple_store_tests!`](crate::tuple_store_tests) macro that stamps it out as tokio tests for a
//! backend.
//!
//! # Features
//!
#![doc = document_features::document_features!()]
//!
//! # Manual
//!
//! The repository's [README](https://example.invalid/kratos-rs/blob/main/README.md) and
//! [ARCHITECTURE](https://example.invalid/kratos-rs/blob/main/docs/ARCHITECTURE.md) are the manual.
//! SQL storage for tuples is in [kratos-store-sql](https://docs.rs/kratos-store-sql) and the
//! backend crates; Keto's HTTP API for them is in [kratos-axum](https://docs.rs/kratos-axum).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod check;
mod engine;
pub mod error;
pub mod expand;
mod lookup;
pub mod namespace;
pub mod opl;
pub mod store;
mod tenant;
pub mod tuple;

#[cfg(feature = "testsuite")]
#[cfg_attr(docsrs, doc(cfg(feature = "testsuite")))]
pub mod testsuite;

/// Histogram of [`Keto::check`] latency in seconds (every check, the items of a batch over
/// the in-memory store included), emitted through the `metrics` facade: nothing is recorded
/// until the host app installs a recorder.
pub const CHECK_DURATION: &str = "keto_check_duration_seconds";

/// Gives [`CHECK_DURATION`] its description and unit in the installed recorder. Call it once
/// after installing a recorder; emitting works without it.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        CHECK_DURATION,
        metrics::Unit::Seconds,
        "Latency of permission checks"
    );
}

pub use check::{CheckOptions, CheckResult, Consistency, Limitation, Membership};
pub use engine::{Config, DeltaAction, Keto, ListResponse, SnapToken, TupleDelta};
pub use error::{EngineError, StoreError};
pub use expand::{ExpandTree, NodeType};
pub use namespace::{Namespace, Schema, SchemaError};
pub use store::{MemoryStore, Transaction, TupleStore};
pub use tenant::Tenant;
pub use tuple::{RelationQuery, RelationTuple, Subject, SubjectSet, TupleError};
