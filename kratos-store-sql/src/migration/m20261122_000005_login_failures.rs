//! Failed-login counters for brute-force protection.

use sea_orm_migration::prelude::*;

use super::{run_for_backend, run_script};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000005_login_failures"
    }
}

const POSTGRES_UP: &str = r#"
CREATE TABLE login_failures (
    nid uuid NOT NULL,
    key text NOT NULL,
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (nid, key)
)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE login_failures (
    nid BLOB NOT NULL,
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until TEXT,
    PRIMARY KEY (nid, key)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, "DROP TABLE IF EXISTS login_failures").await
    }
}
