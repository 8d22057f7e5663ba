//! The password method: the policy a new password must satisfy and the breach checkers it uses.
//!
//! [`PasswordPolicy`] applies Kratos's rules in Kratos's order (minimum length, similarity to
//! the identifier, known data breaches) and reports a [`PolicyViolation`] carrying Kratos's
//! message id, English text and context. Breaches are looked up by a [`BreachChecker`]: an
//! [`OfflineBreachList`] held in memory, or (feature `hibp`) `HaveIBeenPwned`, the k-anonymity
//! range API that Kratos uses by default.
//!
//! The configuration's default (`haveibeenpwned_enabled: true`, as in Kratos) needs the `hibp`
//! feature: without it, building a [`Kratos`](crate::Kratos) fails with
//! [`BreachCheckError::HibpFeatureDisabled`] instead of skipping the check, unless the
//! configuration sets `haveibeenpwned_enabled: false` or the host app sets its own checker
//! ([`KratosBuilder::breach_checker`](crate::KratosBuilder::breach_checker)).

pub mod breach;
#[cfg(feature = "hibp")]
pub mod hibp;
pub(crate) mod login;
pub mod policy;
pub(crate) mod registration;
pub(crate) mod settings;

pub use login::PasswordLogin;
pub use registration::PasswordRegistration;
pub use settings::PasswordSettings;

pub use breach::{BreachCheckError, BreachChecker, OfflineBreachList};
#[cfg(feature = "hibp")]
pub use hibp::{HaveIBeenPwned, HaveIBeenPwnedBuilder, NetworkErrorPolicy};
pub use policy::{
    BCRYPT_MAX_PASSWORD_BYTES, DEFAULT_MIN_LENGTH, PasswordPolicy, PasswordPolicyConfig,
    PolicyViolation, check_bcrypt_length,
};
