//! Checks of this crate's own SQL (migrations, statement counts), run by the SQLite and PostgreSQL backends'
//! tests on a fresh database each. Enabled by the `testsuite` feature.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use kratos_core::flow::{FlowKind, StoredFlow};
use kratos_core::identity::{CredentialType, Credentials, Identity, IdentityState};
use kratos_core::session::{Aal, Session, SessionRecord};
use kratos_core::store::{
    CompletionStore, FlowCompletion, FlowStore, IdentityStore, SessionStore, SessionWrite,
};
use sea_orm_migration::MigratorTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::SqlStore;
use crate::migration::Migrator;

/// An identity with `credentials` (type and configuration), without identifiers.
fn identity(name: &str, credentials: &[(CredentialType, Value)], now: DateTime<Utc>) -> Identity {
    Identity {
        id: Uuid::now_v7(),
        schema_id: "default".into(),
        schema_url: String::new(),
        state: IdentityState::Active,
        state_changed_at: None,
        traits: json!({"case": name}),
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        metadata_public: None,
        metadata_admin: None,
        credentials: credentials
            .iter()
            .map(|(t, config)| {
                let credential = Credentials {
                    credential_type: *t,
                    identifiers: Vec::new(),
                    config: config.clone(),
                    version: 0,
                    created_at: now,
                    updated_at: now,
                };
                (*t, credential)
            })
            .collect(),
        external_id: None,
        organization_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// A new aal1 session of `identity` for an hour.
fn session(
    identity: &Identity,
    token_digest: [u8; 32],
    logout_token_digest: [u8; 32],
    now: DateTime<Utc>,
) -> SessionRecord {
    SessionRecord {
        session: Session {
            id: Uuid::now_v7(),
            active: true,
            expires_at: now + chrono::Duration::hours(1),
            authenticated_at: now,
            authenticator_assurance_level: Aal::Aal1,
            authentication_methods: Vec::new(),
            issued_at: now,
            identity: None,
            devices: Vec::new(),
            identity_id: identity.id,
        },
        token_digest,
        logout_token_digest,
    }
}

/// The statements a flow completion runs on `store`'s connection (as sea-orm's metric
/// callback counts them; `BEGIN` and `COMMIT` are not counted): a login's (lockout reset,
/// new session, flow) and a registration's (new identity with its credential and
/// identifier, new session, flow). PostgreSQL runs each as one statement, SQLite as two.
pub async fn completion_statements(store: &SqlStore) -> [usize; 2] {
    let nid = Uuid::new_v4();
    let now = Utc::now().trunc_subsecs(6);
    let flow = |kind| StoredFlow {
        id: Uuid::now_v7(),
        kind,
        expires_at: now + chrono::Duration::hours(1),
        csrf_token: String::new(),
        document: json!({"state": "choose_method"}),
    };
    let mut db = store.connection().clone();
    let counted = Arc::new(AtomicUsize::new(0));
    let counter = counted.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let counting = SqlStore::new(db);

    let existing = identity("login", &[(CredentialType::Password, json!({}))], now);
    let inserted = store
        .insert_identities(nid, std::slice::from_ref(&existing))
        .await;
    assert!(matches!(inserted.as_deref(), Ok([Ok(())])), "insert");
    let login = flow(FlowKind::Login);
    store.insert_flow(nid, &login).await.expect("login flow");
    let record = session(&existing, [1; 32], [2; 32], now);
    let before = counted.load(Ordering::SeqCst);
    counting
        .complete_flow(
            nid,
            &FlowCompletion {
                flow: &login,
                reset_login_failures: Some("identifier:login"),
                identity: None,
                session: Some(SessionWrite::Insert(&record)),
            },
        )
        .await
        .expect("login completion");
    let login_statements = counted.load(Ordering::SeqCst) - before;

    let mut new = identity(
        "registration",
        &[(CredentialType::Password, json!({}))],
        now,
    );
    if let Some(password) = new.credentials.get_mut(&CredentialType::Password) {
        password.identifiers = vec![format!("{}@example.com", new.id)];
    }
    let registration = flow(FlowKind::Registration);
    store
        .insert_flow(nid, &registration)
        .await
        .expect("registration flow");
    let record = session(&new, [3; 32], [4; 32], now);
    let before = counted.load(Ordering::SeqCst);
    counting
        .complete_flow(
            nid,
            &FlowCompletion {
                flow: &registration,
                reset_login_failures: None,
                identity: Some(&new),
                session: Some(SessionWrite::Insert(&record)),
            },
        )
        .await
        .expect("registration completion");
    let registration_statements = counted.load(Ordering::SeqCst) - before;
    let found = store
        .get_session_by_token_with_identity(nid, &[3; 32])
        .await
        .expect("the new identity's session");
    assert_eq!(found.identity.id, new.id);
    [login_statements, registration_statements]
}

/// A case: its name, the credentials (type and configuration) and the level they allow.
type Case = (&'static str, Vec<(CredentialType, Value)>, Aal);

/// `identities.available_aal` is written with the credentials, and the migration that adds it
/// derives it from the credentials of identities stored before: rolled back and applied again,
/// it gives every identity the level `kratos_core::session::available_aal` gives. `store` must
/// be migrated and used by nothing else (the last migration is rolled back).
pub async fn available_aal_is_backfilled(store: &SqlStore) {
    let nid = Uuid::new_v4();
    let cases: [Case; 6] = [
        (
            "password only",
            vec![(CredentialType::Password, json!({}))],
            Aal::Aal1,
        ),
        ("totp", vec![(CredentialType::Totp, json!({}))], Aal::Aal2),
        (
            "lookup secrets left",
            vec![(
                CredentialType::LookupSecret,
                json!({"recovery_codes": [{"code": "x"}]}),
            )],
            Aal::Aal2,
        ),
        (
            "lookup secrets used up",
            vec![(CredentialType::LookupSecret, json!({"recovery_codes": []}))],
            Aal::Aal1,
        ),
        (
            "passwordless key only",
            vec![(
                CredentialType::Webauthn,
                json!({"credentials": [{"is_passwordless": true}]}),
            )],
            Aal::Aal1,
        ),
        (
            "second-factor key",
            vec![(
                CredentialType::Webauthn,
                json!({"credentials": [{"is_passwordless": false}]}),
            )],
            Aal::Aal2,
        ),
    ];
    let now = Utc::now().trunc_subsecs(6);
    let mut tokens = Vec::new();
    for (name, credentials, expected) in &cases {
        let identity = identity(name, credentials, now);
        assert_eq!(
            kratos_core::session::available_aal(&identity),
            *expected,
            "{name}: the rule"
        );
        let inserted = store
            .insert_identities(nid, std::slice::from_ref(&identity))
            .await;
        assert!(
            matches!(inserted.as_deref(), Ok([Ok(())])),
            "{name}: insert"
        );
        let token = [tokens.len() as u8 + 1; 32];
        let record = session(&identity, token, [tokens.len() as u8 + 101; 32], now);
        store.insert_session(nid, &record).await.expect("session");
        tokens.push((name, token, *expected));
    }
    let check = |when: &'static str| {
        let tokens = &tokens;
        async move {
            for (name, token, expected) in tokens {
                let found = store
                    .get_session_by_token_with_identity(nid, token)
                    .await
                    .expect("whoami");
                assert_eq!(found.available_aal, *expected, "{name}, {when}");
            }
        }
    };
    check("as written").await;
    Migrator::down(store.connection(), Some(1))
        .await
        .expect("roll back the last migration");
    Migrator::up(store.connection(), None)
        .await
        .expect("apply it again");
    check("derived by the migration").await;
}
