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
//! Everything lives in one database (SQLite by default, PostgreSQL with a `postgres://` URL,
//! MySQL or MariaDB with a `mysql://` one):
//! identities, sessions, flows, queued mail, relation tuples, and the app's own `app_documents`
//! and `app_groups` tables.
//!
//! Social sign-in with OpenID Connect and OAuth 2.0 providers is Kratos's `oidc` method,
//! configured in the `--config` file (`selfservice.methods.oidc`); providers without a claims
//! mapper get [`DEFAULT_OIDC_MAPPER`].
//!
//! Second factors (an authenticator app and backup codes) are set up on the security page
//! (`/security`); a sign-in of an account with one continues on the second-factor form of
//! the sign-in page.
//!
//! Mail (verification and recovery codes) is queued by the flows and delivered by a courier
//! worker that [`build`] starts: through SMTP with `--smtp`, or, in development mode (`--dev`)
//! without SMTP, into an in-memory outbox that the development mailbox page (`/mailbox`) lists.
//! `/mailbox` is served only in development mode; with neither SMTP nor development mode the
//! app refuses to start. Text messages go through the `sms` channel of `courier.channels`, or
//! in development mode without one into the development SMS outbox (`/sms-outbox`).

mod documents;
mod guard;
mod mailbox;
mod pages;
mod security;
pub mod settings;
mod sms_outbox;
mod views;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use keto_core::{Keto, Schema, Tenant};
use kratos_core::cleanup::{CleanupOptions, CleanupTask};
use kratos_core::config::{HookConfig, Secret, redact_url};
use kratos_core::courier::{CourierWorker, MemoryOutbox};
use kratos_core::identity::IdentitySchema;
use kratos_core::{Config, Kratos};
use sea_orm::DatabaseConnection;

pub use settings::{HELP, Settings};

/// The identity schema used when no `--identity-schema` is given: email and full name.
pub const DEFAULT_IDENTITY_SCHEMA: &str = include_str!("../identity.schema.json");

/// The permission model used when no `--namespaces` is given (Ory Permission Language).
pub const DEFAULT_NAMESPACES: &str = include_str!("../namespaces.keto.ts");

/// The claims mapper (Jsonnet) a provider of `selfservice.methods.oidc.config.providers`
/// without a `mapper_url` of its own gets: the email address (verified when the provider says
/// so) and the full name.
pub const DEFAULT_OIDC_MAPPER: &str = include_str!("../oidc/mapper.jsonnet");

/// The name authenticator apps show beside the app's codes, unless the configuration sets
/// `selfservice.methods.totp.config.issuer`.
pub const TOTP_ISSUER: &str = "Inkwell";

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
    /// The development SMS outbox, when text messages go there.
    pub(crate) sms: Option<MemoryOutbox>,
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
    /// The in-memory outbox the development mailbox shows: in development mode, when no SMTP
    /// server (or other courier channel) is configured.
    pub outbox: Option<MemoryOutbox>,
    /// Where mail goes, in words (for the start-up output).
    pub mail_delivery: String,
    /// The in-memory outbox the development SMS outbox page shows: in development mode, when
    /// `courier.channels` configures no `sms` channel.
    pub sms_outbox: Option<MemoryOutbox>,
    /// Where text messages go, in words (for the start-up output).
    pub sms_delivery: String,
}

/// The Kratos configuration the app runs with: the `--config` file (or the defaults) with
/// what the app needs filled in where the file leaves it open: the public and admin base URLs,
/// the UI URLs of the flows pointing at the app's pages, the return URL, a session after
/// registration (by password, by code, by passkey and by a social sign-in provider), the
/// `show_verification_ui` hook after a registration by password, plain-HTTP cookies for an
/// `http://` base URL, and development secrets. Verification, recovery, passwordless sign-in
/// and sign-up by email code, and the second factors (TOTP, with [`TOTP_ISSUER`] as the issuer
/// unless the file names one, and backup codes) are always switched on, `--smtp` sets
/// `courier.smtp.connection_uri`, and `--cleanup-interval` and `--cleanup-older-than` set
/// `database.cleanup.interval` and `older_than`. Social sign-in (`selfservice.methods.oidc`)
/// is on when the file switches it on; its providers without a `mapper_url` get
/// [`DEFAULT_OIDC_MAPPER`].
///
/// Errors when the file cannot be loaded, when development secrets cannot be kept, and when
/// mail has no way out: neither SMTP (or another courier channel) nor development mode.
pub fn kratos_config(settings: &Settings) -> Result<Config, String> {
    configure(settings).map(|(config, _)| config)
}

/// The host of a base URL (`http://localhost:4455` → `localhost`), without its port; `None`
/// when the URL has no host.
fn host_of(base: &str) -> Option<String> {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// [`kratos_config`], with where mail goes.
fn configure(settings: &Settings) -> Result<(Config, mailbox::Delivery), String> {
    let mut config = match &settings.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    // This app is built without kratos-core's `hibp` feature and calls no outside service:
    // new passwords are not looked up in Have I Been Pwned (Kratos's default), which
    // kratos-core would otherwise refuse to build without that feature.
    config
        .selfservice
        .methods
        .password
        .config
        .haveibeenpwned_enabled = false;
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
    // Checked before anything is written (the development secrets below).
    let mail = mailbox::Delivery::for_config(&config.courier, settings.dev)?;
    config
        .selfservice
        .default_browser_return_url
        .get_or_insert_with(|| format!("{base}/"));
    // Passwordless sign-in and sign-up with a code sent by email, beside the password
    // (unless the file switches the code method off: `selfservice.methods.code.enabled`).
    config.selfservice.methods.code.passwordless_enabled = true;
    // Second factors: an authenticator app (TOTP) and backup codes, set up on `/security`.
    // Both are off in Kratos's defaults; the app always turns them on, and names itself to
    // authenticator apps unless the file sets `selfservice.methods.totp.config.issuer`.
    let methods = &mut config.selfservice.methods;
    methods.totp.enabled = true;
    methods.lookup_secret.enabled = true;
    if methods
        .totp
        .config
        .issuer
        .as_deref()
        .is_none_or(|i| i.trim().is_empty())
    {
        methods.totp.config.issuer = Some(TOTP_ISSUER.into());
    }
    // Passkeys (sign-up and sign-in) and security keys (a second factor, set up on
    // `/security`). Unless the file names a relying party (`config.rp.id` of the method), it
    // is the app's public host, with the base URL as the one origin and the app's name shown
    // by authenticators.
    let rp = host_of(&base).map(|host| {
        serde_json::json!({
            "id": host,
            "display_name": TOTP_ISSUER,
            "origins": [base],
        })
    });
    for method in [&mut methods.passkey, &mut methods.webauthn] {
        method.enabled = true;
        let names_rp = method.config["rp"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty());
        if !names_rp && let Some(rp) = &rp {
            if !method.config.is_object() {
                method.config = serde_json::json!({});
            }
            method.config["rp"] = rp.clone();
        }
    }
    // Sign-in with OpenID Connect and OAuth 2.0 providers, when the file switches the `oidc`
    // method on and lists providers: a provider without a claims mapper of its own gets the
    // app's (email and name).
    if methods.oidc.enabled {
        default_oidc_mappers(&mut methods.oidc.config);
    }
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
    if !registration.issues_session_for("passkey") {
        registration.after.passkey.hooks.push(session_hook());
    }
    if !registration.issues_session_for("oidc") {
        registration.after.oidc.hooks.push(session_hook());
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
    Ok((config, mail))
}

/// Gives each provider of an `oidc` method's `config` (`providers: [...]`) without a
/// `mapper_url` (absent, `null` or empty) the app's [`DEFAULT_OIDC_MAPPER`], as a `base64://`
/// URL. Anything else in the configuration is left as it is.
fn default_oidc_mappers(config: &mut serde_json::Value) {
    use base64::Engine as _;
    let Some(providers) = config
        .get_mut("providers")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    let url = format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(DEFAULT_OIDC_MAPPER)
    );
    for provider in providers
        .iter_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        let has_mapper = provider
            .get("mapper_url")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|u| !u.trim().is_empty());
        if !has_mapper {
            provider.insert("mapper_url".into(), serde_json::Value::String(url.clone()));
        }
    }
}

/// Development secrets: generated once into `<state dir>/secrets.json` with a warning, and
/// reused on restart so sessions survive it. The file is readable and writable by its owner
/// only (mode 0600 on unix, also when it existed with a wider mode).
fn dev_secrets(dir: &Path) -> Result<Vec<Secret>, String> {
    let path = dir.join("secrets.json");
    let shown = |e: std::io::Error| format!("{}: {e}", path.display());
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            owner_only(&path).map_err(shown)?;
            let list: Vec<String> =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(list.into_iter().map(Secret::new).collect());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(shown(e)),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_owner_only(&path, serde_json::json!([secret]).to_string().as_bytes()).map_err(shown)?;
    tracing::warn!(
        "WARNING: generated development secrets in {} — configure real secrets (--config) before going to production",
        path.display()
    );
    Ok(vec![Secret::new(secret)])
}

/// Creates `path` (it must not exist) readable and writable by its owner only, and writes
/// `contents`.
fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Narrows an existing file to its owner (mode 0600 on unix; nothing elsewhere).
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens and migrates the database: PostgreSQL for `postgres://` URLs, MySQL or MariaDB for
/// `mysql://` URLs, SQLite otherwise (the file and its directory are created when missing).
async fn open_store(url: &str) -> Result<kratos_store_sqlite::SqlStore, String> {
    let unreachable = |e: sea_orm::DbErr| {
        format!(
            "cannot connect to {}: {}",
            redact_url(url),
            without_password(&e.to_string(), url)
        )
    };
    let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        kratos_store_postgres::connect(url)
            .await
            .map_err(unreachable)?
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        kratos_store_mysql::connect(url)
            .await
            .map_err(unreachable)?
    } else {
        if let Some(dir) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
            .and_then(|p| Path::new(p).parent())
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        kratos_store_sqlite::connect(url).await.map_err(|e| {
            format!(
                "cannot open {}: {}",
                redact_url(url),
                without_password(&e.to_string(), url)
            )
        })?
    };
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    documents::migrate(store.connection()).await?;
    Ok(store)
}

/// `message` with the password of `url` (if it has one) replaced, in case the driver's error
/// quotes the URL or the password.
fn without_password(message: &str, url: &str) -> String {
    let message = message.replace(url, &redact_url(url));
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => message.replace(p, kratos_core::config::REDACTED),
        None => message,
    }
}

/// Builds the app for these settings: opens and migrates the database, loads the identity
/// schema and the namespaces, and assembles the routers.
pub async fn build(settings: &Settings) -> Result<App, String> {
    let (config, mail) = configure(settings)?;
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
    let sms_outbox = sms_outbox::outbox_for(&config.courier, settings.dev);
    let mut builder = Kratos::builder(config).store(store.clone()).schema(schema);
    if let mailbox::Delivery::Mailbox(outbox) = &mail {
        builder = builder.courier_channel(Arc::new(outbox.clone()));
    }
    if let Some(outbox) = &sms_outbox {
        builder = builder.courier_sms_channel(Arc::new(outbox.clone()));
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
        dev_sms_outbox: sms_outbox.is_some(),
        verification: flows.verification.enabled,
        recovery: flows.recovery.enabled,
    });
    let outbox = mail.outbox().cloned();
    let mail_delivery = mail.describe(&base_url);
    let sms_delivery =
        sms_outbox::describe(sms_outbox.as_ref(), &kratos.config().courier, &base_url);
    let state = AppState {
        kratos: kratos.clone(),
        keto: keto.clone(),
        db,
        views: Arc::new(views),
        base_url,
        mail: Arc::new(mail),
        sms: sms_outbox.clone(),
    };
    let kratos_public = kratos_axum::public_router(kratos.clone()).layer(
        axum::middleware::from_fn_with_state(state.clone(), guard::friendly_errors),
    );
    let mut pages = Router::new()
        .merge(pages::router(&kratos))
        .merge(security::router(&kratos))
        .merge(documents::router(&kratos));
    if settings.dev {
        // Never by default: the page shows every code to anyone.
        pages = pages.merge(mailbox::router()).merge(sms_outbox::router());
    }
    let public = pages
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
        sms_outbox,
        sms_delivery,
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
            dev: true,
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
    fn second_factors_are_on_with_the_app_as_issuer_unless_the_file_names_one() {
        let config = config_from(SECRETS);
        let methods = &config.selfservice.methods;
        assert!(methods.totp.enabled && methods.lookup_secret.enabled);
        assert_eq!(config.totp_issuer(), TOTP_ISSUER);
        let config = config_from(&format!(
            "{SECRETS}selfservice:\n  methods:\n    totp:\n      config:\n        issuer: Acme\n"
        ));
        assert_eq!(config.totp_issuer(), "Acme");
    }

    #[test]
    fn passkeys_and_security_keys_are_on_for_the_public_host_unless_the_file_names_a_relying_party()
    {
        let config = config_from(&format!(
            "{SECRETS}serve:\n  public:\n    base_url: http://localhost:4455/\n"
        ));
        let passkey = &config.selfservice.methods.passkey;
        assert!(passkey.enabled);
        assert_eq!(passkey.config["rp"]["id"], "localhost");
        assert_eq!(passkey.config["rp"]["display_name"], TOTP_ISSUER);
        assert_eq!(
            passkey.config["rp"]["origins"],
            serde_json::json!(["http://localhost:4455"])
        );
        let webauthn = &config.selfservice.methods.webauthn;
        assert!(webauthn.enabled);
        assert_eq!(webauthn.config["rp"], passkey.config["rp"]);
        assert_eq!(webauthn.config.get("passwordless"), None);
        let registration = &config.selfservice.flows.registration;
        assert_eq!(names(&registration.after.passkey.hooks), ["session"]);
        let config = config_from(&format!(
            "{SECRETS}selfservice:\n  methods:\n    passkey:\n      config:\n        \
             rp: {{id: example.com, origins: [\"https://example.com\"]}}\n"
        ));
        let rp = &config.selfservice.methods.passkey.config["rp"];
        assert_eq!(rp["id"], "example.com");
        assert_eq!(rp["origins"], serde_json::json!(["https://example.com"]));
    }

    #[test]
    fn social_sign_in_providers_get_the_apps_mapper_unless_they_name_one_and_sign_up_signs_in() {
        let config = config_from(&format!(
            "{SECRETS}selfservice:\n  methods:\n    oidc:\n      enabled: true\n      config:\n        \
             providers:\n          - {{id: a, provider: generic, client_id: c, client_secret: s}}\n          \
             - {{id: b, provider: github, client_id: c, client_secret: s, mapper_url: \"file:///m.jsonnet\"}}\n"
        ));
        let providers = &config.selfservice.methods.oidc.config["providers"];
        let default = providers[0]["mapper_url"].as_str().unwrap();
        let encoded = default.strip_prefix("base64://").expect("a base64 URL");
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, DEFAULT_OIDC_MAPPER.as_bytes());
        assert_eq!(providers[1]["mapper_url"], "file:///m.jsonnet");
        assert!(
            config
                .selfservice
                .flows
                .registration
                .issues_session_for("oidc")
        );
        // Off unless the file switches it on.
        let config = config_from(SECRETS);
        assert!(!config.selfservice.methods.oidc.enabled);
    }

    #[test]
    fn the_host_of_a_base_url_has_no_port() {
        assert_eq!(
            host_of("http://Localhost:4455").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            host_of("https://auth.example.com/path").as_deref(),
            Some("auth.example.com")
        );
        assert_eq!(host_of("http://[::1]:4455").as_deref(), Some("::1"));
        assert_eq!(host_of("http://user@host:1").as_deref(), Some("host"));
        assert_eq!(host_of("http://:4455"), None);
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

    #[test]
    fn without_smtp_or_dev_mode_the_configuration_is_refused() {
        let settings = Settings {
            state_dir: std::env::temp_dir().join(format!("axum-app-{}", uuid::Uuid::new_v4())),
            ..Settings::default()
        };
        let err = kratos_config(&settings).unwrap_err();
        assert!(err.contains("--dev") && err.contains("--smtp"), "{err}");
        assert!(
            !settings.state_dir.exists(),
            "nothing is written before the refusal"
        );
    }

    #[cfg(unix)]
    #[test]
    fn development_secrets_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("axum-app-secrets-{}", uuid::Uuid::new_v4()));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let first = dev_secrets(&dir).unwrap();
        let path = dir.join("secrets.json");
        assert_eq!(mode(&path), 0o600);
        // A file left world-readable (by an older version, or by hand) is narrowed on start.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = dev_secrets(&dir).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(first[0].expose(), again[0].expose(), "kept across restarts");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn database_errors_lose_the_password() {
        let url = "postgres://kratos:db-pass-1@db.example.com/kratos";
        let msg = without_password(
            &format!("error connecting to {url}: db-pass-1 refused"),
            url,
        );
        assert!(!msg.contains("db-pass-1"), "{msg}");
        assert!(msg.contains("db.example.com"), "{msg}");
        assert_eq!(
            without_password("no url here", "sqlite::memory:"),
            "no url here"
        );
    }
}
