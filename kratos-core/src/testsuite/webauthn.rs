//! Conformance of the `webauthn` method (security keys as a second factor) through the
//! flows, with a software key: added in settings with a display name, an aal2 browser
//! login stepped up with it (counter written with the session), replays refused, removed in
//! settings.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use super::SoftPasskey;
use crate::Kratos;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::settings::SettingsSubmission;
use crate::flow::ui::{NodeAttributes, UiContainer};
use crate::flow::{FlowContext, FlowType};
use crate::identity::{
    CreateIdentityBody, CredentialType, ImportCredentials, ImportPassword, ImportPasswordConfig,
};
use crate::session::Aal;
use crate::store::Persister;

const WEBAUTHN: &str = "serve:\n  public:\n    base_url: https://auth.example.com/\nselfservice:\n  methods:\n    webauthn:\n      enabled: true\n      config:\n        rp:\n          id: example.com\n          display_name: Example\n          origins: [\"https://auth.example.com\", \"https://app.example.com\"]\n";
const PASSWORD: &str = "correct horse battery staple";

fn value_of(ui: &UiContainer, name: &str) -> String {
    match ui.node(name).map(|n| &n.attributes) {
        Some(NodeAttributes::Input(a)) => a
            .value
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => panic!("no input node {name} in {ui:?}"),
    }
}

fn with_token(token: &str) -> FlowContext {
    FlowContext {
        session_token: Some(token.to_owned()),
        ..Default::default()
    }
}

/// A new identity with a password, signed in at aal1: its id, email and session token.
async fn signed_in(k: &Kratos) -> (Uuid, String, String) {
    let email = format!("webauthn-{}@example.com", Uuid::new_v4().simple());
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": email }),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("identity");
    let token = password_login(k, &email).await;
    (identity.id, email, token)
}

/// A new aal1 session by password: its token.
async fn password_login(k: &Kratos, email: &str) -> String {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    match k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": email, "password": PASSWORD}),
            &ctx,
        )
        .await
        .expect("login")
    {
        LoginSubmission::Completed(s) => s.session_token.expect("token").expose().to_owned(),
        LoginSubmission::Retry(f) => panic!("password login refused: {:?}", f.ui.messages),
    }
}

/// An aal2 browser login flow for the session: its id, CSRF token and the key's request
/// options (the `webauthn_login_trigger` value).
async fn aal2_flow(k: &Kratos, token: &str) -> (Uuid, String, String) {
    let flow = k
        .login()
        .create(
            FlowType::Browser,
            &with_token(token),
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .expect("aal2 flow");
    let csrf = value_of(&flow.ui, "csrf_token");
    let options = value_of(&flow.ui, "webauthn_login_trigger");
    (flow.id, csrf, options)
}

pub async fn webauthn_security_key_added_steps_up_and_is_removed(store: Arc<dyn Persister>) {
    let k = super::kratos_with(store, WEBAUTHN, Arc::new(crate::SystemClock));
    let (identity_id, email, token) = signed_in(&k).await;
    let mut key = SoftPasskey::new("https://auth.example.com");

    // Added in settings, with its name.
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await
        .expect("settings flow");
    let options: Value =
        serde_json::from_str(&value_of(&flow.ui, "webauthn_register_trigger")).unwrap();
    assert!(flow.ui.node("webauthn_register_displayname").is_some());
    let answer = key.create(&options["publicKey"]);
    let done = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "webauthn", "webauthn_register": answer,
                    "webauthn_register_displayname": "My key"}),
            &with_token(&token),
        )
        .await
        .expect("key added");
    assert!(matches!(done, SettingsSubmission::Completed(_)), "{done:?}");
    let identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let config = &identity
        .credential(CredentialType::Webauthn)
        .unwrap()
        .config;
    assert_eq!(config["credentials"][0]["display_name"], "My key");
    assert_eq!(config["credentials"][0]["is_passwordless"], false);
    use base64::Engine as _;
    assert_eq!(
        config["user_handle"],
        base64::engine::general_purpose::STANDARD.encode(identity_id.as_bytes())
    );
    assert_eq!(k.available_aal(&identity), Aal::Aal2);

    // Adding the key proved it on that session (aal2); a new aal1 session steps up with it
    // (the script posts `webauthn_login` without a method).
    let stepped = password_login(&k, &email).await;
    let (flow, csrf, options) = aal2_flow(&k, &stepped).await;
    let answer = key.login(&options);
    match k
        .login()
        .submit(
            flow,
            &json!({"csrf_token": csrf, "webauthn_login": answer}),
            &with_token(&stepped),
        )
        .await
        .expect("step-up")
    {
        LoginSubmission::Completed(done) => {
            assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
            assert!(
                done.session
                    .authentication_methods
                    .iter()
                    .any(|m| m.method == "webauthn" && m.aal == Aal::Aal2)
            );
        }
        LoginSubmission::Retry(f) => panic!("step-up refused: {:?}", f.ui.messages),
    }
    let identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let config = &identity
        .credential(CredentialType::Webauthn)
        .unwrap()
        .config;
    assert_eq!(config["credentials"][0]["authenticator"]["sign_count"], 1);

    // The same answer on another flow (another challenge): 4000043, no session change.
    let other_session = password_login(&k, &email).await;
    let (other, csrf, _) = aal2_flow(&k, &other_session).await;
    match k
        .login()
        .submit(
            other,
            &json!({"csrf_token": csrf, "method": "webauthn", "webauthn_login": answer}),
            &with_token(&other_session),
        )
        .await
        .expect("submitted")
    {
        LoginSubmission::Retry(f) => {
            assert_eq!(
                f.ui.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![4000043]
            );
        }
        LoginSubmission::Completed(_) => panic!("a replayed answer stepped up"),
    }

    // Removed in settings, by the stepped-up session.
    let token = stepped;
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await
        .expect("settings flow");
    let remove = value_of(&flow.ui, "webauthn_remove");
    assert_eq!(remove, hex::encode(&key.credential_id));
    let unknown = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "webauthn", "webauthn_remove": "00ff"}),
            &with_token(&token),
        )
        .await;
    assert!(
        matches!(unknown, Err(crate::flow::FlowError::BadRequest(_))),
        "{unknown:?}"
    );
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await
        .expect("settings flow");
    k.settings()
        .submit(
            flow.id,
            &json!({"webauthn_remove": remove}),
            &with_token(&token),
        )
        .await
        .expect("removed");
    let identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    assert!(identity.credential(CredentialType::Webauthn).is_none());
}

const PASSWORDLESS: &str = "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nserve:\n  public:\n    base_url: https://auth.example.com/\nselfservice:\n  methods:\n    webauthn:\n      enabled: true\n      config:\n        passwordless: true\n        rp:\n          id: example.com\n          origins: [\"https://auth.example.com\"]\n  flows:\n    login:\n      ui_url: https://app.example.com/login\n    registration:\n      after:\n        webauthn:\n          hooks:\n            - hook: session\n";

/// With `passwordless: true` a security key registers an identity and signs it in (aal1):
/// the login asks for the identifier, then answers with the key's challenge.
pub async fn webauthn_passwordless_registers_and_signs_in(store: Arc<dyn Persister>) {
    use crate::flow::FlowError;
    use crate::flow::registration::RegistrationSubmission;
    let config = crate::config::Config::from_yaml_str(PASSWORDLESS).expect("config");
    let schema = crate::identity::IdentitySchema::from_value(
        "default",
        json!({"properties": {"traits": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email",
                "ory.sh/kratos": {"credentials": {"webauthn": {"identifier": true}}}}
        }, "required": ["email"]}}}),
    )
    .expect("schema");
    let k = Kratos::builder(super::without_hibp(config))
        .store(store)
        .schema(schema)
        .build()
        .expect("builds")
        .tenant(Uuid::new_v4());
    let email = format!("passwordless-{}@example.com", Uuid::new_v4().simple());
    let mut key = SoftPasskey::new("https://auth.example.com");

    let ctx = FlowContext::default();
    let flow = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .expect("registration flow");
    let trigger = flow.ui.node("webauthn_register_trigger").expect("trigger");
    assert_eq!(trigger.meta.label.as_ref().map(|l| l.id), Some(1040004));
    let options: Value =
        serde_json::from_str(&value_of(&flow.ui, "webauthn_register_trigger")).unwrap();
    let answer = key.create(&options["publicKey"]);
    let id = match k
        .registration()
        .submit(
            flow.id,
            &json!({"webauthn_register": answer, "webauthn_register_displayname": "Key",
                    "traits": {"email": email}}),
            &ctx,
        )
        .await
        .expect("registration")
    {
        RegistrationSubmission::Completed(done) => done.identity.id,
        RegistrationSubmission::Retry(f) => panic!("refused: {:?}", f.ui.messages),
    };
    let identity = k.store().get_identity(k.nid(), id).await.unwrap();
    let credential = identity.credential(CredentialType::Webauthn).unwrap();
    assert_eq!(credential.identifiers, vec![email.clone()]);
    assert_eq!(credential.config["credentials"][0]["is_passwordless"], true);

    // The identifier first: the key's challenge comes back on the form.
    let flow = k
        .login()
        .create(FlowType::Browser, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    assert!(
        flow.ui
            .nodes
            .iter()
            .any(|n| n.group == crate::flow::ui::NodeGroup::Webauthn
                && n.name() == Some("method")
                && n.meta.label.as_ref().map(|l| l.id) == Some(1010008))
    );
    let csrf = value_of(&flow.ui, "csrf_token");
    let unknown = k
        .login()
        .submit(
            flow.id,
            &json!({"csrf_token": csrf, "method": "webauthn", "identifier": "nobody@example.com"}),
            &ctx,
        )
        .await
        .expect("answered");
    match unknown {
        LoginSubmission::Retry(f) => {
            assert_eq!(
                f.ui.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![4000015]
            );
        }
        LoginSubmission::Completed(_) => panic!("an unknown identifier signed in"),
    }
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"csrf_token": csrf, "method": "webauthn", "identifier": email}),
            &ctx,
        )
        .await
        .expect_err("a next step");
    match err {
        FlowError::BrowserLocationChangeRequired {
            redirect_browser_to,
        } => {
            assert_eq!(
                redirect_browser_to,
                format!("https://app.example.com/login?flow={}", flow.id)
            );
        }
        other => panic!("{other:?}"),
    }
    let next = k.login().get(flow.id, &ctx).await.expect("flow");
    assert_eq!(
        next.ui.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![1010012]
    );
    let answer = key.login(&value_of(&next.ui, "webauthn_login_trigger"));
    match k
        .login()
        .submit(
            flow.id,
            &json!({"csrf_token": csrf, "identifier": email, "webauthn_login": answer}),
            &ctx,
        )
        .await
        .expect("login")
    {
        LoginSubmission::Completed(done) => {
            assert_eq!(done.session.identity_id, id);
            assert_eq!(done.session.authenticator_assurance_level, Aal::Aal1);
            assert_eq!(done.session.authentication_methods[0].method, "webauthn");
        }
        LoginSubmission::Retry(f) => panic!("refused: {:?}", f.ui.messages),
    }
}
