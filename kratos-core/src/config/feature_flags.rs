//! `feature_flags.*`: Kratos's switches between an older and a newer behaviour.
//!
//! Only the flags this library acts on are read; Kratos's others (`cacheable_sessions`,
//! `use_continue_with_transitions`, …) are ignored like any unknown key.

use serde::{Deserialize, Serialize};

/// `feature_flags.*`
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct FeatureFlagsConfig {
    /// `feature_flags.choose_recovery_address` (default off): recovery flows created while it
    /// is on are recovery "v2" flows of the `code` method. The user gives any recovery
    /// address of the account, picks among its recovery addresses (shown masked) the one to
    /// send the code to, and the code goes by SMS to a phone number (`via: sms`) or by email.
    /// Whether a flow is v2 is decided when it is created: turning the flag off leaves the
    /// flows created before in v2.
    pub choose_recovery_address: bool,
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn reads_kratos_key_with_default_off_and_ignores_the_other_flags() {
        let secrets = "secrets:\n  default: [\"a-very-long-secret-of-32-chars!!\"]\n";
        let off = Config::from_yaml_str(secrets).unwrap();
        assert!(!off.feature_flags.choose_recovery_address);
        let on = Config::from_yaml_str(&format!(
            "{secrets}feature_flags:\n  choose_recovery_address: true\n  cacheable_sessions: true\n  use_continue_with_transitions: true\n"
        ))
        .unwrap();
        assert!(on.feature_flags.choose_recovery_address);
        let bad = Config::from_yaml_str(&format!(
            "{secrets}feature_flags:\n  choose_recovery_address: maybe\n"
        ))
        .unwrap_err();
        assert_eq!(bad.key(), Some("feature_flags.choose_recovery_address"));
    }
}
