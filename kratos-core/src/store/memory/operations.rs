//! The ping and the self-service errors of the in-memory store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::MemoryStore;
use crate::store::{PingStore, SelfServiceError, SelfServiceErrorStore, StoreError};

#[async_trait]
impl PingStore for MemoryStore {
    /// The store answers when its data can be locked: both locks are taken in turn (a lock a
    /// panicking writer left poisoned is taken over, as every operation does).
    async fn ping(&self) -> Result<(), StoreError> {
        drop(self.lock());
        drop(self.courier.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(())
    }
}

#[async_trait]
impl SelfServiceErrorStore for MemoryStore {
    async fn insert_self_service_error(
        &self,
        nid: Uuid,
        error: &SelfServiceError,
    ) -> Result<(), StoreError> {
        match self.lock().self_service_errors.entry((nid, error.id)) {
            std::collections::hash_map::Entry::Occupied(_) => {
                Err(StoreError::Conflict("self-service error id".into()))
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(error.clone());
                Ok(())
            }
        }
    }

    async fn get_self_service_error(
        &self,
        nid: Uuid,
        id: Uuid,
    ) -> Result<SelfServiceError, StoreError> {
        self.lock()
            .self_service_errors
            .get(&(nid, id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn delete_old_self_service_errors(
        &self,
        nid: Uuid,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut data = self.lock();
        let doomed: Vec<(Uuid, Uuid)> = data
            .self_service_errors
            .iter()
            .filter(|((n, _), e)| *n == nid && e.created_at < created_before)
            .map(|(k, _)| *k)
            .take(limit)
            .collect();
        for key in &doomed {
            data.self_service_errors.remove(key);
        }
        Ok(u64::try_from(doomed.len()).unwrap_or(u64::MAX))
    }
}
