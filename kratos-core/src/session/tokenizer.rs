//! Sessions as JSON Web Tokens, as Kratos's session tokenizer makes them (feature `jwt`):
//! `session.whoami.tokenizer.templates.<name>` and `GET /sessions/whoami?tokenize_as=<name>`.
//!
//! A token is signed with the **first** key of the template's JSON Web Key Set (`jwks_url`,
//! `file://` or `base64://`), with the algorithm its `alg` names and its `kid` in the
//! header. Supported: ES256, ES384, RS256/384/512, PS256/384/512, EdDSA (Ed25519) and
//! HS256/384/512; ES512, which Kratos also signs with, is refused (the RustCrypto backend of
//! jsonwebtoken has no P-521).
//!
//! The claims are `jti` (a random UUID), `iss` (the public base URL as configured), `iat`
//! and `nbf` (now), `exp` (now + `ttl`), `sid` (the session id) and `sub` (the identity id,
//! or its `external_id` with `subject_source: external_id`). A claims mapper
//! (`claims_mapper_url`, Jsonnet) sees the session (its identity without credentials) as
//! `std.extVar('session')` and these claims as `std.extVar('claims')`, and answers an
//! object whose `claims` object is merged over them key by key: it may replace any claim
//! but `sub`, which is set again afterwards (as Kratos does).
//!
//! Key sets are read and checked when the registry is built (a template whose key cannot
//! sign is a configuration error then), and read again after [`KEY_CACHE_TTL`] (Kratos
//! caches them for an hour too). A `file://` or `base64://` mapper is loaded at build, an
//! `http(s)://` one fetched at first use and kept for an hour.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::manager::{SessionManager, public_identity};
use super::model::Session;
use crate::config::{
    ConfigError, SubjectSource, TokenizeTemplate, TokenizerConfig, redact_key_source,
};
use crate::error::KratosError;
use crate::jsonnet::JsonnetError;
use crate::jsonnet::body::{BodyError, BodyTemplate};

/// How long a template's key set is used before it is read again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(3600);

/// The largest key set read.
const MAX_KEY_SET_BYTES: u64 = 1 << 20;

/// Why a session could not be tokenized. The messages (`reason` of the HTTP error) are
/// Kratos's; none holds key material, a token or a value of the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizeError {
    /// No template of this name is configured (400).
    #[error("Unable to find tokenizer template \"{0}\".")]
    UnknownTemplate(String),
    /// `subject_source: external_id`, and the identity has none (400).
    #[error(
        "The session's identity does not have an external ID set, but it is required for the subject claim."
    )]
    NoExternalId,
    /// The key set could not be read (a missing file, invalid base64; 500).
    #[error("The JSON Web Key Set could not be read: {0}")]
    KeySetUnreadable(String),
    /// The key set is not a JSON Web Key Set (400).
    #[error("failed to parse JWK set")]
    KeySetInvalid,
    /// The key set holds no key (400).
    #[error("Could not find key a suitable key for tokenization in the JWKS url.")]
    NoKey,
    /// The first key's `alg` is missing or not a JWS algorithm (400).
    #[error("The JSON Web Key must include a valid \"alg\" parameter but \"{0}\" was given.")]
    InvalidAlgorithm(String),
    /// The first key's `alg` is a JWS algorithm this implementation does not sign with
    /// (ES512; 400).
    #[error("The JSON Web Key algorithm \"{0}\" is not supported.")]
    UnsupportedAlgorithm(String),
    /// The first key's private part is malformed or does not fit its `alg` (400); the
    /// detail says what, without key material.
    #[error("Unable to decode the given private key.")]
    InvalidPrivateKey(&'static str),
    /// Signing failed, as with a key without its private part (400).
    #[error("Unable to sign JSON Web Token.")]
    Sign(&'static str),
    /// The claims mapper failed (400).
    #[error("Unable to execute tokenizer JsonNet.")]
    Mapper(#[source] JsonnetError),
    /// A remote claims mapper could not be fetched (500).
    #[error("The tokenizer JsonNet could not be fetched: {0}")]
    MapperFetch(String),
    /// The claims mapper's output has no `claims` object (400).
    #[error("Expected tokenizer JsonNet to return a claims object but it did not.")]
    NotAClaimsObject,
    /// The claims mapper's output is not JSON (400).
    #[error("Unable to encode tokenized claims.")]
    InvalidClaims,
    /// The session could not be encoded for the mapper (500).
    #[error("Unable to encode session to JSON.")]
    EncodeSession,
}

impl TokenizeError {
    /// What exactly is wrong, beside the message: for a key, which part; for a mapper, the
    /// Jsonnet error (kind and position, never a value).
    pub fn detail(&self) -> Option<String> {
        match self {
            TokenizeError::InvalidPrivateKey(d) | TokenizeError::Sign(d) => Some((*d).to_owned()),
            TokenizeError::Mapper(e) => Some(e.to_string()),
            _ => None,
        }
    }
}

impl KratosError for TokenizeError {
    fn id(&self) -> &'static str {
        match self.status() {
            500 => "internal_server_error",
            _ => "bad_request",
        }
    }

    fn status(&self) -> u16 {
        match self {
            TokenizeError::KeySetUnreadable(_)
            | TokenizeError::MapperFetch(_)
            | TokenizeError::EncodeSession => 500,
            _ => 400,
        }
    }
}

/// The signing key of a template: the first key of its set, ready to sign. `Debug` shows
/// the algorithm and key id only.
struct SigningKey {
    algorithm: Algorithm,
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A template, ready: its settings, its mapper and its cached key.
struct Template {
    ttl: Duration,
    subject_source: SubjectSource,
    mapper: Option<BodyTemplate>,
    jwks_url: Zeroizing<String>,
    key: tokio::sync::Mutex<(Instant, Arc<SigningKey>)>,
}

/// The configured templates (`session.whoami.tokenizer.templates`), built with the
/// registry. `Debug` shows the template names only.
pub(crate) struct Tokenizer {
    templates: BTreeMap<String, Template>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Tokenizer {
    /// Loads every template's mapper and key set and checks that the key signs.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the template's `jwks_url` or `claims_mapper_url`.
    pub(crate) fn from_config(config: &TokenizerConfig) -> Result<Self, ConfigError> {
        let mut templates = BTreeMap::new();
        for (name, t) in &config.templates {
            let key = format!("session.whoami.tokenizer.templates.{name}");
            templates.insert(name.clone(), Template::load(&key, t)?);
        }
        Ok(Self { templates })
    }
}

impl Template {
    fn load(key: &str, t: &TokenizeTemplate) -> Result<Self, ConfigError> {
        let mapper = match t.claims_mapper() {
            Some(uri) => Some(
                BodyTemplate::load(uri)
                    .map_err(|e| ConfigError::invalid(format!("{key}.claims_mapper_url"), e))?,
            ),
            None => None,
        };
        let signing = load_key(&t.jwks_url).map_err(|e| {
            let message = match e.detail() {
                Some(detail) => format!("{e} ({detail})"),
                None => e.to_string(),
            };
            ConfigError::invalid(format!("{key}.jwks_url"), message)
        })?;
        Ok(Self {
            ttl: t.ttl.0,
            subject_source: t.subject_source,
            mapper,
            jwks_url: Zeroizing::new(t.jwks_url.trim().to_owned()),
            key: tokio::sync::Mutex::new((Instant::now(), Arc::new(signing))),
        })
    }

    /// The signing key, read again when it is older than [`KEY_CACHE_TTL`].
    async fn signing_key(&self) -> Result<Arc<SigningKey>, TokenizeError> {
        let mut cached = self.key.lock().await;
        if cached.0.elapsed() < KEY_CACHE_TTL {
            return Ok(cached.1.clone());
        }
        let url = self.jwks_url.clone();
        let fresh = tokio::task::spawn_blocking(move || load_key(&url))
            .await
            .map_err(|_| TokenizeError::KeySetUnreadable("the read ended abnormally".into()))??;
        let fresh = Arc::new(fresh);
        *cached = (Instant::now(), fresh.clone());
        Ok(fresh)
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("ttl", &self.ttl)
            .field("subject_source", &self.subject_source)
            .field("mapper", &self.mapper)
            .field("jwks_url", &redact_key_source(&self.jwks_url))
            .finish_non_exhaustive()
    }
}

impl SessionManager<'_> {
    /// The session as a JSON Web Token made by the template `template`
    /// (`session.whoami.tokenizer.templates.<template>`), as `GET
    /// /sessions/whoami?tokenize_as=<template>` answers it in `tokenized`. See the
    /// [module](self) for the claims and keys.
    ///
    /// # Errors
    ///
    /// [`TokenizeError`]: an unknown template, an identity without the `external_id` the
    /// template's subject needs, a key set that cannot be read again or no longer signs, a
    /// claims mapper that fails or answers no `claims` object.
    pub async fn tokenize(
        &self,
        session: &Session,
        template: &str,
    ) -> Result<String, TokenizeError> {
        let kratos = self.kratos();
        let t = kratos
            .tokenizer()
            .templates
            .get(template)
            .ok_or_else(|| TokenizeError::UnknownTemplate(template.to_owned()))?;
        let key = t.signing_key().await?;
        let now = kratos.clock().now();
        let exp = now
            .checked_add_signed(chrono::Duration::from_std(t.ttl).unwrap_or(chrono::Duration::MAX))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let mut claims = Map::new();
        claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        claims.insert("iss".into(), issuer(kratos.config()).into());
        claims.insert("exp".into(), exp.timestamp().into());
        claims.insert("sid".into(), session.id.to_string().into());
        claims.insert("nbf".into(), now.timestamp().into());
        claims.insert("iat".into(), now.timestamp().into());
        set_subject(&mut claims, session, t.subject_source)?;
        if let Some(mapper) = &t.mapper {
            let mut public = session.clone();
            public.identity = public.identity.map(|i| public_identity(i, kratos));
            let session_json =
                serde_json::to_value(&public).map_err(|_| TokenizeError::EncodeSession)?;
            let claims_json = Value::Object(claims.clone());
            let template = mapper.template().await.map_err(|e| match e {
                BodyError::Template(e) => TokenizeError::Mapper(e),
                other => TokenizeError::MapperFetch(other.to_string()),
            })?;
            let out = template
                .evaluate_ext_vars(&[("session", &session_json), ("claims", &claims_json)])
                .await
                .map_err(TokenizeError::Mapper)?;
            let out: Value =
                serde_json::from_str(&out).map_err(|_| TokenizeError::InvalidClaims)?;
            match out {
                Value::Object(mut o) => match o.remove("claims") {
                    Some(Value::Object(mapped)) => claims.extend(mapped),
                    _ => return Err(TokenizeError::NotAClaimsObject),
                },
                _ => return Err(TokenizeError::NotAClaimsObject),
            }
            set_subject(&mut claims, session, t.subject_source)?;
        }
        sign(&key, &Value::Object(claims))
    }
}

/// `iss`: the public base URL as configured (Kratos's `SelfPublicURL`), or the default one
/// with a trailing slash.
fn issuer(config: &crate::Config) -> String {
    match config.serve.public.base_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => format!("{}/", config.serve.public_base_url()),
    }
}

fn set_subject(
    claims: &mut Map<String, Value>,
    session: &Session,
    source: SubjectSource,
) -> Result<(), TokenizeError> {
    let sub = match source {
        SubjectSource::Id => session.identity_id.to_string(),
        SubjectSource::ExternalId => session
            .identity
            .as_ref()
            .and_then(|i| i.external_id.clone())
            .filter(|e| !e.is_empty())
            .ok_or(TokenizeError::NoExternalId)?,
    };
    claims.insert("sub".into(), sub.into());
    Ok(())
}

fn sign(key: &SigningKey, claims: &Value) -> Result<String, TokenizeError> {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.key)
        .map_err(|_| TokenizeError::Sign("the key does not sign with its algorithm"))
}

/// Reads a key set (`file://` or `base64://`) and makes its first key a signing key,
/// checked by signing a probe and verifying it with the key's public part.
fn load_key(url: &str) -> Result<SigningKey, TokenizeError> {
    let text = read_key_set(url.trim())?;
    let set: Value = serde_json::from_slice(&text).map_err(|_| TokenizeError::KeySetInvalid)?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(TokenizeError::KeySetInvalid)?;
    let jwk = keys.first().ok_or(TokenizeError::NoKey)?;
    let jwk = jwk.as_object().ok_or(TokenizeError::KeySetInvalid)?;
    signing_key(jwk)
}

fn read_key_set(url: &str) -> Result<Zeroizing<Vec<u8>>, TokenizeError> {
    if let Some(b64) = url.strip_prefix("base64://") {
        let b64 = b64.trim();
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        return engines
            .iter()
            .find_map(|e| e.decode(b64).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| TokenizeError::KeySetUnreadable("the base64 text is not valid".into()));
    }
    let Some(path) = url.strip_prefix("file://") else {
        return Err(TokenizeError::KeySetUnreadable(
            "the key set must be a file:// or base64:// URL".into(),
        ));
    };
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| TokenizeError::KeySetUnreadable(format!("cannot read {path}: {e}")))?;
    let mut text = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_SET_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| TokenizeError::KeySetUnreadable(format!("cannot read {path}: {e}")))?;
    if text.len() as u64 > MAX_KEY_SET_BYTES {
        return Err(TokenizeError::KeySetUnreadable(format!(
            "{path} is larger than {MAX_KEY_SET_BYTES} bytes"
        )));
    }
    Ok(text)
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// A base64url member of a key, decoded.
fn bytes(
    jwk: &Map<String, Value>,
    name: &'static str,
) -> Result<Zeroizing<Vec<u8>>, TokenizeError> {
    let text = member(jwk, name).ok_or(TokenizeError::InvalidPrivateKey(match name {
        "x" => "the key has no `x`",
        "y" => "the key has no `y`",
        "n" => "the key has no `n`",
        "e" => "the key has no `e`",
        "k" => "the key has no `k`",
        _ => "the RSA key lacks a member of its private part (p, q, dp, dq, qi)",
    }))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map(Zeroizing::new)
        .map_err(|_| TokenizeError::InvalidPrivateKey("a member of the key is not base64url"))
}

fn signing_key(jwk: &Map<String, Value>) -> Result<SigningKey, TokenizeError> {
    let alg = member(jwk, "alg").unwrap_or_default();
    let algorithm = match Algorithm::from_str(alg) {
        Ok(a) => a,
        Err(_) if alg == "ES512" => return Err(TokenizeError::UnsupportedAlgorithm(alg.into())),
        Err(_) => return Err(TokenizeError::InvalidAlgorithm(alg.into())),
    };
    let kty = member(jwk, "kty").unwrap_or_default();
    let crv = member(jwk, "crv").unwrap_or_default();
    let private = |name| {
        if jwk.contains_key(name) {
            Ok(())
        } else {
            Err(TokenizeError::Sign("the key has no private part (`d`)"))
        }
    };
    let key = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => {
            let (curve, size, oid): (&str, usize, &[u8]) = match algorithm {
                Algorithm::ES256 => ("P-256", 32, OID_P256),
                _ => ("P-384", 48, OID_P384),
            };
            if kty != "EC" || crv != curve {
                return Err(TokenizeError::InvalidPrivateKey(
                    "the key type or curve does not fit its `alg`",
                ));
            }
            private("d")?;
            let (x, y, d) = (bytes(jwk, "x")?, bytes(jwk, "y")?, bytes(jwk, "d")?);
            if x.len() != size || y.len() != size || d.len() != size {
                return Err(TokenizeError::InvalidPrivateKey(
                    "a coordinate or `d` does not have the curve's size",
                ));
            }
            EncodingKey::from_ec_der(&ec_pkcs8(oid, &x, &y, &d))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            if kty != "RSA" {
                return Err(TokenizeError::InvalidPrivateKey(
                    "the key type does not fit its `alg`",
                ));
            }
            private("d")?;
            let parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
                .into_iter()
                .map(|m| bytes(jwk, m))
                .collect::<Result<Vec<_>, _>>()?;
            EncodingKey::from_rsa_der(&rsa_pkcs1(&parts))
        }
        Algorithm::EdDSA => {
            if kty != "OKP" || crv != "Ed25519" {
                return Err(TokenizeError::InvalidPrivateKey(
                    "the key type or curve does not fit its `alg` (only Ed25519)",
                ));
            }
            private("d")?;
            let d = bytes(jwk, "d")?;
            if d.len() != 32 {
                return Err(TokenizeError::InvalidPrivateKey("`d` is not 32 bytes long"));
            }
            let mut der = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
            der.extend_from_slice(&d);
            EncodingKey::from_ed_der(&der)
        }
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            if kty != "oct" {
                return Err(TokenizeError::InvalidPrivateKey(
                    "the key type does not fit its `alg`",
                ));
            }
            EncodingKey::from_secret(&bytes(jwk, "k")?)
        }
        _ => return Err(TokenizeError::UnsupportedAlgorithm(alg.into())),
    };
    let signing = SigningKey {
        algorithm,
        kid: member(jwk, "kid").unwrap_or_default().to_owned(),
        key,
    };
    probe(&signing, jwk)?;
    Ok(signing)
}

/// Signs a probe and verifies it with the key's public part: a private part that does not
/// parse, or does not belong to the public one, fails here, not in the verifier.
fn probe(key: &SigningKey, jwk: &Map<String, Value>) -> Result<(), TokenizeError> {
    let token = sign(key, &serde_json::json!({ "probe": true }))
        .map_err(|_| TokenizeError::InvalidPrivateKey("the private key does not parse"))?;
    let verifying = match key.algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            DecodingKey::from_secret(&bytes(jwk, "k")?)
        }
        _ => {
            let public = public_jwk(jwk);
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public).map_err(|_| {
                TokenizeError::InvalidPrivateKey("the public part of the key does not parse")
            })?;
            DecodingKey::from_jwk(&jwk).map_err(|_| {
                TokenizeError::InvalidPrivateKey("the public part of the key does not parse")
            })?
        }
    };
    let mut validation = Validation::new(key.algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(&token, &verifying, &validation)
        .map(|_| ())
        .map_err(|_| {
            TokenizeError::InvalidPrivateKey("the private part does not belong to the public part")
        })
}

/// The public members of a JSON Web Key (what a JWKS endpoint publishes): the private ones
/// (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) left out.
pub fn public_jwk(jwk: &Map<String, Value>) -> Value {
    Value::Object(
        jwk.iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "d" | "p" | "q" | "dp" | "dq" | "qi" | "oth" | "k"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

// DER building blocks for the PKCS#8 / PKCS#1 documents jsonwebtoken reads private keys from.

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// PKCS#8 v1 of an Ed25519 key (RFC 8410) up to its 32-byte seed.
const ED25519_PKCS8_PREFIX: &[u8] = &[
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn der(tag: u8, content: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(content.len() + 6));
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    der(0x30, &Zeroizing::new(parts.concat()))
}

/// A non-negative INTEGER from big-endian bytes.
fn unsigned(be: &[u8]) -> Zeroizing<Vec<u8>> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let digits = &be[skip..];
    let mut content = Zeroizing::new(Vec::with_capacity(digits.len() + 1));
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    der(0x02, &content)
}

/// PKCS#8 of an EC key: the SEC 1 `ECPrivateKey` with its public point.
fn ec_pkcs8(curve: &[u8], x: &[u8], y: &[u8], d: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut point = Zeroizing::new(vec![0x00, 0x04]);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let ec_private = sequence(&[
        &der(0x02, &[1]),
        &der(0x04, d),
        &der(0xa1, &der(0x03, &point)),
    ]);
    let algorithm = sequence(&[&der(0x06, OID_EC_PUBLIC_KEY), &der(0x06, curve)]);
    sequence(&[&der(0x02, &[0]), &algorithm, &der(0x04, &ec_private)])
}

/// PKCS#1 `RSAPrivateKey` from n, e, d, p, q, dp, dq, qi.
fn rsa_pkcs1(parts: &[Zeroizing<Vec<u8>>]) -> Zeroizing<Vec<u8>> {
    let mut content = Zeroizing::new(der(0x02, &[0]).to_vec());
    for p in parts {
        content.extend_from_slice(&unsigned(p));
    }
    der(0x30, &content)
}

#[cfg(test)]
#[path = "tokenizer_tests.rs"]
mod tests;
