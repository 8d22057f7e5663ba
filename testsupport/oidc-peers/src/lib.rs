//! Local OpenID Provider peers for the tests of social sign-in (Kratos's `oidc` method).
//!
//! Tests never reach the internet: both peers listen on `127.0.0.1` on a port of their own.
//!
//! - [`NodeProvider`] runs a real OpenID Provider, the `oidc-provider` package on Node.js
//!   (`node/server.mjs`), with its development login and consent pages, so a real browser can
//!   click through them; [`NodeProvider::authorize`] goes through them over plain HTTP and
//!   returns the callback URL the provider redirects to.
//! - [`FakeProvider`] is an OpenID Provider written here to make the failures a real one never
//!   makes (an ID token signed by an unknown key, for the wrong audience or issuer, with a
//!   wrong nonce, expired or unsigned; an authorization denied) and to answer as GitHub's plain
//!   OAuth 2.0 endpoints and API do.
//!
//! Both know the same [`Account`]s: any login name is accepted, its claims are configured per
//! login or derived from the login ([`Account::derived`]).
#![forbid(unsafe_code)]

mod account;
mod client;
mod fake;
mod node;
mod user_agent;

pub use account::Account;
pub use client::{Client, TokenEndpointAuthMethod};
pub use fake::{
    AuthorizeOutcome, FakeProvider, FakeProviderConfig, IdTokenFault, SigningAlgorithm,
    TokenRequestRecord,
};
pub use node::{NodeProvider, NodeProviderConfig};

/// What can go wrong starting or driving a peer.
///
/// No variant carries a secret, an authorization code or a token.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// `node/node_modules` is missing: the Node packages were not installed.
    #[error(
        "the Node.js packages of the test OpenID Provider are not installed: run `npm ci --no-audit --no-fund` in {0}"
    )]
    NodeModulesMissing(String),
    /// Node.js could not be started.
    #[error("could not start Node.js (`{program}`): {source}")]
    NodeSpawn {
        /// The program that was run.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The Node.js provider exited or did not print its ready line in time.
    #[error("the test OpenID Provider did not start: {reason}; its stderr:\n{stderr}")]
    NodeNotReady {
        /// What happened instead of the ready line.
        reason: String,
        /// What the process wrote to its standard error.
        stderr: String,
    },
    /// The fake provider could not bind or read its keys.
    #[error("the fake provider could not start: {0}")]
    FakeStart(String),
    /// An HTTP request to a peer failed.
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL, without its query.
        url: String,
        /// Why it failed (without the URL, whose query may carry a code).
        source: reqwest::Error,
    },
    /// A peer answered in a way the user agent does not follow.
    #[error("unexpected answer from the provider: {0}")]
    Unexpected(String),
}

/// The URL without its query and fragment, for error messages (a query may carry a code).
pub(crate) fn redacted(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}
