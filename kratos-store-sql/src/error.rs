//! Mapping of database errors onto the portable store error kinds.

use kratos_core::store::StoreError;
use sea_orm::{DbErr, SqlErr};

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_conflict(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
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
