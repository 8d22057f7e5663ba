//! HTTP tests of the admin identity API: status codes and bodies for success and failure.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app() -> Router {
    let store = std::sync::Arc::new(kratos_core::store::MemoryStore::new());
    kratos_axum::admin_router(kratos_core::testsuite::kratos(store))
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, header::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Body::from(body.unwrap_or_default().to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, value)
}

fn email() -> String {
    format!("http-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn create_get_update_patch_delete() {
    let app = app();
    let mail = email();
    let body = json!({"schema_id": "default", "traits": {"email": mail}, "external_id": "ext-1",
        "credentials": {"password": {"config": {"password": "a very good password"}}}})
    .to_string();
    let (status, headers, created) =
        call(&app, Method::POST, "/admin/identities", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(headers[header::LOCATION], format!("/admin/identities/{id}"));
    assert_eq!(created["traits"]["email"], json!(mail));
    assert!(created.get("credentials").is_none());
    assert_eq!(created["verifiable_addresses"][0]["status"], "pending");

    let (status, _, got) = call(&app, Method::GET, &format!("/admin/identities/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (_, _, with) = call(
        &app,
        Method::GET,
        &format!("/admin/identities/{id}?include_credential=password"),
        None,
    )
    .await;
    assert!(
        with["credentials"]["password"]["config"]["hashed_password"]
            .as_str()
            .unwrap()
            .starts_with("$2")
    );
    let (status, _, by_ext) = call(
        &app,
        Method::GET,
        "/admin/identities/by/external/ext-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_ext["id"], json!(id));

    let update = json!({"schema_id": "default", "traits": {"email": mail, "name": "Grace"}, "state": "inactive"}).to_string();
    let (status, _, updated) = call(
        &app,
        Method::PUT,
        &format!("/admin/identities/{id}"),
        Some(&update),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["state"], "inactive");
    assert_eq!(updated["traits"]["name"], "Grace");

    let patch = json!([{"op": "replace", "path": "/traits/name", "value": "Ada"}]).to_string();
    let (status, _, patched) = call(
        &app,
        Method::PATCH,
        &format!("/admin/identities/{id}"),
        Some(&patch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["traits"]["name"], "Ada");
    let denied = json!([{"op": "replace", "path": "/id", "value": "x"}]).to_string();
    let (status, _, err) = call(
        &app,
        Method::PATCH,
        &format!("/admin/identities/{id}"),
        Some(&denied),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], 400);

    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{id}/credentials/password"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a code credential remains as a first factor"
    );
    let (status, _, err) = call(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{id}/credentials/bogus"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["details"]["field"], "type");

    let (status, _, body) = call(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _, err) = call(&app, Method::GET, &format!("/admin/identities/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["status"], "Not Found");
    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/identities/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_answers_kratos_errors() {
    let app = app();
    let (status, _, err) = call(&app, Method::POST, "/admin/identities", Some("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["details"]["field"], "body");
    let bad_traits = json!({"traits": {"email": "nope"}}).to_string();
    let (status, _, err) = call(&app, Method::POST, "/admin/identities", Some(&bad_traits)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["details"]["field"], "#/traits/email");
    let unknown = json!({"schema_id": "nope", "traits": {}}).to_string();
    let (status, _, _) = call(&app, Method::POST, "/admin/identities", Some(&unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bad_hash = json!({"traits": {"email": email()}, "credentials": {"password": {"config": {"hashed_password": "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"}}}}).to_string();
    let (status, _, err) = call(&app, Method::POST, "/admin/identities", Some(&bad_hash)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["details"]["field"],
        "credentials.password.config.hashed_password"
    );

    let mail = email();
    let body = json!({"traits": {"email": mail}}).to_string();
    assert_eq!(
        call(&app, Method::POST, "/admin/identities", Some(&body))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, _, err) = call(&app, Method::POST, "/admin/identities", Some(&body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], 409);

    for uri in [
        "/admin/identities/not-a-uuid",
        "/admin/identities?page_size=5000",
        "/admin/identities?page_size=x",
        "/admin/identities?ids=zzz",
        "/admin/identities?page_token=%%%",
    ] {
        let (status, _, err) = call(&app, Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(err["error"]["reason"].is_string());
    }
    let (status, _, err) = call(
        &app,
        Method::GET,
        "/admin/identities/by/external/missing",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["id"], "not_found");
}

#[tokio::test]
async fn list_paginates_with_link_headers_and_batch_creates() {
    let app = app();
    let items: Vec<Value> = (0..5)
        .map(|i| json!({"patch_id": uuid::Uuid::new_v4(), "create": {"traits": {"email": if i == 4 { "bad".to_owned() } else { email() }}}}))
        .collect();
    let (status, _, res) = call(
        &app,
        Method::PATCH,
        "/admin/identities",
        Some(&json!({"identities": items}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let results = res["identities"].as_array().unwrap();
    assert_eq!(
        results.iter().filter(|r| r["action"] == "create").count(),
        4
    );
    assert_eq!(results[4]["action"], "error");
    assert_eq!(results[4]["error"]["code"], 400);

    let (status, headers, page) =
        call(&app, Method::GET, "/admin/identities?page_size=3", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 3);
    let link = headers[header::LINK].to_str().unwrap().to_owned();
    assert!(
        link.contains("rel=\"first\"") && link.contains("rel=\"next\""),
        "{link}"
    );
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .unwrap();
    let next = next
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap();
    let (_, headers, rest) = call(&app, Method::GET, next, None).await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert!(
        !headers[header::LINK]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let first_id = page[0]["id"].as_str().unwrap();
    let (_, _, filtered) = call(
        &app,
        Method::GET,
        &format!("/admin/identities?ids={first_id}"),
        None,
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn health_and_schemas() {
    let app = app();
    let (status, _, body) = call(&app, Method::GET, "/health/alive", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(
        call(&app, Method::GET, "/health/ready", None).await.0,
        StatusCode::OK
    );
    let (_, _, schemas) = call(&app, Method::GET, "/schemas", None).await;
    assert_eq!(schemas[0]["id"], "default");
    let (status, _, schema) = call(&app, Method::GET, "/schemas/ZGVmYXVsdA", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(schema["properties"]["traits"].is_object());
    assert_eq!(
        call(&app, Method::GET, "/schemas/bm9wZQ", None).await.0,
        StatusCode::NOT_FOUND
    );
}
