//! What the `oidc` method's HTTP tests share: an app with providers on a local
//! `FakeProvider`, and a browser's steps through a social sign-in.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use kratos_core::{Kratos, ManualClock};
use kratos_test_peers::{Client, FakeProvider, FakeProviderConfig};
use serde_json::Value;

use super::common::*;

pub const BASE: &str = "https://auth.example.com";
pub const APP: &str = "https://app.example.com/";
pub const LOGIN_UI: &str = "https://app.example.com/login";
pub const CLIENT_ID: &str = "kratos-rs";
pub const CLIENT_SECRET: &str = "kratos-rs-secret";

/// Email from the claims, the name when there is one; the email verified.
pub const MAPPER: &str = "local claims = std.extVar('claims');\n\
{ identity: { traits: { email: claims.email, [if 'name' in claims then 'name']: claims.name },\n\
  metadata_public: { provider_subject: claims.sub },\n\
  verified_addresses: [{ via: 'email', value: claims.email }] } }";

pub fn b64(s: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

pub struct App {
    pub kratos: Kratos,
    pub public: Router,
    pub clock: Arc<ManualClock>,
    pub fake: FakeProvider,
}

pub fn callback_uri(provider: &str) -> String {
    format!("{BASE}/self-service/methods/oidc/callback/{provider}")
}

pub async fn fake() -> FakeProvider {
    let client = Client::confidential(CLIENT_ID, CLIENT_SECRET, &callback_uri("fake"))
        .with_redirect_uri(&callback_uri("github"));
    FakeProvider::start(FakeProviderConfig::with_client(client))
        .await
        .expect("the fake provider starts")
}

/// An app with the `fake` (OpenID Connect) and `github` providers on one `FakeProvider`,
/// `fake_keys` added to the `fake` provider's configuration (one `key: value` a line).
pub async fn app_with(mapper: &str, fake_keys: &str) -> App {
    let fake_keys: String = fake_keys
        .lines()
        .map(|l| format!("            {l}\n"))
        .collect();
    let fake = fake().await;
    let yaml = format!(
        "serve:
  public:
    base_url: {BASE}/
selfservice:
  default_browser_return_url: {APP}
  allowed_return_urls: [\"{APP}\"]
  methods:
    oidc:
      enabled: true
      config:
        providers:
          - id: fake
            provider: generic
            label: Fake
            client_id: {CLIENT_ID}
            client_secret: {CLIENT_SECRET}
            issuer_url: {issuer}
            scope: [email, profile]
            mapper_url: {mapper}
{fake_keys}          - id: github
            provider: github
            client_id: {CLIENT_ID}
            client_secret: {CLIENT_SECRET}
            auth_url: {gh_auth}
            token_url: {gh_token}
            issuer_url: {gh_api}
            scope: [\"user:email\"]
            mapper_url: {mapper}
  flows:
    login:
      ui_url: {LOGIN_UI}
    registration:
      ui_url: https://app.example.com/registration
      after:
        oidc:
          hooks:
            - hook: session
    settings:
      ui_url: https://app.example.com/settings
    error:
      ui_url: https://app.example.com/error
",
        issuer = fake.issuer(),
        mapper = b64(mapper),
        gh_auth = fake.github_authorization_url(),
        gh_token = fake.github_token_url(),
        gh_api = fake.github_api_base(),
    );
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos_with(store, &yaml, clock.clone());
    App {
        public: kratos_axum::public_router(kratos.clone()),
        kratos,
        clock,
        fake,
    }
}

pub async fn app() -> App {
    app_with(MAPPER, "").await
}

/// A browser flow of `kind` (`login`, `registration`, `settings`): its JSON, with the
/// browser's cookies taken.
pub async fn browser_flow(app: &App, kind: &str, jar: &mut Jar) -> Value {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
        .json_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{kind} flow: {:?}", res.body);
    jar.absorb(&res);
    res.body
}

/// Submits `provider` to the flow (as the browser's form does), answering where the
/// browser is sent.
pub async fn start(
    app: &App,
    kind: &str,
    flow: &Value,
    jar: &Jar,
    fields: &[(&str, &str)],
) -> String {
    let csrf = csrf_of(flow);
    let mut pairs = vec![("csrf_token", csrf.as_str())];
    pairs.extend_from_slice(fields);
    let res = call(
        Method::POST,
        &format!("/self-service/{kind}?flow={}", flow["id"].as_str().unwrap()),
    )
    .form(&pairs)
    .jar(jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    res.location().to_owned()
}

/// Follows the provider's redirect back to the app with the browser's cookies (JSON
/// answers when `json`).
pub async fn come_back(app: &App, callback: &str, jar: &mut Jar, json: bool) -> Res {
    let path = path_of(callback);
    let mut c = call(Method::GET, &path).jar(jar);
    if json {
        c = c.json_accept();
    }
    let res = c.send(&app.public).await;
    jar.absorb(&res);
    res
}

pub async fn whoami(app: &App, jar: &Jar) -> Res {
    call(Method::GET, "/sessions/whoami")
        .json_accept()
        .jar(jar)
        .send(&app.public)
        .await
}

/// Signs up (or in) through the fake as `login`; the answer to the last callback.
pub async fn sign_with_fake(app: &App, kind: &str, login: &str, jar: &mut Jar) -> Res {
    let flow = browser_flow(app, kind, jar).await;
    let to = start(
        app,
        kind,
        &flow,
        jar,
        &[
            ("provider", "fake"),
            ("upstream_parameters.login_hint", login),
        ],
    )
    .await;
    assert!(to.starts_with(app.fake.issuer()), "{to}");
    let callback = app
        .fake
        .authorize(&to)
        .await
        .expect("the provider approves");
    let mut res = come_back(app, callback.as_str(), jar, false).await;
    // A flow of the other kind may continue the sign-in: follow the app's own redirect.
    if res.status == StatusCode::SEE_OTHER
        && res
            .location()
            .contains("/self-service/methods/oidc/callback/")
    {
        let next = res.location().to_owned();
        res = come_back(app, &next, jar, false).await;
    }
    res
}
