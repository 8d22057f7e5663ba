//! Baselines timed in step with a benchmark.
//!
//! On a shared or throttled machine the speed of the CPU drifts over seconds, and a baseline
//! measured in its own criterion function a few seconds before the benchmark can be off by
//! more than the overhead being measured, and a burst of a neighbour slows a few iterations
//! by a quarter. A paired benchmark therefore runs its baseline once right before every
//! iteration it times and records both times; the ratio of their medians compares the two
//! under the same conditions and ignores the bursts. Criterion reports the benchmark's own
//! time as usual; [`save`] writes the pairs under `criterion/paired/`, where `bench_table`
//! finds them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The iterations of a paired benchmark: each one's time and the time of the baseline run
/// right before it.
#[derive(Clone, Debug, Default)]
pub struct Paired {
    /// `(baseline, measured)` per timed iteration (criterion's warm-up included).
    pub iterations: Vec<(Duration, Duration)>,
}

impl Paired {
    /// Runs `iters` iterations of `work`, each right after one `baseline`, records both times
    /// and returns the total of `work` (for criterion's `iter_custom`).
    pub fn run(
        &mut self,
        iters: u64,
        mut baseline: impl FnMut(),
        mut work: impl FnMut(),
    ) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            baseline();
            let baseline_took = start.elapsed();
            let start = Instant::now();
            work();
            let took = start.elapsed();
            self.add(baseline_took, took);
            total += took;
        }
        total
    }

    /// [`Paired::run`] for async calls: `iters` iterations of `work`, each awaited right after
    /// one `baseline`, on the caller's runtime.
    pub async fn run_async<B, W>(
        &mut self,
        iters: u64,
        mut baseline: impl FnMut() -> B,
        mut work: impl FnMut() -> W,
    ) -> Duration
    where
        B: Future,
        W: Future,
    {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            std::hint::black_box(baseline().await);
            let baseline_took = start.elapsed();
            let start = Instant::now();
            std::hint::black_box(work().await);
            let took = start.elapsed();
            self.add(baseline_took, took);
            total += took;
        }
        total
    }

    /// Counts one iteration and the baseline before it.
    pub fn add(&mut self, baseline: Duration, measured: Duration) {
        self.iterations.push((baseline, measured));
    }

    /// The median time of the baselines.
    pub fn baseline(&self) -> Duration {
        median(self.iterations.iter().map(|p| p.0))
    }

    /// The median time of the iterations.
    pub fn measured(&self) -> Duration {
        median(self.iterations.iter().map(|p| p.1))
    }

    /// Median over median: a burst of the machine that slows a few iterations (and their
    /// baselines) moves neither.
    pub fn ratio(&self) -> f64 {
        self.measured().as_secs_f64() / self.baseline().as_secs_f64()
    }
}

fn median(times: impl Iterator<Item = Duration>) -> Duration {
    let mut times: Vec<Duration> = times.collect();
    times.sort_unstable();
    match times.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => times[n / 2],
        n => (times[n / 2 - 1] + times[n / 2]) / 2,
    }
}

/// One saved pair.
#[derive(Clone, Debug)]
pub struct Record {
    /// Criterion group id (`flows/sqlite`).
    pub group: String,
    /// Criterion function id (`login`).
    pub function: String,
    /// The baseline's name (`baseline_raw_argon2id_verify`).
    pub baseline_name: String,
    /// The sums.
    pub paired: Paired,
}

fn directory(criterion: &Path) -> PathBuf {
    criterion.join("paired")
}

/// Writes the pair of `group`/`function` under `criterion/paired/` (replacing an earlier one).
pub fn save(criterion: &Path, record: &Record) -> std::io::Result<()> {
    let dir = directory(criterion);
    std::fs::create_dir_all(&dir)?;
    let file = format!("{}_{}.json", record.group, record.function).replace('/', "_");
    let nanos = |d: Duration| d.as_nanos() as u64;
    let body = json!({
        "group": record.group,
        "function": record.function,
        "baseline": record.baseline_name,
        "iterations": record
            .paired
            .iterations
            .iter()
            .map(|&(b, m)| [nanos(b), nanos(m)])
            .collect::<Vec<_>>(),
    });
    std::fs::write(dir.join(file), body.to_string())
}

/// Saves the pairs of one benchmark where `bench_table` reads them
/// ([`crate::criterion_dir`]), reporting a failure on stderr. Nothing is written when no
/// iteration ran (the benchmark was filtered out) or under criterion's `--test`, which runs
/// each benchmark once without measuring: the pairs of an earlier run stay.
pub fn keep(group: &str, function: &str, baseline_name: &str, paired: Paired) {
    if paired.iterations.is_empty() || std::env::args().any(|a| a == "--test") {
        return;
    }
    let record = Record {
        group: group.to_owned(),
        function: function.to_owned(),
        baseline_name: baseline_name.to_owned(),
        paired,
    };
    if let Err(e) = save(&crate::criterion_dir(), &record) {
        eprintln!("could not save the pairs of {group}/{function}: {e}");
    }
}

/// Every pair saved under `criterion/paired/`.
pub fn load(criterion: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(directory(criterion)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            let text = |key: &str| v.get(key)?.as_str().map(str::to_owned);
            let iterations = v
                .get("iterations")?
                .as_array()?
                .iter()
                .map(|pair| {
                    let nanos = |i: usize| pair.get(i)?.as_u64().map(Duration::from_nanos);
                    Some((nanos(0)?, nanos(1)?))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Record {
                group: text("group")?,
                function: text("function")?,
                baseline_name: text("baseline")?,
                paired: Paired { iterations },
            })
        })
        .filter(|r| !r.paired.baseline().is_zero())
        .collect()
}
