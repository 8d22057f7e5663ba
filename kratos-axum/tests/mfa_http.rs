//! Second factors over HTTP, as Ory's SDKs and browsers use them: linking an authenticator app
//! in the settings form, the aal2 step-up after a password login (HTML redirects, SPA 422s, api
//! flows with session tokens), backup codes, the aal2 requirement of settings and app routes,
//! and malformed or replayed codes. Statuses, error ids and message ids are Kratos's.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use base64::Engine;
use kratos_axum::RequireAal2;
use kratos_core::strategy::totp::otp::TotpKey;
use kratos_core::{Clock, Kratos, ManualClock};
use serde_json::{Value, json};

mod common;
use common::*;

const BASE: &str = "https://auth.example.com";
const APP: &str = "https://app.example.com/";
const LOGIN_UI: &str = "https://app.example.com/login";
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
      config:
        issuer: Example
    lookup_secret:
      enabled: true
  flows:
    login:
      ui_url: https://app.example.com/login
    settings:
      ui_url: https://app.example.com/settings
";

/// The login URL that steps a session up to aal2.
fn aal2_login() -> String {
    format!("{BASE}/self-service/login/browser?aal=aal2")
}

struct TestApp {
    kratos: Kratos,
    public: Router,
    admin: Router,
    clock: Arc<ManualClock>,
}

impl TestApp {
    fn now_unix(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp()).expect("after 1970")
    }

    /// The authenticator app's code for `key` now.
    fn code(&self, key: &TotpKey) -> String {
        key.code_at(self.now_unix()).to_string()
    }

    /// Moves to the next TOTP step (so a new code is not a replay of the last one).
    fn next_step(&self) {
        self.clock.advance(chrono::Duration::seconds(30));
    }
}

fn app() -> TestApp {
    // The middle of a TOTP step: a code computed now stays the step's code while a test runs.
    let now = chrono::Utc::now().timestamp();
    let start = chrono::DateTime::from_timestamp(now - now % 30 + 15, 0).expect("a time");
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos_with(store, CONFIG, clock.clone());
    TestApp {
        public: kratos_axum::public_router(kratos.clone()),
        admin: kratos_axum::admin_router(kratos.clone()),
        kratos,
        clock,
    }
}

/// A new authenticator app key, as an app would hold it after scanning a QR code.
fn new_key() -> TotpKey {
    TotpKey::generate("Example", "someone").expect("a key")
}

/// Creates an identity with a password (and a TOTP key) through the admin API; its id.
async fn create_identity(app: &TestApp, mail: &str, totp: Option<&TotpKey>) -> String {
    let mut credentials = json!({"password": {"config": {"password": PASSWORD}}});
    if let Some(key) = totp {
        credentials["totp"] = json!({"config": {"totp_url": key.to_url().as_str()}});
    }
    let res = call(Method::POST, "/admin/identities")
        .json(json!({
            "schema_id": "default",
            "traits": {"email": mail},
            "credentials": credentials,
        }))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    res.body["id"].as_str().unwrap().to_owned()
}

/// The stored credential of `kind` of an identity, as the admin API shows it with
/// `include_credential` (`Null` when it has none).
async fn credential(app: &TestApp, id: &str, kind: &str) -> Value {
    let res = call(
        Method::GET,
        &format!("/admin/identities/{id}?include_credential={kind}"),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body["credentials"][kind].clone()
}

/// Starts a browser flow as an HTML client (`query` appended to the init URL) and fetches it
/// with the browser's cookies; answers its id and the flow.
async fn browser_flow(app: &TestApp, jar: &mut Jar, kind: &str, query: &str) -> (String, Value) {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser{query}"))
        .html_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let ui = if kind == "login" {
        LOGIN_UI
    } else {
        SETTINGS_UI
    };
    assert!(
        res.location().starts_with(&format!("{ui}?flow=")),
        "{}",
        res.location()
    );
    jar.absorb(&res);
    let id = query_param(res.location(), "flow").unwrap();
    let flow = fetch_flow(app, jar, kind, &id).await;
    (id, flow)
}

/// Fetches a browser flow with the browser's cookies (200 expected).
async fn fetch_flow(app: &TestApp, jar: &Jar, kind: &str, id: &str) -> Value {
    let res = call(Method::GET, &format!("/self-service/{kind}/flows?id={id}"))
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body
}

/// Signs in with the password through the browser login form; the browser keeps the
/// cookies. Answers the final redirect.
async fn browser_password_login(app: &TestApp, jar: &mut Jar, mail: &str) -> Res {
    let (id, flow) = browser_flow(app, jar, "login", "").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(jar)
        .form(&[
            ("csrf_token", &csrf_of(&flow)),
            ("method", "password"),
            ("identifier", mail),
            ("password", PASSWORD),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    res
}

/// Signs in with the password through an api flow; the session token.
async fn api_password_login(app: &TestApp, mail: &str) -> String {
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
    assert_eq!(res.body["session"]["authenticator_assurance_level"], "aal1");
    res.body["session_token"].as_str().unwrap().to_owned()
}

/// Creates an api aal2 login flow with the session token; answers it.
async fn api_aal2_flow(app: &TestApp, token: &str) -> Value {
    let res = call(Method::GET, "/self-service/login/api?aal=aal2")
        .token(token)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body
}

/// Submits a TOTP code to an api login flow with the session token.
async fn api_totp(app: &TestApp, token: &str, flow: &Value, code: &str) -> Res {
    let id = flow["id"].as_str().unwrap();
    call(Method::POST, &format!("/self-service/login?flow={id}"))
        .token(token)
        .json(json!({"method": "totp", "totp_code": code}))
        .send(&app.public)
        .await
}

/// The node of a flow named `name` (inputs by `name`, images and texts by `id`).
fn node<'a>(flow: &'a Value, name: &str) -> Option<&'a Value> {
    flow["ui"]["nodes"].as_array()?.iter().find(|n| {
        n["attributes"]["name"] == name
            || (n["attributes"]["name"].is_null() && n["attributes"]["id"] == name)
    })
}

/// Whether the flow has a `method` submit button with value `method`.
fn has_method_button(flow: &Value, method: &str) -> bool {
    flow["ui"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|n| {
            n["attributes"]["name"] == "method"
                && n["attributes"]["type"] == "submit"
                && n["attributes"]["value"] == method
        })
}

/// The ids of the flow's own messages (`ui.messages`).
fn flow_message_ids(flow: &Value) -> Vec<u64> {
    flow["ui"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// The ids of the messages of the node `name`.
fn node_message_ids(flow: &Value, name: &str) -> Vec<u64> {
    node(flow, name)
        .and_then(|n| n["messages"].as_array())
        .into_iter()
        .flatten()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// `GET /sessions/whoami` with the browser's cookies.
async fn whoami(app: &TestApp, jar: &Jar) -> Res {
    call(Method::GET, "/sessions/whoami")
        .jar(jar)
        .send(&app.public)
        .await
}

/// `GET /sessions/whoami` with a session token.
async fn whoami_token(app: &TestApp, token: &str) -> Res {
    call(Method::GET, "/sessions/whoami")
        .token(token)
        .send(&app.public)
        .await
}

/// The methods of a session body, with their levels.
fn methods(session: &Value) -> Vec<(String, String)> {
    session["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap().to_owned(),
                m["aal"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(method: &str, aal: &str) -> (String, String) {
    (method.to_owned(), aal.to_owned())
}

/// Asserts an error answer with `status`, Kratos's error id and `redirect_browser_to`
/// starting with `to` beside the error (and, for `session_aal2_required`, in its details too,
/// as Kratos's `ErrAALNotSatisfied` has it).
fn assert_redirecting_error(res: &Res, status: StatusCode, id: &str, to: &str) {
    assert_eq!(res.status, status, "{:?}", res.body);
    assert_eq!(res.error_id(), id, "{:?}", res.body);
    let top = res.body["redirect_browser_to"].as_str().unwrap_or("");
    assert!(top.starts_with(to), "{top} does not start with {to}");
    if id == "session_aal2_required" {
        let detail = res.body["error"]["details"]["redirect_browser_to"]
            .as_str()
            .unwrap_or("");
        assert_eq!(detail, top, "{:?}", res.body);
    }
}

#[tokio::test]
async fn a_browser_links_an_authenticator_app_through_the_settings_form() {
    let app = app();
    let mail = email();
    let id = create_identity(&app, &mail, None).await;
    let mut jar = Jar::default();
    let res = browser_password_login(&app, &mut jar, &mail).await;
    assert_eq!(res.location(), APP, "no second factor yet: no step-up");

    let (flow_id, flow) = browser_flow(&app, &mut jar, "settings", "").await;
    assert_eq!(flow["state"], "show_form");
    // The QR code: a 256×256 PNG as a data URL.
    let qr = node(&flow, "totp_qr").expect("the QR code node");
    assert_eq!(qr["type"], "img");
    assert_eq!(qr["group"], "totp");
    assert_eq!(qr["attributes"]["node_type"], "img");
    assert_eq!(qr["attributes"]["width"], 256);
    assert_eq!(qr["meta"]["label"]["id"], 1050005);
    let src = qr["attributes"]["src"].as_str().unwrap();
    let png = src
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let png = base64::engine::general_purpose::STANDARD
        .decode(png)
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The secret as text, for apps that cannot scan: in the message's context.
    let text = node(&flow, "totp_secret_key").expect("the secret node");
    assert_eq!(text["type"], "text");
    assert_eq!(text["attributes"]["text"]["id"], 1050006);
    assert_eq!(text["meta"]["label"]["id"], 1050017);
    let secret = text["attributes"]["text"]["context"]["secret"]
        .as_str()
        .expect("the secret")
        .to_owned();
    assert_eq!(text["attributes"]["text"]["text"], secret.as_str());
    let code_input = node(&flow, "totp_code").expect("the code input");
    assert_eq!(code_input["group"], "totp");
    assert_eq!(code_input["attributes"]["required"], true);
    assert!(has_method_button(&flow, "totp"));
    assert!(node(&flow, "totp_unlink").is_none());

    // The app scans the secret.
    let key = TotpKey::from_url(&format!(
        "otpauth://totp/Example:someone?secret={secret}&issuer=Example"
    ))
    .expect("the shown secret makes a key");
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/settings?flow={flow_id}");

    // A wrong code: the browser is sent back to the form, an SPA gets 400 with 4000008 on the
    // code's node; nothing is linked.
    let wrong = other_code(&app.code(&key)).to_owned();
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &wrong),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), format!("{SETTINGS_UI}?flow={flow_id}"));
    let shown = fetch_flow(&app, &jar, "settings", &flow_id).await;
    assert_eq!(node_message_ids(&shown, "totp_code"), [4000008]);
    let res = call(Method::POST, &submit)
        .json_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &wrong),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(node_message_ids(&res.body, "totp_code"), [4000008]);
    assert!(credential(&app, &id, "totp").await.is_null());

    // The right code, as the form posts it.
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &app.code(&key)),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), format!("{SETTINGS_UI}?flow={flow_id}"));
    jar.absorb(&res);
    let done = fetch_flow(&app, &jar, "settings", &flow_id).await;
    assert_eq!(done["state"], "success");
    assert_eq!(flow_message_ids(&done), [1050001]);
    assert!(node(&done, "totp_unlink").is_some(), "unlink offered now");
    assert!(node(&done, "totp_qr").is_none());
    assert!(done["identity"].get("credentials").is_none());

    // Linking the app proved it: the session holds the second factor too (as Kratos adds the
    // method to the session), so whoami still answers.
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["authenticator_assurance_level"], "aal2");
    assert_eq!(
        methods(&me.body),
        [pair("password", "aal1"), pair("totp", "aal2")]
    );

    // The admin API shows the credential, without the secret in plaintext.
    let totp = credential(&app, &id, "totp").await;
    assert_eq!(totp["type"], "totp");
    assert_eq!(totp["identifiers"], json!([id]));
    let config = totp["config"].to_string();
    assert!(!config.contains(&secret), "{config}");
    assert!(!config.contains("otpauth"), "{config}");

    // The key works for an aal2 login of another browser.
    app.next_step();
    let mut other = Jar::default();
    let res = browser_password_login(&app, &mut other, &mail).await;
    assert_eq!(res.location(), aal2_login());
    let (login_id, login) = browser_flow(&app, &mut other, "login", "?aal=aal2").await;
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={login_id}"),
    )
    .html_accept()
    .jar(&other)
    .form(&[
        ("method", "totp"),
        ("totp_code", &app.code(&key)),
        ("csrf_token", &csrf_of(&login)),
    ])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
}

#[tokio::test]
async fn a_password_login_of_an_identity_with_totp_steps_up_to_aal2() {
    let app = app();
    let key = new_key();
    let mail = email();
    let id = create_identity(&app, &mail, Some(&key)).await;

    // HTML: 303 to the aal2 login, with the aal1 session cookie.
    let mut jar = Jar::default();
    let res = browser_password_login(&app, &mut jar, &mail).await;
    assert_eq!(res.location(), aal2_login());
    assert!(jar.has("ory_kratos_session"));

    // SPA: 422 browser_location_change_required pointing there.
    let mut spa = Jar::default();
    let init = call(Method::GET, "/self-service/login/browser")
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(init.status, StatusCode::OK);
    spa.absorb(&init);
    let res = call(
        Method::POST,
        &format!(
            "/self-service/login?flow={}",
            init.body["id"].as_str().unwrap()
        ),
    )
    .jar(&spa)
    .json(json!({
        "method": "password",
        "identifier": mail,
        "password": PASSWORD,
        "csrf_token": csrf_of(&init.body),
    }))
    .send(&app.public)
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.body
    );
    assert_eq!(res.error_id(), "browser_location_change_required");
    assert_eq!(res.body["redirect_browser_to"], aal2_login());
    spa.absorb(&res);

    // whoami: 403 session_aal2_required, pointing at the aal2 login.
    for j in [&jar, &spa] {
        let me = whoami(&app, j).await;
        assert_redirecting_error(
            &me,
            StatusCode::FORBIDDEN,
            "session_aal2_required",
            &aal2_login(),
        );
    }

    // The browser follows the redirect: the aal2 flow asks for the code and nothing else.
    let (flow_id, flow) = browser_flow(&app, &mut jar, "login", "?aal=aal2").await;
    assert_eq!(flow["requested_aal"], "aal2");
    assert_eq!(flow["refresh"], false);
    assert_eq!(flow_message_ids(&flow), [1010004]);
    let input = node(&flow, "totp_code").expect("the code input");
    assert_eq!(input["group"], "totp");
    assert_eq!(input["meta"]["label"]["id"], 1010006);
    assert!(has_method_button(&flow, "totp"));
    assert!(node(&flow, "password").is_none(), "no first factor");
    assert!(node(&flow, "identifier").is_none(), "no first factor");
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/login?flow={flow_id}");

    // A wrong code: back to the form (HTML), 400 with 4000008 on the flow (SPA); the session
    // stays at aal1.
    let wrong = other_code(&app.code(&key)).to_owned();
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &wrong),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), format!("{LOGIN_UI}?flow={flow_id}"));
    let shown = fetch_flow(&app, &jar, "login", &flow_id).await;
    assert_eq!(flow_message_ids(&shown), [4000008]);
    let res = call(Method::POST, &submit)
        .json_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &wrong),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["id"], flow_id.as_str());
    assert_eq!(flow_message_ids(&res.body), [4000008]);
    assert_eq!(whoami(&app, &jar).await.status, StatusCode::FORBIDDEN);

    // The right code from the form: 303 to the return URL, the cookie's session at aal2.
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &app.code(&key)),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    jar.absorb(&res);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["authenticator_assurance_level"], "aal2");
    assert_eq!(me.body["identity"]["id"], id.as_str());
    assert_eq!(
        methods(&me.body),
        [pair("password", "aal1"), pair("totp", "aal2")]
    );
    // At aal2, there is nothing left to step up to.
    let res = call(Method::GET, "/self-service/login/browser?aal=aal2")
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.error_id(), "session_already_available");

    // The SPA steps up with JSON (the next step's code: the last one was used).
    app.next_step();
    let init = call(Method::GET, "/self-service/login/browser?aal=aal2")
        .json_accept()
        .jar(&spa)
        .send(&app.public)
        .await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.body);
    assert_eq!(init.body["requested_aal"], "aal2");
    assert!(node(&init.body, "totp_code").is_some());
    assert_eq!(flow_message_ids(&init.body), [1010004]);
    spa.absorb(&init);
    let res = call(
        Method::POST,
        &format!(
            "/self-service/login?flow={}",
            init.body["id"].as_str().unwrap()
        ),
    )
    .jar(&spa)
    .json(json!({
        "method": "totp",
        "totp_code": app.code(&key),
        "csrf_token": csrf_of(&init.body),
    }))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["session"]["authenticator_assurance_level"], "aal2");
    assert!(
        res.body.get("session_token").is_none(),
        "browsers get no token"
    );
    spa.absorb(&res);
    let me = whoami(&app, &spa).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["authenticator_assurance_level"], "aal2");
    assert_eq!(
        methods(&me.body),
        [pair("password", "aal1"), pair("totp", "aal2")]
    );
}

#[tokio::test]
async fn api_flows_step_up_with_the_session_token() {
    let app = app();
    let key = new_key();
    let mail = email();
    let id = create_identity(&app, &mail, Some(&key)).await;
    let token = api_password_login(&app, &mail).await;
    assert_redirecting_error(
        &whoami_token(&app, &token).await,
        StatusCode::FORBIDDEN,
        "session_aal2_required",
        &aal2_login(),
    );

    let flow = api_aal2_flow(&app, &token).await;
    assert_eq!(flow["type"], "api");
    assert_eq!(flow["requested_aal"], "aal2");
    assert_eq!(flow_message_ids(&flow), [1010004]);
    assert!(node(&flow, "totp_code").is_some());
    assert!(
        node(&flow, "csrf_token").is_none(),
        "api flows carry no CSRF token"
    );
    assert!(node(&flow, "password").is_none());

    let res = api_totp(&app, &token, &flow, &app.code(&key)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(
        res.body["session_token"],
        token.as_str(),
        "the same session"
    );
    let session = &res.body["session"];
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    assert_eq!(session["identity"]["id"], id.as_str());
    assert_eq!(
        methods(session),
        [pair("password", "aal1"), pair("totp", "aal2")]
    );
    let me = whoami_token(&app, &token).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["authenticator_assurance_level"], "aal2");
    assert_eq!(me.body["id"], session["id"]);

    // Without a session there is nothing to step up.
    let res = call(Method::GET, "/self-service/login/api?aal=aal2")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{:?}", res.body);
    assert_eq!(res.error_id(), "session_aal1_required");
    let res = call(Method::GET, "/self-service/login/api?aal=aal2")
        .token("ory_st_not-a-session")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{:?}", res.body);
    assert_eq!(res.error_id(), "session_aal1_required");
}

/// Regenerates backup codes in a browser settings flow as an SPA (JSON) and as a form; answers
/// the codes the form saw last, after confirming them with the form.
async fn set_up_backup_codes(app: &TestApp, jar: &mut Jar, identity: &str) -> Vec<String> {
    let (flow_id, flow) = browser_flow(app, jar, "settings", "").await;
    let regenerate = node(&flow, "lookup_secret_regenerate").expect("regenerate button");
    assert_eq!(regenerate["group"], "lookup_secret");
    assert_eq!(regenerate["meta"]["label"]["id"], 1050008);
    assert!(node(&flow, "lookup_secret_reveal").is_none(), "none yet");
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/settings?flow={flow_id}");
    let codes_of = |flow: &Value| -> Vec<String> {
        let list = node(flow, "lookup_secret_codes").expect("the codes node");
        assert_eq!(list["type"], "text");
        assert_eq!(list["attributes"]["text"]["id"], 1050015);
        list["attributes"]["text"]["context"]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["id"], 1050009);
                s["context"]["secret"].as_str().unwrap().to_owned()
            })
            .collect()
    };

    // JSON: 200 with the flow showing the new codes and the confirm button (a step of the
    // form, not a failed submission).
    let res = call(Method::POST, &submit)
        .jar(jar)
        .json(json!({
            "method": "lookup_secret",
            "lookup_secret_regenerate": true,
            "csrf_token": csrf,
        }))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["state"], "show_form");
    let first = codes_of(&res.body);
    assert_eq!(first.len(), 12);
    assert!(first.iter().all(|c| {
        c.len() == 8
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }));
    assert!(node(&res.body, "lookup_secret_confirm").is_some());
    assert!(credential(app, identity, "lookup_secret").await.is_null());

    // The form: back to the settings UI, whose flow shows another set.
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(jar)
        .form(&[
            ("method", "lookup_secret"),
            ("lookup_secret_regenerate", "true"),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), format!("{SETTINGS_UI}?flow={flow_id}"));
    let shown = fetch_flow(app, jar, "settings", &flow_id).await;
    let codes = codes_of(&shown);
    assert_eq!(codes.len(), 12);
    assert_ne!(codes, first, "new codes each time");
    assert!(credential(app, identity, "lookup_secret").await.is_null());

    // Confirmed with the form: saved (the last codes shown).
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(jar)
        .form(&[
            ("method", "lookup_secret"),
            ("lookup_secret_confirm", "true"),
            ("csrf_token", &csrf),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    let done = fetch_flow(app, jar, "settings", &flow_id).await;
    assert_eq!(done["state"], "success");
    assert!(node(&done, "lookup_secret_reveal").is_some());
    let stored = credential(app, identity, "lookup_secret").await;
    assert_eq!(stored["type"], "lookup_secret");
    let config = stored["config"].to_string();
    for code in codes.iter().chain(&first) {
        assert!(!config.contains(code.as_str()), "a code in plaintext");
    }
    codes
}

/// Starts an aal2 login in the browser (after the password) and submits a backup code as an
/// SPA; answers the submission.
async fn backup_code_login(app: &TestApp, mail: &str, code: &str) -> (Jar, Res) {
    let mut jar = Jar::default();
    let res = browser_password_login(app, &mut jar, mail).await;
    assert_eq!(res.location(), aal2_login());
    let (flow_id, flow) = browser_flow(app, &mut jar, "login", "?aal=aal2").await;
    let input = node(&flow, "lookup_secret").expect("the backup code input");
    assert_eq!(input["group"], "lookup_secret");
    assert_eq!(input["meta"]["label"]["id"], 1010007);
    assert!(has_method_button(&flow, "lookup_secret"));
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .json_accept()
        .jar(&jar)
        .form(&[
            ("method", "lookup_secret"),
            ("lookup_secret", code),
            ("csrf_token", &csrf_of(&flow)),
        ])
        .send(&app.public)
        .await;
    (jar, res)
}

#[tokio::test]
async fn backup_codes_are_set_up_in_settings_and_used_once_at_login() {
    let app = app();
    let mail = email();
    let id = create_identity(&app, &mail, None).await;
    let mut jar = Jar::default();
    browser_password_login(&app, &mut jar, &mail).await;
    let codes = set_up_backup_codes(&app, &mut jar, &id).await;
    // Confirming the codes counts as using the method: the session is at aal2 (as Kratos's).
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["authenticator_assurance_level"], "aal2");
    assert_eq!(
        methods(&me.body),
        [pair("password", "aal1"), pair("lookup_secret", "aal2")]
    );

    // A new browser: password, then a backup code.
    let (mut second, res) = backup_code_login(&app, &mail, &codes[0]).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["session"]["authenticator_assurance_level"], "aal2");
    second.absorb(&res);
    let me = whoami(&app, &second).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(
        methods(&me.body),
        [pair("password", "aal1"), pair("lookup_secret", "aal2")]
    );

    // The same code again: 400 with 4000012 on the flow, the session stays at aal1.
    let (third, res) = backup_code_login(&app, &mail, &codes[0]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(flow_message_ids(&res.body), [4000012]);
    assert_eq!(
        node(&res.body, "lookup_secret").unwrap()["attributes"]["value"]
            .as_str()
            .unwrap_or(""),
        "",
        "the code is not echoed"
    );
    assert_eq!(whoami(&app, &third).await.status, StatusCode::FORBIDDEN);

    // An unknown code: 4000016.
    let (fourth, res) = backup_code_login(&app, &mail, "zzzzzzzz").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(flow_message_ids(&res.body), [4000016]);
    assert_eq!(whoami(&app, &fourth).await.status, StatusCode::FORBIDDEN);

    // An api flow takes the next code with the session token.
    let token = api_password_login(&app, &mail).await;
    let flow = api_aal2_flow(&app, &token).await;
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()),
    )
    .token(&token)
    .json(json!({"method": "lookup_secret", "lookup_secret": codes[1]}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["session"]["authenticator_assurance_level"], "aal2");

    // The admin API shows two codes used.
    let stored = credential(&app, &id, "lookup_secret").await;
    let used = stored["config"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["used_at"].is_string())
        .count();
    assert_eq!(used, 2, "{stored}");
}

/// An app route behind [`RequireAal2`].
fn app_routes(kratos: Kratos) -> Router {
    Router::new()
        .route(
            "/sensitive",
            get(|RequireAal2(s): RequireAal2| async move { s.id.to_string() }),
        )
        .with_state(kratos)
}

#[tokio::test]
async fn settings_and_aal2_routes_ask_an_aal1_session_to_step_up() {
    let app = app();
    let key = new_key();
    let mail = email();
    create_identity(&app, &mail, Some(&key)).await;
    let mut jar = Jar::default();
    browser_password_login(&app, &mut jar, &mail).await;

    // A browser starting a settings flow is sent to the aal2 login; an SPA gets 403.
    let res = call(Method::GET, "/self-service/settings/browser")
        .html_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(
        res.location().starts_with(&aal2_login()),
        "{}",
        res.location()
    );
    let res = call(Method::GET, "/self-service/settings/browser")
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_redirecting_error(
        &res,
        StatusCode::FORBIDDEN,
        "session_aal2_required",
        &aal2_login(),
    );
    // An api client with an aal1 token: 403 as well.
    let token = api_password_login(&app, &mail).await;
    let res = call(Method::GET, "/self-service/settings/api")
        .token(&token)
        .send(&app.public)
        .await;
    assert_redirecting_error(
        &res,
        StatusCode::FORBIDDEN,
        "session_aal2_required",
        &aal2_login(),
    );

    // An app route that requires aal2.
    let routes = app_routes(app.kratos.clone());
    let res = call(Method::GET, "/sensitive")
        .jar(&jar)
        .send(&routes)
        .await;
    assert_redirecting_error(
        &res,
        StatusCode::FORBIDDEN,
        "session_aal2_required",
        &aal2_login(),
    );
    let res = call(Method::GET, "/sensitive").send(&routes).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_inactive");

    // Stepped up: settings and the route let the session through.
    let (flow_id, flow) = browser_flow(&app, &mut jar, "login", "?aal=aal2").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &app.code(&key)),
            ("csrf_token", &csrf_of(&flow)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK);
    let res = call(Method::GET, "/sensitive")
        .jar(&jar)
        .send(&routes)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(
        res.body,
        Value::String(me.body["id"].as_str().unwrap().into())
    );
    let (_, settings) = browser_flow(&app, &mut jar, "settings", "").await;
    assert!(node(&settings, "totp_unlink").is_some());
    // The aal1 api session is still refused.
    let res = call(Method::GET, "/sensitive")
        .token(&token)
        .send(&routes)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn malformed_and_replayed_totp_codes_are_refused_with_kratos_messages() {
    let app = app();
    let key = new_key();
    let mail = email();
    let id = create_identity(&app, &mail, Some(&key)).await;
    let stored = credential(&app, &id, "totp").await;

    // Fewer than the lockout's failures: every answer is the flow with its message.
    let token = api_password_login(&app, &mail).await;
    let flow = api_aal2_flow(&app, &token).await;
    let long = "1".repeat(10 * 1024);
    let cases: [(&str, &str, u64); 3] = [
        ("letters", "abcdef", 4000008),
        ("10 KB", &long, 4000008),
        ("unicode digits", "١٢٣٤٥٦", 4000008),
    ];
    for (what, code, message) in cases {
        let res = api_totp(&app, &token, &flow, code).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{what}: {:?}",
            res.body
        );
        assert_eq!(res.body["id"], flow["id"], "{what}: the flow");
        assert_eq!(flow_message_ids(&res.body), [message], "{what}");
        assert!(
            !res.body.to_string().contains(code),
            "{what}: the code is not echoed"
        );
    }
    // Too short and empty: messages on the code's node (length, required).
    let res = api_totp(&app, &token, &flow, "12345").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(node_message_ids(&res.body, "totp_code"), [4000003]);
    let short = &node(&res.body, "totp_code").unwrap()["messages"][0];
    assert_eq!(
        short["context"],
        json!({"min_length": 6, "actual_length": 5})
    );
    let res = api_totp(&app, &token, &flow, "").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(node_message_ids(&res.body, "totp_code"), [4000002]);
    // The same as a browser form, percent-encoded unicode included.
    let mut jar = Jar::default();
    browser_password_login(&app, &mut jar, &mail).await;
    let (flow_id, browser) = browser_flow(&app, &mut jar, "login", "?aal=aal2").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .json_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", "１２３４５６"),
            ("csrf_token", &csrf_of(&browser)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(flow_message_ids(&res.body), [4000008]);
    // Nothing was written: the sessions are at aal1, the credential is as it was.
    assert_eq!(
        whoami_token(&app, &token).await.error_id(),
        "session_aal2_required"
    );
    assert_eq!(whoami(&app, &jar).await.error_id(), "session_aal2_required");
    assert_eq!(credential(&app, &id, "totp").await, stored);

    // The right code passes once; on another session it is a replay.
    let code = app.code(&key);
    let res = api_totp(&app, &token, &flow, &code).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let other = api_password_login(&app, &mail).await;
    let flow = api_aal2_flow(&app, &other).await;
    let res = api_totp(&app, &other, &flow, &code).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(flow_message_ids(&res.body), [4000008]);
    assert_eq!(
        whoami_token(&app, &other).await.error_id(),
        "session_aal2_required"
    );
    // The next step's code is good.
    app.next_step();
    let res = api_totp(&app, &other, &flow, &app.code(&key)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[tokio::test]
async fn a_second_factor_without_a_session_is_refused_and_writes_nothing() {
    let app = app();
    let key = new_key();
    let mail = email();
    let id = create_identity(&app, &mail, Some(&key)).await;
    let token = api_password_login(&app, &mail).await;
    let flow = api_aal2_flow(&app, &token).await;
    let submit = format!("/self-service/login?flow={}", flow["id"].as_str().unwrap());

    // The right code, but no session (or a forged token): 401 session_aal1_required.
    for res in [
        call(Method::POST, &submit)
            .json(json!({"method": "totp", "totp_code": app.code(&key)}))
            .send(&app.public)
            .await,
        call(Method::POST, &submit)
            .token("ory_st_forged")
            .json(json!({"method": "totp", "totp_code": app.code(&key)}))
            .send(&app.public)
            .await,
        call(Method::POST, &submit)
            .json(json!({"method": "lookup_secret", "lookup_secret": "abcdefgh"}))
            .send(&app.public)
            .await,
    ] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{:?}", res.body);
        assert_eq!(res.error_id(), "session_aal1_required");
    }
    // A browser aal2 flow submitted after the cookie is gone: the same.
    let mut jar = Jar::default();
    browser_password_login(&app, &mut jar, &mail).await;
    let (flow_id, browser) = browser_flow(&app, &mut jar, "login", "?aal=aal2").await;
    jar.0.remove("ory_kratos_session");
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .json_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &app.code(&key)),
            ("csrf_token", &csrf_of(&browser)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{:?}", res.body);
    assert_eq!(res.error_id(), "session_aal1_required");

    // Nothing was used up: the same code steps the token's session up.
    assert_eq!(
        whoami_token(&app, &token).await.error_id(),
        "session_aal2_required"
    );
    let res = api_totp(&app, &token, &flow, &app.code(&key)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    // The identity has no sessions beyond the two password logins.
    let res = call(Method::GET, &format!("/admin/identities/{id}/sessions"))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body.as_array().unwrap().len(), 2, "{:?}", res.body);
}

#[tokio::test]
async fn unlinking_totp_needs_a_recent_sign_in() {
    let app = app();
    let key = new_key();
    let mail = email();
    let id = create_identity(&app, &mail, Some(&key)).await;
    // A browser and an api client, both stepped up to aal2.
    let mut jar = Jar::default();
    browser_password_login(&app, &mut jar, &mail).await;
    let (flow_id, flow) = browser_flow(&app, &mut jar, "login", "?aal=aal2").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "totp"),
            ("totp_code", &app.code(&key)),
            ("csrf_token", &csrf_of(&flow)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    app.next_step();
    let token = api_password_login(&app, &mail).await;
    let api_flow = api_aal2_flow(&app, &token).await;
    let res = api_totp(&app, &token, &api_flow, &app.code(&key)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    // Two hours later the aal2 sessions are no longer privileged (1h), but still valid.
    app.clock.advance(chrono::Duration::hours(2));
    let (settings_id, settings) = browser_flow(&app, &mut jar, "settings", "").await;
    assert!(node(&settings, "totp_unlink").is_some());
    let submit = format!("/self-service/settings?flow={settings_id}");
    let csrf = csrf_of(&settings);
    let form = [
        ("method", "totp"),
        ("totp_unlink", "true"),
        ("csrf_token", csrf.as_str()),
    ];
    let refresh = format!("{BASE}/self-service/login/browser?refresh=true");
    // HTML: to the re-authentication login, which comes back to the flow; SPA: 403
    // session_refresh_required.
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&form)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(res.location().starts_with(&refresh), "{}", res.location());
    let back = query_param(res.location(), "return_to").expect("return_to");
    assert_eq!(
        back,
        format!("{BASE}/self-service/settings?flow={settings_id}")
    );
    let res = call(Method::POST, &submit)
        .json_accept()
        .jar(&jar)
        .form(&form)
        .send(&app.public)
        .await;
    assert_redirecting_error(
        &res,
        StatusCode::FORBIDDEN,
        "session_refresh_required",
        &refresh,
    );
    // An api client: the same error.
    let res = call(Method::GET, "/self-service/settings/api")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let res = call(
        Method::POST,
        &format!(
            "/self-service/settings?flow={}",
            res.body["id"].as_str().unwrap()
        ),
    )
    .token(&token)
    .json(json!({"method": "totp", "totp_unlink": true}))
    .send(&app.public)
    .await;
    assert_redirecting_error(
        &res,
        StatusCode::FORBIDDEN,
        "session_refresh_required",
        &refresh,
    );
    // Nothing was written.
    assert_eq!(credential(&app, &id, "totp").await["type"], "totp");

    // After re-authenticating with the password (a refresh login), unlinking works.
    let (login_id, login) = browser_flow(&app, &mut jar, "login", "?refresh=true").await;
    assert_eq!(login["refresh"], true);
    assert_eq!(flow_message_ids(&login), [1010003]);
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={login_id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[
        ("method", "password"),
        ("identifier", &mail),
        ("password", PASSWORD),
        ("csrf_token", &csrf_of(&login)),
    ])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    let res = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&form)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), format!("{SETTINGS_UI}?flow={settings_id}"));
    assert!(credential(&app, &id, "totp").await.is_null());
    let done = fetch_flow(&app, &jar, "settings", &settings_id).await;
    assert_eq!(done["state"], "success");
    assert!(node(&done, "totp_qr").is_some(), "a new app can be linked");
    // Without a second factor, an aal1 session passes whoami again.
    let fresh = api_password_login(&app, &mail).await;
    assert_eq!(whoami_token(&app, &fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_codes_in_settings_link_nothing() {
    let app = app();
    let mail = email();
    let id = create_identity(&app, &mail, None).await;
    let token = api_password_login(&app, &mail).await;
    let res = call(Method::GET, "/self-service/settings/api")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let flow_id = res.body["id"].as_str().unwrap().to_owned();
    let submit = format!("/self-service/settings?flow={flow_id}");
    let long = "9".repeat(10 * 1024);
    for code in ["abcdef", "١٢٣٤٥٦", long.as_str(), "000000 000000"] {
        let res = call(Method::POST, &submit)
            .token(&token)
            .json(json!({"method": "totp", "totp_code": code}))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
        assert_eq!(node_message_ids(&res.body, "totp_code"), [4000008]);
        assert!(!res.body.to_string().contains(code));
    }
    let res = call(Method::POST, &submit)
        .token(&token)
        .json(json!({"method": "totp", "totp_code": ""}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(node_message_ids(&res.body, "totp_code"), [4000002]);
    // A lookup secret confirmation without regenerated codes: nothing to save.
    let res = call(Method::POST, &submit)
        .token(&token)
        .json(json!({"method": "lookup_secret", "lookup_secret_confirm": true}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(
        res.body["id"],
        flow_id.as_str(),
        "the flow, with its message"
    );
    assert!(!flow_message_ids(&res.body).is_empty());
    assert!(credential(&app, &id, "totp").await.is_null());
    assert!(credential(&app, &id, "lookup_secret").await.is_null());
    assert_eq!(whoami_token(&app, &token).await.status, StatusCode::OK);
}
