//! HTTP tests of the app's own routes, driven with `tower::ServiceExt::oneshot` on an
//! in-memory SQLite database.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_app::settings::Command;
use axum_app::{Settings, build};
use http_body_util::BodyExt;
use tower::ServiceExt;

const BASE: &str = "http://127.0.0.1:4455";

/// A config file with a fixed secret and a cheap hash (tests only).
fn test_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("axum-app-http-{}.yml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        "secrets:\n  default: [\"an-http-test-secret-of-enough-length\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
    )
    .unwrap();
    path
}

async fn app() -> Router {
    app_on("sqlite::memory:").await
}

async fn app_on(database: &str) -> Router {
    let config = test_config();
    let settings = Settings {
        database: database.into(),
        config: Some(config.clone()),
        ..Settings::default()
    };
    let app = build(&settings).await.expect("the app builds");
    std::fs::remove_file(config).ok();
    app.public
}

/// A browser: a cookie jar over oneshot requests.
struct Browser {
    app: Router,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    body: String,
}

impl Browser {
    fn new(app: Router) -> Self {
        Browser {
            app,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.send_with(method, path, form, Some(BASE)).await
    }

    async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Page {
        let path = path.strip_prefix(BASE).unwrap_or(path);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, cookie.join("; "));
        }
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let body = match form {
            Some(pairs) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs {
                    s.append_pair(k, v);
                }
                Body::from(s.finish())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for c in response.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// GET, following redirects on the app's origin.
    async fn get(&mut self, path: &str) -> Page {
        let mut path = path.to_owned();
        for _ in 0..10 {
            let page = self.send("GET", &path, None).await;
            match page.location.clone() {
                Some(l) if page.status.is_redirection() => path = l,
                _ => return page,
            }
        }
        panic!("too many redirects");
    }

    /// Fills in and submits the flow form of a page (the form holding `button`).
    async fn submit_flow(&mut self, page: &Page, fields: &[(&str, &str)], button: &str) -> Page {
        let form = form_containing(&page.body, button);
        let action = attr(&form, "action").expect("form action");
        let csrf = hidden_value(&form, "csrf_token").expect("csrf token");
        let (name, value) = button.split_once('=').unwrap();
        let mut pairs: Vec<(&str, &str)> = vec![("csrf_token", &csrf), (name, value)];
        pairs.extend_from_slice(fields);
        self.send("POST", &action, Some(&pairs)).await
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// The `<form …>…</form>` holding a submit button `name="…" value="…"`.
fn form_containing(html: &str, button: &str) -> String {
    let (name, value) = button.split_once('=').unwrap();
    let needle = format!("name=\"{name}\" value=\"{value}\"");
    html.split("<form")
        .skip(1)
        .map(|f| f.split("</form>").next().unwrap().to_owned())
        .find(|f| f.contains(&needle))
        .unwrap_or_else(|| panic!("no form with {needle}"))
}

fn attr(fragment: &str, name: &str) -> Option<String> {
    let start = fragment.find(&format!("{name}=\""))? + name.len() + 2;
    let end = fragment[start..].find('"')? + start;
    Some(unescape(&fragment[start..end]))
}

fn hidden_value(form: &str, name: &str) -> Option<String> {
    let at = form.find(&format!("name=\"{name}\""))?;
    attr(&form[at..], "value")
}

async fn sign_up(b: &mut Browser, email: &str, name: &str) {
    let page = b.get("/registration").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let done = b
        .submit_flow(
            &page,
            &[
                ("traits.email", email),
                ("traits.name", name),
                ("password", "a sturdy pass phrase 42"),
            ],
            "method=password",
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(&*format!("{BASE}/")));
}

#[tokio::test]
async fn home_and_stylesheet_for_visitors() {
    let mut b = Browser::new(app().await);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.content_type.starts_with("text/html"));
    assert!(home.body.contains("href=\"/registration\""));
    assert!(home.body.contains("/static/app.css"));
    let css = b.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.content_type.starts_with("text/css"));
}

#[tokio::test]
async fn flow_pages_start_a_flow_when_none_or_an_unknown_one_is_given() {
    let mut b = Browser::new(app().await);
    for (page, init) in [
        ("/login", "/self-service/login/browser"),
        ("/registration", "/self-service/registration/browser"),
        ("/settings", "/self-service/settings/browser"),
    ] {
        let r = b.send("GET", page, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location.as_deref(), Some(init));
        let r = b
            .send(
                "GET",
                &format!("{page}?flow={}", uuid::Uuid::new_v4()),
                None,
            )
            .await;
        let to = r.location.unwrap();
        if page == "/settings" {
            // Settings flows need a session first.
            assert!(
                to.starts_with("/self-service/login/browser?return_to="),
                "{to}"
            );
        } else {
            assert_eq!(to, init);
        }
    }
    // A flow started by another browser (no CSRF cookie vouching for it) is not shown.
    let mut other = Browser::new(b.app.clone());
    let started = other.send("GET", "/self-service/login/browser", None).await;
    let ui = started.location.unwrap();
    assert!(ui.starts_with(&format!("{BASE}/login?flow=")));
    let r = b.send("GET", &ui, None).await;
    assert_eq!(r.location.as_deref(), Some("/self-service/login/browser"));
    let r = other.send("GET", &ui, None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn the_login_form_is_rendered_from_the_ui_nodes_with_messages() {
    let mut b = Browser::new(app().await);
    sign_up(&mut b, "grace@example.com", "Grace Hopper").await;
    let home = b.get("/").await;
    assert!(home.body.contains("Grace Hopper"));
    let logout = attr(
        &home.body[home.body.find("id=\"sign-out\"").map(|i| i - 200).unwrap()..],
        "href",
    )
    .unwrap();
    let out = b.send("GET", &logout, None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let page = b.get("/login").await;
    assert!(page.body.contains("name=\"identifier\""));
    assert!(page.body.contains("type=\"password\""));
    let wrong = b
        .submit_flow(
            &page,
            &[
                ("identifier", "grace@example.com"),
                ("password", "not it at all"),
            ],
            "method=password",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    let again = b.get(wrong.location.as_deref().unwrap()).await;
    assert!(
        again.body.contains("class=\"msg error\""),
        "the flow's error message is shown: {}",
        again.body
    );
    assert!(again.body.contains("credentials are invalid"));
    let ok = b
        .submit_flow(
            &again,
            &[
                ("identifier", "grace@example.com"),
                ("password", "a sturdy pass phrase 42"),
            ],
            "method=password",
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some(&*format!("{BASE}/")));
    assert!(b.get("/").await.body.contains("id=\"signed-in-as\""));
}

#[tokio::test]
async fn kratos_errors_are_pages_for_browsers_and_json_for_programs() {
    let app = app().await;
    let mut b = Browser::new(app.clone());
    let page = b
        .send(
            "POST",
            &format!("/self-service/login?flow={}", uuid::Uuid::new_v4()),
            Some(&[
                ("identifier", "x"),
                ("password", "y"),
                ("method", "password"),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.body.contains("Back to sign in"));
    assert!(!page.body.contains("\"error\""));
    let json = app
        .oneshot(
            Request::post(format!("/self-service/login?flow={}", uuid::Uuid::new_v4()))
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::NOT_FOUND);
    assert!(
        json.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn app_pages_need_a_session() {
    let mut b = Browser::new(app().await);
    for path in [
        "/documents",
        "/groups",
        "/account/sessions",
        "/documents/new",
    ] {
        let r = b.send("GET", path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        let to = r.location.unwrap();
        assert!(
            to.starts_with("/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A4455"),
            "{to}"
        );
    }
}

#[tokio::test]
async fn documents_follow_the_permissions() {
    let app = app().await;
    let mut ada = Browser::new(app.clone());
    let mut bob = Browser::new(app.clone());
    sign_up(&mut ada, "ada@example.com", "Ada").await;
    sign_up(&mut bob, "bob@example.com", "Bob").await;
    assert!(
        ada.get("/documents")
            .await
            .body
            .contains("id=\"no-documents\"")
    );

    // Posts from another origin are refused.
    let forged = ada
        .send_with(
            "POST",
            "/documents",
            Some(&[("title", "x"), ("body", "")]),
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let missing = ada
        .send_with("POST", "/documents", Some(&[("title", "x")]), None)
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);

    let empty = ada
        .send("POST", "/documents", Some(&[("title", " "), ("body", "")]))
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Please give the document a title."));

    let created = ada
        .send(
            "POST",
            "/documents",
            Some(&[("title", "Notes on the engine"), ("body", "Analytical <b>")]),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let doc = created.location.unwrap();
    let page = ada.get(&doc).await;
    assert!(page.body.contains("Notes on the engine"));
    assert!(page.body.contains("Analytical &lt;b&gt;"), "escaped");
    assert!(page.body.contains("id=\"sharing\""));
    assert!(
        ada.get("/documents")
            .await
            .body
            .contains("Notes on the engine")
    );

    // Bob sees nothing and may not open it.
    assert!(
        !bob.get("/documents")
            .await
            .body
            .contains("Notes on the engine")
    );
    assert_eq!(bob.get(&doc).await.status, StatusCode::FORBIDDEN);

    // Sharing with an unknown address is explained; with Bob as viewer it works.
    let unknown = ada
        .send(
            "POST",
            &format!("{doc}/share"),
            Some(&[("email", "nobody@example.com"), ("role", "viewer")]),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body.contains("No one has an account"));
    let shared = ada
        .send(
            "POST",
            &format!("{doc}/share"),
            Some(&[("email", "bob@example.com"), ("role", "viewer")]),
        )
        .await;
    assert_eq!(shared.status, StatusCode::SEE_OTHER);
    let as_bob = bob.get(&doc).await;
    assert_eq!(as_bob.status, StatusCode::OK);
    assert!(!as_bob.body.contains("id=\"edit-document\""));
    assert!(!as_bob.body.contains("id=\"sharing\""));
    assert!(
        bob.get("/documents")
            .await
            .body
            .contains("Notes on the engine")
    );
    assert_eq!(
        bob.get(&format!("{doc}/edit")).await.status,
        StatusCode::FORBIDDEN
    );
    let edit = bob
        .send("POST", &doc, Some(&[("title", "Mine now"), ("body", "")]))
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);

    // Through a group, as editor.
    let group = ada
        .send("POST", "/groups", Some(&[("name", "Engine team")]))
        .await
        .location
        .unwrap();
    ada.send(
        "POST",
        &format!("{group}/members"),
        Some(&[("email", "bob@example.com")]),
    )
    .await;
    let gid = group.rsplit('/').next().unwrap();
    ada.send(
        "POST",
        &format!("{doc}/share"),
        Some(&[("group", gid), ("role", "editor")]),
    )
    .await;
    assert_eq!(bob.get(&format!("{doc}/edit")).await.status, StatusCode::OK);
    let saved = bob
        .send(
            "POST",
            &doc,
            Some(&[("title", "Notes, revised"), ("body", "ok")]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(ada.get(&doc).await.body.contains("Notes, revised"));
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked() {
    let app = app().await;
    let mut laptop = Browser::new(app.clone());
    sign_up(&mut laptop, "kay@example.com", "Kay").await;
    let mut phone = Browser::new(app.clone());
    let page = phone.get("/login").await;
    phone
        .submit_flow(
            &page,
            &[
                ("identifier", "kay@example.com"),
                ("password", "a sturdy pass phrase 42"),
            ],
            "method=password",
        )
        .await;
    let list = laptop.get("/account/sessions").await;
    assert_eq!(
        list.body.matches("<tr").count(),
        3,
        "header and two sessions"
    );
    let form_at = list.body.find("/revoke\"").unwrap();
    let start = list.body[..form_at].rfind("action=\"").unwrap();
    let action = attr(&list.body[start..], "action").unwrap();
    let revoked = laptop.send("POST", &action, None).await;
    assert_eq!(
        revoked.location.as_deref(),
        Some("/account/sessions?notice=revoked")
    );
    let phone_home = phone.get("/").await;
    assert!(!phone_home.body.contains("id=\"signed-in-as\""));
    assert!(laptop.get("/").await.body.contains("id=\"signed-in-as\""));
}

#[test]
fn flags_override_the_environment() {
    let env = |k: &str| match k {
        "DATABASE_URL" => Some("postgres://db/app".to_owned()),
        "PUBLIC_ADDR" => Some("127.0.0.1:9000".to_owned()),
        _ => None,
    };
    let Command::Run(s) = Settings::from_env_and_args(
        env,
        ["--public", "127.0.0.1:9001", "--namespaces=ns.ts"].map(String::from),
    )
    .unwrap() else {
        panic!("run expected")
    };
    assert_eq!(s.public.to_string(), "127.0.0.1:9001");
    assert_eq!(s.admin.to_string(), "127.0.0.1:4434");
    assert_eq!(s.database, "postgres://db/app");
    assert_eq!(s.namespaces.unwrap().to_str(), Some("ns.ts"));
    assert!(matches!(
        Settings::from_env_and_args(|_| None, ["--help".to_owned()]).unwrap(),
        Command::Help
    ));
    assert!(Settings::from_env_and_args(|_| None, ["--bogus".to_owned()]).is_err());
    for flag in [
        "--public",
        "--admin",
        "--database",
        "--namespaces",
        "--identity-schema",
    ] {
        assert!(axum_app::HELP.contains(flag));
    }
}

#[tokio::test]
async fn the_admin_address_serves_kratos_admin_and_keto() {
    let config = test_config();
    let settings = Settings {
        database: "sqlite::memory:".into(),
        config: Some(config.clone()),
        ..Settings::default()
    };
    let app = build(&settings).await.unwrap();
    std::fs::remove_file(config).ok();
    for path in [
        "/admin/identities",
        "/namespaces",
        "/relation-tuples?namespace=Document",
    ] {
        let r = app
            .admin
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

/// Documents, their permissions and sessions survive a restart of the app on the same database.
async fn survives_a_restart(database: &str) {
    let mut ada = Browser::new(app_on(database).await);
    sign_up(&mut ada, "ada@example.com", "Ada").await;
    let doc = ada
        .send(
            "POST",
            "/documents",
            Some(&[("title", "Kept across restarts"), ("body", "still here")]),
        )
        .await
        .location
        .unwrap();
    ada.app = app_on(database).await;
    let page = ada.get(&doc).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("still here"));
    assert!(
        ada.get("/documents")
            .await
            .body
            .contains("Kept across restarts")
    );
}

#[tokio::test]
async fn documents_survive_a_restart_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("axum-app-http-{}", uuid::Uuid::new_v4()));
    survives_a_restart(&format!("sqlite://{}/app.db", dir.display())).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn documents_survive_a_restart_on_postgres() {
    let Some(base) = kratos_core::testsuite::postgres_url_or_skip() else {
        return;
    };
    let url = kratos_store_postgres::create_test_database(&base)
        .await
        .expect("a test database");
    survives_a_restart(&url).await;
}
