//! keto-core's tuple-store conformance suite on SQLite, plus query-count checks: a check
//! issues one statement per graph level, whatever the fan-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keto_core::store::{LevelRequest, Transaction, TupleStore};
use keto_core::{CheckOptions, Config, Keto, RelationTuple, Schema, SubjectSet};
use kratos_store_sqlite::SqlStore;

async fn store() -> SqlStore {
    let store = kratos_store_sqlite::in_memory()
        .await
        .expect("sqlite opens");
    store.migrate().await.expect("migrations apply");
    store
}

keto_core::tuple_store_tests!(store);

/// A store whose connection counts the statements it runs.
async fn counting_store() -> (SqlStore, Arc<AtomicUsize>) {
    let base = store().await;
    let mut db = base.connection().clone();
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (SqlStore::new(db), n)
}

fn t(s: &str) -> RelationTuple {
    s.parse().expect("tuple")
}

/// Groups nested in groups, and folders viewed by users and groups.
const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { members: (User | SubjectSet<Group, "members">)[] } }
class Folder implements Namespace { related: { viewers: (User | SubjectSet<Group, "members">)[] } }
"#;

/// A check's subject-set walks are answered ahead: nested groups in one read, a 200-parent
/// traverse in two.
#[tokio::test]
async fn nested_groups_are_walked_in_one_read() {
    keto_core::testsuite::expansions_walk_ahead(Arc::new(store().await)).await;
}

#[tokio::test]
async fn read_level_is_one_statement_even_for_thousands_of_keys() {
    let (store, count) = counting_store().await;
    let nid = uuid::Uuid::new_v4();
    let tuples: Vec<RelationTuple> = (0..3000)
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
        exists: tuples[..1000].to_vec(),
        subject_sets: (0..1000)
            .map(|i| SubjectSet::new("Doc", format!("d{i}"), "viewers"))
            .collect(),
        ..LevelRequest::default()
    };
    count.store(0, Ordering::SeqCst);
    let r = store.read_level(nid, &req).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1, "one statement per level");
    assert!(r.exists.iter().all(|e| *e));
    assert!(r.subject_sets.iter().all(|s| s.len() == 1));

    // Beyond the per-statement key limit the level is split, still a handful of statements.
    let req = LevelRequest {
        exists: tuples.clone(),
        ..LevelRequest::default()
    };
    count.store(0, Ordering::SeqCst);
    let r = store.read_level(nid, &req).await.unwrap();
    assert!(r.exists.iter().all(|e| *e));
    let n = count.load(Ordering::SeqCst);
    assert!(n <= 3 + 2, "{n} statements for 3000 keys");
}

#[tokio::test]
async fn a_failing_statement_in_a_transaction_writes_nothing() {
    use sea_orm::ConnectionTrait;
    let store = store().await;
    // A trigger makes one row of the second INSERT chunk fail.
    store
        .connection()
        .execute_unprepared(
            "CREATE TRIGGER keto_test_boom BEFORE INSERT ON keto_relation_tuples \
             WHEN NEW.object = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .await
        .unwrap();
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
    let mut tuples: Vec<RelationTuple> = (0..1500)
        .map(|i| t(&format!("Doc:d#viewers@u{i}")))
        .collect();
    tuples.push(t("Doc:boom#viewers@u0"));
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
async fn migrations_roll_back_the_tuple_tables() {
    use sea_orm::ConnectionTrait;
    let store = store().await;
    let count = |store: SqlStore| async move {
        store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'keto_%'",
            ))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(count(store.clone()).await, 2);
    store.rollback_all().await.unwrap();
    assert_eq!(count(store.clone()).await, 0);
    store.migrate().await.unwrap();
    assert_eq!(count(store.clone()).await, 2);
}

/// Without planner statistics (no `ANALYZE` yet), the walk's recursive step still probes the
/// forward index once per reached set instead of scanning the tenant's tuples per step.
#[tokio::test]
async fn the_walk_probes_the_forward_index_without_statistics() {
    use sea_orm::{ConnectionTrait, Statement};
    let base = store().await;
    let raw = base.connection().clone();
    let mut db = raw.clone();
    let seen: Arc<std::sync::Mutex<Vec<Statement>>> = Arc::default();
    let sink = seen.clone();
    db.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    let keto = Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(SqlStore::new(db)),
        Config::default(),
    )
    .unwrap();
    let nid = uuid::Uuid::new_v4();
    let tuples: Vec<RelationTuple> = (0..2000)
        .map(|i| t(&format!("Group:g{i}#members@User:u{i}")))
        .chain([t("Folder:f#viewers@Group:g7#members")])
        .collect();
    keto.insert(nid, tuples).await.unwrap();
    seen.lock().unwrap().clear();
    let tuple = t("Folder:f#viewers@User:u7");
    assert!(
        keto.is_allowed(nid, &tuple, &CheckOptions::default())
            .await
            .unwrap()
    );
    let mut walk = seen
        .lock()
        .unwrap()
        .pop()
        .expect("the check ran a statement");
    assert!(walk.sql.starts_with("WITH RECURSIVE"), "{}", walk.sql);
    walk.sql = format!("EXPLAIN QUERY PLAN {}", walk.sql);
    let plan: Vec<String> = raw
        .query_all_raw(walk)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(3).unwrap())
        .collect();
    let step = plan
        .iter()
        .position(|l| l == "RECURSIVE STEP")
        .expect("a recursive step");
    assert_eq!(plan[step + 1], "SCAN w", "{plan:#?}");
    assert!(
        plan[step + 2].contains("keto_relation_tuples_forward_idx"),
        "{plan:#?}"
    );
}
