//! Phone numbers end to end over the HTTP API: sign up with a phone number, verify it with
//! the code read from the text message a local SMS endpoint received, sign out, sign in with
//! a code by text message, and recover the account by text message. Every text message is
//! delivered by the courier through the `sms` channel of `courier.channels` (an HTTP request
//! with an API key and a Jsonnet body), and none goes by email.

use std::sync::{Arc, Mutex};

use base64::Engine;

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode};
use kratos_core::courier::MemoryOutbox;
use kratos_core::identity::IdentitySchema;
use kratos_core::{Config, Kratos};
use serde_json::{Value, json};
use tokio::net::TcpListener;

mod common;
use common::*;

const PASSWORD: &str = "a phone and a long passphrase";
const API_KEY: &str = "Bearer sms-endpoint-key-0123";
/// The SMS provider's request body, as a Jsonnet template of the message.
const SMS_BODY: &str = r#"function(ctx) {
  To: ctx.recipient,
  Body: ctx.body,
  Kind: ctx.message_type,
  Template: ctx.template_type,
}"#;

/// A request the SMS endpoint received: its `Authorization` header and its body.
type Received = (Option<String>, Value);

/// The text messages a local SMS endpoint received.
#[derive(Clone, Default)]
struct SmsEndpoint(Arc<Mutex<Vec<Received>>>);

impl SmsEndpoint {
    /// Serves `POST /sms` on a loopback port and answers its URL.
    async fn start(&self) -> String {
        let seen = self.0.clone();
        let app = Router::new().route(
            "/sms",
            axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    seen.lock().unwrap().push((auth, body.0));
                    StatusCode::OK
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// The code in the newest text message to `to`, checking how it was delivered.
    fn code_to(&self, to: &str, template: &str) -> String {
        let seen = self.0.lock().unwrap();
        let (auth, body) = seen
            .iter()
            .rev()
            .find(|(_, b)| b["To"] == to)
            .unwrap_or_else(|| panic!("no text message to {to}"));
        assert_eq!(auth.as_deref(), Some(API_KEY), "the channel's API key");
        // The body as the template renders it: these four fields and nothing else.
        assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
        assert_eq!(body["Kind"], "sms");
        assert_eq!(body["Template"], template);
        body["Body"]
            .as_str()
            .unwrap()
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("the text message carries a code")
            .to_owned()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

fn config(sms_url: &str) -> String {
    format!(
        "secrets:
  default: [\"sms-http-secret-0123456789abcdef\"]
hashers:
  algorithm: bcrypt
  bcrypt:
    cost: 4
serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  methods:
    code:
      passwordless_enabled: true
  flows:
    registration:
      after:
        password:
          hooks:
            - hook: session
    verification:
      enabled: true
      use: code
    recovery:
      enabled: true
      use: code
feature_flags:
  choose_recovery_address: true
courier:
  channels:
    - id: sms
      type: http
      request_config:
        url: {sms_url}
        method: POST
        auth:
          type: api_key
          config:
            name: Authorization
            value: \"{API_KEY}\"
            in: header
        body: base64://{}
",
        base64::engine::general_purpose::STANDARD.encode(SMS_BODY)
    )
}

/// Email address (password identifier) and phone number (code identifier, verified and
/// recovered by text message).
fn schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                    "credentials": {"password": {"identifier": true}}}},
                "phone": {"type": "string", "format": "tel", "ory.sh/kratos": {
                    "credentials": {"code": {"identifier": true, "via": "sms"}},
                    "verification": {"via": "sms"},
                    "recovery": {"via": "sms"}}}
            }, "required": ["email", "phone"], "additionalProperties": false}}
        }),
    )
    .unwrap()
}

async fn dispatch(kratos: &Kratos) {
    kratos.courier().dispatch_batch().await.expect("dispatch");
}

async fn api_flow(public: &Router, kind: &str) -> String {
    let init = call(Method::GET, &format!("/self-service/{kind}/api"))
        .send(public)
        .await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.body);
    init.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn phone_sign_up_verify_sign_in_and_recover_by_text_message() {
    let endpoint = SmsEndpoint::default();
    let url = endpoint.start().await;
    let mail = MemoryOutbox::new();
    let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(
        Config::from_yaml_str(&config(&url)).unwrap(),
    ))
    .store(Arc::new(kratos_core::store::MemoryStore::new()))
    .schema(schema())
    .courier_channel(Arc::new(mail.clone()))
    .build()
    .unwrap();
    let public = kratos_axum::public_router(kratos.clone());
    let email = email();
    let phone = "+14155550142";

    // Sign up, with the number written as people write it.
    let flow = api_flow(&public, "registration").await;
    let bad = call(
        Method::POST,
        &format!("/self-service/registration?flow={flow}"),
    )
    .json(json!({"method": "password", "password": PASSWORD,
                 "traits": {"email": email, "phone": "0415 555 0142"}}))
    .send(&public)
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    assert_eq!(
        bad.message_ids(),
        vec![4000041],
        "not an international number"
    );
    let done = call(
        Method::POST,
        &format!("/self-service/registration?flow={flow}"),
    )
    .json(json!({"method": "password", "password": PASSWORD,
                 "traits": {"email": email, "phone": "+1 (415) 555-0142"}}))
    .send(&public)
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let token = done.body["session_token"].as_str().unwrap().to_owned();
    // The verification hook started a flow for the phone number and queued its code.
    let verification = done.body["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "show_verification_ui")
        .expect("a verification flow for the phone number");
    assert_eq!(verification["flow"]["verifiable_address"], phone);
    let verification_flow = verification["flow"]["id"].as_str().unwrap().to_owned();

    // Verify with the code the SMS endpoint received.
    dispatch(&kratos).await;
    let code = endpoint.code_to(phone, "verification_code_valid");
    let verified = call(
        Method::POST,
        &format!("/self-service/verification?flow={verification_flow}"),
    )
    .json(json!({"method": "code", "code": code}))
    .send(&public)
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["state"], "passed_challenge");
    assert_eq!(verified.message_ids(), vec![1080005]);
    let whoami = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    let addresses = &whoami.body["identity"]["verifiable_addresses"];
    assert_eq!(addresses[0]["value"], phone);
    assert_eq!(addresses[0]["via"], "sms");
    assert_eq!(addresses[0]["verified"], true);

    // Sign out.
    let out = call(Method::DELETE, "/self-service/logout/api")
        .json(json!({"session_token": token}))
        .send(&public)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let gone = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&public)
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);

    // Sign in with a code by text message.
    let flow = api_flow(&public, "login").await;
    let submit = format!("/self-service/login?flow={flow}");
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": "+1 415 555 0142"}))
        .send(&public)
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "sent_email");
    dispatch(&kratos).await;
    let code = endpoint.code_to(phone, "login_code_valid");
    let signed_in = call(Method::POST, &submit)
        .json(json!({"method": "code", "identifier": phone, "code": code}))
        .send(&public)
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(
        signed_in.body["session"]["authentication_methods"][0]["method"],
        "code"
    );

    // Recover by text message: the phone number is the account's only recovery address.
    let flow = api_flow(&public, "recovery").await;
    let submit = format!("/self-service/recovery?flow={flow}");
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "recovery_address": "+1 415 555 0142"}))
        .send(&public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "recovery_awaiting_code");
    dispatch(&kratos).await;
    let code = endpoint.code_to(phone, "recovery_code_valid");
    let recovered = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&public)
        .await;
    assert_eq!(recovered.status, StatusCode::OK, "{:?}", recovered.body);
    assert_eq!(recovered.body["state"], "passed_challenge");
    let cw = recovered.body["continue_with"].as_array().unwrap();
    assert_eq!(cw[0]["action"], "set_ory_session_token");

    // Three text messages, each once; nothing went by email.
    dispatch(&kratos).await;
    assert_eq!(endpoint.count(), 3);
    assert!(mail.messages().is_empty(), "no email was sent");
}
