//! Conformance of the courier and code stores.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::code::{CodeKind, OneTimeCode};
use crate::courier::{MemoryOutbox, MessageQuery, MessageStatus, MessageType, TemplateType};
use crate::store::Persister;
use crate::{Config, Kratos, ManualClock};

/// A registry over `store` in a fresh tenant, with an outbox as courier channel, a manual
/// clock and extra YAML configuration.
pub fn kratos_with_outbox(
    store: Arc<dyn Persister>,
    extra_yaml: &str,
) -> (Kratos, MemoryOutbox, Arc<ManualClock>) {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{extra_yaml}"
    ))
    .expect("config");
    let outbox = MemoryOutbox::new();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let k = Kratos::builder(super::without_hibp(config))
        .clock(clock.clone())
        .store(store)
        .schema(super::test_schema())
        .courier_channel(Arc::new(outbox.clone()))
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4());
    (k, outbox, clock)
}

fn code_record(flow_id: Uuid, kind: CodeKind, digest: &str, k: &Kratos) -> OneTimeCode {
    let now = crate::clock::truncate_micros(k.clock().now());
    OneTimeCode {
        id: Uuid::now_v7(),
        kind,
        flow_id,
        identity_id: None,
        address_id: None,
        address: Some("someone@example.com".into()),
        admin: false,
        digest: digest.to_owned(),
        issued_at: now,
        expires_at: now + Duration::hours(1),
        used_at: None,
    }
}

pub async fn courier_queue_send_and_list(store: Arc<dyn Persister>) {
    let (k, outbox, clock) = kratos_with_outbox(store.clone(), "");
    let courier = k.courier();
    let mut ids = Vec::new();
    for i in 0..3 {
        let m = courier
            .queue(
                TemplateType::VerificationCodeValid,
                &format!("user{i}@example.com"),
                json!({"verification_code": format!("00000{i}"), "expires_in_minutes": 60}),
            )
            .await
            .expect("queue");
        assert_eq!(m.status, MessageStatus::Queued);
        assert!(
            !format!("{m:?}").contains(&format!("00000{i}")),
            "Debug hides the code"
        );
        ids.push(m.id);
        clock.advance(Duration::milliseconds(10));
    }
    let queued = courier
        .list(&MessageQuery {
            status: Some(MessageStatus::Queued),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(queued.len(), 3);
    assert_eq!(queued[0].id, ids[2], "newest first");
    // Keyset pages: two, then the rest after the last of them.
    let page = |after: Option<Uuid>| {
        let courier = courier.clone();
        async move {
            courier
                .list(&MessageQuery {
                    limit: 2,
                    after,
                    ..Default::default()
                })
                .await
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None).await, vec![ids[2], ids[1]]);
    assert_eq!(page(Some(ids[1])).await, vec![ids[0]]);
    assert!(page(Some(ids[0])).await.is_empty());
    assert!(
        page(Some(Uuid::new_v4())).await.is_empty(),
        "unknown cursor"
    );
    let one = courier
        .list(&MessageQuery {
            recipient: Some("user1@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert!(one[0].body.contains("000001"));
    assert!(one[0].html_body.as_deref().unwrap().contains("000001"));

    // Another tenant sees nothing and its worker sends nothing of ours.
    let other = k.tenant(Uuid::new_v4());
    assert!(
        other
            .courier()
            .list(&MessageQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        other.courier().get(ids[0]).await,
        Err(crate::courier::CourierError::Store(
            crate::store::StoreError::NotFound
        ))
    ));
    assert_eq!(other.courier().dispatch_batch().await.unwrap().claimed, 0);

    let report = courier.dispatch_batch().await.unwrap();
    assert_eq!((report.claimed, report.sent), (3, 3));
    let sent = outbox.messages();
    assert_eq!(
        sent.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids,
        "oldest first"
    );
    for id in &ids {
        let m = courier.get(*id).await.unwrap();
        assert_eq!((m.status, m.send_count), (MessageStatus::Sent, 1));
    }
    assert_eq!(
        courier.dispatch_batch().await.unwrap().claimed,
        0,
        "sent once"
    );
}

pub async fn courier_claim_once_under_concurrency(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let mut ids = HashSet::new();
    for i in 0..30 {
        let m = k
            .courier()
            .queue(
                TemplateType::RecoveryCodeValid,
                &format!("c{i}@example.com"),
                json!({"recovery_code": "123456"}),
            )
            .await
            .unwrap();
        ids.insert(m.id);
    }
    let now = k.clock().now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        let nid = k.nid();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_messages(
                        Some(nid),
                        &[MessageType::Email],
                        now,
                        now - Duration::minutes(10),
                        4,
                    )
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|(n, m)| {
                    assert_eq!(n, nid);
                    assert_eq!(m.status, MessageStatus::Processing);
                    m.id
                }));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 30, "every message claimed exactly once");
    assert_eq!(all.iter().copied().collect::<HashSet<_>>(), ids);
}

pub async fn courier_retry_backoff_and_abandon(store: Arc<dyn Persister>) {
    let (k, outbox, clock) = kratos_with_outbox(
        store,
        "courier:\n  worker:\n    retry_backoff: 10s\n    max_backoff: 1m\n",
    );
    let courier = k.courier();
    let m = courier
        .queue(
            TemplateType::RecoveryCodeValid,
            "retry@example.com",
            json!({"recovery_code": "999999"}),
        )
        .await
        .unwrap();
    // Fails twice, then goes through.
    outbox.fail_next(2);
    let r = courier.dispatch_batch().await.unwrap();
    assert_eq!((r.claimed, r.retried), (1, 1));
    let after = courier.get(m.id).await.unwrap();
    assert_eq!((after.status, after.send_count), (MessageStatus::Queued, 1));
    assert_eq!(
        courier.dispatch_batch().await.unwrap().claimed,
        0,
        "not before the back-off"
    );
    clock.advance(Duration::seconds(10));
    assert_eq!(courier.dispatch_batch().await.unwrap().retried, 1);
    clock.advance(Duration::seconds(19));
    assert_eq!(
        courier.dispatch_batch().await.unwrap().claimed,
        0,
        "doubled"
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(courier.dispatch_batch().await.unwrap().sent, 1);
    let done = courier.get(m.id).await.unwrap();
    assert_eq!((done.status, done.send_count), (MessageStatus::Sent, 3));
    assert_eq!(outbox.messages_to("retry@example.com").len(), 1);

    // Five failed sends abandon a message.
    let m = courier
        .queue(
            TemplateType::RecoveryCodeValid,
            "never@example.com",
            json!({"recovery_code": "111111"}),
        )
        .await
        .unwrap();
    outbox.fail_next(100);
    let mut abandoned = 0;
    for _ in 0..10 {
        abandoned += courier.dispatch_batch().await.unwrap().abandoned;
        clock.advance(Duration::seconds(60));
    }
    assert_eq!(abandoned, 1);
    let gone = courier.get(m.id).await.unwrap();
    assert_eq!(
        (gone.status, gone.send_count),
        (MessageStatus::Abandoned, 5)
    );
    outbox.fail_next(0);
    assert!(outbox.messages_to("never@example.com").is_empty());
}

pub async fn courier_worker_restart_reclaims_stale_claims(store: Arc<dyn Persister>) {
    let (k, outbox, clock) = kratos_with_outbox(store.clone(), "");
    let m = k
        .courier()
        .queue(
            TemplateType::VerificationValid,
            "crash@example.com",
            json!({"verification_url": "https://x/"}),
        )
        .await
        .unwrap();
    // A worker claims the message and dies before reporting.
    let now = k.clock().now();
    let claimed = store
        .claim_messages(
            Some(k.nid()),
            &[MessageType::Email],
            now,
            now - Duration::minutes(10),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // A new worker leaves it alone while the claim is fresh …
    assert_eq!(k.courier().dispatch_batch().await.unwrap().claimed, 0);
    // … and sends it once the claim timed out.
    clock.advance(Duration::seconds(601));
    assert_eq!(k.courier().dispatch_batch().await.unwrap().sent, 1);
    assert_eq!(outbox.messages_to("crash@example.com").len(), 1);
    assert_eq!(
        k.courier().get(m.id).await.unwrap().status,
        MessageStatus::Sent
    );
}

pub async fn code_issue_use_expire_and_replace(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let nid = k.nid();
    let flow = Uuid::new_v4();
    let now = crate::clock::truncate_micros(k.clock().now());
    let message = k
        .courier()
        .render(
            TemplateType::VerificationCodeValid,
            "code@example.com",
            json!({"verification_code": "123456"}),
        )
        .unwrap();
    let first = code_record(flow, CodeKind::VerificationCode, "aa", &k);
    store.issue_code(nid, &first, Some(&message)).await.unwrap();
    assert_eq!(
        k.courier().get(message.id).await.unwrap().status,
        MessageStatus::Queued,
        "the message is stored with the code"
    );
    // Wrong digest, wrong kind, wrong flow, wrong tenant.
    assert!(
        store
            .use_code(nid, flow, CodeKind::VerificationCode, &["bb".into()], now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_code(nid, flow, CodeKind::RecoveryCode, &["aa".into()], now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_code(
                nid,
                Uuid::new_v4(),
                CodeKind::VerificationCode,
                &["aa".into()],
                now
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_code(
                Uuid::new_v4(),
                flow,
                CodeKind::VerificationCode,
                &["aa".into()],
                now
            )
            .await
            .unwrap()
            .is_none()
    );
    // Right: once.
    let used = store
        .use_code(
            nid,
            flow,
            CodeKind::VerificationCode,
            &["bb".into(), "aa".into()],
            now,
        )
        .await
        .unwrap()
        .expect("the code is good");
    assert_eq!(used.id, first.id);
    assert_eq!(used.address.as_deref(), Some("someone@example.com"));
    assert!(
        store
            .use_code(nid, flow, CodeKind::VerificationCode, &["aa".into()], now)
            .await
            .unwrap()
            .is_none(),
        "reused"
    );

    // Expired.
    let flow = Uuid::new_v4();
    let code = code_record(flow, CodeKind::RecoveryLink, "cc", &k);
    store.issue_code(nid, &code, None).await.unwrap();
    let later = code.expires_at;
    assert!(
        store
            .use_code(nid, flow, CodeKind::RecoveryLink, &["cc".into()], later)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );

    // A new code replaces the unused one of the same flow.
    let flow = Uuid::new_v4();
    store
        .issue_code(
            nid,
            &code_record(flow, CodeKind::RecoveryCode, "d1", &k),
            None,
        )
        .await
        .unwrap();
    store
        .issue_code(
            nid,
            &code_record(flow, CodeKind::RecoveryCode, "d2", &k),
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .use_code(nid, flow, CodeKind::RecoveryCode, &["d1".into()], now)
            .await
            .unwrap()
            .is_none(),
        "replaced"
    );
    assert!(
        store
            .use_code(nid, flow, CodeKind::RecoveryCode, &["d2".into()], now)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn code_concurrent_use_exactly_one_wins(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let nid = k.nid();
    let flow = Uuid::new_v4();
    store
        .issue_code(
            nid,
            &code_record(flow, CodeKind::RecoveryCode, "race", &k),
            None,
        )
        .await
        .unwrap();
    let now = k.clock().now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .use_code(nid, flow, CodeKind::RecoveryCode, &["race".into()], now)
                    .await
                    .expect("use")
                    .is_some()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);

    // The submission counter counts every concurrent submission once.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.count_code_submission(nid, flow).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=10).collect::<Vec<u32>>());
}

// ---------------------------------------------------------------------------------------------
// Verification and recovery flows end to end, reading codes and links out of the outbox.

use crate::flow::recovery::RecoverySubmission;
use crate::flow::ui::UiContainer;
use crate::flow::{ContinueWith, FlowContext, FlowError, FlowState, FlowType};
use crate::identity::CreateIdentityBody;
use crate::session::ClientInfo;

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// The 6-digit code in the newest email to `to`, after a dispatch.
pub async fn code_from_outbox(k: &Kratos, outbox: &MemoryOutbox, to: &str) -> String {
    k.courier().dispatch_batch().await.expect("dispatch");
    let m = outbox.last_to(to).expect("an email was sent");
    m.body
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .expect("the email carries a code")
        .to_owned()
}

/// The link in the newest email to `to`, after a dispatch: `(flow, token)`.
pub async fn link_from_outbox(k: &Kratos, outbox: &MemoryOutbox, to: &str) -> (Uuid, String) {
    k.courier().dispatch_batch().await.expect("dispatch");
    let m = outbox.last_to(to).expect("an email was sent");
    let link = m
        .body
        .split_whitespace()
        .find(|w| w.contains("token="))
        .expect("the email carries a link");
    parse_link(link)
}

fn parse_link(link: &str) -> (Uuid, String) {
    let url = url::Url::parse(link).expect("a URL");
    let q = |k: &str| {
        url.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .expect("query parameter")
    };
    (q("flow").parse().expect("flow id"), q("token"))
}

async fn identity_with_email(k: &Kratos) -> (Uuid, String) {
    let email = format!("flow-{}@example.com", Uuid::new_v4().simple());
    let i = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": email }),
            ..Default::default()
        })
        .await
        .expect("identity");
    (i.id, email)
}

const VERIFICATION: &str = "selfservice:\n  flows:\n    verification:\n      enabled: true\n";

pub async fn flow_verification_code(store: Arc<dyn Persister>) {
    let (k, outbox, clock) = kratos_with_outbox(store.clone(), VERIFICATION);
    let ctx = FlowContext::default();
    let (id, email) = identity_with_email(&k).await;
    assert!(!k.identities().get(id).await.unwrap().verifiable_addresses[0].verified);

    let flow = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::ChooseMethod);
    let flow = k
        .verification()
        .submit(
            flow.id,
            &json!({"method": "code", "email": email.to_uppercase()}),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(flow.state, FlowState::SentEmail);
    assert_eq!(ids(&flow.ui), vec![1080003]);
    let code = code_from_outbox(&k, &outbox, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let again = k
        .verification()
        .submit(flow.id, &json!({"method": "code", "code": wrong}), &ctx)
        .await
        .unwrap();
    assert_eq!(
        (again.state, ids(&again.ui)),
        (FlowState::SentEmail, vec![4070006])
    );
    let done = k
        .verification()
        .submit(flow.id, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap();
    assert_eq!(
        (done.state, ids(&done.ui)),
        (FlowState::PassedChallenge, vec![1080002])
    );
    let a = &k.identities().get(id).await.unwrap().verifiable_addresses[0];
    assert!(a.verified && a.verified_at.is_some());
    assert!(matches!(
        k.verification()
            .submit(flow.id, &json!({"method": "code", "code": code}), &ctx)
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    // An unknown address gets the same answer and no email …
    let unknown = format!("nobody-{}@example.com", Uuid::new_v4().simple());
    let f = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    let f = k
        .verification()
        .submit(f.id, &json!({"method": "code", "email": unknown}), &ctx)
        .await
        .unwrap();
    assert_eq!((f.state, ids(&f.ui)), (FlowState::SentEmail, vec![1080003]));
    k.courier().dispatch_batch().await.unwrap();
    assert!(outbox.messages_to(&unknown).is_empty());
    // … or, when configured, a notice.
    let (k2, outbox2, _) = kratos_with_outbox(
        store.clone(),
        "selfservice:\n  flows:\n    verification:\n      enabled: true\n      notify_unknown_recipients: true\n",
    );
    let f = k2.verification().create(FlowType::Api, &ctx).await.unwrap();
    k2.verification()
        .submit(f.id, &json!({"method": "code", "email": unknown}), &ctx)
        .await
        .unwrap();
    k2.courier().dispatch_batch().await.unwrap();
    let notices = outbox2.messages_to(&unknown);
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0].template_type,
        TemplateType::VerificationCodeInvalid
    );

    // Five wrong codes, then even the right one is refused.
    let (id2, email2) = identity_with_email(&k).await;
    let f = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    k.verification()
        .submit(f.id, &json!({"method": "code", "email": email2}), &ctx)
        .await
        .unwrap();
    let code = code_from_outbox(&k, &outbox, &email2).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = k
            .verification()
            .submit(f.id, &json!({"method": "code", "code": wrong}), &ctx)
            .await
            .unwrap();
        assert_eq!(ids(&r.ui), vec![4070006]);
    }
    let r = k
        .verification()
        .submit(f.id, &json!({"method": "code", "code": code}), &ctx)
        .await
        .unwrap();
    assert_eq!((r.state, ids(&r.ui)), (FlowState::SentEmail, vec![4000001]));
    assert!(!k.identities().get(id2).await.unwrap().verifiable_addresses[0].verified);

    // Browser flows need the CSRF token.
    let b = k
        .verification()
        .create(FlowType::Browser, &ctx)
        .await
        .unwrap();
    assert!(matches!(
        k.verification()
            .submit(b.id, &json!({"method": "code", "email": email2}), &ctx)
            .await,
        Err(FlowError::CsrfViolation)
    ));

    // Expired flows answer with a fresh flow that says so.
    clock.advance(Duration::hours(2));
    match k
        .verification()
        .submit(f.id, &json!({"method": "code", "code": code}), &ctx)
        .await
    {
        Err(FlowError::Expired { use_flow_id, .. }) => {
            let fresh = k.verification().get(use_flow_id, &ctx).await.unwrap();
            assert_eq!(ids(&fresh.ui), vec![4070005]);
        }
        other => panic!("expected an expired flow, got {other:?}"),
    }
    // Disabled by default.
    let (k3, _, _) = kratos_with_outbox(store, "");
    assert!(matches!(
        k3.verification().create(FlowType::Api, &ctx).await,
        Err(FlowError::Disabled)
    ));
}

pub async fn flow_verification_link(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(
        store,
        "selfservice:\n  methods:\n    link:\n      enabled: true\n  flows:\n    verification:\n      enabled: true\n      use: link\n",
    );
    let ctx = FlowContext::default();
    let (id, email) = identity_with_email(&k).await;
    let flow = k
        .verification()
        .create(FlowType::Browser, &ctx)
        .await
        .unwrap();
    let csrf = flow
        .ui
        .node("csrf_token")
        .and_then(|n| match &n.attributes {
            crate::flow::ui::NodeAttributes::Input(a) => a.value.clone(),
            _ => None,
        });
    let sent = k
        .verification()
        .submit(
            flow.id,
            &json!({"method": "link", "email": email, "csrf_token": csrf}),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(
        (sent.state, ids(&sent.ui)),
        (FlowState::SentEmail, vec![1080001])
    );
    let (flow_id, token) = link_from_outbox(&k, &outbox, &email).await;
    assert_eq!(flow_id, flow.id);
    let bad = k
        .verification()
        .submit(flow_id, &json!({"token": "x".repeat(32)}), &ctx)
        .await
        .unwrap();
    assert_eq!(ids(&bad.ui), vec![4070001]);
    // Following the link needs no CSRF token.
    let done = k
        .verification()
        .submit(flow_id, &json!({"token": token}), &ctx)
        .await
        .unwrap();
    assert_eq!(
        (done.state, ids(&done.ui)),
        (FlowState::PassedChallenge, vec![1080002])
    );
    assert!(k.identities().get(id).await.unwrap().verifiable_addresses[0].verified);
}

const RECOVERY: &str = "selfservice:\n  methods:\n    link:\n      enabled: true\n  flows:\n    recovery:\n      enabled: true\n      after:\n        hooks:\n          - hook: revoke_active_sessions\n";

pub async fn flow_recovery_code(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store, RECOVERY);
    let ctx = FlowContext::default();
    let (id, email) = identity_with_email(&k).await;
    let identity = k.identities().get(id).await.unwrap();
    let old = k
        .sessions()
        .issue(&identity, Vec::new(), &ClientInfo::default())
        .await
        .unwrap();

    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let RecoverySubmission::Flow(sent) = k
        .recovery()
        .submit(flow.id, &json!({"method": "code", "email": email}), &ctx)
        .await
        .unwrap()
    else {
        panic!("sending does not complete the flow")
    };
    assert_eq!(
        (sent.state, ids(&sent.ui)),
        (FlowState::SentEmail, vec![1060003])
    );
    let code = code_from_outbox(&k, &outbox, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let RecoverySubmission::Flow(again) = k
        .recovery()
        .submit(flow.id, &json!({"method": "code", "code": wrong}), &ctx)
        .await
        .unwrap()
    else {
        panic!("a wrong code does not recover")
    };
    assert_eq!(ids(&again.ui), vec![4060006]);

    // Concurrent submissions of the right code: exactly one recovers.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let k = k.clone();
            let code = code.clone();
            let id = flow.id;
            tokio::spawn(async move {
                k.recovery()
                    .submit(
                        id,
                        &json!({"method": "code", "code": code}),
                        &FlowContext::default(),
                    )
                    .await
            })
        })
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        if let Ok(RecoverySubmission::Completed(s)) = t.await.unwrap() {
            done.push(s);
        }
    }
    assert_eq!(done.len(), 1, "one submission recovers");
    let s = done.pop().unwrap();
    assert_eq!(s.flow.state, FlowState::PassedChallenge);
    assert_eq!(ids(&s.flow.ui), vec![1060001]);
    assert_eq!(s.session.authentication_methods[0].method, "code_recovery");
    assert_eq!(
        s.session.authenticator_assurance_level,
        crate::session::Aal::Aal1
    );
    assert!(matches!(
        &s.continue_with[0],
        ContinueWith::SetOrySessionToken { ory_session_token } if ory_session_token == s.session_token.expose()
    ));
    assert!(matches!(
        &s.continue_with[1],
        ContinueWith::ShowSettingsUi { flow } if flow.id == s.settings_flow.id
    ));
    let stored = k.recovery().get(flow.id, &ctx).await.unwrap();
    assert!(
        !serde_json::to_string(&stored)
            .unwrap()
            .contains(s.session_token.expose()),
        "the stored flow keeps no session token"
    );
    // The settings flow belongs to the new session; the old session is revoked.
    let sctx = FlowContext {
        session_token: Some(s.session_token.expose().to_owned()),
        ..Default::default()
    };
    assert_eq!(
        k.settings()
            .get(s.settings_flow.id, &sctx)
            .await
            .unwrap()
            .identity
            .id,
        id
    );
    assert!(k.sessions().whoami(old.token.expose()).await.is_err());
    assert!(k.sessions().whoami(s.session_token.expose()).await.is_ok());
    // The address the code went to is verified now.
    assert!(k.identities().get(id).await.unwrap().verifiable_addresses[0].verified);
}

pub async fn flow_recovery_link_and_admin(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store.clone(), &format!("{RECOVERY}      use: link\n"));
    let ctx = FlowContext::default();
    let (id, email) = identity_with_email(&k).await;
    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let RecoverySubmission::Flow(sent) = k
        .recovery()
        .submit(flow.id, &json!({"method": "link", "email": email}), &ctx)
        .await
        .unwrap()
    else {
        panic!("sending does not complete the flow")
    };
    assert_eq!(ids(&sent.ui), vec![1060002]);
    let (flow_id, token) = link_from_outbox(&k, &outbox, &email).await;
    let RecoverySubmission::Completed(s) = k
        .recovery()
        .submit(flow_id, &json!({"token": token}), &ctx)
        .await
        .unwrap()
    else {
        panic!("the link recovers")
    };
    assert_eq!(s.session.authentication_methods[0].method, "link_recovery");
    assert!(matches!(
        k.recovery()
            .submit(flow_id, &json!({"token": token}), &ctx)
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    // Admin: a code, entered in a browser flow without a CSRF token.
    let admin = k
        .recovery()
        .admin_create_code(id, Some(std::time::Duration::from_secs(600)))
        .await
        .unwrap();
    assert!(!format!("{admin:?}").contains(&admin.recovery_code));
    let flow_id: Uuid = url::Url::parse(&admin.recovery_link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "flow")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let f = k.recovery().get(flow_id, &ctx).await.unwrap();
    assert_eq!(
        (f.flow_type, f.state),
        (FlowType::Browser, FlowState::SentEmail)
    );
    assert!(f.expires_at <= admin.expires_at);
    let RecoverySubmission::Completed(s) = k
        .recovery()
        .submit(
            flow_id,
            &json!({"method": "code", "code": admin.recovery_code}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("the admin code recovers")
    };
    assert_eq!(s.session.identity_id, id);
    // Admin: a link.
    let link = k.recovery().admin_create_link(id, None).await.unwrap();
    let (flow_id, token) = parse_link(&link.recovery_link);
    assert!(matches!(
        k.recovery()
            .submit(flow_id, &json!({"token": token}), &ctx)
            .await
            .unwrap(),
        RecoverySubmission::Completed(_)
    ));
    assert!(outbox.messages().len() == 1, "admin codes send no email");
    assert!(matches!(
        k.recovery().admin_create_code(Uuid::new_v4(), None).await,
        Err(FlowError::NotFound)
    ));
}
