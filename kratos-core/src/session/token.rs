//! Session and logout tokens: random, prefixed as Kratos's, stored only as SHA-256 digests.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` alphanumeric characters from the operating system's random source, unbiased.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        SysRng
            .try_fill_bytes(&mut buf)
            .expect("the operating system's random source failed");
        // 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely.
        for b in buf.iter().filter(|b| **b < 248) {
            out.push(ALPHABET[(*b % 62) as usize] as char);
            if out.len() == len {
                break;
            }
        }
    }
    out
}

/// The SHA-256 digest under which a token is stored.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

macro_rules! token_type {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        ///
        /// `Debug` never shows the value; it is wiped from memory on drop.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// The prefix of every token of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// A new random token.
            pub fn generate() -> Self {
                Self(Zeroizing::new(format!(
                    "{}{}",
                    $prefix,
                    random_alphanumeric(32)
                )))
            }

            /// Wraps a token received from a client.
            pub fn from_string(token: impl Into<String>) -> Self {
                Self(Zeroizing::new(token.into()))
            }

            /// The token, to hand to the client.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The digest under which it is stored.
            pub fn digest(&self) -> [u8; 32] {
                token_digest(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({}<redacted>)"), $prefix)
            }
        }
    };
}

token_type!(SessionToken, "ory_st_", "A session token (`ory_st_…`).");
token_type!(LogoutToken, "ory_lo_", "A logout token (`ory_lo_…`).");

impl LogoutToken {
    /// The logout token of a session, derived from its session token (a keyed SHA-256 with the
    /// session token as key). Only the holder of the session token can compute it, it is the same
    /// on every call (as Kratos's stored logout token is), and it reveals nothing about the
    /// session token. Nothing but its digest is stored.
    pub fn derive(session_token: &SessionToken) -> Self {
        let mut h = Sha256::new();
        h.update(b"kratos-rs logout token v1\0");
        h.update(session_token.expose().as_bytes());
        let first: [u8; 32] = h.finalize().into();
        let mut out = String::with_capacity(Self::PREFIX.len() + 32);
        out.push_str(Self::PREFIX);
        // 32 bytes of output map to 32 characters; the bias of `% 62` is irrelevant since the
        // input carries ~190 bits of entropy.
        for b in first {
            out.push(ALPHABET[(b % 62) as usize] as char);
        }
        Self(Zeroizing::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_kratos_shape_and_hide_in_debug() {
        let t = SessionToken::generate();
        assert!(t.expose().starts_with("ory_st_"));
        assert_eq!(t.expose().len(), 7 + 32);
        assert!(t.expose()[7..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, SessionToken::generate());
        assert!(!format!("{t:?}").contains(&t.expose()[7..]));
        assert!(LogoutToken::generate().expose().starts_with("ory_lo_"));
        let lo = LogoutToken::derive(&t);
        assert_eq!(lo, LogoutToken::derive(&t), "stable");
        assert_ne!(lo, LogoutToken::derive(&SessionToken::generate()));
        assert_eq!(lo.expose().len(), 7 + 32);
        assert!(lo.expose()[7..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(t.digest(), token_digest(t.expose()));
    }

    #[test]
    fn random_alphanumeric_uses_the_whole_alphabet() {
        let s = random_alphanumeric(5000);
        let distinct: std::collections::HashSet<char> = s.chars().collect();
        assert_eq!(distinct.len(), 62);
    }
}
