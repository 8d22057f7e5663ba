//! Conformance of the courier store with text messages beside emails: each type is read back
//! as it was queued, and a worker claims only the types it has a channel for.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::courier::{
    CourierError, MemoryOutbox, Message, MessageQuery, MessageStatus, MessageType, TemplateType,
};
use crate::identity::AddressVia;
use crate::store::Persister;
use crate::{Clock as _, Kratos, ManualClock};

/// A registry over `store`, bound to tenant `nid`, with the given email and SMS channels.
fn registry(
    store: &Arc<dyn Persister>,
    clock: &Arc<ManualClock>,
    nid: Uuid,
    email: Option<&MemoryOutbox>,
    sms: Option<&MemoryOutbox>,
) -> Kratos {
    let mut builder = super::builder_with(
        store.clone(),
        "courier:\n  worker:\n    retry_backoff: 10s\n",
        clock.clone(),
    );
    if let Some(outbox) = email {
        builder = builder.courier_channel(Arc::new(outbox.clone()));
    }
    if let Some(outbox) = sms {
        builder = builder.courier_sms_channel(Arc::new(outbox.clone()));
    }
    builder.build().expect("kratos builds").tenant(nid)
}

async fn queue(k: &Kratos, via: AddressVia, to: &str, code: &str) -> Message {
    let m = k
        .courier()
        .render_via(
            via,
            TemplateType::VerificationCodeValid,
            to,
            json!({"verification_code": code, "expires_in_minutes": 15,
                   "request_url": "https://auth.example.com/self-service/verification?flow=1"}),
        )
        .expect("render");
    k.store()
        .enqueue_message(k.nid(), &m)
        .await
        .expect("enqueue");
    m
}

fn ids(messages: &[Message]) -> Vec<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

pub async fn courier_sms_and_email_each_to_their_own_channel(store: Arc<dyn Persister>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let nid = Uuid::new_v4();
    let (email_box, sms_box) = (MemoryOutbox::new(), MemoryOutbox::new());
    let both = registry(&store, &clock, nid, Some(&email_box), Some(&sms_box));
    let email_only = registry(&store, &clock, nid, Some(&email_box), None);
    let sms_only = registry(&store, &clock, nid, None, Some(&sms_box));
    let none = registry(&store, &clock, nid, None, None);

    let mut texts = Vec::new();
    let mut mails = Vec::new();
    for i in 0..2 {
        texts.push(
            queue(
                &both,
                AddressVia::Sms,
                &format!("+1555010{i}"),
                &format!("71000{i}"),
            )
            .await,
        );
        clock.advance(Duration::milliseconds(10));
        mails.push(
            queue(
                &both,
                AddressVia::Email,
                &format!("m{i}@example.com"),
                &format!("72000{i}"),
            )
            .await,
        );
        clock.advance(Duration::milliseconds(10));
    }

    // Read back with their type and shape.
    let sms = both.courier().get(texts[0].id).await.unwrap();
    assert_eq!(sms.message_type, MessageType::Sms);
    assert_eq!((sms.subject.as_str(), sms.html_body.as_deref()), ("", None));
    assert!(sms.body.contains("710000"), "the text carries the code");
    assert_eq!(sms.recipient, "+15550100");
    assert_eq!(sms.template_type, TemplateType::VerificationCodeValid);
    assert_eq!(sms.template_data["request_url_domain"], "auth.example.com");
    assert_eq!((sms.status, sms.send_count), (MessageStatus::Queued, 0));
    let mail = both.courier().get(mails[0].id).await.unwrap();
    assert_eq!(mail.message_type, MessageType::Email);
    assert!(!mail.subject.is_empty() && mail.html_body.is_some());

    // Listed together, newest first, each with its type; and by recipient.
    let all = both.courier().list(&MessageQuery::default()).await.unwrap();
    assert_eq!(
        ids(&all),
        vec![mails[1].id, texts[1].id, mails[0].id, texts[0].id]
    );
    let types: Vec<MessageType> = all.iter().map(|m| m.message_type).collect();
    assert_eq!(
        types,
        [
            MessageType::Email,
            MessageType::Sms,
            MessageType::Email,
            MessageType::Sms
        ]
    );
    let to_phone = both
        .courier()
        .list(&MessageQuery {
            recipient: Some("+15550101".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&to_phone), vec![texts[1].id]);
    assert_eq!(to_phone[0].message_type, MessageType::Sms);

    // No channel at all: nothing is claimed.
    assert!(matches!(
        none.courier().dispatch_batch().await,
        Err(CourierError::NoChannel)
    ));
    // The store claims only the types asked for, and none for no type.
    let now = clock.now();
    let stale = now - Duration::minutes(10);
    assert!(
        store
            .claim_messages(Some(nid), &[], now, stale, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A worker with only an email channel sends the emails, however often it runs and
    // however long the text messages wait: they stay queued, unclaimed and uncounted.
    let r = email_only.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.sent), (2, 2));
    for _ in 0..3 {
        clock.advance(Duration::hours(1));
        assert_eq!(
            email_only.courier().dispatch_batch().await.unwrap().claimed,
            0
        );
    }
    assert_eq!(ids(&email_box.messages()), ids(&mails));
    assert!(sms_box.messages().is_empty());
    for m in &texts {
        let m = both.courier().get(m.id).await.unwrap();
        assert_eq!((m.status, m.send_count), (MessageStatus::Queued, 0));
    }

    // A worker with an SMS channel sends each text message through it, once.
    sms_box.fail_next(1);
    let r = sms_only.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.sent, r.retried), (2, 1, 1));
    let retried = both.courier().get(texts[0].id).await.unwrap();
    assert_eq!(
        (retried.status, retried.send_count),
        (MessageStatus::Queued, 1),
        "a failed text is retried as an email is"
    );
    assert_eq!(
        both.courier().dispatch_batch().await.unwrap().claimed,
        0,
        "not before the back-off"
    );
    clock.advance(Duration::seconds(10));
    let r = both.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
    clock.advance(Duration::hours(1));
    assert_eq!(both.courier().dispatch_batch().await.unwrap().claimed, 0);

    let delivered = sms_box.messages();
    assert_eq!(delivered.len(), 2, "each text exactly once");
    assert_eq!(
        delivered.iter().map(|m| m.id).collect::<HashSet<_>>(),
        ids(&texts).into_iter().collect::<HashSet<_>>()
    );
    assert!(delivered.iter().all(|m| m.message_type == MessageType::Sms));
    assert_eq!(ids(&email_box.messages()), ids(&mails), "no text by email");
    for (m, sends) in [
        (&texts[0], 2),
        (&texts[1], 1),
        (&mails[0], 1),
        (&mails[1], 1),
    ] {
        let m = both.courier().get(m.id).await.unwrap();
        assert_eq!((m.status, m.send_count), (MessageStatus::Sent, sends));
    }
    let sent = both
        .courier()
        .list(&MessageQuery {
            status: Some(MessageStatus::Sent),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 4);
}

/// Abandoning a text message after `courier.message_retries` failed sends, as an email.
pub async fn courier_sms_abandoned_after_the_retries(store: Arc<dyn Persister>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let sms_box = MemoryOutbox::new();
    let k = registry(&store, &clock, Uuid::new_v4(), None, Some(&sms_box));
    let m = queue(&k, AddressVia::Sms, "+15550199", "730000").await;
    sms_box.fail_next(100);
    let mut abandoned = 0;
    for _ in 0..10 {
        abandoned += k.courier().dispatch_batch().await.unwrap().abandoned;
        clock.advance(Duration::minutes(10));
    }
    assert_eq!(abandoned, 1);
    let gone = k.courier().get(m.id).await.unwrap();
    assert_eq!(
        (gone.status, gone.send_count),
        (MessageStatus::Abandoned, 5)
    );
    assert!(sms_box.messages().is_empty());
}
