//! Schema migrations. They create every table from nothing and roll back to nothing.
//!
//! DDL is written per backend (PostgreSQL types: `uuid`, `jsonb`, `timestamptz`; SQLite: the
//! storage classes sqlx uses for the same Rust types; MySQL/MariaDB: `BINARY(16)` ids, `JSON`,
//! `DATETIME(6)` in UTC, `utf8mb4_bin` text) so each database gets native types. On MySQL a
//! unique rule over unbounded text (an identifier, an address, a lockout key, a tuple) is a
//! unique index over a stored SHA-256 digest column generated from that text.

mod m20261122_000001_identities;
mod m20261122_000002_keto_tuples;
mod m20261122_000003_sessions;
mod m20261122_000004_selfservice_flows;
mod m20261122_000005_login_failures;
mod m20261122_000006_courier_messages;
mod m20261122_000007_one_time_codes;
mod m20261130_000008_identity_available_aal;
mod m20261130_000009_identity_address_lists;
mod m20261205_000010_login_attempts;
mod m20261205_000011_cleanup_and_send_limits;
mod m20261205_000012_used_second_factor_secrets;
mod m20261205_000013_change_notifications;
mod m20261205_000014_selfservice_errors;
mod m20261205_000015_session_token_exchanges;
mod m20261206_000016_whoami_documents;

use sea_orm_migration::prelude::*;

/// The migrator of this crate; run with [`crate::SqlStore::migrate`].
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_identities::MIGRATION),
            Box::new(m20261122_000002_keto_tuples::MIGRATION),
            Box::new(m20261122_000003_sessions::MIGRATION),
            Box::new(m20261122_000004_selfservice_flows::MIGRATION),
            Box::new(m20261122_000005_login_failures::MIGRATION),
            Box::new(m20261122_000006_courier_messages::MIGRATION),
            Box::new(m20261122_000007_one_time_codes::MIGRATION),
            Box::new(m20261130_000008_identity_available_aal::MIGRATION),
            Box::new(m20261130_000009_identity_address_lists::MIGRATION),
            Box::new(m20261205_000010_login_attempts::MIGRATION),
            Box::new(m20261205_000011_cleanup_and_send_limits::MIGRATION),
            Box::new(m20261205_000012_used_second_factor_secrets::MIGRATION),
            Box::new(m20261205_000013_change_notifications::MIGRATION),
            Box::new(m20261205_000014_selfservice_errors::MIGRATION),
            Box::new(m20261205_000015_session_token_exchanges::MIGRATION),
            Box::new(m20261206_000016_whoami_documents::MIGRATION),
        ]
    }
}

/// A migration written as one `;`-separated SQL script per backend and direction.
pub(crate) struct Scripts {
    /// The migration's name (its module's), as recorded in `seaql_migrations`.
    pub(crate) name: &'static str,
    /// Applies it on PostgreSQL.
    pub(crate) postgres_up: &'static str,
    /// Applies it on SQLite.
    pub(crate) sqlite_up: &'static str,
    /// Rolls it back on PostgreSQL.
    pub(crate) postgres_down: &'static str,
    /// Rolls it back on SQLite.
    pub(crate) sqlite_down: &'static str,
    /// Applies it on MySQL and MariaDB.
    pub(crate) mysql_up: &'static str,
    /// Rolls it back on MySQL and MariaDB.
    pub(crate) mysql_down: &'static str,
}

impl MigrationName for Scripts {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Scripts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, [self.postgres_up, self.sqlite_up, self.mysql_up]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(
            manager,
            [self.postgres_down, self.sqlite_down, self.mysql_down],
        )
        .await
    }
}

/// Runs the PostgreSQL, the SQLite or the MySQL script (in that order in `scripts`), as the
/// connection's backend requires.
async fn run_for_backend(manager: &SchemaManager<'_>, scripts: [&str; 3]) -> Result<(), DbErr> {
    let [postgres, sqlite, mysql] = scripts;
    match manager.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => run_script(manager, postgres).await,
        sea_orm::DatabaseBackend::Sqlite => run_script(manager, sqlite).await,
        sea_orm::DatabaseBackend::MySql => run_script(manager, mysql).await,
        other => Err(DbErr::Migration(format!(
            "unsupported database backend {other:?}"
        ))),
    }
}

/// Runs each statement of a `;`-separated script.
async fn run_script(manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for stmt in statements(script) {
        db.execute_unprepared(stmt).await?;
    }
    Ok(())
}

/// The statements of a `;`-separated script, trimmed, empty ones left out. A `;` between
/// two `$$` (a PostgreSQL function body) does not end a statement.
fn statements(script: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let bytes = script.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"$$") {
            quoted = !quoted;
            i += 2;
            continue;
        }
        if bytes[i] == b';' && !quoted {
            out.push(&script[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&script[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_function_body_is_one_statement() {
        assert_eq!(
            super::statements("CREATE FUNCTION f() AS $$ BEGIN a; b; END $$;\n DROP x ; ;"),
            ["CREATE FUNCTION f() AS $$ BEGIN a; b; END $$", "DROP x"]
        );
        assert!(super::statements("").is_empty());
    }
}
