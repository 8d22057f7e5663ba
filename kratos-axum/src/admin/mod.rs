//! The Kratos admin API.

pub(crate) mod courier;
pub(crate) mod identities;
pub(crate) mod recovery;
pub(crate) mod sessions;
