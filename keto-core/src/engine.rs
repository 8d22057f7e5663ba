//! The engine handle: configuration, schema, store, and the read/write API.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::EngineError;
use crate::namespace::Schema;
use crate::store::{PageRequest, Precondition, Transaction, TupleStore};
use crate::tuple::{RelationQuery, RelationTuple};

/// Limits and switches, with Keto's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `limit.max_read_depth` (default 5, 1..=65535).
    pub max_read_depth: u32,
    /// `limit.max_read_width` (default 100, 1..=65535).
    pub max_read_width: u32,
    /// `limit.max_batch_check_size` (default 10, 1..=65535).
    pub max_batch_check_size: usize,
    /// `limit.max_expand_size` (default 4000): tuples in one expand tree.
    pub max_expand_size: usize,
    /// `feature_flags.strict_mode`.
    pub strict_mode: bool,
    /// `feature_flags.expand_rewrites`: expand follows OPL rewrites.
    pub expand_rewrites: bool,
    /// Default list page size (100).
    pub default_page_size: usize,
    /// Maximum list page size (500).
    pub max_page_size: usize,
    /// Maximum number of results of a lookup (LookupResources / LookupSubjects).
    pub max_lookup_results: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_read_depth: 5,
            max_read_width: 100,
            max_batch_check_size: 10,
            max_expand_size: 4000,
            strict_mode: false,
            expand_rewrites: false,
            default_page_size: 100,
            max_page_size: 500,
            max_lookup_results: 10_000,
        }
    }
}

impl Config {
    /// Checks the ranges Keto's configuration schema allows.
    pub fn validate(&self) -> Result<(), EngineError> {
        let r = 1..=65535u64;
        for (name, v) in [
            ("limit.max_read_depth", self.max_read_depth as u64),
            ("limit.max_read_width", self.max_read_width as u64),
            (
                "limit.max_batch_check_size",
                self.max_batch_check_size as u64,
            ),
            ("max_page_size", self.max_page_size as u64),
            ("default_page_size", self.default_page_size as u64),
        ] {
            if !r.contains(&v) {
                return Err(EngineError::Config(format!(
                    "{name} must be between 1 and 65535, got {v}"
                )));
            }
        }
        if self.max_expand_size > 65535 {
            return Err(EngineError::Config(
                "limit.max_expand_size must be at most 65535".into(),
            ));
        }
        if self.default_page_size > self.max_page_size {
            return Err(EngineError::Config(
                "default_page_size exceeds max_page_size".into(),
            ));
        }
        Ok(())
    }
}

/// A consistency token: the store version a write produced. Pass it to
/// [`Consistency::AtLeastAsFresh`](crate::Consistency::AtLeastAsFresh) to read your writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SnapToken(pub u64);

impl fmt::Display for SnapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kv1_{}", self.0)
    }
}

impl FromStr for SnapToken {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("kv1_")
            .and_then(|n| n.parse().ok())
            .map(SnapToken)
            .ok_or_else(|| EngineError::Config(format!("invalid snapshot token {s:?}")))
    }
}

impl Serialize for SnapToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SnapToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One change of a transactional write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TupleDelta {
    /// Insert or delete.
    pub action: DeltaAction,
    /// The tuple.
    pub relation_tuple: RelationTuple,
}

/// What a [`TupleDelta`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeltaAction {
    /// Insert the tuple.
    Insert,
    /// Delete the tuple.
    Delete,
}

/// One page of a list, in Keto's response shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListResponse {
    /// The tuples.
    pub relation_tuples: Vec<RelationTuple>,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
}

struct Inner {
    schema: RwLock<Schema>,
    store: Arc<dyn TupleStore>,
    config: Config,
}

/// The permission engine: a cheap-to-clone handle over a schema, a store and a config.
#[derive(Clone)]
pub struct Keto {
    inner: Arc<Inner>,
}

impl fmt::Debug for Keto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keto")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Keto {
    /// Builds an engine; fails when the config is out of range.
    pub fn new(
        schema: Schema,
        store: Arc<dyn TupleStore>,
        config: Config,
    ) -> Result<Self, EngineError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                schema: RwLock::new(schema),
                store,
                config,
            }),
        })
    }

    /// The current schema.
    pub fn schema(&self) -> Schema {
        self.inner.schema.read().clone()
    }

    /// Replaces the schema (hot reload).
    pub fn set_schema(&self, schema: Schema) {
        *self.inner.schema.write() = schema;
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TupleStore> {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A handle bound to one tenant.
    pub fn tenant(&self, nid: Uuid) -> crate::Tenant {
        crate::Tenant::new(self.clone(), nid)
    }

    /// The configured namespace names (Keto's `GET /namespaces`).
    pub fn namespaces(&self) -> Vec<String> {
        self.schema().namespaces().map(|n| n.name.clone()).collect()
    }

    fn validate_write(&self, schema: &Schema, t: &RelationTuple) -> Result<(), EngineError> {
        Self::validate_tuple(schema, t)?;
        schema.relation_for(&t.namespace, &t.relation)?;
        Ok(())
    }

    /// Writes inserts and deletes in one transaction (Keto's PATCH: inserts, then deletes).
    /// Returns a token for read-your-writes.
    pub async fn transact(
        &self,
        nid: Uuid,
        deltas: &[TupleDelta],
    ) -> Result<SnapToken, EngineError> {
        let mut tx = Transaction::default();
        for d in deltas {
            match d.action {
                DeltaAction::Insert => tx.insert.push(d.relation_tuple.clone()),
                DeltaAction::Delete => tx.delete.push(d.relation_tuple.clone()),
            }
        }
        self.write(nid, tx).await
    }

    /// Writes a [`Transaction`] after validating its tuples against the schema.
    pub async fn write(&self, nid: Uuid, tx: Transaction) -> Result<SnapToken, EngineError> {
        let schema = self.schema();
        for t in tx.insert.iter() {
            self.validate_write(&schema, t)?;
        }
        for t in tx.delete.iter() {
            Self::validate_tuple(&schema, t)?;
        }
        Ok(SnapToken(self.store().transact(nid, &tx).await?))
    }

    /// Inserts tuples.
    pub async fn insert(
        &self,
        nid: Uuid,
        tuples: impl IntoIterator<Item = RelationTuple>,
    ) -> Result<SnapToken, EngineError> {
        self.write(
            nid,
            Transaction {
                insert: tuples.into_iter().collect(),
                ..Transaction::default()
            },
        )
        .await
    }

    /// Inserts one tuple unless it exists (precondition); fails with a conflict otherwise.
    pub async fn create(&self, nid: Uuid, tuple: RelationTuple) -> Result<SnapToken, EngineError> {
        self.write(
            nid,
            Transaction {
                preconditions: vec![Precondition::MustNotMatch(RelationQuery::exact(&tuple))],
                insert: vec![tuple],
                ..Transaction::default()
            },
        )
        .await
    }

    /// Deletes every tuple matching the filter; Keto requires the namespace.
    pub async fn delete_all(
        &self,
        nid: Uuid,
        query: &RelationQuery,
    ) -> Result<(u64, SnapToken), EngineError> {
        let Some(ns) = &query.namespace else {
            return Err(EngineError::Config(
                "a delete filter must name a namespace".into(),
            ));
        };
        if self.schema().namespace(ns).is_none() {
            return Err(EngineError::UnknownNamespace(ns.clone()));
        }
        let (n, v) = self.store().delete_matching(nid, query).await?;
        Ok((n, SnapToken(v)))
    }

    /// Lists tuples matching the filter. `page_size` 0 or `None` means the default (100); at
    /// most 500. The page token is opaque; `""` marks the last page.
    ///
    /// Runs in a `keto.list` span (the filter's namespace once the schema knows it).
    #[tracing::instrument(
        name = "keto.list",
        skip_all,
        fields(namespace = tracing::field::Empty, relation = tracing::field::Empty)
    )]
    pub async fn list(
        &self,
        nid: Uuid,
        query: &RelationQuery,
        page_size: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<ListResponse, EngineError> {
        let cfg = self.config();
        let size = match page_size {
            None | Some(0) => cfg.default_page_size,
            Some(s) if s > cfg.max_page_size => {
                return Err(EngineError::InvalidPageSize {
                    size: s,
                    max: cfg.max_page_size,
                });
            }
            Some(s) => s,
        };
        if let Some(ns) = &query.namespace
            && self.schema().namespace(ns).is_none()
        {
            return Err(EngineError::UnknownNamespace(ns.clone()));
        }
        if let Some(ns) = &query.namespace {
            let span = tracing::Span::current();
            span.record("namespace", ns.as_str());
            if let Some(relation) = query
                .relation
                .as_deref()
                .filter(|r| self.schema().relation_for(ns, r).is_ok())
            {
                span.record("relation", relation);
            }
        }
        let page = self
            .store()
            .list(
                nid,
                query,
                &PageRequest {
                    size,
                    token: page_token.filter(|t| !t.is_empty()).map(str::to_owned),
                },
            )
            .await?;
        Ok(ListResponse {
            relation_tuples: page.tuples,
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }
}
