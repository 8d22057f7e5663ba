//! Conformance of the passkey method through the flows, with a software authenticator:
//! registration and login, the stored credential in Kratos's shape, the counter, refusals
//! (replay, foreign origin, unknown key, counter regression, malformed input), and admin
//! imports of Kratos-shaped credentials.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use super::SoftPasskey;
use crate::Kratos;
use crate::config::Config;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::ui::{NodeAttributes, UiContainer};
use crate::flow::{FlowContext, FlowError, FlowType};
use crate::identity::{
    CreateIdentityBody, CredentialType, IdentitySchema, ImportCredentials, ImportWebauthn,
};
use crate::store::Persister;

/// The origin the software passkey reports by default (one of the relying party's two).
pub const PASSKEY_ORIGIN: &str = "https://app.example.com";

const PASSKEY_CONFIG: &str = "serve:\n  public:\n    base_url: https://auth.example.com/\nselfservice:\n  methods:\n    passkey:\n      enabled: true\n      config:\n        rp:\n          id: example.com\n          display_name: Example\n          origins: [\"https://auth.example.com\", \"https://app.example.com\"]\n  flows:\n    registration:\n      after:\n        passkey:\n          hooks:\n            - hook: session\n";

/// The identity schema of the passkey tests: `email`, the passkey's display name.
pub fn passkey_schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"credentials": {"passkey": {"display_name": true}}}}
            }, "required": ["email"]}}
        }),
    )
    .expect("schema")
}

/// A registry with the passkey method on (relying party `example.com`, origins
/// `https://auth.example.com` and `https://app.example.com`), in a tenant of its own.
pub fn passkey_kratos(store: Arc<dyn Persister>) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\n{PASSKEY_CONFIG}"
    ))
    .expect("config");
    Kratos::builder(super::without_hibp(config))
        .store(store)
        .schema(passkey_schema())
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4())
}

fn value_of(ui: &UiContainer, name: &str) -> String {
    match ui.node(name).map(|n| &n.attributes) {
        Some(NodeAttributes::Input(a)) => a
            .value
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => panic!("no input node {name}"),
    }
}

fn message_ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages.iter().map(|m| m.id).collect()
}

/// Registers a new identity with `key` through an api registration flow; its id.
pub async fn register_with_passkey(k: &Kratos, key: &mut SoftPasskey, email: &str) -> Uuid {
    let ctx = FlowContext::default();
    let flow = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .expect("registration flow");
    let answer = key.register(&value_of(&flow.ui, "passkey_create_data"));
    match k
        .registration()
        .submit(
            flow.id,
            &json!({"passkey_register": answer, "traits": {"email": email}}),
            &ctx,
        )
        .await
        .expect("registration")
    {
        RegistrationSubmission::Completed(done) => {
            assert!(
                done.session.is_some(),
                "the session hook signs the new identity in"
            );
            done.identity.id
        }
        RegistrationSubmission::Retry(flow) => panic!("registration refused: {:?}", flow.ui),
    }
}

/// A new api login flow and the `passkey_challenge` it offers.
pub async fn passkey_login_flow(k: &Kratos) -> (Uuid, String) {
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .expect("login flow");
    let challenge = value_of(&flow.ui, "passkey_challenge");
    (flow.id, challenge)
}

async fn submit_login(k: &Kratos, flow: Uuid, answer: &str) -> Result<LoginSubmission, FlowError> {
    k.login()
        .submit(
            flow,
            &json!({"method": "passkey", "passkey_login": answer}),
            &FlowContext::default(),
        )
        .await
}

fn stored_key(identity: &crate::identity::Identity) -> Value {
    identity
        .credential(CredentialType::Passkey)
        .expect("a passkey credential")
        .config["credentials"][0]
        .clone()
}

/// A passkey registers an identity (stored in Kratos's shape, found by its user handle) and
/// signs it in (aal1, method `passkey`); each login advances the stored counter.
pub async fn passkey_register_and_sign_in(store: Arc<dyn Persister>) {
    let k = passkey_kratos(store);
    let mut key = SoftPasskey::new(PASSKEY_ORIGIN);
    let id = register_with_passkey(&k, &mut key, "passkey@example.com").await;
    let identity = k.store().get_identity(k.nid(), id).await.expect("identity");
    let credential = identity
        .credential(CredentialType::Passkey)
        .expect("passkey");
    assert_eq!(
        credential.identifiers,
        vec![String::from_utf8(key.user_handle.clone()).unwrap()]
    );
    assert_eq!(key.user_handle.len(), 64);
    let stored = stored_key(&identity);
    assert_eq!(stored["is_passwordless"], json!(true));
    assert_eq!(stored["attestation_type"], json!("none"));
    assert_eq!(stored["authenticator"]["sign_count"], json!(0));
    assert_eq!(stored["flags"]["user_verified"], json!(true));
    use base64::Engine as _;
    let public_key = base64::engine::general_purpose::STANDARD
        .decode(stored["public_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        public_key,
        key.cose_public_key(),
        "the COSE key as the authenticator wrote it"
    );

    for expected_count in 1..=2u32 {
        let (flow, challenge) = passkey_login_flow(&k).await;
        let answer = key.login(&challenge);
        match submit_login(&k, flow, &answer).await.expect("login") {
            LoginSubmission::Completed(done) => {
                assert_eq!(done.session.identity_id, id);
                let methods = &done.session.authentication_methods;
                assert_eq!(methods.last().map(|m| m.method.as_str()), Some("passkey"));
            }
            LoginSubmission::Retry(flow) => panic!("login refused: {:?}", flow.ui.messages),
        }
        let identity = k.store().get_identity(k.nid(), id).await.unwrap();
        assert_eq!(
            stored_key(&identity)["authenticator"]["sign_count"],
            json!(expected_count)
        );
    }
}

/// Replayed, foreign-origin, unknown-key, counter-regressing and malformed answers are
/// refused with Kratos's messages (or a 400), and nothing signs in.
pub async fn passkey_login_refusals(store: Arc<dyn Persister>) {
    let k = passkey_kratos(store);
    let mut key = SoftPasskey::new(PASSKEY_ORIGIN);
    let id = register_with_passkey(&k, &mut key, "refusals@example.com").await;

    // A replay: an answer to one flow's challenge submitted to another flow.
    let (first, challenge) = passkey_login_flow(&k).await;
    let answer = key.login(&challenge);
    let (second, _) = passkey_login_flow(&k).await;
    match submit_login(&k, second, &answer).await.expect("submitted") {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000043]),
        LoginSubmission::Completed(_) => panic!("a replayed answer signed in"),
    }
    // The same answer on its own flow is good once.
    assert!(matches!(
        submit_login(&k, first, &answer).await,
        Ok(LoginSubmission::Completed(_))
    ));
    assert!(
        submit_login(&k, first, &answer).await.is_err(),
        "a completed flow"
    );

    // A foreign origin.
    key.origin = "https://evil.example.net".into();
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &key.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000043]),
        LoginSubmission::Completed(_) => panic!("a foreign origin signed in"),
    }
    key.origin = PASSKEY_ORIGIN.into();

    // An unknown user handle, and a key the identity does not have.
    let mut stranger = SoftPasskey::new(PASSKEY_ORIGIN);
    stranger.user_handle = b"nobody".to_vec();
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &stranger.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000015]),
        LoginSubmission::Completed(_) => panic!("an unknown user signed in"),
    }
    stranger.user_handle = key.user_handle.clone();
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &stranger.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000043]),
        LoginSubmission::Completed(_) => panic!("an unknown key signed in"),
    }

    // Malformed answers: a 400, never a server error.
    let (flow, _) = passkey_login_flow(&k).await;
    for bad in ["{", "[]", "{\"id\":1}"] {
        match submit_login(&k, flow, bad).await {
            Err(FlowError::BadRequest(_)) => {}
            other => panic!("malformed answer {bad}: {other:?}"),
        }
    }
    let before = k.store().get_identity(k.nid(), id).await.unwrap();

    // A counter that goes backwards: refused, and the key marked.
    key.counter = 0;
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &key.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000043]),
        LoginSubmission::Completed(_) => panic!("a cloned key signed in"),
    }
    let after = k.store().get_identity(k.nid(), id).await.unwrap();
    assert_eq!(
        stored_key(&after)["authenticator"]["clone_warning"],
        json!(true)
    );
    assert_eq!(
        stored_key(&after)["authenticator"]["sign_count"],
        stored_key(&before)["authenticator"]["sign_count"],
        "the counter is not lowered"
    );
}

/// An identity imported through the admin API with a passkey in Kratos's stored shape
/// signs in with that key; the stored counter advances and nothing else changes.
pub async fn passkey_admin_import_signs_in(store: Arc<dyn Persister>) {
    let k = passkey_kratos(store);
    let mut key = SoftPasskey::new("https://auth.example.com");
    let handle = format!("imported-{}", Uuid::new_v4().simple());
    let config = key.kratos_config(&handle, 7);
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": "imported@example.com"}),
            credentials: Some(ImportCredentials {
                passkey: Some(ImportWebauthn {
                    config: config.clone(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("import");
    key.counter = 7;
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &key.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Completed(done) => assert_eq!(done.session.identity_id, identity.id),
        LoginSubmission::Retry(flow) => panic!("imported key refused: {:?}", flow.ui.messages),
    }
    let stored = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    let mut expected = config["credentials"][0].clone();
    expected["authenticator"]["sign_count"] = json!(8);
    // A key stored without flags (older Kratos) takes the flags its first login showed.
    expected["flags"] = json!({
        "user_present": false, "user_verified": false,
        "backup_eligible": false, "backup_state": false,
    });
    assert_eq!(stored_key(&stored), expected);

    // Malformed imports are refused, naming the field.
    for bad in [
        json!({"credentials": []}),
        json!({"credentials": [{}], "user_handle": "***"}),
    ] {
        let refused = k
            .identities()
            .create(CreateIdentityBody {
                traits: json!({"email": "bad-import@example.com"}),
                credentials: Some(ImportCredentials {
                    passkey: Some(ImportWebauthn { config: bad }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await;
        assert!(refused.is_err());
    }
}

/// `complete_flow_updating_credential` writes the credential with the session while the
/// credential is as read; when it changed meanwhile (or is missing) nothing is written
/// (`Conflict`), and a completed flow answers `NotFound`.
pub async fn passkey_completion_updates_the_credential_only_while_unchanged(
    store: Arc<dyn Persister>,
) {
    use crate::session::SessionRecord;
    use crate::store::{CredentialUpdate, FlowCompletion, SessionWrite, StoreError};

    let k = passkey_kratos(store);
    let mut key = SoftPasskey::new(PASSKEY_ORIGIN);
    let config = key.kratos_config(&format!("handle-{}", Uuid::new_v4().simple()), 1);
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": "completion@example.com"}),
            credentials: Some(ImportCredentials {
                passkey: Some(ImportWebauthn { config }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("import");
    let read = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    let read_at = read.credential(CredentialType::Passkey).unwrap().updated_at;
    let mut new_config = read
        .credential(CredentialType::Passkey)
        .unwrap()
        .config
        .clone();
    new_config["credentials"][0]["authenticator"]["sign_count"] = json!(2);
    let updated_at = read_at + chrono::Duration::seconds(1);
    let session = |k: &Kratos| -> SessionRecord { super::completion::new_session(k, &read) };
    let update = |read_at| CredentialUpdate {
        identity_id: identity.id,
        credential_type: CredentialType::Passkey,
        config: &new_config,
        read_at,
        updated_at,
    };

    // Changed since read: nothing is written, the flow stays open.
    let (_, flow) = super::completion::new_flow(&k).await;
    let record = session(&k);
    let stale = update(read_at - chrono::Duration::seconds(5));
    let err = k
        .store()
        .complete_flow_updating_credential(
            k.nid(),
            &FlowCompletion {
                flow: &flow,
                reset_login_failures: None,
                forgive_login_attempt: None,
                identity: None,
                session: Some(SessionWrite::Insert(&record)),
            },
            &stale,
        )
        .await
        .expect_err("a stale read");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        k.store()
            .get_session(k.nid(), record.session.id)
            .await
            .is_err(),
        "no session written"
    );

    // As read: the credential and the session together.
    let fresh = update(read_at);
    let completion = FlowCompletion {
        flow: &flow,
        reset_login_failures: None,
        forgive_login_attempt: None,
        identity: None,
        session: Some(SessionWrite::Insert(&record)),
    };
    k.store()
        .complete_flow_updating_credential(k.nid(), &completion, &fresh)
        .await
        .expect("completed");
    let after = k.store().get_identity(k.nid(), identity.id).await.unwrap();
    let credential = after.credential(CredentialType::Passkey).unwrap();
    assert_eq!(credential.config, new_config);
    assert_eq!(credential.updated_at, updated_at);
    assert!(
        k.store()
            .get_session(k.nid(), record.session.id)
            .await
            .is_ok()
    );

    // Completed flows complete once.
    let again = update(updated_at);
    let other = session(&k);
    let err = k
        .store()
        .complete_flow_updating_credential(
            k.nid(),
            &FlowCompletion {
                session: Some(SessionWrite::Insert(&other)),
                ..completion
            },
            &again,
        )
        .await
        .expect_err("completed already");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

/// Signs in with `key` through an api flow; the session token.
async fn passkey_session(k: &Kratos, key: &mut SoftPasskey) -> String {
    let (flow, challenge) = passkey_login_flow(k).await;
    match submit_login(k, flow, &key.login(&challenge))
        .await
        .expect("login")
    {
        LoginSubmission::Completed(done) => done
            .session_token
            .expect("an api flow's token")
            .expose()
            .to_owned(),
        LoginSubmission::Retry(flow) => panic!("login refused: {:?}", flow.ui.messages),
    }
}

/// Passkeys are added in settings (a new handle each, the old ones still answering) and
/// removed there, never the last first factor.
pub async fn passkey_settings_add_and_remove(store: Arc<dyn Persister>) {
    use crate::flow::settings::SettingsSubmission;
    let k = passkey_kratos(store);
    let mut first = SoftPasskey::new(PASSKEY_ORIGIN);
    let id = register_with_passkey(&k, &mut first, "settings@example.com").await;
    let token = passkey_session(&k, &mut first).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        ..Default::default()
    };

    // The only first factor cannot go.
    let flow = k
        .settings()
        .create(FlowType::Api, &ctx)
        .await
        .expect("settings flow");
    let remove = flow.ui.node("passkey_remove").expect("a remove button");
    match &remove.attributes {
        NodeAttributes::Input(a) => assert!(a.disabled, "the last first factor"),
        _ => panic!("an input"),
    }
    assert_eq!(remove.meta.label.as_ref().map(|l| l.id), Some(1050020));
    let refused = k
        .settings()
        .submit(
            flow.id,
            &json!({"passkey_remove": value_of(&flow.ui, "passkey_remove")}),
            &ctx,
        )
        .await
        .expect("answered");
    match refused {
        SettingsSubmission::Retry(flow) => {
            let node = flow.ui.node("passkey_remove").unwrap();
            assert_eq!(
                node.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![4000001]
            );
        }
        other => panic!("the last passkey was removed: {other:?}"),
    }

    // A second passkey, added with the form's options (the script posts no method).
    let flow = k
        .settings()
        .create(FlowType::Api, &ctx)
        .await
        .expect("settings flow");
    let trigger = flow.ui.node("passkey_register_trigger").expect("trigger");
    assert_eq!(trigger.meta.label.as_ref().map(|l| l.id), Some(1050019));
    let options: Value = serde_json::from_str(&value_of(&flow.ui, "passkey_create_data")).unwrap();
    assert_eq!(options["publicKey"]["user"]["name"], "settings@example.com");
    let mut second = SoftPasskey::new(PASSKEY_ORIGIN);
    let answer = second.create(&options["publicKey"]);
    let done = k
        .settings()
        .submit(flow.id, &json!({"passkey_settings_register": answer}), &ctx)
        .await
        .expect("added");
    assert!(matches!(done, SettingsSubmission::Completed(_)), "{done:?}");
    let identity = k.store().get_identity(k.nid(), id).await.unwrap();
    let credential = identity.credential(CredentialType::Passkey).unwrap();
    assert_eq!(
        credential.config["credentials"].as_array().unwrap().len(),
        2
    );
    assert_eq!(credential.identifiers.len(), 2);

    // Both sign in: the new one with its handle, the first with the one it was made with.
    passkey_session(&k, &mut second).await;
    passkey_session(&k, &mut first).await;

    // With two, the first one can go.
    let flow = k
        .settings()
        .create(FlowType::Api, &ctx)
        .await
        .expect("settings flow");
    k.settings()
        .submit(
            flow.id,
            &json!({"passkey_remove": hex::encode(&first.credential_id)}),
            &ctx,
        )
        .await
        .expect("removed");
    let identity = k.store().get_identity(k.nid(), id).await.unwrap();
    let keys = identity.credential(CredentialType::Passkey).unwrap().config["credentials"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    let (flow, challenge) = passkey_login_flow(&k).await;
    match submit_login(&k, flow, &first.login(&challenge))
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(flow) => assert_eq!(message_ids(&flow.ui), vec![4000043]),
        LoginSubmission::Completed(_) => panic!("a removed passkey signed in"),
    }
}

/// `refresh=true` offers the session identity's passkeys (allowed by id, the identifier
/// hidden) and re-authenticates the same session with one.
pub async fn passkey_refreshes_the_session(store: Arc<dyn Persister>) {
    let k = passkey_kratos(store);
    let mut key = SoftPasskey::new(PASSKEY_ORIGIN);
    register_with_passkey(&k, &mut key, "refresh@example.com").await;
    let token = passkey_session(&k, &mut key).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        ..Default::default()
    };
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &ctx,
            LoginOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .expect("refresh flow");
    assert_eq!(value_of(&flow.ui, "identifier"), "refresh@example.com");
    let challenge = value_of(&flow.ui, "passkey_challenge");
    let options: Value = serde_json::from_str(&challenge).unwrap();
    use base64::Engine as _;
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.credential_id)
    );
    let before = k.sessions().whoami(&token).await.expect("session");
    let answer = key.login(&challenge);
    match k
        .login()
        .submit(
            flow.id,
            &json!({"method": "passkey", "passkey_login": answer}),
            &ctx,
        )
        .await
        .expect("refresh")
    {
        LoginSubmission::Completed(done) => {
            assert_eq!(done.session.id, before.id, "the same session, refreshed");
            assert_eq!(done.session.authentication_methods.len(), 2);
        }
        LoginSubmission::Retry(flow) => panic!("refresh refused: {:?}", flow.ui.messages),
    }
}
