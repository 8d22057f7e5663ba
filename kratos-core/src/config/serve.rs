//! `serve.*`: the public and admin endpoints, and the reverse proxies trusted in front of them.

use serde::{Deserialize, Serialize};

/// `serve.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServeConfig {
    /// `serve.public`
    pub public: EndpointConfig,
    /// `serve.admin`
    pub admin: EndpointConfig,
}

/// `serve.public` / `serve.admin` (`trusted_proxies` is read under `serve.public` only)
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointConfig {
    /// The URL under which the endpoint is reachable, e.g. `http://127.0.0.1:4433/`.
    pub base_url: Option<String>,
    /// `serve.public.trusted_proxies` (not a Kratos key; Kratos has none): the reverse proxies
    /// whose forwarding headers are believed, as CIDRs (`10.0.0.0/8`, `2001:db8::/32`; a bare
    /// address is one host). When the peer of a request is one of them, the client address
    /// (for the lockout and session devices) is, walking `forwarded_header` from the right,
    /// the first address that is not itself a trusted proxy; otherwise, and when the header is
    /// missing or a trusted proxy's hop names no address, the peer address. Empty by default:
    /// forwarding headers are ignored.
    pub trusted_proxies: Vec<IpCidr>,
    /// `serve.public.forwarded_header` (not a Kratos key): the one header the trusted proxies
    /// write, `x-forwarded-for` (the default) or `forwarded` (RFC 7239). Only that header is
    /// read: a proxy passes the other one through from the client unchanged, so believing it
    /// would let a client name its own address.
    pub forwarded_header: ForwardedHeader,
    /// `serve.public.cors`: Cross-Origin Resource Sharing of the public endpoints (read under
    /// `serve.public` only; off by default, as in Kratos).
    pub cors: CorsConfig,
}

/// `serve.public.cors`, Kratos's keys and defaults. `debug` and `options_passthrough` are
/// read and ignored (logging is the app's; preflight requests are always answered).
///
/// Origins are `*` (every origin), an exact origin, or a pattern with one `*`
/// (`https://*.example.com`). As in Kratos, a wildcard is honoured only when the domain after
/// the label holding it is a registrable domain; here that is approximated as a domain of at
/// least two labels (Kratos asks the public suffix list, so it also refuses `*.co.uk`, which
/// this check lets through). A pattern with two `*`, or a wildcard with no such domain after
/// it (`https://*.com`, `https://www.example.*`), fails the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct CorsConfig {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `allowed_origins` (default `["*"]`).
    pub allowed_origins: Vec<CorsOrigin>,
    /// `allowed_methods` (default `POST, GET, PUT, PATCH, DELETE`).
    pub allowed_methods: Vec<CorsMethod>,
    /// `allowed_headers` (default `Authorization, Content-Type, Max-Age, X-Session-Token,
    /// X-XSRF-TOKEN, X-CSRF-TOKEN`); `*` allows whatever a preflight asks for.
    pub allowed_headers: Vec<CorsHeader>,
    /// `exposed_headers` (default `Content-Type`).
    pub exposed_headers: Vec<CorsHeader>,
    /// `allow_credentials` (default true): cookies and `Authorization` go with cross-origin
    /// requests; the allowed origin is then the request's own, never `*`.
    pub allow_credentials: bool,
    /// `max_age`: how long (seconds) a browser may keep a preflight's answer; 0 (the default)
    /// sends no `Access-Control-Max-Age`.
    pub max_age: u32,
    /// `debug`: ignored.
    pub debug: bool,
    /// `options_passthrough`: ignored.
    pub options_passthrough: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_origins: vec![CorsOrigin::Any],
            allowed_methods: vec![
                CorsMethod::Post,
                CorsMethod::Get,
                CorsMethod::Put,
                CorsMethod::Patch,
                CorsMethod::Delete,
            ],
            allowed_headers: [
                "Authorization",
                "Content-Type",
                "Max-Age",
                "X-Session-Token",
                "X-XSRF-TOKEN",
                "X-CSRF-TOKEN",
            ]
            .into_iter()
            .map(|h| CorsHeader(h.to_owned()))
            .collect(),
            exposed_headers: vec![CorsHeader("Content-Type".to_owned())],
            allow_credentials: true,
            max_age: 0,
            debug: false,
            options_passthrough: false,
        }
    }
}

impl CorsConfig {
    /// Whether a request from `origin` (its `Origin` header) may be answered: one of
    /// `allowed_origins` matches it (an empty list allows every origin, as Kratos does).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o.matches(origin))
    }

    /// Whether `allowed_headers` holds `*`.
    pub fn allows_any_header(&self) -> bool {
        self.allowed_headers.iter().any(|h| h.0 == "*")
    }
}

/// One of `serve.public.cors.allowed_origins`: `*`, an exact origin, or a pattern with one
/// bounded `*` (see [`CorsConfig`]). Patterns are compared in lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `*`: every origin.
    Any,
    /// One origin, e.g. `https://app.example.com`.
    Exact(String),
    /// A pattern: what comes before and after its `*`.
    Wildcard {
        /// The text before the `*` (`https://`).
        prefix: String,
        /// The text after it (`.example.com`).
        suffix: String,
    },
}

impl CorsOrigin {
    /// Whether `origin` matches.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            CorsOrigin::Any => true,
            CorsOrigin::Exact(o) => o == origin,
            CorsOrigin::Wildcard { prefix, suffix } => {
                origin.len() >= prefix.len().saturating_add(suffix.len())
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            }
        }
    }
}

impl std::str::FromStr for CorsOrigin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            return Ok(CorsOrigin::Any);
        }
        if s.is_empty() {
            return Err("an allowed origin is empty".to_owned());
        }
        let lower = s.to_ascii_lowercase();
        let Some((prefix, suffix)) = lower.split_once('*') else {
            return Ok(CorsOrigin::Exact(lower));
        };
        if suffix.contains('*') {
            return Err(format!("`{s}` has more than one `*`"));
        }
        // The domain after the label holding the `*`, without a port.
        let domain = suffix
            .split_once('.')
            .map(|(_, d)| d.split(':').next().unwrap_or(""))
            .unwrap_or("");
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            return Err(format!(
                "`{s}`: a wildcard origin must end in a registrable domain                  (as `https://*.example.com`)"
            ));
        }
        Ok(CorsOrigin::Wildcard {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }
}

impl std::fmt::Display for CorsOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorsOrigin::Any => f.write_str("*"),
            CorsOrigin::Exact(o) => f.write_str(o),
            CorsOrigin::Wildcard { prefix, suffix } => write!(f, "{prefix}*{suffix}"),
        }
    }
}

impl Serialize for CorsOrigin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CorsOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One of `serve.public.cors.allowed_methods` (Kratos's enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CorsMethod {
    /// `POST`
    Post,
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
}

impl CorsMethod {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CorsMethod::Post => "POST",
            CorsMethod::Get => "GET",
            CorsMethod::Put => "PUT",
            CorsMethod::Patch => "PATCH",
            CorsMethod::Delete => "DELETE",
            CorsMethod::Connect => "CONNECT",
            CorsMethod::Head => "HEAD",
            CorsMethod::Options => "OPTIONS",
            CorsMethod::Trace => "TRACE",
        }
    }
}

/// A header name of `serve.public.cors.allowed_headers` / `exposed_headers`: an HTTP token
/// (letters, digits and ``!#$%&'*+-.^_`|~``), or `*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CorsHeader(String);

impl CorsHeader {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CorsHeader {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let token = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if token {
            Ok(CorsHeader(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{text}` is not a header name"
            )))
        }
    }
}

/// The forwarding header trusted proxies write (`serve.public.forwarded_header`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`); a bare address is a
/// network of that one address. IPv4-mapped IPv6 addresses are compared as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpCidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl IpCidr {
    /// Whether `address` lies in this network.
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.network, unmap(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `address`, or the IPv4 address it maps.
fn unmap(address: std::net::IpAddr) -> std::net::IpAddr {
    match address {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, std::net::IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for IpCidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network = unmap(
            address
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("`{s}` is not an IP address or CIDR"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has no prefix length from 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl std::fmt::Display for IpCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for IpCidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpCidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ServeConfig {
    /// The public base URL without a trailing slash (`http://127.0.0.1:4433` when unset).
    pub fn public_base_url(&self) -> String {
        self.public
            .base_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:4433")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The host of the public base URL, without port or IPv6 brackets (Go's
    /// `URL.Hostname()`): `127.0.0.1` when unset, the whole base URL when it has no host.
    pub fn public_host(&self) -> String {
        let base = self.public_base_url();
        match url::Url::parse(&base)
            .ok()
            .and_then(|u| u.host().map(|h| h.to_owned()))
        {
            Some(url::Host::Ipv6(address)) => address.to_string(),
            Some(host) => host.to_string(),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn cors_keys_have_kratos_defaults_and_check_their_values() {
        let off = Config::default().serve.public.cors;
        assert!(!off.enabled && off.allow_credentials && off.max_age == 0);
        assert_eq!(off.allowed_origins, vec![CorsOrigin::Any]);
        assert!(off.allows_origin("https://anything.example"));
        let config = Config::from_yaml_str(
            "serve:\n  public:\n    cors:\n      enabled: true\n      allowed_origins: [\"https://app.example.com\", \"https://*.Example.org\"]\n      allowed_methods: [GET, POST]\n      allowed_headers: [\"*\", X-Custom]\n      max_age: 600\n      debug: true\n",
        )
        .expect("config");
        let cors = &config.serve.public.cors;
        assert!(cors.enabled && cors.allows_any_header());
        assert_eq!(
            cors.allowed_methods,
            vec![CorsMethod::Get, CorsMethod::Post]
        );
        assert!(cors.allows_origin("https://app.example.com"));
        assert!(cors.allows_origin("https://a.b.example.org"));
        assert!(
            !cors.allows_origin("https://example.org"),
            "the label is required"
        );
        assert!(!cors.allows_origin("https://evil.com"));
        assert!(!cors.allows_origin("http://app.example.com"));
        for bad in [
            "https://*.com",
            "https://*.*.example.com",
            "https://www.example.*",
            "*.",
            "",
        ] {
            assert!(bad.parse::<CorsOrigin>().is_err(), "{bad}");
        }
        for bad in [
            "serve:\n  public:\n    cors:\n      allowed_methods: [FETCH]\n",
            "serve:\n  public:\n    cors:\n      allowed_headers: [\"X Bad\"]\n",
            "serve:\n  public:\n    cors:\n      allowed_origins: [\"https://*.com\"]\n",
            "serve:\n  public:\n    cors:\n      max_age: -1\n",
        ] {
            assert!(Config::from_yaml_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_cidrs() {
        let config = Config::from_yaml_str(
            "serve:\n  public:\n    trusted_proxies: [\"10.0.0.0/8\", \"192.0.2.1\", \"2001:db8::/32\"]\n",
        )
        .expect("config");
        let nets = &config.serve.public.trusted_proxies;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(nets[0].contains(ip("10.255.0.1")));
        assert!(!nets[0].contains(ip("11.0.0.1")));
        assert!(nets[0].contains(ip("::ffff:10.1.1.1")), "mapped IPv4");
        assert!(nets[1].contains(ip("192.0.2.1")) && !nets[1].contains(ip("192.0.2.2")));
        assert!(nets[2].contains(ip("2001:db8:abcd::1")) && !nets[2].contains(ip("2001:db9::1")));
        assert!(!nets[2].contains(ip("10.0.0.1")), "no family crosses");
        assert_eq!(nets[1].to_string(), "192.0.2.1/32");
        assert!(
            "0.0.0.0/0"
                .parse::<IpCidr>()
                .unwrap()
                .contains(ip("203.0.113.1"))
        );
        assert!(
            "::/0"
                .parse::<IpCidr>()
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "x",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
        assert!(
            Config::from_yaml_str("serve:\n  public:\n    trusted_proxies: [\"10.0.0.0/40\"]\n")
                .is_err(),
            "an invalid CIDR fails the configuration"
        );
    }
}
