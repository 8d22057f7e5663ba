//! Conformance of the rate limits on sending codes and links: per flow, per address, in
//! windows, with counters kept in the store.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::courier::kratos_with_outbox;
use crate::courier::MessageQuery;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::recovery::RecoverySubmission;
use crate::flow::registration::RegistrationSubmission;
use crate::flow::ui::UiContainer;
use crate::flow::{FlowContext, FlowState, FlowType};
use crate::identity::CreateIdentityBody;
use crate::store::Persister;
use crate::strategy::code::TOO_MANY_SENDS_MESSAGE_ID as LIMITED;
use crate::{Kratos, clock::truncate_micros};

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// How many messages the store holds for `to`.
async fn queued_to(k: &Kratos, to: &str) -> usize {
    k.courier()
        .list(&MessageQuery {
            recipient: Some(to.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

async fn known_address(k: &Kratos) -> String {
    let email = format!("limit-{}@example.com", Uuid::new_v4().simple());
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": email }),
            ..Default::default()
        })
        .await
        .unwrap();
    email
}

pub async fn code_send_counters_count_atomically_per_window_and_tenant(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let (a, b) = (k.nid(), Uuid::new_v4());
    let t = truncate_micros(k.clock().now());
    let never = DateTime::<Utc>::UNIX_EPOCH;
    let keys = vec!["flow:x".to_owned(), "address:y".to_owned()];
    assert!(
        store
            .count_code_sends(a, &[], t, never)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.count_code_sends(a, &keys, t, never).await.unwrap(),
        vec![1, 1]
    );
    assert_eq!(
        store.count_code_sends(a, &keys, t, never).await.unwrap(),
        vec![2, 2]
    );
    assert_eq!(
        store
            .count_code_sends(a, &keys[1..], t, never)
            .await
            .unwrap(),
        vec![3]
    );
    assert_eq!(
        store.count_code_sends(b, &keys, t, never).await.unwrap(),
        vec![1, 1],
        "another tenant counts apart"
    );
    // A window that started before the cutoff starts again.
    let later = t + Duration::hours(2);
    assert_eq!(
        store
            .count_code_sends(a, &keys, later, later - Duration::hours(1))
            .await
            .unwrap(),
        vec![1, 1]
    );
    assert_eq!(
        store
            .count_code_sends(a, &keys, later, later - Duration::hours(1))
            .await
            .unwrap(),
        vec![2, 2]
    );
    // Concurrent sends each get a count of their own.
    let key = vec![format!("flow:{}", Uuid::new_v4())];
    let counts: Vec<u32> = futures::future::join_all((0..10).map(|_| {
        let (store, key) = (store.clone(), key.clone());
        async move { store.count_code_sends(a, &key, t, never).await.unwrap()[0] }
    }))
    .await;
    assert_eq!(
        counts.into_iter().collect::<HashSet<_>>(),
        (1..=10).collect::<HashSet<_>>()
    );
}

const VERIFICATION_LIMITS: &str = "selfservice:\n  flows:\n    verification:\n      enabled: true\n  methods:\n    code:\n      config:\n        max_sends_per_flow: 2\n        max_sends_per_address: 3\n        send_limit_window: 1h\n";

pub async fn code_send_limits_per_flow_and_per_address(store: Arc<dyn Persister>) {
    let (k, _, clock) = kratos_with_outbox(store, VERIFICATION_LIMITS);
    let ctx = FlowContext::default();
    let (x, y) = (known_address(&k).await, known_address(&k).await);
    let send = |flow: Uuid, to: String| {
        let k = k.clone();
        async move {
            k.verification()
                .submit(
                    flow,
                    &json!({"method": "code", "email": to}),
                    &FlowContext::default(),
                )
                .await
                .unwrap()
        }
    };

    // One flow: two sends, then the third gets the message and queues nothing.
    let first = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    for n in 1..=2 {
        let f = send(first.id, x.clone()).await;
        assert_eq!((f.state, ids(&f.ui)), (FlowState::SentEmail, vec![1080003]));
        assert_eq!(queued_to(&k, &x).await, n);
    }
    let limited = send(first.id, x.clone()).await;
    assert_eq!(ids(&limited.ui), vec![LIMITED]);
    assert_eq!(queued_to(&k, &x).await, 2, "nothing was queued");
    // The message is stored with the flow.
    let fetched = k.verification().get(first.id, &ctx).await.unwrap();
    assert_eq!(ids(&fetched.ui), vec![LIMITED]);

    // The address limit holds across flows: the third send to x goes, the fourth does not.
    let second = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(ids(&send(second.id, x.clone()).await.ui), vec![1080003]);
    assert_eq!(queued_to(&k, &x).await, 3);
    let third = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    let f = send(third.id, x.clone()).await;
    assert_eq!(
        (f.state, ids(&f.ui)),
        (FlowState::ChooseMethod, vec![LIMITED])
    );
    assert_eq!(queued_to(&k, &x).await, 3);
    // Another address is unaffected, in the same flow.
    let f = send(third.id, y.clone()).await;
    assert_eq!((f.state, ids(&f.ui)), (FlowState::SentEmail, vec![1080003]));
    assert_eq!(queued_to(&k, &y).await, 1);

    // Once the window is over, the address may be sent to again.
    clock.advance(Duration::minutes(61));
    let fourth = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(ids(&send(fourth.id, x.clone()).await.ui), vec![1080003]);
    assert_eq!(queued_to(&k, &x).await, 4);
}

const ONE_PER_FLOW: &str = "selfservice:\n  flows:\n    recovery:\n      enabled: true\n  methods:\n    code:\n      passwordless_enabled: true\n      config:\n        max_sends_per_flow: 1\n";

pub async fn code_send_limits_cover_recovery_login_and_registration(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store, ONE_PER_FLOW);
    let ctx = FlowContext::default();

    // Recovery: the resend is refused.
    let x = known_address(&k).await;
    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    for expected in [1060003, LIMITED] {
        let RecoverySubmission::Flow(f) = k
            .recovery()
            .submit(flow.id, &json!({"method": "code", "email": x}), &ctx)
            .await
            .unwrap()
        else {
            panic!("sending does not complete the flow")
        };
        assert_eq!(ids(&f.ui), vec![expected]);
        assert_eq!(f.state, FlowState::SentEmail);
    }
    assert_eq!(queued_to(&k, &x).await, 1);

    // Registration by code: the resend is refused.
    let new = format!("signup-{}@example.com", Uuid::new_v4().simple());
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    let body = json!({"method": "code", "traits": {"email": new}, "resend": "code"});
    for expected in [1040005, LIMITED] {
        let RegistrationSubmission::Retry(f) =
            k.registration().submit(flow.id, &body, &ctx).await.unwrap()
        else {
            panic!("sending does not complete the flow")
        };
        assert_eq!(ids(&f.ui), vec![expected]);
    }
    assert_eq!(queued_to(&k, &new).await, 1);

    // Login by code: the resend is refused and queues nothing.
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let body = json!({"method": "code", "identifier": x, "resend": "code"});
    let LoginSubmission::Retry(f) = k.login().submit(flow.id, &body, &ctx).await.unwrap() else {
        panic!("sending does not complete the flow")
    };
    assert_eq!(ids(&f.ui), vec![1010014]);
    let before = queued_to(&k, &x).await;
    let LoginSubmission::Retry(f) = k.login().submit(flow.id, &body, &ctx).await.unwrap() else {
        panic!("sending does not complete the flow")
    };
    assert_eq!(ids(&f.ui), vec![LIMITED]);
    assert_eq!(queued_to(&k, &x).await, before);
}
