//! End-to-end: the app binary on free ports with a fresh SQLite file, driven in headless
//! Chromium through chromedriver (Debian's `chromium` and `chromium-driver`). The app runs in
//! development mode (`--dev`, no `--smtp`), so mail goes to the development mailbox, where the
//! walk reads its verification, sign-in, sign-up and recovery codes.
//!
//! Without chromedriver or Chromium the test prints that it was skipped; with `CI=true` it
//! fails instead. `CHROMEDRIVER` and `CHROMIUM` override the binaries' paths. With
//! `AXUM_APP_SCREENSHOTS=DIR` it saves a screenshot of each step there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use support::{Processes, free_port, wait_for_port};

mod support;
use serde_json::json;

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
        panic!("CI=true and the browser test cannot run: {missing}");
    }
    eprintln!("skipped: browser test: {missing}");
    None
}

/// Whether a WebDriver error says the page changed under the command (Chromium reports an
/// element of the page being replaced as an inspector error, not always as a stale element).
fn navigating(e: &fantoccini::error::CmdError) -> bool {
    e.is_stale_element_reference() || e.to_string().contains("does not belong to the document")
}

/// A browser window with a few helpers for forms.
struct Window {
    client: Client,
    base: String,
    shots: Option<PathBuf>,
    name: &'static str,
    step: usize,
}

const WAIT: Duration = Duration::from_secs(15);

impl Window {
    async fn open(driver: &str, chromium: &Path, base: &str, name: &'static str) -> Window {
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
        Window {
            client,
            base: base.to_owned(),
            shots: std::env::var_os("AXUM_APP_SCREENSHOTS").map(PathBuf::from),
            name,
            step: 0,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigation");
    }

    /// Finds `css` (waiting for it) and runs `op` on it. When the page changes between the
    /// two (the element went stale: a navigation was still under way), it finds the element
    /// on the new page and tries again, until `WAIT` runs out.
    async fn with_element<T, F, Fut>(&self, css: &str, what: &str, op: F) -> T
    where
        F: Fn(fantoccini::elements::Element) -> Fut,
        Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            let el = match self
                .client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(css))
                .await
            {
                Ok(el) => el,
                Err(e) if navigating(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => panic!("{}: {what} `{css}`: {e}", self.name),
            };
            match op(el).await {
                Ok(v) => return v,
                Err(e)
                    if (e.is_stale_element_reference() || navigating(&e))
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{}: {what} `{css}`: {e}", self.name),
            }
        }
    }

    /// Waits for an element (after a navigation) and returns its text.
    async fn wait_text(&self, css: &str) -> String {
        self.with_element(css, "no", |el| async move { el.text().await })
            .await
    }

    /// Waits until the text of `css` contains `needle` (the old page may still show the
    /// element while a form submission loads the new one) and returns the text.
    async fn wait_text_containing(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.wait_text(css).await;
            if text.contains(needle) || Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        self.with_element(css, "no field", |el| async move {
            el.clear().await?;
            el.send_keys(text).await
        })
        .await
    }

    async fn click(&self, css: &str) {
        self.with_element(
            css,
            "nothing to click at",
            |el| async move { el.click().await },
        )
        .await
    }

    /// Waits until the browser is on `path` (after a click that navigates away from a page
    /// sharing elements with the next one, such as the signed-in navigation bar).
    async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        while self.path().await != path {
            assert!(
                Instant::now() < deadline,
                "{}: still on {} instead of {path}",
                self.name,
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    async fn shot(&mut self, label: &str) {
        if let Some(dir) = &self.shots {
            self.step += 1;
            let png = self.client.screenshot().await.unwrap();
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                dir.join(format!("{}-{:02}-{label}.png", self.name, self.step)),
                png,
            )
            .unwrap();
        }
    }

    /// Opens the development mailbox until the newest mail to `to` has this subject (the
    /// courier delivers it within a second or so), and returns the code it carries.
    async fn newest_code(&self, to: &str, subject: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            self.goto("/mailbox").await;
            self.wait_text("h1").await;
            let newest = self
                .client
                .find(Locator::Css(&format!(
                    "article.mail[data-recipient='{to}']"
                )))
                .await;
            if let Ok(mail) = newest {
                let title = mail
                    .find(Locator::Css(".mail-subject"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if title == subject {
                    let body = mail
                        .find(Locator::Css(".mail-body"))
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    return body
                        .split_whitespace()
                        .find(|w| w.len() == 6 && w.bytes().all(|c| c.is_ascii_digit()))
                        .unwrap_or_else(|| panic!("{}: no code in {body}", self.name))
                        .to_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{}: no mail `{subject}` to {to} in the mailbox",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("input[name=identifier]", email).await;
        self.fill("input[name=password]", password).await;
        self.click("button[name=method][value=password]").await;
    }
}

const PASSWORD: &str = "first pass phrase 1";
const NEW_PASSWORD: &str = "second pass phrase 2";
const RECOVERED_PASSWORD: &str = "third pass phrase 3";

/// The app binary (in development mode, with a fresh SQLite file and bcrypt cost 4) and
/// chromedriver, on free ports. Dropping it stops both and removes the app's directory.
struct Stack {
    procs: Processes,
    dir: PathBuf,
    base: String,
    driver_url: String,
    chromium: PathBuf,
}

impl Stack {
    fn start(driver_bin: &Path, chromium: PathBuf) -> Stack {
        let dir = std::env::temp_dir().join(format!("axum-app-e2e-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kratos.yml"),
            "secrets:\n  default: [\"a-browser-test-secret-long-enough\"]\n\
             hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
        )
        .unwrap();
        let (public, admin, driver_port) = (free_port(), free_port(), free_port());
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
            base: format!("http://127.0.0.1:{public}"),
            driver_url: format!("http://127.0.0.1:{driver_port}"),
            chromium,
        }
    }

    /// A new browser window on the app.
    async fn window(&self, name: &'static str) -> Window {
        Window::open(&self.driver_url, &self.chromium, &self.base, name).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_change_password_share_a_document_and_recover_the_account() {
    let Some((driver_bin, chromium)) = browser_or_skip() else {
        return;
    };
    let started = Instant::now();
    let stack = Stack::start(&driver_bin, chromium);

    let (mut ada, mut bob) = tokio::join!(stack.window("ada"), stack.window("bob"));

    // Ada signs up, is signed in and lands on the form for the code mailed to her address.
    ada.goto("/registration").await;
    ada.fill("input[name='traits.email']", "ada@example.com")
        .await;
    ada.fill("input[name='traits.name']", "Ada Lovelace").await;
    ada.fill("input[name=password]", PASSWORD).await;
    ada.shot("sign-up").await;
    ada.click("button[name=method][value=password]").await;
    ada.wait_text("input[name=code]").await;
    assert_eq!(ada.path().await, "/verification");
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");
    ada.shot("verify-after-sign-up").await;
    let verification_url = ada.client.current_url().await.unwrap();
    let code = ada
        .newest_code("ada@example.com", "Your verification code")
        .await;
    ada.client.goto(verification_url.as_str()).await.unwrap();
    ada.fill("input[name=code]", &code).await;
    ada.click("button[name=method][value=code]").await;
    ada.wait_text("#continue").await;
    let page = ada.wait_text("main").await;
    assert!(
        page.contains("You successfully verified your email address."),
        "{page}"
    );
    ada.click("#continue").await;
    ada.wait_path("/").await;
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");
    assert!(ada.client.find(Locator::Css("#verify-hint")).await.is_err());
    ada.shot("home").await;

    // She signs out.
    ada.click("#sign-out").await;
    ada.wait_text("a.btn[href='/registration']").await;
    assert!(
        ada.client
            .find(Locator::Css("#signed-in-as"))
            .await
            .is_err()
    );

    // A wrong password shows the flow's error message; the right one signs her in.
    ada.sign_in("ada@example.com", "not my password").await;
    let error = ada.wait_text(".kr-msg-error").await;
    assert!(error.contains("credentials are invalid"), "{error}");
    ada.shot("wrong-password").await;
    ada.fill("input[name=identifier]", "ada@example.com").await;
    ada.fill("input[name=password]", PASSWORD).await;
    ada.click("button[name=method][value=password]").await;
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");

    // She changes her password in the settings.
    ada.goto("/settings").await;
    ada.fill(
        "form[data-group=password] input[name=password]",
        NEW_PASSWORD,
    )
    .await;
    ada.click("form[data-group=password] button[name=method][value=password]")
        .await;
    let saved = ada.wait_text(".flow-messages .kr-msg-success").await;
    assert_eq!(saved, "Your changes have been saved!");
    ada.shot("settings").await;

    // Bob signs up in his own browser.
    bob.goto("/registration").await;
    bob.fill("input[name='traits.email']", "bob@example.com")
        .await;
    bob.fill("input[name='traits.name']", "Bob Babbage").await;
    bob.fill("input[name=password]", "bobs own pass phrase")
        .await;
    bob.click("button[name=method][value=password]").await;
    bob.wait_text("input[name=code]").await;
    assert_eq!(bob.path().await, "/verification");
    // He verifies later.
    bob.click("#skip-verification").await;
    bob.wait_path("/").await;
    assert_eq!(bob.wait_text("#signed-in-as").await, "Bob Babbage");
    bob.wait_text("#verify-hint").await;

    // Ada creates a document and shares it with Bob as viewer.
    ada.goto("/documents/new").await;
    ada.fill("#title", "Notes on the Analytical Engine").await;
    ada.fill("#body", "It might act upon other things besides number.")
        .await;
    ada.click("button[type=submit]").await;
    assert_eq!(
        ada.wait_text("#document-title").await,
        "Notes on the Analytical Engine"
    );
    let doc_path = ada.path().await;
    ada.fill("#share-email", "bob@example.com").await;
    ada.client
        .find(Locator::Css("#share-role"))
        .await
        .unwrap()
        .select_by_value("viewer")
        .await
        .unwrap();
    ada.click("#share-user button[type=submit]").await;
    let sharing = ada
        .wait_text_containing("#sharing table", "Bob Babbage")
        .await;
    assert!(sharing.contains("Bob Babbage"), "{sharing}");
    ada.shot("shared").await;

    // Bob finds it in his list, can open it but not edit it.
    bob.goto("/documents").await;
    let list = bob.wait_text("#documents").await;
    assert!(list.contains("Notes on the Analytical Engine"), "{list}");
    bob.click("#documents a").await;
    assert_eq!(
        bob.wait_text("#document-title").await,
        "Notes on the Analytical Engine"
    );
    assert_eq!(bob.wait_text("#access").await, "viewer");
    assert!(
        bob.client
            .find(Locator::Css("#edit-document"))
            .await
            .is_err()
    );
    assert!(bob.client.find(Locator::Css("#sharing")).await.is_err());
    bob.shot("viewer").await;
    bob.goto(&format!("{doc_path}/edit")).await;
    let denied = bob.wait_text("h1").await;
    assert_eq!(denied, "You don’t have access");
    bob.shot("no-edit").await;

    // Ada's new password is the one that works now.
    ada.click("#sign-out").await;
    ada.wait_text("a.btn[href='/registration']").await;
    ada.sign_in("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");

    // She forgets it and recovers her account with a code read in the development mailbox.
    ada.click("#sign-out").await;
    ada.wait_text("a.btn[href='/registration']").await;
    ada.goto("/login").await;
    ada.click("#forgot-password").await;
    ada.fill("input[name=email]", "ada@example.com").await;
    ada.shot("recovery").await;
    ada.click("button[name=method][value=code]").await;
    ada.wait_text("input[name=code]").await;
    let recovery_url = ada.client.current_url().await.unwrap();
    ada.click("#mailbox-hint a").await;
    let code = ada
        .newest_code("ada@example.com", "Your account recovery code")
        .await;
    ada.shot("mailbox").await;
    ada.client.goto(recovery_url.as_str()).await.unwrap();
    ada.fill("input[name=code]", &code).await;
    ada.click("button[name=method][value=code]").await;
    ada.wait_text("#recovered-notice").await;
    assert_eq!(ada.path().await, "/settings");
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");
    ada.shot("recovered").await;
    ada.fill(
        "form[data-group=password] input[name=password]",
        RECOVERED_PASSWORD,
    )
    .await;
    ada.click("form[data-group=password] button[name=method][value=password]")
        .await;
    let saved = ada.wait_text(".flow-messages .kr-msg-success").await;
    assert_eq!(saved, "Your changes have been saved!");
    ada.click("#sign-out").await;
    ada.wait_text("a.btn[href='/registration']").await;
    ada.sign_in("ada@example.com", RECOVERED_PASSWORD).await;
    assert_eq!(ada.wait_text("#signed-in-as").await, "Ada Lovelace");

    // Bob signs out and back in with a code sent to his address: the password field is
    // left empty, and the browser's checks of it do not stop the code button.
    bob.click("#sign-out").await;
    bob.wait_text("a.btn[href='/registration']").await;
    bob.goto("/login").await;
    bob.fill("input[name=identifier]", "bob@example.com").await;
    bob.shot("sign-in-by-code").await;
    bob.click("button[name=method][value=code]").await;
    bob.wait_text("input[name=code]").await;
    assert_eq!(bob.path().await, "/login");
    assert!(
        bob.client
            .find(Locator::Css("input[name=password]"))
            .await
            .is_err()
    );
    let login_url = bob.client.current_url().await.unwrap();
    let code = bob
        .newest_code("bob@example.com", "Your sign-in code")
        .await;
    bob.client.goto(login_url.as_str()).await.unwrap();
    bob.fill("input[name=code]", &code).await;
    bob.shot("sign-in-code").await;
    bob.click("button[name=method][value=code]").await;
    assert_eq!(bob.wait_text("#signed-in-as").await, "Bob Babbage");
    assert_eq!(bob.path().await, "/");

    // Cleo signs up with a code instead of a password, which verifies her address too.
    let mut cleo = stack.window("cleo").await;
    cleo.goto("/registration").await;
    cleo.fill("input[name='traits.email']", "cleo@example.com")
        .await;
    cleo.fill("input[name='traits.name']", "Cleo Code").await;
    cleo.click("button[name=method][value=code]").await;
    cleo.wait_text("input[name=code]").await;
    assert_eq!(cleo.path().await, "/registration");
    let registration_url = cleo.client.current_url().await.unwrap();
    let code = cleo
        .newest_code("cleo@example.com", "Finish signing up")
        .await;
    cleo.client.goto(registration_url.as_str()).await.unwrap();
    cleo.fill("input[name=code]", &code).await;
    cleo.click("button[name=method][value=code]").await;
    assert_eq!(cleo.wait_text("#signed-in-as").await, "Cleo Code");
    assert_eq!(cleo.path().await, "/");
    assert!(
        cleo.client
            .find(Locator::Css("#verify-hint"))
            .await
            .is_err()
    );
    cleo.shot("signed-up-by-code").await;
    cleo.client.close().await.unwrap();

    let (a, b) = tokio::join!(ada.client.close(), bob.client.close());
    a.unwrap();
    b.unwrap();
    drop(stack);
    eprintln!("browser walk took {:.1?}", started.elapsed());
}

/// The authenticator app's code `ahead` seconds from now, for the secret the security page
/// showed.
fn totp_code(secret: &str, ahead: u64) -> String {
    let key = kratos_core::strategy::totp::otp::TotpKey::from_url(&format!(
        "otpauth://totp/Inkwell:dana?secret={secret}&issuer=Inkwell"
    ))
    .expect("the secret on the page makes a key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    key.code_at(now + ahead).to_string()
}

impl Window {
    /// Signs in with the password and waits for the second-factor form it leads to.
    async fn sign_in_to_second_factor(&self, email: &str, password: &str) {
        self.sign_in(email, password).await;
        self.wait_text("#sign-out-pending").await;
        assert_eq!(self.path().await, "/login");
        assert_eq!(self.wait_text("h1").await, "Two-step verification");
    }

    async fn sign_out(&self) {
        self.click("#sign-out").await;
        self.wait_text("a.btn[href='/registration']").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_verification_with_an_authenticator_app_and_backup_codes() {
    let Some((driver_bin, chromium)) = browser_or_skip() else {
        return;
    };
    let started = Instant::now();
    let stack = Stack::start(&driver_bin, chromium);
    let mut dana = stack.window("dana").await;

    // Dana signs up (and verifies her address later).
    dana.goto("/registration").await;
    dana.fill("input[name='traits.email']", "dana@example.com")
        .await;
    dana.fill("input[name='traits.name']", "Dana Scully").await;
    dana.fill("input[name=password]", PASSWORD).await;
    dana.click("button[name=method][value=password]").await;
    dana.click("#skip-verification").await;
    dana.wait_path("/").await;

    // The security page shows a new authenticator key: its QR code and its secret, which
    // the test types into its "authenticator app".
    dana.click("#nav-security").await;
    let secret = dana.wait_text("#totp-secret").await;
    assert_eq!(dana.path().await, "/security");
    let qr = dana
        .with_element("#totp-qr", "no QR code", |el| async move {
            el.attr("src").await
        })
        .await
        .unwrap_or_default();
    assert!(qr.starts_with("data:image/png;base64,"), "{qr}");
    dana.shot("security").await;
    dana.fill("input[name=totp_code]", &totp_code(&secret, 0))
        .await;
    dana.click("form[data-group=totp] button[name=method][value=totp]")
        .await;

    // The correct code proved the app: the session is at aal2 and the change is saved.
    let saved = dana.wait_text(".flow-messages .kr-msg-success").await;
    assert_eq!(saved, "Your changes have been saved!");
    assert_eq!(dana.path().await, "/security");
    let status = dana.wait_text("#totp-status").await;
    assert!(
        status.contains("An authenticator app is linked"),
        "{status}"
    );
    let session = dana.wait_text("#session-aal").await;
    assert!(
        session.contains("passed two-step verification"),
        "{session}"
    );

    // Backup codes: generated, read off the page, confirmed.
    dana.click("button[name=lookup_secret_regenerate]").await;
    dana.wait_text("#backup-codes").await;
    let mut codes = Vec::new();
    for el in dana
        .client
        .find_all(Locator::Css("code.backup-code"))
        .await
        .unwrap()
    {
        codes.push(el.text().await.unwrap());
    }
    assert_eq!(codes.len(), 12, "{codes:?}");
    dana.shot("backup-codes").await;
    dana.click("button[name=lookup_secret_confirm]").await;
    dana.wait_text("button[name=lookup_secret_reveal]").await;
    let status = dana.wait_text("#codes-status").await;
    assert!(status.contains("You have backup codes"), "{status}");

    // Signed out, the password leads to the second factor; the app's code signs in at aal2.
    dana.sign_out().await;
    dana.sign_in_to_second_factor("dana@example.com", PASSWORD)
        .await;
    dana.shot("second-factor").await;
    assert!(
        dana.client
            .find(Locator::Css("input[name=lookup_secret]"))
            .await
            .is_ok(),
        "backup codes offered"
    );
    // A step after the code that linked the app: each code is good once.
    dana.fill("input[name=totp_code]", &totp_code(&secret, 30))
        .await;
    dana.click("button[name=method][value=totp]").await;
    assert_eq!(dana.wait_text("#signed-in-as").await, "Dana Scully");
    dana.wait_path("/").await;
    dana.goto("/sessions/whoami").await;
    let whoami = dana
        .wait_text_containing("body", "authenticator_assurance_level")
        .await;
    assert!(
        whoami.contains("\"authenticator_assurance_level\":\"aal2\""),
        "{whoami}"
    );

    // A backup code signs in too...
    dana.goto("/").await;
    dana.sign_out().await;
    dana.sign_in_to_second_factor("dana@example.com", PASSWORD)
        .await;
    dana.fill("input[name=lookup_secret]", &codes[0]).await;
    dana.click("button[name=method][value=lookup_secret]").await;
    assert_eq!(dana.wait_text("#signed-in-as").await, "Dana Scully");

    // ...once.
    dana.sign_out().await;
    dana.sign_in_to_second_factor("dana@example.com", PASSWORD)
        .await;
    dana.fill("input[name=lookup_secret]", &codes[0]).await;
    dana.click("button[name=method][value=lookup_secret]").await;
    let used = dana
        .wait_text(".kr-msg-error[data-message-id='4000012']")
        .await;
    assert_eq!(used, "This backup recovery code has already been used.");
    assert_eq!(dana.path().await, "/login");
    dana.shot("backup-code-used").await;

    dana.client.close().await.unwrap();
    drop(stack);
    eprintln!("two-step walk took {:.1?}", started.elapsed());
}
