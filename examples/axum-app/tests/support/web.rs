//! A browser over `tower::ServiceExt::oneshot`: the app's public router on an in-memory
//! SQLite database in development mode, a cookie jar, and the forms of its pages.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_app::{Settings, build};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The password the helpers sign up with.
pub const PASSWORD: &str = "a sturdy pass phrase 42";

pub const BASE: &str = "http://127.0.0.1:4455";

/// A config file with a fixed secret and a cheap hash (tests only).
pub fn test_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("axum-app-http-{}.yml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        "secrets:\n  default: [\"an-http-test-secret-of-enough-length\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n\
         courier:\n  worker:\n    pull_wait: 50ms\n",
    )
    .unwrap();
    path
}

pub async fn app() -> Router {
    app_on("sqlite::memory:").await
}

/// The whole app (its courier worker runs while it is kept), on an in-memory database, in
/// development mode (the mailbox is served; without `smtp` mail goes there).
pub async fn full_app(smtp: Option<&str>) -> axum_app::App {
    full_app_with(smtp, true).await.expect("the app builds")
}

/// [`full_app`], in development mode or not.
pub async fn full_app_with(smtp: Option<&str>, dev: bool) -> Result<axum_app::App, String> {
    let config = test_config();
    let settings = Settings {
        database: "sqlite::memory:".into(),
        config: Some(config.clone()),
        smtp: smtp.map(kratos_core::config::Secret::new),
        dev,
        ..Settings::default()
    };
    let app = build(&settings).await;
    std::fs::remove_file(config).ok();
    app
}

/// The app's public router in development mode (mail goes to the mailbox).
pub async fn app_on(database: &str) -> Router {
    let config = test_config();
    let settings = Settings {
        database: database.into(),
        config: Some(config.clone()),
        dev: true,
        ..Settings::default()
    };
    let app = build(&settings).await.expect("the app builds");
    std::fs::remove_file(config).ok();
    app.public
}

/// A browser: a cookie jar over oneshot requests.
pub struct Browser {
    /// The app's public router.
    pub app: Router,
    /// The cookies set so far.
    pub cookies: BTreeMap<String, String>,
}

/// An answer as the browser sees it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Browser {
    pub fn new(app: Router) -> Self {
        Browser {
            app,
            cookies: BTreeMap::new(),
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.send_with(method, path, form, Some(BASE)).await
    }

    pub async fn send_with(
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
    pub async fn get(&mut self, path: &str) -> Page {
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

    /// Fills in and submits the flow form of a page (the form holding `button`), with the
    /// form's hidden inputs (the CSRF token, the address a code was sent to, …) as a browser
    /// sends them.
    pub async fn submit_flow(
        &mut self,
        page: &Page,
        fields: &[(&str, &str)],
        button: &str,
    ) -> Page {
        let form = form_containing(&page.body, button);
        let action = attr(&form, "action").expect("form action");
        assert!(hidden_value(&form, "csrf_token").is_some(), "csrf token");
        let hidden = hidden_inputs(&form);
        let (name, value) = button.split_once('=').unwrap();
        let mut pairs: Vec<(&str, &str)> = hidden
            .iter()
            .filter(|(k, _)| fields.iter().all(|(f, _)| f != k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push((name, value));
        pairs.extend_from_slice(fields);
        self.send("POST", &action, Some(&pairs)).await
    }
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// The `<form …>…</form>` holding a submit button `name="…" value="…"`.
pub fn form_containing(html: &str, button: &str) -> String {
    let (name, value) = button.split_once('=').unwrap();
    let needle = format!("name=\"{name}\" value=\"{value}\"");
    html.split("<form")
        .skip(1)
        .map(|f| f.split("</form>").next().unwrap().to_owned())
        .find(|f| f.contains(&needle))
        .unwrap_or_else(|| panic!("no form with {needle}"))
}

pub fn attr(fragment: &str, name: &str) -> Option<String> {
    let start = fragment.find(&format!("{name}=\""))? + name.len() + 2;
    let end = fragment[start..].find('"')? + start;
    Some(unescape(&fragment[start..end]))
}

/// The `(name, value)` of each `<input type="hidden" …>` of a form.
pub fn hidden_inputs(form: &str) -> Vec<(String, String)> {
    form.split("<input type=\"hidden\"")
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').unwrap()];
            (
                attr(tag, "name").unwrap(),
                attr(tag, "value").unwrap_or_default(),
            )
        })
        .collect()
}

pub fn hidden_value(form: &str, name: &str) -> Option<String> {
    let at = form.find(&format!("name=\"{name}\""))?;
    attr(&form[at..], "value")
}

pub async fn sign_up(b: &mut Browser, email: &str, name: &str) {
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
    // Signed in, and sent on to enter the verification code mailed to the new address.
    let to = done.location.unwrap_or_default();
    assert!(
        to.starts_with(&format!("{BASE}/verification?flow=")),
        "{to}"
    );
}

impl Browser {
    /// Submits a flow form and follows the answer (303) to the page it leads to.
    pub async fn submit_and_follow(
        &mut self,
        page: &Page,
        fields: &[(&str, &str)],
        button: &str,
    ) -> Page {
        let answer = self.submit_flow(page, fields, button).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        self.get(answer.location.as_deref().unwrap()).await
    }
}

/// Signs the browser out through the navigation bar's link.
pub async fn sign_out(b: &mut Browser) {
    let home = b.get("/").await;
    let at = home.body.find("id=\"sign-out\"").expect("signed in");
    let start = home.body[..at].rfind("<a ").unwrap();
    let logout = attr(&home.body[start..], "href").unwrap();
    let out = b.send("GET", &logout, None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!b.get("/").await.body.contains("id=\"signed-in-as\""));
}
