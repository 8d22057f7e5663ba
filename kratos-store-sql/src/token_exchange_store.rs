//! `TokenExchangeStore` over SQL (`session_token_exchanges`). The same statements run on
//! SQLite, PostgreSQL and MySQL/MariaDB. An exchange reads the row by both code digests (the
//! init code's is a unique key), then deletes it by flow and session: of concurrent exchanges
//! only the one whose delete removes the row hands the session out, so it is handed out once
//! without a transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kratos_core::store::{
    ExchangeCodeDigest, NewTokenExchange, StoreError, TokenExchangeLookup, TokenExchangeStore,
};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::SqlStore;
use crate::error::{found, map_db_err};
use crate::identity_query::{at, corrupt};
use crate::sql::statement;

const INSERT: &str = "INSERT INTO session_token_exchanges (id, nid, flow_id, session_id, \
     init_code_sha512, return_to_code_sha512, sealed_session_token, created_at, expires_at) \
     VALUES ($2, $1, $3, NULL, $4, $5, NULL, $6, $7)";

/// Attaches `$3` (session) with `$4` (sealed token) to the live exchanger of flow `$2`.
const ATTACH: &str = "UPDATE session_token_exchanges SET session_id = $3, sealed_session_token = $4 \
     WHERE nid = $1 AND flow_id = $2 AND expires_at > $5 \
     AND (session_id IS NULL OR session_id = $3)";

const MOVE: &str = "UPDATE session_token_exchanges SET flow_id = $3, expires_at = $4 \
     WHERE nid = $1 AND flow_id = $2";

const LOOKUP: &str = "SELECT flow_id, session_id, sealed_session_token FROM session_token_exchanges \
     WHERE nid = $1 AND init_code_sha512 = $2 AND return_to_code_sha512 = $3 AND expires_at > $4";

const CONSUME: &str = "DELETE FROM session_token_exchanges \
     WHERE nid = $1 AND flow_id = $2 AND session_id = $3";

const EXISTS: &str =
    "SELECT 1 AS found FROM session_token_exchanges WHERE nid = $1 AND flow_id = $2";

#[async_trait]
impl TokenExchangeStore for SqlStore {
    async fn create_token_exchange(
        &self,
        nid: Uuid,
        exchange: &NewTokenExchange<'_>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(statement(
                backend,
                INSERT,
                [
                    Value::from(nid),
                    Value::from(exchange.id),
                    Value::from(exchange.flow_id),
                    Value::from(exchange.init_code_digest.to_vec()),
                    Value::from(exchange.return_to_code_digest.to_vec()),
                    Value::from(exchange.created_at),
                    Value::from(exchange.expires_at),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        Ok(())
    }

    async fn attach_token_exchange_session(
        &self,
        nid: Uuid,
        flow_id: Uuid,
        session_id: Uuid,
        sealed_session_token: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let done = self
            .db
            .execute_raw(statement(
                backend,
                ATTACH,
                [
                    Value::from(nid),
                    Value::from(flow_id),
                    Value::from(session_id),
                    Value::from(sealed_session_token.to_vec()),
                    Value::from(now),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        // Every attach writes a new sealed token (a fresh nonce), so MySQL, which counts
        // changed rows, counts a match too.
        found(done.rows_affected())
    }

    async fn move_token_exchange(
        &self,
        nid: Uuid,
        from: Uuid,
        to: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let done = self
            .db
            .execute_raw(statement(
                backend,
                MOVE,
                [
                    Value::from(nid),
                    Value::from(from),
                    Value::from(to),
                    Value::from(expires_at),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        // MySQL counts changed rows: moving a flow's exchanger onto itself with its own
        // expiry changes nothing but found the row.
        if from == to {
            let row = self
                .db
                .query_one_raw(statement(
                    backend,
                    EXISTS,
                    [Value::from(nid), Value::from(from)],
                ))
                .await
                .map_err(map_db_err)?;
            if row.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::NotFound)
    }

    async fn exchange_session_token(
        &self,
        nid: Uuid,
        init_code_digest: &ExchangeCodeDigest,
        return_to_code_digest: &ExchangeCodeDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenExchangeLookup>, StoreError> {
        let backend = self.db.get_database_backend();
        let Some(row) = self
            .db
            .query_one_raw(statement(
                backend,
                LOOKUP,
                [
                    Value::from(nid),
                    Value::from(init_code_digest.to_vec()),
                    Value::from(return_to_code_digest.to_vec()),
                    Value::from(now),
                ],
            ))
            .await
            .map_err(map_db_err)?
        else {
            return Ok(None);
        };
        let flow_id: Uuid = at(&row, 0)?;
        let session_id: Option<Uuid> = at(&row, 1)?;
        let sealed: Option<Vec<u8>> = at(&row, 2)?;
        let Some(session_id) = session_id else {
            return Ok(Some(TokenExchangeLookup::Pending { flow_id }));
        };
        let sealed_session_token = sealed.ok_or_else(|| corrupt("sealed session token"))?;
        let consumed = self
            .db
            .execute_raw(statement(
                backend,
                CONSUME,
                [
                    Value::from(nid),
                    Value::from(flow_id),
                    Value::from(session_id),
                ],
            ))
            .await
            .map_err(map_db_err)?;
        if consumed.rows_affected() == 0 {
            // A concurrent exchange consumed it first.
            return Ok(None);
        }
        Ok(Some(TokenExchangeLookup::Exchanged {
            session_id,
            sealed_session_token,
        }))
    }
}
