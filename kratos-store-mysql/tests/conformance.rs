//! The identity-store conformance suite on MySQL, in a fresh database per test run.
//!
//! Reads `KRATOS_TEST_MYSQL_URL`. Unset: the tests print that they are skipped. With
//! `CI=true`, an unset URL or an unreachable server fails them.

use std::sync::{Arc, OnceLock};

use kratos_core::store::Persister;
use kratos_store_mysql::MySqlOptions;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The URL of this run's database, created (and migrated) once.
fn database_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let base = kratos_core::testsuite::mysql_url_or_skip()?;
        // Its own runtime: the pool used here must not outlive a test's runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            match rt.block_on(kratos_store_mysql::create_test_database(&base)) {
                Ok(url) => Some(url),
                Err(e) if ci() => panic!("CI=true and MySQL is unreachable: {e}"),
                Err(e) => {
                    eprintln!(
                        "MySQL at KRATOS_TEST_MYSQL_URL is unreachable ({e}): skipping MySQL test"
                    );
                    None
                }
            }
        })
        .join()
        .expect("database set-up thread")
    })
    .clone()
}

async fn store() -> Option<Arc<dyn Persister>> {
    let url = database_url()?;
    let store = kratos_store_mysql::connect_with(
        &url,
        MySqlOptions {
            max_connections: 4,
            ..Default::default()
        },
    )
    .await
    .expect("connect to the test database");
    Some(Arc::new(store))
}

kratos_core::store_conformance!(store);

/// A store on a database of its own, for a test that changes the schema.
async fn fresh_store() -> Option<kratos_store_mysql::SqlStore> {
    let base = kratos_core::testsuite::mysql_url_or_skip()?;
    let url = kratos_store_mysql::create_test_database(&base)
        .await
        .expect("test database");
    Some(kratos_store_mysql::connect(&url).await.unwrap())
}

#[tokio::test]
async fn migrations_roll_back_to_nothing_and_reapply() {
    use sea_orm::ConnectionTrait;
    let Some(store) = fresh_store().await else {
        return;
    };
    let count = |store: kratos_store_mysql::SqlStore| async move {
        store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::MySql,
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name LIKE 'identit%'",
            ))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(count(store.clone()).await, 5);
    store.rollback_all().await.unwrap();
    assert_eq!(count(store.clone()).await, 0);
    store.migrate().await.unwrap();
    assert_eq!(count(store.clone()).await, 5);
}

/// In a database of its own: the check rolls a migration back.
#[tokio::test]
async fn the_available_aal_migration_derives_it_from_credentials() {
    let Some(store) = fresh_store().await else {
        return;
    };
    kratos_store_sql::testsuite::available_aal_is_backfilled(&store).await;
}

/// In a database of its own: the check rolls a migration back.
#[tokio::test]
async fn the_address_list_migration_copies_the_address_tables() {
    let Some(store) = fresh_store().await else {
        return;
    };
    kratos_store_sql::testsuite::address_lists_are_backfilled(&store).await;
}

/// In a database of its own: the check makes an identity row unreadable.
#[tokio::test]
async fn a_lockout_wins_over_a_failing_identity_read() {
    let Some(store) = fresh_store().await else {
        return;
    };
    kratos_store_sql::testsuite::a_lockout_wins_over_a_failing_identity_read(
        &store,
        kratos_store_sql::testsuite::UnreadableIdentity::State,
    )
    .await;
}

/// A completion, login, registration or second-factor login, is one transaction: the flow
/// row locked, one statement per write, the flow update.
#[tokio::test]
async fn a_flow_completion_is_one_transaction_of_its_writes() {
    let Some(store) = fresh_store().await else {
        return;
    };
    assert_eq!(
        kratos_store_sql::testsuite::completion_statements(&store).await,
        [4, 6, 4]
    );
}

/// A pooled connection idle for `ping_after_idle` is pinged before use: one the server has
/// closed meanwhile is replaced, and the statement runs on a new one.
#[tokio::test]
async fn an_idle_connection_closed_by_the_server_is_replaced() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let Some(url) = database_url() else { return };
    let store = kratos_store_mysql::connect_with(
        &url,
        MySqlOptions {
            max_connections: 1,
            ping_after_idle: std::time::Duration::ZERO,
            ..Default::default()
        },
    )
    .await
    .expect("connect to the test database");
    let connection_id = || async {
        store
            .connection()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::MySql,
                "SELECT CONNECTION_ID() AS id",
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<u64>("", "id")
            .expect("id")
    };
    let first = connection_id().await;
    let admin = kratos_store_mysql::connect(&url).await.expect("admin");
    admin
        .connection()
        .execute_unprepared(&format!("KILL CONNECTION {first}"))
        .await
        .expect("kill the pooled connection");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = connection_id().await;
    assert_ne!(first, second, "a new connection serves the statement");
}

/// Every connection of the pool, not only the first, has the session settings
/// `connect_with` documents: four held at once are four connections, each `READ COMMITTED`
/// with a 64 MiB `group_concat_max_len`.
#[tokio::test]
async fn every_pooled_connection_has_the_session_settings() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
    let Some(url) = database_url() else { return };
    let store = kratos_store_mysql::connect_with(
        &url,
        MySqlOptions {
            max_connections: 4,
            ..Default::default()
        },
    )
    .await
    .expect("connect to the test database");
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(store.connection().begin().await.expect("a connection"));
    }
    let mut ids = std::collections::BTreeSet::new();
    for txn in &held {
        // MariaDB 10.11 names the isolation level `tx_isolation`, MySQL 8 and later
        // `transaction_isolation`.
        let version = txn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::MySql,
                "SELECT VERSION() AS v",
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<String>("", "v")
            .expect("version");
        let isolation = if version.contains("MariaDB") {
            "@@SESSION.tx_isolation"
        } else {
            "@@SESSION.transaction_isolation"
        };
        let row = txn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::MySql,
                format!(
                    "SELECT CONNECTION_ID() AS id, CAST({isolation} AS CHAR) AS isolation, \
                     @@SESSION.group_concat_max_len AS len"
                ),
            ))
            .await
            .expect("query")
            .expect("a row");
        ids.insert(row.try_get::<u64>("", "id").expect("id"));
        assert_eq!(
            row.try_get::<String>("", "isolation").expect("isolation"),
            "READ-COMMITTED"
        );
        assert_eq!(row.try_get::<u64>("", "len").expect("len"), 67_108_864);
    }
    assert_eq!(ids.len(), 4, "four distinct connections");
}

/// Unique rules hold over identifiers longer than any index prefix, and compare exactly:
/// two identifiers that differ only past the first kilobyte, or only in case or in a
/// four-byte character, are different identities.
#[tokio::test]
async fn long_and_four_byte_identifiers_are_unique_and_exact() {
    use kratos_core::identity::{CredentialType, Credentials, Identity, IdentityState};
    use kratos_core::store::{IdentityStore, StoreErrorKind};
    let Some(url) = database_url() else { return };
    let store = kratos_store_mysql::connect(&url).await.expect("connect");
    let nid = uuid::Uuid::new_v4();
    let long = "x".repeat(4000);
    let now = chrono_now();
    let identity = |identifier: &str| Identity {
        id: uuid::Uuid::now_v7(),
        schema_id: "default".into(),
        schema_url: String::new(),
        state: IdentityState::Active,
        state_changed_at: None,
        traits: serde_json::json!({"email": identifier}),
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        metadata_public: None,
        metadata_admin: None,
        credentials: [(
            CredentialType::Password,
            Credentials {
                credential_type: CredentialType::Password,
                identifiers: vec![identifier.to_owned()],
                config: serde_json::json!({}),
                version: 0,
                created_at: now,
                updated_at: now,
            },
        )]
        .into(),
        external_id: None,
        organization_id: None,
        created_at: now,
        updated_at: now,
    };
    for identifier in [
        format!("{long}a"),
        format!("{long}b"),
        "mail@example.com".to_owned(),
        "MAIL@example.com".to_owned(),
        "\u{1F600}@example.com".to_owned(),
        "\u{1F601}@example.com".to_owned(),
    ] {
        let created = store
            .insert_identities(nid, &[identity(&identifier)])
            .await
            .expect("insert");
        assert!(created[0].is_ok(), "{identifier:.20}: {:?}", created[0]);
        let found = store
            .find_identity_by_identifier(nid, CredentialType::Password, &identifier)
            .await
            .expect("found by its identifier");
        assert_eq!(
            found.credentials[&CredentialType::Password].identifiers,
            std::slice::from_ref(&identifier)
        );
        let again = store
            .insert_identities(nid, &[identity(&identifier)])
            .await
            .expect("insert");
        assert_eq!(
            again[0].as_ref().expect_err("a duplicate").kind(),
            StoreErrorKind::Conflict
        );
    }
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    use kratos_core::Clock;
    kratos_core::SystemClock.now()
}

/// Two stores of this run's database connected apart: two pools, as two app processes
/// have.
async fn two_instances() -> Option<(Arc<dyn Persister>, Arc<dyn Persister>)> {
    let (a, b) = (store().await?, store().await?);
    Some((a, b))
}

mod instances {
    use super::*;
    kratos_core::instances_conformance!(two_instances);
}

/// MySQL has no notifications: a whoami cache bounds what it keeps by its time-to-live. With
/// a 200 ms TTL, a revocation or a disabled identity written through one instance is refused
/// by the other, which served the session from memory, at most 200 ms after the write (the
/// entry was read before it), plus 100 ms for the polling whoami itself on a loaded machine:
/// the bound is 300 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_instances_refuse_the_others_revocations_once_the_ttl_has_passed() {
    use std::time::Duration;
    let (Some(a), Some(b)) = (store().await, store().await) else {
        return;
    };
    let ttl = Duration::from_millis(200);
    let (one, two) = kratos_core::testsuite::cached_pair(
        a,
        b,
        kratos_core::session::WhoamiCache {
            max_entries: 1000,
            ttl,
        },
    )
    .await;
    assert_eq!(
        two.whoami_cache_stats().unwrap().feed_connections,
        0,
        "no change feed: the TTL alone bounds staleness"
    );
    kratos_core::testsuite::whoami_cache_instances_refuse_within(
        &one,
        &two,
        ttl + Duration::from_millis(100),
    )
    .await;
}
