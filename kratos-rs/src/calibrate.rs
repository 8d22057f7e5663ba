//! `hashers argon2 calibrate DURATION`: finds the argon2id memory and iterations whose hash
//! takes about the target duration on this machine, and prints the configuration snippet.
//!
//! The search doubles the memory (from 1 MiB, at one iteration) while a hash stays within the
//! target and the memory within `--max-memory`, then adds iterations (at most 10, kratos-hash's
//! bound) while it still does. Each setting is measured `--runs` times and its median taken.
//! The runtime is bounded: the target is at most 10 s and the whole search stops after 20
//! times the target (at least 2 s, at most 2 minutes), keeping the best setting found.

use std::time::{Duration, Instant};

use kratos_hash::{Argon2Params, HashAlgorithm, Hasher};

/// The longest target accepted.
pub const MAX_TARGET: Duration = Duration::from_secs(10);
/// The most memory kratos-hash accepts, in KiB (1 GiB).
const MAX_MEMORY_KIB: u32 = 1 << 20;
/// The first memory tried, in KiB.
const START_MEMORY_KIB: u32 = 1 << 10;
/// The most iterations kratos-hash accepts.
const MAX_ITERATIONS: u32 = 10;

/// What to calibrate for.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// The target duration of one hash.
    pub target: Duration,
    /// The most memory to use, in KiB.
    pub max_memory_kib: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Measurements per setting (the median counts).
    pub runs: u32,
}

/// The setting found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// The median time of one hash with it.
    pub took: Duration,
    /// Whether the search stopped at its time bound.
    pub cut_short: bool,
}

impl Found {
    /// The `hashers` snippet of a Kratos configuration for this setting.
    pub fn snippet(&self) -> String {
        let memory = if self.memory_kib.is_multiple_of(1024) {
            format!("{}MB", self.memory_kib / 1024)
        } else {
            format!("{}KB", self.memory_kib)
        };
        format!(
            "hashers:\n  algorithm: argon2\n  argon2:\n    memory: {memory}\n    iterations: {}\n    parallelism: {}\n",
            self.iterations, self.parallelism
        )
    }
}

/// Runs the search.
///
/// Errors when the target is zero or above [`MAX_TARGET`], the parallelism or runs are out of
/// range, or hashing fails.
pub fn calibrate(c: &Calibration) -> Result<Found, String> {
    if c.target.is_zero() || c.target > MAX_TARGET {
        return Err(format!(
            "the target must be above zero and at most {}s",
            MAX_TARGET.as_secs()
        ));
    }
    if !(1..=16).contains(&c.parallelism) {
        return Err("--parallelism must be between 1 and 16".into());
    }
    if !(1..=10).contains(&c.runs) {
        return Err("--runs must be between 1 and 10".into());
    }
    let floor = c.parallelism.saturating_mul(8);
    let max_memory = c.max_memory_kib.clamp(floor, MAX_MEMORY_KIB);
    let budget = c
        .target
        .saturating_mul(20)
        .clamp(Duration::from_secs(2), Duration::from_secs(120));
    let started = Instant::now();
    let over_budget = || started.elapsed() > budget;
    let measure = |memory_kib: u32, iterations: u32| -> Result<Duration, String> {
        let hasher = Hasher::new(HashAlgorithm::Argon2id(Argon2Params {
            memory_kib,
            iterations,
            parallelism: c.parallelism,
            ..Argon2Params::default()
        }))
        .map_err(|e| e.to_string())?;
        let mut times = Vec::with_capacity(c.runs as usize);
        for _ in 0..c.runs {
            let t = Instant::now();
            hasher
                .hash(b"calibration password")
                .map_err(|e| e.to_string())?;
            times.push(t.elapsed());
        }
        times.sort();
        Ok(times[times.len() / 2])
    };
    let mut memory = START_MEMORY_KIB.clamp(floor, max_memory);
    let mut took = measure(memory, 1)?;
    let mut cut_short = false;
    // Double the memory while the doubled setting stays within the target.
    while memory < max_memory {
        if over_budget() {
            cut_short = true;
            break;
        }
        let next = memory.saturating_mul(2).min(max_memory);
        let t = measure(next, 1)?;
        if t > c.target {
            break;
        }
        memory = next;
        took = t;
    }
    let mut iterations = 1;
    while iterations < MAX_ITERATIONS && !cut_short {
        if over_budget() {
            cut_short = true;
            break;
        }
        let t = measure(memory, iterations + 1)?;
        if t > c.target {
            break;
        }
        iterations += 1;
        took = t;
    }
    Ok(Found {
        memory_kib: memory,
        iterations,
        parallelism: c.parallelism,
        took,
        cut_short,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_targets_are_refused() {
        let mut c = Calibration {
            target: Duration::ZERO,
            max_memory_kib: 1024,
            parallelism: 1,
            runs: 1,
        };
        assert!(calibrate(&c).is_err());
        c.target = Duration::from_secs(11);
        assert!(calibrate(&c).is_err());
    }

    #[test]
    fn a_tiny_target_gives_the_smallest_setting_quickly() {
        let started = Instant::now();
        let found = calibrate(&Calibration {
            target: Duration::from_micros(1),
            max_memory_kib: 4096,
            parallelism: 1,
            runs: 1,
        })
        .unwrap();
        assert_eq!((found.memory_kib, found.iterations), (1024, 1));
        assert!(
            found.snippet().contains("memory: 1MB"),
            "{}",
            found.snippet()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
