//! [`ConfigLoader`]: a Kratos configuration as the Kratos server assembles one, from several
//! files and the environment, checked against Kratos's configuration schema and against what
//! this library implements.

use std::path::PathBuf;
use std::sync::LazyLock;

use serde_json::Value;

use super::document::{self, EnvOverride, EnvPaths, SchemaCheck};
use super::{Config, ConfigError};

static KRATOS_SCHEMA: &str = include_str!("../../schemas/kratos_config.schema.json");
static TRACING_SCHEMA: &str = include_str!("../../schemas/ory_tracing_config.schema.json");
static LOGGING_SCHEMA: &str = include_str!("../../schemas/ory_logging_config.schema.json");

/// The `$id` of Ory's tracing configuration schema, which Kratos's and Keto's refer to.
pub const TRACING_SCHEMA_ID: &str = "ory://tracing-config";
/// The `$id` of Ory's logging configuration schema, which Keto's refers to.
pub const LOGGING_SCHEMA_ID: &str = "ory://logging-config";

/// Ory's shared schemas (tracing, logging), by `$id`, for [`SchemaCheck::new`] and
/// [`EnvPaths::from_schema`] of another Ory service's schema.
///
/// Errors when a bundled schema is not valid JSON (a build defect, reported, not a panic).
pub fn ory_shared_schemas() -> Result<Vec<(&'static str, Value)>, String> {
    Ok(vec![
        (
            TRACING_SCHEMA_ID,
            serde_json::from_str(TRACING_SCHEMA).map_err(|e| e.to_string())?,
        ),
        (
            LOGGING_SCHEMA_ID,
            serde_json::from_str(LOGGING_SCHEMA).map_err(|e| e.to_string())?,
        ),
    ])
}

struct Compiled {
    check: SchemaCheck,
    env: EnvPaths,
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(KRATOS_SCHEMA).map_err(|e| e.to_string())?;
    let shared = ory_shared_schemas()?;
    let resources: Vec<(&str, &Value)> = shared.iter().map(|(id, v)| (*id, v)).collect();
    Ok(Compiled {
        check: SchemaCheck::new(&schema, &resources)?,
        env: EnvPaths::from_schema(&schema, &resources),
    })
});

/// Loads a Kratos configuration the way the Kratos server does: the files merged in order
/// (objects deeply, arrays and other values replaced), then the environment (`DSN`,
/// `SECRETS_DEFAULT`, `SERVE_PUBLIC_PORT`, …, see [`document`](super::document)), then the
/// whole checked against Kratos's configuration schema, read into [`Config`], checked with
/// [`Config::validate`], and compared with what this library implements.
///
/// A key the schema allows but that nothing here implements (it would silently not happen)
/// is an error naming it, [`ConfigError::Unimplemented`]; with
/// [`allow_unimplemented`](Self::allow_unimplemented) it is a warning in
/// [`Loaded::unimplemented`] instead. The implemented keys are those [`Config`] keeps when
/// the document is read into it and written out again, plus the [`host_keys`](Self::host_keys)
/// the host says it implements itself (a server's `dsn` and `serve.public.port`).
///
/// ```
/// use kratos_core::config::ConfigLoader;
///
/// let dir = std::env::temp_dir().join(format!("loader-doc-{}", uuid::Uuid::new_v4()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("kratos.yml");
/// std::fs::write(&file, "dsn: memory\nidentity:\n  default_schema_id: default\n  schemas:\n    - {id: default, url: \"file:///s.json\"}\nselfservice:\n  default_browser_return_url: http://localhost/\n").unwrap();
/// let loaded = ConfigLoader::new()
///     .file(&file)
///     .env([("SECRETS_DEFAULT", "a-secret-of-sixteen-chars-or-more")])
///     .host_keys(["/dsn"])
///     .load()
///     .unwrap();
/// assert_eq!(loaded.config.secrets.default.len(), 1);
/// assert_eq!(loaded.document["dsn"], "memory");
/// std::fs::remove_dir_all(dir).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct ConfigLoader {
    files: Vec<PathBuf>,
    env: Vec<(String, String)>,
    allow_unimplemented: bool,
    host_keys: Vec<String>,
    host_types: Vec<KeptBy>,
    dev: bool,
}

/// Reads a document into a host's type and writes it out again: what that type keeps.
type KeptBy = fn(&Value) -> Result<Value, String>;

fn kept_by<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &Value,
) -> Result<Value, String> {
    let typed: T = serde_path_to_error::deserialize(doc.clone())
        .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

impl std::fmt::Debug for ConfigLoader {
    /// The environment's values may be secrets: only the variables' names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("files", &self.files)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("allow_unimplemented", &self.allow_unimplemented)
            .field("host_keys", &self.host_keys)
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

/// What [`ConfigLoader::load`] produced. `Debug` leaves the document out (it may hold
/// secrets).
#[derive(Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The merged document (files and environment) it was read from; it may hold secrets,
    /// never log it.
    pub document: Value,
    /// The environment variables that set a key.
    pub env_overrides: Vec<EnvOverride>,
    /// The JSON pointers of keys set but not implemented (only with
    /// [`ConfigLoader::allow_unimplemented`]; otherwise they are an error).
    pub unimplemented: Vec<String>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("config", &self.config)
            .field("env_overrides", &self.env_overrides)
            .field("unimplemented", &self.unimplemented)
            .finish_non_exhaustive()
    }
}

impl ConfigLoader {
    /// A loader with no files and no environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file (YAML, or JSON for `.json`); later files override earlier ones.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Adds environment variables (all of the process's: `std::env::vars()`); only those
    /// naming a key of the schema are read.
    pub fn env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Whether keys that are valid but not implemented are warnings ([`Loaded::unimplemented`])
    /// rather than an error. Off by default.
    pub fn allow_unimplemented(mut self, allow: bool) -> Self {
        self.allow_unimplemented = allow;
        self
    }

    /// JSON pointers of keys the host implements itself (`/dsn`, `/serve/public/port`); a
    /// key below one counts too, and a `*` segment matches any key.
    pub fn host_keys<I, S>(mut self, pointers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.host_keys.extend(pointers.into_iter().map(Into::into));
        self
    }

    /// A type of the host's own keys (a server's `dsn`, `serve.public.port`, `log.level`):
    /// the keys it keeps when the document is read into it and written out again count as
    /// implemented, as [`Config`]'s do. A value it refuses is an error naming the key.
    pub fn host_type<T: serde::de::DeserializeOwned + serde::Serialize>(mut self) -> Self {
        self.host_types.push(kept_by::<T>);
        self
    }

    /// Development mode (Kratos's `--dev`), set on the configuration before it is validated.
    pub fn dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    /// Loads, merges, checks and reads the configuration.
    ///
    /// Errors: a file that cannot be read or parsed ([`ConfigError::Io`],
    /// [`ConfigError::Invalid`]), an environment value that does not parse as its key's type
    /// ([`ConfigError::Env`]), schema violations ([`ConfigError::Schema`], every one named by
    /// its JSON pointer), a value [`Config`] refuses or [`Config::validate`] rejects
    /// ([`ConfigError::Invalid`]), and keys not implemented ([`ConfigError::Unimplemented`])
    /// unless allowed.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        let compiled = COMPILED
            .as_ref()
            .map_err(|e| ConfigError::invalid("", format!("the configuration schema: {e}")))?;
        let mut doc = document::read_all(&self.files)?;
        let env_overrides = compiled
            .env
            .apply(&mut doc, self.env.iter().map(|(k, v)| (k, v)))?;
        let violations = compiled.check.violations(&doc);
        if !violations.is_empty() {
            return Err(ConfigError::Schema { violations });
        }
        let mut config = Config::from_value(doc.clone())?;
        config.dev = config.dev || self.dev;
        let mut kept = serde_json::to_value(&config).map_err(|e| {
            ConfigError::invalid("", format!("could not write the configuration: {e}"))
        })?;
        for host in &self.host_types {
            let host_kept = host(&doc).map_err(|e| ConfigError::invalid("", e))?;
            document::merge(&mut kept, host_kept);
        }
        let unimplemented: Vec<String> = document::unkept_keys(&doc, &kept)
            .into_iter()
            .filter(|p| {
                !self
                    .host_keys
                    .iter()
                    .any(|h| document::pointer_matches(h, p))
            })
            .collect();
        if !unimplemented.is_empty() && !self.allow_unimplemented {
            return Err(ConfigError::Unimplemented {
                keys: unimplemented,
            });
        }
        config.validate()?;
        Ok(Loaded {
            config,
            document: doc,
            env_overrides,
            unimplemented,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "dsn: memory\nidentity:\n  default_schema_id: default\n  schemas:\n    - {id: default, url: \"file:///s.json\"}\nselfservice:\n  default_browser_return_url: http://localhost/\nsecrets:\n  default: [\"a-secret-of-sixteen-chars-or-more\"]\n";

    struct Files(PathBuf);
    impl Files {
        fn new(contents: &[&str]) -> (Self, Vec<PathBuf>) {
            let dir = std::env::temp_dir().join(format!("loader-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            let paths = contents
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let p = dir.join(format!("{i}.yml"));
                    std::fs::write(&p, c).unwrap();
                    p
                })
                .collect();
            (Self(dir), paths)
        }
    }
    impl Drop for Files {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn loader(paths: &[PathBuf]) -> ConfigLoader {
        paths
            .iter()
            .fold(ConfigLoader::new().host_keys(["/dsn"]), |l, p| l.file(p))
    }

    #[test]
    fn later_files_and_the_environment_override_earlier_files() {
        let (_dir, paths) = Files::new(&[
            BASE,
            "hashers:\n  algorithm: bcrypt\n  bcrypt: {cost: 6}\nselfservice:\n  flows:\n    login: {lifespan: 5m}\n",
        ]);
        let loaded = loader(&paths)
            .env([
                ("SELFSERVICE_FLOWS_LOGIN_LIFESPAN", "7m"),
                ("HASHERS_BCRYPT_COST", "7"),
                ("UNRELATED", "x"),
            ])
            .load()
            .unwrap();
        assert_eq!(loaded.config.hashers.bcrypt.cost, 7);
        assert_eq!(
            loaded.document["selfservice"]["flows"]["login"]["lifespan"],
            "7m"
        );
        assert_eq!(
            loaded
                .config
                .selfservice
                .default_browser_return_url
                .as_deref(),
            Some("http://localhost/")
        );
        assert_eq!(loaded.env_overrides.len(), 2);
    }

    #[test]
    fn an_invalid_key_is_an_error_naming_its_pointer() {
        let (_dir, paths) = Files::new(&[BASE, "hashers:\n  bcrypt: {cost: 2}\nnot_a_key: 1\n"]);
        let err = loader(&paths).load().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/hashers/bcrypt/cost"), "{text}");
        assert!(matches!(err, ConfigError::Schema { .. }));
    }

    #[test]
    fn a_secret_in_an_invalid_value_is_not_quoted() {
        let (_dir, paths) = Files::new(&[BASE, "secrets:\n  cookie: [\"short-sekrit\"]\n"]);
        let err = loader(&paths).load().unwrap_err().to_string();
        assert!(err.contains("/secrets/cookie/0"), "{err}");
        assert!(!err.contains("short-sekrit"), "{err}");
    }

    #[test]
    fn an_unimplemented_key_is_an_error_unless_allowed_then_a_warning() {
        let (_dir, paths) = Files::new(&[
            BASE,
            "feature_flags:\n  use_continue_with_transitions: true\n",
        ]);
        let key = "/feature_flags/use_continue_with_transitions";
        let err = loader(&paths).load().unwrap_err();
        assert_eq!(err.key(), Some(key));
        let loaded = loader(&paths).allow_unimplemented(true).load().unwrap();
        assert_eq!(loaded.unimplemented, [key]);
        let loaded = loader(&paths)
            .host_keys(["/feature_flags/*"])
            .load()
            .unwrap();
        assert!(loaded.unimplemented.is_empty());
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Flags {
            use_continue_with_transitions: Option<bool>,
        }
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Host {
            feature_flags: Flags,
        }
        let loaded = loader(&paths).host_type::<Host>().load().unwrap();
        assert!(loaded.unimplemented.is_empty());
    }

    #[test]
    fn debug_shows_no_secret() {
        let (_dir, paths) = Files::new(&[BASE]);
        let l = loader(&paths).env([("SECRETS_COOKIE", "an-env-secret-value-1234")]);
        assert!(!format!("{l:?}").contains("an-env-secret"));
        let loaded = l.load().unwrap();
        let shown = format!("{loaded:?}");
        assert!(!shown.contains("an-env-secret") && !shown.contains("a-secret-of-sixteen"));
    }

    #[test]
    fn a_bad_environment_value_names_the_variable_and_the_key() {
        let (_dir, paths) = Files::new(&[BASE]);
        let err = loader(&paths)
            .env([("HASHERS_BCRYPT_COST", "lots")])
            .load()
            .unwrap_err();
        assert_eq!(err.key(), Some("/hashers/bcrypt/cost"));
        assert!(err.to_string().contains("HASHERS_BCRYPT_COST"));
        let err = loader(&paths)
            .env([("SECRETS_DEFAULT", "[\"not closed")])
            .load()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("not closed"), "{err}");
    }

    /// Keys this library implements, across the sections, in Kratos's spelling.
    const IMPLEMENTED: &str = "
selfservice:
  allowed_return_urls: [http://127.0.0.1:4455]
  methods:
    password: {enabled: true, config: {min_password_length: 10, haveibeenpwned_enabled: false}}
    totp: {enabled: true, config: {issuer: Kratos}}
    lookup_secret: {enabled: true}
    link: {enabled: true}
    code: {enabled: true}
  flows:
    error: {ui_url: http://127.0.0.1:4455/error}
    settings: {ui_url: http://127.0.0.1:4455/settings, privileged_session_max_age: 15m, required_aal: highest_available}
    recovery: {enabled: true, ui_url: http://127.0.0.1:4455/recovery, use: code}
    verification:
      enabled: true
      ui_url: http://127.0.0.1:4455/verification
      use: code
      after: {default_browser_return_url: http://127.0.0.1:4455/welcome}
    logout: {after: {default_browser_return_url: http://127.0.0.1:4455/login}}
    login: {ui_url: http://127.0.0.1:4455/login, lifespan: 10m}
    registration:
      lifespan: 10m
      ui_url: http://127.0.0.1:4455/registration
      after:
        password:
          hooks: [{hook: session}, {hook: show_verification_ui}]
serve:
  public: {base_url: http://127.0.0.1:4433/}
  admin: {base_url: http://127.0.0.1:4434/}
session: {lifespan: 24h, cookie: {name: sid, same_site: Lax}}
ciphers: {algorithm: xchacha20-poly1305}
secrets: {cipher: [32-LONG-SECRET-NOT-SECURE-AT-ALL]}
hashers: {algorithm: argon2, argon2: {memory: 64MB, iterations: 2, parallelism: 1}}
courier: {smtp: {connection_uri: smtps://u:p@mail.example.com:465/}}
database: {cleanup: {batch_size: 100, sleep: {tables: 1s}}}
";

    #[test]
    fn every_key_of_an_implemented_configuration_counts_as_implemented() {
        let (_dir, paths) = Files::new(&[BASE, IMPLEMENTED]);
        let loaded = loader(&paths).load().unwrap();
        assert!(
            loaded.unimplemented.is_empty(),
            "{:?}",
            loaded.unimplemented
        );
    }

    #[test]
    fn the_kratos_schema_keys_are_found_for_the_environment() {
        let compiled = COMPILED.as_ref().unwrap();
        assert!(compiled.env.len() > 300, "{}", compiled.env.len());
    }
}
