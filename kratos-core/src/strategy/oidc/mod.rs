//! The `oidc` method (feature `oidc`): sign-in with OpenID Connect and OAuth 2.0 providers,
//! as Kratos's `selfservice.methods.oidc`.
//!
//! A submission `method=oidc&provider=<id>` to a login, registration or settings flow
//! (`link=<id>` in settings) answers a redirect to the provider's authorization URL
//! ([`crate::flow::FlowError::BrowserLocationChangeRequired`]). What the callback must find
//! again is kept in the flow's internal context (never shown to clients): the digest of the
//! `state` sent, the PKCE verifier (sealed with the cipher), the nonce and the traits the
//! form sent. The `state` itself is sealed with the cipher and names the flow, its kind and
//! the provider.
//!
//! The provider sends the browser back to `/self-service/methods/oidc/callback/{provider}`
//! ([`callback_target`] reads the flow out of the state); the transport submits the
//! callback's parameters to that flow's engine as `{"method": "oidc", "provider": …,
//! "oidc_callback": {"state", "code", "error", "error_description"}}`. Such a submission
//! carries no CSRF token: the state, which must be the flow's and is used once, stands for
//! it, and the transport still checks that the browser holds the flow's CSRF cookie. The
//! code is exchanged, the ID token verified ([`OidcProvider::exchange`]), and then:
//!
//! - a known subject (`oidc` identifier `<provider>:<subject>`) signs in;
//! - an unknown one registers: traits from the Jsonnet claims mapper merged with the traits
//!   the form sent, validated against the schema; traits the schema refuses bring the form
//!   back with the values filled in and a `Continue` button;
//! - a login flow that finds no identity continues in a new registration flow, and a
//!   registration flow that finds one in a new login flow, as Kratos does: the new flow
//!   takes over the verified claims (sealed) and the browser's CSRF token, and the browser
//!   is sent to the callback again with a state for the new flow;
//! - a sign-up whose identifier (an email, a password or code identifier) an existing
//!   identity has is not registered: as the provider's `account_linking_mode` says, it
//!   continues in a login flow that links the provider once that identity signs in, or
//!   (`automatic`, for an address the provider verified) is linked at once (`linking`);
//! - in settings, the provider is linked to the session's identity (`link`), or unlinked
//!   (`unlink`), never the last first factor.

pub mod claims;
pub mod config;
mod flows;
mod generic;
mod github;
pub mod http;
mod linking;
pub mod mapper;
mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

pub use claims::Claims;
pub use config::{AccountLinkingMode, ClaimsSource, OidcConfig, Pkce, ProviderConfig};
pub use generic::GenericProvider;
pub use github::GitHubProvider;
pub use provider::{
    AuthorizationRequest, CodeExchange, OidcProvider, ProviderAnswer, ProviderTokens,
    provider_error, provider_for,
};

use crate::flow::{FlowError, ProviderFailure};
use crate::jsonnet::body::BodyTemplate;
use crate::kratos::Kratos;
use crate::strategy::InternalContext;

/// The key of the method's state in a flow's internal context.
const INTERNAL_KEY: &str = "oidc";

/// The callback route's prefix.
pub const CALLBACK_PATH: &str = "/self-service/methods/oidc/callback";

/// The kind of flow a state belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackFlow {
    /// A login flow.
    Login,
    /// A registration flow.
    Registration,
    /// A settings flow.
    Settings,
}

/// Where a callback goes: read from its sealed `state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackTarget {
    /// The flow.
    #[serde(rename = "f")]
    pub flow_id: Uuid,
    /// Its kind.
    #[serde(rename = "k")]
    pub kind: CallbackFlow,
    /// The provider the sign-in started with.
    #[serde(rename = "p")]
    pub provider: String,
    /// A random value, so that no two states are alike.
    #[serde(rename = "r")]
    nonce: String,
}

fn bad_request(reason: &str) -> FlowError {
    provider_error(ProviderFailure::BadRequest, reason)
}

/// Reads the flow a callback's `state` belongs to. `provider` is the provider of the
/// callback's URL, if it names one.
///
/// # Errors
///
/// 400 with Kratos's reasons: no state, a state that does not open with this registry's
/// cipher, or one of another provider than the URL's.
pub fn callback_target(
    kratos: &Kratos,
    state: Option<&str>,
    provider: Option<&str>,
) -> Result<CallbackTarget, FlowError> {
    let state = state.filter(|s| !s.is_empty()).ok_or_else(|| {
        bad_request(
            "Unable to complete OpenID Connect flow because the OpenID Provider did not return \
             the state query parameter.",
        )
    })?;
    let invalid = || {
        bad_request(
            "Unable to complete OpenID Connect flow because the state parameter is invalid.",
        )
    };
    if state.len() > 4096 {
        return Err(invalid());
    }
    let plain = kratos.cipher().decrypt(state).map_err(|_| invalid())?;
    let target: CallbackTarget = serde_json::from_slice(&plain).map_err(|_| invalid())?;
    if let Some(p) = provider
        && p != target.provider
    {
        return Err(bad_request(
            "Unable to complete OpenID Connect flow: provider mismatch between internal state \
             and URL.",
        ));
    }
    Ok(target)
}

/// What the method keeps in a flow between the redirect and the callback.
#[derive(Clone, Serialize, Deserialize)]
struct Pending {
    provider: String,
    /// SHA-256 of the state sent, hex.
    state: String,
    /// The PKCE verifier, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkce: Option<String>,
    nonce: String,
    /// The traits the form sent with the submission.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    traits: Value,
    /// A sign-in verified in another flow, sealed: this flow completes it without the
    /// provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verified: Option<String>,
}

/// A verified sign-in: the provider, its claims and tokens.
#[derive(Serialize, Deserialize)]
struct Verified {
    provider: String,
    claims: Claims,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    /// The traits the form sent in the flow the sign-in started in.
    #[serde(default)]
    traits: Value,
}

fn digest(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}

fn random_text(len: usize) -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn seal(kratos: &Kratos, plain: &[u8]) -> Result<String, FlowError> {
    kratos
        .cipher()
        .encrypt(plain)
        .map_err(|e| FlowError::Internal(format!("sealing the sign-in state failed: {e}")))
}

fn open(kratos: &Kratos, sealed: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, FlowError> {
    kratos.cipher().decrypt(sealed).map_err(|_| {
        bad_request(
            "Unable to complete OpenID Connect flow because the state parameter is invalid.",
        )
    })
}

/// The `oidc` method: its providers and their claims mappers. Cheap to clone. Built from
/// the configuration by [`crate::KratosBuilder::build`] when the method is enabled; a host
/// app that adds providers of its own builds one with [`OidcMethod::from_config`] and
/// [`OidcMethod::with_provider`] and registers it with the builder's `login_method`,
/// `registration_method` and `settings_method` (replacing the configured one).
#[derive(Clone)]
pub struct OidcMethod(Arc<Inner>);

struct Inner {
    config: OidcConfig,
    providers: Vec<ConfiguredProvider>,
    http: http::ProviderHttp,
}

struct ConfiguredProvider {
    provider: Arc<dyn OidcProvider>,
    mapper: Option<BodyTemplate>,
}

impl std::fmt::Debug for OidcMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcMethod")
            .field(
                "providers",
                &self
                    .0
                    .providers
                    .iter()
                    .map(|p| p.provider.config().id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl OidcMethod {
    /// The method with the providers of `selfservice.methods.oidc.config`.
    ///
    /// # Errors
    ///
    /// A message naming the configuration key when a provider is of an unknown type, lacks
    /// what its type needs, or its mapper cannot be loaded.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, String> {
        let oidc = OidcConfig::from_value(&config.selfservice.methods.oidc.config)?;
        let http = http::ProviderHttp::new().map_err(|e| e.0)?;
        let mut providers = Vec::new();
        for p in &oidc.providers {
            let provider = provider_for(p, &http)?;
            providers.push(Self::configured(provider)?);
        }
        Ok(Self(Arc::new(Inner {
            config: oidc,
            providers,
            http,
        })))
    }

    fn configured(provider: Arc<dyn OidcProvider>) -> Result<ConfiguredProvider, String> {
        let c = provider.config();
        let mapper = if c.mapper_url.trim().is_empty() {
            None
        } else {
            Some(BodyTemplate::load(&c.mapper_url).map_err(|e| {
                format!(
                    "selfservice.methods.oidc.config.providers[id={}].mapper_url: {e}",
                    c.id
                )
            })?)
        };
        Ok(ConfiguredProvider { provider, mapper })
    }

    /// The method with `provider` added (or replacing the provider of the same id).
    ///
    /// # Errors
    ///
    /// When the provider's mapper cannot be loaded.
    pub fn with_provider(self, provider: Arc<dyn OidcProvider>) -> Result<Self, String> {
        let configured = Self::configured(provider)?;
        let inner = Arc::try_unwrap(self.0).unwrap_or_else(|shared| Inner {
            config: shared.config.clone(),
            providers: shared
                .providers
                .iter()
                .map(|p| ConfiguredProvider {
                    provider: p.provider.clone(),
                    mapper: p.mapper.clone(),
                })
                .collect(),
            http: shared.http.clone(),
        });
        let mut inner = inner;
        let id = configured.provider.config().id.clone();
        match inner
            .providers
            .iter_mut()
            .find(|p| p.provider.config().id == id)
        {
            Some(slot) => *slot = configured,
            None => inner.providers.push(configured),
        }
        Ok(Self(Arc::new(inner)))
    }

    /// The HTTP client providers are reached with (for a host app's own provider).
    pub fn http(&self) -> &http::ProviderHttp {
        &self.0.http
    }

    /// The providers, in the configured order.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn OidcProvider>> {
        self.0.providers.iter().map(|p| &p.provider)
    }

    fn provider(&self, id: &str) -> Result<&ConfiguredProvider, FlowError> {
        self.0
            .providers
            .iter()
            .find(|p| p.provider.config().id == id)
            .ok_or_else(|| {
                provider_error(
                    ProviderFailure::NotFound,
                    format!(
                        "OpenID Connect Provider \"{id}\" is unknown or has not been configured"
                    ),
                )
            })
    }

    /// The callback URL of `provider` (`base_redirect_uri`, else the public base URL).
    pub fn callback_url(&self, kratos: &Kratos, provider: &ProviderConfig) -> String {
        let base = self
            .0
            .config
            .base_redirect_uri
            .clone()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| kratos.config().serve.public_base_url());
        let base = base.trim_end_matches('/');
        if provider.pkce == Pkce::Force {
            format!("{base}{CALLBACK_PATH}")
        } else {
            format!("{base}{CALLBACK_PATH}/{}", provider.id)
        }
    }

    /// Starts a sign-in for a flow: keeps what the callback needs in `internal` and answers
    /// the provider's authorization URL.
    async fn start(
        &self,
        kratos: &Kratos,
        start: Start<'_>,
        internal: &mut InternalContext,
    ) -> Result<String, FlowError> {
        let Start {
            flow_id,
            kind,
            provider: provider_id,
            traits,
            upstream,
        } = start;
        let configured = self.provider(provider_id)?;
        let provider = &configured.provider;
        let (state, pending) = self.pending(kratos, flow_id, kind, provider_id, traits, None)?;
        let verifier = if provider.uses_pkce().await? {
            Some(random_text(64))
        } else {
            None
        };
        let pending = Pending {
            pkce: verifier
                .as_deref()
                .map(|v| seal(kratos, v.as_bytes()))
                .transpose()?,
            ..pending
        };
        let redirect_uri = self.callback_url(kratos, provider.config());
        let url = provider
            .authorization_url(&AuthorizationRequest {
                redirect_uri: &redirect_uri,
                state: &state,
                nonce: &pending.nonce,
                pkce_verifier: verifier.as_deref(),
                upstream_parameters: upstream,
            })
            .await?;
        internal.set(
            INTERNAL_KEY,
            serde_json::to_value(&pending).map_err(|e| FlowError::Internal(e.to_string()))?,
        );
        Ok(url)
    }

    /// A new state for flow `flow_id` and what the flow keeps of it.
    fn pending(
        &self,
        kratos: &Kratos,
        flow_id: Uuid,
        kind: CallbackFlow,
        provider: &str,
        traits: Value,
        verified: Option<String>,
    ) -> Result<(String, Pending), FlowError> {
        let target = CallbackTarget {
            flow_id,
            kind,
            provider: provider.to_owned(),
            nonce: random_text(16),
        };
        let plain = serde_json::to_vec(&target).map_err(|e| FlowError::Internal(e.to_string()))?;
        let state = seal(kratos, &plain)?;
        let pending = Pending {
            provider: provider.to_owned(),
            state: digest(&state),
            pkce: None,
            nonce: random_text(32),
            traits,
            verified,
        };
        Ok((state, pending))
    }

    /// Finishes a callback submitted to a flow: checks its state against the one the flow
    /// keeps (which it takes out, so a state is used once), then exchanges the code (or
    /// opens the sign-in another flow verified).
    async fn finish(
        &self,
        kratos: &Kratos,
        callback: &CallbackParams,
        internal: &mut InternalContext,
    ) -> Result<(&ConfiguredProvider, Verified), FlowError> {
        let mismatch = || {
            bad_request(
                "Unable to complete OpenID Connect flow because the query state parameter does \
                 not match the state parameter from the session cookie.",
            )
        };
        let state = callback.state.as_deref().unwrap_or_default();
        let pending: Pending = internal
            .remove(INTERNAL_KEY)
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(mismatch)?;
        if !bool::from(digest(state).as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(mismatch());
        }
        let configured = self.provider(&pending.provider)?;
        if let Some(sealed) = &pending.verified {
            let plain = open(kratos, sealed)?;
            let verified: Verified = serde_json::from_slice(&plain).map_err(|_| mismatch())?;
            return Ok((configured, verified));
        }
        if let Some(error) = callback.error.as_deref().filter(|e| !e.is_empty()) {
            return Err(bad_request(&format!(
                "Unable to complete OpenID Connect flow because the OpenID Provider returned \
                 error \"{}\": {}",
                clip(error),
                clip(callback.error_description.as_deref().unwrap_or_default())
            )));
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(bad_request(
                "Unable to complete OpenID Connect flow because the OpenID Provider did not \
                 return the code query parameter.",
            ));
        };
        let verifier = match &pending.pkce {
            Some(sealed) => {
                Some(String::from_utf8(open(kratos, sealed)?.to_vec()).map_err(|_| mismatch())?)
            }
            None => None,
        };
        let redirect_uri = self.callback_url(kratos, configured.provider.config());
        let answer = configured
            .provider
            .exchange(&CodeExchange {
                redirect_uri: &redirect_uri,
                code,
                pkce_verifier: verifier.as_deref(),
                nonce: &pending.nonce,
            })
            .await?;
        Ok((
            configured,
            Verified {
                provider: pending.provider,
                claims: answer.claims,
                access_token: answer.tokens.access_token,
                refresh_token: answer.tokens.refresh_token,
                id_token: answer.tokens.id_token,
                traits: pending.traits,
            },
        ))
    }
}

/// A sign-in to start.
struct Start<'a> {
    flow_id: Uuid,
    kind: CallbackFlow,
    provider: &'a str,
    traits: Value,
    upstream: &'a BTreeMap<String, String>,
}

/// At most 256 characters of a provider's error text.
fn clip(text: &str) -> String {
    text.chars().take(256).collect()
}

/// The parameters of a provider's callback, as the transport submits them.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct CallbackParams {
    /// `state`
    #[serde(default)]
    pub state: Option<String>,
    /// `code`
    #[serde(default)]
    pub code: Option<String>,
    /// `error`
    #[serde(default)]
    pub error: Option<String>,
    /// `error_description`
    #[serde(default)]
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl CallbackParams {
    /// The submission a callback makes to its flow.
    pub fn into_payload(self, provider: &str) -> Value {
        serde_json::json!({
            "method": "oidc",
            "provider": provider,
            "oidc_callback": self,
        })
    }
}

#[cfg(test)]
mod tests;
