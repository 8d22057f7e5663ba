//! Identity import: 10,000 identities with pre-hashed passwords through
//! `kratos.identities().batch_create` in batches of 1,000, on memory, SQLite and PostgreSQL
//! (when `KRATOS_TEST_POSTGRES_URL` is set). Criterion reports identities per second.
//!
//! The hashes (bcrypt, cost 10, 32 distinct ones reused round-robin) are computed once up
//! front; import only checks their format and bounds. Each iteration imports into a fresh
//! tenant, so identifiers never collide and every iteration writes 10,000 new identities.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use kratos_core::hash::{HashAlgorithm, Hasher};
use kratos_core::identity::{
    CreateIdentityBody, IdentityPatch, ImportCredentials, ImportPassword, ImportPasswordConfig,
};
use serde_json::json;

const IDENTITIES: usize = 10_000;
const BATCH: usize = 1_000;

fn patches(hashes: &[String], run: &str) -> Vec<Vec<IdentityPatch>> {
    (0..IDENTITIES)
        .map(|i| IdentityPatch {
            patch_id: None,
            create: Some(CreateIdentityBody {
                traits: json!({"email": format!("import-{i}-{run}@example.com")}),
                credentials: Some(ImportCredentials {
                    password: Some(ImportPassword {
                        config: ImportPasswordConfig {
                            hashed_password: Some(hashes[i % hashes.len()].clone()),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[IdentityPatch]>::to_vec)
        .collect()
}

fn run(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    backend: common::Backend,
    hashes: &[String],
) {
    let k = common::kratos(backend.store.clone(), "");
    let mut g = c.benchmark_group(format!("import/{}", backend.name));
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(IDENTITIES as u64))
        .warm_up_time(Duration::from_millis(100));
    g.bench_function("batch_create_10000", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let k = &k;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let run = uuid::Uuid::new_v4().simple().to_string();
                    let batches = patches(hashes, &run);
                    let tenant = k.tenant(uuid::Uuid::new_v4());
                    let started = Instant::now();
                    for batch in batches {
                        let results = tenant
                            .identities()
                            .batch_create(batch)
                            .await
                            .expect("batch import");
                        std::hint::black_box(results);
                    }
                    total += started.elapsed();
                }
                total
            }
        })
    });
    g.finish();
    drop(k);
    backend.finish(rt);
}

fn bench(c: &mut Criterion) {
    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost: 10 }).expect("bcrypt");
    let hashes: Vec<String> = (0..32)
        .map(|i| {
            hasher
                .hash(format!("imported password {i}").as_bytes())
                .expect("hash")
        })
        .collect();
    let rt = common::runtime();
    run(c, &rt, common::memory(), &hashes);
    run(c, &rt, common::sqlite(&rt, "import"), &hashes);
    if let Some(pg) = common::postgres(&rt) {
        run(c, &rt, pg, &hashes);
    }
    if let Some(my) = common::mysql(&rt) {
        run(c, &rt, my, &hashes);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
