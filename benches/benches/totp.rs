//! TOTP verification: kratos-core's `TotpKey::verify` beside raw totp-rs `Totp::check` (what
//! `check_current` runs, at a fixed time) on the same key, code and time, in the same run.
//!
//! `TotpKey::verify` computes and compares the codes of all three steps of the window in
//! constant time, whichever matches; totp-rs stops at the first match (the step before the
//! current one is tried first), so for the current step's code it computes two. A wrong code
//! costs both three. Each iteration is [`BATCH`] verifications (a single one lasts about a
//! microsecond, near the timer's resolution), paired with one raw batch run right before it
//! (`kratos_benches::paired`).

use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use kratos_benches::paired::{self, Paired};
use kratos_core::strategy::totp::otp::TotpKey;

/// Verifications per iteration.
const BATCH: usize = 64;
/// The time of every verification (seconds since 1970).
const AT: u64 = 1_700_000_000;

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
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

fn totp(c: &mut Criterion) {
    let key = TotpKey::generate("example.org", "alice@example.org").expect("key");
    let secret = totp_rs::Secret::try_from_base32(key.secret_base32().as_str()).expect("base32");
    // The parameters TotpKey uses: SHA-1, 6 digits, skew 1, 30-second steps.
    let raw = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .expect("raw totp");
    let valid = key.code_at(AT).to_string();
    assert_eq!(raw.generate(AT).to_string(), valid, "the same codes");
    // A code of no step of the window.
    let wrong = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| key.verify(c, AT).is_none() && raw.check(c, AT).is_none())
        .expect("a wrong code");
    assert_eq!(key.verify(&valid, AT), raw.check(&valid, AT));

    let mut group = c.benchmark_group("totp");
    configure(&mut group);
    for (case, code) in [("verify_valid", &valid), ("verify_wrong", &wrong)] {
        paired_with_raw(
            &mut group,
            "totp",
            (
                &format!("{case}/kratos-core"),
                &format!("{case}/raw-totp-rs"),
            ),
            || {
                for _ in 0..BATCH {
                    std::hint::black_box(raw.check(std::hint::black_box(code), AT));
                }
            },
            || {
                for _ in 0..BATCH {
                    std::hint::black_box(key.verify(std::hint::black_box(code), AT));
                }
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .output_directory(&kratos_benches::criterion_dir())
        .without_plots()
        .nresamples(10_000);
    targets = totp
}
criterion_main!(benches);
