//! Sessions as JWTs over HTTP: `GET /sessions/whoami?tokenize_as=` with ES256, RS256 and
//! EdDSA templates, and the `SessionJwt` extractor of another service (static, fetched and
//! file key sets; expired, foreign, wrongly issued and unsigned tokens refused).

mod jwt;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use kratos_axum::jwt::{JwtVerifier, SessionJwt};
use serde_json::{Value, json};

use jwt::{
    ISSUER, TEMPLATES, fixture_url, get as http_get, kratos, public_set, signed_in, tokenized,
};

#[derive(Clone)]
struct ApiState {
    jwt: JwtVerifier,
}

impl FromRef<ApiState> for JwtVerifier {
    fn from_ref(state: &ApiState) -> JwtVerifier {
        state.jwt.clone()
    }
}

/// Another service: `/api/me` answers the verified claims.
fn api(jwt: JwtVerifier) -> Router {
    Router::new()
        .route(
            "/api/me",
            get(|jwt: SessionJwt| async move {
                axum::Json(json!({
                    "sub": jwt.sub(),
                    "sid": jwt.sid(),
                    "kid": jwt.header.kid,
                    "exp": jwt.exp(),
                }))
            }),
        )
        .with_state(ApiState { jwt })
}

fn static_verifier(names: &[&str]) -> JwtVerifier {
    let set: JwkSet = serde_json::from_value(public_set(names)).unwrap();
    JwtVerifier::from_jwks(set, [ISSUER]).unwrap()
}

async fn call_api(app: &Router, jwt: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    http_get(
        app,
        "/api/me",
        &[("authorization", &format!("Bearer {jwt}"))],
    )
    .await
}

fn assert_unauthorized(res: &(StatusCode, axum::http::HeaderMap, Value), reason: &str) {
    let (status, headers, body) = res;
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["id"], "unauthorized", "{body}");
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["status"], "Unauthorized");
    assert_eq!(body["error"]["reason"], reason, "{body}");
    assert!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer")),
        "{headers:?}"
    );
}

#[tokio::test]
async fn whoami_tokenizes_with_each_algorithm() {
    let (k, _) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, identity_id) = signed_in(&k).await;
    let service = api(static_verifier(&["es256", "rs256", "eddsa"]));
    for (template, alg) in TEMPLATES {
        let (session, jwt) = tokenized(&public, &token, template).await;
        assert_eq!(session["identity"]["id"], identity_id.as_str());
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], *alg);
        assert_eq!(header["kid"], format!("test-{template}"));
        let (status, _, claims) = call_api(&service, &jwt).await;
        assert_eq!(status, StatusCode::OK, "{template}: {claims}");
        assert_eq!(claims["sub"], identity_id.as_str());
        assert_eq!(claims["sid"], session["id"]);
    }
    // Without tokenize_as (or with an empty one) there is no `tokenized`.
    for uri in ["/sessions/whoami", "/sessions/whoami?tokenize_as="] {
        let (status, _, body) = http_get(&public, uri, &[("x-session-token", &token)]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.get("tokenized").is_none(), "{body}");
    }
}

#[tokio::test]
async fn whoami_answers_kratos_errors_for_templates() {
    let (k, _) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, _) = signed_in(&k).await;
    let (status, _, body) = http_get(
        &public,
        "/sessions/whoami?tokenize_as=nope",
        &[("x-session-token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["status"], "Bad Request");
    assert_eq!(
        body["error"]["reason"],
        "Unable to find tokenizer template \"nope\"."
    );
    // The identity has no external id.
    let (status, _, body) = http_get(
        &public,
        "/sessions/whoami?tokenize_as=by-external-id",
        &[("x-session-token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        "The session's identity does not have an external ID set, but it is required for the subject claim."
    );
    // No session: 401 first, as Kratos checks the session before the template.
    let (status, _, body) = http_get(&public, "/sessions/whoami?tokenize_as=nope", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["id"], "session_inactive");
}

#[tokio::test]
async fn the_extractor_refuses_what_it_cannot_trust() {
    let (k, clock) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, _) = signed_in(&k).await;
    let service = api(static_verifier(&["es256"]));
    let (_, good) = tokenized(&public, &token, "es256").await;
    assert_eq!(call_api(&service, &good).await.0, StatusCode::OK);

    let missing = http_get(&service, "/api/me", &[]).await;
    assert_unauthorized(&missing, "The request carries no bearer token.");
    assert_unauthorized(
        &call_api(&service, "not-a-jwt").await,
        "The bearer token is not a valid JSON Web Token.",
    );

    // Signed with a key the set lacks.
    let (_, foreign) = tokenized(&public, &token, "eddsa").await;
    assert_unauthorized(
        &call_api(&service, &foreign).await,
        "The bearer token is signed with an unknown key.",
    );
    // Naming the set's key but signed with another one.
    let mut parts: Vec<&str> = good.split('.').collect();
    let other_signature = foreign.split('.').nth(2).unwrap();
    parts[2] = other_signature;
    assert_unauthorized(
        &call_api(&service, &parts.join(".")).await,
        "The bearer token is not a valid JSON Web Token.",
    );
    // Claims changed after signing.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(good.split('.').nth(1).unwrap()).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        good.split('.').next().unwrap(),
        b64.encode(claims.to_string()),
        good.split('.').nth(2).unwrap()
    );
    assert_unauthorized(
        &call_api(&service, &forged).await,
        "The bearer token is not a valid JSON Web Token.",
    );
    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","kid":"test-es256","typ":"JWT"}"#),
        good.split('.').nth(1).unwrap()
    );
    assert_unauthorized(
        &call_api(&service, &none).await,
        "The bearer token is not a valid JSON Web Token.",
    );
    // HS256 with the public key's bytes as the secret (algorithm confusion).
    let hs = format!(
        "{}.{}.{}",
        b64.encode(r#"{"alg":"HS256","kid":"test-es256","typ":"JWT"}"#),
        good.split('.').nth(1).unwrap(),
        good.split('.').nth(2).unwrap()
    );
    assert_unauthorized(
        &call_api(&service, &hs).await,
        "The bearer token is signed with an unknown key.",
    );

    // Another issuer.
    let set: JwkSet = serde_json::from_value(public_set(&["es256"])).unwrap();
    let elsewhere =
        api(JwtVerifier::from_jwks(set.clone(), ["https://auth.example.com/"]).unwrap());
    assert_unauthorized(
        &call_api(&elsewhere, &good).await,
        "The bearer token has the wrong issuer.",
    );
    // An audience is required once configured (Kratos's tokens carry none by default).
    let audience = api(JwtVerifier::from_jwks(set, [ISSUER])
        .unwrap()
        .audience(["api"]));
    assert_unauthorized(
        &call_api(&audience, &good).await,
        "The bearer token has the wrong audience.",
    );

    // Expired: issued 11 minutes ago with a 10-minute time to live.
    clock.advance(chrono::Duration::minutes(-11));
    let (_, old) = tokenized(&public, &token, "es256").await;
    clock.advance(chrono::Duration::minutes(11));
    assert_unauthorized(
        &call_api(&service, &old).await,
        "The bearer token has expired.",
    );
    // Not valid yet: issued 5 minutes from now.
    clock.advance(chrono::Duration::minutes(5));
    let (_, early) = tokenized(&public, &token, "es256").await;
    clock.advance(chrono::Duration::minutes(-5));
    assert_unauthorized(
        &call_api(&service, &early).await,
        "The bearer token is not valid yet.",
    );
}

#[tokio::test]
async fn a_key_set_is_fetched_once_and_again_for_an_unknown_key() {
    let (k, _) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, identity_id) = signed_in(&k).await;

    // A JWKS endpoint on loopback, publishing ES256 first and later EdDSA too.
    let fetches = Arc::new(AtomicUsize::new(0));
    let published = Arc::new(std::sync::Mutex::new(public_set(&["es256"])));
    let jwks = {
        let (fetches, published) = (fetches.clone(), published.clone());
        Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let (fetches, published) = (fetches.clone(), published.clone());
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let set = published.lock().unwrap().clone();
                    axum::Json(set)
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, jwks).await });

    let verifier = JwtVerifier::from_url(&format!("http://{addr}/.well-known/jwks.json"), [ISSUER])
        .unwrap()
        .refresh_interval(std::time::Duration::from_secs(1));
    let service = api(verifier);
    let (_, es) = tokenized(&public, &token, "es256").await;
    for _ in 0..3 {
        let (status, _, claims) = call_api(&service, &es).await;
        assert_eq!(status, StatusCode::OK, "{claims}");
        assert_eq!(claims["sub"], identity_id.as_str());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // A key the set lacks, right after the fetch: no fetch within the refresh interval.
    let (_, ed) = tokenized(&public, &token, "eddsa").await;
    assert_unauthorized(
        &call_api(&service, &ed).await,
        "The bearer token is signed with an unknown key.",
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "refreshes are bounded");
    // Once the key is published and the interval has passed, it is fetched again.
    *published.lock().unwrap() = public_set(&["es256", "eddsa"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..3 {
        assert_eq!(call_api(&service, &ed).await.0, StatusCode::OK);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Tokens of a key still unknown do not fetch again within the interval.
    let (_, rs) = tokenized(&public, &token, "rs256").await;
    for _ in 0..3 {
        assert_unauthorized(
            &call_api(&service, &rs).await,
            "The bearer token is signed with an unknown key.",
        );
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // A key set that cannot be fetched is a server error, not a refusal.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let down = api(JwtVerifier::from_url(&format!("http://{closed_addr}/jwks"), [ISSUER]).unwrap());
    let (status, _, body) = call_api(&down, &es).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["id"], "internal_server_error");
}

#[tokio::test]
async fn a_key_set_file_verifies_and_urls_are_checked() {
    let (k, _) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, _) = signed_in(&k).await;
    let dir = std::env::temp_dir().join(format!("kratos-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, public_set(&["rs256"]).to_string()).unwrap();
    let service =
        api(JwtVerifier::from_url(&format!("file://{}", file.display()), [ISSUER]).unwrap());
    let (_, rs) = tokenized(&public, &token, "rs256").await;
    assert_eq!(call_api(&service, &rs).await.0, StatusCode::OK);
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(JwtVerifier::from_url("ftp://keys.example/jwks.json", [ISSUER]).is_err());
    assert!(JwtVerifier::from_url(&fixture_url("es256"), Vec::<String>::new()).is_err());
    let shown = format!(
        "{:?}",
        JwtVerifier::from_url("https://user:pass@keys.example/jwks.json", [ISSUER]).unwrap()
    );
    assert!(!shown.contains("pass"), "{shown}");
}
