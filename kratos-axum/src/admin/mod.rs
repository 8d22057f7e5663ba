//! The Kratos admin API.

pub(crate) mod identities;
pub(crate) mod sessions;
