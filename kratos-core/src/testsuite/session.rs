//! Conformance of sessions: issue, whoami, revoke, expiry, levels, the session-with-identity read.

#[allow(unused_imports)]
use super::*;

pub(super) fn password_method(k: &Kratos) -> Vec<AuthenticationMethod> {
    vec![AuthenticationMethod {
        method: "password".into(),
        aal: Aal::Aal1,
        completed_at: k.clock().now(),
        provider: None,
    }]
}

pub(super) fn client() -> ClientInfo {
    ClientInfo {
        ip_address: Some("203.0.113.7".into()),
        user_agent: Some("conformance/1.0".into()),
    }
}

pub async fn session_issue_and_whoami(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            metadata_admin: Some(json!({"secret": "admin-only"})),
            ..body(&email())
        })
        .await
        .unwrap();
    let issued = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    assert!(issued.token.expose().starts_with("ory_st_"));
    assert!(issued.logout_token.expose().starts_with("ory_lo_"));
    assert!(
        !format!("{issued:?}").contains(&issued.token.expose()[7..]),
        "Debug hides tokens"
    );
    let s = &issued.session;
    assert!(s.active);
    assert_eq!(s.authenticator_assurance_level, Aal::Aal1);
    assert_eq!(
        s.expires_at - s.issued_at,
        chrono::Duration::hours(24),
        "default lifespan 24h"
    );
    assert_eq!(s.devices[0].ip_address.as_deref(), Some("203.0.113.7"));

    let who = k.sessions().whoami(issued.token.expose()).await.unwrap();
    assert_eq!(who.id, s.id);
    let id = who.identity.as_ref().unwrap();
    assert_eq!(id.id, identity.id);
    assert!(
        id.credentials.is_empty() && id.metadata_admin.is_none(),
        "whoami hides credentials and admin metadata"
    );
    let json = serde_json::to_value(&who).unwrap();
    for key in [
        "id",
        "active",
        "expires_at",
        "authenticated_at",
        "authenticator_assurance_level",
        "authentication_methods",
        "issued_at",
        "identity",
        "devices",
    ] {
        assert!(json.get(key).is_some(), "session JSON has {key}");
    }
    assert_eq!(json["authentication_methods"][0]["method"], "password");

    // Only digests are stored.
    let record = k.store().get_session(k.nid(), s.id).await.unwrap();
    assert_eq!(record.token_digest, token_digest(issued.token.expose()));
    assert_ne!(&record.token_digest[..], issued.token.expose().as_bytes());
    for bad in ["", "ory_st_nope", issued.logout_token.expose()] {
        assert!(
            matches!(k.sessions().whoami(bad).await, Err(SessionError::Inactive)),
            "{bad}"
        );
    }
}

pub async fn session_revoke_and_logout(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let identity = k.identities().create(body(&email())).await.unwrap();
    let a = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let b = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let c = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let d = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();

    k.sessions().revoke(a.session.id).await.unwrap();
    assert!(matches!(
        k.sessions().whoami(a.token.expose()).await,
        Err(SessionError::Inactive)
    ));
    assert_eq!(
        k.sessions().revoke_others(b.token.expose()).await.unwrap(),
        2
    );
    assert!(
        k.sessions().whoami(b.token.expose()).await.is_ok(),
        "the current session stays"
    );
    assert!(k.sessions().whoami(c.token.expose()).await.is_err());
    assert!(k.sessions().whoami(d.token.expose()).await.is_err());

    let e = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    k.sessions()
        .logout_with_logout_token(e.logout_token.expose())
        .await
        .unwrap();
    assert!(k.sessions().whoami(e.token.expose()).await.is_err());
    assert!(matches!(
        k.sessions()
            .logout_with_logout_token(e.logout_token.expose())
            .await,
        Err(SessionError::Inactive)
    ));
    k.sessions()
        .logout_with_session_token(b.token.expose())
        .await
        .unwrap();
    assert!(k.sessions().whoami(b.token.expose()).await.is_err());
    assert!(matches!(
        k.sessions()
            .logout_with_session_token("ory_st_unknown")
            .await,
        Err(SessionError::Inactive)
    ));
    assert!(matches!(
        k.sessions().revoke(Uuid::now_v7()).await,
        Err(SessionError::NotFound)
    ));

    let f = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    assert_eq!(k.sessions().revoke_all(identity.id).await.unwrap(), 1);
    assert!(k.sessions().whoami(f.token.expose()).await.is_err());
}

pub async fn session_expiry_extend_and_sliding(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let k = kratos_with(store.clone(), "", Arc::new(clock.clone()));
    let identity = k.identities().create(body(&email())).await.unwrap();
    let s = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(23));
    assert!(k.sessions().whoami(s.token.expose()).await.is_ok());
    clock.advance(chrono::Duration::hours(2));
    assert!(
        matches!(
            k.sessions().whoami(s.token.expose()).await,
            Err(SessionError::Inactive)
        ),
        "expired"
    );
    let extended = k.sessions().extend(s.session.id).await.unwrap();
    assert_eq!(
        extended.expires_at,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::hours(24)
    );
    assert!(
        k.sessions().whoami(s.token.expose()).await.is_ok(),
        "admin extend revives it"
    );

    // Sliding expiry: used inside the last hour, the session is extended.
    let sliding = kratos_with(
        store,
        "session:\n  lifespan: 2h\n  earliest_possible_extend: 1h\n  extend_on_use: true\n",
        Arc::new(clock.clone()),
    )
    .tenant(k.nid());
    let t = sliding
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let first_expiry = t.session.expires_at;
    clock.advance(chrono::Duration::minutes(30));
    let who = sliding.sessions().whoami(t.token.expose()).await.unwrap();
    assert_eq!(
        who.expires_at, first_expiry,
        "not yet inside the extend window"
    );
    clock.advance(chrono::Duration::minutes(60));
    let who = sliding.sessions().whoami(t.token.expose()).await.unwrap();
    assert_eq!(
        who.expires_at,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::hours(2)
    );
    clock.advance(chrono::Duration::minutes(100));
    assert!(
        sliding.sessions().whoami(t.token.expose()).await.is_ok(),
        "kept alive by use"
    );
    // Without sliding expiry the same use would not have helped.
    let plain = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(25));
    assert!(k.sessions().whoami(plain.token.expose()).await.is_err());
}

pub async fn session_inactive_identity_and_deletion(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let identity = k.identities().create(body(&email())).await.unwrap();
    let s = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let disabled = k
        .identities()
        .patch(
            identity.id,
            &json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await
        .unwrap();
    assert!(matches!(
        k.sessions().whoami(s.token.expose()).await,
        Err(SessionError::Inactive)
    ));
    assert!(matches!(
        k.sessions()
            .issue(&disabled, password_method(&k), &client())
            .await,
        Err(SessionError::Inactive)
    ));
    k.identities()
        .patch(
            identity.id,
            &json!([{"op": "replace", "path": "/state", "value": "active"}]),
        )
        .await
        .unwrap();
    assert!(k.sessions().whoami(s.token.expose()).await.is_ok());
    k.identities().delete(identity.id).await.unwrap();
    assert!(matches!(
        k.sessions().whoami(s.token.expose()).await,
        Err(SessionError::Inactive)
    ));
    assert!(
        k.store().get_session(k.nid(), s.session.id).await.is_err(),
        "sessions go with the identity"
    );
}

/// Second factors switched on: without them a second-factor credential asks for no step-up.
pub(crate) const SECOND_FACTORS_ON: &str = "selfservice:\n  methods:\n    totp:\n      enabled: true\n    lookup_secret:\n      enabled: true\n";

pub async fn session_aal_highest_available(store: Arc<dyn Persister>) {
    let k = kratos_with(store, SECOND_FACTORS_ON, Arc::new(crate::SystemClock));
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                totp: Some(crate::identity::ImportTotp {
                    config: crate::identity::ImportTotpConfig {
                        totp_url: "otpauth://totp/Example:a?secret=JBSWY3DPEHPK3PXP&issuer=Example"
                            .into(),
                    },
                }),
                ..Default::default()
            }),
            ..body(&email())
        })
        .await
        .unwrap();
    let s = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let err = k.sessions().whoami(s.token.expose()).await.unwrap_err();
    assert!(matches!(err, SessionError::Aal2Required));
    assert_eq!((err.id(), err.status()), ("session_aal2_required", 403));
    assert!(
        k.sessions()
            .whoami_with(s.token.expose(), crate::session::RequiredAal::Aal1)
            .await
            .is_ok()
    );
    let stepped = k
        .sessions()
        .add_authentication(
            s.session.id,
            vec![AuthenticationMethod {
                method: "totp".into(),
                aal: Aal::Aal2,
                completed_at: k.clock().now(),
                provider: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(stepped.authenticator_assurance_level, Aal::Aal2);
    let who = k.sessions().whoami(s.token.expose()).await.unwrap();
    assert_eq!(who.authentication_methods.len(), 2);
}

pub async fn session_list_and_tenant_isolation(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let other = k.tenant(Uuid::new_v4());
    let identity = k.identities().create(body(&email())).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            k.sessions()
                .issue(&identity, password_method(&k), &client())
                .await
                .unwrap(),
        );
    }
    k.sessions().revoke(ids[0].session.id).await.unwrap();
    let all = k
        .sessions()
        .list_for_identity(identity.id, false)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.windows(2).all(|w| w[0].issued_at >= w[1].issued_at),
        "newest first"
    );
    assert_eq!(
        k.sessions()
            .list_for_identity(identity.id, true)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        other
            .sessions()
            .list_for_identity(identity.id, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        other.sessions().whoami(ids[1].token.expose()).await,
        Err(SessionError::Inactive)
    ));
    assert!(matches!(
        other.sessions().get(ids[1].session.id).await,
        Err(SessionError::NotFound)
    ));
    let got = k.sessions().get(ids[1].session.id).await.unwrap();
    assert_eq!(got.identity.unwrap().id, identity.id);
}

/// What `get_session_by_token_with_identity` must answer for an identity: the identity as
/// `get_identity` loads it, without credentials and admin metadata, and the level its
/// credentials allow.
pub(super) async fn expected_whoami_identity(
    k: &Kratos,
    id: Uuid,
) -> (crate::identity::Identity, Aal) {
    let mut full = k.store().get_identity(k.nid(), id).await.unwrap();
    let aal = crate::session::available_aal(&full);
    full.credentials.clear();
    full.metadata_admin = None;
    (full, aal)
}

pub async fn session_with_identity_by_token(store: Arc<dyn Persister>) {
    use crate::identity::{AddressVia, RecoveryAddress, VerifiableAddress, VerificationStatus};
    use crate::store::StoreError;

    let k = kratos_with(store, SECOND_FACTORS_ON, Arc::new(crate::SystemClock));
    let mail = email();
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            metadata_admin: Some(json!({"secret": "admin-only"})),
            // Text a store must carry through JSON unchanged: four-byte UTF-8, quotes,
            // backslashes, control characters.
            metadata_public: Some(json!({"plan": "pro", "badge": "🦀 \"q\" \\ \u{1} é"})),
            external_id: Some(format!("ext-🦀-{}", Uuid::new_v4())),
            organization_id: Some(Uuid::new_v4()),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some("correct horse battery".into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..body(&mail)
        })
        .await
        .unwrap();
    // More addresses than the schema derives, in a set order, one of them verified.
    let mut stored = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    assert_eq!(stored.verifiable_addresses.len(), 1);
    assert_eq!(stored.recovery_addresses.len(), 1);
    let now = crate::clock::truncate_micros(k.clock().now());
    stored.verifiable_addresses.push(VerifiableAddress {
        id: Uuid::now_v7(),
        value: format!("second-{mail}"),
        verified: true,
        via: AddressVia::Email,
        status: VerificationStatus::Completed,
        verified_at: Some(now),
        created_at: now,
        updated_at: now,
    });
    stored.verifiable_addresses.swap(0, 1);
    stored.recovery_addresses.insert(
        0,
        RecoveryAddress {
            id: Uuid::now_v7(),
            value: "+4915112345678".into(),
            via: AddressVia::Sms,
            created_at: now,
            updated_at: now,
        },
    );
    stored.state_changed_at = Some(now);
    k.store().update_identity(k.nid(), &stored).await.unwrap();

    let issued = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let digest = token_digest(issued.token.expose());
    let found = k
        .store()
        .get_session_by_token_with_identity(k.nid(), &digest)
        .await
        .unwrap();
    let record = k
        .store()
        .get_session_by_token(k.nid(), &digest)
        .await
        .unwrap();
    assert_eq!(found.record.session, record.session);
    assert_eq!(found.record.token_digest, record.token_digest);
    assert_eq!(found.record.logout_token_digest, record.logout_token_digest);
    let (expected, aal) = expected_whoami_identity(&k, identity.id).await;
    assert_eq!(found.identity, expected);
    assert_eq!(found.available_aal, aal);
    assert_eq!(found.available_aal, Aal::Aal1, "a password is one factor");
    assert!(found.identity.credentials.is_empty());
    assert_eq!(found.identity.metadata_admin, None);
    assert_eq!(
        found.identity.metadata_public,
        Some(json!({"plan": "pro", "badge": "🦀 \"q\" \\ \u{1} é"}))
    );
    assert!(found.identity.organization_id.is_some());
    assert!(found.identity.state_changed_at.is_some());
    assert!(
        found
            .identity
            .external_id
            .as_deref()
            .unwrap()
            .starts_with("ext-🦀-")
    );
    assert_eq!(
        found
            .identity
            .verifiable_addresses
            .iter()
            .map(|a| a.value.as_str())
            .collect::<Vec<_>>(),
        vec![format!("second-{mail}").as_str(), mail.as_str()],
        "addresses keep their order"
    );
    assert_eq!(found.identity.recovery_addresses.len(), 2);
    assert_eq!(found.identity.recovery_addresses[0].via, AddressVia::Sms);

    // Unknown tokens, the logout token and other tenants find nothing.
    for bad in [
        token_digest("ory_st_unknown"),
        token_digest(issued.logout_token.expose()),
    ] {
        assert!(matches!(
            k.store()
                .get_session_by_token_with_identity(k.nid(), &bad)
                .await,
            Err(StoreError::NotFound)
        ));
    }
    assert!(matches!(
        k.store()
            .get_session_by_token_with_identity(Uuid::new_v4(), &digest)
            .await,
        Err(StoreError::NotFound)
    ));

    // An identity without addresses; an inactive identity is returned as it is (whoami
    // refuses it).
    let bare = k
        .identities()
        .create(CreateIdentityBody {
            schema_id: "other".into(),
            traits: json!({"nick": format!("nick-{}", Uuid::new_v4().simple())}),
            ..Default::default()
        })
        .await
        .unwrap();
    let s = k
        .sessions()
        .issue(&bare, password_method(&k), &client())
        .await
        .unwrap();
    k.identities()
        .patch(
            bare.id,
            &json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await
        .unwrap();
    let found = k
        .store()
        .get_session_by_token_with_identity(k.nid(), &token_digest(s.token.expose()))
        .await
        .unwrap();
    let (expected, _) = expected_whoami_identity(&k, bare.id).await;
    assert_eq!(found.identity, expected);
    assert!(found.identity.verifiable_addresses.is_empty());
    assert!(found.identity.recovery_addresses.is_empty());
    assert_eq!(found.identity.state, IdentityState::Inactive);
    assert!(matches!(
        k.sessions().whoami(s.token.expose()).await,
        Err(SessionError::Inactive)
    ));

    // A TOTP credential makes aal2 available: an aal1 session is not enough for whoami.
    let mut with_totp = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    with_totp.credentials.insert(
        CredentialType::Totp,
        crate::identity::Credentials {
            credential_type: CredentialType::Totp,
            identifiers: vec![],
            config: json!({"totp_url": "otpauth://totp/Example:a?secret=JBSWY3DPEHPK3PXP"}),
            version: 0,
            created_at: now,
            updated_at: now,
        },
    );
    k.store()
        .update_identity(k.nid(), &with_totp)
        .await
        .unwrap();
    let found = k
        .store()
        .get_session_by_token_with_identity(k.nid(), &digest)
        .await
        .unwrap();
    assert_eq!(found.available_aal, Aal::Aal2);
    assert!(found.identity.credentials.is_empty());
    // Every way of loading one identity agrees with the listing.
    let full = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    assert!(full.credentials.contains_key(&CredentialType::Totp));
    assert_eq!(
        full.credentials[&CredentialType::Password].identifiers,
        vec![mail.clone()]
    );
    let listed = k
        .store()
        .list_identities(
            k.nid(),
            &crate::store::IdentityQuery {
                ids: vec![identity.id],
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed, vec![full.clone()]);
    let by_identifier = k
        .store()
        .find_identity_by_identifier(k.nid(), CredentialType::Password, &mail)
        .await
        .unwrap();
    assert_eq!(by_identifier, full);
    let by_external_id = k
        .store()
        .get_identity_by_external_id(k.nid(), full.external_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(by_external_id, full);
    assert!(matches!(
        k.sessions().whoami(issued.token.expose()).await,
        Err(SessionError::Aal2Required)
    ));
}

pub async fn session_with_identity_second_factor(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let identity = k.identities().create(body(&email())).await.unwrap();
    let issued = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let digest = token_digest(issued.token.expose());
    let now = crate::clock::truncate_micros(k.clock().now());
    let cases = [
        (CredentialType::Totp, json!({}), Aal::Aal2),
        (
            CredentialType::LookupSecret,
            json!({"recovery_codes": []}),
            Aal::Aal1,
        ),
        (CredentialType::LookupSecret, json!({}), Aal::Aal1),
        (
            CredentialType::LookupSecret,
            json!({"recovery_codes": "x"}),
            Aal::Aal1,
        ),
        (
            CredentialType::LookupSecret,
            json!({"recovery_codes": {"a": 1}}),
            Aal::Aal1,
        ),
        (
            CredentialType::LookupSecret,
            json!({"recovery_codes": [{"code": "abc"}]}),
            Aal::Aal2,
        ),
        (CredentialType::Webauthn, json!({}), Aal::Aal1),
        (
            CredentialType::Webauthn,
            json!({"credentials": []}),
            Aal::Aal1,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": {"is_passwordless": false}}),
            Aal::Aal1,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": [{"is_passwordless": true}]}),
            Aal::Aal1,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": [{"is_passwordless": true}, {"is_passwordless": false}]}),
            Aal::Aal2,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": [{"id": "k"}]}),
            Aal::Aal2,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": [{"is_passwordless": "true"}]}),
            Aal::Aal2,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": [{"is_passwordless": null}]}),
            Aal::Aal2,
        ),
        (
            CredentialType::Webauthn,
            json!({"credentials": ["k", 1]}),
            Aal::Aal2,
        ),
        (CredentialType::Oidc, json!({"providers": []}), Aal::Aal1),
        (CredentialType::Code, json!({}), Aal::Aal1),
    ];
    for (t, config, want) in cases {
        let mut i = k.store().get_identity(k.nid(), identity.id).await.unwrap();
        i.credentials
            .retain(|ct, _| *ct == CredentialType::Password);
        i.credentials.insert(
            t,
            crate::identity::Credentials {
                credential_type: t,
                identifiers: vec![],
                config: config.clone(),
                version: 0,
                created_at: now,
                updated_at: now,
            },
        );
        k.store().update_identity(k.nid(), &i).await.unwrap();
        let found = k
            .store()
            .get_session_by_token_with_identity(k.nid(), &digest)
            .await
            .unwrap();
        let (_, reference) = expected_whoami_identity(&k, identity.id).await;
        assert_eq!(reference, want, "{t:?} {config}: available_aal");
        assert_eq!(
            found.available_aal, want,
            "{t:?} {config}: the store's answer"
        );
    }
}
