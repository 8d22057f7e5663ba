//! The session extractors and the `require_session` middleware on an app's own routes, with
//! the `Kratos` handle inside the app's state.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use kratos_axum::{OptionalSession, RequireAal2, Session};
use kratos_core::Kratos;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::identity::{
    CreateIdentityBody, ImportCredentials, ImportPassword, ImportPasswordConfig,
};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Clone)]
struct AppState {
    kratos: Kratos,
    name: &'static str,
}

impl FromRef<AppState> for Kratos {
    fn from_ref(state: &AppState) -> Kratos {
        state.kratos.clone()
    }
}

impl FromRef<AppState> for &'static str {
    fn from_ref(state: &AppState) -> &'static str {
        state.name
    }
}

fn app(kratos: Kratos) -> Router {
    let state = AppState {
        kratos: kratos.clone(),
        name: "demo",
    };
    let protected = Router::new()
        .route("/dashboard", get(|| async { "dashboard" }))
        .route(
            "/dashboard/me",
            get(|Session(s): Session| async move { s.id.to_string() }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            kratos,
            kratos_axum::require_session,
        ));
    Router::new()
        .route(
            "/me",
            get(|Session(s): Session| async move { s.identity.unwrap().id.to_string() }),
        )
        .route(
            "/maybe",
            get(|s: Option<Session>| async move { if s.is_some() { "someone" } else { "nobody" } }),
        )
        .route(
            "/optional",
            get(
                |OptionalSession(s): OptionalSession,
                 axum::extract::State(name): axum::extract::State<&'static str>| async move {
                    format!("{name}:{}", s.is_some())
                },
            ),
        )
        .route(
            "/aal2",
            get(|RequireAal2(_s): RequireAal2| async { "aal2" }),
        )
        .merge(protected)
        .with_state(state)
}

async fn get_with(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder().uri(uri);
    if let Some(t) = token {
        req = req.header("x-session-token", t);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

async fn session_token(k: &Kratos) -> String {
    let mail = format!("ext-{}@example.com", uuid::Uuid::new_v4().simple());
    k.identities()
        .create(CreateIdentityBody {
            traits: json!({ "email": mail }),
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        password: Some("a very good password 1234".into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let done = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "a very good password 1234"}),
            &ctx,
        )
        .await
        .unwrap();
    match done {
        LoginSubmission::Completed(s) => s.session_token.unwrap().expose().to_owned(),
        LoginSubmission::Retry(_) => panic!("login failed"),
    }
}

#[tokio::test]
async fn extractors_and_middleware() {
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos(store);
    let app = app(kratos.clone());
    let token = session_token(&kratos).await;

    let (status, body) = get_with(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["id"], "session_inactive");
    let (status, _) = get_with(&app, "/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(get_with(&app, "/maybe", None).await.1, "nobody");
    assert_eq!(
        get_with(&app, "/maybe", Some("ory_st_nope")).await.1,
        "nobody"
    );
    assert_eq!(get_with(&app, "/maybe", Some(&token)).await.1, "someone");
    assert_eq!(get_with(&app, "/optional", None).await.1, "demo:false");
    assert_eq!(
        get_with(&app, "/optional", Some(&token)).await.1,
        "demo:true"
    );

    let (status, body) = get_with(&app, "/aal2", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["id"], "session_aal2_required");
    assert!(
        body["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("aal=aal2")
    );
    let (status, _) = get_with(&app, "/aal2", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = get_with(&app, "/dashboard", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["id"], "session_inactive");
    let (status, body) = get_with(&app, "/dashboard", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "dashboard");
    let (status, _) = get_with(&app, "/dashboard/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn require_aal2_sends_browsers_to_the_step_up_login() {
    let store = Arc::new(kratos_core::store::MemoryStore::new());
    let kratos = kratos_core::testsuite::kratos(store);
    let app = app(kratos.clone());
    let token = session_token(&kratos).await;
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/aal2")
                .header("x-session-token", &token)
                .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.ends_with("/self-service/login/browser?aal=aal2"),
        "{location}"
    );
    // A JSON client still gets the error with the URL.
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/aal2")
                .header("x-session-token", &token)
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
