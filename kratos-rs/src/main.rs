//! `kratos-rs`: Ory Kratos and Ory Keto served from their own configuration files, with
//! Kratos's and Keto's commands (`serve`, `migrate sql`, `identities`, `cleanup sql`,
//! `namespace validate`, `hashers argon2 calibrate`, `version`). `--help` lists them.

mod app;
mod calibrate;
mod cli;
mod config;
mod dsn;
mod identities;
mod keto;
mod migrate;
mod namespace;
mod serve;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kratos_core::cleanup::CleanupOptions;
use kratos_core::config::KratosDuration;

use cli::{
    Argon2Command, CleanupKind, Cli, Command, DsnArgs, HashersCommand, IdentitiesCommand,
    MigrateKind, NamespaceCommand, SqlAction,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sources(cli: &Cli) -> app::Sources {
    app::Sources {
        kratos: cli.config.clone(),
        keto: Vec::new(),
        allow_unimplemented: cli.allow_unimplemented,
        dev: false,
        dsn: None,
    }
}

/// The DSN of a command that takes one: the argument, or with -e the DSN variable or the -c
/// files' `dsn`.
fn dsn_for(cli: &Cli, args: &DsnArgs) -> Result<String, String> {
    if let Some(dsn) = &args.dsn {
        return Ok(dsn.clone());
    }
    if !args.read_from_env {
        return Err(
            "give the DSN as an argument, or use -e to read it from the DSN environment variable or the configuration"
                .into(),
        );
    }
    if let Ok(dsn) = std::env::var("DSN")
        && !dsn.trim().is_empty()
    {
        return Ok(dsn);
    }
    if cli.config.is_empty() {
        return Err(
            "-e: the DSN environment variable is not set and no -c file gives `dsn`".into(),
        );
    }
    let files = config::load_kratos(&cli.config, cli.allow_unimplemented, false)
        .map_err(|e| e.to_string())?;
    app::dsn_of(&files)
}

fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    KratosDuration::parse(value)
        .map(|d| d.0)
        .map_err(|e| format!("{flag}: {e}"))
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Command::Serve(args) => {
            let mut s = sources(&cli);
            s.keto = args.keto_config.clone();
            s.dev = args.dev;
            match serve::serve(&s, args.migrate).await {
                Ok(()) => {}
                Err(serve::ServeError::Early(e)) => return Err(e),
                Err(serve::ServeError::Logged) => return Ok(ExitCode::FAILURE),
            }
        }
        Command::Migrate {
            kind: MigrateKind::Sql { action, dsn },
        } => match action {
            None => migrate::up(&dsn_for(&cli, dsn)?, dsn.yes).await?,
            Some(SqlAction::Up(args)) => migrate::up(&dsn_for(&cli, args)?, args.yes).await?,
            Some(SqlAction::Down { steps, dsn: args }) => {
                migrate::down(&dsn_for(&cli, args)?, *steps, args.yes).await?;
            }
            Some(SqlAction::Status(args)) => {
                let store = dsn::open(&dsn_for(&cli, args)?).await?;
                migrate::print_status(&migrate::status(&store).await?);
            }
        },
        Command::Identities { command } => return identities_command(&cli, command).await,
        Command::Cleanup {
            kind:
                CleanupKind::Sql {
                    keep_last,
                    batch_size,
                    sleep_tables,
                    dsn,
                },
        } => {
            let mut s = sources(&cli);
            // The DSN argument wins over the files and the environment.
            s.dsn = dsn.dsn.clone();
            let app = app::kratos(&s, false).await?;
            let mut options = CleanupOptions::from_config(app.kratos.config());
            if let Some(keep) = keep_last {
                options.older_than = duration("--keep-last", keep)?;
            }
            if let Some(size) = batch_size {
                options.batch_size = *size;
            }
            if let Some(sleep) = sleep_tables {
                options.sleep_between_tables = duration("--sleep-tables", sleep)?;
            }
            let report = app
                .kratos
                .cleanup()
                .run(&options)
                .await
                .map_err(|e| format!("cleanup failed: {e}"))?;
            println!(
                "{}",
                serde_json::json!({
                    "flows": report.flows,
                    "sessions": report.sessions,
                    "codes": report.codes,
                    "code_submissions": report.code_submissions,
                    "send_counters": report.send_counters,
                    "login_failures": report.login_failures,
                    "courier_messages": report.courier_messages,
                    "used_secrets": report.used_secrets,
                    "session_token_exchanges": report.session_token_exchanges,
                    "total": report.total(),
                })
            );
        }
        Command::Namespace {
            command: NamespaceCommand::Validate { files },
        } => {
            let report = namespace::validate(files);
            print!("{}", report.text);
            if report.errors > 0 {
                eprintln!("{} error(s), {} warning(s)", report.errors, report.warnings);
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Hashers {
            hasher:
                HashersCommand::Argon2 {
                    command:
                        Argon2Command::Calibrate {
                            duration: target,
                            max_memory,
                            parallelism,
                            runs,
                        },
                },
        } => {
            let target = duration("DURATION", target)?;
            let max_memory = kratos_core::config::ByteSize::parse(max_memory)
                .map_err(|e| format!("--max-memory: {e}"))?;
            let max_memory_kib = u32::try_from(max_memory.0 / 1024).unwrap_or(u32::MAX);
            let calibration = calibrate::Calibration {
                target,
                max_memory_kib,
                parallelism: *parallelism,
                runs: *runs,
            };
            let found = tokio::task::spawn_blocking(move || calibrate::calibrate(&calibration))
                .await
                .map_err(|e| e.to_string())??;
            println!(
                "# argon2id on this machine: {:?} a hash (median of {runs} run(s)), target {target:?}{}",
                found.took,
                if found.cut_short {
                    " (the search stopped at its time bound)"
                } else {
                    ""
                }
            );
            print!("{}", found.snippet());
        }
        Command::Version => {
            println!("Version:    {}", env!("CARGO_PKG_VERSION"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn identities_command(cli: &Cli, command: &IdentitiesCommand) -> Result<ExitCode, String> {
    let app = app::kratos(&sources(cli), false).await?;
    let admin = identities::Admin::new(app.kratos.clone());
    match command {
        IdentitiesCommand::Import { files, format } => {
            let (records, mut errors) = identities::read_import_files(files);
            let (created, refused) = identities::import(&admin, &records).await;
            errors.extend(refused);
            println!("{}", format.show(&serde_json::Value::Array(created)));
            if !errors.is_empty() {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        IdentitiesCommand::List {
            page_size,
            page_token,
            format,
        } => {
            let page = identities::list(&admin, *page_size, page_token.as_deref()).await?;
            println!("{}", format.show(&page));
        }
        IdentitiesCommand::Get { ids, format } => {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                found.push(identities::get(&admin, id).await?);
            }
            let shown = if found.len() == 1 {
                found.swap_remove(0)
            } else {
                serde_json::Value::Array(found)
            };
            println!("{}", format.show(&shown));
        }
        IdentitiesCommand::Delete { ids } => {
            for id in ids {
                identities::delete(&admin, id).await?;
                println!("{id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
