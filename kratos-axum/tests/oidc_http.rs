//! The `oidc` method over HTTP against a local fake OpenID Provider (kratos-test-peers'
//! `FakeProvider`): sign-up, sign-in with the same identity, the hand-over between login and
//! registration flows, settings link and unlink, GitHub-style OAuth 2.0, and every failure of
//! a callback (state, replay, provider error, expiry, ID-token verification, missing traits,
//! mapper errors, another browser).

use axum::http::{Method, StatusCode};
use kratos_core::identity::CredentialType;
use kratos_test_peers::{AuthorizeOutcome, FakeProvider, IdTokenFault};
use serde_json::json;

mod common;
use common::*;
mod oidc;
use oidc::*;

#[tokio::test]
async fn sign_up_then_sign_in_again_with_the_same_identity() {
    let app = app().await;
    let mut jar = Jar::default();
    let flow = browser_flow(&app, "registration", &mut jar).await;
    let button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["group"] == "oidc" && n["attributes"]["value"] == "fake")
        .expect("a provider button");
    assert_eq!(button["attributes"]["name"], "provider");
    assert_eq!(button["meta"]["label"]["id"], 1040002);
    assert_eq!(button["meta"]["label"]["text"], "Sign up with Fake");
    assert_eq!(
        button["meta"]["label"]["context"],
        json!({"provider": "Fake", "provider_id": "fake"})
    );

    let res = sign_with_fake(&app, "registration", "alice", &mut jar).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert_eq!(res.location(), APP);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    let identity_id = me.body["identity"]["id"].as_str().unwrap().to_owned();
    assert_eq!(me.body["identity"]["traits"]["email"], "alice@example.test");
    assert_eq!(
        me.body["identity"]["metadata_public"]["provider_subject"],
        app.fake.account("alice").sub
    );
    assert_eq!(me.body["authentication_methods"][0]["method"], "oidc");
    assert_eq!(me.body["authentication_methods"][0]["provider"], "fake");
    // The mapper's verified address is verified.
    assert_eq!(
        me.body["identity"]["verifiable_addresses"][0]["verified"],
        true
    );

    // The credential links the subject, with the provider's tokens sealed.
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(identity_id.parse().unwrap(), &[CredentialType::Oidc])
        .await
        .unwrap();
    let cred = stored.credential(CredentialType::Oidc).unwrap();
    assert_eq!(
        cred.identifiers,
        vec![format!("fake:{}", app.fake.account("alice").sub)]
    );
    let link = &cred.config["providers"][0];
    let sealed = link["initial_access_token"].as_str().unwrap();
    assert!(!sealed.is_empty());
    assert!(
        app.kratos.cipher().decrypt(sealed).is_ok(),
        "the token is sealed with the cipher"
    );

    // A new browser signs in with the same account: the same identity.
    let mut other = Jar::default();
    let res = sign_with_fake(&app, "login", "alice", &mut other).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = whoami(&app, &other).await;
    assert_eq!(me.body["identity"]["id"], identity_id.as_str());
}

#[tokio::test]
async fn a_login_flow_that_finds_no_identity_registers_and_a_registration_that_finds_one_signs_in()
{
    let app = app().await;
    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "login", "bob", &mut jar).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.body["identity"]["traits"]["email"], "bob@example.test");
    let id = me.body["identity"]["id"].clone();

    let mut again = Jar::default();
    let res = sign_with_fake(&app, "registration", "bob", &mut again).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = whoami(&app, &again).await;
    assert_eq!(me.body["identity"]["id"], id, "no second identity");
    let all = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert_eq!(all.identities.len(), 1);
}

/// Starts a registration through the fake and answers the callback URL, not yet followed.
async fn pending_callback(app: &App, jar: &mut Jar, login: &str) -> String {
    let flow = browser_flow(app, "registration", jar).await;
    let to = start(
        app,
        "registration",
        &flow,
        jar,
        &[
            ("provider", "fake"),
            ("upstream_parameters.login_hint", login),
        ],
    )
    .await;
    app.fake.authorize(&to).await.unwrap().to_string()
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let app = app().await;
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "carol").await;
    let first = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    // Refused: the sign-in renewed the browser's CSRF cookie, and the flow is completed.
    let replay = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN, "{:?}", replay.body);
    // The same from a browser that kept the old cookie: the flow is completed.
    let mut kept = Jar::default();
    let callback = pending_callback(&app, &mut kept, "carol2").await;
    let before = kept.clone();
    let first = come_back(&app, &callback, &mut kept, true).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let mut old = before;
    let replay = come_back(&app, &callback, &mut old, true).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{:?}", replay.body);
    assert_eq!(replay.error_id(), "bad_request");
    let all = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert_eq!(
        all.identities.len(),
        2,
        "one per account, none from a replay"
    );
}

#[tokio::test]
async fn a_tampered_missing_or_foreign_state_is_refused() {
    let app = app().await;
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "dave").await;
    let state = query_param(&callback, "state").unwrap();
    let code = query_param(&callback, "code").unwrap();

    let tampered = format!(
        "/self-service/methods/oidc/callback/fake?code={code}&state={}00",
        &state[..state.len() - 2]
    );
    let res = come_back(&app, &tampered, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.error_id(), "bad_request");
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("state parameter is invalid"),
        "{:?}",
        res.body
    );

    let missing = format!("/self-service/methods/oidc/callback/fake?code={code}");
    let res = come_back(&app, &missing, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not return the state")
    );

    // The state of another provider's URL.
    let other = format!("/self-service/methods/oidc/callback/github?code={code}&state={state}");
    let res = come_back(&app, &other, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("provider mismatch")
    );

    // Another browser (no CSRF cookie for the flow) is refused.
    let mut stranger = Jar::default();
    let res = come_back(&app, &callback, &mut stranger, true).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{:?}", res.body);
    assert_eq!(res.error_id(), "security_csrf_violation");

    // A state naming a flow that does not exist (Kratos's default cipher only encodes it,
    // so anyone can write one): not found, nothing else.
    let forged = hex::encode(format!(
        r#"{{"f":"{}","k":"login","p":"fake","r":"x"}}"#,
        uuid::Uuid::new_v4()
    ));
    let res = come_back(
        &app,
        &format!("/self-service/methods/oidc/callback/fake?code={code}&state={forged}"),
        &mut jar,
        true,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{:?}", res.body);

    // A browser is sent to the error page.
    let res = come_back(&app, &tampered, &mut jar, false).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.location()
            .starts_with("https://app.example.com/error?id="),
        "{}",
        res.location()
    );

    // The genuine callback still works after all of these.
    let res = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[tokio::test]
async fn the_providers_error_is_shown_and_nothing_is_written() {
    let app = app().await;
    app.fake
        .set_authorize_outcome(AuthorizeOutcome::access_denied("The user said no"));
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "erin").await;
    let res = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    let reason = res.body["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("returned error \"access_denied\": The user said no"),
        "{reason}"
    );
    let all = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert!(all.identities.is_empty());
}

#[tokio::test]
async fn an_expired_flow_is_refused() {
    let app = app().await;
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "frank").await;
    app.clock.advance(chrono::Duration::hours(2));
    let res = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::GONE, "{:?}", res.body);
    assert_eq!(res.error_id(), "self_service_flow_expired");
}

#[tokio::test]
async fn id_tokens_that_do_not_verify_are_refused() {
    let app = app().await;
    for fault in [
        IdTokenFault::UnknownKey,
        IdTokenFault::WrongSignature,
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongNonce,
        IdTokenFault::MissingNonce,
        IdTokenFault::Expired,
        IdTokenFault::AlgNone,
    ] {
        app.fake.set_fault(Some(fault));
        let mut jar = Jar::default();
        let callback = pending_callback(&app, &mut jar, "grace").await;
        let res = come_back(&app, &callback, &mut jar, true).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "{fault:?}: {:?}",
            res.body
        );
        assert_eq!(res.error_id(), "forbidden", "{fault:?}");
        assert!(
            res.body["error"]["reason"]
                .as_str()
                .unwrap()
                .contains("Could not verify id_token"),
            "{fault:?}: {:?}",
            res.body
        );
    }
    let all = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert!(all.identities.is_empty());
}

#[tokio::test]
async fn missing_required_traits_bring_the_form_back_filled_in() {
    // The mapper finds no email: the schema requires one.
    let app = app_with(
        "local claims = std.extVar('claims'); { identity: { traits: { name: claims.name } } }",
        "",
    )
    .await;
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "heidi").await;
    let res = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    let nodes = res.body["ui"]["nodes"].as_array().unwrap();
    let name = nodes
        .iter()
        .find(|n| n["attributes"]["name"] == "traits.name")
        .unwrap();
    assert_eq!(name["attributes"]["value"], "heidi Tester");
    let email = nodes
        .iter()
        .find(|n| n["attributes"]["name"] == "traits.email")
        .unwrap();
    assert_eq!(email["messages"][0]["id"], 4000002);
    let cont = nodes
        .iter()
        .find(|n| n["attributes"]["name"] == "provider")
        .unwrap();
    assert_eq!(cont["attributes"]["value"], "fake");
    assert_eq!(cont["meta"]["label"]["id"], 1040003);
    assert!(
        app.kratos
            .identities()
            .list(Default::default())
            .await
            .unwrap()
            .identities
            .is_empty()
    );

    // Continue with the missing trait: the provider again, then an identity.
    let flow = res.body.clone();
    let to = start(
        &app,
        "registration",
        &flow,
        &jar,
        &[
            ("provider", "fake"),
            ("traits.email", "heidi@example.org"),
            ("upstream_parameters.login_hint", "heidi"),
        ],
    )
    .await;
    let callback = app.fake.authorize(&to).await.unwrap();
    let res = come_back(&app, callback.as_str(), &mut jar, false).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = whoami(&app, &jar).await;
    assert_eq!(
        me.body["identity"]["traits"],
        json!({"email": "heidi@example.org", "name": "heidi Tester"})
    );
}

#[tokio::test]
async fn a_failing_mapper_is_a_clear_error_and_writes_nothing() {
    let app = app_with("error 'no mapping for ' + std.extVar('claims').sub", "").await;
    let mut jar = Jar::default();
    let callback = pending_callback(&app, &mut jar, "ivan").await;
    let res = come_back(&app, &callback, &mut jar, true).await;
    assert_eq!(
        res.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{:?}",
        res.body
    );
    let reason = res.body["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("Jsonnet mapper failed"), "{reason}");
    assert!(
        !reason.contains(&app.fake.account("ivan").sub),
        "no claim value in the error"
    );
    assert!(
        app.kratos
            .identities()
            .list(Default::default())
            .await
            .unwrap()
            .identities
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_provider_is_a_404() {
    let app = app().await;
    let mut jar = Jar::default();
    let flow = browser_flow(&app, "login", &mut jar).await;
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()),
    )
    .json_accept()
    .json(json!({"method": "oidc", "provider": "nope", "csrf_token": csrf_of(&flow)}))
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{:?}", res.body);
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("\"nope\" is unknown")
    );
}

#[tokio::test]
async fn json_clients_are_told_where_to_send_the_browser() {
    let app = app().await;
    let mut jar = Jar::default();
    let flow = browser_flow(&app, "login", &mut jar).await;
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow["id"].as_str().unwrap()),
    )
    .json_accept()
    .json(json!({"method": "oidc", "provider": "fake", "csrf_token": csrf_of(&flow)}))
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.body
    );
    assert_eq!(res.error_id(), "browser_location_change_required");
    let to = res.body["redirect_browser_to"].as_str().unwrap();
    assert!(to.starts_with(&app.fake.authorization_endpoint()), "{to}");
    for param in ["state", "nonce", "client_id", "redirect_uri"] {
        assert!(query_param(to, param).is_some(), "{param} in {to}");
    }
    assert_eq!(
        query_param(to, "redirect_uri").unwrap(),
        callback_uri("fake")
    );
}

#[tokio::test]
async fn github_signs_up_through_its_user_api() {
    let app = app().await;
    let mut jar = Jar::default();
    app.fake.set_login("judy");
    let flow = browser_flow(&app, "registration", &mut jar).await;
    let to = start(&app, "registration", &flow, &jar, &[("provider", "github")]).await;
    assert!(to.starts_with(&app.fake.github_authorization_url()), "{to}");
    assert!(
        query_param(&to, "nonce").is_none(),
        "plain OAuth 2.0: no nonce"
    );
    let callback = app.fake.authorize(&to).await.unwrap();
    let res = come_back(&app, callback.as_str(), &mut jar, false).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let me = whoami(&app, &jar).await;
    assert_eq!(me.body["identity"]["traits"]["email"], "judy@example.test");
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(
            me.body["identity"]["id"].as_str().unwrap().parse().unwrap(),
            &[CredentialType::Oidc],
        )
        .await
        .unwrap();
    assert_eq!(
        stored.credential(CredentialType::Oidc).unwrap().identifiers,
        vec![format!("github:{}", FakeProvider::github_id("judy"))]
    );
}

#[tokio::test]
async fn settings_link_and_unlink_and_never_the_last_first_factor() {
    let app = app().await;
    let mut jar = Jar::default();
    let res = sign_with_fake(&app, "registration", "mallory", &mut jar).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);

    // Only one first factor: no unlink button, and an unlink is refused.
    let flow = browser_flow(&app, "settings", &mut jar).await;
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    assert!(!nodes.iter().any(|n| n["attributes"]["name"] == "unlink"));
    let link = nodes
        .iter()
        .find(|n| n["attributes"]["name"] == "link" && n["attributes"]["value"] == "github")
        .expect("a link button for github");
    assert_eq!(link["meta"]["label"]["id"], 1050002);
    let res = call(
        Method::POST,
        &format!(
            "/self-service/settings?flow={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .json_accept()
    .json(json!({"method": "oidc", "unlink": "fake", "csrf_token": csrf_of(&flow)}))
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert!(
        res.body["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("last remaining first factor")
    );

    // Link github.
    app.fake.set_login("mallory");
    let flow = browser_flow(&app, "settings", &mut jar).await;
    let to = start(&app, "settings", &flow, &jar, &[("link", "github")]).await;
    let callback = app.fake.authorize(&to).await.unwrap();
    let res = come_back(&app, callback.as_str(), &mut jar, true).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["state"], "success");
    let me = whoami(&app, &jar).await;
    let id: uuid::Uuid = me.body["identity"]["id"].as_str().unwrap().parse().unwrap();
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(id, &[CredentialType::Oidc])
        .await
        .unwrap();
    assert_eq!(
        stored
            .credential(CredentialType::Oidc)
            .unwrap()
            .identifiers
            .len(),
        2
    );

    // Now both show an unlink button; unlink fake.
    let flow = browser_flow(&app, "settings", &mut jar).await;
    let unlinks = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["attributes"]["name"] == "unlink")
        .count();
    assert_eq!(unlinks, 2);
    let res = call(
        Method::POST,
        &format!(
            "/self-service/settings?flow={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .json_accept()
    .json(json!({"method": "oidc", "unlink": "fake", "csrf_token": csrf_of(&flow)}))
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(id, &[CredentialType::Oidc])
        .await
        .unwrap();
    assert_eq!(
        stored.credential(CredentialType::Oidc).unwrap().identifiers,
        vec![format!("github:{}", FakeProvider::github_id("mallory"))]
    );
}

#[tokio::test]
async fn a_native_app_gets_its_session_through_the_token_exchange() {
    let app = app().await;
    // The app starts an api flow, asking for an exchange code.
    let flow = call(
        Method::GET,
        "/self-service/login/api?return_session_token_exchange_code=true&return_to=https://app.example.com/native",
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    let init = flow.body["session_token_exchange_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = call(
        Method::POST,
        &format!("/self-service/login?flow={}", flow.body["id"].as_str().unwrap()),
    )
    .json_accept()
    .json(json!({"method": "oidc", "provider": "fake", "upstream_parameters": {"login_hint": "nina"}}))
    .send(&app.public)
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        res.body
    );
    let to = res.body["redirect_browser_to"].as_str().unwrap().to_owned();

    // The system browser signs in at the provider and comes back (no cookies of the app);
    // the unknown account registers in a new flow that takes the exchange over.
    let callback = app.fake.authorize(&to).await.unwrap();
    let mut browser = Jar::default();
    let mut res = come_back(&app, callback.as_str(), &mut browser, false).await;
    if res
        .location()
        .contains("/self-service/methods/oidc/callback/")
    {
        let next = res.location().to_owned();
        res = come_back(&app, &next, &mut browser, false).await;
    }
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let back = res.location().to_owned();
    assert!(back.starts_with("https://app.example.com/native"), "{back}");
    let return_to_code = query_param(&back, "code").expect("the return-to code");
    assert!(
        !browser.has("ory_kratos_session"),
        "no session cookie for a native app's flow"
    );

    // The app exchanges both codes for the session, once.
    let exchange =
        format!("/sessions/token-exchange?init_code={init}&return_to_code={return_to_code}");
    let res = call(Method::GET, &exchange)
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let token = res.body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(
        res.body["session"]["identity"]["traits"]["email"],
        "nina@example.test"
    );
    let me = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let again = call(Method::GET, &exchange)
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}
