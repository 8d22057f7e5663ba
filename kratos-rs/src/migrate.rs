//! `migrate sql [up|down|status]`: the database migrations of the store a DSN names, as
//! Kratos's `kratos migrate sql`: without `--yes` the plan is shown and confirmed on the
//! terminal first.

use std::io::{BufRead, Write};

use kratos_store_sql::migration::Migrator;
use sea_orm_migration::{MigrationStatus, MigratorTrait};

use crate::dsn;

/// A migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Its name.
    pub name: String,
    /// Whether it is applied.
    pub applied: bool,
}

/// The migrations and their status. The bookkeeping table (`seaql_migrations`) is created
/// when missing (sea-orm cannot look for it read-only on every backend); no migration runs.
///
/// Errors when the database cannot be reached or read.
pub async fn status(store: &kratos_store_sql::SqlStore) -> Result<Vec<Row>, String> {
    let rows = Migrator::get_migration_with_status(store.connection())
        .await
        .map_err(|e| format!("cannot read the migrations: {e}"))?;
    Ok(rows
        .iter()
        .map(|m| Row {
            name: m.name().to_owned(),
            applied: m.status() == MigrationStatus::Applied,
        })
        .collect())
}

/// Prints the status table, as Kratos's `migrate sql status` does (version, status).
pub fn print_status(rows: &[Row]) {
    println!("{:<45} STATUS", "VERSION");
    for r in rows {
        println!(
            "{:<45} {}",
            r.name,
            if r.applied { "Applied" } else { "Pending" }
        );
    }
}

/// Asks on the terminal whether to go on; only `y` or `yes` does.
fn confirm(question: &str) -> bool {
    eprintln!("To skip the next question use flag --yes (at your own risk).");
    eprint!("{question} [y/n]: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Applies the pending migrations of `dsn`, after showing them (and asking, unless `yes`).
///
/// Errors when the database cannot be reached or a migration fails; declining is not an
/// error (nothing is applied).
pub async fn up(dsn_value: &str, yes: bool) -> Result<(), String> {
    let store = dsn::open(dsn_value).await?;
    let rows = status(&store).await?;
    let pending: Vec<&Row> = rows.iter().filter(|r| !r.applied).collect();
    if pending.is_empty() {
        println!("All migrations are already applied, there is nothing to do.");
        return Ok(());
    }
    println!("The following migrations will be applied:");
    for r in &pending {
        println!("  {}", r.name);
    }
    if !yes && !confirm("Do you wish to execute this migration plan?") {
        println!("Migration aborted.");
        return Ok(());
    }
    store.migrate().await.map_err(|e| {
        format!(
            "migrations failed: {}",
            dsn::without_password(&e.to_string(), dsn_value)
        )
    })?;
    println!("Successfully applied migrations!");
    Ok(())
}

/// Rolls back the last `steps` applied migrations of `dsn` (asking first, unless `yes`).
///
/// Errors when `steps` is zero, the database cannot be reached or a rollback fails.
pub async fn down(dsn_value: &str, steps: u32, yes: bool) -> Result<(), String> {
    if steps == 0 {
        return Err("Please provide the --steps argument with a value larger than 0.".into());
    }
    let store = dsn::open(dsn_value).await?;
    let rows = status(&store).await?;
    let applied: Vec<&Row> = rows.iter().filter(|r| r.applied).collect();
    let count = usize::try_from(steps)
        .unwrap_or(usize::MAX)
        .min(applied.len());
    if count == 0 {
        println!("No migrations are applied, there is nothing to roll back.");
        return Ok(());
    }
    println!("The following migrations will be rolled back:");
    for r in applied.iter().rev().take(count) {
        println!("  {}", r.name);
    }
    if !yes && !confirm("Do you really want to roll back these migrations?") {
        println!("Migration rollback aborted.");
        return Ok(());
    }
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    Migrator::down(store.connection(), Some(count))
        .await
        .map_err(|e| {
            format!(
                "rollback failed: {}",
                dsn::without_password(&e.to_string(), dsn_value)
            )
        })?;
    println!("Successfully rolled back migrations!");
    Ok(())
}
