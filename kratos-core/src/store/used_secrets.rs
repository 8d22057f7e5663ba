//! Second-factor secrets used at most once ([`UsedSecretStore`]).
//!
//! RFC 6238 asks that a TOTP code be accepted once, and a recovery code is good for one
//! login. Kratos accepts a TOTP code again within its window, and marks a recovery code used
//! by rewriting the credential it read, outside a transaction (two logins racing with one
//! code can both pass). A use is recorded under a key of the
//! identity, `totp:<step>` ([`crate::strategy::totp::otp::used_secret_key`]) or
//! `lookup_secret:<digest>` ([`crate::strategy::lookup_secret::codes::StoredCode::used_secret_key`]),
//! by one atomic insert that only the first use of the key wins, across every process sharing
//! the store. A flow records it in the transaction that completes the login with
//! [`super::CompletionStore::complete_flow_using_secret`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// A second-factor secret a completion uses, as [`UsedSecretStore::use_once`] records it.
#[derive(Clone, Copy)]
pub struct SecretUse<'a> {
    /// The identity whose secret it is. It must exist in the tenant.
    pub identity_id: Uuid,
    /// The key of the use (`totp:<step>`, `lookup_secret:<digest>`); short, chosen by the
    /// caller, never a secret in plaintext.
    pub key: &'a str,
    /// Until when the use must be remembered: the cleanup may forget it after this time,
    /// and a use of the same key after that may then succeed again.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SecretUse<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key may carry a code's digest: only the identity and the expiry show.
        f.debug_struct("SecretUse")
            .field("identity_id", &self.identity_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Records uses of second-factor secrets so each is used at most once. Implementations must be
/// atomic across processes sharing the store: of concurrent uses of one key, exactly one
/// succeeds. An identity's uses go when the identity is deleted; expired ones go with
/// [`super::CleanupStore::delete_expired_used_secrets`].
#[async_trait]
pub trait UsedSecretStore: Send + Sync {
    /// Records the use of `key` by identity `identity_id` of tenant `nid`, remembered at
    /// least until `expires_at`. Answers `true` for the first use of `(nid, identity_id,
    /// key)` and `false` for every later one while it is remembered (an expired use not yet
    /// deleted by the cleanup still counts). Other identities and tenants have keys of their
    /// own. Fails with [`StoreError::NotFound`] when the identity is not in the tenant.
    async fn use_once(
        &self,
        nid: Uuid,
        identity_id: Uuid,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
