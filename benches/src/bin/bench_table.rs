//! Prints one markdown table of the criterion results under `target/criterion` (or the
//! directory given as the first argument, or `$CARGO_TARGET_DIR/criterion`): each benchmark
//! beside the baseline it was measured with in the same run, and their ratio.
//!
//! Pairs, within one criterion group:
//! - a function whose name starts with `baseline` is the baseline of every other function
//!   of its group (`flows/*`, `whoami/*`, `keto_sql/*`);
//! - `<op>/kratos-hash` is paired with `<op>/raw-*` (`argon2id`, `bcrypt`);
//! - `keto-core` is paired with `simple-zanzibar` (`keto_check/*`);
//! - a function with saved pairs (`kratos_benches::paired`, the flows) shows the median of
//!   its iterations beside the median of the baselines timed right before each of them, and
//!   their ratio.
//!
//! Benchmarks with a throughput (`import/*`) show it (elements per second) and have no
//! baseline. The figure is criterion's typical time: the slope where criterion estimated
//! one, the mean otherwise. For flows, `ratio − 1` is the overhead over the raw hash.
//!
//! ```text
//! cargo run -p kratos-benches --bin bench_table
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kratos_benches::paired;
use serde_json::Value;

/// One measured benchmark.
struct Measured {
    group: String,
    function: String,
    /// Typical time of one iteration, in nanoseconds.
    nanos: f64,
    /// Elements per iteration, when a throughput was set.
    elements: Option<f64>,
}

fn collect(dir: &Path, out: &mut Vec<Measured>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            out.extend(read(&path));
        } else {
            collect(&path, out);
        }
    }
}

fn read(new: &Path) -> Option<Measured> {
    let json = |name: &str| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(new.join(name)).ok()?).ok()
    };
    let bench = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let point = |key: &str| estimates.get(key)?.get("point_estimate")?.as_f64();
    let nanos = point("slope").or_else(|| point("mean"))?;
    let elements = bench
        .get("throughput")
        .and_then(|t| t.get("Elements").or_else(|| t.get("elements")))
        .and_then(Value::as_f64);
    Some(Measured {
        group: bench.get("group_id")?.as_str()?.to_owned(),
        function: bench
            .get("function_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        nanos,
        elements,
    })
}

fn time(nanos: f64) -> String {
    if nanos >= 1e9 {
        format!("{:.3} s", nanos / 1e9)
    } else if nanos >= 1e6 {
        format!("{:.3} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{nanos:.0} ns")
    }
}

/// The baseline of `function` among the functions of its group, if one pairs with it.
fn baseline<'a>(function: &str, group: &'a [&'a Measured]) -> Option<&'a Measured> {
    if function.starts_with("baseline") {
        return None;
    }
    if let Some(b) = group.iter().find(|m| m.function.starts_with("baseline")) {
        return Some(b);
    }
    if let Some(op) = function.strip_suffix("/kratos-hash") {
        let raw = format!("{op}/raw-");
        return group.iter().find(|m| m.function.starts_with(&raw)).copied();
    }
    if function == "keto-core" {
        return group
            .iter()
            .find(|m| m.function == "simple-zanzibar")
            .copied();
    }
    None
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(kratos_benches::criterion_dir);
    let pairs = paired::load(&root);
    let mut all = Vec::new();
    collect(&root, &mut all);
    if all.is_empty() {
        eprintln!(
            "no criterion results under {} (run `cargo bench -p kratos-benches` first)",
            root.display()
        );
        std::process::exit(1);
    }
    let mut groups: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in &all {
        groups.entry(&m.group).or_default().push(m);
    }
    println!("| benchmark | figure | baseline | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, mut members) in groups {
        members.sort_by(|a, b| a.function.cmp(&b.function));
        for m in &members {
            let id = format!("{name}/{}", m.function);
            if let Some(elements) = m.elements {
                let per_second = elements / (m.nanos / 1e9);
                println!(
                    "| {id} | {per_second:.0} elem/s ({}) | — | — |",
                    time(m.nanos)
                );
                continue;
            }
            if let Some(pair) = pairs
                .iter()
                .find(|p| p.group == name && p.function == m.function)
            {
                println!(
                    "| {id} | {} | {} ({}, interleaved) | {:.3}x |",
                    time(pair.paired.measured().as_nanos() as f64),
                    time(pair.paired.baseline().as_nanos() as f64),
                    pair.baseline_name,
                    pair.paired.ratio()
                );
                continue;
            }
            match baseline(&m.function, &members) {
                Some(b) => println!(
                    "| {id} | {} | {} ({}) | {:.3}x |",
                    time(m.nanos),
                    time(b.nanos),
                    b.function,
                    m.nanos / b.nanos
                ),
                None if m.function.starts_with("baseline")
                    || m.function.contains("/raw-")
                    || m.function == "simple-zanzibar" => {}
                None => println!("| {id} | {} | — | — |", time(m.nanos)),
            }
        }
    }
}
