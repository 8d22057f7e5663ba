//! Store traits of housekeeping: deleting expired rows ([`CleanupStore`]) and counting code
//! sends for rate limits ([`SendLimitStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// Deletion of expired and spent rows, one bounded batch per call.
///
/// Every method deletes at most `limit` rows of tenant `nid` and returns how many it deleted;
/// a caller that wants everything gone calls again until a call returns less than `limit`
/// (as [`crate::cleanup::Cleanup::run`] does). Rows of other tenants are never touched. A
/// `limit` of 0 deletes nothing.
#[async_trait]
pub trait CleanupStore: Send + Sync {
    /// Deletes self-service flows (of every kind) that expired before `expired_before`.
    async fn delete_expired_flows(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes sessions that expired before `expired_before`, and inactive (revoked) sessions
    /// last authenticated before `inactive_before`, with their token digests.
    async fn delete_stale_sessions(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        inactive_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes one-time codes and link tokens used before `before` or expired before
    /// `before`.
    async fn delete_spent_codes(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes the code submission counters (`code_submissions`) of flows that are no longer
    /// stored. Run it after [`CleanupStore::delete_expired_flows`].
    async fn delete_orphan_code_submissions(
        &self,
        nid: Uuid,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes login-failure counters whose last failure happened before
    /// `last_failure_before` and whose lock, if any, is over at `now`.
    async fn delete_stale_login_failures(
        &self,
        nid: Uuid,
        last_failure_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes courier messages that are `sent` or `abandoned` and were last updated before
    /// `before`. Queued and processing messages stay, however old.
    async fn delete_finished_messages(
        &self,
        nid: Uuid,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes code send counters ([`SendLimitStore`]) whose window started before
    /// `window_started_before`: a send counted now would start a new window for them anyway.
    async fn delete_stale_send_counters(
        &self,
        nid: Uuid,
        window_started_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes uses of second-factor secrets ([`super::UsedSecretStore`]) that expired
    /// before `expired_before`.
    async fn delete_expired_used_secrets(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Deletes session token exchangers ([`super::TokenExchangeStore`]) that expired before
    /// `expired_before`, exchanged or not.
    async fn delete_expired_token_exchanges(
        &self,
        nid: Uuid,
        expired_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;
}

/// Counters of sent codes, for the rate limits of code and link emails.
///
/// Keys are opaque strings (`flow:<id>`, `address:<digest>`). Each counter counts in a fixed
/// window that starts with its first send. Implementations must be atomic across processes
/// sharing the store (an upsert that increments and returns), so several app instances share
/// the counts.
#[async_trait]
pub trait SendLimitStore: Send + Sync {
    /// Counts one send for every key at `now` and returns each key's count in its current
    /// window, in the order of `keys`. A key whose window started before
    /// `window_started_before` starts a new window at `now` with a count of 1. Counts
    /// saturate instead of overflowing. Duplicate keys are not allowed (their counts are
    /// unspecified).
    async fn count_code_sends(
        &self,
        nid: Uuid,
        keys: &[String],
        now: DateTime<Utc>,
        window_started_before: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError>;
}
