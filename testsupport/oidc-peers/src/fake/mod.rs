//! [`FakeProvider`]: an OpenID Provider and GitHub-style OAuth 2.0 server in Rust, with
//! switchable faults.

mod github;
mod keys;
mod oidc;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::task::JoinHandle;
use url::Url;

use crate::{Account, Client, PeerError, TokenEndpointAuthMethod, redacted};

/// The algorithm the fake signs ID tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default).
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

/// A fault of the ID tokens the fake issues, switched with [`FakeProvider::set_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenFault {
    /// Signed by a key not in the JWKS, whose `kid` the JWKS does not list.
    UnknownKey,
    /// Signed by a key not in the JWKS, under the `kid` of the published key.
    WrongSignature,
    /// `aud` names another client.
    WrongAudience,
    /// `iss` is not the issuer.
    WrongIssuer,
    /// `nonce` differs from the authorization request's.
    WrongNonce,
    /// No `nonce`, though the authorization request had one.
    MissingNonce,
    /// `exp` (and `iat`) an hour and more in the past.
    Expired,
    /// Unsigned: header `alg` `none` and an empty signature.
    AlgNone,
}

/// What the authorization endpoints answer, set with [`FakeProvider::set_authorize_outcome`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthorizeOutcome {
    /// Approve at once: redirect with `code` and `state` (the default).
    #[default]
    Approve,
    /// Redirect with `error`, `error_description` and `state`.
    Deny {
        /// The OAuth 2.0 error code.
        error: String,
        /// The human-readable description.
        description: String,
    },
}

impl AuthorizeOutcome {
    /// `error=access_denied` with `description`.
    pub fn access_denied(description: &str) -> Self {
        Self::Deny {
            error: "access_denied".to_owned(),
            description: description.to_owned(),
        }
    }
}

/// One request the fake's token endpoints answered, for tests to check how a client
/// authenticated. It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestRecord {
    /// `oidc` (`/oauth2/token`) or `github` (`/login/oauth/access_token`).
    pub endpoint: &'static str,
    /// The client id presented.
    pub client_id: Option<String>,
    /// How the client authenticated.
    pub auth_method: TokenEndpointAuthMethod,
    /// Whether a `code_verifier` was sent.
    pub code_verifier_sent: bool,
    /// Whether tokens were issued.
    pub succeeded: bool,
}

/// The configuration of a [`FakeProvider`].
#[derive(Debug, Clone)]
pub struct FakeProviderConfig {
    /// The registered clients (of both the OpenID and the GitHub-style endpoints).
    pub clients: Vec<Client>,
    /// Accounts with configured claims, by login; other logins get [`Account::derived`].
    pub accounts: BTreeMap<String, Account>,
    /// The login the authorization endpoints sign in when the request has no `login_hint`.
    pub login: String,
    /// The algorithm of the ID tokens.
    pub signing_algorithm: SigningAlgorithm,
}

impl FakeProviderConfig {
    /// One client, login `alice`, RS256.
    pub fn with_client(client: Client) -> Self {
        Self {
            clients: vec![client],
            accounts: BTreeMap::new(),
            login: "alice".to_owned(),
            signing_algorithm: SigningAlgorithm::Rs256,
        }
    }
}

/// An authorization code's grant.
#[derive(Debug, Clone)]
struct Grant {
    endpoint: &'static str,
    client_id: String,
    redirect_uri: Option<String>,
    login: String,
    nonce: Option<String>,
    code_challenge: Option<(String, String)>,
    scope: String,
}

/// What the fake remembers and what tests switch.
struct State {
    clients: Vec<Client>,
    accounts: BTreeMap<String, Account>,
    login: String,
    signing_algorithm: SigningAlgorithm,
    fault: Option<IdTokenFault>,
    authorize_outcome: AuthorizeOutcome,
    github_email_public: bool,
    github_granted_scope: Option<String>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, String>,
    token_requests: Vec<TokenRequestRecord>,
}

impl State {
    fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    fn account(&self, login: &str) -> Account {
        self.accounts
            .get(login)
            .cloned()
            .unwrap_or_else(|| Account::derived(login))
    }
}

/// What every handler shares.
struct Shared {
    issuer: String,
    keys: keys::Keys,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A handler that panicked holding the lock leaves plain data behind; go on with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A random URL-safe token of 32 bytes, with `prefix`.
fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A fake OpenID Provider on `http://127.0.0.1:<port>`, stopped when dropped.
///
/// OpenID Connect: `/.well-known/openid-configuration`, `/.well-known/jwks.json`,
/// `/oauth2/auth` (approves at once as the request's `login_hint` or the configured login, or
/// denies), `/oauth2/token` (checks the code, its redirect URI, the client's authentication and
/// the PKCE verifier; issues an ID token with the fault set, if any), `/userinfo`.
///
/// GitHub-style OAuth 2.0 (no ID token): `/login/oauth/authorize`,
/// `/login/oauth/access_token` (JSON when the request accepts `application/json`, a form
/// otherwise), and the API's `/user` and `/user/emails`.
pub struct FakeProvider {
    issuer: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeProvider {
    /// Binds `127.0.0.1:0` and serves.
    ///
    /// # Errors
    ///
    /// [`PeerError::FakeStart`] when the port cannot be bound or the shipped keys not read.
    pub async fn start(config: FakeProviderConfig) -> Result<Self, PeerError> {
        let keys = keys::Keys::load().map_err(PeerError::FakeStart)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| PeerError::FakeStart(format!("bind 127.0.0.1:0: {err}")))?;
        let port = listener
            .local_addr()
            .map_err(|err| PeerError::FakeStart(err.to_string()))?
            .port();
        let issuer = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            keys,
            state: Mutex::new(State {
                clients: config.clients,
                accounts: config.accounts,
                login: config.login,
                signing_algorithm: config.signing_algorithm,
                fault: None,
                authorize_outcome: AuthorizeOutcome::Approve,
                github_email_public: true,
                github_granted_scope: None,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                token_requests: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(oidc::discovery))
            .route("/.well-known/jwks.json", get(oidc::jwks))
            .route("/oauth2/auth", get(oidc::authorize))
            .route("/oauth2/token", post(oidc::token))
            .route("/userinfo", get(oidc::userinfo).post(oidc::userinfo))
            .route("/login/oauth/authorize", get(github::authorize))
            .route("/login/oauth/access_token", post(github::access_token))
            .route("/user", get(github::user))
            .route("/user/emails", get(github::emails))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            issuer,
            shared,
            server,
        })
    }

    /// The issuer, `http://127.0.0.1:<port>` (no trailing slash); also the base URL of the
    /// GitHub-style endpoints and API.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// `<issuer>/oauth2/auth`.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/oauth2/auth", self.issuer)
    }

    /// `<issuer>/oauth2/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth2/token", self.issuer)
    }

    /// `<issuer>/userinfo`.
    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/userinfo", self.issuer)
    }

    /// `<issuer>/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }

    /// GitHub's `https://github.com/login/oauth/authorize`, here.
    pub fn github_authorization_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.issuer)
    }

    /// GitHub's `https://github.com/login/oauth/access_token`, here.
    pub fn github_token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.issuer)
    }

    /// GitHub's API base `https://api.github.com`, here (`/user`, `/user/emails`).
    pub fn github_api_base(&self) -> &str {
        &self.issuer
    }

    /// The id GitHub's `/user` answers for `login`: a stable number derived from the login.
    pub fn github_id(login: &str) -> u64 {
        github::user_id(login)
    }

    /// The ID tokens' fault from now on; `None` for correct tokens.
    pub fn set_fault(&self, fault: Option<IdTokenFault>) {
        self.shared.state().fault = fault;
    }

    /// What both authorization endpoints answer from now on.
    pub fn set_authorize_outcome(&self, outcome: AuthorizeOutcome) {
        self.shared.state().authorize_outcome = outcome;
    }

    /// The login signed in when an authorization request has no `login_hint`.
    pub fn set_login(&self, login: &str) {
        login.clone_into(&mut self.shared.state().login);
    }

    /// Configures the claims of `login`.
    pub fn set_account(&self, login: &str, account: Account) {
        self.shared
            .state()
            .accounts
            .insert(login.to_owned(), account);
    }

    /// The claims `login` signs in with: its configured account or [`Account::derived`].
    pub fn account(&self, login: &str) -> Account {
        self.shared.state().account(login)
    }

    /// The algorithm of the ID tokens issued from now on.
    pub fn set_signing_algorithm(&self, alg: SigningAlgorithm) {
        self.shared.state().signing_algorithm = alg;
    }

    /// Whether GitHub's `/user` shows the email (true) or `null`, as for a user who keeps it
    /// private (the address is then only in `/user/emails`).
    pub fn set_github_email_public(&self, public: bool) {
        self.shared.state().github_email_public = public;
    }

    /// The `scope` GitHub's token endpoint answers from now on (comma-separated, as GitHub
    /// does); `None` to grant the requested scopes.
    pub fn set_github_granted_scope(&self, scope: Option<&str>) {
        self.shared.state().github_granted_scope = scope.map(str::to_owned);
    }

    /// The requests the token endpoints answered so far, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequestRecord> {
        self.shared.state().token_requests.clone()
    }

    /// Fetches `authorization_url` (at either authorization endpoint) without following the
    /// redirect and returns where it redirects: the client's redirect URI with `code` and
    /// `state`, or with `error`.
    ///
    /// # Errors
    ///
    /// [`PeerError::Http`] when the request fails, [`PeerError::Unexpected`] when the answer is
    /// no redirect (an unknown client or redirect URI).
    pub async fn authorize(&self, authorization_url: &str) -> Result<Url, PeerError> {
        let url = Url::parse(authorization_url)
            .map_err(|err| PeerError::Unexpected(format!("authorization URL: {err}")))?;
        let http = |source: reqwest::Error| PeerError::Http {
            url: redacted(&url),
            source: source.without_url(),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(http)?;
        let response = client.get(url.clone()).send().await.map_err(http)?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status.is_redirection() => url
                .join(&location)
                .map_err(|err| PeerError::Unexpected(format!("a Location that is no URL: {err}"))),
            _ => {
                let body = response.text().await.unwrap_or_default();
                Err(PeerError::Unexpected(format!(
                    "{status} from {}: {}",
                    redacted(&url),
                    body.chars().take(400).collect::<String>()
                )))
            }
        }
    }
}
