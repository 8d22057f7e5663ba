//! keto-core checks on the SQL tuple store (SQLite file, PostgreSQL when
//! `KRATOS_TEST_POSTGRES_URL` is set, MySQL / MariaDB when `KRATOS_TEST_MYSQL_URL` is), each
//! beside one indexed `SELECT` by primary key on the same database in the same run: the price
//! of a single round trip. Each check runs right after one baseline `SELECT`, timed apart, and
//! `bench_table` prints the median check over the median baseline of the same pairs
//! (`kratos_benches::paired`).
//!
//! Scenarios (as in the `keto_memory` bench): a direct check, membership through 5 nested
//! groups, a denied check that walks the same nest, a permit that is an OR over 100
//! relations (the subject is in the last one), and a traverse over 200 parents (the subject
//! is a viewer of the last parent).
//!
//! The graph has about 5.9 tuples per document: `KETO_SQL_BENCH_DOCS` documents (default
//! 170,000, so about 1,000,000 tuples, as in the `keto_memory` bench), loaded with multi-row
//! inserts in transactions of 10,000 tuples (on this project's 2-core test VM: 17 s on
//! SQLite, 66 s on PostgreSQL). The PostgreSQL database is created for the run
//! and dropped after it.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keto_core::store::{Transaction, TupleStore};
use keto_core::{CheckOptions, Config, Keto, RelationTuple, Schema};
use kratos_benches::paired::{self, Paired};
use kratos_store_sql::SqlStore;
use kratos_store_sql::sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};
use uuid::Uuid;

const BASELINE: &str = "baseline_select_by_pk";

const WIDE: usize = 100;
const PARENTS: usize = 200;

fn docs() -> usize {
    std::env::var("KETO_SQL_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(170_000)
}

/// The graph, in insertion order.
fn graph(docs: usize) -> Vec<String> {
    let users = (docs / 4).max(1_000);
    let groups = (docs / 5).max(1_000);
    let folders = 1_000;
    let mut v = Vec::with_capacity(docs * 6 + groups * 3);
    for i in 0..docs {
        for k in 0..4 {
            v.push(format!(
                "doc:d{i}#viewer@user:u{}",
                (i * 7 + k * 13) % users
            ));
        }
        v.push(format!("doc:d{i}#parent@folder:f{}", i % folders));
        if i % 4 == 0 {
            v.push(format!("doc:d{i}#viewer@group:g{}#member", i % groups));
        }
    }
    for g in 0..groups {
        for k in 0..3 {
            v.push(format!(
                "group:g{g}#member@user:u{}",
                (g * 11 + k * 17) % users
            ));
        }
    }
    for f in 0..folders {
        v.push(format!("folder:f{f}#viewer@user:u{}", f * 3));
    }
    v.push("doc:nested#viewer@group:n0#member".into());
    for l in 0..4 {
        v.push(format!("group:n{l}#member@group:n{}#member", l + 1));
    }
    v.push("group:n4#member@user:deep".into());
    v.push(format!("wide:w#r{}@user:widest", WIDE - 1));
    for p in 0..PARENTS {
        v.push(format!("doc:big#parent@folder:p{p}"));
    }
    v.push(format!("folder:p{}#viewer@user:climber", PARENTS - 1));
    v
}

fn opl() -> String {
    let rels: Vec<String> = (0..WIDE).map(|i| format!("r{i}: user[]")).collect();
    let ors: Vec<String> = (0..WIDE)
        .map(|i| format!("this.related.r{i}.includes(ctx.subject)"))
        .collect();
    format!(
        r#"
class user implements Namespace {{}}
class group implements Namespace {{ related: {{ member: (user | SubjectSet<group, "member">)[] }} }}
class folder implements Namespace {{ related: {{ viewer: user[] }} }}
class doc implements Namespace {{
  related: {{ viewer: (user | SubjectSet<group, "member">)[], parent: folder[] }}
  permits = {{
    view: (ctx) => this.related.viewer.includes(ctx.subject) || this.related.parent.traverse(p => p.related.viewer.includes(ctx.subject)),
  }}
}}
class wide implements Namespace {{
  related: {{ {} }}
  permits = {{ view: (ctx) => {} }}
}}
"#,
        rels.join(", "),
        ors.join(" || ")
    )
}

const CASES: &[(&str, &str, bool)] = &[
    ("direct", "doc:d123#viewer@user:u861", true),
    ("nested_5_levels", "doc:nested#viewer@user:deep", true),
    ("denied", "doc:nested#viewer@user:nobody", false),
    ("wide_rewrite_100", "wide:w#view@user:widest", true),
    ("traverse_200_parents", "doc:big#view@user:climber", true),
];

/// Loads the graph in transactions of 10,000 tuples, then refreshes planner statistics.
async fn load(store: &SqlStore, nid: Uuid, lines: &[String]) {
    let started = Instant::now();
    for chunk in lines.chunks(10_000) {
        let tx = Transaction {
            insert: chunk.iter().map(|s| s.parse().expect("tuple")).collect(),
            ..Transaction::default()
        };
        store.transact(nid, &tx).await.expect("load");
    }
    let analyze = match store.connection().get_database_backend() {
        DatabaseBackend::MySql => "ANALYZE TABLE keto_relation_tuples",
        _ => "ANALYZE",
    };
    store
        .connection()
        .execute_unprepared(analyze)
        .await
        .expect("analyze");
    eprintln!(
        "  loaded {} tuples in {:.1?}",
        lines.len(),
        started.elapsed()
    );
}

fn run(c: &mut Criterion, backend: &str, store: SqlStore, rt: &tokio::runtime::Runtime) {
    let nid = Uuid::new_v4();
    let lines = graph(docs());
    rt.block_on(load(&store, nid, &lines));
    drop(lines);
    let db = store.connection().clone();
    let schema = Schema::from_opl(&opl()).expect("OPL");
    let keto = Keto::new(schema, Arc::new(store), Config::default()).expect("engine");
    let opts = CheckOptions::default();

    // The baseline: one indexed SELECT by primary key, a row in the middle of the table.
    let max = rt
        .block_on(db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(seq) FROM keto_relation_tuples",
        )))
        .expect("max")
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .expect("rows");
    // After ANALYZE, SQLite (with STAT4) prepares a statement again on every bind when a
    // parameter is compared with an indexed column; the store writes its parameters as
    // `+$N` to avoid that, and so does the baseline, so that it stays one plain lookup.
    let db_backend = db.get_database_backend();
    let param = match db_backend {
        DatabaseBackend::Sqlite => "+$1",
        DatabaseBackend::MySql => "?",
        _ => "$1",
    };
    let pk = Statement::from_sql_and_values(
        db_backend,
        format!(
            "SELECT seq, namespace, object, relation, subject_id, subject_set_namespace, \
             subject_set_object, subject_set_relation FROM keto_relation_tuples \
             WHERE seq = {param}"
        ),
        [Value::from(max / 2)],
    );
    let row = rt.block_on(db.query_one_raw(pk.clone())).expect("select");
    assert!(row.is_some(), "the baseline row exists");

    let group = format!("keto_sql/{backend}");
    let mut g = c.benchmark_group(&group);
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function(BASELINE, |b| {
        b.to_async(rt)
            .iter(|| async { black_box(db.query_one_raw(black_box(pk.clone())).await) })
    });
    for (name, tuple, want) in CASES {
        let tuple: RelationTuple = tuple.parse().expect("tuple");
        let got = rt
            .block_on(keto.is_allowed(nid, &tuple, &opts))
            .expect("check");
        assert_eq!(got, *want, "{backend} {name}");
        // Each check runs right after one baseline SELECT, timed apart
        // (`kratos_benches::paired`): a burst of the machine moves both.
        let mut paired = Paired::default();
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(paired.run_async(
                    iters,
                    || db.query_one_raw(black_box(pk.clone())),
                    || keto.check(nid, black_box(&tuple), &opts),
                ))
            })
        });
        paired::keep(&group, name, BASELINE, paired);
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let dir = std::env::temp_dir().join(format!("keto-sql-bench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("keto.db");
    eprintln!("SQLite ({})", path.display());
    let sqlite = rt.block_on(async {
        let s = kratos_store_sqlite::connect(&path.display().to_string())
            .await
            .expect("sqlite");
        s.migrate().await.expect("migrate");
        s
    });
    run(c, "sqlite", sqlite, &rt);
    std::fs::remove_dir_all(&dir).ok();

    match std::env::var("KRATOS_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            eprintln!("PostgreSQL");
            let url = rt
                .block_on(kratos_store_postgres::create_test_database(&base))
                .expect("PostgreSQL test database");
            let pg = rt
                .block_on(kratos_store_postgres::connect(&url))
                .expect("connect");
            run(c, "postgres", pg, &rt);
            // Drop the database of this run.
            let name = url
                .rsplit('/')
                .next()
                .and_then(|s| s.split('?').next())
                .unwrap_or_default()
                .to_owned();
            rt.block_on(async {
                let admin = kratos_store_postgres::connect(&base).await.expect("admin");
                admin
                    .connection()
                    .execute_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    ))
                    .await
                    .ok();
            });
        }
        _ => eprintln!("KRATOS_TEST_POSTGRES_URL is not set: skipping the PostgreSQL benches"),
    }
    match std::env::var("KRATOS_TEST_MYSQL_URL") {
        Ok(base) if !base.is_empty() => {
            let url = rt
                .block_on(kratos_store_mysql::create_test_database(&base))
                .expect("MySQL test database");
            let my = rt
                .block_on(kratos_store_mysql::connect(&url))
                .expect("connect");
            run(c, "mysql", my, &rt);
            // Drop the database of this run.
            let name = url
                .rsplit('/')
                .next()
                .and_then(|s| s.split('?').next())
                .unwrap_or_default()
                .to_owned();
            rt.block_on(async {
                let admin = kratos_store_mysql::connect(&base).await.expect("admin");
                admin
                    .connection()
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .ok();
            });
        }
        _ => eprintln!("KRATOS_TEST_MYSQL_URL is not set: skipping the MySQL benches"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
