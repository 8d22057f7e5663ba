//! The fake's GitHub-style OAuth 2.0 endpoints and API.

mod common;

use common::{REDIRECT_URI, param, url_with, without_query};
use kratos_test_peers::{AuthorizeOutcome, Client, FakeProvider, FakeProviderConfig};
use serde_json::{Value, json};

async fn start() -> FakeProvider {
    let config =
        FakeProviderConfig::with_client(Client::confidential("gh-app", "gh-secret", REDIRECT_URI));
    FakeProvider::start(config).await.expect("fake provider")
}

/// Authorizes `gh-app` with `scope` and returns the code.
async fn code(fake: &FakeProvider, scope: &str) -> String {
    let url = url_with(
        &fake.github_authorization_url(),
        &[
            ("client_id", "gh-app"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "gh-state"),
        ],
    );
    let callback = fake.authorize(&url).await.expect("authorize");
    assert_eq!(without_query(&callback), REDIRECT_URI);
    assert_eq!(param(&callback, "state").as_deref(), Some("gh-state"));
    param(&callback, "code").expect("code")
}

/// Exchanges `code` as `golang.org/x/oauth2` does (form body), with `accept` if any.
async fn exchange(
    fake: &FakeProvider,
    code: &str,
    secret: &str,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(fake.github_token_url()).form(&[
        ("client_id", "gh-app"),
        ("client_secret", secret),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ]);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    request.send().await.expect("token request")
}

async fn api(fake: &FakeProvider, path: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", fake.github_api_base()))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "application/vnd.github+json")
        .send()
        .await
        .expect("API request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn code_exchange_answers_json_or_a_form_and_the_api_answers_as_github() {
    let fake = start().await;
    fake.set_login("octo");

    let response = exchange(
        &fake,
        &code(&fake, "read:user user:email").await,
        "gh-secret",
        None,
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_owned();
    assert!(
        content_type.starts_with("application/x-www-form-urlencoded"),
        "{content_type}"
    );
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(response.text().await.expect("body").as_bytes())
            .into_owned()
            .collect();
    assert!(form.iter().any(|(k, v)| k == "token_type" && v == "bearer"));
    assert!(
        form.iter()
            .any(|(k, v)| k == "scope" && v == "read:user,user:email")
    );
    assert!(
        form.iter()
            .any(|(k, v)| k == "access_token" && v.starts_with("gho_"))
    );

    let response = exchange(
        &fake,
        &code(&fake, "user:email").await,
        "gh-secret",
        Some("application/json"),
    )
    .await;
    let tokens: Value = response.json().await.expect("JSON");
    assert_eq!(tokens["token_type"], json!("bearer"));
    assert_eq!(tokens["scope"], json!("user:email"));
    let token = tokens["access_token"].as_str().expect("access_token");

    let (status, user) = api(&fake, "/user", token).await;
    assert_eq!(status, 200);
    assert_eq!(user["login"], json!("octo"));
    assert_eq!(user["id"], json!(FakeProvider::github_id("octo")));
    assert_eq!(user["name"], json!("octo Tester"));
    assert_eq!(user["email"], json!("octo@example.test"));

    let (status, emails) = api(&fake, "/user/emails", token).await;
    assert_eq!(status, 200);
    assert_eq!(
        emails,
        json!([
            { "email": "octo@example.test", "primary": true, "verified": true, "visibility": "public" },
            { "email": "octo+secondary@example.test", "primary": false, "verified": false, "visibility": null },
        ])
    );

    // A private email: null at /user, still in /user/emails.
    fake.set_github_email_public(false);
    let (_, user) = api(&fake, "/user", token).await;
    assert_eq!(user["email"], Value::Null);

    let (status, error) = api(&fake, "/user", "gho_unknown").await;
    assert_eq!(
        (status, &error["message"]),
        (401, &json!("Bad credentials"))
    );
}

#[tokio::test]
async fn errors_as_github_gives_them() {
    let fake = start().await;
    // A wrong secret and a wrong code: status 200 with an error, as GitHub answers.
    let code_value = code(&fake, "user:email").await;
    let response = exchange(&fake, &code_value, "wrong", Some("application/json")).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], json!("incorrect_client_credentials"));
    let body: Value = exchange(&fake, "0000", "gh-secret", Some("application/json"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["error"], json!("bad_verification_code"));
    // The code survived the wrong secret; after one use it is spent.
    let body: Value = exchange(&fake, &code_value, "gh-secret", Some("application/json"))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(body["access_token"].is_string(), "{body}");
    let body: Value = exchange(&fake, &code_value, "gh-secret", Some("application/json"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["error"], json!("bad_verification_code"));

    // Fewer scopes granted than asked for.
    fake.set_github_granted_scope(Some("read:user"));
    let body: Value = exchange(
        &fake,
        &code(&fake, "user:email").await,
        "gh-secret",
        Some("application/json"),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(body["scope"], json!("read:user"));

    // The user cancels.
    fake.set_authorize_outcome(AuthorizeOutcome::access_denied(
        "The user has denied your application access.",
    ));
    let url = url_with(
        &fake.github_authorization_url(),
        &[("client_id", "gh-app"), ("state", "gh-state")],
    );
    let callback = fake.authorize(&url).await.expect("authorize");
    assert_eq!(without_query(&callback), REDIRECT_URI);
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&callback, "error_description").as_deref(),
        Some("The user has denied your application access.")
    );
    assert_eq!(param(&callback, "state").as_deref(), Some("gh-state"));

    let records = fake.token_requests();
    assert!(records.iter().all(|r| r.endpoint == "github"));
    assert_eq!(records.iter().filter(|r| r.succeeded).count(), 2);
}
