//! Login attempts are counted before the password is verified: each counting upsert records
//! whether it admitted the attempt (`admitted`), which its `RETURNING` answers.

use super::Scripts;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000010_login_attempts",
    postgres_up: "ALTER TABLE login_failures ADD COLUMN admitted boolean NOT NULL DEFAULT TRUE",
    sqlite_up: "ALTER TABLE login_failures ADD COLUMN admitted BOOLEAN NOT NULL DEFAULT TRUE",
    postgres_down: "ALTER TABLE login_failures DROP COLUMN admitted",
    sqlite_down: "ALTER TABLE login_failures DROP COLUMN admitted",
    mysql_up: "ALTER TABLE login_failures ADD COLUMN admitted BOOLEAN NOT NULL DEFAULT TRUE",
    mysql_down: "ALTER TABLE login_failures DROP COLUMN admitted",
};
