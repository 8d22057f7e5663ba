//! Password hashing: kratos-hash beside the raw `argon2` / `bcrypt` crate
//! calls it builds on, at kratos-hash's default parameters (Argon2id
//! m=19456 KiB, t=2, p=1, 32-byte key; bcrypt cost 12), in the same run.
//!
//! Flat sampling with 10 samples and no plots keep the whole file under about
//! a minute (plotting alone took over a minute here).

use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use kratos_hash::{Argon2Params, HashAlgorithm, Hasher};

const PASSWORD: &[u8] = b"correct horse battery staple";

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

fn argon2id(c: &mut Criterion) {
    let params = Argon2Params::default();
    let hasher = Hasher::new(HashAlgorithm::Argon2id(params.clone())).expect("default params");
    let stored = hasher.hash(PASSWORD).expect("hash");

    let raw = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(params.key_length as usize),
        )
        .expect("default params"),
    );
    let salt = [7u8; 16];
    let mut expected = [0u8; 32];
    raw.hash_password_into(PASSWORD, &salt, &mut expected)
        .expect("raw hash");

    let mut group = c.benchmark_group("argon2id");
    configure(&mut group);
    group.bench_function("hash/kratos-hash", |b| {
        b.iter(|| hasher.hash(std::hint::black_box(PASSWORD)).expect("hash"))
    });
    group.bench_function("hash/raw-argon2", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            raw.hash_password_into(std::hint::black_box(PASSWORD), &salt, &mut out)
                .expect("raw hash");
            out
        })
    });
    group.bench_function("verify/kratos-hash", |b| {
        b.iter(|| kratos_hash::verify(std::hint::black_box(PASSWORD), &stored).expect("verify"))
    });
    group.bench_function("verify/raw-argon2", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            raw.hash_password_into(std::hint::black_box(PASSWORD), &salt, &mut out)
                .expect("raw hash");
            out == expected
        })
    });
    group.finish();
}

fn bcrypt(c: &mut Criterion) {
    let cost = 12;
    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost }).expect("default cost");
    let stored = hasher.hash(PASSWORD).expect("hash");
    let raw_stored = bcrypt::hash(PASSWORD, cost).expect("raw hash");

    let mut group = c.benchmark_group("bcrypt");
    configure(&mut group);
    group.bench_function("hash/kratos-hash", |b| {
        b.iter(|| hasher.hash(std::hint::black_box(PASSWORD)).expect("hash"))
    });
    group.bench_function("hash/raw-bcrypt", |b| {
        b.iter(|| bcrypt::hash(std::hint::black_box(PASSWORD), cost).expect("raw hash"))
    });
    group.bench_function("verify/kratos-hash", |b| {
        b.iter(|| kratos_hash::verify(std::hint::black_box(PASSWORD), &stored).expect("verify"))
    });
    group.bench_function("verify/raw-bcrypt", |b| {
        b.iter(|| bcrypt::verify(std::hint::black_box(PASSWORD), &raw_stored).expect("verify"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots().nresamples(10_000);
    targets = argon2id, bcrypt
}
criterion_main!(benches);
