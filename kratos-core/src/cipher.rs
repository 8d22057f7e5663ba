//! Encryption of data at rest (OIDC tokens in credentials, OAuth state, …).
//!
//! As in Kratos, the output is a hex string: the random nonce followed by the ciphertext and
//! tag. The first of the configured `secrets.cipher` encrypts; decryption tries every secret, so
//! keys rotate by prepending a new one.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use zeroize::Zeroizing;

use crate::config::{CipherAlgorithm, Secret};

/// Why a value could not be encrypted or decrypted. Never contains the value or a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CipherError {
    /// No secret is configured for an algorithm that needs one.
    #[error("no cipher secret is configured (secrets.cipher)")]
    NoSecret,
    /// A configured secret is not 32 bytes long.
    #[error("cipher secrets must be exactly 32 characters long")]
    BadSecret,
    /// The ciphertext is not valid hex or is too short.
    #[error("the encrypted value is malformed")]
    Malformed,
    /// No configured secret decrypts the value (wrong key or tampered data).
    #[error("the encrypted value could not be decrypted with any configured secret")]
    Undecryptable,
}

/// Encrypts and decrypts values with key rotation.
#[derive(Clone)]
pub struct Cipher {
    algorithm: CipherAlgorithm,
    keys: Vec<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Cipher {
    /// A cipher with the given algorithm and secrets (the first encrypts).
    pub fn new(algorithm: CipherAlgorithm, secrets: &[Secret]) -> Result<Self, CipherError> {
        let mut keys = Vec::with_capacity(secrets.len());
        for s in secrets {
            let bytes: [u8; 32] = s
                .expose()
                .as_bytes()
                .try_into()
                .map_err(|_| CipherError::BadSecret)?;
            keys.push(Zeroizing::new(bytes));
        }
        if algorithm != CipherAlgorithm::Noop && keys.is_empty() {
            return Err(CipherError::NoSecret);
        }
        Ok(Self { algorithm, keys })
    }

    /// The algorithm in use.
    pub fn algorithm(&self) -> CipherAlgorithm {
        self.algorithm
    }

    /// Encrypts `plaintext` into a hex string.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, CipherError> {
        match self.algorithm {
            CipherAlgorithm::Noop => Ok(hex::encode(plaintext)),
            CipherAlgorithm::Aes => {
                let key = self.keys.first().ok_or(CipherError::NoSecret)?;
                let aead =
                    Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CipherError::BadSecret)?;
                let nonce: [u8; 12] = rand::random();
                seal(&aead, &nonce, plaintext)
            }
            CipherAlgorithm::XChaCha20Poly1305 => {
                let key = self.keys.first().ok_or(CipherError::NoSecret)?;
                let aead = XChaCha20Poly1305::new_from_slice(key.as_ref())
                    .map_err(|_| CipherError::BadSecret)?;
                let nonce: [u8; 24] = rand::random();
                seal(&aead, &nonce, plaintext)
            }
        }
    }

    /// Decrypts a hex string made by [`Cipher::encrypt`] with any configured secret.
    pub fn decrypt(&self, ciphertext: &str) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let raw = hex::decode(ciphertext).map_err(|_| CipherError::Malformed)?;
        match self.algorithm {
            CipherAlgorithm::Noop => Ok(Zeroizing::new(raw)),
            CipherAlgorithm::Aes => {
                if raw.len() < 12 + 16 {
                    return Err(CipherError::Malformed);
                }
                let (nonce, body) = raw.split_at(12);
                for key in &self.keys {
                    let aead = Aes256Gcm::new_from_slice(key.as_ref())
                        .map_err(|_| CipherError::BadSecret)?;
                    if let Ok(pt) =
                        aead.decrypt(nonce.try_into().map_err(|_| CipherError::Malformed)?, body)
                    {
                        return Ok(Zeroizing::new(pt));
                    }
                }
                Err(CipherError::Undecryptable)
            }
            CipherAlgorithm::XChaCha20Poly1305 => {
                if raw.len() < 24 + 16 {
                    return Err(CipherError::Malformed);
                }
                let (nonce, body) = raw.split_at(24);
                for key in &self.keys {
                    let aead = XChaCha20Poly1305::new_from_slice(key.as_ref())
                        .map_err(|_| CipherError::BadSecret)?;
                    if let Ok(pt) =
                        aead.decrypt(nonce.try_into().map_err(|_| CipherError::Malformed)?, body)
                    {
                        return Ok(Zeroizing::new(pt));
                    }
                }
                Err(CipherError::Undecryptable)
            }
        }
    }
}

fn seal<A: Aead>(aead: &A, nonce_bytes: &[u8], plaintext: &[u8]) -> Result<String, CipherError> {
    let nonce = nonce_bytes.try_into().map_err(|_| CipherError::Malformed)?;
    let ct = aead
        .encrypt(nonce, plaintext)
        .map_err(|_| CipherError::Malformed)?;
    let mut out = Vec::with_capacity(nonce_bytes.len() + ct.len());
    out.extend_from_slice(nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(hex::encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(c: char) -> Secret {
        Secret::new(std::iter::repeat_n(c, 32).collect::<String>())
    }

    #[test]
    fn round_trips_and_rotates_for_both_aeads() {
        for alg in [CipherAlgorithm::Aes, CipherAlgorithm::XChaCha20Poly1305] {
            let old = Cipher::new(alg, &[secret('a')]).unwrap();
            let ct = old.encrypt(b"refresh-token").unwrap();
            assert_ne!(ct, hex::encode(b"refresh-token"));
            assert_eq!(&old.decrypt(&ct).unwrap()[..], b"refresh-token");
            // A new key is prepended: old data still decrypts, new data uses the new key.
            let rotated = Cipher::new(alg, &[secret('b'), secret('a')]).unwrap();
            assert_eq!(&rotated.decrypt(&ct).unwrap()[..], b"refresh-token");
            let ct2 = rotated.encrypt(b"x").unwrap();
            assert_eq!(old.decrypt(&ct2), Err(CipherError::Undecryptable));
            // Tampering is detected.
            let mut bad = ct.clone().into_bytes();
            let last = bad.len() - 1;
            bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
            assert_eq!(
                old.decrypt(std::str::from_utf8(&bad).unwrap()),
                Err(CipherError::Undecryptable)
            );
            assert_eq!(old.decrypt("zz"), Err(CipherError::Malformed));
            assert_eq!(old.decrypt("00"), Err(CipherError::Malformed));
        }
    }

    #[test]
    fn noop_is_hex_and_secrets_are_checked() {
        let c = Cipher::new(CipherAlgorithm::Noop, &[]).unwrap();
        assert_eq!(c.encrypt(b"hi").unwrap(), "6869");
        assert_eq!(
            Cipher::new(CipherAlgorithm::Aes, &[]).unwrap_err(),
            CipherError::NoSecret
        );
        assert_eq!(
            Cipher::new(CipherAlgorithm::Aes, &[Secret::new("short")]).unwrap_err(),
            CipherError::BadSecret
        );
    }

    #[test]
    fn cipher_debug_shows_no_key() {
        let key = "cipher-key-known-0123456789abcde";
        let c = Cipher::new(CipherAlgorithm::XChaCha20Poly1305, &[Secret::new(key)]).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains(key), "{debug}");
        // Nor the key's bytes, as a derived `Debug` of the array would list them.
        assert!(
            !debug.contains(
                &key.as_bytes()[..4]
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "{debug}"
        );
        assert_eq!(debug, "Cipher { algorithm: XChaCha20Poly1305, keys: 1 }");
    }
}
