//! Text messages through the `sms` channel of `courier.channels`, against a local HTTP
//! endpoint: delivered with the configured authentication, retried when the endpoint fails,
//! never sent twice, and never lost when it is down or answers garbage.

use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{Duration, Utc};
use kratos_core::courier::{MemoryOutbox, Message, MessageStatus, MessageType, TemplateType};
use kratos_core::identity::AddressVia;
use kratos_core::store::MemoryStore;
use kratos_core::{BuildError, Clock as _, Config, Kratos, ManualClock};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the endpoint received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the endpoint answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Bytes that are not HTTP, then the connection closes.
    Garbage,
}

/// A local HTTP/1.1 endpoint recording every request and answering as told.
struct SmsEndpoint {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<Answer>>,
}

impl SmsEndpoint {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer::Status(200)));
        let (s, a) = (seen.clone(), answer.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (s, a) = (s.clone(), a.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let path = first.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(": "))
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                    s.lock().unwrap().push(Seen {
                        method,
                        path,
                        headers,
                        body,
                    });
                    let answer = *a.lock().unwrap();
                    let reply = match answer {
                        Answer::Status(status) => format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        ),
                        Answer::Garbage => "this is not HTTP at all\r\n\r\n".to_owned(),
                    };
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { url, seen, answer }
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A URL on which nothing listens.
async fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn config(channels: &str) -> Config {
    Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"courier-sms-test-secret-0123456789\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n\
         courier:\n  worker:\n    retry_backoff: 10s\n  channels:\n{channels}"
    ))
    .unwrap()
}

fn sms_channel(url: &str, auth: &str) -> String {
    format!(
        "    - id: sms\n      type: http\n      request_config:\n        url: {url}\n        \
         method: POST\n        headers: {{X-Tenant: acme}}\n        auth: {auth}\n"
    )
}

/// A registry with the `sms` channel of `channels` and an email outbox.
fn build(channels: &str) -> (Kratos, MemoryOutbox, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let email = MemoryOutbox::new();
    let k = Kratos::builder(kratos_core::testsuite::without_hibp(config(channels)))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .clock(clock.clone())
        .courier_channel(Arc::new(email.clone()))
        .build()
        .expect("kratos builds");
    (k, email, clock)
}

/// Renders a verification code text message and queues it.
async fn queue_sms(k: &Kratos, to: &str, code: &str) -> Message {
    let m = k
        .courier()
        .render_via(
            AddressVia::Sms,
            TemplateType::VerificationCodeValid,
            to,
            json!({"verification_code": code, "expires_in_minutes": 15}),
        )
        .unwrap();
    k.store().enqueue_message(k.nid(), &m).await.unwrap();
    m
}

#[tokio::test]
async fn a_text_is_posted_with_the_api_key_retried_after_a_500_and_sent_once() {
    let endpoint = SmsEndpoint::start().await;
    let (k, email, clock) = build(&sms_channel(
        &endpoint.url,
        "{type: api_key, config: {name: X-Api-Key, value: sms-api-key-1, in: header}}",
    ));
    let courier = k.courier();
    let m = queue_sms(&k, "+15550100", "481516").await;

    endpoint.answer(Answer::Status(500));
    let r = courier.dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.retried), (1, 1));
    let after = courier.get(m.id).await.unwrap();
    assert_eq!((after.status, after.send_count), (MessageStatus::Queued, 1));

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/sms"));
    assert_eq!(req.header("x-api-key"), Some("sms-api-key-1"));
    assert_eq!(req.header("x-tenant"), Some("acme"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    // Kratos's default body (no `body` configured).
    assert_eq!(req.body["recipient"], "+15550100");
    assert_eq!(req.body["subject"], "");
    assert_eq!(req.body["template_type"], "verification_code_valid");
    assert_eq!(req.body["verification_code"], "481516");
    assert!(
        req.body["body"]
            .as_str()
            .unwrap()
            .contains("Your verification code is: 481516"),
        "{}",
        req.body
    );

    // Not before the back-off; then it goes through.
    endpoint.answer(Answer::Status(200));
    assert_eq!(courier.dispatch_batch().await.unwrap().claimed, 0);
    assert_eq!(endpoint.seen().len(), 1);
    clock.advance(Duration::seconds(10));
    let r = courier.dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
    let sent = courier.get(m.id).await.unwrap();
    assert_eq!((sent.status, sent.send_count), (MessageStatus::Sent, 2));

    // Never again, however long the worker runs.
    for _ in 0..3 {
        clock.advance(Duration::hours(2));
        assert_eq!(courier.dispatch_batch().await.unwrap().claimed, 0);
    }
    assert_eq!(endpoint.seen().len(), 2);
    assert_eq!(endpoint.seen()[1].body, seen[0].body, "the same message");
    assert!(email.messages().is_empty(), "no text goes by email");
}

#[tokio::test]
async fn a_text_is_posted_with_basic_auth_and_emails_still_go_by_email() {
    let endpoint = SmsEndpoint::start().await;
    let (k, email, _) = build(&sms_channel(
        &endpoint.url,
        "{type: basic_auth, config: {user: texter, password: sms-basic-pw-2}}",
    ));
    let m = queue_sms(&k, "+15550101", "123123").await;
    let mail = k
        .courier()
        .queue(
            TemplateType::VerificationCodeValid,
            "mail@example.com",
            json!({"verification_code": "456456"}),
        )
        .await
        .unwrap();
    let r = k.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.sent), (2, 2));
    let seen = endpoint.seen();
    assert_eq!(seen.len(), 1, "only the text goes to the endpoint");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("texter:sms-basic-pw-2")
    );
    assert_eq!(seen[0].header("authorization"), Some(expected.as_str()));
    assert_eq!(seen[0].body["recipient"], "+15550101");
    assert_eq!(
        email.messages().iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![mail.id]
    );
    let sent = k.courier().get(m.id).await.unwrap();
    assert_eq!(
        (sent.status, sent.message_type),
        (MessageStatus::Sent, MessageType::Sms)
    );
}

#[tokio::test]
async fn an_endpoint_down_or_answering_garbage_leaves_the_text_queued_for_a_retry() {
    // Down: nothing listens.
    let (k, _, clock) = build(&sms_channel(
        &closed_url().await,
        "{type: api_key, config: {name: X-Api-Key, value: k, in: header}}",
    ));
    let m = queue_sms(&k, "+15550102", "777777").await;
    let r = k.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.retried, r.sent), (1, 1, 0));
    let kept = k.courier().get(m.id).await.unwrap();
    assert_eq!((kept.status, kept.send_count), (MessageStatus::Queued, 1));
    assert!(kept.send_after > clock.now(), "retried after a back-off");
    assert_eq!(kept.template_data["verification_code"], "777777");

    // Garbage: the endpoint answers something that is not HTTP, then recovers.
    let endpoint = SmsEndpoint::start().await;
    let (k, _, clock) = build(&sms_channel(
        &endpoint.url,
        "{type: api_key, config: {name: X-Api-Key, value: k, in: header}}",
    ));
    let m = queue_sms(&k, "+15550103", "888888").await;
    endpoint.answer(Answer::Garbage);
    let r = k.courier().dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.retried), (1, 1));
    let kept = k.courier().get(m.id).await.unwrap();
    assert_eq!((kept.status, kept.send_count), (MessageStatus::Queued, 1));
    endpoint.answer(Answer::Status(204));
    clock.advance(Duration::seconds(10));
    assert_eq!(k.courier().dispatch_batch().await.unwrap().sent, 1);
    assert_eq!(endpoint.seen().len(), 2);
    assert_eq!(
        k.courier().get(m.id).await.unwrap().status,
        MessageStatus::Sent
    );
}

#[test]
fn a_channel_without_a_url_is_a_build_error_naming_its_key() {
    let err = Kratos::builder(kratos_core::testsuite::without_hibp(config(
        "    - id: sms\n      request_config:\n        method: POST\n",
    )))
    .store(Arc::new(MemoryStore::new()))
    .schema(kratos_core::testsuite::test_schema())
    .build()
    .expect_err("refused");
    assert!(matches!(err, BuildError::Courier(_)), "{err}");
    assert!(
        err.to_string()
            .contains("courier.channels[0].request_config.url"),
        "{err}"
    );
    let err = Kratos::builder(kratos_core::testsuite::without_hibp(config(&sms_channel(
        "https://sms.example.com/",
        "{type: bearer, config: {token: sms-secret-3}}",
    ))))
    .store(Arc::new(MemoryStore::new()))
    .schema(kratos_core::testsuite::test_schema())
    .build()
    .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("courier.channels[0].request_config.auth"),
        "{text}"
    );
    assert!(!text.contains("sms-secret-3"), "{text}");
}
