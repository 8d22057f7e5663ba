//! `kratos.sessions().whoami(token)` on SQLite, PostgreSQL (when `KRATOS_TEST_POSTGRES_URL`
//! is set) and MySQL / MariaDB (when `KRATOS_TEST_MYSQL_URL` is set), beside one indexed `SELECT` by primary key on the
//! `sessions` table of the same database in the same run: the price of a single round trip.
//!
//! whoami looks the session up by the digest of its token (a unique index), checks it and
//! loads its identity. The database holds `WHOAMI_BENCH_SESSIONS` sessions (default 1,000),
//! one per identity; the measured token and the baseline row are in the middle.
//!
//! On PostgreSQL a peer runs beside them: tower-sessions' `PostgresStore::load` (0.15, on
//! sqlx 0.8) on the same database, for one stored session among as many.
//!
//! Beside them, `whoami_cached`: the same call through a registry with the whoami cache on
//! (`KratosBuilder::whoami_cache`) over the same store, served from memory, paired with the
//! uncached whoami of the same token as its baseline.
//!
//! whoami and the peer are measured in pairs: each call runs right after one baseline
//! `SELECT`, timed apart, and `bench_table` prints the median call over the median baseline
//! of the same pairs (`kratos_benches::paired`), which holds when the machine's speed drifts.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kratos_benches::paired::{self, Paired};
use kratos_core::identity::{CreateIdentityBody, IdentityPatch};
use kratos_core::session::{Aal, AuthenticationMethod, ClientInfo, WhoamiCache};
use kratos_store_sql::sea_orm::{ConnectionTrait, Statement, Value};
use serde_json::json;

const BASELINE: &str = "baseline_select_by_pk";

fn sessions() -> usize {
    std::env::var("WHOAMI_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn run(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: common::Backend) {
    let k = common::kratos(backend.store.clone(), "");
    let n = sessions().max(1);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let client = ClientInfo {
        ip_address: Some("203.0.113.7".into()),
        user_agent: Some("whoami-bench/1.0".into()),
    };
    let issued = rt.block_on(async {
        let mut issued = Vec::with_capacity(n);
        for start in (0..n).step_by(1000) {
            let patches = (start..(start + 1000).min(n))
                .map(|i| IdentityPatch {
                    patch_id: None,
                    create: Some(CreateIdentityBody {
                        traits: json!({"email": format!("whoami-{i}-{run_id}@example.com")}),
                        ..Default::default()
                    }),
                })
                .collect();
            for result in k.identities().batch_create(patches).await.expect("import") {
                let id = result.identity.expect("created");
                let identity = k.identities().get(id).await.expect("identity");
                let methods = vec![AuthenticationMethod {
                    method: "password".into(),
                    aal: Aal::Aal1,
                    completed_at: k.clock().now(),
                    provider: None,
                }];
                issued.push(
                    k.sessions()
                        .issue(&identity, methods, &client)
                        .await
                        .expect("session"),
                );
            }
        }
        issued
    });
    let middle = &issued[n / 2];
    let token = middle.token.expose().to_owned();
    let who = rt.block_on(k.sessions().whoami(&token)).expect("whoami");
    if who.id != middle.session.id {
        eprintln!("  whoami answered another session");
    }

    let db = backend
        .sql
        .as_ref()
        .expect("a SQL backend")
        .connection()
        .clone();
    // MySQL takes `?` placeholders; the others `$1`.
    let param = match db.get_database_backend() {
        kratos_store_sql::sea_orm::DatabaseBackend::MySql => "?",
        _ => "$1",
    };
    let pk = Statement::from_sql_and_values(
        db.get_database_backend(),
        format!(
            "SELECT id, nid, identity_id, token_digest, logout_token_digest, active, aal, \
             authentication_methods, devices, issued_at, expires_at, authenticated_at \
             FROM sessions WHERE id = {param}"
        ),
        [Value::from(middle.session.id)],
    );
    let row = rt.block_on(db.query_one_raw(pk.clone())).expect("select");
    if row.is_none() {
        eprintln!("  the baseline row is missing: the baseline is not comparable");
    }

    let group = format!("whoami/{}", backend.name);
    let mut g = c.benchmark_group(&group);
    g.sample_size(20);
    g.bench_function(BASELINE, |b| {
        b.to_async(rt)
            .iter(|| async { black_box(db.query_one_raw(black_box(pk.clone())).await) })
    });
    // Each call runs right after one baseline SELECT, timed apart (`kratos_benches::paired`).
    let mut paired = Paired::default();
    let sessions = k.sessions();
    g.bench_function("whoami", |b| {
        b.iter_custom(|iters| {
            rt.block_on(paired.run_async(
                iters,
                || db.query_one_raw(black_box(pk.clone())),
                || sessions.whoami(black_box(&token)),
            ))
        })
    });
    paired::keep(&group, "whoami", BASELINE, std::mem::take(&mut paired));
    // The same whoami through a registry with the whoami cache on, over the same store:
    // served from memory (every check still runs). Each call runs right after one uncached
    // whoami of the same token, its baseline here.
    let cached = cached_kratos(&backend, rt);
    let cached_sessions = cached.sessions();
    g.bench_function("whoami_cached", |b| {
        b.iter_custom(|iters| {
            rt.block_on(paired.run_async(
                iters,
                || sessions.whoami(black_box(&token)),
                || cached_sessions.whoami(black_box(&token)),
            ))
        })
    });
    paired::keep(
        &group,
        "whoami_cached",
        "whoami",
        std::mem::take(&mut paired),
    );
    let stats = cached.whoami_cache_stats().expect("the cache is on");
    if stats.misses > 0 && stats.hits <= stats.misses {
        eprintln!("  the cached whoami was mostly not served from memory: {stats:?}");
    }
    if backend.name == "postgres"
        && let Some(url) = &backend.url
    {
        use tower_sessions::session_store::SessionStore;
        let (store, id) = rt.block_on(tower_sessions_peer(url, n));
        g.bench_function("peer_tower_sessions_load", |b| {
            b.iter_custom(|iters| {
                rt.block_on(paired.run_async(
                    iters,
                    || db.query_one_raw(black_box(pk.clone())),
                    || store.load(black_box(&id)),
                ))
            })
        });
        paired::keep(&group, "peer_tower_sessions_load", BASELINE, paired);
    }
    g.finish();
    drop((k, cached, db, issued));
    backend.finish(rt);
}

/// A registry over `backend`'s store with the whoami cache on, once it serves from memory
/// (on PostgreSQL, once its change feed listens).
fn cached_kratos(backend: &common::Backend, rt: &tokio::runtime::Runtime) -> kratos_core::Kratos {
    let k = kratos_core::Kratos::builder(common::config(""))
        .store(backend.store.clone())
        .schema(common::schema())
        .whoami_cache(WhoamiCache {
            max_entries: 10_000,
            ttl: std::time::Duration::from_secs(600),
        })
        .build()
        .expect("kratos builds");
    rt.block_on(async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !k.whoami_cache_stats().expect("the cache is on").live {
            assert!(
                std::time::Instant::now() < deadline,
                "the whoami cache serves from memory within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
    k
}

/// tower-sessions' PostgreSQL store on the same database with `n` sessions; the id of the
/// middle one.
async fn tower_sessions_peer(
    url: &str,
    n: usize,
) -> (
    tower_sessions_sqlx_store::PostgresStore,
    tower_sessions::session::Id,
) {
    use tower_sessions::cookie::time::{Duration, OffsetDateTime};
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore;
    let pool = tower_sessions_sqlx_store::sqlx::PgPool::connect(url)
        .await
        .expect("sqlx 0.8 pool");
    let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
    store.migrate().await.expect("tower-sessions migration");
    let mut middle = Id::default();
    for i in 0..n {
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + Duration::days(1),
        };
        record
            .data
            .insert("identity_id".into(), json!(uuid::Uuid::new_v4()));
        store
            .create(&mut record)
            .await
            .expect("tower-sessions create");
        if i == n / 2 {
            middle = record.id;
        }
    }
    (store, middle)
}

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    run(c, &rt, common::sqlite(&rt, "whoami"));
    if let Some(pg) = common::postgres(&rt) {
        run(c, &rt, pg);
    }
    if let Some(my) = common::mysql(&rt) {
        run(c, &rt, my);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
