//! Conformance of the second-factor building blocks in the store: `UsedSecretStore::use_once`
//! (first use wins, per identity and tenant, atomically), the cleanup and identity deletion of
//! its rows, `CompletionStore::complete_flow_using_secret` (the use and the login together or
//! not at all), and the admin import of lookup secrets (no plaintext stored, still aal2).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::completion::{flow_document, new_flow, new_session};
use super::{body, email, kratos, kratos_with};
use crate::Kratos;
use crate::clock::truncate_micros;
use crate::identity::{
    CreateIdentityBody, CredentialType, IdentityError, ImportCredentials, ImportLookupCode,
    ImportLookupSecret, ImportLookupSecretConfig,
};
use crate::session::{Aal, AuthenticationMethod, ClientInfo, SessionError};
use crate::store::{
    FlowCompletion, Persister, SecretUse, SessionWrite, StoreError, StoreErrorKind,
};
use crate::strategy::lookup_secret::codes::{LookupSecretConfig, mac_keys};

fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

async fn identity_id(k: &Kratos) -> Uuid {
    k.identities()
        .create(body(&email()))
        .await
        .expect("create")
        .id
}

/// The first use of a key is admitted, every later one refused; another identity, another
/// tenant and another key are independent; an identity that is not in the tenant is
/// `NotFound`.
pub async fn used_secret_first_use_wins_per_identity_and_tenant(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let other_tenant = kratos(store.clone());
    let (a, b) = (identity_id(&k).await, identity_id(&k).await);
    let stranger = identity_id(&other_tenant).await;
    let until = now() + Duration::minutes(2);
    let use_once = |nid, id, key: &'static str| {
        let store = store.clone();
        async move { store.use_once(nid, id, key, until).await }
    };
    assert!(use_once(k.nid(), a, "totp:1").await.unwrap());
    assert!(!use_once(k.nid(), a, "totp:1").await.unwrap());
    assert!(!use_once(k.nid(), a, "totp:1").await.unwrap());
    assert!(use_once(k.nid(), a, "totp:2").await.unwrap());
    assert!(use_once(k.nid(), b, "totp:1").await.unwrap());
    assert!(!use_once(k.nid(), b, "totp:1").await.unwrap());
    assert!(
        use_once(other_tenant.nid(), stranger, "totp:1")
            .await
            .unwrap()
    );
    // An identity of another tenant, or none at all.
    for (nid, id) in [
        (k.nid(), stranger),
        (other_tenant.nid(), a),
        (k.nid(), Uuid::now_v7()),
    ] {
        let err = use_once(nid, id, "totp:9")
            .await
            .expect_err("no such identity");
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
    }
    // Nothing was recorded for them: the stranger's own tenant still admits the key.
    assert!(
        use_once(other_tenant.nid(), stranger, "totp:9")
            .await
            .unwrap()
    );
}

/// Sixteen uses of one key at once: exactly one is admitted.
pub async fn used_secret_concurrent_uses_one_wins(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let id = identity_id(&k).await;
    let until = now() + Duration::minutes(2);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            let nid = k.nid();
            tokio::spawn(async move { store.use_once(nid, id, "lookup_secret:abc", until).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.expect("task").expect("use recorded") {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 1, "exactly one of 16 concurrent uses wins");
    assert!(
        !store
            .use_once(k.nid(), id, "lookup_secret:abc", until)
            .await
            .unwrap()
    );
}

/// The cleanup deletes expired uses (in batches, this tenant's only) and keeps live ones; a
/// deleted use may happen again. `Cleanup::run` counts them.
pub async fn used_secret_cleanup_deletes_expired_uses(store: Arc<dyn Persister>) {
    let t = now();
    let clock = Arc::new(crate::ManualClock::new(t));
    let k = kratos_with(store.clone(), "", clock);
    let other = kratos(store.clone());
    let id = identity_id(&k).await;
    let stranger = identity_id(&other).await;
    for key in ["totp:1", "totp:2", "totp:3"] {
        assert!(
            store
                .use_once(k.nid(), id, key, t - Duration::hours(2))
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .use_once(k.nid(), id, "totp:live", t + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .use_once(other.nid(), stranger, "totp:1", t - Duration::hours(2))
            .await
            .unwrap()
    );

    let cutoff = t - Duration::hours(1);
    assert_eq!(
        store
            .delete_expired_used_secrets(k.nid(), cutoff, 0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_used_secrets(k.nid(), cutoff, 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .delete_expired_used_secrets(k.nid(), cutoff, 2)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_expired_used_secrets(k.nid(), cutoff, 2)
            .await
            .unwrap(),
        0
    );
    // Forgotten: the keys may be used again; the live one is still used; the other tenant's
    // expired use is untouched.
    assert!(
        store
            .use_once(k.nid(), id, "totp:1", t - Duration::hours(2))
            .await
            .unwrap()
    );
    assert!(!store.use_once(k.nid(), id, "totp:live", t).await.unwrap());
    assert!(
        !store
            .use_once(other.nid(), stranger, "totp:1", t)
            .await
            .unwrap()
    );

    // Through the registry's cleanup, with `older_than` 0: everything expired before now.
    let options = crate::cleanup::CleanupOptions {
        sleep_between_tables: std::time::Duration::ZERO,
        ..crate::cleanup::CleanupOptions::from_config(k.config())
    };
    let report = k.cleanup().run(&options).await.expect("cleanup");
    assert_eq!(report.used_secrets, 1);
    assert!(!store.use_once(k.nid(), id, "totp:live", t).await.unwrap());
    assert_eq!(
        other
            .store()
            .delete_expired_used_secrets(other.nid(), t, 10)
            .await
            .unwrap(),
        1
    );
}

/// Deleting an identity deletes its uses: an identity stored again under the same id starts
/// afresh.
pub async fn used_secret_deleting_the_identity_deletes_its_uses(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let identity = k
        .identities()
        .prepare_create(body(&email()))
        .await
        .expect("identity builds");
    let until = now() + Duration::hours(1);
    let results = store
        .insert_identities(k.nid(), std::slice::from_ref(&identity))
        .await
        .expect("insert");
    assert!(results.into_iter().all(|r| r.is_ok()));
    assert!(
        store
            .use_once(k.nid(), identity.id, "totp:5", until)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_once(k.nid(), identity.id, "totp:5", until)
            .await
            .unwrap()
    );

    store
        .delete_identity(k.nid(), identity.id)
        .await
        .expect("deleted");
    let err = store
        .use_once(k.nid(), identity.id, "totp:5", until)
        .await
        .expect_err("no identity any more");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    let results = store
        .insert_identities(k.nid(), std::slice::from_ref(&identity))
        .await
        .expect("insert again");
    assert!(results.into_iter().all(|r| r.is_ok()));
    assert!(
        store
            .use_once(k.nid(), identity.id, "totp:5", until)
            .await
            .unwrap(),
        "the identity's earlier uses went with it"
    );
    assert_eq!(
        store
            .delete_expired_used_secrets(k.nid(), until + Duration::hours(1), 10)
            .await
            .unwrap(),
        1,
        "one use left in the tenant"
    );
}

/// A password sign-in (aal1).
fn password_login(k: &Kratos) -> Vec<AuthenticationMethod> {
    vec![AuthenticationMethod {
        method: "password".into(),
        aal: Aal::Aal1,
        completed_at: truncate_micros(k.clock().now()),
        provider: None,
    }]
}

/// A completion that uses a secret writes the use with the login; a second completion with
/// the same key (another flow) is `AlreadyUsed` and writes nothing (no session, the flow
/// unchanged); a completed flow is `NotFound` and records no use; a missing identity is
/// `NotFound`.
pub async fn completion_using_a_secret_is_all_or_nothing(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let identity = k.identities().create(body(&email())).await.expect("create");
    let until = now() + Duration::minutes(2);
    let id = identity.id;

    let (_, done) = new_flow(&k).await;
    let record = new_session(&k, &identity);
    complete_with(&k, &done, &record, "totp:100", id, until)
        .await
        .expect("completed");
    assert_eq!(flow_document(&k, &done).await, done.document);
    store
        .get_session(k.nid(), record.session.id)
        .await
        .expect("session stored");
    assert!(
        !store
            .use_once(k.nid(), identity.id, "totp:100", until)
            .await
            .unwrap(),
        "the use was recorded with the login"
    );

    // The same key in another flow: refused, nothing written.
    let (before, again) = new_flow(&k).await;
    let second = new_session(&k, &identity);
    let err = complete_with(&k, &again, &second, "totp:100", id, until)
        .await
        .expect_err("replayed");
    assert!(matches!(err, StoreError::AlreadyUsed), "{err:?}");
    assert_eq!(err.kind(), StoreErrorKind::AlreadyUsed);
    assert_eq!(
        flow_document(&k, &again).await,
        before.document,
        "flow unchanged"
    );
    assert!(matches!(
        store.get_session(k.nid(), second.session.id).await,
        Err(StoreError::NotFound)
    ));

    // A completed flow with a fresh key: NotFound, and the key stays unused.
    let third = new_session(&k, &identity);
    let err = complete_with(&k, &done, &third, "totp:101", id, until)
        .await
        .expect_err("flow completed already");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert!(matches!(
        store.get_session(k.nid(), third.session.id).await,
        Err(StoreError::NotFound)
    ));
    // A completed flow and a used key: the flow's answer wins.
    let err = complete_with(&k, &done, &third, "totp:100", id, until)
        .await
        .expect_err("both");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);

    // The secret's identity is not in the tenant: NotFound, nothing written.
    let other = kratos(store.clone());
    let stranger = identity_id(&other).await;
    let (before, flow) = new_flow(&k).await;
    let fourth = new_session(&k, &identity);
    let err = complete_with(&k, &flow, &fourth, "totp:102", stranger, until)
        .await
        .expect_err("identity of another tenant");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert_eq!(flow_document(&k, &flow).await, before.document);
    assert!(
        store
            .use_once(k.nid(), identity.id, "totp:101", until)
            .await
            .unwrap(),
        "no use was recorded by the failed completions"
    );
    assert!(
        store
            .use_once(other.nid(), stranger, "totp:102", until)
            .await
            .unwrap()
    );
    // The flow left untouched still completes with a fresh key.
    complete_with(&k, &flow, &fourth, "totp:103", identity.id, until)
        .await
        .expect("completed");
}

async fn complete_with(
    k: &Kratos,
    flow: &crate::flow::StoredFlow,
    record: &crate::session::SessionRecord,
    key: &str,
    identity_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    k.store()
        .complete_flow_using_secret(
            k.nid(),
            &FlowCompletion {
                flow,
                reset_login_failures: None,
                forgive_login_attempt: None,
                identity: None,
                session: Some(SessionWrite::Insert(record)),
            },
            &SecretUse {
                identity_id,
                key,
                expires_at,
            },
        )
        .await
}

/// Eight logins of one identity in eight flows, all with the same recovery code, at once:
/// exactly one signs in; the others are `AlreadyUsed` and leave no session.
pub async fn completion_using_a_secret_concurrently_one_wins(store: Arc<dyn Persister>) {
    let k = kratos(store.clone());
    let identity = k.identities().create(body(&email())).await.expect("create");
    let until = now() + Duration::hours(1);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (_, flow) = new_flow(&k).await;
        let record = new_session(&k, &identity);
        let k = k.clone();
        let id = identity.id;
        tasks.push(tokio::spawn(async move {
            let result = complete_with(&k, &flow, &record, "lookup_secret:code", id, until).await;
            (result, record.session.id)
        }));
    }
    let mut signed_in = 0;
    for task in tasks {
        let (result, session) = task.await.expect("task");
        match result {
            Ok(()) => signed_in += 1,
            Err(StoreError::AlreadyUsed) => {
                assert!(matches!(
                    store.get_session(k.nid(), session).await,
                    Err(StoreError::NotFound)
                ));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(signed_in, 1);
    assert_eq!(
        store
            .list_sessions(k.nid(), identity.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Lookup secrets imported in Kratos's plaintext shape are stored as digests and sealed
/// codes: no code in the stored configuration, each found and revealed again, and the
/// identity still has a second factor (whoami of an aal1 session asks for aal2, which the SQL
/// stores compute from the stored configuration). A bad import writes nothing.
pub async fn identity_import_lookup_secret_stores_no_plaintext(store: Arc<dyn Persister>) {
    let k = super::kratos_with(
        store,
        super::SECOND_FACTORS_ON,
        std::sync::Arc::new(crate::SystemClock),
    );
    let codes = ["abcd1234", "EFGH5678", "ijkl9012"];
    let used = "2026-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap();
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                lookup_secret: Some(ImportLookupSecret {
                    config: ImportLookupSecretConfig {
                        codes: codes
                            .iter()
                            .enumerate()
                            .map(|(i, c)| ImportLookupCode {
                                code: (*c).to_owned(),
                                used_at: (i == 1).then_some(used),
                            })
                            .collect(),
                    },
                }),
                ..Default::default()
            }),
            ..body(&email())
        })
        .await
        .expect("imported");
    let stored = k
        .identities()
        .get_with_credentials(identity.id, &[CredentialType::LookupSecret])
        .await
        .expect("identity");
    let credential = &stored.credentials[&CredentialType::LookupSecret];
    assert_eq!(credential.identifiers, vec![identity.id.to_string()]);
    let text = credential.config.to_string();
    for code in codes {
        assert!(
            !text.contains(code) && !text.contains(&code.to_lowercase()),
            "{text}"
        );
    }
    let config = LookupSecretConfig::from_value(&credential.config).expect("stored shape");
    assert_eq!(config.recovery_codes.len(), 3);
    assert_eq!(config.remaining(), 2);
    let keys = mac_keys(k.config());
    assert_eq!(config.find(&keys, "efgh5678"), Some(1));
    assert_eq!(config.recovery_codes[1].used_at, Some(used));
    let revealed = config.reveal(k.cipher()).expect("revealed");
    assert_eq!(
        revealed.iter().map(|c| c.code()).collect::<Vec<_>>(),
        codes.to_vec()
    );

    let issued = k
        .sessions()
        .issue(&stored, password_login(&k), &ClientInfo::default())
        .await
        .expect("session");
    assert!(matches!(
        k.sessions().whoami(issued.token.expose()).await,
        Err(SessionError::Aal2Required)
    ));

    let address = email();
    let err = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                lookup_secret: Some(ImportLookupSecret {
                    config: ImportLookupSecretConfig {
                        codes: ["same", "SAME "]
                            .iter()
                            .map(|c| ImportLookupCode {
                                code: (*c).to_owned(),
                                used_at: None,
                            })
                            .collect(),
                    },
                }),
                ..Default::default()
            }),
            ..body(&address)
        })
        .await
        .expect_err("a repeated code");
    assert!(
        matches!(&err, IdentityError::InvalidField { field, .. } if field == "credentials.lookup_secret.config.codes"),
        "{err:?}"
    );
    assert!(!err.to_string().to_lowercase().contains("same"), "{err}");
    let found = k
        .identities()
        .list(crate::identity::ListIdentitiesParams {
            credentials_identifier: Some(address),
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(found.identities.is_empty(), "nothing was written");
}
