//! End-to-end: social sign-in in headless Chromium. A real OpenID Provider (kratos-test-peers'
//! `NodeProvider`, the npm `oidc-provider` package) runs on loopback with two clients whose
//! redirect URIs are the app's callbacks; the app binary runs with both as `generic`
//! providers (`node`, with the app's built-in claims mapper, and `second`, with the example's
//! `oidc/mapper.jsonnet` named by its `file://` URL). In one browser session a visitor signs
//! up with the first provider through its login and consent pages, signs out, signs in again
//! as the same identity, links the second provider on the settings page and unlinks it.
//!
//! Without chromedriver, Chromium or the provider's Node packages the test prints that it was
//! skipped; with `CI=true` it fails instead. `CHROMEDRIVER` and `CHROMIUM` override the
//! binaries' paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use kratos_test_peers::{NodeProvider, NodeProviderConfig};
use serde_json::{Value, json};
use support::{Processes, free_port, wait_for_port};

mod support;

const WAIT: Duration = Duration::from_secs(20);

/// Fails under `CI=true`, otherwise says the test was skipped.
fn skip_or_fail(missing: &str) {
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "CI=true and the social sign-in browser test cannot run: {missing}"
    );
    eprintln!("skipped: social sign-in browser test: {missing}");
}

/// The chromedriver and Chromium binaries and the provider's packages, or `None` (skip)
/// outside CI.
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let find = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let driver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = find("CHROMIUM", "/usr/bin/chromium");
    if !driver.exists() || !chromium.exists() {
        skip_or_fail(&format!(
            "{} or {} is missing (apt-get install chromium chromium-driver)",
            driver.display(),
            chromium.display()
        ));
        return None;
    }
    if !NodeProvider::is_installed() {
        skip_or_fail(&format!(
            "the OpenID Provider's packages are missing: run `npm ci --no-audit --no-fund` in {}",
            NodeProvider::node_dir().display()
        ));
        return None;
    }
    Some((driver, chromium))
}

/// The app's callback for `provider` under its public base URL.
fn callback(base: &str, provider: &str) -> String {
    format!("{base}/self-service/methods/oidc/callback/{provider}")
}

/// The provider, the app binary (development mode, a fresh SQLite file, both providers) and
/// chromedriver. Dropping it stops them all and removes the app's directory.
struct Stack {
    procs: Processes,
    provider: NodeProvider,
    dir: PathBuf,
    base: String,
    driver_url: String,
}

impl Stack {
    async fn start(driver_bin: &Path) -> Stack {
        let (public, admin, driver_port) = (free_port(), free_port(), free_port());
        let base = format!("http://127.0.0.1:{public}");
        let provider = NodeProvider::start(NodeProviderConfig {
            clients: vec![
                kratos_test_peers::Client::confidential(
                    "axum-app",
                    "axum-app-secret",
                    &callback(&base, "node"),
                ),
                kratos_test_peers::Client::confidential(
                    "axum-app-second",
                    "axum-app-second-secret",
                    &callback(&base, "second"),
                ),
            ],
            ..NodeProviderConfig::default()
        })
        .await
        .expect("the OpenID Provider starts");
        let dir = std::env::temp_dir().join(format!("axum-app-oidc-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc/mapper.jsonnet");
        std::fs::write(
            dir.join("kratos.yml"),
            format!(
                "secrets:
  default: [\"an-oidc-browser-test-secret-long-enough\"]
hashers:
  algorithm: bcrypt
  bcrypt:
    cost: 4
selfservice:
  methods:
    oidc:
      enabled: true
      config:
        providers:
          - id: node
            provider: generic
            label: Node
            client_id: axum-app
            client_secret: axum-app-secret
            issuer_url: {issuer}
            scope: [email, profile]
          - id: second
            provider: generic
            label: Second
            client_id: axum-app-second
            client_secret: axum-app-second-secret
            issuer_url: {issuer}
            scope: [email, profile]
            mapper_url: file://{mapper}
",
                issuer = provider.issuer(),
                mapper = mapper.display(),
            ),
        )
        .unwrap();
        let mut procs = Processes(Vec::new());
        let app = Command::new(env!("CARGO_BIN_EXE_axum-app"))
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--public", &format!("127.0.0.1:{public}")])
            .args(["--admin", &format!("127.0.0.1:{admin}")])
            .args(["--database", &format!("sqlite://{}/app.db", dir.display())])
            .args(["--config", "kratos.yml"])
            .arg("--dev")
            .stdout(Stdio::null())
            .spawn()
            .expect("the app starts");
        procs.0.push(app);
        let driver = Command::new(driver_bin)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        procs.0.push(driver);
        wait_for_port(public, "the app", &mut procs.0[0]);
        wait_for_port(driver_port, "chromedriver", &mut procs.0[1]);
        Stack {
            procs,
            provider,
            dir,
            base,
            driver_url: format!("http://127.0.0.1:{driver_port}"),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for c in &mut self.procs.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A headless Chromium window that resolves no name but the loopback address.
async fn open_window(driver: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1200,900",
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a WebDriver session starts")
}

/// Whether a WebDriver error says the page changed under the command.
fn navigating(e: &fantoccini::error::CmdError) -> bool {
    e.is_stale_element_reference() || e.to_string().contains("does not belong to the document")
}

/// Waits for `css` and returns its text, finding it again when a navigation made it stale.
async fn wait_text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await;
        let el = match found {
            Ok(el) => el,
            Err(e) if navigating(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => panic!("no `{css}` on {:?}: {e}", client.current_url().await),
        };
        match el.text().await {
            Ok(text) => return text,
            Err(e) if navigating(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("`{css}`: {e}"),
        }
    }
}

/// Clicks `css` (waiting for it) and waits until the page it was on is gone.
async fn click_away(client: &Client, css: &str) {
    let el = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("nothing to click at `{css}`: {e}"));
    el.click()
        .await
        .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
    let deadline = Instant::now() + WAIT;
    while el.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "`{css}` did not leave its page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Goes through the provider's pages until the browser is back on the app: the login page
/// (as `login`, any password), then the consent page. A provider that remembers the browser
/// (its session, an earlier consent of the same client) skips them.
async fn through_provider(client: &Client, issuer: &str, app_base: &str, login: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "still at {:?} instead of back on the app",
            client.current_url().await
        );
        let url = client.current_url().await.expect("the current URL");
        if url.as_str().starts_with(app_base)
            && !url.path().starts_with("/self-service/")
            && client.find(Locator::Css("h1")).await.is_ok()
        {
            return;
        }
        if url.as_str().starts_with(issuer) {
            if let Ok(field) = client.find(Locator::Css("input[name=login]")).await {
                field.send_keys(login).await.expect("type the login");
                client
                    .find(Locator::Css("input[name=password]"))
                    .await
                    .expect("a password field")
                    .send_keys("any password at all")
                    .await
                    .expect("type the password");
                click_away(client, "button[type=submit]").await;
                continue;
            }
            if client
                .find(Locator::Css("input[name=prompt][value=consent]"))
                .await
                .is_ok()
            {
                click_away(client, "button[type=submit]").await;
                continue;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The browser's session, as `GET /sessions/whoami` answers it to the page.
async fn whoami(client: &Client) -> Value {
    client
        .execute(
            "return fetch('/sessions/whoami', {headers: {Accept: 'application/json'}})\
             .then(r => r.json())",
            Vec::new(),
        )
        .await
        .expect("whoami from the page")
}

/// Asserts that the session is active, by the `oidc` method through `provider`.
fn assert_signed_in_by(session: &Value, provider: &str) {
    assert_eq!(session["active"], true, "{session}");
    let method = &session["authentication_methods"][0];
    assert_eq!(method["method"], "oidc", "{session}");
    assert_eq!(method["provider"], provider, "{session}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_in_with_a_provider_then_link_and_unlink_another() {
    let Some((driver_bin, chromium)) = prerequisites() else {
        return;
    };
    let stack = Stack::start(&driver_bin).await;
    let client = open_window(&stack.driver_url, &chromium).await;
    let (base, issuer) = (stack.base.as_str(), stack.provider.issuer());

    // Ada signs up with the first provider: its login page (any password), its consent page,
    // and back on the app she is signed in, her email and name taken from the claims.
    client.goto(&format!("{base}/registration")).await.unwrap();
    assert_eq!(
        wait_text(&client, "button[name=provider][value=node]").await,
        "Sign up with Node"
    );
    click_away(&client, "button[name=provider][value=node]").await;
    through_provider(&client, issuer, base, "ada").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "ada Tester");
    let session = whoami(&client).await;
    assert_signed_in_by(&session, "node");
    let identity = session["identity"].clone();
    assert_eq!(identity["traits"]["email"], "ada@example.test");
    assert_eq!(identity["traits"]["name"], "ada Tester");
    // The provider said the address is verified, and the mapper passed that on.
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);

    // She signs out, then signs in with the same provider: the same identity.
    click_away(&client, "#sign-out").await;
    wait_text(&client, "a.btn[href='/registration']").await;
    assert_eq!(whoami(&client).await["error"]["code"], 401);
    client.goto(&format!("{base}/login")).await.unwrap();
    assert_eq!(
        wait_text(&client, "button[name=provider][value=node]").await,
        "Sign in with Node"
    );
    click_away(&client, "button[name=provider][value=node]").await;
    through_provider(&client, issuer, base, "ada").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "ada Tester");
    let session = whoami(&client).await;
    assert_signed_in_by(&session, "node");
    assert_eq!(session["identity"]["id"], identity["id"]);
    assert_eq!(session["identity"]["traits"]["email"], "ada@example.test");

    // On the settings page she links the second provider (its consent page: the provider
    // knows her already) and unlinks it again. (The first provider may be unlinked too: she
    // could still sign in with a code sent to her verified address.)
    client.goto(&format!("{base}/settings")).await.unwrap();
    assert_eq!(
        wait_text(&client, "form[data-group=oidc] h2").await,
        "Linked accounts"
    );
    assert_eq!(
        wait_text(&client, "button[name=link][value=second]").await,
        "Link Second"
    );
    wait_text(&client, "button[name=unlink][value=node]").await;
    click_away(&client, "button[name=link][value=second]").await;
    through_provider(&client, issuer, base, "ada").await;
    assert_eq!(
        wait_text(&client, "button[name=unlink][value=second]").await,
        "Unlink Second"
    );
    wait_text(&client, "button[name=unlink][value=node]").await;
    assert!(
        client
            .find(Locator::Css("button[name=link][value=second]"))
            .await
            .is_err(),
        "a linked provider is offered for unlinking only"
    );
    click_away(&client, "button[name=unlink][value=second]").await;
    assert_eq!(
        wait_text(&client, "button[name=link][value=second]").await,
        "Link Second"
    );
    assert!(
        client
            .find(Locator::Css("button[name=unlink][value=second]"))
            .await
            .is_err(),
        "an unlinked provider is offered for linking only"
    );
    // Still the same person, still signed in.
    let session = whoami(&client).await;
    assert_eq!(session["active"], true, "{session}");
    assert_eq!(session["identity"]["id"], identity["id"]);
    client.close().await.expect("the browser closes");
}
