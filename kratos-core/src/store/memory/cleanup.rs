//! Cleanup and code send counters of the in-memory store.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::MemoryStore;
use crate::courier::MessageStatus;
use crate::store::{CleanupStore, SendLimitStore, StoreError};

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Removes at most `limit` entries of `map` that `doomed` picks; answers how many went.
fn remove_up_to<K: Clone + Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    limit: usize,
    doomed: impl Fn(&K, &V) -> bool,
) -> u64 {
    let keys: Vec<K> = map
        .iter()
        .filter(|(k, v)| doomed(k, v))
        .map(|(k, _)| k.clone())
        .take(limit)
        .collect();
    for k in &keys {
        map.remove(k);
    }
    count(keys.len())
}

#[async_trait]
impl CleanupStore for MemoryStore {
    async fn delete_expired_flows(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.lock().flows,
            limit,
            |(n, _, _), f| *n == nid && f.expires_at < expired_before,
        ))
    }

    async fn delete_stale_sessions(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        inactive_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut data = self.lock();
        let doomed: Vec<_> = data
            .sessions
            .iter()
            .filter(|((n, _), r)| {
                *n == nid
                    && (r.session.expires_at < expired_before
                        || (!r.session.active && r.session.authenticated_at < inactive_before))
            })
            .map(|(k, _)| *k)
            .take(limit)
            .collect();
        for k in &doomed {
            if let Some(r) = data.sessions.remove(k) {
                data.session_tokens.remove(&(nid, r.token_digest));
                data.logout_tokens.remove(&(nid, r.logout_token_digest));
            }
        }
        Ok(count(doomed.len()))
    }

    async fn delete_spent_codes(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.courier_data().codes,
            limit,
            |(n, _), c| {
                *n == nid && (c.expires_at < before || c.used_at.is_some_and(|u| u < before))
            },
        ))
    }

    async fn delete_orphan_code_submissions(
        &self,
        nid: Uuid,
        limit: usize,
    ) -> Result<u64, StoreError> {
        // Flows and counters live under two locks, never held together: the flow ids are
        // read first. A counter only exists once its flow does, so no live flow is missed.
        let flows: HashSet<Uuid> = self
            .lock()
            .flows
            .keys()
            .filter(|(n, _, _)| *n == nid)
            .map(|(_, _, id)| *id)
            .collect();
        let mut data = self.courier_data();
        let doomed: Vec<_> = data
            .submissions
            .keys()
            .filter(|(n, flow)| *n == nid && !flows.contains(flow))
            .copied()
            .take(limit)
            .collect();
        for k in &doomed {
            data.submissions.remove(k);
        }
        Ok(count(doomed.len()))
    }

    async fn delete_stale_login_failures(
        &self,
        nid: Uuid,
        last_failure_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.lock().login_failures,
            limit,
            |(n, _), f| {
                *n == nid
                    && f.last_failure_at < last_failure_before
                    && f.locked_until.is_none_or(|until| until <= now)
            },
        ))
    }

    async fn delete_finished_messages(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.courier_data().messages,
            limit,
            |_, (n, m)| {
                *n == nid
                    && matches!(m.status, MessageStatus::Sent | MessageStatus::Abandoned)
                    && m.updated_at < before
            },
        ))
    }

    async fn delete_stale_send_counters(
        &self,
        nid: Uuid,
        window_started_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.courier_data().send_counters,
            limit,
            |(n, _), (_, started)| *n == nid && *started < window_started_before,
        ))
    }

    async fn delete_expired_used_secrets(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.lock().used_secrets,
            limit,
            |(n, _, _), expires_at| *n == nid && *expires_at < expired_before,
        ))
    }

    async fn delete_expired_token_exchanges(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        Ok(remove_up_to(
            &mut self.lock().token_exchanges,
            limit,
            |(n, _), e| *n == nid && e.expires_at < expired_before,
        ))
    }
}

#[async_trait]
impl SendLimitStore for MemoryStore {
    async fn count_code_sends(
        &self,
        nid: Uuid,
        keys: &[String],
        now: DateTime<Utc>,
        window_started_before: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError> {
        let mut data = self.courier_data();
        Ok(keys
            .iter()
            .map(|key| {
                let (n, started) = data
                    .send_counters
                    .entry((nid, key.clone()))
                    .or_insert((0, now));
                if *started < window_started_before {
                    *n = 0;
                    *started = now;
                }
                *n = n.saturating_add(1);
                *n
            })
            .collect())
    }
}
