//! The identity-store conformance suite on SQLite, and the migrations.

use std::sync::Arc;

use kratos_core::store::Persister;
use sea_orm::ConnectionTrait;

async fn store() -> Option<Arc<dyn Persister>> {
    let store = kratos_store_sqlite::in_memory()
        .await
        .expect("sqlite opens");
    store.migrate().await.expect("migrations apply");
    Some(Arc::new(store))
}

kratos_core::store_conformance!(store);

#[tokio::test]
async fn migrations_roll_back_to_nothing_and_reapply() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    store.rollback_all().await.unwrap();
    let tables = store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'identit%'",
        ))
        .await
        .unwrap();
    assert!(tables.is_empty(), "rollback drops every table");
    store.migrate().await.unwrap();
    let tables = store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'identit%'",
        ))
        .await
        .unwrap();
    assert_eq!(tables.len(), 5);
}

#[tokio::test]
async fn the_available_aal_migration_derives_it_from_credentials() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    kratos_store_sql::testsuite::available_aal_is_backfilled(&store).await;
}

#[tokio::test]
async fn the_address_list_migration_copies_the_address_tables() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    kratos_store_sql::testsuite::address_lists_are_backfilled(&store).await;
}

#[tokio::test]
async fn a_corrupt_flow_document_is_a_backend_error() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    kratos_store_sql::testsuite::corrupt_flow_document_is_a_backend_error(&store).await;
}

/// A completion is one batch, the flow update first and every write under its guard; one
/// that uses a second-factor secret inserts the use first, then runs the batch.
#[tokio::test]
async fn a_flow_completion_runs_one_statement() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        kratos_store_sql::testsuite::completion_statements(&store).await,
        [1, 1, 2]
    );
}

#[tokio::test]
async fn a_database_file_is_created_and_reopened() {
    let dir = std::env::temp_dir().join(format!("kratos-sqlite-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kratos.db");
    let url = format!("sqlite://{}", path.display());
    let id = {
        let store = kratos_store_sqlite::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let k = kratos_core::testsuite::kratos(Arc::new(store));
        let k = k.tenant(kratos_core::Kratos::DEFAULT_NID);
        k.identities()
            .create(kratos_core::identity::CreateIdentityBody {
                traits: serde_json::json!({"email": "file@example.com"}),
                ..Default::default()
            })
            .await
            .unwrap()
            .id
    };
    let store = kratos_store_sqlite::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let k =
        kratos_core::testsuite::kratos(Arc::new(store)).tenant(kratos_core::Kratos::DEFAULT_NID);
    assert_eq!(
        k.identities().get(id).await.unwrap().traits["email"],
        "file@example.com"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_lockout_wins_over_a_failing_identity_read() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    kratos_store_sql::testsuite::a_lockout_wins_over_a_failing_identity_read(
        &store,
        kratos_store_sql::testsuite::UnreadableIdentity::State,
    )
    .await;
}

/// The statement of a login's reads fails in the database (SQLite rejects a stored credential
/// configuration that is not JSON): the lock is still read and wins.
#[tokio::test]
async fn a_lockout_wins_over_an_identity_read_failing_in_the_database() {
    let store = kratos_store_sqlite::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    kratos_store_sql::testsuite::a_lockout_wins_over_a_failing_identity_read(
        &store,
        kratos_store_sql::testsuite::UnreadableIdentity::CredentialConfig,
    )
    .await;
}

/// Two stores of one database file, each with its own pool, as two app processes on one
/// machine have.
async fn two_instances() -> Option<(Arc<dyn Persister>, Arc<dyn Persister>)> {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("instances-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    let a = kratos_store_sqlite::connect(&url)
        .await
        .expect("sqlite opens");
    a.migrate().await.expect("migrations apply");
    let b = kratos_store_sqlite::connect(&url)
        .await
        .expect("sqlite opens again");
    Some((Arc::new(a), Arc::new(b)))
}

mod instances {
    use super::*;
    kratos_core::instances_conformance!(two_instances);
}
