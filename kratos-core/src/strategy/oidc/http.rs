//! The HTTP client providers are reached with: rustls on ring with the web PKI roots (plain
//! http too, for providers on loopback), no redirects followed (the OAuth 2.0 and OpenID
//! Connect crates require it), bounded time and answer size.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The longest a call to a provider may take.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from a provider (discovery documents, key sets, tokens, user
/// info).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a call to a provider failed. The text names the failure, never a token.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// An answer on its way, as the `openidconnect` crate's client calls return it.
pub type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<Vec<u8>>, HttpError>> + Send>,
>;

/// A cheap-to-clone client.
#[derive(Clone)]
pub struct ProviderHttp {
    client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for ProviderHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderHttp")
    }
}

impl ProviderHttp {
    /// A client.
    ///
    /// # Errors
    ///
    /// When TLS cannot be set up.
    pub fn new() -> Result<Self, HttpError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| HttpError(format!("TLS setup failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// Sends `request` and reads the whole answer (at most [`MAX_ANSWER_BYTES`], within
    /// [`PROVIDER_TIMEOUT`]).
    ///
    /// # Errors
    ///
    /// When the provider cannot be reached, is too slow or answers too much.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let (parts, body) = request.into_parts();
        let host = parts.uri.host().unwrap_or_default().to_owned();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let call = async {
            let response =
                self.client.request(request).await.map_err(|e| {
                    HttpError(format!("the provider at {host} cannot be reached: {e}"))
                })?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|_| {
                    HttpError(format!(
                        "the answer of the provider at {host} could not be read or is larger than {MAX_ANSWER_BYTES} bytes"
                    ))
                })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes.to_vec()))
        };
        tokio::time::timeout(PROVIDER_TIMEOUT, call)
            .await
            .map_err(|_| HttpError(format!("the provider at {host} did not answer in time")))?
    }

    /// `GET url` with `headers`, the answer's status and body.
    ///
    /// # Errors
    ///
    /// As [`ProviderHttp::send`], and for a URL that is not one.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(http::HeaderName, String)],
    ) -> Result<(http::StatusCode, Vec<u8>), HttpError> {
        let mut builder = http::Request::get(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Vec::new())
            .map_err(|_| HttpError("the provider URL is invalid".into()))?;
        let answer = self.send(request).await?;
        Ok((answer.status(), answer.into_body()))
    }

    /// The `AsyncHttpClient` the `openidconnect` crate calls.
    pub fn oauth2(&self) -> impl Fn(http::Request<Vec<u8>>) -> Answer + '_ {
        move |request| {
            let this = self.clone();
            Box::pin(async move { this.send(request).await })
        }
    }
}
