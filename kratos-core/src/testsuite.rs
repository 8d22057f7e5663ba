//! The conformance suite every storage backend must pass.
//!
//! Each function takes a fresh handle to a backend and works in a tenant of its own (a new
//! network id), so the functions can run in parallel on one database. A backend stamps the
//! suite out as tests with [`store_conformance!`](crate::store_conformance):
//!
//! ```ignore
//! async fn store() -> Option<std::sync::Arc<dyn kratos_core::store::Persister>> {
//!     Some(std::sync::Arc::new(kratos_core::store::MemoryStore::new()))
//! }
//! kratos_core::store_conformance!(store);
//! ```
//!
//! A factory returns `None` to skip (for example when no database URL is configured outside
//! CI); it should print why.
//!
//! This module exists for implementers of custom stores; it is not a stable part of the API.

#![allow(missing_docs)]

mod cleanup;
mod code_limits;
mod completion;
mod courier;
mod login_reads;
mod mfa;
mod passwordless_code;
mod second_factor;
mod smtp_sink;
mod verification_hooks;
pub use cleanup::*;
pub use code_limits::*;
pub use completion::*;
pub use courier::*;
pub use login_reads::*;
pub use mfa::*;
pub use passwordless_code::*;
pub use second_factor::*;
pub use smtp_sink::*;
pub use verification_hooks::*;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::Config;
use crate::identity::{
    AddressImport, CreateIdentityBody, CredentialType, IdentityError, IdentityPatch,
    IdentitySchema, IdentityState, ImportCredentials, ImportPassword, ImportPasswordConfig,
    ImportProvider, ImportProviders, ImportProvidersConfig, ListIdentitiesParams,
    PasswordVerification, PatchAction, UpdateIdentityBody,
};
use crate::store::Persister;
use crate::{Kratos, KratosError};

/// Stamps the store conformance suite (identities and sessions) out as `#[tokio::test]`s for a factory
/// `async fn() -> Option<Arc<dyn Persister>>`.
#[macro_export]
macro_rules! store_conformance {
    ($factory:path) => {
        $crate::__stamp_conformance!($factory;
            identity_crud,
            identity_pagination_sees_every_row_once,
            identity_filters,
            identity_patch,
            identity_update,
            identity_import_hashes_and_plaintext,
            identity_concurrent_duplicates_one_wins,
            identity_tenant_isolation,
            identity_batch_create_reports_per_item,
            identity_delete_credential,
            identity_bad_input_writes_nothing,
            identity_password_hash_upgrades_after_verification,
            session_issue_and_whoami,
            session_revoke_and_logout,
            session_expiry_extend_and_sliding,
            session_inactive_identity_and_deletion,
            session_aal_highest_available,
            session_list_and_tenant_isolation,
            session_with_identity_by_token,
            session_with_identity_second_factor,
            flow_register_and_login_with_password,
            flow_browser_csrf_and_return_to,
            flow_expiry_gives_a_fresh_flow,
            flow_session_rules_refresh_and_aal,
            flow_inactive_identity_and_hash_upgrade,
            flow_concurrent_registrations_one_identity,
            flow_login_lockout_grows_and_resets,
            flow_logout_browser_and_api,
            flow_settings_profile_and_password,
            flow_settings_browser_csrf_and_return_to,
            flow_login_requires_verified_address,
            flow_concurrent_logins,
            courier_queue_send_and_list,
            courier_claim_once_under_concurrency,
            courier_retry_backoff_and_abandon,
            courier_worker_restart_reclaims_stale_claims,
            code_issue_use_expire_and_replace,
            code_concurrent_use_exactly_one_wins,
            flow_verification_code,
            flow_verification_link,
            flow_recovery_code,
            flow_recovery_link_and_admin,
            flow_registration_sends_verification,
            flow_registration_without_verification_sends_nothing,
            flow_settings_new_address_is_verified_again,
            flow_disabled_verification_and_recovery,
            flow_registration_by_code,
            flow_login_by_code,
            flow_login_by_code_unknown_address_and_limits,
            completion_login_writes_session_flow_and_reset,
            completion_registration_writes_identity_session_and_flow,
            completion_is_all_or_nothing,
            login_reads_answer_flow_lockout_and_identity_apart,
            cleanup_expired_flows,
            cleanup_expired_and_inactive_sessions,
            cleanup_spent_codes_and_submission_counters,
            cleanup_stale_login_failures,
            cleanup_finished_courier_messages,
            cleanup_sent_message_loses_its_template_data,
            cleanup_stale_send_counters,
            cleanup_run_loops_until_done_and_run_once_takes_one_batch,
            code_send_counters_count_atomically_per_window_and_tenant,
            code_send_limits_per_flow_and_per_address,
            code_send_limits_cover_recovery_login_and_registration,
            login_attempts_lock_from_the_limit_and_a_success_forgives,
            login_attempts_refused_by_an_earlier_key_leave_the_later_ones_uncounted,
            flow_login_burst_is_locked_before_the_hash,
            flow_login_lockout_keys_long_identifiers_by_digest,
            completion_concurrent_login_submissions_one_session,
            completion_concurrent_registration_submissions_one_session,
            hash_gate_bounds_concurrent_hashes,
            flow_hashing_waits_for_the_gate,
            used_secret_first_use_wins_per_identity_and_tenant,
            used_secret_concurrent_uses_one_wins,
            used_secret_cleanup_deletes_expired_uses,
            used_secret_deleting_the_identity_deletes_its_uses,
            completion_using_a_secret_is_all_or_nothing,
            completion_using_a_secret_concurrently_one_wins,
            identity_import_lookup_secret_stores_no_plaintext,
            mfa_totp_set_up_step_up_and_replay,
            mfa_second_factor_rules,
            mfa_totp_unlink_needs_privilege_and_lowers_the_level,
            mfa_lookup_secrets_set_up_reveal_and_use_once,
            mfa_concurrent_use_of_one_backup_code_one_session,
            mfa_second_factor_of_a_method_that_is_off_asks_for_no_step_up,
            mfa_code_as_second_factor,
            mfa_per_method_hooks_run_for_their_method,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __stamp_conformance {
    ($factory:path; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = $factory().await {
                    $crate::testsuite::$name(store).await;
                }
            }
        )*
    };
}

/// Reads `KRATOS_TEST_POSTGRES_URL`; when unset, fails under `CI=true` and returns `None`
/// (after printing that the tests are skipped) otherwise.
pub fn postgres_url_or_skip() -> Option<String> {
    match std::env::var("KRATOS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "CI=true but KRATOS_TEST_POSTGRES_URL is not set: PostgreSQL tests cannot be skipped in CI"
                );
            }
            eprintln!("KRATOS_TEST_POSTGRES_URL is not set: skipping PostgreSQL test");
            None
        }
    }
}

pub fn test_schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "minLength": 3,
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}, "code": {"identifier": true, "via": "email"}},
                        "verification": {"via": "email"},
                        "recovery": {"via": "email"}}},
                "username": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "name": {"type": "string"}
            }, "required": ["email"], "additionalProperties": false}}
        }),
    )
    .expect("test schema loads")
}

/// A registry over `store` in a fresh tenant, with a fast hasher.
pub fn kratos(store: Arc<dyn Persister>) -> Kratos {
    kratos_with(store, "", Arc::new(crate::SystemClock))
}

/// Like [`kratos`], with extra YAML configuration appended and a clock.
pub fn kratos_with(
    store: Arc<dyn Persister>,
    extra_yaml: &str,
    clock: Arc<dyn crate::Clock>,
) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{extra_yaml}"
    ))
    .expect("config");
    Kratos::builder(config)
        .clock(clock)
        .store(store)
        .schema(test_schema())
        .schema(
            IdentitySchema::from_value(
                "other",
                json!({"properties": {"traits": {"type": "object", "properties": {
                    "nick": {"type": "string",
                        "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}}}),
            )
            .expect("other schema"),
        )
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4())
}

fn email() -> String {
    format!("user-{}@example.com", Uuid::new_v4().simple())
}

fn body(email: &str) -> CreateIdentityBody {
    CreateIdentityBody {
        traits: json!({ "email": email }),
        ..Default::default()
    }
}

async fn count(k: &Kratos) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = k
            .identities()
            .list(ListIdentitiesParams {
                page_size: Some(1000),
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list");
        n += page.identities.len();
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return n,
        }
    }
}

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

use crate::Clock as _;
use crate::session::{Aal, AuthenticationMethod, ClientInfo, SessionError, token_digest};

fn password_method(k: &Kratos) -> Vec<AuthenticationMethod> {
    vec![AuthenticationMethod {
        method: "password".into(),
        aal: Aal::Aal1,
        completed_at: k.clock().now(),
        provider: None,
    }]
}

fn client() -> ClientInfo {
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
async fn expected_whoami_identity(k: &Kratos, id: Uuid) -> (crate::identity::Identity, Aal) {
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
            metadata_public: Some(json!({"plan": "pro"})),
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
    assert_eq!(found.identity.metadata_public, Some(json!({"plan": "pro"})));
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

use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{ContinueWith, FlowContext, FlowError, FlowState, FlowType};

pub(crate) const SESSION_HOOK: &str = "selfservice:\n  allowed_return_urls: [\"https://app.example.com/welcome\"]\n  default_browser_return_url: https://app.example.com/\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n";

/// A registry for the flow tests: [`kratos`] with the `session` hook after a password
/// registration and the return URLs the browser-flow tests use.
pub fn flow_kratos(store: Arc<dyn Persister>) -> Kratos {
    kratos_with(store, SESSION_HOOK, Arc::new(crate::SystemClock))
}

pub(crate) fn messages(ui: &crate::flow::ui::UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// Registers `mail` with `password` through an api registration flow.
pub async fn register(k: &Kratos, mail: &str, password: &str) -> RegistrationSubmission {
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    k.registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": password}),
            &ctx,
        )
        .await
        .unwrap()
}

async fn login(k: &Kratos, identifier: &str, password: &str) -> LoginSubmission {
    try_login(k, identifier, password).await.unwrap()
}

/// Signs in with `identifier` and `password` through a new api login flow, and answers what
/// the submission answers.
pub async fn try_login(
    k: &Kratos,
    identifier: &str,
    password: &str,
) -> Result<LoginSubmission, FlowError> {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    k.login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": identifier, "password": password}),
            &ctx,
        )
        .await
}

pub async fn flow_register_and_login_with_password(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::ChooseMethod);
    assert!(
        flow.ui.node("csrf_token").is_none(),
        "api flows carry no CSRF token"
    );
    assert!(flow.ui.node("traits.email").is_some() && flow.ui.node("password").is_some());
    assert!(
        flow.ui
            .action
            .ends_with(&format!("/self-service/registration?flow={}", flow.id))
    );
    let again = k.registration().get(flow.id, &ctx).await.unwrap();
    assert_eq!(again, flow, "flows are persisted and fetched by id");

    let mail = email();
    let short = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": "short"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Retry(retry) = short else {
        panic!("short password accepted")
    };
    assert_eq!(messages(&retry.ui), vec![4000032]);
    assert_eq!(
        retry.ui.node("password").unwrap().messages[0].context,
        Some(json!({"min_length": 8, "actual_length": 5}))
    );
    let missing = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {}, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Retry(retry) = missing else {
        panic!("missing email accepted")
    };
    assert_eq!(
        retry.ui.node("traits.email").unwrap().messages[0].id,
        4000002
    );

    let done = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Completed(done) = done else {
        panic!("registration failed")
    };
    assert_eq!(done.flow.state, FlowState::PassedChallenge);
    let token = done
        .session_token
        .expect("the session hook issues a session");
    assert!(
        matches!(&done.continue_with[0], ContinueWith::SetOrySessionToken { ory_session_token } if ory_session_token == token.expose())
    );
    assert_eq!(
        k.sessions()
            .whoami(token.expose())
            .await
            .unwrap()
            .identity
            .unwrap()
            .id,
        done.identity.id
    );
    assert!(matches!(
        k.registration()
            .submit(flow.id, &json!({"method": "password"}), &ctx)
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    let RegistrationSubmission::Retry(dup) =
        register(&k, &mail.to_uppercase(), "another long pw").await
    else {
        panic!("duplicate registration accepted")
    };
    assert_eq!(messages(&dup.ui), vec![4000007]);

    let LoginSubmission::Retry(wrong) = login(&k, &mail, "wrong password!").await else {
        panic!("wrong password accepted")
    };
    assert_eq!(messages(&wrong.ui), vec![4000006]);
    let LoginSubmission::Retry(unknown) = login(&k, "nobody@example.com", "long enough pw").await
    else {
        panic!()
    };
    assert_eq!(
        messages(&unknown.ui),
        vec![4000006],
        "unknown accounts answer like wrong passwords"
    );
    let LoginSubmission::Retry(empty) = login(&k, "", "").await else {
        panic!()
    };
    assert_eq!(messages(&empty.ui), vec![4000002, 4000002]);
    let LoginSubmission::Completed(ok) = login(
        &k,
        &format!("  {}  ", mail.to_uppercase()),
        "long enough pw",
    )
    .await
    else {
        panic!("login failed")
    };
    let who = k
        .sessions()
        .whoami(ok.session_token.as_ref().unwrap().expose())
        .await
        .unwrap();
    assert_eq!(who.identity.unwrap().id, done.identity.id);
    assert_eq!(who.authentication_methods[0].method, "password");
    let json = serde_json::to_value(&ok.flow).unwrap();
    for key in [
        "id",
        "type",
        "expires_at",
        "issued_at",
        "request_url",
        "ui",
        "state",
        "refresh",
        "requested_aal",
    ] {
        assert!(json.get(key).is_some(), "login flow JSON has {key}");
    }
    assert_eq!(json["ui"]["nodes"][0]["attributes"]["node_type"], "input");
}

pub async fn flow_browser_csrf_and_return_to(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    assert!(matches!(
        register(&k, &mail, "long enough pw").await,
        RegistrationSubmission::Completed(_)
    ));
    let ctx = FlowContext { request_url: Some("https://auth.example.com/self-service/login/browser?return_to=https://app.example.com/welcome/back".into()), ..Default::default() };
    let flow = k
        .login()
        .create(FlowType::Browser, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        flow.return_to.as_deref(),
        Some("https://app.example.com/welcome/back")
    );
    let csrf = flow
        .ui
        .node("csrf_token")
        .expect("browser flows carry a CSRF node");
    let crate::flow::ui::NodeAttributes::Input(attrs) = &csrf.attributes else {
        panic!()
    };
    let token = attrs.value.clone().unwrap();
    let body = |csrf: Value| json!({"method": "password", "identifier": mail, "password": "long enough pw", "csrf_token": csrf});
    for bad in [Value::Null, json!("forged"), json!("")] {
        let err = k
            .login()
            .submit(flow.id, &body(bad), &ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, FlowError::CsrfViolation));
        assert_eq!((err.id(), err.status()), ("security_csrf_violation", 403));
    }
    let LoginSubmission::Completed(ok) =
        k.login().submit(flow.id, &body(token), &ctx).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ok.continue_with,
        vec![ContinueWith::RedirectBrowserTo {
            redirect_browser_to: "https://app.example.com/welcome/back".into()
        }]
    );
    for forbidden in [
        "https://evil.example.net/",
        "http://app.example.com/welcome",
        "https://app.example.com.evil.com/",
        "//evil.com/welcome",
    ] {
        let ctx = FlowContext {
            request_url: Some(format!(
                "https://auth.example.com/self-service/login/browser?return_to={forbidden}"
            )),
            ..Default::default()
        };
        let err = k
            .login()
            .create(FlowType::Browser, &ctx, LoginOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.id(),
            "self_service_flow_return_to_forbidden",
            "{forbidden}"
        );
        let err = k
            .registration()
            .create(FlowType::Browser, &ctx)
            .await
            .unwrap_err();
        assert_eq!(err.id(), "self_service_flow_return_to_forbidden");
    }
    let plain = k
        .login()
        .create(
            FlowType::Browser,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        k.login().get(Uuid::now_v7(), &FlowContext::default()).await,
        Err(FlowError::NotFound)
    ));
    assert!(
        matches!(
            k.registration()
                .get(plain.id, &FlowContext::default())
                .await,
            Err(FlowError::NotFound)
        ),
        "a login flow is not a registration flow"
    );
}

pub async fn flow_expiry_gives_a_fresh_flow(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let k = kratos_with(store, SESSION_HOOK, Arc::new(clock.clone()));
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        flow.expires_at - flow.issued_at,
        chrono::Duration::hours(1),
        "lifespan 1h"
    );
    clock.advance(chrono::Duration::minutes(61));
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": "a", "password": "b"}),
            &ctx,
        )
        .await
        .unwrap_err();
    let FlowError::Expired { use_flow_id, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((err.id(), err.status()), ("self_service_flow_expired", 410));
    assert_eq!(
        err.to_body().error.details["use_flow_id"],
        json!(use_flow_id)
    );
    k.login()
        .get(*use_flow_id, &ctx)
        .await
        .expect("the fresh flow is usable");
    assert!(matches!(
        k.login().get(flow.id, &ctx).await,
        Err(FlowError::Expired { .. })
    ));
    let reg = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    clock.advance(chrono::Duration::hours(2));
    assert!(matches!(
        k.registration()
            .submit(reg.id, &json!({"method": "password"}), &ctx)
            .await,
        Err(FlowError::Expired { .. })
    ));
}

pub async fn flow_session_rules_refresh_and_aal(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let RegistrationSubmission::Completed(reg) = register(&k, &mail, "long enough pw").await else {
        panic!()
    };
    let token = reg.session_token.unwrap();
    let with_session = FlowContext {
        session_token: Some(token.expose().to_owned()),
        ..Default::default()
    };
    let err = k
        .login()
        .create(FlowType::Api, &with_session, LoginOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.id(), "session_already_available");
    assert_eq!(
        k.registration()
            .create(FlowType::Api, &with_session)
            .await
            .unwrap_err()
            .id(),
        "session_already_available"
    );
    let err = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.id(), "session_aal1_required");
    // aal2 with an aal1 session is a step-up flow.
    let step_up = k
        .login()
        .create(
            FlowType::Api,
            &with_session,
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(step_up.requested_aal, Aal::Aal2);

    let refresh = k
        .login()
        .create(
            FlowType::Api,
            &with_session,
            LoginOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(refresh.refresh);
    assert_eq!(refresh.ui.messages[0].id, 1010003);
    let LoginSubmission::Completed(ok) = k
        .login()
        .submit(
            refresh.id,
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &with_session,
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ok.session.id,
        reg.session.unwrap().id,
        "refresh re-authenticates the same session"
    );
    assert_eq!(ok.session.authentication_methods.len(), 2);
}

pub async fn flow_inactive_identity_and_hash_upgrade(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let argon = kratos_hash::Hasher::new(kratos_hash::HashAlgorithm::Argon2id(
        kratos_hash::Argon2Params {
            memory_kib: 64,
            iterations: 1,
            ..Default::default()
        },
    ))
    .unwrap()
    .hash(b"imported password")
    .unwrap();
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        hashed_password: Some(argon),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..body(&mail)
        })
        .await
        .unwrap();
    let LoginSubmission::Completed(_) = login(&k, &mail, "imported password").await else {
        panic!("import login")
    };
    let stored = k
        .identities()
        .get_with_credentials(identity.id, &[CredentialType::Password])
        .await
        .unwrap();
    assert!(
        stored
            .credential(CredentialType::Password)
            .unwrap()
            .hashed_password()
            .unwrap()
            .starts_with("$2"),
        "the imported hash is upgraded to the configured algorithm at login"
    );
    k.identities()
        .patch(
            identity.id,
            &json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await
        .unwrap();
    let LoginSubmission::Retry(wrong) = login(&k, &mail, "not the password").await else {
        panic!()
    };
    assert_eq!(
        messages(&wrong.ui),
        vec![4000006],
        "a wrong password reveals nothing about the state"
    );
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "imported password"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(err.id(), "identity_disabled");
}

pub async fn flow_concurrent_registrations_one_identity(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let k = k.clone();
            let mail = mail.clone();
            tokio::spawn(async move { register(&k, &mail, "long enough pw").await })
        })
        .collect();
    let mut completed = 0;
    for t in tasks {
        match t.await.unwrap() {
            RegistrationSubmission::Completed(_) => completed += 1,
            RegistrationSubmission::Retry(f) => assert_eq!(messages(&f.ui), vec![4000007]),
        }
    }
    assert_eq!(completed, 1, "exactly one identity");
    let page = k
        .identities()
        .list(ListIdentitiesParams {
            credentials_identifier: Some(mail),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 1);
}

pub async fn flow_login_lockout_grows_and_resets(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 3\n    max_failures_per_address: 6\n    base_duration: 1m\n    max_duration: 10m\n"
    );
    let k = kratos_with(store.clone(), &config, Arc::new(clock.clone()));
    // A second app instance on the same store sees the same counters.
    let other_instance = kratos_with(store, &config, Arc::new(clock.clone())).tenant(k.nid());
    let mail = email();
    assert!(matches!(
        register(&k, &mail, "long enough pw").await,
        RegistrationSubmission::Completed(_)
    ));
    let attempt = |k: Kratos, identifier: String, password: &'static str, ip: &'static str| async move {
        let ctx = FlowContext {
            client: ClientInfo {
                ip_address: Some(ip.into()),
                user_agent: None,
            },
            ..Default::default()
        };
        let flow = k
            .login()
            .create(FlowType::Api, &ctx, LoginOptions::default())
            .await
            .unwrap();
        k.login()
            .submit(
                flow.id,
                &json!({"method": "password", "identifier": identifier, "password": password}),
                &ctx,
            )
            .await
    };
    for _ in 0..2 {
        assert!(matches!(
            attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.1").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    // The third failure, through the other instance, locks the identifier.
    assert!(matches!(
        attempt(
            other_instance.clone(),
            mail.clone(),
            "wrong password",
            "198.51.100.1"
        )
        .await,
        Ok(LoginSubmission::Retry(_))
    ));
    let err = attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1")
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("self_service_login_locked", 429));
    let FlowError::LoginLocked { until } = err else {
        panic!()
    };
    assert_eq!(
        until,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::minutes(1)
    );
    clock.advance(chrono::Duration::seconds(61));
    // The next failure doubles the lock.
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.1").await,
        Ok(LoginSubmission::Retry(_))
    ));
    let FlowError::LoginLocked { until } =
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1")
            .await
            .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        until,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::minutes(2)
    );
    clock.advance(chrono::Duration::minutes(3));
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1").await,
        Ok(LoginSubmission::Completed(_))
    ));
    // Success reset the identifier: two failures do not lock it again.
    for _ in 0..2 {
        assert!(matches!(
            attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.2").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.2").await,
        Ok(LoginSubmission::Completed(_))
    ));
    // Many identifiers from one address lock the address, not the others.
    for i in 0..6 {
        let _ = attempt(
            k.clone(),
            format!("nobody{i}@example.com"),
            "wrong password",
            "198.51.100.9",
        )
        .await
        .unwrap();
    }
    let err = attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.9")
        .await
        .unwrap_err();
    assert_eq!(err.id(), "self_service_login_locked");
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.3").await,
        Ok(LoginSubmission::Completed(_))
    ));
}

async fn registered_token(k: &Kratos, mail: &str) -> String {
    match register(k, mail, "long enough pw").await {
        RegistrationSubmission::Completed(ok) => ok.session_token.unwrap().expose().to_owned(),
        RegistrationSubmission::Retry(f) => panic!("registration failed: {:?}", messages(&f.ui)),
    }
}

pub async fn flow_logout_browser_and_api(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let token = registered_token(&k, &email()).await;

    // No session: 401.
    let err = k
        .logout()
        .create_browser(&FlowContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_inactive", 401));
    let err = k
        .logout()
        .create_browser(&FlowContext {
            session_token: Some("ory_st_unknown".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::NoActiveSession));

    // The logout URL carries the token and the checked return_to; it is stable.
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        request_url: Some(
            "https://auth.example.com/self-service/logout/browser?return_to=https://app.example.com/welcome/bye"
                .into(),
        ),
        ..Default::default()
    };
    let flow = k.logout().create_browser(&ctx).await.unwrap();
    assert!(flow.logout_token.starts_with("ory_lo_"));
    assert_ne!(flow.logout_token, token);
    let url = url::Url::parse(&flow.logout_url).unwrap();
    assert_eq!(url.path(), "/self-service/logout");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["token"], flow.logout_token);
    assert_eq!(q["return_to"], "https://app.example.com/welcome/bye");
    assert_eq!(k.logout().create_browser(&ctx).await.unwrap(), flow);
    assert!(!format!("{flow:?}").contains(&flow.logout_token[7..]));
    let forbidden = FlowContext {
        request_url: Some("https://auth.example.com/x?return_to=https://evil.com/".into()),
        ..ctx.clone()
    };
    assert!(matches!(
        k.logout().create_browser(&forbidden).await.unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));

    // Completing it: a forbidden return_to revokes nothing; a wrong token is 403.
    assert!(matches!(
        k.logout()
            .submit_browser(&flow.logout_token, Some("https://evil.com/"))
            .await
            .unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));
    k.sessions().whoami(&token).await.unwrap();
    let err = k
        .logout()
        .submit_browser("ory_lo_forged", None)
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("forbidden", 403));
    k.sessions().whoami(&token).await.unwrap();
    let to = k
        .logout()
        .submit_browser(&flow.logout_token, Some(&q["return_to"]))
        .await
        .unwrap();
    assert_eq!(to, "https://app.example.com/welcome/bye");
    assert!(k.sessions().whoami(&token).await.is_err());
    assert!(matches!(
        k.logout()
            .submit_browser(&flow.logout_token, None)
            .await
            .unwrap_err(),
        FlowError::LogoutTokenInvalid
    ));

    // Without return_to the browser goes to the default return URL.
    let token = registered_token(&k, &email()).await;
    let lo = crate::session::LogoutToken::derive(&crate::session::SessionToken::from_string(
        token.as_str(),
    ));
    assert_eq!(
        k.logout().submit_browser(lo.expose(), None).await.unwrap(),
        "https://app.example.com/"
    );

    // Api logout: idempotent for a revoked session, 403 for an unknown token.
    let token = registered_token(&k, &email()).await;
    k.logout().api(&token).await.unwrap();
    assert!(k.sessions().whoami(&token).await.is_err());
    k.logout().api(&token).await.unwrap();
    let err = k.logout().api("ory_st_unknown").await.unwrap_err();
    assert_eq!((err.id(), err.status()), ("forbidden", 403));
}

const SETTINGS_YAML: &str = "selfservice:\n  allowed_return_urls: [\"https://app.example.com/welcome\"]\n  default_browser_return_url: https://app.example.com/\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n    settings:\n      after:\n        password:\n          hooks: [{hook: revoke_active_sessions}]\n";

fn settings_messages(flow: &crate::flow::settings::SettingsFlow) -> Vec<u32> {
    messages(&flow.ui)
}

async fn settings_submit(
    k: &Kratos,
    token: &str,
    id: Uuid,
    body: Value,
) -> Result<crate::flow::settings::SettingsSubmission, FlowError> {
    let ctx = FlowContext {
        session_token: Some(token.to_owned()),
        ..Default::default()
    };
    k.settings().submit(id, &body, &ctx).await
}

pub async fn flow_settings_profile_and_password(store: Arc<dyn Persister>) {
    use crate::flow::settings::SettingsSubmission;
    let clock = Arc::new(crate::ManualClock::new(chrono::Utc::now()));
    let k = kratos_with(store, SETTINGS_YAML, clock.clone());
    let mail = email();
    let token = registered_token(&k, &mail).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        ..Default::default()
    };

    // Without a session: 401.
    let err = k
        .settings()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_inactive", 401));

    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::ShowForm);
    assert_eq!(flow.identity.traits["email"], json!(mail));
    assert!(flow.identity.credentials.is_empty());
    let email_node = flow.ui.node("traits.email").expect("profile node");
    assert_eq!(email_node.group, crate::flow::ui::NodeGroup::Profile);
    let crate::flow::ui::NodeAttributes::Input(attrs) = &email_node.attributes else {
        panic!()
    };
    assert_eq!(attrs.value, Some(json!(mail)));
    assert!(flow.ui.node("password").is_some());
    assert!(
        flow.ui.node("csrf_token").is_none(),
        "api flows have no CSRF"
    );
    assert_eq!(k.settings().get(flow.id, &ctx).await.unwrap(), flow);

    // Password: the same as the old one, too short, then a good one.
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "long enough pw"}),
    )
    .await
    .unwrap() else {
        panic!("same password accepted")
    };
    assert_eq!(settings_messages(&f), vec![4000039]);
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "short"}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000032]);
    let SettingsSubmission::Retry(f) =
        settings_submit(&k, &token, flow.id, json!({"method": "nope"}))
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4010004]);
    // A second session of the same identity, to see revoke_active_sessions.
    let LoginSubmission::Completed(other) = login(&k, &mail, "long enough pw").await else {
        panic!()
    };
    let other_token = other.session_token.unwrap().expose().to_owned();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "a brand new secret"}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.state, FlowState::Success);
    assert_eq!(done.method, "password");
    assert_eq!(settings_messages(&done.flow), vec![1050001]);
    assert_eq!(
        k.settings().get(flow.id, &ctx).await.unwrap().state,
        FlowState::Success
    );
    assert!(matches!(
        login(&k, &mail, "long enough pw").await,
        LoginSubmission::Retry(_)
    ));
    assert!(matches!(
        login(&k, &mail, "a brand new secret").await,
        LoginSubmission::Completed(_)
    ));
    k.sessions()
        .whoami(&token)
        .await
        .expect("the current session stays");
    assert!(
        k.sessions().whoami(&other_token).await.is_err(),
        "revoke_active_sessions ended the other session"
    );

    // Profile: a non-identifier trait, then the email (an identifier), then invalid traits.
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": mail, "name": "Ada"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.identity.traits["name"], json!("Ada"));
    let new_mail = email();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": new_mail, "name": "Ada"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.identity.traits["email"], json!(new_mail));
    assert_eq!(
        done.flow.identity.verifiable_addresses[0].value,
        new_mail.to_lowercase()
    );
    assert!(matches!(
        login(&k, &new_mail, "a brand new secret").await,
        LoginSubmission::Completed(_)
    ));
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"name": "no email"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000002]);
    // Taking another identity's email is a duplicate.
    let taken = email();
    registered_token(&k, &taken).await;
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": taken}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000007]);
    assert_eq!(
        k.sessions()
            .whoami(&token)
            .await
            .unwrap()
            .identity
            .unwrap()
            .traits["email"],
        json!(new_mail),
        "nothing was written"
    );

    // Two hours later the session is no longer privileged: credential changes need a
    // re-authentication, other profile fields do not.
    clock.advance(chrono::Duration::hours(2));
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let err = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "yet another secret"}),
    )
    .await
    .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_refresh_required", 403));
    let FlowError::RefreshRequired {
        redirect_browser_to,
    } = &err
    else {
        panic!()
    };
    assert!(redirect_browser_to.contains("/self-service/login/browser?refresh=true&return_to="));
    assert!(redirect_browser_to.contains(&flow.id.to_string()));
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "profile", "traits": {"email": email()}})
        )
        .await
        .unwrap_err(),
        FlowError::RefreshRequired { .. }
    ));
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "profile", "traits": {"email": new_mail, "name": "Ada L."}})
        )
        .await
        .unwrap(),
        SettingsSubmission::Completed(_)
    ));
    // Re-authenticate with refresh=true, then the change goes through.
    let lf = k
        .login()
        .create(
            FlowType::Api,
            &ctx,
            LoginOptions {
                refresh: true,
                aal: None,
            },
        )
        .await
        .unwrap();
    let LoginSubmission::Completed(_) = k
        .login()
        .submit(lf.id, &json!({"method": "password", "identifier": new_mail, "password": "a brand new secret"}), &ctx)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "password", "password": "yet another secret"})
        )
        .await
        .unwrap(),
        SettingsSubmission::Completed(_)
    ));

    // Another identity's session cannot use this flow.
    let stranger = registered_token(&k, &email()).await;
    let err = k
        .settings()
        .get(
            flow.id,
            &FlowContext {
                session_token: Some(stranger.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.id(), err.status()),
        ("security_identity_mismatch", 403)
    );
    assert!(matches!(
        settings_submit(
            &k,
            &stranger,
            flow.id,
            json!({"method": "profile", "traits": {"email": email()}})
        )
        .await
        .unwrap_err(),
        FlowError::IdentityMismatch
    ));

    // Expiry (1h): a fresh flow to continue with.
    clock.advance(chrono::Duration::minutes(61));
    let err = k.settings().get(flow.id, &ctx).await.unwrap_err();
    let FlowError::Expired { use_flow_id, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        k.settings().get(use_flow_id, &ctx).await.unwrap().state,
        FlowState::ShowForm
    );
}

pub async fn flow_settings_browser_csrf_and_return_to(store: Arc<dyn Persister>) {
    use crate::flow::settings::SettingsSubmission;
    let k = kratos_with(store, SETTINGS_YAML, Arc::new(crate::SystemClock));
    let token = registered_token(&k, &email()).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        request_url: Some(
            "https://auth.example.com/self-service/settings/browser?return_to=https://app.example.com/welcome/x"
                .into(),
        ),
        ..Default::default()
    };
    let flow = k.settings().create(FlowType::Browser, &ctx).await.unwrap();
    let crate::flow::ui::NodeAttributes::Input(csrf) =
        &flow.ui.node("csrf_token").unwrap().attributes
    else {
        panic!()
    };
    let csrf = csrf.value.clone().unwrap();
    let err = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "profile", "traits": {"email": email()}, "csrf_token": "forged"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::CsrfViolation));
    let SettingsSubmission::Completed(done) = k
        .settings()
        .submit(flow.id, &json!({"method": "profile", "traits": {"email": email(), "name": "B"}, "csrf_token": csrf}), &ctx)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        done.continue_with,
        vec![ContinueWith::RedirectBrowserTo {
            redirect_browser_to: "https://app.example.com/welcome/x".into()
        }]
    );
    let bad = FlowContext {
        request_url: Some("https://auth.example.com/x?return_to=https://evil.com/".into()),
        ..ctx.clone()
    };
    assert!(matches!(
        k.settings()
            .create(FlowType::Browser, &bad)
            .await
            .unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));
}

pub async fn flow_login_requires_verified_address(store: Arc<dyn Persister>) {
    let yaml = "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n    login:\n      after:\n        hooks: [{hook: require_verified_address}]\n";
    let k = kratos_with(store, yaml, Arc::new(crate::SystemClock));
    let mail = email();
    let token = registered_token(&k, &mail).await;
    let LoginSubmission::Retry(f) = login(&k, &mail, "long enough pw").await else {
        panic!("login without a verified address")
    };
    assert_eq!(messages(&f.ui), vec![4000010]);
    let id = k.sessions().whoami(&token).await.unwrap().identity_id;
    k.identities()
        .patch(
            id,
            &json!([{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
                    {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}]),
        )
        .await
        .unwrap();
    assert!(matches!(
        login(&k, &mail, "long enough pw").await,
        LoginSubmission::Completed(_)
    ));
}

pub async fn flow_concurrent_logins(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 5\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store.clone(), &config, Arc::new(crate::SystemClock));
    let mail = email();
    registered_token(&k, &mail).await;
    // Eight concurrent logins of one identity: eight distinct sessions. Attempts are counted
    // before their password is verified, so eight at once need a limit of eight or more.
    let roomy = kratos_with(
        store,
        &config.replace("max_failures: 5", "max_failures: 8"),
        Arc::new(crate::SystemClock),
    )
    .tenant(k.nid());
    let logins = (0..8).map(|_| {
        let (k, mail) = (roomy.clone(), mail.clone());
        async move { login(&k, &mail, "long enough pw").await }
    });
    let mut tokens = HashSet::new();
    for r in futures::future::join_all(logins).await {
        let LoginSubmission::Completed(ok) = r else {
            panic!("a concurrent login failed")
        };
        tokens.insert(ok.session_token.unwrap().expose().to_owned());
    }
    assert_eq!(tokens.len(), 8);
    let id = k
        .sessions()
        .whoami(tokens.iter().next().unwrap())
        .await
        .unwrap()
        .identity_id;
    assert_eq!(
        k.sessions()
            .list_for_identity(id, true)
            .await
            .unwrap()
            .len(),
        9
    );

    // Eight concurrent wrong passwords: every attempt is counted before its password is
    // verified, so exactly five are verified and three refused; the identifier locks.
    let wrong = (0..8).map(|_| {
        let (k, mail) = (k.clone(), mail.clone());
        async move {
            let ctx = FlowContext::default();
            let flow = k
                .login()
                .create(FlowType::Api, &ctx, LoginOptions::default())
                .await
                .unwrap();
            k.login()
                .submit(
                    flow.id,
                    &json!({"method": "password", "identifier": mail, "password": "wrong password"}),
                    &ctx,
                )
                .await
        }
    });
    let (mut refused, mut locked) = (0, 0);
    for r in futures::future::join_all(wrong).await {
        match r {
            Ok(LoginSubmission::Retry(_)) => refused += 1,
            Err(FlowError::LoginLocked { .. }) => locked += 1,
            other => panic!("unexpected answer to a wrong password: {other:?}"),
        }
    }
    assert_eq!((refused, locked), (5, 3), "five verified, three locked");
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
}

/// Twenty wrong passwords at once against a limit of five: each attempt is counted before its
/// password is verified, so five are verified (and answered as wrong) and fifteen refused as
/// locked without a hash; the right password is refused too while the lock holds.
pub async fn flow_login_burst_is_locked_before_the_hash(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 5\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store, &config, Arc::new(crate::SystemClock));
    let mail = email();
    registered_token(&k, &mail).await;
    let burst = (0..20).map(|_| try_login_owned(k.clone(), mail.clone(), "wrong password"));
    let (mut wrong, mut locked) = (0, 0);
    for r in futures::future::join_all(burst).await {
        match r {
            Ok(LoginSubmission::Retry(_)) => wrong += 1,
            Err(FlowError::LoginLocked { .. }) => locked += 1,
            other => panic!("unexpected answer to a wrong password: {other:?}"),
        }
    }
    assert_eq!((wrong, locked), (5, 15), "five verified, fifteen locked");
    let err = try_login_owned(k.clone(), mail.clone(), "long enough pw")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
    assert_eq!((err.id(), err.status()), ("self_service_login_locked", 429));
}

/// An identifier longer than a lockout key holds is keyed by its digest: its attempts are
/// counted (on SQL its key would otherwise exceed what an index entry may hold) and lock it,
/// and another long identifier with the same beginning has a count of its own.
pub async fn flow_login_lockout_keys_long_identifiers_by_digest(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 2\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store, &config, Arc::new(crate::SystemClock));
    // 16 KiB of hex: too long for an index entry even compressed.
    let long: String = (0..512)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    let other = format!("{long}x");
    for _ in 0..2 {
        assert!(matches!(
            try_login_owned(k.clone(), long.clone(), "wrong password").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    let err = try_login_owned(k.clone(), long.clone(), "wrong password")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
    assert!(
        matches!(
            try_login_owned(k.clone(), other, "wrong password").await,
            Ok(LoginSubmission::Retry(_))
        ),
        "another identifier is not locked"
    );
    let key = crate::strategy::password::login::identifier_lockout_key(&long);
    assert!(
        key.starts_with("identifier-sha256:") && key.len() < 100,
        "{key}"
    );
    assert!(
        k.store()
            .login_locked_until(k.nid(), &[key])
            .await
            .unwrap()
            .is_some(),
        "the digest key holds the lock"
    );
}

/// [`kratos`] with a hashing gate of `permits`.
fn gated_kratos(store: Arc<dyn Persister>, permits: usize) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{SESSION_HOOK}"
    ))
    .expect("config");
    Kratos::builder(config)
        .store(store)
        .schema(test_schema())
        .hash_concurrency(permits)
        .build()
        .expect("kratos builds")
}

/// Runs of `k`'s hashing gate that each note how many runs are inside at once: the highest
/// count seen, over `runs` runs started together.
async fn highest_concurrency(k: &Kratos, runs: usize) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let inside = Arc::new(AtomicUsize::new(0));
    let highest = Arc::new(AtomicUsize::new(0));
    let tasks = (0..runs).map(|_| {
        let (k, inside, highest) = (k.clone(), inside.clone(), highest.clone());
        async move {
            k.run_hash(move |_| {
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                highest.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(30));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
            .await
            .expect("the run finishes")
        }
    });
    futures::future::join_all(tasks).await;
    highest.load(Ordering::SeqCst)
}

/// The hashing gate lets `hashers.max_concurrent` runs in at a time: one at a time with a gate
/// of one, never more than three (and more than one) with three; a panicking run is an error
/// and gives its turn back. 0 is refused, and the default is the number of cores.
pub async fn hash_gate_bounds_concurrent_hashes(store: Arc<dyn Persister>) {
    let one = gated_kratos(store.clone(), 1);
    assert_eq!(one.hash_concurrency(), 1);
    assert_eq!(highest_concurrency(&one, 8).await, 1, "one run at a time");
    let three = gated_kratos(store.clone(), 3);
    let highest = highest_concurrency(&three, 12).await;
    assert!((2..=3).contains(&highest), "{highest} runs at once");
    let err = one
        .run_hash(|_| -> () { panic!("a hashing run that panics") })
        .await
        .expect_err("a panic is an error");
    assert!(err.to_string().contains("hashing task failed"), "{err}");
    assert_eq!(highest_concurrency(&one, 2).await, 1, "the turn came back");
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  max_concurrent: 0\n",
    )
    .expect("config");
    let err = Kratos::builder(config.clone())
        .schema(test_schema())
        .build()
        .expect_err("0 permits is a configuration error");
    assert!(err.to_string().contains("hashers.max_concurrent"), "{err}");
    let err = Kratos::builder(Config {
        hashers: Default::default(),
        ..config
    })
    .schema(test_schema())
    .hash_concurrency(0)
    .build()
    .expect_err("0 permits is a configuration error");
    assert!(err.to_string().contains("hashers.max_concurrent"), "{err}");
    let default = kratos(store);
    assert_eq!(
        default.hash_concurrency(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
}

/// Logins (the dummy verification of an unknown identifier too), registrations and the admin
/// API's password verification wait for a turn of the hashing gate: while the only turn is
/// taken, none finishes; once it is given back, each does.
pub async fn flow_hashing_waits_for_the_gate(store: Arc<dyn Persister>) {
    let k = gated_kratos(store, 1);
    let mail = email();
    let RegistrationSubmission::Completed(registered) =
        register(&k, &mail, "gated password 1").await
    else {
        panic!("the registration completes")
    };
    let id = registered.identity.id;
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn({
        let k = k.clone();
        async move {
            k.run_hash(move |_| {
                let _ = started.send(());
                let _ = wait.recv();
            })
            .await
        }
    });
    running.await.expect("the holder has the turn");
    let login = tokio::spawn(try_login_owned(k.clone(), mail.clone(), "gated password 1"));
    let unknown = tokio::spawn(try_login_owned(k.clone(), email(), "gated password 1"));
    let registration = tokio::spawn({
        let k = k.clone();
        async move { register(&k, &email(), "gated password 2").await }
    });
    let admin = tokio::spawn({
        let k = k.clone();
        async move { k.identities().verify_password(id, "gated password 1").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for (name, finished) in [
        ("login", login.is_finished()),
        ("unknown identifier", unknown.is_finished()),
        ("registration", registration.is_finished()),
        ("admin verification", admin.is_finished()),
    ] {
        assert!(!finished, "the {name} waits for the gate");
    }
    release.send(()).expect("release");
    holder.await.unwrap().expect("the holder finishes");
    assert!(matches!(
        login.await.unwrap(),
        Ok(LoginSubmission::Completed(_))
    ));
    assert!(matches!(
        unknown.await.unwrap(),
        Ok(LoginSubmission::Retry(_))
    ));
    assert!(matches!(
        registration.await.unwrap(),
        RegistrationSubmission::Completed(_)
    ));
    assert!(matches!(
        admin.await.unwrap(),
        Ok(PasswordVerification::Valid { .. })
    ));
}

/// [`try_login`] with owned arguments, for spawned tasks.
async fn try_login_owned(
    k: Kratos,
    identifier: String,
    password: &'static str,
) -> Result<LoginSubmission, FlowError> {
    try_login(&k, &identifier, password).await
}
