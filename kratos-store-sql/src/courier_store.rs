//! `CourierStore` over SQL. Claims are one `UPDATE … WHERE id IN (SELECT … LIMIT n)
//! RETURNING`: on PostgreSQL the inner select takes row locks with `FOR UPDATE SKIP LOCKED`, so
//! concurrent workers claim disjoint messages without waiting on each other; SQLite runs one
//! writer at a time, so the statement is atomic there as it is.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::courier::{Message, MessageQuery, MessageStatus, MessageType, TemplateType};
use kratos_core::store::{CourierStore, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, TransactionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::map_db_err;
use crate::sql::{Sql, statement};

pub(crate) const MESSAGE_COLUMNS: &str = "id, nid, type, status, recipient, subject, body, \
     html_body, template_type, template_data, send_count, send_after, created_at, updated_at";

pub(crate) fn insert_message_statement(
    backend: DatabaseBackend,
    nid: Uuid,
    m: &Message,
) -> Statement {
    statement(
        backend,
        format!(
            "INSERT INTO courier_messages ({MESSAGE_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        [
            Value::from(m.id),
            Value::from(nid),
            Value::from(m.message_type.as_str()),
            Value::from(m.status.as_str()),
            Value::from(m.recipient.clone()),
            Value::from(m.subject.clone()),
            Value::from(m.body.clone()),
            Value::from(m.html_body.clone()),
            Value::from(m.template_type.as_str()),
            Value::from(m.template_data.clone()),
            Value::from(m.send_count as i32),
            Value::from(m.send_after),
            Value::from(m.created_at),
            Value::from(m.updated_at),
        ],
    )
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("courier_messages holds an unknown {what}").into())
}

fn message_from_row(row: &QueryResult) -> Result<(Uuid, Message), StoreError> {
    let get_s = |c: &str| row.try_get::<String>("", c).map_err(map_db_err);
    let nid: Uuid = row.try_get("", "nid").map_err(map_db_err)?;
    let send_count: i32 = row.try_get("", "send_count").map_err(map_db_err)?;
    Ok((
        nid,
        Message {
            id: row.try_get("", "id").map_err(map_db_err)?,
            status: MessageStatus::parse(&get_s("status")?).ok_or_else(|| corrupt("status"))?,
            message_type: MessageType::parse(&get_s("type")?).ok_or_else(|| corrupt("type"))?,
            recipient: get_s("recipient")?,
            subject: get_s("subject")?,
            body: get_s("body")?,
            html_body: row.try_get("", "html_body").map_err(map_db_err)?,
            template_type: TemplateType::parse(&get_s("template_type")?)
                .ok_or_else(|| corrupt("template type"))?,
            template_data: row.try_get("", "template_data").map_err(map_db_err)?,
            send_count: send_count.max(0) as u32,
            send_after: row.try_get("", "send_after").map_err(map_db_err)?,
            created_at: row.try_get("", "created_at").map_err(map_db_err)?,
            updated_at: row.try_get("", "updated_at").map_err(map_db_err)?,
        },
    ))
}

#[async_trait]
impl CourierStore for SqlStore {
    async fn enqueue_message(&self, nid: Uuid, message: &Message) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(insert_message_statement(backend, nid, message))
            .await
            .map_err(map_db_err)?;
        Ok(())
    }

    async fn claim_messages(
        &self,
        nid: Option<Uuid>,
        types: &[MessageType],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, Message)>, StoreError> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.db.get_database_backend();
        let mut values = vec![
            Value::from(now),
            Value::from(now),
            Value::from(stale_before),
            Value::from(limit.min(i64::MAX as usize) as i64),
        ];
        let mut filter = String::new();
        if let Some(nid) = nid {
            values.push(Value::from(nid));
            filter.push_str(&format!("nid = ${} AND ", values.len()));
        }
        // Only the types the worker has a channel for: the others stay queued.
        let mut placeholders = Vec::with_capacity(types.len());
        for t in types {
            values.push(Value::from(t.as_str()));
            placeholders.push(format!("${}", values.len()));
        }
        filter.push_str(&format!("type IN ({}) AND ", placeholders.join(", ")));
        let claimable = format!(
            "{filter}((status = 'queued' AND send_after <= $2) \
             OR (status = 'processing' AND updated_at < $3)) ORDER BY created_at, id LIMIT $4"
        );
        let rows = match backend {
            // No `UPDATE … RETURNING` (nor a `LIMIT` in an `IN` subquery): the claimable
            // messages are read and locked, skipping those another worker holds, then marked.
            DatabaseBackend::MySql => {
                let txn = self.db.begin().await.map_err(map_db_err)?;
                let rows = txn
                    .query_all_raw(statement(
                        backend,
                        format!(
                            "SELECT {MESSAGE_COLUMNS} FROM courier_messages \
                             WHERE {claimable} FOR UPDATE SKIP LOCKED"
                        ),
                        values,
                    ))
                    .await
                    .map_err(map_db_err)?;
                let mut claimed = rows
                    .iter()
                    .map(message_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                if !claimed.is_empty() {
                    let mut sql = Sql::new(Uuid::nil());
                    sql.push("UPDATE courier_messages SET status = 'processing', updated_at = ")
                        .param(now)
                        .push(" WHERE id IN (");
                    for (n, (_, m)) in claimed.iter().enumerate() {
                        if n > 0 {
                            sql.push(", ");
                        }
                        sql.param(m.id);
                    }
                    sql.push(")");
                    txn.execute_raw(sql.statement(backend))
                        .await
                        .map_err(map_db_err)?;
                }
                txn.commit().await.map_err(map_db_err)?;
                for (_, m) in &mut claimed {
                    m.status = MessageStatus::Processing;
                    m.updated_at = now;
                }
                claimed
            }
            _ => {
                let lock = match backend {
                    DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
                    _ => "",
                };
                let sql = format!(
                    "UPDATE courier_messages SET status = 'processing', updated_at = $1 \
                     WHERE id IN (SELECT id FROM courier_messages WHERE {claimable}{lock}) \
                     RETURNING {MESSAGE_COLUMNS}"
                );
                let rows = self
                    .db
                    .query_all_raw(statement(backend, sql, values))
                    .await
                    .map_err(map_db_err)?;
                rows.iter()
                    .map(message_from_row)
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut out = rows;
        out.sort_by_key(|(_, m)| (m.created_at, m.id));
        Ok(out)
    }

    async fn mark_message_sent(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let res = self
            .db
            .execute_raw(statement(
                self.db.get_database_backend(),
                // The template data holds the plain code: it goes as soon as the message is out.
                "UPDATE courier_messages SET status = 'sent', send_count = send_count + 1, \
                 template_data = '{}', updated_at = $1 WHERE nid = $2 AND id = $3",
                [Value::from(now), Value::from(nid), Value::from(id)],
            ))
            .await
            .map_err(map_db_err)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn mark_message_failed(
        &self,
        nid: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let (status, send_after) = match retry_at {
            Some(at) => ("queued", at),
            None => ("abandoned", now),
        };
        let res = self
            .db
            .execute_raw(statement(
                self.db.get_database_backend(),
                "UPDATE courier_messages SET status = $1, send_count = send_count + 1, \
                 send_after = $2, updated_at = $3 WHERE nid = $4 AND id = $5",
                [
                    Value::from(status),
                    Value::from(send_after),
                    Value::from(now),
                    Value::from(nid),
                    Value::from(id),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_message(&self, nid: Uuid, id: Uuid) -> Result<Message, StoreError> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db.get_database_backend(),
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM courier_messages WHERE nid = $1 AND id = $2"
                ),
                [Value::from(nid), Value::from(id)],
            ))
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(message_from_row(&row)?.1)
    }

    async fn list_messages(
        &self,
        nid: Uuid,
        query: &MessageQuery,
    ) -> Result<Vec<Message>, StoreError> {
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM courier_messages WHERE nid = $1");
        let mut values = vec![Value::from(nid)];
        if let Some(s) = query.status {
            values.push(Value::from(s.as_str()));
            sql.push_str(&format!(" AND status = ${}", values.len()));
        }
        if let Some(r) = &query.recipient {
            values.push(Value::from(r.clone()));
            sql.push_str(&format!(" AND recipient = ${}", values.len()));
        }
        if let Some(after) = query.after {
            values.push(Value::from(after));
            let n = values.len();
            sql.push_str(&format!(
                " AND (created_at, id) < (SELECT c.created_at, c.id FROM courier_messages c WHERE c.nid = $1 AND c.id = ${n})"
            ));
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC");
        if query.limit > 0 {
            values.push(Value::from(query.limit.min(i64::MAX as usize) as i64));
            sql.push_str(&format!(" LIMIT ${}", values.len()));
        }
        let rows = self
            .db
            .query_all_raw(statement(self.db.get_database_backend(), sql, values))
            .await
            .map_err(map_db_err)?;
        rows.iter()
            .map(|r| message_from_row(r).map(|(_, m)| m))
            .collect()
    }
}
