//! Credential strategies: how each sign-in method checks, stores and renders its credentials.
//!
//! One module per method, as Kratos names them (`password`, `code`, `totp`, …).

pub(crate) mod code;
pub mod lookup_secret;
pub mod password;
pub mod totp;
