//! Mapping of database errors onto the portable store error kinds.

use kratos_core::store::StoreError;
use sea_orm::{DbErr, SqlErr};

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_conflict(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether a MySQL / MariaDB statement failed on a deadlock (1213) or a lock wait timeout
/// (1205): InnoDB rolled the transaction (or the statement) back, and running the transaction
/// again may succeed. (Read from the error's text, `<number> (<SQLSTATE>): …`, as this crate
/// is built without sqlx's MySQL types.)
pub(crate) fn is_mysql_retryable(e: &DbErr) -> bool {
    is_mysql_retryable_text(&e.to_string())
}

/// [`is_mysql_retryable`] on an error's text.
pub(crate) fn is_mysql_retryable_text(text: &str) -> bool {
    text.contains(" 1213 (40001): ") || text.contains(" 1205 (HY000): ")
}

/// Maps a database error to a [`StoreError`]: unique violations become conflicts naming the
/// rule (never the value), everything else is a backend error with the source kept.
pub fn map_db_err(e: DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(msg)) => {
            let what = if msg.contains("identifier") {
                "credential identifier"
            } else if msg.contains("verifiable") {
                "verifiable address"
            } else if msg.contains("recovery") {
                "recovery address"
            } else if msg.contains("external_id") {
                "external id"
            } else {
                "unique constraint"
            };
            StoreError::Conflict(what.to_owned())
        }
        _ => match e {
            DbErr::RecordNotFound(_) => StoreError::NotFound,
            other => StoreError::backend(other),
        },
    }
}

/// [`StoreError::NotFound`] when a write by key touched no row.
pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
