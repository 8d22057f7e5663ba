//! Sessions: issue, whoami, list, revoke, extend.
//!
//! Tokens are `ory_st_…` (session) and `ory_lo_…` (logout) as in Kratos, but unlike Kratos the
//! store keeps only their SHA-256 digests: a leaked database yields no usable session.
//! Optional sliding expiry (`session.extend_on_use`) extends a session when it is used past
//! `session.earliest_possible_extend`, which Kratos lacks.
//!
//! An optional in-process cache serves whoami from memory ([`WhoamiCache`], off by default).

mod cache;
mod error;
mod manager;
mod model;
mod token;
#[cfg(feature = "jwt")]
pub mod tokenizer;

pub(crate) use cache::{CacheState, EvictingStore};
pub use cache::{WhoamiCache, WhoamiCacheStats};
pub use error::SessionError;
pub(crate) use manager::public_identity;
pub use manager::{IssuedSession, RequiredAal, SessionManager, available_aal};
pub use model::{Aal, AuthenticationMethod, ClientInfo, Device, Session, SessionRecord};
pub(crate) use token::random_alphanumeric;
pub use token::{LogoutToken, SessionToken, token_digest};
#[cfg(feature = "jwt")]
pub use tokenizer::TokenizeError;
