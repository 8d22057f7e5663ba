//! HTTP tests of the passwordless `code` method of login and registration (api and browser
//! flows, JSON and HTML form posts, codes read from the courier's outbox) and of the
//! verification hooks (`continue_with` `show_verification_ui` after a registration or an
//! address change, browsers sent to the verification UI).
//!
//! Kratos answers a code-method submission that sent a code with the flow in state
//! `sent_email`: 400 for JSON clients (`strategy_login.go`/`strategy_registration.go` write
//! the flow with `http.StatusBadRequest`), a 303 back to the UI for HTML clients.

use axum::http::{Method, StatusCode};
use kratos_core::courier::TemplateType;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::*;

const APP: &str = "https://app.example.com/";
const LOGIN_UI: &str = "https://app.example.com/login";
const REGISTRATION_UI: &str = "https://app.example.com/registration";
const SETTINGS_UI: &str = "https://app.example.com/settings";
const VERIFICATION_UI: &str = "https://app.example.com/verification";
const PASSWORD: &str = "a very good password 1234";

/// Passwordless code login and registration, password registration, verification enabled
/// (without the `show_verification_ui` hook).
const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  methods:
    code:
      passwordless_enabled: true
  flows:
    login:
      ui_url: https://app.example.com/login
    registration:
      ui_url: https://app.example.com/registration
      after:
        code:
          hooks:
            - hook: session
        password:
          hooks:
            - hook: session
    settings:
      ui_url: https://app.example.com/settings
      privileged_session_max_age: 1h
    verification:
      enabled: true
      ui_url: https://app.example.com/verification
";

/// [`CONFIG`] with `show_verification_ui` after a password registration and a profile change.
fn show_verification_config() -> String {
    CONFIG
        .replace(
            "        password:\n          hooks:\n            - hook: session\n",
            "        password:\n          hooks:\n            - hook: session\n            - hook: show_verification_ui\n",
        )
        .replace(
            "      privileged_session_max_age: 1h\n",
            "      privileged_session_max_age: 1h\n      after:\n        profile:\n          hooks:\n            - hook: show_verification_ui\n",
        )
}

fn app() -> MailApp {
    mail_app(CONFIG)
}

impl MailApp {
    /// The template of the newest email to `to` (after a dispatch).
    fn template_to(&self, to: &str) -> TemplateType {
        self.outbox
            .last_to(to)
            .expect("an email was sent")
            .template_type
    }

    /// The identity as the admin API answers it.
    async fn admin_identity(&self, id: &str) -> Value {
        let res = call(Method::GET, &format!("/admin/identities/{id}"))
            .send(&self.admin)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        res.body
    }

    /// Creates an identity through the admin API (no credentials but the code identifier the
    /// schema derives from the email trait); answers its id.
    async fn admin_create(&self, mail: &str) -> String {
        let res = call(Method::POST, "/admin/identities")
            .json(json!({"schema_id": "default", "traits": {"email": mail}}))
            .send(&self.admin)
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
        assert_eq!(res.body["verifiable_addresses"][0]["verified"], false);
        res.body["id"].as_str().unwrap().to_owned()
    }
}

/// The node named `name` of a flow's form.
fn node<'a>(flow: &'a Value, name: &str) -> Option<&'a Value> {
    flow["ui"]["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["attributes"]["name"] == name)
}

/// The `show_verification_ui` items of a `continue_with`.
fn verification_items(continue_with: &Value) -> Vec<Value> {
    // Kratos leaves an empty `continue_with` out of a settings flow (`omitempty`).
    if continue_with.is_null() {
        return Vec::new();
    }
    continue_with
        .as_array()
        .expect("continue_with is an array")
        .iter()
        .filter(|c| c["action"] == "show_verification_ui")
        .cloned()
        .collect()
}

/// Starts an api flow of `kind`; answers the flow.
async fn api_flow(app: &MailApp, kind: &str) -> Value {
    let res = call(Method::GET, &format!("/self-service/{kind}/api"))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["type"], "api");
    assert_eq!(res.body["state"], "choose_method");
    res.body
}

/// Starts a browser flow of `kind` as an HTML client (with an optional query) and fetches it
/// as the UI does; answers its id and the fetched flow.
async fn browser_flow(
    app: &MailApp,
    jar: &mut Jar,
    kind: &str,
    query: &str,
    ui: &str,
) -> (String, Value) {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser{query}"))
        .html_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(
        res.location().starts_with(&format!("{ui}?flow=")),
        "{}",
        res.location()
    );
    jar.absorb(&res);
    let id = query_param(res.location(), "flow").unwrap();
    let flow = fetch_flow(app, jar, kind, &id).await;
    assert_eq!(flow["type"], "browser");
    (id, flow)
}

/// `GET /self-service/<kind>/flows?id=` with the browser's cookies: 200 and the flow.
async fn fetch_flow(app: &MailApp, jar: &Jar, kind: &str, id: &str) -> Value {
    let res = call(Method::GET, &format!("/self-service/{kind}/flows?id={id}"))
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{kind} flow {id}: {:?}",
        res.body
    );
    res.body
}

/// The code button of a flow's first step: group `code`, `method=code`.
fn assert_code_button(flow: &Value, label: u64) {
    let button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["group"] == "code" && n["attributes"]["name"] == "method")
        .unwrap_or_else(|| panic!("no code button in {flow}"));
    assert_eq!(button["attributes"]["value"], "code");
    assert_eq!(button["attributes"]["type"], "submit");
    assert_eq!(button["meta"]["label"]["id"], label);
}

/// The code step of a flow: state `sent_email`, a `code` input and a `resend` button.
fn assert_code_step(flow: &Value, message: u64) {
    assert_eq!(flow["state"], "sent_email", "{flow}");
    assert_eq!(message_ids(flow), vec![message]);
    let code = node(flow, "code").expect("a code input");
    assert_eq!(code["group"], "code");
    assert_eq!(code["attributes"]["required"], true);
    let resend = node(flow, "resend").expect("a resend button");
    assert_eq!(resend["attributes"]["value"], "code");
}

/// Registers `mail` over HTTP with the api code flow; answers the success body.
async fn api_register_by_code(app: &MailApp, mail: &str) -> Value {
    let flow = api_flow(app, "registration").await;
    let submit = format!(
        "/self-service/registration?flow={}",
        flow["id"].as_str().unwrap()
    );
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    let code = app.code(mail).await;
    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    done.body
}

/// Registers `mail` with a password in a browser (HTML form post); answers the 303.
async fn browser_register_by_password(app: &MailApp, jar: &mut Jar, mail: &str) -> Res {
    let (flow_id, flow) = browser_flow(app, jar, "registration", "", REGISTRATION_UI).await;
    let csrf = csrf_of(&flow);
    let done = call(
        Method::POST,
        &format!("/self-service/registration?flow={flow_id}"),
    )
    .html_accept()
    .jar(jar)
    .form(&[
        ("csrf_token", &csrf),
        ("method", "password"),
        ("traits.email", mail),
        ("password", PASSWORD),
    ])
    .send(&app.public)
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    done
}

/// Registers `mail` with a password over HTTP (api flow); answers the success body.
async fn api_register_by_password(app: &MailApp, mail: &str) -> Value {
    let flow = api_flow(app, "registration").await;
    let res = call(
        Method::POST,
        &format!(
            "/self-service/registration?flow={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .json(json!({"method": "password", "traits": {"email": mail}, "password": PASSWORD}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body
}

// ---------------------------------------------------------------------------------------------
// Login by code
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_login_by_code() {
    let app = app();
    let mail = email();
    let id = app.admin_create(&mail).await;

    let flow = api_flow(&app, "login").await;
    assert_code_button(&flow, 1010015);
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    let submit = format!("/self-service/login?flow={flow_id}");

    // No identifier: 400 with the required message on the identifier node, nothing sent.
    let missing = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": ""}))
        .send(&app.public)
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        missing.body
    );
    assert_eq!(missing.message_ids(), vec![4000002]);
    assert_eq!(
        node(&missing.body, "identifier").unwrap()["messages"][0]["id"],
        4000002
    );

    // The identifier: Kratos answers a JSON client 400 with the flow in `sent_email`.
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail.to_uppercase()}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    assert_eq!(sent.body["id"], flow_id.as_str());
    assert_eq!(sent.body["type"], "api");
    assert_code_step(&sent.body, 1010014);
    assert_eq!(sent.body["active"], "code");
    assert!(
        node(&sent.body, "csrf_token").is_none(),
        "api flows carry no CSRF token"
    );
    let identifier = node(&sent.body, "identifier").expect("the identifier is kept");
    assert_eq!(identifier["attributes"]["type"], "hidden");
    assert_eq!(identifier["attributes"]["value"], mail.to_uppercase());
    assert!(sent.body.get("session_token").is_none());
    let code = app.code(&mail).await;
    assert_eq!(app.template_to(&mail), TemplateType::LoginCodeValid);

    // Fetching the flow shows the same step.
    let fetched = call(
        Method::GET,
        &format!("/self-service/login/flows?id={flow_id}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["state"], "sent_email");

    // A wrong code: 400 with 4010008, no session.
    let wrong = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail, "code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{:?}", wrong.body);
    assert_eq!(wrong.message_ids(), vec![4010008]);
    assert_eq!(wrong.body["ui"]["messages"][0]["type"], "error");
    assert!(wrong.body.get("session_token").is_none());

    // The right code: 200 with the session token and the session.
    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let token = done.body["session_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ory_st_"), "{token}");
    let session = &done.body["session"];
    assert_eq!(session["active"], true);
    assert_eq!(session["identity"]["id"], id.as_str());
    assert_eq!(session["authenticator_assurance_level"], "aal1");
    assert_eq!(session["authentication_methods"][0]["method"], "code");
    assert_eq!(session["authentication_methods"][0]["aal"], "aal1");
    assert!(
        done.body.get("identity").is_none(),
        "login answers no identity"
    );
    assert!(done.body["continue_with"].is_array());

    // whoami with the token: the session, signed in by code.
    let me = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["identity"]["id"], id.as_str());
    assert_eq!(me.body["authentication_methods"][0]["method"], "code");

    // The code proved the address.
    let identity = app.admin_identity(&id).await;
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
    assert_eq!(identity["verifiable_addresses"][0]["status"], "completed");

    // The flow is done: the code signs in no one a second time.
    let again = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail, "code": code}))
        .send(&app.public)
        .await;
    assert!(again.status.is_client_error(), "{:?}", again);
    assert!(again.body.get("session_token").is_none());
    // Nor in another flow.
    let other = api_flow(&app, "login").await;
    let reused = call(
        Method::POST,
        &format!("/self-service/login?flow={}", other["id"].as_str().unwrap()),
    )
    .json(json!({"method": "code", "identifier": mail, "code": code}))
    .send(&app.public)
    .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST, "{:?}", reused.body);
    assert_eq!(reused.message_ids(), vec![4010008]);
}

#[tokio::test]
async fn api_login_by_code_of_an_unknown_address_answers_alike_and_sends_nothing() {
    let app = app();
    let unknown = email();
    let flow = api_flow(&app, "login").await;
    let submit = format!("/self-service/login?flow={}", flow["id"].as_str().unwrap());
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": unknown}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    assert_code_step(&sent.body, 1010014);
    app.kratos.courier().dispatch_batch().await.unwrap();
    assert!(app.outbox.messages_to(&unknown).is_empty());
    let guess = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": unknown, "code": "123456"}))
        .send(&app.public)
        .await;
    assert_eq!(guess.status, StatusCode::BAD_REQUEST);
    assert_eq!(guess.message_ids(), vec![4010008]);
}

#[tokio::test]
async fn api_login_by_code_allows_five_wrong_codes() {
    let app = app();
    let mail = email();
    app.admin_create(&mail).await;
    let flow = api_flow(&app, "login").await;
    let submit = format!("/self-service/login?flow={}", flow["id"].as_str().unwrap());
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    let code = app.code(&mail).await;
    for _ in 0..5 {
        let wrong = call(Method::POST, &submit)
            .json(json!({"method": "code", "identifier": mail, "code": other_code(&code)}))
            .send(&app.public)
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        assert_eq!(wrong.message_ids(), vec![4010008]);
    }
    let refused = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    assert_eq!(refused.message_ids(), vec![4000001]);
    assert!(refused.body.get("session_token").is_none());
}

#[tokio::test]
async fn browser_login_by_code_with_form_posts_and_a_resend() {
    let app = app();
    let mut jar = Jar::default();
    let mail = email();
    let id = app.admin_create(&mail).await;
    let return_to = "https://app.example.com/after-login";

    let (flow_id, flow) = browser_flow(
        &app,
        &mut jar,
        "login",
        &format!("?return_to={return_to}"),
        LOGIN_UI,
    )
    .await;
    assert_code_button(&flow, 1010015);
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/login?flow={flow_id}");
    let back_to_ui = format!("{LOGIN_UI}?flow={flow_id}");

    // Without the CSRF token: refused, nothing sent.
    let forged = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("method", "code"), ("identifier", &mail)])
        .send(&app.public)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{:?}", forged.body);
    assert_eq!(forged.body["error"]["id"], "security_csrf_violation");
    app.kratos.courier().dispatch_batch().await.unwrap();
    assert!(app.outbox.messages_to(&mail).is_empty());

    // The form sends a code: 303 back to the UI, which shows the code step.
    let sent = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("identifier", &mail),
        ])
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{:?}", sent.body);
    assert_eq!(sent.location(), back_to_ui);
    jar.absorb(&sent);
    let step = fetch_flow(&app, &jar, "login", &flow_id).await;
    assert_code_step(&step, 1010014);
    let csrf = csrf_of(&step);
    let first = app.code(&mail).await;

    // The resend button posts `resend=code`: a new code, back to the UI.
    let resent = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("identifier", &mail),
            ("resend", "code"),
        ])
        .send(&app.public)
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{:?}", resent.body);
    assert_eq!(resent.location(), back_to_ui);
    jar.absorb(&resent);
    let second = app.code(&mail).await;
    assert_eq!(app.outbox.messages_to(&mail).len(), 2, "a second email");
    if first != second {
        // The replaced code is refused: back to the UI, which shows 4010008.
        let stale = call(Method::POST, &submit)
            .html_accept()
            .jar(&jar)
            .form(&[
                ("csrf_token", &csrf),
                ("method", "code"),
                ("identifier", &mail),
                ("code", &first),
            ])
            .send(&app.public)
            .await;
        assert_eq!(stale.status, StatusCode::SEE_OTHER);
        assert_eq!(stale.location(), back_to_ui);
        jar.absorb(&stale);
        let shown = fetch_flow(&app, &jar, "login", &flow_id).await;
        assert_eq!(message_ids(&shown), vec![4010008]);
    }

    // The new code: the session cookie and a 303 to the return URL.
    let done = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("identifier", &mail),
            ("code", &second),
        ])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert_eq!(done.location(), return_to);
    assert!(
        done.set_cookies()
            .iter()
            .any(|c| c.starts_with("ory_kratos_session=") && !c.contains("Max-Age=0")),
        "{:?}",
        done.set_cookies()
    );
    jar.absorb(&done);
    assert!(jar.has("ory_kratos_session"));

    // whoami with the cookie: signed in by code.
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["identity"]["id"], id.as_str());
    assert_eq!(me.body["authentication_methods"][0]["method"], "code");
    assert_eq!(me.body["authenticator_assurance_level"], "aal1");
}

#[tokio::test]
async fn spa_login_by_code_answers_json_and_sets_the_cookie() {
    let app = app();
    let mut jar = Jar::default();
    let mail = email();
    app.admin_create(&mail).await;
    let (flow_id, flow) = browser_flow(&app, &mut jar, "login", "", LOGIN_UI).await;
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/login?flow={flow_id}");
    let sent = call(Method::POST, &submit)
        .json_accept()
        .jar(&jar)
        .json(json!({"method": "code", "identifier": mail, "csrf_token": csrf}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    assert_eq!(sent.body["type"], "browser");
    assert_code_step(&sent.body, 1010014);
    let code = app.code(&mail).await;
    let done = call(Method::POST, &submit)
        .json_accept()
        .jar(&jar)
        .header("x-csrf-token", &csrf)
        .json(json!({"method": "code", "identifier": mail, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert!(
        done.body.get("session_token").is_none(),
        "browsers get the cookie, not the token"
    );
    assert_eq!(
        done.body["session"]["authentication_methods"][0]["method"],
        "code"
    );
    jar.absorb(&done);
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Registration by code
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_registration_by_code() {
    let app = app();
    let mail = email();
    let flow = api_flow(&app, "registration").await;
    assert_code_button(&flow, 1040006);
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    let submit = format!("/self-service/registration?flow={flow_id}");

    // Traits the schema refuses: 400, nothing sent.
    let invalid = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {}}))
        .send(&app.public)
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        invalid.body
    );
    assert_eq!(invalid.message_ids(), vec![4000002]);
    assert_eq!(
        node(&invalid.body, "traits.email").unwrap()["messages"][0]["id"],
        4000002
    );

    // The traits: 400 with the flow in `sent_email` (as Kratos answers JSON clients).
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    assert_eq!(sent.body["id"], flow_id.as_str());
    assert_code_step(&sent.body, 1040005);
    let code = app.code(&mail).await;
    assert_eq!(app.template_to(&mail), TemplateType::RegistrationCodeValid);

    // A wrong code: 400 with 4040003; no identity.
    let wrong = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}, "code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{:?}", wrong.body);
    assert_eq!(wrong.message_ids(), vec![4040003]);
    assert!(wrong.body.get("identity").is_none());

    // The right code: 200 with the identity (address verified), the session and its token.
    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let identity = &done.body["identity"];
    assert_eq!(identity["traits"]["email"], mail.as_str());
    assert_eq!(identity["verifiable_addresses"][0]["value"], mail.as_str());
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
    assert_eq!(identity["verifiable_addresses"][0]["status"], "completed");
    assert!(identity.get("credentials").is_none());
    let token = done.body["session_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ory_st_"));
    assert_eq!(done.body["session"]["identity"]["id"], identity["id"]);
    assert_eq!(
        done.body["session"]["authentication_methods"][0]["method"],
        "code"
    );
    // The address is verified already: verification (enabled) sends nothing more.
    assert!(
        verification_items(&done.body["continue_with"]).is_empty(),
        "{}",
        done.body["continue_with"]
    );
    app.kratos.courier().dispatch_batch().await.unwrap();
    assert_eq!(app.outbox.messages_to(&mail).len(), 1, "only the code");

    let me = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["authentication_methods"][0]["method"], "code");

    // The identity has no password: password login fails; a code login works.
    let stored = app.admin_identity(identity["id"].as_str().unwrap()).await;
    assert_eq!(stored["verifiable_addresses"][0]["verified"], true);

    // A second registration of the address: 400 with 4000007.
    let again = api_flow(&app, "registration").await;
    let submit = format!(
        "/self-service/registration?flow={}",
        again["id"].as_str().unwrap()
    );
    call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}}))
        .send(&app.public)
        .await;
    let code = app.code(&mail).await;
    let dup = call(Method::POST, &submit)
        .json(json!({"method": "code", "traits": {"email": mail}, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST, "{:?}", dup.body);
    assert_eq!(dup.message_ids(), vec![4000007]);
}

#[tokio::test]
async fn browser_registration_by_code_with_form_posts() {
    let app = app();
    let mut jar = Jar::default();
    let mail = email();
    let (flow_id, flow) = browser_flow(&app, &mut jar, "registration", "", REGISTRATION_UI).await;
    assert_code_button(&flow, 1040006);
    let csrf = csrf_of(&flow);
    let submit = format!("/self-service/registration?flow={flow_id}");
    let back_to_ui = format!("{REGISTRATION_UI}?flow={flow_id}");

    let sent = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("traits.email", &mail),
        ])
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{:?}", sent.body);
    assert_eq!(sent.location(), back_to_ui);
    jar.absorb(&sent);

    // The UI renders the code step: the traits as hidden inputs holding what was posted.
    let step = fetch_flow(&app, &jar, "registration", &flow_id).await;
    assert_code_step(&step, 1040005);
    let email_node = node(&step, "traits.email").expect("the email is kept");
    assert_eq!(email_node["attributes"]["type"], "hidden");
    assert_eq!(
        email_node["attributes"]["value"],
        mail.as_str(),
        "the code step's form carries the posted traits"
    );
    let csrf = csrf_of(&step);
    let code = app.code(&mail).await;

    // A wrong code: back to the UI, which shows 4040003.
    let wrong = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("traits.email", &mail),
            ("code", other_code(&code)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    assert_eq!(wrong.location(), back_to_ui);
    let shown = fetch_flow(&app, &jar, "registration", &flow_id).await;
    assert_eq!(message_ids(&shown), vec![4040003]);

    // The code: 303 to the return URL with the session cookie.
    let done = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("traits.email", &mail),
            ("code", &code),
        ])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert_eq!(done.location(), APP);
    jar.absorb(&done);
    assert!(jar.has("ory_kratos_session"));
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["identity"]["traits"]["email"], mail.as_str());
    assert_eq!(me.body["authentication_methods"][0]["method"], "code");
    assert_eq!(
        me.body["identity"]["verifiable_addresses"][0]["verified"],
        true
    );
}

// ---------------------------------------------------------------------------------------------
// Verification hooks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_registration_with_verification_continues_with_the_verification_flow() {
    let app = app();
    let mail = email();
    let done = api_register_by_password(&app, &mail).await;
    let identity_id = done["identity"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        done["identity"]["verifiable_addresses"][0]["verified"],
        false
    );
    let token = done["session_token"].as_str().unwrap();

    // continue_with: the verification flow (first), and the session token.
    let items = verification_items(&done["continue_with"]);
    assert_eq!(items.len(), 1, "{}", done["continue_with"]);
    assert_eq!(done["continue_with"][0]["action"], "show_verification_ui");
    let flow = &items[0]["flow"];
    let verification_id = flow["id"].as_str().unwrap().to_owned();
    Uuid::parse_str(&verification_id).unwrap();
    assert_eq!(flow["verifiable_address"], mail.as_str());
    assert_eq!(
        flow["url"],
        format!("{VERIFICATION_UI}?flow={verification_id}")
    );
    let set_token = done["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "set_ory_session_token")
        .expect("set_ory_session_token");
    assert_eq!(set_token["ory_session_token"], token);

    // The verification flow: an api flow in `sent_email`.
    let res = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={verification_id}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["id"], verification_id.as_str());
    assert_eq!(res.body["type"], "api");
    assert_eq!(res.body["state"], "sent_email");
    assert_eq!(res.message_ids(), vec![1080003]);

    // The mailed code verifies the address.
    let code = app.code(&mail).await;
    assert_eq!(app.template_to(&mail), TemplateType::VerificationCodeValid);
    let submit = format!("/self-service/verification?flow={verification_id}");
    let wrong = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::OK, "{:?}", wrong.body);
    assert_eq!(wrong.message_ids(), vec![4070006]);
    let verified = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["state"], "passed_challenge");
    assert_eq!(verified.message_ids(), vec![1080002]);

    let identity = app.admin_identity(&identity_id).await;
    let address = &identity["verifiable_addresses"][0];
    assert_eq!(address["value"], mail.as_str());
    assert_eq!(address["verified"], true);
    assert_eq!(address["status"], "completed");
    assert!(address["verified_at"].is_string());
}

#[tokio::test]
async fn registration_without_verification_continues_with_no_verification_flow() {
    let app = mail_app(&CONFIG.replace(
        "    verification:\n      enabled: true\n",
        "    verification:\n      enabled: false\n",
    ));
    let mail = email();
    let done = api_register_by_password(&app, &mail).await;
    assert!(verification_items(&done["continue_with"]).is_empty());
    app.kratos.courier().dispatch_batch().await.unwrap();
    assert!(app.outbox.messages_to(&mail).is_empty());
}

#[tokio::test]
async fn browser_registration_with_show_verification_ui_goes_to_the_verification_ui() {
    let app = mail_app(&show_verification_config());
    let mut jar = Jar::default();
    let mail = email();
    let done = browser_register_by_password(&app, &mut jar, &mail).await;
    let location = done.location().to_owned();
    assert!(
        location.starts_with(&format!("{VERIFICATION_UI}?flow=")),
        "sent to the verification UI, not the return URL: {location}"
    );
    let verification_id = query_param(&location, "flow").unwrap();
    jar.absorb(&done);
    assert!(
        jar.has("ory_kratos_session"),
        "signed in by the session hook"
    );

    // The verification UI fetches the flow with this browser's cookies.
    let flow = fetch_flow(&app, &jar, "verification", &verification_id).await;
    assert_eq!(flow["type"], "browser");
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(message_ids(&flow), vec![1080003]);
    let csrf = csrf_of(&flow);

    // The form posts the mailed code: verified.
    let code = app.code(&mail).await;
    let verified = call(
        Method::POST,
        &format!("/self-service/verification?flow={verification_id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[("csrf_token", &csrf), ("method", "code"), ("code", &code)])
    .send(&app.public)
    .await;
    assert_eq!(
        verified.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        verified.body
    );
    jar.absorb(&verified);
    let flow = fetch_flow(&app, &jar, "verification", &verification_id).await;
    assert_eq!(flow["state"], "passed_challenge");
    let me = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body["identity"]["verifiable_addresses"][0]["verified"],
        true
    );
}

#[tokio::test]
async fn spa_registration_with_show_verification_ui_answers_both_items() {
    let app = mail_app(&show_verification_config());
    let mut jar = Jar::default();
    let mail = email();
    let (flow_id, flow) = browser_flow(&app, &mut jar, "registration", "", REGISTRATION_UI).await;
    let csrf = csrf_of(&flow);
    let done = call(
        Method::POST,
        &format!("/self-service/registration?flow={flow_id}"),
    )
    .json_accept()
    .jar(&jar)
    .json(json!({"csrf_token": csrf, "method": "password",
        "traits": {"email": mail}, "password": PASSWORD}))
    .send(&app.public)
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert!(done.body.get("session_token").is_none());
    let items = verification_items(&done.body["continue_with"]);
    assert_eq!(items.len(), 1);
    let url = items[0]["flow"]["url"].as_str().unwrap().to_owned();
    assert_eq!(
        url,
        format!(
            "{VERIFICATION_UI}?flow={}",
            items[0]["flow"]["id"].as_str().unwrap()
        )
    );
    let redirect = done.body["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "redirect_browser_to")
        .expect("redirect_browser_to");
    assert_eq!(redirect["redirect_browser_to"], url.as_str());

    // The SPA fetches the verification flow with the cookies it got.
    jar.absorb(&done);
    let verification_id = items[0]["flow"]["id"].as_str().unwrap();
    let flow = fetch_flow(&app, &jar, "verification", verification_id).await;
    assert_eq!(flow["state"], "sent_email");
}

#[tokio::test]
async fn browser_registration_without_show_verification_ui_goes_to_the_return_url() {
    let app = app();
    let mut jar = Jar::default();
    let mail = email();
    let done = browser_register_by_password(&app, &mut jar, &mail).await;
    assert_eq!(done.location(), APP);
    // The verification message is sent all the same.
    app.code(&mail).await;
    assert_eq!(app.template_to(&mail), TemplateType::VerificationCodeValid);
}

#[tokio::test]
async fn api_settings_new_email_continues_with_its_verification_flow() {
    let app = app();
    let mail = email();
    let done = api_register_by_password(&app, &mail).await;
    let token = done["session_token"].as_str().unwrap().to_owned();
    let identity_id = done["identity"]["id"].as_str().unwrap().to_owned();
    // Verify the first address.
    let first = verification_items(&done["continue_with"])[0]["flow"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.code(&mail).await;
    let res = call(
        Method::POST,
        &format!("/self-service/verification?flow={first}"),
    )
    .json(json!({"method": "code", "code": code}))
    .send(&app.public)
    .await;
    assert_eq!(res.body["state"], "passed_challenge");

    let settings = |token: String| {
        let app = &app;
        async move {
            let res = call(Method::GET, "/self-service/settings/api")
                .token(&token)
                .send(&app.public)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
            res.body["id"].as_str().unwrap().to_owned()
        }
    };

    // A change that keeps the address: no verification flow.
    let flow = settings(token.clone()).await;
    let same = call(Method::POST, &format!("/self-service/settings?flow={flow}"))
        .token(&token)
        .json(json!({"method": "profile", "traits": {"email": mail, "name": "Ada"}}))
        .send(&app.public)
        .await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
    assert_eq!(same.body["state"], "success");
    assert!(verification_items(&same.body["continue_with"]).is_empty());

    // A new address: the flow in `success` with 1050001, continuing with its verification.
    let new_mail = email();
    let flow = settings(token.clone()).await;
    let changed = call(Method::POST, &format!("/self-service/settings?flow={flow}"))
        .token(&token)
        .json(json!({"method": "profile", "traits": {"email": new_mail}}))
        .send(&app.public)
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["id"], flow.as_str());
    assert_eq!(changed.body["state"], "success");
    assert_eq!(changed.message_ids(), vec![1050001]);
    assert_eq!(
        changed.body["identity"]["traits"]["email"],
        new_mail.as_str()
    );
    let items = verification_items(&changed.body["continue_with"]);
    assert_eq!(items.len(), 1, "{}", changed.body["continue_with"]);
    let verification_id = items[0]["flow"]["id"].as_str().unwrap().to_owned();
    assert_eq!(items[0]["flow"]["verifiable_address"], new_mail.as_str());
    assert_eq!(
        items[0]["flow"]["url"],
        format!("{VERIFICATION_UI}?flow={verification_id}")
    );
    let identity = app.admin_identity(&identity_id).await;
    assert_eq!(
        identity["verifiable_addresses"][0]["value"],
        new_mail.as_str()
    );
    assert_eq!(identity["verifiable_addresses"][0]["verified"], false);

    // Its code verifies the new address.
    let code = app.code(&new_mail).await;
    assert_eq!(
        app.template_to(&new_mail),
        TemplateType::VerificationCodeValid
    );
    let res = call(
        Method::POST,
        &format!("/self-service/verification?flow={verification_id}"),
    )
    .json(json!({"method": "code", "code": code}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["state"], "passed_challenge");
    let identity = app.admin_identity(&identity_id).await;
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
}

#[tokio::test]
async fn browser_settings_new_email_goes_to_the_verification_ui() {
    let app = mail_app(&show_verification_config());
    let mut jar = Jar::default();
    let mail = email();

    // Sign up in the browser (sent to the verification UI by the hook).
    let done = browser_register_by_password(&app, &mut jar, &mail).await;
    jar.absorb(&done);

    // A settings form changes the address: 303 to the new address's verification flow.
    let (flow_id, flow) = browser_flow(&app, &mut jar, "settings", "", SETTINGS_UI).await;
    let csrf = csrf_of(&flow);
    let new_mail = email();
    let changed = call(
        Method::POST,
        &format!("/self-service/settings?flow={flow_id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[
        ("csrf_token", &csrf),
        ("method", "profile"),
        ("traits.email", &new_mail),
    ])
    .send(&app.public)
    .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{:?}", changed.body);
    let location = changed.location().to_owned();
    assert!(
        location.starts_with(&format!("{VERIFICATION_UI}?flow=")),
        "{location}"
    );
    jar.absorb(&changed);
    let verification_id = query_param(&location, "flow").unwrap();
    let flow = fetch_flow(&app, &jar, "verification", &verification_id).await;
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(
        node(&flow, "email").map(|n| n["attributes"]["value"].clone()),
        Some(json!(new_mail)),
        "the flow is for the new address"
    );

    // The settings flow itself records the item.
    let settings = fetch_flow(&app, &jar, "settings", &flow_id).await;
    assert_eq!(settings["state"], "success");
    let items = verification_items(&settings["continue_with"]);
    assert_eq!(items.len(), 1, "{}", settings["continue_with"]);
    assert_eq!(items[0]["flow"]["id"], verification_id.as_str());
    assert_eq!(
        path_of(&location),
        path_of(items[0]["flow"]["url"].as_str().unwrap())
    );
}

#[tokio::test]
async fn registration_by_code_then_login_by_code_over_the_api() {
    let app = app();
    let mail = email();
    let registered = api_register_by_code(&app, &mail).await;
    let id = registered["identity"]["id"].as_str().unwrap().to_owned();
    let flow = api_flow(&app, "login").await;
    let submit = format!("/self-service/login?flow={}", flow["id"].as_str().unwrap());
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    let code = app.code(&mail).await;
    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": mail, "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["session"]["identity"]["id"], id.as_str());
    // Password login: the identity has no password.
    let flow = api_flow(&app, "login").await;
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()),
    )
    .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.message_ids(), vec![4000006]);
}

/// Kratos's `registrationSendEmail` sets `f.Active = code` on the flow it answers with the
/// code step (as the login does); kratos-core's registration `submit_code` leaves `active`
/// unset.
#[tokio::test]
async fn registration_code_step_marks_the_code_method_active() {
    let app = app();
    let mail = email();
    let flow = api_flow(&app, "registration").await;
    let sent = call(
        Method::POST,
        &format!(
            "/self-service/registration?flow={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .json(json!({"method": "code", "traits": {"email": mail}}))
    .send(&app.public)
    .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    assert_code_step(&sent.body, 1040005);
    assert_eq!(sent.body["active"], "code");
}
