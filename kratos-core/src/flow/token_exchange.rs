//! Session token exchange for native apps (Kratos's `return_session_token_exchange_code`).
//!
//! A native app signing in with a social provider runs the provider's pages in the system
//! browser, so the session token cannot come back in the answer to a submission. Instead:
//!
//! 1. The app creates an **api** login or registration flow with
//!    `return_session_token_exchange_code` ([`super::login::LoginOptions`],
//!    [`super::registration::RegistrationOptions`]). The flow gets an exchanger
//!    ([`crate::store::TokenExchangeStore`]) and its JSON, in the answer to the creation only,
//!    carries `session_token_exchange_code`: the **init code**, which the app keeps.
//! 2. The flow completes (in the browser). The completion calls
//!    [`SessionTokenExchanges::attach`]: the new session is attached to the exchanger and the
//!    browser is sent to the flow's `return_to` (or `selfservice.default_browser_return_url`)
//!    with `code=<return-to code>`. The login and registration engines do this themselves for
//!    every api flow with an exchanger ([`super::login::LoginSuccess::token_exchange_redirect`],
//!    [`super::registration::RegistrationSuccess::token_exchange_redirect`]).
//! 3. The app calls `GET /sessions/token-exchange?init_code=…&return_to_code=…`
//!    ([`SessionTokenExchanges::exchange`]) and receives `{session, session_token}`, once.
//!
//! What is kept where: the store keeps the SHA-512 digests of both codes and, once attached,
//! the session token sealed (XChaCha20-Poly1305) under a key derived from the return-to code,
//! which is known only to the app and the completed flow. The flow's internal context keeps
//! the digest of the init code and the return-to code sealed with [`crate::Kratos::cipher`]
//! (under [`INTERNAL_KEY`]), so the completion can send it to the app. Kratos stores both
//! codes and the session token in plaintext.
//!
//! For the OIDC strategy, which Kratos binds to the exchanger: [`has_exchanger`] tells whether
//! a flow has one, and [`init_code_sha512`] gives the digest Kratos's OIDC state carries as
//! `session_token_exchange_code_sha512` ([`init_code_matches`] compares one in constant time).
//! When a login flow continues as a registration flow (or back), [`SessionTokenExchanges::move_to_flow`]
//! moves the exchanger and its internal state along.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::login::LoginFlow;
use super::registration::RegistrationFlow;
use super::{FlowError, FlowKind};
use crate::kratos::Kratos;
use crate::session::{RequiredAal, Session, SessionToken, random_alphanumeric};
use crate::store::{ExchangeCodeDigest, NewTokenExchange, StoreError, TokenExchangeLookup};
use crate::strategy::InternalContext;

/// The key of a flow's internal context under which the exchanger's state is kept.
pub const INTERNAL_KEY: &str = "session_token_exchange";

/// Length of both codes (alphanumeric, as Kratos's).
const CODE_LEN: usize = 64;

/// The context of the key that seals a session token.
const SEAL_CONTEXT: &[u8] = b"kratos-rs session token exchange v1";

/// An exchange code as the app receives it: the init code in a flow's JSON
/// (`session_token_exchange_code`). Serialises as the plain string; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExchangeCode(String);

impl ExchangeCode {
    /// The code.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ExchangeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExchangeCode(<redacted>)")
    }
}

/// What a flow's internal context keeps under [`INTERNAL_KEY`].
#[derive(Serialize, Deserialize)]
struct Kept {
    /// SHA-512 of the init code, hex.
    init_code_sha512: String,
    /// The return-to code, sealed with the registry's cipher.
    return_to_code: String,
}

fn kept(internal: &InternalContext) -> Option<Kept> {
    internal
        .get(INTERNAL_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Whether the flow whose internal context this is has a session token exchanger (it was
/// created with `return_session_token_exchange_code`).
pub fn has_exchanger(internal: &InternalContext) -> bool {
    kept(internal).is_some()
}

/// The SHA-512 digest of the flow's init code (what Kratos's OIDC state keeps as
/// `session_token_exchange_code_sha512`); `None` without an exchanger.
pub fn init_code_sha512(internal: &InternalContext) -> Option<ExchangeCodeDigest> {
    let hex = kept(internal)?.init_code_sha512;
    hex::decode(hex).ok()?.try_into().ok()
}

/// Whether `sha512` is the digest of the flow's init code, compared in constant time; false
/// without an exchanger.
pub fn init_code_matches(internal: &InternalContext, sha512: &[u8]) -> bool {
    match init_code_sha512(internal) {
        Some(digest) => digest.as_slice().ct_eq(sha512).into(),
        None => false,
    }
}

/// The SHA-512 digest of a code, as stored.
fn code_digest(code: &str) -> ExchangeCodeDigest {
    Sha512::digest(code.as_bytes()).into()
}

/// The key that seals a session token: HMAC-SHA256 under the return-to code.
fn seal_key(return_to_code: &str) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(return_to_code.as_bytes())
        .expect("HMAC takes any key");
    mac.update(SEAL_CONTEXT);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Seals a session token for the exchanger: a random 24-byte nonce, then the ciphertext, bound
/// to the session id.
fn seal(return_to_code: &str, session_id: Uuid, token: &str) -> Result<Vec<u8>, FlowError> {
    let key = seal_key(return_to_code);
    let aead = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| FlowError::Internal("the exchange key has the wrong length".into()))?;
    let nonce: [u8; 24] = rand::random();
    let sealed = aead
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: token.as_bytes(),
                aad: session_id.as_bytes(),
            },
        )
        .map_err(|_| FlowError::Internal("the session token could not be sealed".into()))?;
    let mut out = Vec::with_capacity(nonce.len() + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed session token; `None` when it does not open (another code, tampered).
fn open(return_to_code: &str, session_id: Uuid, sealed: &[u8]) -> Option<SessionToken> {
    if sealed.len() < 24 + 16 {
        return None;
    }
    let (nonce, body) = sealed.split_at(24);
    let key = seal_key(return_to_code);
    let aead = XChaCha20Poly1305::new_from_slice(key.as_ref()).ok()?;
    let nonce: &[u8; 24] = nonce.try_into().ok()?;
    let plain = Zeroizing::new(
        aead.decrypt(
            nonce.into(),
            Payload {
                msg: body,
                aad: session_id.as_bytes(),
            },
        )
        .ok()?,
    );
    let token = std::str::from_utf8(&plain).ok()?;
    Some(SessionToken::from_string(token.to_owned()))
}

/// A flow an exchange found without a session: its flow has not completed (or failed).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum PendingFlow {
    /// A login flow.
    Login(LoginFlow),
    /// A registration flow.
    Registration(RegistrationFlow),
}

/// The answer of [`SessionTokenExchanges::exchange`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TokenExchangeOutcome {
    /// The codes were good and the flow completed: the session (with its identity, as whoami
    /// shows it) and its token. The exchanger is gone.
    Exchanged {
        /// The session.
        session: Session,
        /// Its token.
        session_token: SessionToken,
    },
    /// The codes are good but the flow has not completed: the flow, with its messages
    /// (Kratos answers 422 with it).
    Pending(PendingFlow),
    /// No live exchanger for these codes (unknown, used, expired), or its session is gone.
    NotFound,
}

/// Session token exchanges of one tenant; from [`Kratos::session_token_exchanges`].
#[derive(Clone, Copy, Debug)]
pub struct SessionTokenExchanges<'a> {
    kratos: &'a Kratos,
}

impl Kratos {
    /// Session token exchanges (see [`crate::flow::token_exchange`]).
    pub fn session_token_exchanges(&self) -> SessionTokenExchanges<'_> {
        SessionTokenExchanges { kratos: self }
    }
}

impl SessionTokenExchanges<'_> {
    fn now(&self) -> DateTime<Utc> {
        crate::clock::truncate_micros(self.kratos.clock().now())
    }

    /// Opens an exchanger for a new api flow (`flow_id`, expiring with it): stores it, keeps
    /// its state in `internal`, and answers the init code for the flow's JSON.
    pub(crate) async fn open(
        &self,
        flow_id: Uuid,
        expires_at: DateTime<Utc>,
        internal: &mut InternalContext,
    ) -> Result<ExchangeCode, FlowError> {
        let init_code = Zeroizing::new(random_alphanumeric(CODE_LEN));
        let return_to_code = Zeroizing::new(random_alphanumeric(CODE_LEN));
        let init_digest = code_digest(&init_code);
        let return_to_digest = code_digest(&return_to_code);
        let sealed_code = self
            .kratos
            .cipher()
            .encrypt(return_to_code.as_bytes())
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        self.kratos
            .store()
            .create_token_exchange(
                self.kratos.nid(),
                &NewTokenExchange {
                    id: Uuid::now_v7(),
                    flow_id,
                    init_code_digest: &init_digest,
                    return_to_code_digest: &return_to_digest,
                    created_at: self.now(),
                    expires_at,
                },
            )
            .await?;
        let kept = Kept {
            init_code_sha512: hex::encode(init_digest),
            return_to_code: sealed_code,
        };
        internal.set(
            INTERNAL_KEY,
            serde_json::to_value(kept).unwrap_or(Value::Null),
        );
        Ok(ExchangeCode(init_code.to_string()))
    }

    /// The return-to code kept in a flow's internal context; `None` without an exchanger.
    fn return_to_code(
        &self,
        internal: &InternalContext,
    ) -> Result<Option<Zeroizing<String>>, FlowError> {
        let Some(kept) = kept(internal) else {
            return Ok(None);
        };
        let plain = self
            .kratos
            .cipher()
            .decrypt(&kept.return_to_code)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let code = std::str::from_utf8(&plain)
            .map_err(|_| FlowError::Internal("the kept exchange code is malformed".into()))?;
        Ok(Some(Zeroizing::new(code.to_owned())))
    }

    /// Completes the exchange side of a flow that signed someone in: attaches `session_id`
    /// (whose token is `session_token`) to the exchanger of flow `flow_id`, and answers where
    /// the browser goes next, Kratos's redirect: `return_to` (the flow's, already checked
    /// against `selfservice.allowed_return_urls` when the flow was created; `None` for
    /// `selfservice.default_browser_return_url`) with the query parameter `code` set to the
    /// return-to code.
    ///
    /// Answers `Ok(None)`, doing nothing, when the flow has no exchanger (`internal` is the
    /// flow's internal context) or when its exchanger is gone (expired and cleaned up, moved
    /// away, or bound to another session): then there is no code to send, and the caller
    /// answers as without an exchanger. Calling it again for the same session answers the
    /// same URL (the login and registration engines call it for every completed api flow, so
    /// a method completing through them need not call it).
    ///
    /// # Errors
    ///
    /// [`FlowError::Internal`] when the kept code cannot be decrypted (the cipher secrets
    /// changed) or `return_to` is not a URL; [`FlowError::Store`] when the store fails.
    pub async fn attach(
        &self,
        flow_id: Uuid,
        internal: &InternalContext,
        session_id: Uuid,
        session_token: &SessionToken,
        return_to: Option<&str>,
    ) -> Result<Option<String>, FlowError> {
        let Some(code) = self.return_to_code(internal)? else {
            return Ok(None);
        };
        let sealed = seal(&code, session_id, session_token.expose())?;
        match self
            .kratos
            .store()
            .attach_token_exchange_session(
                self.kratos.nid(),
                flow_id,
                session_id,
                &sealed,
                self.now(),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                tracing::warn!(
                    flow.id = %flow_id,
                    "session token exchange: the flow's exchanger is gone; no code is sent"
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        self.redirect(&code, return_to).map(Some)
    }

    /// What the login and registration engines call on completing a flow that issued
    /// `session_id`: for an api flow with an exchanger, [`SessionTokenExchanges::attach`];
    /// `None` otherwise. A failure is logged and answers `None`: the sign-in stands (its
    /// session is written), only the exchange is lost.
    pub(crate) async fn attach_on_completion(
        &self,
        flow_id: Uuid,
        flow_type: super::FlowType,
        internal: &InternalContext,
        session_id: Uuid,
        session_token: &SessionToken,
        return_to: Option<&str>,
    ) -> Option<String> {
        if flow_type != super::FlowType::Api || !has_exchanger(internal) {
            return None;
        }
        match self
            .attach(flow_id, internal, session_id, session_token, return_to)
            .await
        {
            Ok(redirect) => redirect,
            Err(e) => {
                tracing::warn!(
                    flow.id = %flow_id,
                    error = %e,
                    "session token exchange: the session could not be attached"
                );
                None
            }
        }
    }

    /// The redirect of a flow with an exchanger that ends without a session (Kratos sends
    /// the app's browser back with the code when an OIDC sign-in fails, so the app's
    /// exchange answers the flow with its messages: 422): `return_to` (or the default
    /// return URL) with `code=<return-to code>`. Attaches nothing; `Ok(None)` without an
    /// exchanger.
    ///
    /// # Errors
    ///
    /// As [`SessionTokenExchanges::attach`], without the store's.
    pub fn redirect_without_session(
        &self,
        internal: &InternalContext,
        return_to: Option<&str>,
    ) -> Result<Option<String>, FlowError> {
        match self.return_to_code(internal)? {
            Some(code) => self.redirect(&code, return_to).map(Some),
            None => Ok(None),
        }
    }

    /// `return_to` (or the default return URL) with the query parameter `code` set.
    fn redirect(&self, code: &str, return_to: Option<&str>) -> Result<String, FlowError> {
        let base = match return_to {
            Some(r) => r.to_owned(),
            None => self.kratos.default_return_url(),
        };
        let mut url = url::Url::parse(&base)
            .map_err(|_| FlowError::Internal("the return URL is not a URL".into()))?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "code")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("code", code);
        Ok(url.into())
    }

    /// Moves the exchanger of flow `from` to flow `to` (Kratos's `MoveToNewFlow`: a login
    /// flow continued as a registration flow, or back), expiring with `to` at `expires_at`,
    /// and copies its state from `from_internal` into `to_internal` (save `to` afterwards).
    /// Does nothing when `from` has no exchanger.
    ///
    /// # Errors
    ///
    /// [`FlowError::NotFound`] when the exchanger is gone from the store, and
    /// [`FlowError::Store`] on a storage failure (a conflict when `to` has an exchanger).
    pub async fn move_to_flow(
        &self,
        from: Uuid,
        from_internal: &InternalContext,
        to: Uuid,
        to_internal: &mut InternalContext,
        expires_at: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let Some(state) = from_internal.get(INTERNAL_KEY) else {
            return Ok(());
        };
        self.kratos
            .store()
            .move_token_exchange(self.kratos.nid(), from, to, expires_at)
            .await?;
        to_internal.set(INTERNAL_KEY, state.clone());
        Ok(())
    }

    /// Trades an init code and a return-to code for the session attached to their
    /// exchanger, once (`GET /sessions/token-exchange`).
    ///
    /// [`TokenExchangeOutcome::Exchanged`] consumes the exchanger; a later call with the same
    /// codes answers [`TokenExchangeOutcome::NotFound`]. The session must still be active:
    /// one revoked or expired meanwhile answers `NotFound` (the exchanger is consumed all the
    /// same). [`TokenExchangeOutcome::Pending`] when the codes are good but the flow has not
    /// completed (nothing is consumed). Empty codes answer `NotFound`.
    ///
    /// # Errors
    ///
    /// [`FlowError::Store`] when the store fails.
    pub async fn exchange(
        &self,
        init_code: &str,
        return_to_code: &str,
    ) -> Result<TokenExchangeOutcome, FlowError> {
        if init_code.is_empty() || return_to_code.is_empty() {
            return Ok(TokenExchangeOutcome::NotFound);
        }
        let found = self
            .kratos
            .store()
            .exchange_session_token(
                self.kratos.nid(),
                &code_digest(init_code),
                &code_digest(return_to_code),
                self.now(),
            )
            .await?;
        match found {
            None => Ok(TokenExchangeOutcome::NotFound),
            Some(TokenExchangeLookup::Pending { flow_id }) => Ok(self.pending(flow_id).await?),
            Some(TokenExchangeLookup::Exchanged {
                session_id,
                sealed_session_token,
            }) => {
                let Some(token) = open(return_to_code, session_id, &sealed_session_token) else {
                    return Ok(TokenExchangeOutcome::NotFound);
                };
                match self
                    .kratos
                    .sessions()
                    .whoami_with(token.expose(), RequiredAal::Aal1)
                    .await
                {
                    Ok(session) if session.id == session_id => {
                        Ok(TokenExchangeOutcome::Exchanged {
                            session,
                            session_token: token,
                        })
                    }
                    _ => Ok(TokenExchangeOutcome::NotFound),
                }
            }
        }
    }

    /// The flow of a pending exchanger: the registration flow, else the login flow, as
    /// stored (Kratos's `GetFlowForTokenExchange`).
    async fn pending(&self, flow_id: Uuid) -> Result<TokenExchangeOutcome, FlowError> {
        match super::load_with_internal::<RegistrationFlow>(
            self.kratos,
            FlowKind::Registration,
            flow_id,
        )
        .await
        {
            Ok((flow, _)) => {
                return Ok(TokenExchangeOutcome::Pending(PendingFlow::Registration(
                    flow,
                )));
            }
            Err(FlowError::NotFound) => {}
            Err(e) => return Err(e),
        }
        match super::load_with_internal::<LoginFlow>(self.kratos, FlowKind::Login, flow_id).await {
            Ok((flow, _)) => Ok(TokenExchangeOutcome::Pending(PendingFlow::Login(flow))),
            Err(FlowError::NotFound) => Ok(TokenExchangeOutcome::NotFound),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_code_and_session() {
        let session = Uuid::now_v7();
        let sealed = seal("return-code", session, "ory_st_abc").expect("seals");
        assert!(!sealed.windows(10).any(|w| w == b"ory_st_abc"));
        let opened = open("return-code", session, &sealed).expect("opens");
        assert_eq!(opened.expose(), "ory_st_abc");
        assert!(open("other-code", session, &sealed).is_none());
        assert!(open("return-code", Uuid::now_v7(), &sealed).is_none());
        assert!(open("return-code", session, &sealed[..20]).is_none());
    }

    #[test]
    fn the_init_code_digest_is_compared_whole() {
        let mut internal = InternalContext::default();
        assert!(!has_exchanger(&internal));
        let digest = code_digest("init");
        internal.set(
            INTERNAL_KEY,
            serde_json::json!({"init_code_sha512": hex::encode(digest), "return_to_code": "00"}),
        );
        assert!(has_exchanger(&internal));
        assert_eq!(init_code_sha512(&internal), Some(digest));
        assert!(init_code_matches(&internal, &digest));
        assert!(!init_code_matches(&internal, &digest[..63]));
        assert!(!init_code_matches(&internal, &code_digest("other")));
    }

    #[test]
    fn an_exchange_code_is_redacted_in_debug() {
        let code = ExchangeCode("secret".into());
        assert!(!format!("{code:?}").contains("secret"));
        assert_eq!(serde_json::to_value(&code).unwrap(), "secret");
    }
}
