//! End-to-end: signing up and signing in with a passkey, and a security key as a second
//! factor (added and removed on `/security`), in headless Chromium, with a WebDriver
//! virtual authenticator (the W3C WebAuthn extension of WebDriver) standing in for the
//! platform's. The app binary runs on a free port with a fresh SQLite file and is reached as
//! `localhost` (a relying party id must be a domain, never an IP address), which is also its
//! public base URL, so the app names `localhost` as the relying party.
//!
//! Without chromedriver or Chromium the test prints that it was skipped; with `CI=true` it
//! fails instead. `CHROMEDRIVER` and `CHROMIUM` override the binaries' paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Processes, free_port, wait_for_port};

mod support;

const WAIT: Duration = Duration::from_secs(15);

/// The chromedriver and Chromium binaries, or `None` (skip) outside CI.
fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    let find = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let driver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = find("CHROMIUM", "/usr/bin/chromium");
    if driver.exists() && chromium.exists() {
        return Some((driver, chromium));
    }
    let missing = format!(
        "{} or {} is missing (apt-get install chromium chromium-driver)",
        driver.display(),
        chromium.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the passkey browser test cannot run: {missing}");
    }
    eprintln!("skipped: passkey browser test: {missing}");
    None
}

/// A POST of a WebDriver extension command to `/session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: Value,
}

impl Extension {
    /// `webauthn/authenticator`: adds a virtual authenticator to the session, a platform
    /// authenticator (CTAP2, internal transport) that keeps discoverable credentials and
    /// verifies its user without asking.
    fn add_virtual_authenticator() -> Extension {
        Extension {
            path: "webauthn/authenticator",
            body: json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            }),
        }
    }

    /// chromedriver's `goog/cdp/execute`: runs `source` in every page before its own
    /// scripts.
    fn before_each_page(source: &str) -> Extension {
        Extension {
            path: "goog/cdp/execute",
            body: json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": {"source": source},
            }),
        }
    }
}

impl WebDriverCompatibleCommand for Extension {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let id = session_id.ok_or(url::ParseError::EmptyHost)?;
        base_url.join(&format!("session/{id}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.body.to_string()))
    }
}

/// The app binary (development mode, a fresh SQLite file, public base URL on `localhost`) and
/// chromedriver, on free ports. Dropping it stops both and removes the app's directory.
struct Stack {
    procs: Processes,
    dir: PathBuf,
    base: String,
    driver_url: String,
}

impl Stack {
    fn start(driver_bin: &Path) -> Stack {
        let dir = std::env::temp_dir().join(format!("axum-app-passkey-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (public, admin, driver_port) = (free_port(), free_port(), free_port());
        let base = format!("http://localhost:{public}");
        std::fs::write(
            dir.join("kratos.yml"),
            format!(
                "secrets:\n  default: [\"a-passkey-test-secret-long-enough\"]\n\
                 serve:\n  public:\n    base_url: {base}/\n"
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

/// A headless Chromium window with a virtual authenticator.
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
                "--window-size=1200,900",
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a WebDriver session starts");
    let added = client
        .issue_cmd(Extension::add_virtual_authenticator())
        .await
        .expect("chromedriver adds a virtual authenticator");
    assert!(
        added.as_str().is_some_and(|id| !id.is_empty()),
        "an authenticator id, not {added}"
    );
    client
}

/// Waits for `css` and returns its text, finding it again when a navigation made it stale.
async fn wait_text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let el = match client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            // Chromium reports an element of a page being replaced as an inspector error.
            Err(e)
                if e.to_string().contains("does not belong to the document")
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => panic!("no `{css}`: {e}"),
        };
        match el.text().await {
            Ok(text) => return text,
            Err(e)
                if (e.is_stale_element_reference()
                    || e.to_string().contains("does not belong to the document"))
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("`{css}`: {e}"),
        }
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let el = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no field `{css}`: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("nothing to click at `{css}`: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
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

/// Signs out and waits for the signed-out home page.
async fn sign_out(client: &Client) {
    click(client, "#sign-out").await;
    wait_text(client, "a.btn[href='/registration']").await;
    assert_eq!(whoami(client).await["error"]["code"], 401);
}

/// Asserts that the browser's session is this identity's, made by a passkey at aal1.
async fn assert_signed_in_by_passkey(client: &Client, identity: &Value) {
    let session = whoami(client).await;
    assert_eq!(session["active"], true, "{session}");
    assert_eq!(&session["identity"]["id"], identity);
    assert_eq!(session["authentication_methods"][0]["method"], "passkey");
    assert_eq!(session["authenticator_assurance_level"], "aal1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_sign_in_with_a_passkey_then_add_and_remove_a_security_key() {
    let Some((driver_bin, chromium)) = browser_or_skip() else {
        return;
    };
    let stack = Stack::start(&driver_bin);
    let client = open_window(&stack.driver_url, &chromium).await;
    let base = &stack.base;

    // Grace signs up with a passkey: the authenticator makes one, the form is submitted with
    // it, and she is signed in.
    client.goto(&format!("{base}/registration")).await.unwrap();
    fill(&client, "input[name='traits.email']", "grace@example.com").await;
    fill(&client, "input[name='traits.name']", "Grace Hopper").await;
    assert_eq!(
        wait_text(&client, "button[name=passkey_register_trigger]").await,
        "Sign up with passkey"
    );
    click(&client, "button[name=passkey_register_trigger]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Grace Hopper");
    let session = whoami(&client).await;
    assert_eq!(session["active"], true, "{session}");
    assert_eq!(session["identity"]["traits"]["email"], "grace@example.com");
    assert_eq!(session["authentication_methods"][0]["method"], "passkey");
    let identity = session["identity"]["id"].clone();

    // She signs out and opens the sign-in page: Chromium offers her passkey in the
    // identifier's autofill (the page's `onloadTrigger`, a conditional request), and the
    // virtual authenticator, which asks no one, picks it at once: she is signed in.
    sign_out(&client).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Grace Hopper");
    assert_signed_in_by_passkey(&client, &identity).await;

    // In a browser without passkey autofill she signs in with the button.
    sign_out(&client).await;
    client
        .issue_cmd(Extension::before_each_page(
            "PublicKeyCredential.isConditionalMediationAvailable = \
             () => Promise.resolve(false)",
        ))
        .await
        .expect("chromedriver runs a script before each page");
    client.goto(&format!("{base}/login")).await.unwrap();
    assert_eq!(
        wait_text(&client, "button[name=passkey_login_trigger]").await,
        "Sign in with passkey"
    );
    click(&client, "button[name=passkey_login_trigger]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Grace Hopper");
    assert_signed_in_by_passkey(&client, &identity).await;

    // On the security page she adds a security key (the same authenticator) as a second
    // factor, named "Laptop key".
    client.goto(&format!("{base}/security")).await.unwrap();
    assert!(
        wait_text(&client, "#keys-status")
            .await
            .contains("Name it, then add it")
    );
    fill(
        &client,
        "input[name=webauthn_register_displayname]",
        "Laptop key",
    )
    .await;
    click(&client, "button[name=webauthn_register_trigger]").await;
    assert_eq!(
        wait_text(&client, "button[name=webauthn_remove]").await,
        "Remove security key \"Laptop key\""
    );
    assert!(
        wait_text(&client, "#keys-status")
            .await
            .contains("1 security key:")
    );

    // Signing in with the passkey now asks for the key too.
    sign_out(&client).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    click(&client, "button[name=passkey_login_trigger]").await;
    assert_eq!(
        wait_text(&client, "button[name=webauthn_login_trigger]").await,
        "Sign in with a hardware key"
    );
    click(&client, "button[name=webauthn_login_trigger]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Grace Hopper");
    let session = whoami(&client).await;
    assert_eq!(
        session["authenticator_assurance_level"], "aal2",
        "{session}"
    );
    assert_eq!(session["authentication_methods"][0]["method"], "passkey");
    assert_eq!(session["authentication_methods"][1]["method"], "webauthn");

    // She removes the key.
    client.goto(&format!("{base}/security")).await.unwrap();
    click(&client, "button[name=webauthn_remove]").await;
    let deadline = Instant::now() + WAIT;
    while !wait_text(&client, "#keys-status")
        .await
        .contains("Name it, then add it")
    {
        assert!(Instant::now() < deadline, "the key is still listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        client
            .find(Locator::Css("button[name=webauthn_remove]"))
            .await
            .is_err()
    );

    client.close().await.unwrap();
}

#[tokio::test]
async fn a_password_account_adds_a_security_key_signs_in_with_password_then_key_and_removes_it() {
    let Some((driver_bin, chromium)) = browser_or_skip() else {
        return;
    };
    let stack = Stack::start(&driver_bin);
    let client = open_window(&stack.driver_url, &chromium).await;
    let base = &stack.base;
    // No passkey autofill: this account has none, and the sign-in page must wait for the
    // password.
    client
        .issue_cmd(Extension::before_each_page(
            "PublicKeyCredential.isConditionalMediationAvailable = \
             () => Promise.resolve(false)",
        ))
        .await
        .expect("chromedriver runs a script before each page");

    // Hal signs up with a password.
    client.goto(&format!("{base}/registration")).await.unwrap();
    fill(&client, "input[name='traits.email']", "hal@example.com").await;
    fill(&client, "input[name='traits.name']", "Hal Abelson").await;
    fill(&client, "input[name=password]", "a sturdy pass phrase 42").await;
    click(&client, "button[name=method][value=password]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Hal Abelson");

    // He adds a security key as a second factor on the security page.
    client.goto(&format!("{base}/security")).await.unwrap();
    fill(
        &client,
        "input[name=webauthn_register_displayname]",
        "Desk key",
    )
    .await;
    click(&client, "button[name=webauthn_register_trigger]").await;
    assert_eq!(
        wait_text(&client, "button[name=webauthn_remove]").await,
        "Remove security key \"Desk key\""
    );

    // Signing in with his password now asks for the key, which completes it at aal2.
    sign_out(&client).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    fill(&client, "input[name=identifier]", "hal@example.com").await;
    fill(&client, "input[name=password]", "a sturdy pass phrase 42").await;
    click(&client, "button[name=method][value=password]").await;
    assert_eq!(
        wait_text(&client, "button[name=webauthn_login_trigger]").await,
        "Sign in with a hardware key"
    );
    click(&client, "button[name=webauthn_login_trigger]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Hal Abelson");
    let session = whoami(&client).await;
    assert_eq!(
        session["authenticator_assurance_level"], "aal2",
        "{session}"
    );
    assert_eq!(session["authentication_methods"][0]["method"], "password");
    assert_eq!(session["authentication_methods"][1]["method"], "webauthn");

    // He removes the key; the next sign-in needs the password only.
    client.goto(&format!("{base}/security")).await.unwrap();
    click(&client, "button[name=webauthn_remove]").await;
    let deadline = Instant::now() + WAIT;
    while client
        .find(Locator::Css("button[name=webauthn_remove]"))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the key is still listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sign_out(&client).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    fill(&client, "input[name=identifier]", "hal@example.com").await;
    fill(&client, "input[name=password]", "a sturdy pass phrase 42").await;
    click(&client, "button[name=method][value=password]").await;
    assert_eq!(wait_text(&client, "#signed-in-as").await, "Hal Abelson");
    assert_eq!(
        whoami(&client).await["authenticator_assurance_level"],
        "aal1"
    );

    client.close().await.unwrap();
}
