//! Requests built to exhaust the stack or overflow arithmetic: each answers 4xx on its own
//! (not through the catch-panic net), and the data they aim at is left as it was.

use axum::http::{Method, StatusCode};
use kratos_core::identity::CreateIdentityBody;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::*;

const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  flows:
    registration:
      after:
        password:
          hooks:
            - hook: session
    settings:
      ui_url: https://app.example.com/settings
    verification:
      enabled: true
      ui_url: https://app.example.com/verification
    recovery:
      enabled: true
      ui_url: https://app.example.com/recovery
";

/// A form body whose one key nests `levels` deep: `a.a.a…=1`.
fn deep_form_key(levels: usize) -> String {
    let mut key = "a.".repeat(levels - 1);
    key.push_str("a=1");
    key
}

async fn api_flow(app: &MailApp, kind: &str) -> String {
    let res = call(Method::GET, &format!("/self-service/{kind}/api"))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{kind}: {:?}", res.body);
    res.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn deeply_nested_form_keys_answer_400_on_every_submission() {
    let app = mail_app(CONFIG);
    // A session for the settings flow.
    let mail = email();
    let reg = api_flow(&app, "registration").await;
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={reg}"),
    )
    .json(json!({"method": "password", "traits": {"email": mail},
                     "password": "a very good password 1234"}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let token = res.body["session_token"].as_str().unwrap().to_owned();

    // About 30,000 levels, under the 64 KiB body limit.
    let body = deep_form_key(30_000);
    assert!(body.len() < 64 * 1024);
    for kind in [
        "login",
        "registration",
        "verification",
        "recovery",
        "settings",
    ] {
        let flow = if kind == "settings" {
            let res = call(Method::GET, "/self-service/settings/api")
                .token(&token)
                .send(&app.public)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
            res.body["id"].as_str().unwrap().to_owned()
        } else {
            api_flow(&app, kind).await
        };
        let res = call(Method::POST, &format!("/self-service/{kind}?flow={flow}"))
            .token(&token)
            .raw("application/x-www-form-urlencoded", body.clone())
            .send(&app.public)
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{kind}: {:?}",
            res.body
        );
        assert_eq!(res.error_id(), "bad_request", "{kind}");
        assert_eq!(res.body["error"]["details"]["field"], "body", "{kind}");
    }

    // A JSON body is held to the same depth (the parser's own limit is 128).
    let mut traits = json!("x");
    for _ in 0..100 {
        traits = json!({ "a": traits });
    }
    let flow = api_flow(&app, "registration").await;
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={flow}"),
    )
    .json(json!({"method": "password", "traits": traits, "password": "x"}))
    .send(&app.public)
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["error"]["details"]["field"], "body");

    // 64 levels still decode (and then fail as the flow sees fit, not as a bad body).
    let flow = api_flow(&app, "login").await;
    let res = call(Method::POST, &format!("/self-service/login?flow={flow}"))
        .raw("application/x-www-form-urlencoded", deep_form_key(64))
        .send(&app.public)
        .await;
    assert_ne!(
        res.body["error"]["details"]["field"], "body",
        "{:?}",
        res.body
    );
}

async fn new_identity(app: &MailApp) -> Uuid {
    app.kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": email() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn absurd_durations_answer_400_naming_the_field() {
    let app = mail_app(CONFIG);
    let id = new_identity(&app).await;
    for path in ["/admin/recovery/code", "/admin/recovery/link"] {
        for bad in [
            "99999999999999999999h",
            "2562048h",
            "-1h",
            "1e9h",
            "NaNs",
            "1h\u{0}",
        ] {
            let res = call(Method::POST, path)
                .json(json!({"identity_id": id, "expires_in": bad}))
                .send(&app.admin)
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path} {bad:?}");
            assert_eq!(res.body["error"]["details"]["field"], "expires_in");
        }
    }
    // The longest duration Go can hold still works.
    let res = call(Method::POST, "/admin/recovery/code")
        .json(json!({"identity_id": id, "expires_in": "2562047h"}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
}

/// `{"a": {"a": … 1}}`, `levels` deep.
fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 1..levels {
        v = json!({ "a": v });
    }
    v
}

#[tokio::test]
async fn json_patches_cannot_nest_an_identity_without_bound() {
    let app = mail_app(CONFIG);
    let id = new_identity(&app).await;
    // Each operation adds 100 levels under the previous one: 100 of them would build a
    // document 10,000 levels deep, which a recursive clone, serialiser or drop could not
    // survive.
    let mut ops = vec![json!({"op": "add", "path": "/metadata_public", "value": nested(100)})];
    let mut path = "/metadata_public".to_owned();
    for _ in 0..100 {
        // The leaf of the previous value sits 99 keys below its root: replace it.
        path.push_str(&"/a".repeat(99));
        ops.push(json!({"op": "add", "path": path, "value": nested(100)}));
    }
    let res = call(Method::PATCH, &format!("/admin/identities/{id}"))
        .json(Value::Array(ops))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["error"]["details"]["field"], "patch");
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("deeper than 64 levels"),
        "{:?}",
        res.body
    );
    let stored = app.kratos.identities().get(id).await.unwrap();
    assert!(stored.metadata_public.is_none());

    // Deep documents are refused on create and update too.
    let res = call(Method::POST, "/admin/identities")
        .json(json!({"schema_id": "default", "traits": {"email": email()},
                     "metadata_admin": nested(100)}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    let res = call(Method::PUT, &format!("/admin/identities/{id}"))
        .json(json!({"schema_id": "default", "state": "active",
                     "traits": {"email": email()}, "metadata_public": nested(100)}))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    // Each `copy` of the traits into themselves doubles them: 40 would ask for 2^40 copies.
    let doubling: Vec<Value> = (0..40)
        .map(|i| json!({"op": "copy", "from": "/traits", "path": format!("/traits/x{i}")}))
        .collect();
    let res = call(Method::PATCH, &format!("/admin/identities/{id}"))
        .json(Value::Array(doubling))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["error"]["details"]["field"], "patch");
    assert!(
        res.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("grows the identity"),
        "{:?}",
        res.body
    );
    // Too many operations are refused before any is applied.
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "test", "path": "/schema_id", "value": "default"}))
        .collect();
    let res = call(Method::PATCH, &format!("/admin/identities/{id}"))
        .json(Value::Array(many))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert!(app.kratos.identities().get(id).await.unwrap().traits["x0"].is_null());
    // 60 levels are fine.
    let res = call(Method::PATCH, &format!("/admin/identities/{id}"))
        .json(json!([{"op": "add", "path": "/metadata_public", "value": nested(60)}]))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[tokio::test]
async fn too_many_ids_in_an_identity_list_answer_400() {
    let app = mail_app(CONFIG);
    let ids: Vec<String> = (0..501)
        .map(|_| format!("ids={}", Uuid::new_v4()))
        .collect();
    let res = call(Method::GET, &format!("/admin/identities?{}", ids.join("&")))
        .send(&app.admin)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{:?}", res.body);
    assert_eq!(res.body["error"]["details"]["field"], "ids");
    let res = call(
        Method::GET,
        &format!("/admin/identities?{}", ids[..500].join("&")),
    )
    .send(&app.admin)
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}
