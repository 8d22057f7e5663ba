//! `IdentityStore` over sea-orm, one code path for SQLite and PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use kratos_core::identity::{CredentialType, Credentials, Identity, IdentityState};
use kratos_core::session::available_aal;
use kratos_core::store::{IdentityQuery, IdentityStore, StoreError};
use sea_orm::sea_query::{Expr, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::entity::{credential, identifier, identity, recovery_address, verifiable_address};
use crate::error::{is_conflict, is_mysql_retryable_text, map_db_err};
use crate::identity_query::{
    IdentityKey, address_lists, corrupt, decode_identity, from_json, identity_sql,
    recovery_addresses, verifiable_addresses,
};
use crate::sql::statement;

/// Rows per multi-row INSERT, well under both backends' bind-parameter limits.
const INSERT_CHUNK: usize = 500;
/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// The rows of identities and everything they own, table by table.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) identities: Vec<identity::ActiveModel>,
    pub(crate) credentials: Vec<credential::ActiveModel>,
    pub(crate) identifiers: Vec<identifier::ActiveModel>,
    pub(crate) verifiable: Vec<verifiable_address::ActiveModel>,
    pub(crate) recovery: Vec<recovery_address::ActiveModel>,
}

impl Rows {
    /// The rows of one identity.
    pub(crate) fn of(nid: Uuid, identity: &Identity) -> Self {
        let mut rows = Self::default();
        rows.push(nid, identity);
        rows
    }

    fn push_children(&mut self, nid: Uuid, i: &Identity) {
        for (t, c) in &i.credentials {
            let cred_id = Uuid::now_v7();
            self.credentials.push(
                credential::Model {
                    id: cred_id,
                    nid,
                    identity_id: i.id,
                    credential_type: t.as_str().to_owned(),
                    config: c.config.clone(),
                    version: c.version,
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                }
                .into_active_model(),
            );
            for (pos, ident) in c.identifiers.iter().enumerate() {
                self.identifiers.push(
                    identifier::Model {
                        id: Uuid::now_v7(),
                        nid,
                        identity_id: i.id,
                        identity_credential_id: cred_id,
                        credential_type: t.as_str().to_owned(),
                        identifier: ident.clone(),
                        position: pos as i32,
                    }
                    .into_active_model(),
                );
            }
        }
        for (pos, a) in i.verifiable_addresses.iter().enumerate() {
            self.verifiable.push(
                verifiable_address::Model {
                    id: a.id,
                    nid,
                    identity_id: i.id,
                    via: a.via.as_str().to_owned(),
                    value: a.value.clone(),
                    verified: a.verified,
                    status: a.status.as_str().to_owned(),
                    verified_at: a.verified_at,
                    position: pos as i32,
                    created_at: a.created_at,
                    updated_at: a.updated_at,
                }
                .into_active_model(),
            );
        }
        for (pos, a) in i.recovery_addresses.iter().enumerate() {
            self.recovery.push(
                recovery_address::Model {
                    id: a.id,
                    nid,
                    identity_id: i.id,
                    via: a.via.as_str().to_owned(),
                    value: a.value.clone(),
                    position: pos as i32,
                    created_at: a.created_at,
                    updated_at: a.updated_at,
                }
                .into_active_model(),
            );
        }
    }

    fn push(&mut self, nid: Uuid, i: &Identity) {
        self.identities
            .push(identity_row(nid, i).into_active_model());
        self.push_children(nid, i);
    }

    async fn insert<C: ConnectionTrait>(self, db: &C) -> Result<(), sea_orm::DbErr> {
        insert_chunks::<identity::Entity, _, _>(db, self.identities).await?;
        insert_chunks::<credential::Entity, _, _>(db, self.credentials).await?;
        insert_chunks::<identifier::Entity, _, _>(db, self.identifiers).await?;
        insert_chunks::<verifiable_address::Entity, _, _>(db, self.verifiable).await?;
        insert_chunks::<recovery_address::Entity, _, _>(db, self.recovery).await?;
        Ok(())
    }
}

async fn insert_chunks<E, A, C>(db: &C, rows: Vec<A>) -> Result<(), sea_orm::DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

fn identity_row(nid: Uuid, i: &Identity) -> identity::Model {
    let (verifiable_addresses, recovery_addresses) = address_lists(i);
    identity::Model {
        id: i.id,
        nid,
        schema_id: i.schema_id.clone(),
        traits: i.traits.clone(),
        state: i.state.as_str().to_owned(),
        state_changed_at: i.state_changed_at,
        metadata_public: i.metadata_public.clone(),
        metadata_admin: i.metadata_admin.clone(),
        external_id: i.external_id.clone(),
        organization_id: i.organization_id,
        created_at: i.created_at,
        updated_at: i.updated_at,
        available_aal: available_aal(i).as_str().to_owned(),
        verifiable_addresses,
        recovery_addresses,
    }
}

/// Loads credentials and identifiers for identity rows (a few queries in all) and decodes the
/// address lists the rows keep.
async fn hydrate<C: ConnectionTrait>(
    db: &C,
    nid: Uuid,
    rows: Vec<identity::Model>,
) -> Result<Vec<Identity>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut creds = Vec::new();
    let mut idents = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        creds.extend(
            credential::Entity::find()
                .filter(credential::Column::Nid.eq(nid))
                .filter(credential::Column::IdentityId.is_in(chunk.iter().copied()))
                .all(db)
                .await
                .map_err(map_db_err)?,
        );
        idents.extend(
            identifier::Entity::find()
                .filter(identifier::Column::Nid.eq(nid))
                .filter(identifier::Column::IdentityId.is_in(chunk.iter().copied()))
                .order_by_asc(identifier::Column::Position)
                .all(db)
                .await
                .map_err(map_db_err)?,
        );
    }
    let mut identifiers_by_cred: HashMap<Uuid, Vec<String>> = HashMap::new();
    for i in idents {
        identifiers_by_cred
            .entry(i.identity_credential_id)
            .or_default()
            .push(i.identifier);
    }
    let mut out: Vec<Identity> = Vec::with_capacity(rows.len());
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(rows.len());
    for r in rows {
        index.insert(r.id, out.len());
        out.push(Identity {
            id: r.id,
            schema_id: r.schema_id,
            schema_url: String::new(),
            state: IdentityState::parse(&r.state).ok_or_else(|| corrupt("identity state"))?,
            state_changed_at: r.state_changed_at,
            traits: r.traits,
            verifiable_addresses: verifiable_addresses(from_json(
                r.verifiable_addresses,
                "addresses",
            )?)?,
            recovery_addresses: recovery_addresses(from_json(r.recovery_addresses, "addresses")?)?,
            metadata_public: r.metadata_public,
            metadata_admin: r.metadata_admin,
            credentials: Default::default(),
            external_id: r.external_id,
            organization_id: r.organization_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        });
    }
    for c in creds {
        let Some(&at) = index.get(&c.identity_id) else {
            continue;
        };
        let t =
            CredentialType::parse(&c.credential_type).ok_or_else(|| corrupt("credential type"))?;
        out[at].credentials.insert(
            t,
            Credentials {
                credential_type: t,
                identifiers: identifiers_by_cred.remove(&c.id).unwrap_or_default(),
                config: c.config,
                version: c.version,
                created_at: c.created_at,
                updated_at: c.updated_at,
            },
        );
    }
    Ok(out)
}

async fn delete_children<C: ConnectionTrait>(
    db: &C,
    nid: Uuid,
    id: Uuid,
) -> Result<(), sea_orm::DbErr> {
    identifier::Entity::delete_many()
        .filter(identifier::Column::Nid.eq(nid))
        .filter(identifier::Column::IdentityId.eq(id))
        .exec(db)
        .await?;
    credential::Entity::delete_many()
        .filter(credential::Column::Nid.eq(nid))
        .filter(credential::Column::IdentityId.eq(id))
        .exec(db)
        .await?;
    verifiable_address::Entity::delete_many()
        .filter(verifiable_address::Column::Nid.eq(nid))
        .filter(verifiable_address::Column::IdentityId.eq(id))
        .exec(db)
        .await?;
    recovery_address::Entity::delete_many()
        .filter(recovery_address::Column::Nid.eq(nid))
        .filter(recovery_address::Column::IdentityId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

async fn delete_sessions<C: ConnectionTrait>(
    db: &C,
    nid: Uuid,
    id: Uuid,
) -> Result<(), sea_orm::DbErr> {
    crate::entity::session::Entity::delete_many()
        .filter(crate::entity::session::Column::Nid.eq(nid))
        .filter(crate::entity::session::Column::IdentityId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl SqlStore {
    /// [`IdentityStore::update_identity`], once.
    async fn replace_identity(&self, nid: Uuid, i: &Identity) -> Result<(), StoreError> {
        let (verifiable, recovery) = address_lists(i);
        let txn = self.db.begin().await.map_err(map_db_err)?;
        let updated = identity::Entity::update_many()
            .col_expr(identity::Column::SchemaId, Expr::value(i.schema_id.clone()))
            .col_expr(identity::Column::Traits, Expr::value(i.traits.clone()))
            .col_expr(identity::Column::State, Expr::value(i.state.as_str()))
            .col_expr(
                identity::Column::StateChangedAt,
                Expr::value(i.state_changed_at),
            )
            .col_expr(
                identity::Column::MetadataPublic,
                Expr::value(i.metadata_public.clone()),
            )
            .col_expr(
                identity::Column::MetadataAdmin,
                Expr::value(i.metadata_admin.clone()),
            )
            .col_expr(
                identity::Column::ExternalId,
                Expr::value(i.external_id.clone()),
            )
            .col_expr(
                identity::Column::OrganizationId,
                Expr::value(i.organization_id),
            )
            .col_expr(identity::Column::UpdatedAt, Expr::value(i.updated_at))
            .col_expr(
                identity::Column::AvailableAal,
                Expr::value(available_aal(i).as_str()),
            )
            .col_expr(
                identity::Column::VerifiableAddresses,
                Expr::value(verifiable),
            )
            .col_expr(identity::Column::RecoveryAddresses, Expr::value(recovery))
            .filter(identity::Column::Nid.eq(nid))
            .filter(identity::Column::Id.eq(i.id))
            .exec(&txn)
            .await
            .map_err(map_db_err)?;
        if updated.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        delete_children(&txn, nid, i.id).await.map_err(map_db_err)?;
        let mut rows = Rows::default();
        rows.push_children(nid, i);
        rows.insert(&txn).await.map_err(map_db_err)?;
        txn.commit().await.map_err(map_db_err)?;
        Ok(())
    }

    /// Loads one identity with everything it owns in a single statement.
    async fn load_identity(
        &self,
        key: IdentityKey,
        values: Vec<Value>,
    ) -> Result<Identity, StoreError> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(statement(backend, identity_sql(backend, key), values))
            .await
            .map_err(map_db_err)?
            .ok_or(StoreError::NotFound)?;
        decode_identity(&row, 0, true)
    }
}

impl SqlStore {
    /// [`IdentityStore::insert_identities`], once.
    async fn insert_identities_once(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let txn = self.db.begin().await.map_err(map_db_err)?;
        // Fast path: everything in one go.
        let all = txn.begin().await.map_err(map_db_err)?;
        let mut rows = Rows::default();
        for i in identities {
            rows.push(nid, i);
        }
        match rows.insert(&all).await {
            Ok(()) => {
                all.commit().await.map_err(map_db_err)?;
                txn.commit().await.map_err(map_db_err)?;
                return Ok(identities.iter().map(|_| Ok(())).collect());
            }
            Err(e) if is_conflict(&e) => all.rollback().await.map_err(map_db_err)?,
            Err(e) => return Err(map_db_err(e)),
        }
        // Some item conflicts: one savepoint per item, so the others still go in.
        let mut results = Vec::with_capacity(identities.len());
        for i in identities {
            let sp = txn.begin().await.map_err(map_db_err)?;
            let mut rows = Rows::default();
            rows.push(nid, i);
            match rows.insert(&sp).await {
                Ok(()) => {
                    sp.commit().await.map_err(map_db_err)?;
                    results.push(Ok(()));
                }
                Err(e) if is_conflict(&e) => {
                    sp.rollback().await.map_err(map_db_err)?;
                    results.push(Err(map_db_err(e)));
                }
                Err(e) => return Err(map_db_err(e)),
            }
        }
        txn.commit().await.map_err(map_db_err)?;
        Ok(results)
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn insert_identities(
        &self,
        nid: Uuid,
        identities: &[Identity],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // On MySQL, concurrent inserts (of any tenants) may deadlock on the unique indexes'
        // gap locks; InnoDB then rolls the whole transaction back, which runs again.
        let mut tries = 0;
        loop {
            match self.insert_identities_once(nid, identities).await {
                Err(StoreError::Backend(e))
                    if tries < 3
                        && self.db.get_database_backend() == sea_orm::DatabaseBackend::MySql
                        && is_mysql_retryable_text(&e.to_string()) =>
                {
                    tries += 1
                }
                other => return other,
            }
        }
    }

    async fn get_identity(&self, nid: Uuid, id: Uuid) -> Result<Identity, StoreError> {
        self.load_identity(IdentityKey::Id, vec![Value::from(nid), Value::from(id)])
            .await
    }

    async fn get_identity_by_external_id(
        &self,
        nid: Uuid,
        external_id: &str,
    ) -> Result<Identity, StoreError> {
        self.load_identity(
            IdentityKey::ExternalId,
            vec![Value::from(nid), Value::from(external_id.to_owned())],
        )
        .await
    }

    async fn find_identity_by_identifier(
        &self,
        nid: Uuid,
        credential_type: CredentialType,
        identifier_value: &str,
    ) -> Result<Identity, StoreError> {
        self.load_identity(
            IdentityKey::Identifier,
            vec![
                Value::from(nid),
                Value::from(credential_type.as_str()),
                Value::from(identifier_value.to_owned()),
            ],
        )
        .await
    }

    async fn update_identity(&self, nid: Uuid, i: &Identity) -> Result<(), StoreError> {
        // On MySQL, concurrent replacements of one identity's rows may deadlock; InnoDB then
        // rolls one back, which runs again.
        let mut tries = 0;
        loop {
            match self.replace_identity(nid, i).await {
                Err(StoreError::Backend(e))
                    if tries < 3
                        && self.db.get_database_backend() == sea_orm::DatabaseBackend::MySql
                        && is_mysql_retryable_text(&e.to_string()) =>
                {
                    tries += 1
                }
                other => return other,
            }
        }
    }

    async fn delete_identity(&self, nid: Uuid, id: Uuid) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(map_db_err)?;
        delete_sessions(&txn, nid, id).await.map_err(map_db_err)?;
        delete_children(&txn, nid, id).await.map_err(map_db_err)?;
        let deleted = identity::Entity::delete_many()
            .filter(identity::Column::Nid.eq(nid))
            .filter(identity::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(map_db_err)?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        txn.commit().await.map_err(map_db_err)?;
        Ok(())
    }

    async fn list_identities(
        &self,
        nid: Uuid,
        query: &IdentityQuery,
    ) -> Result<Vec<Identity>, StoreError> {
        let mut select = identity::Entity::find().filter(identity::Column::Nid.eq(nid));
        if let Some(after) = query.after {
            select = select.filter(identity::Column::Id.gt(after));
        }
        if !query.ids.is_empty() {
            select = select.filter(identity::Column::Id.is_in(query.ids.iter().copied()));
        }
        if let Some(org) = query.organization_id {
            select = select.filter(identity::Column::OrganizationId.eq(org));
        }
        let identifier_subquery = |cond: Condition| {
            Query::select()
                .column(identifier::Column::IdentityId)
                .from(identifier::Entity)
                .cond_where(cond.add(identifier::Column::Nid.eq(nid)))
                .to_owned()
        };
        if let Some(exact) = &query.credentials_identifier {
            select = select.filter(identity::Column::Id.in_subquery(identifier_subquery(
                Condition::all().add(identifier::Column::Identifier.eq(exact.as_str())),
            )));
        }
        if let Some(prefix) = &query.identifier_prefix {
            let pattern = LikeExpr::new(format!("{}%", escape_like(prefix))).escape('\\');
            select = select.filter(identity::Column::Id.in_subquery(identifier_subquery(
                Condition::all().add(identifier::Column::Identifier.like(pattern)),
            )));
        }
        let rows = select
            .order_by_asc(identity::Column::Id)
            .limit(query.limit as u64)
            .all(&self.db)
            .await
            .map_err(map_db_err)?;
        hydrate(&self.db, nid, rows).await
    }
}
