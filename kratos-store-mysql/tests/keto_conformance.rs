//! keto-core's tuple-store conformance suite on MySQL, in a fresh database per test
//! run, plus statement-count and atomicity checks.
//!
//! Reads `KRATOS_TEST_MYSQL_URL`. Unset: the tests print that they are skipped. With
//! `CI=true`, an unset URL or an unreachable server fails them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use keto_core::store::{LevelRequest, Transaction, TupleStore};
use keto_core::{RelationTuple, SubjectSet};
use kratos_store_mysql::{MySqlOptions, SqlStore};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn base_url() -> Option<String> {
    match std::env::var("KRATOS_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if ci() {
                panic!(
                    "CI=true but KRATOS_TEST_MYSQL_URL is not set: MySQL tests cannot be skipped in CI"
                );
            }
            eprintln!("KRATOS_TEST_MYSQL_URL is not set: skipping MySQL test");
            None
        }
    }
}

/// The URL of this run's database, created (and migrated) once.
fn database_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let base = base_url()?;
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

async fn store() -> Option<SqlStore> {
    let url = database_url()?;
    Some(
        kratos_store_mysql::connect_with(
            &url,
            MySqlOptions {
                max_connections: 4,
                ..Default::default()
            },
        )
        .await
        .expect("connect to the test database"),
    )
}

// keto-core's suite; each test is skipped (returns early) without a database.
keto_core::tuple_store_tests!(optional: store);

fn t(s: &str) -> RelationTuple {
    s.parse().expect("tuple")
}

/// A store whose connection counts the statements it runs.
async fn counting_store() -> Option<(SqlStore, Arc<AtomicUsize>)> {
    let base = store().await?;
    let mut db = base.connection().clone();
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    Some((SqlStore::new(db), n))
}

/// A check's subject-set walks are answered ahead: nested groups in one read, a 200-parent
/// traverse in two.
#[tokio::test]
async fn nested_groups_are_walked_in_one_read() {
    if let Some(store) = store().await {
        keto_core::testsuite::expansions_walk_ahead(Arc::new(store)).await;
    }
}

#[tokio::test]
async fn read_level_is_one_statement_even_for_a_thousand_keys() {
    let Some((store, count)) = counting_store().await else {
        return;
    };
    let nid = uuid::Uuid::new_v4();
    let tuples: Vec<RelationTuple> = (0..1000)
        .map(|i| t(&format!("Doc:d{i}#viewers@Group:g{i}#members")))
        .collect();
    store
        .transact(
            nid,
            &Transaction {
                insert: tuples.clone(),
                ..Transaction::default()
            },
        )
        .await
        .unwrap();
    let req = LevelRequest {
        exists: tuples,
        subject_sets: (0..1000)
            .map(|i| SubjectSet::new("Doc", format!("d{i}"), "viewers"))
            .collect(),
        subjects: vec![SubjectSet::new("Doc", "d1", "viewers")],
        ..LevelRequest::default()
    };
    count.store(0, Ordering::SeqCst);
    let r = store.read_level(nid, &req).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1, "one statement per level");
    assert!(r.exists.iter().all(|e| *e));
    assert!(r.subject_sets.iter().all(|s| s.len() == 1));
    assert_eq!(r.subjects[0].len(), 1);
}

#[tokio::test]
async fn a_failing_statement_in_a_transaction_writes_nothing() {
    let Some(store) = store().await else { return };
    let nid = uuid::Uuid::new_v4();
    store
        .transact(
            nid,
            &Transaction {
                insert: vec![t("Doc:keep#viewers@alice")],
                ..Transaction::default()
            },
        )
        .await
        .unwrap();
    let v0 = store.version(nid).await.unwrap();
    // MySQL (strict mode) refuses text longer than its `TEXT` column (64 KiB): the second
    // INSERT chunk fails.
    let mut tuples: Vec<RelationTuple> = (0..1500)
        .map(|i| t(&format!("Doc:d#viewers@u{i}")))
        .collect();
    tuples.push(RelationTuple::new(
        "Doc",
        "x".repeat(70_000),
        "viewers",
        keto_core::Subject::id("u0"),
    ));
    let r = store
        .transact(
            nid,
            &Transaction {
                insert: tuples,
                delete: vec![t("Doc:keep#viewers@alice")],
                ..Transaction::default()
            },
        )
        .await;
    assert!(matches!(r, Err(keto_core::StoreError::Backend(_))), "{r:?}");
    let page = store
        .list(
            nid,
            &keto_core::RelationQuery::all(),
            &keto_core::store::PageRequest {
                size: 10,
                token: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.tuples,
        vec![t("Doc:keep#viewers@alice")],
        "nothing was written"
    );
    assert_eq!(
        store.version(nid).await.unwrap(),
        v0,
        "the version did not move"
    );
}

#[tokio::test]
async fn concurrent_writers_of_one_tenant_get_distinct_versions() {
    let Some(store) = store().await else { return };
    let nid = uuid::Uuid::new_v4();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .transact(
                    nid,
                    &Transaction {
                        insert: vec![t(&format!("Doc:d#viewers@u{i}"))],
                        ..Transaction::default()
                    },
                )
                .await
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 8, "every write got its own version");
    assert_eq!(store.version(nid).await.unwrap(), 8);
}

/// A tuple written through one app instance is seen by a check through another (its own
/// pool on the same database) that carries the write's snapshot token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_sees_a_write_with_its_snapshot_token() {
    let (Some(a), Some(b)) = (store().await, store().await) else {
        return;
    };
    keto_core::testsuite::instances_see_writes_with_their_snapshot(Arc::new(a), Arc::new(b)).await;
}
