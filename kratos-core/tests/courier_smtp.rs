//! The SMTP channel against a small SMTP server on loopback: a verification code travels
//! through the courier and is read out of the received mail; with the server down, the
//! message stays queued and goes out once it is back.

use std::sync::Arc;
use std::time::Duration;

use kratos_core::courier::MessageStatus;
use kratos_core::flow::{FlowContext, FlowState, FlowType};
use kratos_core::identity::CreateIdentityBody;
use kratos_core::store::MemoryStore;
use kratos_core::testsuite::smtp_sink;
use kratos_core::{Config, Kratos, ManualClock};
use serde_json::json;
use tokio::net::TcpListener;

fn kratos(port: u16, clock: Arc<ManualClock>) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"smtp-test-secret-0123456789abcdef\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n\
         selfservice:\n  flows:\n    verification:\n      enabled: true\n\
         courier:\n  smtp:\n    connection_uri: smtp://127.0.0.1:{port}/?disable_starttls=true\n    from_address: accounts@example.com\n    from_name: Example\n  worker:\n    retry_backoff: 10s\n"
    ))
    .unwrap();
    Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .clock(clock)
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap()
}

fn code_in(mail: &str) -> Option<String> {
    mail.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
}

async fn start_verification(k: &Kratos, email: &str) -> uuid::Uuid {
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": email }),
            ..Default::default()
        })
        .await
        .unwrap();
    let ctx = FlowContext::default();
    let flow = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    k.verification()
        .submit(flow.id, &json!({"method": "code", "email": email}), &ctx)
        .await
        .unwrap();
    flow.id
}

#[tokio::test]
async fn a_verification_code_arrives_by_smtp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = smtp_sink(listener);
    let k = kratos(port, Arc::new(ManualClock::new(chrono::Utc::now())));
    let flow = start_verification(&k, "smtp@example.com").await;

    let report = k.courier().dispatch_batch().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let mails: Vec<String> = inbox.mails().into_iter().map(|m| m.data).collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: smtp@example.com"));
    assert!(mails[0].contains("From: Example <accounts@example.com>"));
    assert!(mails[0].contains("text/html"));
    let code = code_in(&mails[0]).expect("the mail carries the code");

    let ctx = FlowContext::default();
    let done = k
        .verification()
        .submit(flow, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap();
    assert_eq!(done.state, FlowState::PassedChallenge);
}

#[tokio::test]
async fn smtp_down_keeps_the_message_queued_until_it_is_back() {
    // A port nobody listens on (yet).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let k = kratos(port, clock.clone());
    start_verification(&k, "later@example.com").await;

    let report = k.courier().dispatch_batch().await.unwrap();
    assert_eq!((report.claimed, report.retried), (1, 1), "{report:?}");
    let queued = k
        .courier()
        .list(&Default::default())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (queued.status, queued.send_count),
        (MessageStatus::Queued, 1)
    );

    // The server comes up; after the back-off the worker (a new one: nothing is kept in
    // memory) sends the message.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let inbox = smtp_sink(listener);
    assert_eq!(k.courier().dispatch_batch().await.unwrap().claimed, 0);
    clock.advance(chrono::Duration::seconds(11));
    let restarted = k.tenant(k.nid()).courier();
    assert_eq!(restarted.dispatch_batch().await.unwrap().sent, 1);
    let mails: Vec<String> = inbox.mails().into_iter().map(|m| m.data).collect();
    assert_eq!(mails.len(), 1);
    assert!(code_in(&mails[0]).is_some());
    let sent = k.courier().get(queued.id).await.unwrap();
    assert_eq!((sent.status, sent.send_count), (MessageStatus::Sent, 2));
}

#[tokio::test]
async fn the_worker_loop_sends_and_stops() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = smtp_sink(listener);
    let k = kratos(port, Arc::new(ManualClock::new(chrono::Utc::now())));
    let worker = k.courier().spawn();
    start_verification(&k, "loop@example.com").await;
    inbox.wait_for(1, Duration::from_secs(5)).await;
    worker.stop().await;
    assert_eq!(inbox.mails().len(), 1);
}
