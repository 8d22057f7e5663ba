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
