//! Have I Been Pwned's k-anonymity range API as a [`BreachChecker`] (feature `hibp`).
//!
//! Like Kratos, only the first five hex digits of the password's SHA-1 leave the process:
//! `GET {base_url}/range/{PREFIX}` answers every known hash suffix with that prefix and its
//! breach count (`SUFFIX:COUNT` lines), and the match is made locally. Requests ask for padding
//! (`Add-Padding: true`), whose entries carry a count of 0 and so never match as breached.
//!
//! Answers are cached per prefix for an hour (Kratos's TTL) in a cache of bounded size, so a
//! retried registration costs no second request. Differences from Kratos: Kratos's client has a
//! 1 s timeout for the whole request and retries up to four times with back-off; this one has a
//! 1 s connect timeout and a 5 s overall timeout (both configurable) and does not retry.
//!
//! Connection failures, timeouts and answers other than 200 follow the [`NetworkErrorPolicy`]
//! (Kratos's `ignore_network_errors`). An answer that cannot be parsed always fails the check, as
//! Kratos does for a count that is not a number; Kratos also passes over lines that are not hash
//! suffixes (say an HTML maintenance page), which fail here too.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::breach::{BreachCheckError, BreachChecker, parse_count, parse_sha1_hex, sha1};
use crate::clock::{Clock, SystemClock};

/// Kratos's Have I Been Pwned host, as a base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.pwnedpasswords.com";

/// How long a range answer is reused (Kratos's cache TTL).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60 * 60);

/// How many prefixes are cached at most by default. A padded range answer holds about a
/// thousand hashes, about 30 KiB here, so the default cache stays under 8 MiB.
pub const DEFAULT_CACHE_CAPACITY: usize = 256;

/// The largest range answer accepted (real ones are around 40 KB).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What a network failure means for the password being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkErrorPolicy {
    /// Treat the password as found in no breach (Kratos's default,
    /// `haveibeenpwned.ignore_network_errors: true`). Failures are logged as warnings.
    #[default]
    Accept,
    /// Fail the check, so the policy rejects the password with
    /// [`PolicyViolation::BreachCheckUnavailable`](super::PolicyViolation::BreachCheckUnavailable).
    Reject,
}

/// Settings for [`HaveIBeenPwned`]; start from [`HaveIBeenPwned::builder`].
#[derive(Debug, Clone)]
pub struct HaveIBeenPwnedBuilder {
    base_url: String,
    connect_timeout: Duration,
    timeout: Duration,
    network_errors: NetworkErrorPolicy,
    cache_ttl: Duration,
    cache_capacity: usize,
    clock: Arc<dyn Clock>,
}

impl Default for HaveIBeenPwnedBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            network_errors: NetworkErrorPolicy::Accept,
            cache_ttl: DEFAULT_CACHE_TTL,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            clock: Arc::new(SystemClock),
        }
    }
}

impl HaveIBeenPwnedBuilder {
    /// The service's base URL (`http` or `https`), without `/range`; default
    /// `https://api.pwnedpasswords.com`. Kratos's `haveibeenpwned_host` is the host of this URL.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// How long connecting may take; default 1 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, body included; default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What network failures and non-200 answers mean; default [`NetworkErrorPolicy::Accept`].
    pub fn network_errors(mut self, policy: NetworkErrorPolicy) -> Self {
        self.network_errors = policy;
        self
    }

    /// How long a range answer is reused; default one hour.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many prefixes are cached at most; default [`DEFAULT_CACHE_CAPACITY`]. 0 disables the
    /// cache.
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The clock that ages cache entries; default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client. Fails when the base URL is not an absolute `http` or `https` URL.
    pub fn build(self) -> Result<HaveIBeenPwned, BreachCheckError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let uri: http::Uri = base_url
            .parse()
            .map_err(|e| BreachCheckError::Network(format!("invalid base URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(BreachCheckError::Network(
                "invalid base URL: expected an absolute http or https URL".to_owned(),
            ));
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(self.connect_timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| BreachCheckError::Network(format!("TLS setup failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        let ttl = chrono::Duration::from_std(self.cache_ttl).unwrap_or(chrono::Duration::MAX);
        Ok(HaveIBeenPwned {
            base_url,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            network_errors: self.network_errors,
            client,
            cache: Mutex::new(RangeCache {
                entries: HashMap::new(),
                ttl,
                capacity: self.cache_capacity,
            }),
            clock: self.clock,
        })
    }
}

/// Breach counts from Have I Been Pwned's Pwned Passwords range API (or a compatible mirror).
///
/// ```no_run
/// use kratos_core::strategy::password::{HaveIBeenPwned, NetworkErrorPolicy, PasswordPolicy};
/// use std::sync::Arc;
///
/// let hibp = HaveIBeenPwned::builder()
///     .network_errors(NetworkErrorPolicy::Reject)
///     .build()
///     .expect("the default base URL is valid");
/// let policy = PasswordPolicy {
///     breach_checker: Some(Arc::new(hibp)),
///     ..PasswordPolicy::default()
/// };
/// ```
///
/// Requests need a Tokio runtime.
pub struct HaveIBeenPwned {
    base_url: String,
    connect_timeout: Duration,
    timeout: Duration,
    network_errors: NetworkErrorPolicy,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    cache: Mutex<RangeCache>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HaveIBeenPwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaveIBeenPwned")
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("network_errors", &self.network_errors)
            .field("cached_prefixes", &self.cache_len())
            .finish()
    }
}

impl HaveIBeenPwned {
    /// Kratos's defaults: `https://api.pwnedpasswords.com`, network errors accepted, one hour
    /// cache.
    pub fn new() -> Self {
        HaveIBeenPwnedBuilder::default()
            .build()
            .expect("the default settings are valid")
    }

    /// Settings to change before [`build`](HaveIBeenPwnedBuilder::build).
    pub fn builder() -> HaveIBeenPwnedBuilder {
        HaveIBeenPwnedBuilder::default()
    }

    /// What network failures mean for this client.
    pub fn network_errors(&self) -> NetworkErrorPolicy {
        self.network_errors
    }

    /// How many prefixes are cached now (expired ones included until evicted).
    pub fn cache_len(&self) -> usize {
        self.lock_cache().entries.len()
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.lock_cache().entries.clear();
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, RangeCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches and parses the range of `prefix` (five uppercase hex digits).
    async fn fetch_range(&self, prefix: &str) -> Result<Range, BreachCheckError> {
        let url = format!("{}/range/{prefix}", self.base_url);
        let request = http::Request::get(&url)
            .header(http::header::USER_AGENT, "kratos-rs")
            .header("Add-Padding", "true")
            .body(Empty::<Bytes>::new())
            .map_err(|e| BreachCheckError::Network(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| BreachCheckError::Network(error_chain(&e)))?;
            if response.status() != http::StatusCode::OK {
                return Err(BreachCheckError::UnexpectedStatus(
                    response.status().as_u16(),
                ));
            }
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<LengthLimitError>().is_some() {
                        BreachCheckError::BadResponse(format!(
                            "the answer is larger than {MAX_BODY_BYTES} bytes"
                        ))
                    } else {
                        BreachCheckError::Network(error_chain(e.as_ref()))
                    }
                })?
                .to_bytes();
            Ok::<_, BreachCheckError>(body)
        };
        let body = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                BreachCheckError::Network(format!(
                    "no complete answer within {:?} from {url}",
                    self.timeout
                ))
            })??;
        let body = std::str::from_utf8(&body)
            .map_err(|_| BreachCheckError::BadResponse("the answer is not UTF-8".to_owned()))?;
        parse_range(prefix, body)
    }
}

impl Default for HaveIBeenPwned {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl BreachChecker for HaveIBeenPwned {
    async fn breaches(&self, password: &str) -> Result<u64, BreachCheckError> {
        let digest = sha1(password);
        let hex_digest = hex::encode_upper(digest);
        let prefix = &hex_digest[..5];
        let now = self.clock.now();
        if let Some(count) = self.lock_cache().get(prefix, &digest, now) {
            return Ok(count);
        }
        match self.fetch_range(prefix).await {
            Ok(range) => {
                let count = range.count(&digest);
                self.lock_cache()
                    .insert(prefix.to_owned(), range, self.clock.now());
                Ok(count)
            }
            Err(error @ (BreachCheckError::Network(_) | BreachCheckError::UnexpectedStatus(_)))
                if self.network_errors == NetworkErrorPolicy::Accept =>
            {
                tracing::warn!(
                    %error,
                    "the breach service is unavailable; accepting the password as network errors are ignored"
                );
                Ok(0)
            }
            Err(error) => Err(error),
        }
    }
}

/// The breached hashes of one prefix, sorted for binary search; padding (count 0) is dropped.
#[derive(Debug, Default)]
struct Range {
    hashes: Vec<([u8; 20], u64)>,
}

impl Range {
    fn count(&self, digest: &[u8; 20]) -> u64 {
        self.hashes
            .binary_search_by(|(hash, _)| hash.cmp(digest))
            .map(|index| self.hashes[index].1)
            .unwrap_or(0)
    }
}

/// Parses a range answer: `SUFFIX:COUNT` lines (CRLF or LF), a missing count being 1 and
/// thousands separators allowed, as Kratos parses them.
fn parse_range(prefix: &str, body: &str) -> Result<Range, BreachCheckError> {
    let mut hashes = Vec::new();
    for (index, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (suffix, count) = match line.split_once(':') {
            Some((suffix, count)) => (
                suffix.trim(),
                parse_count(count).ok_or_else(|| {
                    BreachCheckError::BadResponse(format!(
                        "line {}: the count is not a whole number",
                        index + 1
                    ))
                })?,
            ),
            None => (line, 1),
        };
        let digest = parse_sha1_hex(&format!("{prefix}{suffix}")).ok_or_else(|| {
            BreachCheckError::BadResponse(format!(
                "line {}: expected a hash suffix of 35 hexadecimal digits",
                index + 1
            ))
        })?;
        if count > 0 {
            hashes.push((digest, count));
        }
    }
    hashes.sort_unstable_by_key(|(hash, _)| *hash);
    hashes.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.max(later.1);
            true
        } else {
            false
        }
    });
    hashes.shrink_to_fit();
    Ok(Range { hashes })
}

/// Cached ranges by prefix, bounded in number and age.
#[derive(Debug)]
struct RangeCache {
    entries: HashMap<String, (DateTime<Utc>, Range)>,
    ttl: chrono::Duration,
    capacity: usize,
}

impl RangeCache {
    fn is_fresh(&self, fetched_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now >= fetched_at && now - fetched_at < self.ttl
    }

    fn get(&mut self, prefix: &str, digest: &[u8; 20], now: DateTime<Utc>) -> Option<u64> {
        let (fetched_at, range) = self.entries.get(prefix)?;
        if self.is_fresh(*fetched_at, now) {
            return Some(range.count(digest));
        }
        self.entries.remove(prefix);
        None
    }

    fn insert(&mut self, prefix: String, range: Range, now: DateTime<Utc>) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&prefix) {
            let ttl = self.ttl;
            self.entries
                .retain(|_, (fetched_at, _)| now >= *fetched_at && now - *fetched_at < ttl);
            while self.entries.len() >= self.capacity {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (fetched_at, _))| *fetched_at)
                    .map(|(prefix, _)| prefix.clone());
                match oldest {
                    Some(oldest) => {
                        self.entries.remove(&oldest);
                    }
                    None => break,
                }
            }
        }
        self.entries.insert(prefix, (now, range));
    }
}

/// An error and its sources on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::strategy::password::{PasswordPolicy, PolicyViolation};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A canned answer of the fake range server.
    #[derive(Clone)]
    enum Answer {
        /// Status and body.
        Reply(u16, String),
        /// Accept the connection and never answer.
        Hang,
    }

    /// A local stand-in for the range API that counts requests and records their paths.
    struct FakeRangeServer {
        base_url: String,
        requests: Arc<AtomicUsize>,
        paths: Arc<Mutex<Vec<String>>>,
        headers: Arc<Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for FakeRangeServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl FakeRangeServer {
        /// Serves `answer(prefix)` for `GET /range/{prefix}`.
        async fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base_url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(AtomicUsize::new(0));
            let paths = Arc::new(Mutex::new(Vec::new()));
            let headers = Arc::new(Mutex::new(Vec::new()));
            let answer = Arc::new(answer);
            let task = tokio::spawn({
                let (requests, paths, headers) = (requests.clone(), paths.clone(), headers.clone());
                async move {
                    loop {
                        let Ok((mut socket, _)) = listener.accept().await else {
                            return;
                        };
                        let (requests, paths, headers, answer) = (
                            requests.clone(),
                            paths.clone(),
                            headers.clone(),
                            answer.clone(),
                        );
                        tokio::spawn(async move {
                            let mut head = Vec::new();
                            let mut buf = [0u8; 1024];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                                match socket.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => head.extend_from_slice(&buf[..n]),
                                }
                            }
                            requests.fetch_add(1, Ordering::SeqCst);
                            let head = String::from_utf8_lossy(&head).into_owned();
                            let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                            paths.lock().unwrap().push(path.clone());
                            headers.lock().unwrap().push(head.to_lowercase());
                            let prefix = path.strip_prefix("/range/").unwrap_or_default();
                            match answer(prefix) {
                                Answer::Hang => {
                                    tokio::time::sleep(Duration::from_secs(60)).await;
                                }
                                Answer::Reply(status, body) => {
                                    let response = format!(
                                        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                        body.len()
                                    );
                                    let _ = socket.write_all(response.as_bytes()).await;
                                    let _ = socket.shutdown().await;
                                }
                            }
                        });
                    }
                }
            });
            Self {
                base_url,
                requests,
                paths,
                headers,
                task,
            }
        }

        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    fn hex_sha1(password: &str) -> String {
        hex::encode_upper(sha1(password))
    }

    /// A range answer for the prefix of `password`, holding it with `count` among other lines.
    fn range_with(password: &str, line: &str) -> String {
        format!(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{line}\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\nFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0\r\n{}:0",
            // A padding line for a hash close to the password's.
            {
                let mut suffix = hex_sha1(password)[5..].to_owned();
                suffix.replace_range(..1, if suffix.starts_with('0') { "1" } else { "0" });
                suffix
            }
        )
    }

    fn client(server: &FakeRangeServer, network_errors: NetworkErrorPolicy) -> HaveIBeenPwned {
        HaveIBeenPwned::builder()
            .base_url(&server.base_url)
            .network_errors(network_errors)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn counts_found_with_thousands_separators() {
        let suffix = hex_sha1("password")[5..].to_owned();
        let server = FakeRangeServer::start(move |_| {
            Answer::Reply(200, range_with("password", &format!("{suffix}:52,256,179")))
        })
        .await;
        let hibp = client(&server, NetworkErrorPolicy::Reject);
        assert_eq!(hibp.breaches("password").await.unwrap(), 52_256_179);
        assert_eq!(
            *server.paths.lock().unwrap(),
            vec!["/range/5BAA6".to_owned()]
        );
        let head = server.headers.lock().unwrap()[0].clone();
        assert!(head.contains("add-padding: true"), "{head}");
        assert!(
            !head.contains(&hex_sha1("password")[5..].to_lowercase()),
            "only the prefix is sent"
        );
    }

    #[tokio::test]
    async fn lowercase_suffixes_match() {
        let suffix = hex_sha1("password")[5..].to_lowercase();
        let server =
            FakeRangeServer::start(move |_| Answer::Reply(200, format!("{suffix}:3\n"))).await;
        let hibp = client(&server, NetworkErrorPolicy::Reject);
        assert_eq!(hibp.breaches("password").await.unwrap(), 3);
    }

    #[tokio::test]
    async fn not_found_and_padding_count_zero() {
        let server = FakeRangeServer::start(|_| {
            Answer::Reply(
                200,
                range_with(
                    "tinned-spaghetti-88",
                    "0000000000000000000000000000000000A:5",
                ),
            )
        })
        .await;
        let hibp = client(&server, NetworkErrorPolicy::Reject);
        assert_eq!(hibp.breaches("tinned-spaghetti-88").await.unwrap(), 0);

        // The password's own suffix listed as padding (count 0) is no breach either.
        let suffix = hex_sha1("padded-password")[5..].to_owned();
        let server =
            FakeRangeServer::start(move |_| Answer::Reply(200, format!("{suffix}:0\r\n"))).await;
        let hibp = client(&server, NetworkErrorPolicy::Reject);
        assert_eq!(hibp.breaches("padded-password").await.unwrap(), 0);
        let policy = PasswordPolicy {
            breach_checker: Some(Arc::new(hibp)),
            ..PasswordPolicy::default()
        };
        assert_eq!(
            policy.check("ada@example.com", "padded-password").await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn missing_count_is_one() {
        let suffix = hex_sha1("letmein123")[5..].to_owned();
        let server =
            FakeRangeServer::start(move |_| Answer::Reply(200, range_with("letmein123", &suffix)))
                .await;
        let hibp = client(&server, NetworkErrorPolicy::Reject);
        assert_eq!(hibp.breaches("letmein123").await.unwrap(), 1);
        let policy = PasswordPolicy {
            breach_checker: Some(Arc::new(hibp)),
            ..PasswordPolicy::default()
        };
        assert_eq!(
            policy.check("ada@example.com", "letmein123").await,
            Err(PolicyViolation::Breached { breaches: 1 })
        );
    }

    #[tokio::test]
    async fn cache_hits_per_prefix_and_expires() {
        let suffix = hex_sha1("password")[5..].to_owned();
        let server = FakeRangeServer::start(move |prefix| {
            Answer::Reply(
                200,
                if prefix == "5BAA6" {
                    format!("{suffix}:9")
                } else {
                    String::new()
                },
            )
        })
        .await;
        let clock = ManualClock::new(Utc::now());
        let hibp = HaveIBeenPwned::builder()
            .base_url(format!("{}/", server.base_url))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        assert_eq!(hibp.breaches("password").await.unwrap(), 9);
        assert_eq!(hibp.breaches("password").await.unwrap(), 9);
        assert_eq!(
            server.requests(),
            1,
            "the second lookup is served from the cache"
        );
        assert_eq!(hibp.cache_len(), 1);

        // Another password with the same prefix comes from the cached range too.
        let sibling = "sibling-256871";
        assert!(hex_sha1(sibling).starts_with("5BAA6"));
        assert_eq!(hibp.breaches(sibling).await.unwrap(), 0);
        assert_eq!(server.requests(), 1);

        clock.advance(chrono::Duration::minutes(59));
        assert_eq!(hibp.breaches("password").await.unwrap(), 9);
        assert_eq!(server.requests(), 1);
        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(hibp.breaches("password").await.unwrap(), 9);
        assert_eq!(server.requests(), 2, "refetched after an hour");

        hibp.clear_cache();
        assert_eq!(hibp.cache_len(), 0);
    }

    #[tokio::test]
    async fn cache_is_bounded() {
        let server = FakeRangeServer::start(|_| Answer::Reply(200, String::new())).await;
        let clock = ManualClock::new(Utc::now());
        let hibp = HaveIBeenPwned::builder()
            .base_url(&server.base_url)
            .cache_capacity(2)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let passwords: Vec<String> = (0..4).map(|n| format!("distinct-password-{n}")).collect();
        let prefixes: std::collections::HashSet<String> = passwords
            .iter()
            .map(|p| hex_sha1(p)[..5].to_owned())
            .collect();
        assert_eq!(prefixes.len(), 4);
        for password in &passwords {
            clock.advance(chrono::Duration::seconds(1));
            hibp.breaches(password).await.unwrap();
            assert!(hibp.cache_len() <= 2);
        }
        assert_eq!(server.requests(), 4);
        // The newest stayed, the oldest was evicted.
        hibp.breaches(&passwords[3]).await.unwrap();
        assert_eq!(server.requests(), 4);
        hibp.breaches(&passwords[0]).await.unwrap();
        assert_eq!(server.requests(), 5);

        let uncached = HaveIBeenPwned::builder()
            .base_url(&server.base_url)
            .cache_capacity(0)
            .build()
            .unwrap();
        uncached.breaches("password").await.unwrap();
        uncached.breaches("password").await.unwrap();
        assert_eq!(uncached.cache_len(), 0);
        assert_eq!(server.requests(), 7);
    }

    async fn unused_port_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    #[tokio::test]
    async fn server_down_with_accept() {
        let hibp = HaveIBeenPwned::builder()
            .base_url(unused_port_url().await)
            .build()
            .unwrap();
        assert_eq!(
            hibp.network_errors(),
            NetworkErrorPolicy::Accept,
            "the default"
        );
        assert_eq!(hibp.breaches("password").await.unwrap(), 0);
        assert_eq!(hibp.cache_len(), 0, "failures are not cached");
        let policy = PasswordPolicy {
            breach_checker: Some(Arc::new(hibp)),
            ..PasswordPolicy::default()
        };
        assert_eq!(policy.check("ada@example.com", "password").await, Ok(()));
    }

    #[tokio::test]
    async fn server_down_with_reject() {
        let hibp = HaveIBeenPwned::builder()
            .base_url(unused_port_url().await)
            .network_errors(NetworkErrorPolicy::Reject)
            .build()
            .unwrap();
        let err = hibp.breaches("password").await.unwrap_err();
        assert!(matches!(err, BreachCheckError::Network(_)), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("password"), "{text}");
        assert!(!text.contains(&hex_sha1("password")), "{text}");
        let policy = PasswordPolicy {
            breach_checker: Some(Arc::new(hibp)),
            ..PasswordPolicy::default()
        };
        assert_eq!(
            policy.check("ada@example.com", "password").await,
            Err(PolicyViolation::BreachCheckUnavailable)
        );
    }

    #[tokio::test]
    async fn non_200_answers() {
        let server = FakeRangeServer::start(|_| Answer::Reply(503, "busy".to_owned())).await;
        let rejecting = client(&server, NetworkErrorPolicy::Reject);
        let err = rejecting.breaches("password").await.unwrap_err();
        assert!(
            matches!(err, BreachCheckError::UnexpectedStatus(503)),
            "{err:?}"
        );
        assert_eq!(rejecting.cache_len(), 0);
        let accepting = client(&server, NetworkErrorPolicy::Accept);
        assert_eq!(accepting.breaches("password").await.unwrap(), 0);
        assert_eq!(server.requests(), 2);

        let policy = PasswordPolicy {
            breach_checker: Some(Arc::new(rejecting)),
            ..PasswordPolicy::default()
        };
        assert_eq!(
            policy.check("ada@example.com", "password").await,
            Err(PolicyViolation::BreachCheckUnavailable)
        );
    }

    #[tokio::test]
    async fn a_hanging_server_times_out() {
        let server = FakeRangeServer::start(|_| Answer::Hang).await;
        let hibp = HaveIBeenPwned::builder()
            .base_url(&server.base_url)
            .timeout(Duration::from_millis(200))
            .network_errors(NetworkErrorPolicy::Reject)
            .build()
            .unwrap();
        let err = hibp.breaches("password").await.unwrap_err();
        assert!(matches!(err, BreachCheckError::Network(_)), "{err:?}");
        let accepting = HaveIBeenPwned::builder()
            .base_url(&server.base_url)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        assert_eq!(accepting.breaches("password").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn malformed_answers_fail_even_when_accepting() {
        let server = FakeRangeServer::start(|prefix| {
            Answer::Reply(
                200,
                if prefix == "5BAA6" {
                    "1E4C9B93F3F0682250B6CF8331B7EE68FD8:lots".to_owned()
                } else {
                    "<html>maintenance</html>".to_owned()
                },
            )
        })
        .await;
        let hibp = client(&server, NetworkErrorPolicy::Accept);
        let err = hibp.breaches("password").await.unwrap_err();
        assert!(matches!(err, BreachCheckError::BadResponse(_)), "{err:?}");
        let err = hibp.breaches("tinned-spaghetti-88").await.unwrap_err();
        assert!(matches!(err, BreachCheckError::BadResponse(_)), "{err:?}");
    }

    #[test]
    fn parses_ranges() {
        let range = parse_range(
            "5BAA6",
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3\r\n\r\n0018A45C4D1DEF81644B54AB7F969B88D65\n0018A45C4D1DEF81644B54AB7F969B88D65:7\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0",
        )
        .unwrap();
        assert_eq!(range.hashes.len(), 2, "duplicates merged, padding dropped");
        assert_eq!(range.count(&sha1("password")), 3);
        let other = parse_sha1_hex("5BAA60018A45C4D1DEF81644B54AB7F969B88D65").unwrap();
        assert_eq!(range.count(&other), 7);
        assert!(parse_range("5BAA6", "").unwrap().hashes.is_empty());
        assert!(parse_range("5BAA6", "ABC:1").is_err());
        assert!(parse_range("5BAA6", "1E4C9B93F3F0682250B6CF8331B7EE68FD8:1:2").is_err());
    }

    #[test]
    fn rejects_bad_base_urls() {
        for url in ["", "api.pwnedpasswords.com", "ftp://example.com", "/range"] {
            assert!(
                HaveIBeenPwned::builder().base_url(url).build().is_err(),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn defaults_and_debug() {
        let hibp = HaveIBeenPwned::new();
        let debug = format!("{hibp:?}");
        assert!(debug.contains("https://api.pwnedpasswords.com"), "{debug}");
        assert!(debug.contains("connect_timeout: 1s"), "{debug}");
        assert!(debug.contains("Accept"), "{debug}");
    }
}
