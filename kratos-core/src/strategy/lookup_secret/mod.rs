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

/// The expiry of a use that must be remembered as long as the code may exist: the last
/// day of year 9999 (a four-digit year, which every store orders correctly as text).
pub fn remember_forever() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(253_402_214_400, 0)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// The stored configuration of a lookup credential: this library's sealed shape, or
/// Kratos's plaintext one (`recovery_codes` with `code`, as an earlier version imported it),
/// converted. `Ok(None)` when the credential holds no codes.
pub(crate) fn read_config(
    kratos: &crate::Kratos,
    config: &serde_json::Value,
) -> Result<Option<codes::LookupSecretConfig>, crate::flow::FlowError> {
    let parsed = match codes::LookupSecretConfig::from_value(config) {
        Ok(c) => c,
        Err(_) => {
            let keys = codes::mac_keys(kratos.config());
            let key = keys.first().ok_or_else(|| {
                crate::flow::FlowError::Internal("no secret to digest codes with".into())
            })?;
            codes::LookupSecretConfig::from_kratos_config(config, key, kratos.cipher())
                .map_err(|e| crate::flow::FlowError::Internal(e.to_string()))?
        }
    };
    Ok(Some(parsed).filter(|c| !c.recovery_codes.is_empty()))
}
