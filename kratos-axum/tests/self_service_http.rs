//! HTTP tests of the public self-service API and the admin session API: every route's success
//! and failure statuses and bodies, the browser dance with cookies, api flows with tokens, and
//! the JSON (SPA) variants of browser flows.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use kratos_core::identity::{CreateIdentityBody, CredentialType, Credentials};
use kratos_core::{Kratos, ManualClock};
use serde_json::{Value, json};

mod common;
use common::*;

const BASE: &str = "https://auth.example.com";
const APP: &str = "https://app.example.com/";
const LOGIN_UI: &str = "https://app.example.com/login";
const REGISTRATION_UI: &str = "https://app.example.com/registration";
const SETTINGS_UI: &str = "https://app.example.com/settings";
const PASSWORD: &str = "a very good password 1234";

const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  methods:
    totp:
      enabled: true
  flows:
    login:
      ui_url: https://app.example.com/login
    settings:
      ui_url: https://app.example.com/settings
    registration:
      ui_url: https://app.example.com/registration
      after:
        password:
          hooks:
            - hook: session
";

struct TestApp {
    kratos: Kratos,
    public: Router,
    admin: Router,
    clock: Arc<ManualClock>,
}

fn app_with(yaml: &str) -> TestApp {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos_with(store, yaml, clock.clone());
    TestApp {
        public: kratos_axum::public_router(kratos.clone()),
        admin: kratos_axum::admin_router(kratos.clone()),
        kratos,
        clock,
    }
}

fn app() -> TestApp {
    app_with(CONFIG)
}

async fn create_identity(k: &Kratos, mail: &str) -> kratos_core::identity::Identity {
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": mail }),
            credentials: Some(kratos_core::identity::ImportCredentials {
                password: Some(kratos_core::identity::ImportPassword {
                    config: kratos_core::identity::ImportPasswordConfig {
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("identity")
}

/// Gives an identity a TOTP credential, so `highest_available` asks its sessions for aal2.
async fn add_totp(k: &Kratos, id: uuid::Uuid) {
    let mut identity = k.store().get_identity(k.nid(), id).await.unwrap();
    let now = chrono::Utc::now();
    identity.credentials.insert(
        CredentialType::Totp,
        Credentials {
            credential_type: CredentialType::Totp,
            identifiers: vec![id.to_string()],
            config: json!({"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}),
            version: 0,
            created_at: now,
            updated_at: now,
        },
    );
    k.store().update_identity(k.nid(), &identity).await.unwrap();
}

/// Logs in through an api flow; returns the session token and the session.
async fn api_login(app: &TestApp, mail: &str) -> (String, Value) {
    let flow = call(Method::GET, "/self-service/login/api")
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    let id = flow.body["id"].as_str().unwrap();
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    (
        res.body["session_token"].as_str().unwrap().to_owned(),
        res.body["session"].clone(),
    )
}

/// Starts a browser flow as an HTML client and fetches it; returns its id and CSRF token.
async fn browser_flow(app: &TestApp, jar: &mut Jar, kind: &str) -> (String, String) {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
        .html_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    let id = res.location().split("flow=").nth(1).unwrap().to_owned();
    let flow = call(Method::GET, &format!("/self-service/{kind}/flows?id={id}"))
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    (id, csrf_of(&flow.body))
}

#[tokio::test]
async fn browser_dance_registration_whoami_logout_login() {
    let app = app();
    let mut jar = Jar::default();
    let mail = email();

    // Init: 303 to the UI with the flow id, and the CSRF cookie.
    let res = call(Method::GET, "/self-service/registration/browser")
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.location()
            .starts_with(&format!("{REGISTRATION_UI}?flow="))
    );
    jar.absorb(&res);
    let csrf_cookie = kratos_axum::cookie::csrf_cookie_name(&app.kratos);
    assert!(jar.has(&csrf_cookie), "{:?}", res.set_cookies());
    assert!(csrf_cookie.starts_with("csrf_token_") && csrf_cookie.len() == 11 + 64);
    let set = res.set_cookies().join("\n");
    assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Lax"));
    let id = res.location().split("flow=").nth(1).unwrap().to_owned();

    // The UI fetches the flow with the browser's cookies and renders the CSRF node.
    let flow = call(
        Method::GET,
        &format!("/self-service/registration/flows?id={id}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(flow.status, StatusCode::OK);
    assert_eq!(flow.body["type"], "browser");
    let csrf = csrf_of(&flow.body);

    // The form posts: 303 to the return URL, with the session cookie.
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[
        ("csrf_token", &csrf),
        ("method", "password"),
        ("traits.email", &mail),
        ("password", PASSWORD),
    ])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    let session_set = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("ory_kratos_session="))
        .expect("session cookie");
    assert!(session_set.contains("HttpOnly") && session_set.contains("Max-Age="));
    assert!(!session_set.contains("ory_st_"), "the token is sealed");
    jar.absorb(&res);

    // whoami through the cookie.
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["identity"]["traits"]["email"], json!(mail));
    assert_eq!(
        me.headers["x-kratos-authenticated-identity-id"],
        me.body["identity"]["id"].as_str().unwrap()
    );
    assert!(me.body["identity"].get("credentials").is_none());

    // Logout URL, then logout: 303 to the return URL, the session cookie removed.
    let lo = call(Method::GET, "/self-service/logout/browser")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(lo.status, StatusCode::OK);
    let logout_url = lo.body["logout_url"].as_str().unwrap();
    assert!(logout_url.starts_with(&format!("{BASE}/self-service/logout?token=ory_lo_")));
    assert!(
        lo.body["logout_token"]
            .as_str()
            .unwrap()
            .starts_with("ory_lo_")
    );
    let path = logout_url.strip_prefix(BASE).unwrap();
    let before = jar.clone();
    let res = call(Method::GET, path)
        .html_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), APP);
    jar.absorb(&res);
    assert!(!jar.has("ory_kratos_session"));
    // The old cookie no longer works.
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&before)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.error_id(), "session_inactive");

    // Login again with the browser form.
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    jar.absorb(&res);
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // With a session, starting a login or registration sends the browser back.
    for kind in ["login", "registration"] {
        let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
            .html_accept()
            .jar(&jar)
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), APP);
        let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
            .json_accept()
            .jar(&jar)
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.error_id(), "session_already_available");
    }
}

#[tokio::test]
async fn browser_validation_errors_go_back_to_the_ui_or_answer_400() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("method", "password"),
        ("identifier", mail.as_str()),
        ("password", "wrong password!!"),
    ];
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&form)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), format!("{LOGIN_UI}?flow={id}"));
    assert!(res.set_cookies().is_empty());
    // The same as a JSON client: 400 with the flow and its message.
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .json_accept()
        .jar(&jar)
        .form(&form)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["id"], id);
    assert_eq!(res.body["ui"]["messages"][0]["id"], 4000006);

    // Registration with an invalid email: back to the registration UI.
    let (id, csrf) = browser_flow(&app, &mut jar, "registration").await;
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[
        ("csrf_token", &csrf),
        ("method", "password"),
        ("traits.email", "not-an-email"),
        ("password", PASSWORD),
    ])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), format!("{REGISTRATION_UI}?flow={id}"));
}

#[tokio::test]
async fn spa_login_gets_json_with_the_cookie() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let res = call(
        Method::GET,
        "/self-service/login/browser?return_to=https://app.example.com/after",
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["type"], "browser");
    assert_eq!(res.body["return_to"], "https://app.example.com/after");
    jar.absorb(&res);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&res.body);

    // The CSRF token in the X-CSRF-Token header, the body as JSON.
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(&jar)
        .header("x-csrf-token", &csrf)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert!(res.body.get("session_token").is_none());
    assert_eq!(
        res.body["session"]["identity"]["traits"]["email"],
        json!(mail)
    );
    assert_eq!(
        res.body["continue_with"],
        json!([{"action": "redirect_browser_to", "redirect_browser_to": "https://app.example.com/after"}])
    );
    jar.absorb(&res);
    assert!(jar.has("ory_kratos_session"));
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // A completed flow cannot be submitted again.
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(&jar)
        .header("x-csrf-token", &csrf)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}))
        .send(&app.public)
        .await;
    assert_eq!(
        res.status,
        StatusCode::FORBIDDEN,
        "the CSRF cookie was renewed at sign-in"
    );
}

#[tokio::test]
async fn spa_registration_answers_identity_and_session() {
    let app = app();
    let mail = email();
    let mut jar = Jar::default();
    let res = call(Method::GET, "/self-service/registration/browser")
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    jar.absorb(&res);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&res.body);
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .jar(&jar)
    .json(json!({"method": "password", "csrf_token": csrf, "traits": {"email": mail}, "password": PASSWORD}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["identity"]["traits"]["email"], json!(mail));
    assert!(res.body["identity"].get("credentials").is_none());
    assert!(res.body["session"]["id"].is_string());
    assert!(res.body.get("session_token").is_none());
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with("ory_kratos_session="))
    );
}

#[tokio::test]
async fn expired_flows_answer_410_or_redirect_to_a_fresh_flow() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    app.clock.advance(chrono::Duration::hours(2));
    let body =
        json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": csrf});

    // SPA: 410 with the fresh flow's id beside the error.
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .json_accept()
        .jar(&jar)
        .json(body.clone())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::GONE);
    assert_eq!(res.error_id(), "self_service_flow_expired");
    let fresh = res.body["use_flow_id"].as_str().unwrap().to_owned();
    assert_ne!(fresh, id);
    assert!(res.body["expired_at"].is_string());
    jar.absorb(&res);
    // The fresh flow belongs to this browser: it can be fetched and submitted.
    let flow = call(
        Method::GET,
        &format!("/self-service/login/flows?id={fresh}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    let res = call(Method::POST, &format!("/self-service/login?flow={fresh}"))
        .json_accept()
        .jar(&jar)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": csrf_of(&flow.body)}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    // HTML: 303 to the UI with a fresh flow.
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    app.clock.advance(chrono::Duration::hours(2));
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with(&format!("{LOGIN_UI}?flow=")));
    assert!(!res.location().ends_with(&id));

    // Fetching an expired flow: 410.
    let (id, _) = browser_flow(&app, &mut jar, "registration").await;
    app.clock.advance(chrono::Duration::hours(2));
    let res = call(
        Method::GET,
        &format!("/self-service/registration/flows?id={id}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body["use_flow_id"].is_string());
}

#[tokio::test]
async fn spa_login_of_an_identity_with_a_second_factor_needs_a_location_change() {
    let app = app();
    let mail = email();
    let identity = create_identity(&app.kratos, &mail).await;
    add_totp(&app.kratos, identity.id).await;
    let mut jar = Jar::default();
    let res = call(Method::GET, "/self-service/login/browser")
        .json_accept()
        .send(&app.public)
        .await;
    jar.absorb(&res);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(&jar)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": csrf_of(&res.body)}))
        .send(&app.public)
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.body
    );
    assert_eq!(res.error_id(), "browser_location_change_required");
    assert_eq!(
        res.body["redirect_browser_to"],
        format!("{BASE}/self-service/login/browser?aal=aal2")
    );
    jar.absorb(&res);
    // The aal1 session exists, but whoami asks for the second factor.
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    assert_eq!(me.error_id(), "session_aal2_required");
    assert_eq!(
        me.body["redirect_browser_to"],
        format!("{BASE}/self-service/login/browser?aal=aal2")
    );

    // An HTML client is redirected there.
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.location(),
        format!("{BASE}/self-service/login/browser?aal=aal2")
    );
}

#[tokio::test]
async fn csrf_is_enforced_with_cookie_and_token() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let uri = format!("/self-service/login?flow={id}");
    let good =
        json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": csrf});

    // No cookie: 403 (and the flow cannot be fetched either).
    let res = call(Method::POST, &uri)
        .json_accept()
        .json(good.clone())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error_id(), "security_csrf_violation");
    let res = call(Method::GET, &format!("/self-service/login/flows?id={id}"))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error_id(), "security_csrf_violation");

    // A cookie of another browser's flow: 403.
    let mut other = Jar::default();
    browser_flow(&app, &mut other, "login").await;
    let res = call(Method::POST, &uri)
        .json_accept()
        .jar(&other)
        .json(good.clone())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // A forged cookie: 403, not 500.
    let name = kratos_axum::cookie::csrf_cookie_name(&app.kratos);
    let res = call(Method::POST, &uri)
        .json_accept()
        .header(
            "cookie",
            &format!("{name}=Zm9yZ2VkLWNvb2tpZS12YWx1ZS10aGF0LWlzLWxvbmctZW5vdWdoLXRvLXBhcnNl"),
        )
        .json(good.clone())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The right cookie without the token, or with a wrong one: 403.
    for body in [
        json!({"method": "password", "identifier": mail, "password": PASSWORD}),
        json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": "wrong"}),
    ] {
        let res = call(Method::POST, &uri)
            .json_accept()
            .jar(&jar)
            .json(body)
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{:?}", res.body);
        assert_eq!(res.error_id(), "security_csrf_violation");
    }
    // An HTML client gets the error as JSON too (no error UI store).
    let res = call(Method::POST, &uri)
        .html_accept()
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Cookie and token together: signed in.
    let res = call(Method::POST, &uri)
        .json_accept()
        .jar(&jar)
        .json(good)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn api_flows_use_tokens_and_refuse_browsers() {
    let app = app();
    let mail = email();

    // Registration through the api: session token, session and identity.
    let flow = call(Method::GET, "/self-service/registration/api")
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK);
    assert_eq!(flow.body["type"], "api");
    assert!(flow.set_cookies().is_empty());
    assert!(
        flow.body["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["attributes"]["name"] != "csrf_token")
    );
    let id = flow.body["id"].as_str().unwrap();
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .json(json!({"method": "password", "traits": {"email": mail}, "password": PASSWORD}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let token = res.body["session_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ory_st_"));
    assert_eq!(res.body["identity"]["traits"]["email"], json!(mail));
    assert_eq!(
        res.body["continue_with"][0]["action"],
        "set_ory_session_token"
    );
    assert!(res.set_cookies().is_empty());

    // whoami with the token in X-Session-Token or Authorization: Bearer.
    for (h, v) in [
        ("x-session-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
    ] {
        let me = call(Method::GET, "/sessions/whoami")
            .header(h, &v)
            .send(&app.public)
            .await;
        assert_eq!(me.status, StatusCode::OK);
    }

    // Login through the api.
    let (login_token, session) = api_login(&app, &mail).await;
    assert!(login_token.starts_with("ory_st_"));
    assert_eq!(session["authenticator_assurance_level"], "aal1");

    // With a session, a new api login flow is refused; refresh is allowed.
    let res = call(Method::GET, "/self-service/login/api")
        .header("x-session-token", &login_token)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.error_id(), "session_already_available");
    let res = call(Method::GET, "/self-service/login/api?refresh=true")
        .header("x-session-token", &login_token)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["refresh"], true);

    // Validation errors: 400 with the flow.
    let flow = call(Method::GET, "/self-service/login/api")
        .send(&app.public)
        .await;
    let id = flow.body["id"].as_str().unwrap();
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .json(json!({"method": "password", "identifier": mail, "password": "nope nope nope"}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["ui"]["messages"][0]["id"], 4000006);

    // Browsers are refused on api flows: an Origin header or cookies, at init and submit.
    for path in ["/self-service/login/api", "/self-service/registration/api"] {
        let res = call(Method::GET, path)
            .header("origin", "https://evil.example")
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        let res = call(Method::GET, path)
            .header("cookie", "session=1")
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        let res = call(Method::GET, path)
            .header("cookie", "__cf_bm=1; _cfuvid=2; cf_clearance=3")
            .send(&app.public)
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "Cloudflare's cookies are not a browser sign"
        );
    }
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .header("origin", "https://evil.example")
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn whoami_token_order_and_failures() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let (token, _) = api_login(&app, &mail).await;

    let res = call(Method::GET, "/sessions/whoami")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_inactive");
    assert_eq!(res.body["error"]["code"], 401);

    let res = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", "ory_st_unknown")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // A forged session cookie is no session: 401, not 500.
    for forged in ["garbage", "", "AAAA", &"A".repeat(200)] {
        let res = call(Method::GET, "/sessions/whoami")
            .header("cookie", &format!("ory_kratos_session={forged}"))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{forged}");
    }
    // A forged cookie does not hide a bearer token behind it.
    let res = call(Method::GET, "/sessions/whoami")
        .header("cookie", "ory_kratos_session=garbage")
        .header("authorization", &format!("bearer {token}"))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);

    // The header comes first: a wrong header token wins over a good cookie.
    let cookie = kratos_axum::cookie::session_cookie(
        &app.kratos,
        &token,
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    let pair = cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = call(Method::GET, "/sessions/whoami")
        .header("cookie", &pair)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = call(Method::GET, "/sessions/whoami")
        .header("cookie", &pair)
        .header("x-session-token", "ory_st_wrong")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_secret_rotation_keeps_sessions() {
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let build = |secrets: &str| {
        let config = kratos_core::Config::from_yaml_str(&format!(
            "secrets:\n  cookie: {secrets}\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\nselfservice:\n  flows:\n    login:\n      ui_url: {LOGIN_UI}\n"
        ))
        .unwrap();
        Kratos::builder(kratos_core::testsuite::without_hibp(config))
            .store(store.clone())
            .schema(kratos_core::testsuite::test_schema())
            .build()
            .unwrap()
    };
    let old = build("[\"old-cookie-secret-0123456789\"]");
    let mail = email();
    create_identity(&old, &mail).await;
    let app = TestApp {
        public: kratos_axum::public_router(old.clone()),
        admin: kratos_axum::admin_router(old.clone()),
        kratos: old.clone(),
        clock: Arc::new(ManualClock::new(chrono::Utc::now())),
    };
    // A browser signs in under the old secret.
    let mut jar = Jar::default();
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);

    // A new secret is prepended: the old cookie still opens.
    let rotated = kratos_axum::public_router(build(
        "[\"new-cookie-secret-0123456789\", \"old-cookie-secret-0123456789\"]",
    ));
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&rotated)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // Once the old secret is dropped, the cookie is no session (401, not 500).
    let dropped = kratos_axum::public_router(build("[\"new-cookie-secret-0123456789\"]"));
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&dropped)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let _ = &app.admin;
}

#[tokio::test]
async fn logout_routes() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;

    let res = call(Method::GET, "/self-service/logout/browser")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_inactive");

    // AJAX logout: 204, the cookie removed.
    let (token, _) = api_login(&app, &mail).await;
    let lo = call(
        Method::GET,
        "/self-service/logout/browser?return_to=https://app.example.com/bye",
    )
    .header("x-session-token", &token)
    .send(&app.public)
    .await;
    assert_eq!(lo.status, StatusCode::OK);
    let logout_token = lo.body["logout_token"].as_str().unwrap().to_owned();
    assert!(
        lo.body["logout_url"]
            .as_str()
            .unwrap()
            .contains("return_to=https%3A%2F%2Fapp.example.com%2Fbye")
    );
    let res = call(
        Method::GET,
        &format!("/self-service/logout?token={logout_token}"),
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with("ory_kratos_session=;") && c.contains("Max-Age=0"))
    );
    // The token is spent.
    let res = call(
        Method::GET,
        &format!("/self-service/logout?token={logout_token}"),
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Unknown and missing tokens.
    let res = call(Method::GET, "/self-service/logout?token=ory_lo_nope")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = call(Method::GET, "/self-service/logout")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // HTML logout with return_to: 303 there; a forbidden return_to is 400.
    let (token, _) = api_login(&app, &mail).await;
    let lo = call(Method::GET, "/self-service/logout/browser")
        .header("x-session-token", &token)
        .send(&app.public)
        .await;
    let logout_token = lo.body["logout_token"].as_str().unwrap().to_owned();
    let res = call(
        Method::GET,
        &format!("/self-service/logout?token={logout_token}&return_to=https://evil.example/"),
    )
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.error_id(), "self_service_flow_return_to_forbidden");
    let res = call(
        Method::GET,
        &format!("/self-service/logout?token={logout_token}&return_to=https://app.example.com/bye"),
    )
    .html_accept()
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "https://app.example.com/bye");
    let res = call(
        Method::GET,
        "/self-service/logout/browser?return_to=https://evil.example/",
    )
    .header("x-session-token", &api_login(&app, &mail).await.0)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Api logout.
    let (token, _) = api_login(&app, &mail).await;
    let res = call(Method::DELETE, "/self-service/logout/api")
        .json(json!({"session_token": token}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let me = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", &token)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let res = call(Method::DELETE, "/self-service/logout/api")
        .json(json!({"session_token": "ory_st_unknown"}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = call(Method::DELETE, "/self-service/logout/api")
        .json(json!({}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(Method::DELETE, "/self-service/logout/api")
        .raw("application/json", "{nope".into())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn own_sessions_list_and_revoke() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let (a, sa) = api_login(&app, &mail).await;
    let (_b, sb) = api_login(&app, &mail).await;
    let (_c, sc) = api_login(&app, &mail).await;
    let other = email();
    create_identity(&app.kratos, &other).await;
    let (_, so) = api_login(&app, &other).await;

    let res = call(Method::GET, "/sessions").send(&app.public).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = call(Method::GET, "/sessions")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let ids: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&sa["id"].as_str().unwrap()));
    // Pagination.
    let res = call(Method::GET, "/sessions?page_size=1")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.body.as_array().unwrap().len(), 1);
    let link = res.headers[header::LINK].to_str().unwrap().to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let res2 = call(Method::GET, &next)
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res2.body.as_array().unwrap().len(), 1);
    assert_ne!(res.body[0]["id"], res2.body[0]["id"]);
    assert!(res2.headers.get(header::LINK).is_none());
    let res = call(Method::GET, "/sessions?page_size=0")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Revoke one: not the current one, not someone else's.
    let me = sa["id"].as_str().unwrap();
    let res = call(Method::DELETE, &format!("/sessions/{me}"))
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let theirs = so["id"].as_str().unwrap();
    let res = call(Method::DELETE, &format!("/sessions/{theirs}"))
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(
        Method::DELETE,
        &format!("/sessions/{}", uuid::Uuid::new_v4()),
    )
    .header("x-session-token", &a)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::DELETE, "/sessions/not-a-uuid")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(
        Method::DELETE,
        &format!("/sessions/{}", sb["id"].as_str().unwrap()),
    )
    .header("x-session-token", &a)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = call(
        Method::DELETE,
        &format!("/sessions/{}", sb["id"].as_str().unwrap()),
    )
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Revoke all others: the count.
    let res = call(Method::DELETE, "/sessions")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, json!({"count": 1}));
    let _ = sc;
    let res = call(Method::GET, "/sessions")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(res.body, json!([]));
    let me = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", &a)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let res = call(Method::DELETE, "/sessions").send(&app.public).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_sessions() {
    let app = app();
    let mail = email();
    let identity = create_identity(&app.kratos, &mail).await;
    let (token, session) = api_login(&app, &mail).await;
    let sid = session["id"].as_str().unwrap();

    let res = call(Method::GET, &format!("/admin/sessions/{sid}"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["id"], sid);
    assert!(res.body.get("identity").is_none() && res.body.get("devices").is_none());
    let res = call(
        Method::GET,
        &format!("/admin/sessions/{sid}?expand=identity&expand=devices"),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.body["identity"]["id"], identity.id.to_string());
    assert!(res.body["devices"].is_array());
    let res = call(
        Method::GET,
        &format!("/admin/sessions/{sid}?expand=everything"),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(
        Method::GET,
        &format!("/admin/sessions/{}", uuid::Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_id(), "not_found");
    let res = call(Method::GET, "/admin/sessions/nope")
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Extend.
    app.clock.advance(chrono::Duration::hours(1));
    let res = call(Method::PATCH, &format!("/admin/sessions/{sid}/extend"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["expires_at"].as_str().unwrap() > session["expires_at"].as_str().unwrap());
    let res = call(
        Method::PATCH,
        &format!("/admin/sessions/{}/extend", uuid::Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Per identity.
    let (_token2, _) = api_login(&app, &mail).await;
    let path = format!("/admin/identities/{}/sessions", identity.id);
    let res = call(Method::GET, &path).send(&app.admin).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.as_array().unwrap().len(), 2);
    let res = call(
        Method::GET,
        &format!("/admin/identities/{}/sessions", uuid::Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::GET, &format!("{path}?active=maybe"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Disable one: whoami stops working; it is listed as inactive; extend is 404.
    let res = call(Method::DELETE, &format!("/admin/sessions/{sid}"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let me = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", &token)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let res = call(Method::GET, &format!("{path}?active=false"))
        .send(&app.admin)
        .await;
    assert_eq!(res.body.as_array().unwrap().len(), 1);
    assert_eq!(res.body[0]["id"], sid);
    let res = call(Method::GET, &format!("{path}?active=true"))
        .send(&app.admin)
        .await;
    assert_eq!(res.body.as_array().unwrap().len(), 1);
    let res = call(Method::PATCH, &format!("/admin/sessions/{sid}/extend"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(
        Method::DELETE,
        &format!("/admin/sessions/{}", uuid::Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Delete all of the identity's sessions.
    let res = call(Method::DELETE, &path).send(&app.admin).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = call(Method::GET, &format!("{path}?active=true"))
        .send(&app.admin)
        .await;
    assert_eq!(res.body, json!([]));
    let res = call(
        Method::DELETE,
        &format!("/admin/identities/{}/sessions", uuid::Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_gets_kratos_errors_not_500() {
    let app = app();
    let flow = call(Method::GET, "/self-service/login/api")
        .send(&app.public)
        .await;
    let id = flow.body["id"].as_str().unwrap().to_owned();
    let uri = format!("/self-service/login?flow={id}");

    let res = call(Method::POST, &uri)
        .raw("application/json", "{\"method\":".into())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.error_id(), "bad_request");
    let res = call(Method::POST, &uri)
        .raw("application/json", "[1,2]".into())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(Method::POST, &uri)
        .raw("text/plain", "hello".into())
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.body["error"]["code"], 415);
    let res = call(Method::POST, &uri).send(&app.public).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = call(Method::POST, &uri)
        .json(json!({"method": "password", "identifier": 5, "password": ["x"]}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Oversized bodies: 413 with a JSON error.
    let big =
        json!({"method": "password", "identifier": "x".repeat(kratos_axum::DEFAULT_BODY_LIMIT)});
    let res = call(Method::POST, &uri).json(big).send(&app.public).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.body["error"]["code"], 413);
    let small = kratos_axum::public_router_with(
        app.kratos.clone(),
        kratos_axum::PublicOptions::default().body_limit(64),
    );
    let res = call(Method::POST, &uri)
        .json(json!({"method": "password", "identifier": "a-rather-long-identifier@example.com", "password": PASSWORD}))
        .send(&small)
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Unknown, malformed and missing flow ids.
    for kind in ["login", "registration"] {
        let res = call(
            Method::GET,
            &format!("/self-service/{kind}/flows?id={}", uuid::Uuid::new_v4()),
        )
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.error_id(), "not_found");
        let res = call(Method::GET, &format!("/self-service/{kind}/flows?id=nope"))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let res = call(Method::GET, &format!("/self-service/{kind}/flows"))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        let res = call(
            Method::POST,
            &format!("/self-service/{kind}?flow={}", uuid::Uuid::new_v4()),
        )
        .json(json!({"method": "password"}))
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let res = call(Method::POST, &format!("/self-service/{kind}"))
            .json(json!({}))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        // A login flow id is not a registration flow.
        let other = if kind == "login" {
            "registration"
        } else {
            "login"
        };
        let f = call(Method::GET, &format!("/self-service/{other}/api"))
            .send(&app.public)
            .await;
        let res = call(
            Method::GET,
            &format!(
                "/self-service/{kind}/flows?id={}",
                f.body["id"].as_str().unwrap()
            ),
        )
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }

    // Open redirects.
    for path in [
        "/self-service/login/browser?return_to=https://evil.example/",
        "/self-service/login/api?return_to=https://evil.example/",
        "/self-service/registration/browser?return_to=//evil.example/",
        "/self-service/registration/api?return_to=https://app.example.com.evil.example/",
    ] {
        let res = call(Method::GET, path)
            .html_accept()
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            res.error_id(),
            "self_service_flow_return_to_forbidden",
            "{path}"
        );
    }
    let res = call(
        Method::GET,
        "/self-service/login/browser?return_to=/dashboard",
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["return_to"], "https://app.example.com/dashboard");

    // Unknown levels, and aal2 without a session.
    let res = call(Method::GET, "/self-service/login/api?aal=aal9")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(Method::GET, "/self-service/login/api?aal=aal2")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_aal1_required");
}

#[tokio::test]
async fn without_ui_urls_browsers_get_the_flow_json() {
    let app = app_with(
        "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks:\n            - hook: session\n",
    );
    let res = call(Method::GET, "/self-service/login/browser")
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["type"], "browser");
    assert!(!res.set_cookies().is_empty());
    // Form submission with validation errors: 400 with the flow.
    let mut jar = Jar::default();
    jar.absorb(&res);
    let id = res.body["id"].as_str().unwrap();
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf_of(&res.body)),
            ("method", "password"),
            ("identifier", "x@example.com"),
            ("password", "whatever-password"),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["id"], id);
}

#[tokio::test]
async fn csrf_cookie_is_renewed_for_new_sessions_but_not_refreshes() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (before, _) = browser_flow(&app, &mut jar, "registration").await;
    let (id, csrf) = browser_flow(&app, &mut jar, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", &mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    jar.absorb(&res);
    // A flow handed out before sign-in is no longer vouched for.
    let res = call(
        Method::GET,
        &format!("/self-service/registration/flows?id={before}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Re-authentication keeps the session and the CSRF cookie: other flows stay usable.
    let start = |jar: &Jar| {
        call(Method::GET, "/self-service/login/browser?refresh=true")
            .json_accept()
            .jar(jar)
    };
    let first = start(&jar).send(&app.public).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["refresh"], true);
    jar.absorb(&first);
    let second = start(&jar).send(&app.public).await;
    jar.absorb(&second);
    let res = call(Method::POST, &format!("/self-service/login?flow={}", first.body["id"].as_str().unwrap()))
        .jar(&jar)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD, "csrf_token": csrf_of(&first.body)}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert!(
        !res.set_cookies()
            .iter()
            .any(|c| c.starts_with("csrf_token_"))
    );
    jar.absorb(&res);
    let res = call(
        Method::GET,
        &format!(
            "/self-service/login/flows?id={}",
            second.body["id"].as_str().unwrap()
        ),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = call(Method::GET, "/sessions/whoami?tokenize_as=jwt")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

/// Signs a browser in through the login form; the jar then holds the session cookie.
async fn browser_login(app: &TestApp, jar: &mut Jar, mail: &str) {
    let (id, csrf) = browser_flow(app, jar, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .jar(jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("identifier", mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
}

#[tokio::test]
async fn settings_browser_spa_and_api() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;

    // Without a session: HTML to the login UI, JSON and api 401.
    let res = call(Method::GET, "/self-service/settings/browser")
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), LOGIN_UI);
    let res = call(Method::GET, "/self-service/settings/browser")
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_inactive");
    let res = call(Method::GET, "/self-service/settings/api")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Browser: init to the UI, fetch, save the profile from a form.
    let mut jar = Jar::default();
    browser_login(&app, &mut jar, &mail).await;
    let res = call(Method::GET, "/self-service/settings/browser")
        .html_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(res.location().starts_with(&format!("{SETTINGS_UI}?flow=")));
    jar.absorb(&res);
    let id = res.location().split("flow=").nth(1).unwrap().to_owned();
    let flow = call(
        Method::GET,
        &format!("/self-service/settings/flows?id={id}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    assert_eq!(flow.body["identity"]["traits"]["email"], json!(mail));
    let csrf = csrf_of(&flow.body);
    let new_mail = email();
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "profile"),
            ("traits.email", &new_mail),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.body["identity"]["traits"]["email"], json!(new_mail));
    // Without the CSRF cookie: 403.
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .json_accept()
        .header("x-session-token", "unused")
        .json(json!({"csrf_token": csrf, "method": "profile", "traits": {"email": new_mail}}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // SPA: JSON init, invalid traits 400 with the flow, valid 200 with the flow in success.
    let res = call(Method::GET, "/self-service/settings/browser")
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    jar.absorb(&res);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&res.body);
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "profile", "traits": {"email": "nope"}}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["id"], id);
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "password", "password": "another good password 987"}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["state"], "success");

    // Too long since sign-in: re-authenticate (403 with redirect_browser_to; HTML 303 there).
    app.clock.advance(chrono::Duration::hours(2));
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "password", "password": "yet another password 555"}))
        .send(&app.public)
        .await;
    if res.status == StatusCode::GONE {
        // The flow expired first (flow lifespan 1h): the fresh flow is the one to use.
        let fresh = res.body["use_flow_id"].as_str().unwrap().to_owned();
        jar.absorb(&res);
        let flow = call(
            Method::GET,
            &format!("/self-service/settings/flows?id={fresh}"),
        )
        .jar(&jar)
        .send(&app.public)
        .await;
        assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
        let csrf = csrf_of(&flow.body);
        let body = json!({"csrf_token": csrf, "method": "password", "password": "yet another password 555"});
        let res = call(
            Method::POST,
            &format!("/self-service/settings?flow={fresh}"),
        )
        .jar(&jar)
        .json(body.clone())
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{:?}", res.body);
        assert_eq!(res.error_id(), "session_refresh_required");
        let to = res.body["redirect_browser_to"].as_str().unwrap();
        assert!(
            to.contains("/self-service/login/browser") && to.contains("refresh=true"),
            "{to}"
        );
        let res = call(
            Method::POST,
            &format!("/self-service/settings?flow={fresh}"),
        )
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "password"),
            ("password", "yet another password 555"),
        ])
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(res.location().contains("refresh=true"));
    } else {
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{:?}", res.body);
        assert_eq!(res.error_id(), "session_refresh_required");
    }

    // Api: token in X-Session-Token; browsers refused; another identity's flow is 403.
    let new_mail = email();
    create_identity(&app.kratos, &new_mail).await;
    let (token, _) = api_login(&app, &new_mail).await;
    let flow = call(Method::GET, "/self-service/settings/api")
        .header("x-session-token", &token)
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    assert_eq!(flow.body["type"], "api");
    let id = flow.body["id"].as_str().unwrap().to_owned();
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .header("x-session-token", &token)
        .json(json!({"method": "profile", "traits": {"email": new_mail, "name": "Ada"}}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["identity"]["traits"]["name"], "Ada");
    let res = call(Method::GET, "/self-service/settings/api")
        .header("x-session-token", &token)
        .header("origin", "https://evil.example")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let other = email();
    create_identity(&app.kratos, &other).await;
    let (other_token, _) = api_login(&app, &other).await;
    let res = call(
        Method::GET,
        &format!("/self-service/settings/flows?id={id}"),
    )
    .header("x-session-token", &other_token)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error_id(), "security_identity_mismatch");
    let res = call(Method::POST, &format!("/self-service/settings?flow={id}"))
        .json(json!({"method": "profile", "traits": {"email": new_mail}}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
