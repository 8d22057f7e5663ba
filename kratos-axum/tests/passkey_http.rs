//! Passkeys over HTTP, as Ory's UIs and Kratos's `webauthn.js` use them: the script route and
//! its pinned integrity, the form nodes of browser and api flows, a browser that registers
//! and then signs in with a (software) passkey by posting the forms the script fills in, and
//! malformed or foreign answers (4xx with Kratos's messages, never a 5xx).

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use base64::Engine;
use kratos_core::Kratos;
use kratos_core::testsuite::SoftPasskey;
use serde_json::Value;
use sha2::Digest;

mod common;
use common::*;

const BASE: &str = "https://auth.example.com";
const ORIGIN: &str = "https://app.example.com";
const LOGIN_UI: &str = "https://app.example.com/login";
const REGISTRATION_UI: &str = "https://app.example.com/registration";

const CONFIG: &str = "secrets:
  default: [\"passkey-http-secret-0123456789abcdef\"]
serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  methods:
    passkey:
      enabled: true
      config:
        rp:
          id: example.com
          display_name: Example
          origins:
            - https://auth.example.com
            - https://app.example.com
  flows:
    login:
      ui_url: https://app.example.com/login
    registration:
      ui_url: https://app.example.com/registration
      after:
        passkey:
          hooks:
            - hook: session
";

struct TestApp {
    public: Router,
}

fn app() -> TestApp {
    let config = kratos_core::config::Config::from_yaml_str(CONFIG).expect("config");
    let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(kratos_core::store::MemoryStore::new()))
        .schema(kratos_core::testsuite::passkey_schema())
        .build()
        .expect("kratos builds");
    TestApp {
        public: kratos_axum::public_router(kratos),
    }
}

fn node<'a>(flow: &'a Value, name: &str) -> &'a Value {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == name || n["attributes"]["id"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {flow}"))
}

fn value(flow: &Value, name: &str) -> String {
    node(flow, name)["attributes"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Starts a browser flow as an HTML client and fetches it with its cookies.
async fn browser_flow(app: &TestApp, jar: &mut Jar, kind: &str) -> (String, Value) {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
        .html_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let ui = if kind == "login" {
        LOGIN_UI
    } else {
        REGISTRATION_UI
    };
    assert!(res.location().starts_with(&format!("{ui}?flow=")));
    jar.absorb(&res);
    let id = query_param(res.location(), "flow").unwrap();
    let res = call(Method::GET, &format!("/self-service/{kind}/flows?id={id}"))
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    (id, res.body)
}

#[tokio::test]
async fn the_script_is_served_and_pinned_by_the_forms() {
    let app = app();
    let res = call(Method::GET, "/.well-known/ory/webauthn.js")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.headers["content-type"],
        "text/javascript; charset=UTF-8"
    );
    let script = res.body.as_str().expect("the script as text").to_owned();
    assert!(script.contains("window[name] = api[name]"));
    for trigger in [
        "oryPasskeyLogin",
        "oryPasskeyLoginAutocompleteInit",
        "oryPasskeyRegistration",
        "oryPasskeySettingsRegistration",
        "oryWebAuthnLogin",
        "oryWebAuthnRegistration",
    ] {
        assert!(script.contains(trigger), "{trigger}");
    }
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(script.as_bytes()))
    );
    let mut jar = Jar::default();
    let (_, flow) = browser_flow(&app, &mut jar, "login").await;
    let script_node = node(&flow, "webauthn_script");
    assert_eq!(script_node["type"], "script");
    assert_eq!(script_node["group"], "webauthn");
    assert_eq!(
        script_node["attributes"]["src"],
        format!("{BASE}/.well-known/ory/webauthn.js")
    );
    assert_eq!(script_node["attributes"]["integrity"], integrity);
}

#[tokio::test]
async fn the_forms_carry_kratos_nodes() {
    let app = app();
    let mut jar = Jar::default();
    let (_, login) = browser_flow(&app, &mut jar, "login").await;
    let identifier = node(&login, "identifier");
    assert_eq!(
        identifier["attributes"]["autocomplete"],
        "username webauthn"
    );
    assert_eq!(identifier["attributes"]["required"], true);
    assert_eq!(node(&login, "passkey_challenge")["group"], "passkey");
    let challenge: Value = serde_json::from_str(&value(&login, "passkey_challenge")).unwrap();
    assert_eq!(challenge["publicKey"]["rpId"], "example.com");
    assert_eq!(challenge["publicKey"]["userVerification"], "preferred");
    let login_node = &node(&login, "passkey_login")["attributes"];
    assert_eq!(login_node["type"], "hidden");
    assert_eq!(
        login_node["onload"],
        "window.oryPasskeyLoginAutocompleteInit()"
    );
    assert_eq!(
        login_node["onloadTrigger"],
        "oryPasskeyLoginAutocompleteInit"
    );
    let trigger = node(&login, "passkey_login_trigger");
    assert_eq!(trigger["attributes"]["type"], "button");
    assert_eq!(trigger["attributes"]["onclick"], "window.oryPasskeyLogin()");
    assert_eq!(trigger["attributes"]["onclickTrigger"], "oryPasskeyLogin");
    assert_eq!(trigger["meta"]["label"]["id"], 1010021);
    assert_eq!(trigger["meta"]["label"]["text"], "Sign in with passkey");

    let (_, registration) = browser_flow(&app, &mut jar, "registration").await;
    let data: Value = serde_json::from_str(&value(&registration, "passkey_create_data")).unwrap();
    assert_eq!(data["displayNameFieldName"], "traits.email");
    assert_eq!(
        data["displayNameFieldNames"],
        serde_json::json!(["traits.email"])
    );
    let options = &data["credentialOptions"]["publicKey"];
    assert_eq!(options["rp"]["id"], "example.com");
    assert_eq!(options["rp"]["name"], "Example");
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["requireResidentKey"],
        true
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    let trigger = node(&registration, "passkey_register_trigger");
    assert_eq!(
        trigger["attributes"]["onclick"],
        "window.oryPasskeyRegistration()"
    );
    assert_eq!(
        trigger["attributes"]["onclickTrigger"],
        "oryPasskeyRegistration"
    );
    assert_eq!(trigger["meta"]["label"]["id"], 1040007);
    assert_eq!(
        node(&registration, "passkey_register")["attributes"]["type"],
        "hidden"
    );

    // Api flows: the trigger names its function but runs no JavaScript, and no script.
    let res = call(Method::GET, "/self-service/login/api")
        .send(&app.public)
        .await;
    let trigger = node(&res.body, "passkey_login_trigger");
    assert_eq!(trigger["attributes"]["onclickTrigger"], "oryPasskeyLogin");
    assert!(trigger["attributes"].get("onclick").is_none());
    assert!(
        !res.body["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "script")
    );
}

#[tokio::test]
async fn a_browser_registers_and_signs_in_with_a_passkey() {
    let app = app();
    let mut key = SoftPasskey::new(ORIGIN);
    let mail = email();

    // Registration: the script fills in `passkey_register` and submits the form (no method).
    let mut jar = Jar::default();
    let (id, flow) = browser_flow(&app, &mut jar, "registration").await;
    let answer = key.register(&value(&flow, "passkey_create_data"));
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[
        ("csrf_token", &csrf_of(&flow)),
        ("traits.email", &mail),
        ("passkey_register", &answer),
    ])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    jar.absorb(&res);
    assert!(jar.has("ory_kratos_session"));

    // Login in another browser, with the script's `passkey_login`.
    let mut other = Jar::default();
    let (id, flow) = browser_flow(&app, &mut other, "login").await;
    let answer = key.login(&value(&flow, "passkey_challenge"));
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .html_accept()
        .jar(&other)
        .form(&[("csrf_token", &csrf_of(&flow)), ("passkey_login", &answer)])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    other.absorb(&res);
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&other)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK, "{:?}", whoami.body);
    assert_eq!(whoami.body["identity"]["traits"]["email"], mail.as_str());
    assert_eq!(
        whoami.body["authentication_methods"][0]["method"],
        "passkey"
    );
    assert_eq!(whoami.body["authenticator_assurance_level"], "aal1");
}

#[tokio::test]
async fn malformed_and_foreign_answers_are_refused_without_server_errors() {
    let app = app();
    let mut key = SoftPasskey::new(ORIGIN);
    let mail = email();
    let mut jar = Jar::default();
    let (id, flow) = browser_flow(&app, &mut jar, "registration").await;
    let answer = key.register(&value(&flow, "passkey_create_data"));
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .json_accept()
    .jar(&jar)
    .json(serde_json::json!({
        "csrf_token": csrf_of(&flow),
        "traits": {"email": mail},
        "passkey_register": answer,
    }))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);

    let mut other = Jar::default();
    let (id, flow) = browser_flow(&app, &mut other, "login").await;
    for bad in ["{", "null", "{\"id\": 1}", "[]"] {
        let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
            .json_accept()
            .jar(&other)
            .json(serde_json::json!({
                "csrf_token": csrf_of(&flow),
                "method": "passkey",
                "passkey_login": bad,
            }))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", res.body);
    }
    // An assertion made for another origin: 400 with 4000043 on the flow.
    key.origin = "https://evil.example.net".into();
    let answer = key.login(&value(&flow, "passkey_challenge"));
    let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
        .json_accept()
        .jar(&other)
        .json(serde_json::json!({
            "csrf_token": csrf_of(&flow),
            "method": "passkey",
            "passkey_login": answer,
        }))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.message_ids(), vec![4000043]);
    // A registration answer for another flow's challenge: 400, nothing created.
    let (id, flow) = browser_flow(&app, &mut other, "registration").await;
    let (_, elsewhere) = browser_flow(&app, &mut other, "registration").await;
    let mut stranger = SoftPasskey::new(ORIGIN);
    let answer = stranger.register(&value(&elsewhere, "passkey_create_data"));
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={id}"),
    )
    .json_accept()
    .jar(&other)
    .json(serde_json::json!({
        "csrf_token": csrf_of(&flow),
        "traits": {"email": email()},
        "passkey_register": answer,
    }))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
}

/// Kratos's snapshot of a first-factor passkey login form
/// (selfservice/strategy/passkey/.snapshots/TestFormHydration-method=PopulateLoginMethodFirstFactor.json),
/// without the values its snapshot tool strips.
const KRATOS_LOGIN_NODES: &str = r#"[
  {"type": "input", "group": "default", "attributes": {"name": "csrf_token", "type": "hidden", "required": true, "disabled": false, "node_type": "input"}, "messages": [], "meta": {}},
  {"type": "input", "group": "default", "attributes": {"name": "identifier", "type": "text", "value": "", "required": true, "autocomplete": "username webauthn", "disabled": false, "node_type": "input"}, "messages": [], "meta": {"label": {"id": 1070004, "text": "ID", "type": "info"}}},
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_challenge", "type": "hidden", "disabled": false, "node_type": "input"}, "messages": [], "meta": {}},
  {"type": "script", "group": "webauthn", "attributes": {"async": true, "referrerpolicy": "no-referrer", "crossorigin": "anonymous", "type": "text/javascript", "id": "webauthn_script", "node_type": "script"}, "messages": [], "meta": {}},
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_login", "type": "hidden", "disabled": false, "onload": "window.oryPasskeyLoginAutocompleteInit()", "onloadTrigger": "oryPasskeyLoginAutocompleteInit", "node_type": "input"}, "messages": [], "meta": {}},
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_login_trigger", "type": "button", "value": "", "disabled": false, "onclick": "window.oryPasskeyLogin()", "onclickTrigger": "oryPasskeyLogin", "node_type": "input"}, "messages": [], "meta": {"label": {"id": 1010021, "text": "Sign in with passkey", "type": "info"}}}
]"#;

#[tokio::test]
async fn the_login_form_matches_kratos_snapshot() {
    // Passkeys alone, as in Kratos's snapshot: the password method off.
    let config = kratos_core::config::Config::from_yaml_str(&CONFIG.replace(
        "  methods:\n    passkey:",
        "  methods:\n    password:\n      enabled: false\n    passkey:",
    ))
    .expect("config");
    let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(kratos_core::store::MemoryStore::new()))
        .schema(kratos_core::testsuite::passkey_schema())
        .build()
        .expect("kratos builds");
    let app = TestApp {
        public: kratos_axum::public_router(kratos),
    };
    let mut jar = Jar::default();
    let (_, flow) = browser_flow(&app, &mut jar, "login").await;
    let mut ours = flow["ui"]["nodes"].as_array().unwrap().clone();
    for node in &mut ours {
        let attributes = node["attributes"].as_object_mut().unwrap();
        for stripped in ["nonce", "src", "integrity"] {
            attributes.remove(stripped);
        }
        let name = attributes.get("name").and_then(Value::as_str).unwrap_or("");
        if matches!(name, "csrf_token" | "passkey_challenge") {
            attributes.remove("value");
        }
    }
    let kratos: Value = serde_json::from_str(KRATOS_LOGIN_NODES).unwrap();
    assert_eq!(Value::Array(ours), kratos);
}

/// The passkey nodes of Kratos's registration snapshot
/// (TestPopulateRegistrationMethod-method=PopulateRegistrationMethod-type=browser.json).
const KRATOS_REGISTRATION_NODES: &str = r#"[
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_create_data", "type": "hidden", "disabled": false, "node_type": "input"}, "messages": [], "meta": {}},
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_register_trigger", "type": "button", "disabled": false, "onclick": "window.oryPasskeyRegistration()", "onclickTrigger": "oryPasskeyRegistration", "node_type": "input"}, "messages": [], "meta": {"label": {"id": 1040007, "text": "Sign up with passkey", "type": "info"}}},
  {"type": "script", "group": "webauthn", "attributes": {"async": true, "referrerpolicy": "no-referrer", "crossorigin": "anonymous", "type": "text/javascript", "id": "webauthn_script", "node_type": "script"}, "messages": [], "meta": {}},
  {"type": "input", "group": "passkey", "attributes": {"name": "passkey_register", "type": "hidden", "disabled": false, "node_type": "input"}, "messages": [], "meta": {}}
]"#;

#[tokio::test]
async fn the_registration_form_matches_kratos_snapshot() {
    let app = app();
    let mut jar = Jar::default();
    let (_, flow) = browser_flow(&app, &mut jar, "registration").await;
    let ours: Vec<Value> = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["group"] == "passkey" || n["group"] == "webauthn")
        .cloned()
        .map(|mut node| {
            let attributes = node["attributes"].as_object_mut().unwrap();
            for stripped in ["nonce", "src", "integrity"] {
                attributes.remove(stripped);
            }
            if attributes.get("name") == Some(&Value::from("passkey_create_data")) {
                attributes.remove("value");
            }
            node
        })
        .collect();
    let kratos: Value = serde_json::from_str(KRATOS_REGISTRATION_NODES).unwrap();
    assert_eq!(Value::Array(ours), kratos);
}
