//! The fake provider's signing keys: test-only PEMs shipped in `keys/`.
//!
//! Two RSA and two P-256 keys: one of each is published in the JWKS, the other ("rogue") is
//! not, to sign ID tokens a relying party must reject.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey};

use super::SigningAlgorithm;

const RSA_SIGNING: &str = include_str!("../../keys/rsa-signing.pem");
const RSA_ROGUE: &str = include_str!("../../keys/rsa-rogue.pem");
const EC_SIGNING: &str = include_str!("../../keys/ec-signing.pem");
const EC_ROGUE: &str = include_str!("../../keys/ec-rogue.pem");

/// A private key and the `kid` it signs with.
pub(super) struct SigningKey {
    pub(super) kid: &'static str,
    pub(super) key: EncodingKey,
}

/// The fake provider's keys.
pub(super) struct Keys {
    rs256: SigningKey,
    rs256_rogue: SigningKey,
    es256: SigningKey,
    es256_rogue: SigningKey,
    jwks: JwkSet,
}

impl Keys {
    /// Reads the shipped PEMs and builds the JWKS of the published keys.
    pub(super) fn load() -> Result<Self, String> {
        let rsa = |pem: &str, kid| {
            EncodingKey::from_rsa_pem(pem.as_bytes())
                .map(|key| SigningKey { kid, key })
                .map_err(|err| format!("RSA key {kid}: {err}"))
        };
        let ec = |pem: &str, kid| {
            EncodingKey::from_ec_pem(pem.as_bytes())
                .map(|key| SigningKey { kid, key })
                .map_err(|err| format!("EC key {kid}: {err}"))
        };
        let rs256 = rsa(RSA_SIGNING, "fake-rs256")?;
        let es256 = ec(EC_SIGNING, "fake-es256")?;
        let jwks = JwkSet {
            keys: vec![
                public_jwk(&rs256, Algorithm::RS256, KeyAlgorithm::RS256)?,
                public_jwk(&es256, Algorithm::ES256, KeyAlgorithm::ES256)?,
            ],
        };
        Ok(Self {
            rs256,
            rs256_rogue: rsa(RSA_ROGUE, "rogue-rs256")?,
            es256,
            es256_rogue: ec(EC_ROGUE, "rogue-es256")?,
            jwks,
        })
    }

    /// The published key of `alg`.
    pub(super) fn signing(&self, alg: SigningAlgorithm) -> &SigningKey {
        match alg {
            SigningAlgorithm::Rs256 => &self.rs256,
            SigningAlgorithm::Es256 => &self.es256,
        }
    }

    /// The unpublished key of `alg`.
    pub(super) fn rogue(&self, alg: SigningAlgorithm) -> &SigningKey {
        match alg {
            SigningAlgorithm::Rs256 => &self.rs256_rogue,
            SigningAlgorithm::Es256 => &self.es256_rogue,
        }
    }

    /// The JWKS: the public halves of the published keys.
    pub(super) fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// The public JWK of `key`, with its `kid`, `alg` and `use: sig`.
fn public_jwk(key: &SigningKey, alg: Algorithm, key_alg: KeyAlgorithm) -> Result<Jwk, String> {
    let mut jwk = Jwk::from_encoding_key(&key.key, alg)
        .map_err(|err| format!("JWK of {}: {err}", key.kid))?;
    jwk.common.key_id = Some(key.kid.to_owned());
    jwk.common.key_algorithm = Some(key_alg);
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok(jwk)
}
