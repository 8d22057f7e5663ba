//! A virtualenv with the official Ory Python clients (`ory-kratos-client`, `ory-keto-client`,
//! pinned), created once per target directory, for the client compatibility tests of the
//! example app and of `kratos-rs serve` (each includes this file by path).
//!
//! Without Python or the package index a test prints a skip line; with `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: &[&str] = &["ory-kratos-client==25.4.0", "ory-keto-client==25.4.0"];

fn skip(why: &str) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and the Ory client compatibility test cannot run: {why}");
    }
    eprintln!("skipped: Ory client compatibility test: {why}");
    None
}

/// The virtualenv's Python with the clients, or `None` (skip) outside CI.
pub fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ory-client-venv");
    let py = venv.join("bin").join("python");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", "import ory_kratos_client, ory_keto_client"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if py.exists() && ready(&py) {
        return Some(py);
    }
    match Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip(&format!(
                "python3 -m venv failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return skip(&format!("python3 is not available: {e}")),
    }
    let pip = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .output();
    match pip {
        Ok(o) if o.status.success() && ready(&py) => Some(py),
        Ok(o) => skip(&format!(
            "installing {PACKAGES:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => skip(&format!("pip could not run: {e}")),
    }
}
