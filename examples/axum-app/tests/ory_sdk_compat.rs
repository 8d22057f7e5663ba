//! Compatibility with the official Ory clients: the Python `ory-kratos-client` and
//! `ory-keto-client` packages (pinned, installed into a virtualenv under the target directory
//! on first use) register, log in with an api flow, call whoami, log out, read identities,
//! and write and check a relation tuple against the app binary. Their generated models
//! validate every response body.
//!
//! Without Python or the package index the test prints a skip line; with `CI=true` it fails.

use std::path::Path;
use std::process::{Command, Stdio};

use support::{Processes, free_port, wait_for_port};

mod support;
#[path = "sdk/venv.rs"]
mod venv;

#[test]
fn official_ory_python_clients_work_against_the_app() {
    let Some(py) = venv::python() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("axum-app-sdk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("kratos.yml"),
        "secrets:\n  default: [\"an-sdk-test-secret-long-enough\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
    )
    .unwrap();
    let (public, admin) = (free_port(), free_port());
    let mut procs = Processes(Vec::new());
    procs.0.push(
        Command::new(env!("CARGO_BIN_EXE_axum-app"))
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--public", &format!("127.0.0.1:{public}")])
            .args(["--admin", &format!("127.0.0.1:{admin}")])
            .args(["--database", &format!("sqlite://{}/app.db", dir.display())])
            .args(["--config", "kratos.yml"])
            .arg("--dev")
            .stdout(Stdio::null())
            .spawn()
            .expect("the app starts"),
    );
    wait_for_port(public, "the app", &mut procs.0[0]);
    wait_for_port(admin, "the app's admin listener", &mut procs.0[0]);
    let public = format!("http://127.0.0.1:{public}");
    let admin = format!("http://127.0.0.1:{admin}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/ory_client_compat.py");
    let out = Command::new(py)
        .arg(script)
        .args([&public, &admin, &admin, &admin, "Document"])
        .output()
        .expect("run the client script");
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Ory clients failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        12,
        "{stdout}"
    );
    eprintln!("{stdout}");
}
