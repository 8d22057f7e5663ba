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
pub mod testsuite;

pub use check::{CheckOptions, CheckResult, Consistency, Limitation, Membership};
pub use engine::{Config, DeltaAction, Keto, ListResponse, SnapToken, TupleDelta};
pub use error::{EngineError, StoreError};
pub use expand::{ExpandTree, NodeType};
pub use namespace::{Namespace, Schema, SchemaError};
pub use store::{MemoryStore, Transaction, TupleStore};
pub use tenant::Tenant;
pub use tuple::{RelationQuery, RelationTuple, Subject, SubjectSet, TupleError};
