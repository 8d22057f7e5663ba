//! The keys of Kratos's configuration that the server reads itself (where to listen, the
//! database, logging), and loading the whole file as Kratos does (see
//! [`kratos_core::config::ConfigLoader`]).
//!
//! These types are the server's list of implemented keys: the loader counts a key as
//! implemented when [`kratos_core::Config`] or [`KratosServerKeys`] keeps it, so a key added
//! here is accepted and nothing else needs to change.

use std::net::SocketAddr;
use std::path::PathBuf;

use kratos_core::config::{ConfigError, ConfigLoader, Loaded};
use serde::{Deserialize, Serialize};

/// `serve.<api>.host` and `.port`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Listen {
    /// The interface; empty (the default) listens on every interface, as Ory's services do.
    pub host: Option<String>,
    /// The port.
    pub port: Option<u16>,
}

impl Listen {
    /// The address to listen on, `default_port` when no port is set.
    ///
    /// Errors when the host is neither an IP address nor a name that resolves.
    pub fn address(&self, default_port: u16) -> Result<SocketAddr, String> {
        let port = self.port.unwrap_or(default_port);
        let host = self.host.as_deref().map(str::trim).unwrap_or_default();
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        use std::net::ToSocketAddrs;
        (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot listen on {host}:{port}: the host has no address"))
    }

    /// The base URL of an endpoint listening at `addr`: its host, or `127.0.0.1` when it
    /// listens on every interface.
    pub fn base_url(&self, addr: SocketAddr) -> String {
        let host = match self.host.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() && h != "0.0.0.0" && h != "::" => h.to_owned(),
            _ => "127.0.0.1".to_owned(),
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        format!("http://{host}:{}/", addr.port())
    }
}

/// `log.level`: Ory's levels (`panic` and `fatal` log as errors).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `panic`
    Panic,
    /// `fatal`
    Fatal,
    /// `error`
    Error,
    /// `warn`
    Warn,
    /// `info` (the default)
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
}

impl LogLevel {
    /// The `tracing` level.
    pub fn level(self) -> tracing::Level {
        match self {
            LogLevel::Panic | LogLevel::Fatal | LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// `log.format`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `text` (the default).
    Text,
    /// `json`: one JSON object a line.
    Json,
    /// `json_pretty`: logged as `json`, one object a line.
    JsonPretty,
}

/// `log.*`: the level and the format. (`leak_sensitive_values` is not implemented: nothing
/// here logs secrets, so it cannot be honoured.)
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogConfig {
    /// `log.level`
    pub level: Option<LogLevel>,
    /// `log.format`
    pub format: Option<LogFormat>,
}

/// `serve.public` and `serve.admin` as far as the server reads them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct KratosServe {
    /// `serve.public`
    pub public: Listen,
    /// `serve.admin`
    pub admin: Listen,
}

/// The keys of Kratos's configuration the server reads itself. `Debug` shows the DSN without
/// its password.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct KratosServerKeys {
    /// `dsn` (or the `DSN` environment variable).
    pub dsn: Option<String>,
    /// `version`: the configuration's version, informative only.
    pub version: Option<String>,
    /// `serve.*.host` and `serve.*.port`.
    pub serve: KratosServe,
    /// `log.*`
    pub log: LogConfig,
}

impl std::fmt::Debug for KratosServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KratosServerKeys")
            .field("dsn", &redacted(self.dsn.as_deref()))
            .field("version", &self.version)
            .field("serve", &self.serve)
            .field("log", &self.log)
            .finish()
    }
}

/// A DSN for `Debug`: without its password.
pub fn redacted(dsn: Option<&str>) -> Option<String> {
    dsn.map(kratos_core::config::redact_url)
}

/// The process's environment variables, leaving out those whose name or value is not
/// Unicode (`std::env::vars` would panic on them; no configuration key is named so).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Kratos's default public port.
pub const PUBLIC_PORT: u16 = 4433;
/// Kratos's default admin port.
pub const ADMIN_PORT: u16 = 4434;

/// A loaded Kratos configuration with the server's keys.
#[derive(Debug)]
pub struct KratosFiles {
    /// What the loader produced.
    pub loaded: Loaded,
    /// The server's keys.
    pub server: KratosServerKeys,
}

/// Loads Kratos's configuration from `files` and the process environment.
///
/// Errors as [`ConfigLoader::load`]; an unimplemented key is a warning (printed to stderr)
/// when `allow_unimplemented`, an error otherwise.
pub fn load_kratos(
    files: &[PathBuf],
    allow_unimplemented: bool,
    dev: bool,
) -> Result<KratosFiles, ConfigError> {
    let loaded = files
        .iter()
        .fold(ConfigLoader::new(), |l, f| l.file(f))
        .env(process_env())
        .allow_unimplemented(allow_unimplemented)
        .host_type::<KratosServerKeys>()
        .dev(dev)
        .load()?;
    for key in &loaded.unimplemented {
        eprintln!(
            "warning: Kratos configuration key `{key}` is not implemented by kratos-rs and has no effect"
        );
    }
    let server: KratosServerKeys =
        serde_json::from_value(loaded.document.clone()).map_err(|e| ConfigError::Invalid {
            key: String::new(),
            message: e.to_string(),
        })?;
    Ok(KratosFiles { loaded, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_dsn_password() {
        let keys = KratosServerKeys {
            dsn: Some("postgres://kratos:pw-in-dsn-1@db/kratos".into()),
            ..KratosServerKeys::default()
        };
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("pw-in-dsn-1") && shown.contains("db/kratos"),
            "{shown}"
        );
    }

    #[test]
    fn listen_addresses_default_to_every_interface_and_the_default_port() {
        let all = Listen::default();
        let addr = all.address(PUBLIC_PORT).unwrap();
        assert_eq!(addr.to_string(), "0.0.0.0:4433");
        assert_eq!(all.base_url(addr), "http://127.0.0.1:4433/");
        let local = Listen {
            host: Some("127.0.0.1".into()),
            port: Some(9000),
        };
        let addr = local.address(PUBLIC_PORT).unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:9000");
        let v6 = Listen {
            host: Some("::1".into()),
            port: Some(1),
        };
        assert_eq!(v6.base_url(v6.address(0).unwrap()), "http://[::1]:1/");
    }
}
