//! HTTP tests of the verification and recovery flows (api and browser, codes and links read
//! from the courier's outbox), the admin recovery API and the courier admin API.

use axum::http::{Method, StatusCode, header};
use kratos_core::Kratos;
use kratos_core::identity::CreateIdentityBody;
use kratos_core::session::ClientInfo;
use serde_json::json;
use uuid::Uuid;

mod common;
use common::*;

const APP: &str = "https://app.example.com/";
const VERIFICATION_UI: &str = "https://app.example.com/verification";
const RECOVERY_UI: &str = "https://app.example.com/recovery";
const SETTINGS_UI: &str = "https://app.example.com/settings";

const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  methods:
    link:
      enabled: true
  flows:
    settings:
      ui_url: https://app.example.com/settings
    verification:
      enabled: true
      ui_url: https://app.example.com/verification
    recovery:
      enabled: true
      ui_url: https://app.example.com/recovery
      after:
        hooks:
          - hook: revoke_active_sessions
";

/// [`CONFIG`] with both flows sending links instead of codes.
fn link_config() -> String {
    CONFIG
        .replace(
            "      ui_url: https://app.example.com/verification\n",
            "      ui_url: https://app.example.com/verification\n      use: link\n",
        )
        .replace(
            "      ui_url: https://app.example.com/recovery\n",
            "      ui_url: https://app.example.com/recovery\n      use: link\n",
        )
}

fn app() -> MailApp {
    mail_app(CONFIG)
}

impl MailApp {
    /// The link in the newest email to `to` (after a courier dispatch), as a path and query.
    async fn link(&self, to: &str) -> String {
        self.kratos.courier().dispatch_batch().await.unwrap();
        let m = self.outbox.last_to(to).expect("an email was sent");
        let link = m
            .body
            .split_whitespace()
            .find(|w| w.contains("token=") || w.contains("code="))
            .expect("the email carries a link");
        path_of(link)
    }

    async fn verified(&self, id: Uuid) -> bool {
        self.kratos
            .identities()
            .get(id)
            .await
            .unwrap()
            .verifiable_addresses[0]
            .verified
    }
}

async fn create_identity(k: &Kratos, mail: &str) -> Uuid {
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": mail }),
            ..Default::default()
        })
        .await
        .expect("identity")
        .id
}

/// Starts an api flow of `kind`; returns its id.
async fn api_flow(app: &MailApp, kind: &str) -> String {
    let res = call(Method::GET, &format!("/self-service/{kind}/api"))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(res.body["type"], "api");
    assert_eq!(res.body["state"], "choose_method");
    res.body["id"].as_str().unwrap().to_owned()
}

/// Starts a browser flow of `kind` as an HTML client and fetches it as the UI does; returns
/// its id and CSRF token.
async fn browser_flow(app: &MailApp, jar: &mut Jar, kind: &str, ui: &str) -> (String, String) {
    let res = call(Method::GET, &format!("/self-service/{kind}/browser"))
        .html_accept()
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(
        res.location().starts_with(&format!("{ui}?flow=")),
        "{}",
        res.location()
    );
    jar.absorb(&res);
    assert!(jar.has(&kratos_axum::cookie::csrf_cookie_name(&app.kratos)));
    let id = query_param(res.location(), "flow").unwrap();
    let flow = call(Method::GET, &format!("/self-service/{kind}/flows?id={id}"))
        .jar(jar)
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    assert_eq!(flow.body["type"], "browser");
    (id, csrf_of(&flow.body))
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn verification_api_flow_by_code() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    assert!(!app.verified(id).await);

    let flow = api_flow(&app, "verification").await;
    let submit = format!("/self-service/verification?flow={flow}");
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "email": mail.to_uppercase()}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "sent_email");
    assert_eq!(sent.message_ids(), vec![1080003]);
    let code = app.code(&mail).await;
    let message = app.outbox.last_to(&mail).unwrap();
    assert_eq!(
        message.template_type,
        kratos_core::courier::TemplateType::VerificationCodeValid
    );

    // A wrong code is a step of the flow (200), with Kratos's message.
    let wrong = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::OK, "{:?}", wrong.body);
    assert_eq!(wrong.body["state"], "sent_email");
    assert_eq!(wrong.message_ids(), vec![4070006]);
    assert!(!app.verified(id).await);

    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["state"], "passed_challenge");
    assert_eq!(done.message_ids(), vec![1080002]);
    assert!(app.verified(id).await);

    // A finished flow takes no more submissions; fetching it shows it finished.
    let again = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error_id(), "bad_request");
    let fetched = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["state"], "passed_challenge");

    // A missing address is a validation error on the email node (400).
    let flow = api_flow(&app, "verification").await;
    let empty = call(
        Method::POST,
        &format!("/self-service/verification?flow={flow}"),
    )
    .json(json!({"method": "code", "email": ""}))
    .send(&app.public)
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{:?}", empty.body);
    assert_eq!(empty.body["state"], "choose_method");
    assert_eq!(empty.message_ids(), vec![4000002]);
}

#[tokio::test]
async fn verification_api_flow_refuses_browsers() {
    let app = app();
    let res = call(Method::GET, "/self-service/verification/api")
        .header("origin", "https://evil.example.com")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("Origin")
    );

    let flow = api_flow(&app, "verification").await;
    let res = call(
        Method::POST,
        &format!("/self-service/verification?flow={flow}"),
    )
    .header("cookie", "some_session=1")
    .json(json!({"method": "code", "email": email()}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("cookies")
    );
}

#[tokio::test]
async fn verification_browser_flow_by_code_html_and_json() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (flow, csrf) = browser_flow(&app, &mut jar, "verification", VERIFICATION_UI).await;
    let submit = format!("/self-service/verification?flow={flow}");

    // The HTML form posts and is sent back to the UI after each step.
    let sent = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("csrf_token", &csrf), ("method", "code"), ("email", &mail)])
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{:?}", sent.body);
    assert_eq!(sent.location(), format!("{VERIFICATION_UI}?flow={flow}"));
    let code = app.code(&mail).await;
    let shown = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(shown.body["state"], "sent_email");
    assert_eq!(shown.message_ids(), vec![1080003]);

    let done = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("csrf_token", &csrf), ("method", "code"), ("code", &code)])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert_eq!(done.location(), format!("{VERIFICATION_UI}?flow={flow}"));
    assert!(app.verified(id).await);
    // The finished flow (whose form no longer carries the CSRF token) still shows in this
    // browser, with the "Continue" link to the return URL.
    let shown = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.body["state"], "passed_challenge");
    let continue_href = shown.body["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["id"] == "continue")
        .map(|n| n["attributes"]["href"].as_str().unwrap().to_owned());
    assert_eq!(continue_href.as_deref(), Some(APP));
    // Another browser does not see it.
    let stranger = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    assert_eq!(stranger.error_id(), "security_csrf_violation");

    // A single-page app: JSON everywhere, the CSRF token in the header, and a browser flow
    // with `return_to` sends HTML clients there once verified.
    let mail2 = email();
    let id2 = create_identity(&app.kratos, &mail2).await;
    let mut spa = Jar::default();
    let init = call(
        Method::GET,
        "/self-service/verification/browser?return_to=https://app.example.com/welcome",
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.body);
    assert_eq!(init.body["return_to"], "https://app.example.com/welcome");
    spa.absorb(&init);
    let flow2 = init.body["id"].as_str().unwrap().to_owned();
    let csrf2 = csrf_of(&init.body);
    let submit2 = format!("/self-service/verification?flow={flow2}");
    let sent = call(Method::POST, &submit2)
        .jar(&spa)
        .header("x-csrf-token", &csrf2)
        .json(json!({"method": "code", "email": mail2}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "sent_email");
    let code2 = app.code(&mail2).await;
    let done = call(Method::POST, &submit2)
        .html_accept()
        .jar(&spa)
        .form(&[("csrf_token", &csrf2), ("method", "code"), ("code", &code2)])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert_eq!(done.location(), "https://app.example.com/welcome");
    assert!(app.verified(id2).await);
}

#[tokio::test]
async fn verification_links_are_followed_with_get() {
    let app = mail_app(&link_config());
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (flow, csrf) = browser_flow(&app, &mut jar, "verification", VERIFICATION_UI).await;
    let sent = call(
        Method::POST,
        &format!("/self-service/verification?flow={flow}"),
    )
    .json_accept()
    .jar(&jar)
    .json(json!({"csrf_token": csrf, "method": "link", "email": mail}))
    .send(&app.public)
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.message_ids(), vec![1080001]);
    let link = app.link(&mail).await;
    assert!(link.starts_with(&format!("/self-service/verification?flow={flow}&token=")));

    // A forged token: back to the UI, which shows why.
    let forged = call(
        Method::GET,
        &format!(
            "/self-service/verification?flow={flow}&token={}",
            "x".repeat(32)
        ),
    )
    .html_accept()
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    assert_eq!(forged.location(), format!("{VERIFICATION_UI}?flow={flow}"));
    let shown = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(shown.message_ids(), vec![4070001]);
    assert!(!app.verified(id).await);

    // The link opens in another browser (a mail app's): no cookies, no CSRF token needed.
    let mut other = Jar::default();
    let followed = call(Method::GET, &link)
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(
        followed.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        followed.body
    );
    assert_eq!(
        followed.location(),
        format!("{VERIFICATION_UI}?flow={flow}")
    );
    assert!(app.verified(id).await);
    // That browser may now show the finished flow.
    other.absorb(&followed);
    let shown = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={flow}"),
    )
    .jar(&other)
    .send(&app.public)
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.body["state"], "passed_challenge");
    assert_eq!(shown.message_ids(), vec![1080002]);
    // A used link: the flow is finished.
    let reused = call(Method::GET, &link)
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);

    // Without a token, the endpoint leads to the flow's UI.
    let bare = call(
        Method::GET,
        &format!("/self-service/verification?flow={flow}"),
    )
    .html_accept()
    .send(&app.public)
    .await;
    assert_eq!(bare.status, StatusCode::SEE_OTHER);
    assert_eq!(bare.location(), format!("{VERIFICATION_UI}?flow={flow}"));
}

#[tokio::test]
async fn verification_code_emails_carry_a_link_that_verifies() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let flow = api_flow(&app, "verification").await;
    call(
        Method::POST,
        &format!("/self-service/verification?flow={flow}"),
    )
    .json(json!({"method": "code", "email": mail}))
    .send(&app.public)
    .await;
    let link = app.link(&mail).await;
    assert!(link.contains("code="), "{link}");
    let followed = call(Method::GET, &link).send(&app.public).await;
    assert_eq!(followed.status, StatusCode::OK, "{:?}", followed.body);
    assert_eq!(followed.body["state"], "passed_challenge");
    assert!(app.verified(id).await);

    // A browser flow's code link also works in a browser without the flow's cookie.
    let mail2 = email();
    let id2 = create_identity(&app.kratos, &mail2).await;
    let mut jar = Jar::default();
    let (flow2, csrf2) = browser_flow(&app, &mut jar, "verification", VERIFICATION_UI).await;
    call(
        Method::POST,
        &format!("/self-service/verification?flow={flow2}"),
    )
    .jar(&jar)
    .form(&[
        ("csrf_token", &csrf2),
        ("method", "code"),
        ("email", &mail2),
    ])
    .send(&app.public)
    .await;
    let link2 = app.link(&mail2).await;
    let followed = call(Method::GET, &link2)
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(
        followed.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        followed.body
    );
    assert_eq!(
        followed.location(),
        format!("{VERIFICATION_UI}?flow={flow2}")
    );
    assert!(app.verified(id2).await);
}

#[tokio::test]
async fn verification_too_many_attempts() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let flow = api_flow(&app, "verification").await;
    let submit = format!("/self-service/verification?flow={flow}");
    call(Method::POST, &submit)
        .json(json!({"method": "code", "email": mail}))
        .send(&app.public)
        .await;
    let code = app.code(&mail).await;
    for _ in 0..5 {
        let r = call(Method::POST, &submit)
            .json(json!({"method": "code", "code": other_code(&code)}))
            .send(&app.public)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.message_ids(), vec![4070006]);
    }
    // Even the right code is refused now: the flow asks for a new code.
    let r = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["state"], "sent_email");
    assert_eq!(r.message_ids(), vec![4000001]);
    assert!(
        r.body["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("too often")
    );
    assert!(!app.verified(id).await);
}

#[tokio::test]
async fn unknown_addresses_get_the_same_answer() {
    let app = app();
    for kind in ["verification", "recovery"] {
        let known = email();
        create_identity(&app.kratos, &known).await;
        let unknown = email();
        let mut answers = Vec::new();
        for mail in [&known, &unknown] {
            let flow = api_flow(&app, kind).await;
            let res = call(Method::POST, &format!("/self-service/{kind}?flow={flow}"))
                .json(json!({"method": "code", "email": mail}))
                .send(&app.public)
                .await;
            answers.push((
                res.status,
                res.body["state"].clone(),
                res.body["ui"]["messages"].clone(),
            ));
        }
        assert_eq!(answers[0], answers[1], "{kind}");
        assert_eq!(answers[0].0, StatusCode::OK, "{kind}");
        assert_eq!(answers[0].1, "sent_email", "{kind}");
        app.kratos.courier().dispatch_batch().await.unwrap();
        assert_eq!(app.outbox.messages_to(&known).len(), 1, "{kind}");
        assert!(app.outbox.messages_to(&unknown).is_empty(), "{kind}");
    }
}

#[tokio::test]
async fn browser_submissions_need_the_csrf_cookie_and_token() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    for (kind, ui) in [("verification", VERIFICATION_UI), ("recovery", RECOVERY_UI)] {
        let mut jar = Jar::default();
        let (flow, csrf) = browser_flow(&app, &mut jar, kind, ui).await;
        let submit = format!("/self-service/{kind}?flow={flow}");
        let body = json!({"csrf_token": csrf, "method": "code", "email": mail});

        // No cookie: the token alone proves nothing.
        let res = call(Method::POST, &submit)
            .json(body.clone())
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{kind}");
        assert_eq!(res.error_id(), "security_csrf_violation");

        // A forged cookie is no cookie.
        let forged = format!(
            "{}=forged-value",
            kratos_axum::cookie::csrf_cookie_name(&app.kratos)
        );
        let res = call(Method::POST, &submit)
            .header("cookie", &forged)
            .json(body.clone())
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{kind}");
        assert_eq!(res.error_id(), "security_csrf_violation");

        // The cookie without the token, or with a wrong one.
        let res = call(Method::POST, &submit)
            .jar(&jar)
            .json(json!({"method": "code", "email": mail}))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{kind}");
        assert_eq!(res.error_id(), "security_csrf_violation");
        let res = call(Method::POST, &submit)
            .jar(&jar)
            .json(json!({"csrf_token": "wrong", "method": "code", "email": mail}))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{kind}");
        app.kratos.courier().dispatch_batch().await.unwrap();
        assert!(app.outbox.messages_to(&mail).is_empty(), "{kind}");

        // Both: the email goes out.
        let res = call(Method::POST, &submit)
            .jar(&jar)
            .json(body)
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{kind}: {:?}", res.body);
        assert_eq!(res.body["state"], "sent_email");
        app.kratos.courier().dispatch_batch().await.unwrap();
        assert_eq!(app.outbox.messages_to(&mail).len(), 1, "{kind}");
        app.outbox.clear();
    }
}

#[tokio::test]
async fn expired_flows_answer_410_or_a_fresh_flow() {
    let app = app();
    let mail = email();
    create_identity(&app.kratos, &mail).await;
    let api = api_flow(&app, "verification").await;
    let mut jar = Jar::default();
    let (browser, csrf) = browser_flow(&app, &mut jar, "recovery", RECOVERY_UI).await;
    app.clock.advance(chrono::Duration::hours(2));

    let res = call(
        Method::POST,
        &format!("/self-service/verification?flow={api}"),
    )
    .json(json!({"method": "code", "email": mail}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::GONE, "{:?}", res.body);
    assert_eq!(res.error_id(), "self_service_flow_expired");
    let fresh = res.body["use_flow_id"].as_str().unwrap().to_owned();
    assert_ne!(fresh, api);
    let fetched = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={fresh}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.message_ids(), vec![4070005]);
    let fetched_old = call(
        Method::GET,
        &format!("/self-service/verification/flows?id={api}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(fetched_old.status, StatusCode::GONE);

    // A browser form is sent to a fresh flow, which its CSRF cookie vouches for.
    let res = call(
        Method::POST,
        &format!("/self-service/recovery?flow={browser}"),
    )
    .html_accept()
    .jar(&jar)
    .form(&[("csrf_token", &csrf), ("method", "code"), ("email", &mail)])
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    let fresh = query_param(res.location(), "flow").unwrap();
    assert!(res.location().starts_with(RECOVERY_UI));
    assert_ne!(fresh, browser);
    jar.absorb(&res);
    let shown = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={fresh}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.message_ids(), vec![4060005]);
    // Fetching the expired flow answers 410 with the fresh one.
    let res = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={browser}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body["use_flow_id"].is_string());
}

#[tokio::test]
async fn unknown_flows_are_404() {
    let app = app();
    for kind in ["verification", "recovery"] {
        let unknown = Uuid::new_v4();
        let res = call(
            Method::GET,
            &format!("/self-service/{kind}/flows?id={unknown}"),
        )
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{kind}");
        assert_eq!(res.error_id(), "not_found");
        let res = call(
            Method::POST,
            &format!("/self-service/{kind}?flow={unknown}"),
        )
        .json(json!({"method": "code", "email": email()}))
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{kind}");
        let res = call(
            Method::GET,
            &format!("/self-service/{kind}?flow={unknown}&token=abc"),
        )
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{kind}");
        let res = call(Method::GET, &format!("/self-service/{kind}/flows?id=nope"))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{kind}");
        let res = call(Method::GET, &format!("/self-service/{kind}/flows"))
            .send(&app.public)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{kind}");
        assert_eq!(res.body["error"]["details"]["field"], "id");
    }
}

#[tokio::test]
async fn disabled_flows_answer_kratos_error() {
    let app = mail_app("serve:\n  public:\n    base_url: https://auth.example.com/\n");
    let id = create_identity(&app.kratos, &email()).await;
    let flow = Uuid::new_v4();
    for kind in ["verification", "recovery"] {
        for (method, path) in [
            (Method::GET, format!("/self-service/{kind}/browser")),
            (Method::GET, format!("/self-service/{kind}/api")),
            (Method::GET, format!("/self-service/{kind}/flows?id={flow}")),
            (
                Method::GET,
                format!("/self-service/{kind}?flow={flow}&token=x"),
            ),
            (Method::POST, format!("/self-service/{kind}?flow={flow}")),
        ] {
            let res = call(method.clone(), &path)
                .json(json!({"method": "code", "email": "a@example.com"}))
                .send(&app.public)
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(res.error_id(), "self_service_flow_disabled", "{path}");
        }
    }
    for path in ["/admin/recovery/code", "/admin/recovery/link"] {
        let res = call(Method::POST, path)
            .json(json!({"identity_id": id}))
            .send(&app.admin)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(res.error_id(), "self_service_flow_disabled", "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Recovery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn recovery_api_flow_by_code_ends_in_a_session_and_settings() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let identity = app.kratos.identities().get(id).await.unwrap();
    let old = app
        .kratos
        .sessions()
        .issue(&identity, Vec::new(), &ClientInfo::default())
        .await
        .unwrap();

    let flow = api_flow(&app, "recovery").await;
    let submit = format!("/self-service/recovery?flow={flow}");
    let sent = call(Method::POST, &submit)
        .json(json!({"method": "code", "email": mail}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "sent_email");
    assert_eq!(sent.message_ids(), vec![1060003]);
    let code = app.code(&mail).await;
    let wrong = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(wrong.message_ids(), vec![4060006]);

    let done = call(Method::POST, &submit)
        .json(json!({"method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["state"], "passed_challenge");
    assert_eq!(done.message_ids(), vec![1060001]);
    let cw = done.body["continue_with"].as_array().unwrap();
    assert_eq!(cw.len(), 2, "{cw:?}");
    assert_eq!(cw[0]["action"], "set_ory_session_token");
    let token = cw[0]["ory_session_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ory_st_"));
    assert_eq!(cw[1]["action"], "show_settings_ui");
    let settings = cw[1]["flow"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cw[1]["flow"]["url"],
        format!("{SETTINGS_UI}?flow={settings}")
    );

    // The token signs in; the settings flow is the identity's; the old session is gone.
    let whoami = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", &token)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK, "{:?}", whoami.body);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    assert_eq!(
        whoami.body["authentication_methods"][0]["method"],
        "code_recovery"
    );
    let sf = call(
        Method::GET,
        &format!("/self-service/settings/flows?id={settings}"),
    )
    .header("x-session-token", &token)
    .send(&app.public)
    .await;
    assert_eq!(sf.status, StatusCode::OK, "{:?}", sf.body);
    assert_eq!(sf.body["identity"]["id"], id.to_string());
    assert_eq!(sf.body["type"], "api");
    let old_whoami = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", old.token.expose())
        .send(&app.public)
        .await;
    assert_eq!(old_whoami.status, StatusCode::UNAUTHORIZED);

    // The stored flow does not keep the token.
    let fetched = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={flow}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(!fetched.body.to_string().contains(&token));
    // The emailed address is verified by the recovery.
    assert!(app.verified(id).await);
}

#[tokio::test]
async fn recovery_browser_flow_by_code_html_sets_the_cookie_and_goes_to_settings() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (flow, csrf) = browser_flow(&app, &mut jar, "recovery", RECOVERY_UI).await;
    let submit = format!("/self-service/recovery?flow={flow}");
    let sent = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("csrf_token", &csrf), ("method", "code"), ("email", &mail)])
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(sent.location(), format!("{RECOVERY_UI}?flow={flow}"));
    let code = app.code(&mail).await;

    // A wrong code goes back to the form, which says so.
    let wrong = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("method", "code"),
            ("code", other_code(&code)),
        ])
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    assert_eq!(wrong.location(), format!("{RECOVERY_UI}?flow={flow}"));
    let shown = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={flow}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(shown.message_ids(), vec![4060006]);

    let done = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("csrf_token", &csrf), ("method", "code"), ("code", &code)])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert!(
        done.location().starts_with(&format!("{SETTINGS_UI}?flow=")),
        "{}",
        done.location()
    );
    let settings = query_param(done.location(), "flow").unwrap();
    jar.absorb(&done);
    assert!(jar.has("ory_kratos_session"), "{:?}", done.set_cookies());

    // The browser is signed in, and the settings UI can show the new settings flow.
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK, "{:?}", whoami.body);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    let sf = call(
        Method::GET,
        &format!("/self-service/settings/flows?id={settings}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(sf.status, StatusCode::OK, "{:?}", sf.body);
    assert_eq!(sf.body["type"], "browser");
    assert_eq!(sf.body["identity"]["id"], id.to_string());
    // Tokens handed out before the recovery are no longer vouched for.
    let stale = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={flow}"),
    )
    .jar(&jar)
    .send(&app.public)
    .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);

    // The recovered browser may set a new password right away (privileged session).
    let settings_csrf = csrf_of(&sf.body);
    let changed = call(
        Method::POST,
        &format!("/self-service/settings?flow={settings}"),
    )
    .json_accept()
    .jar(&jar)
    .json(json!({"csrf_token": settings_csrf, "method": "password",
        "password": "a brand new password 9876"}))
    .send(&app.public)
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["state"], "success");

    // A signed-in browser has nothing to recover.
    let again = call(Method::GET, "/self-service/recovery/browser")
        .html_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), APP);
    let again = call(Method::GET, "/self-service/recovery/browser")
        .json_accept()
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error_id(), "session_already_available");
}

#[tokio::test]
async fn recovery_browser_flow_json_client_gets_422_with_the_settings_url() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let init = call(Method::GET, "/self-service/recovery/browser")
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(init.status, StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&init);
    let flow = init.body["id"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&init.body);
    let submit = format!("/self-service/recovery?flow={flow}");
    call(Method::POST, &submit)
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "code", "email": mail}))
        .send(&app.public)
        .await;
    let code = app.code(&mail).await;
    let done = call(Method::POST, &submit)
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "code", "code": code}))
        .send(&app.public)
        .await;
    assert_eq!(
        done.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        done.body
    );
    assert_eq!(done.error_id(), "browser_location_change_required");
    let to = done.body["redirect_browser_to"].as_str().unwrap();
    assert!(to.starts_with(&format!("{SETTINGS_UI}?flow=")), "{to}");
    // No session token in the body of a browser flow; the cookie carries the session.
    assert!(!done.body.to_string().contains("ory_st_"));
    jar.absorb(&done);
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
}

#[tokio::test]
async fn recovery_links_are_followed_with_get() {
    let app = mail_app(&link_config());
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let mut jar = Jar::default();
    let (flow, csrf) = browser_flow(&app, &mut jar, "recovery", RECOVERY_UI).await;
    let sent = call(Method::POST, &format!("/self-service/recovery?flow={flow}"))
        .jar(&jar)
        .json(json!({"csrf_token": csrf, "method": "link", "email": mail}))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.message_ids(), vec![1060002]);
    let link = app.link(&mail).await;

    let forged = call(
        Method::GET,
        &format!(
            "/self-service/recovery?flow={flow}&token={}",
            "y".repeat(32)
        ),
    )
    .json_accept()
    .send(&app.public)
    .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert_eq!(forged.message_ids(), vec![4060004]);

    let mut other = Jar::default();
    let followed = call(Method::GET, &link)
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(
        followed.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        followed.body
    );
    assert!(
        followed
            .location()
            .starts_with(&format!("{SETTINGS_UI}?flow="))
    );
    other.absorb(&followed);
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&other)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    assert_eq!(
        whoami.body["authentication_methods"][0]["method"],
        "link_recovery"
    );
    let reused = call(Method::GET, &link)
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// Admin recovery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_recovery_code_is_entered_in_a_browser() {
    let app = app();
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let before = chrono::Utc::now();
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity_id": id, "expires_in": "10m"}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    assert_eq!(
        res.headers.get(header::CACHE_CONTROL).unwrap(),
        "private, no-cache, no-store, must-revalidate"
    );
    let code = res.body["recovery_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let link = res.body["recovery_link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{RECOVERY_UI}?flow=")), "{link}");
    let expires_at: chrono::DateTime<chrono::Utc> =
        res.body["expires_at"].as_str().unwrap().parse().unwrap();
    let minutes = (expires_at - before).num_minutes();
    assert!((9..=11).contains(&minutes), "{minutes}");
    let flow = query_param(link, "flow").unwrap();

    // The UI shows the flow to a browser that never saw it; the form takes the code.
    let mut jar = Jar::default();
    let shown = call(
        Method::GET,
        &format!("/self-service/recovery/flows?id={flow}"),
    )
    .send(&app.public)
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.body["state"], "sent_email");
    let csrf = csrf_of(&shown.body);
    let done = call(Method::POST, &format!("/self-service/recovery?flow={flow}"))
        .html_accept()
        .form(&[("csrf_token", &csrf), ("method", "code"), ("code", &code)])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert!(done.location().starts_with(&format!("{SETTINGS_UI}?flow=")));
    jar.absorb(&done);
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    // No email was sent; an admin code does not verify the address.
    app.kratos.courier().dispatch_batch().await.unwrap();
    assert!(app.outbox.messages_to(&mail).is_empty());
    assert!(!app.verified(id).await);

    // Errors: unknown identity, bad duration, api flows, malformed body.
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity_id": Uuid::new_v4()}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity_id": id, "expires_in": "soon"}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"]["details"]["field"], "expires_in");
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity_id": id, "flow_type": "api"}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity": id}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admin_recovery_link_signs_the_browser_in() {
    // The flow accepts links when recovery is configured with `use: link`.
    let app = mail_app(&link_config());
    let mail = email();
    let id = create_identity(&app.kratos, &mail).await;
    let res = call(Method::POST, "/admin/recovery/link")
        .json(json!({"identity_id": id}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let link = res.body["recovery_link"].as_str().unwrap();
    assert!(
        link.starts_with("https://auth.example.com/self-service/recovery?flow="),
        "{link}"
    );
    assert!(query_param(link, "token").is_some_and(|t| t.len() == 32));
    let expires_at: chrono::DateTime<chrono::Utc> =
        res.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires_at > chrono::Utc::now() + chrono::Duration::minutes(50));

    let followed = call(Method::GET, &path_of(link))
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(
        followed.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        followed.body
    );
    assert!(
        followed
            .location()
            .starts_with(&format!("{SETTINGS_UI}?flow=")),
        "{}",
        followed.location()
    );
    let mut jar = Jar::default();
    jar.absorb(&followed);
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    let res = call(Method::POST, "/admin/recovery/link")
        .json(json!({"identity_id": Uuid::new_v4()}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Courier
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn courier_messages_are_listed_filtered_paginated_and_fetched() {
    let app = app();
    let mut mails = Vec::new();
    for _ in 0..3 {
        let mail = email();
        create_identity(&app.kratos, &mail).await;
        let flow = api_flow(&app, "verification").await;
        let res = call(
            Method::POST,
            &format!("/self-service/verification?flow={flow}"),
        )
        .json(json!({"method": "code", "email": mail}))
        .send(&app.public)
        .await;
        assert_eq!(res.status, StatusCode::OK);
        mails.push(mail);
    }

    let all = call(Method::GET, "/admin/courier/messages")
        .send(&app.admin)
        .await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let list = all.body.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Newest first, Kratos's shape, no template values.
    assert_eq!(list[0]["recipient"], mails[2].as_str());
    assert_eq!(list[2]["recipient"], mails[0].as_str());
    for m in list {
        assert_eq!(m["status"], "queued");
        assert_eq!(m["type"], "email");
        assert_eq!(m["template_type"], "verification_code_valid");
        assert_eq!(m["send_count"], 0);
        assert!(m["subject"].is_string() && m["body"].is_string());
        assert!(m.get("template_data").is_none(), "{m}");
        assert!(m.get("html_body").is_none());
    }

    // Filters.
    let one = call(
        Method::GET,
        &format!("/admin/courier/messages?recipient={}", mails[1]),
    )
    .send(&app.admin)
    .await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    assert_eq!(one.body[0]["recipient"], mails[1].as_str());
    let code = app.code(&mails[0]).await;
    let sent = call(Method::GET, "/admin/courier/messages?status=sent")
        .send(&app.admin)
        .await;
    assert_eq!(sent.body.as_array().unwrap().len(), 3);
    let queued = call(Method::GET, "/admin/courier/messages?status=queued")
        .send(&app.admin)
        .await;
    assert_eq!(queued.status, StatusCode::OK);
    assert!(queued.body.as_array().unwrap().is_empty());
    let bad = call(Method::GET, "/admin/courier/messages?status=lost")
        .send(&app.admin)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["details"]["field"], "status");

    // Pages of two, with the Link header to the next.
    let first = call(
        Method::GET,
        "/admin/courier/messages?page_size=2&status=sent",
    )
    .send(&app.admin)
    .await;
    assert_eq!(first.body.as_array().unwrap().len(), 2);
    let link = first
        .headers
        .get(header::LINK)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(link.contains("rel=\"first\""), "{link}");
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.split(['<', '>']).nth(1))
        .expect("a next link")
        .to_owned();
    assert!(
        next.contains("status=sent") && next.contains("page_size=2"),
        "{next}"
    );
    let second = call(Method::GET, &next).send(&app.admin).await;
    assert_eq!(second.status, StatusCode::OK);
    let rest = second.body.as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["recipient"], mails[0].as_str());
    let last_link = second.headers.get(header::LINK).unwrap().to_str().unwrap();
    assert!(!last_link.contains("rel=\"next\""), "{last_link}");
    let bad = call(Method::GET, "/admin/courier/messages?page_size=0")
        .send(&app.admin)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = call(Method::GET, "/admin/courier/messages?page_token=garbage")
        .send(&app.admin)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // One message: the admin API shows its body, as Kratos's does.
    let id = rest[0]["id"].as_str().unwrap();
    let got = call(Method::GET, &format!("/admin/courier/messages/{id}"))
        .send(&app.admin)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], id);
    assert_eq!(got.body["status"], "sent");
    assert_eq!(got.body["send_count"], 1);
    assert!(got.body["body"].as_str().unwrap().contains(&code));
    assert!(got.body.get("template_data").is_none());
    let missing = call(
        Method::GET,
        &format!("/admin/courier/messages/{}", Uuid::new_v4()),
    )
    .send(&app.admin)
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let malformed = call(Method::GET, "/admin/courier/messages/not-a-uuid")
        .send(&app.admin)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    // Another tenant sees none of them.
    let other = kratos_axum::admin_router(app.kratos.tenant(Uuid::new_v4()));
    let theirs = call(Method::GET, "/admin/courier/messages")
        .send(&other)
        .await;
    assert!(theirs.body.as_array().unwrap().is_empty());
    let theirs = call(Method::GET, &format!("/admin/courier/messages/{id}"))
        .send(&other)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
}
