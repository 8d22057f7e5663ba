//! Delivery channels and the in-memory outbox.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::Message;

/// Why a channel could not deliver a message. The text never contains the message's body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChannelError(pub String);

impl ChannelError {
    /// An error with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        ChannelError(reason.into())
    }
}

/// Delivers messages (SMTP, HTTP, an outbox, or anything the app implements).
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// A short name for logs (`smtp`, `http`, `memory`).
    fn name(&self) -> &str;

    /// Delivers one message. An error makes the courier retry it later.
    async fn send(&self, message: &Message) -> Result<(), ChannelError>;
}

/// An in-memory outbox: keeps every message it is given, for tests and development. Clones
/// share the same outbox.
///
/// ```
/// use kratos_core::courier::MemoryOutbox;
/// let outbox = MemoryOutbox::new();
/// assert!(outbox.messages().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryOutbox {
    inner: Arc<Mutex<OutboxState>>,
}

#[derive(Debug, Default)]
struct OutboxState {
    sent: Vec<Message>,
    fail_next: u32,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.lock().sent.clone()
    }

    /// The messages delivered to a recipient, oldest first.
    pub fn messages_to(&self, recipient: &str) -> Vec<Message> {
        self.lock()
            .sent
            .iter()
            .filter(|m| m.recipient == recipient)
            .cloned()
            .collect()
    }

    /// The newest message delivered to a recipient.
    pub fn last_to(&self, recipient: &str) -> Option<Message> {
        self.messages_to(recipient).pop()
    }

    /// Makes the next `n` sends fail (to exercise retries).
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
    }

    /// Forgets every delivered message.
    pub fn clear(&self) {
        self.lock().sent.clear();
    }
}

#[async_trait]
impl Channel for MemoryOutbox {
    fn name(&self) -> &str {
        "memory"
    }

    async fn send(&self, message: &Message) -> Result<(), ChannelError> {
        let mut state = self.lock();
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(ChannelError::new("the outbox was told to fail"));
        }
        state.sent.push(message.clone());
        Ok(())
    }
}
