//! Python virtualenvs for tests that drive the app with an independent Python library,
//! created once per target directory: the official Ory Python clients (`ory-kratos-client`,
//! `ory-keto-client`, pinned) for the client compatibility tests of the example app and of
//! `kratos-rs serve`, and any other pinned packages ([`python_with`], kratos-axum's PyJWT
//! check). Each test includes this file by path.
//!
//! Without Python or the package index a test prints a skip line; with `CI=true` it fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: &[&str] = &["ory-kratos-client==25.4.0", "ory-keto-client==25.4.0"];

fn skip(what: &str, why: &str) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and the {what} cannot run: {why}");
    }
    eprintln!("skipped: {what}: {why}");
    None
}

/// The virtualenv's Python with the Ory clients, or `None` (skip) outside CI.
pub fn python() -> Option<PathBuf> {
    python_with(
        "ory-client-venv",
        PACKAGES,
        "import ory_kratos_client, ory_keto_client",
        "Ory client compatibility test",
    )
}

/// The Python of virtualenv `name` (under the target directory) with `packages` installed,
/// ready when `check` (Python code, typically imports) runs; or `None` (skip) outside CI.
/// `what` names the test in the skip line or the CI failure.
pub fn python_with(name: &str, packages: &[&str], check: &str, what: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let py = venv.join("bin").join("python");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", check])
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
            return skip(
                what,
                &format!(
                    "python3 -m venv failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            );
        }
        Err(e) => return skip(what, &format!("python3 is not available: {e}")),
    }
    let pip = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .output();
    match pip {
        Ok(o) if o.status.success() && ready(&py) => Some(py),
        Ok(o) => skip(
            what,
            &format!(
                "installing {packages:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => skip(what, &format!("pip could not run: {e}")),
    }
}
