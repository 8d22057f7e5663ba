//! A handle bound to one tenant.

use uuid::Uuid;

use crate::check::{CheckOptions, CheckResult};
use crate::engine::{Keto, ListResponse, SnapToken, TupleDelta};
use crate::error::EngineError;
use crate::expand::ExpandTree;
use crate::tuple::{RelationQuery, RelationTuple, Subject, SubjectSet};

/// The engine bound to one network id; every call reads and writes that tenant only.
#[derive(Debug, Clone)]
pub struct Tenant {
    keto: Keto,
    nid: Uuid,
}

impl Tenant {
    pub(crate) fn new(keto: Keto, nid: Uuid) -> Self {
        Self { keto, nid }
    }
    /// The tenant's network id.
    pub fn nid(&self) -> Uuid {
        self.nid
    }
    /// The engine this handle is bound to (schema, configuration, store).
    pub fn engine(&self) -> &Keto {
        &self.keto
    }
    /// See [`Keto::check`].
    pub async fn check(
        &self,
        t: &RelationTuple,
        o: &CheckOptions,
    ) -> Result<CheckResult, EngineError> {
        self.keto.check(self.nid, t, o).await
    }
    /// See [`Keto::is_allowed`].
    pub async fn is_allowed(
        &self,
        t: &RelationTuple,
        o: &CheckOptions,
    ) -> Result<bool, EngineError> {
        self.keto.is_allowed(self.nid, t, o).await
    }
    /// See [`Keto::batch_check`].
    pub async fn batch_check(
        &self,
        t: &[RelationTuple],
        o: &CheckOptions,
    ) -> Result<Vec<Result<CheckResult, EngineError>>, EngineError> {
        self.keto.batch_check(self.nid, t, o).await
    }
    /// See [`Keto::expand`].
    pub async fn expand(
        &self,
        s: &SubjectSet,
        d: Option<i64>,
    ) -> Result<Option<ExpandTree>, EngineError> {
        self.keto.expand(self.nid, s, d).await
    }
    /// See [`Keto::insert`].
    pub async fn insert(
        &self,
        t: impl IntoIterator<Item = RelationTuple>,
    ) -> Result<SnapToken, EngineError> {
        self.keto.insert(self.nid, t).await
    }
    /// See [`Keto::transact`].
    pub async fn transact(&self, d: &[TupleDelta]) -> Result<SnapToken, EngineError> {
        self.keto.transact(self.nid, d).await
    }
    /// See [`Keto::delete_all`].
    pub async fn delete_all(&self, q: &RelationQuery) -> Result<(u64, SnapToken), EngineError> {
        self.keto.delete_all(self.nid, q).await
    }
    /// See [`Keto::list`].
    pub async fn list(
        &self,
        q: &RelationQuery,
        size: Option<usize>,
        token: Option<&str>,
    ) -> Result<ListResponse, EngineError> {
        self.keto.list(self.nid, q, size, token).await
    }
    /// See [`Keto::lookup_resources`].
    pub async fn lookup_resources(
        &self,
        s: &Subject,
        ns: &str,
        perm: &str,
        o: &CheckOptions,
    ) -> Result<Vec<String>, EngineError> {
        self.keto.lookup_resources(self.nid, s, ns, perm, o).await
    }
    /// See [`Keto::lookup_subjects`].
    pub async fn lookup_subjects(
        &self,
        ns: &str,
        obj: &str,
        perm: &str,
        o: &CheckOptions,
    ) -> Result<Vec<Subject>, EngineError> {
        self.keto.lookup_subjects(self.nid, ns, obj, perm, o).await
    }
}
