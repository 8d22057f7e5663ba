//! Conformance of `LoginReadStore::password_login_reads`: a password login's reads, each
//! answered as its own store method answers it, and its attempt counted on its lockout keys
//! (`LockoutStore::record_login_attempt`) when its flow is live.

use std::sync::Arc;

use chrono::{Duration, Utc};
use uuid::Uuid;

use super::completion::lock_until;
use super::{email, flow_kratos, register};
use crate::Kratos;
use crate::clock::truncate_micros;
use crate::flow::login::LoginOptions;
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{FlowContext, FlowKind, FlowType};
use crate::identity::CredentialType;
use crate::store::{
    FlowCompletion, LockSchedule, LockoutKey, PasswordLoginKeys, PasswordLoginReads, Persister,
    SessionWrite, StoreErrorKind,
};

/// A schedule at the current time: locks of one and two minutes.
fn schedule() -> LockSchedule {
    let now = truncate_micros(Utc::now());
    LockSchedule {
        now,
        forget_before: now - Duration::hours(1),
        locks: vec![now + Duration::minutes(1), now + Duration::minutes(2)],
    }
}

/// `keys`, each limited to `max` attempts.
fn limited(keys: &[String], max: u32) -> Vec<LockoutKey<'_>> {
    keys.iter()
        .map(|key| LockoutKey {
            key,
            max_attempts: max,
        })
        .collect()
}

async fn reads(k: &Kratos, flow_id: Uuid, keys: &[String], identifier: &str) -> PasswordLoginReads {
    reads_limited(k, flow_id, &limited(keys, 5), &schedule(), identifier).await
}

async fn reads_limited(
    k: &Kratos,
    flow_id: Uuid,
    keys: &[LockoutKey<'_>],
    schedule: &LockSchedule,
    identifier: &str,
) -> PasswordLoginReads {
    k.store()
        .password_login_reads(
            k.nid(),
            PasswordLoginKeys {
                flow_id,
                lockout_keys: keys,
                schedule,
                identifier,
                csrf_token: None,
                api_flow_admitted: true,
            },
        )
        .await
}

/// The flow, the latest lock of the keys and the identity, each as the single reads give them;
/// an unknown flow, a flow of another kind or of another tenant is not found, and the other
/// reads are answered all the same.
pub async fn login_reads_answer_flow_lockout_and_identity_apart(store: Arc<dyn Persister>) {
    let k = flow_kratos(store.clone());
    let ctx = FlowContext::default();
    let address = email();
    let RegistrationSubmission::Completed(registered) =
        register(&k, &address, "login reads password 1").await
    else {
        panic!("the registration completes")
    };
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    let stored = k
        .store()
        .get_flow(k.nid(), FlowKind::Login, flow.id)
        .await
        .expect("stored flow");

    // No keys, the registered identifier.
    let got = reads(&k, flow.id, &[], &address).await;
    assert_eq!(
        got.flow.expect("the flow reads"),
        stored,
        "the flow as stored"
    );
    assert_eq!(got.locked_until.expect("no lock read"), None);
    let identity = got
        .identity
        .expect("the identity reads")
        .expect("the identity is found");
    let single = k
        .store()
        .find_identity_by_identifier(k.nid(), CredentialType::Password, &address)
        .await
        .expect("the single read");
    assert_eq!(identity.id, registered.identity.id);
    assert_eq!(
        serde_json::to_value(&identity).unwrap(),
        serde_json::to_value(&single).unwrap(),
        "the identity as the single read gives it"
    );
    assert_eq!(
        identity.credentials, single.credentials,
        "with its credentials"
    );
    assert!(
        identity
            .credential(CredentialType::Password)
            .and_then(|c| c.hashed_password())
            .is_some(),
        "with the password hash"
    );

    // Two keys: one not locked, one locked; then both locked, and the first (which holds the
    // later lock) answers. Each read counts an attempt on the keys up to the first locked one.
    let (free, first, second) = (
        format!("identifier:free-{}", Uuid::new_v4().simple()),
        format!("identifier:first-{}", Uuid::new_v4().simple()),
        format!("address:second-{}", Uuid::new_v4().simple()),
    );
    let now = truncate_micros(Utc::now());
    let soon = now + Duration::minutes(5);
    let later = now + Duration::hours(2);
    lock_until(&k, &first, soon).await;
    let got = reads(&k, flow.id, std::slice::from_ref(&free), "nobody").await;
    assert_eq!(
        got.locked_until.expect("attempt counted"),
        None,
        "an attempt below the limit is admitted"
    );
    let got = reads(&k, flow.id, &[free.clone(), first.clone()], "nobody").await;
    assert_eq!(got.locked_until.expect("lock read"), Some(soon));
    assert!(
        got.identity.expect("identity read").is_none(),
        "no identity owns the identifier"
    );
    assert!(got.flow.is_ok());
    lock_until(&k, &second, later).await;
    let keys = [second.clone(), first.clone()];
    let got = reads(&k, flow.id, &keys, &address).await;
    let locked_until = got.locked_until.expect("lock read");
    assert_eq!(locked_until, Some(later));
    assert_eq!(
        Some(locked_until),
        Some(
            k.store()
                .login_locked_until(k.nid(), &keys)
                .await
                .expect("the single read")
        ),
        "the lock as the single read gives it"
    );
    let keys = [second.clone(), first.clone()];
    let got = reads(&k, flow.id, &keys, &address).await;
    assert_eq!(
        got.locked_until.expect("lock read"),
        Some(later),
        "in any order"
    );

    // Not the flow: unknown, of another kind, of another tenant. No attempt is counted then.
    let got = reads(&k, Uuid::now_v7(), std::slice::from_ref(&first), &address).await;
    assert_eq!(
        got.flow.map(|_| ()).map_err(|e| e.kind()),
        Err(StoreErrorKind::NotFound),
        "an unknown flow is not found"
    );
    assert_eq!(
        got.locked_until.expect("nothing counted"),
        None,
        "without a flow the attempt is not counted"
    );
    assert_eq!(
        got.identity.expect("identity read").map(|i| i.id),
        Some(registered.identity.id),
        "the identity reads without the flow"
    );
    let registration = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .expect("registration flow");
    let got = reads(&k, registration.id, &[], &address).await;
    assert_eq!(
        got.flow.map(|_| ()).map_err(|e| e.kind()),
        Err(StoreErrorKind::NotFound),
        "a registration flow is not a login flow"
    );
    let other = flow_kratos(store);
    let got = reads(&other, flow.id, &keys, &address).await;
    assert_eq!(
        got.flow.map(|_| ()).map_err(|e| e.kind()),
        Err(StoreErrorKind::NotFound),
        "another tenant's flow is not found"
    );
    assert_eq!(
        got.locked_until.expect("nothing counted"),
        None,
        "another tenant's flow counts nothing"
    );
    assert!(
        got.identity.expect("identity read").is_none(),
        "another tenant's identity is not found"
    );
}

/// Attempts are counted before the password is verified: up to the limit they are admitted
/// (the one reaching it locks the key), beyond it refused without change while the lock
/// holds, even when they come at once; an expired flow counts nothing; a success takes its
/// attempt back from a key and ends the lock when the count falls below the limit.
pub async fn login_attempts_lock_from_the_limit_and_a_success_forgives(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    let key = format!("identifier:burst-{}", Uuid::new_v4().simple());
    let keys = [LockoutKey {
        key: &key,
        max_attempts: 5,
    }];
    let at = schedule();
    // Twenty at once: five admitted, fifteen refused by the lock the fifth set.
    let attempts = (0..20).map(|_| reads_limited(&k, flow.id, &keys, &at, "nobody"));
    let answers = futures::future::join_all(attempts).await;
    let refused: Vec<_> = answers
        .into_iter()
        .map(|r| r.locked_until.expect("attempt counted"))
        .filter(Option::is_some)
        .collect();
    assert_eq!(
        refused.len(),
        15,
        "the attempts beyond the limit are refused"
    );
    assert!(
        refused.iter().all(|until| *until == Some(at.locks[0])),
        "by the first lock: refused attempts do not lengthen it"
    );
    assert_eq!(
        k.store()
            .login_locked_until(k.nid(), std::slice::from_ref(&key))
            .await
            .expect("lock read"),
        Some(at.locks[0])
    );
    // Once the lock has ended, the next attempt is admitted and locks twice as long.
    let later = LockSchedule {
        now: at.locks[0] + Duration::seconds(1),
        forget_before: at.forget_before,
        locks: vec![
            at.locks[0] + Duration::minutes(2),
            at.locks[0] + Duration::minutes(3),
        ],
    };
    let after_lock = reads_limited(&k, flow.id, &keys, &later, "nobody").await;
    assert_eq!(
        after_lock.locked_until.expect("attempt counted"),
        None,
        "admitted once the lock has ended"
    );
    assert_eq!(
        k.store()
            .login_locked_until(k.nid(), std::slice::from_ref(&key))
            .await
            .expect("lock read"),
        Some(later.locks[1]),
        "the sixth admitted attempt locks for the second period"
    );

    // An expired flow counts nothing.
    let fresh = format!("identifier:expired-{}", Uuid::new_v4().simple());
    let one = [LockoutKey {
        key: &fresh,
        max_attempts: 1,
    }];
    let past_expiry = LockSchedule {
        now: flow.expires_at + Duration::seconds(1),
        ..schedule()
    };
    let got = reads_limited(&k, flow.id, &one, &past_expiry, "nobody").await;
    assert_eq!(got.locked_until.expect("nothing counted"), None);
    assert_eq!(
        k.store()
            .login_locked_until(k.nid(), std::slice::from_ref(&fresh))
            .await
            .expect("lock read"),
        None,
        "an expired flow's attempt leaves no count"
    );

    // A success forgives its attempt: the address that reached its limit with it is free.
    let address = format!("address:forgive-{}", Uuid::new_v4().simple());
    let keys = [LockoutKey {
        key: &address,
        max_attempts: 2,
    }];
    for _ in 0..2 {
        let got = reads_limited(&k, flow.id, &keys, &at, "nobody").await;
        assert_eq!(got.locked_until.expect("attempt counted"), None);
    }
    let lock_of = |k: Kratos, key: String| async move {
        k.store()
            .login_locked_until(k.nid(), &[key])
            .await
            .expect("lock read")
    };
    assert_eq!(lock_of(k.clone(), address.clone()).await, Some(at.locks[0]));
    let mut stored = k
        .store()
        .get_flow(k.nid(), FlowKind::Login, flow.id)
        .await
        .expect("stored flow");
    let mut document: serde_json::Value = stored.document.decode().expect("document");
    document["state"] = serde_json::json!("passed_challenge");
    stored.document = crate::flow::FlowDocument::of(&document).expect("document");
    let identity = k
        .identities()
        .create(super::body(&email()))
        .await
        .expect("identity");
    let (_, record) = k
        .sessions()
        .prepare_issue(
            &identity,
            vec![crate::session::AuthenticationMethod::first_factor(
                "password",
                truncate_micros(Utc::now()),
            )],
            &crate::session::ClientInfo::default(),
        )
        .expect("session builds");
    k.store()
        .complete_flow(
            k.nid(),
            &FlowCompletion {
                flow: &stored,
                reset_login_failures: None,
                forgive_login_attempt: Some(keys[0]),
                identity: None,
                session: Some(SessionWrite::Insert(&record)),
            },
        )
        .await
        .expect("completed");
    assert_eq!(
        lock_of(k.clone(), address.clone()).await,
        None,
        "below the limit again, the lock ends"
    );
    // One attempt is still counted: the next reaches the limit again and locks.
    let got = reads_limited(&k, flow.id, &keys, &at, "nobody").await;
    assert_eq!(got.locked_until.expect("attempt counted"), None);
    assert_eq!(lock_of(k.clone(), address).await, Some(at.locks[0]));
}

/// Keys are counted in order, and once one refuses the attempt the later ones are not
/// counted: a client whose address is locked cannot go on counting attempts against the
/// identifiers it names. Both through the login's reads and through the lockout store alone.
pub async fn login_attempts_refused_by_an_earlier_key_leave_the_later_ones_uncounted(
    store: Arc<dyn Persister>,
) {
    let k = flow_kratos(store);
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .expect("login flow");
    let at = schedule();
    for through_reads in [true, false] {
        let address = format!("address:{}", Uuid::new_v4().simple());
        let identifier = format!("identifier:{}", Uuid::new_v4().simple());
        // The address locks at its first attempt; the identifier would lock at its second.
        let keys = [
            LockoutKey {
                key: &address,
                max_attempts: 1,
            },
            LockoutKey {
                key: &identifier,
                max_attempts: 2,
            },
        ];
        for _ in 0..5 {
            if through_reads {
                let reads = reads_limited(&k, flow.id, &keys, &at, "nobody").await;
                reads.locked_until.expect("attempt counted");
            } else {
                k.store()
                    .record_login_attempt(k.nid(), &keys, &at)
                    .await
                    .expect("attempt counted");
            }
        }
        let locked = |key: &String| {
            let k = k.clone();
            let key = key.clone();
            async move {
                k.store()
                    .login_locked_until(k.nid(), &[key])
                    .await
                    .expect("lock read")
            }
        };
        assert_eq!(locked(&address).await, Some(at.locks[0]));
        assert_eq!(
            locked(&identifier).await,
            None,
            "only the first attempt reached the identifier (through reads: {through_reads})"
        );
    }
}

/// A browser flow (one with a CSRF token) counts an attempt only when the submission carries
/// that token, vouched for: a submission that will be refused for CSRF counts nothing.
pub async fn login_reads_count_a_browser_flow_only_with_its_token(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let flow = k
        .login()
        .create(
            FlowType::Browser,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    let csrf = k
        .store()
        .get_flow(k.nid(), FlowKind::Login, flow.id)
        .await
        .unwrap()
        .csrf_token;
    assert!(!csrf.is_empty());
    let key = vec![format!("browser-reads:{}", Uuid::new_v4())];
    let keys = limited(&key, 1);
    let schedule = schedule();
    let read = |token: Option<&str>| {
        let token = token.map(str::to_owned);
        let (k, keys, schedule) = (&k, &keys, &schedule);
        async move {
            k.store()
                .password_login_reads(
                    k.nid(),
                    PasswordLoginKeys {
                        flow_id: flow.id,
                        lockout_keys: keys,
                        schedule,
                        identifier: "nobody@example.com",
                        csrf_token: token.as_deref(),
                        api_flow_admitted: true,
                    },
                )
                .await
                .locked_until
                .unwrap()
        }
    };
    for token in [None, Some("wrong"), Some(""), None, Some("wrong")] {
        assert_eq!(read(token).await, None, "{token:?} counts nothing");
    }
    assert_eq!(read(Some(&csrf)).await, None, "the first counted attempt");
    assert!(
        read(Some(&csrf)).await.is_some(),
        "the second one is over the limit of one: nothing was counted before"
    );

    // An api flow counts every attempt the transport admits, and none it refuses (a
    // browser's request), whatever token the payload carries.
    let api = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    let key = vec![format!("api-reads:{}", Uuid::new_v4())];
    let keys = limited(&key, 1);
    let read = |admitted: bool, token: Option<&'static str>| {
        let (k, keys, schedule) = (&k, &keys, &schedule);
        async move {
            k.store()
                .password_login_reads(
                    k.nid(),
                    PasswordLoginKeys {
                        flow_id: api.id,
                        lockout_keys: keys,
                        schedule,
                        identifier: "nobody@example.com",
                        csrf_token: token,
                        api_flow_admitted: admitted,
                    },
                )
                .await
                .locked_until
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(read(false, None).await, None, "refused: nothing counted");
    }
    assert_eq!(
        read(true, Some("any")).await,
        None,
        "the first counted attempt"
    );
    assert!(read(true, None).await.is_some(), "the second one is locked");
}
