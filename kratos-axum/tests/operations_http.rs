//! The operations endpoints: health, readiness (with a store that stops answering), version,
//! the self-service errors of the error UI and the redirect that stores them, and
//! `/.well-known/change-password`.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use common::{Jar, Res, call, csrf_of, mail_app, query_param};
use kratos_core::store::Persister;
use serde_json::Value;

const UIS: &str = "selfservice:\n  flows:\n    error:\n      ui_url: http://ui.test/error\n    settings:\n      ui_url: http://ui.test/settings\n";

async fn get(app: &Router, uri: &str) -> Res {
    call(Method::GET, uri).send(app).await
}

/// A SQLite store whose connection pool has been closed: every statement, the ping included,
/// fails.
async fn closed_store() -> kratos_store_sqlite::SqlStore {
    let store = kratos_store_sqlite::in_memory()
        .await
        .expect("sqlite opens");
    store.migrate().await.expect("migrations apply");
    store
        .connection()
        .close_by_ref()
        .await
        .expect("the pool closes");
    store
}

#[tokio::test]
async fn health_and_version_answer_on_the_public_and_admin_routers() {
    let app = mail_app("");
    let version = Value::String(env!("CARGO_PKG_VERSION").to_owned());
    for (router, prefix) in [(&app.public, ""), (&app.admin, ""), (&app.admin, "/admin")] {
        let alive = get(router, &format!("{prefix}/health/alive")).await;
        assert_eq!(alive.status, StatusCode::OK, "{prefix}");
        assert_eq!(alive.body["status"], "ok");
        let ready = get(router, &format!("{prefix}/health/ready")).await;
        assert_eq!(ready.status, StatusCode::OK, "{prefix}: {:?}", ready.body);
        assert_eq!(ready.body["status"], "ok");
        let v = get(router, &format!("{prefix}/version")).await;
        assert_eq!(v.status, StatusCode::OK);
        assert_eq!(v.body["version"], version);
    }
    assert_eq!(
        get(&app.public, "/admin/version").await.status,
        StatusCode::NOT_FOUND,
        "the admin paths are the admin router's"
    );
}

#[tokio::test]
async fn readiness_fails_with_503_when_the_store_does_not_answer() {
    let store: Arc<dyn Persister> = Arc::new(closed_store().await);
    let (kratos, _, _) = kratos_core::testsuite::kratos_with_outbox(store, "");
    let public = kratos_axum::public_router(kratos.clone());
    let admin = kratos_axum::admin_router(kratos);

    let ready = get(&public, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let text = ready.body["errors"]["database"]
        .as_str()
        .expect("the check");
    assert!(
        text.contains("admin API only"),
        "the public router withholds the error: {text}"
    );
    assert_eq!(ready.body["errors"].as_object().unwrap().len(), 1);

    for path in ["/health/ready", "/admin/health/ready"] {
        let ready = get(&admin, path).await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        let text = ready.body["errors"]["database"]
            .as_str()
            .expect("the check");
        assert!(
            !text.is_empty() && !text.contains("admin API only"),
            "the admin router names the failure: {text}"
        );
        assert!(!text.contains("sqlite:"), "no connection string: {text}");
    }
    // Alive says only that the process serves.
    assert_eq!(get(&public, "/health/alive").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_browser_is_sent_to_the_error_ui_and_the_error_is_read_back() {
    let app = mail_app(UIS);
    // A submission to a flow that does not exist, from an HTML form.
    let unknown = uuid::Uuid::new_v4();
    let res = call(Method::POST, &format!("/self-service/login?flow={unknown}"))
        .html_accept()
        .form(&[("method", "password"), ("identifier", "a@example.com")])
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{:?}", res.body);
    assert!(res.location().starts_with("http://ui.test/error?id="));
    let id = query_param(res.location(), "id").expect("an error id");

    for (router, path) in [
        (&app.public, "/self-service/errors"),
        (&app.admin, "/self-service/errors"),
        (&app.admin, "/admin/self-service/errors"),
    ] {
        let read = get(router, &format!("{path}?id={id}")).await;
        assert_eq!(read.status, StatusCode::OK, "{path}");
        assert_eq!(read.body["id"], Value::String(id.clone()));
        assert_eq!(read.body["error"]["id"], "not_found");
        assert_eq!(read.body["error"]["code"], 404);
        assert!(read.body["created_at"].is_string() && read.body["updated_at"].is_string());
        assert_eq!(
            read.body.as_object().unwrap().len(),
            4,
            "Kratos's flowError"
        );
    }
    // `?error=` is read too, as Kratos does.
    let read = get(&app.public, &format!("/self-service/errors?error={id}")).await;
    assert_eq!(read.status, StatusCode::OK);

    // A CSRF violation on a browser flow goes there as well.
    let mut jar = Jar::default();
    let flow = call(Method::GET, "/self-service/login/browser")
        .json_accept()
        .send(&app.public)
        .await;
    assert_eq!(flow.status, StatusCode::OK);
    jar.absorb(&flow);
    let flow_id = flow.body["id"].as_str().unwrap().to_owned();
    let csrf = csrf_of(&flow.body);
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .html_accept()
        .form(&[
            ("method", "password"),
            ("csrf_token", &csrf),
            ("identifier", "a@example.com"),
            ("password", "not-the-password-123"),
        ])
        .send(&app.public)
        .await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "no cookie: {:?}",
        res.body
    );
    let id = query_param(res.location(), "id").expect("an error id");
    let read = get(&app.public, &format!("/self-service/errors?id={id}")).await;
    assert_eq!(read.body["error"]["id"], "security_csrf_violation");
    assert_eq!(read.body["error"]["code"], 403);

    // A validation error stays on the form: the browser goes back to the flow, not to the
    // error UI.
    let res = call(Method::POST, &format!("/self-service/login?flow={flow_id}"))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("method", "password"),
            ("csrf_token", &csrf),
            ("identifier", "nobody@example.com"),
            ("password", "not-the-password-123"),
        ])
        .send(&app.public)
        .await;
    assert!(
        !res.location().starts_with("http://ui.test/error"),
        "{} {:?}",
        res.location(),
        res.body
    );
}

#[tokio::test]
async fn json_clients_and_apps_without_an_error_ui_get_the_json_error() {
    let unknown = uuid::Uuid::new_v4();
    let uri = format!("/self-service/login?flow={unknown}");
    let app = mail_app(UIS);
    let res = call(Method::POST, &uri)
        .json_accept()
        .json(serde_json::json!({"method": "password"}))
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_id(), "not_found");
    assert_eq!(res.location(), "");

    // An HTML form answered JSON when no error UI is configured (today's answer; Kratos
    // would send the browser to its hosted fallback page).
    let bare = mail_app("");
    let res = call(Method::POST, &uri)
        .html_accept()
        .form(&[("method", "password")])
        .send(&bare.public)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_id(), "not_found");
}

#[tokio::test]
async fn unknown_error_ids_answer_404_and_the_stub_answers_500() {
    let app = mail_app(UIS);
    for query in [
        format!("?id={}", uuid::Uuid::new_v4()),
        "?id=not-a-uuid".to_owned(),
        String::new(),
    ] {
        let res = get(&app.public, &format!("/self-service/errors{query}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{query}");
        assert_eq!(res.error_id(), "not_found");
    }
    // Another tenant's error is unknown here.
    let stored = app
        .kratos
        .tenant(uuid::Uuid::new_v4())
        .self_service_errors()
        .create(&kratos_core::error::GenericError {
            id: "not_found".into(),
            code: 404,
            status: "Not Found".into(),
            reason: "r".into(),
            message: "m".into(),
            details: serde_json::json!({}),
        })
        .await
        .unwrap();
    let res = get(
        &app.public,
        &format!("/self-service/errors?id={}", stored.id),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let stub = get(&app.public, "/self-service/errors?id=stub:500").await;
    assert_eq!(stub.status, StatusCode::OK);
    assert_eq!(stub.body["error"]["code"], 500);
    assert!(stub.body["id"].is_string());
}

#[tokio::test]
async fn change_password_sends_the_browser_to_the_settings_ui() {
    let app = mail_app(UIS);
    let res = get(&app.public, "/.well-known/change-password").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "http://ui.test/settings");

    let bare = mail_app("serve:\n  public:\n    base_url: https://auth.example.com/\n");
    let res = get(&bare.public, "/.well-known/change-password").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.location(),
        "https://auth.example.com/self-service/settings/browser"
    );
}

#[tokio::test]
async fn keto_routers_serve_health_and_version_when_asked() {
    use keto_core::{Config, Keto, MemoryStore, Schema};
    let schema = || Schema::from_opl("class User implements Namespace {}").unwrap();
    let keto = Keto::new(schema(), Arc::new(MemoryStore::new()), Config::default()).unwrap();
    let tenant = keto.tenant(uuid::Uuid::new_v4());
    let options = kratos_axum::KetoOptions::default().operations(true);
    for router in [
        kratos_axum::keto_read_router_with(tenant.clone(), options.clone()),
        kratos_axum::keto_write_router_with(tenant.clone(), options.clone()),
        kratos_axum::keto_router_with(tenant.clone(), options.clone()),
    ] {
        assert_eq!(get(&router, "/health/alive").await.status, StatusCode::OK);
        let ready = get(&router, "/health/ready").await;
        assert_eq!(ready.status, StatusCode::OK);
        assert_eq!(ready.body["status"], "ok");
        let v = get(&router, "/version").await;
        assert_eq!(v.body["version"], env!("CARGO_PKG_VERSION"));
    }
    // Off by default: the Keto routers merge with the Kratos routers.
    let plain = kratos_axum::keto_router(tenant);
    assert_eq!(get(&plain, "/version").await.status, StatusCode::NOT_FOUND);

    // A tuple store that does not answer.
    let closed = Keto::new(schema(), Arc::new(closed_store().await), Config::default()).unwrap();
    let router = kratos_axum::keto_read_router_with(closed.tenant(uuid::Uuid::new_v4()), options);
    let ready = get(&router, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.body["errors"]["database"].is_string());
}

const CORS: &str = "serve:\n  public:\n    cors:\n      enabled: true\n      allowed_origins: [\"https://app.example.com\", \"https://*.example.org\"]\n      max_age: 600\n";

async fn preflight(app: &Router, origin: &str) -> Res {
    call(Method::OPTIONS, "/sessions/whoami")
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-session-token")
        .send(app)
        .await
}

fn header<'a>(res: &'a Res, name: &str) -> &'a str {
    res.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn cors_answers_allowed_origins_and_refuses_others() {
    let app = mail_app(CORS);
    for origin in ["https://app.example.com", "https://a.b.example.org"] {
        let res = preflight(&app.public, origin).await;
        assert!(res.status.is_success(), "{origin}: {}", res.status);
        assert_eq!(header(&res, "access-control-allow-origin"), origin);
        assert_eq!(header(&res, "access-control-allow-credentials"), "true");
        assert!(header(&res, "access-control-allow-methods").contains("GET"));
        assert!(
            header(&res, "access-control-allow-headers")
                .to_ascii_lowercase()
                .contains("x-session-token")
        );
        assert_eq!(header(&res, "access-control-max-age"), "600");
    }
    for origin in [
        "https://evil.example",
        "http://app.example.com",
        "https://example.org",
    ] {
        let res = preflight(&app.public, origin).await;
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            "",
            "{origin} is not allowed"
        );
    }
    // A request (not a preflight) from an allowed origin is answered with CORS headers.
    let res = call(Method::GET, "/health/alive")
        .header("origin", "https://app.example.com")
        .send(&app.public)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        "https://app.example.com"
    );
    assert!(
        header(&res, "access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("content-type")
    );
    // The admin router has no CORS.
    let res = preflight(&app.admin, "https://app.example.com").await;
    assert_eq!(header(&res, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = mail_app("");
    let res = preflight(&app.public, "https://app.example.com").await;
    assert_eq!(header(&res, "access-control-allow-origin"), "");
    let res = call(Method::GET, "/health/alive")
        .header("origin", "https://app.example.com")
        .send(&app.public)
        .await;
    assert_eq!(header(&res, "access-control-allow-origin"), "");
}
