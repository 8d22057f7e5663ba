//! Password hashing: kratos-hash beside the raw `argon2` / `bcrypt` crate
//! calls it builds on, at kratos-hash's default parameters (Argon2id
//! m=19456 KiB, t=2, p=1, 32-byte key; bcrypt cost 12), in the same run.
//!
//! Each kratos-hash iteration runs right after one raw call, timed apart, and the pairs are
//! saved (`kratos_benches::paired`): `bench_table` compares the medians of the same pairs,
//! which holds when the machine's speed drifts. Flat sampling with 10 samples and no plots
//! keep the whole file within a couple of minutes.

use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use kratos_benches::paired::{self, Paired};
use kratos_hash::{Argon2Params, HashAlgorithm, Hasher};

const PASSWORD: &[u8] = b"correct horse battery staple";

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

/// Benchmarks `work` as `group/name`, each iteration right after one `raw` call (benchmarked
/// on its own as `group/raw_name` too), and saves the pairs.
fn paired_with_raw(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group_name: &str,
    (name, raw_name): (&str, &str),
    mut raw: impl FnMut(),
    mut work: impl FnMut(),
) {
    group.bench_function(raw_name, |b| b.iter(&mut raw));
    let mut pairs = Paired::default();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| pairs.run(iters, &mut raw, &mut work))
    });
    paired::keep(group_name, name, raw_name, pairs);
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
    paired_with_raw(
        &mut group,
        "argon2id",
        ("hash/kratos-hash", "hash/raw-argon2"),
        || {
            let mut out = [0u8; 32];
            raw.hash_password_into(std::hint::black_box(PASSWORD), &salt, &mut out)
                .expect("raw hash");
            std::hint::black_box(out);
        },
        || {
            std::hint::black_box(hasher.hash(std::hint::black_box(PASSWORD)).expect("hash"));
        },
    );
    paired_with_raw(
        &mut group,
        "argon2id",
        ("verify/kratos-hash", "verify/raw-argon2"),
        || {
            let mut out = [0u8; 32];
            raw.hash_password_into(std::hint::black_box(PASSWORD), &salt, &mut out)
                .expect("raw hash");
            std::hint::black_box(out == expected);
        },
        || {
            std::hint::black_box(
                kratos_hash::verify(std::hint::black_box(PASSWORD), &stored).expect("verify"),
            );
        },
    );
    group.finish();
}

fn bcrypt(c: &mut Criterion) {
    let cost = 12;
    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost }).expect("default cost");
    let stored = hasher.hash(PASSWORD).expect("hash");
    let raw_stored = bcrypt::hash(PASSWORD, cost).expect("raw hash");

    let mut group = c.benchmark_group("bcrypt");
    configure(&mut group);
    paired_with_raw(
        &mut group,
        "bcrypt",
        ("hash/kratos-hash", "hash/raw-bcrypt"),
        || {
            std::hint::black_box(
                bcrypt::hash(std::hint::black_box(PASSWORD), cost).expect("raw hash"),
            );
        },
        || {
            std::hint::black_box(hasher.hash(std::hint::black_box(PASSWORD)).expect("hash"));
        },
    );
    paired_with_raw(
        &mut group,
        "bcrypt",
        ("verify/kratos-hash", "verify/raw-bcrypt"),
        || {
            std::hint::black_box(
                bcrypt::verify(std::hint::black_box(PASSWORD), &raw_stored).expect("verify"),
            );
        },
        || {
            std::hint::black_box(
                kratos_hash::verify(std::hint::black_box(PASSWORD), &stored).expect("verify"),
            );
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .output_directory(&kratos_benches::criterion_dir())
        .without_plots()
        .nresamples(10_000);
    targets = argon2id, bcrypt
}
criterion_main!(benches);
