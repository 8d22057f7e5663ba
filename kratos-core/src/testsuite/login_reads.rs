//! Conformance of `LoginReadStore::password_login_reads`: a password login's three reads,
//! each answered as its own store method answers it.

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
use crate::store::{PasswordLoginKeys, PasswordLoginReads, Persister, StoreErrorKind};

async fn reads(k: &Kratos, flow_id: Uuid, keys: &[String], identifier: &str) -> PasswordLoginReads {
    k.store()
        .password_login_reads(
            k.nid(),
            PasswordLoginKeys {
                flow_id,
                lockout_keys: keys,
                identifier,
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

    // Two keys: one not locked, one locked; then both locked, the later lock wins.
    let (free, first, second) = (
        format!("identifier:free-{}", Uuid::new_v4().simple()),
        format!("identifier:first-{}", Uuid::new_v4().simple()),
        format!("address:second-{}", Uuid::new_v4().simple()),
    );
    let now = truncate_micros(Utc::now());
    let soon = now + Duration::minutes(5);
    let later = now + Duration::hours(2);
    lock_until(&k, &first, soon).await;
    // `free` has a failure counted but no lock.
    k.store()
        .record_login_failure(k.nid(), &free, now, now - Duration::hours(1))
        .await
        .expect("failure counted");
    let got = reads(&k, flow.id, std::slice::from_ref(&free), "nobody").await;
    assert_eq!(
        got.locked_until.expect("lock read"),
        None,
        "a counted failure is no lock"
    );
    let got = reads(&k, flow.id, &[free.clone(), first.clone()], "nobody").await;
    assert_eq!(got.locked_until.expect("lock read"), Some(soon));
    assert!(
        got.identity.expect("identity read").is_none(),
        "no identity owns the identifier"
    );
    assert!(got.flow.is_ok());
    lock_until(&k, &second, later).await;
    let keys = [first.clone(), second.clone()];
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

    // Not the flow: unknown, of another kind, of another tenant.
    let got = reads(&k, Uuid::now_v7(), std::slice::from_ref(&first), &address).await;
    assert_eq!(
        got.flow.map(|_| ()).map_err(|e| e.kind()),
        Err(StoreErrorKind::NotFound),
        "an unknown flow is not found"
    );
    assert_eq!(got.locked_until.expect("lock read"), Some(soon));
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
        got.locked_until.expect("lock read"),
        None,
        "another tenant's locks do not count"
    );
    assert!(
        got.identity.expect("identity read").is_none(),
        "another tenant's identity is not found"
    );
}
