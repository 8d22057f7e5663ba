//! Input `kratos-rs` must refuse: a DSN it cannot use, a configuration without secrets
//! outside dev mode, a Keto OPL file with errors. Each exits non-zero with an error that
//! names the culprit and never a DSN's password.

mod common;

use common::{TempDir, fails, fixtures, free_port};

const PASSWORD: &str = "hunter2-not-for-logs";

/// Where `serve` listens: free ports on loopback.
fn listen_env() -> Vec<(&'static str, String)> {
    [
        "SERVE_PUBLIC_PORT",
        "SERVE_ADMIN_PORT",
        "SERVE_READ_PORT",
        "SERVE_WRITE_PORT",
    ]
    .into_iter()
    .map(|k| (k, free_port().to_string()))
    .chain(
        ["SERVE_PUBLIC_HOST", "SERVE_ADMIN_HOST"]
            .into_iter()
            .map(|k| (k, "127.0.0.1".to_owned())),
    )
    .collect()
}

/// An unknown scheme and databases nobody listens on: `serve` and `migrate sql` exit
/// non-zero naming the DSN with its password redacted.
#[test]
fn a_bad_dsn_is_named_without_its_password() {
    let closed = free_port();
    for (dsn, shown, why) in [
        (
            format!("foo://user:{PASSWORD}@db.example/kratos"),
            "foo://user:<redacted>@db.example/kratos".to_owned(),
            "unsupported DSN",
        ),
        (
            format!("postgres://postgres:{PASSWORD}@127.0.0.1:{closed}/postgres"),
            format!("postgres://postgres:<redacted>@127.0.0.1:{closed}/postgres"),
            "cannot connect",
        ),
    ] {
        let mut env = listen_env();
        env.push(("DSN", dsn.clone()));
        for args in [
            &["serve", "-c", "minimal.yml"][..],
            &["migrate", "sql", "-e", "--yes", "-c", "minimal.yml"][..],
        ] {
            let err = fails(args, &env);
            assert!(err.contains(&shown), "{args:?} {dsn}: {err}");
            assert!(err.contains(why), "{args:?} {dsn}: {err}");
            assert!(
                !err.contains(PASSWORD),
                "{args:?} leaks the password: {err}"
            );
        }
    }
}

/// Without `secrets.default` only `--dev` starts; otherwise the error names `secrets`.
#[test]
fn missing_secrets_outside_dev_mode_are_refused() {
    let dir = TempDir::new("no-secrets");
    let minimal = std::fs::read_to_string(fixtures().join("minimal.yml")).unwrap();
    let without: String = {
        let mut out = Vec::new();
        let mut skipping = false;
        for line in minimal.lines() {
            if line.starts_with("secrets:") {
                skipping = true;
                continue;
            }
            if skipping && line.starts_with(' ') {
                continue;
            }
            skipping = false;
            out.push(line);
        }
        out.join("\n")
    };
    assert!(!without.contains("secrets"), "{without}");
    let schema = fixtures().join("identity.schema.json");
    let file = dir.write(
        "kratos.yml",
        &without.replace(
            "file://./identity.schema.json",
            &format!("file://{}", schema.display()),
        ),
    );
    let file = file.to_str().unwrap();
    let err = fails(&["serve", "-c", file], &listen_env());
    assert!(err.contains("secrets"), "{err}");

    // With --dev it starts.
    let env = listen_env();
    let admin = env
        .iter()
        .find(|(k, _)| *k == "SERVE_ADMIN_PORT")
        .map(|(_, v)| v.clone())
        .unwrap();
    let mut server =
        common::Server::start(&["serve", "-c", file, "--dev"], &env, dir.path("dev.log"));
    server.wait_ready(&format!("http://127.0.0.1:{admin}/health/alive"));
    assert!(server.terminate());
}

/// `serve` with a Keto OPL file that does not compile exits non-zero naming the file with
/// the line and column of the error.
#[test]
fn serve_refuses_an_opl_file_with_errors() {
    let dir = TempDir::new("broken-opl");
    let keto = std::fs::read_to_string(fixtures().join("keto.yml")).unwrap();
    let broken = fixtures().join("broken.keto.ts");
    let file = dir.write(
        "keto.yml",
        &keto.replace(
            "file://./namespaces.keto.ts",
            &format!("file://{}", broken.display()),
        ),
    );
    let err = fails(
        &[
            "serve",
            "-c",
            "minimal.yml",
            "--keto-config",
            file.to_str().unwrap(),
        ],
        &listen_env(),
    );
    assert!(err.contains("broken.keto.ts:5:14"), "{err}");
    assert!(err.contains("Usr"), "{err}");
    assert!(err.contains("ERROR"), "logged as an error event: {err}");
}
