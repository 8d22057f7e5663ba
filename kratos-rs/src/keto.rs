//! Keto's configuration file, loaded as Keto does: files merged in order, the environment
//! (`DSN`, `LIMIT_MAX_READ_DEPTH`, …), checked against a schema of Keto's configuration
//! keys (`schemas/keto_config.schema.json`, written from Keto's documented keys and bounds), and refused when it sets a key this server does not
//! implement (a warning with `--allow-unimplemented`).
//!
//! The keys implemented are those [`KetoFile`] keeps (the same read-and-write-back check as
//! for Kratos): `dsn`, `serve.read` / `serve.write` host and port, `namespaces` (an OPL file
//! by `namespaces.location`, or the legacy list of `{id, name}`), the strict mode under both
//! of Keto's names (`feature_flags.strict_mode` and the deprecated
//! `namespaces.experimental_strict_mode`), `feature_flags.expand_rewrites`, `limit.*` but
//! `batch_check_max_parallelization`, and `log.level` / `log.format`.

use std::path::PathBuf;
use std::sync::LazyLock;

use kratos_core::config::document::{self, EnvPaths, SchemaCheck};
use kratos_core::config::{ConfigError, ory_shared_schemas};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Listen, LogConfig};

static KETO_SCHEMA: &str = include_str!("../schemas/keto_config.schema.json");

/// Keto's default read port.
pub const READ_PORT: u16 = 4466;
/// Keto's default write port.
pub const WRITE_PORT: u16 = 4467;

/// A legacy namespace: `{id, name}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LegacyNamespace {
    /// `id` (Keto ignores it since namespaces are named).
    pub id: Option<i64>,
    /// `name`
    pub name: String,
}

/// `namespaces`: a list of legacy namespaces, or the location of an OPL file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Namespaces {
    /// The legacy list.
    List(Vec<LegacyNamespace>),
    /// `namespaces.location` (`file://…` or a path) and the deprecated strict mode switch.
    Location {
        /// `location`
        location: String,
        /// `experimental_strict_mode` (deprecated in Keto for `feature_flags.strict_mode`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        experimental_strict_mode: Option<bool>,
    },
}

/// `serve.read` and `serve.write`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct KetoServe {
    /// `serve.read`
    pub read: Listen,
    /// `serve.write`
    pub write: Listen,
}

/// `limit.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Limits {
    /// `limit.max_read_depth`
    pub max_read_depth: Option<u32>,
    /// `limit.max_read_width`
    pub max_read_width: Option<u32>,
    /// `limit.max_batch_check_size`
    pub max_batch_check_size: Option<usize>,
    /// `limit.max_expand_size`
    pub max_expand_size: Option<usize>,
}

/// `feature_flags.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct KetoFlags {
    /// `feature_flags.strict_mode`
    pub strict_mode: Option<bool>,
    /// `feature_flags.expand_rewrites`
    pub expand_rewrites: Option<bool>,
}

/// The keys of Keto's configuration the server implements. `Debug` shows the DSN without its
/// password.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct KetoFile {
    /// `dsn`
    pub dsn: Option<String>,
    /// `version`, informative only.
    pub version: Option<String>,
    /// `serve.*`
    pub serve: KetoServe,
    /// `namespaces`
    pub namespaces: Option<Namespaces>,
    /// `limit.*`
    pub limit: Limits,
    /// `feature_flags.*`
    pub feature_flags: KetoFlags,
    /// `log.*`
    pub log: LogConfig,
}

impl std::fmt::Debug for KetoFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KetoFile")
            .field("dsn", &crate::config::redacted(self.dsn.as_deref()))
            .field("version", &self.version)
            .field("serve", &self.serve)
            .field("namespaces", &self.namespaces)
            .field("limit", &self.limit)
            .field("feature_flags", &self.feature_flags)
            .field("log", &self.log)
            .finish()
    }
}

impl KetoFile {
    /// The engine options: Keto's defaults with the limits and flags the file sets.
    pub fn engine_config(&self) -> keto_core::Config {
        let mut c = keto_core::Config::default();
        if let Some(v) = self.limit.max_read_depth {
            c.max_read_depth = v;
        }
        if let Some(v) = self.limit.max_read_width {
            c.max_read_width = v;
        }
        if let Some(v) = self.limit.max_batch_check_size {
            c.max_batch_check_size = v;
        }
        if let Some(v) = self.limit.max_expand_size {
            c.max_expand_size = v;
        }
        let legacy_strict = match &self.namespaces {
            Some(Namespaces::Location {
                experimental_strict_mode,
                ..
            }) => experimental_strict_mode.unwrap_or(false),
            _ => false,
        };
        c.strict_mode = self.feature_flags.strict_mode.unwrap_or(false) || legacy_strict;
        c.expand_rewrites = self.feature_flags.expand_rewrites.unwrap_or(false);
        c
    }

    /// The namespaces the file configures (none when it sets none). A relative `location`
    /// is read relative to the working directory, as Keto does.
    ///
    /// Errors when the OPL file cannot be read or has errors (each with its line and column).
    pub fn schema(&self) -> Result<keto_core::Schema, String> {
        match &self.namespaces {
            None => Ok(keto_core::Schema::from_names(Vec::<String>::new())),
            Some(Namespaces::List(list)) => Ok(keto_core::Schema::from_names(
                list.iter().map(|n| n.name.clone()),
            )),
            Some(Namespaces::Location { location, .. }) => {
                let path = location_path(location)?;
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| format!("namespaces.location {}: {e}", path.display()))?;
                let out = keto_core::opl::parse(&source);
                if out.has_errors() {
                    let shown = path.display().to_string();
                    let errors: Vec<String> = out
                        .errors()
                        .map(|d| crate::namespace::render(&shown, &source, d))
                        .collect();
                    return Err(format!(
                        "namespaces.location {shown} has errors:\n{}",
                        errors.join("")
                    ));
                }
                Ok(keto_core::Schema::new(out.namespaces))
            }
        }
    }
}

/// The file a `namespaces.location` names: `file://` URIs and plain paths.
///
/// Errors for other schemes (Keto also fetches `http(s)://`, which is not implemented).
pub fn location_path(location: &str) -> Result<PathBuf, String> {
    if let Some(rest) = location.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if location.contains("://") {
        return Err(format!(
            "namespaces.location `{location}`: only file:// locations and paths are implemented"
        ));
    }
    Ok(PathBuf::from(location))
}

struct Compiled {
    check: SchemaCheck,
    env: EnvPaths,
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(KETO_SCHEMA).map_err(|e| e.to_string())?;
    let shared = ory_shared_schemas()?;
    let resources: Vec<(&str, &Value)> = shared.iter().map(|(id, v)| (*id, v)).collect();
    Ok(Compiled {
        check: SchemaCheck::new(&schema, &resources)?,
        env: EnvPaths::from_schema(&schema, &resources),
    })
});

/// A loaded Keto configuration.
#[derive(Debug)]
pub struct LoadedKeto {
    /// The implemented keys.
    pub file: KetoFile,
    /// The JSON pointers of keys set but not implemented (with `allow_unimplemented`).
    pub unimplemented: Vec<String>,
}

/// Loads Keto's configuration from `files` and `env`; the caller reports
/// [`LoadedKeto::unimplemented`].
///
/// Errors: unreadable files, environment values of the wrong type, schema violations, and
/// (unless `allow_unimplemented`) keys not implemented, each naming its JSON pointer.
pub fn load<I, K, V>(
    files: &[PathBuf],
    env: I,
    allow_unimplemented: bool,
) -> Result<LoadedKeto, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let compiled = COMPILED
        .as_ref()
        .map_err(|e| invalid(format!("Keto's configuration schema: {e}")))?;
    let mut doc = Value::Object(serde_json::Map::new());
    for file in files {
        document::merge(&mut doc, document::read_file(file)?);
    }
    compiled.env.apply(&mut doc, env)?;
    let violations = compiled.check.violations(&doc);
    if !violations.is_empty() {
        return Err(ConfigError::Schema { violations });
    }
    let file: KetoFile = serde_path_to_error(&doc)?;
    let kept = serde_json::to_value(&file).map_err(|e| invalid(e.to_string()))?;
    let unimplemented = document::unkept_keys(&doc, &kept);
    if !unimplemented.is_empty() && !allow_unimplemented {
        return Err(ConfigError::Unimplemented {
            keys: unimplemented,
        });
    }
    Ok(LoadedKeto {
        file,
        unimplemented,
    })
}

fn serde_path_to_error(doc: &Value) -> Result<KetoFile, ConfigError> {
    KetoFile::deserialize(doc).map_err(|e| invalid(format!("Keto configuration: {e}")))
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid {
        key: String::new(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(contents: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("keto-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keto.yml");
        std::fs::write(&file, contents).unwrap();
        (dir, file)
    }

    #[test]
    fn both_strict_mode_keys_and_the_limits_are_read() {
        let (dir, file) = write(
            "dsn: memory\nnamespaces:\n  location: file:///x.ts\n  experimental_strict_mode: true\nlimit:\n  max_read_depth: 2\n",
        );
        let loaded = load(
            std::slice::from_ref(&file),
            [("LIMIT_MAX_READ_WIDTH", "7")],
            false,
        )
        .unwrap();
        let c = loaded.file.engine_config();
        assert!(c.strict_mode);
        assert_eq!((c.max_read_depth, c.max_read_width), (2, 7));
        std::fs::write(&file, "dsn: memory\nfeature_flags:\n  strict_mode: true\nnamespaces: [{id: 1, name: files}]\n").unwrap();
        let loaded = load(&[file], Vec::<(String, String)>::new(), false).unwrap();
        assert!(loaded.file.engine_config().strict_mode);
        assert_eq!(loaded.file.schema().unwrap().namespaces().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn invalid_and_unimplemented_keys_are_named() {
        let (dir, file) = write("dsn: memory\nlimit:\n  max_read_depth: 0\n");
        let err = load(
            std::slice::from_ref(&file),
            Vec::<(String, String)>::new(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.key(), Some("/limit/max_read_depth"));
        std::fs::write(&file, "dsn: memory\nserve:\n  metrics: {port: 1}\n").unwrap();
        let err = load(
            std::slice::from_ref(&file),
            Vec::<(String, String)>::new(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.key(), Some("/serve/metrics"));
        let loaded = load(
            std::slice::from_ref(&file),
            Vec::<(String, String)>::new(),
            true,
        )
        .unwrap();
        assert_eq!(loaded.unimplemented, ["/serve/metrics"]);
        std::fs::write(&file, "dsn: memory\nunknown: 1\n").unwrap();
        let err = load(&[file], Vec::<(String, String)>::new(), true).unwrap_err();
        assert!(err.to_string().contains("unknown"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
