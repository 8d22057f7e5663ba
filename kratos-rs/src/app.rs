//! Kratos and Keto built from their configuration files, on the stores their DSNs name.

use std::path::PathBuf;
use std::sync::Arc;

use kratos_core::Kratos;
use kratos_core::config::redact_url;
use kratos_store_sql::SqlStore;

use crate::config::{ADMIN_PORT, KratosFiles, PUBLIC_PORT, load_kratos};
use crate::dsn::{self, Backend};
use crate::keto::{self, LoadedKeto};

/// Where the Kratos configuration comes from and how strictly it is read.
#[derive(Clone, Default)]
pub struct Sources {
    /// Kratos's files (`-c`), merged in order.
    pub kratos: Vec<PathBuf>,
    /// Keto's files (`--keto-config`), merged in order; none serves no Keto.
    pub keto: Vec<PathBuf>,
    /// Keys valid but not implemented are warnings, not errors.
    pub allow_unimplemented: bool,
    /// Development mode.
    pub dev: bool,
    /// A DSN that wins over the configuration's (a command's DSN argument).
    pub dsn: Option<String>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("kratos", &self.kratos)
            .field("keto", &self.keto)
            .field("allow_unimplemented", &self.allow_unimplemented)
            .field("dev", &self.dev)
            .field("dsn", &crate::config::redacted(self.dsn.as_deref()))
            .finish()
    }
}

/// Kratos on its store.
pub struct KratosApp {
    /// The engine.
    pub kratos: Kratos,
    /// Its store.
    pub store: Arc<SqlStore>,
    /// The configuration files' content.
    pub files: KratosFiles,
    /// The DSN, as configured (it may hold a password: never print it unredacted).
    pub dsn: String,
}

/// The DSN of a loaded configuration.
///
/// Errors when neither `dsn` nor `DSN` sets one.
pub fn dsn_of(files: &KratosFiles) -> Result<String, String> {
    files
        .server
        .dsn
        .clone()
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            "no DSN: set `dsn` in the configuration or the DSN environment variable".into()
        })
}

/// Loads the configuration and builds Kratos on its store. The store is migrated when
/// `migrate` is set, and always for `memory` (a new empty database).
///
/// Errors when the configuration is invalid, the store cannot be opened or migrated, or
/// Kratos refuses the configuration.
pub async fn kratos(sources: &Sources, migrate: bool) -> Result<KratosApp, String> {
    if sources.kratos.is_empty() {
        return Err("no Kratos configuration: give one or more files with -c".into());
    }
    let files = load_kratos(&sources.kratos, sources.allow_unimplemented, sources.dev)
        .map_err(|e| e.to_string())?;
    let dsn = match &sources.dsn {
        Some(d) => d.clone(),
        None => dsn_of(&files)?,
    };
    let store = Arc::new(dsn::open(&dsn).await?);
    if migrate || Backend::of(&dsn)? == Backend::Memory {
        store.migrate().await.map_err(|e| {
            format!(
                "migrations of {} failed: {}",
                redact_url(&dsn),
                dsn::without_password(&e.to_string(), &dsn)
            )
        })?;
    }
    let mut config = files.loaded.config.clone();
    // Kratos's base URLs default to where the APIs listen.
    let serve = &files.server.serve;
    if config.serve.public.base_url.is_none() {
        let addr = serve.public.address(PUBLIC_PORT)?;
        config.serve.public.base_url = Some(serve.public.base_url(addr));
    }
    if config.serve.admin.base_url.is_none() {
        let addr = serve.admin.address(ADMIN_PORT)?;
        config.serve.admin.base_url = Some(serve.admin.base_url(addr));
    }
    let kratos = Kratos::builder(config)
        .store(store.clone())
        .build()
        .map_err(|e| e.to_string())?;
    Ok(KratosApp {
        kratos,
        store,
        files,
        dsn,
    })
}

/// Keto on its store: the Kratos store when both DSNs are the same, else its own.
pub struct KetoApp {
    /// The engine, bound to Kratos's tenant.
    pub tenant: keto_core::Tenant,
    /// The configuration.
    pub loaded: LoadedKeto,
}

/// Loads Keto's configuration and builds Keto; `None` without Keto files.
///
/// Errors when the configuration or its namespaces are invalid or the store cannot be opened.
pub async fn keto(
    sources: &Sources,
    kratos: &KratosApp,
    migrate: bool,
) -> Result<Option<KetoApp>, String> {
    if sources.keto.is_empty() {
        return Ok(None);
    }
    let loaded = keto::load(
        &sources.keto,
        crate::config::process_env(),
        sources.allow_unimplemented,
    )
    .map_err(|e| e.to_string())?;
    for key in &loaded.unimplemented {
        // Only `serve` loads Keto, after the log subscriber is installed.
        tracing::warn!(
            "Keto configuration key `{key}` is not implemented by kratos-rs and has no effect"
        );
    }
    let schema = loaded.file.schema()?;
    let keto_dsn = loaded
        .file
        .dsn
        .clone()
        .filter(|d| !d.trim().is_empty())
        .ok_or(
            "no Keto DSN: set `dsn` in the Keto configuration or the DSN environment variable",
        )?;
    let store = if keto_dsn == kratos.dsn {
        kratos.store.clone()
    } else {
        let store = Arc::new(dsn::open(&keto_dsn).await?);
        if migrate || Backend::of(&keto_dsn)? == Backend::Memory {
            store.migrate().await.map_err(|e| {
                format!(
                    "migrations of {} failed: {}",
                    redact_url(&keto_dsn),
                    dsn::without_password(&e.to_string(), &keto_dsn)
                )
            })?;
        }
        store
    };
    let engine = keto_core::Keto::new(schema, store, loaded.file.engine_config())
        .map_err(|e| format!("Keto: {e}"))?;
    Ok(Some(KetoApp {
        tenant: engine.tenant(kratos.kratos.nid()),
        loaded,
    }))
}
