//! [`NodeProvider`]: the `oidc-provider` package on Node.js, as a child process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

use crate::{Account, Client, PeerError};

/// The line `server.mjs` prints once it serves, followed by a space and the issuer.
const READY_PREFIX: &str = "kratos-test-oidc-provider ready ";
/// How long the provider may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of the process's standard error is kept for error messages.
const STDERR_KEPT: usize = 16 * 1024;

/// The configuration of a [`NodeProvider`].
#[derive(Debug, Clone, Serialize)]
pub struct NodeProviderConfig {
    /// The registered clients.
    pub clients: Vec<Client>,
    /// PKCE (S256) required of every client; public clients always need it.
    pub pkce_required: bool,
    /// Accounts with configured claims, by login; other logins get [`Account::derived`].
    pub accounts: BTreeMap<String, Account>,
    /// Put the claims of the granted scopes (email, profile) in the ID token too, not only at
    /// the userinfo endpoint (the package's `conformIdTokenClaims` off). Default true.
    pub claims_in_id_token: bool,
}

impl Default for NodeProviderConfig {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            pkce_required: false,
            accounts: BTreeMap::new(),
            claims_in_id_token: true,
        }
    }
}

impl NodeProviderConfig {
    /// A configuration with one client and the defaults otherwise.
    pub fn with_client(client: Client) -> Self {
        Self {
            clients: vec![client],
            ..Self::default()
        }
    }

    /// The claims `login` signs in with: its configured account or [`Account::derived`].
    pub fn account(&self, login: &str) -> Account {
        self.accounts
            .get(login)
            .cloned()
            .unwrap_or_else(|| Account::derived(login))
    }
}

/// A real OpenID Provider: `node/server.mjs` (the `oidc-provider` package) on
/// `http://127.0.0.1:<port>`, killed when this value is dropped.
///
/// Its scopes are `openid email profile offline_access`; its login page (the package's
/// development interactions) accepts any login name with any password, then asks for consent.
/// Its signing keys are the package's development keys, generated at start.
pub struct NodeProvider {
    issuer: Url,
    config: NodeProviderConfig,
    stderr: Arc<Mutex<String>>,
    // Kept open: the server exits when its standard input closes.
    _stdin: Option<ChildStdin>,
    _child: Child,
}

impl std::fmt::Debug for NodeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeProvider")
            .field("issuer", &self.issuer.as_str())
            .finish_non_exhaustive()
    }
}

impl NodeProvider {
    /// The directory of `server.mjs`, `package.json` and `node_modules`.
    pub fn node_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
    }

    /// Whether the Node.js packages are installed (`npm ci` ran in [`Self::node_dir`]).
    pub fn is_installed() -> bool {
        Self::node_dir()
            .join("node_modules/oidc-provider/package.json")
            .is_file()
    }

    /// Starts the provider and waits until it serves.
    ///
    /// Runs `node` from `PATH`, or the program `KRATOS_TEST_NODE` names.
    ///
    /// # Errors
    ///
    /// [`PeerError::NodeModulesMissing`] when `npm ci` did not run, [`PeerError::NodeSpawn`]
    /// when Node.js cannot be started, [`PeerError::NodeNotReady`] (with its standard error)
    /// when it exits or prints no ready line within 30 seconds.
    pub async fn start(config: NodeProviderConfig) -> Result<Self, PeerError> {
        let program = std::env::var("KRATOS_TEST_NODE").unwrap_or_else(|_| "node".to_owned());
        Self::start_with_program(config, &program).await
    }

    /// [`Self::start`] with `program` as Node.js.
    ///
    /// # Errors
    ///
    /// As [`Self::start`].
    pub async fn start_with_program(
        config: NodeProviderConfig,
        program: &str,
    ) -> Result<Self, PeerError> {
        let dir = Self::node_dir();
        if !Self::is_installed() {
            return Err(PeerError::NodeModulesMissing(dir.display().to_string()));
        }
        let program = program.to_owned();
        let json = serde_json::to_string(&config)
            .map_err(|err| PeerError::Unexpected(format!("configuration: {err}")))?;
        let mut child = Command::new(&program)
            .arg("server.mjs")
            .current_dir(&dir)
            .env("KRATOS_TEST_OIDC_CONFIG", json)
            .env("NODE_ENV", "development")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| PeerError::NodeSpawn { program, source })?;
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(keep_tail(pipe, Arc::clone(&stderr)));
        }
        let Some(stdout) = child.stdout.take() else {
            return Err(PeerError::Unexpected("no stdout pipe".to_owned()));
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(issuer) = line.strip_prefix(READY_PREFIX) {
                            return Ok(issuer.trim().to_owned());
                        }
                    }
                    Ok(None) => return Err("it exited before it was ready".to_owned()),
                    Err(err) => return Err(format!("reading its output failed: {err}")),
                }
            }
        })
        .await;
        let failure = match ready {
            Ok(Ok(issuer)) => match Url::parse(&issuer) {
                Ok(issuer) => {
                    // Keep draining stdout so the process never blocks on a full pipe.
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    return Ok(Self {
                        issuer,
                        config,
                        stderr,
                        _stdin: stdin,
                        _child: child,
                    });
                }
                Err(err) => format!("its issuer {issuer:?} is not a URL: {err}"),
            },
            Ok(Err(reason)) => reason,
            Err(_) => format!("no ready line within {} seconds", READY_TIMEOUT.as_secs()),
        };
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        // Let the stderr reader take what the process wrote last.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
        Err(PeerError::NodeNotReady {
            reason: failure,
            stderr,
        })
    }

    /// The issuer, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }

    /// The discovery document's URL (`<issuer>/.well-known/openid-configuration`).
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// The configuration the provider runs with.
    pub fn config(&self) -> &NodeProviderConfig {
        &self.config
    }

    /// The claims `login` signs in with.
    pub fn account(&self, login: &str) -> Account {
        self.config.account(login)
    }

    /// What the process wrote to its standard error so far (its last 16 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Goes through the provider's login and consent pages as a browser would, as `login`
    /// (any password), and returns the URL the provider then redirects to: the client's
    /// redirect URI with `code` and `state` (or `error`), not fetched.
    ///
    /// Each call starts without cookies, so it always signs in anew.
    ///
    /// # Errors
    ///
    /// [`PeerError::Http`] when a request fails, [`PeerError::Unexpected`] when the provider
    /// answers with an error page or something else a browser could not go on from.
    pub async fn authorize(&self, authorization_url: &str, login: &str) -> Result<Url, PeerError> {
        let decision = crate::user_agent::Decision::Approve(login);
        crate::user_agent::authorize(&self.issuer, authorization_url, decision).await
    }

    /// Goes to the provider's first page for `authorization_url` and follows its "Cancel"
    /// link, as a user who declines; returns the URL the provider then redirects to: the
    /// client's redirect URI with `error=access_denied` and `state`, not fetched.
    ///
    /// # Errors
    ///
    /// As [`Self::authorize`].
    pub async fn cancel(&self, authorization_url: &str) -> Result<Url, PeerError> {
        let decision = crate::user_agent::Decision::Cancel;
        crate::user_agent::authorize(&self.issuer, authorization_url, decision).await
    }
}

/// Reads `pipe` to its end, keeping its last [`STDERR_KEPT`] bytes in `tail`.
async fn keep_tail(pipe: impl AsyncRead + Unpin, tail: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut tail) = tail.lock() {
            tail.push_str(&line);
            tail.push('\n');
            if tail.len() > STDERR_KEPT {
                let mut cut = tail.len() - STDERR_KEPT;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
        }
    }
}
