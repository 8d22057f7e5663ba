//! The example in headless Chromium (Debian's `chromium` and `chromium-driver`): sign up,
//! see the protected page, sign out, be sent to sign in by the protected page, sign in again.
//!
//! Without chromedriver or Chromium the test prints that it was skipped; with `CI=true` it
//! fails instead. `CHROMEDRIVER` and `CHROMIUM` override the binaries' paths.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// Children killed when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

const WAIT: Duration = Duration::from_secs(15);

/// Waits for `css`, then clicks it or types into it.
async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
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

/// Waits until the page's `h1` says `text` (the previous page may still be showing).
async fn heading(client: &Client, text: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let h1 = match client.find(Locator::Css("h1")).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if h1.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the heading says {h1:?}, not {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let el = find(client, css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn sign_up_sign_out_sign_in() {
    let driver =
        PathBuf::from(std::env::var("CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into()));
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    if !driver.exists() || !chromium.exists() {
        let missing =
            "chromedriver or chromium is missing (apt-get install chromium chromium-driver)";
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "CI=true and the browser test cannot run: {missing}"
        );
        eprintln!("skipped: browser test: {missing}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("minimal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (app_port, driver_port) = (free_port(), free_port());
    let app = Command::new(env!("CARGO_BIN_EXE_minimal"))
        .env("ADDR", format!("127.0.0.1:{app_port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db?mode=rwc", dir.display()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Killed however the test ends, from the moment they run.
    let mut children = Processes(vec![app]);
    wait_for_port(app_port, "the example", &mut children.0[0]);
    let chromedriver = Command::new(&driver)
        .arg(format!("--port={driver_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    children.0.push(chromedriver);
    wait_for_port(driver_port, "chromedriver", &mut children.0[1]);
    let caps = serde_json::json!({"goog:chromeOptions": {"binary": chromium, "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
    ]}});
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session starts");
    let base = format!("http://127.0.0.1:{app_port}");
    let email = format!("minimal-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "a sturdy pass phrase 42";

    // The protected page sends a stranger to sign in; from there, to sign up.
    client.goto(&format!("{base}/")).await.unwrap();
    heading(&client, "Sign in").await;
    find(&client, "a[href='/registration']")
        .await
        .click()
        .await
        .unwrap();
    heading(&client, "Create an account").await;
    fill(&client, "#kr-traits-email", &email).await;
    fill(&client, "#kr-password", password).await;
    find(&client, "button[value=password]")
        .await
        .click()
        .await
        .unwrap();
    // Signed up and signed in: back on the protected page.
    heading(&client, &format!("Hello, {email}")).await;

    // Sign out from the sessions page; the protected page sends the browser to sign in.
    find(&client, "#sessions").await.click().await.unwrap();
    heading(&client, "Sessions").await;
    find(&client, "#kr-sign-out").await.click().await.unwrap();
    heading(&client, "Sign in").await;
    client.goto(&format!("{base}/")).await.unwrap();
    heading(&client, "Sign in").await;

    // A wrong password is refused with Kratos's message on the page.
    fill(&client, "#kr-identifier", &email).await;
    fill(&client, "#kr-password", "not the password").await;
    find(&client, "button[value=password]")
        .await
        .click()
        .await
        .unwrap();
    find(&client, "[data-message-id='4000006']").await;

    // Sign in again: the same identity, back on the protected page.
    fill(&client, "#kr-identifier", &email).await;
    fill(&client, "#kr-password", password).await;
    find(&client, "button[value=password]")
        .await
        .click()
        .await
        .unwrap();
    heading(&client, &format!("Hello, {email}")).await;
    assert_eq!(client.current_url().await.unwrap().path(), "/");
    client.close().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
