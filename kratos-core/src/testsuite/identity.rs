//! Conformance of identities: CRUD, pagination, filters, patches, imports, tenants, bad input.

#[allow(unused_imports)]
use super::*;
pub async fn identity_crud(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let mail = email();
    let created = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": mail.to_uppercase(), "name": "Ada"}),
            metadata_public: Some(json!({"plan": "pro"})),
            metadata_admin: Some(json!({"note": 1})),
            external_id: Some(format!("ext-{}", Uuid::new_v4())),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some("correct horse battery".into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create");
    assert_eq!(created.id.get_version_num(), 7, "ids are UUID v7");
    assert_eq!(created.state, IdentityState::Active);
    assert!(
        created.credentials.is_empty(),
        "credentials are not returned by default"
    );
    assert_eq!(created.verifiable_addresses.len(), 1);
    assert_eq!(
        created.verifiable_addresses[0].value, mail,
        "addresses are normalised"
    );
    assert!(!created.verifiable_addresses[0].verified);
    assert_eq!(created.recovery_addresses[0].value, mail);
    assert!(created.schema_url.ends_with("/schemas/ZGVmYXVsdA"));

    let got = k.identities().get(created.id).await.expect("get");
    assert_eq!(got, created, "a stored identity reads back unchanged");

    let with = k
        .identities()
        .get_with_credentials(created.id, &[])
        .await
        .expect("get with credentials");
    let pw = with.credential(CredentialType::Password).expect("password");
    assert_eq!(pw.identifiers, vec![mail.clone()]);
    let hash = pw.hashed_password().expect("hash");
    assert!(kratos_hash::verify(b"correct horse battery", hash).unwrap());
    let code = with
        .credential(CredentialType::Code)
        .expect("code credential");
    assert_eq!(code.config["addresses"][0]["address"], json!(mail));
    assert!(
        !format!("{with:?}").contains(hash),
        "Debug never shows a hash"
    );

    let by_ext = k
        .identities()
        .get_by_external_id(created.external_id.as_deref().unwrap())
        .await
        .expect("by external id");
    assert_eq!(by_ext.id, created.id);

    let found = k
        .store()
        .find_identity_by_identifier(k.nid(), CredentialType::Password, &mail)
        .await
        .expect("find by identifier");
    assert_eq!(found.id, created.id);

    k.identities().delete(created.id).await.expect("delete");
    assert!(matches!(
        k.identities().get(created.id).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        k.identities().delete(created.id).await,
        Err(IdentityError::NotFound)
    ));
    assert!(
        k.store()
            .find_identity_by_identifier(k.nid(), CredentialType::Password, &mail)
            .await
            .is_err(),
        "identifiers go with the identity"
    );
    // The identifier is free again.
    k.identities()
        .create(body(&mail))
        .await
        .expect("re-create after delete");
}

pub async fn identity_pagination_sees_every_row_once(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let total: usize = 2500;
    let mut created = HashSet::new();
    for chunk in 0..total.div_ceil(1000) {
        let n = (total - chunk * 1000).min(1000);
        let patches = (0..n)
            .map(|_| IdentityPatch {
                patch_id: None,
                create: Some(body(&email())),
            })
            .collect();
        for r in k.identities().batch_create(patches).await.expect("batch") {
            assert_eq!(r.action, PatchAction::Create, "{:?}", r.error);
            created.insert(r.identity.unwrap());
        }
    }
    assert_eq!(created.len(), total);
    for page_size in [1000, 333] {
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = k
                .identities()
                .list(ListIdentitiesParams {
                    page_size: Some(page_size),
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .expect("page");
            pages += 1;
            assert!(page.identities.len() <= page_size);
            seen.extend(page.identities.iter().map(|i| i.id));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(pages, total.div_ceil(page_size));
        assert_eq!(seen.len(), total, "no row skipped or seen twice");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered by id");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), created);
    }
    // The default page size is 250.
    let page = k
        .identities()
        .list(ListIdentitiesParams::default())
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 250);
}

pub async fn identity_filters(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let org = Uuid::new_v4();
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut b = body(&format!(
            "filter{i}-{}@example.com",
            Uuid::new_v4().simple()
        ));
        if i % 2 == 0 {
            b.organization_id = Some(org);
        }
        if i == 5 {
            b.traits = json!({"email": format!("zed-{}@example.com", Uuid::new_v4().simple()), "username": "Zed.Special"});
        }
        ids.push(k.identities().create(b).await.unwrap());
    }
    let list = |p: ListIdentitiesParams| async { k.identities().list(p).await.unwrap().identities };

    let by_ids = list(ListIdentitiesParams {
        ids: vec![ids[1].id, ids[3].id],
        ..Default::default()
    })
    .await;
    assert_eq!(
        by_ids.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[1].id, ids[3].id]
    );

    let exact = list(ListIdentitiesParams {
        credentials_identifier: Some("  ZED.special ".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(exact.len(), 1, "exact identifier match is normalised");
    assert_eq!(exact[0].id, ids[5].id);

    let prefix = list(ListIdentitiesParams {
        preview_credentials_identifier_similar: Some("filter".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(prefix.len(), 5);
    let none = list(ListIdentitiesParams {
        preview_credentials_identifier_similar: Some("filter_%".into()),
        ..Default::default()
    })
    .await;
    assert!(none.is_empty(), "LIKE wildcards in a prefix are literal");

    let in_org = list(ListIdentitiesParams {
        organization_id: Some(org),
        ..Default::default()
    })
    .await;
    assert_eq!(in_org.len(), 3);
    assert!(in_org.iter().all(|i| i.organization_id == Some(org)));

    let creds = list(ListIdentitiesParams {
        ids: vec![ids[0].id],
        include_credential: vec![CredentialType::Password],
        ..Default::default()
    })
    .await;
    assert!(creds[0].credentials.contains_key(&CredentialType::Password));
    assert!(!creds[0].credentials.contains_key(&CredentialType::Code));
}

pub async fn identity_patch(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let mail = email();
    let id = k.identities().create(body(&mail)).await.unwrap().id;
    let new_mail = email();
    let patched = k
        .identities()
        .patch(
            id,
            &json!([
                {"op": "replace", "path": "/traits/email", "value": new_mail},
                {"op": "add", "path": "/metadata_public", "value": {"tier": 2}},
                {"op": "replace", "path": "/state", "value": "inactive"}
            ]),
        )
        .await
        .expect("patch");
    assert_eq!(patched.traits["email"], json!(new_mail));
    assert_eq!(patched.metadata_public, Some(json!({"tier": 2})));
    assert_eq!(patched.state, IdentityState::Inactive);
    assert_eq!(patched.verifiable_addresses[0].value, new_mail);
    let with = k.identities().get_with_credentials(id, &[]).await.unwrap();
    assert_eq!(
        with.credential(CredentialType::Password)
            .unwrap()
            .identifiers,
        vec![new_mail.clone()]
    );
    // The old identifier is released.
    k.identities()
        .create(body(&mail))
        .await
        .expect("old identifier is free");

    // Marking the address verified through a patch.
    let verified = k
        .identities()
        .patch(
            id,
            &json!([{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true}]),
        )
        .await
        .unwrap();
    assert!(verified.verifiable_addresses[0].verified);
    assert!(verified.verifiable_addresses[0].verified_at.is_some());
    assert_eq!(k.identities().get(id).await.unwrap(), verified);

    for path in [
        "/id",
        "/credentials",
        "/credentials/password",
        "/state_changed_at",
        "/stateChangedAt",
    ] {
        let err = k
            .identities()
            .patch(id, &json!([{"op": "replace", "path": path, "value": "x"}]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, IdentityError::PatchDenied(_)),
            "{path}: {err}"
        );
        assert_eq!(err.status(), 400);
    }
    let err = k
        .identities()
        .patch(id, &json!({"op": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("patch"));
    let err = k
        .identities()
        .patch(id, &json!([{"op": "remove", "path": "/traits/email"}]))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::InvalidTraits(_)), "{err}");
    let err = k
        .identities()
        .patch(
            id,
            &json!([{"op": "replace", "path": "/traits/nope/deep", "value": 1}]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("patch"));
    assert_eq!(
        k.identities().get(id).await.unwrap(),
        verified,
        "failed patches write nothing"
    );
}

pub async fn identity_update(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let a = k.identities().create(body(&email())).await.unwrap();
    let b_mail = email();
    let b = k.identities().create(body(&b_mail)).await.unwrap();
    let updated = k
        .identities()
        .update(
            a.id,
            UpdateIdentityBody {
                traits: json!({"email": email(), "name": "New"}),
                state: Some(IdentityState::Inactive),
                metadata_admin: Some(json!({"x": 1})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.traits["name"], "New");
    assert_eq!(updated.state, IdentityState::Inactive);
    assert!(updated.state_changed_at >= a.state_changed_at);
    assert_eq!(k.identities().get(a.id).await.unwrap(), updated);

    // Taking another identity's identifier is a conflict, and changes nothing.
    let err = k
        .identities()
        .update(
            a.id,
            UpdateIdentityBody {
                traits: json!({"email": b_mail}),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Conflict(_)), "{err}");
    assert_eq!(err.status(), 409);
    assert_eq!(k.identities().get(a.id).await.unwrap(), updated);
    assert_eq!(k.identities().get(b.id).await.unwrap(), b);

    // Switching schema.
    let switched = k
        .identities()
        .update(
            a.id,
            UpdateIdentityBody {
                schema_id: "other".into(),
                traits: json!({"nick": "Ace"}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(switched.schema_id, "other");
    assert!(switched.verifiable_addresses.is_empty());
    let found = k
        .store()
        .find_identity_by_identifier(k.nid(), CredentialType::Password, "ace")
        .await
        .unwrap();
    assert_eq!(found.id, a.id);
    assert!(matches!(
        k.identities()
            .update(Uuid::now_v7(), UpdateIdentityBody::default())
            .await,
        Err(IdentityError::NotFound)
    ));
}

pub async fn identity_import_hashes_and_plaintext(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let bcrypt = kratos_hash::Hasher::new(kratos_hash::HashAlgorithm::Bcrypt { cost: 4 })
        .unwrap()
        .hash(b"imported-secret")
        .unwrap();
    let import = |hash: &str| CreateIdentityBody {
        credentials: Some(ImportCredentials {
            password: Some(ImportPassword {
                config: ImportPasswordConfig {
                    hashed_password: Some(hash.to_owned()),
                    ..Default::default()
                },
            }),
            ..Default::default()
        }),
        verifiable_addresses: None,
        ..body(&email())
    };
    let i = k
        .identities()
        .create(import(&bcrypt))
        .await
        .expect("bcrypt import");
    let stored = k
        .identities()
        .get_with_credentials(i.id, &[CredentialType::Password])
        .await
        .unwrap();
    let hash = stored
        .credential(CredentialType::Password)
        .unwrap()
        .hashed_password()
        .unwrap();
    assert_eq!(hash, bcrypt, "imported hashes are stored as given");
    assert!(kratos_hash::verify(b"imported-secret", hash).unwrap());

    // Malformed and out-of-bounds hashes are refused and nothing is written.
    let before = count(&k).await;
    for bad in [
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$2a$31$abcdefghijklmnopqrstuu",
        "plain-text",
        "$pbkdf2-sha256$i=100000000,l=32$c2FsdA$aGFzaA",
    ] {
        let err = k.identities().create(import(bad)).await.unwrap_err();
        assert_eq!(
            err.field().as_deref(),
            Some("credentials.password.config.hashed_password"),
            "{bad}"
        );
        assert!(!err.to_string().contains(bad), "errors do not echo hashes");
    }
    assert_eq!(count(&k).await, before);

    // OIDC links become identifiers; imported verified addresses keep their state.
    let mail = email();
    let oidc = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                oidc: Some(ImportProviders {
                    config: ImportProvidersConfig {
                        providers: vec![ImportProvider {
                            provider: "github".into(),
                            subject: "12345".into(),
                            ..Default::default()
                        }],
                    },
                }),
                ..Default::default()
            }),
            verifiable_addresses: Some(vec![AddressImport {
                value: mail.to_uppercase(),
                verified: true,
                ..Default::default()
            }]),
            ..body(&mail)
        })
        .await
        .unwrap();
    assert!(oidc.verifiable_addresses[0].verified);
    let found = k
        .store()
        .find_identity_by_identifier(k.nid(), CredentialType::Oidc, "github:12345")
        .await
        .unwrap();
    assert_eq!(found.id, oidc.id);
    let stored: Value = found.credentials[&CredentialType::Oidc].config.clone();
    assert_eq!(stored["providers"][0]["subject"], "12345");
}

pub async fn identity_concurrent_duplicates_one_wins(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let mail = email();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let k = k.clone();
            let b = body(&mail);
            tokio::spawn(async move { k.identities().create(b).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(IdentityError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one concurrent create wins");
    assert_eq!(count(&k).await, 1);
}

pub async fn identity_tenant_isolation(store: Arc<dyn Persister>) {
    let a = kratos(store);
    let b = a.tenant(Uuid::new_v4());
    let mail = email();
    let in_a = a.identities().create(body(&mail)).await.unwrap();
    let in_b = b
        .identities()
        .create(body(&mail))
        .await
        .expect("same identifier in another tenant");
    assert!(matches!(
        b.identities().get(in_a.id).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        b.identities().delete(in_a.id).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        b.identities()
            .update(
                in_a.id,
                UpdateIdentityBody {
                    traits: json!({"email": email()}),
                    ..Default::default()
                }
            )
            .await,
        Err(IdentityError::NotFound)
    ));
    let listed = b
        .identities()
        .list(ListIdentitiesParams::default())
        .await
        .unwrap();
    assert_eq!(
        listed.identities.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![in_b.id]
    );
    let found = b
        .store()
        .find_identity_by_identifier(b.nid(), CredentialType::Password, &mail)
        .await
        .unwrap();
    assert_eq!(found.id, in_b.id);
    assert!(a.identities().get(in_a.id).await.is_ok());
}

pub async fn identity_batch_create_reports_per_item(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let taken = email();
    k.identities().create(body(&taken)).await.unwrap();
    let dup_in_batch = email();
    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let patches = vec![
        IdentityPatch {
            patch_id: Some(ids[0]),
            create: Some(body(&email())),
        },
        IdentityPatch {
            patch_id: Some(ids[1]),
            create: Some(body(&taken)),
        },
        IdentityPatch {
            patch_id: Some(ids[2]),
            create: Some(CreateIdentityBody {
                traits: json!({"email": 5}),
                ..Default::default()
            }),
        },
        IdentityPatch {
            patch_id: Some(ids[3]),
            create: Some(body(&dup_in_batch)),
        },
        IdentityPatch {
            patch_id: Some(ids[4]),
            create: Some(body(&dup_in_batch)),
        },
        IdentityPatch {
            patch_id: Some(ids[5]),
            create: Some(CreateIdentityBody {
                schema_id: "missing".into(),
                ..body(&email())
            }),
        },
    ];
    let results = k.identities().batch_create(patches).await.unwrap();
    let actions: Vec<_> = results.iter().map(|r| r.action).collect();
    use PatchAction::*;
    assert_eq!(actions, vec![Create, Error, Error, Create, Error, Error]);
    assert_eq!(
        results
            .iter()
            .map(|r| r.patch_id.unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(results[1].error.as_ref().unwrap().code, 409);
    assert_eq!(results[2].error.as_ref().unwrap().code, 400);
    assert_eq!(results[4].error.as_ref().unwrap().code, 409);
    assert_eq!(
        count(&k).await,
        3,
        "valid items are committed, failed ones are not"
    );
    for r in results.iter().filter(|r| r.action == Create) {
        k.identities().get(r.identity.unwrap()).await.unwrap();
    }
    let too_many = (0..1001).map(|_| IdentityPatch::default()).collect();
    let err = k.identities().batch_create(too_many).await.unwrap_err();
    assert_eq!(err.field().as_deref(), Some("identities"));
}

pub async fn identity_delete_credential(store: Arc<dyn Persister>) {
    let k = kratos(store);
    // The "other" schema has no code identifier, so only password and oidc are first factors.
    let nick_body = || CreateIdentityBody {
        schema_id: "other".into(),
        traits: json!({"nick": format!("nick-{}", Uuid::new_v4().simple())}),
        ..Default::default()
    };
    let password = || ImportPassword {
        config: ImportPasswordConfig {
            password: Some("a long enough password".into()),
            ..Default::default()
        },
    };
    let only_password = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                password: Some(password()),
                ..Default::default()
            }),
            ..nick_body()
        })
        .await
        .unwrap();
    let err = k
        .identities()
        .delete_credential(only_password.id, CredentialType::Password, None)
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::LastFirstFactor), "{err}");
    let still = k
        .identities()
        .get_with_credentials(only_password.id, &[])
        .await
        .unwrap();
    assert!(
        still
            .credential(CredentialType::Password)
            .unwrap()
            .hashed_password()
            .is_some()
    );

    let both = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                password: Some(password()),
                oidc: Some(ImportProviders {
                    config: ImportProvidersConfig {
                        providers: vec![ImportProvider {
                            provider: "google".into(),
                            subject: "s1".into(),
                            ..Default::default()
                        }],
                    },
                }),
                ..Default::default()
            }),
            ..nick_body()
        })
        .await
        .unwrap();
    let err = k
        .identities()
        .delete_credential(both.id, CredentialType::Oidc, None)
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("identifier"));
    k.identities()
        .delete_credential(both.id, CredentialType::Password, None)
        .await
        .expect("password can go while an oidc link remains");
    let err = k
        .identities()
        .delete_credential(both.id, CredentialType::Oidc, Some("google:s1"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::LastFirstFactor));
    let after = k
        .identities()
        .get_with_credentials(both.id, &[])
        .await
        .unwrap();
    assert!(after.credential(CredentialType::Password).is_none());
    assert!(after.credential(CredentialType::Oidc).is_some());
    assert!(matches!(
        k.identities()
            .delete_credential(both.id, CredentialType::Totp, None)
            .await,
        Err(IdentityError::NoSuchCredential(_))
    ));
}

pub async fn identity_bad_input_writes_nothing(store: Arc<dyn Persister>) {
    let k = kratos(store);
    let err = k
        .identities()
        .create(CreateIdentityBody {
            schema_id: "nope".into(),
            ..body(&email())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::UnknownSchema(_)));
    assert_eq!(err.field().as_deref(), Some("schema_id"));
    let err = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": "not an email"}),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("#/traits/email"));
    assert_eq!(err.to_body().error.code, 400);
    let err = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email(), "unknown": true}),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::InvalidTraits(_)));
    for size in [0, 1001] {
        let err = k
            .identities()
            .list(ListIdentitiesParams {
                page_size: Some(size),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("page_size"));
    }
    let err = k
        .identities()
        .list(ListIdentitiesParams {
            page_token: Some("garbage!".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("page_token"));
    let err = k
        .identities()
        .list(ListIdentitiesParams {
            ids: (0..501).map(|_| Uuid::new_v4()).collect(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("ids"));
    assert_eq!(count(&k).await, 0, "nothing was written");
}

pub async fn identity_password_hash_upgrades_after_verification(store: Arc<dyn Persister>) {
    let k = kratos(store);
    // An imported argon2id hash (other algorithm than the configured bcrypt).
    let argon = kratos_hash::Hasher::new(kratos_hash::HashAlgorithm::Argon2id(
        kratos_hash::Argon2Params {
            memory_kib: 64,
            iterations: 1,
            ..Default::default()
        },
    ))
    .unwrap()
    .hash(b"migrate me please")
    .unwrap();
    let id = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        hashed_password: Some(argon.clone()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..body(&email())
        })
        .await
        .unwrap()
        .id;
    let stored = |k: Kratos| async move {
        k.identities()
            .get_with_credentials(id, &[CredentialType::Password])
            .await
            .unwrap()
            .credential(CredentialType::Password)
            .unwrap()
            .hashed_password()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        k.identities()
            .verify_password(id, "wrong password")
            .await
            .unwrap(),
        PasswordVerification::Invalid
    );
    assert_eq!(
        stored(k.clone()).await,
        argon,
        "a failed verification changes nothing"
    );
    assert_eq!(
        k.identities()
            .verify_password(id, "migrate me please")
            .await
            .unwrap(),
        PasswordVerification::Valid { upgraded: true }
    );
    let upgraded = stored(k.clone()).await;
    assert!(
        upgraded.starts_with("$2"),
        "re-hashed with the configured bcrypt"
    );
    assert!(kratos_hash::verify(b"migrate me please", &upgraded).unwrap());
    assert_eq!(
        k.identities()
            .verify_password(id, "migrate me please")
            .await
            .unwrap(),
        PasswordVerification::Valid { upgraded: false }
    );
    let no_pw = k.identities().create(body(&email())).await.unwrap().id;
    assert_eq!(
        k.identities()
            .verify_password(no_pw, "anything")
            .await
            .unwrap(),
        PasswordVerification::NoPassword
    );
}
