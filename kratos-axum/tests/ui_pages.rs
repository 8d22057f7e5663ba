//! The mountable self-service pages, the `LoginRequired` guard and `sign_in`, merged into a
//! host app's router with its own state.

mod common;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use common::{Jar, Res, call, email, path_of, query_param};
use kratos_axum::ui::{Renderer, SelfServicePages};
use kratos_axum::{LoginRequired, Session};
use kratos_core::identity::CreateIdentityBody;
use kratos_core::{Config, Kratos};
use serde_json::json;

#[derive(Clone)]
struct AppState {
    kratos: Kratos,
}

impl FromRef<AppState> for Kratos {
    fn from_ref(state: &AppState) -> Kratos {
        state.kratos.clone()
    }
}

const BASE: &str = "http://127.0.0.1:4455";

fn app() -> (Router, Kratos) {
    let mut config = Config::from_yaml_str(&format!(
        "dev: true\nserve:\n  public:\n    base_url: {BASE}\nselfservice:\n  default_browser_return_url: {BASE}/\n  flows:\n    registration:\n      after:\n        password:\n          hooks:\n            - hook: session\n  methods:\n    password:\n      config:\n        haveibeenpwned_enabled: false\n"
    ))
    .unwrap();
    let pages = SelfServicePages::new(Renderer::new());
    pages.configure(&mut config);
    let kratos = Kratos::builder(config)
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap();
    let kratos2 = kratos.clone();
    let vault = Router::<AppState>::new()
        .route("/vault", get(|| async { "vault" }))
        .route_layer(LoginRequired::new(&kratos).aal2());
    let router = Router::<AppState>::new()
        .route(
            "/dashboard",
            get(|Session(s): Session| async move { format!("dashboard of {}", s.identity_id) }),
        )
        .route_layer(LoginRequired::new(&kratos))
        .merge(vault)
        .nest(
            "/app",
            Router::new()
                .route("/inner", get(|| async { "inner" }))
                .route_layer(LoginRequired::new(&kratos)),
        )
        .route(
            "/magic/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<uuid::Uuid>,
                      headers: axum::http::HeaderMap| {
                    let kratos = kratos2.clone();
                    async move {
                        match kratos_axum::sign_in(&kratos, id, "magic_link", &headers).await {
                            Ok(signed_in) => {
                                (signed_in, Redirect::to("/dashboard")).into_response()
                            }
                            Err(e) => e.into_response(),
                        }
                    }
                },
            ),
        )
        .merge(pages.router())
        .merge(kratos_axum::public_routes(kratos.clone()))
        .with_state(AppState {
            kratos: kratos.clone(),
        });
    (router, kratos)
}

/// Follows a 303 within the app, keeping cookies.
async fn follow(app: &Router, jar: &mut Jar, res: &Res) -> Res {
    assert!(res.status.is_redirection(), "{res:?}");
    let to = path_of(res.location());
    let res = call(Method::GET, &to)
        .html_accept()
        .jar(jar)
        .send(app)
        .await;
    jar.absorb(&res);
    res
}

fn html(res: &Res) -> String {
    res.body.as_str().unwrap_or_default().replace("&#x2f;", "/")
}

/// The value of a hidden input in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn action(page: &str) -> String {
    let start = page.find(r#"action=""#).unwrap() + 8;
    path_of(
        &page[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn sign_up_sign_out_sign_in_through_the_pages() {
    let (app, _) = app();
    let mut jar = Jar::default();
    // The protected page sends a browser to sign in and back.
    let res = call(Method::GET, "/dashboard")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        query_param(res.location(), "return_to").as_deref(),
        Some("http://127.0.0.1:4455/dashboard")
    );
    // Sign-up: the page without a flow starts one, Kratos sends the browser back with it.
    let res = call(Method::GET, "/registration")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        path_of(res.location()),
        "/self-service/registration/browser"
    );
    let res = follow(&app, &mut jar, &res).await;
    assert_eq!(
        path_of(res.location()).split('?').next(),
        Some("/registration")
    );
    let page = follow(&app, &mut jar, &res).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = html(&page);
    assert!(body.contains(r#"<label for="kr-traits-email">"#), "{body}");
    assert!(body.contains(r#"<h1>Create an account</h1>"#), "{body}");
    let csrf = hidden(&body, "csrf_token");
    let address = email();
    let res = call(Method::POST, &action(&body))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &csrf),
            ("traits.email", &address),
            ("password", "a quite long passphrase 4711"),
            ("method", "password"),
        ])
        .send(&app)
        .await;
    jar.absorb(&res);
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    // Signed in: the protected page answers, and the layout offers to sign out.
    let res = call(Method::GET, "/dashboard")
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = call(Method::GET, "/account/sessions")
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let body = html(&res);
    assert!(body.contains("This device"), "{body}");
    let logout = {
        let start = body
            .find(r#"id="kr-sign-out""#)
            .map(|_| body.find("/self-service/logout?token=").unwrap())
            .unwrap();
        body[start..].split('"').next().unwrap().to_owned()
    };
    let res = call(Method::GET, &logout)
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    jar.absorb(&res);
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = call(Method::GET, "/dashboard")
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "signed out");
    // Sign-in with the same address comes back to the protected page.
    let res = call(
        Method::GET,
        "/login?return_to=http%3A%2F%2F127.0.0.1%3A4455%2Fdashboard",
    )
    .html_accept()
    .jar(&jar)
    .send(&app)
    .await;
    let res = follow(&app, &mut jar, &res).await;
    let page = follow(&app, &mut jar, &res).await;
    let body = html(&page);
    assert!(
        body.contains(r#"autocomplete="current-password""#),
        "{body}"
    );
    let res = call(Method::POST, &action(&body))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &hidden(&body, "csrf_token")),
            ("identifier", &address),
            ("password", "a quite long passphrase 4711"),
            ("method", "password"),
        ])
        .send(&app)
        .await;
    jar.absorb(&res);
    assert_eq!(res.location(), "http://127.0.0.1:4455/dashboard", "{res:?}");
    let res = call(Method::GET, "/dashboard").jar(&jar).send(&app).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_shows_the_message_on_the_page() {
    let (app, kratos) = app();
    let address = email();
    kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": address}),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut jar = Jar::default();
    let res = call(Method::GET, "/login").html_accept().send(&app).await;
    let res = follow(&app, &mut jar, &res).await;
    let page = follow(&app, &mut jar, &res).await;
    let body = html(&page);
    let res = call(Method::POST, &action(&body))
        .html_accept()
        .jar(&jar)
        .form(&[
            ("csrf_token", &hidden(&body, "csrf_token")),
            ("identifier", &address),
            ("password", "not the password"),
            ("method", "password"),
        ])
        .send(&app)
        .await;
    let page = follow(&app, &mut jar, &res).await;
    let body = html(&page);
    // Kratos's 4000006 on the form, announced.
    assert!(
        body.contains(r#"role="alert" data-message-id="4000006""#),
        "{body}"
    );
    // The address typed stays in its field.
    assert!(body.contains(&format!(r#"value="{address}""#)), "{body}");
}

#[tokio::test]
async fn pages_start_over_instead_of_failing() {
    let (app, _) = app();
    // An unknown flow starts a new one.
    let res = call(
        Method::GET,
        &format!("/login?flow={}", uuid::Uuid::new_v4()),
    )
    .html_accept()
    .send(&app)
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(path_of(res.location()), "/self-service/login/browser");
    // A flow started in another browser (no CSRF cookie here) starts a new one too.
    let mut other = Jar::default();
    let res = call(Method::GET, "/self-service/login/browser")
        .html_accept()
        .send(&app)
        .await;
    other.absorb(&res);
    let flow = query_param(res.location(), "flow").unwrap();
    let res = call(Method::GET, &format!("/login?flow={flow}"))
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = call(Method::GET, &format!("/login?flow={flow}"))
        .html_accept()
        .jar(&other)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // Settings without a session: sign in first, then back to settings.
    let res = call(Method::GET, "/settings")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        query_param(res.location(), "return_to").as_deref(),
        Some("http://127.0.0.1:4455/settings")
    );
    // A garbage flow id is no flow.
    let res = call(Method::GET, "/recovery?flow=%3Cscript%3E")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(path_of(res.location()), "/self-service/recovery/browser");
}

#[tokio::test]
async fn the_guard_answers_json_clients_with_kratos_errors() {
    let (app, kratos) = app();
    let res = call(Method::GET, "/dashboard")
        .json_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error_id(), "session_inactive");
    // A session issued by the app's own code passes; its cookie is set.
    let identity = kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email()}),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut jar = Jar::default();
    let res = call(Method::GET, &format!("/magic/{}", identity.id))
        .send(&app)
        .await;
    jar.absorb(&res);
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // The session cookie, and a new CSRF cookie, as every sign-in sets them.
    let cookies = res.set_cookies();
    assert!(
        cookies.iter().any(|c| c.starts_with("ory_kratos_session=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("csrf_token")),
        "{cookies:?}"
    );
    let res = call(Method::GET, "/dashboard")
        .json_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, json!(format!("dashboard of {}", identity.id)));
    // A guarded route inside `Router::nest` comes back to its whole path.
    let res = call(Method::GET, "/app/inner?x=1")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(
        query_param(res.location(), "return_to").as_deref(),
        Some("http://127.0.0.1:4455/app/inner?x=1")
    );
    // aal2 routes: a browser steps up, a JSON client gets 403 session_aal2_required.
    let res = call(Method::GET, "/vault")
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(query_param(res.location(), "aal").as_deref(), Some("aal2"));
    assert_eq!(
        query_param(res.location(), "return_to").as_deref(),
        Some("http://127.0.0.1:4455/vault")
    );
    let res = call(Method::GET, "/vault")
        .json_accept()
        .jar(&jar)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.error_id(), "session_aal2_required");
    // An unknown identity cannot be signed in.
    let res = call(Method::GET, &format!("/magic/{}", uuid::Uuid::new_v4()))
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sessions_are_revoked_only_by_same_origin_posts() {
    let (app, kratos) = app();
    let identity = kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email()}),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut jar = Jar::default();
    let res = call(Method::GET, &format!("/magic/{}", identity.id))
        .send(&app)
        .await;
    jar.absorb(&res);
    let mut other = Jar::default();
    let res = call(Method::GET, &format!("/magic/{}", identity.id))
        .send(&app)
        .await;
    other.absorb(&res);
    let page = call(Method::GET, "/account/sessions")
        .html_accept()
        .jar(&jar)
        .send(&app)
        .await;
    let body = html(&page);
    let other_id = hidden(&body, "session");
    // A cross-site post is refused, and the session lives on.
    let res = call(Method::POST, "/account/sessions/revoke")
        .header("sec-fetch-site", "cross-site")
        .jar(&jar)
        .form(&[("session", &other_id)])
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // So are posts with neither header, a foreign origin, or `Origin: null`, on both endpoints.
    for (name, value) in [
        ("x-none", "none"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
    ] {
        for (path, form) in [
            (
                "/account/sessions/revoke",
                vec![("session", other_id.as_str())],
            ),
            ("/account/sessions/revoke-others", vec![]),
        ] {
            let res = call(Method::POST, path)
                .header(name, value)
                .jar(&jar)
                .form(&form)
                .send(&app)
                .await;
            assert_eq!(
                res.status,
                StatusCode::FORBIDDEN,
                "{path} with {name}: {value}"
            );
        }
    }
    // A revoke without the session it names revokes nothing (not all the others).
    let res = call(Method::POST, "/account/sessions/revoke")
        .header("sec-fetch-site", "same-origin")
        .jar(&jar)
        .form(&[])
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::GET, "/dashboard")
        .json_accept()
        .jar(&other)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // The same post from the page's origin revokes it.
    let res = call(Method::POST, "/account/sessions/revoke")
        .header("origin", BASE)
        .jar(&jar)
        .form(&[("session", &other_id)])
        .send(&app)
        .await;
    assert_eq!(res.location(), "/account/sessions?notice=revoked");
    let res = call(Method::GET, "/dashboard")
        .json_accept()
        .jar(&other)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Someone else's session is not found.
    let stranger = kratos
        .identities()
        .create(CreateIdentityBody {
            traits: json!({"email": email()}),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut theirs = Jar::default();
    let res = call(Method::GET, &format!("/magic/{}", stranger.id))
        .send(&app)
        .await;
    theirs.absorb(&res);
    let page = call(Method::GET, "/account/sessions")
        .html_accept()
        .jar(&theirs)
        .send(&app)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let list = kratos
        .sessions()
        .list_for_identity(stranger.id, true)
        .await
        .unwrap();
    let res = call(Method::POST, "/account/sessions/revoke")
        .header("sec-fetch-site", "same-origin")
        .jar(&jar)
        .form(&[("session", &list[0].id.to_string())])
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::GET, "/dashboard")
        .json_accept()
        .jar(&theirs)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_cookie_lands_on_the_error_page() {
    let (app, _) = app();
    let mut jar = Jar::default();
    let res = call(Method::GET, "/login").html_accept().send(&app).await;
    let res = follow(&app, &mut jar, &res).await;
    let page = follow(&app, &mut jar, &res).await;
    let body = html(&page);
    // The same form, posted by a browser that lost its cookies.
    let res = call(Method::POST, &action(&body))
        .html_accept()
        .form(&[
            ("csrf_token", &hidden(&body, "csrf_token")),
            ("identifier", "someone@example.com"),
            ("password", "whatever it is"),
            ("method", "password"),
        ])
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    assert_eq!(path_of(res.location()).split('?').next(), Some("/error"));
    let page = call(Method::GET, &path_of(res.location()))
        .html_accept()
        .send(&app)
        .await;
    let body = html(&page);
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("This form has expired"), "{body}");
    assert!(
        body.contains("<code>security_csrf_violation</code>"),
        "{body}"
    );
    assert!(body.contains(r#"role="alert""#), "{body}");
    // An error id that was never stored is not found.
    let res = call(Method::GET, &format!("/error?id={}", uuid::Uuid::new_v4()))
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(Method::GET, "/error?id=%3Cscript%3E")
        .html_accept()
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
