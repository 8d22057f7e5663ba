//! Checks of this crate's own SQL (migrations), run by the SQLite and PostgreSQL backends'
//! tests on a fresh database each. Enabled by the `testsuite` feature.

use chrono::{SubsecRound, Utc};
use kratos_core::identity::{CredentialType, Credentials, Identity, IdentityState};
use kratos_core::session::{Aal, Session, SessionRecord};
use kratos_core::store::{IdentityStore, SessionStore};
use sea_orm_migration::MigratorTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::SqlStore;
use crate::migration::Migrator;

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
        let identity = Identity {
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
        };
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
        let record = SessionRecord {
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
            token_digest: token,
            logout_token_digest: [tokens.len() as u8 + 101; 32],
        };
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
