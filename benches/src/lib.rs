//! Benchmark crate; see `benches/`. The library holds what the benches and `bench_table`
//! share: where criterion writes, and the record of baselines timed in step with a benchmark
//! ([`paired`]).

pub mod paired;

use std::path::PathBuf;

/// Where criterion writes its results and `bench_table` reads them:
/// `$CARGO_TARGET_DIR/criterion`, or `criterion` in the workspace's `target` directory.
pub fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
        .join("criterion")
}
