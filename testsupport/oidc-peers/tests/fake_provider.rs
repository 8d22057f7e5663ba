//! The fake OpenID Provider: discovery and JWKS, the code flow with RS256 and ES256, every ID
//! token fault, the authorization error, the token endpoint's checks and userinfo.

mod common;

use common::{
    REDIRECT_URI, get_json, jwt_part, param, pkce, url_with, verify_id_token, without_query,
};
use kratos_test_peers::{
    Account, AuthorizeOutcome, Client, FakeProvider, FakeProviderConfig, IdTokenFault,
    SigningAlgorithm, TokenEndpointAuthMethod,
};
use serde_json::{Value, json};

async fn start() -> FakeProvider {
    let mut config =
        FakeProviderConfig::with_client(Client::confidential("app", "app-secret", REDIRECT_URI));
    config.clients.push(
        Client::confidential("post-app", "post-secret", REDIRECT_URI)
            .with_auth_method(TokenEndpointAuthMethod::ClientSecretPost),
    );
    config.clients.push(Client::public("spa", REDIRECT_URI));
    FakeProvider::start(config).await.expect("fake provider")
}

/// The authorization request of `client_id` with state `st`, nonce `n` and `challenge`.
fn authorization_url(
    fake: &FakeProvider,
    client_id: &str,
    challenge: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let mut pairs = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st"),
        ("nonce", "n"),
    ];
    if let Some(challenge) = challenge {
        pairs.push(("code_challenge", challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    pairs.extend_from_slice(extra);
    url_with(&fake.authorization_endpoint(), &pairs)
}

/// Posts the token request `form` with HTTP Basic `basic` if any.
async fn token_request(
    fake: &FakeProvider,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(fake.token_endpoint())
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token JSON"))
}

/// Authorizes `app` (PKCE) and exchanges the code; returns the token response.
async fn sign_in(fake: &FakeProvider, extra: &[(&str, &str)]) -> Value {
    let (verifier, challenge) = pkce();
    let callback = fake
        .authorize(&authorization_url(fake, "app", Some(&challenge), extra))
        .await
        .expect("authorize");
    assert_eq!(without_query(&callback), REDIRECT_URI);
    assert_eq!(param(&callback, "state").as_deref(), Some("st"));
    let code = param(&callback, "code").expect("code");
    let (status, tokens) = token_request(
        fake,
        Some(("app", "app-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn verify(fake: &FakeProvider, tokens: &Value) -> Result<Value, String> {
    let id_token = tokens["id_token"].as_str().expect("id_token");
    verify_id_token(id_token, &fake.jwks_uri(), fake.issuer(), "app").await
}

#[tokio::test]
async fn discovery_and_jwks() {
    let fake = start().await;
    let discovery = get_json(&fake.discovery_url()).await;
    assert_eq!(discovery["issuer"], json!(fake.issuer()));
    assert_eq!(
        discovery["authorization_endpoint"],
        json!(fake.authorization_endpoint())
    );
    assert_eq!(discovery["token_endpoint"], json!(fake.token_endpoint()));
    assert_eq!(
        discovery["userinfo_endpoint"],
        json!(fake.userinfo_endpoint())
    );
    assert_eq!(discovery["jwks_uri"], json!(fake.jwks_uri()));
    let jwks = get_json(&fake.jwks_uri()).await;
    let keys = jwks["keys"].as_array().expect("keys");
    let kinds: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| {
            (
                k["kty"].as_str().unwrap_or(""),
                k["alg"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(kinds, [("RSA", "RS256"), ("EC", "ES256")]);
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "public keys only"
    );
}

#[tokio::test]
async fn code_flow_rs256_and_es256_with_configured_claims() {
    let fake = start().await;
    fake.set_account(
        "frank",
        Account {
            email_verified: false,
            name: "Frank Fake".to_owned(),
            ..Account::derived("frank")
        },
    );
    fake.set_login("frank");
    for (alg, name) in [
        (SigningAlgorithm::Rs256, "RS256"),
        (SigningAlgorithm::Es256, "ES256"),
    ] {
        fake.set_signing_algorithm(alg);
        let tokens = sign_in(&fake, &[]).await;
        assert_eq!(
            jwt_part(tokens["id_token"].as_str().expect("id_token"), 0)["alg"],
            json!(name)
        );
        let claims = verify(&fake, &tokens).await.expect("a valid ID token");
        assert_eq!(claims["sub"], json!(Account::derived("frank").sub));
        assert_eq!(claims["nonce"], json!("n"));
        assert_eq!(claims["email"], json!("frank@example.test"));
        assert_eq!(claims["email_verified"], json!(false));
        assert_eq!(claims["name"], json!("Frank Fake"));

        let userinfo: Value = reqwest::Client::new()
            .get(fake.userinfo_endpoint())
            .bearer_auth(tokens["access_token"].as_str().expect("access_token"))
            .send()
            .await
            .expect("userinfo")
            .json()
            .await
            .expect("JSON");
        assert_eq!(Value::Object(fake.account("frank").claims()), userinfo);
    }
    // A login_hint picks the login.
    let tokens = sign_in(&fake, &[("login_hint", "gina@example.org")]).await;
    let claims = verify(&fake, &tokens).await.expect("a valid ID token");
    assert_eq!(claims["email"], json!("gina@example.org"));
    let response = reqwest::Client::new()
        .get(fake.userinfo_endpoint())
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn each_id_token_fault() {
    let fake = start().await;
    for alg in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256] {
        fake.set_signing_algorithm(alg);
        fake.set_fault(Some(IdTokenFault::UnknownKey));
        let err = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect_err("unknown key");
        assert!(err.contains("not in the JWKS"), "{alg:?}: {err}");

        fake.set_fault(Some(IdTokenFault::WrongSignature));
        let err = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect_err("bad signature");
        assert_eq!(err, "InvalidSignature", "{alg:?}");

        fake.set_fault(Some(IdTokenFault::WrongAudience));
        let err = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect_err("audience");
        assert_eq!(err, "InvalidAudience", "{alg:?}");

        fake.set_fault(Some(IdTokenFault::WrongIssuer));
        let err = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect_err("issuer");
        assert_eq!(err, "InvalidIssuer", "{alg:?}");

        fake.set_fault(Some(IdTokenFault::Expired));
        let err = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect_err("expired");
        assert_eq!(err, "ExpiredSignature", "{alg:?}");

        // Nonce faults pass signature checks: the relying party must compare the nonce.
        fake.set_fault(Some(IdTokenFault::WrongNonce));
        let claims = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect("signed");
        assert_eq!(claims["nonce"], json!("not-the-nonce-of-the-request"));
        fake.set_fault(Some(IdTokenFault::MissingNonce));
        let claims = verify(&fake, &sign_in(&fake, &[]).await)
            .await
            .expect("signed");
        assert!(claims.get("nonce").is_none(), "{claims}");
    }

    fake.set_fault(Some(IdTokenFault::AlgNone));
    let tokens = sign_in(&fake, &[]).await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(jwt_part(id_token, 0)["alg"], json!("none"));
    assert!(id_token.ends_with('.'), "an empty signature");
    assert_eq!(jwt_part(id_token, 1)["nonce"], json!("n"));
    assert!(verify(&fake, &tokens).await.is_err());

    fake.set_fault(None);
    verify(&fake, &sign_in(&fake, &[]).await)
        .await
        .expect("correct again");
}

#[tokio::test]
async fn authorization_denied_redirects_with_the_error() {
    let fake = start().await;
    fake.set_authorize_outcome(AuthorizeOutcome::access_denied("The user said no."));
    let callback = fake
        .authorize(&authorization_url(&fake, "app", None, &[]))
        .await
        .expect("authorize");
    assert_eq!(without_query(&callback), REDIRECT_URI);
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&callback, "error_description").as_deref(),
        Some("The user said no.")
    );
    assert_eq!(param(&callback, "state").as_deref(), Some("st"));
    assert_eq!(param(&callback, "code"), None);

    // An unknown client or redirect URI gets no redirect.
    fake.set_authorize_outcome(AuthorizeOutcome::Approve);
    assert!(
        fake.authorize(&authorization_url(&fake, "nobody", None, &[]))
            .await
            .is_err()
    );
    let other = url_with(
        &fake.authorization_endpoint(),
        &[
            ("client_id", "app"),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ("response_type", "code"),
        ],
    );
    assert!(fake.authorize(&other).await.is_err());
}

/// The code `client_id` gets from an approved authorization request with `challenge`.
async fn code_for(fake: &FakeProvider, client_id: &str, challenge: Option<&str>) -> String {
    let callback = fake
        .authorize(&authorization_url(fake, client_id, challenge, &[]))
        .await
        .expect("authorize");
    param(&callback, "code").expect("code")
}

/// Exchanges `code` with `verifier`, HTTP Basic `basic` and the `extra` form fields.
async fn exchange(
    fake: &FakeProvider,
    basic: Option<(&str, &str)>,
    code: &str,
    verifier: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    form.extend_from_slice(extra);
    token_request(fake, basic, &form).await
}

#[tokio::test]
async fn the_token_endpoint_checks_code_client_and_pkce() {
    let fake = start().await;
    let app = Some(("app", "app-secret"));

    // A wrong secret: 401 invalid_client, and the code stays usable.
    let (verifier, challenge) = pkce();
    let code = code_for(&fake, "app", Some(&challenge)).await;
    let (status, body) = exchange(&fake, Some(("app", "wrong")), &code, Some(&verifier), &[]).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    // client_secret_post from a client registered with client_secret_basic: refused.
    let post = [("client_id", "app"), ("client_secret", "app-secret")];
    let (status, body) = exchange(&fake, None, &code, Some(&verifier), &post).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let (status, body) = exchange(&fake, app, &code, Some(&verifier), &[]).await;
    assert_eq!(status, 200, "{body}");
    // Spent.
    let (status, body) = exchange(&fake, app, &code, Some(&verifier), &[]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));

    // PKCE: a wrong verifier, a missing one, one without a challenge.
    let code = code_for(&fake, "app", Some(&challenge)).await;
    let (status, body) = exchange(&fake, app, &code, Some("wrong-verifier"), &[]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    let code = code_for(&fake, "app", Some(&challenge)).await;
    let (status, body) = exchange(&fake, app, &code, None, &[]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    let code = code_for(&fake, "app", None).await;
    let (status, body) = exchange(&fake, app, &code, Some(&verifier), &[]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    // Without PKCE on either side: fine.
    let code = code_for(&fake, "app", None).await;
    let (status, body) = exchange(&fake, app, &code, None, &[]).await;
    assert_eq!(status, 200, "{body}");
    // Another redirect URI than the authorization request's.
    let code = code_for(&fake, "app", None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
    ];
    let (status, body) = token_request(&fake, app, &form).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));

    // client_secret_post and a public client, as registered.
    let code = code_for(&fake, "post-app", None).await;
    let post = [("client_id", "post-app"), ("client_secret", "post-secret")];
    let (status, body) = exchange(&fake, None, &code, None, &post).await;
    assert_eq!(status, 200, "{body}");
    let (verifier, challenge) = pkce();
    let code = code_for(&fake, "spa", Some(&challenge)).await;
    let (status, body) =
        exchange(&fake, None, &code, Some(&verifier), &[("client_id", "spa")]).await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["id_token"].as_str().expect("id_token");
    let claims = verify_id_token(id_token, &fake.jwks_uri(), fake.issuer(), "spa")
        .await
        .expect("a valid ID token");
    assert_eq!(claims["aud"], json!("spa"));

    let records = fake.token_requests();
    let last = records.last().expect("records");
    assert_eq!(last.endpoint, "oidc");
    assert_eq!(last.client_id.as_deref(), Some("spa"));
    assert_eq!(last.auth_method, TokenEndpointAuthMethod::None);
    assert!(last.code_verifier_sent && last.succeeded);
    assert_eq!(records.iter().filter(|r| r.succeeded).count(), 4);
    let debug = format!("{records:?}");
    assert!(
        !debug.contains("app-secret") && !debug.contains("post-secret"),
        "{debug}"
    );
}
