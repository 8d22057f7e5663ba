//! The `lookup_secret` second factor: recovery (backup) codes, each good for one aal2 login,
//! as Kratos offers them (12 codes of 8 characters, shown once in the settings flow, revealed
//! again on request).
//!
//! [`codes`] holds the building blocks: the codes, their keyed digests, and the credential
//! configuration that keeps them without plaintext (Kratos stores them in plaintext).

pub mod codes;
pub mod login;
pub mod settings;

pub use login::LookupSecretLogin;
pub use settings::LookupSecretSettings;
