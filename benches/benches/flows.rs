//! Registration and login through the flow API (api flows, password method) on memory,
//! SQLite and PostgreSQL (when `KRATOS_TEST_POSTGRES_URL` is set), each beside one raw
//! argon2id verification with the same parameters, measured in the same run: the physical
//! floor of a password flow. Each flow iteration also runs one raw verification right before
//! it, timed apart, and the pairs are saved (`kratos_benches::paired`): the ratio
//! `bench_table` prints for a flow is the median flow over the median verification of
//! iterations run side by side, which holds when the machine's speed drifts during the run.
//!
//! Hashing runs at the library's defaults (argon2id, 19 MiB, t=2, p=1, 32-byte key). One
//! registration is "create an api flow, submit traits and password" (one hash, the identity
//! insert and the session hook issuing a session); one login is "create an api flow, submit
//! identifier and password" (one verification and a new session). The overhead of a flow is
//! `(flow − baseline) / baseline`; `bench_table` prints it.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kratos_benches::paired::{self, Paired};
use kratos_core::Kratos;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::hash::HashAlgorithm;
use serde_json::json;

const BASELINE: &str = "baseline_raw_argon2id_verify";

const PASSWORD: &str = "flow bench: correct horse battery staple";

const EXTRA_YAML: &str = "selfservice:
  methods:
    password:
      config:
        haveibeenpwned_enabled: false
  flows:
    registration:
      after:
        password:
          hooks: [{hook: session}]
";

async fn register(k: &Kratos, email: &str) -> RegistrationSubmission {
    let ctx = FlowContext::default();
    let flow = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .expect("registration flow");
    k.registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": email}, "password": PASSWORD}),
            &ctx,
        )
        .await
        .expect("registration submit")
}

async fn login(k: &Kratos, email: &str) -> LoginSubmission {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    k.login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": email, "password": PASSWORD}),
            &ctx,
        )
        .await
        .expect("login submit")
}

fn run(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: common::Backend) {
    let k = common::kratos(backend.store.clone(), EXTRA_YAML);
    let HashAlgorithm::Argon2id(params) = k.config().hashers.algorithm().expect("hasher") else {
        panic!("the default hasher is argon2id")
    };
    let raw_params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(params.key_length as usize),
    )
    .expect("argon2 params");
    let salt = [7u8; 16];
    let mut expected = vec![0u8; params.key_length as usize];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        raw_params.clone(),
    )
    .hash_password_into(PASSWORD.as_bytes(), &salt, &mut expected)
    .expect("raw hash");
    // Working memory allocated once, as kratos-hash keeps its own in a pool: the baseline
    // is the computation alone, not the kernel mapping and zeroing 19 MiB per call.
    let memory = Arc::new(Mutex::new(vec![
        argon2::Block::default();
        raw_params.block_count()
    ]));
    let expected = Arc::new(expected);
    // On a tokio blocking thread, where the flows hash too: on a VM whose two vCPUs run
    // at different speeds, both sides then land on the same ones.
    let raw_verify = || {
        let (memory, expected, params) = (memory.clone(), expected.clone(), raw_params.clone());
        let task = rt.spawn_blocking(move || {
            let raw =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let mut out = vec![0u8; expected.len()];
            let mut memory = memory.lock().expect("working memory");
            raw.hash_password_into_with_memory(
                black_box(PASSWORD.as_bytes()),
                &salt,
                &mut out,
                &mut *memory,
            )
            .expect("raw hash");
            out == *expected
        });
        rt.block_on(task).expect("raw verification task")
    };
    assert!(raw_verify(), "the raw verification matches");

    // The login account, registered through the flow once.
    let account = format!("login-{}@example.com", uuid::Uuid::new_v4().simple());
    let RegistrationSubmission::Completed(_) = rt.block_on(register(&k, &account)) else {
        panic!("the login account registers")
    };
    let LoginSubmission::Completed(_) = rt.block_on(login(&k, &account)) else {
        panic!("the login account signs in")
    };

    let mut g = c.benchmark_group(format!("flows/{}", backend.name));
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function(BASELINE, |b| b.iter(raw_verify));
    let verify = || {
        black_box(raw_verify());
    };
    let seq = AtomicU64::new(0);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    // Each flow iteration runs after one raw verification, timed apart: the pair
    // (`kratos_benches::paired`) compares them under the same conditions.
    let mut paired = Paired::default();
    g.bench_function("registration", |b| {
        b.iter_custom(|iters| {
            paired.run(iters, verify, || {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let email = format!("reg-{n}-{run_id}@example.com");
                black_box(rt.block_on(register(&k, &email)));
            })
        })
    });
    let group = format!("flows/{}", backend.name);
    paired::keep(
        &group,
        "registration",
        BASELINE,
        std::mem::take(&mut paired),
    );
    g.bench_function("login", |b| {
        b.iter_custom(|iters| {
            paired.run(iters, verify, || {
                black_box(rt.block_on(login(&k, &account)));
            })
        })
    });
    paired::keep(&group, "login", BASELINE, paired);
    g.finish();
    drop(k);
    backend.finish(rt);
}

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    run(c, &rt, common::memory());
    run(c, &rt, common::sqlite(&rt, "flows"));
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
