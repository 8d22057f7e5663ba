//! The identity-store conformance suite on PostgreSQL, in a fresh database per test run.
//!
//! Reads `KRATOS_TEST_POSTGRES_URL`. Unset: the tests print that they are skipped. With
//! `CI=true`, an unset URL or an unreachable server fails them.

use std::sync::{Arc, OnceLock};

use kratos_core::store::Persister;
use kratos_store_postgres::PostgresOptions;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The URL of this run's database, created (and migrated) once.
fn database_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let base = kratos_core::testsuite::postgres_url_or_skip()?;
        // Its own runtime: the pool used here must not outlive a test's runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            match rt.block_on(kratos_store_postgres::create_test_database(&base)) {
                Ok(url) => Some(url),
                Err(e) if ci() => panic!("CI=true and PostgreSQL is unreachable: {e}"),
                Err(e) => {
                    eprintln!("PostgreSQL at KRATOS_TEST_POSTGRES_URL is unreachable ({e}): skipping PostgreSQL test");
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
    let store = kratos_store_postgres::connect_with(
        &url,
        PostgresOptions {
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
async fn fresh_store() -> Option<kratos_store_postgres::SqlStore> {
    let base = kratos_core::testsuite::postgres_url_or_skip()?;
    let url = kratos_store_postgres::create_test_database(&base)
        .await
        .expect("test database");
    Some(kratos_store_postgres::connect(&url).await.unwrap())
}

#[tokio::test]
async fn migrations_roll_back_to_nothing_and_reapply() {
    use sea_orm::ConnectionTrait;
    let Some(store) = fresh_store().await else {
        return;
    };
    let count = |store: kratos_store_postgres::SqlStore| async move {
        store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'identit%'",
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

/// A completion, login, registration or second-factor login, is one statement.
#[tokio::test]
async fn a_flow_completion_is_one_statement() {
    let Some(store) = fresh_store().await else {
        return;
    };
    assert_eq!(
        kratos_store_sql::testsuite::completion_statements(&store).await,
        [1, 1, 1]
    );
}

/// Flow writes commit asynchronously for their own transaction only: the flow is stored and
/// the pooled connection goes on committing synchronously.
#[tokio::test]
async fn flow_writes_leave_the_connection_committing_synchronously() {
    use kratos_core::Clock;
    use kratos_core::flow::{FlowDocument, FlowKind, StoredFlow};
    use kratos_core::store::FlowStore;
    use sea_orm::prelude::Uuid;
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let Some(url) = database_url() else { return };
    let store = kratos_store_postgres::connect_with(
        &url,
        PostgresOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .expect("connect to the test database");
    let nid = Uuid::new_v4();
    let flow = StoredFlow {
        id: Uuid::now_v7(),
        kind: FlowKind::Login,
        expires_at: kratos_core::SystemClock.now(),
        csrf_token: "csrf".into(),
        document: FlowDocument::of(&serde_json::json!({"state": "choose_method"}))
            .expect("document"),
    };
    store.insert_flow(nid, &flow).await.expect("insert");
    let mut updated = flow.clone();
    updated.document =
        FlowDocument::of(&serde_json::json!({"state": "sent_email"})).expect("document");
    store.update_flow(nid, &updated).await.expect("update");
    let stored = store
        .get_flow(nid, FlowKind::Login, flow.id)
        .await
        .expect("stored");
    assert_eq!(stored.document, updated.document);
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT current_setting('synchronous_commit') AS setting",
        ))
        .await
        .expect("setting")
        .expect("a row");
    assert_eq!(row.try_get::<String>("", "setting").expect("text"), "on");
}

/// A pooled connection idle for `ping_after_idle` is pinged before use: one the server has
/// closed meanwhile is replaced, and the statement runs on a new one.
#[tokio::test]
async fn an_idle_connection_closed_by_the_server_is_replaced() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let Some(url) = database_url() else { return };
    let store = kratos_store_postgres::connect_with(
        &url,
        PostgresOptions {
            max_connections: 1,
            ping_after_idle: std::time::Duration::ZERO,
            ..Default::default()
        },
    )
    .await
    .expect("connect to the test database");
    let backend_pid = || async {
        store
            .connection()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT pg_backend_pid() AS pid",
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<i32>("", "pid")
            .expect("pid")
    };
    let first = backend_pid().await;
    let admin = kratos_store_postgres::connect(&url).await.expect("admin");
    admin
        .connection()
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_terminate_backend($1)",
            [first.into()],
        ))
        .await
        .expect("terminate the pooled connection's backend");
    // The server needs a moment to end the process.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = backend_pid().await;
    assert_ne!(first, second, "a new connection serves the statement");
}

/// A password login reads its flow, its identifier's lockout and its identity in one
/// statement. With the identities locked by another transaction, one statement waits on the
/// lock, and it reads the flow and the lockout too; as three statements, the identity read
/// would wait alone.
#[tokio::test]
async fn a_password_login_reads_flow_lockout_and_identity_in_one_statement() {
    use kratos_core::flow::login::{LoginOptions, LoginSubmission};
    use kratos_core::flow::registration::RegistrationSubmission;
    use kratos_core::flow::{FlowContext, FlowType};
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
    use serde_json::json;

    let Some(store) = fresh_store().await else {
        return;
    };
    let k = kratos_core::testsuite::flow_kratos(Arc::new(store.clone()));
    let ctx = FlowContext::default();
    let email = format!("reads-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "three reads at once";
    let registered = kratos_core::testsuite::register(&k, &email, password).await;
    assert!(matches!(registered, RegistrationSubmission::Completed(_)));
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();

    let lock = store.connection().begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let login = tokio::spawn({
        let k = k.clone();
        async move {
            k.login()
                .submit(
                    flow.id,
                    &json!({"method": "password", "identifier": email, "password": password}),
                    &FlowContext::default(),
                )
                .await
        }
    });
    // The statements waiting on a lock, and how many of them read the flow and the lockout.
    // (The server keeps the first 1 kB of a statement's text, where both tables are named.)
    let waiting = || async {
        let row = store
            .connection()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT count(*) AS waiting, count(*) FILTER (WHERE \
                 query LIKE '%selfservice_flows%' AND query LIKE '%login_failures%') \
                 AS reading_all \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .unwrap()
            .unwrap();
        (
            row.try_get::<i64>("", "waiting").unwrap(),
            row.try_get::<i64>("", "reading_all").unwrap(),
        )
    };
    // Until a statement waits, then a while longer for any other read to arrive.
    let mut seen = (0, 0);
    let mut waited_since = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let now = waiting().await;
        seen = (seen.0.max(now.0), seen.1.max(now.1));
        if now.0 > 0 && waited_since.is_none() {
            waited_since = Some(std::time::Instant::now());
        }
        if waited_since.is_some_and(|t| t.elapsed() > std::time::Duration::from_millis(300)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    lock.rollback().await.unwrap();
    let login = login.await.unwrap().unwrap();
    assert!(
        matches!(login, LoginSubmission::Completed(_)),
        "the login completes"
    );
    assert_eq!(
        seen,
        (1, 1),
        "one statement waits, and it reads the flow, the lockout and the identity"
    );
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

/// The whoami cache of two instances: a revocation or a disabled identity written through
/// one is refused by the other within 100 ms (the change feed's notification evicts it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_instances_refuse_the_others_revocations_within_100_ms() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (one, two) =
        kratos_core::testsuite::cached_pair(a, b, kratos_core::testsuite::LONG_CACHE).await;
    kratos_core::testsuite::whoami_cache_instances_refuse_within(
        &one,
        &two,
        std::time::Duration::from_millis(100),
    )
    .await;
}

/// The change feed's listening connection, terminated by the server, is replaced: the feed
/// listens again, and the other instance's writes are seen within 100 ms again. (In a
/// database of its own: the listeners of every instance on it are terminated.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_reconnects_when_its_connection_drops() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    use std::time::{Duration, Instant};
    let Some(store) = fresh_store().await else {
        return;
    };
    let (one, two) = kratos_core::testsuite::cached_pair(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        kratos_core::testsuite::LONG_CACHE,
    )
    .await;
    let connections = |k: &kratos_core::Kratos| k.whoami_cache_stats().unwrap().feed_connections;
    let before = (connections(&one), connections(&two));
    let terminated = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
            [kratos_store_postgres::APPLICATION_NAME.into()],
        ))
        .await
        .expect("terminate the listeners")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count");
    assert_eq!(terminated, 2, "one listener per instance");
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&one) <= before.0
        || connections(&two) <= before.1
        || !two.whoami_cache_stats().unwrap().live
    {
        assert!(
            Instant::now() < deadline,
            "the feeds listen again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kratos_core::testsuite::whoami_cache_instances_refuse_within(
        &one,
        &two,
        Duration::from_millis(100),
    )
    .await;
}
