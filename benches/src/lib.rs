//! Benchmark crate; see `benches/`.
