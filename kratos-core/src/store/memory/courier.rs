//! Courier messages, one-time codes and address lookups of the in-memory store. Messages and
//! codes share one lock, so a code and its message are stored atomically.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::MemoryStore;
use crate::code::{CodeKind, OneTimeCode};
use crate::courier::{Message, MessageQuery, MessageStatus, MessageType};
use crate::identity::{AddressVia, Identity, VerificationStatus};
use crate::store::{AddressKind, AddressStore, CodeStore, CourierStore, StoreError};

#[derive(Debug, Default)]
pub(super) struct CourierData {
    pub(super) messages: HashMap<Uuid, (Uuid, Message)>,
    pub(super) codes: HashMap<(Uuid, Uuid), OneTimeCode>,
    pub(super) submissions: HashMap<(Uuid, Uuid), u32>,
    /// Code send counters: (tenant, key) to (count, window start).
    pub(super) send_counters: HashMap<(Uuid, String), (u32, DateTime<Utc>)>,
}

impl MemoryStore {
    pub(super) fn courier_data(&self) -> std::sync::MutexGuard<'_, CourierData> {
        self.courier.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CourierStore for MemoryStore {
    async fn enqueue_message(&self, nid: Uuid, message: &Message) -> Result<(), StoreError> {
        let mut data = self.courier_data();
        if data.messages.contains_key(&message.id) {
            return Err(StoreError::Conflict("message id".into()));
        }
        data.messages.insert(message.id, (nid, message.clone()));
        Ok(())
    }

    async fn claim_messages(
        &self,
        nid: Option<Uuid>,
        types: &[MessageType],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, Message)>, StoreError> {
        let mut data = self.courier_data();
        let mut due: Vec<&mut (Uuid, Message)> = data
            .messages
            .values_mut()
            .filter(|(n, _)| nid.is_none_or(|want| *n == want))
            .filter(|(_, m)| types.contains(&m.message_type))
            .filter(|(_, m)| match m.status {
                MessageStatus::Queued => m.send_after <= now,
                MessageStatus::Processing => m.updated_at < stale_before,
                _ => false,
            })
            .collect();
        due.sort_by_key(|(_, m)| (m.created_at, m.id));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(nid, m)| {
                m.status = MessageStatus::Processing;
                m.updated_at = now;
                (*nid, m.clone())
            })
            .collect())
    }

    async fn mark_message_sent(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut data = self.courier_data();
        let (_, m) = data
            .messages
            .get_mut(&id)
            .filter(|(n, _)| *n == nid)
            .ok_or(StoreError::NotFound)?;
        m.status = MessageStatus::Sent;
        m.send_count += 1;
        m.updated_at = now;
        // The template data holds the plain code: it goes as soon as the message is out.
        m.template_data = serde_json::json!({});
        Ok(())
    }

    async fn mark_message_failed(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut data = self.courier_data();
        let (_, m) = data
            .messages
            .get_mut(&id)
            .filter(|(n, _)| *n == nid)
            .ok_or(StoreError::NotFound)?;
        m.send_count += 1;
        m.updated_at = now;
        match retry_at {
            Some(at) => {
                m.status = MessageStatus::Queued;
                m.send_after = at;
            }
            None => m.status = MessageStatus::Abandoned,
        }
        Ok(())
    }

    async fn get_message(&self, nid: Uuid, id: Uuid) -> Result<Message, StoreError> {
        self.courier_data()
            .messages
            .get(&id)
            .filter(|(n, _)| *n == nid)
            .map(|(_, m)| m.clone())
            .ok_or(StoreError::NotFound)
    }

    async fn list_messages(
        &self,
        nid: Uuid,
        query: &MessageQuery,
    ) -> Result<Vec<Message>, StoreError> {
        let data = self.courier_data();
        let mut list: Vec<Message> = data
            .messages
            .values()
            .filter(|(n, _)| *n == nid)
            .map(|(_, m)| m)
            .filter(|m| query.status.is_none_or(|s| m.status == s))
            .filter(|m| query.recipient.as_deref().is_none_or(|r| m.recipient == r))
            .cloned()
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        if let Some(after) = query.after {
            let cursor = data
                .messages
                .values()
                .find(|(n, m)| *n == nid && m.id == after)
                .map(|(_, m)| (m.created_at, m.id));
            match cursor {
                Some(c) => list.retain(|m| (m.created_at, m.id) < c),
                None => list.clear(),
            }
        }
        if query.limit > 0 {
            list.truncate(query.limit);
        }
        Ok(list)
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn issue_code(
        &self,
        nid: Uuid,
        code: &OneTimeCode,
        message: Option<&Message>,
    ) -> Result<(), StoreError> {
        let mut data = self.courier_data();
        if data.codes.contains_key(&(nid, code.id))
            || message.is_some_and(|m| data.messages.contains_key(&m.id))
        {
            return Err(StoreError::Conflict("code id".into()));
        }
        for c in data.codes.values_mut() {
            if c.flow_id == code.flow_id && c.kind == code.kind && c.used_at.is_none() {
                c.used_at = Some(code.issued_at);
            }
        }
        data.codes.insert((nid, code.id), code.clone());
        if let Some(m) = message {
            data.messages.insert(m.id, (nid, m.clone()));
        }
        Ok(())
    }

    async fn use_code(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        kind: CodeKind,
        digests: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<OneTimeCode>, StoreError> {
        let mut data = self.courier_data();
        let found = data.codes.iter_mut().find(|((n, _), c)| {
            *n == nid
                && c.flow_id == flow_id
                && c.kind == kind
                && c.used_at.is_none()
                && c.expires_at > now
                && digests.contains(&c.digest)
        });
        Ok(found.map(|(_, c)| {
            c.used_at = Some(now);
            c.clone()
        }))
    }

    async fn count_code_submission(&self, nid: Uuid, flow_id: Uuid) -> Result<u32, StoreError> {
        let mut data = self.courier_data();
        let n = data.submissions.entry((nid, flow_id)).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}

#[async_trait]
impl AddressStore for MemoryStore {
    async fn find_identity_by_address(
        &self,
        nid: Uuid,
        kind: AddressKind,
        via: AddressVia,
        value: &str,
    ) -> Result<Identity, StoreError> {
        let data = self.lock();
        let index = match kind {
            AddressKind::Verifiable => &data.verifiable,
            AddressKind::Recovery => &data.recovery,
        };
        let id = index
            .get(&(nid, via, value.to_owned()))
            .ok_or(StoreError::NotFound)?;
        data.identities
            .get(&(nid, *id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn mark_address_verified(
        &self,
        nid: Uuid,
        address_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        let address = data
            .identities
            .iter_mut()
            .filter(|((n, _), _)| *n == nid)
            .flat_map(|(_, i)| i.verifiable_addresses.iter_mut())
            .find(|a| a.id == address_id)
            .ok_or(StoreError::NotFound)?;
        address.verified = true;
        address.status = VerificationStatus::Completed;
        address.verified_at = Some(at);
        address.updated_at = at;
        Ok(())
    }
}
