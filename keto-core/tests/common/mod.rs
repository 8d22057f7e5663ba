//! Shared test helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use keto_core::store::{
    LevelRequest, LevelResponse, ObjectKey, PageRequest, SubjectKey, TuplePage, Version,
};
use keto_core::{
    CheckOptions, CheckResult, Config, EngineError, Keto, MemoryStore, RelationQuery,
    RelationTuple, Schema, StoreError, Transaction, TupleStore,
};
use uuid::Uuid;

/// Wraps the memory store, hides its synchronous fast path (so the engine reads level by
/// level, as it would from SQL) and counts the calls.
#[derive(Default)]
pub struct LevelStore {
    pub inner: MemoryStore,
    pub level_calls: AtomicUsize,
    pub lookups: AtomicUsize,
}

impl LevelStore {
    pub fn calls(&self) -> usize {
        self.level_calls.load(Ordering::SeqCst)
    }
    pub fn reset(&self) {
        self.level_calls.store(0, Ordering::SeqCst);
        self.lookups.store(0, Ordering::SeqCst);
    }
}

#[async_trait]
impl TupleStore for LevelStore {
    async fn read_level(&self, nid: Uuid, r: &LevelRequest) -> Result<LevelResponse, StoreError> {
        self.level_calls.fetch_add(1, Ordering::SeqCst);
        self.lookups.fetch_add(
            r.exists.len() + r.subject_sets.len() + r.subjects.len(),
            Ordering::SeqCst,
        );
        self.inner.read_level(nid, r).await
    }
    async fn tuples_by_subject(
        &self,
        nid: Uuid,
        k: &[SubjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.level_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.tuples_by_subject(nid, k).await
    }
    async fn tuples_by_object(
        &self,
        nid: Uuid,
        k: &[ObjectKey],
    ) -> Result<Vec<Vec<RelationTuple>>, StoreError> {
        self.level_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.tuples_by_object(nid, k).await
    }
    async fn list(
        &self,
        nid: Uuid,
        q: &RelationQuery,
        p: &PageRequest,
    ) -> Result<TuplePage, StoreError> {
        self.inner.list(nid, q, p).await
    }
    async fn transact(&self, nid: Uuid, tx: &Transaction) -> Result<Version, StoreError> {
        self.inner.transact(nid, tx).await
    }
    async fn delete_matching(
        &self,
        nid: Uuid,
        q: &RelationQuery,
    ) -> Result<(u64, Version), StoreError> {
        self.inner.delete_matching(nid, q).await
    }
    async fn version(&self, nid: Uuid) -> Result<Version, StoreError> {
        self.inner.version(nid).await
    }
}

pub fn t(s: &str) -> RelationTuple {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The same scenario on the memory fast path and on the level-batched path.
pub struct Scenario {
    pub fast: Keto,
    pub level: Keto,
    pub level_store: Arc<LevelStore>,
    pub nid: Uuid,
}

impl Scenario {
    pub async fn new(opl: &str, tuples: &[&str], config: Config) -> Self {
        let schema = Schema::from_opl(opl).unwrap_or_else(|e| panic!("{e:?}"));
        Self::with_schema(schema, tuples, config).await
    }

    pub async fn with_schema(schema: Schema, tuples: &[&str], config: Config) -> Self {
        let nid = Uuid::new_v4();
        let mem = Arc::new(MemoryStore::new());
        let level_store = Arc::new(LevelStore::default());
        let fast = Keto::new(schema.clone(), mem.clone(), config.clone()).unwrap();
        let level = Keto::new(schema, level_store.clone(), config).unwrap();
        let list: Vec<RelationTuple> = tuples.iter().map(|s| t(s)).collect();
        mem.insert_many(nid, &list);
        level_store.inner.insert_many(nid, &list);
        Self {
            fast,
            level,
            level_store,
            nid,
        }
    }

    /// Checks on both paths, asserts they agree, returns the answer.
    pub async fn check_opts(
        &self,
        tuple: &str,
        opts: &CheckOptions,
    ) -> Result<CheckResult, EngineError> {
        let a = self.fast.check(self.nid, &t(tuple), opts).await;
        let b = self.level.check(self.nid, &t(tuple), opts).await;
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "memory and level-batched paths disagree on {tuple}"
        );
        a
    }

    pub async fn check(&self, tuple: &str, depth: i64) -> Result<CheckResult, EngineError> {
        self.check_opts(tuple, &CheckOptions::depth(depth)).await
    }

    pub async fn allowed(&self, tuple: &str) -> bool {
        self.check(tuple, 0)
            .await
            .map(|r| r.allowed())
            .unwrap_or(false)
    }
}
