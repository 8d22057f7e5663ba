//! Command-line flags and their environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use kratos_core::config::{KratosDuration, Secret, redact_url};

/// The text of `--help`.
pub const HELP: &str = "axum-app: an example web app on kratos-rs

USAGE: axum-app [OPTIONS]

OPTIONS (each also read from the environment variable in brackets):
  --public ADDR            pages and Kratos public API      [PUBLIC_ADDR]      default 127.0.0.1:4455
  --admin ADDR             Kratos admin API and Keto API    [ADMIN_ADDR]       default 127.0.0.1:4434
  --database URL           sqlite://FILE, postgres://…, mysql://… [DATABASE_URL]     default sqlite://.axum-app/kratos.db
  --namespaces FILE        Keto namespaces (OPL)            [NAMESPACES]       default: built-in namespaces.keto.ts
  --identity-schema FILE   identity schema (JSON)           [IDENTITY_SCHEMA]  default: built-in email + name
  --config FILE            Kratos configuration (YAML/JSON) [KRATOS_CONFIG]    default: none
  --smtp URL               deliver mail through SMTP        [SMTP_URL]         default: none
                           smtp://USER:PASS@HOST:587/ (STARTTLS) or smtps://USER:PASS@HOST:465/ (TLS)
  --dev                    development mode                 [AXUM_APP_DEV=1]   default: off
  --cleanup-interval DUR   delete expired rows this often   [CLEANUP_INTERVAL] default: database.cleanup.interval (1h); 0 turns it off
  --cleanup-older-than DUR keep expired rows this long      [CLEANUP_OLDER_THAN] default: database.cleanup.older_than (0s)
  -h, --help               print this help

Mail needs a way out: --smtp (or a courier channel in --config), or --dev. The app refuses to
start with neither. In development mode (--dev) and without SMTP, verification and recovery
emails are kept in memory and shown at /mailbox, a development mailbox anyone can read: never
use --dev where others can reach the app. Without --dev there is no /mailbox.
Without secrets in --config, development secrets are generated once into .axum-app/secrets.json
(readable by its owner only).

  cargo run -p axum-app -- --dev        # try it out: SQLite, the development mailbox
";

/// How the app is started. `Debug` shows the database URL without its password and the SMTP
/// URL not at all.
#[derive(Clone)]
pub struct Settings {
    /// Where the pages and the Kratos public API listen.
    pub public: SocketAddr,
    /// Where the Kratos admin API and the Keto API listen.
    pub admin: SocketAddr,
    /// `sqlite://FILE` (or `sqlite::memory:`), `postgres://…` or `mysql://…`.
    pub database: String,
    /// An OPL file replacing the built-in namespaces.
    pub namespaces: Option<PathBuf>,
    /// An identity schema replacing the built-in one.
    pub identity_schema: Option<PathBuf>,
    /// A Kratos configuration file (YAML, or JSON by extension).
    pub config: Option<PathBuf>,
    /// An SMTP server to deliver mail through (`smtp://…` with STARTTLS, `smtps://…`); it may
    /// hold a password, so it is kept as a secret. Without one (and without a courier channel in
    /// the configuration), mail goes to the in-memory development mailbox.
    pub smtp: Option<Secret>,
    /// Where development secrets are kept when the configuration has none.
    pub state_dir: PathBuf,
    /// Development mode (`--dev`, `AXUM_APP_DEV=1`): without SMTP, mail goes to the in-memory
    /// development mailbox served at `/mailbox`, which shows every code to anyone. Off by
    /// default: then `/mailbox` is not served and the app needs SMTP (or another courier
    /// channel) to start.
    pub dev: bool,
    /// How often expired rows are deleted (`database.cleanup.interval` when `None`; zero turns
    /// the periodic cleanup off).
    pub cleanup_interval: Option<KratosDuration>,
    /// How long expired flows, sessions and codes are kept (`database.cleanup.older_than` when
    /// `None`).
    pub cleanup_older_than: Option<KratosDuration>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("public", &self.public)
            .field("admin", &self.admin)
            .field("database", &redact_url(&self.database))
            .field("namespaces", &self.namespaces)
            .field("identity_schema", &self.identity_schema)
            .field("config", &self.config)
            .field("smtp", &self.smtp)
            .field("state_dir", &self.state_dir)
            .field("dev", &self.dev)
            .field("cleanup_interval", &self.cleanup_interval)
            .field("cleanup_older_than", &self.cleanup_older_than)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public: ([127, 0, 0, 1], 4455).into(),
            admin: ([127, 0, 0, 1], 4434).into(),
            database: "sqlite://.axum-app/kratos.db".into(),
            namespaces: None,
            identity_schema: None,
            config: None,
            smtp: None,
            state_dir: PathBuf::from(".axum-app"),
            dev: false,
            cleanup_interval: None,
            cleanup_older_than: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run with these settings.
    Run(Box<Settings>),
    /// Print the help.
    Help,
}

impl Settings {
    /// Reads the environment, then the flags (flags win).
    pub fn from_env_and_args(
        env: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Command, String> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let mut s = Settings::default();
        let mut public = env("PUBLIC_ADDR");
        let mut admin = env("ADMIN_ADDR");
        if let Some(d) = env("DATABASE_URL") {
            s.database = d;
        }
        s.namespaces = env("NAMESPACES").map(PathBuf::from);
        s.identity_schema = env("IDENTITY_SCHEMA").map(PathBuf::from);
        s.config = env("KRATOS_CONFIG").map(PathBuf::from);
        s.smtp = env("SMTP_URL").map(Secret::new);
        if let Some(v) = env("AXUM_APP_DEV") {
            s.dev = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(format!("AXUM_APP_DEV={v}: expected 1 or 0 (see --help)")),
            };
        }
        let mut cleanup_interval = env("CLEANUP_INTERVAL");
        let mut cleanup_older_than = env("CLEANUP_OLDER_THAN");
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value (see --help)"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "--public" => public = Some(value()?),
                "--admin" => admin = Some(value()?),
                "--database" => s.database = value()?,
                "--namespaces" => s.namespaces = Some(PathBuf::from(value()?)),
                "--identity-schema" => s.identity_schema = Some(PathBuf::from(value()?)),
                "--config" => s.config = Some(PathBuf::from(value()?)),
                "--smtp" => s.smtp = Some(Secret::new(value()?)),
                "--dev" if inline.is_none() => s.dev = true,
                "--dev" => return Err("--dev takes no value (see --help)".into()),
                "--cleanup-interval" => cleanup_interval = Some(value()?),
                "--cleanup-older-than" => cleanup_older_than = Some(value()?),
                other => return Err(format!("unknown argument `{other}` (see --help)")),
            }
        }
        if let Some(p) = public {
            s.public = p.parse().map_err(|e| format!("--public {p}: {e}"))?;
        }
        if let Some(a) = admin {
            s.admin = a.parse().map_err(|e| format!("--admin {a}: {e}"))?;
        }
        if let Some(url) = &s.smtp {
            check_smtp_url(url.expose())?;
        }
        let duration = |flag: &str, v: Option<String>| {
            v.map(|v| KratosDuration::parse(&v).map_err(|e| format!("{flag}: {e}")))
                .transpose()
        };
        s.cleanup_interval = duration("--cleanup-interval", cleanup_interval)?;
        s.cleanup_older_than = duration("--cleanup-older-than", cleanup_older_than)?;
        Ok(Command::Run(Box::new(s)))
    }
}

/// Checks the form of an SMTP URL without echoing it (it may hold a password).
fn check_smtp_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("--smtp: expected smtp://HOST[:PORT]/ or smtps://HOST[:PORT]/".into());
    };
    if scheme != "smtp" && scheme != "smtps" {
        return Err(format!(
            "--smtp: unsupported scheme `{scheme}` (smtp:// for STARTTLS, smtps:// for TLS)"
        ));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("--smtp: the URL has no host".into());
    }
    Ok(())
}
