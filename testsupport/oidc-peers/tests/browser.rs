//! Headless Chromium (Debian's `chromium` and `chromium-driver`) through the Node.js
//! provider's login and consent pages on plain-http loopback: its cookies hold, and the
//! browser lands on the client's callback with a code that the token endpoint takes.
//!
//! Without chromedriver, Chromium or the Node packages the test prints that it was skipped;
//! with `CI=true` it fails instead. `CHROMEDRIVER` and `CHROMIUM` override the binaries' paths.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::response::Html;
use common::{pkce, url_with};
use fantoccini::{ClientBuilder, Locator};
use kratos_test_peers::{Client, NodeProvider, NodeProviderConfig};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// chromedriver, killed when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn skip_or_fail(missing: &str) {
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
        "CI=true and the browser test cannot run: {missing}"
    );
    eprintln!("skipped: browser test: {missing}");
}

async fn find(client: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(el) => el,
        Err(e) => panic!("no `{css}` on {:?}: {e}", client.current_url().await),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_and_consents_on_plain_http() {
    let driver =
        PathBuf::from(std::env::var("CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into()));
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    if !driver.exists() || !chromium.exists() {
        return skip_or_fail(
            "chromedriver or chromium is missing (apt-get install chromium chromium-driver)",
        );
    }
    if !NodeProvider::is_installed() {
        return skip_or_fail(&format!(
            "run `npm ci --no-audit --no-fund` in {}",
            NodeProvider::node_dir().display()
        ));
    }

    // The client's callback: records the query it is called with.
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callback = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().expect("addr").port()
    );
    let app = axum::Router::new()
        .route(
            "/callback",
            axum::routing::get(
                |State(seen): State<Arc<Mutex<Option<String>>>>, RawQuery(query): RawQuery| async move {
                    *seen.lock().expect("lock") = query;
                    Html("<h1>callback</h1>")
                },
            ),
        )
        .with_state(Arc::clone(&seen));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let provider = NodeProvider::start(NodeProviderConfig {
        pkce_required: true,
        ..NodeProviderConfig::with_client(Client::confidential("app", "app-secret", &callback))
    })
    .await
    .expect("provider");

    let driver_port = free_port();
    let _driver = Driver(
        Command::new(&driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], driver_port)),
        Duration::from_millis(200),
    )
    .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caps = serde_json::json!({"goog:chromeOptions": {"binary": chromium, "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        // Nothing but loopback resolves: the test never reaches the internet.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]}});
    let caps = caps.as_object().expect("an object literal").clone();
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session starts");

    let (verifier, challenge) = pkce();
    let url = url_with(
        &format!("{}/auth", provider.issuer()),
        &[
            ("client_id", "app"),
            ("redirect_uri", &callback),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("state", "browser-state"),
            ("nonce", "browser-nonce"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    client.goto(&url).await.expect("goto");
    find(&client, "input[name=login]")
        .await
        .send_keys("heidi")
        .await
        .expect("type the login");
    find(&client, "input[name=password]")
        .await
        .send_keys("anything")
        .await
        .expect("type the password");
    find(&client, "button[type=submit]")
        .await
        .click()
        .await
        .expect("sign in");
    find(&client, "input[name=prompt][value=consent]").await;
    find(&client, "button[type=submit]")
        .await
        .click()
        .await
        .expect("consent");
    find(&client, "h1").await;
    let landed = client.current_url().await.expect("current URL");
    client.close().await.expect("close");
    assert_eq!(landed.path(), "/callback");
    let query = seen
        .lock()
        .expect("lock")
        .clone()
        .expect("the callback was called");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("state").as_deref(), Some("browser-state"));
    let code = get("code").expect("a code");

    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", provider.issuer()))
        .basic_auth("app", Some("app-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("JSON");
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let claims = common::verify_id_token(
        id_token,
        &format!("{}/jwks", provider.issuer()),
        provider.issuer(),
        "app",
    )
    .await
    .expect("a valid ID token");
    assert_eq!(
        claims["sub"],
        serde_json::json!(provider.account("heidi").sub)
    );
    assert_eq!(claims["nonce"], serde_json::json!("browser-nonce"));
    server.abort();
}
