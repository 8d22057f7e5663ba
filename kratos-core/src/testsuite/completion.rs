//! Conformance of `CompletionStore::complete_flow`: the writes that finish a flow go in
//! together or not at all.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{body, email, kratos};
use crate::Kratos;
use crate::clock::truncate_micros;
use crate::flow::{FlowContext, FlowDocument, FlowKind, FlowType, StoredFlow};
use crate::identity::Identity;
use crate::session::{Aal, AuthenticationMethod, ClientInfo, SessionRecord};
use crate::store::{
    FlowCompletion, LockSchedule, LockoutKey, Persister, SessionWrite, StoreError, StoreErrorKind,
};

/// A stored flow and the same flow as a completion would leave it.
pub(super) async fn new_flow(k: &Kratos) -> (StoredFlow, StoredFlow) {
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await;
    let stored = k
        .store()
        .get_flow(k.nid(), FlowKind::Registration, flow.expect("flow").id)
        .await
        .expect("stored flow");
    let mut document: serde_json::Value = stored.document.decode().expect("flow document");
    document["state"] = json!("passed_challenge");
    document["active"] = json!("password");
    let mut done = stored.clone();
    done.document = FlowDocument::of(&document).expect("flow document");
    (stored, done)
}

async fn new_identity(k: &Kratos, address: &str) -> Identity {
    k.identities()
        .prepare_create(body(address))
        .await
        .expect("identity builds")
}

pub(super) fn new_session(k: &Kratos, identity: &Identity) -> SessionRecord {
    let (_, record) = k
        .sessions()
        .prepare_issue(
            identity,
            vec![AuthenticationMethod {
                method: "password".into(),
                aal: Aal::Aal1,
                completed_at: truncate_micros(Utc::now()),
                provider: None,
            }],
            &ClientInfo::default(),
        )
        .expect("session builds");
    record
}

/// Counts a failure of `key` and locks it for an hour.
async fn lock(k: &Kratos, key: &str) {
    lock_until(k, key, truncate_micros(Utc::now()) + Duration::hours(1)).await;
}

/// Counts an attempt on `key` with a limit of one, which locks it until `until`.
pub(super) async fn lock_until(k: &Kratos, key: &str, until: chrono::DateTime<Utc>) {
    let now = truncate_micros(Utc::now());
    let refused = k
        .store()
        .record_login_attempt(
            k.nid(),
            &[LockoutKey {
                key,
                max_attempts: 1,
            }],
            &LockSchedule {
                now,
                forget_before: now - Duration::hours(1),
                locks: vec![until],
            },
        )
        .await
        .expect("attempt counted");
    assert_eq!(
        refused, None,
        "the attempt that reaches the limit is admitted"
    );
}

async fn locked(k: &Kratos, key: &str) -> bool {
    k.store()
        .login_locked_until(k.nid(), &[key.to_owned()])
        .await
        .expect("lock read")
        .is_some()
}

/// Completes `flow` with the other writes.
async fn complete(
    k: &Kratos,
    flow: &StoredFlow,
    reset_login_failures: Option<&str>,
    identity: Option<&Identity>,
    session: SessionWrite<'_>,
) -> Result<(), StoreError> {
    k.store()
        .complete_flow(
            k.nid(),
            &FlowCompletion {
                flow,
                reset_login_failures,
                forgive_login_attempt: None,
                identity,
                session: Some(session),
            },
        )
        .await
}

pub(super) async fn flow_document(k: &Kratos, flow: &StoredFlow) -> FlowDocument {
    k.store()
        .get_flow(k.nid(), flow.kind, flow.id)
        .await
        .expect("flow")
        .document
}

/// A login's completion: the lockout key is reset, the session stored (and found by its
/// token) and the flow saved, in one call; a refresh updates the existing session.
pub async fn completion_login_writes_session_flow_and_reset(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let address = email();
    let identity = k.identities().create(body(&address)).await.expect("create");
    let key = format!("identifier:{address}");
    lock(&k, &key).await;
    let (_, done) = new_flow(&k).await;
    let record = new_session(&k, &identity);
    complete(&k, &done, Some(&key), None, SessionWrite::Insert(&record))
        .await
        .expect("completed");
    assert!(!locked(&k, &key).await, "the lockout key is reset");
    assert_eq!(flow_document(&k, &done).await, done.document);
    let found = k
        .store()
        .get_session_by_token(k.nid(), &record.token_digest)
        .await
        .expect("session stored");
    assert_eq!(found.session.id, record.session.id);
    assert_eq!(found.session.identity_id, identity.id);

    // A refresh: the existing session's new state with another flow.
    let (_, again) = new_flow(&k).await;
    let mut refreshed = record.session.clone();
    refreshed.expires_at += Duration::hours(1);
    complete(&k, &again, None, None, SessionWrite::Update(&refreshed))
        .await
        .expect("refresh completed");
    let found = k
        .store()
        .get_session(k.nid(), record.session.id)
        .await
        .expect("session");
    assert_eq!(found.session.expires_at, refreshed.expires_at);
    assert_eq!(flow_document(&k, &again).await, again.document);
}

/// A registration's completion: the new identity and its session (which may only exist with
/// it) and the flow.
pub async fn completion_registration_writes_identity_session_and_flow(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let address = email();
    let identity = new_identity(&k, &address).await;
    let record = new_session(&k, &identity);
    let (_, done) = new_flow(&k).await;
    complete(
        &k,
        &done,
        None,
        Some(&identity),
        SessionWrite::Insert(&record),
    )
    .await
    .expect("completed");
    let stored = k
        .store()
        .get_identity(k.nid(), identity.id)
        .await
        .expect("identity stored");
    assert_eq!(stored.traits, identity.traits);
    assert_eq!(stored.credentials.len(), identity.credentials.len());
    let found = k
        .store()
        .get_session_by_token_with_identity(k.nid(), &record.token_digest)
        .await
        .expect("whoami finds the session");
    assert_eq!(found.identity.id, identity.id);
    assert_eq!(flow_document(&k, &done).await, done.document);
}

/// When one write of a completion fails, none is made: a missing flow, an identity that
/// breaks a uniqueness rule, a missing session to update, a session of an identity of
/// another tenant.
pub async fn completion_is_all_or_nothing(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let taken = email();
    let owner = k.identities().create(body(&taken)).await.expect("create");
    let key = format!("identifier:{}", email());
    lock(&k, &key).await;

    // The flow is missing: the identity, its session and the reset are not written either.
    let identity = new_identity(&k, &email()).await;
    let record = new_session(&k, &identity);
    let (_, mut missing) = new_flow(&k).await;
    missing.id = Uuid::now_v7();
    let err = complete(
        &k,
        &missing,
        Some(&key),
        Some(&identity),
        SessionWrite::Insert(&record),
    )
    .await
    .expect_err("no flow");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert_nothing_written(&k, &identity, &record).await;
    assert!(locked(&k, &key).await, "the reset is rolled back");

    // The identity's address is taken: the session, the flow and the reset stay unwritten.
    let duplicate = new_identity(&k, &taken).await;
    let record = new_session(&k, &duplicate);
    let (before, done) = new_flow(&k).await;
    let err = complete(
        &k,
        &done,
        Some(&key),
        Some(&duplicate),
        SessionWrite::Insert(&record),
    )
    .await
    .expect_err("conflict");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_nothing_written(&k, &duplicate, &record).await;
    assert_eq!(flow_document(&k, &before).await, before.document);
    assert!(locked(&k, &key).await);
    assert_eq!(
        k.store()
            .get_identity(k.nid(), owner.id)
            .await
            .expect("owner")
            .traits,
        json!({ "email": taken })
    );

    // The session to update is missing: the flow and the reset stay unwritten.
    let ghost = new_session(&k, &owner);
    let err = complete(
        &k,
        &done,
        Some(&key),
        None,
        SessionWrite::Update(&ghost.session),
    )
    .await
    .expect_err("no session");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert_eq!(flow_document(&k, &before).await, before.document);
    assert!(locked(&k, &key).await);

    // A session of an identity of another tenant is not inserted, nor is the flow saved.
    let other = kratos(store);
    let stranger = other
        .identities()
        .create(body(&email()))
        .await
        .expect("create in another tenant");
    let record = new_session(&k, &stranger);
    let err = complete(&k, &done, None, None, SessionWrite::Insert(&record))
        .await
        .expect_err("no such identity in this tenant");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert!(matches!(
        k.store().get_session(k.nid(), record.session.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(flow_document(&k, &before).await, before.document);

    // A refresh of an existing session, its flow missing or of another kind: the session
    // keeps its state and the reset is not made.
    let (_, live) = new_flow(&k).await;
    let record = new_session(&k, &owner);
    complete(&k, &live, None, None, SessionWrite::Insert(&record))
        .await
        .expect("session stored");
    let mut refreshed = record.session.clone();
    refreshed.expires_at += Duration::hours(1);
    let (_, mut gone) = new_flow(&k).await;
    gone.id = Uuid::now_v7();
    let (_, mut other_kind) = new_flow(&k).await;
    other_kind.kind = FlowKind::Login;
    for flow in [&gone, &other_kind] {
        let err = complete(&k, flow, Some(&key), None, SessionWrite::Update(&refreshed))
            .await
            .expect_err("no such flow");
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
        let stored = k
            .store()
            .get_session(k.nid(), record.session.id)
            .await
            .expect("session");
        assert_eq!(stored.session.expires_at, record.session.expires_at);
        assert!(locked(&k, &key).await);
    }
}

async fn assert_nothing_written(k: &Kratos, identity: &Identity, record: &SessionRecord) {
    assert!(matches!(
        k.store().get_identity(k.nid(), identity.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        k.store().get_session(k.nid(), record.session.id).await,
        Err(StoreError::NotFound)
    ));
}

/// Ten correct submissions of one login flow at once: exactly one signs in (one session of
/// the identity is added); the others are answered that the flow was already completed, as a
/// submission after the completion is.
pub async fn completion_concurrent_login_submissions_one_session(store: Arc<dyn Persister>) {
    use crate::flow::login::{LoginOptions, LoginSubmission};
    use crate::flow::registration::RegistrationSubmission;
    // A limit above the ten attempts: the lockout is not what refuses them.
    let config = format!(
        "{}security:\n  login_lockout:\n    max_failures: 50\n",
        super::SESSION_HOOK
    );
    let k = super::kratos_with(store, &config, Arc::new(crate::SystemClock));
    let address = email();
    let RegistrationSubmission::Completed(registered) =
        super::register(&k, &address, "one completion pw").await
    else {
        panic!("the registration completes")
    };
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    let body =
        json!({"method": "password", "identifier": address, "password": "one completion pw"});
    let submissions = (0..10).map(|_| {
        let (k, body, ctx) = (k.clone(), body.clone(), ctx.clone());
        async move { k.login().submit(flow.id, &body, &ctx).await }
    });
    let (mut completed, mut refused) = (0, 0);
    for r in futures::future::join_all(submissions).await {
        match r {
            Ok(LoginSubmission::Completed(_)) => completed += 1,
            Err(crate::flow::FlowError::AlreadyCompleted) => refused += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!((completed, refused), (1, 9));
    let sessions = k
        .sessions()
        .list_for_identity(registered.identity.id, false)
        .await
        .expect("sessions");
    assert_eq!(
        sessions.len(),
        2,
        "the registration's session and one login's"
    );
}

/// Ten correct submissions of one registration flow at once: exactly one identity and one
/// session; the others are answered that the flow was already completed.
pub async fn completion_concurrent_registration_submissions_one_session(store: Arc<dyn Persister>) {
    use crate::flow::registration::RegistrationSubmission;
    let k = super::flow_kratos(store);
    let ctx = FlowContext::default();
    let flow = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .expect("registration flow");
    let address = email();
    let body = json!({"method": "password", "traits": {"email": address}, "password": "one registration pw"});
    let submissions = (0..10).map(|_| {
        let (k, body, ctx) = (k.clone(), body.clone(), ctx.clone());
        async move { k.registration().submit(flow.id, &body, &ctx).await }
    });
    let mut identities = Vec::new();
    let mut refused = 0;
    for r in futures::future::join_all(submissions).await {
        match r {
            Ok(RegistrationSubmission::Completed(ok)) => identities.push(ok.identity.id),
            Err(crate::flow::FlowError::AlreadyCompleted) => refused += 1,
            Ok(RegistrationSubmission::Retry(f)) => {
                panic!("unexpected retry: {:?}", super::messages(&f.ui))
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!((identities.len(), refused), (1, 9));
    let sessions = k
        .sessions()
        .list_for_identity(identities[0], false)
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1, "one session");
}
