//! `CodeStore` and `AddressStore` over SQL. A code is consumed by one `UPDATE … WHERE used_at
//! IS NULL … RETURNING`: concurrent submissions of one code serialise on the row and only the
//! first sees it unused.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::code::{CodeKind, OneTimeCode};
use kratos_core::courier::Message;
use kratos_core::identity::{AddressVia, Identity};
use kratos_core::store::{AddressKind, AddressStore, CodeStore, IdentityStore, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, TransactionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::courier_store::insert_message_statement;
use crate::error::map_db_err;
use crate::identity_query::{
    mysql_verifiable_list, postgres_verifiable_list, sqlite_verifiable_list,
};
use crate::sql::statement;

const CODE_COLUMNS: &str = "id, kind, flow_id, identity_id, address_id, address, admin, digest, issued_at, expires_at, used_at";

fn code_from_row(row: &QueryResult) -> Result<OneTimeCode, StoreError> {
    let kind: String = row.try_get("", "kind").map_err(map_db_err)?;
    Ok(OneTimeCode {
        id: row.try_get("", "id").map_err(map_db_err)?,
        kind: CodeKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend("one_time_codes holds an unknown kind".into()))?,
        flow_id: row.try_get("", "flow_id").map_err(map_db_err)?,
        identity_id: row.try_get("", "identity_id").map_err(map_db_err)?,
        address_id: row.try_get("", "address_id").map_err(map_db_err)?,
        address: row.try_get("", "address").map_err(map_db_err)?,
        admin: row.try_get("", "admin").map_err(map_db_err)?,
        digest: row.try_get("", "digest").map_err(map_db_err)?,
        issued_at: row.try_get("", "issued_at").map_err(map_db_err)?,
        expires_at: row.try_get("", "expires_at").map_err(map_db_err)?,
        used_at: row.try_get("", "used_at").map_err(map_db_err)?,
    })
}

impl SqlStore {
    /// One transaction of [`CodeStore::issue_code`].
    async fn issue_code_once(
        &self,
        nid: Uuid,
        code: &OneTimeCode,
        message: Option<&Message>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(map_db_err)?;
        txn.execute_raw(statement(
            backend,
            "UPDATE one_time_codes SET used_at = $1 \
             WHERE nid = $2 AND flow_id = $3 AND kind = $4 AND used_at IS NULL",
            [
                Value::from(code.issued_at),
                Value::from(nid),
                Value::from(code.flow_id),
                Value::from(code.kind.as_str()),
            ],
        ))
        .await
        .map_err(map_db_err)?;
        txn.execute_raw(statement(
            backend,
            format!(
                "INSERT INTO one_time_codes (nid, {CODE_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            [
                Value::from(nid),
                Value::from(code.id),
                Value::from(code.kind.as_str()),
                Value::from(code.flow_id),
                Value::from(code.identity_id),
                Value::from(code.address_id),
                Value::from(code.address.clone()),
                Value::from(code.admin),
                Value::from(code.digest.clone()),
                Value::from(code.issued_at),
                Value::from(code.expires_at),
                Value::from(code.used_at),
            ],
        ))
        .await
        .map_err(map_db_err)?;
        if let Some(m) = message {
            txn.execute_raw(insert_message_statement(backend, nid, m))
                .await
                .map_err(map_db_err)?;
        }
        txn.commit().await.map_err(map_db_err)
    }
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn issue_code(
        &self,
        nid: Uuid,
        code: &OneTimeCode,
        message: Option<&Message>,
    ) -> Result<(), StoreError> {
        // On MySQL, the update of a flow's earlier codes takes gap locks that concurrent
        // inserts (of any flow) may deadlock on; InnoDB then rolls the whole transaction back,
        // which runs again.
        let mut tries = 0;
        loop {
            match self.issue_code_once(nid, code, message).await {
                Err(StoreError::Backend(e))
                    if tries < 3
                        && self.db.get_database_backend() == sea_orm::DatabaseBackend::MySql
                        && crate::error::is_mysql_retryable_text(&e.to_string()) =>
                {
                    tries += 1
                }
                other => return other,
            }
        }
    }

    async fn use_code(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        kind: CodeKind,
        digests: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<OneTimeCode>, StoreError> {
        if digests.is_empty() {
            return Ok(None);
        }
        let mut values = vec![
            Value::from(now),
            Value::from(nid),
            Value::from(flow_id),
            Value::from(kind.as_str()),
            Value::from(now),
        ];
        let placeholders: Vec<String> = digests
            .iter()
            .map(|d| {
                values.push(Value::from(d.clone()));
                format!("${}", values.len())
            })
            .collect();
        let backend = self.db.get_database_backend();
        let matching = format!(
            "nid = $2 AND flow_id = $3 AND kind = $4 AND used_at IS NULL \
             AND expires_at > $5 AND digest IN ({})",
            placeholders.join(", ")
        );
        if backend == DatabaseBackend::MySql {
            // No `UPDATE … RETURNING`: the matching codes are read and locked, then marked.
            let txn = self.db.begin().await.map_err(map_db_err)?;
            let rows = txn
                .query_all_raw(statement(
                    backend,
                    format!(
                        "SELECT {CODE_COLUMNS} FROM one_time_codes WHERE {matching} FOR UPDATE"
                    ),
                    values.clone(),
                ))
                .await
                .map_err(map_db_err)?;
            if rows.is_empty() {
                return Ok(None);
            }
            txn.execute_raw(statement(
                backend,
                format!("UPDATE one_time_codes SET used_at = $1 WHERE {matching}"),
                values,
            ))
            .await
            .map_err(map_db_err)?;
            txn.commit().await.map_err(map_db_err)?;
            let mut code = code_from_row(&rows[0])?;
            code.used_at = Some(now);
            return Ok(Some(code));
        }
        let sql = format!(
            "UPDATE one_time_codes SET used_at = $1 WHERE {matching} RETURNING {CODE_COLUMNS}"
        );
        let rows = self
            .db
            .query_all_raw(statement(backend, sql, values))
            .await
            .map_err(map_db_err)?;
        rows.first().map(code_from_row).transpose()
    }

    async fn count_code_submission(&self, nid: Uuid, flow_id: Uuid) -> Result<u32, StoreError> {
        let backend = self.db.get_database_backend();
        let values = [Value::from(nid), Value::from(flow_id)];
        let row = if backend == DatabaseBackend::MySql {
            // No `RETURNING`: the upsert locks the row, the read in its transaction sees it.
            let txn = self.db.begin().await.map_err(map_db_err)?;
            txn.execute_raw(statement(
                backend,
                "INSERT INTO code_submissions (nid, flow_id, count) VALUES ($1, $2, 1) \
                 ON DUPLICATE KEY UPDATE count = count + 1",
                values.clone(),
            ))
            .await
            .map_err(map_db_err)?;
            let row = txn
                .query_one_raw(statement(
                    backend,
                    "SELECT count FROM code_submissions WHERE nid = $1 AND flow_id = $2",
                    values,
                ))
                .await
                .map_err(map_db_err)?;
            txn.commit().await.map_err(map_db_err)?;
            row
        } else {
            self.db
                .query_one_raw(statement(
                    backend,
                    "INSERT INTO code_submissions (nid, flow_id, count) VALUES ($1, $2, 1) \
                     ON CONFLICT (nid, flow_id) DO UPDATE SET count = code_submissions.count + 1 \
                     RETURNING count",
                    values,
                ))
                .await
                .map_err(map_db_err)?
        }
        .ok_or_else(|| StoreError::Backend("the submission counter returned no row".into()))?;
        let count: i32 = row.try_get("", "count").map_err(map_db_err)?;
        Ok(count.max(0) as u32)
    }
}

#[async_trait]
impl AddressStore for SqlStore {
    async fn find_identity_by_address(
        &self,
        nid: Uuid,
        kind: AddressKind,
        via: AddressVia,
        value: &str,
    ) -> Result<Identity, StoreError> {
        let table = match kind {
            AddressKind::Verifiable => "identity_verifiable_addresses",
            AddressKind::Recovery => "identity_recovery_addresses",
        };
        let row = self
            .db
            .query_one_raw(statement(
                self.db.get_database_backend(),
                format!(
                    "SELECT identity_id FROM {table} WHERE nid = $1 AND via = $2 AND value = $3"
                ),
                [
                    Value::from(nid),
                    Value::from(via.as_str()),
                    Value::from(value.to_owned()),
                ],
            ))
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        let id: Uuid = row.try_get("", "identity_id").map_err(map_db_err)?;
        self.get_identity(nid, id).await
    }

    async fn mark_address_verified(
        &self,
        nid: Uuid,
        address_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(map_db_err)?;
        let res = txn
            .execute_raw(statement(
                backend,
                "UPDATE identity_verifiable_addresses SET verified = $1, status = 'completed', \
                 verified_at = $2, updated_at = $2 WHERE nid = $3 AND id = $4",
                [
                    Value::from(true),
                    Value::from(at),
                    Value::from(nid),
                    Value::from(address_id),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // The identity row's copy of the list, rebuilt from the table.
        let copy = match backend {
            DatabaseBackend::Sqlite => concat!(
                "UPDATE identities SET verifiable_addresses = ",
                sqlite_verifiable_list!("$1", "identities.id"),
                " WHERE nid = $1 AND id = (SELECT identity_id FROM \
                 identity_verifiable_addresses WHERE nid = $1 AND id = $2)"
            ),
            DatabaseBackend::MySql => concat!(
                "UPDATE identities SET verifiable_addresses = ",
                mysql_verifiable_list!("$1", "identities.id"),
                " WHERE nid = $1 AND id = (SELECT identity_id FROM \
                 identity_verifiable_addresses WHERE nid = $1 AND id = $2)"
            ),
            _ => concat!(
                "UPDATE identities SET verifiable_addresses = ",
                postgres_verifiable_list!("identities.nid", "identities.id"),
                " WHERE nid = $1 AND id = (SELECT identity_id FROM \
                 identity_verifiable_addresses WHERE nid = $1 AND id = $2)"
            ),
        };
        txn.execute_raw(statement(
            backend,
            copy,
            [Value::from(nid), Value::from(address_id)],
        ))
        .await
        .map_err(map_db_err)?;
        txn.commit().await.map_err(map_db_err)?;
        Ok(())
    }
}
