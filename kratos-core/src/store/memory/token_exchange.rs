//! `TokenExchangeStore` in memory: one exchanger per (tenant, flow); an exchange compares the
//! digests of every live exchanger of the tenant in constant time and removes the one it
//! hands out under the store's lock, so it is handed out once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::MemoryStore;
use crate::store::{
    ExchangeCodeDigest, NewTokenExchange, StoreError, TokenExchangeLookup, TokenExchangeStore,
};

/// A stored exchanger.
#[derive(Clone)]
pub(super) struct Exchanger {
    init_code_digest: ExchangeCodeDigest,
    return_to_code_digest: ExchangeCodeDigest,
    pub(super) expires_at: DateTime<Utc>,
    session: Option<(Uuid, Vec<u8>)>,
}

impl std::fmt::Debug for Exchanger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchanger")
            .field("expires_at", &self.expires_at)
            .field("session_id", &self.session.as_ref().map(|(id, _)| *id))
            .finish_non_exhaustive()
    }
}

impl Exchanger {
    /// Whether both digests are this exchanger's, compared in constant time (both are
    /// compared whatever the first answers).
    fn matches(&self, init: &ExchangeCodeDigest, return_to: &ExchangeCodeDigest) -> bool {
        let both = self.init_code_digest.ct_eq(init) & self.return_to_code_digest.ct_eq(return_to);
        both.into()
    }
}

#[async_trait]
impl TokenExchangeStore for MemoryStore {
    async fn create_token_exchange(
        &self,
        nid: Uuid,
        exchange: &NewTokenExchange<'_>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        match data.token_exchanges.entry((nid, exchange.flow_id)) {
            std::collections::hash_map::Entry::Occupied(_) => Err(StoreError::Conflict(
                "session token exchanger of the flow".into(),
            )),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Exchanger {
                    init_code_digest: *exchange.init_code_digest,
                    return_to_code_digest: *exchange.return_to_code_digest,
                    expires_at: exchange.expires_at,
                    session: None,
                });
                Ok(())
            }
        }
    }

    async fn attach_token_exchange_session(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        session_id: Uuid,
        sealed_session_token: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        let exchanger = data
            .token_exchanges
            .get_mut(&(nid, flow_id))
            .filter(|e| e.expires_at > now)
            .filter(|e| e.session.as_ref().is_none_or(|(id, _)| *id == session_id))
            .ok_or(StoreError::NotFound)?;
        exchanger.session = Some((session_id, sealed_session_token.to_vec()));
        Ok(())
    }

    async fn move_token_exchange(
        &self,
        nid: Uuid,
        from: Uuid,
        to: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        if !data.token_exchanges.contains_key(&(nid, from)) {
            return Err(StoreError::NotFound);
        }
        if from == to {
            if let Some(e) = data.token_exchanges.get_mut(&(nid, from)) {
                e.expires_at = expires_at;
            }
            return Ok(());
        }
        if data.token_exchanges.contains_key(&(nid, to)) {
            return Err(StoreError::Conflict(
                "session token exchanger of the flow".into(),
            ));
        }
        let mut moved = data
            .token_exchanges
            .remove(&(nid, from))
            .ok_or(StoreError::NotFound)?;
        moved.expires_at = expires_at;
        data.token_exchanges.insert((nid, to), moved);
        Ok(())
    }

    async fn exchange_session_token(
        &self,
        nid: Uuid,
        init_code_digest: &ExchangeCodeDigest,
        return_to_code_digest: &ExchangeCodeDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenExchangeLookup>, StoreError> {
        let mut data = self.lock();
        let found = data
            .token_exchanges
            .iter()
            .filter(|((n, _), e)| *n == nid && e.expires_at > now)
            .find(|(_, e)| e.matches(init_code_digest, return_to_code_digest))
            .map(|(key, e)| (*key, e.session.is_some()));
        let Some((key, attached)) = found else {
            return Ok(None);
        };
        if !attached {
            return Ok(Some(TokenExchangeLookup::Pending { flow_id: key.1 }));
        }
        Ok(data
            .token_exchanges
            .remove(&key)
            .and_then(|e| e.session)
            .map(
                |(session_id, sealed_session_token)| TokenExchangeLookup::Exchanged {
                    session_id,
                    sealed_session_token,
                },
            ))
    }
}
