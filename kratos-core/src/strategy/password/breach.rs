//! Known data breaches: the [`BreachChecker`] trait and an in-memory list of breached passwords.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use sha1::{Digest, Sha1};

/// Tells in how many known data breaches a password appears.
///
/// Implementations must not log, store or echo the password, nor put it (or its full SHA-1) in
/// an error.
#[async_trait::async_trait]
pub trait BreachChecker: Send + Sync + fmt::Debug {
    /// How many breaches `password` was found in; 0 when it is not known to be breached.
    async fn breaches(&self, password: &str) -> Result<u64, BreachCheckError>;
}

/// Why breaches could not be looked up. Never contains the password or its full hash.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BreachCheckError {
    /// The breach service could not be reached, or the connection failed or timed out.
    #[error("the breach service could not be reached: {0}")]
    Network(String),
    /// The breach service answered with a status other than 200.
    #[error("the breach service answered with HTTP status {0}")]
    UnexpectedStatus(u16),
    /// The breach service's answer could not be understood.
    #[error("the breach service answered with an unexpected body: {0}")]
    BadResponse(String),
    /// A breach list could not be parsed (the 1-based line number and what is wrong).
    #[error("line {line} of the breach list is invalid: {reason}")]
    InvalidList {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A breach list could not be read.
    #[error("the breach list could not be read: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration asks for the Have I Been Pwned check
    /// (`haveibeenpwned_enabled`, `true` by default as in Kratos), but kratos-core was built
    /// without its `hibp` cargo feature, which holds the client.
    #[error(
        "haveibeenpwned_enabled is true (the default) but kratos-core was built without its `hibp` \
         cargo feature: enable the `hibp` feature of kratos-core, or set \
         selfservice.methods.password.config.haveibeenpwned_enabled: false"
    )]
    HibpFeatureDisabled,
}

/// The SHA-1 digest of a password, the key breach lists are indexed by.
pub(crate) fn sha1(password: &str) -> [u8; 20] {
    Sha1::digest(password.as_bytes()).into()
}

/// Parses 40 hexadecimal digits (either case) into a SHA-1 digest.
pub(crate) fn parse_sha1_hex(hex_digits: &str) -> Option<[u8; 20]> {
    let mut digest = [0u8; 20];
    if hex_digits.len() != 40 {
        return None;
    }
    hex::decode_to_slice(hex_digits, &mut digest).ok()?;
    Some(digest)
}

/// Parses a breach count as Have I Been Pwned writes it (thousands separators allowed).
pub(crate) fn parse_count(count: &str) -> Option<u64> {
    count.trim().replace(',', "").parse().ok()
}

/// Breached passwords held in memory, looked up by SHA-1.
///
/// Built from plaintext passwords ([`from_passwords`](Self::from_passwords)), SHA-1 hashes in hex
/// ([`from_sha1_hashes`](Self::from_sha1_hashes)), or files with one entry per line
/// ([`from_password_file`](Self::from_password_file), [`from_sha1_file`](Self::from_sha1_file)).
/// Hash entries may carry a count as in Have I Been Pwned's downloadable list
/// (`HASH:COUNT`, e.g. `5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:52256179`); plaintext entries
/// count as one breach. When an entry repeats, the higher count is kept.
///
/// Each entry costs a few dozen bytes: this suits curated lists (the most common passwords, an
/// organisation's banned words), not the full Have I Been Pwned corpus of about a billion hashes,
/// for which the `hibp` feature's range client is meant.
#[derive(Clone, Default)]
pub struct OfflineBreachList {
    counts: HashMap<[u8; 20], u64>,
}

impl fmt::Debug for OfflineBreachList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineBreachList")
            .field("entries", &self.counts.len())
            .finish()
    }
}

impl OfflineBreachList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list of plaintext passwords, each counted as one breach. Passwords are matched exactly
    /// (case and whitespace matter).
    pub fn from_passwords<I, S>(passwords: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Self::new();
        for password in passwords {
            list.insert_password(password.as_ref());
        }
        list
    }

    /// A list of SHA-1 hashes of passwords: 40 hex digits in either case, optionally followed by
    /// `:COUNT` (thousands separators allowed; a missing count is 1). Surrounding whitespace and
    /// empty entries are ignored.
    pub fn from_sha1_hashes<I, S>(hashes: I) -> Result<Self, BreachCheckError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Self::new();
        for (index, entry) in hashes.into_iter().enumerate() {
            list.insert_sha1_entry(entry.as_ref(), index + 1)?;
        }
        Ok(list)
    }

    /// Reads a file of SHA-1 hashes, one per line, in the format of
    /// [`from_sha1_hashes`](Self::from_sha1_hashes); Have I Been Pwned's downloadable
    /// "ordered by hash" or "ordered by prevalence" SHA-1 files load as they are.
    pub fn from_sha1_file(path: impl AsRef<Path>) -> Result<Self, BreachCheckError> {
        Self::from_sha1_reader(std::io::BufReader::new(std::fs::File::open(path)?))
    }

    /// Reads SHA-1 hashes, one per line, as [`from_sha1_file`](Self::from_sha1_file) does.
    pub fn from_sha1_reader(reader: impl BufRead) -> Result<Self, BreachCheckError> {
        let mut list = Self::new();
        for (index, line) in reader.lines().enumerate() {
            list.insert_sha1_entry(&line?, index + 1)?;
        }
        Ok(list)
    }

    /// Reads a file of plaintext passwords, one per line (UTF-8, `\n` or `\r\n` line ends);
    /// every line except empty ones is a password, taken exactly as written.
    pub fn from_password_file(path: impl AsRef<Path>) -> Result<Self, BreachCheckError> {
        Self::from_password_reader(std::io::BufReader::new(std::fs::File::open(path)?))
    }

    /// Reads plaintext passwords, one per line, as
    /// [`from_password_file`](Self::from_password_file) does.
    pub fn from_password_reader(reader: impl BufRead) -> Result<Self, BreachCheckError> {
        let mut list = Self::new();
        for line in reader.lines() {
            let line = line?;
            if !line.is_empty() {
                list.insert_password(&line);
            }
        }
        Ok(list)
    }

    /// Adds a plaintext password, counted as one breach.
    pub fn insert_password(&mut self, password: &str) {
        self.insert_digest(sha1(password), 1);
    }

    /// Adds a SHA-1 hash (40 hex digits, either case) with its breach count; `false` when the
    /// hash is not 40 hex digits.
    pub fn insert_sha1_hex(&mut self, sha1_hex: &str, breaches: u64) -> bool {
        match parse_sha1_hex(sha1_hex.trim()) {
            Some(digest) => {
                self.insert_digest(digest, breaches);
                true
            }
            None => false,
        }
    }

    /// How many distinct passwords the list holds.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether the list holds no password.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The breach count of a password (0 when it is not listed), without going through the
    /// async trait.
    pub fn lookup(&self, password: &str) -> u64 {
        self.counts.get(&sha1(password)).copied().unwrap_or(0)
    }

    fn insert_digest(&mut self, digest: [u8; 20], breaches: u64) {
        let count = self.counts.entry(digest).or_insert(breaches);
        *count = (*count).max(breaches);
    }

    fn insert_sha1_entry(&mut self, entry: &str, line: usize) -> Result<(), BreachCheckError> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Ok(());
        }
        let (hash, count) = match entry.split_once(':') {
            Some((hash, count)) => {
                let count = parse_count(count).ok_or_else(|| BreachCheckError::InvalidList {
                    line,
                    reason: "the count is not a whole number".to_owned(),
                })?;
                (hash.trim(), count)
            }
            None => (entry, 1),
        };
        let digest = parse_sha1_hex(hash).ok_or_else(|| BreachCheckError::InvalidList {
            line,
            reason: "expected a SHA-1 hash of 40 hexadecimal digits".to_owned(),
        })?;
        self.insert_digest(digest, count);
        Ok(())
    }
}

#[async_trait::async_trait]
impl BreachChecker for OfflineBreachList {
    async fn breaches(&self, password: &str) -> Result<u64, BreachCheckError> {
        Ok(self.lookup(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-1 of "password".
    const PASSWORD_SHA1: &str = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8";

    #[test]
    fn sha1_is_the_hibp_hash() {
        assert_eq!(hex::encode_upper(sha1("password")), PASSWORD_SHA1);
        assert_eq!(parse_sha1_hex(PASSWORD_SHA1), Some(sha1("password")));
        assert_eq!(
            parse_sha1_hex(&PASSWORD_SHA1.to_lowercase()),
            Some(sha1("password"))
        );
        assert_eq!(parse_sha1_hex(&PASSWORD_SHA1[1..]), None);
        assert_eq!(parse_sha1_hex(&format!("{}Z", &PASSWORD_SHA1[1..])), None);
    }

    #[test]
    fn counts_parse_like_hibp() {
        assert_eq!(parse_count("3"), Some(3));
        assert_eq!(parse_count(" 52,256,179\r"), Some(52_256_179));
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("x"), None);
        assert_eq!(parse_count("-1"), None);
    }

    #[tokio::test]
    async fn from_passwords() {
        let list = OfflineBreachList::from_passwords(["password", "letmein", "password"]);
        assert_eq!(list.len(), 2);
        assert!(!list.is_empty());
        assert_eq!(list.breaches("password").await.unwrap(), 1);
        assert_eq!(list.breaches("letmein").await.unwrap(), 1);
        assert_eq!(list.breaches("Password").await.unwrap(), 0, "exact match");
        assert_eq!(list.breaches("").await.unwrap(), 0);
        assert_eq!(list.breaches("пароль").await.unwrap(), 0);
        let unicode = OfflineBreachList::from_passwords([String::from("пароль")]);
        assert_eq!(unicode.breaches("пароль").await.unwrap(), 1);
        assert!(OfflineBreachList::new().is_empty());
    }

    #[tokio::test]
    async fn from_hashes_in_either_case_with_counts() {
        let list = OfflineBreachList::from_sha1_hashes([
            PASSWORD_SHA1.to_lowercase(),
            format!("{}:1,234", hex::encode_upper(sha1("letmein"))),
            format!("  {}:7  ", hex::encode(sha1("qwerty"))),
            format!("{}:2", hex::encode(sha1("qwerty"))),
            String::new(),
        ])
        .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.lookup("password"), 1, "a missing count is 1");
        assert_eq!(list.breaches("letmein").await.unwrap(), 1234);
        assert_eq!(
            list.breaches("qwerty").await.unwrap(),
            7,
            "the higher count is kept"
        );
        assert_eq!(list.breaches("dragon").await.unwrap(), 0);
    }

    #[test]
    fn invalid_hash_entries_name_the_line() {
        let err = OfflineBreachList::from_sha1_hashes([PASSWORD_SHA1, "not-a-hash"]).unwrap_err();
        assert!(
            matches!(err, BreachCheckError::InvalidList { line: 2, .. }),
            "{err:?}"
        );
        let err =
            OfflineBreachList::from_sha1_hashes([format!("{PASSWORD_SHA1}:many")]).unwrap_err();
        assert!(
            matches!(err, BreachCheckError::InvalidList { line: 1, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 1 of the breach list is invalid: the count is not a whole number"
        );
    }

    #[test]
    fn insert_by_hand() {
        let mut list = OfflineBreachList::new();
        assert!(list.insert_sha1_hex(PASSWORD_SHA1, 42));
        assert!(!list.insert_sha1_hex("abc", 1));
        list.insert_password("hunter2");
        assert_eq!(list.lookup("password"), 42);
        assert_eq!(list.lookup("hunter2"), 1);
    }

    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(contents: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("kratos-breach-{}.txt", uuid::Uuid::new_v4()));
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[tokio::test]
    async fn from_a_hibp_style_hash_file() {
        let file = TempFile::new(&format!(
            "{PASSWORD_SHA1}:52256179\r\n{}:3\n\n{}\n",
            hex::encode_upper(sha1("letmein")),
            hex::encode(sha1("dragon")),
        ));
        let list = OfflineBreachList::from_sha1_file(&file.0).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.breaches("password").await.unwrap(), 52_256_179);
        assert_eq!(list.breaches("letmein").await.unwrap(), 3);
        assert_eq!(list.breaches("dragon").await.unwrap(), 1);
        assert_eq!(list.breaches("tinned-spaghetti").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn from_a_password_file() {
        let file = TempFile::new("password\r\nletmein\n\n correct horse \nпароль\n");
        let list = OfflineBreachList::from_password_file(&file.0).unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list.breaches("password").await.unwrap(), 1);
        assert_eq!(
            list.breaches(" correct horse ").await.unwrap(),
            1,
            "taken as written"
        );
        assert_eq!(list.breaches("correct horse").await.unwrap(), 0);
        assert_eq!(list.breaches("пароль").await.unwrap(), 1);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let missing = std::env::temp_dir().join(format!("kratos-missing-{}", uuid::Uuid::new_v4()));
        assert!(matches!(
            OfflineBreachList::from_sha1_file(&missing),
            Err(BreachCheckError::Io(_))
        ));
        assert!(matches!(
            OfflineBreachList::from_password_file(&missing),
            Err(BreachCheckError::Io(_))
        ));
    }

    #[test]
    fn debug_shows_only_the_size() {
        let list = OfflineBreachList::from_passwords(["hunter2hunter2"]);
        let debug = format!("{list:?}");
        assert_eq!(debug, "OfflineBreachList { entries: 1 }");
    }
}
