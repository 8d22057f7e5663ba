//! The password policy: which new passwords are accepted, and Kratos's messages for the rest.
//!
//! The rules and their order follow Kratos's default password validator:
//!
//! 1. **Minimum length** ([`PasswordPolicy::min_length`], default 8). Kratos counts bytes (Go's
//!    `len`); this crate counts Unicode scalar values (`char`s), as NIST SP 800-63B asks ("each
//!    Unicode code point counted as one character"), so `"пароль12"` (8 characters, 14 bytes)
//!    passes for both while `"日本語パス"` (5 characters, 15 bytes) passes Kratos's default but
//!    not ours. ASCII passwords behave identically. The message reports the same count.
//! 2. **Similarity to the identifier** ([`PasswordPolicy::identifier_similarity_check_enabled`],
//!    default on). Both are lowercased; the password is rejected when the Levenshtein distance is
//!    below 5 or the longest common substring is more than half of the password. The check is
//!    skipped for an empty identifier and when either operand (before or after lowercasing) is
//!    longer than 256 bytes, which bounds its quadratic cost. Distances and substrings are
//!    measured in characters; Kratos measures the Levenshtein distance in characters too, and its
//!    substring ratio in bytes, so the two agree on ASCII input.
//! 3. **Known breaches** ([`PasswordPolicy::breach_checker`], default none): the password is
//!    rejected when it appears in more than [`PasswordPolicy::max_breaches`] breaches (default 0).
//!    When the checker fails (it only does when configured to reject on network errors), the
//!    password is rejected with the generic policy message (4000005); Kratos answers an upstream
//!    error (HTTP 502) instead of a form message there.
//!
//! The password itself never appears in an error, a log line or `Debug` output.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};

use super::breach::BreachChecker;

/// Kratos's default minimum password length (`selfservice.methods.password.config.min_password_length`).
pub const DEFAULT_MIN_LENGTH: usize = 8;

/// The longest password, in bytes, that bcrypt hashes without truncating it; Kratos rejects longer
/// ones with [`PolicyViolation::TooLong`] when bcrypt is the configured hasher.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// Operands longer than this (in bytes) skip the similarity check, as in Kratos.
const MAX_SIMILARITY_CHECK_LENGTH: usize = 256;

/// A password closer than this (Levenshtein distance) to the identifier is too similar.
const MIN_IDENTIFIER_DISTANCE: usize = 5;

/// The reason given in the generic message when breaches could not be checked.
const BREACH_CHECK_UNAVAILABLE_REASON: &str = "it could not be checked against known data breaches";

/// Kratos's password policy, applied to new passwords (registration, settings, recovery, import
/// of plaintext passwords).
///
/// ```
/// use kratos_core::strategy::password::{OfflineBreachList, PasswordPolicy, PolicyViolation};
/// use std::sync::Arc;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let policy = PasswordPolicy {
///     breach_checker: Some(Arc::new(OfflineBreachList::from_passwords(["correct horse battery"]))),
///     ..PasswordPolicy::default()
/// };
/// assert_eq!(
///     policy.check("ada@example.com", "short").await,
///     Err(PolicyViolation::TooShort { min_length: 8, actual_length: 5 })
/// );
/// assert_eq!(
///     policy.check("ada@example.com", "ada@example.com1").await,
///     Err(PolicyViolation::TooSimilarToIdentifier)
/// );
/// assert_eq!(
///     policy.check("ada@example.com", "correct horse battery").await,
///     Err(PolicyViolation::Breached { breaches: 1 })
/// );
/// assert_eq!(policy.check("ada@example.com", "tinned-spaghetti-88").await, Ok(()));
/// # });
/// ```
#[derive(Clone)]
pub struct PasswordPolicy {
    /// The fewest characters (Unicode scalar values) a password may have. Default 8.
    pub min_length: usize,
    /// Whether passwords too similar to the identifier are rejected. Default `true`.
    pub identifier_similarity_check_enabled: bool,
    /// The most breaches a password may appear in and still be accepted. Default 0.
    pub max_breaches: u64,
    /// Where breaches are looked up; `None` (the default of this struct) skips the breach
    /// check. Kratos checks Have I Been Pwned by default, and so does a policy built from the
    /// configuration ([`PasswordPolicyConfig::build_policy`]): it sets a `HaveIBeenPwned` here
    /// with the `hibp` feature and fails without it.
    pub breach_checker: Option<Arc<dyn BreachChecker>>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
            identifier_similarity_check_enabled: true,
            max_breaches: 0,
            breach_checker: None,
        }
    }
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("min_length", &self.min_length)
            .field(
                "identifier_similarity_check_enabled",
                &self.identifier_similarity_check_enabled,
            )
            .field("max_breaches", &self.max_breaches)
            .field("breach_checker", &self.breach_checker)
            .finish()
    }
}

impl PasswordPolicy {
    /// Checks `password` for an identity whose identifier is `identifier`; the first rule broken
    /// is reported, in Kratos's order: length, similarity, breaches.
    ///
    /// An empty identifier skips the similarity check.
    pub async fn check(&self, identifier: &str, password: &str) -> Result<(), PolicyViolation> {
        self.check_length(password)?;
        self.check_similarity(identifier, password)?;
        self.check_breaches(password).await
    }

    /// Checks `password` for an identity with several identifiers (Kratos validates against each
    /// password identifier): length, then similarity to every identifier, then breaches, which
    /// are looked up once.
    pub async fn check_identifiers<'a, I>(
        &self,
        identifiers: I,
        password: &str,
    ) -> Result<(), PolicyViolation>
    where
        I: IntoIterator<Item = &'a str>,
    {
        self.check_length(password)?;
        for identifier in identifiers {
            self.check_similarity(identifier, password)?;
        }
        self.check_breaches(password).await
    }

    /// The length rule alone.
    pub fn check_length(&self, password: &str) -> Result<(), PolicyViolation> {
        let actual_length = password.chars().count();
        if actual_length < self.min_length {
            return Err(PolicyViolation::TooShort {
                min_length: self.min_length,
                actual_length,
            });
        }
        Ok(())
    }

    /// The similarity rule alone (a no-op when it is disabled).
    pub fn check_similarity(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<(), PolicyViolation> {
        if self.identifier_similarity_check_enabled && too_similar(identifier, password) {
            return Err(PolicyViolation::TooSimilarToIdentifier);
        }
        Ok(())
    }

    /// The breach rule alone (a no-op without a checker).
    pub async fn check_breaches(&self, password: &str) -> Result<(), PolicyViolation> {
        let Some(checker) = &self.breach_checker else {
            return Ok(());
        };
        match checker.breaches(password).await {
            Ok(breaches) if breaches > self.max_breaches => {
                Err(PolicyViolation::Breached { breaches })
            }
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "the password could not be checked against known data breaches");
                Err(PolicyViolation::BreachCheckUnavailable)
            }
        }
    }
}

/// The policy's settings as Kratos spells them under `selfservice.methods.password.config`,
/// with Kratos's defaults; deserialise it from that object (other keys there, such as
/// `migrate_hook`, are ignored) and turn it into a policy with [`build_policy`](Self::build_policy).
///
/// ```
/// use kratos_core::strategy::password::PasswordPolicyConfig;
///
/// let config: PasswordPolicyConfig =
///     serde_json::from_value(serde_json::json!({"min_password_length": 10, "haveibeenpwned_enabled": false}))?;
/// let policy = config.build_policy()?;
/// assert_eq!(policy.min_length, 10);
/// assert!(policy.breach_checker.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PasswordPolicyConfig {
    /// The Have I Been Pwned host (default `api.pwnedpasswords.com`), reached over HTTPS. A value
    /// with a scheme (`http://127.0.0.1:8080`) is taken as a base URL, which Kratos does not
    /// support.
    pub haveibeenpwned_host: String,
    /// Whether breaches are looked up in Have I Been Pwned (default `true`, as in Kratos). Needs
    /// the `hibp` feature: without it, [`build_policy`](Self::build_policy) fails with
    /// [`BreachCheckError::HibpFeatureDisabled`](super::BreachCheckError::HibpFeatureDisabled)
    /// while this is `true`.
    pub haveibeenpwned_enabled: bool,
    /// The most breaches a password may appear in (default 0).
    pub max_breaches: u64,
    /// Whether a failed lookup accepts the password (default `true`).
    pub ignore_network_errors: bool,
    /// The minimum length (default 8), in characters here, in bytes in Kratos.
    pub min_password_length: usize,
    /// Whether passwords too similar to the identifier are rejected (default `true`).
    pub identifier_similarity_check_enabled: bool,
}

impl Default for PasswordPolicyConfig {
    fn default() -> Self {
        Self {
            haveibeenpwned_host: "api.pwnedpasswords.com".to_owned(),
            haveibeenpwned_enabled: true,
            max_breaches: 0,
            ignore_network_errors: true,
            min_password_length: DEFAULT_MIN_LENGTH,
            identifier_similarity_check_enabled: true,
        }
    }
}

impl PasswordPolicyConfig {
    /// The policy these settings describe, with a Have I Been Pwned client when
    /// `haveibeenpwned_enabled` is set.
    ///
    /// # Errors
    ///
    /// [`BreachCheckError::HibpFeatureDisabled`](super::BreachCheckError::HibpFeatureDisabled)
    /// when `haveibeenpwned_enabled` is set and kratos-core was built without the `hibp` feature
    /// (the check is never switched off silently); with the feature, an error when
    /// `haveibeenpwned_host` does not make a valid URL.
    pub fn build_policy(&self) -> Result<PasswordPolicy, super::BreachCheckError> {
        Ok(self.policy_with_checker(self.breach_checker()?))
    }

    /// The policy these settings describe with `checker` as its breach checker, whatever
    /// `haveibeenpwned_enabled` says: for a checker the host app sets itself
    /// ([`KratosBuilder::breach_checker`](crate::KratosBuilder::breach_checker)).
    pub(crate) fn policy_with_checker(
        &self,
        checker: Option<Arc<dyn BreachChecker>>,
    ) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.min_password_length,
            identifier_similarity_check_enabled: self.identifier_similarity_check_enabled,
            max_breaches: self.max_breaches,
            breach_checker: checker,
        }
    }

    #[cfg(feature = "hibp")]
    fn breach_checker(&self) -> Result<Option<Arc<dyn BreachChecker>>, super::BreachCheckError> {
        use super::hibp::{HaveIBeenPwned, NetworkErrorPolicy};
        if !self.haveibeenpwned_enabled {
            return Ok(None);
        }
        let host = self.haveibeenpwned_host.trim();
        let base_url = if host.contains("://") {
            host.to_owned()
        } else {
            format!("https://{host}")
        };
        let network_errors = if self.ignore_network_errors {
            NetworkErrorPolicy::Accept
        } else {
            NetworkErrorPolicy::Reject
        };
        let hibp = HaveIBeenPwned::builder()
            .base_url(base_url)
            .network_errors(network_errors)
            .build()?;
        Ok(Some(Arc::new(hibp)))
    }

    #[cfg(not(feature = "hibp"))]
    fn breach_checker(&self) -> Result<Option<Arc<dyn BreachChecker>>, super::BreachCheckError> {
        if self.haveibeenpwned_enabled {
            return Err(super::BreachCheckError::HibpFeatureDisabled);
        }
        Ok(None)
    }
}

/// Checks bcrypt's input limit: Kratos rejects passwords longer than 72 bytes when it hashes with
/// bcrypt, because bcrypt would silently ignore the rest.
pub fn check_bcrypt_length(password: &str) -> Result<(), PolicyViolation> {
    if password.len() > BCRYPT_MAX_PASSWORD_BYTES {
        return Err(PolicyViolation::TooLong {
            max_length: BCRYPT_MAX_PASSWORD_BYTES,
            actual_length: password.len(),
        });
    }
    Ok(())
}

/// Why a password was rejected, with Kratos's message id, text and context.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Shorter than the minimum length (message 4000032).
    #[error("The password must be at least {min_length} characters long, but got {actual_length}.")]
    TooShort {
        /// The configured minimum.
        min_length: usize,
        /// The password's length (in characters).
        actual_length: usize,
    },
    /// Longer than the hasher accepts (message 4000033); Kratos's bcrypt limit is 72 bytes.
    #[error("The password must be at most {max_length} characters long, but got {actual_length}.")]
    TooLong {
        /// The maximum.
        max_length: usize,
        /// The password's length (in bytes, as the limit is bcrypt's).
        actual_length: usize,
    },
    /// Too similar to the identifier (message 4000031).
    #[error("The password can not be used because it is too similar to the identifier.")]
    TooSimilarToIdentifier,
    /// Found in more known data breaches than allowed (message 4000034).
    #[error("The password has been found in data breaches and must no longer be used.")]
    Breached {
        /// How many breaches the password was found in.
        breaches: u64,
    },
    /// The breach checker failed and is configured to reject then (generic message 4000005).
    #[error(
        "The password can not be used because it could not be checked against known data breaches."
    )]
    BreachCheckUnavailable,
}

impl PolicyViolation {
    /// Kratos's message id (`text/id.go`).
    pub fn message_id(&self) -> u32 {
        match self {
            PolicyViolation::TooShort { .. } => 4_000_032,
            PolicyViolation::TooLong { .. } => 4_000_033,
            PolicyViolation::TooSimilarToIdentifier => 4_000_031,
            PolicyViolation::Breached { .. } => 4_000_034,
            PolicyViolation::BreachCheckUnavailable => 4_000_005,
        }
    }

    /// Kratos's English text of the message.
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// Kratos's context object of the message, or `Value::Null` where Kratos sends none.
    pub fn context(&self) -> Value {
        match self {
            PolicyViolation::TooShort {
                min_length,
                actual_length,
            } => json!({"min_length": min_length, "actual_length": actual_length}),
            PolicyViolation::TooLong {
                max_length,
                actual_length,
            } => json!({"max_length": max_length, "actual_length": actual_length}),
            PolicyViolation::TooSimilarToIdentifier => Value::Null,
            PolicyViolation::Breached { breaches } => json!({"breaches": breaches}),
            PolicyViolation::BreachCheckUnavailable => {
                json!({"reason": BREACH_CHECK_UNAVAILABLE_REASON})
            }
        }
    }

    /// The UI message as Kratos serialises it: `{id, text, type: "error", context?}`.
    pub fn message(&self) -> Value {
        let mut message = json!({
            "id": self.message_id(),
            "text": self.text(),
            "type": "error",
        });
        let context = self.context();
        if !context.is_null() {
            message["context"] = context;
        }
        message
    }
}

/// Kratos's similarity rule on raw (not yet lowercased) operands, including its skips.
fn too_similar(identifier: &str, password: &str) -> bool {
    if identifier.is_empty()
        || identifier.len() > MAX_SIMILARITY_CHECK_LENGTH
        || password.len() > MAX_SIMILARITY_CHECK_LENGTH
    {
        return false;
    }
    let identifier = identifier.to_lowercase();
    let password = password.to_lowercase();
    // Lowercasing can lengthen a string, so the bound is checked again.
    if identifier.len() > MAX_SIMILARITY_CHECK_LENGTH
        || password.len() > MAX_SIMILARITY_CHECK_LENGTH
    {
        return false;
    }
    let identifier: Vec<char> = identifier.chars().collect();
    let password: Vec<char> = password.chars().collect();
    if levenshtein(&identifier, &password) < MIN_IDENTIFIER_DISTANCE {
        return true;
    }
    // More than half of the password is a substring of the identifier: 2·lcs > len, exact in
    // integers (Kratos compares the float ratio with 0.5).
    2 * longest_common_substring(&identifier, &password) > password.len()
}

/// The Levenshtein (edit) distance between two character sequences.
fn levenshtein(a: &[char], b: &[char]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut row: Vec<usize> = (0..=a.len()).collect();
    for (j, cb) in b.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = j + 1;
        for (i, ca) in a.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[i + 1];
            row[i + 1] = substitution.min(row[i] + 1).min(diagonal + 1);
        }
    }
    row[a.len()]
}

/// The length of the longest common (contiguous) substring of two character sequences.
fn longest_common_substring(a: &[char], b: &[char]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    let mut longest = 0;
    for ca in a {
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = if ca == cb { previous[j] + 1 } else { 0 };
            longest = longest.max(current[j + 1]);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::password::breach::{BreachCheckError, OfflineBreachList};

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn lev(a: &str, b: &str) -> usize {
        levenshtein(&chars(a), &chars(b))
    }

    fn lcs(a: &str, b: &str) -> usize {
        longest_common_substring(&chars(a), &chars(b))
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    fn check(
        policy: &PasswordPolicy,
        identifier: &str,
        password: &str,
    ) -> Result<(), PolicyViolation> {
        block_on(policy.check(identifier, password))
    }

    #[derive(Debug)]
    struct Fixed(Result<u64, &'static str>);

    #[async_trait::async_trait]
    impl BreachChecker for Fixed {
        async fn breaches(&self, _password: &str) -> Result<u64, BreachCheckError> {
            self.0.map_err(|e| BreachCheckError::Network(e.to_owned()))
        }
    }

    fn with_checker(checker: impl BreachChecker + 'static) -> PasswordPolicy {
        PasswordPolicy {
            breach_checker: Some(Arc::new(checker)),
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn defaults_are_kratos_defaults() {
        let policy = PasswordPolicy::default();
        assert_eq!(policy.min_length, 8);
        assert!(policy.identifier_similarity_check_enabled);
        assert_eq!(policy.max_breaches, 0);
        assert!(policy.breach_checker.is_none());
    }

    #[test]
    fn config_defaults_and_keys_are_kratos() {
        let config: PasswordPolicyConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(config, PasswordPolicyConfig::default());
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({
                "haveibeenpwned_host": "api.pwnedpasswords.com",
                "haveibeenpwned_enabled": true,
                "max_breaches": 0,
                "ignore_network_errors": true,
                "min_password_length": 8,
                "identifier_similarity_check_enabled": true
            })
        );
        let config: PasswordPolicyConfig = serde_json::from_value(json!({
            "min_password_length": 12,
            "max_breaches": 5,
            "identifier_similarity_check_enabled": false,
            "haveibeenpwned_enabled": false,
            "migrate_hook": {"enabled": false}
        }))
        .unwrap();
        let policy = config.build_policy().unwrap();
        assert_eq!(policy.min_length, 12);
        assert_eq!(policy.max_breaches, 5);
        assert!(!policy.identifier_similarity_check_enabled);
        assert!(policy.breach_checker.is_none());
    }

    #[cfg(feature = "hibp")]
    #[tokio::test]
    async fn config_builds_a_hibp_client() {
        let policy = PasswordPolicyConfig::default().build_policy().unwrap();
        let debug = format!("{policy:?}");
        assert!(debug.contains("https://api.pwnedpasswords.com"), "{debug}");
        assert!(debug.contains("Accept"), "{debug}");
        let strict = PasswordPolicyConfig {
            haveibeenpwned_host: "http://127.0.0.1:9".to_owned(),
            ignore_network_errors: false,
            ..PasswordPolicyConfig::default()
        };
        let debug = format!("{:?}", strict.build_policy().unwrap());
        assert!(debug.contains("http://127.0.0.1:9"), "{debug}");
        assert!(debug.contains("Reject"), "{debug}");
        let bad = PasswordPolicyConfig {
            haveibeenpwned_host: "bad host".to_owned(),
            ..PasswordPolicyConfig::default()
        };
        assert!(bad.build_policy().is_err());
    }

    #[cfg(not(feature = "hibp"))]
    #[test]
    fn config_asking_for_hibp_without_the_feature_is_an_error() {
        let err = PasswordPolicyConfig::default().build_policy().unwrap_err();
        assert!(
            matches!(err, BreachCheckError::HibpFeatureDisabled),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("`hibp` cargo feature"), "{message}");
        assert!(
            message.contains("haveibeenpwned_enabled: false"),
            "{message}"
        );
        // A checker the host sets itself needs no feature.
        let policy = PasswordPolicyConfig::default().policy_with_checker(Some(Arc::new(
            OfflineBreachList::from_passwords(["password"]),
        )));
        assert!(policy.breach_checker.is_some());
    }

    #[test]
    fn levenshtein_edge_cases() {
        assert_eq!(lev("", ""), 0);
        assert_eq!(lev("", "abc"), 3);
        assert_eq!(lev("abc", ""), 3);
        assert_eq!(lev("abc", "abc"), 0);
        assert_eq!(lev("kitten", "sitting"), 3);
        assert_eq!(lev("flaw", "lawn"), 2);
        assert_eq!(lev("abc", "cba"), 2);
        assert_eq!(lev("héllo", "hello"), 1, "one character, two bytes");
        assert_eq!(lev("日本語", "日本"), 1);
        assert_eq!(lev("a", "b"), 1);
    }

    #[test]
    fn longest_common_substring_edge_cases() {
        assert_eq!(lcs("", ""), 0);
        assert_eq!(lcs("abc", ""), 0);
        assert_eq!(lcs("", "abc"), 0);
        assert_eq!(lcs("abc", "xyz"), 0);
        assert_eq!(lcs("abcdef", "zcdez"), 3);
        assert_eq!(lcs("aaaa", "aa"), 2);
        assert_eq!(lcs("xabcx", "abc"), 3);
        assert_eq!(lcs("ünïcödé", "xxünïcyy"), 4, "counted in characters");
    }

    #[test]
    fn too_short_first() {
        let policy = PasswordPolicy::default();
        let err = check(&policy, "ada@example.com", "ada").unwrap_err();
        assert_eq!(
            err,
            PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 3
            },
            "length is checked before similarity"
        );
        assert_eq!(err.message_id(), 4000032);
        assert_eq!(
            err.text(),
            "The password must be at least 8 characters long, but got 3."
        );
        assert_eq!(err.context(), json!({"min_length": 8, "actual_length": 3}));
        assert_eq!(
            err.message(),
            json!({
                "id": 4000032,
                "text": "The password must be at least 8 characters long, but got 3.",
                "type": "error",
                "context": {"min_length": 8, "actual_length": 3}
            })
        );
        assert_eq!(
            check(&policy, "", "1234567"),
            Err(PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 7
            })
        );
        assert_eq!(check(&policy, "", "12345678"), Ok(()));
        assert_eq!(
            check(&policy, "", ""),
            Err(PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 0
            })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let policy = PasswordPolicy::default();
        // Five characters, fifteen bytes: Kratos (bytes) would accept it, we do not.
        assert_eq!(
            check(&policy, "", "日本語パス"),
            Err(PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 5
            })
        );
        // Eight characters, fourteen bytes.
        assert_eq!(check(&policy, "", "пароль12"), Ok(()));
        // An emoji with a skin tone is two scalar values.
        assert_eq!(
            check(&policy, "", "👍🏽"),
            Err(PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 2
            })
        );
    }

    #[test]
    fn min_length_is_configurable() {
        let policy = PasswordPolicy {
            min_length: 12,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            check(&policy, "", "elevenchars"),
            Err(PolicyViolation::TooShort {
                min_length: 12,
                actual_length: 11
            })
        );
        let none = PasswordPolicy {
            min_length: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(check(&none, "", ""), Ok(()));
    }

    #[test]
    fn similar_to_identifier() {
        let policy = PasswordPolicy::default();
        let err = check(&policy, "ada@example.com", "ada@example.com").unwrap_err();
        assert_eq!(err, PolicyViolation::TooSimilarToIdentifier);
        assert_eq!(err.message_id(), 4000031);
        assert_eq!(
            err.text(),
            "The password can not be used because it is too similar to the identifier."
        );
        assert_eq!(err.context(), Value::Null);
        assert_eq!(
            err.message(),
            json!({
                "id": 4000031,
                "text": "The password can not be used because it is too similar to the identifier.",
                "type": "error"
            })
        );
        // Case does not matter.
        assert_eq!(
            check(&policy, "Ada@Example.com", "ADA@EXAMPLE.COM"),
            Err(err.clone())
        );
        // Levenshtein distance 4 < 5.
        assert_eq!(
            check(&policy, "ada@example.com", "ada@example.com1234"),
            Err(err.clone())
        );
        // Distance ≥ 5 but the identifier covers more than half of the password.
        assert_eq!(
            check(&policy, "adalovelace", "adalovelace#2024!"),
            Err(err.clone())
        );
        assert_eq!(
            check(&policy, "adalovelace", "xxxxxadalove"),
            Err(err.clone())
        );
    }

    #[test]
    fn similarity_thresholds_are_strict() {
        let policy = PasswordPolicy::default();
        // Distance exactly 5 and common substring exactly half: accepted.
        assert_eq!(lev("abcde", "abcde12345"), 5);
        assert_eq!(lcs("abcde", "abcde12345"), 5);
        assert_eq!(check(&policy, "abcde", "abcde12345"), Ok(()));
        // Distance 5 again, but 6 of 11 characters shared: more than half.
        assert_eq!(lev("abcdef", "abcdef12345"), 5);
        assert_eq!(
            check(&policy, "abcdef", "abcdef12345"),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
        // Distance 2: rejected although at most 2 of 8 characters are shared in a row.
        assert_eq!(lev("abcdefgh", "abxdexgh"), 2);
        assert_eq!(lcs("abcdefgh", "abxdexgh"), 2);
        assert_eq!(
            check(&policy, "abcdefgh", "abxdexgh"),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
        assert_eq!(check(&policy, "abcdefgh", "zyxwvuts"), Ok(()));
        assert_eq!(
            check(&policy, "ab", "abcdefgh"),
            Ok(()),
            "distance 6, shared 2 of 8"
        );
    }

    #[test]
    fn similarity_skips() {
        let policy = PasswordPolicy::default();
        // Empty identifier.
        assert_eq!(check(&policy, "", "12345678"), Ok(()));
        // Operands over 256 bytes.
        let long = "a".repeat(257);
        assert_eq!(check(&policy, &long, &long), Ok(()));
        let at_limit = "a".repeat(256);
        assert_eq!(
            check(&policy, &at_limit, &at_limit),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
        assert_eq!(check(&policy, "aaaaaaaa", &long), Ok(()));
        assert_eq!(check(&policy, &long, "aaaaaaaa"), Ok(()));
        // Multibyte: 129 two-byte characters are 258 bytes.
        let wide = "é".repeat(129);
        assert_eq!(check(&policy, &wide, &wide), Ok(()));
        // Lowercasing 'İ' (2 bytes) gives 3 bytes in Rust: re-checked after folding.
        let expands = "İ".repeat(100);
        assert_eq!(expands.len(), 200);
        assert!(expands.to_lowercase().len() > 256);
        assert_eq!(check(&policy, &expands, &expands), Ok(()));
        // Disabled.
        let off = PasswordPolicy {
            identifier_similarity_check_enabled: false,
            ..PasswordPolicy::default()
        };
        assert_eq!(check(&off, "ada@example.com", "ada@example.com"), Ok(()));
    }

    #[test]
    fn similarity_with_unicode() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            check(&policy, "Ünïcödé-Üser", "ünïcödé-üser"),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
        assert_eq!(
            check(&policy, "ΑΛΦΑΒΗΤΑ", "αλφαβητα1"),
            Err(PolicyViolation::TooSimilarToIdentifier),
            "Greek capitals lowercase"
        );
        assert_eq!(check(&policy, "ユーザー名", "全然違うパスワード"), Ok(()));
    }

    #[test]
    fn several_identifiers() {
        let policy = PasswordPolicy::default();
        let ids = ["ada@example.com", "adalovelace"];
        assert_eq!(
            block_on(policy.check_identifiers(ids, "adalovelace1")),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
        assert_eq!(
            block_on(policy.check_identifiers(ids, "tinned-spaghetti-88")),
            Ok(())
        );
        assert_eq!(
            block_on(policy.check_identifiers(ids, "short")),
            Err(PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 5
            })
        );
    }

    #[test]
    fn breaches_above_the_maximum() {
        let policy = with_checker(Fixed(Ok(3)));
        let err = check(&policy, "ada@example.com", "tinned-spaghetti-88").unwrap_err();
        assert_eq!(err, PolicyViolation::Breached { breaches: 3 });
        assert_eq!(err.message_id(), 4000034);
        assert_eq!(
            err.text(),
            "The password has been found in data breaches and must no longer be used."
        );
        assert_eq!(err.context(), json!({"breaches": 3}));

        let lenient = PasswordPolicy {
            max_breaches: 3,
            ..policy.clone()
        };
        assert_eq!(
            check(&lenient, "ada@example.com", "tinned-spaghetti-88"),
            Ok(())
        );
        let stricter = PasswordPolicy {
            max_breaches: 2,
            ..policy
        };
        assert_eq!(
            check(&stricter, "ada@example.com", "tinned-spaghetti-88"),
            Err(PolicyViolation::Breached { breaches: 3 })
        );
        assert_eq!(
            check(&with_checker(Fixed(Ok(0))), "ada", "tinned-spaghetti-88"),
            Ok(())
        );
    }

    #[test]
    fn breach_check_comes_last() {
        let policy = with_checker(Fixed(Ok(10)));
        assert!(matches!(
            check(&policy, "", "short"),
            Err(PolicyViolation::TooShort { .. })
        ));
        assert_eq!(
            check(&policy, "password1", "password12"),
            Err(PolicyViolation::TooSimilarToIdentifier)
        );
    }

    #[test]
    fn failing_checker_is_reported_generically() {
        let policy = with_checker(Fixed(Err("down")));
        let err = check(&policy, "ada@example.com", "tinned-spaghetti-88").unwrap_err();
        assert_eq!(err, PolicyViolation::BreachCheckUnavailable);
        assert_eq!(err.message_id(), 4000005);
        assert_eq!(
            err.text(),
            "The password can not be used because it could not be checked against known data breaches."
        );
        assert_eq!(
            err.context(),
            json!({"reason": "it could not be checked against known data breaches"})
        );
        // Kratos's generic text is "The password can not be used because %s." with the reason.
        assert_eq!(
            err.text(),
            format!(
                "The password can not be used because {}.",
                err.context()["reason"].as_str().unwrap()
            )
        );
    }

    #[test]
    fn bcrypt_limit() {
        assert_eq!(check_bcrypt_length(&"a".repeat(72)), Ok(()));
        let err = check_bcrypt_length(&"a".repeat(80)).unwrap_err();
        assert_eq!(
            err,
            PolicyViolation::TooLong {
                max_length: 72,
                actual_length: 80
            }
        );
        assert_eq!(err.message_id(), 4000033);
        assert_eq!(
            err.text(),
            "The password must be at most 72 characters long, but got 80."
        );
        assert_eq!(
            err.context(),
            json!({"max_length": 72, "actual_length": 80})
        );
        // 37 two-byte characters are 74 bytes.
        assert!(check_bcrypt_length(&"é".repeat(37)).is_err());
    }

    #[test]
    fn offline_list_in_a_policy() {
        let policy = with_checker(OfflineBreachList::from_passwords(["correct horse battery"]));
        assert_eq!(
            check(&policy, "ada", "correct horse battery"),
            Err(PolicyViolation::Breached { breaches: 1 })
        );
        assert_eq!(check(&policy, "ada", "Correct horse battery"), Ok(()));
    }

    #[test]
    fn debug_shows_no_password() {
        let policy = with_checker(OfflineBreachList::from_passwords(["hunter2hunter2"]));
        let debug = format!("{policy:?}");
        assert!(debug.contains("min_length: 8"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        for violation in [
            PolicyViolation::TooShort {
                min_length: 8,
                actual_length: 3,
            },
            PolicyViolation::TooSimilarToIdentifier,
            PolicyViolation::Breached { breaches: 1 },
            PolicyViolation::BreachCheckUnavailable,
        ] {
            assert!(!format!("{violation:?} {violation}").contains("hunter2"));
        }
    }
}
