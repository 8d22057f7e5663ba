//! Conformance of the second factors through the flows: TOTP and lookup secrets set up in
//! settings, aal2 step-up logins, replays, concurrent use of one backup code, lockout.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Kratos;
use crate::clock::ManualClock;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::settings::SettingsSubmission;
use crate::flow::ui::{NodeAttributes, UiContainer};
use crate::flow::{FlowContext, FlowError, FlowType};
use crate::identity::ImportPasswordConfig;
use crate::identity::{CreateIdentityBody, CredentialType, ImportCredentials, ImportPassword};
use crate::session::{Aal, SessionError};
use crate::store::Persister;
use crate::strategy::totp::otp::TotpKey;

const MFA: &str = "selfservice:\n  methods:\n    totp:\n      enabled: true\n      config:\n        issuer: Conformance\n    lookup_secret:\n      enabled: true\n";
const PASSWORD: &str = "correct horse battery staple";

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

fn clock() -> ManualClock {
    // The middle of a TOTP step, so a code stays valid however long a test step takes.
    let now = Utc::now().timestamp();
    let start = now - now % 30 + 15;
    ManualClock::new(chrono::DateTime::from_timestamp(start, 0).expect("a time"))
}

fn mfa_kratos(store: Arc<dyn Persister>, extra: &str) -> (Kratos, ManualClock) {
    let clock = clock();
    let k = super::kratos_with(store, &format!("{MFA}{extra}"), Arc::new(clock.clone()));
    (k, clock)
}

/// A new identity with a password, and an aal1 session token.
async fn signed_in(k: &Kratos) -> (Uuid, String) {
    let email = format!("mfa-{}@example.com", Uuid::new_v4().simple());
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
    (identity.id, password_login(k, &email).await)
}

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
        LoginSubmission::Retry(f) => panic!("password login refused: {:?}", ids(&f.ui)),
    }
}

/// Another password login of the identity: a new aal1 session token.
async fn another_session(k: &Kratos, identity_id: Uuid) -> String {
    let identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    password_login(k, identity.traits["email"].as_str().expect("an email")).await
}

fn with_token(token: &str) -> FlowContext {
    FlowContext {
        session_token: Some(token.to_owned()),
        ..Default::default()
    }
}

/// The text of the text node `id`, and its context.
fn text_node(ui: &UiContainer, id: &str) -> (String, Value) {
    let node = ui
        .nodes
        .iter()
        .find(|n| n.id() == id)
        .unwrap_or_else(|| panic!("no node {id}"));
    match &node.attributes {
        NodeAttributes::Text(t) => (
            t.text.text.clone(),
            t.text.context.clone().unwrap_or(Value::Null),
        ),
        other => panic!("{id} is not a text node: {other:?}"),
    }
}

async fn settings_submit(
    k: &Kratos,
    token: &str,
    flow: Uuid,
    body: Value,
) -> Result<SettingsSubmission, FlowError> {
    k.settings().submit(flow, &body, &with_token(token)).await
}

/// Links TOTP for the session's identity through settings; answers the key.
async fn link_totp(k: &Kratos, clock: &ManualClock, token: &str) -> TotpKey {
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(token))
        .await
        .expect("settings flow");
    let (_, context) = text_node(&flow.ui, "totp_secret_key");
    let secret = context["secret"].as_str().expect("the secret").to_owned();
    assert!(flow.ui.nodes.iter().any(|n| n.id() == "totp_qr"));
    let key = TotpKey::from_url(&format!(
        "otpauth://totp/Conformance:x?secret={secret}&issuer=Conformance"
    ))
    .expect("the shown secret makes a key");
    // A wrong code: 4000008 on the code's node, nothing linked.
    let wrong = settings_submit(
        k,
        token,
        flow.id,
        json!({"method": "totp", "totp_code": "12345x"}),
    )
    .await
    .expect("submitted");
    let SettingsSubmission::Retry(again) = wrong else {
        panic!("a wrong code linked TOTP");
    };
    assert_eq!(again.ui.node("totp_code").unwrap().messages[0].id, 4000008);
    let code = key.code_at(clock.now_unix());
    match settings_submit(
        k,
        token,
        flow.id,
        json!({"method": "totp", "totp_code": *code}),
    )
    .await
    .expect("submitted")
    {
        SettingsSubmission::Completed(done) => {
            assert!(done.flow.ui.node("totp_unlink").is_some(), "unlink offered");
        }
        SettingsSubmission::Retry(f) => panic!("linking refused: {:?}", ids(&f.ui)),
    }
    key
}

trait NowUnix {
    fn now_unix(&self) -> u64;
}

impl NowUnix for ManualClock {
    fn now_unix(&self) -> u64 {
        u64::try_from(crate::Clock::now(self).timestamp()).expect("after 1970")
    }
}

async fn aal2_flow(k: &Kratos, token: &str) -> crate::flow::login::LoginFlow {
    k.login()
        .create(
            FlowType::Api,
            &with_token(token),
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .expect("aal2 flow")
}

pub async fn mfa_totp_set_up_step_up_and_replay(store: Arc<dyn Persister>) {
    let (k, clock) = mfa_kratos(store, "");
    let (identity_id, token) = signed_in(&k).await;
    let key = link_totp(&k, &clock, &token).await;

    // The stored credential keeps no plaintext secret.
    let stored = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let config = stored
        .credential(CredentialType::Totp)
        .unwrap()
        .config
        .to_string();
    assert!(!config.contains("otpauth"), "{config}");
    assert!(!config.contains(&*key.secret_base32()), "{config}");
    assert_eq!(k.available_aal(&stored), Aal::Aal2);

    // Linking proved the app: the session that linked it holds it (as Kratos's does).
    let linked = k.sessions().whoami(&token).await.expect("aal2 by linking");
    assert_eq!(linked.authenticator_assurance_level, Aal::Aal2);
    let methods: Vec<_> = linked
        .authentication_methods
        .iter()
        .map(|m| (m.method.as_str(), m.aal))
        .collect();
    assert_eq!(methods, [("password", Aal::Aal1), ("totp", Aal::Aal2)]);

    // A new aal1 session no longer passes whoami under highest_available.
    let token = another_session(&k, identity_id).await;
    assert!(matches!(
        k.sessions().whoami(&token).await,
        Err(SessionError::Aal2Required)
    ));

    // Step up: the aal2 flow offers the code input; the right code raises the session.
    clock.advance(Duration::seconds(30));
    let flow = aal2_flow(&k, &token).await;
    assert!(flow.ui.node("totp_code").is_some());
    assert!(flow.ui.node("password").is_none(), "no first factor");
    assert_eq!(flow.ui.messages[0].id, 1010004);
    let wrong = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "totp", "totp_code": "000000"}),
            &with_token(&token),
        )
        .await
        .unwrap();
    let LoginSubmission::Retry(again) = wrong else {
        panic!("a wrong code stepped up");
    };
    // On the flow, as Kratos's.
    assert_eq!(ids(&again.ui), [4000008]);
    let code = key.code_at(clock.now_unix());
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "totp", "totp_code": *code}),
            &with_token(&token),
        )
        .await
        .unwrap();
    let LoginSubmission::Completed(done) = done else {
        panic!("the right code was refused");
    };
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
    assert!(!done.aal2_required);
    let methods: Vec<_> = done
        .session
        .authentication_methods
        .iter()
        .map(|m| (m.method.as_str(), m.aal))
        .collect();
    assert_eq!(methods, [("password", Aal::Aal1), ("totp", Aal::Aal2)]);
    let whoami = k.sessions().whoami(&token).await.expect("aal2 now");
    assert_eq!(whoami.authenticator_assurance_level, Aal::Aal2);

    // The same code again, on another session of the identity: refused as a replay.
    let email = stored.traits["email"].as_str().unwrap().to_owned();
    let second = password_login(&k, &email).await;
    let flow = aal2_flow(&k, &second).await;
    let replay = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "totp", "totp_code": *code}),
            &with_token(&second),
        )
        .await
        .unwrap();
    let LoginSubmission::Retry(again) = replay else {
        panic!("a replayed code stepped up");
    };
    assert_eq!(ids(&again.ui), [4000008]);
    assert!(matches!(
        k.sessions().whoami(&second).await,
        Err(SessionError::Aal2Required)
    ));
}

pub async fn mfa_second_factor_rules(store: Arc<dyn Persister>) {
    let (k, clock) = mfa_kratos(store, "");
    let (identity_id, linking) = signed_in(&k).await;
    let key = link_totp(&k, &clock, &linking).await;
    let token = another_session(&k, identity_id).await;

    // No session: no aal2 flow, and an aal2 flow submitted without one is refused.
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
    assert!(matches!(err, FlowError::Aal1Required), "{err:?}");
    let flow = aal2_flow(&k, &token).await;
    let code = key.code_at(clock.now_unix());
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "totp", "totp_code": *code}),
            &FlowContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::Aal1Required), "{err:?}");
    // The password is not a second factor: an aal2 flow does not take it.
    let LoginSubmission::Retry(again) = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": "x", "password": "y"}),
            &with_token(&token),
        )
        .await
        .unwrap()
    else {
        panic!("a password stepped up");
    };
    assert_eq!(ids(&again.ui), [4010002]);

    // Unlinking needs a privileged session.
    clock.advance(Duration::hours(2));
    let settings = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await;
    // The aal1 session cannot open settings under highest_available.
    assert!(
        matches!(settings, Err(FlowError::Aal2Required)),
        "{settings:?}"
    );

    // Lockout: wrong codes count on the identity's second factor.
    let flow = aal2_flow(&k, &token).await;
    let mut locked = false;
    for _ in 0..20 {
        match k
            .login()
            .submit(
                flow.id,
                &json!({"method": "totp", "totp_code": "000000"}),
                &with_token(&token),
            )
            .await
        {
            Ok(LoginSubmission::Retry(_)) => {}
            Err(FlowError::LoginLocked { .. }) => {
                locked = true;
                break;
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert!(locked, "wrong codes never locked");
}

pub async fn mfa_totp_unlink_needs_privilege_and_lowers_the_level(store: Arc<dyn Persister>) {
    let (k, clock) = mfa_kratos(store, "  flows:\n    settings:\n      required_aal: aal1\n");
    let (identity_id, token) = signed_in(&k).await;
    link_totp(&k, &clock, &token).await;
    clock.advance(Duration::hours(2));
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await
        .expect("settings at aal1");
    let err = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "totp", "totp_unlink": true}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FlowError::RefreshRequired { .. }), "{err:?}");
    let still = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    assert!(
        still.credential(CredentialType::Totp).is_some(),
        "nothing written"
    );

    // Re-authenticated: unlinking works and the identity is back at aal1.
    let email = still.traits["email"].as_str().unwrap().to_owned();
    let fresh = password_login(&k, &email).await;
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&fresh))
        .await
        .unwrap();
    let done = settings_submit(
        &k,
        &fresh,
        flow.id,
        json!({"method": "totp", "totp_unlink": "true"}),
    )
    .await
    .unwrap();
    assert!(matches!(done, SettingsSubmission::Completed(_)));
    let after = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    assert!(after.credential(CredentialType::Totp).is_none());
    assert_eq!(k.available_aal(&after), Aal::Aal1);
    k.sessions()
        .whoami(&fresh)
        .await
        .expect("aal1 is enough again");
}

/// Sets up backup codes through settings; answers them.
async fn set_up_codes(k: &Kratos, token: &str) -> Vec<String> {
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(token))
        .await
        .expect("settings flow");
    assert!(flow.ui.node("lookup_secret_regenerate").is_some());
    assert!(flow.ui.node("lookup_secret_reveal").is_none(), "none yet");
    let SettingsSubmission::Retry(shown) = settings_submit(
        k,
        token,
        flow.id,
        // The buttons post no `method` (a form built from the nodes sends only the button).
        json!({"lookup_secret_regenerate": "true"}),
    )
    .await
    .unwrap() else {
        panic!("regenerating saved already");
    };
    let (text, context) = text_node(&shown.ui, "lookup_secret_codes");
    let codes: Vec<String> = context["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|m| m["context"]["secret"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 12);
    assert_eq!(text, codes.join(", "));
    assert!(codes.iter().all(|c| c.len() == 8));
    // Not saved before the confirmation.
    let identity = k
        .sessions()
        .whoami_with(token, crate::session::RequiredAal::Aal1)
        .await
        .unwrap()
        .identity_id;
    let before = k.store().get_identity(k.nid(), identity).await.unwrap();
    assert!(before.credential(CredentialType::LookupSecret).is_none());
    let done = settings_submit(k, token, flow.id, json!({"lookup_secret_confirm": "true"}))
        .await
        .unwrap();
    assert!(matches!(done, SettingsSubmission::Completed(_)), "{done:?}");
    let saved = k.store().get_identity(k.nid(), identity).await.unwrap();
    let config = saved
        .credential(CredentialType::LookupSecret)
        .unwrap()
        .config
        .to_string();
    for code in &codes {
        assert!(!config.contains(code.as_str()), "a code in plaintext");
    }
    codes
}

async fn lookup_login(k: &Kratos, token: &str, code: &str) -> Result<LoginSubmission, FlowError> {
    let flow = aal2_flow(k, token).await;
    assert!(flow.ui.node("lookup_secret").is_some());
    k.login()
        .submit(
            flow.id,
            &json!({"method": "lookup_secret", "lookup_secret": code}),
            &with_token(token),
        )
        .await
}

pub async fn mfa_lookup_secrets_set_up_reveal_and_use_once(store: Arc<dyn Persister>) {
    let (k, _clock) = mfa_kratos(store, "");
    let (identity_id, token) = signed_in(&k).await;
    let codes = set_up_codes(&k, &token).await;
    // Confirming the codes proved them: the session holds the method (as Kratos's does).
    let confirmed = k
        .sessions()
        .whoami(&token)
        .await
        .expect("aal2 by confirming");
    assert_eq!(confirmed.authenticator_assurance_level, Aal::Aal2);

    // Unknown code: 4000016 (on the flow, as Kratos's); the first code: aal2; again: 4000012.
    let first = another_session(&k, identity_id).await;
    let LoginSubmission::Retry(f) = lookup_login(&k, &first, "notacode").await.unwrap() else {
        panic!("an unknown code signed in");
    };
    assert_eq!(ids(&f.ui), [4000016]);
    let LoginSubmission::Completed(done) = lookup_login(&k, &first, &codes[0]).await.unwrap()
    else {
        panic!("a backup code was refused");
    };
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
    let email = k
        .store()
        .get_identity(k.nid(), identity_id)
        .await
        .unwrap()
        .traits["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = password_login(&k, &email).await;
    let LoginSubmission::Retry(f) = lookup_login(&k, &second, &codes[0]).await.unwrap() else {
        panic!("a used code signed in");
    };
    assert_eq!(ids(&f.ui), [4000012]);

    // Reveal (on the aal2 session) shows the used code as used.
    let flow = k
        .settings()
        .create(FlowType::Api, &with_token(&token))
        .await
        .unwrap();
    let SettingsSubmission::Retry(shown) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "lookup_secret", "lookup_secret_reveal": true}),
    )
    .await
    .unwrap() else {
        panic!("reveal saved something");
    };
    let (text, context) = text_node(&shown.ui, "lookup_secret_codes");
    assert!(text.starts_with("used, "), "{text}");
    assert_eq!(context["secrets"][0]["id"], 1050014);
    assert_eq!(
        context["secrets"][1]["context"]["secret"],
        codes[1].as_str()
    );

    // Disable: the codes are gone, the identity is back at aal1.
    let done = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "lookup_secret", "lookup_secret_disable": true}),
    )
    .await
    .unwrap();
    assert!(matches!(done, SettingsSubmission::Completed(_)));
    let after = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    assert!(after.credential(CredentialType::LookupSecret).is_none());
    assert_eq!(k.available_aal(&after), Aal::Aal1);
}

pub async fn mfa_concurrent_use_of_one_backup_code_one_session(store: Arc<dyn Persister>) {
    let (k, _clock) = mfa_kratos(store, "");
    let (identity_id, token) = signed_in(&k).await;
    let codes = set_up_codes(&k, &token).await;
    let email = k
        .store()
        .get_identity(k.nid(), identity_id)
        .await
        .unwrap()
        .traits["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sessions = Vec::new();
    // Fewer than the lockout limit: every attempt is a failure but one.
    for _ in 0..4 {
        sessions.push(password_login(&k, &email).await);
    }
    let mut flows = Vec::new();
    for s in &sessions {
        flows.push((aal2_flow(&k, s).await.id, s.clone()));
    }
    let tasks: Vec<_> = flows
        .into_iter()
        .map(|(flow, session)| {
            let k = k.clone();
            let code = codes[3].clone();
            tokio::spawn(async move {
                k.login()
                    .submit(
                        flow,
                        &json!({"method": "lookup_secret", "lookup_secret": code}),
                        &with_token(&session),
                    )
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            LoginSubmission::Completed(_) => won += 1,
            LoginSubmission::Retry(f) => assert_eq!(ids(&f.ui), [4000012]),
        }
    }
    assert_eq!(won, 1, "exactly one login with one backup code");
}

pub async fn mfa_second_factor_of_a_method_that_is_off_asks_for_no_step_up(
    store: Arc<dyn Persister>,
) {
    // TOTP set up while the method was on...
    let (on, clock) = mfa_kratos(store.clone(), "");
    let (identity_id, linking) = signed_in(&on).await;
    link_totp(&on, &clock, &linking).await;
    let token = another_session(&on, identity_id).await;
    assert!(matches!(
        on.sessions().whoami(&token).await,
        Err(SessionError::Aal2Required)
    ));
    // ...and the method switched off: no flow could step up, so none is asked for.
    let off = super::kratos_with(store, "", Arc::new(clock.clone())).tenant(on.nid());
    let identity = off
        .store()
        .get_identity(off.nid(), identity_id)
        .await
        .unwrap();
    assert_eq!(off.available_aal(&identity), Aal::Aal1);
    off.sessions()
        .whoami(&token)
        .await
        .expect("no step-up without a second-factor method");
}

/// An imported security key (a `webauthn` credential) while this build offers no `webauthn`
/// method: TOTP and backup codes are on, yet no step-up is asked for that no flow can give;
/// once TOTP is set up too, it is.
pub async fn mfa_an_imported_security_key_without_its_method_asks_for_no_step_up(
    store: Arc<dyn Persister>,
) {
    let (k, clock) = mfa_kratos(store, "");
    let (identity_id, token) = signed_in(&k).await;
    let mut identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let now = crate::clock::truncate_micros(crate::Clock::now(&clock));
    identity.credentials.insert(
        CredentialType::Webauthn,
        crate::identity::Credentials {
            credential_type: CredentialType::Webauthn,
            identifiers: vec![],
            config: json!({"credentials": [{"id": "a2V5", "is_passwordless": false}]}),
            version: 0,
            created_at: now,
            updated_at: now,
        },
    );
    k.store().update_identity(k.nid(), &identity).await.unwrap();
    assert_eq!(k.available_aal(&identity), Aal::Aal1);
    k.sessions()
        .whoami(&token)
        .await
        .expect("no step-up for a key no method can check");
    let linking = another_session(&k, identity_id).await;
    link_totp(&k, &clock, &linking).await;
    assert!(matches!(
        k.sessions().whoami(&token).await,
        Err(SessionError::Aal2Required)
    ));
}

pub async fn mfa_code_as_second_factor(store: Arc<dyn Persister>) {
    let (k, outbox, _) = super::courier::kratos_with_outbox(
        store,
        "selfservice:\n  methods:\n    code:\n      mfa_enabled: true\n",
    );
    let (identity_id, token) = signed_in(&k).await;
    let identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let email = identity.traits["email"].as_str().unwrap().to_owned();
    // Every identity with a code address now has a second factor.
    assert_eq!(k.available_aal(&identity), Aal::Aal2);
    assert!(matches!(
        k.sessions().whoami(&token).await,
        Err(SessionError::Aal2Required)
    ));
    // A first-factor flow does not offer the code.
    let first = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    assert!(first.ui.nodes.iter().all(|n| n.group != "code"));

    // The aal2 flow offers one button per address, labelled 1010023 with its context.
    let flow = aal2_flow(&k, &token).await;
    let button = flow.ui.node("address").expect("an address button");
    let label = button.meta.label.as_ref().unwrap();
    assert_eq!(label.id, 1010023);
    assert_eq!(label.context.as_ref().unwrap()["address"], email.as_str());

    // A foreign address gets no code.
    let LoginSubmission::Retry(f) = k
        .login()
        .submit(
            flow.id,
            &json!({"address": "someone-else@example.com"}),
            &with_token(&token),
        )
        .await
        .unwrap()
    else {
        panic!("a foreign address stepped up");
    };
    assert_eq!(ids(&f.ui), [4010010]);
    assert!(outbox.last_to("someone-else@example.com").is_none());

    // The button (no `method`) sends the code; the code steps the session up.
    let LoginSubmission::Retry(sent) = k
        .login()
        .submit(flow.id, &json!({"address": email}), &with_token(&token))
        .await
        .unwrap()
    else {
        panic!("sending a code signed in");
    };
    assert!(sent.ui.node("code").is_some());
    let code = super::courier::code_from_outbox(&k, &outbox, &email).await;
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "code": code, "identifier": email}),
            &with_token(&token),
        )
        .await
        .unwrap();
    let LoginSubmission::Completed(done) = done else {
        panic!("the code was refused");
    };
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
    assert_eq!(
        done.session
            .authentication_methods
            .last()
            .map(|m| (m.method.as_str(), m.aal)),
        Some(("code", Aal::Aal2))
    );
    k.sessions().whoami(&token).await.expect("aal2 now");
}

pub async fn mfa_per_method_hooks_run_for_their_method(store: Arc<dyn Persister>) {
    let (k, clock) = mfa_kratos(
        store,
        "  flows:\n    login:\n      after:\n        totp:\n          hooks: [{hook: revoke_active_sessions}]\n",
    );
    let (identity_id, token) = signed_in(&k).await;
    let key = link_totp(&k, &clock, &token).await;
    let email = k
        .store()
        .get_identity(k.nid(), identity_id)
        .await
        .unwrap()
        .traits["email"]
        .as_str()
        .unwrap()
        .to_owned();
    // A password login does not run the totp hooks: every session lives.
    let stepping = password_login(&k, &email).await;
    let other = password_login(&k, &email).await;
    let aal1 = crate::session::RequiredAal::Aal1;
    for s in [&token, &stepping, &other] {
        k.sessions().whoami_with(s, aal1).await.expect("alive");
    }
    // The TOTP step-up runs them: the other sessions are revoked, this one lives.
    clock.advance(Duration::seconds(30));
    let flow = aal2_flow(&k, &stepping).await;
    let code = key.code_at(clock.now_unix());
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "totp", "totp_code": *code}),
            &with_token(&stepping),
        )
        .await
        .unwrap();
    assert!(matches!(done, LoginSubmission::Completed(_)));
    k.sessions()
        .whoami(&stepping)
        .await
        .expect("the stepped-up session lives");
    for s in [&token, &other] {
        assert!(matches!(
            k.sessions().whoami_with(s, aal1).await,
            Err(SessionError::Inactive)
        ));
    }
}

pub async fn mfa_partly_enabled_second_factors_agree_between_login_and_whoami(
    store: Arc<dyn Persister>,
) {
    // TOTP linked while it was on; now only lookup secrets are on.
    let (on, clock) = mfa_kratos(store.clone(), "");
    let (identity_id, token) = signed_in(&on).await;
    link_totp(&on, &clock, &token).await;
    let lookup_only = super::kratos_with(
        store,
        "selfservice:\n  methods:\n    lookup_secret:\n      enabled: true\n",
        Arc::new(clock.clone()),
    )
    .tenant(on.nid());
    let identity = lookup_only
        .store()
        .get_identity(lookup_only.nid(), identity_id)
        .await
        .unwrap();
    assert_eq!(lookup_only.available_aal(&identity), Aal::Aal1);
    let email = identity.traits["email"].as_str().unwrap().to_owned();
    let fresh = password_login(&lookup_only, &email).await;
    lookup_only
        .sessions()
        .whoami(&fresh)
        .await
        .expect("no step-up that no enabled method could give");
}

pub async fn mfa_backup_codes_in_kratos_plaintext_shape_still_work(store: Arc<dyn Persister>) {
    let (k, _clock) = mfa_kratos(store, "");
    let (identity_id, _) = signed_in(&k).await;
    // A credential as an earlier version stored Kratos's import: plaintext codes.
    let mut identity = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let now = Utc::now();
    identity.credentials.insert(
        CredentialType::LookupSecret,
        crate::identity::Credentials {
            credential_type: CredentialType::LookupSecret,
            identifiers: vec![identity_id.to_string()],
            config: json!({"recovery_codes": [{"code": "abcd1234"}, {"code": "wxyz6789"}]}),
            version: 0,
            created_at: now,
            updated_at: now,
        },
    );
    k.store().update_identity(k.nid(), &identity).await.unwrap();
    let email = identity.traits["email"].as_str().unwrap().to_owned();
    let token = password_login(&k, &email).await;
    let LoginSubmission::Completed(done) = lookup_login(&k, &token, "abcd1234").await.unwrap()
    else {
        panic!("a plaintext-stored code was refused");
    };
    assert_eq!(done.session.authenticator_assurance_level, Aal::Aal2);
    // The credential is stored sealed from then on.
    let after = k.store().get_identity(k.nid(), identity_id).await.unwrap();
    let config = after
        .credential(CredentialType::LookupSecret)
        .unwrap()
        .config
        .to_string();
    assert!(
        !config.contains("abcd1234") && !config.contains("wxyz6789"),
        "{config}"
    );
}
