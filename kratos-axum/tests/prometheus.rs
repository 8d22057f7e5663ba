//! `GET /metrics/prometheus` on the admin router: the Prometheus text exposition of what the
//! libraries emit, here after a login through the public router.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use kratos_axum::{AdminOptions, PROMETHEUS_PATH};
use kratos_core::identity::CreateIdentityBody;
use serde_json::json;

mod common;
use common::*;

const PASSWORD: &str = "a very good password 1234";

/// The value of the sample `name{labels}` in an exposition, when it is there.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn the_admin_router_serves_prometheus_metrics_after_a_login() {
    let handle = kratos_axum::install_prometheus_recorder().expect("the recorder installs");
    // Installing again answers the same recorder.
    let again = kratos_axum::install_prometheus_recorder().expect("a second call answers it");
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos(store);
    let public = kratos_axum::public_router(kratos.clone());
    let admin = kratos_axum::admin_router_with(
        kratos.clone(),
        AdminOptions {
            prometheus: Some(handle),
        },
    );
    // Without a handle, the admin router has no such route.
    let plain = kratos_axum::admin_router(kratos.clone());
    let res = call(Method::GET, PROMETHEUS_PATH).send(&plain).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let mail = email();
    kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": mail }),
            credentials: Some(kratos_core::identity::ImportCredentials {
                password: Some(kratos_core::identity::ImportPassword {
                    config: kratos_core::identity::ImportPasswordConfig {
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("identity");
    for (password, status) in [
        (PASSWORD, StatusCode::OK),
        ("not the password", StatusCode::BAD_REQUEST),
    ] {
        let flow = call(Method::GET, "/self-service/login/api")
            .send(&public)
            .await;
        let id = flow.body["id"].as_str().unwrap().to_owned();
        let res = call(Method::POST, &format!("/self-service/login?flow={id}"))
            .json(json!({"method": "password", "identifier": mail, "password": password}))
            .send(&public)
            .await;
        assert_eq!(res.status, status, "{:?}", res.body);
    }

    let res = call(Method::GET, PROMETHEUS_PATH).send(&admin).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.body.as_str().expect("a text body");
    assert!(text.contains("# TYPE kratos_login_total counter"), "{text}");
    assert!(text.contains("# HELP kratos_login_total"), "{text}");
    let success = ["method=\"password\"", "result=\"success\""];
    let failure = ["method=\"password\"", "result=\"failure\""];
    assert!(
        sample(text, "kratos_login_total", &success).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(text, "kratos_login_total", &failure).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Store latency is a histogram with buckets.
    assert!(
        text.contains("# TYPE kratos_store_call_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        sample(
            text,
            "kratos_store_call_duration_seconds_bucket",
            &["operation=\"password_login_reads\"", "le=\"+Inf\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Nothing of the identifier or password is exposed.
    assert!(!text.contains(&mail) && !text.contains(PASSWORD));
    // The same handle renders the same recorder.
    assert!(again.render().contains("kratos_login_total"));
}
