//! The Kratos admin API.

pub(crate) mod identities;
