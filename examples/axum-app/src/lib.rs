//! An example web app built on kratos-rs: sign-up, sign-in, settings, sessions, email
//! verification and account recovery through the embedded Kratos flows, and documents shared
//! through the embedded Keto engine.
//!
//! [`build`] assembles the two routers the binary serves:
//!
//! - the **public** router: the app's pages (rendered on the server from each flow's `ui.nodes`),
//!   its stylesheet, and the Kratos public API (`/self-service/…`, `/sessions/…`) on the same
//!   origin, so the forms post straight to the flows' `ui.action` with Kratos's cookies and
//!   CSRF protection;
//! - the **admin** router: the Kratos admin API and the Keto read and write APIs.
//!
//! Everything lives in one database (SQLite by default, PostgreSQL with a `postgres://` URL):
//! identities, sessions, flows, queued mail, relation tuples, and the app's own `app_documents`
//! and `app_groups` tables.
//!
//! Mail (verification and recovery codes) is queued by the flows and delivered by a courier
//! worker that [`build`] starts: through SMTP with `--smtp`, otherwise into an in-memory outbox
//! that the development mailbox page (`/mailbox`) lists.

mod documents;
mod guard;
mod mailbox;
mod pages;
pub mod settings;
mod views;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use keto_core::{Keto, Schema, Tenant};
use kratos_core::cleanup::{CleanupOptions, CleanupTask};
use kratos_core::config::{HookConfig, Secret};
use kratos_core::courier::{CourierWorker, MemoryOutbox};
use kratos_core::identity::IdentitySchema;
use kratos_core::{Config, Kratos};
use sea_orm::DatabaseConnection;

pub use settings::{HELP, Settings};

/// The identity schema used when no `--identity-schema` is given: email and full name.
pub const DEFAULT_IDENTITY_SCHEMA: &str = include_str!("../identity.schema.json");

/// The permission model used when no `--namespaces` is given (Ory Permission Language).
pub const DEFAULT_NAMESPACES: &str = include_str!("../namespaces.keto.ts");

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) kratos: Kratos,
    pub(crate) keto: Tenant,
    pub(crate) db: DatabaseConnection,
    pub(crate) views: Arc<views::Views>,
    /// The public base URL, without a trailing slash.
    pub(crate) base_url: String,
    /// Where mail goes: the development mailbox, or a configured channel.
    pub(crate) mail: Arc<mailbox::Delivery>,
}

impl FromRef<AppState> for Kratos {
    fn from_ref(state: &AppState) -> Kratos {
        state.kratos.clone()
    }
}

/// The assembled app: its two routers and the engines behind them.
pub struct App {
    /// Pages, stylesheet and the Kratos public API (serve on [`Settings::public`]).
    pub public: Router,
    /// The Kratos admin API and the Keto read and write APIs (serve on [`Settings::admin`]).
    pub admin: Router,
    /// The identity engine.
    pub kratos: Kratos,
    /// The permission engine, bound to the app's tenant.
    pub keto: Tenant,
    /// The courier worker delivering queued mail; it stops when dropped, or after its current
    /// batch with [`CourierWorker::stop`].
    pub courier: CourierWorker,
    /// The periodic cleanup of expired rows (every `database.cleanup.interval`, see
    /// [`kratos_core::cleanup`]); `None` when the interval is zero. It stops when dropped.
    pub cleanup: Option<CleanupTask>,
    /// The in-memory outbox the development mailbox shows, when no SMTP server (or other
    /// courier channel) is configured.
    pub outbox: Option<MemoryOutbox>,
    /// Where mail goes, in words (for the start-up output).
    pub mail_delivery: String,
}

/// The Kratos configuration the app runs with: the `--config` file (or the defaults) with
/// what the app needs filled in where the file leaves it open: the public and admin base URLs,
/// the UI URLs of the flows pointing at the app's pages, the return URL, a session after
/// registration (by password and by code), the `show_verification_ui` hook after a
/// registration by password, plain-HTTP cookies for an `http://` base URL, and development
/// secrets. Verification, recovery and passwordless sign-in and sign-up by email code are
/// always switched on, `--smtp` sets `courier.smtp.connection_uri`, and `--cleanup-interval`
/// and `--cleanup-older-than` set `database.cleanup.interval` and `older_than`.
pub fn kratos_config(settings: &Settings) -> Result<Config, String> {
    let mut config = match &settings.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let base = config
        .serve
        .public
        .base_url
        .get_or_insert_with(|| format!("http://{}/", settings.public))
        .trim_end_matches('/')
        .to_owned();
    config
        .serve
        .admin
        .base_url
        .get_or_insert_with(|| format!("http://{}/", settings.admin));
    let flows = &mut config.selfservice.flows;
    flows
        .login
        .ui_url
        .get_or_insert_with(|| format!("{base}/login"));
    flows
        .registration
        .ui_url
        .get_or_insert_with(|| format!("{base}/registration"));
    flows
        .settings
        .ui_url
        .get_or_insert_with(|| format!("{base}/settings"));
    flows
        .error
        .ui_url
        .get_or_insert_with(|| format!("{base}/error"));
    flows
        .verification
        .ui_url
        .get_or_insert_with(|| format!("{base}/verification"));
    flows
        .recovery
        .ui_url
        .get_or_insert_with(|| format!("{base}/recovery"));
    // Both are off in Kratos's defaults; the app's pages and its "Forgot password?" link
    // rely on them, so it always turns them on. Their method (`use`: `code` unless the file
    // says `link`) and lifespans come from the file.
    flows.verification.enabled = true;
    flows.recovery.enabled = true;
    if let Some(url) = &settings.smtp {
        config.courier.delivery_strategy = "smtp".into();
        config.courier.smtp.connection_uri = Some(url.clone());
    }
    if let Some(interval) = settings.cleanup_interval {
        config.database.cleanup.interval = interval;
    }
    if let Some(older_than) = settings.cleanup_older_than {
        config.database.cleanup.older_than = older_than;
    }
    config
        .selfservice
        .default_browser_return_url
        .get_or_insert_with(|| format!("{base}/"));
    // Passwordless sign-in and sign-up with a code sent by email, beside the password
    // (unless the file switches the code method off: `selfservice.methods.code.enabled`).
    config.selfservice.methods.code.passwordless_enabled = true;
    let registration = &mut config.selfservice.flows.registration;
    let session_hook = || HookConfig {
        hook: "session".into(),
        config: serde_json::Value::Null,
    };
    // Signing up signs in, by password and by code.
    if !registration.issues_session_for("password") {
        registration.after.password.hooks.push(session_hook());
    }
    if !registration.issues_session_for("code") {
        registration.after.code.hooks.push(session_hook());
    }
    // After signing up with a password the browser goes straight to the verification form of
    // the code just mailed. A sign-up by code needs none: the code verified the address.
    let shows_verification = registration
        .after
        .hooks
        .iter()
        .chain(&registration.after.password.hooks)
        .any(|h| h.hook == "show_verification_ui");
    if !shows_verification {
        registration.after.password.hooks.push(HookConfig {
            hook: "show_verification_ui".into(),
            config: serde_json::Value::Null,
        });
    }
    if config.cookies.secure.is_none() && base.starts_with("http://") {
        // Browsers drop Secure cookies set over plain HTTP on anything but localhost.
        config.cookies.secure = Some(false);
    }
    if config.secrets.default.is_empty() && config.secrets.cookie.is_empty() && !config.dev {
        config.secrets.default = dev_secrets(&settings.state_dir)?;
    }
    Ok(config)
}

/// Development secrets: generated once into `<state dir>/secrets.json` with a warning, and
/// reused on restart so sessions survive it.
fn dev_secrets(dir: &Path) -> Result<Vec<Secret>, String> {
    let path = dir.join("secrets.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let list: Vec<String> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(list.into_iter().map(Secret::new).collect());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, serde_json::json!([secret]).to_string())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "WARNING: generated development secrets in {} — configure real secrets (--config) before going to production",
        path.display()
    );
    Ok(vec![Secret::new(secret)])
}

/// Opens and migrates the database: PostgreSQL for `postgres://` URLs, SQLite otherwise (the
/// file and its directory are created when missing).
async fn open_store(url: &str) -> Result<kratos_store_sqlite::SqlStore, String> {
    let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        kratos_store_postgres::connect(url)
            .await
            .map_err(|e| format!("cannot connect to {url}: {e}"))?
    } else {
        if let Some(dir) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
            .and_then(|p| Path::new(p).parent())
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        kratos_store_sqlite::connect(url)
            .await
            .map_err(|e| format!("cannot open {url}: {e}"))?
    };
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    documents::migrate(store.connection()).await?;
    Ok(store)
}

/// Builds the app for these settings: opens and migrates the database, loads the identity
/// schema and the namespaces, and assembles the routers.
pub async fn build(settings: &Settings) -> Result<App, String> {
    let config = kratos_config(settings)?;
    let schema = match &settings.identity_schema {
        Some(path) => IdentitySchema::from_url("default", &path.display().to_string()),
        None => IdentitySchema::from_json_str("default", DEFAULT_IDENTITY_SCHEMA),
    }
    .map_err(|e| format!("identity schema: {e}"))?;
    let opl = match &settings.namespaces {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => DEFAULT_NAMESPACES.to_owned(),
    };
    let namespaces = Schema::from_opl(&opl).map_err(|e| format!("namespaces: {e}"))?;
    for needed in ["User", "Group", "Document"] {
        if namespaces.namespace(needed).is_none() {
            return Err(format!(
                "namespaces: the app needs a `{needed}` namespace (see namespaces.keto.ts)"
            ));
        }
    }
    let store = Arc::new(open_store(&settings.database).await?);
    let db = store.connection().clone();
    let mail = mailbox::Delivery::for_config(&config.courier);
    let mut builder = Kratos::builder(config).store(store.clone()).schema(schema);
    if let mailbox::Delivery::Mailbox(outbox) = &mail {
        builder = builder.courier_channel(Arc::new(outbox.clone()));
    }
    let kratos = builder.build().map_err(|e| e.to_string())?;
    let keto = Keto::new(namespaces, store, keto_core::Config::default())
        .map_err(|e| format!("namespaces: {e}"))?
        .tenant(kratos.nid());
    let base_url = kratos
        .config()
        .serve
        .public_base_url()
        .trim_end_matches('/')
        .to_owned();
    let flows = &kratos.config().selfservice.flows;
    let views = views::Views::new(views::Globals {
        dev_mailbox: mail.outbox().is_some(),
        verification: flows.verification.enabled,
        recovery: flows.recovery.enabled,
    });
    let outbox = mail.outbox().cloned();
    let mail_delivery = mail.describe(&base_url);
    let state = AppState {
        kratos: kratos.clone(),
        keto: keto.clone(),
        db,
        views: Arc::new(views),
        base_url,
        mail: Arc::new(mail),
    };
    let kratos_public = kratos_axum::public_router(kratos.clone()).layer(
        axum::middleware::from_fn_with_state(state.clone(), guard::friendly_errors),
    );
    let public = Router::new()
        .merge(pages::router())
        .merge(documents::router())
        .merge(mailbox::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin_posts,
        ))
        .with_state(state)
        .merge(kratos_public);
    let admin =
        kratos_axum::admin_router(kratos.clone()).merge(kratos_axum::keto_router(keto.clone()));
    let courier = kratos.courier().spawn();
    let cleanup = cleanup_task(&kratos);
    Ok(App {
        public,
        admin,
        kratos,
        keto,
        courier,
        cleanup,
        outbox,
        mail_delivery,
    })
}

/// Starts the periodic cleanup of the app's tenant with the configured options, unless
/// `database.cleanup.interval` is zero.
fn cleanup_task(kratos: &Kratos) -> Option<CleanupTask> {
    let interval = kratos.config().database.cleanup.interval.0;
    if interval.is_zero() {
        return None;
    }
    let options = CleanupOptions::from_config(kratos.config());
    Some(kratos.cleanup().spawn(options, interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration for a `--config` file with these contents.
    fn config_from(yaml: &str) -> Config {
        let path =
            std::env::temp_dir().join(format!("axum-app-config-{}.yml", uuid::Uuid::new_v4()));
        std::fs::write(&path, yaml).unwrap();
        let settings = Settings {
            config: Some(path.clone()),
            ..Settings::default()
        };
        let config = kratos_config(&settings);
        std::fs::remove_file(path).ok();
        config.unwrap()
    }

    fn names(hooks: &[HookConfig]) -> Vec<&str> {
        hooks.iter().map(|h| h.hook.as_str()).collect()
    }

    const SECRETS: &str = "secrets:\n  default: [\"a-unit-test-secret-long-enough\"]\n";

    #[test]
    fn sign_up_signs_in_by_both_methods_and_shows_verification_after_a_password() {
        let config = config_from(SECRETS);
        let registration = &config.selfservice.flows.registration;
        assert_eq!(
            names(&registration.after.password.hooks),
            ["session", "show_verification_ui"]
        );
        assert_eq!(names(&registration.after.code.hooks), ["session"]);
        assert!(config.selfservice.methods.code.passwordless());
        assert!(config.selfservice.flows.verification.enabled);
    }

    #[test]
    fn hooks_the_file_configures_are_not_added_again() {
        let config = config_from(&format!(
            "{SECRETS}selfservice:\n  flows:\n    registration:\n      after:\n        \
             hooks: [{{hook: show_verification_ui}}]\n        \
             code:\n          hooks: [{{hook: session}}]\n        \
             password:\n          hooks: [{{hook: session}}]\n"
        ));
        let registration = &config.selfservice.flows.registration;
        assert_eq!(names(&registration.after.hooks), ["show_verification_ui"]);
        assert_eq!(names(&registration.after.password.hooks), ["session"]);
        assert_eq!(names(&registration.after.code.hooks), ["session"]);
    }

    #[test]
    fn the_code_method_switched_off_in_the_file_stays_off() {
        let config = config_from(&format!(
            "{SECRETS}selfservice:\n  methods:\n    code:\n      enabled: false\n"
        ));
        assert!(!config.selfservice.methods.code.passwordless());
    }
}
