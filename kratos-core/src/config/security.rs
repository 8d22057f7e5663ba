//! `security.*`: protections beyond Kratos's, such as the login lockout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::KratosDuration;

/// `security.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SecurityConfig {
    /// `security.login_lockout`: brute-force protection of password logins.
    pub login_lockout: LockoutConfig,
}

/// `security.login_lockout`. Failed logins are counted per identifier and per client address
/// in the store (so every app instance sharing a database sees them). From the
/// `max_failures`-th failure on, the key is locked for `base_duration`, doubling with each
/// further failure up to `max_duration`. A successful login resets the identifier's count;
/// failures older than `forget_after` are forgotten.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LockoutConfig {
    /// On by default.
    pub enabled: bool,
    /// Failures per identifier before it is locked (default 5).
    pub max_failures: u32,
    /// Failures per client address before it is locked (default 50).
    pub max_failures_per_address: u32,
    /// The first lock's length (default 1m).
    pub base_duration: KratosDuration,
    /// The longest lock (default 1h).
    pub max_duration: KratosDuration,
    /// Failures older than this are forgotten (default 24h).
    pub forget_after: KratosDuration,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            max_failures_per_address: 50,
            base_duration: KratosDuration(Duration::from_secs(60)),
            max_duration: KratosDuration(Duration::from_secs(3600)),
            forget_after: KratosDuration(Duration::from_secs(24 * 3600)),
        }
    }
}
