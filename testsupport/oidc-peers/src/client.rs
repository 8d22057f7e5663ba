//! OAuth 2.0 clients registered at a peer.

use std::fmt;

use serde::Serialize;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client id and secret (the default).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: only `client_id`, PKCE required.
    None,
}

/// A client registered at a peer.
///
/// Its `Debug` output leaves the secret out.
#[derive(Clone, Serialize)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// The client secret; `None` for a public client.
    pub client_secret: Option<String>,
    /// The redirect URIs the authorization endpoint accepts, compared exactly.
    pub redirect_uris: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
}

impl Client {
    /// A confidential client with `client_secret_basic` and one redirect URI.
    pub fn confidential(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        }
    }

    /// A public client (`none`: no secret, PKCE required) with one redirect URI.
    pub fn public(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        }
    }

    /// The same client authenticating with `method`.
    pub fn with_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.token_endpoint_auth_method = method;
        self
    }

    /// The same client with one more accepted redirect URI.
    pub fn with_redirect_uri(mut self, redirect_uri: &str) -> Self {
        self.redirect_uris.push(redirect_uri.to_owned());
        self
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .finish()
    }
}
