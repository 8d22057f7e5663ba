//! The courier: messages (verification and recovery codes and links, …) queued in the store
//! and delivered by a worker through a [`Channel`] (SMTP, HTTP, or an in-memory outbox).
//!
//! Flows never send mail themselves: they render a [`Message`] from a template and queue it in
//! the store, in the same transaction as the code it carries. A worker
//! ([`Courier::dispatch_batch`], or [`Courier::run`] in a loop) claims queued messages, sends
//! each through the channel of its type (emails through the email channel, text messages
//! through the `sms` channel of `courier.channels` or
//! [`KratosBuilder::courier_sms_channel`](crate::KratosBuilder::courier_sms_channel)) and
//! records the outcome. A worker claims only the types it has a channel for: a text message
//! waits in the queue, unclaimed, until a worker with an SMS channel comes. Claims are atomic
//! in the store (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so several app instances can run
//! workers on one database without sending a message twice. A failed send is retried with a
//! growing back-off; after `courier.message_retries` (5) failed sends the message is
//! abandoned. A message claimed by a worker that died is claimed again once
//! `courier.worker.claim_timeout` has passed.
//!
//! Message bodies carry codes and links: [`Message`]'s `Debug` output never shows them, and
//! send errors are logged without them.

mod channel;
mod config;
#[cfg(feature = "courier-http")]
mod http;
#[cfg(feature = "smtp")]
mod smtp;
mod template;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use uuid::Uuid;

pub use channel::{Channel, ChannelError, MemoryOutbox};
pub use config::*;
#[cfg(feature = "courier-http")]
pub use http::HttpChannel;
#[cfg(feature = "smtp")]
pub use smtp::SmtpChannel;
pub use template::{EmailTemplate, RenderedEmail, TemplateError, TemplateType, Templates};

use crate::clock::truncate_micros;
use crate::identity::AddressVia;
use crate::kratos::Kratos;
use crate::store::StoreError;

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Waiting to be sent (or to be retried).
    Queued,
    /// Claimed by a worker.
    Processing,
    /// Delivered to the channel.
    Sent,
    /// Given up after too many failed sends.
    Abandoned,
}

impl MessageStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Processing => "processing",
            MessageStatus::Sent => "sent",
            MessageStatus::Abandoned => "abandoned",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(MessageStatus::Queued),
            "processing" => Some(MessageStatus::Processing),
            "sent" => Some(MessageStatus::Sent),
            "abandoned" => Some(MessageStatus::Abandoned),
            _ => None,
        }
    }
}

/// The kind of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MessageType {
    /// An email.
    Email,
    /// A text message (SMS).
    Sms,
}

impl MessageType {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageType::Email => "email",
            MessageType::Sms => "sms",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(MessageType::Email),
            "sms" => Some(MessageType::Sms),
            _ => None,
        }
    }
}

/// A message, in Kratos's `message` shape (plus the HTML body and the time of the next
/// attempt). Its `Debug` output leaves out the subject, the bodies and the template data,
/// which carry codes and links.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Message id.
    pub id: Uuid,
    /// Where it stands.
    pub status: MessageStatus,
    /// `email` or `sms`.
    #[serde(rename = "type")]
    pub message_type: MessageType,
    /// The address it goes to.
    pub recipient: String,
    /// The subject (empty for a text message).
    pub subject: String,
    /// The plain-text body (a text message's whole text).
    pub body: String,
    /// The HTML body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    /// The template it was rendered from (`verification_code_valid`, …).
    pub template_type: TemplateType,
    /// The values the template was rendered with.
    #[serde(default)]
    pub template_data: Value,
    /// How many times sending was attempted.
    pub send_count: u32,
    /// Not before this time (back-off after a failed send).
    pub send_after: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated (for a message being processed: when it was claimed).
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("message_type", &self.message_type)
            .field("recipient", &self.recipient)
            .field("template_type", &self.template_type)
            .field("send_count", &self.send_count)
            .field("send_after", &self.send_after)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Filters for listing messages (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// Only messages in this status.
    pub status: Option<MessageStatus>,
    /// Only messages to this recipient.
    pub recipient: Option<String>,
    /// At most this many (0: no limit).
    pub limit: usize,
    /// Continue after this message (keyset pagination: only messages older than it, in the
    /// listing's order). A message of another tenant or an unknown id yields an empty page.
    pub after: Option<Uuid>,
}

/// Why the courier failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CourierError {
    /// No channel is configured, neither for email (`courier.smtp.connection_uri`,
    /// `courier.delivery_strategy: http`, or
    /// [`KratosBuilder::courier_channel`](crate::KratosBuilder::courier_channel)) nor for text
    /// messages (`courier.channels`, or
    /// [`KratosBuilder::courier_sms_channel`](crate::KratosBuilder::courier_sms_channel)).
    #[error("no courier channel is configured")]
    NoChannel,
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Storage failed.
    #[error("courier storage: {0}")]
    Store(#[from] StoreError),
}

/// What one [`Courier::dispatch_batch`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Messages claimed.
    pub claimed: usize,
    /// Messages sent.
    pub sent: usize,
    /// Messages that failed and will be retried.
    pub retried: usize,
    /// Messages given up.
    pub abandoned: usize,
}

/// The courier of a registry: renders and queues messages, and dispatches the queue.
#[derive(Clone, Debug)]
pub struct Courier {
    kratos: Kratos,
    all_tenants: bool,
}

impl Courier {
    pub(crate) fn new(kratos: Kratos) -> Self {
        Self {
            kratos,
            all_tenants: false,
        }
    }

    /// A courier whose worker dispatches the messages of every tenant in the store (by
    /// default a worker dispatches only its handle's tenant).
    pub fn for_all_tenants(mut self) -> Self {
        self.all_tenants = true;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        truncate_micros(self.kratos.clock().now())
    }

    /// Renders a template into a queued email (not yet stored).
    pub fn render(
        &self,
        template: TemplateType,
        recipient: &str,
        data: Value,
    ) -> Result<Message, CourierError> {
        self.render_via(AddressVia::Email, template, recipient, data)
    }

    /// Renders a template into a queued message for an address reached `via` email or SMS
    /// (not yet stored). A text message has no subject and no HTML body; its template sees
    /// the same data as the email's, plus `request_url_domain` (the host of `request_url`)
    /// when the data has a `request_url` and no `request_url_domain`.
    pub fn render_via(
        &self,
        via: AddressVia,
        template: TemplateType,
        recipient: &str,
        mut data: Value,
    ) -> Result<Message, CourierError> {
        let now = self.now();
        let (message_type, subject, body, html_body) = match via {
            AddressVia::Email => {
                let rendered = self.kratos.templates().render(template, &data)?;
                (
                    MessageType::Email,
                    rendered.subject,
                    rendered.plaintext,
                    rendered.html,
                )
            }
            AddressVia::Sms => {
                add_request_url_domain(&mut data);
                let text = self.kratos.templates().render_sms(template, &data)?;
                (MessageType::Sms, String::new(), text, None)
            }
        };
        Ok(Message {
            id: Uuid::now_v7(),
            status: MessageStatus::Queued,
            message_type,
            recipient: recipient.to_owned(),
            subject,
            body,
            html_body,
            template_type: template,
            template_data: data,
            send_count: 0,
            send_after: now,
            created_at: now,
            updated_at: now,
        })
    }

    /// Renders a template and queues the email in this tenant.
    pub async fn queue(
        &self,
        template: TemplateType,
        recipient: &str,
        data: Value,
    ) -> Result<Message, CourierError> {
        let m = self.render(template, recipient, data)?;
        self.kratos
            .store()
            .enqueue_message(self.kratos.nid(), &m)
            .await?;
        crate::telemetry::message_queued(&m);
        Ok(m)
    }

    /// One message of this tenant.
    pub async fn get(&self, id: Uuid) -> Result<Message, CourierError> {
        Ok(self
            .kratos
            .store()
            .get_message(self.kratos.nid(), id)
            .await?)
    }

    /// Messages of this tenant, newest first.
    pub async fn list(&self, query: &MessageQuery) -> Result<Vec<Message>, CourierError> {
        Ok(self
            .kratos
            .store()
            .list_messages(self.kratos.nid(), query)
            .await?)
    }

    /// The channels of the registry, with the type of message each delivers.
    fn channels(&self) -> Vec<(MessageType, &Arc<dyn Channel>)> {
        [
            (MessageType::Email, self.kratos.courier_channel()),
            (MessageType::Sms, self.kratos.courier_sms_channel()),
        ]
        .into_iter()
        .filter_map(|(t, c)| c.map(|c| (t, c)))
        .collect()
    }

    /// Claims up to `courier.worker.pull_count` due messages (of this handle's tenant, or of
    /// every tenant after [`Courier::for_all_tenants`]) of the types it has a channel for,
    /// sends each through the channel of its type (email or SMS) and records each outcome.
    /// Messages of a type without a channel stay queued. A failed send is retried after a
    /// back-off that doubles from `courier.worker.retry_backoff`; after
    /// `courier.message_retries` failed sends the message is abandoned.
    ///
    /// # Errors
    ///
    /// [`CourierError::NoChannel`] when the registry has no channel at all, and
    /// [`CourierError::Store`] when the store fails.
    ///
    /// Runs in a `courier.dispatch` span, each send in a `courier.send` span (message id,
    /// channel, template; never the recipient or body), and reports each outcome
    /// ([`crate::telemetry`]).
    #[tracing::instrument(name = "courier.dispatch", skip_all, fields(claimed = tracing::field::Empty))]
    pub async fn dispatch_batch(&self) -> Result<DispatchReport, CourierError> {
        let channels = self.channels();
        if channels.is_empty() {
            return Err(CourierError::NoChannel);
        }
        let types: Vec<MessageType> = channels.iter().map(|(t, _)| *t).collect();
        let config = &self.kratos.config().courier;
        let now = self.now();
        let store = self.kratos.store();
        let claimed = store
            .claim_messages(
                (!self.all_tenants).then(|| self.kratos.nid()),
                &types,
                now,
                now - config.worker.claim_timeout.as_chrono(),
                config.worker.pull_count.max(1),
            )
            .await?;
        let mut report = DispatchReport {
            claimed: claimed.len(),
            ..Default::default()
        };
        tracing::Span::current().record("claimed", claimed.len());
        crate::telemetry::messages_claimed(claimed.len());
        for (nid, message) in claimed {
            let outcome = match channels.iter().find(|(t, _)| *t == message.message_type) {
                Some((_, channel)) => {
                    channel
                        .send(&message)
                        .instrument(tracing::info_span!(
                            "courier.send",
                            message.id = %message.id,
                            channel = message.message_type.as_str(),
                            template = message.template_type.as_str(),
                            attempt = message.send_count.saturating_add(1),
                        ))
                        .await
                }
                // The store handed over a type it was not asked for: never through another
                // type's channel; it is retried like a failed send.
                None => Err(ChannelError::new(format!(
                    "no courier channel for {} messages",
                    message.message_type.as_str()
                ))),
            };
            let at = self.now();
            match outcome {
                Ok(()) => {
                    store.mark_message_sent(nid, message.id, at).await?;
                    crate::telemetry::message_sent(&message);
                    report.sent += 1;
                }
                Err(e) => {
                    let attempts = message.send_count + 1;
                    let abandoned = attempts >= config.message_retries.max(1);
                    crate::telemetry::message_failed(&message, abandoned);
                    let retry_at = if abandoned {
                        report.abandoned += 1;
                        tracing::warn!(
                            message_id = %message.id,
                            attempts,
                            error = %e,
                            "courier: giving up on a message"
                        );
                        None
                    } else {
                        report.retried += 1;
                        let shift = (attempts - 1).min(16);
                        let backoff = config
                            .worker
                            .retry_backoff
                            .as_chrono()
                            .checked_mul(1 << shift)
                            .unwrap_or(chrono::Duration::MAX)
                            .min(config.worker.max_backoff.as_chrono());
                        tracing::warn!(
                            message_id = %message.id,
                            attempts,
                            error = %e,
                            "courier: sending failed, will retry"
                        );
                        Some(at + backoff)
                    };
                    store
                        .mark_message_failed(nid, message.id, at, retry_at)
                        .await?;
                }
            }
        }
        Ok(report)
    }

    /// Dispatches until `shutdown` completes: a full batch is followed by the next at once,
    /// otherwise the worker waits `courier.worker.pull_wait`. Storage errors are logged and
    /// retried after the wait.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let pull_count = self.kratos.config().courier.worker.pull_count.max(1);
        let wait = self.kratos.config().courier.worker.pull_wait.0;
        tokio::pin!(shutdown);
        // Without any channel nothing can be sent until the registry is rebuilt: say so once,
        // not at every pull (messages stay queued).
        let mut said_no_channel = false;
        loop {
            let full = match self.dispatch_batch().await {
                Ok(r) => r.claimed >= pull_count,
                Err(CourierError::NoChannel) => {
                    if !said_no_channel {
                        tracing::warn!(
                            "courier: no channel is configured (courier.smtp, courier.http or \
                             courier.channels); messages stay queued"
                        );
                        said_no_channel = true;
                    }
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "courier: dispatch failed");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Starts [`Courier::run`] on the tokio runtime; the worker stops when the returned handle
    /// is dropped or [`CourierWorker::stop`] is called.
    pub fn spawn(&self) -> CourierWorker {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let courier = self.clone();
        let handle = tokio::spawn(async move {
            courier
                .run(async move {
                    let _ = rx.await;
                })
                .await;
        });
        CourierWorker(crate::task::Stoppable::new(tx, handle))
    }
}

/// A running courier worker (see [`Courier::spawn`]).
#[derive(Debug)]
pub struct CourierWorker(crate::task::Stoppable);

impl CourierWorker {
    /// Stops the worker after its current batch and waits for it.
    pub async fn stop(self) {
        self.0.stop().await;
    }
}

impl Kratos {
    /// The courier (templates, queue and worker).
    pub fn courier(&self) -> Courier {
        Courier::new(self.clone())
    }
}

/// Shared parts of the registry the courier needs.
#[derive(Clone)]
pub(crate) struct CourierParts {
    pub(crate) templates: Templates,
    /// The email channel.
    pub(crate) channel: Option<Arc<dyn Channel>>,
    /// The text message channel.
    pub(crate) sms_channel: Option<Arc<dyn Channel>>,
}

impl std::fmt::Debug for CourierParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourierParts")
            .field("channel", &self.channel.as_ref().map(|c| c.name()))
            .field("sms_channel", &self.sms_channel.as_ref().map(|c| c.name()))
            .finish_non_exhaustive()
    }
}

/// The text message channel `courier.channels` configures: an [`HttpChannel`] from the
/// `request_config` of its `sms` entry (the `courier-http` feature), none without one.
/// Errors name the channel's key (`courier.channels[0]…`).
pub(crate) fn sms_channel_from_config(
    config: &CourierConfig,
) -> Result<Option<Arc<dyn Channel>>, String> {
    let Some((i, sms)) = config.sms_channel() else {
        return Ok(None);
    };
    match sms.channel_type {
        CourierChannelType::Http => {
            #[cfg(feature = "courier-http")]
            {
                let key = format!("courier.channels[{i}].request_config");
                Ok(Some(Arc::new(HttpChannel::from_config_at(
                    &sms.request_config,
                    &key,
                )?)))
            }
            #[cfg(not(feature = "courier-http"))]
            {
                Err(format!(
                    "courier.channels[{i}] (`sms`, type `http`) needs the `courier-http` feature of kratos-core"
                ))
            }
        }
    }
}

/// The channel `courier.*` configures: HTTP with `delivery_strategy: http`, SMTP when
/// `smtp.connection_uri` is set, none otherwise.
pub(crate) fn channel_from_config(
    config: &CourierConfig,
) -> Result<Option<Arc<dyn Channel>>, String> {
    match config.delivery_strategy.as_str() {
        "http" => {
            #[cfg(feature = "courier-http")]
            {
                Ok(Some(Arc::new(HttpChannel::from_config(
                    &config.http.request_config,
                )?)))
            }
            #[cfg(not(feature = "courier-http"))]
            {
                Err("courier.delivery_strategy `http` needs the `courier-http` feature of kratos-core".into())
            }
        }
        "smtp" | "" => {
            if config.smtp.connection_uri.is_none() {
                return Ok(None);
            }
            #[cfg(feature = "smtp")]
            {
                Ok(Some(Arc::new(SmtpChannel::from_config(&config.smtp)?)))
            }
            #[cfg(not(feature = "smtp"))]
            {
                Err("courier.smtp.connection_uri needs the `smtp` feature of kratos-core".into())
            }
        }
        other => Err(format!(
            "courier.delivery_strategy must be smtp or http, not `{other}`"
        )),
    }
}

/// Adds `request_url_domain` (the host of `request_url`, as Kratos's text-message templates
/// use it) to template data that has a `request_url` and no domain yet.
fn add_request_url_domain(data: &mut Value) {
    let Some(map) = data.as_object_mut() else {
        return;
    };
    if map.contains_key("request_url_domain") {
        return;
    }
    let host = map
        .get("request_url")
        .and_then(Value::as_str)
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    if let Some(host) = host {
        map.insert("request_url_domain".into(), Value::String(host));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_message_data_gets_the_request_domain() {
        let mut data =
            json!({"request_url": "https://auth.example.com:4433/self-service/login?flow=1"});
        add_request_url_domain(&mut data);
        assert_eq!(data["request_url_domain"], "auth.example.com");
        let mut kept =
            json!({"request_url": "https://a.example/", "request_url_domain": "b.example"});
        add_request_url_domain(&mut kept);
        assert_eq!(kept["request_url_domain"], "b.example");
        let mut bad = json!({"request_url": "not a url"});
        add_request_url_domain(&mut bad);
        assert!(bad.get("request_url_domain").is_none());
    }

    #[test]
    fn message_types_round_trip() {
        for t in [MessageType::Email, MessageType::Sms] {
            assert_eq!(MessageType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            serde_json::to_value(MessageType::Sms).unwrap(),
            json!("sms")
        );
    }
}
