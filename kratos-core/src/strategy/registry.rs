//! The methods of a registry: a struct of trait objects, built from the configuration.

use std::sync::Arc;

use super::recovery::RecoveryStrategy;
use super::verification::VerificationStrategy;
use super::{LoginStrategy, Method, RegistrationStrategy, SettingsStrategy};
use crate::config::Config;

/// The methods a registry offers, per flow, in the order their nodes appear in forms.
///
/// [`Methods::from_config`] builds Kratos's methods that the configuration enables; a host
/// app adds its own with [`Methods::add_login`] and friends (or the
/// [`crate::KratosBuilder`] shortcuts). A method added twice for one flow replaces the
/// first one in place.
#[derive(Clone, Default)]
pub struct Methods {
    login: Vec<Arc<dyn LoginStrategy>>,
    registration: Vec<Arc<dyn RegistrationStrategy>>,
    settings: Vec<Arc<dyn SettingsStrategy>>,
    recovery: Vec<Arc<dyn RecoveryStrategy>>,
    verification: Vec<Arc<dyn VerificationStrategy>>,
}

impl std::fmt::Debug for Methods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Methods")
            .field(
                "login",
                &self.login.iter().map(|s| s.method()).collect::<Vec<_>>(),
            )
            .field(
                "registration",
                &self
                    .registration
                    .iter()
                    .map(|s| s.method())
                    .collect::<Vec<_>>(),
            )
            .field(
                "settings",
                &self.settings.iter().map(|s| s.method()).collect::<Vec<_>>(),
            )
            .field(
                "recovery",
                &self.recovery.iter().map(|s| s.method()).collect::<Vec<_>>(),
            )
            .field(
                "verification",
                &self
                    .verification
                    .iter()
                    .map(|s| s.method())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Methods {
    /// No methods at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Kratos's methods that `config` enables, in Kratos's order: `profile` (settings),
    /// `password`, `code`, then the second factors `totp`, `lookup_secret`; `code` and
    /// `link` for recovery and verification.
    pub fn from_config(config: &Config) -> Self {
        let methods = &config.selfservice.methods;
        let mut m = Self::empty();
        if methods.profile.enabled {
            m.add_settings(Arc::new(super::profile::ProfileSettings));
        }
        if methods.password.enabled {
            m.add_login(Arc::new(super::password::PasswordLogin));
            m.add_registration(Arc::new(super::password::PasswordRegistration));
            m.add_settings(Arc::new(super::password::PasswordSettings));
        }
        if methods.code.passwordless() || methods.code.mfa() {
            m.add_login(Arc::new(super::code::login::CodeLogin {
                passwordless: methods.code.passwordless(),
                mfa: methods.code.mfa(),
            }));
        }
        if methods.code.passwordless() {
            m.add_registration(Arc::new(super::code::registration::CodeRegistration));
        }
        // Recovery and verification by code and link are always there, as Kratos's are: a
        // flow offers the one `use` names when it is enabled, and a recovery flow the admin
        // API made takes its secret whatever the configuration.
        for delivery in [
            crate::config::CodeOrLink::Code,
            crate::config::CodeOrLink::Link,
        ] {
            use super::sent_secret::{recovery, verification};
            m.add_recovery(Arc::new(recovery::SentSecretRecovery(delivery)));
            m.add_verification(Arc::new(verification::SentSecretVerification(delivery)));
        }
        if methods.totp.enabled {
            m.add_login(Arc::new(super::totp::TotpLogin));
            m.add_settings(Arc::new(super::totp::TotpSettings));
        }
        if methods.lookup_secret.enabled {
            m.add_login(Arc::new(super::lookup_secret::LookupSecretLogin));
            m.add_settings(Arc::new(super::lookup_secret::LookupSecretSettings));
        }
        #[cfg(feature = "webauthn")]
        if methods.webauthn.enabled {
            let passwordless = super::webauthn::passwordless(&methods.webauthn.config);
            m.add_login(Arc::new(super::webauthn::WebauthnLogin { passwordless }));
            if passwordless {
                m.add_registration(Arc::new(super::webauthn::WebauthnRegistration));
            }
            m.add_settings(Arc::new(super::webauthn::WebauthnSettings));
        }
        #[cfg(feature = "webauthn")]
        if methods.passkey.enabled {
            m.add_login(Arc::new(super::passkey::PasskeyLogin));
            m.add_registration(Arc::new(super::passkey::PasskeyRegistration));
            m.add_settings(Arc::new(super::passkey::PasskeySettings));
        }
        m
    }

    /// Refuses a method the configuration enables but this registry does not offer
    /// (`selfservice.methods.oidc.enabled: true` in a build without it): a configuration
    /// error naming the key, never a method silently off.
    pub fn check_available(&self, config: &Config) -> Result<(), crate::config::ConfigError> {
        #[cfg(feature = "webauthn")]
        super::passkey::check_relying_party(config)?;
        for name in config.selfservice.methods.enabled_methods() {
            let named = |m: Method| m.as_str() == name;
            let offered = self.login.iter().any(|s| named(s.method()))
                || self.registration.iter().any(|s| named(s.method()))
                || self.settings.iter().any(|s| named(s.method()))
                || self.recovery.iter().any(|s| named(s.method()))
                || self.verification.iter().any(|s| named(s.method()));
            if !offered {
                return Err(crate::config::ConfigError::invalid(
                    format!("selfservice.methods.{name}.enabled"),
                    format!("the `{name}` method is not available in this build"),
                ));
            }
        }
        Ok(())
    }

    /// Adds (or replaces, by method) a login strategy.
    pub fn add_login(&mut self, strategy: Arc<dyn LoginStrategy>) -> &mut Self {
        replace_or_push(&mut self.login, strategy, |s| s.method());
        self
    }

    /// Adds (or replaces, by method) a registration strategy.
    pub fn add_registration(&mut self, strategy: Arc<dyn RegistrationStrategy>) -> &mut Self {
        replace_or_push(&mut self.registration, strategy, |s| s.method());
        self
    }

    /// Adds (or replaces, by method) a settings strategy.
    pub fn add_settings(&mut self, strategy: Arc<dyn SettingsStrategy>) -> &mut Self {
        replace_or_push(&mut self.settings, strategy, |s| s.method());
        self
    }

    /// Adds (or replaces, by method) a recovery strategy.
    pub fn add_recovery(&mut self, strategy: Arc<dyn RecoveryStrategy>) -> &mut Self {
        replace_or_push(&mut self.recovery, strategy, |s| s.method());
        self
    }

    /// Adds (or replaces, by method) a verification strategy.
    pub fn add_verification(&mut self, strategy: Arc<dyn VerificationStrategy>) -> &mut Self {
        replace_or_push(&mut self.verification, strategy, |s| s.method());
        self
    }

    /// The recovery strategies.
    pub fn recovery_strategies(&self) -> &[Arc<dyn RecoveryStrategy>] {
        &self.recovery
    }

    /// The verification strategies.
    pub fn verification_strategies(&self) -> &[Arc<dyn VerificationStrategy>] {
        &self.verification
    }

    /// The recovery strategy of `method`.
    pub fn recovery(&self, method: &Method) -> Option<&Arc<dyn RecoveryStrategy>> {
        self.recovery.iter().find(|s| &s.method() == method)
    }

    /// The verification strategy of `method`.
    pub fn verification(&self, method: &Method) -> Option<&Arc<dyn VerificationStrategy>> {
        self.verification.iter().find(|s| &s.method() == method)
    }

    /// The login strategies, in form order.
    pub fn login_strategies(&self) -> &[Arc<dyn LoginStrategy>] {
        &self.login
    }

    /// The registration strategies, in form order.
    pub fn registration_strategies(&self) -> &[Arc<dyn RegistrationStrategy>] {
        &self.registration
    }

    /// The settings strategies, in form order.
    pub fn settings_strategies(&self) -> &[Arc<dyn SettingsStrategy>] {
        &self.settings
    }

    /// The login strategy of `method`.
    pub fn login(&self, method: &Method) -> Option<&Arc<dyn LoginStrategy>> {
        self.login.iter().find(|s| &s.method() == method)
    }

    /// The login strategies that claim a submission ([`LoginStrategy::claims`]), in form
    /// order.
    pub(crate) fn login_claiming(
        &self,
        payload: &serde_json::Value,
    ) -> Vec<&Arc<dyn LoginStrategy>> {
        self.login.iter().filter(|s| s.claims(payload)).collect()
    }

    /// The registration strategy that claims a submission
    /// ([`RegistrationStrategy::claims`]).
    pub(crate) fn registration_claiming(
        &self,
        payload: &serde_json::Value,
    ) -> Option<&Arc<dyn RegistrationStrategy>> {
        self.registration.iter().find(|s| s.claims(payload))
    }

    /// The settings strategy that claims a submission ([`SettingsStrategy::claims`]).
    pub(crate) fn settings_claiming(
        &self,
        payload: &serde_json::Value,
    ) -> Option<&Arc<dyn SettingsStrategy>> {
        self.settings.iter().find(|s| s.claims(payload))
    }

    /// Whether a second-factor login method is registered.
    pub fn has_second_factor(&self) -> bool {
        self.login
            .iter()
            .any(|s| matches!(s.factor(), super::Factor::Second | super::Factor::Both))
    }

    /// Whether every method whose credentials the store counts as a second factor (`totp`,
    /// `lookup_secret`, `webauthn`) has a login strategy: only then is the level the store
    /// keeps the level a flow can give (an imported security key without the `webauthn`
    /// method asks for no step-up).
    pub fn has_every_second_factor(&self) -> bool {
        [Method::Totp, Method::LookupSecret, Method::Webauthn]
            .iter()
            .all(|m| self.has_login(m))
    }

    /// Whether any login strategy of `method` is registered.
    pub fn has_login(&self, method: &Method) -> bool {
        self.login(method).is_some()
    }
}

/// Whether `method` is switched on in `config` (`selfservice.methods.<name>.enabled`); a
/// host app's own method is on once registered.
pub(crate) fn configured_on(config: &Config, method: &Method) -> bool {
    match method {
        Method::Custom(_) => true,
        known => config
            .selfservice
            .methods
            .enabled_methods()
            .contains(&known.as_str()),
    }
}

fn replace_or_push<T: ?Sized>(list: &mut Vec<Arc<T>>, item: Arc<T>, method: impl Fn(&T) -> Method) {
    let m = method(&item);
    match list.iter_mut().find(|s| method(s) == m) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}
