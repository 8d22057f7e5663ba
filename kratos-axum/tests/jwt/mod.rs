//! What the session JWT tests share: a registry with tokenizer templates over the test-only
//! key sets of kratos-core's fixtures, a signed-in session, and whoami with `tokenize_as`.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::identity::{
    CreateIdentityBody, ImportCredentials, ImportPassword, ImportPasswordConfig,
};
use kratos_core::{Kratos, ManualClock};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The issuer the registry writes (`serve.public.base_url` as configured).
pub const ISSUER: &str = "http://127.0.0.1:4433/";

/// The templates: one per algorithm, named as the fixture.
pub const TEMPLATES: &[(&str, &str)] =
    &[("es256", "ES256"), ("rs256", "RS256"), ("eddsa", "EdDSA")];

/// The `file://` URL of a test-only key set of kratos-core's fixtures.
pub fn fixture_url(name: &str) -> String {
    format!("file://{}", fixture_path(name))
}

/// The path of a test-only key set of kratos-core's fixtures.
pub fn fixture_path(name: &str) -> String {
    format!(
        "{}/../kratos-core/tests/fixtures/jwt/test-only.{name}.jwks.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The public part of a fixture's key set, as a JWKS endpoint would publish it.
pub fn public_set(names: &[&str]) -> Value {
    let keys: Vec<Value> = names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(fixture_path(name)).unwrap();
            let set: Value = serde_json::from_str(&text).unwrap();
            kratos_core::session::tokenizer::public_jwk(set["keys"][0].as_object().unwrap())
        })
        .collect();
    json!({ "keys": keys })
}

/// A registry with a template per algorithm, one whose subject is the external id, and a
/// manual clock.
pub fn kratos() -> (Kratos, Arc<ManualClock>) {
    let mut yaml = format!(
        "serve:\n  public:\n    base_url: {ISSUER}\nsession:\n  whoami:\n    tokenizer:\n      templates:\n"
    );
    for (name, _) in TEMPLATES {
        yaml.push_str(&format!(
            "        {name}:\n          ttl: 10m\n          jwks_url: {}\n",
            fixture_url(name)
        ));
    }
    yaml.push_str(&format!(
        "        by-external-id:\n          jwks_url: {}\n          subject_source: external_id\n",
        fixture_url("es256")
    ));
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let k = kratos_core::testsuite::kratos_with(store, &yaml, clock.clone());
    (k, clock)
}

/// A new identity signed in through the API login: its session token and identity id.
pub async fn signed_in(k: &Kratos) -> (String, String) {
    let mail = format!("jwt-{}@example.com", uuid::Uuid::new_v4().simple());
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": mail }),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some("a very good password 1234".into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "a very good password 1234"}),
            &ctx,
        )
        .await
        .unwrap();
    match done {
        LoginSubmission::Completed(s) => (
            s.session_token.unwrap().expose().to_owned(),
            identity.id.to_string(),
        ),
        LoginSubmission::Retry(_) => panic!("login failed"),
    }
}

/// A GET with optional headers: status, headers and the JSON (or text) body.
pub async fn get(
    app: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

/// whoami with `tokenize_as=template`: the session and its `tokenized` JWT.
pub async fn tokenized(public: &Router, token: &str, template: &str) -> (Value, String) {
    let (status, _, body) = get(
        public,
        &format!("/sessions/whoami?tokenize_as={template}"),
        &[("x-session-token", token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{template}: {body}");
    let jwt = body["tokenized"].as_str().unwrap().to_owned();
    (body, jwt)
}
