//! The `require_permission` middleware: a keto-core check on the object a route names, for the
//! request's identity.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use keto_core::{Keto, RelationTuple, Schema, Subject, Tenant};
use kratos_axum::{Permission, PermissionGuard, Session, require_permission};
use kratos_core::Kratos;
use kratos_core::session::ClientInfo;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;

const OPL: &str = r#"
class User implements Namespace {}
class App implements Namespace {
  related: { admins: User[] }
}
class Document implements Namespace {
  related: {
    owners: User[]
    viewers: User[]
  }
  permits = {
    view: (ctx: Context): boolean =>
      this.related.viewers.includes(ctx.subject) || this.related.owners.includes(ctx.subject),
    edit: (ctx: Context): boolean => this.related.owners.includes(ctx.subject),
  }
}
"#;

fn keto() -> Tenant {
    Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(keto_core::MemoryStore::new()),
        keto_core::Config::default(),
    )
    .unwrap()
    .tenant(Uuid::new_v4())
}

fn guard(kratos: &Kratos, permission: Permission) -> PermissionGuard {
    PermissionGuard::new(kratos.clone(), permission)
}

fn app(kratos: &Kratos, keto: &Tenant) -> Router {
    let view = Permission::new(keto.clone(), "Document", "view").subject_namespace("User");
    let edit = Permission::new(keto.clone(), "Document", "edit")
        .object_from_path("doc")
        .subject_namespace("User");
    let admin = Permission::new(keto.clone(), "App", "admins")
        .object("console")
        .subject_namespace("User");
    Router::new()
        .route(
            "/documents/{id}",
            get(|Session(s): Session| async move { format!("read by {}", s.identity_id) }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            guard(kratos, view),
            require_permission,
        ))
        .merge(
            Router::new()
                .route("/documents/{doc}/edit", get(|| async { "editor" }))
                .route_layer(axum::middleware::from_fn_with_state(
                    guard(kratos, edit),
                    require_permission,
                )),
        )
        .merge(
            Router::new()
                .route("/console", get(|| async { "console" }))
                .route_layer(axum::middleware::from_fn_with_state(
                    guard(kratos, admin),
                    require_permission,
                )),
        )
        .with_state(kratos.clone())
}

/// GET `uri`, with a session token or without: the status and the body.
async fn call(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let req = common::call(Method::GET, uri);
    let res = match token {
        Some(t) => req.token(t),
        None => req,
    }
    .send(app)
    .await;
    (res.status, res.body)
}

/// A signed-in identity: its id and session token.
async fn person(kratos: &Kratos) -> (Uuid, String) {
    let identity = kratos
        .identities()
        .create(kratos_core::identity::CreateIdentityBody {
            traits: json!({"email": format!("p-{}@example.com", Uuid::new_v4().simple())}),
            ..Default::default()
        })
        .await
        .unwrap();
    let issued = kratos
        .sessions()
        .issue(
            &identity,
            vec![kratos_core::session::AuthenticationMethod {
                method: "password".into(),
                aal: kratos_core::session::Aal::Aal1,
                completed_at: chrono::Utc::now(),
                provider: None,
            }],
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    (identity.id, issued.token.expose().to_owned())
}

fn user(id: Uuid) -> Subject {
    Subject::set("User", id.to_string(), "")
}

#[tokio::test]
async fn the_guard_checks_the_named_object_for_the_sessions_identity() {
    let kratos = kratos_core::testsuite::kratos(Arc::new(kratos_core::store::MemoryStore::new()));
    let keto = keto();
    let app = app(&kratos, &keto);
    let (owner, owner_token) = person(&kratos).await;
    let (viewer, viewer_token) = person(&kratos).await;
    let (_, stranger_token) = person(&kratos).await;
    keto.insert([
        RelationTuple::new("Document", "plan", "owners", user(owner)),
        RelationTuple::new("Document", "plan", "viewers", user(viewer)),
        RelationTuple::new("App", "console", "admins", user(owner)),
    ])
    .await
    .unwrap();

    // No session: 401 as the Session extractor answers.
    let (status, body) = call(&app, "/documents/plan", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["id"], "session_inactive");
    let (status, _) = call(&app, "/documents/plan", Some("ory_st_forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Viewers and owners read; the handler's extractor sees the guard's session.
    let (status, body) = call(&app, "/documents/plan", Some(&viewer_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, Value::String(format!("read by {viewer}")));
    let (status, _) = call(&app, "/documents/plan", Some(&owner_token)).await;
    assert_eq!(status, StatusCode::OK);

    // A stranger, and another document: 403.
    let (status, body) = call(&app, "/documents/plan", Some(&stranger_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["id"], "forbidden");
    let (status, _) = call(&app, "/documents/other", Some(&viewer_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A named path parameter, and a fixed object.
    let (status, _) = call(&app, "/documents/plan/edit", Some(&owner_token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "/documents/plan/edit", Some(&viewer_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, "/console", Some(&owner_token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "/console", Some(&viewer_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoking the tuple revokes access.
    keto.transact(&[keto_core::TupleDelta {
        action: keto_core::DeltaAction::Delete,
        relation_tuple: RelationTuple::new("Document", "plan", "viewers", user(viewer)),
    }])
    .await
    .unwrap();
    let (status, _) = call(&app, "/documents/plan", Some(&viewer_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_missing_object_is_not_found_and_a_bare_subject_id_works() {
    let kratos = kratos_core::testsuite::kratos(Arc::new(kratos_core::store::MemoryStore::new()));
    let keto = keto();
    let (id, token) = person(&kratos).await;
    keto.insert([RelationTuple::new(
        "Document",
        "memo",
        "owners",
        Subject::id(id.to_string()),
    )])
    .await
    .unwrap();
    let by_id = Permission::new(keto.clone(), "Document", "owners");
    let missing = Permission::new(keto.clone(), "Document", "view").object_from_path("nope");
    let app = Router::new()
        .route("/by-id/{id}", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn_with_state(
            PermissionGuard::new(kratos.clone(), by_id),
            require_permission,
        ))
        .merge(
            Router::new()
                .route("/missing/{id}", get(|| async { "never" }))
                .route_layer(axum::middleware::from_fn_with_state(
                    PermissionGuard::new(kratos.clone(), missing),
                    require_permission,
                )),
        )
        .with_state(kratos.clone());
    assert_eq!(
        call(&app, "/by-id/memo", Some(&token)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "/by-id/other", Some(&token)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "/missing/memo", Some(&token)).await.0,
        StatusCode::NOT_FOUND
    );
}
