//! What the peers' tests share: a relying party's side of the authorization code flow.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

/// A redirect URI nothing listens on: the peers only redirect to it, nobody fetches it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/self-service/methods/oidc/callback/test";

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `endpoint` with the query pairs.
pub fn url_with(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse(endpoint).expect("endpoint URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// The value of query parameter `name` of `url`.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` without its query.
pub fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// GETs `url` as JSON.
pub async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url).await.expect("GET");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

/// The JSON of an unverified JWT part (0 header, 1 payload).
pub fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Verifies `id_token` as a relying party does: its `kid` in the JWKS at `jwks_uri`, the
/// signature, `iss`, `aud` and `exp`. Returns its claims, or the reason it is rejected.
pub async fn verify_id_token(
    id_token: &str,
    jwks_uri: &str,
    issuer: &str,
    client_id: &str,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(id_token).map_err(|err| format!("header: {err}"))?;
    let jwks: JwkSet = serde_json::from_value(get_json(jwks_uri).await).expect("JWKS");
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("JWK: {err}"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|err| format!("{:?}", err.kind()))
}
