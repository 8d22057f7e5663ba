//! Session token exchange over HTTP: `return_session_token_exchange_code` on the api flow
//! creations, and `GET /sessions/token-exchange` (the trade, once; a wrong or missing code;
//! a flow that has not completed; expiry). The completion that attaches the session runs in
//! process, as the OIDC callback does.

mod common;

use axum::http::{Method, StatusCode};
use common::{MailApp, Res, call, email, mail_app, query_param};
use kratos_core::flow::FlowContext;
use kratos_core::flow::login::LoginSubmission;
use serde_json::{Value, json};

const YAML: &str = "selfservice:\n  allowed_return_urls: [\"https://app.example.com/callback\"]\n  default_browser_return_url: https://app.example.com/\n";

async fn get(app: &MailApp, uri: &str) -> Res {
    call(Method::GET, uri).send(&app.public).await
}

async fn exchange(app: &MailApp, init: &str, ret: &str) -> Res {
    get(
        app,
        &format!("/sessions/token-exchange?init_code={init}&return_to_code={ret}"),
    )
    .await
}

/// An identity with a password.
async fn account(app: &MailApp) -> String {
    let mail = email();
    let created = call(Method::POST, "/admin/identities")
        .json(json!({
            "schema_id": "default",
            "traits": {"email": mail},
            "credentials": {"password": {"config": {"password": "long enough pw"}}}
        }))
        .send(&app.admin)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    mail
}

/// Creates an api login flow over HTTP with the exchange asked for; answers the flow.
async fn api_login(app: &MailApp, query: &str) -> Value {
    let res = get(app, &format!("/self-service/login/api?{query}")).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    res.body
}

/// Completes a login flow in process (as a method's callback does) and answers the redirect
/// the completion sends the browser to.
async fn complete(app: &MailApp, flow: &Value, mail: &str) -> String {
    let id = flow["id"].as_str().unwrap().parse().unwrap();
    let done = app
        .kratos
        .login()
        .submit(
            id,
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &FlowContext::default(),
        )
        .await
        .expect("submitted");
    let LoginSubmission::Completed(done) = done else {
        panic!("signed in")
    };
    done.token_exchange_redirect
        .expect("the completion redirects with the code")
}

#[tokio::test]
async fn the_codes_trade_for_the_session_once() {
    let app = mail_app(YAML);
    let mail = account(&app).await;
    let flow = api_login(
        &app,
        "return_session_token_exchange_code=true&return_to=https://app.example.com/callback",
    )
    .await;
    let init = flow["session_token_exchange_code"]
        .as_str()
        .expect("the created flow shows the init code")
        .to_owned();
    assert_eq!(init.len(), 64);
    // Not when the flow is fetched again.
    let fetched = get(
        &app,
        &format!(
            "/self-service/login/flows?id={}",
            flow["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.body.get("session_token_exchange_code").is_none());

    // The return-to code is learnt from the completion's redirect only (a pending exchange
    // answering 422 with its flow is in the store conformance suite, which can read it).
    let redirect = complete(&app, &flow, &mail).await;
    assert!(redirect.starts_with("https://app.example.com/callback?code="));
    let code = query_param(&redirect, "code").expect("code");

    let wrong = exchange(&app, &init, &format!("{code}x")).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert_eq!(wrong.error_id(), "not_found");
    assert_eq!(
        wrong.body["error"]["reason"],
        "no session yet for this \"code\""
    );
    let swapped = exchange(&app, &code, &init).await;
    assert_eq!(swapped.status, StatusCode::NOT_FOUND);

    let ok = exchange(&app, &init, &code).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let token = ok.body["session_token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ory_st_"));
    assert_eq!(ok.body["session"]["identity"]["traits"]["email"], mail);
    assert_eq!(ok.body["session"]["active"], true);
    let whoami = call(Method::GET, "/sessions/whoami")
        .token(&token)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body["id"], ok.body["session"]["id"]);

    let again = exchange(&app, &init, &code).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "one exchange only");
    assert_eq!(again.error_id(), "not_found");
}

#[tokio::test]
async fn codes_of_two_flows_do_not_mix() {
    let app = mail_app(YAML);
    let mail = account(&app).await;
    // A registration flow that never completes, and a login flow that does: the login
    // flow's codes are right, the registration's init code with them is not.
    let reg = get(
        &app,
        "/self-service/registration/api?return_session_token_exchange_code=true",
    )
    .await;
    assert_eq!(reg.status, StatusCode::OK);
    let reg_init = reg.body["session_token_exchange_code"]
        .as_str()
        .expect("registration shows the init code")
        .to_owned();
    let flow = api_login(&app, "return_session_token_exchange_code=1").await;
    let init = flow["session_token_exchange_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = complete(&app, &flow, &mail).await;
    assert!(redirect.starts_with("https://app.example.com/?code="));
    let code = query_param(&redirect, "code").unwrap();
    let crossed = exchange(&app, &reg_init, &code).await;
    assert_eq!(crossed.status, StatusCode::NOT_FOUND);
    assert_eq!(exchange(&app, &init, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_codes_are_a_bad_request() {
    let app = mail_app(YAML);
    for uri in [
        "/sessions/token-exchange",
        "/sessions/token-exchange?init_code=abc",
        "/sessions/token-exchange?return_to_code=abc",
        "/sessions/token-exchange?init_code=&return_to_code=abc",
        "/sessions/token-exchange?init_code=abc&return_to_code=",
    ] {
        let res = get(&app, uri).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(res.error_id(), "bad_request");
        assert_eq!(
            res.body["error"]["reason"],
            "\"init_code\" and \"return_to_code\" query params must be set"
        );
    }
    let unknown = exchange(&app, "abc", "def").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_exchange_is_not_found() {
    let app = mail_app(YAML);
    let mail = account(&app).await;
    let flow = api_login(&app, "return_session_token_exchange_code=true").await;
    let init = flow["session_token_exchange_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = complete(&app, &flow, &mail).await;
    let code = query_param(&redirect, "code").unwrap();
    // The exchanger expires with its flow (login lifespan: one hour).
    app.clock.advance(chrono::Duration::minutes(61));
    let res = exchange(&app, &init, &code).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_id(), "not_found");
}

#[tokio::test]
async fn only_api_flows_asked_for_it_show_a_code() {
    let app = mail_app(YAML);
    for uri in [
        "/self-service/login/api",
        "/self-service/login/api?return_session_token_exchange_code=false",
        "/self-service/login/api?return_session_token_exchange_code=yes",
        "/self-service/registration/api",
        // Kratos's registration takes the literal `true` only.
        "/self-service/registration/api?return_session_token_exchange_code=1",
    ] {
        let res = get(&app, uri).await;
        assert_eq!(res.status, StatusCode::OK, "{uri}");
        assert!(
            res.body.get("session_token_exchange_code").is_none(),
            "{uri}"
        );
    }
    for uri in [
        "/self-service/login/api?return_session_token_exchange_code=TRUE",
        "/self-service/login/api?return_session_token_exchange_code=t",
        "/self-service/registration/api?return_session_token_exchange_code=true",
    ] {
        let res = get(&app, uri).await;
        assert!(res.body["session_token_exchange_code"].is_string(), "{uri}");
    }
    let browser = call(
        Method::GET,
        "/self-service/login/browser?return_session_token_exchange_code=true",
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(browser.status, StatusCode::OK);
    assert!(browser.body.get("session_token_exchange_code").is_none());
}
