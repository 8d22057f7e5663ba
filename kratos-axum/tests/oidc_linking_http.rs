//! Account linking of the `oidc` method over HTTP against a local fake OpenID Provider
//! (kratos-test-peers' `FakeProvider`): a social sign-up whose email belongs to an existing
//! identity asks to sign in to it (`confirm_with_existing_credential`, Kratos's 1010016 form)
//! and links the provider once that identity's password is given; a wrong password or
//! another account links nothing; `automatic` links a verified address at once.

use axum::http::{Method, StatusCode};
use kratos_core::identity::{
    CreateIdentityBody, CredentialType, ImportCredentials, ImportPassword, ImportPasswordConfig,
};
use kratos_test_peers::Account;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::*;
mod oidc;
use oidc::*;

const PASSWORD: &str = "correct-horse-battery-staple-42";

/// Email from the claims; the email verified only when the provider says so.
const MAPPER: &str = "local claims = std.extVar('claims');\n\
{ identity: { traits: { email: claims.email },\n\
  verified_addresses: if std.objectHas(claims, 'email_verified') && claims.email_verified\n\
    then [{ via: 'email', value: claims.email }] else [] } }";

/// An app whose `fake` provider links accounts as `mode` says (a second provider, `github`,
/// shows how the other buttons are relabelled).
async fn app_with_mode(mode: &str) -> App {
    app_with(MAPPER, &format!("account_linking_mode: {mode}")).await
}

/// An identity with a password, made with the admin API.
async fn password_identity(app: &App, email: &str) -> Uuid {
    identity_with(app, email, false).await
}

/// An identity with a password whose email is verified (`verified`) or not.
async fn identity_with(app: &App, email: &str, verified: bool) -> Uuid {
    let addresses = verified.then(|| {
        vec![kratos_core::identity::AddressImport {
            value: email.to_owned(),
            via: Some(kratos_core::identity::AddressVia::Email),
            verified: true,
            status: None,
            verified_at: None,
        }]
    });
    app.kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email}),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some(PASSWORD.to_owned()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            verifiable_addresses: addresses,
            ..Default::default()
        })
        .await
        .expect("the identity is created")
        .id
}

async fn login_flow(app: &App, id: &str, jar: &Jar) -> Value {
    let res = call(Method::GET, &format!("/self-service/login/flows?id={id}"))
        .json_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body
}

/// Submits a password to the login flow as a JSON client of the browser.
async fn submit_password(
    app: &App,
    flow: &Value,
    jar: &mut Jar,
    identifier: &str,
    password: &str,
) -> Res {
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()),
    )
    .json(json!({
        "method": "password",
        "identifier": identifier,
        "password": password,
        "csrf_token": csrf_of(flow),
    }))
    .json_accept()
    .jar(jar)
    .send(&app.public)
    .await;
    jar.absorb(&res);
    res
}

/// The `oidc` identifiers of an identity.
async fn oidc_identifiers(app: &App, id: Uuid) -> Vec<String> {
    app.kratos
        .identities()
        .get_with_credentials(id, &[CredentialType::Oidc])
        .await
        .unwrap()
        .credential(CredentialType::Oidc)
        .map(|c| c.identifiers.clone())
        .unwrap_or_default()
}

async fn identity_count(app: &App) -> usize {
    app.kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap()
        .identities
        .len()
}

fn nodes(flow: &Value) -> Vec<Value> {
    flow["ui"]["nodes"].as_array().cloned().unwrap_or_default()
}

/// The login flow a sign-up that collided was sent to: its id, from the login UI URL.
fn linking_flow_id(res: &Res) -> String {
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let to = res.location();
    assert!(to.starts_with(&format!("{LOGIN_UI}?")), "{to}");
    assert_eq!(query_param(to, "no_org_ui").as_deref(), Some("true"));
    query_param(to, "flow").expect("the login flow's id")
}

#[tokio::test]
async fn a_sign_up_with_an_existing_email_links_after_signing_in_with_the_password() {
    let app = app_with_mode("confirm_with_existing_credential").await;
    let email = "linda@example.org";
    let existing = password_identity(&app, email).await;
    let sub = app.fake.account(email).sub;

    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "registration", email, &mut jar).await;
    let flow_id = linking_flow_id(&res);
    // Nothing written: no new identity, no link, no session.
    assert_eq!(identity_count(&app).await, 1);
    assert!(oidc_identifiers(&app, existing).await.is_empty());
    assert_eq!(whoami(&app, &jar).await.status, StatusCode::UNAUTHORIZED);

    let flow = login_flow(&app, &flow_id, &jar).await;
    let messages = flow["ui"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], 1010016);
    assert_eq!(messages[0]["type"], "info");
    assert_eq!(
        messages[0]["text"],
        "You tried to sign in with \"linda@example.org\", but that email is already used by \
         another account. Sign in to your account with one of the options below to add your \
         account \"linda@example.org\" at \"Fake\" as another way to sign in."
    );
    assert_eq!(
        messages[0]["context"],
        json!({
            "duplicateIdentifier": email,
            "duplicate_identifier": email,
            "provider": "Fake",
            "newLoginUrl": LOGIN_UI,
            "new_login_url": LOGIN_UI,
            "available_credential_types": [],
            "available_providers": [],
        })
    );
    let nodes = nodes(&flow);
    let identifier = nodes
        .iter()
        .find(|n| n["attributes"]["name"] == "identifier")
        .expect("the identifier node");
    assert_eq!(identifier["attributes"]["type"], "hidden");
    assert_eq!(identifier["attributes"]["value"], email);
    // The provider used to get here is left out; the other one confirms.
    assert!(
        !nodes
            .iter()
            .any(|n| n["group"] == "oidc" && n["attributes"]["value"] == "fake"),
        "{nodes:?}"
    );
    let github = nodes
        .iter()
        .find(|n| n["group"] == "oidc" && n["attributes"]["value"] == "github")
        .expect("the other provider");
    assert_eq!(github["meta"]["label"]["id"], 1010018);
    assert_eq!(github["meta"]["label"]["text"], "Confirm with github");
    assert_eq!(
        github["meta"]["label"]["context"],
        json!({"provider": "github"})
    );
    let labels: Vec<&Value> = nodes.iter().map(|n| &n["meta"]["label"]["id"]).collect();
    // Only "Sign in" (1010001) and "Sign in with …" (1010002) are relabelled, as Kratos
    // does: the password button keeps its "Sign in with password" (1010022).
    assert!(labels.contains(&&json!(1010022)), "{labels:?}");
    assert!(!labels.contains(&&json!(1010001)), "{labels:?}");
    assert!(!labels.contains(&&json!(1010002)), "{labels:?}");
    // The same browser's CSRF token.
    assert!(!csrf_of(&flow).is_empty());

    // A wrong password: refused, nothing linked.
    let res = submit_password(&app, &flow, &mut jar, email, "not-the-password-at-all").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert!(res.message_ids().contains(&4000006), "{:?}", res.body);
    assert!(oidc_identifiers(&app, existing).await.is_empty());

    // The password: signed in to the existing identity, the provider linked.
    let res = submit_password(&app, &flow, &mut jar, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["session"]["identity"]["id"], existing.to_string());
    let methods = res.body["session"]["authentication_methods"]
        .as_array()
        .unwrap();
    assert_eq!(methods[0]["method"], "password");
    assert_eq!(methods[1]["method"], "oidc");
    assert_eq!(methods[1]["provider"], "fake");
    assert_eq!(
        oidc_identifiers(&app, existing).await,
        vec![format!("fake:{sub}")]
    );
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(existing, &[CredentialType::Oidc])
        .await
        .unwrap();
    let link = &stored.credential(CredentialType::Oidc).unwrap().config["providers"][0];
    assert_eq!(link["provider"], "fake");
    assert_eq!(link["subject"], sub.as_str());
    let sealed = link["initial_access_token"].as_str().unwrap();
    assert!(
        !sealed.is_empty() && app.kratos.cipher().decrypt(sealed).is_ok(),
        "the token is stored sealed"
    );
    assert_eq!(identity_count(&app).await, 1);

    // Afterwards the provider signs in to that identity, in a new browser.
    let mut other = Jar::default();
    let res = sign_with_fake(&app, "login", email, &mut other).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    let me = whoami(&app, &other).await;
    assert_eq!(me.body["identity"]["id"], existing.to_string());
    assert_eq!(identity_count(&app).await, 1);
}

#[tokio::test]
async fn signing_in_to_another_account_links_nothing() {
    let app = app_with_mode("confirm_with_existing_credential").await;
    let email = "mira@example.org";
    let owner = password_identity(&app, email).await;
    let stranger = password_identity(&app, "someone-else@example.org").await;

    let mut jar = Jar::default();
    // Starting from a login flow: handed over to registration, which finds the collision.
    let res = sign_with_fake(&app, "login", email, &mut jar).await;
    let flow_id = linking_flow_id(&res);
    let flow = login_flow(&app, &flow_id, &jar).await;

    let res = submit_password(&app, &flow, &mut jar, "someone-else@example.org", PASSWORD).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    let ids = res.message_ids();
    assert!(ids.contains(&4010009), "{ids:?}");
    assert_eq!(
        res.body["ui"]["messages"][0]["text"],
        "Linked credentials do not match."
    );
    assert_eq!(whoami(&app, &jar).await.status, StatusCode::UNAUTHORIZED);
    assert!(oidc_identifiers(&app, stranger).await.is_empty());
    assert!(oidc_identifiers(&app, owner).await.is_empty());

    // The owner may still confirm in the same flow.
    let flow = login_flow(&app, &flow_id, &jar).await;
    let res = submit_password(&app, &flow, &mut jar, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["session"]["identity"]["id"], owner.to_string());
    assert_eq!(oidc_identifiers(&app, owner).await.len(), 1);
    assert!(oidc_identifiers(&app, stranger).await.is_empty());
}

#[tokio::test]
async fn a_login_flow_without_a_pending_link_links_nothing() {
    let app = app_with_mode("confirm_with_existing_credential").await;
    let email = "nils@example.org";
    let id = password_identity(&app, email).await;
    let mut jar = Jar::default();
    let flow = browser_flow(&app, "login", &mut jar).await;
    let res = submit_password(&app, &flow, &mut jar, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let methods = res.body["session"]["authentication_methods"]
        .as_array()
        .unwrap();
    assert_eq!(methods.len(), 1);
    assert!(oidc_identifiers(&app, id).await.is_empty());
}

#[tokio::test]
async fn automatic_mode_links_a_verified_email_at_once() {
    let app = app_with_mode("automatic").await;
    let email = "olga@example.org";
    let existing = identity_with(&app, email, true).await;
    let sub = app.fake.account(email).sub;

    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "registration", email, &mut jar).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["identity"]["id"], existing.to_string());
    assert_eq!(me.body["authentication_methods"][0]["method"], "oidc");
    assert_eq!(
        oidc_identifiers(&app, existing).await,
        vec![format!("fake:{sub}")]
    );
    assert_eq!(identity_count(&app).await, 1);
}

#[tokio::test]
async fn automatic_mode_asks_for_the_existing_credential_when_the_email_is_not_verified() {
    let app = app_with_mode("automatic").await;
    let email = "pia@example.org";
    let existing = password_identity(&app, email).await;
    let account = Account {
        email_verified: false,
        ..app.fake.account(email)
    };
    app.fake.set_account(email, account);

    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "registration", email, &mut jar).await;
    let flow_id = linking_flow_id(&res);
    assert!(oidc_identifiers(&app, existing).await.is_empty());
    assert_eq!(whoami(&app, &jar).await.status, StatusCode::UNAUTHORIZED);
    let flow = login_flow(&app, &flow_id, &jar).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 1010016);
    let res = submit_password(&app, &flow, &mut jar, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(oidc_identifiers(&app, existing).await.len(), 1);
}

#[tokio::test]
async fn a_json_client_gets_the_login_flow_and_the_callback_is_used_once() {
    let app = app_with_mode("confirm_with_existing_credential").await;
    let email = "quinn@example.org";
    let existing = password_identity(&app, email).await;
    let mut jar = Jar::default();
    let flow = browser_flow(&app, "registration", &mut jar).await;
    let res = call(
        Method::POST,
        &format!(
            "/self-service/registration?flow={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .form(&[
        ("csrf_token", csrf_of(&flow).as_str()),
        ("provider", "fake"),
        ("upstream_parameters.login_hint", email),
    ])
    .jar(&jar)
    .send(&app.public)
    .await;
    let callback = app
        .fake
        .authorize(res.location())
        .await
        .unwrap()
        .to_string();

    let res = call(Method::GET, &path_of(&callback))
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["type"], "browser");
    assert!(
        res.body["ui"]["action"]
            .as_str()
            .unwrap()
            .contains("/self-service/login?flow="),
        "{:?}",
        res.body
    );
    assert_eq!(res.body["ui"]["messages"][0]["id"], 1010016);
    assert_eq!(
        csrf_of(&res.body),
        csrf_of(&flow),
        "the browser's CSRF token"
    );
    let login = res.body.clone();

    // The same callback again: its state was used.
    let again = call(Method::GET, &path_of(&callback))
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{:?}", again.body);
    assert_eq!(again.error_id(), "bad_request");

    let res = submit_password(&app, &login, &mut jar, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(oidc_identifiers(&app, existing).await.len(), 1);
}

#[tokio::test]
async fn automatic_mode_never_lands_in_an_account_whose_address_is_not_verified() {
    // Someone made an account with the address and never proved it: the provider's verified
    // email does not take the sign-in into it; the owner is asked for its credential.
    let app = app_with_mode("automatic").await;
    let email = "pat@example.org";
    let existing = password_identity(&app, email).await;
    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "registration", email, &mut jar).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(res.location().starts_with(LOGIN_UI), "{}", res.location());
    assert!(oidc_identifiers(&app, existing).await.is_empty());
    assert_eq!(whoami(&app, &jar).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_api_flow_cannot_borrow_someone_elses_address_to_reach_their_account() {
    // The attacker makes an api registration flow claiming the victim's email in the form
    // and signs in at the provider as themselves: the provider's email wins on an api flow
    // (no cookie binds its callback to the app), so nothing collides with the victim and
    // nothing gets linked to the victim's identity.
    let app = app_with_mode("confirm_with_existing_credential").await;
    let victim = password_identity(&app, "vic@example.org").await;
    let flow = call(Method::GET, "/self-service/registration/api")
        .json_accept()
        .send(&app.public)
        .await;
    let res = call(
        Method::POST,
        &format!(
            "/self-service/registration?flow={}",
            flow.body["id"].as_str().unwrap()
        ),
    )
    .json_accept()
    .json(json!({
        "method": "oidc", "provider": "fake",
        "traits": {"email": "vic@example.org"},
        "upstream_parameters": {"login_hint": "mallory"}
    }))
    .send(&app.public)
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.body
    );
    let to = res.body["redirect_browser_to"].as_str().unwrap().to_owned();
    let callback = app.fake.authorize(&to).await.unwrap();
    let mut browser = Jar::default();
    let res = come_back(&app, callback.as_str(), &mut browser, false).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(
        res.body["identity"]["traits"]["email"], "mallory@example.test",
        "the provider's address, not the form's"
    );
    assert!(oidc_identifiers(&app, victim).await.is_empty());
}
