//! Compatibility with the official Ory clients: the Python `ory-kratos-client` and
//! `ory-keto-client` packages (installed into a virtualenv under the target directory on
//! first use) register, log in, call whoami, log out, read identities, and write and check a
//! relation tuple against the routers served on loopback ports. Their generated models
//! validate every response body.
//!
//! Without Python or the package index the test prints a skip line; with `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kratos_core::{Config, Kratos};

const PACKAGES: &[&str] = &["ory-kratos-client==25.4.0", "ory-keto-client==25.4.0"];

const OPL: &str = r#"
class User implements Namespace {}
class Doc implements Namespace {
  related: { viewers: User[] }
  permits = { view: (ctx: Context): boolean => this.related.viewers.includes(ctx.subject) }
}
"#;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn skip(why: &str) -> Option<PathBuf> {
    if ci() {
        panic!("CI=true and the Ory client compatibility test cannot run: {why}");
    }
    eprintln!("skipping the Ory client compatibility test: {why}");
    None
}

/// A virtualenv with the clients, created once per target directory.
fn python() -> Option<PathBuf> {
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
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output();
    match made {
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

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_ory_python_clients_work_against_the_routers() {
    let Some(py) = tokio::task::spawn_blocking(python).await.unwrap() else {
        return;
    };
    // The public URL must be known before the config is built: bind first.
    let public_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", public_listener.local_addr().unwrap());
    let config = Config::from_yaml_str(&format!(
        "dev: true\nserve:\n  public:\n    base_url: {public}/\nsecrets:\n  default: [\"sdk-compat-secret-0123456789abcdef\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n"
    ))
    .unwrap();
    let kratos = Kratos::builder(config)
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap();
    let keto = keto_core::Keto::new(
        keto_core::Schema::from_opl(OPL).unwrap(),
        Arc::new(keto_core::MemoryStore::new()),
        keto_core::Config::default(),
    )
    .unwrap()
    .tenant(kratos.nid());
    let public_router = kratos_axum::public_router(kratos.clone());
    tokio::spawn(async move {
        axum::serve(
            public_listener,
            public_router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let admin =
        serve(kratos_axum::admin_router(kratos.clone()).merge(kratos_axum::keto_router(keto)))
            .await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/ory_client_compat.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .args([&public, &admin, &admin, &admin])
            .output()
            .expect("run the client script")
    })
    .await
    .unwrap();
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
