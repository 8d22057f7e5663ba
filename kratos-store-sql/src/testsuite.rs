//! Checks of this crate's own SQL (migrations, statement counts), run by the SQLite and PostgreSQL backends'
//! tests on a fresh database each. Enabled by the `testsuite` feature.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use kratos_core::flow::{FlowDocument, FlowKind, StoredFlow};
use kratos_core::identity::{CredentialType, Credentials, Identity, IdentityState};
use kratos_core::session::{Aal, Session, SessionRecord};
use kratos_core::store::{
    CompletionStore, FlowCompletion, FlowStore, IdentityStore, SecretUse, SessionStore,
    SessionWrite,
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

/// A stored flow document that is not JSON (written behind the store's back; PostgreSQL's
/// `jsonb` cannot hold one) is a storage error, for a flow read and for a login's reads alike,
/// not a missing flow.
pub async fn corrupt_flow_document_is_a_backend_error(store: &SqlStore) {
    use kratos_core::store::{LoginReadStore, PasswordLoginKeys, StoreErrorKind};
    use sea_orm::ConnectionTrait;
    let nid = Uuid::new_v4();
    let flow = StoredFlow {
        id: Uuid::now_v7(),
        kind: FlowKind::Login,
        expires_at: Utc::now().trunc_subsecs(6) + chrono::Duration::hours(1),
        csrf_token: String::new(),
        document: FlowDocument::of(&json!({"state": "choose_method"})).expect("document"),
    };
    store.insert_flow(nid, &flow).await.expect("flow stored");
    assert_eq!(
        store
            .get_flow(nid, FlowKind::Login, flow.id)
            .await
            .expect("flow")
            .document,
        flow.document
    );
    store
        .connection()
        .execute_unprepared(r#"UPDATE selfservice_flows SET document = '{"state": '"#)
        .await
        .expect("corrupted");
    let err = store
        .get_flow(nid, FlowKind::Login, flow.id)
        .await
        .expect_err("not JSON");
    assert_eq!(err.kind(), StoreErrorKind::Backend, "{err:?}");
    let reads = store
        .password_login_reads(
            nid,
            PasswordLoginKeys {
                flow_id: flow.id,
                lockout_keys: &[],
                schedule: &kratos_core::store::LockSchedule {
                    now: Utc::now(),
                    forget_before: Utc::now(),
                    locks: vec![Utc::now()],
                },
                identifier: "nobody@example.com",
                csrf_token: None,
                api_flow_admitted: true,
            },
        )
        .await;
    let err = reads.flow.expect_err("not JSON");
    assert_eq!(err.kind(), StoreErrorKind::Backend, "{err:?}");
}

/// The statements a flow completion runs on `store`'s connection (as sea-orm's metric
/// callback counts them; `BEGIN` and `COMMIT` are not counted): a login's (lockout reset,
/// new session, flow), a registration's (new identity with its credential and identifier,
/// new session, flow) and a second-factor login's (the secret's use, new session, flow).
/// Both backends send the first two as one execution: PostgreSQL one statement of common
/// table expressions, SQLite one batch of statements in a transaction. The third is one
/// statement on PostgreSQL and two on SQLite (the use's insert, then the batch).
pub async fn completion_statements(store: &SqlStore) -> [usize; 3] {
    let nid = Uuid::new_v4();
    let now = Utc::now().trunc_subsecs(6);
    let flow = |kind| StoredFlow {
        id: Uuid::now_v7(),
        kind,
        expires_at: now + chrono::Duration::hours(1),
        csrf_token: String::new(),
        document: FlowDocument::of(&json!({"state": "choose_method"})).expect("document"),
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
                forgive_login_attempt: None,
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
                forgive_login_attempt: None,
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

    let second_factor = flow(FlowKind::Login);
    store
        .insert_flow(nid, &second_factor)
        .await
        .expect("second-factor login flow");
    let record = session(&existing, [5; 32], [6; 32], now);
    let before = counted.load(Ordering::SeqCst);
    counting
        .complete_flow_using_secret(
            nid,
            &FlowCompletion {
                flow: &second_factor,
                reset_login_failures: None,
                forgive_login_attempt: None,
                identity: None,
                session: Some(SessionWrite::Insert(&record)),
            },
            &SecretUse {
                identity_id: existing.id,
                key: "totp:1",
                expires_at: now + chrono::Duration::minutes(2),
            },
        )
        .await
        .expect("second-factor completion");
    let second_factor_statements = counted.load(Ordering::SeqCst) - before;
    store
        .get_session_by_token(nid, &[5; 32])
        .await
        .expect("the second-factor session");
    [
        login_statements,
        registration_statements,
        second_factor_statements,
    ]
}

/// Rolls the migration `name` and every one after it back, and applies them again. By name:
/// a count of the last migrations would stop reaching `name` once another migration is added.
async fn reapply_from(store: &SqlStore, name: &str) {
    let migrations = Migrator::migrations();
    let position = migrations
        .iter()
        .position(|m| m.name() == name)
        .expect("the migration exists");
    let count = u32::try_from(migrations.len() - position).expect("a few migrations");
    Migrator::down(store.connection(), Some(count))
        .await
        .expect("roll the migrations back");
    Migrator::up(store.connection(), None)
        .await
        .expect("apply them again");
}

/// A case: its name, the credentials (type and configuration) and the level they allow.
type Case = (&'static str, Vec<(CredentialType, Value)>, Aal);

/// `identities.available_aal` is written with the credentials, and the migration that adds it
/// derives it from the credentials of identities stored before: rolled back and applied again,
/// it gives every identity the level `kratos_core::session::available_aal` gives. `store` must
/// be migrated and used by nothing else (that migration and the later ones are rolled back).
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
    // The migration that adds the column and every one after it.
    reapply_from(store, "m20261130_000008_identity_available_aal").await;
    check("derived by the migration").await;
}

/// `identities.verifiable_addresses` and `identities.recovery_addresses` are copies of the
/// address tables, written with them, and the migration that adds them derives them from the
/// tables for identities stored before: rolled back and applied again, every load (by id, by
/// identifier, in a list, with a session) answers the addresses as written, in order, including
/// an address marked verified. `store` must be migrated and used by nothing else (that
/// migration and the later ones are rolled back).
pub async fn address_lists_are_backfilled(store: &SqlStore) {
    use kratos_core::identity::VerificationStatus;
    use kratos_core::identity::{AddressVia, RecoveryAddress, VerifiableAddress};
    use kratos_core::store::{AddressStore, IdentityQuery};

    let nid = Uuid::new_v4();
    let now = Utc::now().trunc_subsecs(6);
    let verifiable = |value: &str, verified: bool| VerifiableAddress {
        id: Uuid::now_v7(),
        value: value.into(),
        verified,
        via: AddressVia::Email,
        status: if verified {
            VerificationStatus::Completed
        } else {
            VerificationStatus::Pending
        },
        verified_at: verified.then_some(now - chrono::Duration::minutes(5)),
        created_at: now - chrono::Duration::hours(1),
        updated_at: now,
    };
    let recovery = |value: &str| RecoveryAddress {
        id: Uuid::now_v7(),
        value: value.into(),
        via: AddressVia::Email,
        created_at: now - chrono::Duration::hours(1),
        updated_at: now,
    };
    let mut none = identity("no addresses", &[], now);
    none.traits = json!({"case": "none"});
    let mut one = identity("one of each", &[], now);
    one.verifiable_addresses = vec![verifiable("one@example.com", false)];
    one.recovery_addresses = vec![recovery("one@example.com")];
    let mut two = identity(
        "two of each",
        &[(CredentialType::Password, json!({"hashed_password": "x"}))],
        now,
    );
    if let Some(password) = two.credentials.get_mut(&CredentialType::Password) {
        password.identifiers = vec!["two-of-each".into()];
    }
    // Not in alphabetical order: the lists keep their own.
    two.verifiable_addresses = vec![
        verifiable("zed@example.com", true),
        verifiable("amy@example.com", false),
    ];
    two.recovery_addresses = vec![recovery("zed@example.com"), recovery("amy@example.com")];
    let mut identities = vec![none, one, two];
    for i in &mut identities {
        let inserted = store.insert_identities(nid, std::slice::from_ref(i)).await;
        assert!(matches!(inserted.as_deref(), Ok([Ok(())])), "insert");
    }
    // Marking an address verified changes the copy as well as the table.
    let marked = identities[2].verifiable_addresses[1].id;
    store
        .mark_address_verified(nid, marked, now)
        .await
        .expect("mark verified");
    let address = &mut identities[2].verifiable_addresses[1];
    address.verified = true;
    address.status = VerificationStatus::Completed;
    address.verified_at = Some(now);
    address.updated_at = now;
    // An update rewrites them.
    identities[1]
        .recovery_addresses
        .push(recovery("other@example.com"));
    store
        .update_identity(nid, &identities[1])
        .await
        .expect("update");
    let mut tokens = Vec::new();
    for (n, i) in identities.iter().enumerate() {
        let token = [n as u8 + 1; 32];
        let record = session(i, token, [n as u8 + 101; 32], now);
        store.insert_session(nid, &record).await.expect("session");
        tokens.push(token);
    }
    let check = |when: &'static str| {
        let (identities, tokens) = (&identities, &tokens);
        async move {
            let listed = store
                .list_identities(
                    nid,
                    &IdentityQuery {
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .expect("list");
            assert_eq!(listed.len(), identities.len(), "{when}: listed");
            for (i, token) in identities.iter().zip(tokens) {
                let got = store.get_identity(nid, i.id).await.expect("get");
                let found = store
                    .get_session_by_token_with_identity(nid, token)
                    .await
                    .expect("whoami");
                let listed = listed.iter().find(|l| l.id == i.id).expect("listed");
                for (how, loaded) in [("get", &got), ("whoami", &found.identity), ("list", listed)]
                {
                    assert_eq!(
                        loaded.verifiable_addresses, i.verifiable_addresses,
                        "{when}, {how}: verifiable addresses of {}",
                        i.traits
                    );
                    assert_eq!(
                        loaded.recovery_addresses, i.recovery_addresses,
                        "{when}, {how}: recovery addresses of {}",
                        i.traits
                    );
                }
            }
            let by_address = store
                .find_identity_by_address(
                    nid,
                    kratos_core::store::AddressKind::Verifiable,
                    AddressVia::Email,
                    "amy@example.com",
                )
                .await
                .expect("by address");
            assert_eq!(by_address.id, identities[2].id, "{when}: by address");
            let by_identifier = store
                .find_identity_by_identifier(nid, CredentialType::Password, "two-of-each")
                .await
                .expect("by identifier");
            assert_eq!(
                by_identifier.verifiable_addresses, identities[2].verifiable_addresses,
                "{when}: by identifier"
            );
            assert_eq!(
                by_identifier.recovery_addresses, identities[2].recovery_addresses,
                "{when}: by identifier"
            );
        }
    };
    check("as written").await;
    reapply_from(store, "m20261130_000009_identity_address_lists").await;
    check("derived by the migration").await;
}

/// How [`a_lockout_wins_over_a_failing_identity_read`] breaks the identity's stored state.
#[derive(Clone, Copy, Debug)]
pub enum UnreadableIdentity {
    /// An identity state the store does not know: the row reads, its decoding fails.
    State,
    /// A password credential whose configuration is not JSON: on SQLite the statement loading
    /// the identity fails in the database (`json()` raises). SQLite only: PostgreSQL's `jsonb`
    /// column does not take it.
    CredentialConfig,
}

/// A lock on a login's identifier wins over a failing read of its identity, as when the lock
/// was read first and the identity not at all: with the identifier locked and its identity
/// unreadable (`how`), a login answers `LoginLocked`, not the store's error.
pub async fn a_lockout_wins_over_a_failing_identity_read(
    store: &SqlStore,
    how: UnreadableIdentity,
) {
    use kratos_core::flow::FlowError;
    use kratos_core::flow::login::LoginSubmission;
    use kratos_core::flow::registration::RegistrationSubmission;
    use sea_orm::{ConnectionTrait, Statement};

    let k = kratos_core::testsuite::flow_kratos(Arc::new(store.clone()));
    let email = format!("locked-{}@example.com", Uuid::new_v4().simple());
    let password = "the right password 42";
    let RegistrationSubmission::Completed(registered) =
        kratos_core::testsuite::register(&k, &email, password).await
    else {
        panic!("the registration completes")
    };
    let login = |password| kratos_core::testsuite::try_login(&k, &email, password);
    for _ in 0..5 {
        assert!(matches!(
            login("a wrong password").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    let backend = store.connection().get_database_backend();
    let sql = match (how, backend) {
        (
            UnreadableIdentity::State,
            sea_orm::DatabaseBackend::Sqlite | sea_orm::DatabaseBackend::MySql,
        ) => "UPDATE identities SET state = 'unreadable' WHERE nid = ? AND id = ?",
        (UnreadableIdentity::State, _) => {
            "UPDATE identities SET state = 'unreadable' WHERE nid = $1 AND id = $2"
        }
        (UnreadableIdentity::CredentialConfig, sea_orm::DatabaseBackend::Sqlite) => {
            "UPDATE identity_credentials SET config = 'not json' WHERE nid = ? AND identity_id = ?"
        }
        (UnreadableIdentity::CredentialConfig, other) => {
            panic!("a credential configuration that is not JSON cannot be stored on {other:?}")
        }
    };
    store
        .connection()
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [k.nid().into(), registered.identity.id.into()],
        ))
        .await
        .expect("make the identity unreadable");
    let unreadable = k.identities().get(registered.identity.id).await;
    assert!(unreadable.is_err(), "the identity row no longer reads");
    let answer = login(password).await;
    assert!(
        matches!(answer, Err(FlowError::LoginLocked { .. })),
        "a locked identifier answers LoginLocked, got {answer:?}"
    );
}
