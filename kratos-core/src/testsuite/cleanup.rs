//! Conformance of the cleanup: per kind of row, an expired one goes, a live one stays, another
//! tenant's stays and a batch deletes no more than its size; template data goes when a
//! message is sent.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::courier::kratos_with_outbox;
use crate::cleanup::CleanupOptions;
use crate::code::{CodeKind, OneTimeCode};
use crate::courier::{MessageStatus, TemplateType};
use crate::flow::{FlowDocument, FlowKind, StoredFlow};
use crate::identity::{CreateIdentityBody, Identity};
use crate::session::ClientInfo;
use crate::store::{LockSchedule, LockoutKey, Persister, StoreError};
use crate::{Kratos, clock::truncate_micros};

fn now(k: &Kratos) -> DateTime<Utc> {
    truncate_micros(k.clock().now())
}

fn flow(kind: FlowKind, expires_at: DateTime<Utc>) -> StoredFlow {
    StoredFlow {
        id: Uuid::now_v7(),
        kind,
        expires_at,
        csrf_token: String::new(),
        document: FlowDocument::of(&json!({"state": "choose_method"})).unwrap(),
    }
}

/// Calls `delete` until it deletes nothing, checking that no call deletes more than `limit`;
/// answers the total.
async fn drain<F, Fut>(limit: usize, mut delete: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..100 {
        let n = delete().await.expect("cleanup statement");
        assert!(n <= limit as u64, "a batch of {limit} deleted {n}");
        if n == 0 {
            return total;
        }
        total += n;
    }
    panic!("the cleanup never finished");
}

pub async fn cleanup_expired_flows(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let (a, b) = (k.nid(), Uuid::new_v4());
    let t = now(&k);
    let expired: Vec<StoredFlow> = [FlowKind::Login, FlowKind::Registration, FlowKind::Recovery]
        .into_iter()
        .map(|kind| flow(kind, t - Duration::hours(2)))
        .collect();
    for f in &expired {
        store.insert_flow(a, f).await.unwrap();
    }
    // Expired, but within the retention; live; another tenant's.
    let recent = flow(FlowKind::Login, t - Duration::minutes(30));
    let live = flow(FlowKind::Verification, t + Duration::hours(1));
    let other = flow(FlowKind::Login, t - Duration::hours(2));
    store.insert_flow(a, &recent).await.unwrap();
    store.insert_flow(a, &live).await.unwrap();
    store.insert_flow(b, &other).await.unwrap();

    let cutoff = t - Duration::hours(1);
    assert_eq!(store.delete_expired_flows(a, cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.delete_expired_flows(a, cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.delete_expired_flows(a, cutoff, 2).await.unwrap(), 0);
    assert_eq!(store.delete_expired_flows(a, cutoff, 0).await.unwrap(), 0);
    for f in &expired {
        assert!(matches!(
            store.get_flow(a, f.kind, f.id).await,
            Err(StoreError::NotFound)
        ));
    }
    store.get_flow(a, recent.kind, recent.id).await.unwrap();
    store.get_flow(a, live.kind, live.id).await.unwrap();
    store.get_flow(b, other.kind, other.id).await.unwrap();
}

async fn identity(k: &Kratos) -> Identity {
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({"email": format!("clean-{}@example.com", Uuid::new_v4().simple())}),
            ..Default::default()
        })
        .await
        .unwrap()
}

pub async fn cleanup_expired_and_inactive_sessions(store: Arc<dyn Persister>) {
    let (k, _, clock) = kratos_with_outbox(store.clone(), "");
    let other = k.tenant(Uuid::new_v4());
    let (a, b) = (k.nid(), other.nid());
    let (mine, theirs) = (identity(&k).await, identity(&other).await);
    let client = ClientInfo::default();
    // Three sessions that will expire, one of another tenant, one to be revoked.
    let mut old = Vec::new();
    for _ in 0..3 {
        old.push(
            k.sessions()
                .issue(&mine, Vec::new(), &client)
                .await
                .unwrap(),
        );
    }
    let foreign = other
        .sessions()
        .issue(&theirs, Vec::new(), &client)
        .await
        .unwrap();
    clock.advance(Duration::hours(25));
    let live = k
        .sessions()
        .issue(&mine, Vec::new(), &client)
        .await
        .unwrap();
    let revoked = k
        .sessions()
        .issue(&mine, Vec::new(), &client)
        .await
        .unwrap();
    k.sessions().revoke(revoked.session.id).await.unwrap();

    let t = now(&k);
    let long_ago = t - Duration::days(30);
    let n = drain(2, || store.delete_stale_sessions(a, t, long_ago, 2)).await;
    assert_eq!(n, 3, "the expired sessions go, the revoked one is recent");
    for s in &old {
        assert!(matches!(
            store.get_session(a, s.session.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(k.sessions().whoami(s.token.expose()).await.is_err());
    }
    let digest = crate::session::token_digest(old[0].token.expose());
    assert!(matches!(
        store.get_session_by_token(a, &digest).await,
        Err(StoreError::NotFound)
    ));
    store.get_session(a, live.session.id).await.unwrap();
    store.get_session(a, revoked.session.id).await.unwrap();
    store.get_session(b, foreign.session.id).await.unwrap();

    // A revoked session goes once its last authentication is older than the cutoff; the
    // live one of the same age stays.
    let n = drain(1, || {
        store.delete_stale_sessions(a, t, t + Duration::seconds(1), 1)
    })
    .await;
    assert_eq!(n, 1);
    assert!(matches!(
        store.get_session(a, revoked.session.id).await,
        Err(StoreError::NotFound)
    ));
    store.get_session(a, live.session.id).await.unwrap();
}

fn code(
    flow_id: Uuid,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
) -> OneTimeCode {
    OneTimeCode {
        id: Uuid::now_v7(),
        kind: CodeKind::VerificationCode,
        flow_id,
        identity_id: None,
        address_id: None,
        address: Some("clean@example.com".into()),
        admin: false,
        digest: format!("digest-{}", Uuid::new_v4().simple()),
        issued_at,
        expires_at,
        used_at,
    }
}

pub async fn cleanup_spent_codes_and_submission_counters(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let (a, b) = (k.nid(), Uuid::new_v4());
    let t = now(&k);
    let long_ago = t - Duration::hours(3);
    // Two expired codes and one used long ago; a live one; another tenant's expired one.
    let spent = [
        code(Uuid::now_v7(), long_ago, t - Duration::hours(2), None),
        code(Uuid::now_v7(), long_ago, t - Duration::hours(2), None),
        code(
            Uuid::now_v7(),
            long_ago,
            t + Duration::hours(1),
            Some(t - Duration::hours(2)),
        ),
    ];
    for c in &spent {
        store.issue_code(a, c, None).await.unwrap();
    }
    let live = code(Uuid::now_v7(), t, t + Duration::hours(1), None);
    store.issue_code(a, &live, None).await.unwrap();
    let foreign = code(Uuid::now_v7(), long_ago, t - Duration::hours(2), None);
    store.issue_code(b, &foreign, None).await.unwrap();

    let cutoff = t - Duration::hours(1);
    assert_eq!(drain(2, || store.delete_spent_codes(a, cutoff, 2)).await, 3);
    for c in &spent {
        // A deleted code cannot be used, even the one that was still unexpired.
        assert!(
            store
                .use_code(
                    a,
                    c.flow_id,
                    c.kind,
                    std::slice::from_ref(&c.digest),
                    c.issued_at
                )
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        store
            .use_code(
                a,
                live.flow_id,
                live.kind,
                std::slice::from_ref(&live.digest),
                t
            )
            .await
            .unwrap()
            .is_some(),
        "the live code stays"
    );
    assert!(
        store
            .use_code(
                b,
                foreign.flow_id,
                foreign.kind,
                std::slice::from_ref(&foreign.digest),
                long_ago
            )
            .await
            .unwrap()
            .is_some(),
        "another tenant's code stays"
    );

    // Submission counters of flows that are gone go; a stored flow's counter stays.
    let stored = flow(FlowKind::Verification, t + Duration::hours(1));
    store.insert_flow(a, &stored).await.unwrap();
    store.count_code_submission(a, stored.id).await.unwrap();
    let gone: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for f in &gone {
        store.count_code_submission(a, *f).await.unwrap();
    }
    let foreign_flow = Uuid::now_v7();
    store.count_code_submission(b, foreign_flow).await.unwrap();
    assert_eq!(
        drain(2, || store.delete_orphan_code_submissions(a, 2)).await,
        3
    );
    for f in &gone {
        assert_eq!(
            store.count_code_submission(a, *f).await.unwrap(),
            1,
            "the counter started again"
        );
    }
    assert_eq!(store.count_code_submission(a, stored.id).await.unwrap(), 2);
    assert_eq!(
        store.count_code_submission(b, foreign_flow).await.unwrap(),
        2
    );
}

pub async fn cleanup_stale_login_failures(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let (a, b) = (k.nid(), Uuid::new_v4());
    let t = now(&k);
    let never = DateTime::<Utc>::UNIX_EPOCH;
    let old = t - Duration::days(2);
    // One attempt on `key` at `at`; the key locks until `t + 1h` once `max` attempts are
    // counted (0 never locks). Answers whether the attempt was refused.
    let attempt = |nid: Uuid, key: &'static str, at: DateTime<Utc>, max: u32| {
        let store = store.clone();
        async move {
            let schedule = LockSchedule {
                now: at,
                forget_before: never,
                locks: vec![t + Duration::hours(1)],
            };
            let keys = [LockoutKey {
                key,
                max_attempts: max,
            }];
            store
                .record_login_attempt(nid, &keys, &schedule)
                .await
                .unwrap()
                .is_some()
        }
    };
    for key in ["identifier:a", "identifier:b", "address:c"] {
        assert!(!attempt(a, key, old, 0).await);
    }
    // Old but still locked; recent; another tenant's.
    assert!(!attempt(a, "identifier:locked", old, 1).await);
    assert!(!attempt(a, "identifier:recent", t, 0).await);
    assert!(!attempt(b, "identifier:a", old, 0).await);

    let cutoff = t - Duration::days(1);
    assert_eq!(
        drain(2, || store.delete_stale_login_failures(a, cutoff, t, 2)).await,
        3
    );
    // A deleted counter starts again at 1 (a limit of 2 is not reached); a kept one goes on
    // counting and reaches it.
    let locked = |nid: Uuid, key: &'static str| {
        let store = store.clone();
        async move {
            store
                .login_locked_until(nid, &[key.to_owned()])
                .await
                .unwrap()
                .is_some()
        }
    };
    for (nid, key, kept) in [
        (a, "identifier:a", false),
        (a, "address:c", false),
        (a, "identifier:recent", true),
        (b, "identifier:a", true),
    ] {
        assert!(!attempt(nid, key, t, 2).await, "{key}");
        assert_eq!(locked(nid, key).await, kept, "{key}");
    }
    // The locked key is still there, and still refuses.
    assert!(attempt(a, "identifier:locked", t, 1).await);
    assert!(locked(a, "identifier:locked").await);
}

pub async fn cleanup_finished_courier_messages(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let other = k.tenant(Uuid::new_v4());
    let (a, b) = (k.nid(), other.nid());
    let t = now(&k);
    let queue = |k: Kratos, to: &'static str| async move {
        k.courier()
            .queue(
                TemplateType::VerificationValid,
                to,
                json!({"verification_url": "https://x/"}),
            )
            .await
            .unwrap()
            .id
    };
    let old = t - Duration::days(8);
    let mut finished = Vec::new();
    for _ in 0..2 {
        let id = queue(k.clone(), "sent@example.com").await;
        store.mark_message_sent(a, id, old).await.unwrap();
        finished.push(id);
    }
    let abandoned = queue(k.clone(), "abandoned@example.com").await;
    store
        .mark_message_failed(a, abandoned, old, None)
        .await
        .unwrap();
    finished.push(abandoned);
    // Queued (never sent), sent recently, another tenant's sent long ago.
    let queued = queue(k.clone(), "queued@example.com").await;
    let recent = queue(k.clone(), "recent@example.com").await;
    store.mark_message_sent(a, recent, t).await.unwrap();
    let foreign = queue(other.clone(), "foreign@example.com").await;
    store.mark_message_sent(b, foreign, old).await.unwrap();

    let cutoff = t - Duration::days(7);
    assert_eq!(
        drain(2, || store.delete_finished_messages(a, cutoff, 2)).await,
        3
    );
    for id in finished {
        assert!(matches!(
            store.get_message(a, id).await,
            Err(StoreError::NotFound)
        ));
    }
    store.get_message(a, queued).await.unwrap();
    store.get_message(a, recent).await.unwrap();
    store.get_message(b, foreign).await.unwrap();
    // With a cutoff after every message, only the recently sent one goes: the queued one
    // is kept by its status alone.
    assert!(matches!(
        store
            .delete_finished_messages(a, t + Duration::days(1), 10)
            .await,
        Ok(1)
    ));
    assert_eq!(
        store.get_message(a, queued).await.unwrap().status,
        MessageStatus::Queued,
        "a queued message is never cleaned"
    );
}

pub async fn cleanup_sent_message_loses_its_template_data(store: Arc<dyn Persister>) {
    let (k, outbox, _) = kratos_with_outbox(store.clone(), "");
    let courier = k.courier();
    let sent = courier
        .queue(
            TemplateType::VerificationCodeValid,
            "data@example.com",
            json!({"verification_code": "424242", "expires_in_minutes": 60}),
        )
        .await
        .unwrap();
    assert_eq!(
        courier.get(sent.id).await.unwrap().template_data["verification_code"],
        "424242"
    );
    assert_eq!(courier.dispatch_batch().await.unwrap().sent, 1);
    assert_eq!(outbox.messages_to("data@example.com").len(), 1);
    let after = courier.get(sent.id).await.unwrap();
    assert_eq!(after.status, MessageStatus::Sent);
    assert_eq!(after.template_data, json!({}), "the plain code is gone");
    assert!(!after.template_data.to_string().contains("424242"));

    // A message that failed to send keeps its data for the retry.
    let failing = courier
        .queue(
            TemplateType::VerificationCodeValid,
            "retry@example.com",
            json!({"verification_code": "515151", "expires_in_minutes": 60}),
        )
        .await
        .unwrap();
    outbox.fail_next(1);
    assert_eq!(courier.dispatch_batch().await.unwrap().retried, 1);
    assert_eq!(
        courier.get(failing.id).await.unwrap().template_data["verification_code"],
        "515151"
    );
}

pub async fn cleanup_stale_send_counters(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let (a, b) = (k.nid(), Uuid::new_v4());
    let t = now(&k);
    let never = DateTime::<Utc>::UNIX_EPOCH;
    let old = t - Duration::hours(2);
    let keys: Vec<String> = (0..3).map(|i| format!("flow:{i}")).collect();
    assert_eq!(
        store.count_code_sends(a, &keys, old, never).await.unwrap(),
        vec![1, 1, 1]
    );
    let recent = vec!["address:recent".to_owned()];
    store.count_code_sends(a, &recent, t, never).await.unwrap();
    store.count_code_sends(b, &keys, old, never).await.unwrap();
    let cutoff = t - Duration::hours(1);
    assert_eq!(
        drain(2, || store.delete_stale_send_counters(a, cutoff, 2)).await,
        3
    );
    assert_eq!(
        store.count_code_sends(a, &keys, t, never).await.unwrap(),
        vec![1, 1, 1],
        "deleted counters start again"
    );
    assert_eq!(
        store.count_code_sends(a, &recent, t, never).await.unwrap(),
        vec![2]
    );
    assert_eq!(
        store.count_code_sends(b, &keys, t, never).await.unwrap(),
        vec![2, 2, 2]
    );
}

pub async fn cleanup_run_loops_until_done_and_run_once_takes_one_batch(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let t = now(&k);
    for _ in 0..5 {
        store
            .insert_flow(k.nid(), &flow(FlowKind::Login, t - Duration::hours(1)))
            .await
            .unwrap();
    }
    let live = flow(FlowKind::Login, t + Duration::hours(1));
    store.insert_flow(k.nid(), &live).await.unwrap();
    store
        .count_code_submission(k.nid(), Uuid::now_v7())
        .await
        .unwrap();
    let options = CleanupOptions {
        batch_size: 2,
        sleep_between_tables: std::time::Duration::ZERO,
        ..CleanupOptions::from_config(k.config())
    };
    let once = k.cleanup().run_once(&options).await.unwrap();
    assert_eq!((once.flows, once.code_submissions), (2, 1));
    let rest = k.cleanup().run(&options).await.unwrap();
    assert_eq!(rest.flows, 3, "run loops until a batch comes back short");
    assert_eq!(rest.total(), 3);
    assert_eq!(k.cleanup().run(&options).await.unwrap().total(), 0);
    store.get_flow(k.nid(), live.kind, live.id).await.unwrap();
}
