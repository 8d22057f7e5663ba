//! Social sign-in through the app's pages, driven with `tower::ServiceExt::oneshot` on an
//! in-memory SQLite database, against a real OpenID Provider (kratos-test-peers'
//! `NodeProvider`) whose pages kratos-test-peers' own user agent walks: a sign-up whose claims
//! lack the name comes back to the sign-up page with the email filled in and `Continue`, and
//! finishes with the name typed there.
//!
//! Without the provider's Node packages the test prints that it was skipped; with `CI=true`
//! it fails instead.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use kratos_test_peers::{Account, Client, NodeProvider, NodeProviderConfig};

mod support;
use support::web::{BASE, Browser, form_containing};

/// Signs up as `nameless`, whose provider gives no name.
#[tokio::test]
async fn a_sign_up_missing_a_trait_continues_on_the_sign_up_page() {
    if !NodeProvider::is_installed() {
        let missing = format!(
            "the OpenID Provider's packages are missing: run `npm ci --no-audit --no-fund` in {}",
            NodeProvider::node_dir().display()
        );
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true and the social sign-in test cannot run: {missing}"
        );
        eprintln!("skipped: {missing}");
        return;
    }
    let callback = format!("{BASE}/self-service/methods/oidc/callback/node");
    let nameless = Account {
        sub: "acct-nameless".into(),
        email: "nameless@example.test".into(),
        email_verified: true,
        name: String::new(),
        given_name: String::new(),
        family_name: String::new(),
    };
    let provider = NodeProvider::start(NodeProviderConfig {
        accounts: BTreeMap::from([("nameless".to_owned(), nameless)]),
        ..NodeProviderConfig::with_client(Client::confidential(
            "axum-app",
            "axum-app-secret",
            &callback,
        ))
    })
    .await
    .expect("the OpenID Provider starts");
    let config = std::env::temp_dir().join(format!("axum-app-oidc-{}.yml", uuid::Uuid::new_v4()));
    std::fs::write(
        &config,
        format!(
            "secrets:
  default: [\"an-oidc-http-test-secret-long-enough\"]
selfservice:
  methods:
    oidc:
      enabled: true
      config:
        providers:
          - id: node
            provider: generic
            label: Node
            client_id: axum-app
            client_secret: axum-app-secret
            issuer_url: {}
            scope: [email, profile]
",
            provider.issuer()
        ),
    )
    .unwrap();
    let settings = axum_app::Settings {
        database: "sqlite::memory:".into(),
        config: Some(config.clone()),
        dev: true,
        ..axum_app::Settings::default()
    };
    let app = axum_app::build(&settings).await.expect("the app builds");
    std::fs::remove_file(config).ok();
    let mut b = Browser::new(app.public.clone());

    // The sign-up page offers the provider in its form, beside the password.
    let page = b.get("/registration").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let form = form_containing(&page.body, "provider=node");
    assert!(form.contains("Sign up with Node"), "{form}");
    assert!(form.contains("name=\"csrf_token\""), "{form}");
    let to_provider = b.submit_flow(&page, &[], "provider=node").await;
    assert_eq!(
        to_provider.status,
        StatusCode::SEE_OTHER,
        "{}",
        to_provider.body
    );
    let authorize = to_provider.location.expect("a redirect to the provider");
    assert!(authorize.starts_with(provider.issuer()), "{authorize}");
    let back = provider
        .authorize(&authorize, "nameless")
        .await
        .expect("the provider approves");
    assert!(back.as_str().starts_with(&callback), "{back}");

    // Back on the sign-up page: the email from the claims, the name to fill in, `Continue`.
    let page = b.get(back.as_str()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let form = form_containing(&page.body, "provider=node");
    assert!(form.contains("Continue"), "{form}");
    assert!(form.contains("value=\"nameless@example.test\""), "{form}");
    assert!(form.contains("name=\"traits.name\""), "{form}");
    assert!(!form.contains("name=\"password\""), "{form}");

    // With the name typed in, the provider is asked again and the account is made.
    let to_provider = b
        .submit_flow(
            &page,
            &[
                ("traits.email", "nameless@example.test"),
                ("traits.name", "Nora Nameless"),
            ],
            "provider=node",
        )
        .await;
    assert_eq!(
        to_provider.status,
        StatusCode::SEE_OTHER,
        "{}",
        to_provider.body
    );
    let authorize = to_provider.location.expect("a redirect to the provider");
    let back = provider
        .authorize(&authorize, "nameless")
        .await
        .expect("the provider approves");
    let home = b.get(back.as_str()).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(
        home.body.contains("Welcome back, Nora Nameless"),
        "{}",
        home.body
    );
}
