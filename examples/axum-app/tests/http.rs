//! HTTP tests of the app's own routes, driven with `tower::ServiceExt::oneshot` on an
//! in-memory SQLite database.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_app::settings::Command;
use axum_app::{Settings, build};
use tower::ServiceExt;

mod support;
use support::web::{
    BASE, Browser, PASSWORD, Page, app, app_on, attr, form_containing, full_app, full_app_with,
    hidden_value, sign_out, sign_up, test_config, unescape,
};

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
        again.body.contains("kr-msg kr-msg-error"),
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
    // Kratos's error manager stores the error and sends the browser to the error page.
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let to = page.location.unwrap_or_default();
    let to = to.trim_start_matches(BASE);
    assert!(to.starts_with("/error?id="), "{to}");
    let page = b.get(to).await;
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
        // kratos-axum's guard answers with the public base URL.
        let to = r.location.unwrap();
        let to = to.trim_start_matches("http://127.0.0.1:4455");
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
        dev: true,
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

#[tokio::test]
async fn documents_survive_a_restart_on_mysql() {
    let Some(base) = kratos_core::testsuite::mysql_url_or_skip() else {
        return;
    };
    let url = kratos_store_mysql::create_test_database(&base)
        .await
        .expect("a test database");
    survives_a_restart(&url).await;
}

// Verification, recovery and the development mailbox.

/// The mails to `email` listed on `/mailbox`, newest first: (subject, body).
async fn mailbox_for(b: &mut Browser, email: &str) -> Vec<(String, String)> {
    let page = b.get("/mailbox").await;
    assert_eq!(page.status, StatusCode::OK);
    page.body
        .split("<article class=\"card mail\"")
        .skip(1)
        .filter(|a| a.contains(&format!("data-recipient=\"{email}\"")))
        .map(|a| {
            let between = |open: &str, close: &str| {
                let start = a.find(open).expect(open) + open.len();
                let end = a[start..].find(close).unwrap() + start;
                unescape(&a[start..end])
            };
            (
                between("<h2 class=\"mail-subject\">", "</h2>"),
                between("<pre class=\"mail-body\">", "</pre>"),
            )
        })
        .collect()
}

/// Waits until the mailbox shows a mail to `email` whose subject or body contains `needle`
/// (the courier worker delivers it a moment after it is queued), and returns the code in the
/// newest such mail with its subject.
async fn code_from_mailbox(b: &mut Browser, email: &str, needle: &str) -> (String, String) {
    for _ in 0..200 {
        let mails = mailbox_for(b, email).await;
        if let Some((subject, body)) = mails
            .into_iter()
            .find(|(s, body)| s.contains(needle) || body.contains(needle))
        {
            let code = body
                .split_whitespace()
                .find(|w| w.len() == 6 && w.bytes().all(|c| c.is_ascii_digit()))
                .unwrap_or_else(|| panic!("no code in {body}"))
                .to_owned();
            return (subject, code);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no mail to {email} with `{needle}` arrived in the mailbox");
}

/// The id of the flow a page shows (from its form's action).
fn flow_of(page: &Page) -> String {
    let start = page.body.find("?flow=").expect("a flow form") + "?flow=".len();
    page.body[start..start + 36].to_owned()
}

/// A page with what changes from flow to flow (ids, CSRF tokens, the address) taken out.
fn shape(page: &Page, email: &str) -> String {
    let mut rest = page.body.replace(email, "ADDRESS");
    for marker in ["flow=", "name=\"csrf_token\" value=\""] {
        let mut cleaned = String::new();
        while let Some(at) = rest.find(marker) {
            let start = at + marker.len();
            cleaned.push_str(&rest[..start]);
            let end = rest[start..]
                .find(['"', '&'])
                .map_or(rest.len(), |e| e + start);
            rest = rest[end..].to_owned();
        }
        cleaned.push_str(&rest);
        rest = cleaned;
    }
    rest
}

#[tokio::test]
async fn verification_recovery_and_mailbox_pages_render_in_the_app_layout() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    for (path, heading) in [
        ("/verification", "Verify your email address"),
        ("/recovery", "Recover your account"),
    ] {
        let start = b.send("GET", path, None).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER);
        assert_eq!(
            start.location.as_deref(),
            Some(&*format!("/self-service{path}/browser"))
        );
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.content_type.starts_with("text/html"));
        assert!(page.body.contains(&format!("<h1>{heading}</h1>")));
        assert!(page.body.contains("/static/app.css"));
        assert!(page.body.contains("class=\"topbar\""));
        // Verification takes a phone number too (the development SMS outbox is a text
        // message channel); recovery takes an email address.
        let field = if path == "/verification" {
            "type=\"text\" name=\"email\""
        } else {
            "type=\"email\" name=\"email\""
        };
        assert!(page.body.contains(field), "{}", page.body);
        assert!(page.body.contains("name=\"csrf_token\""));
        assert!(
            page.body
                .contains(&format!("action=\"{BASE}&#x2f;self-service{path}?flow="))
                || page.body.contains(&format!(
                    "action=\"http:&#x2f;&#x2f;127.0.0.1:4455&#x2f;self-service&#x2f;{}?flow=",
                    &path[1..]
                )),
            "{}",
            page.body
        );
        assert!(!page.body.contains("\"error\""));
    }
    let login = b.get("/login").await;
    assert!(
        login
            .body
            .contains("<a href=\"/recovery\" id=\"forgot-password\">Forgot password?</a>"),
        "{}",
        login.body
    );
    let mailbox = b.get("/mailbox").await;
    assert_eq!(mailbox.status, StatusCode::OK);
    assert!(mailbox.body.contains("Development tool"));
    assert!(mailbox.body.contains("id=\"mailbox-warning\""));
    assert!(mailbox.body.contains("id=\"mailbox-empty\""));
    assert!(mailbox.body.contains("class=\"topbar\""));
    assert!(
        b.get("/").await.body.contains("id=\"mailbox-link\""),
        "the footer links the mailbox"
    );
    assert!(app.outbox.is_some());
}

#[tokio::test]
async fn registration_then_verification_with_the_code_from_the_mailbox() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "ada@example.com", "Ada").await;
    let home = b.get("/").await;
    assert!(home.body.contains("id=\"verify-hint\""), "{}", home.body);
    let settings = b.get("/settings").await;
    assert!(settings.body.contains("id=\"email-addresses\""));
    assert!(settings.body.contains("Not verified"));

    // The verification form offers the signed-in user's address.
    let page = b.get("/verification").await;
    assert!(
        page.body.contains("value=\"ada@example.com\""),
        "{}",
        page.body
    );
    let sent = b
        .submit_and_follow(&page, &[("email", "ada@example.com")], "method=code")
        .await;
    assert!(sent.body.contains("name=\"code\""), "{}", sent.body);
    assert!(sent.body.contains("data-message-id=\"1080003\""));
    assert!(sent.body.contains("id=\"mailbox-hint\""));

    let (subject, code) = code_from_mailbox(
        &mut b,
        "ada@example.com",
        &format!("flow={}", flow_of(&sent)),
    )
    .await;
    assert_eq!(subject, "Your verification code");
    let wrong = b
        .submit_and_follow(&sent, &[("code", "000000")], "method=code")
        .await;
    assert!(wrong.body.contains("kr-msg kr-msg-error"), "{}", wrong.body);
    let done = b
        .submit_and_follow(&wrong, &[("code", &code)], "method=code")
        .await;
    assert!(
        done.body
            .contains("You successfully verified your email address."),
        "{}",
        done.body
    );
    assert!(done.body.contains("id=\"continue\""));

    assert!(!b.get("/").await.body.contains("id=\"verify-hint\""));
    let settings = b.get("/settings").await;
    assert!(settings.body.contains("badge verified"));
    assert!(!settings.body.contains("Not verified"));
    let id = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert!(id.identities[0].verifiable_addresses[0].verified);
}

#[tokio::test]
async fn the_link_in_the_sign_up_mail_verifies_the_address() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "eve@example.com", "Eve").await;
    // Signing up sent a code; its mail in the mailbox links to the flow with the code.
    code_from_mailbox(&mut b, "eve@example.com", "Your verification code").await;
    let mailbox = b.get("/mailbox").await;
    let at = mailbox.body.find("class=\"mail-link\"").expect("a link");
    let start = mailbox.body[..at].rfind("<a ").unwrap();
    let link = attr(&mailbox.body[start..], "href").unwrap();
    assert!(
        link.starts_with(&format!("{BASE}/self-service/verification?flow=")),
        "{link}"
    );
    let done = b.get(&link).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.body
            .contains("You successfully verified your email address."),
        "{}",
        done.body
    );
    assert!(!b.get("/").await.body.contains("id=\"verify-hint\""));
}

#[tokio::test]
async fn recovery_with_a_code_signs_in_and_leads_to_a_new_password() {
    let app = full_app(None).await;
    let mut first = Browser::new(app.public.clone());
    sign_up(&mut first, "kay@example.com", "Kay").await;

    // Someone who forgot the password starts from the sign-in page.
    let mut b = Browser::new(app.public.clone());
    let login = b.get("/login").await;
    assert!(login.body.contains("id=\"forgot-password\""));
    let page = b.get("/recovery").await;
    let sent = b
        .submit_and_follow(&page, &[("email", "kay@example.com")], "method=code")
        .await;
    assert!(sent.body.contains("name=\"code\""), "{}", sent.body);
    assert!(sent.body.contains("id=\"mailbox-hint\""));
    let (subject, code) =
        code_from_mailbox(&mut b, "kay@example.com", "Your account recovery code").await;
    assert_eq!(subject, "Your account recovery code");

    let recovered = b
        .submit_flow(&sent, &[("code", &code)], "method=code")
        .await;
    assert_eq!(
        recovered.status,
        StatusCode::SEE_OTHER,
        "{}",
        recovered.body
    );
    let to = recovered.location.clone().unwrap();
    assert!(to.starts_with(&format!("{BASE}/settings?flow=")), "{to}");
    let settings = b.get(&to).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.body.contains("id=\"signed-in-as\""));
    assert!(
        settings.body.contains("id=\"recovered-notice\""),
        "{}",
        settings.body
    );
    // The mail arrived, so the address is verified too.
    assert!(settings.body.contains("badge verified"));

    let saved = b
        .submit_and_follow(
            &settings,
            &[("password", "a brand new pass phrase 7")],
            "method=password",
        )
        .await;
    assert!(
        saved.body.contains("kr-msg kr-msg-success"),
        "{}",
        saved.body
    );

    // The new password signs in; the old one no longer does.
    for (password, works) in [(PASSWORD, false), ("a brand new pass phrase 7", true)] {
        let mut c = Browser::new(app.public.clone());
        let page = c.get("/login").await;
        let answer = c
            .submit_flow(
                &page,
                &[("identifier", "kay@example.com"), ("password", password)],
                "method=password",
            )
            .await;
        let home = c.get(answer.location.as_deref().unwrap()).await;
        assert_eq!(
            home.body.contains("id=\"signed-in-as\""),
            works,
            "{password}"
        );
    }
    // The code is spent.
    let again = b
        .submit_flow(&sent, &[("code", &code)], "method=code")
        .await;
    assert_ne!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_pages_as_a_known_one() {
    let app = full_app(None).await;
    let mut owner = Browser::new(app.public.clone());
    sign_up(&mut owner, "known@example.com", "Known").await;
    for path in ["/recovery", "/verification"] {
        let mut pages = Vec::new();
        for email in ["known@example.com", "unknown@example.com"] {
            let mut b = Browser::new(app.public.clone());
            let page = b.get(path).await;
            let answer = b
                .submit_flow(&page, &[("email", email)], "method=code")
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER);
            let sent = b.get(answer.location.as_deref().unwrap()).await;
            assert_eq!(sent.status, StatusCode::OK);
            pages.push(shape(&sent, email));
        }
        assert_eq!(pages[0], pages[1], "{path}");
        assert!(pages[0].contains("name=\"code\""));
    }
    let mut b = Browser::new(app.public.clone());
    code_from_mailbox(&mut b, "known@example.com", "Your account recovery code").await;
    assert!(mailbox_for(&mut b, "unknown@example.com").await.is_empty());
}

#[tokio::test]
async fn the_mailbox_lists_mail_newest_first() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "lin@example.com", "Lin").await;
    let mut flows = Vec::new();
    for _ in 0..2 {
        let page = b.get("/verification").await;
        let sent = b
            .submit_and_follow(&page, &[("email", "lin@example.com")], "method=code")
            .await;
        let flow = format!("flow={}", flow_of(&sent));
        code_from_mailbox(&mut b, "lin@example.com", &flow).await;
        flows.push(flow);
    }
    // The in-memory outbox keeps them in the order they were sent; the page shows the newest
    // first.
    let sent = app.outbox.as_ref().unwrap().messages_to("lin@example.com");
    let position = |flow: &str| sent.iter().position(|m| m.body.contains(flow)).unwrap();
    assert!(position(&flows[0]) < position(&flows[1]));
    let page = b.get("/mailbox").await;
    let newest = page.body.find(&flows[1]).unwrap();
    let oldest = page.body.find(&flows[0]).unwrap();
    assert!(newest < oldest, "newest first");
    assert!(
        page.body
            .contains("To <strong class=\"mail-to\">lin@example.com</strong>")
    );
    assert!(page.body.contains(" UTC</time>"));
}

#[tokio::test]
async fn with_smtp_the_mailbox_is_off_and_names_the_server_without_credentials() {
    let app = full_app(Some("smtp://mailer:hunter2@127.0.0.1:1/")).await;
    assert!(app.outbox.is_none());
    assert_eq!(app.mail_delivery, "through smtp://127.0.0.1:1");
    let mut b = Browser::new(app.public.clone());
    let mailbox = b.get("/mailbox").await;
    assert_eq!(mailbox.status, StatusCode::OK);
    assert!(mailbox.body.contains("id=\"mailbox-off\""));
    assert!(
        mailbox.body.contains("smtp:&#x2f;&#x2f;127.0.0.1:1"),
        "{}",
        mailbox.body
    );
    assert!(!mailbox.body.contains("hunter2"));
    assert!(!mailbox.body.contains("id=\"mailbox-link\""));
    assert!(!b.get("/login").await.body.contains("id=\"mailbox-link\""));
}

#[tokio::test]
async fn without_dev_mode_there_is_no_mailbox() {
    // With SMTP the app runs, and /mailbox is not served at all.
    let app = full_app_with(Some("smtp://mailer:hunter2@127.0.0.1:1/"), false)
        .await
        .expect("the app builds with SMTP");
    assert!(app.outbox.is_none());
    let mut b = Browser::new(app.public.clone());
    assert_eq!(b.get("/mailbox").await.status, StatusCode::NOT_FOUND);
    assert!(!b.get("/login").await.body.contains("id=\"mailbox-link\""));
    // With neither SMTP nor dev mode it does not start: mail would be lost.
    let err = full_app_with(None, false).await.err().expect("refused");
    assert!(err.contains("--dev") && err.contains("--smtp"), "{err}");
}

#[test]
fn development_mode_is_asked_for_explicitly() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match Settings::from_env_and_args(
            |k| env.get(k).cloned(),
            args.iter().map(|a| a.to_string()),
        ) {
            Ok(Command::Run(s)) => Ok(s.dev),
            Ok(Command::Help) => panic!("run expected"),
            Err(e) => Err(e),
        }
    };
    assert_eq!(run(&[], &[]), Ok(false), "off by default");
    assert_eq!(run(&[], &["--dev"]), Ok(true));
    assert_eq!(run(&[("AXUM_APP_DEV", "1")], &[]), Ok(true));
    assert_eq!(run(&[("AXUM_APP_DEV", "0")], &[]), Ok(false));
    assert_eq!(
        run(&[("AXUM_APP_DEV", "0")], &["--dev"]),
        Ok(true),
        "the flag wins"
    );
    assert!(run(&[("AXUM_APP_DEV", "maybe")], &[]).is_err());
    assert!(run(&[], &["--dev=1"]).is_err());
    assert!(axum_app::HELP.contains("--dev"));
    assert!(axum_app::HELP.contains("[AXUM_APP_DEV=1]"));
}

#[tokio::test]
async fn a_failed_database_connection_does_not_show_the_password() {
    let config = test_config();
    let settings = Settings {
        // Nothing listens on port 1: the connection is refused.
        database: "postgres://kratos:db-secret-8@127.0.0.1:1/app".into(),
        config: Some(config.clone()),
        dev: true,
        ..Settings::default()
    };
    let err = build(&settings).await.err().expect("no database there");
    std::fs::remove_file(config).ok();
    assert!(!err.contains("db-secret-8"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn settings_debug_hides_the_database_password() {
    let Command::Run(s) = Settings::from_env_and_args(
        |k| {
            (k == "DATABASE_URL")
                .then(|| "postgres://kratos:db-secret-7@db.example.com/app".to_owned())
        },
        std::iter::empty(),
    )
    .unwrap() else {
        panic!("run expected")
    };
    let debug = format!("{s:?}");
    assert!(!debug.contains("db-secret-7"), "{debug}");
    assert!(debug.contains("db.example.com"), "{debug}");
}

#[test]
fn the_smtp_flag_and_its_environment_variable() {
    let Command::Run(s) = Settings::from_env_and_args(
        |k| (k == "SMTP_URL").then(|| "smtps://u:env-secret@mail.example.com:465/".to_owned()),
        std::iter::empty(),
    )
    .unwrap() else {
        panic!("run expected")
    };
    assert_eq!(
        s.smtp.as_ref().unwrap().expose(),
        "smtps://u:env-secret@mail.example.com:465/"
    );
    assert!(!format!("{s:?}").contains("env-secret"), "Debug hides it");
    let Command::Run(s) = Settings::from_env_and_args(
        |k| (k == "SMTP_URL").then(|| "smtps://mail.example.com/".to_owned()),
        ["--smtp", "smtp://mail.example.com:587/"].map(String::from),
    )
    .unwrap() else {
        panic!("run expected")
    };
    assert_eq!(
        s.smtp.unwrap().expose(),
        "smtp://mail.example.com:587/",
        "the flag wins"
    );
    for bad in ["http://mail.example.com/", "mail.example.com", "smtp://"] {
        let err =
            Settings::from_env_and_args(|_| None, ["--smtp", bad].map(String::from)).unwrap_err();
        assert!(err.starts_with("--smtp"), "{err}");
    }
    assert!(axum_app::HELP.contains("--smtp URL"));
    assert!(axum_app::HELP.contains("[SMTP_URL]"));
}

#[tokio::test]
async fn with_smtp_mail_is_delivered_through_the_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = kratos_core::testsuite::smtp_sink(listener);
    let app = full_app(Some(&format!(
        "smtp://127.0.0.1:{port}/?disable_starttls=true"
    )))
    .await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "sam@example.com", "Sam").await;
    let mails = inbox.wait_for(1, std::time::Duration::from_secs(10)).await;
    let mail = mails
        .first()
        .expect("the courier delivers the sign-up mail through SMTP");
    assert_eq!(mail.recipient, "sam@example.com");
    assert!(
        mail.data.contains("Subject: Your verification code"),
        "{}",
        mail.data
    );
    assert!(b.get("/mailbox").await.body.contains("id=\"mailbox-off\""));
}

// Straight to verification after sign-up; passwordless sign-in and sign-up by email code.

#[tokio::test]
async fn sign_up_lands_on_the_verification_code_form_and_the_mailed_code_verifies() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    let page = b.get("/registration").await;
    let answer = b
        .submit_flow(
            &page,
            &[
                ("traits.email", "mae@example.com"),
                ("traits.name", "Mae"),
                ("password", PASSWORD),
            ],
            "method=password",
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let to = answer.location.clone().unwrap();
    assert!(
        to.starts_with(&format!("{BASE}/verification?flow=")),
        "{to}"
    );

    // The page shows the code form of a flow whose code is already mailed, to the signed-in
    // user, without starting another flow.
    let sent = b.send("GET", &to, None).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("<h1>Verify your email address</h1>"));
    assert!(
        sent.body
            .contains("Enter the code from the email we sent you."),
        "{}",
        sent.body
    );
    assert!(sent.body.contains("name=\"code\""), "{}", sent.body);
    assert!(sent.body.contains("id=\"mailbox-hint\""));
    assert!(sent.body.contains("id=\"signed-in-as\""));
    assert!(sent.body.contains("id=\"skip-verification\""));
    let flow = to.split("flow=").nth(1).unwrap().to_owned();
    assert_eq!(flow_of(&sent), flow);

    // One mail, for that flow.
    let (subject, code) = code_from_mailbox(&mut b, "mae@example.com", &flow).await;
    assert_eq!(subject, "Your verification code");
    assert_eq!(mailbox_for(&mut b, "mae@example.com").await.len(), 1);

    let done = b
        .submit_and_follow(&sent, &[("code", &code)], "method=code")
        .await;
    assert!(
        done.body
            .contains("You successfully verified your email address."),
        "{}",
        done.body
    );
    let home = b.get("/").await;
    assert!(home.body.contains("id=\"signed-in-as\""));
    assert!(!home.body.contains("id=\"verify-hint\""));
    let list = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    assert!(list.identities[0].verifiable_addresses[0].verified);
}

#[tokio::test]
async fn sign_in_and_sign_up_pages_offer_the_password_a_code_and_a_passkey_in_one_form() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    for (path, password_button, code_button, passkey) in [
        (
            "/login",
            "method=password",
            "method=code",
            ("passkey_login_trigger", "oryPasskeyLogin"),
        ),
        (
            "/registration",
            "method=password",
            "method=code",
            ("passkey_register_trigger", "oryPasskeyRegistration"),
        ),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        let form = form_containing(&page.body, code_button);
        assert_eq!(
            form,
            form_containing(&page.body, password_button),
            "{path}: one form for both methods"
        );
        assert_eq!(page.body.matches("<form").count(), 1, "{path}");
        assert!(
            form.contains("data-group=\"password code passkey\""),
            "{form}"
        );
        // The passkey's button calls the script's function, which submits the form; the
        // script itself is loaded once, outside the form, pinned by its integrity.
        let (trigger, function) = passkey;
        let passkey_at = form.find(&format!("name=\"{trigger}\"")).unwrap();
        let passkey_tag = &form[form[..passkey_at].rfind("<button").unwrap()..];
        let passkey_tag = &passkey_tag[..passkey_tag.find('>').unwrap()];
        assert!(passkey_tag.contains("type=\"button\""), "{passkey_tag}");
        assert!(
            passkey_tag.contains(&format!("data-onclick-trigger=\"{function}\"")),
            "{passkey_tag}"
        );
        assert!(!form.contains("<script"), "{form}");
        let scripts: Vec<&str> = page
            .body
            .match_indices("<script src=")
            .map(|(at, _)| &page.body[at..at + page.body[at..].find('>').unwrap()])
            .collect();
        assert_eq!(scripts.len(), 1, "{path}: {scripts:?}");
        assert!(
            scripts[0].contains("webauthn.js\" integrity=\"sha512-"),
            "{}",
            scripts[0]
        );
        assert!(form.contains("class=\"kr-divider\""));
        // The password is required for the password button only: the code button skips the
        // browser's checks.
        assert!(form.contains("type=\"password\""));
        let code_at = form.find("name=\"method\" value=\"code\"").unwrap();
        let code_tag = &form[form[..code_at].rfind("<button").unwrap()..];
        let code_tag = &code_tag[..code_tag.find('>').unwrap()];
        assert!(code_tag.contains("formnovalidate"), "{code_tag}");
        let password_at = form.find("name=\"method\" value=\"password\"").unwrap();
        let password_tag = &form[form[..password_at].rfind("<button").unwrap()..];
        let password_tag = &password_tag[..password_tag.find('>').unwrap()];
        assert!(!password_tag.contains("formnovalidate"), "{password_tag}");
    }
    let login = b.get("/login").await;
    assert!(login.body.contains("Send sign in code"));
    assert!(login.body.contains("or with a code we email you"));
    assert!(
        b.get("/registration")
            .await
            .body
            .contains("Send sign up code")
    );
}

#[tokio::test]
async fn sign_in_by_code_through_the_pages_and_the_mailbox() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "noor@example.com", "Noor").await;
    sign_out(&mut b).await;

    let page = b.get("/login").await;
    let form = form_containing(&page.body, "method=code");
    let action = attr(&form, "action").unwrap();
    assert!(
        action.starts_with(&format!("{BASE}/self-service/login?flow=")),
        "{action}"
    );
    // Only the address: the empty password does not stand in the way.
    let answer = b
        .submit_flow(&page, &[("identifier", "noor@example.com")], "method=code")
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let to = answer.location.clone().unwrap();
    assert!(to.starts_with(&format!("{BASE}/login?flow=")), "{to}");
    let sent = b.get(&to).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(
        sent.body.contains("data-message-id=\"1010014\""),
        "{}",
        sent.body
    );
    assert!(sent.body.contains("name=\"code\""));
    assert!(sent.body.contains("autocomplete=\"one-time-code\""));
    assert!(sent.body.contains("name=\"resend\" value=\"code\""));
    assert!(sent.body.contains("id=\"mailbox-hint\""));
    assert!(sent.body.contains("id=\"start-over\""));
    assert!(!sent.body.contains("type=\"password\""));
    assert!(
        hidden_value(&form_containing(&sent.body, "method=code"), "identifier").as_deref()
            == Some("noor@example.com")
    );

    let (subject, code) = code_from_mailbox(&mut b, "noor@example.com", "Your sign-in code").await;
    assert_eq!(subject, "Your sign-in code");

    // A wrong code is refused on the page; the mailed one signs in.
    let wrong = b
        .submit_and_follow(&sent, &[("code", "000000")], "method=code")
        .await;
    assert!(
        wrong.body.contains("data-message-id=\"4010008\""),
        "{}",
        wrong.body
    );
    assert!(!wrong.body.contains("id=\"signed-in-as\""));
    let ok = b
        .submit_flow(&wrong, &[("code", &code)], "method=code")
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location.as_deref(), Some(&*format!("{BASE}/")));
    let home = b.get("/").await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);
    assert!(home.body.contains("Noor"));
    let session = app
        .kratos
        .sessions()
        .list_for_identity(
            app.kratos
                .identities()
                .list(Default::default())
                .await
                .unwrap()
                .identities[0]
                .id,
            true,
        )
        .await
        .unwrap();
    assert!(
        session
            .iter()
            .any(|s| s.authentication_methods.iter().any(|m| m.method == "code")),
        "a session signed in by code"
    );

    // The code is spent: a second browser cannot use it.
    sign_out(&mut b).await;
    let again = b.get("/login").await;
    let sent = b
        .submit_and_follow(&again, &[("identifier", "noor@example.com")], "method=code")
        .await;
    let reused = b
        .submit_and_follow(&sent, &[("code", &code)], "method=code")
        .await;
    assert!(
        reused.body.contains("data-message-id=\"4010008\""),
        "{}",
        reused.body
    );
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_sign_in_code_page() {
    let app = full_app(None).await;
    let mut owner = Browser::new(app.public.clone());
    sign_up(&mut owner, "known@example.com", "Known").await;
    let mut pages = Vec::new();
    for email in ["known@example.com", "nobody@example.com"] {
        let mut b = Browser::new(app.public.clone());
        let page = b.get("/login").await;
        let sent = b
            .submit_and_follow(&page, &[("identifier", email)], "method=code")
            .await;
        pages.push(shape(&sent, email));
    }
    assert_eq!(pages[0], pages[1]);
    assert!(pages[0].contains("name=\"code\""));
    let mut b = Browser::new(app.public.clone());
    code_from_mailbox(&mut b, "known@example.com", "Your sign-in code").await;
    assert!(mailbox_for(&mut b, "nobody@example.com").await.is_empty());
}

#[tokio::test]
async fn sign_up_by_code_signs_in_with_a_verified_address_and_no_password() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    let page = b.get("/registration").await;
    let sent = b
        .submit_and_follow(
            &page,
            &[("traits.email", "ida@example.com"), ("traits.name", "Ida")],
            "method=code",
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(
        sent.body.contains("data-message-id=\"1040005\""),
        "{}",
        sent.body
    );
    assert!(sent.body.contains("name=\"code\""));
    assert!(sent.body.contains("id=\"mailbox-hint\""));
    assert!(!sent.body.contains("type=\"password\""));
    let form = form_containing(&sent.body, "method=code");
    assert_eq!(
        hidden_value(&form, "traits.email").as_deref(),
        Some("ida@example.com")
    );
    assert!(
        app.kratos
            .identities()
            .list(Default::default())
            .await
            .unwrap()
            .identities
            .is_empty(),
        "no account before the code"
    );

    let (subject, code) = code_from_mailbox(&mut b, "ida@example.com", "Finish signing up").await;
    assert_eq!(subject, "Finish signing up");
    let wrong = b
        .submit_and_follow(&sent, &[("code", "000000")], "method=code")
        .await;
    assert!(
        wrong.body.contains("data-message-id=\"4040003\""),
        "{}",
        wrong.body
    );
    let done = b
        .submit_flow(&wrong, &[("code", &code)], "method=code")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    // No verification step: the code proved the address.
    assert_eq!(done.location.as_deref(), Some(&*format!("{BASE}/")));
    let home = b.get("/").await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);
    assert!(home.body.contains("Ida"));
    assert!(!home.body.contains("id=\"verify-hint\""));

    let list = app
        .kratos
        .identities()
        .list(Default::default())
        .await
        .unwrap();
    let identity = &list.identities[0];
    assert_eq!(identity.traits["email"], "ida@example.com");
    assert!(identity.verifiable_addresses[0].verified);
    assert!(
        identity
            .credential(kratos_core::identity::CredentialType::Password)
            .is_none()
    );
    // Only the sign-up mail: no separate verification code.
    assert_eq!(mailbox_for(&mut b, "ida@example.com").await.len(), 1);
}
