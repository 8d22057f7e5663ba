//! The command line, in Kratos's and Keto's shape.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::identities::Format;

/// Ory Kratos and Ory Keto, served from their own configuration files.
#[derive(Debug, Parser)]
#[command(name = "kratos-rs", version, propagate_version = true)]
pub struct Cli {
    /// A Kratos configuration file (YAML, or JSON for .json); repeat to merge several, later
    /// files overriding earlier ones. Environment variables override keys as in Kratos
    /// (DSN, SECRETS_DEFAULT, SERVE_PUBLIC_PORT, …).
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// Accept configuration keys that are valid for Kratos or Keto but not implemented here,
    /// with a warning naming each (by default they are an error).
    #[arg(long, global = true)]
    pub allow_unimplemented: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Kratos's public and admin APIs, and Keto's read and write APIs with --keto-config.
    Serve(ServeArgs),
    /// Database migrations.
    Migrate {
        /// The kind of migration.
        #[command(subcommand)]
        kind: MigrateKind,
    },
    /// Import, list, get and delete identities (through the admin API, in-process).
    Identities {
        /// The identity command.
        #[command(subcommand)]
        command: IdentitiesCommand,
    },
    /// Delete expired data.
    Cleanup {
        /// The kind of cleanup.
        #[command(subcommand)]
        kind: CleanupKind,
    },
    /// Ory Permission Language namespaces.
    Namespace {
        /// The namespace command.
        #[command(subcommand)]
        command: NamespaceCommand,
    },
    /// Password hashers.
    Hashers {
        /// The hasher.
        #[command(subcommand)]
        hasher: HashersCommand,
    },
    /// Print the version.
    Version,
}

/// `serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A Keto configuration file; repeat to merge several. Without one, Keto is not served.
    #[arg(long = "keto-config", value_name = "FILE")]
    pub keto_config: Vec<PathBuf>,
    /// Development mode: a random secret when none is configured, relaxed cookie security.
    /// Never in production.
    #[arg(long)]
    pub dev: bool,
    /// Apply pending database migrations before serving.
    #[arg(long)]
    pub migrate: bool,
}

/// `migrate …`
#[derive(Debug, Subcommand)]
pub enum MigrateKind {
    /// SQL migrations (without a subcommand: `up`).
    #[command(args_conflicts_with_subcommands = true)]
    Sql {
        /// What to do.
        #[command(subcommand)]
        action: Option<SqlAction>,
        /// The database, as for `up`.
        #[command(flatten)]
        dsn: DsnArgs,
    },
}

/// Where the DSN comes from, as in Kratos's `migrate sql`. `Debug` shows the DSN without its
/// password.
#[derive(Args, Clone, Default)]
pub struct DsnArgs {
    /// Read the DSN from the DSN environment variable, or the `dsn` of the -c files.
    #[arg(short = 'e', long = "read-from-env")]
    pub read_from_env: bool,
    /// Answer yes to every confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The database (memory, sqlite://…, postgres://…, mysql://…).
    #[arg(value_name = "DSN")]
    pub dsn: Option<String>,
}

impl std::fmt::Debug for DsnArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DsnArgs")
            .field("read_from_env", &self.read_from_env)
            .field("yes", &self.yes)
            .field("dsn", &crate::config::redacted(self.dsn.as_deref()))
            .finish()
    }
}

/// `migrate sql up | down | status`
#[derive(Debug, Subcommand)]
pub enum SqlAction {
    /// Apply the pending migrations.
    Up(DsnArgs),
    /// Roll back the last applied migrations.
    Down {
        /// How many migrations to roll back (at least 1).
        #[arg(long)]
        steps: u32,
        /// The database.
        #[command(flatten)]
        dsn: DsnArgs,
    },
    /// Show which migrations are applied.
    Status(DsnArgs),
}

/// `identities …`
#[derive(Debug, Subcommand)]
pub enum IdentitiesCommand {
    /// Import identities from JSON files: each holds one identity or an array of them, as the
    /// admin API's create body (credentials with hashed passwords included).
    Import {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List identities (one page).
    List {
        /// Identities per page.
        #[arg(long, default_value_t = 250)]
        page_size: u32,
        /// The page to show (from a previous page's link).
        #[arg(long)]
        page_token: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Get identities by id.
    Get {
        /// The ids.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Delete identities by id; prints each id deleted.
    Delete {
        /// The ids.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

/// `cleanup …`
#[derive(Debug, Subcommand)]
pub enum CleanupKind {
    /// Delete expired flows, sessions, codes and sent courier messages from the database
    /// configured with -c (or the DSN given).
    Sql {
        /// Keep rows that expired less than this long ago (e.g. 6h, 30m).
        #[arg(long, value_name = "DURATION")]
        keep_last: Option<String>,
        /// Rows deleted per statement.
        #[arg(long)]
        batch_size: Option<usize>,
        /// The pause between two kinds of rows (e.g. 1s).
        #[arg(long, value_name = "DURATION")]
        sleep_tables: Option<String>,
        /// The database.
        #[command(flatten)]
        dsn: DsnArgs,
    },
}

/// `namespace …`
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// Parse and type-check Ory Permission Language files; exits 1 when one has errors.
    Validate {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `hashers …`
#[derive(Debug, Subcommand)]
pub enum HashersCommand {
    /// Argon2id.
    Argon2 {
        /// The argon2 command.
        #[command(subcommand)]
        command: Argon2Command,
    },
}

/// `hashers argon2 …`
#[derive(Debug, Subcommand)]
pub enum Argon2Command {
    /// Find the memory and iterations whose hash takes about DURATION on this machine, and
    /// print the configuration.
    Calibrate {
        /// The target duration of one hash (e.g. 500ms, 1s; at most 10s).
        #[arg(value_name = "DURATION")]
        duration: String,
        /// The most memory to use (e.g. 128MB; at most 1GB).
        #[arg(long, default_value = "1GB")]
        max_memory: String,
        /// Lanes.
        #[arg(long, default_value_t = 1)]
        parallelism: u32,
        /// Measurements of each setting (the median counts).
        #[arg(long, default_value_t = 2)]
        runs: u32,
    },
}
