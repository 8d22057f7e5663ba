//! The official Ory Python clients (`ory-kratos-client`, `ory-keto-client`, pinned, installed
//! into a virtualenv under the target directory on first use) against `kratos-rs serve`: the
//! example app's client script (`examples/axum-app/tests/sdk/ory_client_compat.py`, by path)
//! registers, logs in, calls whoami, logs out, reads identities, and writes and checks a
//! relation tuple, with the clients' generated models validating every response body.
//!
//! Without Python or the package index the test prints a skip line; with `CI=true` it fails.

mod common;
#[path = "../../examples/axum-app/tests/sdk/venv.rs"]
mod venv;

use std::path::Path;
use std::process::Command;

use common::{Server, TempDir, free_port};

#[test]
fn official_ory_python_clients_work_against_kratos_rs_serve() {
    let Some(py) = venv::python() else {
        return;
    };
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/axum-app");
    let dir = TempDir::new("sdk");
    // The script's identity schema (email and a name) and permission model (`Document`) are
    // the example app's.
    let db = dir.path("db.sqlite");
    let kratos = dir.write(
        "kratos.yml",
        &format!(
            r#"dsn: sqlite://{db}?mode=rwc
identity:
  default_schema_id: default
  schemas:
    - id: default
      url: file://{schema}
selfservice:
  default_browser_return_url: http://127.0.0.1:4455/
  methods:
    password:
      config:
        haveibeenpwned_enabled: false
secrets:
  default: [an-sdk-test-secret-long-enough]
hashers:
  algorithm: bcrypt
  bcrypt:
    cost: 4
"#,
            db = db.display(),
            schema = app.join("identity.schema.json").display(),
        ),
    );
    let keto = dir.write(
        "keto.yml",
        &format!(
            "dsn: sqlite://{db}?mode=rwc\nnamespaces:\n  location: file://{opl}\n",
            db = db.display(),
            opl = app.join("namespaces.keto.ts").display(),
        ),
    );
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let env: Vec<(&str, String)> = vec![
        ("SERVE_PUBLIC_HOST", "127.0.0.1".into()),
        ("SERVE_PUBLIC_PORT", ports[0].to_string()),
        ("SERVE_ADMIN_HOST", "127.0.0.1".into()),
        ("SERVE_ADMIN_PORT", ports[1].to_string()),
        ("SERVE_READ_HOST", "127.0.0.1".into()),
        ("SERVE_READ_PORT", ports[2].to_string()),
        ("SERVE_WRITE_HOST", "127.0.0.1".into()),
        ("SERVE_WRITE_PORT", ports[3].to_string()),
    ];
    let mut server = Server::start(
        &[
            "serve",
            "--migrate",
            "-c",
            kratos.to_str().unwrap(),
            "--keto-config",
            keto.to_str().unwrap(),
        ],
        &env,
        dir.path("serve.log"),
    );
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    server.wait_ready(&format!("{}/health/ready", url(ports[1])));
    server.wait_ready(&format!("{}/namespaces", url(ports[2])));
    let script = app.join("tests/sdk/ory_client_compat.py");
    let out = Command::new(py)
        .arg(script)
        .args([
            &url(ports[0]),
            &url(ports[1]),
            &url(ports[2]),
            &url(ports[3]),
            "Document",
        ])
        .output()
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Ory clients failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server\n{}",
        server.output()
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        12,
        "{stdout}"
    );
    assert!(server.terminate());
}
