//! HTTP tests of recovery "v2" (`feature_flags.choose_recovery_address`): the address, the
//! choice among the account's masked addresses, the code by SMS or email, going back, as a
//! JSON client of an api flow and as a browser posting forms.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use kratos_core::courier::{MemoryOutbox, MessageQuery, MessageType};
use kratos_core::identity::{CreateIdentityBody, IdentitySchema};
use kratos_core::{Config, Kratos};
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::*;

const RECOVERY_UI: &str = "https://app.example.com/recovery";
const SETTINGS_UI: &str = "https://app.example.com/settings";

const CONFIG: &str = "secrets:
  default: [\"recovery-v2-http-secret-0123456789\"]
hashers:
  algorithm: bcrypt
  bcrypt:
    cost: 4
serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  flows:
    settings:
      ui_url: https://app.example.com/settings
    recovery:
      enabled: true
      ui_url: https://app.example.com/recovery
feature_flags:
  choose_recovery_address: true
";

struct App {
    kratos: Kratos,
    public: Router,
}

/// An app whose identities have an email address and a phone number, both recovery
/// addresses (the phone number `via: sms`).
fn app() -> App {
    let schema = IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}},
                                      "recovery": {"via": "email"}}},
                "phone": {"type": "string", "format": "tel",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}},
                                      "recovery": {"via": "sms"}}}
            }, "additionalProperties": false}}
        }),
    )
    .unwrap();
    let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(
        Config::from_yaml_str(CONFIG).unwrap(),
    ))
    .store(Arc::new(kratos_core::store::MemoryStore::new()))
    .schema(schema)
    .courier_channel(Arc::new(MemoryOutbox::new()))
    .build()
    .unwrap();
    App {
        public: kratos_axum::public_router(kratos.clone()),
        kratos,
    }
}

impl App {
    /// An identity with an email address and a phone number.
    async fn identity(&self) -> (Uuid, String, String) {
        let mail = email();
        let n = u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
        let phone = format!("+4917{:09}", n % 1_000_000_000);
        let id = self
            .kratos
            .identities()
            .create(CreateIdentityBody {
                traits: json!({"email": mail, "phone": phone}),
                ..Default::default()
            })
            .await
            .unwrap()
            .id;
        (id, mail, phone)
    }

    /// The code in the newest message queued to `to`, which must be of `kind`.
    async fn code(&self, to: &str, kind: MessageType) -> String {
        let m = self
            .kratos
            .courier()
            .list(&MessageQuery {
                recipient: Some(to.to_owned()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("a message was queued");
        assert_eq!(m.message_type, kind);
        m.body
            .split_whitespace()
            .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
            .expect("the message carries a code")
            .to_owned()
    }
}

/// `(name, type)` of every input node.
fn inputs(flow: &Value) -> Vec<(String, String)> {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["attributes"]["name"].as_str().unwrap().to_owned(),
                n["attributes"]["type"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(name, _)| name != "csrf_token")
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The value of the `recovery_select_address` button labelled `masked`.
fn choice(flow: &Value, masked: &str) -> String {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["attributes"]["name"] == "recovery_select_address"
                && n["meta"]["label"]["text"] == masked
        })
        .unwrap_or_else(|| panic!("a choice labelled {masked}: {flow}"))["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn mask_phone(phone: &str) -> String {
    format!("{}****{}", &phone[..3], &phone[phone.len() - 2..])
}

fn mask_email(mail: &str) -> String {
    let (local, domain) = mail.split_once('@').unwrap();
    format!("{}****@{domain}", &local[..2])
}

#[tokio::test]
async fn recovery_v2_api_flow_as_a_json_client() {
    let app = app();
    let (id, mail, phone) = app.identity().await;

    let init = call(Method::GET, "/self-service/recovery/api")
        .send(&app.public)
        .await;
    assert_eq!(init.status, StatusCode::OK, "{:?}", init.body);
    assert_eq!(init.body["state"], "recovery_awaiting_address");
    assert_eq!(init.body["active"], "code");
    assert_eq!(
        inputs(&init.body),
        pairs(&[("recovery_address", "text"), ("method", "submit")])
    );
    let flow = init.body["id"].as_str().unwrap().to_owned();
    let submit = format!("/self-service/recovery?flow={flow}");

    // No address: 400, the message on its field.
    let missing = call(Method::POST, &submit)
        .json(json!({"method": "code"}))
        .send(&app.public)
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        missing.body
    );
    assert_eq!(
        missing.body["ui"]["nodes"][0]["messages"][0]["text"],
        "Property recovery_address is missing."
    );

    // The phone number: the account has two addresses, so a choice, masked.
    let chooser = call(Method::POST, &submit)
        .json(json!({"method": "code", "recovery_address": phone}))
        .send(&app.public)
        .await;
    assert_eq!(chooser.status, StatusCode::OK, "{:?}", chooser.body);
    assert_eq!(chooser.body["state"], "recovery_awaiting_address_choice");
    assert_eq!(chooser.message_ids(), vec![1060006]);
    assert_eq!(
        inputs(&chooser.body),
        pairs(&[
            ("recovery_select_address", "submit"),
            ("recovery_select_address", "submit"),
            ("method", "hidden"),
            ("recovery_address", "hidden"),
        ])
    );
    assert!(!chooser.body["ui"].to_string().contains(&mail));

    // A choice that is not one of the addresses: 400 with Kratos's message.
    let bad = call(Method::POST, &submit)
        .json(json!({"recovery_address": phone, "recovery_select_address": "bm9uZQ=="}))
        .send(&app.public)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    assert_eq!(bad.body["ui"]["messages"][0]["id"], 4000001);
    assert_eq!(
        bad.body["ui"]["messages"][0]["text"],
        "The selected recovery address is not valid."
    );

    // The email address, which was not given: it must be typed in full.
    let confirm = call(Method::POST, &submit)
        .json(json!({
            "recovery_address": phone,
            "recovery_select_address": choice(&chooser.body, &mask_email(&mail)),
        }))
        .send(&app.public)
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{:?}", confirm.body);
    assert_eq!(confirm.body["state"], "recovery_confirming_address");
    assert_eq!(confirm.message_ids(), vec![1060005]);
    assert_eq!(
        inputs(&confirm.body),
        pairs(&[
            ("recovery_confirm_address", "email"),
            ("recovery_address", "hidden"),
            ("method", "submit"),
            ("method", "hidden"),
            ("screen", "submit"),
        ])
    );

    // Back to the choice, then the phone number (the address given: no typing again).
    let back = call(Method::POST, &submit)
        .json(json!({"recovery_address": phone, "screen": "previous"}))
        .send(&app.public)
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(back.body["state"], "recovery_awaiting_address_choice");
    let sent = call(Method::POST, &submit)
        .json(json!({
            "recovery_address": phone,
            "recovery_select_address": choice(&back.body, &mask_phone(&phone)),
        }))
        .send(&app.public)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["state"], "recovery_awaiting_code");
    assert_eq!(
        sent.body["ui"]["messages"][0]["context"],
        json!({"masked_address": mask_phone(&phone)})
    );
    let code = app.code(&phone, MessageType::Sms).await;

    let wrong = call(Method::POST, &submit)
        .json(json!({"code": other_code(&code)}))
        .send(&app.public)
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(wrong.message_ids(), vec![4060006]);

    let done = call(Method::POST, &submit)
        .json(json!({"code": code, "method": "code"}))
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["state"], "passed_challenge");
    assert_eq!(done.message_ids(), vec![1060001]);
    let cw = done.body["continue_with"].as_array().unwrap();
    assert_eq!(cw[0]["action"], "set_ory_session_token");
    assert_eq!(cw[1]["action"], "show_settings_ui");
    let token = cw[0]["ory_session_token"].as_str().unwrap();
    let whoami = call(Method::GET, "/sessions/whoami")
        .header("x-session-token", token)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK, "{:?}", whoami.body);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
    assert_eq!(
        whoami.body["authentication_methods"][0]["method"],
        "code_recovery"
    );
}

#[tokio::test]
async fn recovery_v2_browser_flow_by_form_posts() {
    let app = app();
    let (id, mail, phone) = app.identity().await;
    let mut jar = Jar::default();
    let init = call(Method::GET, "/self-service/recovery/browser")
        .html_accept()
        .send(&app.public)
        .await;
    assert_eq!(init.status, StatusCode::SEE_OTHER);
    jar.absorb(&init);
    let flow = query_param(init.location(), "flow").unwrap();
    let submit = format!("/self-service/recovery?flow={flow}");
    let fetch = format!("/self-service/recovery/flows?id={flow}");
    let shown = |jar: &Jar| {
        let (jar, fetch) = (jar.clone(), fetch.clone());
        let public = app.public.clone();
        async move { call(Method::GET, &fetch).jar(&jar).send(&public).await }
    };
    let first = shown(&jar).await;
    assert_eq!(first.body["state"], "recovery_awaiting_address");
    let csrf = csrf_of(&first.body);

    // Every step answers 303 back to the UI, which shows the flow's next step.
    let post = |fields: Vec<(&'static str, String)>| {
        let (jar, submit, csrf) = (jar.clone(), submit.clone(), csrf.clone());
        let public = app.public.clone();
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            let res = call(Method::POST, &submit)
                .html_accept()
                .jar(&jar)
                .form(&form)
                .send(&public)
                .await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
            res
        }
    };
    let res = post(vec![
        ("recovery_address", mail.clone()),
        ("method", "code".into()),
    ])
    .await;
    assert_eq!(res.location(), format!("{RECOVERY_UI}?flow={flow}"));
    let chooser = shown(&jar).await;
    assert_eq!(chooser.body["state"], "recovery_awaiting_address_choice");

    // The given address: straight to the code, by email. The form posts its hidden fields.
    post(vec![
        (
            "recovery_select_address",
            choice(&chooser.body, &mask_email(&mail)),
        ),
        ("method", "code".into()),
        ("recovery_address", mail.clone()),
    ])
    .await;
    let sent = shown(&jar).await;
    assert_eq!(
        sent.body["state"], "recovery_awaiting_code",
        "{:?}",
        sent.body
    );
    assert_eq!(sent.message_ids(), vec![1060004]);
    let email_code = app.code(&mail, MessageType::Email).await;

    // Back (the form's hidden fields and the back button) to the choice, then the phone
    // number, typed in full.
    post(vec![
        ("method", "code".into()),
        ("recovery_address", mail.clone()),
        ("screen", "previous".into()),
    ])
    .await;
    let chooser = shown(&jar).await;
    assert_eq!(chooser.body["state"], "recovery_awaiting_address_choice");
    post(vec![
        (
            "recovery_select_address",
            choice(&chooser.body, &mask_phone(&phone)),
        ),
        ("method", "code".into()),
        ("recovery_address", mail.clone()),
    ])
    .await;
    let confirm = shown(&jar).await;
    assert_eq!(confirm.body["state"], "recovery_confirming_address");
    post(vec![
        ("recovery_confirm_address", phone.clone()),
        ("recovery_address", mail.clone()),
        ("method", "code".into()),
    ])
    .await;
    let sent = shown(&jar).await;
    assert_eq!(sent.body["state"], "recovery_awaiting_code");
    assert_eq!(
        sent.body["ui"]["messages"][0]["context"]["masked_address"],
        mask_phone(&phone)
    );
    let sms_code = app.code(&phone, MessageType::Sms).await;

    // The email's code is for an address the flow moved away from.
    post(vec![
        ("code", email_code.clone()),
        ("method", "code".into()),
        ("recovery_address", mail.clone()),
    ])
    .await;
    assert_eq!(shown(&jar).await.message_ids(), vec![4060006]);

    // A post without the CSRF token is refused.
    let forged = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[("code", &sms_code), ("method", "code")])
        .send(&app.public)
        .await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER, "{:?}", forged.body);

    let done = call(Method::POST, &submit)
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("code", &sms_code),
            ("method", "code"),
            ("recovery_address", &mail),
        ])
        .send(&app.public)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
    assert!(
        done.location().starts_with(&format!("{SETTINGS_UI}?flow=")),
        "{}",
        done.location()
    );
    jar.absorb(&done);
    assert!(jar.has("ory_kratos_session"), "{:?}", done.set_cookies());
    let whoami = call(Method::GET, "/sessions/whoami")
        .jar(&jar)
        .send(&app.public)
        .await;
    assert_eq!(whoami.status, StatusCode::OK, "{:?}", whoami.body);
    assert_eq!(whoami.body["identity"]["id"], id.to_string());
}

#[tokio::test]
async fn recovery_v2_unknown_address_over_http_gets_the_same_answer() {
    let app = app();
    let (_, mail, _) = app.identity().await;
    let mut answers = Vec::new();
    for address in [mail.clone(), email(), "+4915550000000".to_owned()] {
        let init = call(Method::GET, "/self-service/recovery/api")
            .send(&app.public)
            .await;
        let flow = init.body["id"].as_str().unwrap().to_owned();
        // A single address, known or not, gets the code screen at once.
        let res = call(Method::POST, &format!("/self-service/recovery?flow={flow}"))
            .json(json!({"recovery_address": address}))
            .send(&app.public)
            .await;
        answers.push((res.status, res.body["state"].clone(), inputs(&res.body)));
    }
    // The known address has two recovery addresses (a choice); the unknown ones answer
    // as an account's only address does.
    assert_eq!(answers[0].1, "recovery_awaiting_address_choice");
    assert_eq!(answers[1], answers[2]);
    assert_eq!(answers[1].0, StatusCode::OK);
    assert_eq!(answers[1].1, "recovery_awaiting_code");
    let queued = app
        .kratos
        .courier()
        .list(&MessageQuery::default())
        .await
        .unwrap();
    assert!(queued.is_empty(), "nothing is sent: {queued:?}");
}
